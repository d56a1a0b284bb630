//! The persistence settings, Mosquitto's directives and midge's own
//! (`persistence_sync`); see the README's persistence section for what each
//! maps onto in midge's store.

use std::path::PathBuf;
use std::time::Duration;

/// When the store makes records durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersistenceSync {
    /// `persistence_sync turn` (default): one fdatasync per event-loop turn
    /// that changed durable state, before any acknowledgement of it.
    Turn,
    /// `persistence_sync never`: written every turn, synced by the OS when
    /// it likes (a power cut may lose the last seconds; a crash of midge
    /// loses nothing).
    Never,
}

/// How often the log is compacted into a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Autosave {
    /// `autosave_interval N` (default 1800): every N seconds, if the log
    /// holds more than the live state needs. 0: only by size.
    Seconds(Duration),
    /// `autosave_on_changes true`: after `autosave_interval` changes
    /// (records) since the last compaction.
    Changes(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Persistence {
    /// `persistence` (default false).
    pub enabled: bool,
    /// `persistence_location` (default: the working directory).
    pub location: PathBuf,
    /// `persistence_file` (default `midge.db`): the snapshot's name; the
    /// logs are named after it.
    pub file: String,
    pub sync: PersistenceSync,
    pub autosave: Autosave,
}

impl Default for Persistence {
    fn default() -> Self {
        Persistence {
            enabled: false,
            location: PathBuf::from("."),
            file: "midge.db".to_string(),
            sync: PersistenceSync::Turn,
            autosave: Autosave::Seconds(Duration::from_secs(1800)),
        }
    }
}
