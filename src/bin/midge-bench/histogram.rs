//! A log-linear latency histogram over nanoseconds: exact below 128 ns,
//! then 64 sub-buckets per power of two (relative error under 1.6 %).
//! Fixed size, so recording never allocates; the maximum is kept exactly.

/// Sub-buckets per power of two.
const SUB: usize = 64;
/// log2 of `SUB`.
const SUB_BITS: u32 = 6;
/// Enough buckets for any u64 value.
const BUCKETS: usize = SUB * 59;

/// Counts of latency samples.
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

/// Bucket index of a value.
fn index(v: u64) -> usize {
    if v < (2 * SUB) as u64 {
        return v as usize;
    }
    let shift = 63 - v.leading_zeros() - SUB_BITS;
    let mantissa = (v >> shift) as usize;
    (shift as usize + 1) * SUB + (mantissa - SUB)
}

/// Largest value that falls into bucket `i`.
fn upper(i: usize) -> u64 {
    if i < 2 * SUB {
        return i as u64;
    }
    let shift = (i / SUB - 1) as u32;
    let mantissa = (i % SUB + SUB) as u64;
    // The top bucket's bound wraps to 0 and back to u64::MAX.
    ((mantissa + 1) << shift).wrapping_sub(1)
}

impl Histogram {
    /// An empty histogram; allocated once per run.
    pub fn new() -> Histogram {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
            max: 0,
        }
    }

    /// Records one sample, called per received message.
    pub fn record(&mut self, nanos: u64) {
        if let Some(c) = self.counts.get_mut(index(nanos)) {
            *c += 1;
        }
        self.total += 1;
        self.max = self.max.max(nanos);
    }

    /// Number of samples recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Exact largest sample (0 when empty).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The value at quantile `q` (0..=1): the upper bound of the bucket
    /// holding the sample of that rank, capped at the exact maximum.
    /// Returns 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return upper(i).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_cover_u64() {
        let mut last = 0;
        for v in (0..100_000u64).chain([u64::MAX / 3, u64::MAX]) {
            let i = index(v);
            assert!(i < BUCKETS, "{v} -> {i}");
            assert!(i >= last || v > 100_000);
            last = i;
            assert!(upper(i) >= v, "upper({i}) = {} < {v}", upper(i));
        }
        assert_eq!(index(127), 127);
        assert_eq!(index(128), 128);
        assert_eq!(upper(128), 129);
    }

    #[test]
    fn relative_error_is_small() {
        for v in [1_000u64, 54_321, 7_777_777, 1 << 40] {
            let err = (upper(index(v)) - v) as f64 / v as f64;
            assert!(err < 0.016, "{v}: {err}");
        }
    }

    #[test]
    fn quantiles_of_uniform_samples() {
        let mut h = Histogram::new();
        for v in 1..=10_000u64 {
            h.record(v * 1000);
        }
        assert_eq!(h.count(), 10_000);
        assert_eq!(h.max(), 10_000_000);
        let p50 = h.quantile(0.5) as f64;
        assert!((p50 - 5_000_000.0).abs() / 5_000_000.0 < 0.02, "{p50}");
        let p99 = h.quantile(0.99) as f64;
        assert!((p99 - 9_900_000.0).abs() / 9_900_000.0 < 0.02, "{p99}");
        assert_eq!(h.quantile(1.0), 10_000_000);
    }

    #[test]
    fn empty_and_single() {
        let mut h = Histogram::new();
        assert_eq!(h.quantile(0.99), 0);
        h.record(42);
        assert_eq!(h.quantile(0.0), 42);
        assert_eq!(h.quantile(0.999), 42);
    }
}
