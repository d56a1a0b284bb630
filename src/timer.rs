//! The hashed timer wheel: every deadline in the broker (keep-alive, connect
//! timeout, QoS retry, will delay, session and message expiry) lives here.
//!
//! Contract:
//! - Time is passed in as [`Instant`]s; the wheel never reads the clock, so
//!   tests drive it with a fake clock (`t0 + Duration::from_millis(..)`).
//! - A deadline is rounded *up* to the next tick boundary: a key never fires
//!   early, and fires at the first [`TimerWheel::expire`] whose `now` has
//!   reached that boundary. A deadline at or before the last processed tick
//!   (a time in the past) fires at the very next `expire()`.
//! - There is no cancel: the key carries a generation (for example
//!   `(slab index, generation, kind)`) and the caller drops a stale key when
//!   it fires (lazy cancellation).
//! - [`TimerWheel::next_deadline`] is the poll timeout of every loop turn:
//!   it is a cached value, read in O(1), and is never later than the instant
//!   at which `expire()` would return something.
//!
//! # Design
//! One level of [`SLOTS`] slots; slot `tick % SLOTS` holds every entry due
//! at `tick`, whatever its turn. An entry stores its turn (`tick / SLOTS`,
//! a `u32`) next to the key, so with a `(u32, u32, u8)` key an entry is 16
//! bytes. An entry more than one turn away (session expiry, days) stays in
//! its slot and is looked at once per turn (every 51.2 s at a 100 ms tick)
//! until its turn comes. A hierarchical wheel would avoid that look but
//! must move (cascade) every far entry down the levels; for a broker, whose
//! far deadlines are few next to its keep-alive and retry deadlines, one
//! cheap pass per turn is simpler and does no more work.
//!
//! Cost: `schedule` is O(1) amortised; `expire` is O(entries fired +
//! entries looked at in the slots it passes), and passes at most one full
//! turn of slots however far `now` jumps (a jump of more than a turn sorts
//! what it fires so it still comes out in deadline order).

use std::time::{Duration, Instant};

/// Slots per turn of the wheel (a power of two).
pub const SLOTS: usize = 512;

/// Words in the bitmap of occupied slots.
const WORDS: usize = SLOTS / 64;

/// One scheduled key: its turn (`tick / SLOTS`) and the caller's key. The
/// slot it sits in gives the rest of its tick.
#[derive(Debug, Clone, Copy)]
struct Entry<K> {
    turn: u32,
    key: K,
}

/// A hashed timer wheel of [`SLOTS`] slots; see the module documentation.
///
/// `K` is the caller's key, typically `(slab index, generation, kind)`;
/// stale keys are dropped by the caller when they fire.
#[derive(Debug)]
pub struct TimerWheel<K> {
    /// The clock origin: tick `n` is the instant `start + n * tick`.
    start: Instant,
    /// The resolution, in nanoseconds (at least 1).
    tick_nanos: u128,
    /// Every deadline at or before this tick has fired.
    processed: u64,
    /// Entries per slot.
    slots: Vec<Vec<Entry<K>>>,
    /// The smallest turn among the entries of each slot (`u32::MAX` when the
    /// slot is empty); kept exact so the next deadline can be found without
    /// looking at entries.
    min_turn: Vec<u32>,
    /// Bit `s` is set when slot `s` holds at least one entry.
    occupied: [u64; WORDS],
    /// Keys scheduled at or before `processed`: they fire at the next
    /// `expire()`, before anything in the slots.
    overdue: Vec<K>,
    /// Number of entries in the slots (not counting `overdue`).
    in_slots: usize,
    /// The earliest tick held in the slots, if any.
    next_tick: Option<u64>,
    /// Scratch space for a jump of more than one turn, kept to avoid an
    /// allocation per jump.
    scratch: Vec<(u64, K)>,
}

impl<K: Copy> TimerWheel<K> {
    /// Creates an empty wheel; called once at broker start. `tick` is the
    /// resolution (the broker uses 100 ms) and `start` the clock origin.
    ///
    /// # Panics
    /// If `tick` is zero (a programming error, not an input).
    pub fn new(start: Instant, tick: Duration) -> Self {
        assert!(!tick.is_zero(), "timer wheel tick must not be zero");
        TimerWheel {
            start,
            tick_nanos: tick.as_nanos(),
            processed: 0,
            slots: (0..SLOTS).map(|_| Vec::new()).collect(),
            min_turn: vec![u32::MAX; SLOTS],
            occupied: [0; WORDS],
            overdue: Vec::new(),
            in_slots: 0,
            next_tick: None,
            scratch: Vec::new(),
        }
    }

    /// Schedules `key` to fire at `at`, rounded up to the next tick; a time
    /// at or before the last processed tick fires at the next `expire()`.
    /// Called whenever a timer is (re)armed. O(1) amortised.
    pub fn schedule(&mut self, at: Instant, key: K) {
        let tick = self.tick_ceil(at);
        if tick <= self.processed {
            self.overdue.push(key);
            return;
        }
        let turn = turn_of(tick);
        // A tick too far for a `u32` turn (centuries at 100 ms) is clamped.
        let tick = u64::from(turn) * SLOTS as u64 + tick % SLOTS as u64;
        let slot = slot_of(tick);
        self.slots[slot].push(Entry { turn, key });
        if turn < self.min_turn[slot] {
            self.min_turn[slot] = turn;
        }
        self.occupied[slot / 64] |= 1 << (slot % 64);
        self.in_slots += 1;
        if self.next_tick.is_none_or(|next| tick < next) {
            self.next_tick = Some(tick);
        }
    }

    /// Appends to `out` every key whose (rounded) deadline is at or before
    /// `now`, in deadline order as far as the tick allows; called once per
    /// loop turn after the clock is read. A `now` earlier than a previous
    /// one fires only overdue keys.
    pub fn expire(&mut self, now: Instant, out: &mut Vec<K>) {
        out.append(&mut self.overdue);
        let now_tick = self.tick_floor(now);
        if now_tick <= self.processed {
            return;
        }
        let due = self.next_tick.is_some_and(|next| next <= now_tick);
        if !due {
            // Nothing in the slots is due: skip the ticks without visiting
            // them (every slot's entries lie beyond `now_tick`).
            self.processed = now_tick;
            return;
        }
        if now_tick - self.processed >= SLOTS as u64 {
            self.expire_full_turn(now_tick, out);
        } else {
            for tick in self.processed + 1..=now_tick {
                self.fire_slot(tick, now_tick, out, false);
            }
        }
        self.processed = now_tick;
        self.next_tick = self.find_next_tick();
    }

    /// The earliest instant at which `expire()` could return something, or
    /// `None` when the wheel is empty; read every loop turn as the poll
    /// timeout. O(1): the value is kept up to date by `schedule` and
    /// `expire`. An instant in the past means "call `expire()` now".
    pub fn next_deadline(&self) -> Option<Instant> {
        if !self.overdue.is_empty() {
            return Some(self.instant_of(self.processed));
        }
        self.next_tick.map(|tick| self.instant_of(tick))
    }

    /// Number of scheduled keys, stale ones included.
    pub fn len(&self) -> usize {
        self.in_slots + self.overdue.len()
    }

    /// True when no key is scheduled.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fires the entries of the slot for `tick` whose tick is at or before
    /// `now_tick`, keeps the others and refreshes the slot's minimum turn.
    /// With `collect`, fired entries go to `scratch` with their tick (to be
    /// sorted) instead of straight to `out`.
    fn fire_slot(&mut self, tick: u64, now_tick: u64, out: &mut Vec<K>, collect: bool) {
        let slot = slot_of(tick);
        if self.occupied[slot / 64] & (1 << (slot % 64)) == 0 {
            return;
        }
        let now_turn = turn_of(now_tick);
        let now_slot = slot_of(now_tick);
        // An entry in this slot is due when its tick, turn * SLOTS + slot,
        // is at or before `now_tick`.
        let due = |turn: u32| turn < now_turn || (turn == now_turn && slot <= now_slot);
        if !due(self.min_turn[slot]) {
            return;
        }
        let entries = &mut self.slots[slot];
        let before = entries.len();
        let mut min_turn = u32::MAX;
        let scratch = &mut self.scratch;
        entries.retain(|entry| {
            if due(entry.turn) {
                if collect {
                    let tick = u64::from(entry.turn) * SLOTS as u64 + slot as u64;
                    scratch.push((tick, entry.key));
                } else {
                    out.push(entry.key);
                }
                false
            } else {
                min_turn = min_turn.min(entry.turn);
                true
            }
        });
        self.in_slots -= before - entries.len();
        self.min_turn[slot] = min_turn;
        if entries.is_empty() {
            self.occupied[slot / 64] &= !(1 << (slot % 64));
            // Give back the memory of a burst (many timers in one tick).
            if entries.capacity() > 64 {
                entries.shrink_to(8);
            }
        }
    }

    /// Handles a jump of a full turn or more: every slot is visited once and
    /// what fires is sorted by tick, so the output stays in deadline order.
    fn expire_full_turn(&mut self, now_tick: u64, out: &mut Vec<K>) {
        self.scratch.clear();
        for slot in 0..SLOTS as u64 {
            self.fire_slot(slot, now_tick, out, true);
        }
        self.scratch.sort_by_key(|&(tick, _)| tick);
        out.extend(self.scratch.drain(..).map(|(_, key)| key));
    }

    /// Finds the earliest tick held in the slots after `processed`: first
    /// among the ticks of the coming turn (in order, skipping empty slots
    /// through the bitmap), else the smallest over every slot.
    fn find_next_tick(&self) -> Option<u64> {
        if self.in_slots == 0 {
            return None;
        }
        let first = self.processed + 1;
        let mut offset = 0usize;
        while offset < SLOTS {
            let tick = first + offset as u64;
            let slot = slot_of(tick);
            // Jump straight to the next occupied slot of this word.
            let word = self.occupied[slot / 64] >> (slot % 64);
            if word == 0 {
                offset += 64 - slot % 64;
                continue;
            }
            let skip = word.trailing_zeros() as usize;
            if skip > 0 {
                offset += skip;
                continue;
            }
            if self.min_turn[slot] == turn_of(tick) {
                return Some(tick);
            }
            offset += 1;
        }
        // Nothing within a turn: every entry is further away.
        (0..SLOTS)
            .filter(|&slot| self.min_turn[slot] != u32::MAX)
            .map(|slot| u64::from(self.min_turn[slot]) * SLOTS as u64 + slot as u64)
            .min()
    }

    /// The first tick at or after `at` (the deadline rounded up).
    fn tick_ceil(&self, at: Instant) -> u64 {
        let nanos = at.saturating_duration_since(self.start).as_nanos();
        u64::try_from(nanos.div_ceil(self.tick_nanos)).unwrap_or(u64::MAX)
    }

    /// The last tick at or before `now`.
    fn tick_floor(&self, now: Instant) -> u64 {
        let nanos = now.saturating_duration_since(self.start).as_nanos();
        u64::try_from(nanos / self.tick_nanos).unwrap_or(u64::MAX)
    }

    /// The instant of `tick`; saturates far beyond any real deadline.
    fn instant_of(&self, tick: u64) -> Instant {
        let nanos = u128::from(tick).saturating_mul(self.tick_nanos);
        let offset = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        self.start
            .checked_add(offset)
            .unwrap_or(self.start + Duration::from_secs(u64::from(u32::MAX)))
    }
}

/// The slot of `tick`.
fn slot_of(tick: u64) -> usize {
    (tick % SLOTS as u64) as usize
}

/// The turn of `tick`, clamped below `u32::MAX` (which marks an empty slot).
fn turn_of(tick: u64) -> u32 {
    u32::try_from(tick / SLOTS as u64)
        .unwrap_or(u32::MAX)
        .min(u32::MAX - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_millis(100);

    fn ms(t0: Instant, millis: u64) -> Instant {
        t0 + Duration::from_millis(millis)
    }

    fn expire_at<K: Copy>(wheel: &mut TimerWheel<K>, now: Instant) -> Vec<K> {
        let mut out = Vec::new();
        wheel.expire(now, &mut out);
        out
    }

    #[test]
    fn fires_in_deadline_order_not_schedule_order() {
        let t0 = Instant::now();
        let mut wheel = TimerWheel::new(t0, TICK);
        wheel.schedule(ms(t0, 500), 5);
        wheel.schedule(ms(t0, 100), 1);
        wheel.schedule(ms(t0, 300), 3);
        wheel.schedule(ms(t0, 200), 2);
        assert_eq!(wheel.len(), 4);
        assert_eq!(expire_at(&mut wheel, ms(t0, 1000)), vec![1, 2, 3, 5]);
        assert!(wheel.is_empty());
        assert_eq!(wheel.next_deadline(), None);
    }

    #[test]
    fn deadline_is_rounded_up_never_early() {
        let t0 = Instant::now();
        let mut wheel = TimerWheel::new(t0, TICK);
        wheel.schedule(ms(t0, 150), 'a');
        assert_eq!(wheel.next_deadline(), Some(ms(t0, 200)));
        assert!(expire_at(&mut wheel, ms(t0, 150)).is_empty());
        assert!(expire_at(&mut wheel, ms(t0, 199)).is_empty());
        assert_eq!(expire_at(&mut wheel, ms(t0, 200)), vec!['a']);
    }

    #[test]
    fn deadline_on_a_tick_boundary_fires_at_that_tick() {
        let t0 = Instant::now();
        let mut wheel = TimerWheel::new(t0, TICK);
        wheel.schedule(ms(t0, 300), 'a');
        assert_eq!(wheel.next_deadline(), Some(ms(t0, 300)));
        assert!(expire_at(&mut wheel, ms(t0, 299)).is_empty());
        assert_eq!(expire_at(&mut wheel, ms(t0, 300)), vec!['a']);
    }

    #[test]
    fn past_deadline_fires_at_next_expire_whatever_now() {
        let t0 = Instant::now();
        let mut wheel = TimerWheel::new(t0, TICK);
        assert!(expire_at(&mut wheel, ms(t0, 1_000)).is_empty());
        // 400 ms is before the last processed tick (1000 ms).
        wheel.schedule(ms(t0, 400), 'p');
        wheel.schedule(t0, 'q');
        let deadline = wheel.next_deadline().expect("overdue keys");
        assert!(deadline <= ms(t0, 1_000));
        // Even an earlier `now` fires overdue keys.
        assert_eq!(expire_at(&mut wheel, ms(t0, 900)), vec!['p', 'q']);
        assert!(wheel.is_empty());
    }

    #[test]
    fn overdue_keys_come_before_later_due_keys() {
        let t0 = Instant::now();
        let mut wheel = TimerWheel::new(t0, TICK);
        wheel.schedule(ms(t0, 200), 'b');
        assert!(expire_at(&mut wheel, ms(t0, 100)).is_empty());
        wheel.schedule(ms(t0, 50), 'a');
        assert_eq!(expire_at(&mut wheel, ms(t0, 200)), vec!['a', 'b']);
    }

    #[test]
    fn same_tick_keys_keep_schedule_order() {
        let t0 = Instant::now();
        let mut wheel = TimerWheel::new(t0, TICK);
        for key in 0..10 {
            wheel.schedule(ms(t0, 250 + key), key);
        }
        assert_eq!(
            expire_at(&mut wheel, ms(t0, 300)),
            (0..10).collect::<Vec<_>>()
        );
    }

    #[test]
    fn far_deadline_survives_several_turns() {
        let t0 = Instant::now();
        let mut wheel = TimerWheel::new(t0, TICK);
        // Three and a half turns away, same slot as an earlier key.
        let turn_ms = SLOTS as u64 * 100;
        wheel.schedule(ms(t0, 3 * turn_ms + 700), "far");
        wheel.schedule(ms(t0, 700), "near");
        assert_eq!(wheel.next_deadline(), Some(ms(t0, 700)));
        // Walk the clock a tick at a time over three turns.
        let mut fired = Vec::new();
        let mut now = 0;
        while now < 3 * turn_ms + 600 {
            now += 100;
            wheel.expire(ms(t0, now), &mut fired);
        }
        assert_eq!(fired, vec!["near"]);
        assert_eq!(wheel.next_deadline(), Some(ms(t0, 3 * turn_ms + 700)));
        assert_eq!(
            expire_at(&mut wheel, ms(t0, 3 * turn_ms + 700)),
            vec!["far"]
        );
    }

    #[test]
    fn session_expiry_days_away() {
        let t0 = Instant::now();
        let mut wheel = TimerWheel::new(t0, TICK);
        let day = 86_400_000;
        wheel.schedule(ms(t0, 2 * day), 2);
        wheel.schedule(ms(t0, day), 1);
        assert_eq!(wheel.next_deadline(), Some(ms(t0, day)));
        assert!(expire_at(&mut wheel, ms(t0, day - 1)).is_empty());
        assert_eq!(wheel.next_deadline(), Some(ms(t0, day)));
        assert_eq!(expire_at(&mut wheel, ms(t0, day)), vec![1]);
        assert_eq!(wheel.next_deadline(), Some(ms(t0, 2 * day)));
        assert_eq!(expire_at(&mut wheel, ms(t0, 3 * day)), vec![2]);
    }

    #[test]
    fn large_jump_fires_everything_due_in_order() {
        let t0 = Instant::now();
        let mut wheel = TimerWheel::new(t0, TICK);
        let turn_ms = SLOTS as u64 * 100;
        // Deadlines spread over five turns, scheduled in a scrambled order;
        // slot 3 of turns 4, 0 and 2 share a slot.
        let deadlines = [
            4 * turn_ms + 300,
            300,
            2 * turn_ms + 300,
            turn_ms + 5_000,
            900,
            3 * turn_ms,
            10 * turn_ms,
        ];
        for (key, &deadline) in deadlines.iter().enumerate() {
            wheel.schedule(ms(t0, deadline), key);
        }
        let fired = expire_at(&mut wheel, ms(t0, 5 * turn_ms));
        assert_eq!(fired, vec![1, 4, 3, 2, 5, 0]);
        assert_eq!(wheel.len(), 1);
        assert_eq!(wheel.next_deadline(), Some(ms(t0, 10 * turn_ms)));
        assert_eq!(expire_at(&mut wheel, ms(t0, 10 * turn_ms)), vec![6]);
    }

    #[test]
    fn jump_within_a_turn_skips_nothing() {
        let t0 = Instant::now();
        let mut wheel = TimerWheel::new(t0, TICK);
        wheel.schedule(ms(t0, 100), 1);
        wheel.schedule(ms(t0, 51_100), 2);
        assert_eq!(expire_at(&mut wheel, ms(t0, 51_000)), vec![1]);
        assert_eq!(expire_at(&mut wheel, ms(t0, 51_100)), vec![2]);
    }

    #[test]
    fn earlier_now_is_a_no_op() {
        let t0 = Instant::now();
        let mut wheel = TimerWheel::new(t0, TICK);
        wheel.schedule(ms(t0, 2_000), 1);
        assert!(expire_at(&mut wheel, ms(t0, 1_000)).is_empty());
        assert!(expire_at(&mut wheel, ms(t0, 500)).is_empty());
        assert_eq!(wheel.next_deadline(), Some(ms(t0, 2_000)));
        assert_eq!(expire_at(&mut wheel, ms(t0, 2_000)), vec![1]);
    }

    #[test]
    fn deadline_before_start_is_overdue() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut wheel = TimerWheel::new(t0, TICK);
        wheel.schedule(t0 - Duration::from_secs(5), 'x');
        assert_eq!(wheel.next_deadline(), Some(t0));
        assert_eq!(expire_at(&mut wheel, t0), vec!['x']);
    }

    #[test]
    fn stale_keys_are_the_callers_business() {
        // Lazy cancellation: re-arming a timer schedules a new generation;
        // both fire and the caller keeps only the current one.
        let t0 = Instant::now();
        let mut wheel = TimerWheel::new(t0, TICK);
        wheel.schedule(ms(t0, 1_000), (7u32, 1u32));
        wheel.schedule(ms(t0, 1_500), (7u32, 2u32));
        let current = 2;
        let fired = expire_at(&mut wheel, ms(t0, 2_000));
        let live: Vec<_> = fired.into_iter().filter(|&(_, g)| g == current).collect();
        assert_eq!(live, vec![(7, 2)]);
    }

    #[test]
    fn entry_is_small() {
        assert_eq!(std::mem::size_of::<Entry<(u32, u32, u8)>>(), 16);
    }

    #[test]
    fn randomized_against_brute_force_model() {
        let t0 = Instant::now();
        let mut rng = crate::testutil::Rng(0x9e37_79b9_7f4a_7c15);
        let mut wheel = TimerWheel::new(t0, TICK);
        // The model: (rounded-up deadline in ms, key); a key fires when now
        // reaches its deadline rounded up to the tick, or at the next
        // expire() if that is already past.
        let mut model: Vec<(u64, u32)> = Vec::new();
        let mut now_ms = 0u64;
        let mut processed_ms = 0u64;
        let mut next_key = 0u32;
        for _ in 0..5_000 {
            match rng.below_u64(10) {
                0..=5 => {
                    // Schedule: mostly near, sometimes turns away, sometimes
                    // in the past.
                    let offset = match rng.below_u64(10) {
                        0 => rng.below_u64(5 * SLOTS as u64 * 100),
                        1 => 0,
                        _ => rng.below_u64(3_000),
                    };
                    let at = if rng.below_u64(20) == 0 {
                        now_ms.saturating_sub(rng.below_u64(1_000))
                    } else {
                        now_ms + offset
                    };
                    let rounded = at.div_ceil(100) * 100;
                    let fire_at = if rounded <= processed_ms { 0 } else { rounded };
                    wheel.schedule(ms(t0, at), next_key);
                    model.push((fire_at, next_key));
                    next_key += 1;
                }
                _ => {
                    // Advance: small steps, sometimes a jump of turns.
                    now_ms += if rng.below_u64(15) == 0 {
                        rng.below_u64(8 * SLOTS as u64 * 100)
                    } else {
                        rng.below_u64(400)
                    };
                    let mut fired = Vec::new();
                    wheel.expire(ms(t0, now_ms), &mut fired);
                    let floor_ms = now_ms / 100 * 100;
                    if floor_ms > processed_ms {
                        processed_ms = floor_ms;
                    }
                    let mut due: Vec<(u64, u32)> = model
                        .iter()
                        .copied()
                        .filter(|&(at, _)| at <= processed_ms)
                        .collect();
                    model.retain(|&(at, _)| at > processed_ms);
                    // Deadline order; same-tick keys in any order.
                    due.sort();
                    let mut got: Vec<(u64, u32)> = fired
                        .iter()
                        .map(|key| {
                            let at = due
                                .iter()
                                .find(|&&(_, k)| k == *key)
                                .map(|&(at, _)| at)
                                .expect("fired a key that is not due");
                            (at, *key)
                        })
                        .collect();
                    let ticks: Vec<u64> = got.iter().map(|&(at, _)| at).collect();
                    assert!(ticks.windows(2).all(|w| w[0] <= w[1]), "order {ticks:?}");
                    got.sort();
                    assert_eq!(got, due);
                }
            }
            assert_eq!(wheel.len(), model.len());
            let expected = model.iter().map(|&(at, _)| at).min();
            match (wheel.next_deadline(), expected) {
                (None, None) => {}
                (Some(deadline), Some(0)) => assert!(deadline <= ms(t0, processed_ms)),
                (Some(deadline), Some(at)) => {
                    // Never late, and early by at most one tick.
                    assert!(deadline <= ms(t0, at));
                    assert!(deadline + TICK > ms(t0, at));
                }
                (got, want) => panic!("next_deadline {got:?}, model {want:?}"),
            }
        }
    }
}
