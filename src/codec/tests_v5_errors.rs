//! MQTT 5 packets the decoder refuses, each named after the normative
//! statement it enforces where the specification has one ([MQTT-x.y.z-n]),
//! else after its section. Malformed Packet (0x81) where the bytes cannot
//! be parsed or the specification says so, Protocol Error (0x82) where
//! well-formed bytes break a rule.

use super::properties::Properties;
use super::tests::{
    assert_stable, cat, dec, decodes_to, fixture, malformed, protocol_error, reasons, s,
};
use super::types::*;

use Protocol::V5;

// ----------------------------------------------------------- reason codes

/// The reason codes a decoded packet carries.
fn reason_codes(packet: &Packet) -> Vec<u8> {
    match packet {
        Packet::ConnAck(a) => vec![a.code],
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            vec![a.reason]
        }
        Packet::SubAck(a) => a.codes.clone(),
        Packet::UnsubAck(a) => a.codes.clone(),
        Packet::Disconnect(d) => vec![d.reason],
        Packet::Auth(a) => vec![a.reason],
        other => panic!("{other:?} has no reason code"),
    }
}

#[test]
fn reason_codes_outside_each_packet_types_table_are_protocol_errors() {
    // The sender "MUST use one of" the codes of its packet's table:
    // [MQTT-3.2.2-8] CONNACK, [MQTT-3.4.2-1] PUBACK, [MQTT-3.5.2-1] PUBREC,
    // [MQTT-3.6.2-1] PUBREL, [MQTT-3.7.2-1] PUBCOMP, [MQTT-3.9.3-2] SUBACK,
    // [MQTT-3.11.3-2] UNSUBACK, [MQTT-3.14.2-1] DISCONNECT, [MQTT-3.15.2-1]
    // AUTH. Every byte value is tried in every one of them.
    let mut accepted = 0;
    for code in 0..=255u8 {
        let cases: [(&str, Vec<u8>); 9] = [
            ("CONNACK", vec![0x20, 0x03, 0x00, code, 0x00]),
            ("PUBACK", vec![0x40, 0x03, 0x00, 0x01, code]),
            ("PUBREC", vec![0x50, 0x03, 0x00, 0x01, code]),
            ("PUBREL", vec![0x62, 0x03, 0x00, 0x01, code]),
            ("PUBCOMP", vec![0x70, 0x03, 0x00, 0x01, code]),
            ("SUBACK", vec![0x90, 0x05, 0x00, 0x01, 0x00, 0x00, code]),
            ("UNSUBACK", vec![0xB0, 0x05, 0x00, 0x01, 0x00, 0x00, code]),
            ("DISCONNECT", vec![0xE0, 0x01, code]),
            ("AUTH", vec![0xF0, 0x06, code, 0x04, 0x15, 0x00, 0x01, b'm']),
        ];
        for (kind, wire) in cases {
            if reasons(kind).contains(&code) {
                let packet = dec(&wire, V5).unwrap_or_else(|e| panic!("{kind} {code:#04x}: {e}"));
                assert_eq!(packet.name(), kind);
                assert_eq!(reason_codes(&packet).last(), Some(&code), "{kind}");
                assert_stable(&packet, V5);
                accepted += 1;
            } else {
                protocol_error(&wire, V5);
            }
        }
    }
    assert_eq!(accepted, 22 + 9 + 9 + 2 + 2 + 12 + 7 + 30 + 3);
}

#[test]
fn connack_31_and_311_return_codes_are_not_checked() {
    // 3.x leaves codes 6..255 reserved without a rule for the receiver.
    for protocol in [Protocol::V31, Protocol::V311] {
        let Ok(Packet::ConnAck(a)) = dec(b"\x20\x02\x00\x06", protocol) else {
            panic!("CONNACK 6 refused under {protocol}");
        };
        assert_eq!(a.code, 6);
    }
}

#[test]
fn one_bad_code_among_good_ones_refuses_the_suback() {
    protocol_error(b"\x90\x06\x00\x01\x00\x00\x01\x03", V5);
    protocol_error(b"\xb0\x06\x00\x01\x00\x00\x11\x10", V5);
    assert!(dec(b"\x90\x06\x00\x01\x00\x00\x01\x02", V5).is_ok());
}

#[test]
fn ack_property_length_past_the_end_after_its_reason_code_is_malformed() {
    // A reason code with a property length that runs past the end.
    malformed(b"\x40\x04\x00\x01\x10\x05", V5);
}

// ------------------------------------------------------------------- AUTH

#[test]
fn auth_without_authentication_method_is_a_protocol_error_3_15_2_2_2() {
    // "It is a Protocol Error to omit the Authentication Method".
    protocol_error(b"\xf0\x01\x18", V5);
    protocol_error(b"\xf0\x02\x19\x00", V5);
    protocol_error(b"\xf0\x02\x00\x00", V5);
    protocol_error(b"\xf0\x06\x18\x04\x1f\x00\x01r", V5);
}

#[test]
fn auth_zero_length_form_is_success_without_method() {
    // "The Reason Code and Property Length can be omitted if the Reason
    // Code is 0x00 (Success) and there are no Properties."
    assert_eq!(dec(b"\xf0\x00", V5), Ok(Packet::Auth(Auth::default())));
}

#[test]
fn auth_data_without_method_is_a_protocol_error_3_1_2_11_10() {
    // "It is a Protocol Error to include Authentication Data if there is no
    // Authentication Method", in CONNECT, CONNACK and AUTH alike.
    protocol_error(b"\x20\x07\x00\x00\x04\x16\x00\x01d", V5);
    protocol_error(b"\xf0\x06\x18\x04\x16\x00\x01d", V5);
}

// ---------------------------------------------------------------- PUBLISH

#[test]
fn publish_empty_topic_without_topic_alias_is_a_protocol_error_3_3_2_1() {
    // "It is a Protocol Error if the Topic Name is zero length and there is
    // no Topic Alias."
    protocol_error(b"\x30\x04\x00\x00\x00x", V5);
    protocol_error(b"\x32\x0b\x00\x00\x00\x01\x05\x02\x00\x00\x00\x01x", V5);
    // With an alias it stands for the aliased topic.
    assert!(dec(b"\x30\x07\x00\x00\x03\x23\x00\x01x", V5).is_ok());
    // 3.1.1 has no alias; the broker's topic check refuses the empty topic.
    assert!(dec(b"\x30\x03\x00\x00x", Protocol::V311).is_ok());
}

#[test]
fn publish_qos_3_is_malformed_mqtt_3_3_1_4() {
    malformed(b"\x36\x06\x00\x01t\x00\x01\x00", V5);
    malformed(b"\x3f\x06\x00\x01t\x00\x01\x00", V5);
}

#[test]
fn publish_topic_with_a_surrogate_is_malformed_mqtt_3_3_2_1() {
    // The Topic Name "MUST be a UTF-8 Encoded String" and U+D800..U+DFFF
    // are not UTF-8 [MQTT-1.5.4-1].
    malformed(b"\x30\x07\x00\x03\xed\xa0\x80\x00x", V5);
}

// ---------------------------------------------------------------- CONNECT

/// A v5 CONNECT with `flags`, no properties, client id "c", then `tail`.
fn connect(flags: u8, tail: &[u8]) -> Vec<u8> {
    let body = cat(&[
        b"\x00\x04MQTT\x05",
        &[flags],
        b"\x00\x00\x00\x00\x01c",
        tail,
    ]);
    cat(&[&[0x10, body.len() as u8], &body])
}

#[test]
fn connect_will_qos_without_will_flag_is_malformed_mqtt_3_1_2_11() {
    malformed(&connect(0x0a, b""), V5);
    malformed(&connect(0x12, b""), V5);
}

#[test]
fn connect_will_qos_3_is_malformed_mqtt_3_1_2_12() {
    malformed(&connect(0x1e, b"\x00\x00\x01t\x00\x00"), V5);
}

#[test]
fn connect_will_retain_without_will_flag_is_malformed_mqtt_3_1_2_13() {
    malformed(&connect(0x22, b""), V5);
}

#[test]
fn connect_will_flag_without_will_fields_is_malformed_mqtt_3_1_2_9() {
    malformed(&connect(0x06, b""), V5);
    malformed(&connect(0x06, b"\x00"), V5);
    malformed(&connect(0x06, b"\x00\x00\x01t"), V5);
    assert!(dec(&connect(0x06, b"\x00\x00\x01t\x00\x00"), V5).is_ok());
}

#[test]
fn connect_user_name_flag_and_field_must_agree_mqtt_3_1_2_16_and_17() {
    malformed(&connect(0x82, b""), V5);
    malformed(&connect(0x02, b"\x00\x01u"), V5);
    assert!(dec(&connect(0x82, b"\x00\x01u"), V5).is_ok());
}

#[test]
fn connect_password_flag_and_field_must_agree_mqtt_3_1_2_18_and_19() {
    malformed(&connect(0x42, b""), V5);
    malformed(&connect(0x82, b"\x00\x01u\x00\x02pw"), V5);
    malformed(&connect(0x42, b"\x00\x05pw"), V5);
    // 5.0 allows a password without a user name (section 3.1.2.9).
    assert!(dec(&connect(0x42, b"\x00\x02pw"), V5).is_ok());
}

#[test]
fn connect_strings_must_be_utf8_mqtt_3_1_3_4_11_12() {
    // Client identifier [MQTT-3.1.3-4], with a surrogate and with U+0000
    // [MQTT-1.5.4-2].
    malformed(
        b"\x10\x10\x00\x04MQTT\x05\x02\x00\x00\x00\x00\x03\xed\xa0\x80",
        V5,
    );
    malformed(b"\x10\x0e\x00\x04MQTT\x05\x02\x00\x00\x00\x00\x01\x00", V5);
    // Will Topic [MQTT-3.1.3-11] and User Name [MQTT-3.1.3-12].
    malformed(&connect(0x06, b"\x00\x00\x01\xff\x00\x00"), V5);
    malformed(&connect(0x82, b"\x00\x01\xc0"), V5);
}

#[test]
fn user_property_strings_must_be_utf8_mqtt_1_5_7_1() {
    let key = b"\x10\x14\x00\x04MQTT\x05\x02\x00\x00\x06\x26\x00\x01\xff\x00\x00\x00\x01c";
    let value = b"\x10\x14\x00\x04MQTT\x05\x02\x00\x00\x06\x26\x00\x00\x00\x01\xff\x00\x01c";
    malformed(key, V5);
    malformed(value, V5);
}

#[test]
fn byte_order_mark_in_a_string_is_kept_mqtt_1_5_4_3() {
    let wire = b"\x10\x10\x00\x04MQTT\x05\x02\x00\x00\x00\x00\x03\xef\xbb\xbf";
    let Ok(Packet::Connect(c)) = dec(wire, V5) else {
        panic!("not a CONNECT");
    };
    assert_eq!(c.client_id.as_str(), "\u{feff}");
}

// ------------------------------------------------------ property values

#[test]
fn receive_maximum_and_maximum_packet_size_0_are_protocol_errors() {
    // "It is a Protocol Error to include the Receive Maximum value more
    // than once or for it to have the value 0" (sections 3.1.2.11.3 and
    // 3.2.2.3.3); the same for Maximum Packet Size (3.1.2.11.4, 3.2.2.3.6).
    protocol_error(
        b"\x10\x11\x00\x04MQTT\x05\x02\x00\x00\x03\x21\x00\x00\x00\x01c",
        V5,
    );
    protocol_error(
        b"\x10\x13\x00\x04MQTT\x05\x02\x00\x00\x05\x27\x00\x00\x00\x00\x00\x01c",
        V5,
    );
    protocol_error(b"\x20\x06\x00\x00\x03\x21\x00\x00", V5);
    protocol_error(b"\x20\x08\x00\x00\x05\x27\x00\x00\x00\x00", V5);
}

#[test]
fn topic_alias_0_is_left_to_the_broker() {
    // "A Topic Alias value of 0 or greater than the Maximum Topic Alias is
    // a Protocol Error, the receiver uses DISCONNECT with Reason Code of
    // 0x94" (section 3.3.4): the broker knows the maximum and sends 0x94
    // for both, so the decoder passes 0 on.
    let p = dec(b"\x30\x08\x00\x01t\x03\x23\x00\x00x", V5).expect("decodes");
    match p {
        Packet::Publish(p) => assert_eq!(p.properties.topic_alias, Some(0)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn zero_is_allowed_where_the_spec_sets_no_floor() {
    // Topic Alias Maximum 0 means no aliases, Server Keep Alive 0 turns
    // keep-alive off, a Session Expiry Interval of 0 ends the session.
    assert!(dec(
        b"\x10\x11\x00\x04MQTT\x05\x02\x00\x00\x03\x22\x00\x00\x00\x01c",
        V5
    )
    .is_ok());
    assert!(dec(b"\x20\x06\x00\x00\x03\x13\x00\x00", V5).is_ok());
    assert!(dec(b"\x20\x08\x00\x00\x05\x11\x00\x00\x00\x00", V5).is_ok());
}

#[test]
fn byte_properties_other_than_0_or_1_are_protocol_errors() {
    // "... or to have a value other than 0 or 1", stated for each of them.
    protocol_error(
        b"\x10\x10\x00\x04MQTT\x05\x02\x00\x00\x02\x19\x02\x00\x01c",
        V5,
    );
    protocol_error(
        b"\x10\x10\x00\x04MQTT\x05\x02\x00\x00\x02\x17\xff\x00\x01c",
        V5,
    );
    for pid in [0x24, 0x25, 0x28, 0x29, 0x2a] {
        protocol_error(&[0x20, 0x05, 0x00, 0x00, 0x02, pid, 0x02], V5);
    }
    protocol_error(&connect(0x06, b"\x02\x01\x02\x00\x01t\x00\x00"), V5);
}

#[test]
fn a_repeated_property_apart_from_its_first_copy_is_a_protocol_error() {
    let props = cat(&[
        b"\x0d",
        b"\x11\x00\x00\x00\x01",
        b"\x21\x00\x05",
        b"\x11\x00\x00\x00\x02",
    ]);
    let body = cat(&[b"\x00\x04MQTT\x05\x02\x00\x00", &props, b"\x00\x01c"]);
    protocol_error(&cat(&[&[0x10, body.len() as u8], &body]), V5);
    // A will's Message Expiry Interval twice, around a payload format.
    let will = b"\x0c\x02\x00\x00\x00\x01\x01\x00\x02\x00\x00\x00\x02\x00\x01t\x00\x00";
    protocol_error(&connect(0x06, will), V5);
}

// ------------------------------------------- variable byte integers, lengths

#[test]
fn non_minimal_variable_byte_integers_decode_to_their_value_mqtt_1_5_5_1() {
    // [MQTT-1.5.5-1] binds the sender (the encoder always writes the
    // shortest form); no statement makes a longer form Malformed, and
    // section 4.13.1 leaves the receiver's rigor to the implementation, so
    // the value is taken as it parses.
    let same = |long: &[u8], short: &[u8]| {
        let expected = dec(short, V5).expect("the short form decodes");
        decodes_to(long, V5, expected);
    };
    // Remaining length in two and in four bytes.
    same(
        b"\x30\x8b\x00\x00\x03a/b\x00hello",
        b"\x30\x0b\x00\x03a/b\x00hello",
    );
    same(
        b"\x30\x8b\x80\x80\x00\x00\x03a/b\x00hello",
        b"\x30\x0b\x00\x03a/b\x00hello",
    );
    // Property length.
    same(
        b"\x30\x0c\x00\x03a/b\x80\x00hello",
        b"\x30\x0b\x00\x03a/b\x00hello",
    );
    // Subscription Identifier, in SUBSCRIBE and in PUBLISH.
    same(
        b"\x82\x0a\x00\x01\x03\x0b\x81\x00\x00\x01t\x00",
        b"\x82\x09\x00\x01\x02\x0b\x01\x00\x01t\x00",
    );
    same(
        b"\x30\x09\x00\x01t\x04\x0b\x85\x80\x00x",
        b"\x30\x07\x00\x01t\x02\x0b\x05x",
    );
}

#[test]
fn variable_byte_integer_of_five_bytes_is_malformed_mqtt_1_5_5() {
    // "The maximum number of bytes in the Variable Byte Integer field is
    // four."
    malformed(b"\x30\x09\x00\x01t\x80\x80\x80\x80\x00x", V5);
    malformed(b"\x30\x0a\x00\x01t\x05\x0b\x80\x80\x80\x80x", V5);
}

#[test]
fn property_length_past_the_end_is_malformed() {
    malformed(b"\x10\x0e\x00\x04MQTT\x05\x02\x00\x00\x09\x00\x01c", V5);
    malformed(&connect(0x06, b"\x20\x00\x01t\x00\x00"), V5);
    malformed(b"\x20\x03\x00\x00\x05", V5);
    malformed(b"\x82\x06\x00\x01\x09\x00\x01t", V5);
    malformed(b"\xe0\x02\x00\x05", V5);
    malformed(b"\xf0\x02\x18\x05", V5);
    malformed(
        b"\x10\x11\x00\x04MQTT\x05\x02\x00\x00\xff\xff\xff\x7f\x00\x01c",
        V5,
    );
}

#[test]
fn string_or_binary_past_the_end_of_its_property_block_is_malformed() {
    // The bytes after the block would satisfy the length: the block bounds
    // every value.
    malformed(
        b"\x82\x0e\x00\x01\x05\x26\x00\x01k\x00\x01v\x00\x01t\x00",
        V5,
    );
    malformed(b"\x30\x0c\x00\x01t\x04\x09\x00\x05\xab\xcd\xef\x01\x02", V5);
    malformed(b"\xe0\x08\x00\x04\x1f\x00\x09r\x00\x00", V5);
}

#[test]
fn payload_fields_past_the_end_are_malformed() {
    malformed(&connect(0x42, b"\x00\x05pw"), V5);
    malformed(&connect(0x06, b"\x00\x00\x01t\x00\x03hi"), V5);
    malformed(b"\x10\x0e\x00\x04MQTT\x05\x02\x00\x00\x00\x00\x05c", V5);
}

// -------------------------------------------------- SUBSCRIBE, UNSUBSCRIBE

#[test]
fn subscription_options_every_byte_value() {
    // Bits 6 and 7 are reserved: "The Server MUST treat a SUBSCRIBE packet
    // as malformed if any of Reserved bits in the Payload are non-zero"
    // [MQTT-3.8.3-5]. "It is a Protocol Error if the Maximum QoS field has
    // the value 3" and "to send a Retain Handling value of 3" (3.8.3.1).
    let mut accepted = 0;
    for byte in 0..=255u8 {
        let wire = [0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b't', byte];
        if byte & 0xC0 != 0 {
            malformed(&wire, V5);
        } else if byte & 0x03 == 3 || (byte >> 4) & 0x03 == 3 {
            protocol_error(&wire, V5);
        } else {
            let options = SubOptions {
                qos: QoS::from_u8(byte & 0x03).unwrap(),
                no_local: byte & 0x04 != 0,
                retain_as_published: byte & 0x08 != 0,
                retain_handling: (byte >> 4) & 0x03,
            };
            fixture(
                &wire,
                V5,
                Packet::Subscribe(Subscribe {
                    packet_id: 1,
                    filters: vec![(s("t"), options)],
                    properties: Properties::default(),
                }),
            );
            accepted += 1;
        }
    }
    assert_eq!(accepted, 3 * 2 * 2 * 3);
}

#[test]
fn subscribe_and_unsubscribe_need_a_topic_filter_mqtt_3_8_3_2_and_3_10_3_2() {
    protocol_error(b"\x82\x05\x00\x01\x02\x0b\x01", V5);
    protocol_error(b"\xa2\x03\x00\x01\x00", V5);
    // One code per filter [MQTT-3.8.4-6], so SUBACK and UNSUBACK have one.
    protocol_error(b"\x90\x03\x00\x01\x00", V5);
    protocol_error(b"\xb0\x03\x00\x01\x00", V5);
}

#[test]
fn topic_filters_must_be_utf8_mqtt_3_8_3_1_and_3_10_3_1() {
    malformed(b"\x82\x07\x00\x01\x00\x00\x01\xff\x00", V5);
    malformed(b"\xa2\x06\x00\x01\x00\x00\x01\xff", V5);
}

#[test]
fn packet_identifier_0_is_a_protocol_error_mqtt_2_2_1_3() {
    protocol_error(b"\x82\x07\x00\x00\x00\x00\x01t\x00", V5);
    protocol_error(b"\xa2\x06\x00\x00\x00\x00\x01t", V5);
    protocol_error(b"\x32\x06\x00\x01t\x00\x00\x00", V5);
    for first in [0x40, 0x50, 0x62, 0x70] {
        protocol_error(&[first, 0x02, 0x00, 0x00], V5);
    }
}

// ------------------------------------------------------- fixed header

#[test]
fn reserved_fixed_header_flags_are_malformed_mqtt_2_1_3_1() {
    // Every packet type but PUBLISH with every flags value: only the
    // listed one is accepted. PUBREL [MQTT-3.6.1-1], SUBSCRIBE
    // [MQTT-3.8.1-1], UNSUBSCRIBE [MQTT-3.10.1-1], DISCONNECT
    // [MQTT-3.14.1-1] and AUTH [MQTT-3.15.1-1] restate it.
    let packets: [&[u8]; 14] = [
        b"\x10\x0e\x00\x04MQTT\x05\x02\x00\x00\x00\x00\x01c",
        b"\x20\x03\x00\x00\x00",
        b"\x40\x02\x00\x01",
        b"\x50\x02\x00\x01",
        b"\x62\x02\x00\x01",
        b"\x70\x02\x00\x01",
        b"\x82\x07\x00\x01\x00\x00\x01t\x00",
        b"\x90\x04\x00\x01\x00\x00",
        b"\xa2\x06\x00\x01\x00\x00\x01t",
        b"\xb0\x04\x00\x01\x00\x00",
        b"\xc0\x00",
        b"\xd0\x00",
        b"\xe0\x00",
        b"\xf0\x00",
    ];
    for wire in packets {
        assert!(dec(wire, V5).is_ok(), "{wire:02x?}");
        for flags in 0..16u8 {
            if flags != wire[0] & 0x0F {
                let mut bad = wire.to_vec();
                bad[0] = (wire[0] & 0xF0) | flags;
                malformed(&bad, V5);
            }
        }
    }
}
