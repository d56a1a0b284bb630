//! Tests of the byte formats and of recovery as a pure function: framing,
//! headers, logs cut at every offset, single bit flips in logs and
//! snapshots, replay order, and arbitrary bytes.

use super::frame::{self, Frames, Stop, Why, FRAME_HEADER, HEADER_LEN};
use super::recover::{recover_bytes, Damage, Which};
use super::{log, snapshot};
use crate::testutil::Rng;

pub(super) const MAX: usize = 4096;

/// `n` random non-empty bodies of 1..=`max_len` bytes.
pub(super) fn bodies(rng: &mut Rng, n: usize, max_len: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|_| (0..1 + rng.below(max_len)).map(|_| rng.byte()).collect())
        .collect()
}

/// A log file of generation `g` holding `recs`, and the offset where each
/// record's frame starts (plus the file length at the end).
pub(super) fn log_file(g: u64, recs: &[Vec<u8>]) -> (Vec<u8>, Vec<usize>) {
    let mut buf = Vec::new();
    frame::encode_header(&mut buf, log::MAGIC, g);
    let mut starts = Vec::new();
    for r in recs {
        starts.push(buf.len());
        frame::encode(&mut buf, r);
    }
    starts.push(buf.len());
    (buf, starts)
}

/// A complete snapshot of generation `g` holding `recs`, and each frame's
/// start (the last one is the end marker's).
pub(super) fn snap_file(g: u64, recs: &[Vec<u8>]) -> (Vec<u8>, Vec<usize>) {
    let mut buf = Vec::new();
    frame::encode_header(&mut buf, snapshot::MAGIC, g);
    let mut starts = Vec::new();
    for r in recs.iter().map(|r| &r[..]).chain([&[][..]]) {
        starts.push(buf.len());
        frame::encode(&mut buf, r);
    }
    (buf, starts)
}

/// Copies the bodies out of an iterator of slices.
fn owned(it: impl Iterator<Item = impl AsRef<[u8]>>) -> Vec<Vec<u8>> {
    it.map(|b| b.as_ref().to_vec()).collect()
}

#[test]
fn frames_round_trip_and_zero_copy() {
    let mut rng = Rng(1);
    let mut recs = bodies(&mut rng, 50, 300);
    recs.push(Vec::new()); // an empty frame is well formed
    let mut buf = Vec::new();
    for r in &recs {
        frame::encode(&mut buf, r);
    }
    let mut walk = Frames::new(&buf, 0, MAX);
    let got: Vec<&[u8]> = walk.by_ref().collect();
    assert_eq!(owned(got.iter()), recs);
    assert_eq!(walk.end(), (buf.len(), None));
    // Bodies are slices of the buffer itself.
    let first = got[0].as_ptr() as usize;
    assert_eq!(first, buf.as_ptr() as usize + FRAME_HEADER);
    assert_eq!(owned(Frames::trusted(&buf)), recs);
}

#[test]
fn lengths_over_max_or_past_the_end_stop_the_walk() {
    let mut buf = Vec::new();
    frame::encode(&mut buf, b"good");
    let bad = buf.len();
    buf.extend_from_slice(&u32::MAX.to_le_bytes());
    buf.extend_from_slice(&[0; 4]);
    let mut walk = Frames::new(&buf, 0, MAX);
    assert_eq!(walk.next(), Some(&b"good"[..]));
    assert_eq!(walk.next(), None);
    let stop = |why| Some(Stop { offset: bad, why });
    assert_eq!(walk.end(), (bad, stop(Why::TooLong)));
    // Under the maximum but past the end of the buffer: torn.
    let mut walk = Frames::new(&buf, 0, frame::MAX_BODY);
    walk.by_ref().count();
    assert_eq!(walk.end(), (bad, stop(Why::Torn)));
    // A frame header cut short: torn.
    let mut walk = Frames::new(&buf[..bad + 3], 0, MAX);
    walk.by_ref().count();
    assert_eq!(walk.end(), (bad, stop(Why::Torn)));
    // A body exactly at the maximum is fine, one over is not.
    let mut one = Vec::new();
    frame::encode(&mut one, &[7; 100]);
    assert_eq!(Frames::new(&one, 0, 100).count(), 1);
    let mut walk = Frames::new(&one, 0, 99);
    walk.by_ref().count();
    assert_eq!(walk.end().1.map(|s| s.why), Some(Why::TooLong));
}

#[test]
fn headers_round_trip_and_reject_damage() {
    let mut h = Vec::new();
    frame::encode_header(&mut h, log::MAGIC, 0x0102_0304_0506_0708);
    assert_eq!(h.len(), HEADER_LEN);
    assert_eq!(
        frame::decode_header(&h, log::MAGIC),
        Ok(0x0102_0304_0506_0708)
    );
    assert_eq!(
        frame::decode_header(&h, snapshot::MAGIC),
        Err(Why::BadHeader)
    );
    assert_eq!(
        frame::decode_header(&h[..23], log::MAGIC),
        Err(Why::BadHeader)
    );
    let mut v2 = h.clone();
    v2[8] = 2;
    let crc = super::crc32c(&v2[..20]).to_le_bytes();
    v2[20..].copy_from_slice(&crc);
    assert_eq!(frame::decode_header(&v2, log::MAGIC), Err(Why::Version(2)));
    for bit in 0..HEADER_LEN * 8 {
        let mut x = h.clone();
        x[bit / 8] ^= 1 << (bit % 8);
        assert!(frame::decode_header(&x, log::MAGIC).is_err(), "bit {bit}");
    }
}

#[test]
fn log_cut_at_every_offset_keeps_exactly_the_complete_records() {
    let mut rng = Rng(2);
    let recs = bodies(&mut rng, 8, 40);
    let (file, starts) = log_file(5, &recs);
    for cut in 0..=file.len() {
        let r = recover_bytes(None, &[(5, &file[..cut])], MAX).expect("a cut log recovers");
        let complete = starts[1..].iter().filter(|&&end| end <= cut).count();
        assert_eq!(owned(r.bodies()), recs[..complete].to_vec(), "cut {cut}");
        let l = r.report.logs[0];
        assert_eq!(l.records, complete as u64);
        if cut < HEADER_LEN {
            // Cut inside the header: a creation cut short, nothing lost.
            assert_eq!(l.valid_len, 0);
            assert_eq!(
                l.dropped.map(|d| (d.bytes, d.records)),
                Some((cut as u64, 0))
            );
            continue;
        }
        let good = starts[complete];
        assert_eq!(l.valid_len, good as u64, "cut {cut}");
        match l.dropped {
            None => assert_eq!(cut, good),
            Some(d) => {
                assert_eq!((d.offset, d.why, d.records), (good as u64, Why::Torn, 1));
                assert_eq!(d.bytes, (cut - good) as u64);
            }
        }
    }
}

#[test]
fn log_bit_flips_recover_the_records_before_the_damaged_one() {
    let mut rng = Rng(3);
    let recs = bodies(&mut rng, 6, 30);
    let (file, starts) = log_file(1, &recs);
    for bit in 0..file.len() * 8 {
        let mut x = file.clone();
        let at = bit / 8;
        x[at] ^= 1 << (bit % 8);
        let r = recover_bytes(None, &[(1, &x)], MAX);
        if at < HEADER_LEN {
            let want = Damage {
                file: Which::Log(1),
                offset: 0,
                why: Why::BadHeader,
            };
            assert_eq!(r.err(), Some(want), "bit {bit}");
            continue;
        }
        let r = r.expect("a damaged record is a dropped tail");
        let hit = starts.iter().rposition(|&s| s <= at).unwrap();
        assert_eq!(owned(r.bodies()), recs[..hit].to_vec(), "bit {bit}");
        let d = r.report.logs[0].dropped.expect("the flip is reported");
        assert_eq!(d.offset, starts[hit] as u64, "bit {bit}");
        assert_eq!(d.bytes, (file.len() - starts[hit]) as u64);
        assert!(d.records >= 1);
    }
}

#[test]
fn a_bad_record_mid_log_reports_the_records_lost_after_it() {
    let recs: Vec<Vec<u8>> = (0..6u8).map(|i| vec![i; 10]).collect();
    let (mut file, starts) = log_file(0, &recs);
    file[starts[2] + FRAME_HEADER] ^= 0x40; // body of record 2
    let r = recover_bytes(None, &[(0, &file)], MAX).unwrap();
    assert_eq!(owned(r.bodies()), recs[..2].to_vec());
    let d = r.report.logs[0].dropped.unwrap();
    assert_eq!(
        (d.why, d.records, d.offset),
        (Why::BadCrc, 4, starts[2] as u64)
    );
    assert_eq!(r.report.dropped_records(), 4);
    let line = r.report.to_string();
    assert!(line.contains("from byte 60: crc mismatch"), "{line}");
}

#[test]
fn an_empty_frame_in_a_log_is_a_bad_record() {
    let (mut file, _) = log_file(0, &[b"a".to_vec()]);
    let at = file.len();
    frame::encode(&mut file, b"");
    frame::encode(&mut file, b"b");
    let r = recover_bytes(None, &[(0, &file)], MAX).unwrap();
    assert_eq!(owned(r.bodies()), vec![b"a".to_vec()]);
    let d = r.report.logs[0].dropped.unwrap();
    assert_eq!((d.offset, d.why, d.records), (at as u64, Why::Empty, 2));
}

#[test]
fn log_header_must_match_its_name_and_records_need_a_good_header() {
    let (file, _) = log_file(3, &[b"x".to_vec()]);
    let err = recover_bytes(None, &[(4, &file)], MAX).err().unwrap();
    assert_eq!((err.file, err.why), (Which::Log(4), Why::Generation));
    // Same generation twice (impossible from file names): refused.
    let err = recover_bytes(None, &[(3, &file), (3, &file)], MAX)
        .err()
        .unwrap();
    assert_eq!(err.why, Why::Generation);
    // A bad header with nothing after it is a creation cut short.
    let zeros = [0u8; HEADER_LEN];
    let r = recover_bytes(None, &[(3, &zeros)], MAX).unwrap();
    assert_eq!(r.report.logs[0].valid_len, 0);
    let err = recover_bytes(None, &[(3, &[0u8; HEADER_LEN + 1])], MAX).err();
    assert_eq!(err.map(|e| e.why), Some(Why::BadHeader));
}

#[test]
fn snapshot_any_bit_flip_is_damage_at_the_frame_holding_it() {
    let mut rng = Rng(4);
    let recs = bodies(&mut rng, 5, 30);
    let (file, starts) = snap_file(9, &recs);
    let r = recover_bytes(Some(&file), &[], MAX).unwrap();
    assert_eq!(owned(r.bodies()), recs);
    assert_eq!(r.report.snapshot.map(|s| (s.0, s.1)), Some((9, 5)));
    for bit in 0..file.len() * 8 {
        let mut x = file.clone();
        let at = bit / 8;
        x[at] ^= 1 << (bit % 8);
        let err = recover_bytes(Some(&x), &[], MAX).err().expect("detected");
        let want = if at < HEADER_LEN {
            0
        } else {
            starts[starts.iter().rposition(|&s| s <= at).unwrap()]
        };
        assert_eq!(
            (err.file, err.offset),
            (Which::Snapshot, want as u64),
            "bit {bit}"
        );
    }
}

#[test]
fn snapshot_cut_anywhere_or_with_trailing_bytes_is_damage() {
    let (file, starts) = snap_file(1, &[b"one".to_vec(), b"two".to_vec()]);
    for cut in 0..file.len() {
        let err = recover_bytes(Some(&file[..cut]), &[], MAX)
            .err()
            .expect("cut");
        let why = match cut {
            c if c < HEADER_LEN => Why::BadHeader,
            c if starts.contains(&c) => Why::NoEnd,
            _ => Why::Torn,
        };
        assert_eq!(err.why, why, "cut {cut}");
    }
    let mut long = file.clone();
    long.push(0);
    let err = recover_bytes(Some(&long), &[], MAX).err().unwrap();
    assert_eq!((err.offset, err.why), (file.len() as u64, Why::Trailing));
}

#[test]
fn replay_is_snapshot_then_logs_by_generation_skipping_obsolete_ones() {
    let (snap, _) = snap_file(2, &[b"s1".to_vec(), b"s2".to_vec()]);
    let (l1, _) = log_file(1, &[b"old".to_vec()]);
    let (l2, _) = log_file(2, &[b"a".to_vec()]);
    let (l4, _) = log_file(4, &[b"b".to_vec(), b"c".to_vec()]);
    let logs = [(4, &l4[..]), (1, &l1[..]), (2, &l2[..])];
    let r = recover_bytes(Some(&snap), &logs, MAX).unwrap();
    let want: Vec<&[u8]> = vec![b"s1", b"s2", b"a", b"b", b"c"];
    assert_eq!(r.bodies().collect::<Vec<_>>(), want);
    assert_eq!(r.report.obsolete, vec![1]);
    assert_eq!(
        r.report
            .logs
            .iter()
            .map(|l| l.generation)
            .collect::<Vec<_>>(),
        [2, 4]
    );
    assert_eq!(r.report.records(), 5);
    // 5 frames of 8 + 2 or 8 + 1 bytes.
    assert_eq!(r.report.bytes(), 2 * 10 + 3 * 9);
    // Without a snapshot every log is replayed.
    let r = recover_bytes(None, &logs, MAX).unwrap();
    assert_eq!(r.bodies().count(), 4);
}

#[test]
fn arbitrary_and_mangled_bytes_never_panic_and_stay_bounded() {
    let mut rng = Rng(5);
    let recs = bodies(&mut rng, 20, 60);
    let (snap, _) = snap_file(0, &recs);
    let (log0, _) = log_file(0, &recs);
    for round in 0..3000 {
        let mut s = snap.clone();
        let mut l = log0.clone();
        for buf in [&mut s, &mut l] {
            match rng.below(4) {
                0 => buf.truncate(rng.below(buf.len() + 1)),
                1 => {
                    for _ in 0..1 + rng.below(4) {
                        let at = rng.below(buf.len());
                        buf[at] = rng.byte();
                    }
                }
                2 => *buf = (0..rng.below(200)).map(|_| rng.byte()).collect(),
                _ => {}
            }
        }
        let snap_in = if rng.one_in(3) { None } else { Some(&s[..]) };
        let gen = rng.below_u64(3);
        let max = 1 + rng.below(100);
        if let Ok(r) = recover_bytes(snap_in, &[(gen, &l[..])], max) {
            let total: usize = r.bodies().map(|b| b.len() + FRAME_HEADER).sum();
            assert!(total <= s.len() + l.len(), "round {round}");
            assert!(r.bodies().all(|b| !b.is_empty() && b.len() <= max));
        }
    }
}
