//! The codec target. Input: one byte choosing the protocol level the
//! connection speaks (3, 4 or 5) and the maximum packet size, then a byte
//! stream framed as a connection's receive buffer is.
//!
//! Checked for every frame:
//! - [`check`] never reports more than is buffered, and refuses a packet
//!   over the maximum from its fixed header;
//! - a packet that decodes encodes to a frame that `check` sizes exactly
//!   and that decodes to the same packet (round trip);
//! - the fast encoders ([`encode_publish_header`], [`encode_plain_ack`])
//!   write the same bytes as [`encode`].

use bytes::{Bytes, BytesMut};

use crate::codec::{
    check, decode, decode_publish_frame, encode, encode_plain_ack, encode_publish_header,
    is_publish, publish_header_len, AckKind, Check, DecodeError, Packet, Properties, Protocol,
    PublishHeader,
};

/// The maximum packet sizes the selector byte chooses from.
const MAX_SIZES: [usize; 4] = [usize::MAX, 268_435_455, 1024, 64];

/// Runs one input (see the module doc).
pub fn run(data: &[u8]) {
    let Some((&select, mut rest)) = data.split_first() else {
        return;
    };
    let protocol = [Protocol::V31, Protocol::V311, Protocol::V5][usize::from(select % 3)];
    let max = MAX_SIZES[usize::from(select >> 2) % MAX_SIZES.len()];
    while !rest.is_empty() {
        match check(rest, max) {
            Ok(Check::Ready { total }) => {
                assert!(total <= rest.len() && total <= max, "check sized {total}");
                round_trip(Bytes::copy_from_slice(&rest[..total]), protocol);
                rest = &rest[total..];
            }
            Ok(Check::Incomplete { total }) => {
                if let Some(total) = total {
                    assert!(total > rest.len() && total <= max, "incomplete {total}");
                }
                // A connection would wait for more; decoding the partial
                // frame must still fail cleanly.
                let _ = decode(Bytes::copy_from_slice(rest), protocol);
                return;
            }
            Err(DecodeError::TooLarge { size, max: m }) => {
                assert!(size > m && m == max, "too large {size} > {m}");
                return;
            }
            Err(_) => return,
        }
    }
}

/// Decodes `frame`; if it decodes, checks the encoders against it.
fn round_trip(frame: Bytes, protocol: Protocol) {
    let decoded = decode(frame.clone(), protocol);
    if is_publish(&frame) {
        // The broker's PUBLISH path gives the same verdict.
        let fast = decode_publish_frame(frame, protocol).map(Packet::Publish);
        assert_eq!(fast, decoded, "decode_publish_frame");
    }
    let Ok(packet) = decoded else {
        return;
    };
    let protocol = match &packet {
        Packet::Connect(c) => c.protocol,
        _ => protocol,
    };
    let mut wire = BytesMut::new();
    encode(&packet, protocol, &mut wire);
    assert_eq!(
        check(&wire, usize::MAX),
        Ok(Check::Ready { total: wire.len() }),
        "re-encoded {packet:?}"
    );
    let again = decode(wire.clone().freeze(), protocol);
    assert_eq!(again.as_ref(), Ok(&packet), "round trip of {wire:02x?}");
    match &packet {
        Packet::Publish(p) => {
            let header = PublishHeader::of(p);
            let mut fast = BytesMut::new();
            encode_publish_header(&header, protocol, &mut fast);
            assert_eq!(fast.len(), publish_header_len(&header, protocol));
            fast.extend_from_slice(&p.payload);
            assert_eq!(fast, wire, "publish header of {p:?}");
        }
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a)
            if a.properties == Properties::default() =>
        {
            let kind = match &packet {
                Packet::PubAck(_) => AckKind::PubAck,
                Packet::PubRec(_) => AckKind::PubRec,
                Packet::PubRel(_) => AckKind::PubRel,
                _ => AckKind::PubComp,
            };
            let mut fast = BytesMut::new();
            encode_plain_ack(kind, a.packet_id, a.reason, protocol, &mut fast);
            assert_eq!(fast, wire, "plain ack of {a:?}");
        }
        _ => {}
    }
}
