//! One PUBLISH on its way to one subscriber: the topic as that client sees
//! it (mount point stripped, topic alias applied), the time left of the
//! message's expiry, its subscription identifiers, and the client's Maximum
//! Packet Size. The header is encoded per subscriber; the payload is shared.

use std::time::Instant;

use super::bridge::remote_topic;
use super::link::Link;
use crate::codec::{encode_publish_header, publish_header_len, PublishHeader, QoS};
use crate::outbuf::INLINE_PAYLOAD_MAX;
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

/// The last QoS 0 PUBLISH written while one message is routed to several
/// connections, and what its bytes depend on beyond the message and the
/// moment (which are the same for every copy): the protocol's form, the
/// RETAIN flag, the topic as sent (the same bytes of the message's topic,
/// or none when an alias stands for it), the alias and the subscription
/// ids. A copy with the same of these is the same bytes: it is appended
/// as they are, without encoding a header and copying the payload again
/// (in fan-out with topic aliases most copies are).
///
/// Armed by `Broker::route` for one message only and cleared after it:
/// the topic is compared by address, which is only sound while that
/// message, and so that memory, is alive and unchanged.
#[derive(Debug, Default)]
pub(super) struct PacketMemo {
    armed: bool,
    key: Option<MemoKey>,
    ids: Vec<u32>,
    bytes: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct MemoKey {
    v5: bool,
    retain: bool,
    /// Address and length of the topic bytes sent.
    topic: (usize, usize),
    alias: Option<u16>,
}

impl MemoKey {
    /// `==`, inlined (the derived one is a call per copy).
    #[inline(always)]
    fn same(&self, o: &MemoKey) -> bool {
        self.topic == o.topic && self.alias == o.alias && self.v5 == o.v5 && self.retain == o.retain
    }
}

/// `a == b`, without a `memcmp` call for the usual no ids at all.
#[inline(always)]
fn same_ids(a: &[u32], b: &[u32]) -> bool {
    a.len() == b.len() && (a.is_empty() || a == b)
}

impl PacketMemo {
    /// Called before the copies of one message are written.
    pub(super) fn arm(&mut self) {
        self.armed = true;
        self.key = None;
    }

    /// Called after them.
    pub(super) fn disarm(&mut self) {
        self.armed = false;
        self.key = None;
    }

    /// The memo, if `send` may use it.
    #[inline(always)]
    pub(super) fn for_send(&mut self, msg: &Message, send: &Send<'_>) -> Option<&mut PacketMemo> {
        let usable = self.armed
            && send.qos == QoS::AtMostOnce
            && !send.dup
            && msg.payload.len() <= INLINE_PAYLOAD_MAX;
        usable.then_some(self)
    }
}

/// Appends one PUBLISH of `msg` to the link's output: the header encoded
/// for this client, then the shared payload; with `memo`, the bytes of the
/// last copy instead when they are the same (see [`PacketMemo`]).
// Inlined into its three callers: a call per subscriber copy is measurable
// in fan-out (callgrind).
#[inline(always)]
pub(super) fn write_publish<T>(
    link: &mut Link<T>,
    msg: &Message,
    send: &Send<'_>,
    now: Instant,
    memo: Option<&mut PacketMemo>,
) {
    let topic = client_topic(&msg.topic, send.mount);
    let (topic, alias) = match link.v5.as_deref_mut() {
        None => (topic, None),
        Some(v5) => match v5.run_alias(send.run) {
            // Fan-out: checked first, it is one compare.
            Some(alias) => ("", Some(alias)),
            None if v5.remap.is_some() => {
                write_remapped(link, msg, send, now);
                return;
            }
            None if v5.out_max > 0 => v5.alias_by_name(topic, send.run),
            None => (topic, None),
        },
    };
    let protocol = link.protocol;
    let Some(memo) = memo else {
        let header = header(msg, send, topic, alias, now);
        link.tx.push_packet(
            |out| encode_publish_header(&header, protocol, out),
            &msg.payload,
        );
        return;
    };
    let key = MemoKey {
        v5: protocol.is_v5(),
        retain: send.retain,
        topic: (topic.as_ptr() as usize, topic.len()),
        alias,
    };
    if memo.key.is_some_and(|k| k.same(&key)) && same_ids(&memo.ids, send.sub_ids) {
        link.tx.push_bytes(&memo.bytes);
        return;
    }
    let header = header(msg, send, topic, alias, now);
    let mut start = 0;
    link.tx.push_packet(
        |out| {
            start = out.len();
            encode_publish_header(&header, protocol, out);
        },
        &msg.payload,
    );
    memo.key = Some(key);
    memo.ids.clear();
    memo.ids.extend_from_slice(send.sub_ids);
    memo.bytes.clear();
    memo.bytes.extend_from_slice(link.tx.staged_since(start));
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
