//! An in-memory [`Dir`] for tests: it keeps, next to what the process sees,
//! what would survive a power cut, injects errors, and counts operations.
//!
//! Model (the contract of `disk.rs`, made strict):
//! - A file's data is durable as of its last `sync_data`; a name (created,
//!   renamed, removed) is durable as of the last directory `sync`.
//! - [`MemDir::crash`] returns the directory a restart would find, for one
//!   of several [`Crash`] kinds: a power cut (only durable state), a power
//!   cut after the directory happened to be written back, a process kill
//!   (everything written survives) or a torn write (part of the unsynced
//!   tail survives).
//! - [`MemDir::power_off_after`]: after that many more state-changing
//!   operations every operation fails, as if the machine had stopped there.
//! - [`MemDir::fail_append`] / [`MemDir::fail_sync`]: the next append (after
//!   writing a given prefix) or the next `sync_data` fails with ENOSPC.
//!
//! Clones share the same directory (the store owns one, the test another).

use super::disk::{Dir, DirFile};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::rc::Rc;

/// What a restart finds after a crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crash {
    /// Power cut: durable names, durable data.
    PowerCut,
    /// Power cut after the directory was written back on its own: current
    /// names, durable data.
    NamesKept,
    /// The process died, the kernel kept everything: current names and data.
    Kill,
    /// Power cut that kept the first `n` unsynced bytes of every file
    /// (current names).
    Torn(usize),
}

#[derive(Clone, Default)]
struct Inode {
    data: Vec<u8>,
    durable: Vec<u8>,
}

#[derive(Default)]
struct State {
    inodes: Vec<Inode>,
    names: BTreeMap<String, usize>,
    durable_names: BTreeMap<String, usize>,
    /// Operations left before the power goes off (`None`: never).
    power_left: Option<u64>,
    fail_append: Option<usize>,
    fail_sync: bool,
    ops: u64,
    appends: u64,
    appended: u64,
    syncs: u64,
    dir_syncs: u64,
}

impl State {
    /// Counts one state-changing operation; fails once the power is off.
    fn op(&mut self) -> io::Result<()> {
        if let Some(left) = self.power_left.as_mut() {
            if *left == 0 {
                return Err(io::Error::other("power is off"));
            }
            *left -= 1;
        }
        self.ops += 1;
        Ok(())
    }
}

/// A shared in-memory directory.
#[derive(Clone, Default)]
pub struct MemDir(Rc<RefCell<State>>);

/// An open file of a [`MemDir`].
pub struct MemFile {
    dir: MemDir,
    inode: usize,
}

/// The error of a full disk, as injected.
fn enospc() -> io::Error {
    io::Error::from_raw_os_error(28)
}

/// The error for a name that is not in the directory.
fn not_found(name: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, name.to_string())
}

impl MemDir {
    /// An empty directory.
    pub fn new() -> MemDir {
        MemDir::default()
    }

    /// Puts `data` under `name`, durable, as a test's starting state.
    pub fn put(&self, name: &str, data: &[u8]) {
        let mut s = self.0.borrow_mut();
        let inode = s.inodes.len();
        s.inodes.push(Inode {
            data: data.to_vec(),
            durable: data.to_vec(),
        });
        s.names.insert(name.to_string(), inode);
        s.durable_names.insert(name.to_string(), inode);
    }

    /// The current content of `name`, if it exists.
    pub fn get(&self, name: &str) -> Option<Vec<u8>> {
        let s = self.0.borrow();
        s.names.get(name).map(|&i| s.inodes[i].data.clone())
    }

    /// The current names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.0.borrow().names.keys().cloned().collect()
    }

    /// The directory a restart would find after a crash of kind `kind`.
    pub fn crash(&self, kind: Crash) -> MemDir {
        let s = self.0.borrow();
        let names = match kind {
            Crash::PowerCut => &s.durable_names,
            _ => &s.names,
        };
        let out = MemDir::new();
        for (name, &i) in names {
            let ino = &s.inodes[i];
            let data = match kind {
                Crash::PowerCut | Crash::NamesKept => ino.durable.clone(),
                Crash::Kill => ino.data.clone(),
                Crash::Torn(n) => {
                    let d = &ino.durable;
                    if ino.data.starts_with(d) {
                        let end = ino.data.len().min(d.len() + n);
                        ino.data[..end].to_vec()
                    } else {
                        d.clone()
                    }
                }
            };
            out.put(name, &data);
        }
        out
    }

    /// After `n` more state-changing operations, every operation fails.
    pub fn power_off_after(&self, n: u64) {
        self.0.borrow_mut().power_left = Some(n);
    }

    /// The next append writes `written` bytes of its buffer, then fails
    /// with ENOSPC.
    pub fn fail_append(&self, written: usize) {
        self.0.borrow_mut().fail_append = Some(written);
    }

    /// The next `sync_data` fails with ENOSPC (and makes nothing durable).
    pub fn fail_sync(&self) {
        self.0.borrow_mut().fail_sync = true;
    }

    /// State-changing operations done so far.
    pub fn ops(&self) -> u64 {
        self.0.borrow().ops
    }

    /// (append calls, bytes appended, file syncs, directory syncs).
    pub fn counts(&self) -> (u64, u64, u64, u64) {
        let s = self.0.borrow();
        (s.appends, s.appended, s.syncs, s.dir_syncs)
    }

    /// The inode under `name`; used by `open_append`.
    fn name_inode(&self, name: &str) -> io::Result<usize> {
        self.0
            .borrow()
            .names
            .get(name)
            .copied()
            .ok_or_else(|| not_found(name))
    }
}

impl DirFile for MemFile {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut s = self.dir.0.borrow_mut();
        s.op()?;
        s.appends += 1;
        let (n, r) = match s.fail_append.take() {
            Some(n) => (n.min(buf.len()), Err(enospc())),
            None => (buf.len(), Ok(())),
        };
        s.appended += n as u64;
        s.inodes[self.inode].data.extend_from_slice(&buf[..n]);
        r
    }

    fn sync_data(&mut self) -> io::Result<()> {
        let mut s = self.dir.0.borrow_mut();
        s.op()?;
        if std::mem::take(&mut s.fail_sync) {
            return Err(enospc());
        }
        s.syncs += 1;
        let ino = &mut s.inodes[self.inode];
        ino.durable = ino.data.clone();
        Ok(())
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        let mut s = self.dir.0.borrow_mut();
        s.op()?;
        s.inodes[self.inode].data.resize(len as usize, 0);
        Ok(())
    }
}

impl Dir for MemDir {
    type File = MemFile;

    fn list(&self) -> io::Result<Vec<String>> {
        Ok(self.names())
    }

    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        self.get(name).ok_or_else(|| not_found(name))
    }

    fn create(&self, name: &str) -> io::Result<MemFile> {
        let mut s = self.0.borrow_mut();
        s.op()?;
        let inode = match s.names.get(name) {
            Some(&i) => {
                s.inodes[i].data.clear();
                i
            }
            None => {
                s.inodes.push(Inode::default());
                let i = s.inodes.len() - 1;
                s.names.insert(name.to_string(), i);
                i
            }
        };
        Ok(MemFile {
            dir: self.clone(),
            inode,
        })
    }

    fn open_append(&self, name: &str) -> io::Result<MemFile> {
        self.0.borrow_mut().op()?;
        let inode = self.name_inode(name)?;
        Ok(MemFile {
            dir: self.clone(),
            inode,
        })
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let mut s = self.0.borrow_mut();
        s.op()?;
        let i = s.names.remove(from).ok_or_else(|| not_found(from))?;
        s.names.insert(to.to_string(), i);
        Ok(())
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        let mut s = self.0.borrow_mut();
        s.op()?;
        s.names
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| not_found(name))
    }

    fn sync(&self) -> io::Result<()> {
        let mut s = self.0.borrow_mut();
        s.op()?;
        s.dir_syncs += 1;
        s.durable_names = s.names.clone();
        Ok(())
    }

    fn path_of(&self, name: &str) -> PathBuf {
        PathBuf::from(name)
    }
}
