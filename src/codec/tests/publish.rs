//! PUBLISH: fixtures for every version and QoS, zero-copy, one test per
//! malformed case, and the header encoder against the whole encoding.

use super::*;

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
