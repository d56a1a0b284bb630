//! A deterministic mutation fuzzer for MQTT 5 decoding (fixed seed, the
//! crate's xorshift generator). It starts from MQTT 5 fixtures: every
//! property in every packet that allows it, every packet with all the
//! properties it allows at once, and the whole-packet fixtures of
//! `tests.rs`. Mutations that have a known verdict are checked against it
//! (a single-use property twice is a Protocol Error, an identifier swapped
//! for one the packet does not allow is Malformed, longer variable byte
//! integers decode to the same packet); the others (lengths grown or
//! shrunk, truncation, flipped, replaced, inserted or removed bytes,
//! stacked) only have to decode without panicking, and whatever decodes
//! must encode and decode again to the same packet.

use super::tests::{all_fixtures, assert_stable, cat, dec, malformed, protocol_error};
use super::tests_v5_props::{body, cases, Case, Ctx, EVERY_CTX};
use super::types::{Packet, Protocol};
use super::{check, Check, DecodeError};
use crate::testutil::Rng;

use Protocol::{V31, V311, V5};

/// `n` as a variable byte integer, padded to at least `width` bytes with
/// continuation bits (a longer form than the minimum when `width` is).
fn varint(mut n: usize, width: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut b = (n & 0x7F) as u8;
        n >>= 7;
        let more = n > 0 || out.len() + 1 < width;
        if more {
            b |= 0x80;
        }
        out.push(b);
        if !more {
            return out;
        }
    }
}

/// A fixture whose property block is known property by property.
struct Seed {
    ctx: Ctx,
    props: Vec<&'static [u8]>,
}

impl Seed {
    fn block(&self) -> Vec<u8> {
        self.props.concat()
    }

    fn wire(&self) -> Vec<u8> {
        assemble(self.ctx, &self.block(), 1, 1, 0)
    }
}

/// A packet of `ctx` around `block`: the property length off by `delta`
/// and written in at least `pl_width` bytes, the remaining length (always
/// consistent) in at least `rl_width` bytes.
fn assemble(ctx: Ctx, block: &[u8], pl_width: usize, rl_width: usize, delta: isize) -> Vec<u8> {
    let pl = (block.len() as isize + delta).max(0) as usize;
    let (first, body) = body(ctx, &cat(&[&varint(pl, pl_width), block]));
    cat(&[&[first], &varint(body.len(), rl_width), &body])
}

const METHOD: &[u8] = b"\x15\x00\x01m";

/// Every property alone where it is allowed, and every packet with all the
/// properties it allows.
fn seeds(cases: &[Case]) -> Vec<Seed> {
    let mut seeds = Vec::new();
    for case in cases {
        for &ctx in case.allowed {
            let mut props = Vec::new();
            if (ctx == Ctx::Auth && case.id != 0x15) || case.id == 0x16 {
                props.push(METHOD);
            }
            props.push(case.bytes);
            seeds.push(Seed { ctx, props });
        }
    }
    for ctx in EVERY_CTX {
        let props = cases
            .iter()
            .filter(|c| c.allowed.contains(&ctx))
            .map(|c| c.bytes)
            .collect();
        seeds.push(Seed { ctx, props });
    }
    seeds
}

fn repeatable(case: &Case, ctx: Ctx) -> bool {
    case.id == 0x26 || (case.id == 0x0B && ctx == Ctx::Publish)
}

#[test]
fn every_packet_with_all_the_properties_it_allows_decodes() {
    let cases = cases();
    for seed in seeds(&cases) {
        let wire = seed.wire();
        let packet = dec(&wire, V5).unwrap_or_else(|e| panic!("{:?} {wire:02x?}: {e}", seed.ctx));
        assert_stable(&packet, V5);
    }
}

#[test]
fn varint_pads_to_the_requested_width() {
    assert_eq!(varint(11, 1), [0x0b]);
    assert_eq!(varint(11, 2), [0x8b, 0x00]);
    assert_eq!(varint(11, 4), [0x8b, 0x80, 0x80, 0x00]);
    assert_eq!(varint(200, 1), [0xc8, 0x01]);
    assert_eq!(varint(0, 3), [0x80, 0x80, 0x00]);
}

/// How many mutants ended which way.
#[derive(Default, Debug)]
struct Tally {
    decoded: usize,
    malformed: usize,
    protocol: usize,
    other: usize,
}

/// The oracle for a mutant without a known verdict: decoding the raw bytes
/// must not panic, and if they frame, what decodes must be stable.
fn judge(buf: &[u8], protocol: Protocol, tally: &mut Tally) {
    let _ = dec(buf, protocol);
    if let Ok(Check::Ready { total }) = check(buf, 1 << 20) {
        match dec(&buf[..total], protocol) {
            Ok(packet) => {
                assert_stable(&packet, protocol);
                tally.decoded += 1;
            }
            Err(DecodeError::Malformed(_)) => tally.malformed += 1,
            Err(DecodeError::Protocol(_)) => tally.protocol += 1,
            Err(_) => tally.other += 1,
        }
    }
}

/// One byte-level mutation; the remaining length is set to match when
/// `refit` (so that the decoder, not only `check`, sees the result).
fn scramble(rng: &mut Rng, buf: &mut Vec<u8>, refit: bool) {
    match rng.below(6) {
        0 => {
            let i = rng.below(buf.len().max(1));
            if let Some(b) = buf.get_mut(i) {
                *b ^= 1 << rng.below(8);
            }
        }
        1 => {
            let i = rng.below(buf.len().max(1));
            if let Some(b) = buf.get_mut(i) {
                *b = rng.byte();
            }
        }
        2 => {
            let i = rng.below(buf.len() + 1);
            buf.insert(i, rng.byte());
        }
        3 if !buf.is_empty() => {
            buf.remove(rng.below(buf.len()));
        }
        4 => buf.truncate(rng.below(buf.len() + 1)),
        _ => {
            for _ in 0..1 + rng.below(6) {
                buf.push(rng.byte());
            }
        }
    }
    if refit && buf.len() >= 2 {
        // Replace the fixed header's length with the real one.
        let mut i = 1;
        while i < buf.len() && i < 5 && buf[i] & 0x80 != 0 {
            i += 1;
        }
        let rest = buf.get(i + 1..).unwrap_or(&[]).to_vec();
        let first = buf[0];
        *buf = cat(&[&[first], &varint(rest.len(), 1), &rest]);
    }
}

#[test]
fn fuzz_v5_mutants_never_panic_keep_their_verdicts_and_round_trip() {
    let cases = cases();
    let seeds = seeds(&cases);
    let whole: Vec<Vec<u8>> = all_fixtures()
        .into_iter()
        .filter(|(_, p)| *p == V5)
        .map(|(w, _)| w)
        .collect();
    let mut rng = Rng(0x5EED_0005_C0DE_C0DE);
    let mut tally = Tally::default();
    let mut verdicts = [0usize; 3];
    for _ in 0..60_000 {
        let seed = &seeds[rng.below(seeds.len())];
        let ctx = seed.ctx;
        match rng.below(8) {
            // A property inserted twice, at two property boundaries.
            0 => {
                let case = &cases[rng.below(cases.len())];
                let mut props = seed.props.clone();
                for _ in 0..2 {
                    props.insert(rng.below(props.len() + 1), case.bytes);
                }
                let wire = assemble(ctx, &props.concat(), 1, 1, 0);
                if !case.allowed.contains(&ctx) {
                    malformed(&wire, V5);
                } else if repeatable(case, ctx) {
                    let packet = dec(&wire, V5).unwrap();
                    assert_stable(&packet, V5);
                } else {
                    protocol_error(&wire, V5);
                }
                verdicts[0] += 1;
            }
            // One identifier swapped for a known one the packet does not
            // allow, or for an unknown one.
            1 => {
                let others: Vec<u8> = cases
                    .iter()
                    .filter(|c| !c.allowed.contains(&ctx))
                    .map(|c| c.id)
                    .chain([0x00, 0x04, 0x0A, 0x14, 0x20, 0x2B, 0x7F, 0x80, 0xFF])
                    .collect();
                let mut props: Vec<Vec<u8>> = seed.props.iter().map(|p| p.to_vec()).collect();
                let i = rng.below(props.len());
                props[i][0] = others[rng.below(others.len())];
                malformed(&assemble(ctx, &props.concat(), 1, 1, 0), V5);
                verdicts[1] += 1;
            }
            // Longer variable byte integers: the same packet.
            2 => {
                let long = assemble(ctx, &seed.block(), 1 + rng.below(4), 1 + rng.below(4), 0);
                assert_eq!(dec(&long, V5), dec(&seed.wire(), V5), "{long:02x?}");
                verdicts[2] += 1;
            }
            // The property length grown or shrunk.
            3 => {
                let delta = [-3, -2, -1, 1, 2, 3][rng.below(6)];
                judge(&assemble(ctx, &seed.block(), 1, 1, delta), V5, &mut tally);
            }
            // Truncated, with or without the remaining length refitted.
            4 => {
                let mut wire = seed.wire();
                wire.truncate(rng.below(wire.len()));
                let refit = rng.one_in(2);
                if refit && wire.len() >= 2 {
                    wire[1] = (wire.len() - 2) as u8;
                }
                judge(&wire, V5, &mut tally);
            }
            // Byte-level mutations, stacked, on a seed or a whole fixture.
            _ => {
                let mut wire = if rng.one_in(4) {
                    whole[rng.below(whole.len())].clone()
                } else {
                    seed.wire()
                };
                let refit = !rng.one_in(4);
                for _ in 0..1 + rng.below(3) {
                    scramble(&mut rng, &mut wire, refit);
                }
                let protocol = if rng.one_in(16) {
                    [V31, V311][rng.below(2)]
                } else {
                    V5
                };
                judge(&wire, protocol, &mut tally);
            }
        }
    }
    // Every way out was taken many times.
    assert!(verdicts.iter().all(|&n| n > 5_000), "{verdicts:?}");
    assert!(tally.decoded > 2_000, "{tally:?}");
    assert!(tally.malformed > 10_000, "{tally:?}");
    assert!(tally.protocol > 1_000, "{tally:?}");
}

#[test]
fn fuzz_v5_a_decoded_publish_keeps_its_payload_bytes() {
    // Zero-copy survives mutation: a PUBLISH that decodes still points into
    // its frame.
    let mut rng = Rng(0xBA11_5EED_0DDB_A115);
    let cases = cases();
    let seeds: Vec<Seed> = seeds(&cases)
        .into_iter()
        .filter(|s| s.ctx == Ctx::Publish)
        .collect();
    let mut checked = 0;
    for _ in 0..5_000 {
        let mut wire = seeds[rng.below(seeds.len())].wire();
        scramble(&mut rng, &mut wire, true);
        let frame = bytes::Bytes::from(wire);
        if let Ok(Packet::Publish(p)) = super::decode(frame.clone(), V5) {
            let range = frame.as_ptr_range();
            let r = p.payload.as_ptr_range();
            assert!(range.start <= r.start && r.end <= range.end);
            checked += 1;
        }
    }
    assert!(checked > 500, "{checked}");
}
