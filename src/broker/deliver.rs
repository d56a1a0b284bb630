//! Routing and delivery: a message through the topic tree (and the shared
//! subscription groups) to each matching session, once per session with the
//! subscription options applied; then the in-flight window, the queue, the
//! expiry of messages and the optional retry of unacknowledged ones.

use std::time::{Duration, Instant};

use log::{debug, warn};

use super::link::{list_once, mark_dirty, PRESSED};
use super::outbound::{fits, write_publish, Send};
use super::{Broker, Subscription, Timer};
use crate::codec::{self, QoS};
use crate::session::{Enqueued, OutState, Queued, SharedMessage, SubIds};

/// Output queued on one connection above which further messages wait in the
/// session queue (bounded by `max_queued_messages`) instead: a slow reader
/// cannot make the broker buffer without limit.
pub const TX_HIGH_WATER: usize = 256 * 1024;

/// How long an MQTT 5 client may leave its output past [`TX_HIGH_WATER`]
/// without taking a byte of it before an overflowing queue disconnects it
/// (0x97). A client that reads, however slowly, is never disconnected for
/// this: its QoS 0 messages are dropped as the queue bounds say.
pub const STALL: Duration = Duration::from_secs(30);

/// Why a message was dropped for one client.
#[derive(Clone, Copy)]
enum DropCause {
    QueueFull,
    TooLarge,
}

impl<T> Broker<T> {
    /// The QoS a message published at `published` goes out with on a
    /// subscription granted `granted`.
    pub(super) fn out_qos(&self, published: QoS, granted: QoS) -> QoS {
        if self.settings.upgrade_outgoing_qos {
            granted
        } else {
            published.min(granted)
        }
    }

    /// Delivers `msg` to every session with a matching subscription: once
    /// per session, at the highest QoS among its matching subscriptions,
    /// with every matching Subscription Identifier [MQTT-3.3.4-3,
    /// MQTT-3.3.4-5], RETAIN clear unless a subscription asked for Retain As
    /// Published [MQTT-3.3.1-12, MQTT-3.3.1-13], and never back to the
    /// publishing session `from` on a No Local subscription [MQTT-3.8.3-3].
    /// Each matching shared subscription group gets it once. Returns true
    /// when some subscription matched.
    pub(super) fn route(&mut self, msg: &SharedMessage, from: Option<usize>, now: Instant) -> bool {
        let mut matches = std::mem::take(&mut self.route_scratch);
        matches.clear();
        let version = self.tree.version();
        // The topic's number, for the connections' alias tables (see
        // `link::TopicRuns`): the cache's, or 0 (several copies number it
        // below).
        let mut run = self.route_cache.get(&msg.topic, version, &mut matches);
        if run == 0 {
            self.tree
                .for_each_match(&msg.topic, |sub, s| matches.push((sub, *s)));
            if matches.len() <= crate::topic::MATCH_CACHE_MAX {
                run = self.runs.fresh();
                self.route_cache.put(&msg.topic, version, &matches, run);
            }
        }
        self.routing_run = run;
        let from = from.map(|f| f as u32);
        let sessions = &self.sessions;
        // No Local [MQTT-3.8.3-3], and the ACL where the subscription may
        // deliver some topics and not others: such matches are left out.
        let skip = |sid: u32, sub: &Subscription| {
            (sub.options.no_local && Some(sid) == from)
                || (sub.per_topic()
                    && sessions
                        .get(sid as usize)
                        .and_then(|s| s.acl())
                        .is_some_and(|acl| !acl.can_read(&msg.topic)))
        };
        let mut any = false;
        if let [(sid, sub)] = matches[..] {
            if !skip(sid, &sub) {
                any = true;
                let qos = self.out_qos(msg.qos, sub.options.qos);
                let retain = msg.retain && sub.options.retain_as_published;
                self.deliver(sid as usize, msg, qos, retain, sub.ids(), now);
            }
        } else if matches.len() > 1 {
            matches.retain(|(sid, sub)| !skip(*sid, sub));
            // Several copies: their connections can tell the topic's run.
            if self.routing_run == 0 {
                self.routing_run = self.runs.of(&msg.topic);
            }
            self.memo.arm();
            // Overlapping subscriptions of one session: stamp each session
            // with this message and merge its options, without sorting.
            self.route_stamp += 1;
            let stamp = self.route_stamp;
            for (sid, sub) in &matches {
                let s = &mut self.sessions[*sid as usize];
                if s.route_stamp != stamp {
                    s.route_stamp = stamp;
                    s.route_qos = sub.options.qos;
                    s.route_rap = sub.options.retain_as_published;
                    s.route_multi = false;
                } else {
                    s.route_qos = s.route_qos.max(sub.options.qos);
                    s.route_rap |= sub.options.retain_as_published;
                    s.route_multi = true;
                }
            }
            for &(sid, sub) in &matches {
                if self.sessions[sid as usize].route_stamp != stamp {
                    continue;
                }
                let s = &mut self.sessions[sid as usize];
                s.route_stamp = 0;
                let (granted, rap) = (s.route_qos, s.route_rap);
                let ids = if s.route_multi {
                    let ids: Vec<u32> = matches
                        .iter()
                        .filter(|(other, o)| *other == sid && o.id() != 0)
                        .map(|(_, o)| o.id())
                        .collect();
                    match ids[..] {
                        [] => SubIds::None,
                        [one] => SubIds::One(one),
                        _ => SubIds::Many(ids.into_boxed_slice()),
                    }
                } else {
                    sub.ids()
                };
                any = true;
                let qos = self.out_qos(msg.qos, granted);
                self.deliver(sid as usize, msg, qos, msg.retain && rap, ids, now);
            }
            self.memo.disarm();
        }
        self.routing_run = 0;
        self.route_scratch = matches;
        if !self.shared.is_empty() {
            any |= self.route_shared(msg, now);
        }
        any
    }

    /// Gives `msg` to one member of each matching shared subscription group
    /// (see [`super::shared::SharedGroups::pick`]).
    fn route_shared(&mut self, msg: &SharedMessage, now: Instant) -> bool {
        let mut groups = std::mem::take(&mut self.group_scratch);
        groups.clear();
        self.shared.for_each_match(&msg.topic, |g| groups.push(g));
        let mut any = false;
        for &g in &groups {
            let sessions = &self.sessions;
            let online = |sid: u32| sessions.get(sid as usize).is_some_and(|s| s.link.is_some());
            let allowed = |sid: u32, sub: &Subscription| {
                !sub.per_topic()
                    || sessions
                        .get(sid as usize)
                        .and_then(|s| s.acl())
                        .is_none_or(|acl| acl.can_read(&msg.topic))
            };
            if let Some((sid, sub)) = self.shared.pick(g, online, allowed) {
                any = true;
                let qos = self.out_qos(msg.qos, sub.options.qos);
                let retain = msg.retain && sub.options.retain_as_published;
                self.deliver(sid as usize, msg, qos, retain, sub.ids(), now);
            }
        }
        self.group_scratch = groups;
        any
    }

    /// Counts a message dropped for one client, logging the first and then
    /// every power of two (the text is only made then: drops come in
    /// floods).
    fn dropped_for(&mut self, sid: usize, why: DropCause) {
        self.stats.publish_dropped += 1;
        let limits = self.settings.limits;
        let session = &mut self.sessions[sid];
        session.dropped += 1;
        if session.dropped.is_power_of_two() {
            let why = match why {
                DropCause::QueueFull => format!(
                    "queue full (max_queued_messages {}, max_queued_bytes {})",
                    limits.max_queued, limits.max_queued_bytes
                ),
                DropCause::TooLarge => "message larger than its Maximum Packet Size".to_string(),
            };
            warn!(
                "client {}: {why}, {} messages dropped so far",
                session.client_id, session.dropped
            );
        }
    }

    /// Sends `msg` to session `sid` now if its connection is up, its window
    /// has room and nothing is queued ahead of it; queues it otherwise
    /// (QoS 0 to an offline client only with `queue_qos0_messages`). An
    /// expired message is not sent [MQTT-3.3.2-5]; one larger than the
    /// client's Maximum Packet Size is dropped for that client
    /// [MQTT-3.1.2-25].
    pub(super) fn deliver(
        &mut self,
        sid: usize,
        msg: &SharedMessage,
        qos: QoS,
        retain: bool,
        sub_ids: SubIds,
        now: Instant,
    ) {
        if msg.expired(now) {
            self.stats.expired += 1;
            return;
        }
        let session = &mut self.sessions[sid];
        if let Some(lid) = session.link {
            let lid = lid as usize;
            let link = &mut self.links[lid];
            let backed_up = link.tx.len() >= TX_HIGH_WATER;
            let room = !backed_up
                && session.queue_is_empty()
                && (qos == QoS::AtMostOnce
                    || session.window_open(self.settings.max_inflight_bytes));
            if room {
                let mut send = Send {
                    qos,
                    retain,
                    dup: false,
                    packet_id: 0,
                    sub_ids: sub_ids.as_slice(),
                    mount: self.settings.mount(link.listener),
                    run: self.routing_run,
                };
                if !fits(link, msg, &send, now) {
                    self.dropped_for(sid, DropCause::TooLarge);
                    return;
                }
                if qos != QoS::AtMostOnce {
                    send.packet_id = session.next_packet_id();
                }
                write_publish(link, msg, &send, now, self.memo.for_send(msg, &send));
                mark_dirty(&mut self.dirty, lid, link);
                self.stats.messages_sent += 1;
                if qos != QoS::AtMostOnce {
                    let packet_id = send.packet_id;
                    let seq = if self.journal.is_some() {
                        let seq = self.persist_out(sid, msg, qos, retain, &sub_ids);
                        self.persist_sent(sid, seq, packet_id, qos);
                        seq
                    } else {
                        0
                    };
                    let q = Queued {
                        msg: msg.clone(),
                        qos,
                        retain,
                        sub_ids,
                        seq,
                    };
                    let session = &mut self.sessions[sid];
                    session.push_inflight(packet_id, q, Some(now));
                    if session.inflight_len() == 1 {
                        self.schedule_retry(sid, now);
                    }
                }
                return;
            }
            if backed_up {
                list_once(&mut self.pressed, PRESSED, lid, link);
                if let Some(v5) = link.v5.as_deref_mut().filter(|v| v.blocked_since == 0) {
                    v5.blocked_since = super::uptime_secs(self.started, now);
                }
            }
        } else if (qos == QoS::AtMostOnce && !self.settings.queue_qos0)
            || session.ends_with_connection()
        {
            // Only a clean bridge session is offline and ends with its
            // connection: it keeps nothing while its link is down.
            return;
        }
        self.enqueue_for(sid, msg, qos, retain, sub_ids, now);
    }

    /// The part of [`Broker::deliver`] off the hot path: `msg` waits in
    /// session `sid`'s queue, within its bounds.
    #[inline(never)]
    fn enqueue_for(
        &mut self,
        sid: usize,
        msg: &SharedMessage,
        qos: QoS,
        retain: bool,
        sub_ids: SubIds,
        now: Instant,
    ) {
        let limits = self.settings.limits;
        let stored =
            qos != QoS::AtMostOnce && self.journal.is_some() && self.sessions[sid].store_id != 0;
        let ids = if stored {
            sub_ids.clone()
        } else {
            SubIds::None
        };
        let q = Queued {
            msg: msg.clone(),
            qos,
            retain,
            sub_ids,
            seq: 0,
        };
        let outcome = self.sessions[sid].enqueue(q, &limits);
        if stored && outcome != Enqueued::Dropped {
            let seq = self.persist_out(sid, msg, qos, retain, &ids);
            self.sessions[sid].set_newest_queued_seq(seq);
        }
        if !self.bridges.is_empty() {
            self.queued_for_bridge(sid, now);
        }
        match outcome {
            Enqueued::Yes => {}
            Enqueued::EvictedQos0 | Enqueued::Dropped => {
                self.dropped_for(sid, DropCause::QueueFull);
                self.note_overflow(sid, now);
            }
        }
    }

    /// A message could not be queued for connected session `sid`: when its
    /// MQTT 5 client has not read for [`STALL`] (its output past
    /// [`TX_HIGH_WATER`] all that time), it is listed to be disconnected
    /// with 0x97 once the current packet or timer is handled (not now:
    /// routing is iterating over sessions).
    fn note_overflow(&mut self, sid: usize, now: Instant) {
        let Some(lid) = self.sessions[sid].link.map(|l| l as usize) else {
            return;
        };
        let uptime = super::uptime_secs(self.started, now);
        let link = &self.links[lid];
        let stalled = link.v5.as_ref().is_some_and(|v| {
            v.blocked_since != 0
                && u64::from(uptime.saturating_sub(v.blocked_since)) >= STALL.as_secs()
        });
        if stalled && !self.overflowed.contains(&lid) {
            self.overflowed.push(lid);
        }
    }

    /// Disconnects the clients [`Broker::note_overflow`] listed: DISCONNECT
    /// 0x97 (Quota exceeded), then the close; a persistent session keeps
    /// its queue for when the client is back.
    pub(super) fn close_overflowed(&mut self, now: Instant) {
        while let Some(lid) = self.overflowed.pop() {
            let connected = self
                .links
                .get(lid)
                .is_some_and(|l| l.state == super::link::LinkState::Connected);
            if connected {
                let why = "queue full while the client is not reading its messages";
                self.send_disconnect(lid, codec::reason::QUOTA_EXCEEDED, why);
                self.close_link(lid, super::CloseCause::NotReading, now);
            }
        }
    }

    /// Moves queued messages into the window while the connection is up and
    /// has room, skipping expired ones. Called after an acknowledgement, on
    /// resume and when a connection's output drains.
    pub(super) fn drain_queue(&mut self, sid: usize, now: Instant) {
        if self
            .sessions
            .get(sid)
            .is_some_and(|s| s.newest_inflight_unsent())
        {
            self.resend_unsent(sid, now);
        }
        let max_bytes = self.settings.max_inflight_bytes;
        let Some(session) = self.sessions.get_mut(sid) else {
            return;
        };
        let Some(lid) = session.link.map(|l| l as usize) else {
            return;
        };
        let link = &mut self.links[lid];
        let mount = self.settings.mount(link.listener);
        let had_inflight = session.inflight_len() > 0;
        let mut sent = false;
        let (mut expired, mut too_large) = (0, 0);
        let store_id = u64::from(session.store_id);
        let mut journal = self.journal.as_deref_mut().filter(|_| store_id != 0);
        while let Some(needs_window) = session.front_needs_window() {
            if link.tx.len() >= TX_HIGH_WATER || (needs_window && !session.window_open(max_bytes)) {
                break;
            }
            let Some(q) = session.dequeue() else { break };
            if q.msg.expired(now) {
                expired += 1;
                if let Some(j) = journal.as_deref_mut().filter(|_| q.seq != 0) {
                    j.out_done(store_id, q.seq);
                }
                continue;
            }
            let mut send = Send {
                qos: q.qos,
                retain: q.retain,
                dup: false,
                packet_id: 0,
                sub_ids: q.sub_ids.as_slice(),
                mount,
                run: 0,
            };
            if !fits(link, &q.msg, &send, now) {
                too_large += 1;
                if let Some(j) = journal.as_deref_mut().filter(|_| q.seq != 0) {
                    j.out_done(store_id, q.seq);
                }
                continue;
            }
            if q.qos != QoS::AtMostOnce {
                send.packet_id = session.next_packet_id();
            }
            write_publish(link, &q.msg, &send, now, None);
            self.stats.messages_sent += 1;
            if q.qos != QoS::AtMostOnce {
                let packet_id = send.packet_id;
                if let Some(j) = journal.as_deref_mut().filter(|_| q.seq != 0) {
                    j.out_sent(store_id, q.seq, packet_id, q.qos);
                }
                session.push_inflight(packet_id, q, Some(now));
            }
            sent = true;
        }
        self.stats.expired += expired;
        if sent {
            mark_dirty(&mut self.dirty, lid, link);
            if !had_inflight && self.sessions[sid].inflight_len() > 0 {
                self.schedule_retry(sid, now);
            }
        }
        for _ in 0..too_large {
            self.dropped_for(sid, DropCause::TooLarge);
        }
    }

    /// The event loop wrote out all of link `id`'s output: messages held
    /// back by [`TX_HIGH_WATER`] may go now.
    pub fn output_drained(&mut self, id: usize, now: Instant) {
        if let Some(link) = self.links.get(id) {
            if link.state == super::link::LinkState::Connected {
                let sid = link.sid();
                if !self.sessions[sid].queue_is_empty() {
                    self.drain_queue(sid, now);
                }
            }
        }
    }

    /// Re-sends the in-flight messages of session `sid` not yet sent on
    /// its current connection (all of them just after it resumed), oldest
    /// first, while fewer than the window are outstanding on it: a client
    /// back with a lower Receive Maximum gets no more than that at once
    /// [MQTT-3.3.4-9], and the rest as it acknowledges.
    pub(super) fn resend_unsent(&mut self, sid: usize, now: Instant) -> usize {
        let s = &self.sessions[sid];
        // Sent oldest first, so an unsent one is always at the back: one
        // look on the path of every acknowledgement.
        if s.link.is_none() || !s.newest_inflight_unsent() {
            return 0;
        }
        let outstanding = s.inflight().filter(|f| f.sent_at.is_some()).count();
        let budget = usize::from(s.window).saturating_sub(outstanding);
        if budget == 0 || outstanding == s.inflight_len() {
            return 0;
        }
        let mut left = budget;
        self.resend_inflight(sid, now, |sent| {
            let go = sent.is_none() && left > 0;
            left -= usize::from(go);
            go
        })
    }

    /// Writes every in-flight message of session `sid` that `due` selects
    /// (by when it was last sent on this connection) to its connection
    /// again: PUBLISH with DUP, or PUBREL. Returns how many went.
    pub(super) fn resend_inflight(
        &mut self,
        sid: usize,
        now: Instant,
        mut due: impl FnMut(Option<Instant>) -> bool,
    ) -> usize {
        let s = &mut self.sessions[sid];
        let Some(lid) = s.link.map(|l| l as usize) else {
            return 0;
        };
        let link = &mut self.links[lid];
        let mount = self.settings.mount(link.listener);
        let mut resent = 0;
        for f in s.inflight_mut() {
            if !due(f.sent_at) {
                continue;
            }
            f.sent_at = Some(now);
            resent += 1;
            match f.state {
                OutState::Published => {
                    let send = Send {
                        qos: f.qos,
                        retain: f.retain,
                        dup: true,
                        packet_id: f.packet_id,
                        sub_ids: f.sub_ids.as_slice(),
                        mount,
                        run: 0,
                    };
                    write_publish(link, &f.msg, &send, now, None);
                    self.stats.messages_sent += 1;
                }
                OutState::Released => codec::encode_plain_ack(
                    codec::AckKind::PubRel,
                    f.packet_id,
                    0,
                    link.protocol,
                    link.tx.staging(),
                ),
            }
        }
        if resent > 0 {
            mark_dirty(&mut self.dirty, lid, link);
        }
        resent
    }

    /// Arms the retry timer of session `sid` when retries are configured
    /// and its connection is MQTT 3.x (MQTT 5 re-sends only on reconnect
    /// [MQTT-4.4.0-1]).
    pub(super) fn schedule_retry(&mut self, sid: usize, now: Instant) {
        let Some(every) = self.settings.retry_interval else {
            return;
        };
        let s = &mut self.sessions[sid];
        if s.retry_armed || s.protocol.is_v5() {
            return;
        }
        s.retry_armed = true;
        let at = s.inflight().filter_map(|f| f.sent_at).min().unwrap_or(now) + every;
        let generation = s.generation;
        self.timers.schedule(
            at,
            Timer::Retry {
                session: sid as u32,
                generation,
            },
        );
    }

    /// The retry timer of session `sid`: re-sends every in-flight message
    /// unacknowledged for `retry_interval`.
    pub(super) fn retry_due(&mut self, sid: usize, generation: u32, now: Instant) {
        let Some(every) = self.settings.retry_interval else {
            return;
        };
        let Some(s) = self.sessions.get_mut(sid) else {
            return;
        };
        if s.generation != generation {
            return;
        }
        s.retry_armed = false;
        if s.link.is_none() {
            return;
        }
        let resent =
            self.resend_inflight(sid, now, |sent| sent.is_some_and(|at| at + every <= now));
        if resent > 0 {
            debug!(
                "client {}: re-sent {resent} unacknowledged messages",
                self.sessions[sid].client_id
            );
        }
        if self.sessions[sid].inflight_len() > 0 {
            self.schedule_retry(sid, now);
        }
    }
}
