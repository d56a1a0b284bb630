//! Crash-safe storage: an append log with group commit, compacted into a
//! snapshot. The engine stores opaque records; [`record`] gives them their
//! MQTT meaning and [`model`] replays them. Records must be idempotent
//! keyed upserts and deletes, so that replaying a record over a state that
//! already has it is harmless.
//!
//! # Files, in one directory, for a store called `<name>`
//! - `<name>`: the snapshot of generation `s` (absent before the first
//!   compaction; then `s` is 0). See `snapshot.rs`.
//! - `<name>.<g>.log`: the log of generation `g` (decimal, no leading
//!   zeros): the records appended from the start of compaction `g` (or from
//!   the creation of the store, for `g` 0) until the next compaction began.
//!   Its header repeats `g`. See `log.rs`.
//! - `<name>.<g>.tmp`: a snapshot of generation `g` being written. Never
//!   read; removed when the store opens.
//!
//! State = snapshot `s` (or nothing), then every log with `g >= s` in
//! ascending order. Logs with `g < s` are obsolete and are removed.
//!
//! # Turn cycle
//! [`Store::append`] buffers; [`Store::commit`] writes everything buffered
//! with one write and one fdatasync (see `log.rs` for the failure rule).
//! Acknowledge nothing that depends on a record before the commit that
//! carries it has returned `Ok`.
//!
//! # Compaction (generation `g` to `n`, `n` > `g`)
//! 1. [`Store::begin_compaction`]: create `<name>.<n>.log` with its header,
//!    sync it, sync the directory; appends (and anything still pending) now
//!    go to it. Create `<name>.<n>.tmp` and return a [`SnapshotWriter`].
//! 2. The caller writes its live state with [`SnapshotWriter::write`], over
//!    as many turns as it likes, while new records keep going to log `n`.
//!    The snapshot may mix older and newer values of different keys: log
//!    `n` holds every change since step 1, and replaying it over the
//!    snapshot ends in the right state.
//! 3. [`Store::finish_compaction`]: commit pending records (so the snapshot
//!    never holds a change the log has not made durable), write the end
//!    marker, sync the tmp file, rename it over `<name>`, sync the
//!    directory, remove the logs older than `n`.
//!
//! A crash at any point leaves one of these states, each recovered right:
//!
//! | crash                                  | files found                 | recovered from                 |
//! |----------------------------------------|-----------------------------|--------------------------------|
//! | before 1                               | snap g, log g               | snap g + log g                 |
//! | in 1, new log header not durable       | snap g, log g, short log n  | snap g + log g (log n reset)   |
//! | in 1 or 2, or in 3 before the rename   | snap g, log g, log n, tmp n | snap g + log g + log n         |
//! | after the rename, before the dir sync  | snap g or n, log g, log n   | the row above or below         |
//! | after the dir sync, before the removal | snap n, log g, log n        | snap n + log n (log g removed) |
//! | after the removal                      | snap n, log n               | snap n + log n                 |
//!
//! An abandoned compaction ([`Store::abandon_compaction`], or a failure in
//! any step) leaves log `n` in use and snapshot `g` in place: a later
//! compaction gets a higher generation, and the rule above still holds.
//! Under [`SyncPolicy::Never`] commits are not synced, but every step of a
//! compaction is.
//!
//! # Damage
//! A damaged snapshot, or a log whose header is damaged with records after
//! it, makes [`Store::open`] fail with an `InvalidData` error wrapping a
//! [`DamagedFile`] (path, byte offset, reason). A torn or bad log tail is
//! cut off and reported in the [`Recovery`]; the file is truncated there
//! before anything is appended.
//!
//! A snapshot moved away by the operator is simply missing at the next
//! open: the logs still on disk are replayed over an empty state, which
//! gives the changes since the last compaction only.
//!
//! Not handled here: two processes opening the same store (the broker's
//! pid file or the operator must prevent that).

mod crc;
mod disk;
mod engine;
mod files;
mod frame;
mod log;
#[cfg(test)]
mod memdir;
pub mod model;
#[cfg(test)]
mod model_tests;
pub mod record;
#[cfg(test)]
pub(crate) mod record_tests;
mod recover;
mod snapshot;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_crash;
#[cfg(test)]
mod tests_store;

pub use crc::crc32c;
pub use disk::{Dir, DirFile, FsDir, Stats};
pub use engine::{DamagedFile, Options, Recovery, Store};
pub use frame::Why;
pub use log::SyncPolicy;
pub use recover::{recover_bytes, Bodies, Damage, Dropped, LogReport, Recovered, Report, Which};
pub use snapshot::SnapshotWriter;
