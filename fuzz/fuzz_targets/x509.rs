//! `midge::fuzz::x509` under libFuzzer: the subject's text is a few bytes
//! per input byte (an escape is three), and the attributes list holds one
//! entry per few input bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: midge_fuzz::Counting = midge_fuzz::Counting;

fuzz_target!(|data: &[u8]| {
    midge_fuzz::bounded(48 * data.len() + 16 * 1024, "x509", || {
        midge::fuzz::x509::run(data)
    });
});
