//! Replay: the records of a snapshot and its logs, applied in order, give
//! the durable state the broker starts from.
//!
//! Pure and total: any sequence of bodies, valid or not, applies without
//! panicking; a body that does not decode is counted and skipped (the
//! engine's CRC already stopped at a torn or damaged tail, so one here is a
//! record of a newer format or a bug). State borrows from the bodies: a
//! payload is copied once, by the broker, and only if it is still live.
//!
//! Rules that make a snapshot written while the log goes on (and so
//! records applied twice, or out of their key's order across the snapshot
//! boundary) come out right: whole-value records (session, subscription,
//! retained, will, offline time) are last-wins; an outbound entry is
//! created only if absent, and its later steps (sent, released) only move
//! it forward; sequence numbers and store ids are never reused.
//!
//! The state is in hash maps, not B-trees (which cost the Pi Zero binary
//! 30 KB more code): whoever needs an order, as restore does, sorts the
//! keys with [`sorted_keys`].

use std::collections::{HashMap, HashSet};

use super::record::Record;
use crate::topic::valid_topic_name;

/// A message body, borrowed from the store's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMsg<'a> {
    pub topic: &'a str,
    pub payload: &'a [u8],
    pub qos: u8,
    pub retain: bool,
    pub expires_ms: u64,
    pub passthrough: &'a [u8],
}

/// An outbound entry of a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredOut {
    pub mid: u64,
    pub qos: u8,
    pub retain: bool,
    pub sub_ids: Vec<u32>,
    /// Sent with this packet id (in flight); `None` while queued.
    pub packet_id: Option<u16>,
    /// PUBREC received: PUBREL is owed.
    pub released: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredWill<'a> {
    pub topic: &'a str,
    pub payload: &'a [u8],
    pub qos: u8,
    pub retain: bool,
    pub delay: u32,
    pub expiry: u64,
    pub passthrough: &'a [u8],
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSession<'a> {
    pub client_id: &'a str,
    pub level: u8,
    pub expiry: u32,
    /// The user name of its last connection, if any.
    pub username: Option<&'a str>,
    /// When its connection ended (wall ms); `None`: it was connected when
    /// the broker stopped.
    pub offline_ms: Option<u64>,
    /// Filter → (options byte, subscription identifier).
    pub subs: HashMap<&'a str, (u8, u32)>,
    /// Outbound entries by sequence number (their order).
    pub out: HashMap<u64, StoredOut>,
    /// Inbound QoS 2 packet ids not yet released.
    pub incoming: HashSet<u16>,
    pub will: Option<StoredWill<'a>>,
}

/// The state replayed, and what replay met.
#[derive(Debug, Default)]
pub struct Replayed<'a> {
    pub sessions: HashMap<u64, StoredSession<'a>>,
    pub msgs: HashMap<u64, StoredMsg<'a>>,
    pub retained: HashMap<&'a str, u64>,
    /// Above every store id seen: where new ids start.
    pub next_sid: u64,
    pub next_mid: u64,
    /// Bodies that did not decode.
    pub undecodable: usize,
    /// Outbound entries and retained topics whose message was missing
    /// (dropped by [`Replayed::settle`]).
    pub dangling: usize,
}

impl<'a> Replayed<'a> {
    /// Applies one record body.
    pub fn apply(&mut self, body: &'a [u8]) {
        match Record::decode(body) {
            Ok(r) => self.apply_record(r),
            Err(_) => self.undecodable += 1,
        }
    }

    fn apply_record(&mut self, r: Record<'a>) {
        match r {
            Record::Session {
                sid,
                client_id,
                level,
                expiry,
                username,
            } => {
                self.next_sid = self.next_sid.max(sid.saturating_add(1));
                let s = self.sessions.entry(sid).or_insert_with(|| StoredSession {
                    client_id,
                    level,
                    expiry,
                    username,
                    offline_ms: None,
                    subs: HashMap::new(),
                    out: HashMap::new(),
                    incoming: HashSet::new(),
                    will: None,
                });
                s.client_id = client_id;
                s.level = level;
                s.expiry = expiry;
                s.username = username;
                s.offline_ms = None;
            }
            Record::Offline { sid, at_ms } => {
                if let Some(s) = self.sessions.get_mut(&sid) {
                    s.offline_ms = Some(at_ms);
                }
            }
            Record::SessionEnd { sid } => {
                self.sessions.remove(&sid);
            }
            Record::Sub {
                sid,
                filter,
                options,
                sub_id,
            } => {
                if let Some(s) = self.sessions.get_mut(&sid) {
                    s.subs.insert(filter, (options, sub_id));
                }
            }
            Record::Unsub { sid, filter } => {
                if let Some(s) = self.sessions.get_mut(&sid) {
                    s.subs.remove(filter);
                }
            }
            Record::Msg {
                mid,
                topic,
                payload,
                qos,
                retain,
                expires_ms,
                passthrough,
            } => {
                self.next_mid = self.next_mid.max(mid.saturating_add(1));
                let m = StoredMsg {
                    topic,
                    payload,
                    qos,
                    retain,
                    expires_ms,
                    passthrough,
                };
                self.msgs.insert(mid, m);
            }
            Record::Retain { topic, mid } => {
                self.retained.insert(topic, mid);
            }
            Record::Unretain { topic } => {
                self.retained.remove(topic);
            }
            Record::Out {
                sid,
                seq,
                mid,
                qos,
                retain,
                sub_ids,
            } => {
                if let Some(s) = self.sessions.get_mut(&sid) {
                    s.out.entry(seq).or_insert(StoredOut {
                        mid,
                        qos,
                        retain,
                        sub_ids,
                        packet_id: None,
                        released: false,
                    });
                }
            }
            Record::OutSent {
                sid,
                seq,
                packet_id,
            } => {
                if let Some(o) = self.out_mut(sid, seq) {
                    o.packet_id = Some(packet_id);
                }
            }
            Record::OutReleased { sid, seq } => {
                if let Some(o) = self.out_mut(sid, seq) {
                    o.released = true;
                }
            }
            Record::OutDone { sid, seq } => {
                if let Some(s) = self.sessions.get_mut(&sid) {
                    s.out.remove(&seq);
                }
            }
            Record::Incoming { sid, packet_id } => {
                if let Some(s) = self.sessions.get_mut(&sid) {
                    s.incoming.insert(packet_id);
                }
            }
            Record::Released { sid, packet_id } => {
                if let Some(s) = self.sessions.get_mut(&sid) {
                    s.incoming.remove(&packet_id);
                }
            }
            Record::Will {
                sid,
                topic,
                payload,
                qos,
                retain,
                delay,
                expiry,
                passthrough,
            } => {
                if let Some(s) = self.sessions.get_mut(&sid) {
                    s.will = Some(StoredWill {
                        topic,
                        payload,
                        qos,
                        retain,
                        delay,
                        expiry,
                        passthrough,
                    });
                }
            }
            Record::WillGone { sid } => {
                if let Some(s) = self.sessions.get_mut(&sid) {
                    s.will = None;
                }
            }
        }
    }

    fn out_mut(&mut self, sid: u64, seq: u64) -> Option<&mut StoredOut> {
        self.sessions.get_mut(&sid)?.out.get_mut(&seq)
    }

    /// After the last record: one session per client id (the newest),
    /// entries and retained topics without their message dropped (and
    /// counted), messages nothing refers to dropped.
    pub fn settle(&mut self) {
        // Only what the broker could have written: a message with a topic
        // it would accept, a retained one under its own topic, a will
        // with a valid topic. Anything else is treated as missing.
        let before = self.msgs.len();
        self.msgs
            .retain(|_, m| valid_topic_name(m.topic) && m.qos <= 2);
        self.undecodable += before - self.msgs.len();
        for s in self.sessions.values_mut() {
            if s.will
                .as_ref()
                .is_some_and(|w| !valid_topic_name(w.topic) || w.qos > 2)
            {
                s.will = None;
                self.undecodable += 1;
            }
        }
        let msgs = &self.msgs;
        let mut misplaced = 0;
        self.retained.retain(|topic, mid| {
            let ok = msgs.get(mid).is_none_or(|m| m.topic == *topic);
            misplaced += usize::from(!ok);
            ok
        });
        self.undecodable += misplaced;
        let mut newest: HashMap<&str, u64> = HashMap::new();
        for (&sid, s) in &self.sessions {
            let top = newest.entry(s.client_id).or_insert(sid);
            *top = (*top).max(sid);
        }
        self.sessions
            .retain(|sid, s| newest.get(s.client_id) == Some(sid));
        let msgs = &self.msgs;
        let mut dangling = 0;
        for s in self.sessions.values_mut() {
            s.out.retain(|_, o| {
                let ok = msgs.contains_key(&o.mid);
                dangling += usize::from(!ok);
                ok
            });
        }
        self.retained.retain(|_, mid| {
            let ok = msgs.contains_key(mid);
            dangling += usize::from(!ok);
            ok
        });
        self.dangling += dangling;
        let mut live: HashSet<u64> = self.retained.values().copied().collect();
        for s in self.sessions.values() {
            live.extend(s.out.values().map(|o| o.mid));
        }
        self.msgs.retain(|mid, _| live.contains(mid));
    }
}

/// The keys of `map` in ascending order. (A stable sort: for `u64` keys
/// the unstable one inlines sorting networks, 4 KB more code.)
pub fn sorted_keys<K: Ord + Copy, V>(map: &HashMap<K, V>) -> Vec<K> {
    let mut keys: Vec<K> = map.keys().copied().collect();
    keys.sort();
    keys
}

/// The keys of `map` (names: topics, filters) in ascending order. For
/// these the unstable sort is the smaller one.
pub fn sorted_names<'a, V>(map: &HashMap<&'a str, V>) -> Vec<&'a str> {
    let mut keys: Vec<&str> = map.keys().copied().collect();
    keys.sort_unstable();
    keys
}
