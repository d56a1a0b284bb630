//! PUBLISH in and out: inbound QoS 0/1/2 handshakes, retained storage,
//! routing through the topic tree, delivery within the in-flight window and
//! queue bounds, the acknowledgement handshakes of outbound messages, and
//! the optional retry of unacknowledged messages.

use std::rc::Rc;
use std::time::Instant;

use bytes::Bytes;
use log::{debug, warn};

use super::link::{mark_dirty, LinkState};
use super::{Broker, CloseCause, Link, Timer};
use crate::codec::{self, encode_publish_header, reason, Ack, Packet, Publish, PublishHeader, QoS};
use crate::session::{Enqueued, Message, OutState, Queued, SharedMessage};
use crate::topic::valid_topic_name;

/// Output queued on one connection above which further messages wait in the
/// session queue (bounded by `max_queued_messages`) instead: a slow reader
/// cannot make the broker buffer without limit.
pub const TX_HIGH_WATER: usize = 256 * 1024;

/// Appends one PUBLISH (header encoded per subscriber, payload shared) to a
/// link's output.
pub(super) fn write_publish<T>(
    link: &mut Link<T>,
    msg: &Message,
    qos: QoS,
    retain: bool,
    dup: bool,
    packet_id: u16,
) {
    let header = PublishHeader {
        dup,
        qos,
        retain,
        topic: msg.topic.as_str(),
        packet_id,
        message_expiry: msg.properties.message_expiry,
        topic_alias: None,
        subscription_ids: &[],
        passthrough: &msg.properties.passthrough,
        payload_len: msg.payload.len(),
    };
    encode_publish_header(&header, link.protocol, link.tx.staging());
    link.tx.push_payload(&msg.payload);
}

impl<T> Broker<T> {
    /// PUBLISH from a client.
    pub(super) fn handle_publish(&mut self, id: usize, p: Publish, now: Instant) {
        self.stats.messages_received += 1;
        let (sid, protocol) = {
            let l = &self.links[id];
            (l.sid(), l.protocol)
        };
        if !valid_topic_name(&p.topic) {
            if protocol.is_v5() {
                self.send_disconnect(id, reason::TOPIC_NAME_INVALID);
            }
            let why = format!(
                "invalid topic name {:?} in PUBLISH [MQTT-3.3.2-2]",
                p.topic.as_str()
            );
            self.close_link(id, CloseCause::Protocol(why), now);
            return;
        }
        if p.retain && !self.settings.retain_available {
            if protocol.is_v5() {
                self.send_disconnect(id, reason::RETAIN_NOT_SUPPORTED);
            }
            let why = "retained PUBLISH while retain_available is false".to_string();
            self.close_link(id, CloseCause::Protocol(why), now);
            return;
        }
        let limit = self.settings.message_size_limit;
        let oversized = limit != 0 && p.payload.len() > limit;
        if oversized {
            self.stats.publish_dropped += 1;
            warn!(
                "client {}: dropped PUBLISH to {} of {} bytes (message_size_limit {limit})",
                self.sessions[sid].client_id,
                p.topic,
                p.payload.len()
            );
        }
        let code = if oversized && protocol.is_v5() {
            reason::PACKET_TOO_LARGE
        } else {
            reason::SUCCESS
        };
        match p.qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => self.send_ack(id, Packet::PubAck, p.packet_id, code),
            QoS::ExactlyOnce => {
                // Delivered on first receipt; the id is held until PUBREL so a
                // re-sent PUBLISH is acknowledged but not delivered again.
                let first = self.sessions[sid].receive_qos2(p.packet_id);
                self.send_ack(id, Packet::PubRec, p.packet_id, code);
                if !first {
                    debug!(
                        "client {}: duplicate QoS 2 PUBLISH id {} not delivered again",
                        self.sessions[sid].client_id, p.packet_id
                    );
                    return;
                }
            }
        }
        if oversized {
            return;
        }
        let msg = Message {
            topic: p.topic,
            payload: p.payload,
            qos: p.qos,
            retain: p.retain,
            properties: p.properties,
        };
        self.publish_message(msg, now);
    }

    fn send_ack(&mut self, id: usize, kind: fn(Ack) -> Packet, packet_id: u16, reason: u8) {
        let ack = Ack {
            packet_id,
            reason,
            ..Ack::default()
        };
        self.send_packet(id, &kind(ack));
    }

    /// Stores (or clears) the retained message of a topic when the message
    /// is retained, then routes it to every matching subscription.
    pub(super) fn publish_message(&mut self, mut msg: Message, now: Instant) {
        if msg.retain {
            if msg.payload.is_empty() {
                self.retained.remove(&msg.topic);
            } else {
                // The store keeps its own compact copy so that a long-lived
                // retained message does not pin a whole receive buffer.
                let stored = Rc::new(Message {
                    topic: msg.topic.compact(),
                    payload: Bytes::copy_from_slice(&msg.payload),
                    qos: msg.qos,
                    retain: true,
                    properties: msg.properties.clone(),
                });
                self.retained.insert(&msg.topic, stored);
            }
        }
        msg.retain = false;
        self.route(&Rc::new(msg), now);
    }

    /// Delivers `msg` to every session with a matching subscription, once
    /// per session at the highest QoS among its matching subscriptions, and
    /// with RETAIN clear [MQTT-3.3.1-9].
    fn route(&mut self, msg: &SharedMessage, now: Instant) {
        let mut matches = std::mem::take(&mut self.route_scratch);
        matches.clear();
        self.tree
            .for_each_match(&msg.topic, |sub, s| matches.push((sub, *s)));
        if matches.len() > 1 {
            // Overlapping subscriptions of one session: stamp each session
            // with this message and keep the highest QoS, without sorting.
            self.route_stamp += 1;
            let stamp = self.route_stamp;
            for &(sid, sub) in &matches {
                let s = &mut self.sessions[sid as usize];
                if s.route_stamp != stamp {
                    s.route_stamp = stamp;
                    s.route_qos = sub.options.qos;
                } else if sub.options.qos > s.route_qos {
                    s.route_qos = sub.options.qos;
                }
            }
            for &(sid, _) in &matches {
                let s = &mut self.sessions[sid as usize];
                if s.route_stamp == stamp {
                    s.route_stamp = 0;
                    let qos = msg.qos.min(s.route_qos);
                    self.deliver(sid as usize, msg, qos, false, now);
                }
            }
        } else if let Some(&(sid, sub)) = matches.first() {
            self.deliver(sid as usize, msg, msg.qos.min(sub.options.qos), false, now);
        }
        self.route_scratch = matches;
    }

    /// Sends `msg` to session `sid` now if its connection is up, its window
    /// has room and nothing is queued ahead of it; queues it otherwise
    /// (QoS 0 to an offline client only with `queue_qos0_messages`).
    pub(super) fn deliver(
        &mut self,
        sid: usize,
        msg: &SharedMessage,
        qos: QoS,
        retain: bool,
        now: Instant,
    ) {
        let limits = self.settings.limits;
        let session = &mut self.sessions[sid];
        match session.link {
            Some(lid) => {
                let lid = lid as usize;
                let link = &mut self.links[lid];
                let room = link.tx.len() < TX_HIGH_WATER
                    && session.queue_is_empty()
                    && (qos == QoS::AtMostOnce || session.window_open(&limits));
                if room {
                    let packet_id = if qos == QoS::AtMostOnce {
                        0
                    } else {
                        let id = session.next_packet_id();
                        let q = Queued {
                            msg: msg.clone(),
                            qos,
                            retain,
                        };
                        session.push_inflight(id, q, Some(now));
                        id
                    };
                    write_publish(link, msg, qos, retain, false, packet_id);
                    mark_dirty(&mut self.dirty, lid, link);
                    self.stats.messages_sent += 1;
                    if qos != QoS::AtMostOnce && session.inflight_len() == 1 {
                        self.schedule_retry(sid, now);
                    }
                    return;
                }
            }
            None if qos == QoS::AtMostOnce && !self.settings.queue_qos0 => return,
            None => {}
        }
        let q = Queued {
            msg: msg.clone(),
            qos,
            retain,
        };
        match session.enqueue(q, &limits) {
            Enqueued::Yes => {}
            Enqueued::EvictedQos0 | Enqueued::Dropped => {
                self.stats.publish_dropped += 1;
                session.dropped += 1;
                if session.dropped.is_power_of_two() {
                    warn!(
                        "client {}: queue full (max_queued_messages {}, max_queued_bytes {}), {} messages dropped so far",
                        session.client_id, limits.max_queued, limits.max_queued_bytes, session.dropped
                    );
                }
            }
        }
    }

    /// Moves queued messages into the window while the connection is up and
    /// has room. Called after an acknowledgement, on resume and when a
    /// connection's output drains.
    pub(super) fn drain_queue(&mut self, sid: usize, now: Instant) {
        let limits = self.settings.limits;
        let Some(session) = self.sessions.get_mut(sid) else {
            return;
        };
        let Some(lid) = session.link.map(|l| l as usize) else {
            return;
        };
        let link = &mut self.links[lid];
        let had_inflight = session.inflight_len() > 0;
        let mut sent = false;
        while let Some(needs_window) = session.front_needs_window() {
            if link.tx.len() >= TX_HIGH_WATER || (needs_window && !session.window_open(&limits)) {
                break;
            }
            let Some(q) = session.dequeue() else { break };
            let packet_id = if q.qos == QoS::AtMostOnce {
                0
            } else {
                session.next_packet_id()
            };
            write_publish(link, &q.msg, q.qos, q.retain, false, packet_id);
            self.stats.messages_sent += 1;
            if q.qos != QoS::AtMostOnce {
                session.push_inflight(packet_id, q, Some(now));
            }
            sent = true;
        }
        if sent {
            mark_dirty(&mut self.dirty, lid, link);
            if !had_inflight && session.inflight_len() > 0 {
                self.schedule_retry(sid, now);
            }
        }
    }

    /// The event loop wrote out all of link `id`'s output: messages held
    /// back by [`TX_HIGH_WATER`] may go now.
    pub fn output_drained(&mut self, id: usize, now: Instant) {
        if let Some(link) = self.links.get(id) {
            if link.state == LinkState::Connected {
                let sid = link.sid();
                if !self.sessions[sid].queue_is_empty() {
                    self.drain_queue(sid, now);
                }
            }
        }
    }

    pub(super) fn handle_puback(&mut self, id: usize, packet_id: u16, now: Instant) {
        let sid = self.links[id].sid();
        if self.sessions[sid].puback(packet_id) {
            self.drain_queue(sid, now);
        } else {
            debug!(
                "client {}: PUBACK for unknown packet id {packet_id}",
                self.sessions[sid].client_id
            );
        }
    }

    pub(super) fn handle_pubrec(&mut self, id: usize, packet_id: u16, now: Instant) {
        let sid = self.links[id].sid();
        if self.sessions[sid].pubrec(packet_id, now) {
            self.send_ack(id, Packet::PubRel, packet_id, reason::SUCCESS);
        } else {
            debug!(
                "client {}: PUBREC for unknown packet id {packet_id}",
                self.sessions[sid].client_id
            );
            if self.links[id].protocol.is_v5() {
                self.send_ack(
                    id,
                    Packet::PubRel,
                    packet_id,
                    reason::PACKET_IDENTIFIER_NOT_FOUND,
                );
            }
        }
    }

    /// PUBREL: always answered with PUBCOMP [MQTT-4.3.3-2]; the id is free
    /// for a new message afterwards.
    pub(super) fn handle_pubrel(&mut self, id: usize, packet_id: u16) {
        let sid = self.links[id].sid();
        let known = self.sessions[sid].release_qos2(packet_id);
        let code = if known || !self.links[id].protocol.is_v5() {
            reason::SUCCESS
        } else {
            reason::PACKET_IDENTIFIER_NOT_FOUND
        };
        self.send_ack(id, Packet::PubComp, packet_id, code);
    }

    pub(super) fn handle_pubcomp(&mut self, id: usize, packet_id: u16, now: Instant) {
        let sid = self.links[id].sid();
        if self.sessions[sid].pubcomp(packet_id) {
            self.drain_queue(sid, now);
        } else {
            debug!(
                "client {}: PUBCOMP for unknown packet id {packet_id}",
                self.sessions[sid].client_id
            );
        }
    }

    /// Arms the retry timer of session `sid` when retries are configured
    /// and its connection is MQTT 3.x (MQTT 5 re-sends only on reconnect).
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

    /// The retry timer of session `sid`: re-sends (PUBLISH with DUP, or
    /// PUBREL) every in-flight message unacknowledged for `retry_interval`.
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
        let Some(lid) = s.link.map(|l| l as usize) else {
            return;
        };
        let link = &mut self.links[lid];
        let mut resent = 0;
        for f in s.inflight_mut() {
            if f.sent_at.is_some_and(|at| at + every <= now) {
                f.sent_at = Some(now);
                resent += 1;
                match f.state {
                    OutState::Published => {
                        write_publish(link, &f.msg, f.qos, f.retain, true, f.packet_id)
                    }
                    OutState::Released => codec::encode(
                        &Packet::PubRel(Ack::new(f.packet_id)),
                        link.protocol,
                        link.tx.staging(),
                    ),
                }
            }
        }
        if resent > 0 {
            debug!(
                "client {}: re-sent {resent} unacknowledged messages",
                s.client_id
            );
            mark_dirty(&mut self.dirty, lid, link);
        }
        if s.inflight_len() > 0 {
            self.schedule_retry(sid, now);
        }
    }
}
