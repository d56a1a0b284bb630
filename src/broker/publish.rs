//! PUBLISH from clients: topic and alias checks, the inbound QoS 0/1/2
//! handshakes, retained storage, then routing; and the acknowledgements
//! of outbound messages.

use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use log::{debug, warn};

use super::link::mark_dirty;
use super::{Broker, CloseCause};
use crate::codec::{
    encode_plain_ack, reason, Ack, AckKind, ByteStr, Publish, PublishProperties, QoS,
};
use crate::session::{Message, SharedMessage};
use crate::topic::valid_topic_name;

/// Largest payload whose routed message's allocation is kept for the next
/// one (see `Broker::shared_message`): the spare holds the payload until
/// then.
const SPARE_MAX: usize = 16 * 1024;

impl<T> Broker<T> {
    /// A broken rule in a client's packet: an MQTT 5 client gets DISCONNECT
    /// with `code` first, then the connection closes (will published).
    pub(super) fn protocol_violation(&mut self, id: usize, code: u8, why: String, now: Instant) {
        if self.links[id].protocol.is_v5() {
            self.send_disconnect(id, code, &why);
        }
        self.close_link(id, CloseCause::Protocol(why), now);
    }

    /// Resolves the MQTT 5 Topic Alias of an inbound PUBLISH in place
    /// [MQTT-3.3.2-7..MQTT-3.3.2-12]: an alias with a topic (re)binds it, an
    /// alias with an empty topic uses the binding. `Err` carries the reason
    /// code and cause of the protocol violation.
    fn resolve_topic(&mut self, id: usize, p: &mut Publish) -> Result<(), (u8, String)> {
        let Some(alias) = p.properties.topic_alias else {
            if p.topic.is_empty() {
                return Err((
                    reason::PROTOCOL_ERROR,
                    "PUBLISH with an empty topic and no topic alias".into(),
                ));
            }
            return Ok(());
        };
        let max = self
            .settings
            .listener(self.links[id].listener)
            .max_topic_alias;
        if alias == 0 || alias > max {
            return Err((
                reason::TOPIC_ALIAS_INVALID,
                format!("topic alias {alias} outside 1..={max}"),
            ));
        }
        let Some(v5) = self.links[id].v5.as_deref_mut() else {
            return Ok(());
        };
        let slot = usize::from(alias - 1);
        if p.topic.is_empty() {
            return match v5.inbound.get(slot) {
                Some(Some(topic)) => {
                    p.topic = topic.clone();
                    Ok(())
                }
                _ => Err((
                    reason::PROTOCOL_ERROR,
                    format!("topic alias {alias} used before it was set"),
                )),
            };
        }
        if v5.inbound.len() <= slot {
            v5.inbound.resize(slot + 1, None);
        }
        v5.inbound[slot] = Some(p.topic.compact());
        Ok(())
    }

    /// The checks of a 5.0 PUBLISH: no Subscription Identifier from a
    /// client [MQTT-3.3.4-6], its Topic Alias resolved, a Response Topic
    /// that is a topic name [MQTT-3.3.2-14]. Returns whether the payload
    /// breaks its Payload Format Indicator, or the protocol violation.
    fn check_v5_publish(&mut self, id: usize, p: &mut Publish) -> Result<bool, (u8, String)> {
        if !p.properties.subscription_ids.is_empty() {
            let why = "PUBLISH from a client carries a Subscription Identifier [MQTT-3.3.4-6]";
            return Err((reason::PROTOCOL_ERROR, why.into()));
        }
        self.resolve_topic(id, p)?;
        if p.properties.passthrough.is_empty() {
            return Ok(false);
        }
        let fwd = forwarded(&p.properties.passthrough);
        if fwd.response_topic.is_some_and(|t| !valid_topic_name(t)) {
            let why = "Response Topic is not a topic name [MQTT-3.3.2-14]";
            return Err((reason::PROTOCOL_ERROR, why.into()));
        }
        Ok(fwd.utf8_payload && std::str::from_utf8(&p.payload).is_err())
    }

    /// PUBLISH from a client.
    pub(super) fn handle_publish(&mut self, id: usize, mut p: Publish, now: Instant) {
        self.stats.messages_received += 1;
        let (sid, protocol, listener) = {
            let l = &self.links[id];
            (l.sid(), l.protocol, l.listener)
        };
        // What only 5.0 carries: checked in one branch, off the 3.x path.
        let mut bad_utf8 = false;
        if protocol.is_v5() {
            match self.check_v5_publish(id, &mut p) {
                Ok(bad) => bad_utf8 = bad,
                Err((code, why)) => {
                    self.protocol_violation(id, code, why, now);
                    return;
                }
            }
        }
        if !valid_topic_name(&p.topic) {
            let why = format!(
                "invalid topic name {:?} in PUBLISH [MQTT-3.3.2-2]",
                p.topic.as_str()
            );
            self.protocol_violation(id, reason::TOPIC_NAME_INVALID, why, now);
            return;
        }
        let bridged = listener >= self.bridge_base;
        if bridged {
            let b = usize::from(listener - self.bridge_base);
            p.topic = self.bridge_topic_in(b, p.topic);
        }
        if p.retain && !self.settings.retain_available {
            let why = "retained PUBLISH while retain_available is false [MQTT-3.2.2-14]";
            self.protocol_violation(id, reason::RETAIN_NOT_SUPPORTED, why.into(), now);
            return;
        }
        let max_qos = self.settings.listener(listener).max_qos;
        if p.qos > max_qos {
            let why = format!(
                "PUBLISH at QoS {} above max_qos {} [MQTT-3.2.2-11]",
                p.qos as u8, max_qos as u8
            );
            self.protocol_violation(id, reason::QOS_NOT_SUPPORTED, why, now);
            return;
        }
        if p.qos != QoS::AtMostOnce && self.store_down {
            self.refuse_while_store_down(id, &p, now);
            return;
        }
        if bad_utf8 {
            // The receiver may check a payload said to be UTF-8; midge
            // drops it and tells a QoS 1/2 publisher (0x99).
            warn!(
                "client {}: dropped PUBLISH to {}: Payload Format Indicator 1 but the payload is not UTF-8",
                self.sessions[sid].client_id, p.topic
            );
            self.stats.publish_dropped += 1;
            let why = "payload is not UTF-8 as its Payload Format Indicator says";
            match p.qos {
                QoS::AtMostOnce => {}
                QoS::AtLeastOnce => self.send_refusal(
                    id,
                    AckKind::PubAck,
                    p.packet_id,
                    reason::PAYLOAD_FORMAT_INVALID,
                    why,
                ),
                QoS::ExactlyOnce => self.send_refusal(
                    id,
                    AckKind::PubRec,
                    p.packet_id,
                    reason::PAYLOAD_FORMAT_INVALID,
                    why,
                ),
            }
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
        let denied = if bridged {
            // The far side may bring `$SYS` topics in (a `topic` line says
            // so), but not `$share` ones; `local_username`'s rules apply.
            p.topic.starts_with("$share")
                || !self
                    .sessions
                    .get(sid)
                    .and_then(|s| s.acl())
                    .is_none_or(|acl| acl.can_write(&p.topic))
        } else {
            !self.may_publish_to(sid, listener, &p.topic)
        };
        if denied {
            self.stats.publish_dropped += 1;
            debug!(
                "client {}: denied PUBLISH to {} (not authorised)",
                self.sessions[sid].client_id, p.topic
            );
        }
        if p.qos == QoS::ExactlyOnce {
            // Delivered on first receipt; the id is held until PUBREL so a
            // re-sent PUBLISH is acknowledged but not delivered again.
            let session = &mut self.sessions[sid];
            if session.holds_qos2(p.packet_id) {
                debug!(
                    "client {}: duplicate QoS 2 PUBLISH id {} not delivered again",
                    session.client_id, p.packet_id
                );
                self.send_ack(id, AckKind::PubRec, p.packet_id, reason::SUCCESS);
                return;
            }
            // Our Receive Maximum is the in-flight window we announced.
            let receive_max = usize::from(self.settings.limits.max_inflight);
            if protocol.is_v5() && session.incoming_qos2() >= receive_max {
                let why = format!(
                    "more than Receive Maximum {receive_max} QoS 2 messages unreleased [MQTT-3.3.4-7]"
                );
                self.protocol_violation(id, reason::RECEIVE_MAXIMUM_EXCEEDED, why, now);
                return;
            }
            session.receive_qos2(p.packet_id);
            self.persist_incoming(sid, p.packet_id);
        }
        let kind = match p.qos {
            QoS::AtMostOnce => None,
            QoS::AtLeastOnce => Some(AckKind::PubAck),
            QoS::ExactlyOnce => Some(AckKind::PubRec),
        };
        let packet_id = p.packet_id;
        if !protocol.is_v5() {
            // 3.x: acknowledged before it is routed, as midge always did.
            if let Some(kind) = kind {
                self.send_ack(id, kind, packet_id, reason::SUCCESS);
            }
            // A denied one too, as Mosquitto does: 3.x has no code to say so.
            if !oversized && !denied {
                let msg = self.inbound_message(p, listener, now);
                self.publish_shared(msg, Some(sid), now);
            }
            return;
        }
        if oversized || denied {
            if let Some(kind) = kind {
                let (code, why) = if denied {
                    (
                        reason::NOT_AUTHORIZED,
                        "not authorised to publish to this topic",
                    )
                } else {
                    (reason::PACKET_TOO_LARGE, "payload above message_size_limit")
                };
                self.send_refusal(id, kind, packet_id, code, why);
                // A refused QoS 2 message is over: no PUBREL follows.
                self.sessions[sid].release_qos2(packet_id);
                self.persist_in_released(sid, packet_id);
            }
            return;
        }
        // 5.0: routed first, so the acknowledgement can say whether anyone
        // subscribed (0x10), as Mosquitto 2.0 does.
        let msg = self.inbound_message(p, listener, now);
        let matched = self.publish_shared(msg, Some(sid), now);
        if let Some(kind) = kind {
            let code = if matched {
                reason::SUCCESS
            } else {
                reason::NO_MATCHING_SUBSCRIBERS
            };
            self.send_ack(id, kind, packet_id, code);
        }
    }

    /// The message an accepted PUBLISH becomes: its topic under the
    /// listener's mount point, its expiry as a deadline, without the Topic
    /// Alias (per connection) or Subscription Identifiers (the
    /// subscriber's), neither of which travels with a message. Built in
    /// the allocation the last routed message left when nobody holds that
    /// one any more (a malloc and a free less per message), field by field
    /// (the `Publish` is not moved as a whole twice more, once into a
    /// `Message` on the stack and once from there).
    #[inline(always)]
    fn inbound_message(&mut self, p: Publish, listener: u16, now: Instant) -> SharedMessage {
        let topic = match self.settings.listener(listener).mount_point.as_deref() {
            Some(mount) => ByteStr::from(format!("{mount}{}", p.topic)),
            None => p.topic,
        };
        let expires_at = expiry_deadline(p.properties.message_expiry, now);
        let properties = PublishProperties {
            message_expiry: p.properties.message_expiry,
            topic_alias: None,
            subscription_ids: Vec::new(),
            passthrough: p.properties.passthrough,
        };
        if let Some(mut spare) = self.spare_message.take() {
            if let Some(slot) = Rc::get_mut(&mut spare) {
                slot.topic = topic;
                slot.payload = p.payload;
                slot.qos = p.qos;
                slot.retain = p.retain;
                slot.properties = properties;
                slot.expires_at = expires_at;
                slot.stored = Default::default();
                return spare;
            }
        }
        Rc::new(Message {
            topic,
            payload: p.payload,
            qos: p.qos,
            retain: p.retain,
            expires_at,
            properties,
            stored: Default::default(),
        })
    }

    /// A QoS 1/2 PUBLISH while the store cannot write: it could not be
    /// made durable, so it is not taken. An MQTT 5 client gets PUBACK or
    /// PUBREC 0x97 (Quota exceeded) and may try again later; a 3.x client,
    /// which has no such code, is disconnected and re-sends it when it
    /// reconnects. QoS 0 traffic goes on.
    fn refuse_while_store_down(&mut self, id: usize, p: &Publish, now: Instant) {
        let client = self.sessions[self.links[id].sid()].client_id.clone();
        warn!(
            "client {client}: QoS {} PUBLISH to {} refused: the store cannot write",
            p.qos as u8, p.topic
        );
        self.stats.publish_dropped += 1;
        if self.links[id].protocol.is_v5() {
            let kind = if p.qos == QoS::AtLeastOnce {
                AckKind::PubAck
            } else {
                AckKind::PubRec
            };
            let why = "the broker cannot store messages now (disk full or failing)";
            self.send_refusal(id, kind, p.packet_id, reason::QUOTA_EXCEEDED, why);
        } else {
            let why = "QoS 1/2 PUBLISH while the store cannot write";
            self.close_link(id, CloseCause::Protocol(why.into()), now);
        }
    }

    /// An acknowledgement without properties to link `id`.
    pub(super) fn send_ack(&mut self, id: usize, kind: AckKind, packet_id: u16, reason: u8) {
        if let Some(link) = self.links.get_mut(id) {
            encode_plain_ack(kind, packet_id, reason, link.protocol, link.tx.staging());
            mark_dirty(&mut self.dirty, id, link);
        }
    }

    /// A PUBACK or PUBREC refusing a message, with `why` as its Reason
    /// String unless the client asked for no problem information
    /// [MQTT-3.1.2-29].
    fn send_refusal(
        &mut self,
        id: usize,
        kind: AckKind,
        packet_id: u16,
        code: u8,
        why: &'static str,
    ) {
        let reason_string = self.links[id]
            .problem_info()
            .then_some(ByteStr::from_static(why));
        let ack = Ack {
            packet_id,
            reason: code,
            properties: crate::codec::Properties {
                reason_string,
                ..Default::default()
            },
        };
        self.send_packet(id, &kind.packet(ack));
    }

    /// Stores (or clears) the retained message of a topic when the message
    /// is retained, then routes it to every matching subscription; `from`
    /// is the publishing session, for No Local. Returns true when some
    /// subscription matched.
    pub(super) fn publish_message(
        &mut self,
        mut msg: Message,
        from: Option<usize>,
        now: Instant,
    ) -> bool {
        // Topic aliases are per connection; subscription identifiers are
        // the subscriber's: neither travels with the message.
        msg.properties.topic_alias = None;
        msg.properties.subscription_ids = Vec::new();
        self.publish_shared(Rc::new(msg), from, now)
    }

    /// [`Broker::publish_message`] of a message already shared (and
    /// without alias or subscription ids).
    fn publish_shared(&mut self, msg: SharedMessage, from: Option<usize>, now: Instant) -> bool {
        if msg.retain {
            self.note_retain_source(&msg.topic, from, msg.payload.is_empty());
            if msg.payload.is_empty() {
                if self.retained.remove(&msg.topic).is_some() {
                    self.persist_unretain(&msg.topic);
                }
            } else {
                // The store keeps its own compact copy so that a long-lived
                // retained message does not pin a whole receive buffer.
                let stored = Rc::new(Message {
                    topic: msg.topic.compact(),
                    payload: Bytes::copy_from_slice(&msg.payload),
                    qos: msg.qos,
                    retain: true,
                    properties: msg.properties.clone(),
                    expires_at: msg.expires_at,
                    stored: Default::default(),
                });
                self.retain(stored, now);
            }
        }
        let matched = self.route(&msg, from, now);
        // Delivered and dropped by every subscriber (a QoS 0 message to
        // connected clients): its allocation serves the next message. Not
        // a large one, whose payload it would hold until then.
        if Rc::strong_count(&msg) == 1
            && Rc::weak_count(&msg) == 0
            && msg.payload.len() <= SPARE_MAX
        {
            self.spare_message = Some(msg);
        }
        matched
    }

    /// Keeps `msg` as its topic's retained message, with a timer for its
    /// expiry if it has one.
    fn retain(&mut self, msg: SharedMessage, now: Instant) {
        if let Some(at) = msg.expires_at {
            self.schedule_retained_expiry(&msg, at.max(now));
        }
        self.persist_retain(&msg);
        let topic = msg.topic.clone();
        self.retained.insert(&topic, msg);
    }

    pub(super) fn handle_puback(&mut self, id: usize, packet_id: u16, now: Instant) {
        let sid = self.links[id].sid();
        if let Some(seq) = self.sessions[sid].puback(packet_id) {
            self.persist_done(sid, seq);
            self.drain_queue(sid, now);
        } else {
            debug!(
                "client {}: PUBACK for unknown packet id {packet_id}",
                self.sessions[sid].client_id
            );
        }
    }

    /// PUBREC: answered with PUBREL, unless an MQTT 5 client refused the
    /// message with a failure reason code, which ends it [MQTT-4.3.3-4].
    pub(super) fn handle_pubrec(&mut self, id: usize, ack: Ack, now: Instant) {
        let sid = self.links[id].sid();
        let packet_id = ack.packet_id;
        if ack.reason >= 0x80 {
            if let Some(seq) = self.sessions[sid].pubrec_refused(packet_id) {
                self.persist_done(sid, seq);
                self.drain_queue(sid, now);
            }
            return;
        }
        if let Some(seq) = self.sessions[sid].pubrec(packet_id, now) {
            self.persist_released(sid, seq);
            self.send_ack(id, AckKind::PubRel, packet_id, reason::SUCCESS);
        } else {
            debug!(
                "client {}: PUBREC for unknown packet id {packet_id}",
                self.sessions[sid].client_id
            );
            if self.links[id].protocol.is_v5() {
                self.send_ack(
                    id,
                    AckKind::PubRel,
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
        if known {
            self.persist_in_released(sid, packet_id);
        }
        let code = if known || !self.links[id].protocol.is_v5() {
            reason::SUCCESS
        } else {
            reason::PACKET_IDENTIFIER_NOT_FOUND
        };
        self.send_ack(id, AckKind::PubComp, packet_id, code);
    }

    pub(super) fn handle_pubcomp(&mut self, id: usize, packet_id: u16, now: Instant) {
        let sid = self.links[id].sid();
        if let Some(seq) = self.sessions[sid].pubcomp(packet_id) {
            self.persist_done(sid, seq);
            self.drain_queue(sid, now);
        } else {
            debug!(
                "client {}: PUBCOMP for unknown packet id {packet_id}",
                self.sessions[sid].client_id
            );
        }
    }
}

/// What the broker checks among the PUBLISH (or will) properties it
/// forwards untouched.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Forwarded<'a> {
    /// Payload Format Indicator 1: the payload says it is UTF-8.
    pub utf8_payload: bool,
    pub response_topic: Option<&'a str>,
}

/// Reads the Payload Format Indicator and Response Topic out of the
/// forwarded property bytes (which the decoder validated; anything
/// unexpected ends the walk rather than panicking).
pub(super) fn forwarded(mut raw: &[u8]) -> Forwarded<'_> {
    use crate::codec::property_id as id;
    fn take_str<'a>(raw: &mut &'a [u8]) -> Option<&'a [u8]> {
        let n = usize::from(u16::from_be_bytes([*raw.first()?, *raw.get(1)?]));
        let s = raw.get(2..2 + n)?;
        *raw = &raw[2 + n..];
        Some(s)
    }
    let mut out = Forwarded::default();
    while let Some((&pid, rest)) = raw.split_first() {
        raw = rest;
        match pid {
            id::PAYLOAD_FORMAT_INDICATOR => {
                let Some((&v, rest)) = raw.split_first() else {
                    break;
                };
                out.utf8_payload = v == 1;
                raw = rest;
            }
            id::RESPONSE_TOPIC => {
                let Some(t) = take_str(&mut raw) else { break };
                out.response_topic = std::str::from_utf8(t).ok();
            }
            id::CONTENT_TYPE | id::CORRELATION_DATA => {
                if take_str(&mut raw).is_none() {
                    break;
                }
            }
            id::USER_PROPERTY => {
                if take_str(&mut raw).is_none() || take_str(&mut raw).is_none() {
                    break;
                }
            }
            _ => break,
        }
    }
    out
}

/// The instant a Message Expiry Interval of `secs` received at `now` ends.
pub(super) fn expiry_deadline(secs: Option<u32>, now: Instant) -> Option<Instant> {
    secs.map(|s| now + Duration::from_secs(u64::from(s)))
}
