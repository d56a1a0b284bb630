//! Timer wheel. (stub: signatures only)
use std::time::{Duration, Instant};
pub struct TimerWheel<K> {
    v: Vec<K>,
}
impl<K: Copy> TimerWheel<K> {
    pub fn new(start: Instant, tick: Duration) -> Self {
        let _ = (start, tick);
        todo!()
    }
    pub fn schedule(&mut self, at: Instant, key: K) {
        let _ = (at, key, &self.v);
        todo!()
    }
    pub fn expire(&mut self, now: Instant, out: &mut Vec<K>) {
        let _ = (now, out);
        todo!()
    }
    pub fn next_deadline(&self) -> Option<Instant> {
        todo!()
    }
}
