//! `midge::fuzz::bridge` under libFuzzer: one broker with one bridge and
//! two local clients, plus what the far side's bytes may make it keep
//! (queued and in-flight copies, retained messages), bounded by the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: midge_fuzz::Counting = midge_fuzz::Counting;

fuzz_target!(|data: &[u8]| {
    midge_fuzz::bounded(64 * data.len() + 512 * 1024, "bridge", || {
        midge::fuzz::bridge::run(data)
    });
});
