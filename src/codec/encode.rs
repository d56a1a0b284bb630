//! Encoding of every MQTT packet for a given protocol version.
//!
//! Contract:
//! - [`encode`] appends one whole packet to a `BytesMut`; properties and
//!   reason codes are written only for MQTT 5, and each packet takes its
//!   shortest valid form (a 5.0 acknowledgement with reason 0 and no
//!   properties is two bytes, a 3.x SUBACK folds every failure into 0x80).
//! - [`encode_publish_header`] writes everything of a PUBLISH except the
//!   payload, so that one shared payload can follow many headers, and
//!   [`publish_header_len`] says how long that header is without writing it.
//! - The input is trusted (the broker built it): strings must fit a 16-bit
//!   length and packets the 268,435,455-byte remaining length.

use bytes::{BufMut, Bytes, BytesMut};

use super::properties::{id, Properties};
use super::types::{Ack, ByteStr, Connect, Packet, Protocol, Publish, QoS, SubOptions};
use super::wire::{put_binary, put_len_prefixed, put_varint, varint_len};

/// Everything that can differ between two copies of one PUBLISH sent to
/// different subscribers; the payload itself is written separately.
#[derive(Clone, Copy, Debug)]
pub struct PublishHeader<'a> {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    /// May be empty in MQTT 5 when `topic_alias` is set.
    pub topic: &'a str,
    /// Ignored at QoS 0.
    pub packet_id: u16,
    pub message_expiry: Option<u32>,
    pub topic_alias: Option<u16>,
    pub subscription_ids: &'a [u32],
    pub passthrough: &'a [u8],
    pub payload_len: usize,
}

impl<'a> PublishHeader<'a> {
    /// The header of a decoded (or built) PUBLISH, as it stands.
    pub fn of(p: &'a Publish) -> PublishHeader<'a> {
        PublishHeader {
            dup: p.dup,
            qos: p.qos,
            retain: p.retain,
            topic: &p.topic,
            packet_id: p.packet_id,
            message_expiry: p.properties.message_expiry,
            topic_alias: p.properties.topic_alias,
            subscription_ids: &p.properties.subscription_ids,
            passthrough: &p.properties.passthrough,
            payload_len: p.payload.len(),
        }
    }
}

/// Appends one whole packet, in the form `protocol` uses, to `out`. Called
/// for every packet the broker sends (and by tests and a bridge for the
/// packets a client sends). CONNECT is written in its own
/// `Connect::protocol`, and AUTH always in the 5.0 form (it exists only
/// there).
pub fn encode(packet: &Packet, protocol: Protocol, out: &mut BytesMut) {
    let v5 = protocol.is_v5();
    match packet {
        Packet::Connect(c) => encode_connect(c, out),
        Packet::ConnAck(a) => frame(out, 0x20, |out| {
            let session_present = protocol != Protocol::V31 && a.session_present;
            out.put_u8(u8::from(session_present));
            out.put_u8(a.code);
            if v5 {
                put_connack_properties(out, &a.properties);
            }
        }),
        Packet::Publish(p) => {
            let header = PublishHeader::of(p);
            encode_publish_header(&header, protocol, out);
            out.put_slice(&p.payload);
        }
        Packet::PubAck(a) => encode_ack(out, 0x40, a, v5),
        Packet::PubRec(a) => encode_ack(out, 0x50, a, v5),
        Packet::PubRel(a) => encode_ack(out, 0x62, a, v5),
        Packet::PubComp(a) => encode_ack(out, 0x70, a, v5),
        Packet::Subscribe(s) => frame(out, 0x82, |out| {
            out.put_u16(s.packet_id);
            if v5 {
                put_properties(out, &s.properties);
            }
            for (filter, options) in &s.filters {
                put_binary(out, filter.as_bytes());
                out.put_u8(options_byte(options, v5));
            }
        }),
        Packet::SubAck(s) => frame(out, 0x90, |out| {
            out.put_u16(s.packet_id);
            if v5 {
                put_properties(out, &s.properties);
                out.put_slice(&s.codes);
            } else {
                for &code in &s.codes {
                    out.put_u8(if code <= 2 { code } else { 0x80 });
                }
            }
        }),
        Packet::Unsubscribe(u) => frame(out, 0xA2, |out| {
            out.put_u16(u.packet_id);
            if v5 {
                put_properties(out, &u.properties);
            }
            for filter in &u.filters {
                put_binary(out, filter.as_bytes());
            }
        }),
        Packet::UnsubAck(u) => frame(out, 0xB0, |out| {
            out.put_u16(u.packet_id);
            if v5 {
                put_properties(out, &u.properties);
                out.put_slice(&u.codes);
            }
        }),
        Packet::PingReq => out.put_slice(&[0xC0, 0x00]),
        Packet::PingResp => out.put_slice(&[0xD0, 0x00]),
        Packet::Disconnect(d) => {
            if v5 {
                encode_reason_properties(out, 0xE0, d.reason, &d.properties);
            } else {
                out.put_slice(&[0xE0, 0x00]);
            }
        }
        Packet::Auth(a) => encode_reason_properties(out, 0xF0, a.reason, &a.properties),
    }
}

/// Appends the fixed and variable header of a PUBLISH to `out`: the fixed
/// header (its remaining length counts `payload_len`), the topic, the
/// packet identifier (QoS > 0 only) and, for MQTT 5, the properties. Called
/// once per subscriber; the shared payload is appended after it.
///
/// It runs once per subscriber copy: the property length is worked out
/// once, fixed-size fields go as fixed-size slices, and empty ones cost
/// no copy call.
pub fn encode_publish_header(header: &PublishHeader<'_>, protocol: Protocol, out: &mut BytesMut) {
    let v5 = protocol.is_v5();
    let props = if v5 {
        publish_properties_len(header)
    } else {
        0
    };
    let qos_on = header.qos != QoS::AtMostOnce;
    let mut variable = 2 + header.topic.len() + if qos_on { 2 } else { 0 };
    if v5 {
        variable += varint_len(props) + props;
    }
    out.reserve(5 + variable);
    out.put_u8(
        0x30 | (u8::from(header.dup) << 3) | ((header.qos as u8) << 1) | u8::from(header.retain),
    );
    put_varint(out, variable + header.payload_len);
    out.put_u16(header.topic.len() as u16);
    if !header.topic.is_empty() {
        out.put_slice(header.topic.as_bytes());
    }
    if qos_on {
        out.put_u16(header.packet_id);
    }
    if v5 {
        put_varint(out, props);
        if let Some(expiry) = header.message_expiry {
            let [a, b, c, d] = expiry.to_be_bytes();
            out.put_slice(&[id::MESSAGE_EXPIRY_INTERVAL, a, b, c, d]);
        }
        if let Some(alias) = header.topic_alias {
            let [a, b] = alias.to_be_bytes();
            out.put_slice(&[id::TOPIC_ALIAS, a, b]);
        }
        for &sub_id in header.subscription_ids {
            out.put_u8(id::SUBSCRIPTION_IDENTIFIER);
            put_varint(out, sub_id as usize);
        }
        if !header.passthrough.is_empty() {
            out.put_slice(header.passthrough);
        }
    }
}

/// The number of bytes [`encode_publish_header`] writes for `header`, so
/// that the caller can size a buffer or account a queue without encoding.
pub fn publish_header_len(header: &PublishHeader<'_>, protocol: Protocol) -> usize {
    let variable = publish_variable_len(header, protocol);
    1 + varint_len(variable + header.payload_len) + variable
}

/// The PUBLISH variable header length: topic, packet id and properties.
fn publish_variable_len(header: &PublishHeader<'_>, protocol: Protocol) -> usize {
    let mut n = 2 + header.topic.len();
    if header.qos != QoS::AtMostOnce {
        n += 2;
    }
    if protocol.is_v5() {
        let props = publish_properties_len(header);
        n += varint_len(props) + props;
    }
    n
}

/// The length of the PUBLISH property block (without its length prefix).
fn publish_properties_len(header: &PublishHeader<'_>) -> usize {
    let mut n = header.passthrough.len();
    if header.message_expiry.is_some() {
        n += 5;
    }
    if header.topic_alias.is_some() {
        n += 3;
    }
    for &sub_id in header.subscription_ids {
        n += 1 + varint_len(sub_id as usize);
    }
    n
}

/// Appends a fixed header with first byte `first`, then whatever `body`
/// writes, with the remaining length filled in.
fn frame(out: &mut BytesMut, first: u8, body: impl FnOnce(&mut BytesMut)) {
    out.put_u8(first);
    put_len_prefixed(out, body);
}

fn encode_connect(c: &Connect, out: &mut BytesMut) {
    let v5 = c.protocol.is_v5();
    frame(out, 0x10, |out| {
        put_binary(out, c.protocol.name().as_bytes());
        let bridge = if c.bridge && !v5 { 0x80 } else { 0 };
        out.put_u8(c.protocol.level() | bridge);
        let mut flags = u8::from(c.clean_start) << 1;
        if let Some(will) = &c.will {
            flags |= 0x04 | ((will.qos as u8) << 3) | (u8::from(will.retain) << 5);
        }
        if c.password.is_some() {
            flags |= 0x40;
        }
        if c.username.is_some() {
            flags |= 0x80;
        }
        out.put_u8(flags);
        out.put_u16(c.keep_alive);
        if v5 {
            put_properties(out, &c.properties);
        }
        put_binary(out, c.client_id.as_bytes());
        if let Some(will) = &c.will {
            if v5 {
                put_len_prefixed(out, |out| {
                    if let Some(expiry) = will.properties.message_expiry {
                        out.put_u8(id::MESSAGE_EXPIRY_INTERVAL);
                        out.put_u32(expiry);
                    }
                    if will.delay_interval != 0 {
                        out.put_u8(id::WILL_DELAY_INTERVAL);
                        out.put_u32(will.delay_interval);
                    }
                    out.put_slice(&will.properties.passthrough);
                });
            }
            put_binary(out, will.topic.as_bytes());
            put_binary(out, &will.payload);
        }
        if let Some(username) = &c.username {
            put_binary(out, username.as_bytes());
        }
        if let Some(password) = &c.password {
            put_binary(out, password);
        }
    });
}

/// Which of the four acknowledgements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckKind {
    PubAck,
    PubRec,
    PubRel,
    PubComp,
}

impl AckKind {
    /// The packet, for acknowledgements that carry properties.
    pub fn packet(self, ack: Ack) -> Packet {
        match self {
            AckKind::PubAck => Packet::PubAck(ack),
            AckKind::PubRec => Packet::PubRec(ack),
            AckKind::PubRel => Packet::PubRel(ack),
            AckKind::PubComp => Packet::PubComp(ack),
        }
    }

    fn first_byte(self) -> u8 {
        match self {
            AckKind::PubAck => 0x40,
            AckKind::PubRec => 0x50,
            AckKind::PubRel => 0x62,
            AckKind::PubComp => 0x70,
        }
    }
}

/// Appends an acknowledgement without properties, the broker's usual one,
/// straight from its fields (no `Properties` to build, compare and drop
/// per message): the same bytes [`encode`] writes for it.
pub fn encode_plain_ack(
    kind: AckKind,
    packet_id: u16,
    reason: u8,
    protocol: Protocol,
    out: &mut BytesMut,
) {
    let [hi, lo] = packet_id.to_be_bytes();
    if protocol.is_v5() && reason != 0 {
        out.put_slice(&[kind.first_byte(), 3, hi, lo, reason]);
    } else {
        out.put_slice(&[kind.first_byte(), 2, hi, lo]);
    }
}

/// PUBACK, PUBREC, PUBREL or PUBCOMP, in the shortest 5.0 form that keeps
/// the reason code and properties.
fn encode_ack(out: &mut BytesMut, first: u8, ack: &Ack, v5: bool) {
    frame(out, first, |out| {
        out.put_u16(ack.packet_id);
        if !v5 {
            return;
        }
        let no_properties = is_empty(&ack.properties);
        if ack.reason != 0 || !no_properties {
            out.put_u8(ack.reason);
        }
        if !no_properties {
            put_properties(out, &ack.properties);
        }
    });
}

/// The 5.0 DISCONNECT or AUTH: nothing for reason 0 without properties,
/// the reason alone without properties, else both.
fn encode_reason_properties(out: &mut BytesMut, first: u8, reason: u8, properties: &Properties) {
    frame(out, first, |out| {
        let no_properties = is_empty(properties);
        if reason != 0 || !no_properties {
            out.put_u8(reason);
        }
        if !no_properties {
            put_properties(out, properties);
        }
    });
}

/// The subscription options byte (3.x: the requested QoS alone).
fn options_byte(options: &SubOptions, v5: bool) -> u8 {
    let qos = options.qos as u8;
    if !v5 {
        return qos;
    }
    qos | (u8::from(options.no_local) << 2)
        | (u8::from(options.retain_as_published) << 3)
        | ((options.retain_handling & 0x03) << 4)
}

fn is_empty(p: &Properties) -> bool {
    *p == Properties::default()
}

/// Appends a property block, length first, in ascending identifier order
/// with the user properties last (every packet but CONNACK).
fn put_properties(out: &mut BytesMut, p: &Properties) {
    put_len_prefixed(out, |out| {
        if let Some(v) = p.subscription_identifier {
            out.put_u8(id::SUBSCRIPTION_IDENTIFIER);
            put_varint(out, v as usize);
        }
        put_u32_prop(out, id::SESSION_EXPIRY_INTERVAL, p.session_expiry);
        put_str_prop(
            out,
            id::ASSIGNED_CLIENT_IDENTIFIER,
            &p.assigned_client_identifier,
        );
        put_u16_prop(out, id::SERVER_KEEP_ALIVE, p.server_keep_alive);
        put_str_prop(out, id::AUTHENTICATION_METHOD, &p.authentication_method);
        put_bin_prop(out, id::AUTHENTICATION_DATA, &p.authentication_data);
        put_u8_prop(
            out,
            id::REQUEST_PROBLEM_INFORMATION,
            p.request_problem_information,
        );
        put_u8_prop(
            out,
            id::REQUEST_RESPONSE_INFORMATION,
            p.request_response_information,
        );
        put_str_prop(out, id::RESPONSE_INFORMATION, &p.response_information);
        put_str_prop(out, id::SERVER_REFERENCE, &p.server_reference);
        put_str_prop(out, id::REASON_STRING, &p.reason_string);
        put_u16_prop(out, id::RECEIVE_MAXIMUM, p.receive_maximum);
        put_u16_prop(out, id::TOPIC_ALIAS_MAXIMUM, p.topic_alias_maximum);
        put_u8_prop(out, id::MAXIMUM_QOS, p.maximum_qos);
        put_u8_prop(out, id::RETAIN_AVAILABLE, p.retain_available);
        put_u32_prop(out, id::MAXIMUM_PACKET_SIZE, p.maximum_packet_size);
        put_availability(out, p);
        put_user_props(out, &p.user);
    });
}

/// Appends the CONNACK property block in the order Mosquitto 2.0 writes it,
/// so that a client sees the same bytes from either broker: Topic Alias
/// Maximum, Server Keep Alive, Assigned Client Identifier, Authentication
/// Method and Data, Retain Available, Maximum Packet Size, Receive Maximum,
/// Maximum QoS, then the rest in ascending identifier order and the user
/// properties last. Only properties that CONNACK allows are written.
fn put_connack_properties(out: &mut BytesMut, p: &Properties) {
    put_len_prefixed(out, |out| {
        put_u16_prop(out, id::TOPIC_ALIAS_MAXIMUM, p.topic_alias_maximum);
        put_u16_prop(out, id::SERVER_KEEP_ALIVE, p.server_keep_alive);
        put_str_prop(
            out,
            id::ASSIGNED_CLIENT_IDENTIFIER,
            &p.assigned_client_identifier,
        );
        put_str_prop(out, id::AUTHENTICATION_METHOD, &p.authentication_method);
        put_bin_prop(out, id::AUTHENTICATION_DATA, &p.authentication_data);
        put_u8_prop(out, id::RETAIN_AVAILABLE, p.retain_available);
        put_u32_prop(out, id::MAXIMUM_PACKET_SIZE, p.maximum_packet_size);
        put_u16_prop(out, id::RECEIVE_MAXIMUM, p.receive_maximum);
        put_u8_prop(out, id::MAXIMUM_QOS, p.maximum_qos);
        put_u32_prop(out, id::SESSION_EXPIRY_INTERVAL, p.session_expiry);
        put_str_prop(out, id::RESPONSE_INFORMATION, &p.response_information);
        put_str_prop(out, id::SERVER_REFERENCE, &p.server_reference);
        put_str_prop(out, id::REASON_STRING, &p.reason_string);
        put_availability(out, p);
        put_user_props(out, &p.user);
    });
}

/// The three "... Available" properties of CONNACK, in identifier order.
fn put_availability(out: &mut BytesMut, p: &Properties) {
    put_u8_prop(
        out,
        id::WILDCARD_SUBSCRIPTION_AVAILABLE,
        p.wildcard_subscription_available,
    );
    put_u8_prop(
        out,
        id::SUBSCRIPTION_IDENTIFIER_AVAILABLE,
        p.subscription_identifier_available,
    );
    put_u8_prop(
        out,
        id::SHARED_SUBSCRIPTION_AVAILABLE,
        p.shared_subscription_available,
    );
}

fn put_user_props(out: &mut BytesMut, user: &[(ByteStr, ByteStr)]) {
    for (key, value) in user {
        out.put_u8(id::USER_PROPERTY);
        put_binary(out, key.as_bytes());
        put_binary(out, value.as_bytes());
    }
}

fn put_bin_prop(out: &mut BytesMut, pid: u8, value: &Option<Bytes>) {
    if let Some(data) = value {
        out.put_u8(pid);
        put_binary(out, data);
    }
}

fn put_u8_prop(out: &mut BytesMut, pid: u8, value: Option<u8>) {
    if let Some(v) = value {
        out.put_u8(pid);
        out.put_u8(v);
    }
}

fn put_u16_prop(out: &mut BytesMut, pid: u8, value: Option<u16>) {
    if let Some(v) = value {
        out.put_u8(pid);
        out.put_u16(v);
    }
}

fn put_u32_prop(out: &mut BytesMut, pid: u8, value: Option<u32>) {
    if let Some(v) = value {
        out.put_u8(pid);
        out.put_u32(v);
    }
}

fn put_str_prop(out: &mut BytesMut, pid: u8, value: &Option<ByteStr>) {
    if let Some(s) = value {
        out.put_u8(pid);
        put_binary(out, s.as_bytes());
    }
}
