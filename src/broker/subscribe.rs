//! SUBSCRIBE and UNSUBSCRIBE: filter validation per entry, subscription
//! options and identifiers, shared subscriptions, the listener's mount point
//! and maximum QoS, and the retained messages a new subscription receives.

use std::borrow::Cow;
use std::time::Instant;

use log::{info, warn};

/// Log target of subscription lines, shown when `log_type subscribe` is on
/// (as Mosquitto does), whatever the level of the other lines.
pub const SUBSCRIBE_LOG: &str = "midge::subscribe";
/// Log target of unsubscription lines (`log_type unsubscribe`).
pub const UNSUBSCRIBE_LOG: &str = "midge::unsubscribe";

use super::{Broker, Subscription};
use crate::auth::acl::FilterAccess;
use crate::codec::{reason, Packet, SubAck, SubOptions, Subscribe, UnsubAck, Unsubscribe};
use crate::session::SharedMessage;
use crate::topic::{parse_shared, valid_topic_filter};

/// The prefix of a shared subscription filter.
const SHARE: &str = "$share/";

/// A filter as the broker stores it: under the listener's mount point.
fn mounted<'f>(mount: &str, filter: &'f str) -> Cow<'f, str> {
    if mount.is_empty() {
        Cow::Borrowed(filter)
    } else {
        Cow::Owned(format!("{mount}{filter}"))
    }
}

/// What a SUBSCRIBE or UNSUBSCRIBE filter names, once checked and mounted.
enum Target<'f> {
    /// A plain filter.
    Plain(Cow<'f, str>),
    /// A shared subscription: its stored name and its inner filter.
    Shared { name: String, filter: String },
    /// Not a valid filter [MQTT-4.7.1-2, MQTT-4.7.1-3].
    Invalid,
}

fn target<'f>(mount: &str, filter: &'f str) -> Target<'f> {
    if filter.starts_with(SHARE) {
        return match parse_shared(filter) {
            Some((group, inner)) => {
                let filter = format!("{mount}{inner}");
                Target::Shared {
                    name: format!("{SHARE}{group}/{filter}"),
                    filter,
                }
            }
            None => Target::Invalid,
        };
    }
    if valid_topic_filter(filter) {
        Target::Plain(mounted(mount, filter))
    } else {
        Target::Invalid
    }
}

impl<T> Broker<T> {
    /// SUBSCRIBE: each valid filter is granted at its requested QoS (capped
    /// by the listener's `max_qos`); an invalid one gets 0x80 (3.x) or 0x8F
    /// (5.0) in its SUBACK slot while the others are granted
    /// [MQTT-3.8.4-5]. SUBACK goes first, then the retained messages
    /// matching each granted filter, with RETAIN set [MQTT-3.3.1-6], as
    /// Retain Handling says: always (0, and every 3.x subscription, even one
    /// that already existed [MQTT-3.8.4-3]), only for a new subscription
    /// (1), or never (2); never for a shared subscription.
    pub(super) fn handle_subscribe(&mut self, id: usize, s: Subscribe, now: Instant) {
        let (sid, listener, v5, peer_bridge) = {
            let l = &self.links[id];
            let bridge = l.listed & super::link::PEER_BRIDGE != 0;
            (l.sid(), l.listener, l.protocol.is_v5(), bridge)
        };
        let policy = self.settings.listener(listener);
        let max_qos = policy.max_qos;
        let mount = policy.mount_point.clone();
        let mount = mount.as_deref().unwrap_or("");
        let sub_id = s.properties.subscription_identifier.unwrap_or(0);
        let mut codes = Vec::with_capacity(s.filters.len());
        let mut retained_for: Vec<(String, Subscription)> = Vec::new();
        for (filter, options) in &s.filters {
            let target = target(mount, filter);
            if matches!(target, Target::Shared { .. }) && options.no_local {
                let why = format!(
                    "No Local on shared subscription {:?} [MQTT-3.8.3-4]",
                    filter.as_str()
                );
                self.protocol_violation(id, reason::PROTOCOL_ERROR, why, now);
                return;
            }
            let granted = options.qos.min(max_qos);
            let mut options = *options;
            if peer_bridge {
                // What a bridge forwards must not come back to it, and
                // retained messages stay retained on its far side.
                options.no_local = true;
                options.retain_as_published = true;
            }
            let sub = Subscription::new(
                SubOptions {
                    qos: granted,
                    ..options
                },
                sub_id,
            );
            let access = match &target {
                Target::Plain(f) => self.filter_access(sid, f),
                Target::Shared { filter, .. } => self.filter_access(sid, filter),
                Target::Invalid => FilterAccess::All,
            };
            if access == FilterAccess::None {
                info!(
                    "client {}: refused subscription to {:?}: the ACL lets it read nothing there",
                    self.sessions[sid].client_id,
                    filter.as_str()
                );
                codes.push(if v5 {
                    reason::NOT_AUTHORIZED
                } else {
                    reason::UNSPECIFIED_ERROR
                });
                continue;
            }
            let sub = sub.with_access(access);
            let session = &mut self.sessions[sid];
            match target {
                Target::Invalid => {
                    warn!(
                        "client {}: refused invalid topic filter {:?}",
                        session.client_id,
                        filter.as_str()
                    );
                    codes.push(if v5 {
                        reason::TOPIC_FILTER_INVALID
                    } else {
                        reason::UNSPECIFIED_ERROR
                    });
                    continue;
                }
                Target::Shared { name, filter } => {
                    if self.shared.join(&name, &filter, sid as u32, sub) {
                        session.add_filter(&name);
                    }
                    self.persist_sub(sid, &name, &sub);
                }
                Target::Plain(f) => {
                    let new = self.tree.subscribe(&f, sid as u32, sub);
                    if new {
                        session.add_filter(&f);
                    }
                    self.persist_sub(sid, &f, &sub);
                    let send_retained = match options.retain_handling {
                        0 => true,
                        1 => new,
                        _ => false,
                    };
                    if send_retained {
                        retained_for.push((f.into_owned(), sub));
                    }
                }
            }
            info!(
                target: SUBSCRIBE_LOG,
                "client {} subscribed to {filter} at QoS {}",
                self.sessions[sid].client_id, granted as u8
            );
            codes.push(granted as u8);
        }
        self.send_packet(
            id,
            &Packet::SubAck(SubAck {
                packet_id: s.packet_id,
                codes,
                ..SubAck::default()
            }),
        );
        let mut retained: Vec<(SharedMessage, Subscription)> = Vec::new();
        for (filter, sub) in &retained_for {
            self.retained
                .for_each_match(filter, |m| retained.push((m.clone(), *sub)));
        }
        // Retained messages obey the read rules as any delivery does.
        retained.retain(|(m, sub)| {
            (!sub.per_topic() || self.may_receive(sid, &m.topic))
                && self.retain_source_allows(&m.topic)
        });
        for (msg, sub) in retained {
            let qos = self.out_qos(msg.qos, sub.options.qos);
            self.deliver(sid, &msg, qos, true, sub.ids(), now);
        }
    }

    /// UNSUBSCRIBE: removes each filter the session holds; UNSUBACK in all
    /// cases [MQTT-3.10.4-4, MQTT-3.10.4-5], with (5.0) 0x00, 0x11 when no
    /// such subscription existed, or 0x8F for an invalid filter.
    pub(super) fn handle_unsubscribe(&mut self, id: usize, u: Unsubscribe, _now: Instant) {
        let (sid, listener) = {
            let l = &self.links[id];
            (l.sid(), l.listener)
        };
        let mount = self.settings.listener(listener).mount_point.clone();
        let mount = mount.as_deref().unwrap_or("");
        let mut codes = Vec::with_capacity(u.filters.len());
        for filter in &u.filters {
            let session = &mut self.sessions[sid];
            let (removed, stored) = match target(mount, filter) {
                Target::Invalid => {
                    codes.push(reason::TOPIC_FILTER_INVALID);
                    continue;
                }
                Target::Shared { name, .. } => (self.shared.leave(&name, sid as u32), name),
                Target::Plain(f) => (
                    self.tree.unsubscribe(&f, sid as u32).is_some(),
                    f.into_owned(),
                ),
            };
            if removed {
                session.remove_filter(&stored);
                info!(
                    target: UNSUBSCRIBE_LOG,
                    "client {} unsubscribed from {filter}",
                    session.client_id
                );
                self.persist_unsub(sid, &stored);
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
