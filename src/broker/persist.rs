//! Persistence, the broker's side: which changes are durable, written as
//! store records (`store::record`) into a journal that the event loop
//! hands to the store and commits once per turn, before it sends anything
//! (so an acknowledgement never leaves before what it acknowledges is on
//! disk). The broker does no I/O for it.
//!
//! Durable: retained messages (not `$SYS`), and sessions that outlive
//! their connection (a 3.x persistent session, an MQTT 5 Session Expiry
//! Interval above 0) with their subscriptions, will, inbound QoS 2 ids and
//! outbound QoS 1/2 messages. Clean sessions and QoS 0 cost nothing: no
//! journal call is made for them.
//!
//! Most records must be on disk before the turn's output leaves: the
//! acknowledgements the output carries depend on them, and so does
//! exactly-once (the packet id of a QoS 2 PUBLISH, the PUBREC behind a
//! PUBREL). A few only save work after a crash and are written without
//! forcing a sync of their own ("lazy"; the next sync takes them along):
//! an outbound message completed (lost, it is re-sent: a QoS 1 duplicate,
//! or a PUBREL the client answers again), a QoS 1 PUBLISH's packet id
//! (lost, it goes again as new: a duplicate QoS 1 allows), and the time a
//! connection ended. A turn of acknowledgements from subscribers alone
//! then costs a write and no sync, which halves the syncs (and the SD card
//! writes) of a QoS 1 trickle.
//!
//! A session is stored from the moment it first needs to be (`store_id`
//! set, its whole state written at once), and every change after that is
//! one small record. Message bodies are written once per log generation
//! (`StoreRef`): a reference in a new generation writes the body again, so
//! a snapshot plus the newest log always hold every body they refer to.

use std::time::Instant;

use super::Broker;
use crate::codec::QoS;
use crate::session::{Message, OutState, StoreRef, SubIds};
use crate::store::record::Record;

/// Records of the current turn, and the store's id counters.
pub(super) struct Journal {
    buf: Vec<u8>,
    /// End of each record body in `buf`.
    ends: Vec<usize>,
    /// The log generation records go to now.
    pub generation: u32,
    pub next_sid: u64,
    pub next_mid: u64,
    /// Store key of the next outbound entry (of any session).
    pub next_seq: u64,
    /// The broker's clock origin (`Broker::started`), and the wall clock
    /// (ms since the Unix epoch) then.
    started: Instant,
    wall_origin_ms: u64,
    /// A record of this turn must be synced before the turn's output.
    pub needs_sync: bool,
}

impl Journal {
    pub fn new(started: Instant, wall_origin_ms: u64) -> Journal {
        Journal {
            buf: Vec::new(),
            ends: Vec::new(),
            generation: 1,
            next_sid: 1,
            next_mid: 1,
            next_seq: 1,
            started,
            wall_origin_ms,
            needs_sync: false,
        }
    }

    /// Adds a record that the turn's output depends on.
    pub fn push(&mut self, r: &Record<'_>) {
        self.push_lazy(r);
        self.needs_sync = true;
    }

    /// Adds a record that needs no sync of its own (see the module doc).
    pub fn push_lazy(&mut self, r: &Record<'_>) {
        r.encode(&mut self.buf);
        self.ends.push(self.buf.len());
    }

    /// Outbound entry `seq` of stored session `sid`: `msg` at `qos`, its
    /// body first when this generation does not have it.
    pub fn out(
        &mut self,
        sid: u64,
        seq: u64,
        msg: &Message,
        qos: QoS,
        retain: bool,
        sub_ids: &SubIds,
    ) {
        let mid = self.message(msg);
        self.push(&Record::Out {
            sid,
            seq,
            mid,
            qos: qos as u8,
            retain,
            sub_ids: sub_ids.as_slice().to_vec(),
        });
    }

    /// Outbound entry `seq` of stored session `sid` went out at `qos` with
    /// `packet_id` (a QoS 2 id must be durable before the PUBLISH leaves).
    pub fn out_sent(&mut self, sid: u64, seq: u64, packet_id: u16, qos: QoS) {
        let r = Record::OutSent {
            sid,
            seq,
            packet_id,
        };
        if qos == QoS::ExactlyOnce {
            self.push(&r);
        } else {
            self.push_lazy(&r);
        }
    }

    /// Outbound entry `seq` of stored session `sid` is gone.
    pub fn out_done(&mut self, sid: u64, seq: u64) {
        self.push_lazy(&Record::OutDone { sid, seq });
    }

    /// The store id of `msg`'s body, writing the body first when this
    /// generation does not have it.
    pub fn message(&mut self, msg: &Message) -> u64 {
        let at = msg.stored.get();
        if at.mid != 0 && at.generation == self.generation {
            return at.mid;
        }
        let mid = if at.mid != 0 {
            at.mid
        } else {
            self.next_mid += 1;
            self.next_mid - 1
        };
        let expires_ms = msg.expires_at.map_or(0, |at| self.wall_ms(at).max(1));
        self.push(&Record::Msg {
            mid,
            topic: &msg.topic,
            payload: &msg.payload,
            qos: msg.qos as u8,
            retain: msg.retain,
            expires_ms,
            passthrough: &msg.properties.passthrough,
        });
        msg.stored.set(StoreRef {
            mid,
            generation: self.generation,
        });
        mid
    }

    /// `at` on the wall clock, in ms since the Unix epoch.
    pub fn wall_ms(&self, at: Instant) -> u64 {
        self.wall_origin_ms + at.saturating_duration_since(self.started).as_millis() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Records held.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// The bodies, in order.
    pub fn bodies(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let b = &self.buf[start..end];
            start = end;
            b
        })
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
        self.needs_sync = false;
        // A burst must not pin its buffer for good.
        if self.buf.capacity() > 1 << 20 {
            self.buf = Vec::new();
            self.ends = Vec::new();
        }
    }
}

/// The MQTT 5 subscription options byte.
pub(super) fn options_byte(o: &crate::codec::SubOptions) -> u8 {
    o.qos as u8
        | u8::from(o.no_local) << 2
        | u8::from(o.retain_as_published) << 3
        | (o.retain_handling & 3) << 4
}

impl<T> Broker<T> {
    /// The journal and session `sid`, when persistence is on and the
    /// session is stored.
    fn stored(&mut self, sid: usize) -> Option<(&mut Journal, &mut crate::session::Session)> {
        let s = self.sessions.get_mut(sid).filter(|s| s.store_id != 0)?;
        let j = self.journal.as_deref_mut()?;
        Some((j, s))
    }

    /// Called when a connection has set up session `sid`: a session that
    /// outlives its connection is stored (all of it, the first time), or
    /// its new protocol, expiry and will are.
    pub(super) fn persist_connected(&mut self, sid: usize) {
        let Some(journal) = self.journal.as_deref_mut() else {
            return;
        };
        let s = &self.sessions[sid];
        if s.ends_with_connection() {
            return;
        }
        if s.store_id == 0 {
            // Ids are never reused; 4 billion stored sessions is beyond
            // any broker's life.
            let id = u32::try_from(journal.next_sid).unwrap_or(u32::MAX);
            journal.next_sid += 1;
            self.sessions[sid].store_id = id;
            self.write_session(sid);
            return;
        }
        let s = &self.sessions[sid];
        journal.push(&Record::Session {
            sid: u64::from(s.store_id),
            client_id: &s.client_id,
            level: s.protocol.level(),
            expiry: s.expiry_interval,
            username: s.username(),
        });
        self.persist_will(sid);
    }

    /// Writes the whole of stored session `sid`: what a snapshot holds of
    /// it, and what a session holds when it is first stored (a clean
    /// session taken over by a persistent one has subscriptions and
    /// messages already). Outbound entries get their store keys here.
    pub(super) fn write_session(&mut self, sid: usize) {
        let Some(journal) = self.journal.as_deref_mut() else {
            return;
        };
        let s = &mut self.sessions[sid];
        let id = u64::from(s.store_id);
        journal.push(&Record::Session {
            sid: id,
            client_id: &s.client_id,
            level: s.protocol.level(),
            expiry: s.expiry_interval,
            username: s.username(),
        });
        if let Some(at) = s.disconnected_at {
            journal.push(&Record::Offline {
                sid: id,
                at_ms: journal.wall_ms(at),
            });
        }
        for filter in s.filters() {
            let sub = match crate::topic::parse_shared(filter) {
                Some(_) => self.shared.get(filter, sid as u32),
                None => self.tree.get(filter, sid as u32).copied(),
            };
            if let Some(sub) = sub {
                journal.push(&Record::Sub {
                    sid: id,
                    filter,
                    options: options_byte(&sub.options),
                    sub_id: sub.id(),
                });
            }
        }
        let mut next_seq = journal.next_seq;
        for f in s.inflight_mut() {
            if f.qos == QoS::AtMostOnce {
                continue;
            }
            if f.seq == 0 {
                f.seq = next_seq;
                next_seq += 1;
            }
            journal.out(id, f.seq, &f.msg, f.qos, f.retain, &f.sub_ids);
            journal.push(&Record::OutSent {
                sid: id,
                seq: f.seq,
                packet_id: f.packet_id,
            });
            if f.state == OutState::Released {
                journal.push(&Record::OutReleased {
                    sid: id,
                    seq: f.seq,
                });
            }
        }
        for q in s.queued_mut() {
            if q.qos == QoS::AtMostOnce {
                continue;
            }
            if q.seq == 0 {
                q.seq = next_seq;
                next_seq += 1;
            }
            journal.out(id, q.seq, &q.msg, q.qos, q.retain, &q.sub_ids);
        }
        journal.next_seq = next_seq;
        for packet_id in s.incoming_ids() {
            journal.push(&Record::Incoming { sid: id, packet_id });
        }
        self.persist_will(sid);
    }

    /// Stores session `sid`'s will as it is now (set or gone).
    pub(super) fn persist_will(&mut self, sid: usize) {
        let Some((journal, s)) = self.stored(sid) else {
            return;
        };
        let id = u64::from(s.store_id);
        match s.will.as_deref() {
            Some(w) => journal.push(&Record::Will {
                sid: id,
                topic: &w.topic,
                payload: &w.payload,
                qos: w.qos as u8,
                retain: w.retain,
                delay: w.delay_interval,
                expiry: w.properties.message_expiry.map_or(0, |e| u64::from(e) + 1),
                passthrough: &w.properties.passthrough,
            }),
            None => journal.push(&Record::WillGone { sid: id }),
        }
    }

    /// Session `sid`'s connection ended at `now`.
    pub(super) fn persist_offline(&mut self, sid: usize, now: Instant) {
        if let Some((journal, s)) = self.stored(sid) {
            let at_ms = journal.wall_ms(now);
            journal.push_lazy(&Record::Offline {
                sid: u64::from(s.store_id),
                at_ms,
            });
        }
    }

    /// Session `sid` is about to be removed.
    pub(super) fn persist_session_end(&mut self, sid: usize) {
        if let Some((journal, s)) = self.stored(sid) {
            let id = u64::from(s.store_id);
            journal.push(&Record::SessionEnd { sid: id });
        }
    }

    pub(super) fn persist_sub(&mut self, sid: usize, filter: &str, sub: &super::Subscription) {
        if let Some((journal, s)) = self.stored(sid) {
            let id = u64::from(s.store_id);
            journal.push(&Record::Sub {
                sid: id,
                filter,
                options: options_byte(&sub.options),
                sub_id: sub.id(),
            });
        }
    }

    pub(super) fn persist_unsub(&mut self, sid: usize, filter: &str) {
        if let Some((journal, s)) = self.stored(sid) {
            let id = u64::from(s.store_id);
            journal.push(&Record::Unsub { sid: id, filter });
        }
    }

    /// A QoS 1/2 message enters session `sid`'s books (queued, or straight
    /// in flight); returns its store key, 0 when the session is not
    /// stored.
    pub(super) fn persist_out(
        &mut self,
        sid: usize,
        msg: &Message,
        qos: QoS,
        retain: bool,
        sub_ids: &SubIds,
    ) -> u64 {
        if self.journal.is_none() || qos == QoS::AtMostOnce {
            return 0;
        }
        let Some((journal, s)) = self.stored(sid) else {
            return 0;
        };
        let seq = journal.next_seq;
        journal.next_seq += 1;
        journal.out(u64::from(s.store_id), seq, msg, qos, retain, sub_ids);
        seq
    }

    /// Outbound entry `seq` of session `sid` went out at `qos` with
    /// `packet_id` (a QoS 2 id must be durable before the PUBLISH leaves).
    pub(super) fn persist_sent(&mut self, sid: usize, seq: u64, packet_id: u16, qos: QoS) {
        if seq == 0 {
            return;
        }
        if let Some((journal, s)) = self.stored(sid) {
            journal.out_sent(u64::from(s.store_id), seq, packet_id, qos);
        }
    }

    pub(super) fn persist_released(&mut self, sid: usize, seq: u64) {
        if seq == 0 {
            return;
        }
        if let Some((journal, s)) = self.stored(sid) {
            let id = u64::from(s.store_id);
            journal.push(&Record::OutReleased { sid: id, seq });
        }
    }

    /// Outbound entry `seq` is gone (acknowledged, expired, dropped).
    pub(super) fn persist_done(&mut self, sid: usize, seq: u64) {
        if seq == 0 {
            return;
        }
        if let Some((journal, s)) = self.stored(sid) {
            journal.out_done(u64::from(s.store_id), seq);
        }
    }

    pub(super) fn persist_incoming(&mut self, sid: usize, packet_id: u16) {
        if let Some((journal, s)) = self.stored(sid) {
            let id = u64::from(s.store_id);
            journal.push(&Record::Incoming { sid: id, packet_id });
        }
    }

    pub(super) fn persist_in_released(&mut self, sid: usize, packet_id: u16) {
        if let Some((journal, s)) = self.stored(sid) {
            let id = u64::from(s.store_id);
            journal.push(&Record::Released { sid: id, packet_id });
        }
    }

    /// `msg` became its topic's retained message.
    pub(super) fn persist_retain(&mut self, msg: &Message) {
        let Some(journal) = self.journal.as_deref_mut() else {
            return;
        };
        if msg.topic.starts_with("$SYS") {
            return;
        }
        let mid = journal.message(msg);
        journal.push(&Record::Retain {
            topic: &msg.topic,
            mid,
        });
    }

    /// `topic`'s retained message was cleared (or expired).
    pub(super) fn persist_unretain(&mut self, topic: &str) {
        if let Some(journal) = self.journal.as_deref_mut() {
            if !topic.starts_with("$SYS") {
                journal.push(&Record::Unretain { topic });
            }
        }
    }
}
