//! Every stored corpus input through its target, inside `cargo test`: what
//! the fuzzer learned stays checked on every change, in seconds.

use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use super::TARGETS;

/// `fuzz/corpus/<target>` of the crate; of the working directory when the
/// test binary runs where it was not built (the Pi build under qemu).
pub(super) fn corpus_dir(target: &str) -> PathBuf {
    let built = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let root = if built.is_dir() {
        built
    } else {
        PathBuf::from("fuzz/corpus")
    };
    root.join(target)
}

/// The files of `dir`, sorted (an absent folder is an empty corpus).
pub(super) fn corpus(dir: &PathBuf) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(String, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, fs::read(e.path()).expect("corpus file readable"))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_stored_corpus_input_passes_its_target() {
    for &(target, run) in TARGETS {
        let files = corpus(&corpus_dir(target));
        assert!(!files.is_empty(), "fuzz/corpus/{target} is empty");
        let failed: Vec<&str> = files
            .iter()
            .filter(|(_, data)| catch_unwind(AssertUnwindSafe(|| run(data))).is_err())
            .map(|(name, _)| name.as_str())
            .collect();
        assert!(
            failed.is_empty(),
            "fuzz/corpus/{target}: {} of {} inputs fail: {failed:?}",
            failed.len(),
            files.len()
        );
    }
}
