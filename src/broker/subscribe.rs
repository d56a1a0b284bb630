//! SUBSCRIBE and UNSUBSCRIBE: filter validation per entry, the topic tree,
//! and the retained messages a new subscription receives.

use std::time::Instant;

use log::{info, warn};

/// Log target of subscription lines, shown when `log_type subscribe` is on
/// (as Mosquitto does), whatever the level of the other lines.
pub const SUBSCRIBE_LOG: &str = "midge::subscribe";
/// Log target of unsubscription lines (`log_type unsubscribe`).
pub const UNSUBSCRIBE_LOG: &str = "midge::unsubscribe";

use super::{Broker, Subscription};
use crate::codec::{reason, Packet, QoS, SubAck, Subscribe, UnsubAck, Unsubscribe};
use crate::session::SharedMessage;
use crate::topic::valid_topic_filter;

impl<T> Broker<T> {
    /// SUBSCRIBE: each valid filter is granted at its requested QoS; an
    /// invalid one gets 0x80 in its SUBACK slot while the others are
    /// granted [MQTT-3.8.4-5]. SUBACK goes first, then the
    /// retained messages matching each granted filter, with RETAIN set
    /// [MQTT-3.3.1-6], even when the subscription already existed
    /// [MQTT-3.8.4-3].
    pub(super) fn handle_subscribe(&mut self, id: usize, s: Subscribe, now: Instant) {
        let sid = self.links[id].sid();
        let mut codes = Vec::with_capacity(s.filters.len());
        let mut granted = Vec::with_capacity(s.filters.len());
        for (filter, options) in s.filters {
            let session = &mut self.sessions[sid];
            if !valid_topic_filter(&filter) {
                warn!(
                    "client {}: refused invalid topic filter {:?}",
                    session.client_id,
                    filter.as_str()
                );
                codes.push(reason::UNSPECIFIED_ERROR);
                continue;
            }
            let filter = filter.compact();
            if self
                .tree
                .subscribe(&filter, sid as u32, Subscription { options })
            {
                session.add_filter(&filter);
            }
            info!(
                target: SUBSCRIBE_LOG,
                "client {} subscribed to {filter} at QoS {}",
                session.client_id, options.qos as u8
            );
            codes.push(options.qos as u8);
            granted.push((filter, options.qos));
        }
        self.send_packet(
            id,
            &Packet::SubAck(SubAck {
                packet_id: s.packet_id,
                codes,
                ..SubAck::default()
            }),
        );
        let mut retained: Vec<(SharedMessage, QoS)> = Vec::new();
        for (filter, qos) in &granted {
            self.retained
                .for_each_match(filter, |m| retained.push((m.clone(), *qos)));
        }
        for (msg, granted_qos) in retained {
            let qos = msg.qos.min(granted_qos);
            self.deliver(sid, &msg, qos, true, now);
        }
    }

    /// UNSUBSCRIBE: removes each filter the session holds; UNSUBACK in all
    /// cases [MQTT-3.10.4-4, MQTT-3.10.4-5].
    pub(super) fn handle_unsubscribe(&mut self, id: usize, u: Unsubscribe) {
        let sid = self.links[id].sid();
        let mut codes = Vec::with_capacity(u.filters.len());
        for filter in &u.filters {
            let session = &mut self.sessions[sid];
            let removed = self.tree.unsubscribe(filter, sid as u32).is_some();
            if removed {
                session.remove_filter(filter);
                info!(
                    target: UNSUBSCRIBE_LOG,
                    "client {} unsubscribed from {filter}",
                    session.client_id
                );
            }
            codes.push(if removed {
                reason::SUCCESS
            } else {
                reason::NO_SUBSCRIPTION_EXISTED
            });
        }
        self.send_packet(
            id,
            &Packet::UnsubAck(UnsubAck {
                packet_id: u.packet_id,
                codes,
                ..UnsubAck::default()
            }),
        );
    }
}
