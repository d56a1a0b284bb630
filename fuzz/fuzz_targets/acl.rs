//! `midge::fuzz::acl` under libFuzzer: the parsed file holds a bounded
//! multiple of its text, plus, per `%c` or `%u` in it, one copy of the
//! client id or user name in the client's substituted patterns.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: midge_fuzz::Counting = midge_fuzz::Counting;

fuzz_target!(|data: &[u8]| {
    let substitutions = data
        .windows(2)
        .filter(|w| *w == b"%c" || *w == b"%u")
        .count();
    let bound = 64 * data.len() + 2 * substitutions * data.len() + 256 * 1024;
    midge_fuzz::bounded(bound, "acl", || midge::fuzz::acl::run(data));
});
