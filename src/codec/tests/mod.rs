//! Codec tests: exact-byte fixtures for every packet of every version,
//! framing split at every offset, one test per malformed case, zero-copy,
//! a fixed-seed mutation fuzzer and random encode/decode round trips.
//!
//! This module holds the kit (decode, encode, framing and error checks)
//! and the fixtures other test files share; the tests are in one file per
//! packet family.

use bytes::{Bytes, BytesMut};

use super::properties::{Properties, PublishProperties};
use super::types::*;
use super::{check, decode, encode, encode_publish_header, publish_header_len};
use super::{Check, DecodeError, PublishHeader};
use crate::testutil::Rng;

use Protocol::{V31, V311, V5};

pub(super) fn s(text: &str) -> ByteStr {
    ByteStr::from(text)
}

pub(super) fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Decodes `wire`; a PUBLISH frame also through the broker's fast path,
/// which must give the same packet or the same error, so every fixture
/// and mutant here checks it too.
pub(super) fn dec(wire: &[u8], protocol: Protocol) -> Result<Packet, DecodeError> {
    let decoded = decode(Bytes::copy_from_slice(wire), protocol);
    if super::is_publish(wire) {
        let fast = super::decode_publish_frame(Bytes::copy_from_slice(wire), protocol);
        assert_eq!(fast.map(Packet::Publish), decoded, "{wire:02x?}");
    }
    decoded
}

pub(super) fn enc(packet: &Packet, protocol: Protocol) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode(packet, protocol, &mut out);
    out.to_vec()
}

/// The fixed header length of a whole packet.
fn header_len(wire: &[u8]) -> usize {
    let mut i = 1;
    while wire[i] & 0x80 != 0 {
        i += 1;
    }
    i + 1
}

/// `check` on every prefix says Incomplete (with the right total once the
/// fixed header is in), and Ready on the whole packet, alone or followed by
/// the next one.
pub(super) fn assert_framing(wire: &[u8]) {
    let len = wire.len();
    let header = header_len(wire);
    for k in 0..len {
        let expected = if k >= header { Some(len) } else { None };
        assert_eq!(
            check(&wire[..k], usize::MAX),
            Ok(Check::Incomplete { total: expected }),
            "prefix of {k} bytes of {wire:02x?}"
        );
    }
    assert_eq!(check(wire, len), Ok(Check::Ready { total: len }));
    let mut two = wire.to_vec();
    two.extend_from_slice(&[0xC0, 0x00, 0x30]);
    assert_eq!(check(&two, len), Ok(Check::Ready { total: len }));
}

/// A canonical fixture: decodes to `expected`, encodes back to the same
/// bytes, and frames at every split.
pub(super) fn fixture(wire: &[u8], protocol: Protocol, expected: Packet) {
    assert_eq!(
        dec(wire, protocol),
        Ok(expected.clone()),
        "decode {wire:02x?}"
    );
    assert_eq!(enc(&expected, protocol), wire, "encode {expected:?}");
    assert_framing(wire);
}

/// A valid but non-canonical form: decodes to `expected`, and the canonical
/// encoding of that decodes to it too.
pub(super) fn decodes_to(wire: &[u8], protocol: Protocol, expected: Packet) {
    assert_eq!(
        dec(wire, protocol),
        Ok(expected.clone()),
        "decode {wire:02x?}"
    );
    let again = enc(&expected, protocol);
    assert_eq!(dec(&again, protocol), Ok(expected));
    assert_framing(wire);
}

pub(super) fn err(wire: &[u8], protocol: Protocol) -> DecodeError {
    // The bytes frame as one whole packet, so the decoder itself refuses
    // them (unless the fixed header alone is already invalid).
    match check(wire, usize::MAX) {
        Ok(Check::Ready { total }) => assert_eq!(total, wire.len(), "{wire:02x?}"),
        Err(_) => {}
        Ok(other) => panic!("{wire:02x?} does not frame: {other:?}"),
    }
    match dec(wire, protocol) {
        Ok(p) => panic!("{wire:02x?} decoded to {p:?}"),
        Err(e) => e,
    }
}

pub(super) fn malformed(wire: &[u8], protocol: Protocol) {
    let e = err(wire, protocol);
    assert!(matches!(e, DecodeError::Malformed(_)), "{wire:02x?}: {e:?}");
    assert_eq!(e.reason_code(), reason::MALFORMED_PACKET);
}

pub(super) fn protocol_error(wire: &[u8], protocol: Protocol) {
    let e = err(wire, protocol);
    assert!(matches!(e, DecodeError::Protocol(_)), "{wire:02x?}: {e:?}");
    assert_eq!(e.reason_code(), reason::PROTOCOL_ERROR);
}

pub(super) fn publish(qos: QoS, topic: &str, packet_id: u16, payload: &'static [u8]) -> Publish {
    Publish {
        dup: false,
        qos,
        retain: false,
        topic: s(topic),
        packet_id,
        properties: PublishProperties::default(),
        payload: Bytes::from_static(payload),
    }
}

mod acks;
mod connect;
mod control;
mod fuzz;
mod publish;
mod subscribe;

// Fixtures shared by the files here, the v5 test files and the fuzz
// seeds.

fn connect_31_wire() -> Vec<u8> {
    cat(&[
        b"\x10\x1c",
        b"\x00\x06MQIsdp\x03",
        b"\xc2\x00\x3c",
        b"\x00\x08midge-31",
        b"\x00\x01u\x00\x01p",
    ])
}

fn connect_311_wire() -> Vec<u8> {
    cat(&[
        b"\x10\x1d",
        b"\x00\x04MQTT\x04",
        b"\xae\x00\x0a",
        b"\x00\x01c",
        b"\x00\x03w/t\x00\x03bye",
        b"\x00\x04user",
    ])
}

pub(super) fn connect_5_wire() -> Vec<u8> {
    cat(&[
        b"\x10\x54",
        b"\x00\x04MQTT\x05",
        b"\xc6\x00\x1e",
        // Properties: session expiry 3600, request problem information 1,
        // receive maximum 20, topic alias maximum 10, maximum packet size
        // 65536, user property k=v.
        b"\x19",
        b"\x11\x00\x00\x0e\x10",
        b"\x17\x01",
        b"\x21\x00\x14",
        b"\x22\x00\x0a",
        b"\x27\x00\x01\x00\x00",
        b"\x26\x00\x01k\x00\x01v",
        b"\x00\x02v5",
        // Will properties: message expiry 60, will delay 5, payload format
        // 1, content type text/plain.
        b"\x19",
        b"\x02\x00\x00\x00\x3c",
        b"\x18\x00\x00\x00\x05",
        b"\x01\x01",
        b"\x03\x00\x0atext/plain",
        b"\x00\x03w/5\x00\x02hi",
        b"\x00\x02me",
        b"\x00\x03\x01\x02\x03",
    ])
}

pub(super) fn connect_5_packet() -> Packet {
    Packet::Connect(Box::new(Connect {
        protocol: V5,
        clean_start: true,
        keep_alive: 30,
        client_id: s("v5"),
        will: Some(Will {
            topic: s("w/5"),
            payload: Bytes::from_static(b"hi"),
            qos: QoS::AtMostOnce,
            retain: false,
            delay_interval: 5,
            properties: PublishProperties {
                message_expiry: Some(60),
                passthrough: Bytes::from_static(b"\x01\x01\x03\x00\x0atext/plain"),
                ..PublishProperties::default()
            },
        }),
        username: Some(s("me")),
        password: Some(Bytes::from_static(b"\x01\x02\x03")),
        bridge: false,
        properties: Properties {
            session_expiry: Some(3600),
            request_problem_information: Some(1),
            receive_maximum: Some(20),
            topic_alias_maximum: Some(10),
            maximum_packet_size: Some(65536),
            user: vec![(s("k"), s("v"))],
            ..Properties::default()
        },
    }))
}

const PASSTHROUGH: &[u8] =
    b"\x01\x01\x03\x00\x04text\x08\x00\x03r/t\x09\x00\x02\xab\xcd\x26\x00\x01k\x00\x01v";

pub(super) fn publish_5_wire() -> Vec<u8> {
    cat(&[
        b"\x32\x2f\x00\x03a/b\x00\x07",
        b"\x25",
        b"\x02\x00\x00\x0e\x10",
        b"\x23\x00\x05",
        b"\x0b\x07",
        PASSTHROUGH,
        b"hi",
    ])
}

pub(super) fn publish_5_packet() -> Publish {
    Publish {
        properties: PublishProperties {
            message_expiry: Some(3600),
            topic_alias: Some(5),
            subscription_ids: vec![7],
            passthrough: Bytes::from_static(PASSTHROUGH),
        },
        ..publish(QoS::AtLeastOnce, "a/b", 7, b"hi")
    }
}

pub(crate) fn all_fixtures() -> Vec<(Vec<u8>, Protocol)> {
    vec![
        (connect_31_wire(), V31),
        (connect_311_wire(), V311),
        (connect_5_wire(), V5),
        (publish_5_wire(), V5),
        (b"\x20\x02\x01\x00".to_vec(), V311),
        (b"\x30\x0a\x00\x03a/bhello".to_vec(), V311),
        (b"\x3c\x07\x00\x03a/b\x12\x34".to_vec(), V311),
        (b"\x30\x07\x00\x00\x03\x23\x00\x01x".to_vec(), V5),
        (b"\x62\x0b\x00\x01\x92\x07\x1f\x00\x04gone".to_vec(), V5),
        (
            b"\x82\x0e\x00\x0a\x00\x03a/b\x01\x00\x03c/#\x02".to_vec(),
            V311,
        ),
        (b"\x90\x0a\x00\x0a\x05\x1f\x00\x02ok\x01\xa2".to_vec(), V5),
        (b"\xa2\x0b\x00\x0b\x00\x00\x03a/b\x00\x01c".to_vec(), V5),
        (b"\xb0\x05\x00\x0b\x00\x00\x11".to_vec(), V5),
        (
            b"\xe0\x0d\x04\x0b\x11\x00\x00\x00\x00\x1f\x00\x03bye".to_vec(),
            V5,
        ),
        (
            b"\xf0\x10\x18\x0e\x15\x00\x05SCRAM\x16\x00\x03\x01\x02\x03".to_vec(),
            V5,
        ),
        (
            cat(&[
                b"\x20\x16\x00\x00\x13\x13\x00\x3c\x12\x00\x04auto\x25\x00",
                b"\x21\x00\x0a\x24\x01\x2a\x00",
            ]),
            V5,
        ),
        (
            cat(&[
                b"\x82\x17\x00\x0a\x0a\x0b\x80\x01\x26\x00\x01k\x00\x01v",
                b"\x00\x03a/+\x2d\x00\x01b\x00",
            ]),
            V5,
        ),
    ]
}

/// Re-encoding what decoded and decoding that again gives the same packet.
pub(super) fn assert_stable(packet: &Packet, protocol: Protocol) {
    let wire = enc(packet, protocol);
    assert_eq!(
        check(&wire, usize::MAX),
        Ok(Check::Ready { total: wire.len() })
    );
    assert_eq!(dec(&wire, protocol).as_ref(), Ok(packet), "{wire:02x?}");
}

/// The MQTT 5 reason codes each packet type allows, from the tables of
/// sections 3.2.2.2, 3.4.2.1 to 3.7.2.1, 3.9.3, 3.11.3, 3.14.2.1 and
/// 3.15.2.1 (DISCONNECT also takes 0x8C, listed for it in section 2.4).
pub(super) fn reasons(kind: &str) -> &'static [u8] {
    match kind {
        "CONNACK" => &[
            0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90,
            0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
        ],
        "PUBACK" | "PUBREC" => &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99],
        "PUBREL" | "PUBCOMP" => &[0x00, 0x92],
        "SUBACK" => &[
            0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
        ],
        "UNSUBACK" => &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91],
        "DISCONNECT" => &[
            0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8C, 0x8D, 0x8E, 0x8F, 0x90,
            0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0,
            0xA1, 0xA2,
        ],
        "AUTH" => &[0x00, 0x18, 0x19],
        _ => &[],
    }
}
