//! The snapshot file: the live state at a compaction, as records.
//!
//! # File
//! A header (magic `MIDGESNP`, version, the snapshot's generation), one
//! frame per record, then the end marker: an empty frame, which is never a
//! record. The file must end right after the marker. A snapshot is only
//! ever renamed into place complete and synced, so any defect in it (a bad
//! header, a bad or cut frame, a missing marker, bytes after it) is damage,
//! reported with its offset; recovery never guesses past it.
//!
//! # Writing
//! [`SnapshotWriter`] writes `<name>.<generation>.tmp`. [`SnapshotWriter::write`]
//! buffers records and writes the buffer whenever it reaches [`CHUNK`]
//! bytes, so the caller can spread a large state over several event-loop
//! turns with bounded pauses. The store's `finish_compaction` calls
//! [`SnapshotWriter::finish`] (marker, last chunk, `sync_data`) and then
//! renames the file into place and syncs the directory.

use super::disk::{DirFile, Stats};
use super::frame::{self, Frames, Stop, Why, HEADER_LEN};
use super::log::check_body;
use std::io;
use std::ops::Range;

/// Magic at the start of a snapshot file.
pub const MAGIC: &[u8; 8] = b"MIDGESNP";

/// The writer writes once this many bytes are buffered.
pub const CHUNK: usize = 64 * 1024;

/// A snapshot being written to its temporary file.
pub struct SnapshotWriter<F> {
    file: F,
    generation: u64,
    tmp_name: String,
    buf: Vec<u8>,
    records: u64,
    max_record: usize,
    /// A write failed: the file is incomplete and must be abandoned.
    failed: bool,
    /// What this writer asked of the disk, added to the store's stats when
    /// the compaction ends.
    pub(crate) stats: Stats,
}

impl<F: DirFile> SnapshotWriter<F> {
    /// Starts a snapshot of `generation` in the just-created `file` called
    /// `tmp_name`; called by the store's `begin_compaction`.
    pub(crate) fn new(file: F, tmp_name: String, generation: u64, max_record: usize) -> Self {
        let mut buf = Vec::with_capacity(CHUNK + 1024);
        frame::encode_header(&mut buf, MAGIC, generation);
        SnapshotWriter {
            file,
            generation,
            tmp_name,
            buf,
            records: 0,
            max_record,
            failed: false,
            stats: Stats::default(),
        }
    }

    /// The generation this snapshot will have.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The temporary file's name.
    pub fn tmp_name(&self) -> &str {
        &self.tmp_name
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Adds one record of the live state. Errors if the body is empty or
    /// too long (nothing written), or if writing a full chunk fails (the
    /// writer is then failed: abandon it).
    pub fn write(&mut self, body: &[u8]) -> io::Result<()> {
        self.check()?;
        check_body(body, self.max_record)?;
        frame::encode(&mut self.buf, body);
        self.records += 1;
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes what is buffered and syncs it: called between the parts of a
    /// snapshot written over several turns, so the final sync has only the
    /// last part left to wait for (a bounded pause on a slow SD card).
    pub fn sync_part(&mut self) -> io::Result<()> {
        self.check()?;
        if !self.buf.is_empty() {
            self.flush()?;
        }
        let r = self.file.sync_data();
        if r.is_err() {
            self.failed = true;
        }
        self.stats.synced(r)
    }

    /// Writes the end marker and the last chunk and syncs the file; called
    /// by the store's `finish_compaction` before the rename.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        self.check()?;
        frame::encode(&mut self.buf, &[]);
        self.flush()?;
        let r = self.file.sync_data();
        if r.is_err() {
            self.failed = true;
        }
        self.stats.synced(r)
    }

    /// Errors if an earlier write failed.
    fn check(&self) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::other("snapshot writer failed earlier"));
        }
        Ok(())
    }

    /// Writes the buffer to the file with one call.
    fn flush(&mut self) -> io::Result<()> {
        let r = self.file.append(&self.buf);
        if r.is_err() {
            self.failed = true;
        }
        self.stats.wrote(self.buf.len(), r)?;
        self.buf.clear();
        Ok(())
    }
}

/// A good snapshot, as found by [`scan`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapScan {
    pub generation: u64,
    pub records: u64,
    /// The frames of the records (without header and end marker).
    pub frames: Range<usize>,
}

/// Checks the whole snapshot `buf`; called by recovery. Returns where its
/// records are, or where and why it is damaged.
pub fn scan(buf: &[u8], max_record: usize) -> Result<SnapScan, Stop> {
    let generation = frame::decode_header(buf, MAGIC).map_err(|why| Stop { offset: 0, why })?;
    let mut frames = Frames::new(buf, HEADER_LEN, max_record);
    let mut records = 0;
    let mut end = HEADER_LEN;
    while let Some(body) = frames.next() {
        if body.is_empty() {
            if frames.pos() != buf.len() {
                return Err(Stop {
                    offset: frames.pos(),
                    why: Why::Trailing,
                });
            }
            return Ok(SnapScan {
                generation,
                records,
                frames: HEADER_LEN..end,
            });
        }
        records += 1;
        end = frames.pos();
    }
    Err(frames.end().1.unwrap_or(Stop {
        offset: buf.len(),
        why: Why::NoEnd,
    }))
}
