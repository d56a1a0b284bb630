//! `midge::fuzz::password` under libFuzzer. The parsed file, its warnings
//! and the edited copies of the text are a bounded multiple of the input;
//! an Argon2id check within the target's work budget adds at most 2 MiB.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: midge_fuzz::Counting = midge_fuzz::Counting;

fuzz_target!(|data: &[u8]| {
    midge_fuzz::bounded(64 * data.len() + 3 * 1024 * 1024, "password", || {
        midge::fuzz::password::run(data)
    });
});
