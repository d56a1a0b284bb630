//! Tests of [`Store`] on the in-memory directory (group commit, sync
//! policy, failed writes and syncs, repairs at open, damage errors) and on a
//! real temporary directory.

use super::memdir::{Crash, MemDir};
use super::tests::{log_file, snap_file, MAX};
use super::{DamagedFile, Options, Recovery, Store, SyncPolicy, Why};
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Options for the tests: `sync`, records up to [`MAX`].
pub(super) fn opts(sync: SyncPolicy) -> Options {
    Options {
        sync,
        max_record: MAX,
    }
}

/// Opens store `db` in `d`, which must succeed.
pub(super) fn open(d: &MemDir) -> (Store<MemDir>, Recovery) {
    Store::open_in(d.clone(), "db", opts(SyncPolicy::Turn)).expect("open")
}

/// The recovered bodies, copied.
pub(super) fn replay(r: &Recovery) -> Vec<Vec<u8>> {
    r.bodies().map(|b| b.to_vec()).collect()
}

/// Records from strings.
fn recs(names: &[&str]) -> Vec<Vec<u8>> {
    names.iter().map(|n| n.as_bytes().to_vec()).collect()
}

/// The `DamagedFile` inside an `open` error.
fn damage(e: &io::Error) -> &DamagedFile {
    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    e.get_ref()
        .and_then(|e| e.downcast_ref())
        .expect("a DamagedFile")
}

#[test]
fn a_new_store_has_a_durable_empty_log() {
    let d = MemDir::new();
    let (s, r) = open(&d);
    assert_eq!(r.bodies().count(), 0);
    assert_eq!((s.generation(), s.snapshot_generation()), (0, None));
    assert_eq!(d.crash(Crash::PowerCut).names(), ["db.0.log"]);
    assert_eq!(s.log_len(), 24);
}

#[test]
fn group_commit_is_one_write_and_one_sync() {
    let d = MemDir::new();
    let (mut s, _) = open(&d);
    let before = d.counts();
    for i in 0..10u8 {
        s.append(&[i; 5]).unwrap();
    }
    assert!(s.has_pending());
    assert_eq!(d.counts(), before, "append does no I/O");
    s.commit().unwrap();
    let after = d.counts();
    assert_eq!((after.0 - before.0, after.2 - before.2), (1, 1));
    assert_eq!(after.1 - before.1, 10 * 13);
    assert!(!s.has_pending());
    assert_eq!(s.log_len(), 24 + 130);
    assert_eq!((s.stats().commits, s.stats().records), (1, 10));
    // Nothing pending: no I/O at all.
    s.commit().unwrap();
    assert_eq!(d.counts(), after);
}

#[test]
fn sync_never_writes_but_never_syncs() {
    let d = MemDir::new();
    let (mut s, _) = Store::open_in(d.clone(), "db", opts(SyncPolicy::Never)).unwrap();
    let before = d.counts();
    for _ in 0..3 {
        s.append(b"rec").unwrap();
        s.commit().unwrap();
    }
    let after = d.counts();
    assert_eq!((after.0 - before.0, after.2 - before.2), (3, 0));
    // A killed process keeps them, a power cut does not.
    assert_eq!(replay(&open(&d.crash(Crash::Kill)).1).len(), 3);
    assert_eq!(replay(&open(&d.crash(Crash::PowerCut)).1).len(), 0);
}

#[test]
fn bodies_that_cannot_be_records_are_refused() {
    let (mut s, _) = open(&MemDir::new());
    assert_eq!(
        s.append(b"").unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    let long = vec![0; MAX + 1];
    assert_eq!(
        s.append(&long).unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    assert!(!s.has_pending());
    s.append(&long[..MAX]).unwrap();
}

#[test]
fn uncommitted_records_are_lost_and_committed_ones_survive() {
    let d = MemDir::new();
    let (mut s, _) = open(&d);
    s.append(b"a").unwrap();
    s.append(b"b").unwrap();
    s.commit().unwrap();
    s.append(b"c").unwrap();
    for kind in [Crash::PowerCut, Crash::Kill, Crash::Torn(100)] {
        assert_eq!(
            replay(&open(&d.crash(kind)).1),
            recs(&["a", "b"]),
            "{kind:?}"
        );
    }
}

/// Fails one commit with `fail`, then commits again; the log must hold
/// every record exactly once, with nothing torn in the middle.
fn failed_commit_then_retry(fail: impl Fn(&MemDir)) {
    let d = MemDir::new();
    let (mut s, _) = open(&d);
    s.append(b"first").unwrap();
    s.commit().unwrap();
    s.append(b"second").unwrap();
    s.append(b"third").unwrap();
    fail(&d);
    let e = s.commit().unwrap_err();
    assert_eq!(e.raw_os_error(), Some(28), "ENOSPC comes back");
    assert!(s.has_pending(), "records stay pending");
    assert_eq!(s.log_len(), 24 + 13);
    s.append(b"fourth").unwrap();
    s.commit().unwrap();
    let want = recs(&["first", "second", "third", "fourth"]);
    let (file, _) = log_file(0, &want);
    assert_eq!(
        d.get("db.0.log").unwrap(),
        file,
        "no torn or doubled record"
    );
    let (_, r) = open(&d.crash(Crash::PowerCut));
    assert_eq!(replay(&r), want);
    assert_eq!(r.report.dropped_bytes(), 0);
    assert_eq!(s.stats().errors, 1);
}

#[test]
fn a_write_failing_half_way_is_cut_off_before_the_retry() {
    failed_commit_then_retry(|d| d.fail_append(7));
}

#[test]
fn a_failed_sync_is_rewritten_not_trusted() {
    failed_commit_then_retry(|d| d.fail_sync());
}

#[test]
fn open_truncates_a_torn_tail_so_new_records_follow_good_ones() {
    let want = recs(&["r0", "r1", "r2", "r3"]);
    let (file, starts) = log_file(0, &want);
    for cut in starts[1]..=file.len() {
        let d = MemDir::new();
        d.put("db.0.log", &file[..cut]);
        let (mut s, r) = open(&d);
        let complete = starts[1..].iter().filter(|&&e| e <= cut).count();
        assert_eq!(replay(&r), want[..complete].to_vec(), "cut {cut}");
        assert_eq!(d.get("db.0.log").unwrap().len(), starts[complete]);
        s.append(b"new").unwrap();
        s.commit().unwrap();
        let mut more = want[..complete].to_vec();
        more.push(b"new".to_vec());
        let (_, r) = open(&d.crash(Crash::PowerCut));
        assert_eq!(replay(&r), more, "cut {cut}");
        assert_eq!(r.report.dropped_bytes(), 0);
    }
}

#[test]
fn a_log_header_cut_short_is_rewritten() {
    for cut in 0..24 {
        let (file, _) = log_file(0, &[]);
        let d = MemDir::new();
        d.put("db.0.log", &file[..cut]);
        let (mut s, r) = open(&d);
        assert_eq!(r.bodies().count(), 0);
        s.append(b"x").unwrap();
        s.commit().unwrap();
        assert_eq!(replay(&open(&d.crash(Crash::PowerCut)).1), recs(&["x"]));
    }
}

#[test]
fn a_damaged_snapshot_or_log_header_names_the_file_and_offset() {
    let (mut snap, starts) = snap_file(0, &recs(&["a", "b"]));
    snap[starts[1] + 8] ^= 1; // the body of "b"
    let d = MemDir::new();
    d.put("db", &snap);
    let e = Store::open_in(d.clone(), "db", opts(SyncPolicy::Turn))
        .err()
        .unwrap();
    let got = damage(&e);
    assert_eq!(got.path, PathBuf::from("db"));
    assert_eq!((got.offset, got.why), (starts[1] as u64, Why::BadCrc));
    assert_eq!(
        e.to_string(),
        "db: damaged at byte 33 (crc mismatch); move it away to start without it"
    );
    assert_eq!(d.get("db").unwrap(), snap, "a damaged file is left alone");

    let (mut log, _) = log_file(0, &recs(&["a"]));
    log[0] = b'X';
    let d = MemDir::new();
    d.put("db.0.log", &log);
    let e = Store::open_in(d, "db", opts(SyncPolicy::Turn))
        .err()
        .unwrap();
    let got = damage(&e);
    assert_eq!(got.path, PathBuf::from("db.0.log"));
    assert_eq!((got.offset, got.why), (0, Why::BadHeader));
}

#[test]
fn open_removes_tmp_files_and_obsolete_logs_and_ignores_other_files() {
    let (snap, _) = snap_file(3, &recs(&["s"]));
    let (l2, _) = log_file(2, &recs(&["old"]));
    let (l3, _) = log_file(3, &recs(&["new"]));
    let d = MemDir::new();
    for (name, data) in [
        ("db", &snap[..]),
        ("db.2.log", &l2[..]),
        ("db.3.log", &l3[..]),
        ("db.4.tmp", b"half a snapshot"),
        ("db.03.log", b"not a name the store makes"),
        ("other.1.log", b"another store"),
    ] {
        d.put(name, data);
    }
    let (s, r) = open(&d);
    assert_eq!(replay(&r), recs(&["s", "new"]));
    assert_eq!(r.report.obsolete, vec![2]);
    let names = d.crash(Crash::PowerCut).names();
    assert_eq!(names, ["db", "db.03.log", "db.3.log", "other.1.log"]);
    assert_eq!((s.generation(), s.snapshot_generation()), (3, Some(3)));
}

#[test]
fn open_refuses_a_bad_store_name() {
    for name in ["", "a/b"] {
        let e = Store::open_in(MemDir::new(), name, opts(SyncPolicy::Turn)).err();
        assert_eq!(e.map(|e| e.kind()), Some(io::ErrorKind::InvalidInput));
    }
}

/// A directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("midge-store-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn real_files_commit_compact_and_recover() {
    let t = TempDir::new();
    let o = Options::default();
    let (mut s, r) = Store::open(&t.0, "midge.db", o).unwrap();
    assert_eq!(r.bodies().count(), 0);
    s.append(b"k1=a").unwrap();
    s.append(b"k2=b").unwrap();
    s.commit().unwrap();
    let mut w = s.begin_compaction().unwrap();
    s.append(b"k1=c").unwrap();
    w.write(b"k1=a").unwrap();
    w.write(b"k2=b").unwrap();
    s.finish_compaction(w).unwrap();
    s.append(b"k3=d").unwrap();
    s.commit().unwrap();
    drop(s);
    let mut names: Vec<String> = std::fs::read_dir(&t.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["midge.db", "midge.db.1.log"]);
    let (s, r) = Store::open(&t.0, "midge.db", o).unwrap();
    assert_eq!(replay(&r), recs(&["k1=a", "k2=b", "k1=c", "k3=d"]));
    assert_eq!((s.generation(), s.snapshot_generation()), (1, Some(1)));
    drop(s);

    // A torn tail on a real file is cut off at open.
    let log = t.0.join("midge.db.1.log");
    let good = std::fs::metadata(&log).unwrap().len();
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    io::Write::write_all(&mut f, &[9, 0, 0, 0, 1, 2]).unwrap();
    drop(f);
    let (_, r) = Store::open(&t.0, "midge.db", o).unwrap();
    assert_eq!(r.report.dropped_bytes(), 6);
    assert_eq!(std::fs::metadata(&log).unwrap().len(), good);

    // A damaged snapshot names its full path.
    let db = t.0.join("midge.db");
    let mut snap = std::fs::read(&db).unwrap();
    snap[30] ^= 0xff;
    std::fs::write(&db, &snap).unwrap();
    let e = Store::open(&t.0, "midge.db", o).err().unwrap();
    assert_eq!(damage(&e).path, db);
    assert!(e
        .to_string()
        .starts_with(&format!("{}: damaged at byte 24", db.display())));
}
