//! CONNECT and DISCONNECT: protocol and identifier checks, authentication
//! policy, session take-over, clean or resumed sessions, and the resend of
//! unacknowledged messages on resume.

use std::rc::Rc;
use std::time::Instant;

use log::{info, warn};

use super::link::{mark_dirty, LinkState};
use super::{keep_alive_window, Broker, CloseCause, Timer};
use crate::codec::{self, connack, reason, ConnAck, Connect, DecodeError, Packet, Protocol};
use crate::session::{OutState, Session};

impl<T> Broker<T> {
    /// CONNECT naming a protocol midge does not speak: CONNACK 0x01 (or
    /// 0x84 to a 5.0 client) and close [MQTT-3.1.2-2].
    pub(super) fn refuse_protocol(&mut self, id: usize, e: &DecodeError, now: Instant) {
        let level = match e {
            DecodeError::UnsupportedProtocol { level, .. } => *level,
            _ => 0,
        };
        let (protocol, code) = if level == 5 {
            (Protocol::V5, reason::UNSUPPORTED_PROTOCOL_VERSION)
        } else {
            (Protocol::V311, connack::UNACCEPTABLE_PROTOCOL_VERSION)
        };
        self.links[id].protocol = protocol;
        self.send_connack(id, false, code);
        self.close_link(id, CloseCause::Refused("unsupported protocol"), now);
        warn!("refused {}: {e}", self.links[id].peer);
    }

    fn send_connack(&mut self, id: usize, session_present: bool, code: u8) {
        self.send_packet(
            id,
            &Packet::ConnAck(ConnAck {
                session_present,
                code,
                ..Default::default()
            }),
        );
    }

    /// Refuses a CONNECT with `code` (a 3.x return code; 5.0 clients get
    /// `v5_code`), logs why, and closes.
    fn refuse(&mut self, id: usize, code: u8, v5_code: u8, why: &'static str, now: Instant) {
        let link = &self.links[id];
        let code = if link.protocol.is_v5() { v5_code } else { code };
        self.send_connack(id, false, code);
        self.close_link(id, CloseCause::Refused(why), now);
    }

    /// CONNECT on a fresh link.
    pub(super) fn handle_connect(&mut self, id: usize, c: Connect, now: Instant) {
        self.links[id].protocol = c.protocol;
        if c.protocol == Protocol::V5 {
            // MQTT 5 sessions are not served yet: say so in the protocol's
            // own terms rather than half-serve them.
            info!(
                "refused MQTT 5 client {:?} from {}: MQTT 5 is not supported yet",
                c.client_id.as_str(),
                self.links[id].peer
            );
            self.refuse(
                id,
                connack::UNACCEPTABLE_PROTOCOL_VERSION,
                reason::UNSUPPORTED_PROTOCOL_VERSION,
                "MQTT 5 not supported yet",
                now,
            );
            return;
        }
        let listener = usize::from(self.links[id].listener);
        let anonymous_ok = self
            .settings
            .listeners
            .get(listener)
            .is_some_and(|l| l.allow_anonymous);
        // No authentication source exists yet, so a client is accepted only
        // where anonymous access is allowed (as Mosquitto does with
        // `allow_anonymous false` and no password file).
        if !anonymous_ok {
            warn!(
                "refused client {:?} from {}: not authorised (allow_anonymous is false)",
                c.client_id.as_str(),
                self.links[id].peer
            );
            self.refuse(
                id,
                connack::NOT_AUTHORIZED,
                reason::NOT_AUTHORIZED,
                "not authorised",
                now,
            );
            return;
        }
        let client_id = match self.client_identifier(&c, listener) {
            Ok(cid) => cid,
            Err(why) => {
                warn!(
                    "refused client {:?} from {}: {why}",
                    c.client_id.as_str(),
                    self.links[id].peer
                );
                self.refuse(
                    id,
                    connack::IDENTIFIER_REJECTED,
                    reason::CLIENT_IDENTIFIER_NOT_VALID,
                    why,
                    now,
                );
                return;
            }
        };
        if c.keep_alive > self.settings.max_keepalive
            || (c.keep_alive == 0 && self.settings.max_keepalive < u16::MAX)
        {
            warn!(
                "refused client {client_id} from {}: keep-alive {} s is above max_keepalive {}",
                self.links[id].peer, c.keep_alive, self.settings.max_keepalive
            );
            self.refuse(
                id,
                connack::IDENTIFIER_REJECTED,
                reason::UNSPECIFIED_ERROR,
                "keep-alive above max_keepalive",
                now,
            );
            return;
        }

        // Take-over: the existing connection with this id is closed
        // [MQTT-3.1.4-2]; its will is published as it did not DISCONNECT.
        if let Some(&sid) = self.by_client_id.get(&*client_id) {
            if let Some(old) = self.sessions[sid].link {
                self.close_link(old as usize, CloseCause::TakenOver, now);
            }
        }
        let existing = self.by_client_id.get(&*client_id).copied();
        let (sid, session_present) = match existing {
            Some(sid) if !c.clean_start => (sid, true),
            Some(sid) => {
                self.remove_session(sid);
                (
                    self.create_session(client_id.clone(), c.protocol, true),
                    false,
                )
            }
            None => (
                self.create_session(client_id.clone(), c.protocol, c.clean_start),
                false,
            ),
        };
        let session = &mut self.sessions[sid];
        session.link = Some(id as u32);
        session.protocol = c.protocol;
        session.clean = c.clean_start;
        session.disconnected_at = None;
        session.will = c.will.map(|mut w| {
            w.topic = w.topic.compact();
            w.payload = bytes::Bytes::copy_from_slice(&w.payload);
            Box::new(w)
        });
        let generation = self.links[id].generation;
        let link = &mut self.links[id];
        link.state = LinkState::Connected;
        link.session = sid as u32;
        link.keep_alive = c.keep_alive;
        self.stats.connected += 1;
        self.stats.connects_total += 1;
        if c.keep_alive > 0 {
            self.timers.schedule(
                now + keep_alive_window(c.keep_alive),
                Timer::KeepAlive {
                    link: id as u32,
                    generation,
                },
            );
        }
        info!(
            "client {client_id} connected from {} (MQTT {}, clean session {}, keep-alive {} s{})",
            link.peer,
            c.protocol,
            c.clean_start,
            c.keep_alive,
            if session_present {
                ", session resumed"
            } else {
                ""
            }
        );
        self.send_connack(id, session_present, connack::ACCEPTED);
        if session_present {
            self.resume(sid, id, now);
        }
    }

    /// Picks the client identifier: the client's own, or a generated one for
    /// an empty identifier with a clean session [MQTT-3.1.3-6, MQTT-3.1.3-8].
    fn client_identifier(&mut self, c: &Connect, listener: usize) -> Result<Rc<str>, &'static str> {
        if !c.client_id.is_empty() {
            return Ok(Rc::from(c.client_id.as_str()));
        }
        if c.protocol == Protocol::V31 {
            return Err("MQTT 3.1 requires a client identifier");
        }
        if !c.clean_start {
            return Err("empty client identifier without clean session [MQTT-3.1.3-8]");
        }
        let allowed = self
            .settings
            .listeners
            .get(listener)
            .is_some_and(|l| l.allow_zero_length_clientid);
        if !allowed {
            return Err("empty client identifier and allow_zero_length_clientid is false");
        }
        loop {
            self.next_client_number += 1;
            let candidate = format!("midge-{:08x}-{}", self.id_seed, self.next_client_number);
            if !self.by_client_id.contains_key(candidate.as_str()) {
                return Ok(Rc::from(candidate));
            }
        }
    }

    fn create_session(&mut self, client_id: Rc<str>, protocol: Protocol, clean: bool) -> usize {
        let generation = self.generation();
        let sid =
            self.sessions
                .insert(Session::new(client_id.clone(), protocol, clean, generation));
        self.by_client_id.insert(client_id, sid);
        sid
    }

    /// A resumed session: re-sends every unacknowledged PUBLISH (with DUP)
    /// and PUBREL with its original packet id, in order, then drains the
    /// queue into the window [MQTT-4.4.0-1].
    fn resume(&mut self, sid: usize, id: usize, now: Instant) {
        let session = &mut self.sessions[sid];
        let link = &mut self.links[id];
        for f in session.inflight_mut() {
            f.sent_at = Some(now);
            match f.state {
                OutState::Published => {
                    super::publish::write_publish(link, &f.msg, f.qos, f.retain, true, f.packet_id);
                    self.stats.messages_sent += 1;
                }
                OutState::Released => {
                    codec::encode(
                        &Packet::PubRel(codec::Ack::new(f.packet_id)),
                        link.protocol,
                        link.tx.staging(),
                    );
                }
            }
        }
        mark_dirty(&mut self.dirty, id, link);
        self.drain_queue(sid, now);
        if self.sessions[sid].inflight_len() > 0 {
            self.schedule_retry(sid, now);
        }
    }

    /// DISCONNECT: a normal end; the will is discarded [MQTT-3.14.4-3].
    pub(super) fn handle_disconnect(&mut self, id: usize, now: Instant) {
        let sid = self.links[id].sid();
        if let Some(s) = self.sessions.get_mut(sid) {
            s.will = None;
        }
        self.close_link(id, CloseCause::ClientDisconnect, now);
    }

    /// A will becomes a message from the client that set it.
    pub(super) fn publish_will(&mut self, sid: usize, will: codec::Will, now: Instant) {
        let client = self.sessions[sid].client_id.clone();
        info!("publishing will of client {client} on {}", will.topic);
        let msg = crate::session::Message {
            topic: will.topic,
            payload: will.payload,
            qos: will.qos,
            retain: will.retain,
            properties: will.properties,
        };
        self.publish_message(msg, now);
    }
}
