//! Recovery as a pure function of the file contents: which records to
//! replay, in which order, what was dropped and why. No I/O; `Store::open`
//! reads the files and acts on the [`Report`] (truncating logs, removing
//! obsolete ones), and a fuzz target can call [`recover_bytes`] directly.
//!
//! Rules:
//! - The base generation is the snapshot's (0 without a snapshot). Logs of
//!   an older generation are obsolete (a compaction finished after them) and
//!   are not read; logs of the base generation or newer are replayed in
//!   ascending generation order after the snapshot's records.
//! - A damaged snapshot, or a log whose header is damaged although records
//!   follow it, is an error ([`Damage`]): nothing is replayed.
//! - In a log, the first torn or bad frame ends it; the rest of that file
//!   is dropped (reported with its offset and reason) and replay goes on
//!   with the next log.
//! - Memory: besides the inputs, one small entry per file. Bodies are
//!   slices of the inputs, walked again on demand by [`Bodies`]; no length
//!   read from the data is ever used to allocate.

use super::frame::{Frames, Why, HEADER_LEN};
use super::{log, snapshot};
use std::fmt;
use std::ops::Range;

/// Which input a [`Damage`] is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Snapshot,
    /// The log named for this generation.
    Log(u64),
}

/// A file that cannot be recovered: where and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Damage {
    pub file: Which,
    pub offset: u64,
    pub why: Why,
}

/// The bytes dropped from the end of one log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// Where the first bad frame starts (0: the header was cut short).
    pub offset: u64,
    pub why: Why,
    pub bytes: u64,
    /// The bad record plus the well-formed records seen after it (a lower
    /// bound); 0 when only a partial header was dropped.
    pub records: u64,
}

/// What recovery found in one log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogReport {
    pub generation: u64,
    pub records: u64,
    /// Bytes kept, header included (0: the header must be rewritten).
    pub valid_len: u64,
    pub dropped: Option<Dropped>,
}

/// What recovery found, for the broker's log and for `Store::open`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// `(generation, records, bytes)` of the snapshot, if there is one.
    pub snapshot: Option<(u64, u64, u64)>,
    /// The replayed logs, in replay order.
    pub logs: Vec<LogReport>,
    /// Generations of the obsolete logs (not read; to be removed).
    pub obsolete: Vec<u64>,
}

impl Report {
    /// Records to replay, snapshot and logs.
    pub fn records(&self) -> u64 {
        let snap = self.snapshot.map_or(0, |s| s.1);
        snap + self.logs.iter().map(|l| l.records).sum::<u64>()
    }

    /// Bytes of framed records to replay (headers and end marker not
    /// counted).
    pub fn bytes(&self) -> u64 {
        let snap = self.snapshot.map_or(0, |s| s.2);
        let header = HEADER_LEN as u64;
        snap + self
            .logs
            .iter()
            .map(|l| l.valid_len.saturating_sub(header))
            .sum::<u64>()
    }

    /// Records dropped from bad log tails (a lower bound, see [`Dropped`]).
    pub fn dropped_records(&self) -> u64 {
        self.logs
            .iter()
            .filter_map(|l| l.dropped)
            .map(|d| d.records)
            .sum()
    }

    /// Bytes dropped from bad log tails.
    pub fn dropped_bytes(&self) -> u64 {
        self.logs
            .iter()
            .filter_map(|l| l.dropped)
            .map(|d| d.bytes)
            .sum()
    }
}

impl fmt::Display for Report {
    /// One line for the broker's startup log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.snapshot {
            Some((g, r, b)) => write!(f, "snapshot gen {g}: {r} records, {b} bytes")?,
            None => f.write_str("no snapshot")?,
        }
        for l in &self.logs {
            write!(f, "; log gen {}: {} records", l.generation, l.records)?;
            if let Some(d) = l.dropped {
                write!(
                    f,
                    ", dropped {} bytes ({} records) from byte {}: {}",
                    d.bytes, d.records, d.offset, d.why
                )?;
            }
        }
        Ok(())
    }
}

/// The result of [`recover_bytes`]: the report, and the bodies as slices of
/// the inputs.
pub struct Recovered<'a> {
    regions: Vec<&'a [u8]>,
    pub report: Report,
}

impl<'a> Recovered<'a> {
    /// The bodies to replay, in order.
    pub fn bodies(&self) -> Bodies<'a> {
        Bodies::new(self.regions.clone())
    }
}

/// The bodies of several already-checked frame regions, in order.
pub struct Bodies<'a> {
    regions: Vec<&'a [u8]>,
    next: usize,
    cur: Frames<'a>,
}

impl<'a> Bodies<'a> {
    /// Walks `regions` one after the other; used by `bodies()`.
    pub(crate) fn new(regions: Vec<&'a [u8]>) -> Bodies<'a> {
        Bodies {
            regions,
            next: 0,
            cur: Frames::trusted(&[]),
        }
    }
}

impl<'a> Iterator for Bodies<'a> {
    type Item = &'a [u8];

    /// The next body, moving on to the next region when one ends.
    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            if let Some(b) = self.cur.next() {
                return Some(b);
            }
            let r = *self.regions.get(self.next)?;
            self.next += 1;
            self.cur = Frames::trusted(r);
        }
    }
}

/// The inputs and the frame ranges to replay: `(input, range)`, where input
/// 0 is the snapshot and `i + 1` is `logs[i]`.
pub(crate) type Plan = Vec<(usize, Range<usize>)>;

/// Recovers from file contents: `snapshot` (if the file exists) and the log
/// files as `(generation from the file name, content)` in any order.
/// Returns the records to replay and the report, or the damage that stops
/// recovery. Never panics, whatever the bytes.
pub fn recover_bytes<'a>(
    snapshot: Option<&'a [u8]>,
    logs: &[(u64, &'a [u8])],
    max_record: usize,
) -> Result<Recovered<'a>, Damage> {
    let (plan, report) = plan(snapshot, logs, max_record)?;
    let regions = plan
        .into_iter()
        .map(|(input, range)| {
            let buf = match input {
                0 => snapshot.unwrap_or(&[]),
                i => logs.get(i - 1).map_or(&[][..], |l| l.1),
            };
            buf.get(range).unwrap_or(&[])
        })
        .collect();
    Ok(Recovered { regions, report })
}

/// The work of [`recover_bytes`], returning ranges rather than slices so
/// that `Store::open` can keep the buffers it read.
pub(crate) fn plan(
    snapshot: Option<&[u8]>,
    logs: &[(u64, &[u8])],
    max_record: usize,
) -> Result<(Plan, Report), Damage> {
    let mut plan = Vec::new();
    let mut report = Report::default();
    let mut base = 0;
    if let Some(buf) = snapshot {
        let s = snapshot::scan(buf, max_record).map_err(|stop| Damage {
            file: Which::Snapshot,
            offset: stop.offset as u64,
            why: stop.why,
        })?;
        base = s.generation;
        let bytes = (s.frames.end - s.frames.start) as u64;
        report.snapshot = Some((s.generation, s.records, bytes));
        plan.push((0, s.frames));
    }
    // Generation order, ties in input order. Sorting the generations
    // themselves shares the `u64` sort the broker links anyway; there are
    // few logs.
    let mut generations: Vec<u64> = logs.iter().map(|l| l.0).collect();
    generations.sort();
    generations.dedup();
    let order = generations
        .iter()
        .flat_map(|&g| (0..logs.len()).filter(move |&i| logs[i].0 == g));
    let mut last = None;
    for i in order {
        let (generation, buf) = logs[i];
        if generation < base {
            report.obsolete.push(generation);
            continue;
        }
        let damage = |offset: usize, why| Damage {
            file: Which::Log(generation),
            offset: offset as u64,
            why,
        };
        if last == Some(generation) {
            return Err(damage(0, Why::Generation));
        }
        last = Some(generation);
        let s = log::scan(buf, generation, max_record).map_err(|(o, why)| damage(o, why))?;
        let dropped = s.stop.map(|stop| Dropped {
            offset: stop.offset as u64,
            why: stop.why,
            bytes: (buf.len() - s.valid_len) as u64,
            records: s.lost_records,
        });
        report.logs.push(LogReport {
            generation,
            records: s.records,
            valid_len: s.valid_len as u64,
            dropped,
        });
        if s.valid_len > 0 {
            plan.push((i + 1, HEADER_LEN..s.valid_len));
        }
    }
    Ok((plan, report))
}
