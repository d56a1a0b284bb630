//! CONNECT and DISCONNECT: protocol and identifier checks, authentication
//! policy, what an MQTT 5 client negotiates (session expiry, Receive
//! Maximum, Maximum Packet Size, topic aliases, keep-alive), session
//! take-over, clean or resumed sessions, and the resend of unacknowledged
//! messages on resume.

use std::rc::Rc;
use std::time::Instant;

use log::{info, warn};

use super::link::{LinkState, V5Link};
use super::ListenerPolicy;
use super::{keep_alive_window, Broker, CloseCause, Timer, MQTT_MAX_PACKET};
use crate::auth::password::Verdict;
use crate::codec::{
    self, connack, reason, ByteStr, ConnAck, Connect, DecodeError, Packet, Properties, Protocol,
    QoS,
};
use crate::session::Session;
use crate::topic::valid_topic_name;

/// The Session Expiry Interval that means "never": the session outlives
/// any disconnection.
pub const NEVER_EXPIRES: u32 = u32::MAX;

/// Why a CONNECT is refused: the 3.x return code (`None` when 3.x has no
/// code for it: the connection is just closed), the 5.0 reason code, and
/// the cause for the log and the Reason String.
struct Refusal {
    v3: Option<u8>,
    v5: u8,
    why: &'static str,
    /// More for the log than the client is told (which user, which line).
    detail: Option<String>,
}

impl Refusal {
    fn new(v3: Option<u8>, v5: u8, why: &'static str) -> Refusal {
        Refusal {
            v3,
            v5,
            why,
            detail: None,
        }
    }

    fn with_detail(mut self, detail: String) -> Refusal {
        self.detail = Some(detail);
        self
    }
}

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
        self.send_connack(id, false, code, Properties::default());
        self.close_link(id, CloseCause::Refused("unsupported protocol"), now);
        warn!("refused {}: {e}", self.links[id].peer);
    }

    fn send_connack(&mut self, id: usize, session_present: bool, code: u8, properties: Properties) {
        self.send_packet(
            id,
            &Packet::ConnAck(ConnAck {
                session_present,
                code,
                properties,
            }),
        );
    }

    /// Refuses a CONNECT: logs why with the client id and address, answers
    /// with CONNACK (`r.v5` and a Reason String to a 5.0 client, `r.v3` to
    /// a 3.x one, or nothing when 3.x has no code for it) and closes. No
    /// will is published for a refused client.
    fn refuse(&mut self, id: usize, c: &Connect, r: Refusal, now: Instant) {
        let link = &self.links[id];
        match &r.detail {
            Some(detail) => warn!(
                "refused client {:?} from {}: {} ({detail})",
                c.client_id.as_str(),
                link.peer,
                r.why
            ),
            None => warn!(
                "refused client {:?} from {}: {}",
                c.client_id.as_str(),
                link.peer,
                r.why
            ),
        }
        if link.protocol.is_v5() {
            let p = Properties {
                reason_string: Some(ByteStr::from_static(r.why)),
                ..Properties::default()
            };
            self.send_connack(id, false, r.v5, p);
        } else if let Some(code) = r.v3 {
            self.send_connack(id, false, code, Properties::default());
        }
        self.close_link(id, CloseCause::Refused(r.why), now);
    }

    /// The checks of a CONNECT that come before any session is touched.
    fn admit(&self, id: usize, c: &Connect, cert_authenticated: bool) -> Result<(), Refusal> {
        let v5 = c.protocol.is_v5();
        let policy = self.settings.listener(self.links[id].listener);
        if v5 && c.properties.authentication_method.is_some() {
            // No enhanced authentication method is configured [MQTT-4.12.0-1].
            return Err(Refusal::new(
                None,
                reason::BAD_AUTHENTICATION_METHOD,
                "authentication method not supported",
            ));
        }
        if !cert_authenticated {
            self.authenticate(policy, c)?;
        }
        if !v5
            && (c.keep_alive > self.settings.max_keepalive
                || (c.keep_alive == 0 && self.settings.max_keepalive < u16::MAX))
        {
            return Err(Refusal::new(
                Some(connack::IDENTIFIER_REJECTED),
                reason::UNSPECIFIED_ERROR,
                "keep-alive above max_keepalive",
            ));
        }
        if let Some(will) = &c.will {
            if !valid_topic_name(&will.topic) {
                // The will becomes a PUBLISH: its topic obeys the topic name
                // rules, no wildcards among them [MQTT-3.3.2-2].
                return Err(Refusal::new(
                    None,
                    reason::TOPIC_NAME_INVALID,
                    "invalid will topic",
                ));
            }
            let fwd = super::publish::forwarded(&will.properties.passthrough);
            if fwd.response_topic.is_some_and(|t| !valid_topic_name(t)) {
                return Err(Refusal::new(
                    None,
                    reason::PROTOCOL_ERROR,
                    "will Response Topic is not a topic name",
                ));
            }
            if fwd.utf8_payload && std::str::from_utf8(&will.payload).is_err() {
                return Err(Refusal::new(
                    None,
                    reason::PAYLOAD_FORMAT_INVALID,
                    "will payload is not UTF-8 as its Payload Format Indicator says",
                ));
            }
            if will.qos > policy.max_qos {
                return Err(Refusal::new(
                    None,
                    reason::QOS_NOT_SUPPORTED,
                    "will QoS above max_qos",
                ));
            }
            if will.retain && !self.settings.retain_available {
                return Err(Refusal::new(
                    None,
                    reason::RETAIN_NOT_SUPPORTED,
                    "retained will while retain_available is false",
                ));
            }
        }
        Ok(())
    }

    /// `use_identity_as_username` / `use_subject_as_username`: the
    /// certificate's name replaces whatever username and password the
    /// CONNECT carries. A client without one (no certificate, or one that
    /// gives no name) is refused with "bad user name or password", as
    /// Mosquitto does. Returns whether the client is authenticated so.
    fn username_from_cert(&mut self, id: usize, c: &mut Connect) -> Result<bool, Refusal> {
        if !self
            .settings
            .listener(self.links[id].listener)
            .username_from_cert
        {
            return Ok(false);
        }
        let Some(name) = self.take_cert_name(id) else {
            return Err(Refusal::new(
                Some(connack::BAD_USERNAME_OR_PASSWORD),
                reason::BAD_USERNAME_OR_PASSWORD,
                "no usable client certificate name (use_identity_as_username/use_subject_as_username)",
            ));
        };
        c.username = Some(ByteStr::from(&*name));
        c.password = None;
        Ok(true)
    }

    /// The user name and password of a CONNECT, as Mosquitto 2.0 decides:
    /// with a password file, a client giving a user name must be in it
    /// with that password; one giving none needs `allow_anonymous`, as
    /// does one giving a user name where there is no password file.
    /// Refusals: a wrong password or an unknown user is "bad user name or
    /// password" (0x04, 5.0 0x86), the rest "not authorized" (0x05, 0x87);
    /// Mosquitto 2.0.11 answers "not authorized" to all of them.
    fn authenticate(&self, policy: &ListenerPolicy, c: &Connect) -> Result<(), Refusal> {
        let bad = || {
            Refusal::new(
                Some(connack::BAD_USERNAME_OR_PASSWORD),
                reason::BAD_USERNAME_OR_PASSWORD,
                "bad user name or password",
            )
        };
        let not_authorised =
            |why| Refusal::new(Some(connack::NOT_AUTHORIZED), reason::NOT_AUTHORIZED, why);
        match (&c.username, &policy.passwords) {
            (None, _) if !policy.allow_anonymous => Err(not_authorised(
                "not authorised: no user name, and allow_anonymous is false",
            )),
            (None, _) => Ok(()),
            (Some(user), Some(file)) => match file.check(user, c.password.as_deref()) {
                Verdict::Accepted => Ok(()),
                Verdict::WrongPassword if c.password.is_none() => {
                    Err(bad().with_detail(format!("user {:?} sent no password", user.as_str())))
                }
                Verdict::WrongPassword => {
                    Err(bad().with_detail(format!("wrong password for user {:?}", user.as_str())))
                }
                Verdict::UnknownUser => Err(bad().with_detail(format!(
                    "user {:?} is not in the password file",
                    user.as_str()
                ))),
                Verdict::UnsupportedHash { kind, line } => Err(not_authorised(
                    "not authorised: the password file entry cannot be checked",
                )
                .with_detail(format!(
                    "user {:?}: its hash on line {line} of the password file is {kind}, \
                     which midge cannot check",
                    user.as_str()
                ))),
            },
            (Some(_), None) if !policy.allow_anonymous => Err(not_authorised(
                "not authorised: no password file to check the user name against, \
                 and allow_anonymous is false",
            )),
            (Some(_), None) => Ok(()),
        }
    }

    /// CONNECT on a fresh link.
    pub(super) fn handle_connect(&mut self, id: usize, mut c: Connect, now: Instant) {
        self.links[id].protocol = c.protocol;
        let v5 = c.protocol.is_v5();
        let cert_authenticated = match self.username_from_cert(id, &mut c) {
            Ok(yes) => yes,
            Err(r) => {
                self.refuse(id, &c, r, now);
                return;
            }
        };
        if let Err(r) = self.admit(id, &c, cert_authenticated) {
            self.refuse(id, &c, r, now);
            return;
        }
        let listener = self.links[id].listener;
        let (client_id, assigned) = match self.client_identifier(&c, usize::from(listener)) {
            Ok(cid) => cid,
            Err(why) => {
                let r = Refusal::new(
                    Some(connack::IDENTIFIER_REJECTED),
                    reason::CLIENT_IDENTIFIER_NOT_VALID,
                    why,
                );
                self.refuse(id, &c, r, now);
                return;
            }
        };
        // An MQTT 5 client asking for no keep-alive, or for more than
        // max_keepalive, is told max_keepalive (Server Keep Alive), as
        // Mosquitto 2.0 does [MQTT-3.2.2-21].
        let max_keepalive = self.settings.max_keepalive;
        let server_keep_alive =
            (v5 && (c.keep_alive == 0 || c.keep_alive > max_keepalive)).then_some(max_keepalive);
        let keep_alive = server_keep_alive.unwrap_or(c.keep_alive);
        let expiry_interval = match (v5, c.clean_start) {
            (true, _) => c.properties.session_expiry.unwrap_or(0),
            (false, true) => 0,
            (false, false) => NEVER_EXPIRES,
        };

        if self.is_bridge_session(&client_id) {
            let r = Refusal::new(
                Some(connack::IDENTIFIER_REJECTED),
                reason::CLIENT_IDENTIFIER_NOT_VALID,
                "the client id is a bridge's local client id",
            );
            self.refuse(id, &c, r, now);
            return;
        }
        // Take-over: the existing connection with this id is closed
        // [MQTT-3.1.4-2]; its will is published as it did not DISCONNECT.
        if let Some(&sid) = self.by_client_id.get(&*client_id) {
            if let Some(old) = self.sessions[sid].link {
                let old = old as usize;
                if self.links[old].protocol.is_v5() {
                    self.send_disconnect(
                        old,
                        reason::SESSION_TAKEN_OVER,
                        "session taken over by a new connection",
                    );
                }
                self.close_link(old, CloseCause::TakenOver, now);
            }
        }
        let existing = self.by_client_id.get(&*client_id).copied();
        let (sid, session_present) = match existing {
            Some(sid) if !c.clean_start => {
                // Back within the Will Delay Interval: the will is not sent
                // [MQTT-3.1.3-9].
                self.sessions[sid].will = None;
                (sid, true)
            }
            Some(sid) => {
                self.remove_session(sid, now);
                (self.create_session(client_id.clone(), c.protocol), false)
            }
            None => (self.create_session(client_id.clone(), c.protocol), false),
        };
        let mount = self.settings.listener(listener).mount_point.clone();
        let username = c.username.as_ref().map(|u| u.as_str());
        let auth = self.client_auth(listener, username, &client_id);
        let rules_changed = session_present
            && (auth.as_ref().is_some_and(|a| a.acl.is_some())
                || self.sessions[sid].acl().is_some());
        let session = &mut self.sessions[sid];
        session.auth = auth;
        session.link = Some(id as u32);
        session.protocol = c.protocol;
        session.expiry_interval = expiry_interval;
        session.disconnected_at = None;
        session.window = match c.properties.receive_maximum {
            Some(max) if v5 => max.min(self.settings.limits.max_inflight),
            _ => self.settings.limits.max_inflight,
        };
        session.will = c.will.map(|mut w| {
            w.topic = match mount.as_deref() {
                Some(m) => ByteStr::from(format!("{m}{}", w.topic)),
                None => w.topic.compact(),
            };
            w.payload = bytes::Bytes::copy_from_slice(&w.payload);
            w.properties.passthrough = bytes::Bytes::copy_from_slice(&w.properties.passthrough);
            Box::new(w)
        });
        let generation = self.links[id].generation;
        let link = &mut self.links[id];
        link.state = LinkState::Connected;
        link.session = sid as u32;
        link.keep_alive = keep_alive;
        if c.bridge {
            link.listed |= super::link::PEER_BRIDGE;
        }
        if v5 {
            link.v5 = Some(Box::new(V5Link::new(
                c.properties.maximum_packet_size.unwrap_or(u32::MAX),
                c.properties.request_problem_information != Some(0),
                c.properties.topic_alias_maximum.unwrap_or(0),
            )));
        }
        self.stats.connected += 1;
        self.stats.connects_total += 1;
        if keep_alive > 0 {
            self.timers.schedule(
                now + keep_alive_window(keep_alive),
                Timer::KeepAlive {
                    link: id as u32,
                    generation,
                },
            );
        }
        let username = c
            .username
            .as_ref()
            .map(|u| format!(", username {:?}", u.as_str()));
        info!(
            "client {client_id} connected from {} (MQTT {}, clean {} {}, keep-alive {} s{}{})",
            link.peer,
            c.protocol,
            if v5 { "start" } else { "session" },
            c.clean_start,
            keep_alive,
            if session_present {
                ", session resumed"
            } else {
                ""
            },
            username.as_deref().unwrap_or("")
        );
        let properties = if v5 {
            self.connack_properties(listener, assigned.then_some(&*client_id), server_keep_alive)
        } else {
            Properties::default()
        };
        if rules_changed {
            // Its subscriptions were classified for the rules it had.
            self.reclassify(sid);
        }
        self.send_connack(id, session_present, connack::ACCEPTED, properties);
        self.persist_connected(sid);
        if session_present {
            self.resume(sid, now);
        }
    }

    /// The properties of a successful MQTT 5 CONNACK: those Mosquitto 2.0
    /// sends for the same configuration, with the same values (the encoder
    /// writes them in its order too).
    fn connack_properties(
        &self,
        listener: u16,
        assigned: Option<&str>,
        server_keep_alive: Option<u16>,
    ) -> Properties {
        let policy = self.settings.listener(listener);
        let max_inflight = self.settings.limits.max_inflight;
        Properties {
            topic_alias_maximum: (policy.max_topic_alias > 0).then_some(policy.max_topic_alias),
            assigned_client_identifier: assigned.map(ByteStr::from),
            server_keep_alive,
            retain_available: (!self.settings.retain_available).then_some(0),
            maximum_packet_size: (self.settings.max_packet_size != MQTT_MAX_PACKET)
                .then(|| u32::try_from(self.settings.max_packet_size).unwrap_or(u32::MAX)),
            receive_maximum: (max_inflight != u16::MAX).then_some(max_inflight),
            maximum_qos: (policy.max_qos != QoS::ExactlyOnce).then_some(policy.max_qos as u8),
            ..Properties::default()
        }
    }

    /// Picks the client identifier: the client's own, or a generated one
    /// (the `bool` says so) for an empty identifier [MQTT-3.1.3-6]; 3.1.1
    /// requires clean session for that [MQTT-3.1.3-7], 5.0 does not.
    fn client_identifier(
        &mut self,
        c: &Connect,
        listener: usize,
    ) -> Result<(Rc<str>, bool), &'static str> {
        if !c.client_id.is_empty() {
            return Ok((Rc::from(c.client_id.as_str()), false));
        }
        if c.protocol == Protocol::V31 {
            return Err("MQTT 3.1 requires a client identifier");
        }
        if c.protocol == Protocol::V311 && !c.clean_start {
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
                return Ok((Rc::from(candidate), true));
            }
        }
    }

    pub(super) fn create_session(&mut self, client_id: Rc<str>, protocol: Protocol) -> usize {
        let generation = self.generation();
        let sid = self
            .sessions
            .insert(Session::new(client_id.clone(), protocol, 0, generation));
        self.by_client_id.insert(client_id, sid);
        sid
    }

    /// A resumed session: drops in-flight messages that expired while the
    /// client was away, re-sends every other unacknowledged PUBLISH (with
    /// DUP) and PUBREL with its original packet id, in order, then drains
    /// the queue into the window [MQTT-4.4.0-1].
    pub(super) fn resume(&mut self, sid: usize, now: Instant) {
        let mut gone = Vec::new();
        let expired = self.sessions[sid].drop_expired_inflight(now, |seq| gone.push(seq));
        for seq in gone {
            self.persist_done(sid, seq);
        }
        self.stats.expired += expired as u64;
        self.drain_queue(sid, now);
        if self.sessions[sid].inflight_len() > 0 {
            self.schedule_retry(sid, now);
        }
    }

    /// DISCONNECT. Normally a clean end: the will is discarded
    /// [MQTT-3.14.4-3]. An MQTT 5 client may ask for its will with reason
    /// 0x04, and may change its Session Expiry Interval, except from 0 to
    /// another value [MQTT-3.14.2-2].
    pub(super) fn handle_disconnect(&mut self, id: usize, d: codec::Disconnect, now: Instant) {
        if self.bridge_of(id).is_some() {
            self.close_link(id, CloseCause::RemoteDisconnect(d.reason), now);
            return;
        }
        let sid = self.links[id].sid();
        if let Some(expiry) = d.properties.session_expiry {
            if self.sessions[sid].expiry_interval == 0 && expiry != 0 {
                let why = "DISCONNECT sets a Session Expiry Interval after CONNECT set 0 \
                           [MQTT-3.14.2-2]";
                self.protocol_violation(id, reason::PROTOCOL_ERROR, why.into(), now);
                return;
            }
            self.sessions[sid].expiry_interval = expiry;
            if expiry != 0 {
                self.persist_connected(sid);
            }
        }
        if d.reason == reason::DISCONNECT_WITH_WILL {
            self.close_link(id, CloseCause::DisconnectWithWill, now);
            return;
        }
        if self.sessions[sid].will.take().is_some() {
            self.persist_will(sid);
        }
        self.close_link(id, CloseCause::ClientDisconnect, now);
    }

    /// A will becomes a message from the client that set it, if its rules
    /// let it publish there (checked now, as Mosquitto does: the ACL file
    /// may have been reloaded since CONNECT). The topic is already under
    /// the mount point.
    pub(super) fn publish_will(&mut self, sid: usize, will: codec::Will, now: Instant) {
        let client = self.sessions[sid].client_id.clone();
        if !self.may_publish(sid, &will.topic) {
            warn!(
                "will of client {client} on {} not published: not authorised to publish there",
                will.topic
            );
            self.stats.publish_dropped += 1;
            return;
        }
        info!("publishing will of client {client} on {}", will.topic);
        let msg = crate::session::Message {
            topic: will.topic,
            payload: will.payload,
            qos: will.qos,
            retain: will.retain,
            expires_at: super::publish::expiry_deadline(will.properties.message_expiry, now),
            properties: will.properties,
            stored: Default::default(),
        };
        self.publish_message(msg, Some(sid), now);
    }
}
