//! The WebSocket target (with the `websockets` feature). Input: a
//! selector byte (the handshake's header limit and the decoder's message
//! limit), then bytes taken three ways: as an upgrade request, as client
//! frames, and as the pieces of a message to frame and decode again.
//!
//! Checked: nothing panics; the handshake parser answers the same for a
//! request read whole or cut anywhere (incomplete before its blank line,
//! the same upgrade after), never past the limit; the frame decoder gives
//! the same close and error whole, byte by byte and in two pieces at every
//! cut (sampled cuts for long inputs), the same payload and latest pong
//! when there is no error, and never more payload than it was given;
//! headers and whole frames encode and decode to what they were:
//! decode(encode(x)) == x.

use crate::ws::decode::{Decoder, FrameError, PeerClose};
use crate::ws::frame::{
    encode_frame, parse_header, write_header, Header, Opcode, MAX_CONTROL, MAX_HEADER,
};
use crate::ws::handshake::{parse, refusal_response, response};

/// Up to this length every cut is tried; past it, this many.
const ALL_CUTS: usize = 256;

/// Runs one input (see the module doc).
pub fn run(data: &[u8]) {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let limit = 32usize << (selector & 0x07);
    let max_message = 1u64 << ((selector >> 3) & 0x1f);
    handshake(input, limit);
    frames(input, max_message);
    round_trip(selector, input);
}

/// The cut points tried on `len` bytes.
fn cuts(len: usize) -> Vec<usize> {
    if len <= ALL_CUTS {
        (0..=len).collect()
    } else {
        (0..=ALL_CUTS).map(|i| i * len / ALL_CUTS).collect()
    }
}

fn handshake(input: &[u8], limit: usize) {
    let whole = parse(input, limit);
    match whole {
        Ok(Some(upgrade)) => {
            assert!(
                upgrade.len <= input.len().min(limit),
                "past the input or limit"
            );
            assert!(response(&upgrade).starts_with(b"HTTP/1.1 101 "));
            for cut in cuts(input.len()) {
                let part = parse(&input[..cut], limit);
                if cut < upgrade.len {
                    assert_eq!(part, Ok(None), "a prefix of a valid request at {cut}");
                } else {
                    assert_eq!(part, Ok(Some(upgrade)), "a longer request at {cut}");
                }
            }
        }
        Ok(None) => {
            assert!(input.len() < limit, "incomplete past the limit");
            for cut in cuts(input.len()) {
                assert_eq!(parse(&input[..cut], limit), Ok(None), "cut at {cut}");
            }
        }
        Err(refusal) => {
            let answer = refusal_response(refusal);
            let (code, _) = refusal.status();
            assert!(answer.starts_with(format!("HTTP/1.1 {code} ").as_bytes()));
        }
    }
}

/// What feeding `chunks` gives.
#[derive(Debug, PartialEq)]
struct Outcome {
    payload: Vec<u8>,
    last_pong: Option<Vec<u8>>,
    close: Option<PeerClose>,
    error: Option<FrameError>,
}

fn feed<'a>(chunks: impl Iterator<Item = &'a [u8]>, max_message: u64) -> Outcome {
    let mut decoder = Decoder::new(max_message);
    let mut out = Outcome {
        payload: Vec::new(),
        last_pong: None,
        close: None,
        error: None,
    };
    let mut buf = Vec::new();
    for chunk in chunks {
        buf.clear();
        buf.extend_from_slice(chunk);
        match decoder.feed(&mut buf) {
            Ok(n) => {
                assert!(n <= chunk.len(), "more payload than input");
                out.payload.extend_from_slice(&buf[..n]);
            }
            Err(e) => {
                out.error = Some(e);
                break;
            }
        }
        if let Some(pong) = decoder.take_pong() {
            assert!(pong.as_slice().len() <= MAX_CONTROL);
            out.last_pong = Some(pong.as_slice().to_vec());
        }
    }
    out.close = decoder.peer_close();
    out
}

/// The payload and the pong of the read that fails are not returned, so
/// they are compared only when there is no error.
fn same(a: &Outcome, b: &Outcome, how: &str) {
    assert_eq!(a.close, b.close, "{how}");
    assert_eq!(a.error, b.error, "{how}");
    if a.error.is_none() {
        assert_eq!(a.last_pong, b.last_pong, "{how}");
        assert_eq!(a.payload, b.payload, "{how}");
    }
}

fn frames(input: &[u8], max_message: u64) {
    let whole = feed(std::iter::once(input), max_message);
    same(&feed(input.chunks(1), max_message), &whole, "byte by byte");
    for cut in cuts(input.len()) {
        let (a, b) = input.split_at(cut);
        same(&feed([a, b].into_iter(), max_message), &whole, "two pieces");
    }
}

/// The input's bytes as a message in fragments, with pings between them
/// and a header of the selector's making; all of it must decode to what
/// was encoded.
fn round_trip(selector: u8, input: &[u8]) {
    let mut head = [0u8; MAX_HEADER];
    let len_bytes: [u8; 8] = std::array::from_fn(|i| input.get(i).copied().unwrap_or(0));
    let header = Header {
        fin: selector & 1 != 0,
        rsv: (selector >> 1) & 0x07,
        opcode: Opcode::from_bits(selector >> 4),
        mask: (selector & 0x80 != 0).then_some([selector, 1, 2, 3]),
        len: u64::from_be_bytes(len_bytes) >> (selector & 0x3f),
    };
    let n = write_header(&header, &mut head);
    assert_eq!(parse_header(&head[..n]), Some((header, n)));

    let mask = [selector, selector ^ 0x5a, 0xa5, selector.wrapping_mul(7)];
    let step = usize::from(selector % 17) + 1;
    let pieces: Vec<&[u8]> = input.chunks(step).collect();
    let mut wire = Vec::new();
    let mut ping = None;
    for (i, piece) in pieces.iter().enumerate() {
        let opcode = if i == 0 {
            Opcode::Binary
        } else {
            Opcode::Continuation
        };
        let mut bytes = encode_frame(opcode, piece, Some(mask));
        if i + 1 < pieces.len() {
            bytes[0] &= 0x7f;
        }
        wire.extend_from_slice(&bytes);
        if i % 3 == 1 {
            let payload = &piece[..piece.len().min(MAX_CONTROL)];
            wire.extend_from_slice(&encode_frame(Opcode::Ping, payload, Some(mask)));
            ping = Some(payload.to_vec());
        }
    }
    let out = feed(std::iter::once(&wire[..]), u64::MAX >> 1);
    assert_eq!(out.error, None);
    assert_eq!(out.payload, input, "decode(encode(x)) != x");
    assert_eq!(out.last_pong, ping);
    frames(&wire, u64::MAX >> 1);
}
