//! Counters and the `$SYS/broker/...` topics, named as Mosquitto names them
//! so existing dashboards read them unchanged. Published as retained
//! messages every `sys_interval`; filters starting with a wildcard never
//! match them [MQTT-4.7.2-1].

use std::time::Instant;

use bytes::Bytes;

use super::Broker;
use crate::codec::{ByteStr, PublishProperties, QoS};
use crate::session::Message;

/// What the broker counts.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Clients connected now.
    pub connected: u64,
    /// Successful CONNECTs since start.
    pub connects_total: u64,
    /// PUBLISH packets received from clients.
    pub messages_received: u64,
    /// PUBLISH packets sent to clients (re-sends included).
    pub messages_sent: u64,
    /// Messages dropped: queue full, over `message_size_limit`, or larger
    /// than a client's Maximum Packet Size.
    pub publish_dropped: u64,
    /// Messages not sent because their Message Expiry Interval ran out
    /// (per subscriber copy, and retained messages removed).
    pub expired: u64,
    pub bytes_received: u64,
    pub bytes_sent: u64,
}

impl<T> Broker<T> {
    /// Topics that never change while the broker runs.
    pub(super) fn publish_sys_static(&mut self, now: Instant) {
        let version = format!("midge version {}", env!("CARGO_PKG_VERSION"));
        self.publish_sys_value("$SYS/broker/version", version, now);
    }

    fn publish_sys_value(&mut self, topic: &'static str, value: String, now: Instant) {
        let msg = Message {
            topic: ByteStr::from_static(topic),
            payload: Bytes::from(value),
            qos: QoS::AtMostOnce,
            retain: true,
            properties: PublishProperties::default(),
            expires_at: None,
            stored: Default::default(),
        };
        self.publish_message(msg, None, now);
    }

    /// Publishes the current counters.
    pub(super) fn publish_sys(&mut self, now: Instant) {
        let s = self.stats.clone();
        let total = self.sessions.len() as u64;
        let values: [(&'static str, String); 16] = [
            (
                "$SYS/broker/uptime",
                format!("{} seconds", now.duration_since(self.started).as_secs()),
            ),
            ("$SYS/broker/clients/connected", s.connected.to_string()),
            ("$SYS/broker/clients/active", s.connected.to_string()),
            ("$SYS/broker/clients/total", total.to_string()),
            (
                "$SYS/broker/clients/disconnected",
                total.saturating_sub(s.connected).to_string(),
            ),
            (
                "$SYS/broker/messages/received",
                s.messages_received.to_string(),
            ),
            ("$SYS/broker/messages/sent", s.messages_sent.to_string()),
            (
                "$SYS/broker/publish/messages/received",
                s.messages_received.to_string(),
            ),
            (
                "$SYS/broker/publish/messages/sent",
                s.messages_sent.to_string(),
            ),
            (
                "$SYS/broker/publish/messages/dropped",
                s.publish_dropped.to_string(),
            ),
            (
                "$SYS/broker/publish/messages/expired",
                s.expired.to_string(),
            ),
            ("$SYS/broker/bytes/received", s.bytes_received.to_string()),
            ("$SYS/broker/bytes/sent", s.bytes_sent.to_string()),
            (
                "$SYS/broker/subscriptions/count",
                self.tree.len().to_string(),
            ),
            (
                "$SYS/broker/retained messages/count",
                self.retained.len().to_string(),
            ),
            (
                "$SYS/broker/connections/total",
                s.connects_total.to_string(),
            ),
        ];
        for (topic, value) in values {
            self.publish_sys_value(topic, value, now);
        }
    }
}
