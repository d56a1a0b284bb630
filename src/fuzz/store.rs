//! The store target: recovery from arbitrary file contents, and the
//! replay of arbitrary records into a broker.
//!
//! Input: a selector byte (bit 0: a snapshot file is present; bits 1-2:
//! one to three log files), then for each file a 16-bit little-endian
//! length and its bytes (the last file takes what is left). The same
//! input is also read as records: 16-bit lengths and bodies, replayed
//! past any CRC, so the record decoder and the model are explored
//! without the fuzzer having to forge checksums.
//!
//! Checked: recovery never panics and replays only bytes it was given;
//! whatever it replays, and whatever records come, a broker restores
//! from them, passes its audit, and a restart from a snapshot of that
//! broker gives the same durable state.

use std::time::Instant;

use crate::broker::{Broker, Settings};
use crate::store::recover_bytes;

const WALL: u64 = 1_780_000_000_000;
/// The record size limit of the target (the broker uses more).
const MAX_RECORD: usize = 1 << 16;

/// Runs one input (see the module doc).
pub fn run(data: &[u8]) {
    let Some((&select, mut rest)) = data.split_first() else {
        return;
    };
    let has_snapshot = select & 1 != 0;
    let nlogs = 1 + usize::from(select >> 1) % 3;
    let mut files = Vec::new();
    for i in 0..usize::from(has_snapshot) + nlogs {
        let last = i + 1 == usize::from(has_snapshot) + nlogs;
        let n = if last || rest.len() < 2 {
            rest.len()
        } else {
            let n = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
            rest = &rest[2..];
            n.min(rest.len())
        };
        let (file, tail) = rest.split_at(n);
        files.push(file);
        rest = tail;
    }
    let snapshot = has_snapshot.then(|| files[0]);
    let logs: Vec<(u64, &[u8])> = files[usize::from(has_snapshot)..]
        .iter()
        .enumerate()
        .map(|(g, f)| (g as u64, *f))
        .collect();
    if let Ok(recovered) = recover_bytes(snapshot, &logs, MAX_RECORD) {
        let bodies: Vec<&[u8]> = recovered.bodies().collect();
        let inside = |b: &[u8]| {
            let (start, end) = (b.as_ptr() as usize, b.as_ptr() as usize + b.len());
            files.iter().any(|f| {
                let (fs, fe) = (f.as_ptr() as usize, f.as_ptr() as usize + f.len());
                fs <= start && end <= fe
            })
        };
        assert!(bodies.iter().all(|b| inside(b)), "a body outside the files");
        restore_and_compare(&bodies);
    }
    restore_and_compare(&records(&data[1..]));
}

/// `data` as 16-bit-length-prefixed bodies.
fn records(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while data.len() >= 2 {
        let n = usize::from(u16::from_le_bytes([data[0], data[1]])).min(data.len() - 2);
        out.push(&data[2..2 + n]);
        data = &data[2 + n..];
    }
    out
}

/// A broker restored from `bodies` passes its audit, and one restored from
/// its snapshot holds the same durable state.
fn restore_and_compare(bodies: &[&[u8]]) {
    let now = Instant::now();
    let settings = Settings {
        sys_interval: None,
        ..Settings::default()
    };
    let mut b: Broker<()> = Broker::new(settings.clone(), now);
    b.restore(bodies.iter().copied(), WALL, now);
    if let Err(broken) = b.audit() {
        panic!("audit after restore: {broken}");
    }
    let view = b.durable_view(now);
    b.clear_journal();
    b.journal_live_state();
    let snapshot: Vec<Vec<u8>> = b.journal().map(<[u8]>::to_vec).collect();
    let mut again: Broker<()> = Broker::new(settings, now);
    again.restore(snapshot.iter().map(Vec::as_slice), WALL, now);
    assert_eq!(again.durable_view(now), view, "restored from its snapshot");
}
