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

use bytes::Bytes;

use super::decode_publish::decode_publish;
use super::properties::{Properties, PublishProperties};
use super::props_decode::{decode_properties, decode_publish_properties};
use super::types::{
    Ack, Auth, ConnAck, Connect, Disconnect, Packet, Protocol, QoS, SubAck, SubOptions, Subscribe,
    UnsubAck, Unsubscribe, Will,
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
pub(super) const CONNECT: u8 = 1;
pub(super) const CONNACK: u8 = 2;
pub(super) const PUBLISH: u8 = 3;
pub(super) const PUBACK: u8 = 4;
pub(super) const PUBREC: u8 = 5;
pub(super) const PUBREL: u8 = 6;
pub(super) const PUBCOMP: u8 = 7;
pub(super) const SUBSCRIBE: u8 = 8;
pub(super) const SUBACK: u8 = 9;
pub(super) const UNSUBSCRIBE: u8 = 10;
pub(super) const UNSUBACK: u8 = 11;
pub(super) const PINGREQ: u8 = 12;
pub(super) const PINGRESP: u8 = 13;
pub(super) const DISCONNECT: u8 = 14;
pub(super) const AUTH: u8 = 15;
/// The property context of will properties (no packet type is 0).
pub(super) const WILL: u8 = 0;

/// Decodes exactly one packet. Called with a frame of exactly the length
/// [`check`] reported, frozen out of the receive buffer; `protocol` is the
/// connection's protocol (the broker's guess before CONNECT, which is
/// decoded from its own name and level whatever `protocol` says). Returns
/// the packet with every field sliced from `frame`, or why it is invalid.
pub fn decode(frame: Bytes, protocol: Protocol) -> Result<Packet, DecodeError> {
    let (kind, flags, header) = open(&frame)?;
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

/// The packet type, the fixed header's flags and the fixed header's
/// length of a whole frame, checked against its remaining length.
#[inline]
pub(super) fn open(frame: &Bytes) -> Result<(u8, u8, usize), DecodeError> {
    let (Some((header, remaining)), Some(&first)) = (fixed_header(frame)?, frame.first()) else {
        return Err(DecodeError::Malformed("truncated fixed header"));
    };
    if header + remaining != frame.len() {
        return Err(DecodeError::Malformed(
            "frame length does not match the remaining length",
        ));
    }
    Ok((first >> 4, first & 0x0F, header))
}

/// A packet identifier, which must be non-zero [MQTT-2.3.1-1] (3.1.1),
/// [MQTT-2.2.1-3] (5.0).
pub(super) fn packet_id(r: &mut Reader<'_>) -> Result<u16, DecodeError> {
    match r.u16()? {
        0 => Err(DecodeError::Protocol("packet identifier 0")),
        id => Ok(id),
    }
}

fn decode_connect(r: &mut Reader<'_>, flags: u8) -> Result<Connect, DecodeError> {
    let name = r.binary()?;
    let level = r.u8()?;
    // The bridge bit, on 3.1 and 3.1.1 only (Mosquitto's `try_private`).
    let bridge = level & 0x80 != 0 && matches!(level & 0x7F, 3 | 4);
    let protocol = Protocol::from_name_level(&name, if bridge { level & 0x7F } else { level })
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
        bridge,
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
