//! The MQTT 3.1.1 wire format as the bench client needs it, written
//! independently of the broker's codec so that the two check each other.
//!
//! Encoders append one packet to a caller-owned `Vec<u8>` (no allocation
//! once the vector has grown); `frame` finds one complete packet in a byte
//! buffer and `parse` decodes the packet kinds a broker sends to a client.
//! Pure: no I/O, no clock. Malformed input yields an error, never a panic.

/// First byte of a PUBACK.
pub const PUBACK: u8 = 0x40;
/// First byte of a PUBREC.
pub const PUBREC: u8 = 0x50;
/// First byte of a PUBREL (its reserved flags are 0b0010).
pub const PUBREL: u8 = 0x62;
/// First byte of a PUBCOMP.
pub const PUBCOMP: u8 = 0x70;

/// Bytes at the start of every bench payload: publisher id (u32), sequence
/// number (u32) and send time (u64 nanoseconds since the tool started).
pub const STAMP_LEN: usize = 16;

/// Appends the variable-length "remaining length" of a fixed header.
fn put_len(out: &mut Vec<u8>, mut len: usize) {
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            return;
        }
    }
}

/// Appends a length-prefixed UTF-8 string field.
fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s);
}

/// Appends a CONNECT (MQTT 3.1.1, clean session, no will, no credentials).
/// Called once per connection before anything else is sent.
pub fn connect(out: &mut Vec<u8>, client_id: &[u8], keep_alive: u16) {
    out.push(0x10);
    put_len(out, 10 + 2 + client_id.len());
    out.extend_from_slice(&[0, 4, b'M', b'Q', b'T', b'T', 4, 0x02]);
    out.extend_from_slice(&keep_alive.to_be_bytes());
    put_str(out, client_id);
}

/// Appends a SUBSCRIBE for one filter at `qos`.
pub fn subscribe(out: &mut Vec<u8>, packet_id: u16, filter: &[u8], qos: u8) {
    out.push(0x82);
    put_len(out, 2 + 2 + filter.len() + 1);
    out.extend_from_slice(&packet_id.to_be_bytes());
    put_str(out, filter);
    out.push(qos);
}

/// Appends a PUBLISH whose payload is the bench stamp followed by zeros up
/// to `size` bytes (`size` >= `STAMP_LEN`). `packet_id` is ignored at QoS 0.
/// This is the publisher's hot path: it never allocates once `out` has grown.
pub fn publish(
    out: &mut Vec<u8>,
    topic: &[u8],
    qos: u8,
    packet_id: u16,
    stamp: Stamp,
    size: usize,
) {
    let id_len = if qos > 0 { 2 } else { 0 };
    out.push(0x30 | (qos << 1));
    put_len(out, 2 + topic.len() + id_len + size);
    put_str(out, topic);
    if qos > 0 {
        out.extend_from_slice(&packet_id.to_be_bytes());
    }
    out.extend_from_slice(&stamp.publisher.to_be_bytes());
    out.extend_from_slice(&stamp.seq.to_be_bytes());
    out.extend_from_slice(&stamp.nanos.to_be_bytes());
    let end = out.len() + size.saturating_sub(STAMP_LEN);
    out.resize(end, 0);
}

/// Appends a two-byte acknowledgement (`PUBACK`, `PUBREC`, `PUBREL` or
/// `PUBCOMP` as the first byte) for `packet_id`.
pub fn ack(out: &mut Vec<u8>, first: u8, packet_id: u16) {
    out.push(first);
    out.push(2);
    out.extend_from_slice(&packet_id.to_be_bytes());
}

/// Appends a PINGREQ.
pub fn pingreq(out: &mut Vec<u8>) {
    out.extend_from_slice(&[0xC0, 0]);
}

/// Appends a DISCONNECT.
pub fn disconnect(out: &mut Vec<u8>) {
    out.extend_from_slice(&[0xE0, 0]);
}

/// What the bench writes at the start of every payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Index of the publisher within the run.
    pub publisher: u32,
    /// Per-publisher sequence number, from 0.
    pub seq: u32,
    /// Send time in nanoseconds since the tool started.
    pub nanos: u64,
}

/// Reads the stamp at the start of a payload; `None` when it is too short.
pub fn read_stamp(payload: &[u8]) -> Option<Stamp> {
    let publisher = u32::from_be_bytes(payload.get(0..4)?.try_into().ok()?);
    let seq = u32::from_be_bytes(payload.get(4..8)?.try_into().ok()?);
    let nanos = u64::from_be_bytes(payload.get(8..16)?.try_into().ok()?);
    Some(Stamp {
        publisher,
        seq,
        nanos,
    })
}

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
    let Some(&first) = buf.first() else {
        return Frame::Incomplete;
    };
    let mut len = 0usize;
    let mut shift = 0;
    for i in 1..5 {
        let Some(&byte) = buf.get(i) else {
            return Frame::Incomplete;
        };
        len |= usize::from(byte & 0x7F) << shift;
        if byte & 0x80 == 0 {
            let total = i + 1 + len;
            return if buf.len() >= total {
                Frame::Packet {
                    first,
                    body: i + 1,
                    total,
                }
            } else {
                Frame::Incomplete
            };
        }
        shift += 7;
    }
    Frame::Malformed
}

/// A packet a broker sends to a client, borrowing from the read buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Packet<'a> {
    /// CONNACK with its return code (0 = accepted).
    ConnAck(u8),
    /// SUBACK with the granted QoS (or 0x80) of the first filter.
    SubAck(u8),
    /// PUBLISH: QoS, packet id (0 at QoS 0) and payload.
    Publish {
        qos: u8,
        packet_id: u16,
        payload: &'a [u8],
    },
    /// PUBACK for a packet id.
    PubAck(u16),
    /// PUBREC for a packet id.
    PubRec(u16),
    /// PUBREL for a packet id.
    PubRel(u16),
    /// PUBCOMP for a packet id.
    PubComp(u16),
    /// PINGRESP.
    PingResp,
}

/// Reads a big-endian u16 at `at`.
fn u16_at(body: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(body.get(at..at + 2)?.try_into().ok()?))
}

/// Decodes one framed packet (`first` byte and `body` after the remaining
/// length). Returns a description of the problem for anything a 3.1.1
/// broker must not send a client.
pub fn parse(first: u8, body: &[u8]) -> Result<Packet<'_>, &'static str> {
    let id = || u16_at(body, 0).ok_or("short acknowledgement");
    match first >> 4 {
        2 => body
            .get(1)
            .map(|&c| Packet::ConnAck(c))
            .ok_or("short CONNACK"),
        9 => body
            .get(2)
            .map(|&c| Packet::SubAck(c))
            .ok_or("short SUBACK"),
        3 => {
            let qos = (first >> 1) & 3;
            if qos == 3 {
                return Err("PUBLISH with QoS 3");
            }
            let topic_len = usize::from(u16_at(body, 0).ok_or("short PUBLISH")?);
            let mut at = 2 + topic_len;
            let mut packet_id = 0;
            if qos > 0 {
                packet_id = u16_at(body, at).ok_or("short PUBLISH")?;
                at += 2;
            }
            let payload = body.get(at..).ok_or("short PUBLISH")?;
            Ok(Packet::Publish {
                qos,
                packet_id,
                payload,
            })
        }
        4 => id().map(Packet::PubAck),
        5 => id().map(Packet::PubRec),
        6 => id().map(Packet::PubRel),
        7 => id().map(Packet::PubComp),
        13 => Ok(Packet::PingResp),
        _ => Err("unexpected packet type from broker"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn connect_is_mqtt_311_clean_session() {
        let mut out = Vec::new();
        connect(&mut out, b"ab", 60);
        assert_eq!(
            out,
            [0x10, 14, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 2, b'a', b'b']
        );
    }

    #[test]
    fn subscribe_has_reserved_flags_0010() {
        // [MQTT-3.8.1-1] the SUBSCRIBE fixed header flags are 0,0,1,0.
        let mut out = Vec::new();
        subscribe(&mut out, 7, b"a/+", 1);
        assert_eq!(out, [0x82, 8, 0, 7, 0, 3, b'a', b'/', b'+', 1]);
    }

    #[test]
    fn publish_round_trips_stamp_and_size() {
        let stamp = Stamp {
            publisher: 3,
            seq: 0x0102_0304,
            nanos: 99,
        };
        for (qos, size) in [(0u8, 16usize), (1, 100), (2, 300)] {
            let mut out = Vec::new();
            publish(&mut out, b"t/1", qos, 42, stamp, size);
            let (first, body) = framed(&out);
            match parse(first, body) {
                Ok(Packet::Publish {
                    qos: q,
                    packet_id,
                    payload,
                }) => {
                    assert_eq!(q, qos);
                    assert_eq!(packet_id, if qos > 0 { 42 } else { 0 });
                    assert_eq!(payload.len(), size);
                    assert_eq!(read_stamp(payload), Some(stamp));
                }
                other => panic!("bad parse {other:?}"),
            }
        }
    }

    #[test]
    fn remaining_length_uses_continuation_bytes() {
        let mut out = Vec::new();
        publish(
            &mut out,
            b"t",
            0,
            0,
            Stamp {
                publisher: 0,
                seq: 0,
                nanos: 0,
            },
            200,
        );
        assert_eq!(&out[..3], &[0x30, 0xCB, 0x01]); // 203 = 75 + 1 * 128
        assert!(matches!(
            frame(&out),
            Frame::Packet {
                body: 3,
                total: 206,
                ..
            }
        ));
        assert_eq!(frame(&out[..205]), Frame::Incomplete);
    }

    #[test]
    fn frame_rejects_five_byte_length() {
        assert_eq!(
            frame(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
            Frame::Malformed
        );
        assert_eq!(frame(&[0x30, 0xFF]), Frame::Incomplete);
        assert_eq!(frame(&[]), Frame::Incomplete);
    }

    #[test]
    fn acks_parse_with_their_ids() {
        for (first, want) in [
            (PUBACK, Packet::PubAck(513)),
            (PUBREC, Packet::PubRec(513)),
            (PUBREL, Packet::PubRel(513)),
            (PUBCOMP, Packet::PubComp(513)),
        ] {
            let mut out = Vec::new();
            ack(&mut out, first, 513);
            let (f, body) = framed(&out);
            assert_eq!(parse(f, body), Ok(want));
        }
    }

    #[test]
    fn truncated_bodies_are_errors_not_panics() {
        assert!(parse(0x20, &[0]).is_err());
        assert!(parse(0x90, &[0, 1]).is_err());
        assert!(parse(0x32, &[0, 5, b'a']).is_err());
        assert!(parse(0x40, &[1]).is_err());
        assert!(parse(0x36, &[0, 0]).is_err());
        assert!(parse(0x10, &[]).is_err());
        assert_eq!(read_stamp(&[0; 15]), None);
    }

    #[test]
    fn broker_replies_decode() {
        assert_eq!(parse(0x20, &[0, 5]), Ok(Packet::ConnAck(5)));
        assert_eq!(parse(0x90, &[0, 1, 0x80]), Ok(Packet::SubAck(0x80)));
        assert_eq!(parse(0xD0, &[]), Ok(Packet::PingResp));
    }
}
