//! `midge::fuzz::store` under libFuzzer. Recovery holds the files and a
//! range per file; replay holds the records' state and the broker built
//! from it (twice: once more from its snapshot): a bounded multiple of the
//! input, never a length read from it.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: midge_fuzz::Counting = midge_fuzz::Counting;

fuzz_target!(|data: &[u8]| {
    midge_fuzz::bounded(64 * data.len() + 512 * 1024, "store", || {
        midge::fuzz::store::run(data)
    });
});
