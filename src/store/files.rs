//! The store's file names, what `Store::open` finds and repairs in its
//! directory, and the creation of log files.
//!
//! Names (for a store called `<name>`): `<name>.<g>.log` for the log of
//! generation `g`, `<name>.<g>.tmp` for a snapshot being written; `g` in
//! decimal without leading zeros, so each generation has exactly one name.

use super::disk::{Dir, DirFile, Stats};
use super::frame::{self, HEADER_LEN};
use super::recover::LogReport;
use super::{log, snapshot};
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

/// The store's files found in its directory at open.
pub struct Found {
    pub snap: Option<Vec<u8>>,
    /// `(generation, content)`; the content is left empty for an obsolete
    /// log, which recovery does not read.
    pub logs: Vec<(u64, Vec<u8>)>,
    pub tmps: Vec<String>,
}

impl Found {
    /// Lists `dir` and reads the snapshot and the logs recovery will look
    /// at (a damaged snapshot header means base 0, all of them; the damage
    /// is reported by recovery right after).
    pub fn read<D: Dir>(dir: &D, name: &str) -> io::Result<Found> {
        let mut found = Found {
            snap: None,
            logs: Vec::new(),
            tmps: Vec::new(),
        };
        for file in dir.list()? {
            if file == name {
                found.snap = Some(dir.read(&file)?);
            } else if let Some(g) = parse_gen(name, &file, ".log") {
                found.logs.push((g, Vec::new()));
            } else if parse_gen(name, &file, ".tmp").is_some() {
                found.tmps.push(file);
            }
        }
        let base = found
            .snap
            .as_deref()
            .and_then(|s| frame::decode_header(s, snapshot::MAGIC).ok())
            .unwrap_or(0);
        for (g, data) in &mut found.logs {
            if *g >= base {
                *data = dir.read(&log_name(name, *g))?;
            }
        }
        Ok(found)
    }

    /// The length of the log of generation `g` as read.
    pub fn len_of(&self, g: u64) -> u64 {
        self.logs
            .iter()
            .find(|x| x.0 == g)
            .map_or(0, |x| x.1.len() as u64)
    }
}

/// Cuts the bad tail of log `l` (or rewrites its cut-short header) before
/// anything can be appended after it; returns the file opened for appending
/// if it was opened for the repair or if it is the `newest` log.
pub fn repair_log<D: Dir>(
    dir: &D,
    name: &str,
    l: &LogReport,
    file_len: u64,
    newest: bool,
    stats: &mut Stats,
) -> io::Result<Option<D::File>> {
    if l.valid_len == 0 {
        return reset_log(dir, name, l.generation, stats).map(Some);
    }
    if l.valid_len == file_len && !newest {
        return Ok(None);
    }
    let mut f = stats.other(dir.open_append(&log_name(name, l.generation)))?;
    if l.valid_len < file_len {
        stats.other(f.set_len(l.valid_len))?;
        stats.synced(f.sync_data())?;
    }
    Ok(Some(f))
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
