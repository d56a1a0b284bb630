//! `midge::fuzz::ws` under libFuzzer: the decoded payloads and the
//! re-encoded frames are each a few times the input (a frame header per
//! piece), and the cut lists a few KiB.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: midge_fuzz::Counting = midge_fuzz::Counting;

fuzz_target!(|data: &[u8]| {
    midge_fuzz::bounded(40 * data.len() + 16 * 1024, "ws", || {
        midge::fuzz::ws::run(data)
    });
});
