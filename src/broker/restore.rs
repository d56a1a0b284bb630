//! Persistence, the event loop's side: starting from what the store
//! replayed, handing over each turn's records, and the live state for a
//! snapshot (see `persist.rs` for what is recorded when).
//!
//! Wall clock times in the store become deadlines on the broker's clock:
//! a session that was away for an hour before a restart has an hour less
//! to live, and a message past its expiry is not restored.

use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use log::warn;

use super::persist::Journal;
use super::{Broker, Subscription};
use crate::codec::{ByteStr, Protocol, PublishProperties, QoS, SubOptions, Will};
use crate::session::{Enqueued, Message, Queued, SharedMessage, StoreRef, SubIds};
use crate::store::model::{sorted_keys, sorted_names, Replayed, StoredMsg, StoredSession};
use crate::topic::parse_shared;

/// What [`Broker::restore`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Restored {
    pub sessions: usize,
    pub subscriptions: usize,
    /// Outbound QoS 1/2 messages queued or in flight.
    pub messages: usize,
    pub retained: usize,
    /// Sessions and messages whose expiry passed while midge was down.
    pub expired: usize,
    /// Records that did not decode, and references to missing messages.
    pub undecodable: usize,
    pub dangling: usize,
}

impl<T> Broker<T> {
    /// Turns persistence on, starting from the store's records (`bodies`,
    /// in replay order; none for a new store). `wall_ms` is the wall clock
    /// at `now`, in ms since the Unix epoch. Call once, before any link
    /// opens. Sessions come back offline, with their subscriptions and
    /// messages; a will whose connection was up when midge stopped is
    /// treated as that connection lost (published after its delay).
    pub fn restore<'a>(
        &mut self,
        bodies: impl IntoIterator<Item = &'a [u8]>,
        wall_ms: u64,
        now: Instant,
    ) -> Restored {
        let origin =
            wall_ms.saturating_sub(now.saturating_duration_since(self.started).as_millis() as u64);
        let mut journal = Journal::new(self.started, origin);
        let mut replayed = Replayed::default();
        for body in bodies {
            replayed.apply(body);
        }
        replayed.settle();
        journal.next_sid = journal.next_sid.max(replayed.next_sid);
        journal.next_mid = journal.next_mid.max(replayed.next_mid);
        let last_seq = replayed
            .sessions
            .values()
            .filter_map(|s| s.out.keys().max())
            .max();
        journal.next_seq = last_seq.map_or(1, |&seq| seq.saturating_add(1));
        let generation = journal.generation;
        self.journal = Some(Box::new(journal));
        let mut found = Restored {
            undecodable: replayed.undecodable,
            dangling: replayed.dangling,
            ..Restored::default()
        };
        let started = self.started;
        let to_instant = move |ms: u64| -> Instant {
            match ms.checked_sub(wall_ms) {
                Some(ahead) => now + Duration::from_millis(ahead),
                None => now
                    .checked_sub(Duration::from_millis(wall_ms - ms))
                    .unwrap_or(started),
            }
        };
        let mut messages: HashMap<u64, SharedMessage> = HashMap::new();
        let mut message = |mid: u64, m: &StoredMsg<'_>| -> SharedMessage {
            messages
                .entry(mid)
                .or_insert_with(|| {
                    Rc::new(Message {
                        topic: ByteStr::from(m.topic),
                        payload: Bytes::copy_from_slice(m.payload),
                        qos: QoS::from_u8(m.qos).unwrap_or(QoS::AtMostOnce),
                        retain: m.retain,
                        properties: PublishProperties {
                            passthrough: Bytes::copy_from_slice(m.passthrough),
                            ..PublishProperties::default()
                        },
                        expires_at: (m.expires_ms != 0).then(|| to_instant(m.expires_ms)),
                        stored: std::cell::Cell::new(StoreRef { mid, generation }),
                    })
                })
                .clone()
        };
        // In key order, as every map below: the same input restores the
        // same broker, down to its arenas and timers.
        for topic in sorted_names(&replayed.retained) {
            let mid = replayed.retained[topic];
            let msg = message(mid, &replayed.msgs[&mid]);
            if msg.expired(now) {
                found.expired += 1;
                continue;
            }
            if let Some(at) = msg.expires_at {
                self.schedule_retained_expiry(&msg, at);
            }
            self.retained.insert(topic, msg);
            found.retained += 1;
        }
        let mut wills = Vec::new();
        for id in sorted_keys(&replayed.sessions) {
            let stored = &replayed.sessions[&id];
            let Some(protocol) = protocol_of(stored.level) else {
                found.undecodable += 1;
                continue;
            };
            let disconnected_at = stored.offline_ms.map_or(now, to_instant);
            let sid = self.create_session(Rc::from(stored.client_id), protocol);
            let s = &mut self.sessions[sid];
            s.store_id = u32::try_from(id).unwrap_or(u32::MAX);
            s.expiry_interval = stored.expiry;
            s.disconnected_at = Some(disconnected_at);
            s.window = self.settings.limits.max_inflight;
            found.sessions += 1;
            // Before its subscriptions, which are classified by its rules.
            self.sessions[sid].auth = self.client_auth(0, stored.username, stored.client_id);
            for filter in sorted_names(&stored.subs) {
                let (options, sub_id) = stored.subs[filter];
                if self.restore_sub(sid, filter, options, sub_id) {
                    found.subscriptions += 1;
                }
            }
            found.messages += self.restore_out(sid, stored, &replayed, &mut message);
            let s = &mut self.sessions[sid];
            // In any order: the session keeps its ids as a set.
            for &packet_id in &stored.incoming {
                s.receive_qos2(packet_id);
            }
            if let Some(w) = &stored.will {
                s.will = Some(Box::new(Will {
                    topic: ByteStr::from(w.topic),
                    payload: Bytes::copy_from_slice(w.payload),
                    qos: QoS::from_u8(w.qos).unwrap_or(QoS::AtMostOnce),
                    retain: w.retain,
                    delay_interval: w.delay,
                    properties: PublishProperties {
                        message_expiry: w.expiry.checked_sub(1).map(|e| e as u32),
                        passthrough: Bytes::copy_from_slice(w.passthrough),
                        ..PublishProperties::default()
                    },
                }));
                wills.push((sid, stored.offline_ms.is_none()));
            }
            self.session_detached_at(sid, disconnected_at, now);
        }
        // Wills last, so that every restored session can receive them.
        for (sid, was_connected) in wills {
            self.restore_will(sid, was_connected, now);
        }
        found
    }

    /// Subscribes restored session `sid` as its SUBSCRIBE did.
    fn restore_sub(&mut self, sid: usize, filter: &str, options: u8, sub_id: u32) -> bool {
        let Some(qos) = QoS::from_u8(options & 3) else {
            return false;
        };
        let sub = Subscription::new(
            SubOptions {
                qos,
                no_local: options & 4 != 0,
                retain_as_published: options & 8 != 0,
                retain_handling: (options >> 4) & 3,
            },
            sub_id,
        );
        let joined = match parse_shared(filter) {
            Some((_, plain)) => {
                let sub = sub.with_access(self.filter_access(sid, plain));
                let plain = plain.to_string();
                self.shared.join(filter, &plain, sid as u32, sub)
            }
            None if crate::topic::valid_topic_filter(filter) => {
                let sub = sub.with_access(self.filter_access(sid, filter));
                self.tree.subscribe(filter, sid as u32, sub)
            }
            None => false,
        };
        if joined {
            self.sessions[sid].add_filter(filter);
        }
        joined
    }

    /// Puts restored session `sid`'s outbound entries back: in flight with
    /// their packet ids (re-sent with DUP, or PUBREL, when the client is
    /// back), queued behind them. Returns how many.
    fn restore_out(
        &mut self,
        sid: usize,
        stored: &StoredSession<'_>,
        replayed: &Replayed<'_>,
        message: &mut impl FnMut(u64, &StoredMsg<'_>) -> SharedMessage,
    ) -> usize {
        let limits = self.settings.limits;
        let mut n = 0;
        let mut dropped = Vec::new();
        let s = &mut self.sessions[sid];
        for seq in sorted_keys(&stored.out) {
            let o = &stored.out[&seq];
            let Some(qos) = QoS::from_u8(o.qos).filter(|q| *q != QoS::AtMostOnce) else {
                continue;
            };
            let q = Queued {
                msg: message(o.mid, &replayed.msgs[&o.mid]),
                qos,
                retain: o.retain,
                sub_ids: match o.sub_ids[..] {
                    [] => SubIds::None,
                    [one] => SubIds::One(one),
                    _ => SubIds::Many(o.sub_ids.clone().into_boxed_slice()),
                },
                seq,
            };
            match o.packet_id {
                Some(packet_id) => {
                    s.push_inflight(packet_id, q, None);
                    if o.released {
                        s.mark_released(packet_id);
                    }
                }
                // A queue bound lowered since is a bound all the same.
                None => {
                    if s.enqueue(q, &limits) == Enqueued::Dropped {
                        dropped.push(seq);
                        continue;
                    }
                }
            }
            n += 1;
        }
        if !dropped.is_empty() {
            warn!(
                "client {}: {} stored messages over max_queued_messages dropped",
                s.client_id,
                dropped.len()
            );
        }
        for seq in dropped {
            self.persist_done(sid, seq);
        }
        n
    }

    /// A restored will: one whose connection was up when midge stopped is
    /// published as for a lost connection (now, or after its delay); a
    /// held one keeps its delay from when the connection ended.
    fn restore_will(&mut self, sid: usize, was_connected: bool, now: Instant) {
        let s = &mut self.sessions[sid];
        let delay = s.will.as_ref().map_or(0, |w| w.delay_interval);
        if was_connected && delay == 0 {
            if let Some(will) = s.will.take() {
                self.publish_will(sid, *will, now);
                self.persist_will(sid);
            }
            return;
        }
        let at = s.disconnected_at.unwrap_or(now) + Duration::from_secs(u64::from(delay));
        self.schedule_will_delay(sid, at.max(now));
    }

    /// Called by the event loop when the store stops (or starts again)
    /// being able to write: while it cannot, QoS 1/2 PUBLISH packets are
    /// refused (0x97 to MQTT 5 clients, a disconnect for 3.x), so that
    /// nothing new needs the disk and everything else keeps flowing.
    pub fn set_store_down(&mut self, down: bool) {
        self.store_down = down;
    }

    /// True when this turn produced records to commit.
    pub fn has_journal(&self) -> bool {
        self.journal.as_ref().is_some_and(|j| !j.is_empty())
    }

    /// True when a record of this turn must be synced before its output
    /// is written (false: written, synced by a later turn).
    pub fn journal_needs_sync(&self) -> bool {
        self.journal.as_ref().is_some_and(|j| j.needs_sync)
    }

    /// This turn's records, in order, for the store.
    pub fn journal(&self) -> impl Iterator<Item = &[u8]> {
        self.journal.iter().flat_map(|j| j.bodies())
    }

    /// Called once the store has taken this turn's records.
    pub fn clear_journal(&mut self) {
        if let Some(j) = self.journal.as_deref_mut() {
            j.clear();
        }
    }

    /// Compaction: called right after the store started a new log (with
    /// this turn's records committed). Starts a new generation and lists
    /// the durable state to write; [`Broker::journal_live_state_step`]
    /// then puts it into the journal a part at a time, for the snapshot.
    pub fn begin_live_state(&mut self) {
        let Some(j) = self.journal.as_deref_mut() else {
            return;
        };
        if !j.is_empty() {
            warn!("store: records pending at compaction; they go to the snapshot too");
        }
        j.generation += 1;
        let sessions = self
            .sessions
            .iter()
            .filter(|(_, s)| s.store_id != 0)
            .map(|(sid, s)| (sid, s.generation))
            .collect();
        let mut retained = Vec::new();
        self.retained.for_each(|m| retained.push(m.clone()));
        self.snapshot_todo = Some(Box::new(SnapshotTodo { sessions, retained }));
    }

    /// Puts the next part of the listed state into the journal: sessions
    /// (as they are now: the snapshot may mix times, see `store::model`)
    /// until about `budget` records, then retained messages. Returns true
    /// once everything listed is in. Called with the journal empty (right
    /// after a commit), so the journal holds only snapshot records.
    pub fn journal_live_state_step(&mut self, budget: usize) -> bool {
        let Some(mut todo) = self.snapshot_todo.take() else {
            return true;
        };
        let goal = self.journal.as_ref().map_or(0, |j| j.len()) + budget;
        while self.journal.as_ref().map_or(0, |j| j.len()) < goal {
            if let Some((sid, generation)) = todo.sessions.pop() {
                let live = self
                    .sessions
                    .get(sid)
                    .is_some_and(|s| s.generation == generation && s.store_id != 0);
                if live {
                    self.write_session(sid);
                }
            } else if let Some(m) = todo.retained.pop() {
                let current = self
                    .retained
                    .get(&m.topic)
                    .is_some_and(|r| Rc::ptr_eq(r, &m));
                if current {
                    self.persist_retain(&m);
                }
            } else {
                return true;
            }
        }
        self.snapshot_todo = Some(todo);
        false
    }

    /// A compaction given up: nothing more to list.
    pub fn abandon_live_state(&mut self) {
        self.snapshot_todo = None;
    }

    /// The whole durable state into the journal at once (tests, fuzzing).
    pub fn journal_live_state(&mut self) {
        self.begin_live_state();
        while !self.journal_live_state_step(usize::MAX / 2) {}
    }
}

/// What an incremental snapshot has still to write.
pub(super) struct SnapshotTodo {
    /// Stored sessions as (slot, generation), taken from the back.
    sessions: Vec<(usize, u32)>,
    retained: Vec<SharedMessage>,
}

fn protocol_of(level: u8) -> Option<Protocol> {
    match level {
        3 => Some(Protocol::V31),
        4 => Some(Protocol::V311),
        5 => Some(Protocol::V5),
        _ => None,
    }
}
