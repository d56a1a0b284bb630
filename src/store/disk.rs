//! The file operations the store needs, behind a trait, so tests can run the
//! store on an in-memory directory that decides what a crash keeps and
//! injects errors (`memdir.rs`), and the broker runs it on [`FsDir`].
//!
//! Contract (what the store relies on, and what a fake must model):
//! - Files are append-only: [`DirFile::append`] always writes at the current
//!   end, also after [`DirFile::set_len`] shrank the file.
//! - Nothing written is durable until [`DirFile::sync_data`] returns `Ok`
//!   (fdatasync: data and size, not other metadata).
//! - Creating, renaming and removing a name is durable only after
//!   [`Dir::sync`] (fsync of the directory) returns `Ok`.
//! - A rename replaces the target atomically: after a crash either the old
//!   or the new file is under the target name, never a mix.
//! - Names are plain file names inside the one directory.
//!
//! [`Stats`] counts what the store asked of the disk; the broker reports it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// One open file of a [`Dir`], opened for appending.
pub trait DirFile {
    /// Writes all of `buf` at the end of the file (one `write_all`). On an
    /// error some prefix of `buf` may have been written.
    fn append(&mut self, buf: &[u8]) -> io::Result<()>;

    /// Makes everything written so far durable (fdatasync).
    fn sync_data(&mut self) -> io::Result<()>;

    /// Cuts (or extends with zeros) the file to `len` bytes.
    fn set_len(&mut self, len: u64) -> io::Result<()>;
}

/// The directory the store keeps its files in.
pub trait Dir {
    type File: DirFile;

    /// The names of the files in the directory (names that are not UTF-8
    /// are left out: the store never creates one).
    fn list(&self) -> io::Result<Vec<String>>;

    /// The whole content of file `name`.
    fn read(&self, name: &str) -> io::Result<Vec<u8>>;

    /// Creates file `name` empty (truncating one that exists) and opens it
    /// for appending.
    fn create(&self, name: &str) -> io::Result<Self::File>;

    /// Opens the existing file `name` for appending.
    fn open_append(&self, name: &str) -> io::Result<Self::File>;

    /// Renames `from` to `to`, replacing `to` if it exists.
    fn rename(&self, from: &str, to: &str) -> io::Result<()>;

    /// Removes file `name`.
    fn remove(&self, name: &str) -> io::Result<()>;

    /// Makes the creations, renames and removals so far durable (fsync of
    /// the directory).
    fn sync(&self) -> io::Result<()>;

    /// How to name file `name` in an error message.
    fn path_of(&self, name: &str) -> PathBuf;
}

/// What the store has asked of the disk since it was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Successful log commits that wrote something.
    pub commits: u64,
    /// Records made part of the log by those commits.
    pub records: u64,
    /// Write calls that succeeded (log and snapshot).
    pub writes: u64,
    /// Bytes those writes wrote.
    pub bytes_written: u64,
    /// Successful file and directory syncs.
    pub syncs: u64,
    /// Operations that returned an error.
    pub errors: u64,
    /// Compactions finished.
    pub compactions: u64,
}

impl Stats {
    /// Adds `other` (a snapshot writer's counts) into these.
    pub(crate) fn add(&mut self, other: &Stats) {
        self.commits += other.commits;
        self.records += other.records;
        self.writes += other.writes;
        self.bytes_written += other.bytes_written;
        self.syncs += other.syncs;
        self.errors += other.errors;
        self.compactions += other.compactions;
    }

    /// Counts the outcome of a write of `len` bytes; returns `r` unchanged.
    pub(crate) fn wrote(&mut self, len: usize, r: io::Result<()>) -> io::Result<()> {
        match r {
            Ok(()) => {
                self.writes += 1;
                self.bytes_written += len as u64;
            }
            Err(_) => self.errors += 1,
        }
        r
    }

    /// Counts the outcome of a file or directory sync; returns `r`.
    pub(crate) fn synced(&mut self, r: io::Result<()>) -> io::Result<()> {
        match r {
            Ok(()) => self.syncs += 1,
            Err(_) => self.errors += 1,
        }
        r
    }

    /// Counts the outcome of any other operation; returns `r`.
    pub(crate) fn other<T>(&mut self, r: io::Result<T>) -> io::Result<T> {
        if r.is_err() {
            self.errors += 1;
        }
        r
    }
}

/// A real directory on the file system.
pub struct FsDir {
    path: PathBuf,
}

impl FsDir {
    /// Uses the existing directory `path`; called by `Store::open`.
    pub fn new(path: &Path) -> FsDir {
        FsDir {
            path: path.to_path_buf(),
        }
    }
}

impl DirFile for File {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        self.write_all(buf)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        File::sync_data(self)
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        File::set_len(self, len)
    }
}

impl Dir for FsDir {
    type File = File;

    fn list(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.path)? {
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        fs::read(self.path.join(name))
    }

    fn create(&self, name: &str) -> io::Result<File> {
        OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(self.path.join(name))?;
        self.open_append(name)
    }

    fn open_append(&self, name: &str) -> io::Result<File> {
        // O_APPEND: every write goes to the current end, also after set_len.
        OpenOptions::new().append(true).open(self.path.join(name))
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        fs::rename(self.path.join(from), self.path.join(to))
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        fs::remove_file(self.path.join(name))
    }

    fn sync(&self) -> io::Result<()> {
        File::open(&self.path)?.sync_all()
    }

    fn path_of(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}
