//! Byte tests eight at a time on a `u64` ("SIMD within a register"), for
//! the checks every PUBLISH topic goes through (the codec's string check,
//! the topic name rules, the route cache's hash): callgrind counts about
//! two instructions a byte for a byte-at-a-time loop, a third of that here.
//! Pure functions; the tests hold them to the simple loops.

/// Every byte 0x01.
pub const LO: u64 = 0x0101_0101_0101_0101;
/// Every byte's top bit.
pub const HI: u64 = 0x8080_8080_8080_8080;

/// The top bit of each byte of `w` that is zero (and possibly of bytes
/// above a zero byte; the result is non-zero exactly when some byte is
/// zero, which is all its callers ask).
#[inline(always)]
pub fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(LO) & !w & HI
}

/// Folds `f` over `b` with `|`, as little-endian 8-byte words. Each byte
/// is in at least one word, some in two: the last word overlaps the one
/// before it rather than leaving a tail, and shorter inputs are widened
/// from two overlapping 4-byte loads, or three byte loads, to one word
/// (no loop over a tail, no copy to a buffer). `pad` stands in for the
/// bytes of that word that repeat others and must be a byte no test
/// looks for; the checks below only ask "is some byte bad?", which a
/// byte seen twice cannot change.
#[inline(always)]
fn fold(b: &[u8], pad: u8, f: impl Fn(u64) -> u64) -> u64 {
    let n = b.len();
    let word = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[at..at + 8]);
        u64::from_le_bytes(w)
    };
    if n >= 8 {
        let mut acc = 0;
        let mut at = 0;
        while at + 8 < n {
            acc |= f(word(at));
            at += 8;
        }
        return acc | f(word(n - 8));
    }
    let pad = LO * u64::from(pad);
    let w = match (b.first_chunk::<4>(), b.last_chunk::<4>()) {
        (Some(lo), Some(hi)) => {
            u64::from(u32::from_le_bytes(*lo)) | u64::from(u32::from_le_bytes(*hi)) << 32
        }
        _ if n > 0 => {
            (pad & !0xFF_FFFF)
                | u64::from(b[0])
                | u64::from(b[n / 2]) << 8
                | u64::from(b[n - 1]) << 16
        }
        _ => pad,
    };
    f(w)
}

/// True when every byte of `b` is ASCII other than NUL.
#[inline]
pub fn ascii_without_nul(b: &[u8]) -> bool {
    fold(b, b'a', |w| w | zero_bytes(w)) & HI == 0
}

/// True when `b` holds a `+`, a `#` or a NUL: what a topic name may not.
#[inline]
pub fn has_wildcard_or_nul(b: &[u8]) -> bool {
    const PLUS: u64 = LO * b'+' as u64;
    const HASH: u64 = LO * b'#' as u64;
    fold(b, b'a', |w| {
        zero_bytes(w) | zero_bytes(w ^ PLUS) | zero_bytes(w ^ HASH)
    }) != 0
}

/// `a == b` for slices of one length, in overlapping word loads: no
/// `memcmp` call for the short strings topics are.
#[inline]
pub fn same(a: &[u8], b: &[u8]) -> bool {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return match (a.first_chunk::<4>(), b.first_chunk::<4>()) {
            (Some(a0), Some(b0)) => a0 == b0 && a.last_chunk::<4>() == b.last_chunk::<4>(),
            _ => a.iter().zip(b).all(|(x, y)| x == y),
        };
    }
    let word = |s: &[u8], at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_le_bytes(w)
    };
    let mut at = 0;
    while at + 8 < n {
        if word(a, at) != word(b, at) {
            return false;
        }
        at += 8;
    }
    // The last eight bytes, which may overlap the words before.
    word(a, n - 8) == word(b, n - 8)
}

/// A 32-bit hash of `b`, a word at a time (for the route cache's slot).
#[inline]
pub fn hash(b: &[u8]) -> u32 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = b.len() as u64;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(word))
            .wrapping_mul(K)
            .rotate_left(29);
    }
    // The tail in at most two loads, overlapping, with no copy to a
    // buffer (which is a `memcpy` call): the length is in `h` already, so
    // these still tell every tail of one length apart.
    let tail = chunks.remainder();
    let n = tail.len();
    let last = match (tail.first_chunk::<4>(), tail.last_chunk::<4>()) {
        (Some(lo), Some(hi)) => {
            u64::from(u32::from_le_bytes(*lo)) | u64::from(u32::from_le_bytes(*hi)) << 32
        }
        _ if n > 0 => {
            u64::from(tail[0]) | u64::from(tail[n / 2]) << 8 | u64::from(tail[n - 1]) << 16
        }
        _ => 0,
    };
    h = (h ^ last).wrapping_mul(K);
    (h >> 32) as u32 ^ h as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Rng;

    #[test]
    fn every_byte_at_every_position_is_found_as_the_simple_loops_find_it() {
        for len in 1..=40usize {
            for pos in 0..len {
                for c in 0..=255u8 {
                    let mut b = vec![b'a'; len];
                    b[pos] = c;
                    assert_eq!(
                        has_wildcard_or_nul(&b),
                        c == b'+' || c == b'#' || c == 0,
                        "byte {c:#x} at {pos} of {len}"
                    );
                    assert_eq!(
                        ascii_without_nul(&b),
                        (1..=0x7F).contains(&c),
                        "byte {c:#x} at {pos} of {len}"
                    );
                }
            }
        }
        assert!(!has_wildcard_or_nul(b""));
        assert!(ascii_without_nul(b""));
    }

    #[test]
    fn random_strings_agree_with_the_simple_loops() {
        let mut rng = Rng(7);
        for _ in 0..20_000 {
            let len = (rng.next() % 70) as usize;
            let b: Vec<u8> = (0..len)
                .map(|_| match rng.next() % 4 {
                    0 => (rng.next() % 256) as u8,
                    _ => b'a' + (rng.next() % 26) as u8,
                })
                .collect();
            assert_eq!(
                has_wildcard_or_nul(&b),
                b.iter().any(|&c| c == b'+' || c == b'#' || c == 0)
            );
            assert_eq!(
                ascii_without_nul(&b),
                b.iter().all(|&c| (1..=0x7F).contains(&c))
            );
        }
    }

    #[test]
    fn same_finds_every_differing_byte() {
        for len in 0..=40usize {
            let a: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            assert!(same(&a, &a.clone()), "length {len}");
            for pos in 0..len {
                let mut b = a.clone();
                b[pos] ^= 0x20;
                assert!(!same(&a, &b), "byte {pos} of {len}");
            }
        }
    }

    #[test]
    fn the_hash_tells_short_topics_apart() {
        let topics = ["a", "b", "a/b", "a/c", "bench/1/0/data", "bench/1/1/data"];
        let hashes: std::collections::HashSet<u32> =
            topics.iter().map(|t| hash(t.as_bytes())).collect();
        assert_eq!(hashes.len(), topics.len());
        assert_ne!(hash(b"abcdefgh"), hash(b"abcdefgh\0"), "the length counts");
        // Every tail length, each byte of it changed in turn.
        for len in 0..=24usize {
            let base = vec![b'a'; len];
            for pos in 0..len {
                let mut other = base.clone();
                other[pos] = b'b';
                assert_ne!(hash(&base), hash(&other), "byte {pos} of {len}");
            }
        }
    }
}
