//! Bridges: midge as a client of another broker, inside the same broker.
//!
//! A bridge is a local session (client id `local_clientid`) whose link is a
//! connection midge opened. The session's subscriptions are the `out`
//! topics under their local prefix, with No Local (what the bridge brought
//! in does not go back out) and Retain As Published; a PUBLISH from the far
//! side is a publish by that session, under the `in` topics' local prefix.
//! So the session's books do the delivery: QoS 1 and 2 in both directions,
//! the in-flight window, packet ids, the offline queue while the link is
//! down (and the store, with persistence), PUBLISH with DUP and PUBREL
//! again after a reconnect. What a bridge adds is the client's half of the
//! protocol: CONNECT and CONNACK, SUBSCRIBE to the far side, PINGREQ, and
//! deciding when to connect.
//!
//! Contract with the event loop (the broker opens no sockets):
//! - [`Broker::add_bridge`] once per `connection` section, after the store
//!   was restored; an automatic or once bridge asks to be connected at
//!   once.
//! - [`Broker::take_dials`] lists the connections to open: the loop
//!   resolves the host, connects without blocking, and calls
//!   [`Broker::bridge_connected`] with the transport or
//!   [`Broker::bridge_dial_failed`] with the cause. A dial that
//!   [`Broker::dial_live`] no longer knows (timed out) is dropped.
//! - From there the link is an ordinary link: bytes in, bytes out, closed
//!   when the broker lists it.
//! - Every wait is a timer: the restart delay (constant, or decorrelated
//!   jitter between `restart_timeout`'s base and cap), the dial's and the
//!   CONNACK's timeout, keep-alive pings, a lazy bridge's idle timeout.

mod link;
mod restart;

use std::rc::Rc;
use std::time::{Duration, Instant};

use log::info;

use super::{Broker, ListenerPolicy, Subscription};
use crate::codec::{ByteStr, Protocol, PublishProperties, QoS, SubOptions};
use crate::config::bridge::{BridgeConfig, BridgeProtocol, Restart, StartType};
use crate::session::Message;
use crate::topic::filter_matches;

/// How long a connection attempt (TCP, TLS and CONNACK) may take.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(20);

/// While connected to a secondary address (`round_robin false`), how
/// often the main one is tried again.
pub const MAIN_RETRY: Duration = Duration::from_secs(60);

/// A connection for the event loop to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dial {
    pub bridge: usize,
    /// Hands the result back to [`Broker::bridge_connected`].
    pub generation: u32,
    pub host: String,
    pub port: u16,
}

/// An `out` topic line as delivery applies it: a message on a topic under
/// `filter` leaves with `strip` taken off and `prefix` put on.
#[derive(Debug)]
pub(super) struct OutRule {
    filter: String,
    strip: String,
    prefix: String,
}

/// The far side's name for a local topic: by the first `out` rule whose
/// filter matches; unchanged when none does (a notification, or a
/// message queued under an older configuration).
pub(super) fn remote_topic(rules: &[OutRule], topic: &str) -> String {
    for r in rules {
        if filter_matches(&r.filter, topic) {
            if let Some(rest) = topic.strip_prefix(r.strip.as_str()) {
                return format!("{}{rest}", r.prefix);
            }
        }
    }
    topic.to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not connected and not trying: a lazy bridge below its threshold,
    /// or a `once` bridge after its link ended.
    Idle,
    /// The restart timer runs.
    Waiting,
    /// The event loop is opening the connection.
    Dialing,
    /// CONNECT sent on `link`, CONNACK awaited.
    Connecting,
    /// Connected on `link`.
    Up,
}

/// One configured bridge.
#[derive(Debug)]
pub(super) struct Bridge {
    conf: BridgeConfig,
    remote_id: Rc<str>,
    state_topic: Rc<str>,
    out_rules: Rc<[OutRule]>,
    /// The local session.
    pub(super) sid: usize,
    link: Option<usize>,
    phase: Phase,
    /// Identifies the current dial and restart timer.
    generation: u32,
    /// Index in `conf.addresses` of the address dialed or connected.
    address: usize,
    /// The last restart delay (decorrelated jitter grows from it).
    delay: Duration,
    /// False once the far side refused the `try_private` bit.
    private_ok: bool,
    rng: u32,
    /// The probe of the main address while on a secondary one: its dial
    /// and timer (0: none).
    probe_generation: u32,
    /// The probe found the main address answering: the link is closed
    /// and the main address dialled at once.
    back_to_main: bool,
    /// The far side refused the bridge bit: the same address is dialled
    /// again at once, without it.
    redial_same: bool,
    /// Messages received on the link, for a lazy bridge's idle check.
    received: u64,
    /// `received` when the idle timer was armed.
    received_mark: u64,
}

impl Bridge {
    /// The protocol the bridge speaks to the far side.
    pub(super) fn protocol(&self) -> Protocol {
        match self.conf.protocol {
            BridgeProtocol::V31 => Protocol::V31,
            BridgeProtocol::V311 => Protocol::V311,
            BridgeProtocol::V5 => Protocol::V5,
        }
    }

    /// xorshift32: jitter for the restart delay.
    pub(super) fn random(&mut self) -> u32 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng = x;
        x
    }

    /// The delay before the next attempt: the constant one, or
    /// decorrelated jitter, `min(cap, random(base, 3 * last))`.
    pub(super) fn next_delay(&mut self) -> Duration {
        match self.conf.restart {
            Restart::Constant(d) => d,
            Restart::Backoff { base, cap } => {
                let hi = (self.delay * 3).max(base);
                let span = (hi - base).as_millis() as u64;
                let pick = if span == 0 {
                    0
                } else {
                    u64::from(self.random()) % (span + 1)
                };
                let d = (base + Duration::from_millis(pick)).min(cap);
                self.delay = d;
                d
            }
        }
    }
}

impl<T> Broker<T> {
    /// Called once per `connection` section when the server starts, after
    /// the store was restored; `hostname` makes the default client ids.
    /// Sets up the local session (reusing a restored one) with the `out`
    /// subscriptions, and asks for a first connection unless the bridge
    /// is lazy. Returns the bridge's index.
    pub fn add_bridge(&mut self, conf: BridgeConfig, hostname: &str, now: Instant) -> usize {
        if self.bridges.is_empty() {
            self.bridge_base = u16::try_from(self.settings.listeners.len()).unwrap_or(u16::MAX);
        }
        let index = self.bridges.len();
        // The local side of a bridge obeys the first listener's ACL, as
        // every listener's does without per_listener_settings.
        let first = &self.settings.listeners[0];
        let policy = ListenerPolicy {
            acl: first.acl.clone(),
            ..ListenerPolicy::default()
        };
        self.settings.listeners.push(policy);
        self.per_listener.push(0);
        let remote_id: Rc<str> = Rc::from(conf.remote_id(hostname));
        let local_id: Rc<str> = Rc::from(conf.local_id(hostname));
        let state_topic = Rc::from(conf.state_topic(&remote_id));
        let protocol = match conf.protocol {
            BridgeProtocol::V31 => Protocol::V31,
            BridgeProtocol::V311 => Protocol::V311,
            BridgeProtocol::V5 => Protocol::V5,
        };
        let sid = match self.by_client_id.get(&*local_id) {
            Some(&sid) => sid,
            None => self.create_session(local_id.clone(), protocol),
        };
        let listener = self.bridge_base + index as u16;
        let username = conf.local_username.as_deref();
        let auth = self.client_auth(listener, username, &local_id);
        let generation = self.generation();
        let s = &mut self.sessions[sid];
        s.generation = generation;
        s.protocol = protocol;
        s.auth = auth;
        s.expiry_interval = if conf.local_persistent() {
            super::connect::NEVER_EXPIRES
        } else {
            0
        };
        // Subscriptions are the configuration's: a restored session's
        // other filters are an older configuration's.
        let wanted: Vec<(String, QoS)> = conf
            .topics
            .iter()
            .filter(|t| t.direction.carries_out())
            .map(|t| (t.local_filter(), t.qos))
            .collect();
        let stale: Vec<String> = s
            .filters()
            .filter(|f| !wanted.iter().any(|(w, _)| w == f))
            .map(str::to_string)
            .collect();
        for f in stale {
            if self.tree.unsubscribe(&f, sid as u32).is_some() {
                self.sessions[sid].remove_filter(&f);
                self.persist_unsub(sid, &f);
            }
        }
        self.subscribe_out(sid, &wanted, conf.outgoing_retain);
        self.persist_connected(sid);
        let out_rules = conf
            .topics
            .iter()
            .filter(|t| t.direction.carries_out())
            .map(|t| OutRule {
                filter: t.local_filter(),
                strip: t.local_prefix.clone(),
                prefix: t.remote_prefix.clone(),
            })
            .collect();
        let start = conf.start_type;
        let base = match conf.restart {
            Restart::Constant(d) => d,
            Restart::Backoff { base, .. } => base,
        };
        info!(
            "bridge {}: local client {local_id}, remote client {remote_id}, {} address(es), {} topic(s)",
            conf.name,
            conf.addresses.len(),
            conf.topics.len()
        );
        self.bridges.push(Bridge {
            conf,
            remote_id,
            state_topic,
            out_rules,
            sid,
            link: None,
            phase: Phase::Idle,
            generation: 0,
            address: 0,
            delay: base,
            private_ok: true,
            probe_generation: 0,
            back_to_main: false,
            redial_same: false,
            rng: super::random_seed() | 1,
            received: 0,
            received_mark: 0,
        });
        self.notify_local(index, false, now);
        if start != StartType::Lazy {
            self.dial(index, now);
        }
        index
    }

    /// The connections the event loop is to open, since the last call.
    pub fn take_dials(&mut self, out: &mut Vec<Dial>) {
        out.clear();
        std::mem::swap(out, &mut self.dials);
    }

    /// Is the dial `generation` of bridge `bridge` still wanted? False once
    /// it timed out or the broker stopped.
    pub fn dial_live(&self, bridge: usize, generation: u32) -> bool {
        self.bridges.get(bridge).is_some_and(|b| {
            (b.phase == Phase::Dialing && b.generation == generation)
                || (b.phase == Phase::Up && generation != 0 && b.probe_generation == generation)
        })
    }

    /// Subscribes local session `sid` to each `(filter, qos)`: No Local,
    /// and Retain As Published when `retain`.
    fn subscribe_out(&mut self, sid: usize, wanted: &[(String, QoS)], retain: bool) {
        for (filter, qos) in wanted {
            let sub = Subscription::new(
                SubOptions {
                    qos: *qos,
                    no_local: true,
                    retain_as_published: retain,
                    ..SubOptions::default()
                },
                0,
            );
            let access = self.filter_access(sid, filter);
            let sub = sub.with_access(access);
            if self.tree.subscribe(filter, sid as u32, sub) {
                self.sessions[sid].add_filter(filter);
            }
            self.persist_sub(sid, filter, &sub);
        }
    }

    /// At CONNACK: the `out` subscriptions within what the far side takes
    /// (an MQTT 5 broker's Maximum QoS and Retain Available), so that
    /// nothing is sent that it would refuse.
    pub(super) fn fit_out_topics(&mut self, b: usize, max_qos: QoS, retain_ok: bool) {
        let bridge = &self.bridges[b];
        let wanted: Vec<(String, QoS)> = bridge
            .conf
            .topics
            .iter()
            .filter(|t| t.direction.carries_out())
            .map(|t| (t.local_filter(), t.qos.min(max_qos)))
            .collect();
        let retain = bridge.conf.outgoing_retain && retain_ok;
        let sid = bridge.sid;
        self.subscribe_out(sid, &wanted, retain);
    }

    /// Is `client_id` a bridge's local session? No client may take it.
    pub(super) fn is_bridge_session(&self, client_id: &str) -> bool {
        !self.bridges.is_empty()
            && self
                .by_client_id
                .get(client_id)
                .is_some_and(|&sid| self.bridges.iter().any(|b| b.sid == sid))
    }

    /// Is bridge `bridge` connected (CONNACK received)?
    pub fn bridge_up(&self, bridge: usize) -> bool {
        self.bridges
            .get(bridge)
            .is_some_and(|b| b.phase == Phase::Up)
    }

    /// Counts a PUBLISH received on bridge `b`'s link and gives its local
    /// topic: the first `in` rule whose remote filter matches takes the
    /// remote prefix off and puts the local one on; unchanged otherwise (a
    /// subscription the far side kept from an older configuration).
    pub(super) fn bridge_topic_in(&mut self, b: usize, topic: ByteStr) -> ByteStr {
        let bridge = &mut self.bridges[b];
        bridge.received += 1;
        for t in bridge
            .conf
            .topics
            .iter()
            .filter(|t| t.direction.carries_in())
        {
            if t.local_prefix.is_empty() && t.remote_prefix.is_empty() {
                if filter_matches(&t.pattern, &topic) {
                    return topic;
                }
                continue;
            }
            if !filter_matches(&t.remote_filter(), &topic) {
                continue;
            }
            if let Some(rest) = topic.strip_prefix(t.remote_prefix.as_str()) {
                return ByteStr::from(format!("{}{rest}", t.local_prefix));
            }
        }
        topic
    }

    /// `1` or `0`, retained, on the state topic, as bridge `b` publishes it.
    pub(super) fn state_message(&self, b: usize, up: bool) -> Message {
        Message {
            topic: ByteStr::from(&*self.bridges[b].state_topic),
            payload: bytes::Bytes::from_static(if up { b"1" } else { b"0" }),
            qos: QoS::AtLeastOnce,
            retain: true,
            expires_at: None,
            properties: PublishProperties::default(),
            stored: Default::default(),
        }
    }

    /// The local state topic of bridge `b` says `1` (up) or `0`, with
    /// `notifications`; `0` only when it does not say so already.
    pub(super) fn notify_local(&mut self, b: usize, up: bool, now: Instant) {
        let bridge = &self.bridges[b];
        if !bridge.conf.notifications {
            return;
        }
        if !up {
            let topic = bridge.state_topic.clone();
            if self
                .retained
                .get(&topic)
                .is_some_and(|m| &m.payload[..] == b"0")
            {
                return;
            }
        }
        let msg = self.state_message(b, up);
        self.publish_message(msg, None, now);
    }
}
