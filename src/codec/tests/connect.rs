//! CONNECT and CONNACK: fixtures for every version, and one test per
//! malformed or refused case.

use super::*;

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
