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

use std::rc::Rc;
use std::time::{Duration, Instant};

use log::{info, warn};

use super::link::{Link, LinkState, V5Link, OUT_ALIAS_CAP};
use super::{keep_alive_window, Broker, CloseCause, ListenerPolicy, Subscription, Timer};
use crate::codec::{
    self, ByteStr, ConnAck, Connect, Packet, Properties, Protocol, PublishProperties, QoS,
    SubOptions, Subscribe, Unsubscribe, Will,
};
use crate::config::bridge::{BridgeConfig, BridgeProtocol, Restart, StartType};
use crate::session::{Message, SubIds};
use crate::topic::filter_matches;

/// How long a connection attempt (TCP, TLS and CONNACK) may take.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(20);

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

/// The `out` rules of the link on `listener`, if it is a bridge's; called
/// for every delivery, so a plain client costs one comparison.
#[inline(always)]
pub(super) fn out_rules(bridges: &[Bridge], base: u16, listener: u16) -> Option<&[OutRule]> {
    if listener < base {
        return None;
    }
    bridges
        .get(usize::from(listener - base))
        .map(|b| &b.out_rules[..])
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
    out_rules: Vec<OutRule>,
    /// The local session.
    pub(super) sid: usize,
    link: Option<usize>,
    phase: Phase,
    /// Identifies the current dial and restart timer.
    generation: u32,
    /// Index in `conf.addresses` of the address dialed or connected.
    address: usize,
    /// Failed attempts since the last connection, for the backoff.
    failures: u32,
    /// The last restart delay (decorrelated jitter grows from it).
    delay: Duration,
    /// False once the far side refused the `try_private` bit.
    private_ok: bool,
    rng: u32,
    /// Messages received on the link, for a lazy bridge's idle check.
    received: u64,
    /// `received` when the idle timer was armed.
    received_mark: u64,
}

impl Bridge {
    /// The protocol the bridge speaks to the far side.
    fn protocol(&self) -> Protocol {
        match self.conf.protocol {
            BridgeProtocol::V31 => Protocol::V31,
            BridgeProtocol::V311 => Protocol::V311,
            BridgeProtocol::V5 => Protocol::V5,
        }
    }

    /// xorshift32: jitter for the restart delay.
    fn random(&mut self) -> u32 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng = x;
        x
    }

    /// The delay before the next attempt: the constant one, or
    /// decorrelated jitter, `min(cap, random(base, 3 * last))`.
    fn next_delay(&mut self) -> Duration {
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
        for (filter, qos) in &wanted {
            let sub = Subscription::new(
                SubOptions {
                    qos: *qos,
                    no_local: true,
                    retain_as_published: conf.outgoing_retain,
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
            failures: 0,
            delay: base,
            private_ok: true,
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
        self.bridges
            .get(bridge)
            .is_some_and(|b| b.phase == Phase::Dialing && b.generation == generation)
    }

    /// The number of configured bridges.
    pub fn bridge_count(&self) -> usize {
        self.bridges.len()
    }

    /// Is bridge `bridge` connected (CONNACK received)?
    pub fn bridge_up(&self, bridge: usize) -> bool {
        self.bridges
            .get(bridge)
            .is_some_and(|b| b.phase == Phase::Up)
    }

    /// Asks the event loop for a connection to the current address.
    fn dial(&mut self, b: usize, now: Instant) {
        let generation = self.generation();
        let bridge = &mut self.bridges[b];
        bridge.phase = Phase::Dialing;
        bridge.generation = generation;
        let addr = &bridge.conf.addresses[bridge.address];
        info!(
            "bridge {}: connecting to {}:{}",
            bridge.conf.name, addr.host, addr.port
        );
        self.dials.push(Dial {
            bridge: b,
            generation,
            host: addr.host.clone(),
            port: addr.port,
        });
        self.timers.schedule(
            now + DIAL_TIMEOUT,
            Timer::Bridge {
                bridge: b as u32,
                generation,
            },
        );
    }

    /// The event loop could not open dial `generation` of bridge `bridge`
    /// (the name did not resolve, the connection was refused, the TLS set-up
    /// failed): the next address is tried, or the restart timer armed.
    pub fn bridge_dial_failed(&mut self, bridge: usize, generation: u32, why: &str, now: Instant) {
        if !self.dial_live(bridge, generation) {
            return;
        }
        let b = &self.bridges[bridge];
        let addr = &b.conf.addresses[b.address];
        warn!(
            "bridge {}: cannot connect to {}:{}: {why}",
            b.conf.name, addr.host, addr.port
        );
        self.attempt_failed(bridge, now);
    }

    /// Dial `generation` of bridge `bridge` is connected: the link is set
    /// up and CONNECT queued on it. Returns the link, or gives the
    /// transport back when the dial is stale.
    pub fn bridge_connected(
        &mut self,
        bridge: usize,
        generation: u32,
        io: T,
        peer: std::net::SocketAddr,
        now: Instant,
    ) -> Result<usize, T> {
        if !self.dial_live(bridge, generation) {
            return Err(io);
        }
        let link_generation = self.generation();
        let listener = self.bridge_base + bridge as u16;
        let id = self.links.insert(Link::new(
            io,
            peer,
            listener,
            link_generation,
            super::millis_since(self.started, now),
        ));
        if let Some(c) = self.per_listener.get_mut(usize::from(listener)) {
            *c += 1;
        }
        let b = &mut self.bridges[bridge];
        b.phase = Phase::Connecting;
        b.link = Some(id);
        let protocol = b.protocol();
        let connect = self.bridge_connect_packet(bridge);
        let link = &mut self.links[id];
        link.state = LinkState::AwaitConnack;
        link.protocol = protocol;
        link.session = self.bridges[bridge].sid as u32;
        self.send_packet(id, &Packet::Connect(Box::new(connect)));
        self.timers.schedule(
            now + self.settings.connect_timeout,
            Timer::ConnectTimeout {
                link: id as u32,
                generation: link_generation,
            },
        );
        Ok(id)
    }

    /// The CONNECT of bridge `b`: its remote client id and credentials,
    /// the `try_private` bit (3.x), and `0` on the state topic as its
    /// retained will, so the far side shows the link as down when it dies.
    fn bridge_connect_packet(&self, b: usize) -> Connect {
        let bridge = &self.bridges[b];
        let conf = &bridge.conf;
        let protocol = bridge.protocol();
        let will = (conf.notifications && !conf.notifications_local_only).then(|| Will {
            topic: ByteStr::from(&*bridge.state_topic),
            payload: bytes::Bytes::from_static(b"0"),
            qos: QoS::AtLeastOnce,
            retain: true,
            delay_interval: 0,
            properties: PublishProperties::default(),
        });
        let properties = if protocol.is_v5() {
            Properties {
                // A persistent session on the far side lasts for ever, as
                // a 3.x one does.
                session_expiry: (!conf.clean_session).then_some(u32::MAX),
                receive_maximum: Some(self.settings.limits.max_inflight),
                maximum_packet_size: u32::try_from(self.settings.max_packet_size)
                    .ok()
                    .filter(|&m| m < super::MQTT_MAX_PACKET as u32),
                ..Properties::default()
            }
        } else {
            Properties::default()
        };
        Connect {
            protocol,
            clean_start: conf.clean_session,
            keep_alive: conf.keepalive,
            client_id: ByteStr::from(&*bridge.remote_id),
            will,
            username: conf.remote_username.as_deref().map(ByteStr::from),
            password: conf
                .remote_username
                .as_ref()
                .and(conf.remote_password.as_deref())
                .map(|p| bytes::Bytes::copy_from_slice(p.as_bytes())),
            properties,
            bridge: conf.try_private && bridge.private_ok && !protocol.is_v5(),
        }
    }

    /// The bridge whose link `id` is, if it is one.
    pub(super) fn bridge_of(&self, id: usize) -> Option<usize> {
        let l = self.links.get(id)?;
        (l.listener >= self.bridge_base).then(|| usize::from(l.listener - self.bridge_base))
    }

    /// The first packet on a bridge's link: CONNACK. Accepted, the link
    /// takes the session over (as a client's CONNECT would); refused, the
    /// link ends and the restart timer runs.
    pub(super) fn bridge_connack(&mut self, id: usize, packet: Packet, now: Instant) {
        let Some(b) = self.bridge_of(id) else {
            return;
        };
        let ack = match packet {
            Packet::ConnAck(a) => a,
            other => {
                let why = format!("{} before CONNACK", other.name());
                self.close_link(id, CloseCause::Protocol(why), now);
                return;
            }
        };
        if ack.code != 0 {
            self.bridge_refused(b, id, &ack, now);
            return;
        }
        self.bridge_attach(b, id, &ack, now);
    }

    /// CONNACK with a refusal: logged with its meaning. A 3.x broker that
    /// does not know the bridge bit says "unacceptable protocol version":
    /// the next attempt goes without it, at once.
    fn bridge_refused(&mut self, b: usize, id: usize, ack: &ConnAck, now: Instant) {
        let protocol = self.links[id].protocol;
        let bridge = &mut self.bridges[b];
        let retry_plain = ack.code == codec::connack::UNACCEPTABLE_PROTOCOL_VERSION
            && !protocol.is_v5()
            && bridge.conf.try_private
            && bridge.private_ok;
        warn!(
            "bridge {}: connection refused by the remote broker: {}{}",
            bridge.conf.name,
            connack_meaning(ack.code, protocol),
            if retry_plain {
                " (trying again without try_private)"
            } else {
                ""
            }
        );
        if retry_plain {
            bridge.private_ok = false;
            bridge.failures = 0;
        }
        self.close_link(
            id,
            CloseCause::Refused("CONNACK refused by the remote broker"),
            now,
        );
        if retry_plain && self.bridges[b].phase == Phase::Waiting {
            self.dial(b, now);
        }
    }

    /// An accepted CONNACK: the link takes the local session, the far
    /// side's limits apply, the `in` topics are subscribed there, both
    /// sides hear `1` on the state topic, and what waited is sent.
    fn bridge_attach(&mut self, b: usize, id: usize, ack: &ConnAck, now: Instant) {
        let sid = self.bridges[b].sid;
        let protocol = self.links[id].protocol;
        let v5 = protocol.is_v5();
        let conf = &self.bridges[b].conf;
        let keep_alive = match ack.properties.server_keep_alive {
            Some(k) if v5 => k,
            _ => conf.keepalive,
        };
        let max_packet = match (ack.properties.maximum_packet_size, conf.max_packet_size) {
            (Some(a), 0) => a,
            (Some(a), c) => a.min(c),
            (None, 0) => u32::MAX,
            (None, c) => c,
        };
        let link = &mut self.links[id];
        link.state = LinkState::Connected;
        link.session = sid as u32;
        link.keep_alive = keep_alive;
        if v5 || max_packet != u32::MAX {
            link.v5 = Some(Box::new(V5Link {
                max_packet,
                problem_info: true,
                inbound: Vec::new(),
                outbound: Vec::new(),
                recent: 0,
                out_max: if v5 {
                    ack.properties
                        .topic_alias_maximum
                        .unwrap_or(0)
                        .min(OUT_ALIAS_CAP)
                } else {
                    0
                },
                blocked_since: 0,
            }));
        }
        let peer = link.peer;
        let generation = link.generation;
        let window = match ack.properties.receive_maximum {
            Some(max) if v5 => max.min(self.settings.limits.max_inflight),
            _ => self.settings.limits.max_inflight,
        };
        let s = &mut self.sessions[sid];
        s.link = Some(id as u32);
        s.disconnected_at = None;
        s.window = window;
        self.stats.connected += 1;
        if keep_alive > 0 {
            self.timers.schedule(
                now + Duration::from_secs(u64::from(keep_alive)),
                Timer::KeepAlive {
                    link: id as u32,
                    generation,
                },
            );
        }
        // The dial's timeout is stale from here.
        let fresh = self.generation();
        let bridge = &mut self.bridges[b];
        bridge.phase = Phase::Up;
        bridge.generation = fresh;
        bridge.failures = 0;
        bridge.delay = match bridge.conf.restart {
            Restart::Constant(d) => d,
            Restart::Backoff { base, .. } => base,
        };
        info!(
            "bridge {}: connected to {peer} as {} (MQTT {protocol}{})",
            bridge.conf.name,
            bridge.remote_id,
            if ack.session_present {
                ", session present"
            } else {
                ""
            }
        );
        self.bridge_subscribe(b, id);
        // What was in flight goes again first (PUBLISH with DUP, PUBREL),
        // then the queue, then the state message behind them.
        self.resume(sid, now);
        let conf = &self.bridges[b].conf;
        if conf.notifications && !conf.notifications_local_only {
            let msg = Rc::new(self.state_message(b, true));
            self.deliver(sid, &msg, QoS::AtLeastOnce, true, SubIds::None, now);
        }
        self.notify_local(b, true, now);
        if self.bridges[b].conf.start_type == StartType::Lazy {
            self.arm_idle(b, now);
        }
    }

    /// SUBSCRIBE to the far side's `in` topics (No Local and Retain As
    /// Published with MQTT 5, which a 3.x broker gets from the bridge bit),
    /// and UNSUBSCRIBE from its `out`-only ones unless
    /// `bridge_attempt_unsubscribe false` (a topic that was `in` before).
    fn bridge_subscribe(&mut self, b: usize, id: usize) {
        let sid = self.bridges[b].sid;
        let conf = &self.bridges[b].conf;
        let filters: Vec<(ByteStr, SubOptions)> = conf
            .topics
            .iter()
            .filter(|t| t.direction.carries_in())
            .map(|t| {
                let options = SubOptions {
                    qos: t.qos,
                    no_local: true,
                    retain_as_published: true,
                    ..SubOptions::default()
                };
                (ByteStr::from(t.remote_filter()), options)
            })
            .collect();
        let unsubscribe: Vec<ByteStr> = if conf.attempt_unsubscribe {
            conf.topics
                .iter()
                .filter(|t| !t.direction.carries_in())
                .map(|t| ByteStr::from(t.remote_filter()))
                .collect()
        } else {
            Vec::new()
        };
        if !unsubscribe.is_empty() {
            let packet_id = self.sessions[sid].next_packet_id();
            self.send_packet(
                id,
                &Packet::Unsubscribe(Unsubscribe {
                    packet_id,
                    filters: unsubscribe,
                    properties: Properties::default(),
                }),
            );
        }
        if !filters.is_empty() {
            let packet_id = self.sessions[sid].next_packet_id();
            self.send_packet(
                id,
                &Packet::Subscribe(Subscribe {
                    packet_id,
                    filters,
                    properties: Properties::default(),
                }),
            );
        }
    }

    /// A packet only a client receives, on a connected link: SUBACK (a
    /// refused topic is logged), UNSUBACK and PINGRESP on a bridge's link;
    /// a protocol error from anyone else.
    pub(super) fn client_side_packet(&mut self, id: usize, packet: Packet, now: Instant) {
        let Some(b) = self.bridge_of(id) else {
            let why = format!("unexpected {} from a client", packet.name());
            self.close_link(id, CloseCause::Protocol(why), now);
            return;
        };
        match packet {
            Packet::SubAck(ack) => {
                let conf = &self.bridges[b].conf;
                let remote: Vec<String> = conf
                    .topics
                    .iter()
                    .filter(|t| t.direction.carries_in())
                    .map(|t| t.remote_filter())
                    .collect();
                for (i, code) in ack.codes.iter().enumerate() {
                    if *code >= 0x80 {
                        warn!(
                            "bridge {}: the remote broker refused the subscription to {} (0x{code:02x})",
                            conf.name,
                            remote.get(i).map_or("?", String::as_str)
                        );
                    }
                }
            }
            Packet::UnsubAck(_) | Packet::PingResp => {}
            other => {
                let why = format!("unexpected {} from the remote broker", other.name());
                self.close_link(id, CloseCause::Protocol(why), now);
            }
        }
    }

    /// A bridge's link ended (`was` is the state it had): the session is
    /// left offline (emptied when the local session is clean), the local
    /// state topic says `0` if it was up, and the next attempt is planned.
    pub(super) fn bridge_link_closed(
        &mut self,
        id: usize,
        was: LinkState,
        cause: &CloseCause,
        now: Instant,
    ) {
        let Some(b) = self.bridge_of(id) else {
            return;
        };
        if self.bridges[b].link != Some(id) {
            return;
        }
        self.bridges[b].link = None;
        let sid = self.bridges[b].sid;
        let name = self.bridges[b].conf.name.clone();
        let peer = self.links[id].peer;
        if was == LinkState::Connected {
            self.stats.connected = self.stats.connected.saturating_sub(1);
            info!("bridge {name}: link to {peer} lost: {cause}");
            let s = &mut self.sessions[sid];
            s.link = None;
            s.disconnected_at = Some(now);
            for f in s.inflight_mut() {
                f.sent_at = None;
            }
            if s.ends_with_connection() {
                s.clear_messages();
            }
            self.persist_offline(sid, now);
            self.notify_local(b, false, now);
            let bridge = &mut self.bridges[b];
            if !bridge.conf.round_robin {
                // The main address first again.
                bridge.address = 0;
            } else {
                bridge.address = (bridge.address + 1) % bridge.conf.addresses.len();
            }
            self.plan_restart(b, now, false);
        } else {
            info!("bridge {name}: connection to {peer} ended before CONNACK: {cause}");
            self.attempt_failed(b, now);
        }
    }

    /// An attempt failed: the next address at once, unless that is the
    /// first one again (then after the restart delay).
    fn attempt_failed(&mut self, b: usize, now: Instant) {
        let bridge = &mut self.bridges[b];
        bridge.failures += 1;
        let n = bridge.conf.addresses.len();
        bridge.address = (bridge.address + 1) % n;
        let wrapped = bridge.address == 0;
        self.plan_restart(b, now, !wrapped);
    }

    /// After a loss or a failed attempt: `once` stops, `lazy` waits for its
    /// threshold, `automatic` dials again (now when `at_once`, else after
    /// the restart delay).
    fn plan_restart(&mut self, b: usize, now: Instant, at_once: bool) {
        let generation = self.generation();
        let bridge = &mut self.bridges[b];
        bridge.generation = generation;
        match bridge.conf.start_type {
            StartType::Once => {
                bridge.phase = Phase::Idle;
                info!(
                    "bridge {}: not restarted (start_type once)",
                    bridge.conf.name
                );
                return;
            }
            StartType::Lazy => {
                bridge.phase = Phase::Idle;
                return;
            }
            StartType::Automatic => {}
        }
        if at_once {
            self.dial(b, now);
            return;
        }
        let delay = bridge.next_delay();
        bridge.phase = Phase::Waiting;
        info!(
            "bridge {}: reconnecting in {} ms",
            bridge.conf.name,
            delay.as_millis()
        );
        self.timers.schedule(
            now + delay,
            Timer::Bridge {
                bridge: b as u32,
                generation,
            },
        );
    }

    /// The bridge timer: the restart delay ended (dial), a dial took too
    /// long (failed), or a lazy bridge's idle check is due.
    pub(super) fn bridge_timer(&mut self, b: usize, generation: u32, now: Instant) {
        let Some(bridge) = self.bridges.get(b) else {
            return;
        };
        if bridge.generation != generation {
            return;
        }
        match bridge.phase {
            Phase::Waiting => self.dial(b, now),
            Phase::Dialing => {
                let addr = &bridge.conf.addresses[bridge.address];
                warn!(
                    "bridge {}: connecting to {}:{} timed out",
                    bridge.conf.name, addr.host, addr.port
                );
                self.attempt_failed(b, now);
            }
            Phase::Up if bridge.conf.start_type == StartType::Lazy => self.idle_check(b, now),
            Phase::Up => {}
            Phase::Idle | Phase::Connecting => {}
        }
    }

    /// A lazy bridge: after `idle_timeout` with nothing received, nothing
    /// queued and nothing in flight, the link is closed.
    fn arm_idle(&mut self, b: usize, now: Instant) {
        let generation = self.generation();
        let bridge = &mut self.bridges[b];
        bridge.generation = generation;
        bridge.received_mark = bridge.received;
        self.timers.schedule(
            now + bridge.conf.idle_timeout,
            Timer::Bridge {
                bridge: b as u32,
                generation,
            },
        );
    }

    fn idle_check(&mut self, b: usize, now: Instant) {
        let bridge = &self.bridges[b];
        let s = &self.sessions[bridge.sid];
        let idle =
            bridge.received == bridge.received_mark && s.queue_is_empty() && s.inflight_len() == 0;
        let Some(id) = bridge.link.filter(|_| idle) else {
            self.arm_idle(b, now);
            return;
        };
        info!(
            "bridge {}: idle for {} s: disconnecting (start_type lazy)",
            bridge.conf.name,
            bridge.conf.idle_timeout.as_secs()
        );
        self.send_packet(
            id,
            &Packet::Disconnect(codec::Disconnect {
                reason: 0,
                properties: Properties::default(),
            }),
        );
        self.close_link(id, CloseCause::ClientDisconnect, now);
    }

    /// Called when a message waits in session `sid`'s queue: a lazy
    /// bridge whose queue reached `threshold` connects.
    pub(super) fn queued_for_bridge(&mut self, sid: usize, now: Instant) {
        let Some(b) = self.bridges.iter().position(|b| b.sid == sid) else {
            return;
        };
        let bridge = &self.bridges[b];
        if bridge.phase == Phase::Idle
            && bridge.conf.start_type == StartType::Lazy
            && self.sessions[sid].queued_len() >= bridge.conf.threshold
        {
            self.dial(b, now);
        }
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
    fn state_message(&self, b: usize, up: bool) -> Message {
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
    fn notify_local(&mut self, b: usize, up: bool, now: Instant) {
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

    /// A keep-alive tick on bridge link `id`: silent for 1.5 keep-alive
    /// periods means the far side is gone; otherwise PINGREQ, and the next
    /// tick in one period.
    pub(super) fn bridge_keep_alive(&mut self, id: usize, now: Instant) {
        let Some(l) = self.links.get(id) else {
            return;
        };
        let (k, last_rx, generation) = (l.keep_alive, l.last_rx, l.generation);
        let silent = now.saturating_duration_since(self.started + Duration::from_millis(last_rx));
        if silent >= keep_alive_window(k) {
            self.close_link(id, CloseCause::KeepAliveTimeout, now);
            return;
        }
        self.send_packet(id, &Packet::PingReq);
        self.timers.schedule(
            now + Duration::from_secs(u64::from(k)),
            Timer::KeepAlive {
                link: id as u32,
                generation,
            },
        );
    }

    /// The broker is stopping: no bridge connects again, and each one up
    /// tells the far side `0` on its state topic (a clean DISCONNECT
    /// suppresses the will that would say so) and disconnects.
    pub(super) fn stop_bridges(&mut self, now: Instant) {
        for b in 0..self.bridges.len() {
            let bridge = &mut self.bridges[b];
            bridge.phase = Phase::Idle;
            bridge.generation = 0;
            let Some(id) = bridge.link else { continue };
            let conf = &bridge.conf;
            let up = self
                .links
                .get(id)
                .is_some_and(|l| l.state == LinkState::Connected);
            if up && conf.notifications && !conf.notifications_local_only {
                let topic = ByteStr::from(&*bridge.state_topic);
                self.send_packet(
                    id,
                    &Packet::Publish(codec::Publish {
                        dup: false,
                        qos: QoS::AtMostOnce,
                        retain: true,
                        topic,
                        packet_id: 0,
                        properties: PublishProperties::default(),
                        payload: bytes::Bytes::from_static(b"0"),
                    }),
                );
            }
            if up {
                self.send_packet(
                    id,
                    &Packet::Disconnect(codec::Disconnect {
                        reason: 0,
                        properties: Properties::default(),
                    }),
                );
            }
            self.close_link(id, CloseCause::Shutdown, now);
        }
    }
}

/// What a refused CONNACK's code means, for the log.
fn connack_meaning(code: u8, protocol: Protocol) -> String {
    let text = if protocol.is_v5() {
        match code {
            0x84 => "unsupported protocol version",
            0x85 => "client identifier not valid",
            0x86 => "bad user name or password",
            0x87 => "not authorized",
            0x88 => "server unavailable",
            0x89 => "server busy",
            0x8A => "banned",
            0x8C => "bad authentication method",
            0x95 => "packet too large",
            0x97 => "quota exceeded",
            0x9C => "use another server",
            0x9D => "server moved",
            _ => "refused",
        }
    } else {
        match code {
            1 => "unacceptable protocol version",
            2 => "identifier rejected",
            3 => "server unavailable",
            4 => "bad user name or password",
            5 => "not authorized",
            _ => "refused",
        }
    };
    format!("{text} (0x{code:02x})")
}
