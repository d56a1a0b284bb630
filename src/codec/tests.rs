//! Codec tests: exact-byte fixtures for every packet of every version,
//! framing split at every offset, one test per malformed case, zero-copy,
//! a fixed-seed mutation fuzzer and random encode/decode round trips.

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

// ---------------------------------------------------------------- CONNECT

fn connect_31_wire() -> Vec<u8> {
    cat(&[
        b"\x10\x1c",
        b"\x00\x06MQIsdp\x03",
        b"\xc2\x00\x3c",
        b"\x00\x08midge-31",
        b"\x00\x01u\x00\x01p",
    ])
}

#[test]
fn connect_31_mqisdp() {
    fixture(
        &connect_31_wire(),
        V31,
        Packet::Connect(Box::new(Connect {
            protocol: V31,
            clean_start: true,
            keep_alive: 60,
            client_id: s("midge-31"),
            will: None,
            username: Some(s("u")),
            password: Some(Bytes::from_static(b"p")),
            bridge: false,
            properties: Properties::default(),
        })),
    );
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

#[test]
fn connect_311_with_will() {
    fixture(
        &connect_311_wire(),
        V311,
        Packet::Connect(Box::new(Connect {
            protocol: V311,
            clean_start: true,
            keep_alive: 10,
            client_id: s("c"),
            will: Some(Will {
                topic: s("w/t"),
                payload: Bytes::from_static(b"bye"),
                qos: QoS::AtLeastOnce,
                retain: true,
                delay_interval: 0,
                properties: PublishProperties::default(),
            }),
            username: Some(s("user")),
            password: None,
            bridge: false,
            properties: Properties::default(),
        })),
    );
}

#[test]
fn connect_decoded_whatever_the_guessed_protocol() {
    // The broker guesses before CONNECT; the packet names its own protocol.
    for guess in [V31, V311, V5] {
        let Ok(Packet::Connect(c)) = dec(&connect_311_wire(), guess) else {
            panic!("CONNECT did not decode under {guess}");
        };
        assert_eq!(c.protocol, V311);
    }
}

#[test]
fn connect_311_empty_client_id_is_left_to_the_broker() {
    fixture(
        b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00",
        V311,
        Packet::Connect(Box::new(Connect {
            protocol: V311,
            clean_start: true,
            keep_alive: 60,
            client_id: s(""),
            will: None,
            username: None,
            password: None,
            bridge: false,
            properties: Properties::default(),
        })),
    );
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

#[test]
fn connect_5_with_properties_and_will_properties() {
    fixture(&connect_5_wire(), V5, connect_5_packet());
}

#[test]
fn connect_5_allows_password_without_user_name() {
    let wire = b"\x10\x13\x00\x04MQTT\x05\x42\x00\x00\x00\x00\x01c\x00\x03pw!";
    let Ok(Packet::Connect(c)) = dec(wire, V5) else {
        panic!("not a CONNECT");
    };
    assert_eq!(c.username, None);
    assert_eq!(c.password, Some(Bytes::from_static(b"pw!")));
    assert_eq!(enc(&Packet::Connect(c), V5), wire);
}

#[test]
fn connect_unknown_protocol_name() {
    let wire = b"\x10\x0c\x00\x04MQTX\x04\x02\x00\x3c\x00\x00";
    assert_eq!(
        err(wire, V311),
        DecodeError::UnsupportedProtocol {
            name: Bytes::from_static(b"MQTX"),
            level: 4
        }
    );
}

#[test]
fn connect_unknown_protocol_level_6() {
    // [MQTT-3.1.2-2]: answer CONNACK 0x84 / 0x01.
    let wire = b"\x10\x0c\x00\x04MQTT\x06\x02\x00\x3c\x00\x00";
    let e = err(wire, V311);
    assert_eq!(
        e,
        DecodeError::UnsupportedProtocol {
            name: Bytes::from_static(b"MQTT"),
            level: 6
        }
    );
    assert_eq!(e.reason_code(), reason::UNSUPPORTED_PROTOCOL_VERSION);
    // MQIsdp is only level 3.
    let wire = b"\x10\x0e\x00\x06MQIsdp\x04\x02\x00\x3c\x00\x00";
    assert!(matches!(
        err(wire, V31),
        DecodeError::UnsupportedProtocol { level: 4, .. }
    ));
}

#[test]
fn the_bridge_bit_of_a_3x_protocol_level_marks_a_bridge() {
    // Mosquitto's `try_private`: level 0x84 (3.1.1) or 0x83 (3.1).
    for (wire, protocol) in [
        (&b"\x10\x0c\x00\x04MQTT\x84\x02\x00\x3c\x00\x00"[..], V311),
        (&b"\x10\x0e\x00\x06MQIsdp\x83\x02\x00\x3c\x00\x00"[..], V31),
    ] {
        let Ok(Packet::Connect(c)) = dec(wire, protocol) else {
            panic!("not a CONNECT");
        };
        assert!(c.bridge, "{protocol}");
        assert_eq!(c.protocol, protocol);
        assert_eq!(
            enc(&Packet::Connect(c), protocol),
            wire,
            "encoded back with the bit"
        );
    }
    // Not for MQTT 5 (its bridges use No Local) nor any other level.
    for wire in [
        &b"\x10\x0d\x00\x04MQTT\x85\x02\x00\x3c\x00\x00\x00"[..],
        &b"\x10\x0c\x00\x04MQTT\x86\x02\x00\x3c\x00\x00"[..],
    ] {
        assert!(matches!(
            err(wire, V311),
            DecodeError::UnsupportedProtocol { .. }
        ));
    }
}

#[test]
fn connect_reserved_flag_is_malformed_mqtt_3_1_2_3() {
    malformed(b"\x10\x0c\x00\x04MQTT\x04\x03\x00\x3c\x00\x00", V311);
    malformed(b"\x10\x0d\x00\x04MQTT\x05\x03\x00\x3c\x00\x00\x00", V5);
}

#[test]
fn connect_fixed_header_flags_must_be_zero() {
    malformed(b"\x11\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00", V311);
}

#[test]
fn connect_will_qos_without_will_is_malformed_mqtt_3_1_2_11() {
    malformed(b"\x10\x0c\x00\x04MQTT\x04\x0a\x00\x3c\x00\x00", V311);
}

#[test]
fn connect_will_retain_without_will_is_malformed_mqtt_3_1_2_13() {
    malformed(b"\x10\x0c\x00\x04MQTT\x04\x22\x00\x3c\x00\x00", V311);
}

#[test]
fn connect_will_qos_3_is_malformed_mqtt_3_1_2_12() {
    let wire = b"\x10\x12\x00\x04MQTT\x04\x1e\x00\x3c\x00\x00\x00\x01t\x00\x01p";
    malformed(wire, V311);
}

#[test]
fn connect_311_password_without_user_name_is_malformed_mqtt_3_1_2_22() {
    malformed(
        b"\x10\x11\x00\x04MQTT\x04\x42\x00\x00\x00\x01c\x00\x02pw",
        V311,
    );
}

#[test]
fn connect_truncated_client_id_is_malformed() {
    malformed(b"\x10\x0e\x00\x04MQTT\x04\x02\x00\x3c\x00\x09ab", V311);
}

#[test]
fn connect_missing_username_is_malformed() {
    malformed(b"\x10\x0d\x00\x04MQTT\x04\x82\x00\x3c\x00\x01c", V311);
}

#[test]
fn connect_trailing_bytes_are_malformed() {
    malformed(b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x00\x00", V311);
}

#[test]
fn connect_will_topic_alias_is_malformed() {
    // Topic Alias is a PUBLISH property, not a will property: an
    // identifier not valid for its packet type is malformed (2.2.2.2).
    let wire = cat(&[
        b"\x10\x17\x00\x04MQTT\x05\x06\x00\x00\x00\x00\x01c",
        b"\x03\x23\x00\x01",
        b"\x00\x01t\x00\x00",
    ]);
    malformed(&wire, V5);
}

#[test]
fn connect_will_delay_as_a_connect_property_is_malformed() {
    let wire = b"\x10\x13\x00\x04MQTT\x05\x02\x00\x00\x05\x18\x00\x00\x00\x01\x00\x01c";
    malformed(wire, V5);
}

#[test]
fn connect_authentication_data_without_method_is_a_protocol_error() {
    let wire = b"\x10\x11\x00\x04MQTT\x05\x02\x00\x00\x03\x16\x00\x00\x00\x01c";
    protocol_error(wire, V5);
}

#[test]
fn connect_request_problem_information_2_is_a_protocol_error() {
    let wire = b"\x10\x10\x00\x04MQTT\x05\x02\x00\x00\x02\x17\x02\x00\x01c";
    protocol_error(wire, V5);
}

// ---------------------------------------------------------------- CONNACK

#[test]
fn connack_311() {
    fixture(
        b"\x20\x02\x01\x00",
        V311,
        Packet::ConnAck(ConnAck {
            session_present: true,
            code: connack::ACCEPTED,
            properties: Properties::default(),
        }),
    );
    fixture(
        b"\x20\x02\x00\x05",
        V311,
        Packet::ConnAck(ConnAck {
            session_present: false,
            code: connack::NOT_AUTHORIZED,
            properties: Properties::default(),
        }),
    );
}

#[test]
fn connack_31_has_no_session_present() {
    let ack = ConnAck {
        session_present: true,
        code: connack::IDENTIFIER_REJECTED,
        properties: Properties::default(),
    };
    assert_eq!(enc(&Packet::ConnAck(ack), V31), b"\x20\x02\x00\x02");
    fixture(
        b"\x20\x02\x00\x02",
        V31,
        Packet::ConnAck(ConnAck {
            code: connack::IDENTIFIER_REJECTED,
            ..ConnAck::default()
        }),
    );
}

#[test]
fn connack_reserved_flags_are_malformed() {
    malformed(b"\x20\x02\x02\x00", V311);
}

#[test]
fn connack_5_with_properties() {
    // In the order Mosquitto writes them (see tests_v5_connack.rs).
    let wire = cat(&[
        b"\x20\x16\x00\x00\x13",
        b"\x13\x00\x3c",
        b"\x12\x00\x04auto",
        b"\x25\x00",
        b"\x21\x00\x0a",
        b"\x24\x01",
        b"\x2a\x00",
    ]);
    fixture(
        &wire,
        V5,
        Packet::ConnAck(ConnAck {
            session_present: false,
            code: reason::SUCCESS,
            properties: Properties {
                assigned_client_identifier: Some(s("auto")),
                server_keep_alive: Some(60),
                receive_maximum: Some(10),
                maximum_qos: Some(1),
                retain_available: Some(0),
                shared_subscription_available: Some(0),
                ..Properties::default()
            },
        }),
    );
}

// ---------------------------------------------------------------- PUBLISH

#[test]
fn publish_311_qos0() {
    fixture(
        b"\x30\x0a\x00\x03a/bhello",
        V311,
        Packet::Publish(publish(QoS::AtMostOnce, "a/b", 0, b"hello")),
    );
}

#[test]
fn publish_311_qos1_retain() {
    fixture(
        b"\x33\x0c\x00\x03a/b\x00\x0ahello",
        V311,
        Packet::Publish(Publish {
            retain: true,
            ..publish(QoS::AtLeastOnce, "a/b", 10, b"hello")
        }),
    );
}

#[test]
fn publish_311_qos2_dup_empty_payload() {
    fixture(
        b"\x3c\x07\x00\x03a/b\x12\x34",
        V311,
        Packet::Publish(Publish {
            dup: true,
            ..publish(QoS::ExactlyOnce, "a/b", 0x1234, b"")
        }),
    );
}

#[test]
fn publish_31_qos1() {
    fixture(
        b"\x32\x08\x00\x01t\x00\x01abc",
        V31,
        Packet::Publish(publish(QoS::AtLeastOnce, "t", 1, b"abc")),
    );
}

#[test]
fn publish_5_qos0_without_properties() {
    fixture(
        b"\x30\x0b\x00\x03a/b\x00hello",
        V5,
        Packet::Publish(publish(QoS::AtMostOnce, "a/b", 0, b"hello")),
    );
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

#[test]
fn publish_5_qos1_with_properties() {
    fixture(&publish_5_wire(), V5, Packet::Publish(publish_5_packet()));
}

#[test]
fn publish_5_qos2_with_two_subscription_ids() {
    let wire = b"\x34\x0c\x00\x01t\x00\x02\x05\x0b\x01\x0b\x80\x01x";
    fixture(
        wire,
        V5,
        Packet::Publish(Publish {
            properties: PublishProperties {
                subscription_ids: vec![1, 128],
                ..PublishProperties::default()
            },
            ..publish(QoS::ExactlyOnce, "t", 2, b"x")
        }),
    );
}

#[test]
fn publish_5_empty_topic_with_alias() {
    fixture(
        b"\x30\x07\x00\x00\x03\x23\x00\x01x",
        V5,
        Packet::Publish(Publish {
            properties: PublishProperties {
                topic_alias: Some(1),
                ..PublishProperties::default()
            },
            ..publish(QoS::AtMostOnce, "", 0, b"x")
        }),
    );
}

#[test]
fn publish_5_interleaved_passthrough_is_gathered_in_order() {
    // Payload format, message expiry, user property: the passthrough
    // properties are not contiguous, so they are copied together.
    let wire = cat(&[
        b"\x30\x14\x00\x01t",
        b"\x0e",
        b"\x01\x01",
        b"\x02\x00\x00\x00\x0a",
        b"\x26\x00\x01k\x00\x01v",
        b"pl",
    ]);
    decodes_to(
        &wire,
        V5,
        Packet::Publish(Publish {
            properties: PublishProperties {
                message_expiry: Some(10),
                passthrough: Bytes::from_static(b"\x01\x01\x26\x00\x01k\x00\x01v"),
                ..PublishProperties::default()
            },
            ..publish(QoS::AtMostOnce, "t", 0, b"pl")
        }),
    );
}

#[test]
fn publish_zero_copy_topic_payload_and_passthrough() {
    let frame = Bytes::from(publish_5_wire());
    let range = frame.as_ptr_range();
    let Ok(Packet::Publish(p)) = decode(frame.clone(), V5) else {
        panic!("not a PUBLISH");
    };
    for part in [p.topic.as_bytes(), &p.payload, &p.properties.passthrough] {
        let r = part.as_ptr_range();
        assert!(range.start <= r.start && r.end <= range.end);
    }
    assert_eq!(p.payload.as_ptr(), frame[frame.len() - 2..].as_ptr());
}

#[test]
fn publish_qos3_is_malformed_mqtt_3_3_1_4() {
    malformed(b"\x36\x07\x00\x01t\x00\x01ab", V311);
    malformed(b"\x36\x07\x00\x01t\x00\x01ab", V31);
}

#[test]
fn publish_dup_on_qos0_is_malformed_mqtt_3_3_1_2() {
    malformed(b"\x38\x05\x00\x01tab", V311);
    malformed(b"\x38\x06\x00\x01t\x00ab", V5);
    // 3.1 predates the rule.
    assert!(dec(b"\x38\x05\x00\x01tab", V31).is_ok());
}

#[test]
fn publish_zero_packet_id_is_a_protocol_error_mqtt_2_3_1_1() {
    protocol_error(b"\x32\x05\x00\x01t\x00\x00", V311);
    protocol_error(b"\x34\x06\x00\x01t\x00\x00\x00", V5);
}

#[test]
fn publish_invalid_utf8_topic_is_malformed_mqtt_1_5_4_1() {
    malformed(b"\x30\x06\x00\x03a\xffbx", V311);
    // A UTF-16 surrogate encoded in UTF-8 is not valid either.
    malformed(b"\x30\x06\x00\x03\xed\xa0\x80x", V311);
}

#[test]
fn publish_nul_in_topic_is_malformed_mqtt_1_5_4_2() {
    malformed(b"\x30\x06\x00\x03a\x00bx", V311);
}

#[test]
fn publish_truncated_topic_is_malformed() {
    malformed(b"\x30\x04\x00\x05ab", V311);
    malformed(b"\x32\x04\x00\x01t\x00", V311);
}

#[test]
fn publish_subscription_id_zero_is_a_protocol_error() {
    protocol_error(b"\x30\x06\x00\x00\x02\x0b\x00x", V5);
}

#[test]
fn publish_duplicate_property_is_a_protocol_error() {
    protocol_error(
        b"\x30\x0e\x00\x01t\x0a\x02\x00\x00\x00\x01\x02\x00\x00\x00\x02",
        V5,
    );
    protocol_error(b"\x30\x08\x00\x01t\x04\x01\x00\x01\x01", V5);
}

#[test]
fn publish_repeated_user_property_is_allowed() {
    let wire = b"\x30\x12\x00\x01t\x0e\x26\x00\x01a\x00\x01b\x26\x00\x01a\x00\x01c";
    let Ok(Packet::Publish(p)) = dec(wire, V5) else {
        panic!("not a PUBLISH");
    };
    assert_eq!(&p.properties.passthrough[..], &wire[6..]);
}

#[test]
fn publish_property_not_allowed_is_malformed() {
    // Session Expiry Interval does not belong in PUBLISH.
    malformed(b"\x30\x09\x00\x01t\x05\x11\x00\x00\x00\x01", V5);
    // Nor the Will Delay Interval.
    malformed(b"\x30\x09\x00\x01t\x05\x18\x00\x00\x00\x01", V5);
}

#[test]
fn publish_unknown_property_is_malformed() {
    malformed(b"\x30\x06\x00\x01t\x02\x05\x00", V5);
}

#[test]
fn publish_property_length_past_the_end_is_malformed() {
    malformed(b"\x30\x06\x00\x01t\x09\x01\x01", V5);
}

#[test]
fn publish_property_value_past_the_block_is_malformed() {
    // The block is 2 bytes, the message expiry needs 5.
    malformed(b"\x30\x09\x00\x01t\x02\x02\x00\x00\x00\x01", V5);
}

#[test]
fn publish_invalid_utf8_in_content_type_is_malformed() {
    malformed(b"\x30\x08\x00\x01t\x04\x03\x00\x01\xc0", V5);
}

#[test]
fn publish_payload_format_2_is_a_protocol_error() {
    protocol_error(b"\x30\x06\x00\x01t\x02\x01\x02", V5);
}

// ------------------------------------------------------------------- Acks

#[test]
fn acks_311() {
    fixture(b"\x40\x02\x00\x01", V311, Packet::PubAck(Ack::new(1)));
    fixture(b"\x50\x02\x00\x02", V311, Packet::PubRec(Ack::new(2)));
    fixture(b"\x62\x02\x00\x03", V311, Packet::PubRel(Ack::new(3)));
    fixture(b"\x70\x02\xff\xff", V311, Packet::PubComp(Ack::new(0xFFFF)));
}

#[test]
fn acks_3x_drop_reason_and_properties() {
    let ack = Ack {
        packet_id: 9,
        reason: reason::NO_MATCHING_SUBSCRIBERS,
        properties: Properties {
            reason_string: Some(s("x")),
            ..Properties::default()
        },
    };
    assert_eq!(enc(&Packet::PubAck(ack), V311), b"\x40\x02\x00\x09");
}

#[test]
fn pubrel_31_with_qos1_flags_is_accepted() {
    // 3.1 sends PUBREL with QoS 1 and may set DUP on a retry.
    assert_eq!(
        dec(b"\x6a\x02\x00\x03", V31),
        Ok(Packet::PubRel(Ack::new(3)))
    );
}

#[test]
fn acks_5_short_reason_and_property_forms() {
    fixture(b"\x40\x02\x00\x01", V5, Packet::PubAck(Ack::new(1)));
    fixture(
        b"\x50\x03\x00\x01\x10",
        V5,
        Packet::PubRec(Ack {
            packet_id: 1,
            reason: reason::NO_MATCHING_SUBSCRIBERS,
            properties: Properties::default(),
        }),
    );
    fixture(
        b"\x62\x0b\x00\x01\x92\x07\x1f\x00\x04gone",
        V5,
        Packet::PubRel(Ack {
            packet_id: 1,
            reason: reason::PACKET_IDENTIFIER_NOT_FOUND,
            properties: Properties {
                reason_string: Some(s("gone")),
                ..Properties::default()
            },
        }),
    );
    fixture(
        b"\x70\x0b\x00\x01\x00\x07\x26\x00\x01k\x00\x01v",
        V5,
        Packet::PubComp(Ack {
            packet_id: 1,
            reason: 0,
            properties: Properties {
                user: vec![(s("k"), s("v"))],
                ..Properties::default()
            },
        }),
    );
}

#[test]
fn acks_5_explicit_success_decodes_to_the_short_form() {
    decodes_to(b"\x40\x03\x00\x01\x00", V5, Packet::PubAck(Ack::new(1)));
    decodes_to(b"\x40\x04\x00\x01\x00\x00", V5, Packet::PubAck(Ack::new(1)));
}

#[test]
fn ack_zero_packet_id_is_a_protocol_error() {
    protocol_error(b"\x40\x02\x00\x00", V311);
}

#[test]
fn ack_bad_reserved_flags_are_malformed_mqtt_2_2_2_2() {
    malformed(b"\x41\x02\x00\x01", V311);
    malformed(b"\x60\x02\x00\x01", V311);
    malformed(b"\x63\x02\x00\x01", V5);
}

#[test]
fn ack_truncated_is_malformed() {
    malformed(b"\x40\x01\x00", V311);
}

#[test]
fn ack_311_trailing_bytes_are_malformed() {
    malformed(b"\x40\x03\x00\x01\x00", V311);
}

#[test]
fn ack_5_property_not_allowed_is_malformed() {
    malformed(b"\x40\x09\x00\x01\x00\x05\x11\x00\x00\x00\x01", V5);
}

#[test]
fn ack_5_property_length_past_the_end_is_malformed() {
    malformed(b"\x40\x05\x00\x01\x00\x09\x1f", V5);
}

#[test]
fn ack_5_duplicate_reason_string_is_a_protocol_error() {
    protocol_error(b"\x40\x0c\x00\x01\x00\x08\x1f\x00\x01a\x1f\x00\x01b", V5);
}

// ---------------------------------------------------- SUBSCRIBE / SUBACK

#[test]
fn subscribe_311() {
    fixture(
        b"\x82\x0e\x00\x0a\x00\x03a/b\x01\x00\x03c/#\x02",
        V311,
        Packet::Subscribe(Subscribe {
            packet_id: 10,
            filters: vec![
                (
                    s("a/b"),
                    SubOptions {
                        qos: QoS::AtLeastOnce,
                        ..SubOptions::default()
                    },
                ),
                (
                    s("c/#"),
                    SubOptions {
                        qos: QoS::ExactlyOnce,
                        ..SubOptions::default()
                    },
                ),
            ],
            properties: Properties::default(),
        }),
    );
}

#[test]
fn subscribe_5_with_options_and_properties() {
    let wire = cat(&[
        b"\x82\x17\x00\x0a",
        b"\x0a\x0b\x80\x01\x26\x00\x01k\x00\x01v",
        b"\x00\x03a/+\x2d",
        b"\x00\x01b\x00",
    ]);
    fixture(
        &wire,
        V5,
        Packet::Subscribe(Subscribe {
            packet_id: 10,
            filters: vec![
                (
                    s("a/+"),
                    SubOptions {
                        qos: QoS::AtLeastOnce,
                        no_local: true,
                        retain_as_published: true,
                        retain_handling: 2,
                    },
                ),
                (s("b"), SubOptions::default()),
            ],
            properties: Properties {
                subscription_identifier: Some(128),
                user: vec![(s("k"), s("v"))],
                ..Properties::default()
            },
        }),
    );
}

#[test]
fn subscribe_31_with_qos1_flags_is_accepted() {
    assert!(matches!(
        dec(b"\x8a\x06\x00\x01\x00\x01t\x00", V31),
        Ok(Packet::Subscribe(_))
    ));
}

#[test]
fn subscribe_bad_reserved_flags_are_malformed_mqtt_3_8_1_1() {
    malformed(b"\x80\x06\x00\x01\x00\x01t\x00", V311);
    malformed(b"\x83\x07\x00\x01\x00\x00\x01t\x00", V5);
}

#[test]
fn subscribe_without_filters_is_a_protocol_error_mqtt_3_8_3_3() {
    protocol_error(b"\x82\x02\x00\x01", V311);
    protocol_error(b"\x82\x03\x00\x01\x00", V5);
}

#[test]
fn subscribe_zero_packet_id_is_a_protocol_error() {
    protocol_error(b"\x82\x06\x00\x00\x00\x01t\x00", V311);
}

#[test]
fn subscribe_311_reserved_option_bits_are_malformed_mqtt_3_8_3_4() {
    malformed(b"\x82\x06\x00\x01\x00\x01t\x04", V311);
    malformed(b"\x82\x06\x00\x01\x00\x01t\x03", V311);
}

#[test]
fn subscribe_5_reserved_option_bits_are_malformed_mqtt_3_8_3_5() {
    malformed(b"\x82\x07\x00\x01\x00\x00\x01t\x40", V5);
    malformed(b"\x82\x07\x00\x01\x00\x00\x01t\x80", V5);
}

#[test]
fn subscribe_5_retain_handling_3_and_qos_3_are_protocol_errors() {
    protocol_error(b"\x82\x07\x00\x01\x00\x00\x01t\x30", V5);
    protocol_error(b"\x82\x07\x00\x01\x00\x00\x01t\x03", V5);
}

#[test]
fn subscribe_5_subscription_identifier_zero_is_a_protocol_error() {
    protocol_error(b"\x82\x09\x00\x01\x02\x0b\x00\x00\x01t\x00", V5);
}

#[test]
fn subscribe_5_two_subscription_identifiers_are_a_protocol_error() {
    protocol_error(b"\x82\x0b\x00\x01\x04\x0b\x01\x0b\x02\x00\x01t\x00", V5);
}

#[test]
fn subscribe_5_subscription_identifier_of_five_bytes_is_malformed() {
    malformed(
        b"\x82\x0d\x00\x01\x06\x0b\xff\xff\xff\xff\x01\x00\x01t\x00",
        V5,
    );
}

#[test]
fn subscribe_truncated_options_are_malformed() {
    malformed(b"\x82\x05\x00\x01\x00\x01t", V311);
}

#[test]
fn suback_311() {
    fixture(
        b"\x90\x05\x00\x0a\x00\x01\x80",
        V311,
        Packet::SubAck(SubAck {
            packet_id: 10,
            codes: vec![0, 1, 0x80],
            properties: Properties::default(),
        }),
    );
}

#[test]
fn suback_311_folds_5_reason_codes_into_0x80() {
    let ack = SubAck {
        packet_id: 3,
        codes: vec![reason::GRANTED_QOS_2, reason::NOT_AUTHORIZED, 0x80],
        properties: Properties::default(),
    };
    assert_eq!(
        enc(&Packet::SubAck(ack), V311),
        b"\x90\x05\x00\x03\x02\x80\x80"
    );
}

#[test]
fn suback_311_invalid_return_code_is_a_protocol_error_mqtt_3_9_3_2() {
    protocol_error(b"\x90\x03\x00\x01\x03", V311);
}

#[test]
fn suback_5_with_reason_string() {
    fixture(
        b"\x90\x0a\x00\x0a\x05\x1f\x00\x02ok\x01\xa2",
        V5,
        Packet::SubAck(SubAck {
            packet_id: 10,
            codes: vec![1, reason::WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED],
            properties: Properties {
                reason_string: Some(s("ok")),
                ..Properties::default()
            },
        }),
    );
}

// ------------------------------------------------ UNSUBSCRIBE / UNSUBACK

#[test]
fn unsubscribe_311() {
    fixture(
        b"\xa2\x0a\x00\x0b\x00\x03a/b\x00\x01c",
        V311,
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 11,
            filters: vec![s("a/b"), s("c")],
            properties: Properties::default(),
        }),
    );
}

#[test]
fn unsubscribe_5() {
    fixture(
        b"\xa2\x0b\x00\x0b\x00\x00\x03a/b\x00\x01c",
        V5,
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 11,
            filters: vec![s("a/b"), s("c")],
            properties: Properties::default(),
        }),
    );
}

#[test]
fn unsubscribe_without_filters_is_a_protocol_error_mqtt_3_10_3_2() {
    protocol_error(b"\xa2\x02\x00\x01", V311);
}

#[test]
fn unsubscribe_bad_reserved_flags_are_malformed_mqtt_3_10_1_1() {
    malformed(b"\xa0\x05\x00\x01\x00\x01t", V311);
}

#[test]
fn unsubscribe_5_subscription_identifier_is_malformed() {
    malformed(b"\xa2\x08\x00\x01\x02\x0b\x01\x00\x01t", V5);
}

#[test]
fn unsuback_311_and_5() {
    fixture(
        b"\xb0\x02\x00\x0b",
        V311,
        Packet::UnsubAck(UnsubAck {
            packet_id: 11,
            ..UnsubAck::default()
        }),
    );
    fixture(
        b"\xb0\x05\x00\x0b\x00\x00\x11",
        V5,
        Packet::UnsubAck(UnsubAck {
            packet_id: 11,
            codes: vec![reason::SUCCESS, reason::NO_SUBSCRIPTION_EXISTED],
            properties: Properties::default(),
        }),
    );
}

#[test]
fn unsuback_311_drops_codes() {
    let ack = UnsubAck {
        packet_id: 4,
        codes: vec![0x11],
        properties: Properties::default(),
    };
    assert_eq!(enc(&Packet::UnsubAck(ack), V311), b"\xb0\x02\x00\x04");
}

#[test]
fn unsuback_311_trailing_bytes_are_malformed() {
    malformed(b"\xb0\x03\x00\x0b\x00", V311);
}

// ------------------------------------------------ PING, DISCONNECT, AUTH

#[test]
fn pings() {
    for protocol in [V31, V311, V5] {
        fixture(b"\xc0\x00", protocol, Packet::PingReq);
        fixture(b"\xd0\x00", protocol, Packet::PingResp);
    }
}

#[test]
fn ping_with_body_is_malformed() {
    malformed(b"\xc0\x01\x00", V311);
    malformed(b"\xd0\x01\x00", V5);
}

#[test]
fn ping_bad_flags_are_malformed() {
    malformed(b"\xc1\x00", V311);
}

#[test]
fn disconnect_3x() {
    fixture(b"\xe0\x00", V311, Packet::Disconnect(Disconnect::default()));
    fixture(b"\xe0\x00", V31, Packet::Disconnect(Disconnect::default()));
    let d = Disconnect {
        reason: reason::DISCONNECT_WITH_WILL,
        properties: Properties::default(),
    };
    assert_eq!(enc(&Packet::Disconnect(d), V311), b"\xe0\x00");
}

#[test]
fn disconnect_3x_with_body_is_malformed() {
    malformed(b"\xe0\x01\x00", V311);
}

#[test]
fn disconnect_5() {
    fixture(b"\xe0\x00", V5, Packet::Disconnect(Disconnect::default()));
    fixture(
        b"\xe0\x01\x04",
        V5,
        Packet::Disconnect(Disconnect {
            reason: reason::DISCONNECT_WITH_WILL,
            properties: Properties::default(),
        }),
    );
    fixture(
        b"\xe0\x0d\x04\x0b\x11\x00\x00\x00\x00\x1f\x00\x03bye",
        V5,
        Packet::Disconnect(Disconnect {
            reason: reason::DISCONNECT_WITH_WILL,
            properties: Properties {
                session_expiry: Some(0),
                reason_string: Some(s("bye")),
                ..Properties::default()
            },
        }),
    );
}

#[test]
fn auth_5() {
    fixture(b"\xf0\x00", V5, Packet::Auth(Auth::default()));
    fixture(
        b"\xf0\x10\x18\x0e\x15\x00\x05SCRAM\x16\x00\x03\x01\x02\x03",
        V5,
        Packet::Auth(Auth {
            reason: reason::CONTINUE_AUTHENTICATION,
            properties: Properties {
                authentication_method: Some(s("SCRAM")),
                authentication_data: Some(Bytes::from_static(b"\x01\x02\x03")),
                ..Properties::default()
            },
        }),
    );
}

#[test]
fn auth_in_3x_is_malformed() {
    malformed(b"\xf0\x00", V311);
    malformed(b"\xf0\x00", V31);
}

#[test]
fn packet_type_0_is_malformed() {
    malformed(b"\x00\x00", V311);
    malformed(b"\x00\x00", V5);
}

#[test]
fn frame_other_than_its_remaining_length_is_malformed() {
    for wire in [&b"\xc0\x00\xc0\x00"[..], b"\x30\x05\x00\x01t", b"\x30"] {
        assert!(matches!(dec(wire, V311), Err(DecodeError::Malformed(_))));
    }
}

// ------------------------------------------------------------- framing

#[test]
fn check_refuses_oversized_packet_from_the_fixed_header_alone() {
    // Remaining length 16,383 in two bytes: the total is 16,386.
    assert_eq!(
        check(b"\x30\xff\x7f", 1024),
        Err(DecodeError::TooLarge {
            size: 16_386,
            max: 1024
        })
    );
    // Four length bytes, the maximum remaining length.
    assert_eq!(
        check(b"\x30\xff\xff\xff\x7f", 1 << 20),
        Err(DecodeError::TooLarge {
            size: 268_435_455 + 5,
            max: 1 << 20
        })
    );
    assert_eq!(
        check(b"\x30\x05", 6),
        Err(DecodeError::TooLarge { size: 7, max: 6 })
    );
    assert_eq!(
        check(b"\x30\x05", 7),
        Ok(Check::Incomplete { total: Some(7) })
    );
    assert_eq!(
        DecodeError::TooLarge { size: 7, max: 6 }.reason_code(),
        reason::PACKET_TOO_LARGE
    );
}

#[test]
fn check_remaining_length_of_five_bytes_is_malformed() {
    assert!(matches!(
        check(b"\x30\xff\xff\xff\xff\x01", usize::MAX),
        Err(DecodeError::Malformed(_))
    ));
    // Known as soon as the fourth length byte asks for a fifth.
    assert!(matches!(
        check(b"\x30\x80\x80\x80\x80", usize::MAX),
        Err(DecodeError::Malformed(_))
    ));
    malformed(b"\x30\x80\x80\x80\x80\x00", V311);
}

#[test]
fn check_non_minimal_remaining_length_frames() {
    // [MQTT-1.5.5-1] binds the sender; the length still frames.
    assert_eq!(
        check(b"\xc0\x80\x00", usize::MAX),
        Ok(Check::Ready { total: 3 })
    );
    assert_eq!(dec(b"\xc0\x80\x00", V311), Ok(Packet::PingReq));
}

#[test]
fn check_multi_byte_lengths() {
    let mut big = vec![0x30, 0x80, 0x01, 0x00, 0x01, b't'];
    big.resize(3 + 128, b'x');
    assert_framing(&big);
    let Ok(Packet::Publish(p)) = dec(&big, V311) else {
        panic!("not a PUBLISH");
    };
    assert_eq!(p.payload.len(), 125);
    assert_eq!(enc(&Packet::Publish(p), V311), big);
}

// ------------------------------------------------------ publish header

#[test]
fn publish_header_then_shared_payload_equals_whole_encoding() {
    let p = publish_5_packet();
    for protocol in [V31, V311, V5] {
        let header = PublishHeader::of(&p);
        let mut out = BytesMut::new();
        encode_publish_header(&header, protocol, &mut out);
        assert_eq!(out.len(), publish_header_len(&header, protocol));
        out.extend_from_slice(&p.payload);
        assert_eq!(out.to_vec(), enc(&Packet::Publish(p.clone()), protocol));
    }
    assert_eq!(
        enc(&Packet::Publish(p), V5),
        publish_5_wire(),
        "v5 PUBLISH keeps its properties"
    );
}

// -------------------------------------------------------- fuzz and random

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

#[test]
fn fuzz_mutated_fixtures_never_panic_and_stay_stable() {
    let fixtures = all_fixtures();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut decoded = 0;
    for _ in 0..40_000 {
        let (base, protocol) = &fixtures[rng.below(fixtures.len())];
        let mut buf = base.clone();
        for _ in 0..1 + rng.below(3) {
            match rng.below(6) {
                0 => {
                    let i = rng.below(buf.len().max(1));
                    if let Some(b) = buf.get_mut(i) {
                        *b ^= 1 << rng.below(8);
                    }
                }
                1 => buf.truncate(rng.below(buf.len() + 1)),
                2 => {
                    let i = rng.below(buf.len().max(1));
                    if let Some(b) = buf.get_mut(i) {
                        *b = rng.byte();
                    }
                }
                3 => {
                    let i = rng.below(buf.len() + 1);
                    buf.insert(i, rng.byte());
                }
                4 => {
                    for _ in 0..rng.below(8) {
                        buf.push(rng.byte());
                    }
                }
                _ => {
                    // Keep the remaining length consistent with a mutated
                    // body so that the decoder, not only check, is reached.
                    if buf.len() >= 2 && buf.len() < 129 {
                        buf[1] = (buf.len() - 2) as u8;
                        let i = 2 + rng.below(buf.len() - 1);
                        if let Some(b) = buf.get_mut(i) {
                            *b = rng.byte();
                        }
                    }
                }
            }
        }
        let protocol = if rng.one_in(8) {
            [V31, V311, V5][rng.below(3)]
        } else {
            *protocol
        };
        // The decoder must survive a frame that check did not bless.
        let _ = dec(&buf, protocol);
        if let Ok(Check::Ready { total }) = check(&buf, 1 << 16) {
            if let Ok(packet) = dec(&buf[..total], protocol) {
                decoded += 1;
                assert_stable(&packet, protocol);
            }
        }
    }
    assert!(decoded > 1_000, "only {decoded} mutants decoded");
}

const WORDS: &[&str] = &["a", "sensor", "+", "#", "é", "ü/x", "$SYS", "", "k-1"];

fn rand_str(rng: &mut Rng) -> ByteStr {
    let n = rng.below(4);
    let parts: Vec<&str> = (0..n).map(|_| WORDS[rng.below(WORDS.len())]).collect();
    ByteStr::from(parts.join("/"))
}

fn rand_bytes(rng: &mut Rng, max: usize) -> Bytes {
    let n = rng.below(max + 1);
    (0..n).map(|_| rng.byte()).collect::<Vec<u8>>().into()
}

fn rand_id(rng: &mut Rng) -> u16 {
    1 + rng.below(0xFFFF) as u16
}

fn rand_qos(rng: &mut Rng) -> QoS {
    [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][rng.below(3)]
}

fn maybe<T>(rng: &mut Rng, f: impl FnOnce(&mut Rng) -> T) -> Option<T> {
    if rng.one_in(2) {
        Some(f(rng))
    } else {
        None
    }
}

fn rand_user(rng: &mut Rng) -> Vec<(ByteStr, ByteStr)> {
    (0..rng.below(3))
        .map(|_| (rand_str(rng), rand_str(rng)))
        .collect()
}

/// Valid passthrough bytes: payload format, content type, correlation data
/// and user properties, in a random selection.
fn rand_passthrough(rng: &mut Rng) -> Bytes {
    let mut out = Vec::new();
    if rng.one_in(2) {
        out.extend_from_slice(&[0x01, rng.below(2) as u8]);
    }
    if rng.one_in(2) {
        let ct = rand_str(rng);
        out.push(0x03);
        out.extend_from_slice(&(ct.len() as u16).to_be_bytes());
        out.extend_from_slice(ct.as_bytes());
    }
    if rng.one_in(2) {
        let data = rand_bytes(rng, 6);
        out.push(0x09);
        out.extend_from_slice(&(data.len() as u16).to_be_bytes());
        out.extend_from_slice(&data);
    }
    for (k, v) in rand_user(rng) {
        out.push(0x26);
        for part in [k, v] {
            out.extend_from_slice(&(part.len() as u16).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
    }
    out.into()
}

/// Random properties valid in a packet of `kind` (a `Packet::name`).
fn rand_properties(rng: &mut Rng, kind: &str) -> Properties {
    let mut p = Properties {
        user: rand_user(rng),
        ..Properties::default()
    };
    let reason_string = |rng: &mut Rng| maybe(rng, rand_str);
    match kind {
        "CONNECT" => {
            p.session_expiry = maybe(rng, |r| r.next() as u32);
            p.receive_maximum = maybe(rng, rand_id);
            p.maximum_packet_size = maybe(rng, |r| 1 + r.below(1 << 20) as u32);
            p.topic_alias_maximum = maybe(rng, |r| r.next() as u16);
            p.request_response_information = maybe(rng, |r| r.below(2) as u8);
            p.request_problem_information = maybe(rng, |r| r.below(2) as u8);
            p.authentication_method = maybe(rng, rand_str);
            if p.authentication_method.is_some() {
                p.authentication_data = maybe(rng, |r| rand_bytes(r, 8));
            }
        }
        "CONNACK" => {
            p.session_expiry = maybe(rng, |r| r.next() as u32);
            p.receive_maximum = maybe(rng, rand_id);
            p.maximum_packet_size = maybe(rng, |r| 1 + r.below(1 << 20) as u32);
            p.topic_alias_maximum = maybe(rng, |r| r.next() as u16);
            p.assigned_client_identifier = maybe(rng, rand_str);
            p.server_keep_alive = maybe(rng, |r| r.next() as u16);
            p.response_information = maybe(rng, rand_str);
            p.server_reference = maybe(rng, rand_str);
            p.reason_string = reason_string(rng);
            p.maximum_qos = maybe(rng, |r| r.below(2) as u8);
            p.retain_available = maybe(rng, |r| r.below(2) as u8);
            p.wildcard_subscription_available = maybe(rng, |r| r.below(2) as u8);
            p.subscription_identifier_available = maybe(rng, |r| r.below(2) as u8);
            p.shared_subscription_available = maybe(rng, |r| r.below(2) as u8);
        }
        "SUBSCRIBE" => {
            p.subscription_identifier = maybe(rng, |r| 1 + r.below(268_435_455) as u32);
        }
        "DISCONNECT" => {
            p.session_expiry = maybe(rng, |r| r.next() as u32);
            p.server_reference = maybe(rng, rand_str);
            p.reason_string = reason_string(rng);
        }
        "AUTH" => {
            p.authentication_method = maybe(rng, rand_str);
            if p.authentication_method.is_some() {
                p.authentication_data = maybe(rng, |r| rand_bytes(r, 8));
            }
            p.reason_string = reason_string(rng);
        }
        "UNSUBSCRIBE" => {}
        _ => p.reason_string = reason_string(rng),
    }
    p
}

fn rand_publish_properties(rng: &mut Rng, will: bool) -> PublishProperties {
    PublishProperties {
        message_expiry: maybe(rng, |r| r.next() as u32),
        topic_alias: if will { None } else { maybe(rng, rand_id) },
        subscription_ids: if will {
            Vec::new()
        } else {
            (0..rng.below(3))
                .map(|_| 1 + rng.below(268_435_455) as u32)
                .collect()
        },
        passthrough: rand_passthrough(rng),
    }
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

fn rand_reason(rng: &mut Rng, kind: &str) -> u8 {
    let codes = reasons(kind);
    if rng.one_in(2) {
        0
    } else {
        codes[rng.below(codes.len())]
    }
}

/// A random packet as `decode` would return it for `protocol`.
fn rand_packet(rng: &mut Rng, protocol: Protocol, which: usize) -> Packet {
    let v5 = protocol.is_v5();
    let props = |rng: &mut Rng, kind: &str| {
        if v5 {
            rand_properties(rng, kind)
        } else {
            Properties::default()
        }
    };
    let ack = |rng: &mut Rng, kind: &str| {
        let packet_id = rand_id(rng);
        if !v5 {
            return Ack::new(packet_id);
        }
        Ack {
            packet_id,
            reason: rand_reason(rng, kind),
            properties: if rng.one_in(2) {
                Properties::default()
            } else {
                rand_properties(rng, kind)
            },
        }
    };
    match which {
        0 => {
            let will = maybe(rng, |rng| Will {
                topic: rand_str(rng),
                payload: rand_bytes(rng, 16),
                qos: rand_qos(rng),
                retain: rng.one_in(2),
                delay_interval: if v5 { rng.next() as u32 } else { 0 },
                properties: if v5 {
                    rand_publish_properties(rng, true)
                } else {
                    PublishProperties::default()
                },
            });
            let username = maybe(rng, rand_str);
            let password = if v5 || username.is_some() {
                maybe(rng, |r| rand_bytes(r, 8))
            } else {
                None
            };
            Packet::Connect(Box::new(Connect {
                protocol,
                clean_start: rng.one_in(2),
                keep_alive: rng.next() as u16,
                client_id: rand_str(rng),
                will,
                username,
                password,
                bridge: false,
                properties: props(rng, "CONNECT"),
            }))
        }
        1 => Packet::ConnAck(ConnAck {
            session_present: protocol != V31 && rng.one_in(2),
            code: if v5 {
                rand_reason(rng, "CONNACK")
            } else {
                rng.byte()
            },
            properties: props(rng, "CONNACK"),
        }),
        2 => {
            let qos = rand_qos(rng);
            Packet::Publish(Publish {
                dup: qos != QoS::AtMostOnce && rng.one_in(2),
                qos,
                retain: rng.one_in(2),
                topic: match rand_str(rng) {
                    // An empty MQTT 5 topic needs a Topic Alias.
                    t if v5 && t.is_empty() => s("t"),
                    t => t,
                },
                packet_id: if qos == QoS::AtMostOnce {
                    0
                } else {
                    rand_id(rng)
                },
                properties: if v5 {
                    rand_publish_properties(rng, false)
                } else {
                    PublishProperties::default()
                },
                payload: rand_bytes(rng, 300),
            })
        }
        3 => Packet::PubAck(ack(rng, "PUBACK")),
        4 => Packet::PubRec(ack(rng, "PUBREC")),
        5 => Packet::PubRel(ack(rng, "PUBREL")),
        6 => Packet::PubComp(ack(rng, "PUBCOMP")),
        7 => Packet::Subscribe(Subscribe {
            packet_id: rand_id(rng),
            filters: (0..1 + rng.below(4))
                .map(|_| {
                    let options = SubOptions {
                        qos: rand_qos(rng),
                        no_local: v5 && rng.one_in(2),
                        retain_as_published: v5 && rng.one_in(2),
                        retain_handling: if v5 { rng.below(3) as u8 } else { 0 },
                    };
                    (rand_str(rng), options)
                })
                .collect(),
            properties: props(rng, "SUBSCRIBE"),
        }),
        8 => Packet::SubAck(SubAck {
            packet_id: rand_id(rng),
            codes: (0..1 + rng.below(4))
                .map(|_| {
                    if v5 {
                        rand_reason(rng, "SUBACK")
                    } else {
                        [0, 1, 2, 0x80][rng.below(4)]
                    }
                })
                .collect(),
            properties: props(rng, "SUBACK"),
        }),
        9 => Packet::Unsubscribe(Unsubscribe {
            packet_id: rand_id(rng),
            filters: (0..1 + rng.below(4)).map(|_| rand_str(rng)).collect(),
            properties: props(rng, "UNSUBSCRIBE"),
        }),
        10 => Packet::UnsubAck(UnsubAck {
            packet_id: rand_id(rng),
            codes: if v5 {
                (0..1 + rng.below(4))
                    .map(|_| rand_reason(rng, "UNSUBACK"))
                    .collect()
            } else {
                Vec::new()
            },
            properties: props(rng, "UNSUBACK"),
        }),
        11 => Packet::PingReq,
        12 => Packet::PingResp,
        13 => Packet::Disconnect(if v5 {
            Disconnect {
                reason: rand_reason(rng, "DISCONNECT"),
                properties: props(rng, "DISCONNECT"),
            }
        } else {
            Disconnect::default()
        }),
        _ if rng.one_in(4) => Packet::Auth(Auth::default()),
        _ => Packet::Auth(Auth {
            reason: rand_reason(rng, "AUTH"),
            properties: Properties {
                // Only the empty AUTH may leave the method out.
                authentication_method: Some(rand_str(rng)),
                ..props(rng, "AUTH")
            },
        }),
    }
}

#[test]
fn random_packets_of_every_type_round_trip() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for round in 0..6_000 {
        let protocol = [V31, V311, V5][round % 3];
        let kinds = if protocol.is_v5() { 15 } else { 14 };
        let which = rng.below(kinds);
        let packet = rand_packet(&mut rng, protocol, which);
        let wire = enc(&packet, protocol);
        assert_eq!(
            check(&wire, wire.len()),
            Ok(Check::Ready { total: wire.len() }),
            "{packet:?}"
        );
        assert_eq!(
            decode(Bytes::from(wire.clone()), protocol),
            Ok(packet.clone()),
            "{wire:02x?}"
        );
        if let Packet::Publish(p) = &packet {
            let header = PublishHeader::of(p);
            assert_eq!(
                publish_header_len(&header, protocol),
                wire.len() - p.payload.len()
            );
        }
    }
}

#[test]
fn connect_5_interleaved_will_properties_are_gathered_in_order() {
    // Payload format, will delay 9, content type "x": the delay splits the
    // passthrough run.
    let wire = cat(&[
        b"\x10\x20\x00\x04MQTT\x05\x06\x00\x00\x00\x00\x01c",
        b"\x0b\x01\x01\x18\x00\x00\x00\x09\x03\x00\x01x",
        b"\x00\x01t\x00\x01p",
    ]);
    let Ok(Packet::Connect(c)) = dec(&wire, V5) else {
        panic!("not a CONNECT");
    };
    let will = c.will.as_ref().expect("a will");
    assert_eq!(will.delay_interval, 9);
    assert_eq!(&will.properties.passthrough[..], b"\x01\x01\x03\x00\x01x");
    assert_stable(&Packet::Connect(c), V5);
}
