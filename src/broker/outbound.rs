//! One PUBLISH on its way to one subscriber: the topic as that client sees
//! it (mount point stripped, topic alias applied), the time left of the
//! message's expiry, its subscription identifiers, and the client's Maximum
//! Packet Size. The header is encoded per subscriber; the payload is shared.

use std::time::Instant;

use super::bridge::remote_topic;
use super::link::Link;
use crate::codec::{encode_publish_header, publish_header_len, PublishHeader, QoS};
use crate::session::Message;

/// How one message goes out to one client.
#[derive(Clone, Copy, Debug)]
pub(super) struct Send<'a> {
    pub qos: QoS,
    pub retain: bool,
    pub dup: bool,
    /// Ignored at QoS 0.
    pub packet_id: u16,
    pub sub_ids: &'a [u32],
    /// The listener's mount point ("" for none), taken off the topic.
    pub mount: &'a str,
    /// The message's topic run (see `link::TopicRuns`), 0 for none.
    pub run: u64,
}

/// The topic a client of a listener with mount point `mount` sees.
#[inline]
pub(super) fn client_topic<'t>(topic: &'t str, mount: &str) -> &'t str {
    if mount.is_empty() {
        // The usual case, on the hot path: not even a zero-length compare.
        return topic;
    }
    topic.strip_prefix(mount).unwrap_or(topic)
}

/// Called before a message is given a packet id for this client: false
/// when the PUBLISH would exceed the client's Maximum Packet Size, so the
/// server must not send it to that client [MQTT-3.1.2-25]. Sized with the
/// whole topic (an alias could only make it shorter).
#[inline(always)]
pub(super) fn fits<T>(link: &Link<T>, msg: &Message, send: &Send<'_>, now: Instant) -> bool {
    let Some(v5) = link.v5.as_deref() else {
        return true;
    };
    if v5.max_packet == u32::MAX {
        return true;
    }
    let remapped;
    let topic = match &v5.remap {
        None => client_topic(&msg.topic, send.mount),
        Some(rules) => {
            remapped = remote_topic(rules, &msg.topic);
            &remapped
        }
    };
    let header = header(msg, send, topic, None, now);
    let total = publish_header_len(&header, link.protocol) + msg.payload.len();
    total <= v5.max_packet as usize
}

#[inline(always)]
fn header<'a>(
    msg: &'a Message,
    send: &Send<'a>,
    topic: &'a str,
    topic_alias: Option<u16>,
    now: Instant,
) -> PublishHeader<'a> {
    PublishHeader {
        dup: send.dup,
        qos: send.qos,
        retain: send.retain,
        topic,
        packet_id: send.packet_id,
        message_expiry: msg.expiry_left(now),
        topic_alias,
        subscription_ids: send.sub_ids,
        passthrough: &msg.properties.passthrough,
        payload_len: msg.payload.len(),
    }
}

/// Appends one PUBLISH of `msg` to the link's output: the header encoded
/// for this client, then the shared payload.
// Inlined into its three callers: a call per subscriber copy is measurable
// in fan-out (callgrind).
#[inline(always)]
pub(super) fn write_publish<T>(link: &mut Link<T>, msg: &Message, send: &Send<'_>, now: Instant) {
    let topic = client_topic(&msg.topic, send.mount);
    let (topic, alias) = match link.v5.as_deref_mut() {
        Some(v5) if v5.remap.is_some() => {
            write_remapped(link, msg, send, now);
            return;
        }
        Some(v5) if v5.out_max > 0 => v5.alias_for(topic, send.run),
        _ => (topic, None),
    };
    let header = header(msg, send, topic, alias, now);
    let protocol = link.protocol;
    link.tx.push_packet(
        |out| encode_publish_header(&header, protocol, out),
        &msg.payload,
    );
}

/// [`write_publish`] on a bridge's link: the far side's topic, from the
/// `out` rules its [`V5Link`](super::link::V5Link) holds (off the clients'
/// path).
#[inline(never)]
fn write_remapped<T>(link: &mut Link<T>, msg: &Message, send: &Send<'_>, now: Instant) {
    let Some(v5) = link.v5.as_deref_mut() else {
        return;
    };
    let topic = match &v5.remap {
        Some(rules) => remote_topic(rules, &msg.topic),
        None => msg.topic.to_string(),
    };
    let (topic, alias) = if v5.out_max > 0 {
        v5.alias_for(&topic, 0)
    } else {
        (&*topic, None)
    };
    let header = header(msg, send, topic, alias, now);
    let protocol = link.protocol;
    link.tx.push_packet(
        |out| encode_publish_header(&header, protocol, out),
        &msg.payload,
    );
}
