//! The config target. Input: a main config file, then up to three files of
//! an `include_dir` directory, separated by NUL bytes (any `include_dir`
//! line reads the same three). Invalid UTF-8 is replaced, as a text file
//! read lossily would be.
//!
//! Checked: the parser never panics; an error names the file, the line and
//! the directive where it has one; a config that parses has at least one
//! listener and settles to the same result when parsed again.

use std::path::Path;

use crate::config::parse_str_with;

/// Runs one input (see the module doc).
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let main = parts.next().unwrap_or_default();
    let included: Vec<(String, String)> = parts
        .take(3)
        .enumerate()
        .map(|(i, t)| (format!("fuzz.d/{i}.conf"), t.to_string()))
        .collect();
    let read_dir = |_: &Path| Ok(included.clone());
    match parse_str_with("fuzz.conf", main, &read_dir) {
        Ok(config) => {
            assert!(!config.listeners.is_empty(), "a config without a listener");
            let again = parse_str_with("fuzz.conf", main, &read_dir);
            assert_eq!(
                format!("{config:?}"),
                format!("{:?}", again.expect("parsed once, parses again")),
                "parsing is deterministic"
            );
        }
        Err(e) => {
            let file = e.file.as_deref().expect("an error names its file");
            assert!(
                file == "fuzz.conf" || file.starts_with("fuzz.d/"),
                "error names {file}"
            );
            assert!(e.line.is_some(), "error without a line: {e}");
            assert!(e.directive.is_some(), "error without a directive: {e}");
            assert!(!e.message.is_empty(), "error without a message");
        }
    }
}
