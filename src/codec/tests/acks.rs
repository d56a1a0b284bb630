//! PUBACK, PUBREC, PUBREL and PUBCOMP in their 3.x and 5.0 forms.

use super::*;

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
