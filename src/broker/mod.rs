//! The broker: sessions, the topic tree, the retained store and the
//! timers, driven by bytes received, connection events and the time.
//!
//! It owns no sockets and reads no clock. The event loop (or a test) opens a
//! link per connection ([`Broker::open_link`]), appends received bytes to the
//! link's `rx` buffer and calls [`Broker::process_input`]; the broker parses
//! every complete packet, handles it, and appends what is to be sent to the
//! `tx` queue of whichever links it concerns. The caller then flushes the
//! links listed by [`Broker::take_dirty`], closes the ones listed by
//! [`Broker::take_closing`], and calls [`Broker::tick`] whenever
//! [`Broker::next_deadline`] passes.
//!
//! `T` is the transport a link carries (a `TcpStream` in the server, `()` in
//! tests); the broker never touches it.

mod access;
#[cfg(any(test, fuzzing))]
mod audit;
mod bridge;
mod close;
mod connect;
mod deliver;
mod expiry;
mod link;
mod outbound;
mod persist;
mod publish;
mod restore;
mod settings;
mod shared;
mod subscribe;
mod subscription;
mod sys;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use log::{debug, warn};
use slab::Slab;

use crate::codec::{self, DecodeError, Packet};
use crate::session::{self, Session, SharedMessage};
use crate::timer::TimerWheel;
use crate::topic::{MatchCache, RetainedStore, TopicTree};

#[cfg(any(test, fuzzing))]
pub use audit::{DurableView, SessionDurable, SessionView};
pub use bridge::{Dial, DIAL_TIMEOUT, MAIN_RETRY};
pub use close::CloseCause;
pub use deliver::TX_HIGH_WATER;
pub use link::{Link, RxBuf};
pub use restore::Restored;
pub use settings::{ListenerPolicy, Settings, MQTT_MAX_PACKET};
pub use subscribe::{SUBSCRIBE_LOG, UNSUBSCRIBE_LOG};
pub use subscription::Subscription;

pub use sys::Stats;

use link::{mark_dirty, LinkState};

/// Timer resolution.
const TICK: Duration = Duration::from_millis(100);

/// A timer entry: what to check, and for which generation of the slot.
#[derive(Clone, Copy, Debug)]
enum Timer {
    ConnectTimeout {
        link: u32,
        generation: u32,
    },
    KeepAlive {
        link: u32,
        generation: u32,
    },
    Retry {
        session: u32,
        generation: u32,
    },
    SessionExpiry {
        session: u32,
        generation: u32,
    },
    WillDelay {
        session: u32,
        generation: u32,
    },
    /// Slot in `Broker::retained_expiry`.
    RetainedExpiry {
        slot: u32,
    },
    Sys,
    /// A bridge's restart delay, dial timeout or idle check.
    Bridge {
        bridge: u32,
        generation: u32,
    },
}

pub struct Broker<T> {
    settings: Settings,
    links: Slab<Link<T>>,
    sessions: Slab<Session>,
    /// Shares each session's client id allocation.
    by_client_id: HashMap<Rc<str>, usize>,
    tree: TopicTree<Subscription>,
    retained: RetainedStore<SharedMessage>,
    /// Retained messages with an expiry, by timer slot; weak, so a replaced
    /// message is freed at once.
    retained_expiry: Slab<std::rc::Weak<session::Message>>,
    shared: shared::SharedGroups,
    /// Who published each retained message, by topic, kept only with
    /// `check_retain_source` and an ACL file (see `access`).
    retain_sources: HashMap<Box<str>, access::RetainSource>,
    timers: TimerWheel<Timer>,
    /// Links with output to flush.
    dirty: Vec<usize>,
    /// Connected links whose output went past `TX_HIGH_WATER` while input
    /// was handled (messages for them now wait in their queue): the event
    /// loop may write them out before it reads on.
    pressed: Vec<usize>,
    /// Links to close after their output is flushed.
    closing: Vec<usize>,
    /// Connections per listener.
    per_listener: Vec<usize>,
    next_generation: u32,
    /// Reused buffers for routing and timers (no allocation per message).
    route_scratch: Vec<(u32, Subscription)>,
    /// The tree's matches of recently routed topics.
    route_cache: MatchCache<Subscription>,
    /// The last routed message, once nobody held it (see
    /// `publish::shared_message`).
    spare_message: Option<SharedMessage>,
    /// Numbers the topics of messages routed to several connections, and
    /// the number of the one being routed (0 otherwise; see
    /// `link::TopicRuns`).
    runs: link::TopicRuns,
    routing_run: u64,
    /// The bytes of the last copy of the message being routed to several
    /// connections (see `outbound::PacketMemo`).
    memo: outbound::PacketMemo,
    group_scratch: Vec<u32>,
    /// Links to disconnect for not reading (see `deliver::note_overflow`).
    overflowed: Vec<usize>,
    timer_scratch: Vec<Timer>,
    route_stamp: u64,
    next_client_number: u64,
    /// Random per broker run, so generated client ids differ across runs.
    id_seed: u32,
    stats: Stats,
    started: Instant,
    /// Durable changes of this turn; `None` without persistence.
    journal: Option<Box<persist::Journal>>,
    /// A snapshot being written over several turns.
    snapshot_todo: Option<Box<restore::SnapshotTodo>>,
    /// The store cannot write: new QoS 1/2 work is refused (see
    /// [`Broker::set_store_down`]).
    store_down: bool,
    /// The usernames TLS client certificates gave links that have not sent
    /// CONNECT yet (see [`Broker::set_cert_name`]); kept here rather than
    /// in every `Link`, which stays small.
    cert_names: Vec<(usize, Box<str>)>,
    /// The configured bridges (see `bridge`).
    bridges: Vec<bridge::Bridge>,
    /// Connections the event loop is to open for bridges.
    dials: Vec<Dial>,
    /// The listener number of bridge 0's links (bridge `b` has
    /// `bridge_base + b`); `u16::MAX` while there are none.
    bridge_base: u16,
}

impl<T> Broker<T> {
    /// A broker with no clients; `now` is the clock origin.
    pub fn new(mut settings: Settings, now: Instant) -> Broker<T> {
        if settings.listeners.is_empty() {
            settings.listeners.push(ListenerPolicy::default());
        }
        let mut timers = TimerWheel::new(now, TICK);
        if let Some(every) = settings.sys_interval {
            timers.schedule(now + every, Timer::Sys);
        }
        let per_listener = vec![0; settings.listeners.len().max(1)];
        let mut broker = Broker {
            settings,
            links: Slab::new(),
            sessions: Slab::new(),
            by_client_id: HashMap::new(),
            tree: TopicTree::new(),
            retained: RetainedStore::new(),
            retained_expiry: Slab::new(),
            retain_sources: HashMap::new(),
            shared: shared::SharedGroups::default(),
            timers,
            dirty: Vec::new(),
            pressed: Vec::new(),
            closing: Vec::new(),
            per_listener,
            next_generation: 0,
            route_scratch: Vec::new(),
            route_cache: MatchCache::default(),
            spare_message: None,
            runs: link::TopicRuns::default(),
            routing_run: 0,
            memo: Default::default(),
            group_scratch: Vec::new(),
            overflowed: Vec::new(),
            cert_names: Vec::new(),
            timer_scratch: Vec::new(),
            route_stamp: 0,
            next_client_number: 0,
            id_seed: random_seed(),
            stats: Stats::default(),
            started: now,
            journal: None,
            snapshot_todo: None,
            store_down: false,
            bridges: Vec::new(),
            dials: Vec::new(),
            bridge_base: u16::MAX,
        };
        if broker.settings.sys_interval.is_some() {
            broker.publish_sys_static(now);
        }
        broker
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    fn generation(&mut self) -> u32 {
        self.next_generation = self.next_generation.wrapping_add(1);
        self.next_generation
    }

    /// A new connection on listener `listener`. Returns its link index, or
    /// gives the transport back when the listener is at `max_connections`.
    pub fn open_link(
        &mut self,
        io: T,
        peer: SocketAddr,
        listener: usize,
        now: Instant,
    ) -> Result<usize, T> {
        let limit = self
            .settings
            .listeners
            .get(listener)
            .and_then(|l| l.max_connections);
        let count = self.per_listener.get(listener).copied().unwrap_or(0);
        if limit.is_some_and(|max| count >= max) {
            warn!(
                "refused connection from {peer}: listener {listener} at max_connections ({})",
                count
            );
            return Err(io);
        }
        if let Some(c) = self.per_listener.get_mut(listener) {
            *c += 1;
        }
        let generation = self.generation();
        let listener = u16::try_from(listener).unwrap_or(u16::MAX);
        let id = self.links.insert(Link::new(
            io,
            peer,
            listener,
            generation,
            millis_since(self.started, now),
        ));
        self.timers.schedule(
            now + self.settings.connect_timeout,
            Timer::ConnectTimeout {
                link: id as u32,
                generation,
            },
        );
        debug!("new connection from {peer} (link {id})");
        Ok(id)
    }

    /// Called by the event loop once the TLS handshake of link `id` is
    /// done, with the username its client certificate gives; a CONNECT on
    /// a listener with `use_identity_as_username` or
    /// `use_subject_as_username` takes it as its username.
    pub fn set_cert_name(&mut self, id: usize, name: Box<str>) {
        if self.links.contains(id) {
            self.cert_names.retain(|(l, _)| *l != id);
            self.cert_names.push((id, name));
        }
    }

    /// The name [`Broker::set_cert_name`] gave link `id`, taken (at its
    /// CONNECT, or when it is removed).
    fn take_cert_name(&mut self, id: usize) -> Option<Box<str>> {
        let i = self.cert_names.iter().position(|(l, _)| *l == id)?;
        Some(self.cert_names.swap_remove(i).1)
    }

    /// The link `id`, for the event loop to read into and write from.
    pub fn link_mut(&mut self, id: usize) -> Option<&mut Link<T>> {
        self.links.get_mut(id)
    }

    pub fn link(&self, id: usize) -> Option<&Link<T>> {
        self.links.get(id)
    }

    /// Number of open links.
    pub fn link_count(&self) -> usize {
        self.links.len()
    }

    /// Parses and handles every complete packet in link `id`'s `rx`. Called
    /// after bytes were appended to it. Bad bytes close the link (with a
    /// reason code where the protocol has one) and affect no one else.
    pub fn process_input(&mut self, id: usize, now: Instant) {
        let max = self.settings.max_packet_size;
        let now_ms = millis_since(self.started, now);
        loop {
            let Some(link) = self.links.get_mut(id) else {
                return;
            };
            if link.state == LinkState::Closing || link.rx.is_empty() {
                break;
            }
            match codec::check(link.rx.bytes(), max) {
                Ok(codec::Check::Incomplete { total }) => {
                    if let Some(total) = total {
                        let missing = total.saturating_sub(link.rx.bytes().len());
                        link.rx.reserve(missing);
                    }
                    break;
                }
                Ok(codec::Check::Ready { total }) => {
                    link.last_rx = now_ms;
                    let frame = link.rx.split_to(total);
                    self.stats.bytes_received += total as u64;
                    let protocol = link.protocol;
                    if codec::is_publish(&frame) && link.state == LinkState::Connected {
                        match codec::decode_publish_frame(frame, protocol) {
                            Ok(p) => self.handle_publish(id, p, now),
                            Err(e) => self.decode_failed(id, e, now),
                        }
                    } else {
                        match codec::decode(frame, protocol) {
                            Ok(packet) => self.handle_packet(id, packet, now),
                            Err(e) => self.decode_failed(id, e, now),
                        }
                    }
                    if !self.overflowed.is_empty() {
                        self.close_overflowed(now);
                    }
                }
                Err(e) => self.decode_failed(id, e, now),
            }
        }
        if let Some(link) = self.links.get_mut(id) {
            if link.rx.is_empty() {
                // An idle connection holds no receive buffer.
                link.rx.clear();
            }
        }
    }

    fn decode_failed(&mut self, id: usize, e: DecodeError, now: Instant) {
        if let DecodeError::UnsupportedProtocol { .. } = e {
            if self.links[id].state == LinkState::AwaitConnect {
                self.refuse_protocol(id, &e, now);
            } else {
                // A CONNECT on a connected link, whatever protocol it names:
                // no second CONNACK, and the link keeps its protocol.
                self.second_connect(id, now);
            }
            return;
        }
        if let Some(link) = self.links.get(id) {
            if link.protocol.is_v5() && link.state == LinkState::Connected {
                self.send_disconnect(id, e.reason_code(), &e.to_string());
            }
        }
        self.close_link(id, CloseCause::Protocol(e.to_string()), now);
    }

    /// One decoded packet from link `id`.
    fn handle_packet(&mut self, id: usize, packet: Packet, now: Instant) {
        let state = self.links[id].state;
        if state == LinkState::AwaitConnack {
            self.bridge_connack(id, packet, now);
            return;
        }
        if state == LinkState::AwaitConnect {
            match packet {
                Packet::Connect(c) => self.handle_connect(id, *c, now),
                other => self.close_link(
                    id,
                    CloseCause::Protocol(format!("{} before CONNECT [MQTT-3.1.0-1]", other.name())),
                    now,
                ),
            }
            return;
        }
        match packet {
            Packet::Connect(_) => self.second_connect(id, now),
            Packet::Publish(p) => self.handle_publish(id, p, now),
            Packet::PubAck(a) => self.handle_puback(id, a.packet_id, now),
            Packet::PubRec(a) => self.handle_pubrec(id, a, now),
            Packet::PubRel(a) => self.handle_pubrel(id, a.packet_id),
            Packet::PubComp(a) => self.handle_pubcomp(id, a.packet_id, now),
            Packet::Subscribe(s) => self.handle_subscribe(id, s, now),
            Packet::Unsubscribe(u) => self.handle_unsubscribe(id, u, now),
            Packet::PingReq => self.send_packet(id, &Packet::PingResp),
            Packet::Disconnect(d) => self.handle_disconnect(id, d, now),
            // No authentication method was agreed at CONNECT, so AUTH
            // (re-authentication included) is a protocol error [MQTT-4.12.0-6].
            Packet::Auth(_) => self.protocol_violation(
                id,
                codec::reason::PROTOCOL_ERROR,
                "AUTH without an authentication method [MQTT-4.12.0-6]".into(),
                now,
            ),
            other => self.client_side_packet(id, other, now),
        }
    }

    /// A second CONNECT is a protocol error [MQTT-3.1.0-2]: DISCONNECT
    /// 0x82 to an MQTT 5 client, then the connection closes.
    fn second_connect(&mut self, id: usize, now: Instant) {
        self.protocol_violation(
            id,
            codec::reason::PROTOCOL_ERROR,
            "second CONNECT [MQTT-3.1.0-2]".into(),
            now,
        );
    }

    /// Encodes `packet` onto link `id`'s output.
    fn send_packet(&mut self, id: usize, packet: &Packet) {
        if let Some(link) = self.links.get_mut(id) {
            codec::encode(packet, link.protocol, link.tx.staging());
            mark_dirty(&mut self.dirty, id, link);
        }
    }

    /// The socket of link `id` ended (EOF or error) or the event loop gave
    /// up on it.
    pub fn link_lost(&mut self, id: usize, cause: CloseCause, now: Instant) {
        self.close_link(id, cause, now);
    }

    /// Links with output to flush since the last call (each once).
    pub fn take_dirty(&mut self, out: &mut Vec<usize>) {
        link::take_listed(&mut self.dirty, link::DIRTY, &mut self.links, out);
    }

    /// Is any link waiting to be flushed?
    pub fn has_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// Puts link `id` back on the flush list (its write budget ran out).
    pub fn mark_dirty(&mut self, id: usize) {
        if let Some(link) = self.links.get_mut(id) {
            mark_dirty(&mut self.dirty, id, link);
        }
    }

    /// Links whose output went past the high-water mark since the last
    /// call (each once); called by the event loop between reads, so that a
    /// subscriber receiving from many publishers gets its output written
    /// in the same turn instead of its messages waiting in the queue.
    pub fn take_pressed(&mut self, out: &mut Vec<usize>) {
        link::take_listed(&mut self.pressed, link::PRESSED, &mut self.links, out);
    }

    /// Did a link's output go past the high-water mark since
    /// [`Broker::take_pressed`]?
    pub fn has_pressed(&self) -> bool {
        !self.pressed.is_empty()
    }

    /// Links that are ending since the last call. The caller flushes what it
    /// can of their output and then calls [`Broker::remove_link`].
    pub fn take_closing(&mut self, out: &mut Vec<usize>) {
        out.clear();
        std::mem::swap(out, &mut self.closing);
    }

    /// Removes an ended link and hands its transport back.
    pub fn remove_link(&mut self, id: usize) -> Option<T> {
        let link = self.links.try_remove(id)?;
        if !self.cert_names.is_empty() {
            self.take_cert_name(id);
        }
        if let Some(c) = self.per_listener.get_mut(usize::from(link.listener)) {
            *c = c.saturating_sub(1);
        }
        Some(link.io)
    }

    /// Counts bytes the event loop wrote (for `$SYS`).
    /// The event loop wrote `n` bytes of link `id`'s output (for `$SYS`,
    /// and as proof that the client is reading).
    pub fn wrote(&mut self, id: usize, n: usize) {
        self.stats.bytes_sent += n as u64;
        if n > 0 {
            if let Some(v5) = self.links.get_mut(id).and_then(|l| l.v5.as_deref_mut()) {
                v5.blocked_since = 0;
            }
        }
    }

    /// When [`Broker::tick`] next has work, if ever.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// Runs every timer due at `now`: CONNECT timeouts, keep-alive, QoS
    /// retries, session expiry and `$SYS`. Stale entries (their link or
    /// session is gone or reused) are dropped here.
    pub fn tick(&mut self, now: Instant) {
        let mut due = std::mem::take(&mut self.timer_scratch);
        due.clear();
        self.timers.expire(now, &mut due);
        for &t in &due {
            self.fire(t, now);
        }
        if !self.overflowed.is_empty() {
            self.close_overflowed(now);
        }
        self.timer_scratch = due;
    }

    fn fire(&mut self, t: Timer, now: Instant) {
        match t {
            Timer::ConnectTimeout { link, generation } => {
                if let Some(l) = self.live_link(link, generation) {
                    if matches!(l.state, LinkState::AwaitConnect | LinkState::AwaitConnack) {
                        self.close_link(link as usize, CloseCause::ConnectTimeout, now);
                    }
                }
            }
            Timer::KeepAlive { link, generation } => {
                let Some(l) = self.live_link(link, generation) else {
                    return;
                };
                if l.listener >= self.bridge_base {
                    self.bridge_keep_alive(link as usize, now);
                    return;
                }
                let deadline = self.started
                    + Duration::from_millis(l.last_rx)
                    + keep_alive_window(l.keep_alive);
                if now >= deadline {
                    if l.protocol.is_v5() {
                        self.send_disconnect(
                            link as usize,
                            codec::reason::KEEP_ALIVE_TIMEOUT,
                            "keep-alive timeout",
                        );
                    }
                    self.close_link(link as usize, CloseCause::KeepAliveTimeout, now);
                } else {
                    self.timers.schedule(deadline, t);
                }
            }
            Timer::Retry {
                session,
                generation,
            } => self.retry_due(session as usize, generation, now),
            Timer::SessionExpiry {
                session,
                generation,
            } => self.session_expiry_due(session as usize, generation, now),
            Timer::WillDelay {
                session,
                generation,
            } => self.will_delay_due(session as usize, generation, now),
            Timer::RetainedExpiry { slot } => self.retained_expiry_due(slot),
            Timer::Bridge { bridge, generation } => {
                self.bridge_timer(bridge as usize, generation, now)
            }
            Timer::Sys => {
                self.publish_sys(now);
                if let Some(every) = self.settings.sys_interval {
                    self.timers.schedule(now + every, Timer::Sys);
                }
            }
        }
    }

    fn live_link(&self, link: u32, generation: u32) -> Option<&Link<T>> {
        self.links
            .get(link as usize)
            .filter(|l| l.generation == generation && l.state != LinkState::Closing)
    }

    /// Stops the broker: every connection is closed (wills published, as
    /// the connections did not send DISCONNECT) and listed for removal.
    pub fn shutdown(&mut self, now: Instant) {
        self.stop_bridges(now);
        let ids: Vec<usize> = self.links.iter().map(|(id, _)| id).collect();
        for id in ids {
            if self.links[id].protocol.is_v5() && self.links[id].state == LinkState::Connected {
                self.send_disconnect(
                    id,
                    codec::reason::SERVER_SHUTTING_DOWN,
                    "broker shutting down",
                );
            }
            self.close_link(id, CloseCause::Shutdown, now);
        }
    }

    /// MQTT 5 DISCONNECT with `reason` to link `id`.
    /// MQTT 5 DISCONNECT with `reason` to link `id`, before the broker
    /// closes it [MQTT-4.13.2-1], with `why` as its Reason String unless
    /// that would exceed the client's Maximum Packet Size.
    fn send_disconnect(&mut self, id: usize, reason: u8, why: &str) {
        let Some(link) = self.links.get(id) else {
            return;
        };
        let max = link.v5.as_ref().map_or(u32::MAX, |v| v.max_packet) as usize;
        let fits = why.len() <= usize::from(u16::MAX) && 2 + 4 + 1 + 3 + why.len() <= max;
        let properties = codec::Properties {
            reason_string: (fits && !why.is_empty()).then(|| codec::ByteStr::from(why)),
            ..Default::default()
        };
        self.send_packet(
            id,
            &Packet::Disconnect(codec::Disconnect { reason, properties }),
        );
    }
}

/// A client that asked for keep-alive `k` seconds is disconnected after
/// 1.5 k seconds of silence [MQTT-3.1.2-24].
fn keep_alive_window(k: u16) -> Duration {
    Duration::from_millis(u64::from(k) * 1500)
}

/// Milliseconds from `started` to `now`.
fn millis_since(started: Instant, now: Instant) -> u64 {
    u64::try_from(now.saturating_duration_since(started).as_millis()).unwrap_or(u64::MAX)
}

/// Whole seconds from `started` to `now`, plus one, so that 0 can mean
/// "never" in compact time fields (differences stay exact).
fn uptime_secs(started: Instant, now: Instant) -> u32 {
    let secs = now.saturating_duration_since(started).as_secs();
    u32::try_from(secs.saturating_add(1)).unwrap_or(u32::MAX)
}

/// A random number from the standard library's per-process hash seed.
pub(crate) fn random_seed() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(0);
    h.finish() as u32
}
