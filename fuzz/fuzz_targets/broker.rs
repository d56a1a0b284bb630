//! `midge::fuzz::broker` under libFuzzer. The fixed cost of two brokers
//! (timer wheel, slabs, the watcher; with persistence the restart check
//! holds a restored broker beside the live one) plus what the clients'
//! bytes may make them keep: retained messages, queues and in-flight
//! copies, each bounded by the input that carried them.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: midge_fuzz::Counting = midge_fuzz::Counting;

fuzz_target!(|data: &[u8]| {
    midge_fuzz::bounded(64 * data.len() + 512 * 1024, "broker", || {
        midge::fuzz::broker::run(data)
    });
});
