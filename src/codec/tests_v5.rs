//! MQTT 5 fixtures: hand-written bytes for every MQTT 5 packet type in its
//! short and long forms. Each fixture decodes to the expected packet,
//! encodes back to the same bytes and frames at every split (the helpers of
//! `tests.rs`). CONNACK is in `tests_v5_connack.rs`, properties one by one
//! in `tests_v5_props.rs`, refused packets in `tests_v5_errors.rs`, the
//! mutation fuzzer in `tests_v5_fuzz.rs`.

use bytes::Bytes;

use super::properties::{Properties, PublishProperties};
use super::tests::{cat, dec, decodes_to, fixture, publish, s};
use super::types::*;

use Protocol::V5;

// ---------------------------------------------------------------- CONNECT

#[test]
fn connect_5_without_will_with_every_connect_property() {
    let wire = cat(&[
        b"\x10\x3e\x00\x04MQTT\x05\xc2\x00\x3c",
        b"\x28",
        b"\x11\x00\x00\x00\x78",
        b"\x15\x00\x05SCRAM",
        b"\x16\x00\x02\xab\xcd",
        b"\x17\x00",
        b"\x19\x01",
        b"\x21\x00\x0a",
        b"\x22\x00\x05",
        b"\x27\x00\x00\x10\x00",
        b"\x26\x00\x01a\x00\x01b",
        b"\x00\x02id",
        b"\x00\x01u",
        b"\x00\x02pw",
    ]);
    fixture(
        &wire,
        V5,
        Packet::Connect(Box::new(Connect {
            protocol: V5,
            clean_start: true,
            keep_alive: 60,
            client_id: s("id"),
            will: None,
            username: Some(s("u")),
            password: Some(Bytes::from_static(b"pw")),
            bridge: false,
            properties: Properties {
                session_expiry: Some(120),
                authentication_method: Some(s("SCRAM")),
                authentication_data: Some(Bytes::from_static(b"\xab\xcd")),
                request_problem_information: Some(0),
                request_response_information: Some(1),
                receive_maximum: Some(10),
                topic_alias_maximum: Some(5),
                maximum_packet_size: Some(4096),
                user: vec![(s("a"), s("b"))],
                ..Properties::default()
            },
        })),
    );
}

#[test]
fn connect_5_with_will_and_no_will_properties() {
    let wire = cat(&[
        b"\x10\x16\x00\x04MQTT\x05\x2c\x00\x00",
        b"\x00",
        b"\x00\x01c",
        b"\x00",
        b"\x00\x03w/t",
        b"\x00\x00",
    ]);
    fixture(
        &wire,
        V5,
        Packet::Connect(Box::new(Connect {
            protocol: V5,
            clean_start: false,
            keep_alive: 0,
            client_id: s("c"),
            will: Some(Will {
                topic: s("w/t"),
                payload: Bytes::new(),
                qos: QoS::AtLeastOnce,
                retain: true,
                delay_interval: 0,
                properties: PublishProperties::default(),
            }),
            username: None,
            password: None,
            bridge: false,
            properties: Properties::default(),
        })),
    );
}

#[test]
fn connect_5_with_every_will_property() {
    let passthrough: &[u8] =
        b"\x01\x01\x03\x00\x04text\x08\x00\x03r/t\x09\x00\x02\x01\x02\x26\x00\x01k\x00\x01v";
    let wire = cat(&[
        b"\x10\x3b\x00\x04MQTT\x05\x14\x00\x0a",
        b"\x00",
        b"\x00\x01c",
        b"\x25",
        b"\x02\x00\x00\x00\x3c",
        b"\x18\x00\x00\x01\x2c",
        passthrough,
        b"\x00\x01t",
        b"\x00\x02hi",
    ]);
    fixture(
        &wire,
        V5,
        Packet::Connect(Box::new(Connect {
            protocol: V5,
            clean_start: false,
            keep_alive: 10,
            client_id: s("c"),
            will: Some(Will {
                topic: s("t"),
                payload: Bytes::from_static(b"hi"),
                qos: QoS::ExactlyOnce,
                retain: false,
                delay_interval: 300,
                properties: PublishProperties {
                    message_expiry: Some(60),
                    passthrough: Bytes::copy_from_slice(passthrough),
                    ..PublishProperties::default()
                },
            }),
            username: None,
            password: None,
            bridge: false,
            properties: Properties::default(),
        })),
    );
}

// ---------------------------------------------------------------- PUBLISH

#[test]
fn publish_5_qos0_with_expiry_alias_and_payload_format() {
    fixture(
        b"\x30\x13\x00\x03a/b\x0a\x02\x00\x00\x00\x0a\x23\x00\x02\x01\x00pay",
        V5,
        Packet::Publish(Publish {
            properties: PublishProperties {
                message_expiry: Some(10),
                topic_alias: Some(2),
                passthrough: Bytes::from_static(b"\x01\x00"),
                ..PublishProperties::default()
            },
            ..publish(QoS::AtMostOnce, "a/b", 0, b"pay")
        }),
    );
}

#[test]
fn publish_5_qos2_dup_retain_with_subscription_id_and_content_type() {
    fixture(
        b"\x3d\x16\x00\x01t\xab\xcd\x0e\x02\x00\x00\x00\x00\x0b\x05\x03\x00\x04json{}",
        V5,
        Packet::Publish(Publish {
            dup: true,
            retain: true,
            properties: PublishProperties {
                message_expiry: Some(0),
                subscription_ids: vec![5],
                passthrough: Bytes::from_static(b"\x03\x00\x04json"),
                ..PublishProperties::default()
            },
            ..publish(QoS::ExactlyOnce, "t", 0xABCD, b"{}")
        }),
    );
}

#[test]
fn publish_5_qos1_empty_topic_with_alias() {
    fixture(
        b"\x32\x09\x00\x00\x00\x07\x03\x23\x00\x07x",
        V5,
        Packet::Publish(Publish {
            properties: PublishProperties {
                topic_alias: Some(7),
                ..PublishProperties::default()
            },
            ..publish(QoS::AtLeastOnce, "", 7, b"x")
        }),
    );
}

// ------------------------------------------------------------------- Acks

/// The three forms of one acknowledgement type: two bytes, the reason code
/// alone, reason code and properties.
fn ack_forms(first: u8, failure: u8, wrap: fn(Ack) -> Packet) {
    fixture(&[first, 0x02, 0x00, 0x05], V5, wrap(Ack::new(5)));
    fixture(
        &[first, 0x03, 0x00, 0x05, failure],
        V5,
        wrap(Ack {
            reason: failure,
            ..Ack::new(5)
        }),
    );
    let long = cat(&[
        &[first, 0x0f, 0x00, 0x05, failure, 0x0b],
        b"\x1f\x00\x01r",
        b"\x26\x00\x01k\x00\x01v",
    ]);
    fixture(
        &long,
        V5,
        wrap(Ack {
            packet_id: 5,
            reason: failure,
            properties: Properties {
                reason_string: Some(s("r")),
                user: vec![(s("k"), s("v"))],
                ..Properties::default()
            },
        }),
    );
    // Success with properties keeps its reason byte.
    fixture(
        &[
            first, 0x0b, 0x00, 0x05, 0x00, 0x07, 0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v',
        ],
        V5,
        wrap(Ack {
            properties: Properties {
                user: vec![(s("k"), s("v"))],
                ..Properties::default()
            },
            ..Ack::new(5)
        }),
    );
    // An explicit success and an empty property block are the short form.
    decodes_to(
        &[first, 0x04, 0x00, 0x05, 0x00, 0x00],
        V5,
        wrap(Ack::new(5)),
    );
}

#[test]
fn puback_5_short_and_long_forms() {
    ack_forms(0x40, reason::NO_MATCHING_SUBSCRIBERS, Packet::PubAck);
}

#[test]
fn pubrec_5_short_and_long_forms() {
    ack_forms(0x50, reason::QUOTA_EXCEEDED, Packet::PubRec);
}

#[test]
fn pubrel_5_short_and_long_forms() {
    ack_forms(0x62, reason::PACKET_IDENTIFIER_NOT_FOUND, Packet::PubRel);
}

#[test]
fn pubcomp_5_short_and_long_forms() {
    ack_forms(0x70, reason::PACKET_IDENTIFIER_NOT_FOUND, Packet::PubComp);
}

// ---------------------------------------------------- SUBSCRIBE / SUBACK

#[test]
fn subscribe_5_every_option_combination_without_properties() {
    let wire = cat(&[
        b"\x82\x13\x00\x07\x00",
        b"\x00\x01a\x00",
        b"\x00\x01b\x05",
        b"\x00\x01c\x1a",
        b"\x00\x01d\x2e",
    ]);
    let opt = |qos, no_local, retain_as_published, retain_handling| SubOptions {
        qos,
        no_local,
        retain_as_published,
        retain_handling,
    };
    fixture(
        &wire,
        V5,
        Packet::Subscribe(Subscribe {
            packet_id: 7,
            filters: vec![
                (s("a"), opt(QoS::AtMostOnce, false, false, 0)),
                (s("b"), opt(QoS::AtLeastOnce, true, false, 0)),
                (s("c"), opt(QoS::ExactlyOnce, false, true, 1)),
                (s("d"), opt(QoS::ExactlyOnce, true, true, 2)),
            ],
            properties: Properties::default(),
        }),
    );
}

#[test]
fn subscribe_5_largest_subscription_identifier() {
    fixture(
        b"\x82\x0c\x00\x08\x05\x0b\xff\xff\xff\x7f\x00\x01x\x01",
        V5,
        Packet::Subscribe(Subscribe {
            packet_id: 8,
            filters: vec![(
                s("x"),
                SubOptions {
                    qos: QoS::AtLeastOnce,
                    ..SubOptions::default()
                },
            )],
            properties: Properties {
                subscription_identifier: Some(268_435_455),
                ..Properties::default()
            },
        }),
    );
}

#[test]
fn suback_5_every_subscribe_reason_code_with_user_property() {
    let wire = cat(&[
        b"\x90\x16\x00\x07\x07\x26\x00\x01k\x00\x01v",
        b"\x00\x01\x02\x80\x83\x87\x8f\x91\x97\x9e\xa1\xa2",
    ]);
    fixture(
        &wire,
        V5,
        Packet::SubAck(SubAck {
            packet_id: 7,
            codes: wire[12..].to_vec(),
            properties: Properties {
                user: vec![(s("k"), s("v"))],
                ..Properties::default()
            },
        }),
    );
}

// ------------------------------------------------ UNSUBSCRIBE / UNSUBACK

#[test]
fn unsubscribe_5_with_user_property() {
    fixture(
        b"\xa2\x12\x00\x09\x07\x26\x00\x01k\x00\x01v\x00\x03a/+\x00\x01#",
        V5,
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 9,
            filters: vec![s("a/+"), s("#")],
            properties: Properties {
                user: vec![(s("k"), s("v"))],
                ..Properties::default()
            },
        }),
    );
}

#[test]
fn unsuback_5_every_unsubscribe_reason_code_with_reason_string() {
    fixture(
        b"\xb0\x0e\x00\x09\x04\x1f\x00\x01r\x00\x11\x80\x83\x87\x8f\x91",
        V5,
        Packet::UnsubAck(UnsubAck {
            packet_id: 9,
            codes: vec![0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91],
            properties: Properties {
                reason_string: Some(s("r")),
                ..Properties::default()
            },
        }),
    );
}

// ------------------------------------------------------ DISCONNECT, AUTH

#[test]
fn disconnect_5_short_reason_only_and_long_forms() {
    fixture(
        b"\xe0\x01\x8e",
        V5,
        Packet::Disconnect(Disconnect {
            reason: reason::SESSION_TAKEN_OVER,
            properties: Properties::default(),
        }),
    );
    fixture(
        b"\xe0\x07\x00\x05\x11\x00\x00\x00\x0a",
        V5,
        Packet::Disconnect(Disconnect {
            reason: reason::SUCCESS,
            properties: Properties {
                session_expiry: Some(10),
                ..Properties::default()
            },
        }),
    );
    fixture(
        b"\xe0\x11\x9c\x0f\x1c\x00\x05host2\x26\x00\x01k\x00\x01v",
        V5,
        Packet::Disconnect(Disconnect {
            reason: reason::USE_ANOTHER_SERVER,
            properties: Properties {
                server_reference: Some(s("host2")),
                user: vec![(s("k"), s("v"))],
                ..Properties::default()
            },
        }),
    );
    // Reason 0 with an empty property block is the short form.
    decodes_to(
        b"\xe0\x02\x00\x00",
        V5,
        Packet::Disconnect(Disconnect::default()),
    );
}

#[test]
fn auth_5_reauthenticate_with_every_auth_property() {
    let wire = cat(&[
        b"\xf0\x1a\x19\x18",
        b"\x15\x00\x05SCRAM",
        b"\x16\x00\x01\x01",
        b"\x1f\x00\x02go",
        b"\x26\x00\x01k\x00\x01v",
    ]);
    fixture(
        &wire,
        V5,
        Packet::Auth(Auth {
            reason: reason::REAUTHENTICATE,
            properties: Properties {
                authentication_method: Some(s("SCRAM")),
                authentication_data: Some(Bytes::from_static(b"\x01")),
                reason_string: Some(s("go")),
                user: vec![(s("k"), s("v"))],
                ..Properties::default()
            },
        }),
    );
}

#[test]
fn pings_5_have_no_body() {
    fixture(b"\xc0\x00", V5, Packet::PingReq);
    fixture(b"\xd0\x00", V5, Packet::PingResp);
    assert!(dec(b"\xc0\x01\x00", V5).is_err());
}

#[test]
fn plain_ack_writes_what_encode_writes() {
    use super::{encode, encode_plain_ack, AckKind};
    use bytes::BytesMut;
    for protocol in [Protocol::V31, Protocol::V311, Protocol::V5] {
        for kind in [
            AckKind::PubAck,
            AckKind::PubRec,
            AckKind::PubRel,
            AckKind::PubComp,
        ] {
            for reason in [0u8, 0x10, 0x92] {
                let mut fast = BytesMut::new();
                encode_plain_ack(kind, 0x1234, reason, protocol, &mut fast);
                let ack = Ack {
                    packet_id: 0x1234,
                    reason: if protocol.is_v5() { reason } else { 0 },
                    ..Ack::default()
                };
                let mut full = BytesMut::new();
                encode(&kind.packet(ack), protocol, &mut full);
                assert_eq!(fast, full, "{kind:?} {reason:#x} {protocol}");
            }
        }
    }
}
