//! Crash tests: a workload of keyed upserts and deletes with two
//! compactions (one of them written over several turns while records keep
//! coming) loses power after every single file operation, each crash image
//! is recovered under every kind of crash, and the state must be one the
//! acknowledged commits allow. Recovery itself is then interrupted at every
//! operation too. Plus the compaction misuses: a stale writer, an abandoned
//! one, a snapshot write that fails.

use super::memdir::{Crash, MemDir};
use super::tests_store::{open, opts, replay};
use super::{Store, SyncPolicy};
use std::collections::{BTreeMap, BTreeSet};
use std::io;

type Map = BTreeMap<u8, u8>;

/// The record that sets key `k` to `v`.
fn set(k: u8, v: u8) -> Vec<u8> {
    vec![b'S', k, v]
}

/// The record that deletes key `k`.
fn del(k: u8) -> Vec<u8> {
    vec![b'D', k]
}

/// Applies one record of the workload to `m`.
fn apply(m: &mut Map, body: &[u8]) {
    match body {
        [b'S', k, v] => {
            m.insert(*k, *v);
        }
        [b'D', k] => {
            m.remove(k);
        }
        _ => panic!("not a record of this workload: {body:?}"),
    }
}

/// The state replaying `bodies` gives.
fn state_of(bodies: &[Vec<u8>]) -> Map {
    let mut m = Map::new();
    bodies.iter().for_each(|b| apply(&mut m, b));
    m
}

/// What the caller knows: the state it applied, the state its successful
/// commits made durable, and the records appended since.
#[derive(Default)]
struct Model {
    applied: Map,
    acked: Map,
    pending: Vec<Vec<u8>>,
}

impl Model {
    /// The states recovery may return: the acknowledged one plus any prefix
    /// of the records whose commit had not returned.
    fn allowed(&self) -> Vec<Map> {
        (0..=self.pending.len())
            .map(|i| {
                let mut m = self.acked.clone();
                self.pending[..i].iter().for_each(|b| apply(&mut m, b));
                m
            })
            .collect()
    }
}

struct Run<'a> {
    s: Store<MemDir>,
    m: &'a mut Model,
}

impl Run<'_> {
    /// Appends a record and applies it to the caller's state.
    fn append(&mut self, body: Vec<u8>) -> io::Result<()> {
        self.s.append(&body)?;
        apply(&mut self.m.applied, &body);
        self.m.pending.push(body);
        Ok(())
    }

    /// A commit that returned `Ok` acknowledges everything before it.
    fn acked(&mut self) {
        self.m.acked = self.m.applied.clone();
        self.m.pending.clear();
    }

    /// One event-loop turn: append `bodies`, commit.
    fn turn(&mut self, bodies: Vec<Vec<u8>>) -> io::Result<()> {
        for b in bodies {
            self.append(b)?;
        }
        self.s.commit()?;
        self.acked();
        Ok(())
    }

    /// Writes the applied state's keys in `range` to the snapshot.
    fn snapshot_part(
        &self,
        w: &mut super::SnapshotWriter<super::memdir::MemFile>,
        range: std::ops::RangeInclusive<u8>,
    ) -> io::Result<()> {
        for (k, v) in self.m.applied.range(range) {
            w.write(&set(*k, *v))?;
        }
        Ok(())
    }
}

/// The workload; stops at the first error (the power is off).
fn workload(d: &MemDir, m: &mut Model) -> io::Result<()> {
    let (s, _) = Store::open_in(d.clone(), "db", opts(SyncPolicy::Turn))?;
    let mut r = Run { s, m };
    r.turn(vec![set(1, 10), set(2, 20), set(3, 30)])?;
    r.append(set(4, 40))?; // still pending when the compaction begins
    let mut w = r.s.begin_compaction()?;
    r.s.commit()?;
    r.acked();
    r.snapshot_part(&mut w, 0..=2)?;
    r.turn(vec![del(1), set(2, 21), set(5, 50)])?;
    r.append(set(3, 31))?; // committed by finish_compaction
    r.snapshot_part(&mut w, 3..=255)?;
    r.s.finish_compaction(w)?;
    r.acked();
    r.turn(vec![set(6, 60), del(4)])?;
    let mut w = r.s.begin_compaction()?;
    r.snapshot_part(&mut w, 0..=255)?;
    r.s.finish_compaction(w)?;
    r.turn(vec![set(7, 70)])
}

/// Recovers `img` and returns its state; checks that the recovered store
/// takes new records, and that recovery interrupted at any of its own
/// operations and run again gives the same state.
fn recover(img: &MemDir) -> Map {
    let (_, r) = open(img);
    let state = state_of(&replay(&r));
    let run = img.crash(Crash::Kill);
    let before = run.ops();
    let (mut s, _) = open(&run);
    let open_ops = run.ops() - before;
    s.append(&set(9, 90)).unwrap();
    s.commit().unwrap();
    let mut more = state.clone();
    more.insert(9, 90);
    assert_eq!(
        state_of(&replay(&open(&run.crash(Crash::PowerCut)).1)),
        more
    );
    for j in 0..open_ops {
        let again = img.crash(Crash::Kill);
        again.power_off_after(j);
        assert!(Store::open_in(again.clone(), "db", opts(SyncPolicy::Turn)).is_err());
        for kind in [Crash::PowerCut, Crash::NamesKept, Crash::Kill] {
            let (_, r) = open(&again.crash(kind));
            assert_eq!(
                state_of(&replay(&r)),
                state,
                "open cut after {j} ops, {kind:?}"
            );
        }
    }
    state
}

#[test]
fn power_lost_after_any_operation_recovers_an_acknowledged_state() {
    let full = MemDir::new();
    let mut m = Model::default();
    workload(&full, &mut m).unwrap();
    let total = full.ops();
    let (s, _) = open(&full);
    assert_eq!((s.generation(), s.snapshot_generation()), (2, Some(2)));
    assert_eq!(full.names(), ["db", "db.2.log"]);
    let want: Map = [(2, 21), (3, 31), (5, 50), (6, 60), (7, 70)].into();
    assert_eq!(recover(&full), want);

    let mut seen = BTreeSet::new();
    let kinds = [
        Crash::PowerCut,
        Crash::NamesKept,
        Crash::Kill,
        Crash::Torn(1),
        Crash::Torn(9),
    ];
    for k in 0..total {
        for kind in kinds {
            let d = MemDir::new();
            d.power_off_after(k);
            let mut m = Model::default();
            assert!(workload(&d, &mut m).is_err(), "cut after {k} ops");
            let img = d.crash(kind);
            let mut files = img.names();
            if img.get("db.1.log").is_some_and(|l| l.len() < 24) {
                files.push("short db.1.log".into());
            }
            seen.insert(files.join(" "));
            let got = recover(&img);
            assert!(
                m.allowed().contains(&got),
                "cut after {k}, {kind:?}: {got:?}"
            );
        }
    }
    // Every row of the file-state table in the module doc came up.
    for row in [
        "db.0.log",
        "db.0.log db.1.log short db.1.log",
        "db.0.log db.1.log db.1.tmp",
        "db db.0.log db.1.log",
        "db db.1.log",
        "db db.1.log db.2.log db.2.tmp",
        "db db.2.log",
    ] {
        assert!(seen.contains(row), "never saw {row:?} in {seen:#?}");
    }
}

#[test]
fn a_writer_older_than_the_snapshot_in_place_is_refused() {
    let d = MemDir::new();
    let (mut s, _) = open(&d);
    s.append(&set(1, 1)).unwrap();
    let mut w1 = s.begin_compaction().unwrap();
    s.append(&set(2, 2)).unwrap();
    let mut w2 = s.begin_compaction().unwrap();
    assert_eq!((w1.generation(), w2.generation()), (1, 2));
    w1.write(&set(1, 1)).unwrap();
    w2.write(&set(1, 1)).unwrap();
    w2.write(&set(2, 2)).unwrap();
    s.finish_compaction(w2).unwrap();
    let e = s.finish_compaction(w1).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(d.names(), ["db", "db.2.log"]);
    let (_, r) = open(&d.crash(Crash::PowerCut));
    assert_eq!(state_of(&replay(&r)), [(1, 1), (2, 2)].into());
}

#[test]
fn an_abandoned_compaction_keeps_the_new_log_in_use() {
    let d = MemDir::new();
    let (mut s, _) = open(&d);
    s.append(&set(1, 1)).unwrap();
    s.commit().unwrap();
    let mut w = s.begin_compaction().unwrap();
    w.write(&set(1, 1)).unwrap();
    s.append(&set(2, 2)).unwrap();
    s.commit().unwrap();
    s.abandon_compaction(w);
    assert_eq!(d.names(), ["db.0.log", "db.1.log"]);
    let (s2, r) = open(&d.crash(Crash::PowerCut));
    assert_eq!(state_of(&replay(&r)), [(1, 1), (2, 2)].into());
    assert_eq!(s2.generation(), 1);
    // The next compaction gets a new generation and replaces both logs.
    let mut w = s.begin_compaction().unwrap();
    assert_eq!(w.generation(), 2);
    w.write(&set(1, 1)).unwrap();
    w.write(&set(2, 2)).unwrap();
    s.finish_compaction(w).unwrap();
    assert_eq!(d.names(), ["db", "db.2.log"]);
}

#[test]
fn a_failed_snapshot_write_fails_the_compaction_not_the_store() {
    let d = MemDir::new();
    let (mut s, _) = open(&d);
    let big = vec![7u8; 4000];
    s.append(&big).unwrap();
    s.commit().unwrap();
    let mut w = s.begin_compaction().unwrap();
    d.fail_append(1000);
    let mut failed = None;
    for i in 0..20 {
        if let Err(e) = w.write(&big) {
            failed = Some((i, e.raw_os_error()));
            break;
        }
    }
    // 64 KiB are buffered before the first write: the 17th record.
    assert_eq!(failed, Some((16, Some(28))));
    assert!(w.write(&big).is_err(), "a failed writer stays failed");
    assert!(s.finish_compaction(w).is_err());
    assert_eq!(d.names(), ["db.0.log", "db.1.log"], "tmp removed");
    s.append(b"after").unwrap();
    s.commit().unwrap();
    let (_, r) = open(&d.crash(Crash::PowerCut));
    assert_eq!(replay(&r), vec![big, b"after".to_vec()]);
}

#[test]
fn a_compaction_after_a_failed_commit_moves_the_records_not_copies_them() {
    let d = MemDir::new();
    let (mut s, _) = open(&d);
    s.append(&set(1, 1)).unwrap();
    s.commit().unwrap();
    s.append(&set(2, 2)).unwrap();
    s.append(&set(3, 3)).unwrap();
    d.fail_append(12); // the first new record gets out whole
    assert!(s.commit().is_err());
    let mut w = s.begin_compaction().unwrap();
    let (old, _) = super::tests::log_file(0, &[set(1, 1)]);
    assert_eq!(d.crash(Crash::NamesKept).get("db.0.log").unwrap(), old);
    s.commit().unwrap();
    let (new, _) = super::tests::log_file(1, &[set(2, 2), set(3, 3)]);
    assert_eq!(d.get("db.1.log").unwrap(), new);
    w.write(&set(1, 1)).unwrap();
    s.abandon_compaction(w);
    let (_, r) = open(&d.crash(Crash::Kill));
    assert_eq!(replay(&r), vec![set(1, 1), set(2, 2), set(3, 3)]);
}
