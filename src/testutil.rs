//! Helpers shared by the unit tests.

/// xorshift64: a tiny deterministic generator, so that randomized tests
/// (fuzzing the codec, the topic tree against its reference matcher, the
/// timer wheel against a brute-force model) reproduce exactly.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform-ish in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform-ish in `0..n` (`n` > 0), for 64-bit ranges.
    pub fn below_u64(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True one time in `n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// True `p` percent of the time.
    pub fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }

    pub fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}
