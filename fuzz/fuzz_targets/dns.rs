//! `midge::fuzz::dns` under libFuzzer: the response reader allocates only
//! its address list, the text parsers a copy of their words, and a lookup
//! its names, queries and error text: a bounded multiple of the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: midge_fuzz::Counting = midge_fuzz::Counting;

fuzz_target!(|data: &[u8]| {
    midge_fuzz::bounded(64 * data.len() + 256 * 1024, "dns", || {
        midge::fuzz::dns::run(data)
    });
});
