//! The frame codec: headers both ways, masking, and the decoder fed the
//! same frames whole, one byte at a time and cut at every offset.

use super::decode::{Decoder, FrameError, PeerClose};
use super::frame::{
    apply_mask, encode_frame, parse_header, write_header, Header, Opcode, MAX_HEADER,
};

mod handshake;

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A client frame: masked, `fin` as given.
fn frame(opcode: Opcode, fin: bool, payload: &[u8]) -> Vec<u8> {
    let mut bytes = encode_frame(opcode, payload, Some(MASK));
    if !fin {
        bytes[0] &= 0x7f;
    }
    bytes
}

/// What a decoder makes of `chunks` fed one after another: the payload
/// bytes, the latest pong, the close, or the error.
#[derive(Debug, PartialEq)]
struct Outcome {
    payload: Vec<u8>,
    pongs: Vec<Vec<u8>>,
    close: Option<PeerClose>,
    error: Option<FrameError>,
}

fn run(chunks: &[&[u8]], max: u64) -> Outcome {
    let mut decoder = Decoder::new(max);
    let mut out = Outcome {
        payload: Vec::new(),
        pongs: Vec::new(),
        close: None,
        error: None,
    };
    for chunk in chunks {
        let mut buf = chunk.to_vec();
        match decoder.feed(&mut buf) {
            Ok(n) => out.payload.extend_from_slice(&buf[..n]),
            Err(e) => {
                out.error = Some(e);
                break;
            }
        }
        if let Some(p) = decoder.take_pong() {
            out.pongs.push(p.as_slice().to_vec());
        }
    }
    out.close = decoder.peer_close();
    out
}

/// Runs `wire` whole, one byte at a time, and in two pieces at every cut;
/// checks the close and the error are the same each time, and so are the
/// payload and the last pong when there is no error (those of the read
/// that fails are not returned). Returns the whole run's outcome.
fn at_every_split(wire: &[u8], max: u64) -> Outcome {
    let whole = run(&[wire], max);
    let bytes: Vec<&[u8]> = wire.chunks(1).collect();
    let mut runs = vec![("one byte at a time".to_string(), run(&bytes, max))];
    for cut in 0..=wire.len() {
        let (a, b) = wire.split_at(cut);
        runs.push((format!("cut at {cut}"), run(&[a, b], max)));
    }
    for (how, other) in runs {
        assert_eq!(other.close, whole.close, "{how}");
        assert_eq!(other.error, whole.error, "{how}");
        if whole.error.is_none() {
            assert_eq!(other.pongs.last(), whole.pongs.last(), "{how}");
            assert_eq!(other.payload, whole.payload, "{how}");
        }
    }
    whole
}

#[test]
fn headers_round_trip_at_every_length_encoding() {
    for len in [0u64, 1, 125, 126, 127, 65535, 65536, 1 << 40] {
        for mask in [None, Some(MASK)] {
            let header = Header {
                fin: len % 2 == 0,
                rsv: 0,
                opcode: Opcode::Binary,
                mask,
                len,
            };
            let mut out = [0u8; MAX_HEADER];
            let n = write_header(&header, &mut out);
            let expect =
                2 + match len {
                    0..=125 => 0,
                    126..=65535 => 2,
                    _ => 8,
                } + if mask.is_some() { 4 } else { 0 };
            assert_eq!(n, expect, "len {len}");
            assert_eq!(parse_header(&out[..n]), Some((header, n)));
            assert_eq!(parse_header(&out[..n - 1]), None);
        }
    }
}

#[test]
fn masking_from_any_offset_matches_the_byte_by_byte_definition() {
    let data: Vec<u8> = (0..=255u8).collect();
    for start in 0..8 {
        for len in [0, 1, 3, 4, 5, 17, 200] {
            let mut masked = data[..len].to_vec();
            let end = apply_mask(MASK, start, &mut masked);
            assert_eq!(end, (start + len) % 4);
            for (i, b) in masked.iter().enumerate() {
                assert_eq!(*b, data[i] ^ MASK[(start + i) % 4], "start {start} at {i}");
            }
        }
    }
}

#[test]
fn rfc_6455_examples_decode() {
    // Section 5.7: a masked "Hello" (sent as binary here; text is
    // refused) and an unmasked one.
    let masked = [
        0x82, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    assert_eq!(at_every_split(&masked, 100).payload, b"Hello");
    let unmasked = [0x82, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    let out = run(&[&unmasked], 100);
    assert_eq!(out.error.map(|e| e.code), Some(1002));
}

#[test]
fn fragments_and_interleaved_control_frames_give_one_byte_stream() {
    let wire = [
        frame(Opcode::Binary, false, b"\x10\x0c\x00\x04MQ"),
        frame(Opcode::Ping, true, b"one"),
        frame(Opcode::Continuation, false, b""),
        frame(Opcode::Continuation, true, b"TT\x04\x02\x00\x3c\x00\x00"),
        frame(Opcode::Pong, true, b"unasked"),
        frame(Opcode::Binary, true, &[0xc0, 0x00, 0xc0, 0x00]),
        frame(Opcode::Ping, true, b""),
    ]
    .concat();
    let out = at_every_split(&wire, 64);
    assert_eq!(
        out.payload,
        b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00\xc0\x00\xc0\x00"
    );
    // Fed whole, only the latest ping is answered.
    assert_eq!(out.pongs, [Vec::<u8>::new()]);
    let bytes: Vec<&[u8]> = wire.chunks(1).collect();
    assert_eq!(run(&bytes, 64).pongs, [b"one".to_vec(), Vec::new()]);
    assert_eq!(out.close, None);
    assert_eq!(out.error, None);
}

#[test]
fn only_the_latest_ping_is_answered() {
    let wire = [
        frame(Opcode::Ping, true, b"a"),
        frame(Opcode::Ping, true, b"b"),
        frame(Opcode::Ping, true, b"c"),
    ]
    .concat();
    assert_eq!(run(&[&wire], 10).pongs, [b"c".to_vec()]);
}

#[test]
fn a_close_frame_ends_the_stream_and_what_follows_is_ignored() {
    let wire = [
        frame(Opcode::Binary, true, b"abc"),
        frame(Opcode::Close, true, &[0x03, 0xe8, b'b', b'y', b'e']),
        frame(Opcode::Binary, true, b"ignored"),
        vec![0xff, 0xff],
    ]
    .concat();
    let out = at_every_split(&wire, 100);
    assert_eq!(out.payload, b"abc");
    assert_eq!(out.close, Some(PeerClose { code: Some(1000) }));
    assert_eq!(out.error, None);
    let empty = at_every_split(&frame(Opcode::Close, true, b""), 100);
    assert_eq!(empty.close, Some(PeerClose { code: None }));
}

#[test]
fn protocol_violations_are_refused_with_their_close_codes() {
    let big = [0u8; 200];
    let unmasked = encode_frame(Opcode::Binary, b"x", None);
    let mut rsv = frame(Opcode::Binary, true, b"x");
    rsv[0] |= 0x40;
    let cases: Vec<(Vec<u8>, u16)> = vec![
        (unmasked, 1002),
        (rsv, 1002),
        (frame(Opcode::Text, true, b"hi"), 1003),
        (frame(Opcode::Reserved(3), true, b""), 1002),
        (frame(Opcode::Reserved(0xb), true, b""), 1002),
        (frame(Opcode::Continuation, true, b"x"), 1002),
        (
            [
                frame(Opcode::Binary, false, b"x"),
                frame(Opcode::Binary, true, b"y"),
            ]
            .concat(),
            1002,
        ),
        (frame(Opcode::Ping, false, b""), 1002),
        (frame(Opcode::Ping, true, &big[..126]), 1002),
        (frame(Opcode::Binary, true, &big[..101]), 1009),
        (
            [
                frame(Opcode::Binary, false, &big[..60]),
                frame(Opcode::Continuation, true, &big[..41]),
            ]
            .concat(),
            1009,
        ),
        (frame(Opcode::Close, true, &[3]), 1002),
        (frame(Opcode::Close, true, &[0x03, 0xed]), 1002),
        (frame(Opcode::Close, true, &[0x03, 0xe8, 0xff]), 1007),
    ];
    for (wire, code) in cases {
        let out = at_every_split(&wire, 100);
        assert_eq!(out.error.map(|e| e.code), Some(code), "{wire:02x?}");
    }
}

#[test]
fn an_oversized_frame_is_refused_from_its_header_alone() {
    let mut head = [0u8; MAX_HEADER];
    let header = Header {
        fin: true,
        rsv: 0,
        opcode: Opcode::Binary,
        mask: Some(MASK),
        len: 1 << 62,
    };
    let n = write_header(&header, &mut head);
    let out = run(&[&head[..n]], 1 << 20);
    assert_eq!(out.error.map(|e| e.code), Some(1009));
    let mut top = head;
    top[2] = 0x80;
    assert_eq!(
        run(&[&top[..n]], u64::MAX).error.map(|e| e.code),
        Some(1002)
    );
}
