//! MQTT 5 packets the decoder refuses, each named after the normative
//! statement it enforces where the specification has one ([MQTT-x.y.z-n]),
//! else after its section. Malformed Packet (0x81) where the bytes cannot
//! be parsed or the specification says so, Protocol Error (0x82) where
//! well-formed bytes break a rule.

use super::tests::{assert_stable, dec, malformed, protocol_error, reasons};
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
