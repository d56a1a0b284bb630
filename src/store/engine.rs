//! [`Store`]: the snapshot and logs of one store in one directory, opened,
//! recovered, appended to and compacted as described in the module doc of
//! `store/mod.rs`.

use super::disk::{Dir, FsDir, Stats};
use super::files::{log_name, new_log, repair_log, tmp_name, Found};
use super::frame::{self, Why, HEADER_LEN};
use super::log::{Log, SyncPolicy};
use super::recover::{self, Bodies, Damage, Plan, Report, Which};
use super::snapshot::SnapshotWriter;
use std::error::Error;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// How a store is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    pub sync: SyncPolicy,
    /// The longest record body accepted when appending and when reading.
    /// It must not shrink between runs: a longer stored record would read
    /// as damage.
    pub max_record: usize,
}

impl Default for Options {
    /// Sync every turn; records up to 16 MiB.
    fn default() -> Options {
        Options {
            sync: SyncPolicy::Turn,
            max_record: 16 << 20,
        }
    }
}

/// A file recovery cannot read past: the error inside the `InvalidData`
/// `io::Error` that [`Store::open`] returns (reach it with
/// `err.get_ref().and_then(|e| e.downcast_ref::<DamagedFile>())`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DamagedFile {
    pub path: PathBuf,
    pub offset: u64,
    pub why: Why,
}

impl fmt::Display for DamagedFile {
    /// E.g. `/var/lib/midge/midge.db: damaged at byte 1234 (crc mismatch);
    /// move it away to start without it`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: damaged at byte {} ({}); move it away to start without it",
            self.path.display(),
            self.offset,
            self.why
        )
    }
}

impl Error for DamagedFile {}

/// What [`Store::open`] recovered: the file contents it read and where the
/// records to replay are in them. Drop it once the records are applied.
pub struct Recovery {
    files: Vec<Vec<u8>>,
    plan: Plan,
    pub report: Report,
}

impl Recovery {
    /// The bodies to replay, in order: snapshot, then each log.
    pub fn bodies(&self) -> Bodies<'_> {
        let regions = self
            .plan
            .iter()
            .map(|(i, r)| {
                self.files
                    .get(*i)
                    .and_then(|f| f.get(r.clone()))
                    .unwrap_or(&[])
            })
            .collect();
        Bodies::new(regions)
    }
}

/// An open store.
pub struct Store<D: Dir = FsDir> {
    dir: D,
    name: String,
    log: Log<D::File>,
    /// The generation of the snapshot in place, if there is one.
    snapshot_gen: Option<u64>,
    /// Generations of the logs on disk, ascending; the last is `log`.
    logs: Vec<u64>,
    next_gen: u64,
    options: Options,
    stats: Stats,
}

impl Store<FsDir> {
    /// Opens (creating if needed) store `name` in the existing directory
    /// `dir`; called once at broker start. See [`Store::open_in`].
    pub fn open(dir: &Path, name: &str, options: Options) -> io::Result<(Store, Recovery)> {
        Store::open_in(FsDir::new(dir), name, options)
    }
}

impl<D: Dir> Store<D> {
    /// Opens store `name` in `dir`: recovers, removes tmp files and obsolete
    /// logs, truncates bad log tails, creates the first log of a new store.
    /// Returns the store and what to replay; an `InvalidData` error wrapping
    /// a [`DamagedFile`] for damage; an `InvalidInput` error for a `name`
    /// that is empty or contains `/`.
    pub fn open_in(dir: D, name: &str, options: Options) -> io::Result<(Store<D>, Recovery)> {
        if name.is_empty() || name.contains('/') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bad store name",
            ));
        }
        let options = Options {
            max_record: options.max_record.min(frame::MAX_BODY),
            ..options
        };
        let mut stats = Stats::default();
        let found = Found::read(&dir, name)?;
        let log_refs: Vec<(u64, &[u8])> = found.logs.iter().map(|(g, d)| (*g, &d[..])).collect();
        let (plan, report) = recover::plan(found.snap.as_deref(), &log_refs, options.max_record)
            .map_err(|d| damaged(&dir, name, d))?;

        let mut removed = false;
        for t in &found.tmps {
            stats.other(dir.remove(t))?;
            removed = true;
        }
        for g in &report.obsolete {
            stats.other(dir.remove(&log_name(name, *g)))?;
            removed = true;
        }
        if removed {
            stats.synced(dir.sync())?;
        }
        let mut active = None;
        for (i, l) in report.logs.iter().enumerate() {
            let newest = i + 1 == report.logs.len();
            let file_len = found.len_of(l.generation);
            let file = repair_log(&dir, name, l, file_len, newest, &mut stats)?;
            if let Some(f) = file.filter(|_| newest) {
                active = Some((f, l.generation, l.valid_len.max(HEADER_LEN as u64)));
            }
        }
        let snapshot_gen = report.snapshot.map(|s| s.0);
        let base = snapshot_gen.unwrap_or(0);
        let (file, g, len) = match active {
            Some(a) => a,
            None => {
                let f = new_log(&dir, name, base, &mut stats)?;
                (f, base, HEADER_LEN as u64)
            }
        };
        let mut gens: Vec<u64> = report.logs.iter().map(|l| l.generation).collect();
        if gens.last() != Some(&g) {
            gens.push(g);
        }
        let next_gen = g.max(base) + 1;
        let mut files = Vec::with_capacity(found.logs.len() + 1);
        files.push(found.snap.unwrap_or_default());
        files.extend(found.logs.into_iter().map(|(_, d)| d));
        let store = Store {
            dir,
            name: name.to_string(),
            log: Log::new(file, g, len, options.sync, options.max_record),
            snapshot_gen,
            logs: gens,
            next_gen,
            options,
            stats,
        };
        Ok((
            store,
            Recovery {
                files,
                plan,
                report,
            },
        ))
    }

    /// Buffers one record for the next commit. Errors (nothing buffered) if
    /// `body` is empty or longer than `max_record`.
    pub fn append(&mut self, body: &[u8]) -> io::Result<()> {
        self.log.append(body)
    }

    /// Writes and syncs everything appended since the last good commit;
    /// called at the end of every event-loop turn that appended. See
    /// `log.rs` for the failure rule.
    pub fn commit(&mut self) -> io::Result<()> {
        self.log.commit(&mut self.stats)
    }

    /// Writes everything appended, without a sync: for records no
    /// acknowledgement depends on. They become durable with the next
    /// synced commit (or are lost in a power cut before it, as allowed).
    pub fn commit_unsynced(&mut self) -> io::Result<()> {
        self.log.commit_with(&mut self.stats, false)
    }

    /// Whether records wait for a commit.
    pub fn has_pending(&self) -> bool {
        self.log.has_pending()
    }

    /// Bytes waiting for a commit (they grow while commits keep failing).
    pub fn pending_len(&self) -> usize {
        self.log.pending_len()
    }

    /// Committed bytes in the current log: the compaction trigger.
    pub fn log_len(&self) -> u64 {
        self.log.len()
    }

    /// The generation of the current log.
    pub fn generation(&self) -> u64 {
        self.log.generation()
    }

    /// The generation of the snapshot in place, if any.
    pub fn snapshot_generation(&self) -> Option<u64> {
        self.snapshot_gen
    }

    /// Counts of the disk work done since open.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Step 1 of a compaction: switches appends to a new log and returns
    /// the writer for the new snapshot. On an error the store goes on with
    /// whichever log it has (the new one if the switch was made).
    pub fn begin_compaction(&mut self) -> io::Result<SnapshotWriter<D::File>> {
        self.log.repair(&mut self.stats)?;
        let g = self.next_gen;
        self.next_gen += 1;
        let file = match new_log(&self.dir, &self.name, g, &mut self.stats) {
            Ok(f) => f,
            Err(e) => {
                // Best effort: a leftover is an empty log, harmless.
                let _ = self.dir.remove(&log_name(&self.name, g));
                return Err(e);
            }
        };
        self.logs.push(g);
        let next = Log::new(
            file,
            g,
            HEADER_LEN as u64,
            self.options.sync,
            self.options.max_record,
        );
        let old = std::mem::replace(&mut self.log, next);
        old.move_pending_to(&mut self.log);
        let tmp = tmp_name(&self.name, g);
        let f = self.stats.other(self.dir.create(&tmp))?;
        Ok(SnapshotWriter::new(f, tmp, g, self.options.max_record))
    }

    /// Step 3: makes the snapshot durable and in place, then removes the
    /// logs it replaces. On an error the compaction is abandoned (its tmp
    /// file removed) and recovery still finds a correct state; a writer
    /// older than the snapshot in place is refused.
    pub fn finish_compaction(&mut self, mut w: SnapshotWriter<D::File>) -> io::Result<()> {
        let mut renamed = false;
        let r = self.finish_steps(&mut w, &mut renamed);
        self.stats.add(&w.stats);
        if r.is_err() && !renamed {
            let _ = self.stats.other(self.dir.remove(w.tmp_name()));
        }
        r
    }

    /// The steps of [`Store::finish_compaction`]; sets `renamed` once the
    /// new snapshot is in place.
    fn finish_steps(
        &mut self,
        w: &mut SnapshotWriter<D::File>,
        renamed: &mut bool,
    ) -> io::Result<()> {
        let g = w.generation();
        if self.snapshot_gen.is_some_and(|s| g <= s) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "snapshot older than the one in place",
            ));
        }
        self.commit()?;
        w.finish()?;
        self.stats
            .other(self.dir.rename(w.tmp_name(), &self.name))?;
        *renamed = true;
        self.snapshot_gen = Some(g);
        self.stats.synced(self.dir.sync())?;
        let mut kept = Vec::new();
        for &old in &self.logs {
            if old < g {
                let file = log_name(&self.name, old);
                match self.stats.other(self.dir.remove(&file)) {
                    Ok(()) => continue,
                    // Kept for the next compaction or open to remove; its
                    // generation is older than the snapshot, so it is
                    // never replayed.
                    Err(e) => ::log::warn!("store: cannot remove {file}: {e}"),
                }
            }
            kept.push(old);
        }
        self.logs = kept;
        self.stats.compactions += 1;
        Ok(())
    }

    /// Gives up a compaction (e.g. after a failed write): removes its tmp
    /// file. The new log stays in use.
    pub fn abandon_compaction(&mut self, w: SnapshotWriter<D::File>) {
        self.stats.add(&w.stats);
        let _ = self.stats.other(self.dir.remove(w.tmp_name()));
    }
}

/// Converts recovery's [`Damage`] into the error `open` returns.
fn damaged<D: Dir>(dir: &D, name: &str, d: Damage) -> io::Error {
    let file = match d.file {
        Which::Snapshot => name.to_string(),
        Which::Log(g) => log_name(name, g),
    };
    let err = DamagedFile {
        path: dir.path_of(&file),
        offset: d.offset,
        why: d.why,
    };
    io::Error::new(io::ErrorKind::InvalidData, err)
}
