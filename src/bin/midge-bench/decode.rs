//! What a broker sends a client, MQTT 3.1.1 and 5.0 in one decoder.
//!
//! `frame` finds one complete packet in a byte buffer; `parse` decodes the
//! packet kinds a broker sends to a client. In MQTT 5 the same packets
//! carry property blocks and reason codes; `parse` reads the properties
//! the bench acts on and checks the rest. Pure: no I/O, no clock, borrows
//! the read buffer. Malformed input yields an error, never a panic.

use crate::props::{self, Props, Value};
use crate::wire::Version;

/// Result of looking for one complete packet at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// More bytes are needed.
    Incomplete,
    /// A packet: its first byte, where its body starts and its total length.
    Packet {
        first: u8,
        body: usize,
        total: usize,
    },
    /// The remaining length is not a valid variable byte integer.
    Malformed,
}

/// Looks for one complete packet at the start of `buf`. Called by the read
/// path repeatedly until it answers `Incomplete`.
pub fn frame(buf: &[u8]) -> Frame {
    if buf.is_empty() {
        return Frame::Incomplete;
    }
    let header = buf.get(1..).unwrap_or_default();
    match props::varint(header) {
        Some((len, used)) => {
            let total = 1 + used + len as usize;
            if buf.len() >= total {
                Frame::Packet {
                    first: buf[0],
                    body: 1 + used,
                    total,
                }
            } else {
                Frame::Incomplete
            }
        }
        None if header.len() >= 4 => Frame::Malformed,
        None => Frame::Incomplete,
    }
}

/// A CONNACK and the MQTT 5 properties the bench acts on (all `None` in
/// 3.1.1).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ConnAck<'a> {
    /// Return code (3.1.1) or reason code (5.0); 0 = accepted.
    pub code: u8,
    /// Receive Maximum: QoS 1/2 publishes the broker takes in flight.
    pub receive_max: Option<u16>,
    /// Maximum QoS the broker accepts.
    pub max_qos: Option<u8>,
    /// Maximum Packet Size the broker accepts.
    pub max_packet_size: Option<u32>,
    /// Server Keep Alive, which replaces the one the client sent.
    pub keep_alive: Option<u16>,
    /// Reason String.
    pub reason: Option<&'a [u8]>,
}

/// A PUBLISH. `topic` is empty when the broker used a topic alias alone.
#[derive(Debug, PartialEq, Eq)]
pub struct Publish<'a> {
    pub qos: u8,
    /// Packet identifier, 0 at QoS 0.
    pub packet_id: u16,
    pub topic: &'a [u8],
    /// Topic Alias property (MQTT 5).
    pub alias: Option<u16>,
    pub payload: &'a [u8],
}

/// PUBACK, PUBREC, PUBREL or PUBCOMP: packet id and reason code (always 0
/// in 3.1.1; in MQTT 5, 0x80 and above is a failure).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ack {
    pub id: u16,
    pub code: u8,
}

/// A packet a broker sends to a client, borrowing from the read buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Packet<'a> {
    ConnAck(ConnAck<'a>),
    /// SUBACK: the granted QoS (or failure code) of the first filter.
    SubAck {
        code: u8,
        reason: Option<&'a [u8]>,
    },
    Publish(Publish<'a>),
    PubAck(Ack),
    PubRec(Ack),
    PubRel(Ack),
    PubComp(Ack),
    PingResp,
    /// DISCONNECT from the broker (MQTT 5 only).
    Disconnect {
        code: u8,
        reason: Option<&'a [u8]>,
    },
}

/// Reads a big-endian u16 at `at`.
fn u16_at(body: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(body.get(at..at + 2)?.try_into().ok()?))
}

/// The optional reason code and property block after a packet's fixed
/// fields (`rest`), as MQTT 5 acknowledgements and DISCONNECT carry them:
/// absent means 0 and no properties.
fn reason_and_props(
    rest: &[u8],
    allowed: props::Allowed,
) -> Result<(u8, Option<&[u8]>), &'static str> {
    let Some((&code, rest)) = rest.split_first() else {
        return Ok((0, None));
    };
    if rest.is_empty() {
        return Ok((code, None));
    }
    let (block, tail) = props::split(rest)?;
    if !tail.is_empty() {
        return Err("bytes after the property block");
    }
    Ok((code, props::check(block, allowed)?))
}

/// Decodes a CONNACK body.
fn connack(body: &[u8], version: Version) -> Result<ConnAck<'_>, &'static str> {
    let code = *body.get(1).ok_or("short CONNACK")?;
    let mut ack = ConnAck {
        code,
        ..ConnAck::default()
    };
    // A broker refusing the protocol level may answer in 3.1.1 form,
    // without a property block.
    let rest = body.get(2..).unwrap_or_default();
    if version == Version::V311 || rest.is_empty() {
        return Ok(ack);
    }
    let (block, _) = props::split(rest)?;
    for p in Props::new(block, props::CONNACK) {
        match p? {
            (0x21, Value::Two(0)) => return Err("CONNACK with Receive Maximum 0"),
            (0x21, Value::Two(v)) => ack.receive_max = Some(v),
            (0x24, Value::Byte(v)) => ack.max_qos = Some(v),
            (0x27, Value::Four(0)) => return Err("CONNACK with Maximum Packet Size 0"),
            (0x27, Value::Four(v)) => ack.max_packet_size = Some(v),
            (0x13, Value::Two(v)) => ack.keep_alive = Some(v),
            (props::REASON_STRING, Value::Bin(s)) => ack.reason = Some(s),
            _ => {}
        }
    }
    Ok(ack)
}

/// Decodes a PUBLISH with the flags of `first`.
fn publish(first: u8, body: &[u8], version: Version) -> Result<Publish<'_>, &'static str> {
    let qos = (first >> 1) & 3;
    if qos == 3 {
        return Err("PUBLISH with QoS 3");
    }
    let topic_len = usize::from(u16_at(body, 0).ok_or("short PUBLISH")?);
    let topic = body.get(2..2 + topic_len).ok_or("short PUBLISH")?;
    let mut at = 2 + topic_len;
    let mut packet_id = 0;
    if qos > 0 {
        packet_id = u16_at(body, at).ok_or("short PUBLISH")?;
        if packet_id == 0 {
            return Err("PUBLISH with packet id 0");
        }
        at += 2;
    }
    let mut rest = body.get(at..).ok_or("short PUBLISH")?;
    let mut alias = None;
    if version == Version::V5 {
        let (block, payload) = props::split(rest)?;
        for p in Props::new(block, props::PUBLISH) {
            if let (0x23, Value::Two(a)) = p? {
                alias = Some(a);
            }
        }
        rest = payload;
    }
    Ok(Publish {
        qos,
        packet_id,
        topic,
        alias,
        payload: rest,
    })
}

/// Decodes one framed packet (`first` byte and `body` after the remaining
/// length) sent by a broker speaking `version`. Returns a description of
/// the problem for anything a broker must not send a client.
pub fn parse(first: u8, body: &[u8], version: Version) -> Result<Packet<'_>, &'static str> {
    let v5 = version == Version::V5;
    let ack = |body: &[u8]| -> Result<Ack, &'static str> {
        let id = u16_at(body, 0).ok_or("short acknowledgement")?;
        let code = match body.get(2..) {
            Some(rest) if v5 => reason_and_props(rest, props::ACK)?.0,
            _ => 0,
        };
        Ok(Ack { id, code })
    };
    match first >> 4 {
        2 => connack(body, version).map(Packet::ConnAck),
        9 => {
            let mut rest = body.get(2..).ok_or("short SUBACK")?;
            let mut reason = None;
            if v5 {
                let (block, codes) = props::split(rest)?;
                reason = props::check(block, props::ACK)?;
                rest = codes;
            }
            let code = *rest.first().ok_or("SUBACK without a reason code")?;
            Ok(Packet::SubAck { code, reason })
        }
        3 => publish(first, body, version).map(Packet::Publish),
        4 => ack(body).map(Packet::PubAck),
        5 => ack(body).map(Packet::PubRec),
        6 => ack(body).map(Packet::PubRel),
        7 => ack(body).map(Packet::PubComp),
        13 => Ok(Packet::PingResp),
        14 if v5 => {
            let (code, reason) = reason_and_props(body, props::DISCONNECT)?;
            Ok(Packet::Disconnect { code, reason })
        }
        14 => Err("DISCONNECT from a 3.1.1 broker"),
        _ => Err("unexpected packet type from broker"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{self, Stamp};

    fn framed(buf: &[u8]) -> (u8, &[u8]) {
        match frame(buf) {
            Frame::Packet { first, body, total } => {
                assert_eq!(total, buf.len());
                (first, &buf[body..total])
            }
            other => panic!("not one packet: {other:?}"),
        }
    }

    #[test]
    fn publish_round_trips_stamp_and_size() {
        let stamp = Stamp {
            publisher: 3,
            seq: 0x0102_0304,
            nanos: 99,
        };
        for version in [Version::V311, Version::V5] {
            for (qos, size) in [(0u8, 16usize), (1, 100), (2, 300)] {
                let mut out = Vec::new();
                wire::publish(&mut out, b"t/1", qos, 42, stamp, size, version);
                let (first, body) = framed(&out);
                let Ok(Packet::Publish(p)) = parse(first, body, version) else {
                    panic!("bad parse of {out:?}");
                };
                assert_eq!((p.qos, p.topic, p.alias), (qos, &b"t/1"[..], None));
                assert_eq!(p.packet_id, if qos > 0 { 42 } else { 0 });
                assert_eq!(p.payload.len(), size);
                assert_eq!(wire::read_stamp(p.payload), Some(stamp));
            }
        }
    }

    #[test]
    fn v5_publish_reads_its_topic_alias() {
        // Alias 7 with an empty topic, QoS 1, id 5, a user property too.
        let body = [0, 0, 0, 5, 8, 0x26, 0, 0, 0, 0, 0x23, 0, 7, b'x'];
        let Ok(Packet::Publish(p)) = parse(0x32, &body, Version::V5) else {
            panic!("bad parse");
        };
        assert_eq!(
            (p.topic, p.alias, p.payload),
            (&b""[..], Some(7), &b"x"[..])
        );
        assert!(parse(0x30, &[0, 1, b't', 4, 0x23, 0, 1], Version::V5).is_err());
        assert!(parse(0x30, &[0, 1, b't', 3, 0x21, 0, 1], Version::V5).is_err());
    }

    #[test]
    fn frame_rejects_five_byte_length() {
        assert_eq!(
            frame(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
            Frame::Malformed
        );
        assert_eq!(frame(&[0x30, 0xFF]), Frame::Incomplete);
        assert_eq!(frame(&[]), Frame::Incomplete);
        assert_eq!(frame(&[0x30, 0xCB, 0x01]), Frame::Incomplete);
    }

    #[test]
    fn acks_parse_with_their_ids_and_reason_codes() {
        /// Builds the packet kind an acknowledgement's first byte names.
        type Make = fn(Ack) -> Packet<'static>;
        let kinds: [(u8, Make); 4] = [
            (wire::PUBACK, Packet::PubAck),
            (wire::PUBREC, Packet::PubRec),
            (wire::PUBREL, Packet::PubRel),
            (wire::PUBCOMP, Packet::PubComp),
        ];
        let ack = |code| Ack { id: 513, code };
        for (first, make) in kinds {
            let mut out = Vec::new();
            wire::ack(&mut out, first, 513);
            let (f, body) = framed(&out);
            assert_eq!(parse(f, body, Version::V311), Ok(make(ack(0))));
            assert_eq!(parse(f, body, Version::V5), Ok(make(ack(0))));
            let with_code = [2, 1, 0x92];
            assert_eq!(parse(f, &with_code, Version::V5), Ok(make(ack(0x92))));
            let with_props = [2, 1, 0x10, 4, 0x1F, 0, 1, b'r'];
            assert_eq!(parse(f, &with_props, Version::V5), Ok(make(ack(0x10))));
            assert!(parse(f, &[2, 1, 0x10, 4, 0x1F, 0], Version::V5).is_err());
        }
    }

    #[test]
    fn v5_connack_reads_the_limits() {
        #[rustfmt::skip]
        let body = [
            0, 0, 17,
            0x21, 0, 20,
            0x24, 1,
            0x27, 0, 1, 0, 0,
            0x13, 0, 30,
            0x1F, 0, 1, b'k',
        ];
        let want = ConnAck {
            code: 0,
            receive_max: Some(20),
            max_qos: Some(1),
            max_packet_size: Some(65_536),
            keep_alive: Some(30),
            reason: Some(b"k"),
        };
        assert_eq!(parse(0x20, &body, Version::V5), Ok(Packet::ConnAck(want)));
        // 3.1.1-shaped refusal to a 5.0 client.
        let refused = ConnAck {
            code: 0x84,
            ..ConnAck::default()
        };
        assert_eq!(
            parse(0x20, &[0, 0x84], Version::V5),
            Ok(Packet::ConnAck(refused))
        );
        assert!(parse(0x20, &[0, 0, 3, 0x21, 0, 0], Version::V5).is_err());
        assert!(parse(0x20, &[0, 0, 2, 0x23, 0, 1], Version::V5).is_err());
    }

    #[test]
    fn v5_suback_and_disconnect() {
        assert_eq!(
            parse(0x90, &[0, 1, 0, 1], Version::V5),
            Ok(Packet::SubAck {
                code: 1,
                reason: None
            })
        );
        assert_eq!(
            parse(0x90, &[0, 1, 4, 0x1F, 0, 1, b'n', 0xA2], Version::V5),
            Ok(Packet::SubAck {
                code: 0xA2,
                reason: Some(b"n")
            })
        );
        assert!(parse(0x90, &[0, 1, 0], Version::V5).is_err());
        let normal = Packet::Disconnect {
            code: 0,
            reason: None,
        };
        assert_eq!(parse(0xE0, &[], Version::V5), Ok(normal));
        assert_eq!(
            parse(0xE0, &[0x8B, 0], Version::V5),
            Ok(Packet::Disconnect {
                code: 0x8B,
                reason: None
            })
        );
        assert!(parse(0xE0, &[], Version::V311).is_err());
    }

    #[test]
    fn truncated_bodies_are_errors_not_panics() {
        for version in [Version::V311, Version::V5] {
            assert!(parse(0x20, &[0], version).is_err());
            assert!(parse(0x90, &[0, 1], version).is_err());
            assert!(parse(0x32, &[0, 5, b'a'], version).is_err());
            assert!(parse(0x40, &[1], version).is_err());
            assert!(parse(0x36, &[0, 0], version).is_err());
            assert!(parse(0x10, &[], version).is_err());
        }
        assert!(parse(0x30, &[0, 1, b't', 9], Version::V5).is_err());
    }

    #[test]
    fn broker_replies_decode() {
        let connack = |code| {
            Ok(Packet::ConnAck(ConnAck {
                code,
                ..ConnAck::default()
            }))
        };
        assert_eq!(parse(0x20, &[0, 5], Version::V311), connack(5));
        assert_eq!(parse(0x20, &[0, 0, 0], Version::V5), connack(0));
        assert_eq!(
            parse(0x90, &[0, 1, 0x80], Version::V311),
            Ok(Packet::SubAck {
                code: 0x80,
                reason: None
            })
        );
        assert_eq!(parse(0xD0, &[], Version::V311), Ok(Packet::PingResp));
    }
}
