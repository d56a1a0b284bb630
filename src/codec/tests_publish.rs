//! The PUBLISH hot paths against the general ones: every header the
//! per-subscriber encoder can write, over a grid of fields, decodes back
//! to the fields it was given, with the length `publish_header_len`
//! predicts, at every size of remaining length.

use bytes::{Bytes, BytesMut};

use super::tests::dec;
use super::*;

const V311: Protocol = Protocol::V311;
const V5: Protocol = Protocol::V5;

/// The passthrough bytes of a Content Type "a/b" property.
const CONTENT_TYPE: &[u8] = &[0x03, 0x00, 0x03, b'a', b'/', b'b'];

#[test]
fn every_publish_header_decodes_back_to_its_fields() {
    let long_topic = "t/".repeat(150);
    let mut cases = 0;
    for protocol in [V311, V5] {
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            for topic in ["", "a", "sensors/kitchen/t", long_topic.as_str()] {
                // Lengths that take 1, 2, 3 and 4 remaining-length bytes.
                for payload_len in [0usize, 64, 200, 20_000, 2_200_000] {
                    for expiry in [None, Some(0), Some(0x0102_0304)] {
                        for alias in [None, Some(1), Some(0xFFFF)] {
                            for ids in [&[][..], &[7], &[1, 200_000, 268_435_455]] {
                                for passthrough in [&[][..], CONTENT_TYPE] {
                                    if protocol == V311
                                        && (expiry.is_some()
                                            || alias.is_some()
                                            || !ids.is_empty()
                                            || !passthrough.is_empty())
                                    {
                                        continue;
                                    }
                                    if topic.is_empty() && (protocol == V311 || alias.is_none()) {
                                        continue;
                                    }
                                    let header = PublishHeader {
                                        dup: qos != QoS::AtMostOnce,
                                        qos,
                                        retain: payload_len % 2 == 0,
                                        topic,
                                        packet_id: 0xBEEF,
                                        message_expiry: expiry,
                                        topic_alias: alias,
                                        subscription_ids: ids,
                                        passthrough,
                                        payload_len,
                                    };
                                    round_trip(&header, protocol);
                                    cases += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(cases > 1000, "{cases} cases");
}

/// Encodes `header` after some bytes already staged, appends its payload,
/// and decodes the result.
fn round_trip(header: &PublishHeader<'_>, protocol: Protocol) {
    let mut out = BytesMut::from(&b"staged"[..]);
    encode_publish_header(header, protocol, &mut out);
    let staged = out.split_to(6);
    assert_eq!(&staged[..], b"staged", "bytes staged before are kept");
    assert_eq!(
        out.len(),
        publish_header_len(header, protocol),
        "{header:?}"
    );
    out.resize(out.len() + header.payload_len, 0x5A);
    let wire = out.freeze();
    let Ok(Packet::Publish(p)) = dec(&wire, protocol) else {
        panic!("{header:?} does not decode: {:?}", dec(&wire, protocol));
    };
    assert_eq!(
        (p.dup, p.qos, p.retain, p.topic.as_str()),
        (header.dup, header.qos, header.retain, header.topic),
        "{header:?}"
    );
    let want_id = if header.qos == QoS::AtMostOnce {
        0
    } else {
        header.packet_id
    };
    assert_eq!(p.packet_id, want_id);
    assert_eq!(p.properties.message_expiry, header.message_expiry);
    assert_eq!(p.properties.topic_alias, header.topic_alias);
    assert_eq!(p.properties.subscription_ids, header.subscription_ids);
    assert_eq!(&p.properties.passthrough[..], header.passthrough);
    assert_eq!(p.payload.len(), header.payload_len);
    assert_eq!(
        (p.payload.first(), p.payload.last()),
        (payload_first(header), payload_first(header))
    );
}

#[test]
fn the_fast_decoder_hands_over_the_frame_as_the_payload() {
    // [MQTT-3.3.2-1] the topic comes first; a 5.0 PUBLISH with no
    // properties carries a zero property length.
    let wire = Bytes::from_static(b"\x30\x0b\x00\x03a/b\x00hello");
    let p = decode_publish_frame(wire.clone(), V5).unwrap();
    assert_eq!((p.topic.as_str(), &p.payload[..]), ("a/b", &b"hello"[..]));
    assert_eq!(
        p.payload.as_ptr(),
        wire[wire.len() - 5..].as_ptr(),
        "zero-copy: the payload points into the frame"
    );
    // Packet id 0 at QoS 1 is a protocol error [MQTT-2.2.1-3], from
    // either path.
    let zero_id = Bytes::from_static(b"\x32\x08\x00\x01a\x00\x00\x00hi");
    assert_eq!(
        decode_publish_frame(zero_id, V5),
        Err(DecodeError::Protocol("packet identifier 0"))
    );
}

/// The payload's first (and last) byte as `round_trip` wrote it.
fn payload_first(header: &PublishHeader<'_>) -> Option<&'static u8> {
    (header.payload_len > 0).then_some(&0x5A)
}
