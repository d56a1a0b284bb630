//! SUBSCRIBE, SUBACK, UNSUBSCRIBE and UNSUBACK.

use super::*;

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
