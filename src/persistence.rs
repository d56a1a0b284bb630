//! The store as the event loop drives it: opened and replayed at start,
//! given each turn's records and committed before the turn's output is
//! written, compacted when the log has outgrown the live state.
//!
//! One commit per turn: every acknowledgement a turn produced waits for
//! the one write and fdatasync that carries the records behind it (group
//! commit), so the cost of a sync is shared by every client served in the
//! turn. While commits fail (a full disk), nothing is written to clients:
//! their acknowledgements wait, so nothing is acknowledged that is not
//! durable; the commit is retried every second and the failure logged
//! once per streak.

use std::io;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use log::{error, info, warn};

use crate::broker::Broker;
use crate::config::{Autosave, Persistence, PersistenceSync};
use crate::store::{DamagedFile, Options, Store, SyncPolicy};

/// The smallest log that is worth compacting.
const MIN_COMPACT: u64 = 1 << 20;
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
        })
    }

    /// End of a turn, before any output is written: hands the turn's
    /// records to the store and commits them. Returns false while output
    /// must wait (the commit failed).
    pub fn commit<T>(&mut self, broker: &mut Broker<T>, now: Instant) -> bool {
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
            return self.failing_since.is_none();
        }
        if self.retry_at.is_some_and(|at| now < at) {
            return false;
        }
        match self.store.commit() {
            Ok(()) => {
                if let Some(since) = self.failing_since.take() {
                    info!(
                        "store: writing again after {:.1} s",
                        now.saturating_duration_since(since).as_secs_f32()
                    );
                }
                self.retry_at = None;
                self.maybe_compact(broker, now);
                true
            }
            Err(e) => {
                if self.failing_since.is_none() {
                    error!("store: cannot write ({e}); holding every acknowledgement until it can");
                    self.failing_since = Some(now);
                }
                self.retry_at = Some(now + RETRY);
                false
            }
        }
    }

    /// When the loop must wake up to retry a failed commit.
    pub fn retry_at(&self) -> Option<Instant> {
        self.retry_at
    }

    /// Compacts when the log has outgrown the live state: past twice the
    /// last snapshot (and 1 MiB), or per `autosave_interval` /
    /// `autosave_on_changes` when the log holds anything to drop.
    fn maybe_compact<T>(&mut self, broker: &mut Broker<T>, now: Instant) {
        let log = self.store.log_len();
        let by_size = log >= MIN_COMPACT && log > 2 * self.live;
        let by_autosave = log > 4096
            && match self.autosave {
                Autosave::Seconds(every) => !every.is_zero() && now >= self.last_compaction + every,
                Autosave::Changes(n) => n > 0 && self.records_since >= n,
            };
        if by_size || by_autosave {
            if let Err(e) = self.compact(broker) {
                warn!("store: compaction failed ({e}); the log goes on");
            }
            self.last_compaction = now;
            self.records_since = 0;
        }
    }

    /// Writes the live state into a new snapshot and drops the old log.
    pub fn compact<T>(&mut self, broker: &mut Broker<T>) -> io::Result<()> {
        let started = Instant::now();
        let mut writer = self.store.begin_compaction()?;
        broker.journal_live_state();
        let mut bytes = 0u64;
        let mut result = Ok(());
        for body in broker.journal() {
            bytes += body.len() as u64 + 8;
            if let Err(e) = writer.write(body) {
                result = Err(e);
                break;
            }
        }
        broker.clear_journal();
        if let Err(e) = result {
            self.store.abandon_compaction(writer);
            return Err(e);
        }
        let records = writer.records();
        self.store.finish_compaction(writer)?;
        self.live = bytes;
        info!(
            "store: compacted to {records} records, {bytes} bytes in {} ms",
            started.elapsed().as_millis()
        );
        Ok(())
    }

    /// Disk work since start.
    pub fn stats(&self) -> crate::store::Stats {
        self.store.stats()
    }
}
