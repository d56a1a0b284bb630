//! What every fuzz target binary shares: an allocator that counts, so a
//! target can assert the most memory one input made it hold at once.
//!
//! libFuzzer's `-malloc_limit_mb` catches one huge allocation; this catches
//! many small ones adding up (a length field trusted, a list grown without
//! bound).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// The system allocator, counting live bytes and their peak.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Relaxed);
            grew(new_size);
        }
        p
    }
}

fn grew(size: usize) {
    let live = LIVE.fetch_add(size, Relaxed) + size;
    PEAK.fetch_max(live, Relaxed);
}

/// Runs `f` and panics if the bytes it held at once, beyond what was live
/// before, exceed `bound`.
pub fn bounded(bound: usize, what: &str, f: impl FnOnce()) {
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    f();
    let held = PEAK.load(Relaxed) - base;
    assert!(
        held <= bound,
        "{what}: held {held} bytes at once, bound {bound}"
    );
}
