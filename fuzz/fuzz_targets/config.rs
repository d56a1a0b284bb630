//! `midge::fuzz::config` under libFuzzer: the parsed config holds little
//! more than the text it came from, counting the included files once per
//! `include_dir` line that reads them.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: midge_fuzz::Counting = midge_fuzz::Counting;

fuzz_target!(|data: &[u8]| {
    let main = data.split(|&b| b == 0).next().unwrap_or_default();
    let includes = main.windows(11).filter(|w| w == b"include_dir").count();
    let text = main.len() + (data.len() - main.len()) * includes;
    midge_fuzz::bounded(16 * text + 64 * 1024, "config", || {
        midge::fuzz::config::run(data)
    });
});
