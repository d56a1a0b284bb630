//! The store as the event loop drives it: opened and replayed at start,
//! given each turn's records and committed before the turn's output is
//! written, compacted when the log has outgrown the live state.
//!
//! One commit per turn: every acknowledgement a turn produced waits for
//! the one write and fdatasync that carries the records behind it (group
//! commit), so the cost of a sync is shared by every client served in the
//! turn. A turn whose records nothing depends on yet (see
//! `broker/persist.rs`) is written without a sync; the next sync takes it
//! along.
//!
//! While commits fail (a full disk): the connections that got output in a
//! turn whose records could not be made durable are held (nothing more is
//! written to them, so no acknowledgement leaves before what it
//! acknowledges is on disk); the broker refuses new QoS 1/2 messages
//! (`Broker::set_store_down`), so that nothing new needs the disk, and
//! every other connection is served as usual. The commit is retried every
//! second and the failure logged once per streak; once one succeeds, the
//! held connections are flushed and QoS 1/2 is taken again.

use std::io;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use log::{error, info, warn};

use crate::broker::Broker;
use crate::config::{Autosave, Persistence, PersistenceSync};
use crate::store::{DamagedFile, Options, SnapshotWriter, Store, SyncPolicy};

/// The smallest log that is worth compacting.
const MIN_COMPACT: u64 = 1 << 20;
/// The smallest log an autosave compacts.
const AUTOSAVE_MIN: u64 = 64 << 10;
/// Records of live state written into a snapshot per turn: the bound on
/// how long a compaction holds the loop at once.
const STEP_RECORDS: usize = 2048;
/// Retry period while commits fail.
const RETRY: Duration = Duration::from_secs(1);

/// An open store and its compaction schedule.
pub struct Durable {
    store: Store,
    autosave: Autosave,
    /// Snapshot size after the last compaction (the live state then).
    live: u64,
    last_compaction: Instant,
    records_since: u64,
    /// Set while commits fail: no output until this passes and a commit
    /// succeeds.
    failing_since: Option<Instant>,
    retry_at: Option<Instant>,
    /// A compaction under way: written a part per turn.
    compaction: Option<Compaction>,
    /// Pending records include one that must be synced.
    sync_owed: bool,
}

/// A snapshot being written, and what it has cost so far.
struct Compaction {
    writer: SnapshotWriter<std::fs::File>,
    began: Instant,
    steps: u32,
    bytes: u64,
    /// The longest the loop was held by one step (or the finish).
    longest: Duration,
}

/// Wall clock now, in ms since the Unix epoch.
pub fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Durable {
    /// Opens the store `p` names and restores `broker` from it. An error
    /// names the file (and offset, for a damaged one) and what to do.
    pub fn open<T>(
        p: &Persistence,
        max_record: usize,
        broker: &mut Broker<T>,
        now: Instant,
    ) -> io::Result<Durable> {
        let options = Options {
            sync: match p.sync {
                PersistenceSync::Turn => SyncPolicy::Turn,
                PersistenceSync::Never => SyncPolicy::Never,
            },
            max_record,
        };
        std::fs::create_dir_all(&p.location).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("persistence_location {}: {e}", p.location.display()),
            )
        })?;
        let (store, recovery) = Store::open(&p.location, &p.file, options).map_err(|e| {
            let damaged = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<DamagedFile>())
                .map(|d| d.to_string());
            match damaged {
                Some(d) => io::Error::new(e.kind(), d),
                None => io::Error::new(
                    e.kind(),
                    format!("store {} in {}: {e}", p.file, p.location.display()),
                ),
            }
        })?;
        info!(
            "store {}/{}: {}",
            p.location.display(),
            p.file,
            recovery.report
        );
        if recovery.report.dropped_records() > 0 {
            warn!(
                "store: dropped {} bytes ({} records or more) of a torn or damaged log tail",
                recovery.report.dropped_bytes(),
                recovery.report.dropped_records()
            );
        }
        let restored = broker.restore(recovery.bodies(), wall_ms(), now);
        info!(
            "restored {} sessions ({} subscriptions, {} messages queued or in flight), {} retained messages{}",
            restored.sessions,
            restored.subscriptions,
            restored.messages,
            restored.retained,
            if restored.undecodable + restored.dangling > 0 {
                format!(
                    "; {} records not understood, {} references to missing messages",
                    restored.undecodable, restored.dangling
                )
            } else {
                String::new()
            }
        );
        let live = recovery.report.bytes();
        drop(recovery);
        Ok(Durable {
            store,
            autosave: p.autosave,
            live,
            last_compaction: now,
            records_since: 0,
            failing_since: None,
            retry_at: None,
            compaction: None,
            sync_owed: false,
        })
    }

    /// End of a turn, before any output is written: hands the turn's
    /// records to the store and commits them. Returns false when the
    /// output of this turn must be held (it depends on records that could
    /// not be made durable); see [`Durable::failing`] for the store's state.
    pub fn commit<T>(&mut self, broker: &mut Broker<T>, now: Instant) -> bool {
        let gating = broker.journal_needs_sync();
        // Once a turn needed a sync, every commit syncs until one succeeds.
        self.sync_owed |= gating;
        if broker.has_journal() {
            for body in broker.journal() {
                if let Err(e) = self.store.append(body) {
                    // Larger than max_record: a bug, as every message is
                    // bounded by max_packet_size.
                    error!("store: record refused: {e}");
                }
                self.records_since += 1;
            }
            broker.clear_journal();
        }
        if !self.store.has_pending() {
            if self.failing_since.is_some() {
                return !gating;
            }
            // A compaction goes on in quiet turns too (see `busy`).
            if self.compaction.is_some() {
                self.compact_step(broker);
            }
            return true;
        }
        if self.retry_at.is_some_and(|at| now < at) {
            return !gating;
        }
        let committed = if self.sync_owed {
            self.store.commit()
        } else {
            self.store.commit_unsynced()
        };
        match committed {
            Ok(()) => {
                self.sync_owed = false;
                if let Some(since) = self.failing_since.take() {
                    // Tenths of a second in integers: formatting a float
                    // would link float printing (14 KB on the Pi Zero).
                    let down = now.saturating_duration_since(since);
                    let tenths = down
                        .as_secs()
                        .saturating_mul(10)
                        .saturating_add(u64::from(down.subsec_millis() + 50) / 100);
                    info!(
                        "store: writing again after {}.{} s; QoS 1/2 accepted again",
                        tenths / 10,
                        tenths % 10
                    );
                    broker.set_store_down(false);
                }
                self.retry_at = None;
                if self.compaction.is_some() {
                    self.compact_step(broker);
                } else {
                    self.maybe_compact(broker, now);
                }
                true
            }
            Err(e) => {
                if self.failing_since.is_none() {
                    error!(
                        "store: cannot write ({e}); acknowledgements waiting for it are held \
                         and QoS 1/2 messages refused until it can"
                    );
                    self.failing_since = Some(now);
                    broker.set_store_down(true);
                }
                self.retry_at = Some(now + RETRY);
                !gating
            }
        }
    }

    /// True while commits fail (held connections wait for the next one to
    /// succeed).
    pub fn failing(&self) -> bool {
        self.failing_since.is_some()
    }

    /// True while a compaction is under way: the loop should not sleep
    /// until it is done.
    pub fn busy(&self) -> bool {
        self.compaction.is_some()
    }

    /// When the loop must wake up to retry a failed commit.
    pub fn retry_at(&self) -> Option<Instant> {
        self.retry_at
    }

    /// Starts a compaction when the log has outgrown the live state: past
    /// twice the last snapshot (and 1 MiB); or, once `autosave_interval`
    /// seconds (`autosave_on_changes`: changes) have passed, when the log
    /// is past 64 KiB and larger than the last snapshot. A compaction
    /// never writes more than the log it replaces had written, so the
    /// disk sees at most twice the log's bytes, however the timer is set.
    fn maybe_compact<T>(&mut self, broker: &mut Broker<T>, now: Instant) {
        let log = self.store.log_len();
        let by_size = log >= MIN_COMPACT && log > 2 * self.live;
        let by_autosave = log > AUTOSAVE_MIN
            && log > self.live
            && match self.autosave {
                Autosave::Seconds(every) => !every.is_zero() && now >= self.last_compaction + every,
                Autosave::Changes(n) => n > 0 && self.records_since >= n,
            };
        if by_size || by_autosave {
            self.last_compaction = now;
            self.records_since = 0;
            match self.store.begin_compaction() {
                Ok(writer) => {
                    broker.begin_live_state();
                    self.compaction = Some(Compaction {
                        writer,
                        began: Instant::now(),
                        steps: 0,
                        bytes: 0,
                        longest: Duration::ZERO,
                    });
                    self.compact_step(broker);
                }
                Err(e) => warn!("store: compaction not started ({e}); the log goes on"),
            }
        }
    }

    /// One turn's part of a compaction: up to [`STEP_RECORDS`] records of
    /// live state into the snapshot; the last part finishes it (sync,
    /// rename, old log removed).
    fn compact_step<T>(&mut self, broker: &mut Broker<T>) {
        let Some(mut c) = self.compaction.take() else {
            return;
        };
        let t = Instant::now();
        let done = broker.journal_live_state_step(STEP_RECORDS);
        let mut result = Ok(());
        for body in broker.journal() {
            c.bytes += body.len() as u64 + 8;
            if let Err(e) = c.writer.write(body) {
                result = Err(e);
                break;
            }
        }
        broker.clear_journal();
        c.steps += 1;
        if !done && result.is_ok() {
            result = c.writer.sync_part();
        }
        if let Err(e) = result {
            warn!("store: compaction failed ({e}); the log goes on");
            broker.abandon_live_state();
            self.store.abandon_compaction(c.writer);
            return;
        }
        if !done {
            c.longest = c.longest.max(t.elapsed());
            self.compaction = Some(c);
            return;
        }
        let records = c.writer.records();
        let finished = self.store.finish_compaction(c.writer);
        c.longest = c.longest.max(t.elapsed());
        match finished {
            Ok(()) => {
                self.live = c.bytes;
                info!(
                    "store: compacted to {records} records, {} bytes, in {} turns over {} ms; longest pause {} ms",
                    c.bytes,
                    c.steps,
                    // As u64: printing a u128 links its own division.
                    c.began.elapsed().as_millis() as u64,
                    c.longest.as_millis() as u64
                );
            }
            Err(e) => warn!("store: compaction failed ({e}); the log goes on"),
        }
    }

    /// Disk work since start.
    pub fn stats(&self) -> crate::store::Stats {
        self.store.stats()
    }
}
