//! `midge::fuzz::codec` under libFuzzer. A frame's decoded packet, its
//! re-encoding and the second decode all live at once: a few times the
//! input, plus the fixed-size parts of a packet.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: midge_fuzz::Counting = midge_fuzz::Counting;

fuzz_target!(|data: &[u8]| {
    midge_fuzz::bounded(8 * data.len() + 16 * 1024, "codec", || {
        midge::fuzz::codec::run(data)
    });
});
