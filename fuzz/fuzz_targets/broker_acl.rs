//! `midge::fuzz::broker::run_acl` under libFuzzer: the broker target with
//! an ACL file, bounded as the broker target is (the ACL's rules are a few
//! hundred bytes besides).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: midge_fuzz::Counting = midge_fuzz::Counting;

fuzz_target!(|data: &[u8]| {
    midge_fuzz::bounded(64 * data.len() + 512 * 1024, "broker_acl", || {
        midge::fuzz::broker::run_acl(data)
    });
});
