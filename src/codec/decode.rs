//! Framing ([`check`]) and decoding ([`decode`]) of every MQTT packet.
//!
//! Contract:
//! - [`check`] reads only the fixed header: no allocation, and an oversized
//!   packet is refused before its body is buffered.
//! - [`decode`] takes exactly one whole packet and returns it with every
//!   string and binary field sliced from the frame (zero-copy). It never
//!   panics, and what it allocates is bounded by the frame: lists whose
//!   length the frame fixes (topic filters, user properties, scattered
//!   passthrough bytes) are sized once up front, so a frame of `n` bytes
//!   costs at most a small multiple of `n` (`tests/codec_alloc.rs`).
//! - Errors follow the specifications: bytes that cannot be parsed are
//!   `Malformed`, well-formed bytes that break a rule are `Protocol`.
//! - MQTT 3.1 predates the strict fixed-header flags of 3.1.1 (its PUBREL,
//!   SUBSCRIBE and UNSUBSCRIBE carry QoS 1 and may carry DUP), so reserved
//!   flags are only enforced for 3.1.1 and 5.0, as Mosquitto does.

use bytes::{BufMut, Bytes, BytesMut};

use super::properties::{id, Properties, PublishProperties};
use super::types::{
    Ack, Auth, ByteStr, ConnAck, Connect, Disconnect, Packet, Protocol, Publish, QoS, SubAck,
    SubOptions, Subscribe, UnsubAck, Unsubscribe, Will,
};
use super::wire::Reader;

/// What [`check`] found at the front of a receive buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// More bytes are needed. `total` is the whole packet's length once the
    /// fixed header is complete (so the caller can reserve exactly), else None.
    Incomplete { total: Option<usize> },
    /// A whole packet of `total` bytes (fixed header included) is buffered.
    Ready { total: usize },
}

/// Why bytes could not be decoded. Each maps to one MQTT 5 reason code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The packet is larger than the configured maximum (reason 0x95).
    TooLarge { size: usize, max: usize },
    /// The CONNECT names a protocol or level midge does not speak: answer
    /// CONNACK 0x01 (3.x) / 0x84 (5.0) and close [MQTT-3.1.2-2].
    UnsupportedProtocol { name: Bytes, level: u8 },
    /// Malformed packet (reason 0x81); the text names what was wrong.
    Malformed(&'static str),
    /// Well-formed bytes that break a protocol rule (reason 0x82).
    Protocol(&'static str),
}

impl DecodeError {
    /// The MQTT 5 reason code for a DISCONNECT or CONNACK about this error.
    pub fn reason_code(&self) -> u8 {
        use super::types::reason;
        match self {
            DecodeError::TooLarge { .. } => reason::PACKET_TOO_LARGE,
            DecodeError::UnsupportedProtocol { .. } => reason::UNSUPPORTED_PROTOCOL_VERSION,
            DecodeError::Malformed(_) => reason::MALFORMED_PACKET,
            DecodeError::Protocol(_) => reason::PROTOCOL_ERROR,
        }
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::TooLarge { size, max } => {
                write!(f, "packet of {size} bytes exceeds the maximum of {max}")
            }
            DecodeError::UnsupportedProtocol { name, level } => write!(
                f,
                "unsupported protocol {:?} level {level}",
                String::from_utf8_lossy(name)
            ),
            DecodeError::Malformed(what) => write!(f, "malformed packet: {what}"),
            DecodeError::Protocol(what) => write!(f, "protocol error: {what}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Parses the fixed header at the front of `buf`: `None` while it is
/// incomplete, else the header length and the remaining length.
fn fixed_header(buf: &[u8]) -> Result<Option<(usize, usize)>, DecodeError> {
    let mut remaining = 0usize;
    for i in 0..4 {
        let Some(&b) = buf.get(1 + i) else {
            return Ok(None);
        };
        remaining |= usize::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(Some((2 + i, remaining)));
        }
    }
    Err(DecodeError::Malformed(
        "remaining length longer than 4 bytes",
    ))
}

/// Looks at the front of `buf` (the connection's receive buffer) before any
/// decoding: returns `Ready { total }` when a whole packet of `total` bytes
/// is buffered, `Incomplete` when more bytes are needed (with the total once
/// the fixed header is known), `TooLarge` as soon as the fixed header
/// declares a packet longer than `max_packet_size`, and `Malformed` for a
/// remaining length of more than four bytes. Never allocates.
pub fn check(buf: &[u8], max_packet_size: usize) -> Result<Check, DecodeError> {
    let Some((header, remaining)) = fixed_header(buf)? else {
        return Ok(Check::Incomplete { total: None });
    };
    let total = header + remaining;
    if total > max_packet_size {
        return Err(DecodeError::TooLarge {
            size: total,
            max: max_packet_size,
        });
    }
    if buf.len() >= total {
        Ok(Check::Ready { total })
    } else {
        Ok(Check::Incomplete { total: Some(total) })
    }
}

// Packet types (the upper nibble of the first byte).
const CONNECT: u8 = 1;
const CONNACK: u8 = 2;
const PUBLISH: u8 = 3;
const PUBACK: u8 = 4;
const PUBREC: u8 = 5;
const PUBREL: u8 = 6;
const PUBCOMP: u8 = 7;
const SUBSCRIBE: u8 = 8;
const SUBACK: u8 = 9;
const UNSUBSCRIBE: u8 = 10;
const UNSUBACK: u8 = 11;
const PINGREQ: u8 = 12;
const PINGRESP: u8 = 13;
const DISCONNECT: u8 = 14;
const AUTH: u8 = 15;
/// The property context of will properties (no packet type is 0).
const WILL: u8 = 0;

/// Decodes exactly one packet. Called with a frame of exactly the length
/// [`check`] reported, frozen out of the receive buffer; `protocol` is the
/// connection's protocol (the broker's guess before CONNECT, which is
/// decoded from its own name and level whatever `protocol` says). Returns
/// the packet with every field sliced from `frame`, or why it is invalid.
pub fn decode(frame: Bytes, protocol: Protocol) -> Result<Packet, DecodeError> {
    let (Some((header, remaining)), Some(&first)) = (fixed_header(&frame)?, frame.first()) else {
        return Err(DecodeError::Malformed("truncated fixed header"));
    };
    if header + remaining != frame.len() {
        return Err(DecodeError::Malformed(
            "frame length does not match the remaining length",
        ));
    }
    let (kind, flags) = (first >> 4, first & 0x0F);
    let mut r = Reader::new(&frame, header, frame.len());
    let v5 = protocol.is_v5();
    // [MQTT-2.2.2-1, MQTT-2.2.2-2] (3.1.1), [MQTT-2.1.3-1] (5.0).
    let strict = protocol != Protocol::V31;
    let expect_flags = |want: u8| {
        if strict && flags != want {
            Err(DecodeError::Malformed("invalid fixed header flags"))
        } else {
            Ok(())
        }
    };
    let packet = match kind {
        CONNECT => Packet::Connect(Box::new(decode_connect(&mut r, flags)?)),
        CONNACK => {
            expect_flags(0)?;
            Packet::ConnAck(decode_connack(&mut r, protocol)?)
        }
        PUBLISH => Packet::Publish(decode_publish(&mut r, flags, protocol)?),
        PUBACK => {
            expect_flags(0)?;
            Packet::PubAck(decode_ack(&mut r, PUBACK, v5)?)
        }
        PUBREC => {
            expect_flags(0)?;
            Packet::PubRec(decode_ack(&mut r, PUBREC, v5)?)
        }
        PUBREL => {
            expect_flags(0b0010)?;
            Packet::PubRel(decode_ack(&mut r, PUBREL, v5)?)
        }
        PUBCOMP => {
            expect_flags(0)?;
            Packet::PubComp(decode_ack(&mut r, PUBCOMP, v5)?)
        }
        SUBSCRIBE => {
            expect_flags(0b0010)?;
            Packet::Subscribe(decode_subscribe(&mut r, v5)?)
        }
        SUBACK => {
            expect_flags(0)?;
            Packet::SubAck(decode_suback(&mut r, v5)?)
        }
        UNSUBSCRIBE => {
            expect_flags(0b0010)?;
            Packet::Unsubscribe(decode_unsubscribe(&mut r, v5)?)
        }
        UNSUBACK => {
            expect_flags(0)?;
            Packet::UnsubAck(decode_unsuback(&mut r, v5)?)
        }
        PINGREQ => {
            expect_flags(0)?;
            Packet::PingReq
        }
        PINGRESP => {
            expect_flags(0)?;
            Packet::PingResp
        }
        DISCONNECT => {
            expect_flags(0)?;
            let (reason, properties) = if v5 {
                decode_reason_properties(&mut r, DISCONNECT)?
            } else {
                (0, Properties::default())
            };
            Packet::Disconnect(Disconnect { reason, properties })
        }
        AUTH if v5 => {
            expect_flags(0)?;
            let empty = r.is_empty();
            let (reason, properties) = decode_reason_properties(&mut r, AUTH)?;
            // "It is a Protocol Error to omit the Authentication Method"
            // (section 3.15.2.2.2); only the zero-length form, which stands
            // for Success without properties, carries none.
            if !empty && properties.authentication_method.is_none() {
                return Err(DecodeError::Protocol(
                    "AUTH without an authentication method",
                ));
            }
            Packet::Auth(Auth { reason, properties })
        }
        _ => return Err(DecodeError::Malformed("reserved packet type")),
    };
    if !r.is_empty() {
        return Err(DecodeError::Malformed(
            "trailing bytes after the last field",
        ));
    }
    Ok(packet)
}

/// A packet identifier, which must be non-zero [MQTT-2.3.1-1] (3.1.1),
/// [MQTT-2.2.1-3] (5.0).
fn packet_id(r: &mut Reader<'_>) -> Result<u16, DecodeError> {
    match r.u16()? {
        0 => Err(DecodeError::Protocol("packet identifier 0")),
        id => Ok(id),
    }
}

fn decode_connect(r: &mut Reader<'_>, flags: u8) -> Result<Connect, DecodeError> {
    let name = r.binary()?;
    let level = r.u8()?;
    let protocol = Protocol::from_name_level(&name, level)
        .ok_or(DecodeError::UnsupportedProtocol { name, level })?;
    let v5 = protocol.is_v5();
    let strict = protocol != Protocol::V31;
    if strict && flags != 0 {
        return Err(DecodeError::Malformed("invalid fixed header flags"));
    }
    let cf = r.u8()?;
    if strict && cf & 0x01 != 0 {
        return Err(DecodeError::Malformed("CONNECT reserved flag is set"));
    }
    let will_flag = cf & 0x04 != 0;
    let will_qos = QoS::from_u8((cf >> 3) & 0x03).ok_or(DecodeError::Malformed("will QoS 3"))?;
    let will_retain = cf & 0x20 != 0;
    let password_flag = cf & 0x40 != 0;
    let username_flag = cf & 0x80 != 0;
    if !will_flag && (will_qos != QoS::AtMostOnce || will_retain) {
        return Err(DecodeError::Malformed("will QoS or retain without a will"));
    }
    if !v5 && password_flag && !username_flag {
        return Err(DecodeError::Malformed("password without a user name"));
    }
    let keep_alive = r.u16()?;
    let properties = if v5 {
        decode_properties(r, CONNECT)?
    } else {
        Properties::default()
    };
    let client_id = r.string()?;
    let will = if will_flag {
        let (properties, delay_interval) = if v5 {
            decode_publish_properties(r, WILL)?
        } else {
            (PublishProperties::default(), 0)
        };
        let topic = r.string()?;
        let payload = r.binary()?;
        Some(Will {
            topic,
            payload,
            qos: will_qos,
            retain: will_retain,
            delay_interval,
            properties,
        })
    } else {
        None
    };
    let username = if username_flag {
        Some(r.string()?)
    } else {
        None
    };
    let password = if password_flag {
        Some(r.binary()?)
    } else {
        None
    };
    Ok(Connect {
        protocol,
        clean_start: cf & 0x02 != 0,
        keep_alive,
        client_id,
        will,
        username,
        password,
        properties,
    })
}

fn decode_connack(r: &mut Reader<'_>, protocol: Protocol) -> Result<ConnAck, DecodeError> {
    let ack_flags = r.u8()?;
    // In 3.1 the whole byte is reserved; later versions use bit 0.
    if protocol != Protocol::V31 && ack_flags & 0xFE != 0 {
        return Err(DecodeError::Malformed("CONNACK reserved flags are set"));
    }
    let session_present = protocol != Protocol::V31 && ack_flags & 0x01 != 0;
    let code = r.u8()?;
    let properties = if protocol.is_v5() {
        check_reason(CONNACK, code)?;
        decode_properties(r, CONNACK)?
    } else {
        Properties::default()
    };
    Ok(ConnAck {
        session_present,
        code,
        properties,
    })
}

fn decode_publish(
    r: &mut Reader<'_>,
    flags: u8,
    protocol: Protocol,
) -> Result<Publish, DecodeError> {
    let dup = flags & 0x08 != 0;
    let qos = QoS::from_u8((flags >> 1) & 0x03).ok_or(DecodeError::Malformed("PUBLISH QoS 3"))?;
    if protocol != Protocol::V31 && dup && qos == QoS::AtMostOnce {
        return Err(DecodeError::Malformed("DUP set on a QoS 0 PUBLISH"));
    }
    let topic = r.string()?;
    let packet_id = if qos == QoS::AtMostOnce {
        0
    } else {
        packet_id(r)?
    };
    let properties = if protocol.is_v5() {
        decode_publish_properties(r, PUBLISH)?.0
    } else {
        PublishProperties::default()
    };
    if protocol.is_v5() && topic.is_empty() && properties.topic_alias.is_none() {
        // Section 3.3.2.1: "It is a Protocol Error if the Topic Name is zero
        // length and there is no Topic Alias." (A 3.x empty topic is left to
        // the broker's topic check [MQTT-4.7.3-1].)
        return Err(DecodeError::Protocol(
            "empty topic name without a topic alias",
        ));
    }
    Ok(Publish {
        dup,
        qos,
        retain: flags & 0x01 != 0,
        topic,
        packet_id,
        properties,
        payload: r.rest(),
    })
}

/// PUBACK, PUBREC, PUBREL or PUBCOMP. In 5.0 the reason code and the
/// properties may each be left out from the end.
fn decode_ack(r: &mut Reader<'_>, kind: u8, v5: bool) -> Result<Ack, DecodeError> {
    let packet_id = packet_id(r)?;
    if !v5 || r.is_empty() {
        return Ok(Ack::new(packet_id));
    }
    let reason = r.u8()?;
    check_reason(kind, reason)?;
    let properties = if r.is_empty() {
        Properties::default()
    } else {
        decode_properties(r, kind)?
    };
    Ok(Ack {
        packet_id,
        reason,
        properties,
    })
}

/// The 5.0 DISCONNECT and AUTH body: an absent reason code means 0 and
/// absent properties mean none.
fn decode_reason_properties(r: &mut Reader<'_>, kind: u8) -> Result<(u8, Properties), DecodeError> {
    if r.is_empty() {
        return Ok((0, Properties::default()));
    }
    let reason = r.u8()?;
    check_reason(kind, reason)?;
    let properties = if r.is_empty() {
        Properties::default()
    } else {
        decode_properties(r, kind)?
    };
    Ok((reason, properties))
}

fn decode_subscribe(r: &mut Reader<'_>, v5: bool) -> Result<Subscribe, DecodeError> {
    let packet_id = packet_id(r)?;
    let properties = if v5 {
        decode_properties(r, SUBSCRIBE)?
    } else {
        Properties::default()
    };
    let mut filters = Vec::with_capacity(count_filters(r, true));
    while !r.is_empty() {
        let filter = r.string()?;
        let options = decode_sub_options(r.u8()?, v5)?;
        filters.push((filter, options));
    }
    if filters.is_empty() {
        return Err(DecodeError::Protocol("SUBSCRIBE without a topic filter"));
    }
    Ok(Subscribe {
        packet_id,
        filters,
        properties,
    })
}

/// One subscription options byte.
fn decode_sub_options(byte: u8, v5: bool) -> Result<SubOptions, DecodeError> {
    if !v5 {
        // [MQTT-3-8.3-4]: reserved bits set or QoS 3 is malformed.
        let qos = match byte {
            0..=2 => QoS::from_u8(byte),
            _ => None,
        };
        return qos
            .map(|qos| SubOptions {
                qos,
                ..SubOptions::default()
            })
            .ok_or(DecodeError::Malformed("invalid requested QoS byte"));
    }
    if byte & 0xC0 != 0 {
        // [MQTT-3.8.3-5]
        return Err(DecodeError::Malformed(
            "subscription options reserved bits set",
        ));
    }
    let qos =
        QoS::from_u8(byte & 0x03).ok_or(DecodeError::Protocol("subscription maximum QoS 3"))?;
    let retain_handling = (byte >> 4) & 0x03;
    if retain_handling == 3 {
        return Err(DecodeError::Protocol("retain handling 3"));
    }
    Ok(SubOptions {
        qos,
        no_local: byte & 0x04 != 0,
        retain_as_published: byte & 0x08 != 0,
        retain_handling,
    })
}

/// How many topic filters (each followed by an options byte when
/// `options`) the rest of `r` holds, counted without decoding them, so that
/// the list is allocated once at its size. Stops at the first entry that
/// runs past the end (which the decoding loop then refuses).
fn count_filters(r: &Reader<'_>, options: bool) -> usize {
    let mut scan = r.clone();
    let mut n = 0;
    while !scan.is_empty() {
        if scan.skip_binary().is_err() || (options && scan.skip(1).is_err()) {
            break;
        }
        n += 1;
    }
    n
}

fn decode_suback(r: &mut Reader<'_>, v5: bool) -> Result<SubAck, DecodeError> {
    let packet_id = packet_id(r)?;
    let properties = if v5 {
        decode_properties(r, SUBACK)?
    } else {
        Properties::default()
    };
    let codes = r.rest().to_vec();
    if codes.is_empty() {
        return Err(DecodeError::Protocol("SUBACK without a return code"));
    }
    // [MQTT-3.9.3-2]: 3.x knows only the granted QoS and 0x80.
    if !v5 && codes.iter().any(|&c| c > 2 && c != 0x80) {
        return Err(DecodeError::Protocol("invalid SUBACK return code"));
    }
    if v5 {
        for &code in &codes {
            check_reason(SUBACK, code)?;
        }
    }
    Ok(SubAck {
        packet_id,
        codes,
        properties,
    })
}

fn decode_unsubscribe(r: &mut Reader<'_>, v5: bool) -> Result<Unsubscribe, DecodeError> {
    let packet_id = packet_id(r)?;
    let properties = if v5 {
        decode_properties(r, UNSUBSCRIBE)?
    } else {
        Properties::default()
    };
    let mut filters = Vec::with_capacity(count_filters(r, false));
    while !r.is_empty() {
        filters.push(r.string()?);
    }
    if filters.is_empty() {
        // [MQTT-3.10.3-2]
        return Err(DecodeError::Protocol("UNSUBSCRIBE without a topic filter"));
    }
    Ok(Unsubscribe {
        packet_id,
        filters,
        properties,
    })
}

fn decode_unsuback(r: &mut Reader<'_>, v5: bool) -> Result<UnsubAck, DecodeError> {
    let packet_id = packet_id(r)?;
    if !v5 {
        return Ok(UnsubAck {
            packet_id,
            ..UnsubAck::default()
        });
    }
    let properties = decode_properties(r, UNSUBACK)?;
    let codes = r.rest().to_vec();
    if codes.is_empty() {
        return Err(DecodeError::Protocol("UNSUBACK without a reason code"));
    }
    for &code in &codes {
        check_reason(UNSUBACK, code)?;
    }
    Ok(UnsubAck {
        packet_id,
        codes,
        properties,
    })
}

/// Refuses an MQTT 5 reason code that the table of packet type `kind`
/// does not list: the sender "MUST use one of" them [MQTT-3.2.2-8,
/// MQTT-3.4.2-1, MQTT-3.5.2-1, MQTT-3.6.2-1, MQTT-3.7.2-1, MQTT-3.9.3-2,
/// MQTT-3.11.3-2, MQTT-3.14.2-1, MQTT-3.15.2-1]. DISCONNECT also takes
/// 0x8C, which the summary table (section 2.4) lists for it.
fn check_reason(kind: u8, code: u8) -> Result<(), DecodeError> {
    let valid = match kind {
        CONNACK => matches!(
            code,
            0x00 | 0x80..=0x8A | 0x8C | 0x90 | 0x95 | 0x97 | 0x99..=0x9D | 0x9F
        ),
        PUBACK | PUBREC => matches!(
            code,
            0x00 | 0x10 | 0x80 | 0x83 | 0x87 | 0x90 | 0x91 | 0x97 | 0x99
        ),
        PUBREL | PUBCOMP => matches!(code, 0x00 | 0x92),
        SUBACK => matches!(
            code,
            0x00..=0x02 | 0x80 | 0x83 | 0x87 | 0x8F | 0x91 | 0x97 | 0x9E | 0xA1 | 0xA2
        ),
        UNSUBACK => matches!(code, 0x00 | 0x11 | 0x80 | 0x83 | 0x87 | 0x8F | 0x91),
        DISCONNECT => matches!(
            code,
            0x00 | 0x04 | 0x80..=0x83 | 0x87 | 0x89 | 0x8B..=0x90 | 0x93..=0xA2
        ),
        AUTH => matches!(code, 0x00 | 0x18 | 0x19),
        _ => true,
    };
    if valid {
        Ok(())
    } else {
        Err(DecodeError::Protocol(
            "reason code not valid for this packet type",
        ))
    }
}

/// How a property value is encoded.
#[derive(Clone, Copy)]
enum Kind {
    Byte,
    Two,
    Four,
    VarInt,
    Str,
    Bin,
    Pair,
}

// Property contexts as bits: bit n is packet type n, bit 0 the will.
const IN_WILL: u16 = 1 << WILL;
const IN_CONNECT: u16 = 1 << CONNECT;
const IN_CONNACK: u16 = 1 << CONNACK;
const IN_PUBLISH: u16 = 1 << PUBLISH;
const IN_ACKS: u16 = (1 << PUBACK) | (1 << PUBREC) | (1 << PUBREL) | (1 << PUBCOMP);
const IN_SUBSCRIBE: u16 = 1 << SUBSCRIBE;
const IN_SUBACK: u16 = 1 << SUBACK;
const IN_UNSUBACK: u16 = 1 << UNSUBACK;
const IN_DISCONNECT: u16 = 1 << DISCONNECT;
const IN_AUTH: u16 = 1 << AUTH;
const IN_ALL: u16 = 0xFFFF;

/// The value encoding of property `pid` and the packets that allow it
/// (MQTT 5, section 2.2.2.2); `None` for an unknown identifier.
fn property_spec(pid: u8) -> Option<(Kind, u16)> {
    let spec = match pid {
        id::PAYLOAD_FORMAT_INDICATOR => (Kind::Byte, IN_PUBLISH | IN_WILL),
        id::MESSAGE_EXPIRY_INTERVAL => (Kind::Four, IN_PUBLISH | IN_WILL),
        id::CONTENT_TYPE => (Kind::Str, IN_PUBLISH | IN_WILL),
        id::RESPONSE_TOPIC => (Kind::Str, IN_PUBLISH | IN_WILL),
        id::CORRELATION_DATA => (Kind::Bin, IN_PUBLISH | IN_WILL),
        id::SUBSCRIPTION_IDENTIFIER => (Kind::VarInt, IN_PUBLISH | IN_SUBSCRIBE),
        id::SESSION_EXPIRY_INTERVAL => (Kind::Four, IN_CONNECT | IN_CONNACK | IN_DISCONNECT),
        id::ASSIGNED_CLIENT_IDENTIFIER => (Kind::Str, IN_CONNACK),
        id::SERVER_KEEP_ALIVE => (Kind::Two, IN_CONNACK),
        id::AUTHENTICATION_METHOD => (Kind::Str, IN_CONNECT | IN_CONNACK | IN_AUTH),
        id::AUTHENTICATION_DATA => (Kind::Bin, IN_CONNECT | IN_CONNACK | IN_AUTH),
        id::REQUEST_PROBLEM_INFORMATION => (Kind::Byte, IN_CONNECT),
        id::WILL_DELAY_INTERVAL => (Kind::Four, IN_WILL),
        id::REQUEST_RESPONSE_INFORMATION => (Kind::Byte, IN_CONNECT),
        id::RESPONSE_INFORMATION => (Kind::Str, IN_CONNACK),
        id::SERVER_REFERENCE => (Kind::Str, IN_CONNACK | IN_DISCONNECT),
        id::REASON_STRING => (
            Kind::Str,
            IN_CONNACK | IN_ACKS | IN_SUBACK | IN_UNSUBACK | IN_DISCONNECT | IN_AUTH,
        ),
        id::RECEIVE_MAXIMUM => (Kind::Two, IN_CONNECT | IN_CONNACK),
        id::TOPIC_ALIAS_MAXIMUM => (Kind::Two, IN_CONNECT | IN_CONNACK),
        id::TOPIC_ALIAS => (Kind::Two, IN_PUBLISH),
        id::MAXIMUM_QOS => (Kind::Byte, IN_CONNACK),
        id::RETAIN_AVAILABLE => (Kind::Byte, IN_CONNACK),
        id::USER_PROPERTY => (Kind::Pair, IN_ALL),
        id::MAXIMUM_PACKET_SIZE => (Kind::Four, IN_CONNECT | IN_CONNACK),
        id::WILDCARD_SUBSCRIPTION_AVAILABLE => (Kind::Byte, IN_CONNACK),
        id::SUBSCRIPTION_IDENTIFIER_AVAILABLE => (Kind::Byte, IN_CONNACK),
        id::SHARED_SUBSCRIPTION_AVAILABLE => (Kind::Byte, IN_CONNACK),
        _ => return None,
    };
    Some(spec)
}

/// A decoded property value.
enum Value {
    Int(u32),
    Str(ByteStr),
    Bin(Bytes),
    Pair(ByteStr, ByteStr),
}

/// One property, with where its bytes (identifier included) lie in the frame.
struct Prop {
    id: u8,
    value: Value,
    start: usize,
    end: usize,
}

/// Walks one property block (its variable-length length first) in context
/// `ctx`, checking each property's identifier, placement, uniqueness and
/// value, and hands each to `each` in order.
fn walk_properties(
    r: &mut Reader<'_>,
    ctx: u8,
    mut each: impl FnMut(Prop),
) -> Result<(), DecodeError> {
    let len = r.varint()? as usize;
    if len > r.remaining() {
        return Err(DecodeError::Malformed(
            "property length runs past the end of the packet",
        ));
    }
    let mut block = r.sub(len)?;
    let mut seen: u64 = 0;
    while !block.is_empty() {
        let start = block.pos();
        let pid = block.u8()?;
        let (kind, allowed) =
            property_spec(pid).ok_or(DecodeError::Malformed("unknown property identifier"))?;
        if allowed & (1 << ctx) == 0 {
            // Section 2.2.2.2: "an Identifier which is not valid for its
            // packet type" makes a Malformed Packet.
            return Err(DecodeError::Malformed(
                "property not valid in this packet type",
            ));
        }
        let repeatable =
            pid == id::USER_PROPERTY || (pid == id::SUBSCRIPTION_IDENTIFIER && ctx == PUBLISH);
        // Every known identifier is below 64.
        let bit = 1u64 << pid;
        if seen & bit != 0 && !repeatable {
            return Err(DecodeError::Protocol("duplicate property"));
        }
        seen |= bit;
        let value = match kind {
            Kind::Byte => Value::Int(u32::from(block.u8()?)),
            Kind::Two => Value::Int(u32::from(block.u16()?)),
            Kind::Four => Value::Int(block.u32()?),
            Kind::VarInt => Value::Int(block.varint()?),
            Kind::Str => Value::Str(block.string()?),
            Kind::Bin => Value::Bin(block.binary()?),
            Kind::Pair => Value::Pair(block.string()?, block.string()?),
        };
        if let Value::Int(v) = value {
            check_int_property(pid, v)?;
        }
        each(Prop {
            id: pid,
            value,
            start,
            end: block.pos(),
        });
    }
    Ok(())
}

/// The value rules of integer properties (MQTT 5, section 3.x.2.x).
fn check_int_property(pid: u8, v: u32) -> Result<(), DecodeError> {
    match pid {
        id::PAYLOAD_FORMAT_INDICATOR
        | id::REQUEST_PROBLEM_INFORMATION
        | id::REQUEST_RESPONSE_INFORMATION
        | id::MAXIMUM_QOS
        | id::RETAIN_AVAILABLE
        | id::WILDCARD_SUBSCRIPTION_AVAILABLE
        | id::SUBSCRIPTION_IDENTIFIER_AVAILABLE
        | id::SHARED_SUBSCRIPTION_AVAILABLE
            if v > 1 =>
        {
            Err(DecodeError::Protocol("property value must be 0 or 1"))
        }
        // Topic Alias 0 is refused by the broker, which must answer it with
        // its own reason code, 0x94 (section 3.3.2.3.4).
        id::RECEIVE_MAXIMUM | id::MAXIMUM_PACKET_SIZE | id::SUBSCRIPTION_IDENTIFIER if v == 0 => {
            Err(DecodeError::Protocol("property value must not be 0"))
        }
        _ => Ok(()),
    }
}

/// How many User Properties the property block at the front of `r` holds,
/// counted by skipping over values without checking them, so that the
/// list is allocated once at its size. Stops where the block stops
/// parsing (which the real walk then refuses).
fn count_user_properties(r: &Reader<'_>) -> usize {
    let mut scan = r.clone();
    let Ok(len) = scan.varint() else {
        return 0;
    };
    let Ok(mut block) = scan.sub(len as usize) else {
        return 0;
    };
    let mut n = 0;
    while let Ok(pid) = block.u8() {
        let Some((kind, _)) = property_spec(pid) else {
            break;
        };
        let skipped = match kind {
            Kind::Byte => block.skip(1),
            Kind::Two => block.skip(2),
            Kind::Four => block.skip(4),
            Kind::VarInt => block.varint().map(|_| ()),
            Kind::Str | Kind::Bin => block.skip_binary(),
            Kind::Pair => block.skip_binary().and_then(|()| block.skip_binary()),
        };
        if skipped.is_err() {
            break;
        }
        if pid == id::USER_PROPERTY {
            n += 1;
        }
    }
    n
}

/// The property block of any packet other than PUBLISH (and the will).
fn decode_properties(r: &mut Reader<'_>, ctx: u8) -> Result<Properties, DecodeError> {
    let mut p = Properties {
        user: Vec::with_capacity(count_user_properties(r)),
        ..Properties::default()
    };
    walk_properties(r, ctx, |prop| match (prop.id, prop.value) {
        (id::SESSION_EXPIRY_INTERVAL, Value::Int(v)) => p.session_expiry = Some(v),
        (id::RECEIVE_MAXIMUM, Value::Int(v)) => p.receive_maximum = Some(v as u16),
        (id::MAXIMUM_PACKET_SIZE, Value::Int(v)) => p.maximum_packet_size = Some(v),
        (id::TOPIC_ALIAS_MAXIMUM, Value::Int(v)) => p.topic_alias_maximum = Some(v as u16),
        (id::REQUEST_RESPONSE_INFORMATION, Value::Int(v)) => {
            p.request_response_information = Some(v as u8)
        }
        (id::REQUEST_PROBLEM_INFORMATION, Value::Int(v)) => {
            p.request_problem_information = Some(v as u8)
        }
        (id::AUTHENTICATION_METHOD, Value::Str(s)) => p.authentication_method = Some(s),
        (id::AUTHENTICATION_DATA, Value::Bin(b)) => p.authentication_data = Some(b),
        (id::ASSIGNED_CLIENT_IDENTIFIER, Value::Str(s)) => p.assigned_client_identifier = Some(s),
        (id::SERVER_KEEP_ALIVE, Value::Int(v)) => p.server_keep_alive = Some(v as u16),
        (id::RESPONSE_INFORMATION, Value::Str(s)) => p.response_information = Some(s),
        (id::SERVER_REFERENCE, Value::Str(s)) => p.server_reference = Some(s),
        (id::REASON_STRING, Value::Str(s)) => p.reason_string = Some(s),
        (id::MAXIMUM_QOS, Value::Int(v)) => p.maximum_qos = Some(v as u8),
        (id::RETAIN_AVAILABLE, Value::Int(v)) => p.retain_available = Some(v as u8),
        (id::WILDCARD_SUBSCRIPTION_AVAILABLE, Value::Int(v)) => {
            p.wildcard_subscription_available = Some(v as u8)
        }
        (id::SUBSCRIPTION_IDENTIFIER_AVAILABLE, Value::Int(v)) => {
            p.subscription_identifier_available = Some(v as u8)
        }
        (id::SHARED_SUBSCRIPTION_AVAILABLE, Value::Int(v)) => {
            p.shared_subscription_available = Some(v as u8)
        }
        (id::SUBSCRIPTION_IDENTIFIER, Value::Int(v)) => p.subscription_identifier = Some(v),
        (id::USER_PROPERTY, Value::Pair(k, v)) => p.user.push((k, v)),
        // The context table admits no other property here.
        _ => {}
    })?;
    if p.authentication_data.is_some() && p.authentication_method.is_none() {
        return Err(DecodeError::Protocol(
            "authentication data without an authentication method",
        ));
    }
    Ok(p)
}

/// True for the PUBLISH properties the broker forwards untouched.
fn is_passthrough(pid: u8) -> bool {
    matches!(
        pid,
        id::PAYLOAD_FORMAT_INDICATOR
            | id::CONTENT_TYPE
            | id::RESPONSE_TOPIC
            | id::CORRELATION_DATA
            | id::USER_PROPERTY
    )
}

/// The property block of a PUBLISH (`ctx` PUBLISH) or of a will (`ctx`
/// WILL): the properties the broker acts on, the rest as one `passthrough`
/// slice (a copy only when they are interleaved with the others), and the
/// Will Delay Interval (0 when absent).
fn decode_publish_properties(
    r: &mut Reader<'_>,
    ctx: u8,
) -> Result<(PublishProperties, u32), DecodeError> {
    // Most messages carry no property at all: one zero length byte.
    if r.peek() == Some(0) {
        r.u8()?;
        return Ok((PublishProperties::default(), 0));
    }
    let frame = r.frame();
    let again = r.clone();
    let mut p = PublishProperties::default();
    let mut delay = 0;
    let mut run: Option<(usize, usize)> = None;
    let mut scattered = false;
    let mut passthrough_len = 0;
    walk_properties(r, ctx, |prop| match (prop.id, prop.value) {
        (id::MESSAGE_EXPIRY_INTERVAL, Value::Int(v)) => p.message_expiry = Some(v),
        (id::TOPIC_ALIAS, Value::Int(v)) => p.topic_alias = Some(v as u16),
        (id::SUBSCRIPTION_IDENTIFIER, Value::Int(v)) => p.subscription_ids.push(v),
        (id::WILL_DELAY_INTERVAL, Value::Int(v)) => delay = v,
        _ => {
            passthrough_len += prop.end - prop.start;
            match run {
                None => run = Some((prop.start, prop.end)),
                Some((s, e)) if e == prop.start => run = Some((s, prop.end)),
                Some(_) => scattered = true,
            }
        }
    })?;
    if scattered {
        let mut buf = BytesMut::with_capacity(passthrough_len);
        let mut again = again;
        walk_properties(&mut again, ctx, |prop| {
            if is_passthrough(prop.id) {
                if let Some(raw) = frame.get(prop.start..prop.end) {
                    buf.put_slice(raw);
                }
            }
        })?;
        p.passthrough = buf.freeze();
    } else if let Some((s, e)) = run {
        p.passthrough = frame.slice(s..e);
    }
    Ok((p, delay))
}
