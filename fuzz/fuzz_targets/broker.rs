//! `midge::fuzz::broker` under libFuzzer. The broker's fixed cost (timer
//! wheel, slabs, the watcher) plus what the clients' bytes may make it
//! keep: retained messages, queues and in-flight copies, each bounded by
//! the input that carried them.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: midge_fuzz::Counting = midge_fuzz::Counting;

fuzz_target!(|data: &[u8]| {
    midge_fuzz::bounded(64 * data.len() + 256 * 1024, "broker", || {
        midge::fuzz::broker::run(data)
    });
});
