//! Replay: every record kind, the fuzzy-snapshot property, garbage.

use super::model::Replayed;
use super::record::Record;
use crate::testutil::Rng;

fn body(r: &Record<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    r.encode(&mut out);
    out
}

fn replay(bodies: &[Vec<u8>]) -> Replayed<'_> {
    let mut r = Replayed::default();
    for b in bodies {
        r.apply(b);
    }
    r.settle();
    r
}

/// The records a snapshot of `state` holds (what compaction writes).
fn snapshot(state: &Replayed<'_>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let msg = |mid: u64, out: &mut Vec<Vec<u8>>| {
        let m = &state.msgs[&mid];
        out.push(body(&Record::Msg {
            mid,
            topic: m.topic,
            payload: m.payload,
            qos: m.qos,
            retain: m.retain,
            expires_ms: m.expires_ms,
            passthrough: m.passthrough,
        }));
    };
    for (&sid, s) in &state.sessions {
        out.push(body(&Record::Session {
            sid,
            client_id: s.client_id,
            level: s.level,
            expiry: s.expiry,
            username: s.username,
        }));
        if let Some(at_ms) = s.offline_ms {
            out.push(body(&Record::Offline { sid, at_ms }));
        }
        for (&filter, &(options, sub_id)) in &s.subs {
            out.push(body(&Record::Sub {
                sid,
                filter,
                options,
                sub_id,
            }));
        }
        for (&seq, o) in &s.out {
            msg(o.mid, &mut out);
            out.push(body(&Record::Out {
                sid,
                seq,
                mid: o.mid,
                qos: o.qos,
                retain: o.retain,
                sub_ids: o.sub_ids.clone(),
            }));
            if let Some(packet_id) = o.packet_id {
                out.push(body(&Record::OutSent {
                    sid,
                    seq,
                    packet_id,
                }));
            }
            if o.released {
                out.push(body(&Record::OutReleased { sid, seq }));
            }
        }
        for &packet_id in &s.incoming {
            out.push(body(&Record::Incoming { sid, packet_id }));
        }
        if let Some(w) = &s.will {
            out.push(body(&Record::Will {
                sid,
                topic: w.topic,
                payload: w.payload,
                qos: w.qos,
                retain: w.retain,
                delay: w.delay,
                expiry: w.expiry,
                passthrough: w.passthrough,
            }));
        }
    }
    for (&topic, &mid) in &state.retained {
        msg(mid, &mut out);
        out.push(body(&Record::Retain { topic, mid }));
    }
    out
}

const CLIENTS: [&str; 3] = ["a", "b", "c"];
const TOPICS: [&str; 3] = ["t/1", "t/2", "t/3"];
const PAYLOADS: [&[u8]; 3] = [b"x", b"yy", b""];

/// A random history of the kind the broker writes: a session is created
/// before anything refers to it, a message before it is queued, entries
/// step forward.
fn history(rng: &mut Rng, len: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut live: Vec<(u64, usize, Vec<u64>)> = Vec::new(); // (sid, client, out seqs)
    let (mut sid, mut mid, mut seq) = (0u64, 0u64, 0u64);
    for _ in 0..len {
        match rng.below(12) {
            0 => {
                // A client id is taken by one live session at a time.
                let client = rng.below(3);
                if live.iter().any(|(_, c, _)| *c == client) {
                    continue;
                }
                sid += 1;
                out.push(body(&Record::Session {
                    sid,
                    client_id: CLIENTS[client],
                    level: 4,
                    expiry: u32::MAX,
                    username: None,
                }));
                live.push((sid, client, Vec::new()));
            }
            1 if !live.is_empty() => {
                let (s, _, _) = live.remove(rng.below(live.len()));
                out.push(body(&Record::SessionEnd { sid: s }));
            }
            2 | 3 => {
                mid += 1;
                out.push(body(&Record::Msg {
                    mid,
                    topic: TOPICS[rng.below(3)],
                    payload: PAYLOADS[rng.below(3)],
                    qos: rng.below(3) as u8,
                    retain: rng.one_in(2),
                    expires_ms: 0,
                    passthrough: b"",
                }));
                if rng.one_in(3) {
                    out.push(body(&Record::Retain {
                        topic: TOPICS[rng.below(3)],
                        mid,
                    }));
                } else if !live.is_empty() {
                    let i = rng.below(live.len());
                    seq += 1;
                    live[i].2.push(seq);
                    out.push(body(&Record::Out {
                        sid: live[i].0,
                        seq,
                        mid,
                        qos: 1 + rng.below(2) as u8,
                        retain: false,
                        sub_ids: vec![],
                    }));
                }
            }
            4..=6 if !live.is_empty() => {
                let i = rng.below(live.len());
                let (s, _, seqs) = &mut live[i];
                if seqs.is_empty() {
                    continue;
                }
                let j = rng.below(seqs.len());
                let q = seqs[j];
                let r = match rng.below(3) {
                    0 => Record::OutSent {
                        sid: *s,
                        seq: q,
                        packet_id: (q % 65535) as u16 + 1,
                    },
                    1 => Record::OutReleased { sid: *s, seq: q },
                    _ => {
                        seqs.remove(j);
                        Record::OutDone { sid: *s, seq: q }
                    }
                };
                out.push(body(&r));
            }
            7 if !live.is_empty() => {
                let s = live[rng.below(live.len())].0;
                let filter = TOPICS[rng.below(3)];
                out.push(body(&if rng.one_in(3) {
                    Record::Unsub { sid: s, filter }
                } else {
                    Record::Sub {
                        sid: s,
                        filter,
                        options: rng.below(3) as u8,
                        sub_id: rng.below(4) as u32,
                    }
                }));
            }
            8 if !live.is_empty() => {
                let s = live[rng.below(live.len())].0;
                let packet_id = 1 + rng.below(4) as u16;
                out.push(body(&if rng.one_in(2) {
                    Record::Incoming { sid: s, packet_id }
                } else {
                    Record::Released { sid: s, packet_id }
                }));
            }
            9 if !live.is_empty() => {
                let s = live[rng.below(live.len())].0;
                out.push(body(&if rng.one_in(2) {
                    Record::Offline {
                        sid: s,
                        at_ms: rng.below(1000) as u64,
                    }
                } else {
                    Record::WillGone { sid: s }
                }));
            }
            10 => out.push(body(&Record::Unretain {
                topic: TOPICS[rng.below(3)],
            })),
            _ => {}
        }
    }
    out
}

/// The log of the generation that starts at `start`: as the broker
/// writes it, a record that refers to a message is preceded by the
/// message's body if this generation has not had it yet.
fn new_log(log: &[Vec<u8>], start: usize) -> Vec<Vec<u8>> {
    let mut bodies = std::collections::HashMap::new();
    let mut written = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (i, b) in log.iter().enumerate() {
        let referred = match Record::decode(b) {
            Ok(Record::Msg { mid, .. }) => {
                bodies.insert(mid, b.clone());
                if i >= start {
                    written.insert(mid);
                }
                None
            }
            Ok(Record::Out { mid, .. } | Record::Retain { mid, .. }) => Some(mid),
            _ => None,
        };
        if i < start {
            continue;
        }
        if let Some(mid) = referred {
            if written.insert(mid) {
                out.push(bodies[&mid].clone());
            }
        }
        out.push(b.clone());
    }
    out
}

fn same(a: &Replayed<'_>, b: &Replayed<'_>) -> bool {
    a.sessions == b.sessions && a.retained == b.retained && a.msgs == b.msgs
}

/// Compaction starts at `start` (the new log holds everything after it)
/// and the snapshot is of the state at some later `visit`: snapshot plus
/// new log replay to the state of the whole log.
#[test]
fn a_snapshot_taken_while_the_log_goes_on_replays_to_the_same_state() {
    let mut rng = Rng(0x05EE_D0F5_70AE);
    for round in 0..300 {
        let len = 1 + rng.below(80);
        let log = history(&mut rng, len);
        let whole = replay(&log);
        let start = rng.below(log.len() + 1);
        let visit = start + rng.below(log.len() - start + 1);
        let at_visit = replay(&log[..visit]);
        let mut compacted = snapshot(&at_visit);
        compacted.extend(new_log(&log, start));
        let after = replay(&compacted);
        assert!(
            same(&after, &whole),
            "round {round}: start {start} visit {visit}\n{after:#?}\n{whole:#?}"
        );
    }
}

#[test]
fn settle_drops_what_nothing_refers_to_and_keeps_one_session_per_client() {
    let log = [
        Record::Session {
            sid: 1,
            client_id: "a",
            level: 4,
            expiry: u32::MAX,
            username: None,
        },
        Record::Session {
            sid: 2,
            client_id: "a",
            level: 5,
            expiry: 60,
            username: Some("u"),
        },
        Record::Msg {
            mid: 1,
            topic: "t",
            payload: b"p",
            qos: 1,
            retain: false,
            expires_ms: 0,
            passthrough: b"",
        },
        Record::Out {
            sid: 2,
            seq: 1,
            mid: 9,
            qos: 1,
            retain: false,
            sub_ids: vec![],
        },
        Record::Retain { topic: "r", mid: 8 },
    ]
    .iter()
    .map(body)
    .collect::<Vec<_>>();
    let mut bodies = log.clone();
    bodies.push(b"\xff".to_vec());
    let r = replay(&bodies);
    assert_eq!(r.sessions.keys().collect::<Vec<_>>(), [&2]);
    assert!(r.sessions[&2].out.is_empty(), "entry without its message");
    assert!(r.retained.is_empty(), "retained without its message");
    assert!(r.msgs.is_empty(), "message 1 is referred to by nothing");
    assert_eq!((r.dangling, r.undecodable), (2, 1));
    assert_eq!((r.next_sid, r.next_mid), (3, 2));
}

/// Arbitrary bodies never panic (the recovery fuzz target goes further).
#[test]
fn random_bodies_apply_without_panicking() {
    let mut rng = Rng(77);
    let valid = history(&mut rng, 200);
    let mut bodies = Vec::new();
    for b in &valid {
        let mut b = b.clone();
        if rng.one_in(2) && !b.is_empty() {
            let i = rng.below(b.len());
            b[i] ^= 1 << rng.below(8);
        }
        bodies.push(b);
    }
    let _ = replay(&bodies);
}

/// Found by `fuzz/store` (its reproducer is in `fuzz/corpus/store/crash-
/// 77b7ebbf…`): a retained entry whose message has another topic was
/// restored under the entry's topic, and a snapshot of that broker, keyed
/// by the message's topic, lost it. Records the broker cannot have
/// written (a retained entry under another topic, a message or will topic
/// it would refuse) are now treated as missing.
#[test]
fn records_the_broker_cannot_have_written_are_dropped() {
    let msg = |mid, topic| Record::Msg {
        mid,
        topic,
        payload: b"21.5",
        qos: 1,
        retain: true,
        expires_ms: 0,
        passthrough: b"",
    };
    let log: Vec<Vec<u8>> = [
        msg(1, "house/kitchen/temperature"),
        Record::Retain {
            topic: "a/b",
            mid: 1,
        },
        msg(2, "bad/+/topic"),
        Record::Retain {
            topic: "bad/+/topic",
            mid: 2,
        },
        msg(3, "good"),
        Record::Retain {
            topic: "good",
            mid: 3,
        },
    ]
    .iter()
    .map(body)
    .collect();
    let r = replay(&log);
    assert_eq!(r.retained.keys().collect::<Vec<_>>(), [&"good"]);
    assert_eq!(r.undecodable, 2, "the misplaced entry and the bad topic");
}
