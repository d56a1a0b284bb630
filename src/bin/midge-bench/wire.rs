//! The packets the bench client sends, MQTT 3.1.1 and 5.0 from one set of
//! encoders, written independently of the broker's codec so that the two
//! check each other. `decode` reads what the broker answers.
//!
//! Encoders append one packet to a caller-owned `Vec<u8>` (no allocation
//! once the vector has grown). Pure: no I/O, no clock.

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

/// The protocol version a connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// MQTT 3.1.1, protocol level 4.
    V311,
    /// MQTT 5.0, protocol level 5: property blocks and reason codes.
    V5,
}

impl Version {
    /// The protocol level byte of CONNECT.
    pub fn level(self) -> u8 {
        match self {
            Version::V311 => 4,
            Version::V5 => 5,
        }
    }

    /// The name used in the JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Version::V311 => "3.1.1",
            Version::V5 => "5.0",
        }
    }

    /// Bytes of an empty property block: one in MQTT 5, none before.
    fn empty_props(self) -> usize {
        usize::from(self == Version::V5)
    }
}

/// The MQTT 5 CONNECT properties the bench sets; ignored for 3.1.1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectProps {
    /// Receive Maximum: QoS 1/2 publishes the broker may have in flight
    /// towards this client. `None` leaves the default (65,535).
    pub receive_max: Option<u16>,
    /// Topic Alias Maximum: aliases the broker may assign on its way to
    /// this client; 0 (the default) allows none and is not sent.
    pub topic_alias_max: u16,
    /// Keep a session: 3.1.1 clean session 0; MQTT 5 clean start with a
    /// Session Expiry Interval that never ends.
    pub persistent: bool,
}

/// Bytes a variable byte integer takes.
fn len_len(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Appends a variable byte integer (the "remaining length" of a fixed
/// header, or a property block's length).
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

/// Appends a CONNECT (clean session / clean start unless
/// `props.persistent`, no will, no credentials) at `version`; MQTT 5
/// carries `props`. Called once per connection before anything else is
/// sent.
pub fn connect(
    out: &mut Vec<u8>,
    client_id: &[u8],
    keep_alive: u16,
    version: Version,
    props: ConnectProps,
) {
    let mut block = [0u8; 11];
    let mut n = 0;
    if version == Version::V5 && props.persistent {
        block[..5].copy_from_slice(&[0x11, 0xff, 0xff, 0xff, 0xff]);
        n = 5;
    }
    if version == Version::V5 {
        for (id, value) in [
            (0x21, props.receive_max.unwrap_or(0)),
            (0x22, props.topic_alias_max),
        ] {
            if value > 0 {
                block[n] = id;
                block[n + 1..n + 3].copy_from_slice(&value.to_be_bytes());
                n += 3;
            }
        }
    }
    let block = &block[..n];
    out.push(0x10);
    let props_len = if version == Version::V5 { 1 + n } else { 0 };
    put_len(out, 10 + props_len + 2 + client_id.len());
    let clean = if props.persistent && version == Version::V311 {
        0x00
    } else {
        0x02
    };
    out.extend_from_slice(&[0, 4, b'M', b'Q', b'T', b'T', version.level(), clean]);
    out.extend_from_slice(&keep_alive.to_be_bytes());
    if version == Version::V5 {
        put_len(out, block.len());
        out.extend_from_slice(block);
    }
    put_str(out, client_id);
}

/// Appends a SUBSCRIBE for one filter at `qos` (MQTT 5: no properties and
/// subscription options that only set the QoS).
pub fn subscribe(out: &mut Vec<u8>, packet_id: u16, filter: &[u8], qos: u8, version: Version) {
    out.push(0x82);
    put_len(out, 2 + version.empty_props() + 2 + filter.len() + 1);
    out.extend_from_slice(&packet_id.to_be_bytes());
    if version == Version::V5 {
        out.push(0);
    }
    put_str(out, filter);
    out.push(qos);
}

/// Total bytes of the PUBLISH `publish` writes for these arguments.
pub fn publish_len(topic_len: usize, qos: u8, size: usize, version: Version) -> usize {
    let id_len = if qos > 0 { 2 } else { 0 };
    let rest = 2 + topic_len + id_len + version.empty_props() + size;
    1 + len_len(rest) + rest
}

/// Appends a PUBLISH whose payload is the bench stamp followed by zeros up
/// to `size` bytes (`size` >= `STAMP_LEN`); MQTT 5 adds an empty property
/// block. `packet_id` is ignored at QoS 0. This is the publisher's hot
/// path: it never allocates once `out` has grown.
pub fn publish(
    out: &mut Vec<u8>,
    topic: &[u8],
    qos: u8,
    packet_id: u16,
    stamp: Stamp,
    size: usize,
    version: Version,
) {
    let id_len = if qos > 0 { 2 } else { 0 };
    out.push(0x30 | (qos << 1));
    put_len(out, 2 + topic.len() + id_len + version.empty_props() + size);
    put_str(out, topic);
    if qos > 0 {
        out.extend_from_slice(&packet_id.to_be_bytes());
    }
    if version == Version::V5 {
        out.push(0);
    }
    out.extend_from_slice(&stamp.publisher.to_be_bytes());
    out.extend_from_slice(&stamp.seq.to_be_bytes());
    out.extend_from_slice(&stamp.nanos.to_be_bytes());
    let end = out.len() + size.saturating_sub(STAMP_LEN);
    out.resize(end, 0);
}

/// Appends a two-byte acknowledgement (`PUBACK`, `PUBREC`, `PUBREL` or
/// `PUBCOMP` as the first byte) for `packet_id`. The same bytes serve
/// MQTT 5, where a missing reason code means success.
pub fn ack(out: &mut Vec<u8>, first: u8, packet_id: u16) {
    out.push(first);
    out.push(2);
    out.extend_from_slice(&packet_id.to_be_bytes());
}

/// Appends a PINGREQ.
pub fn pingreq(out: &mut Vec<u8>) {
    out.extend_from_slice(&[0xC0, 0]);
}

/// Appends a DISCONNECT (in MQTT 5: reason 0, normal disconnection).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_is_mqtt_311_clean_session() {
        let mut out = Vec::new();
        connect(&mut out, b"ab", 60, Version::V311, ConnectProps::default());
        assert_eq!(
            out,
            [0x10, 14, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 2, b'a', b'b']
        );
    }

    #[test]
    fn connect_v5_carries_receive_and_alias_maximum() {
        let mut out = Vec::new();
        let props = ConnectProps {
            receive_max: Some(100),
            topic_alias_max: 0x0102,
            persistent: false,
        };
        connect(&mut out, b"ab", 60, Version::V5, props);
        #[rustfmt::skip]
        let want = [
            0x10, 21, 0, 4, b'M', b'Q', b'T', b'T', 5, 0x02, 0, 60,
            6, 0x21, 0, 100, 0x22, 1, 2,
            0, 2, b'a', b'b',
        ];
        assert_eq!(out, want);
        out.clear();
        connect(&mut out, b"", 0, Version::V5, ConnectProps::default());
        assert_eq!(
            out,
            [0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 5, 2, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn persistent_connects_keep_a_session() {
        let props = ConnectProps {
            persistent: true,
            ..ConnectProps::default()
        };
        let mut out = Vec::new();
        connect(&mut out, b"ab", 60, Version::V311, props);
        assert_eq!(out[9], 0x00, "3.1.1: clean session 0");
        out.clear();
        connect(&mut out, b"ab", 60, Version::V5, props);
        #[rustfmt::skip]
        let want = [
            0x10, 20, 0, 4, b'M', b'Q', b'T', b'T', 5, 0x02, 0, 60,
            5, 0x11, 0xff, 0xff, 0xff, 0xff,
            0, 2, b'a', b'b',
        ];
        assert_eq!(out, want, "5.0: clean start, session expiry never");
    }

    #[test]
    fn subscribe_has_reserved_flags_0010() {
        // [MQTT-3.8.1-1] the SUBSCRIBE fixed header flags are 0,0,1,0.
        let mut out = Vec::new();
        subscribe(&mut out, 7, b"a/+", 1, Version::V311);
        assert_eq!(out, [0x82, 8, 0, 7, 0, 3, b'a', b'/', b'+', 1]);
        out.clear();
        subscribe(&mut out, 7, b"a/+", 2, Version::V5);
        assert_eq!(out, [0x82, 9, 0, 7, 0, 0, 3, b'a', b'/', b'+', 2]);
    }

    #[test]
    fn publish_len_matches_the_encoder() {
        let stamp = Stamp {
            publisher: 0,
            seq: 0,
            nanos: 0,
        };
        for version in [Version::V311, Version::V5] {
            for (qos, size) in [(0u8, 16usize), (1, 100), (2, 200), (0, 20_000)] {
                let mut out = Vec::new();
                publish(&mut out, b"t/1", qos, 9, stamp, size, version);
                assert_eq!(out.len(), publish_len(3, qos, size, version));
            }
        }
    }

    #[test]
    fn remaining_length_uses_continuation_bytes() {
        let mut out = Vec::new();
        let stamp = Stamp {
            publisher: 0,
            seq: 0,
            nanos: 0,
        };
        publish(&mut out, b"t", 0, 0, stamp, 200, Version::V311);
        assert_eq!(&out[..3], &[0x30, 0xCB, 0x01]); // 203 = 75 + 1 * 128
        assert_eq!(out.len(), 206);
    }

    #[test]
    fn short_payloads_have_no_stamp() {
        assert_eq!(read_stamp(&[0; 15]), None);
    }
}
