//! Per (subscriber, publisher) delivery accounting from sequence numbers.
//!
//! In-order arrivals cost two additions. A jump forward records the skipped
//! range as a gap; a later arrival inside a gap is out-of-order, one below
//! the highest seen and in no gap is a duplicate. At most `MAX_GAPS` gaps
//! are remembered (the oldest is forgotten first, its late arrivals then
//! count as duplicates), so a lossy broker cannot make the tool grow.

/// Bound on remembered gaps per link.
const MAX_GAPS: usize = 1024;

/// Delivery counts for the messages of one publisher at one subscriber.
#[derive(Default)]
pub struct Tally {
    next: u64,
    unique: u64,
    duplicated: u64,
    out_of_order: u64,
    gaps: Vec<(u64, u64)>,
}

impl Tally {
    /// Records the arrival of sequence number `seq`.
    pub fn record(&mut self, seq: u64) {
        if seq == self.next {
            self.next += 1;
            self.unique += 1;
        } else if seq > self.next {
            if self.gaps.len() == MAX_GAPS {
                self.gaps.remove(0);
            }
            self.gaps.push((self.next, seq));
            self.next = seq + 1;
            self.unique += 1;
        } else if let Some(at) = self.gaps.iter().position(|&(lo, hi)| lo <= seq && seq < hi) {
            let (lo, hi) = self.gaps[at];
            match (seq == lo, seq + 1 == hi) {
                (true, true) => {
                    self.gaps.remove(at);
                }
                (true, false) => self.gaps[at].0 = seq + 1,
                (false, true) => self.gaps[at].1 = seq,
                (false, false) => {
                    self.gaps[at].1 = seq;
                    self.gaps.insert(at + 1, (seq + 1, hi));
                }
            }
            self.out_of_order += 1;
            self.unique += 1;
        } else {
            self.duplicated += 1;
        }
    }

    /// One past the highest sequence number seen: how far the publisher's
    /// credit window has been consumed at this subscriber.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// Distinct messages received.
    pub fn unique(&self) -> u64 {
        self.unique
    }

    /// Messages received more than once (extra copies).
    pub fn duplicated(&self) -> u64 {
        self.duplicated
    }

    /// Messages that arrived after a later one of the same publisher.
    pub fn out_of_order(&self) -> u64 {
        self.out_of_order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seqs: &[u64]) -> Tally {
        let mut t = Tally::default();
        for &s in seqs {
            t.record(s);
        }
        t
    }

    #[test]
    fn in_order_stream() {
        let t = run(&[0, 1, 2, 3]);
        assert_eq!(
            (t.next(), t.unique(), t.duplicated(), t.out_of_order()),
            (4, 4, 0, 0)
        );
    }

    #[test]
    fn gap_then_late_arrivals_are_out_of_order() {
        let t = run(&[0, 4, 2, 1, 3, 5]);
        assert_eq!(
            (t.next(), t.unique(), t.duplicated(), t.out_of_order()),
            (6, 6, 0, 3)
        );
        assert!(t.gaps.is_empty());
    }

    #[test]
    fn repeats_are_duplicates() {
        let t = run(&[0, 1, 1, 0, 3, 3, 2, 2]);
        assert_eq!((t.unique(), t.duplicated(), t.out_of_order()), (4, 4, 1));
    }

    #[test]
    fn unfilled_gaps_are_missing_from_unique() {
        let t = run(&[0, 5, 9]);
        assert_eq!((t.next(), t.unique()), (10, 3));
        assert_eq!(t.gaps, vec![(1, 5), (6, 9)]);
    }

    #[test]
    fn gap_memory_is_bounded() {
        let seqs: Vec<u64> = (0..(MAX_GAPS as u64 + 10)).map(|i| i * 2 + 1).collect();
        let t = run(&seqs);
        assert_eq!(t.gaps.len(), MAX_GAPS);
        assert_eq!(t.unique(), seqs.len() as u64);
    }
}
