//! The store's file names and the creation of log files.
//!
//! Names (for a store called `<name>`): `<name>.<g>.log` for the log of
//! generation `g`, `<name>.<g>.tmp` for a snapshot being written; `g` in
//! decimal without leading zeros, so each generation has exactly one name.

use super::disk::{Dir, DirFile, Stats};
use super::frame::{self, HEADER_LEN};
use super::log;
use std::io;

/// The name of the log of generation `g`.
pub fn log_name(name: &str, g: u64) -> String {
    format!("{name}.{g}.log")
}

/// The name of the snapshot of generation `g` while it is written.
pub fn tmp_name(name: &str, g: u64) -> String {
    format!("{name}.{g}.tmp")
}

/// The generation in `file` if it is `<name>.<g><suffix>` with `g` in
/// canonical decimal; used to find the logs and tmp files at open.
pub fn parse_gen(name: &str, file: &str, suffix: &str) -> Option<u64> {
    let digits = file
        .strip_prefix(name)?
        .strip_prefix('.')?
        .strip_suffix(suffix)?;
    let canonical = digits == "0" || !digits.starts_with('0');
    if digits.is_empty() || !canonical || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Creates the log of generation `g` with its header, durable along with
/// its name; called for a new store and by `begin_compaction`. A failure
/// leaves at most a log without records (recovered as empty).
pub fn new_log<D: Dir>(dir: &D, name: &str, g: u64, stats: &mut Stats) -> io::Result<D::File> {
    let mut f = stats.other(dir.create(&log_name(name, g)))?;
    write_header(&mut f, g, stats)?;
    stats.synced(dir.sync())?;
    Ok(f)
}

/// Rewrites the header of a log whose creation was cut short.
pub fn reset_log<D: Dir>(dir: &D, name: &str, g: u64, stats: &mut Stats) -> io::Result<D::File> {
    let mut f = stats.other(dir.open_append(&log_name(name, g)))?;
    stats.other(f.set_len(0))?;
    write_header(&mut f, g, stats)?;
    Ok(f)
}

/// Writes and syncs the header of the log of generation `g` into the empty
/// file `f`.
fn write_header<F: DirFile>(f: &mut F, g: u64, stats: &mut Stats) -> io::Result<()> {
    let mut h = Vec::with_capacity(HEADER_LEN);
    frame::encode_header(&mut h, log::MAGIC, g);
    stats.wrote(h.len(), f.append(&h))?;
    stats.synced(f.sync_data())
}
