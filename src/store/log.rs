//! The append log: records buffered during an event-loop turn and made
//! durable together (group commit), and the scan that recovers a log file.
//!
//! # File
//! A header (magic `MIDGELOG`, version, the log's generation) and then
//! frames, one per record, in append order. See `frame.rs`.
//!
//! # Contract
//! - [`Log::append`] only frames the body into the pending buffer; nothing
//!   reaches the file.
//! - [`Log::commit`] writes the whole pending buffer with one `append` call
//!   and, under [`SyncPolicy::Turn`], makes it durable with one
//!   `sync_data`. Only after it returns `Ok` may anything that depends on the
//!   records be acknowledged.
//! - Failure rule: when the write or the sync fails, `commit` returns the
//!   error, keeps the records pending and marks the log dirty. The next
//!   commit first cuts the file back to [`Log::len`] (the end of the last
//!   good commit) and then writes all pending records again, so the file
//!   never holds a half-written record with records after it, and never
//!   holds a record twice. (After a failed fsync the kernel may have dropped
//!   the written pages, so the bytes are rewritten rather than trusted.) If
//!   the cut fails, nothing is written and the error is returned again.
//!   (The cut need not be synced: the rewrite puts the same bytes at the
//!   same offset, and its sync makes both durable.) A compaction retires a
//!   dirty log only after a synced cut ([`Log::repair`]), because its
//!   pending records move to the next log.
//! - Recovery ([`scan`]) keeps the frames up to the first torn or bad one;
//!   the store cuts the file there before appending.

use super::disk::{DirFile, Stats};
use super::frame::{self, Frames, Stop, Why, HEADER_LEN};
use std::io;

/// Magic at the start of a log file.
pub const MAGIC: &[u8; 8] = b"MIDGELOG";

/// When commits are made durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncPolicy {
    /// One `sync_data` per commit: acknowledged records survive a power cut.
    Turn,
    /// Write at every commit but never sync: records survive a crash of the
    /// broker, not of the machine. (Compaction still syncs: a snapshot must
    /// never be renamed into place before its data is on disk.)
    Never,
}

/// Refuses a body the log or a snapshot cannot store: empty (an empty frame
/// is not a record, see `frame.rs`) or longer than `max`. Called by every
/// `append` and snapshot `write`.
pub fn check_body(body: &[u8], max: usize) -> io::Result<()> {
    if body.is_empty() || body.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("record of {} bytes (allowed 1..={max})", body.len()),
        ));
    }
    Ok(())
}

/// An open log file and its pending records.
pub struct Log<F> {
    file: F,
    generation: u64,
    /// Bytes of the file up to the end of the last good commit.
    len: u64,
    pending: Vec<u8>,
    pending_records: u64,
    /// A failed commit may have left bytes past `len`.
    dirty: bool,
    policy: SyncPolicy,
    max_record: usize,
}

impl<F: DirFile> Log<F> {
    /// Wraps `file`, whose first `len` bytes are a good log of
    /// `generation`; called by the store after recovery or after creating a
    /// log (with its header already durable).
    pub fn new(file: F, generation: u64, len: u64, policy: SyncPolicy, max_record: usize) -> Self {
        Log {
            file,
            generation,
            len,
            pending: Vec::new(),
            pending_records: 0,
            dirty: false,
            policy,
            max_record,
        }
    }

    /// Frames `body` into the pending buffer. Errors (nothing buffered) if
    /// the body is empty or longer than `max_record`.
    pub fn append(&mut self, body: &[u8]) -> io::Result<()> {
        check_body(body, self.max_record)?;
        frame::encode(&mut self.pending, body);
        self.pending_records += 1;
        Ok(())
    }

    /// Whether records are waiting for a commit.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Bytes waiting for a commit.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Bytes of the file up to the end of the last good commit (header
    /// included): the compaction trigger.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// The generation in the file's header.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Writes and (per the policy) syncs the pending records; called once
    /// per event-loop turn. `Ok` with nothing pending does no I/O. See the
    /// module doc for what happens on an error.
    pub fn commit(&mut self, stats: &mut Stats) -> io::Result<()> {
        self.commit_with(stats, true)
    }

    /// [`Log::commit`]; `sync` false writes without syncing whatever the
    /// policy (a later synced commit makes these bytes durable with its
    /// own: one fdatasync covers the whole file).
    pub fn commit_with(&mut self, stats: &mut Stats, sync: bool) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if self.dirty {
            stats.other(self.file.set_len(self.len))?;
            self.dirty = false;
        }
        let r = self.file.append(&self.pending);
        if let Err(e) = stats.wrote(self.pending.len(), r) {
            self.dirty = true;
            return Err(e);
        }
        if sync && self.policy == SyncPolicy::Turn {
            if let Err(e) = stats.synced(self.file.sync_data()) {
                self.dirty = true;
                return Err(e);
            }
        }
        self.len += self.pending.len() as u64;
        stats.commits += 1;
        stats.records += self.pending_records;
        self.pending.clear();
        self.pending_records = 0;
        Ok(())
    }

    /// Cuts off, durably, what a failed commit may have left past the good
    /// end; a no-op unless a commit failed. Called before the log is
    /// retired by a compaction, so that its pending records, moved to the
    /// next log, cannot also survive here.
    pub fn repair(&mut self, stats: &mut Stats) -> io::Result<()> {
        if self.dirty {
            stats.other(self.file.set_len(self.len))?;
            stats.synced(self.file.sync_data())?;
            self.dirty = false;
        }
        Ok(())
    }

    /// Hands the pending records over to `next` (the log of a compaction's
    /// new generation) and closes this one; called after [`Log::repair`].
    pub fn move_pending_to(mut self, next: &mut Log<F>) {
        next.pending.append(&mut self.pending);
        next.pending_records += self.pending_records;
    }
}

/// What [`scan`] found in one log file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogScan {
    /// Good records.
    pub records: u64,
    /// Bytes of the good prefix, header included (0: the header itself was
    /// cut short, from a crash while the file was being created).
    pub valid_len: usize,
    /// Why the good prefix ends before the end of the file.
    pub stop: Option<Stop>,
    /// Records lost after `valid_len`: the bad one plus the well-formed
    /// records found after it (a lower bound when the bad record's length is
    /// itself damaged).
    pub lost_records: u64,
}

/// Scans the log file `buf`, named for `generation`; called by recovery.
/// Returns the good prefix, or `Err((offset, why))` when the header is bad
/// although records follow it (damage to be reported, not truncated away).
/// A file no longer than a header with a bad header holds no records: it is
/// reported as a torn creation (`valid_len` 0), for the store to rewrite.
pub fn scan(buf: &[u8], generation: u64, max_record: usize) -> Result<LogScan, (usize, Why)> {
    match frame::decode_header(buf, MAGIC) {
        Ok(g) if g == generation => {}
        Ok(_) => return Err((0, Why::Generation)),
        Err(why) if buf.len() > HEADER_LEN => return Err((0, why)),
        Err(why) => {
            return Ok(LogScan {
                records: 0,
                valid_len: 0,
                stop: Some(Stop { offset: 0, why }),
                lost_records: 0,
            })
        }
    }
    let mut frames = Frames::new(buf, HEADER_LEN, max_record);
    let mut records = 0;
    let mut valid_len = HEADER_LEN;
    let mut stop = None;
    while let Some(body) = frames.next() {
        if body.is_empty() {
            stop = Some(Stop {
                offset: valid_len,
                why: Why::Empty,
            });
            break;
        }
        records += 1;
        valid_len = frames.pos();
    }
    if stop.is_none() {
        stop = frames.end().1;
    }
    let lost_records = match stop {
        Some(s) => 1 + count_after(buf, s, max_record),
        None => 0,
    };
    Ok(LogScan {
        records,
        valid_len,
        stop,
        lost_records,
    })
}

/// Counts the well-formed records after the bad frame at `stop`, when its
/// length can still be followed; only for the report.
fn count_after(buf: &[u8], stop: Stop, max_record: usize) -> u64 {
    if stop.why != Why::BadCrc && stop.why != Why::Empty {
        return 0;
    }
    let len = match buf.get(stop.offset..stop.offset + 4) {
        Some(b) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize,
        None => return 0,
    };
    // The walk stopped at a CRC mismatch, so the frame fits in `buf`.
    let next = stop.offset + frame::framed_len(len);
    Frames::new(buf, next, max_record)
        .take_while(|b| !b.is_empty())
        .count() as u64
}
