//! One network connection as the broker sees it: its buffers, its state,
//! and what the peer negotiated in CONNECT.

use std::net::SocketAddr;

use bytes::BytesMut;

use crate::codec::{ByteStr, Protocol};
use crate::outbuf::OutBuf;

/// Most outbound topic aliases midge assigns on one connection, whatever
/// the client's Topic Alias Maximum: the table is per connection and must
/// stay small on a Pi.
pub const OUT_ALIAS_CAP: u16 = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LinkState {
    /// Socket open, CONNECT not yet received.
    AwaitConnect,
    /// A bridge's link: CONNECT sent, CONNACK awaited.
    AwaitConnack,
    /// CONNECT accepted; `session` is valid.
    Connected,
    /// Ending: nothing more is read; pending output is flushed, then the
    /// event loop removes it.
    Closing,
}

/// One network connection.
#[derive(Debug)]
pub struct Link<T> {
    /// The transport (the broker never touches it).
    pub io: T,
    /// Received bytes not yet parsed (a partial packet at most, between
    /// calls to `process_input`).
    pub rx: RxBuf,
    /// Bytes to send.
    pub tx: OutBuf,
    /// Whether the event loop has asked for WRITABLE events.
    pub write_interest: bool,
    pub peer: SocketAddr,
    /// When a packet last arrived, in milliseconds since the broker
    /// started (half the size of an `Instant`).
    pub(super) last_rx: u64,
    pub(super) generation: u32,
    /// The session index, once `Connected`.
    pub(super) session: u32,
    pub(super) listener: u16,
    pub(super) keep_alive: u16,
    pub(super) state: LinkState,
    pub(super) protocol: Protocol,
    /// Which of the broker's link lists hold it: [`DIRTY`], [`PRESSED`];
    /// and the [`PEER_BRIDGE`] flag (one byte for all keeps `Link` within
    /// its size budget).
    pub(super) listed: u8,
    /// MQTT 5 state of the connection; `None` for 3.x.
    pub(super) v5: Option<Box<V5Link>>,
}

/// What an MQTT 5 client asked for in CONNECT, and the topic aliases of its
/// connection (they live and die with it [MQTT-3.3.2-7]).
#[derive(Debug)]
pub(super) struct V5Link {
    /// The client's Maximum Packet Size; `u32::MAX` when it set none.
    pub max_packet: u32,
    /// Request Problem Information: Reason Strings and User Properties may
    /// go on packets other than CONNACK, PUBLISH and DISCONNECT.
    pub problem_info: bool,
    /// Inbound aliases: slot `alias - 1` holds its topic (compact copies),
    /// grown on use up to the listener's `max_topic_alias`.
    pub inbound: Vec<Option<ByteStr>>,
    /// Outbound aliases, assigned first come, first served: entry `i` is
    /// the topic of alias `i + 1`.
    /// With each, the topic run (see [`TopicRuns`]) it last matched.
    pub outbound: Vec<(Box<str>, u64)>,
    /// The entry of `outbound` used last: consecutive messages mostly share
    /// their topic, so it is compared first.
    pub recent: usize,
    /// The topic run `recent` last matched (0 for none): the fan-out case
    /// is one compare, without touching the table.
    pub recent_run: u64,
    /// How many outbound aliases may be assigned: the client's Topic Alias
    /// Maximum, at most [`OUT_ALIAS_CAP`].
    pub out_max: u16,
    /// Since when (see `uptime_secs`) deliveries have found the output past
    /// the high-water mark with nothing written since; 0 when not. Only
    /// MQTT 5 has a reason code to tell a client it was dropped for that.
    pub blocked_since: u32,
    /// On a bridge's link: the `out` rules that give the far side's topic
    /// (such a link has a `V5Link` whatever its protocol).
    pub remap: Option<std::rc::Rc<[super::bridge::OutRule]>>,
}

impl V5Link {
    /// A connection's state: the client's Maximum Packet Size
    /// (`u32::MAX` for none), Request Problem Information, and its Topic
    /// Alias Maximum (capped at [`OUT_ALIAS_CAP`]).
    pub fn new(max_packet: u32, problem_info: bool, topic_alias_max: u16) -> V5Link {
        V5Link {
            max_packet,
            problem_info,
            inbound: Vec::new(),
            outbound: Vec::new(),
            recent: 0,
            recent_run: 0,
            out_max: topic_alias_max.min(OUT_ALIAS_CAP),
            blocked_since: 0,
            remap: None,
        }
    }

    /// The outbound form of `topic`: the topic and a new alias the first
    /// time (while aliases are left), the alias alone with an empty topic
    /// afterwards, the topic alone once aliases ran out.
    ///
    /// The table is at most [`OUT_ALIAS_CAP`] entries, so a scan (after the
    /// most recent entry) costs less than hashing the topic for every
    /// subscriber copy, as a hash map would.
    ///
    /// `run` is the message's topic run ([`TopicRuns`], 0 for none): when
    /// the most recent entry last matched the same run, it is the same
    /// topic, and no string is compared (fan-out: the first subscriber
    /// compares, the others do not).
    #[inline]
    pub fn alias_for<'t>(&mut self, topic: &'t str, run: u64) -> (&'t str, Option<u16>) {
        match self.run_alias(run) {
            Some(alias) => ("", Some(alias)),
            None => self.alias_by_name(topic, run),
        }
    }

    /// The alias of topic run `run` when it is the one this connection
    /// used last (the fan-out case: one compare, inlined into each
    /// subscriber copy). Only [`V5Link::alias_by_name`] sets `recent_run`,
    /// so a connection without outbound aliases, or a bridge's (whose
    /// topics are remapped), never has one.
    #[inline(always)]
    pub fn run_alias(&self, run: u64) -> Option<u16> {
        (run != 0 && self.recent_run == run).then_some(self.recent as u16 + 1)
    }

    /// [`V5Link::alias_for`] when the run does not tell: by the topic.
    #[inline(never)]
    pub fn alias_by_name<'t>(&mut self, topic: &'t str, run: u64) -> (&'t str, Option<u16>) {
        if self.out_max == 0 {
            return (topic, None);
        }
        if run != 0 {
            // Equal numbers mean equal topics: no string compared.
            if let Some(i) = self.outbound.iter().position(|e| e.1 == run) {
                self.recent = i;
                self.recent_run = run;
                return ("", Some(i as u16 + 1));
            }
        }
        let found = match self.outbound.get(self.recent) {
            Some((t, _)) if **t == *topic => Some(self.recent),
            _ => self.outbound.iter().position(|(t, _)| **t == *topic),
        };
        if let Some(i) = found {
            self.outbound[i].1 = run;
            self.recent = i;
            self.recent_run = run;
            return ("", Some(i as u16 + 1));
        }
        let next = self.outbound.len();
        if next >= usize::from(self.out_max) {
            return (topic, None);
        }
        self.outbound.push((topic.into(), run));
        self.recent = next;
        self.recent_run = run;
        (topic, Some(next as u16 + 1))
    }
}

/// Numbers runs of consecutive routed messages with the same topic, so
/// that the connections a message fans out to can tell "same topic as the
/// last message I aliased" by comparing two integers. A run's number is
/// never reused, so equal numbers mean equal topics; 0 means "not
/// numbered" (a topic longer than the buffer kept).
#[derive(Debug)]
pub(super) struct TopicRuns {
    last: [u8; RUN_TOPIC_MAX],
    len: usize,
    run: u64,
}

/// Longest topic [`TopicRuns`] numbers.
const RUN_TOPIC_MAX: usize = 96;

impl TopicRuns {
    /// Called when a message is about to be delivered to several
    /// connections. Returns its topic's run number.
    pub(super) fn of(&mut self, topic: &str) -> u64 {
        let t = topic.as_bytes();
        if t.len() > RUN_TOPIC_MAX {
            return 0;
        }
        if self.run != 0 && self.len <= RUN_TOPIC_MAX && self.last[..self.len] == *t {
            return self.run;
        }
        self.last[..t.len()].copy_from_slice(t);
        self.len = t.len();
        self.run += 1;
        self.run
    }
}

impl TopicRuns {
    /// A number no topic has had yet, for the route cache to give the topic
    /// it keeps (numbers from [`TopicRuns::of`] and from here never meet:
    /// the run in progress ends).
    pub(super) fn fresh(&mut self) -> u64 {
        self.run += 1;
        self.len = RUN_TOPIC_MAX + 1;
        self.run
    }
}

impl Default for TopicRuns {
    fn default() -> TopicRuns {
        TopicRuns {
            last: [0; RUN_TOPIC_MAX],
            len: 0,
            run: 0,
        }
    }
}

/// A link's receive buffer: no allocation at all while empty, which an idle
/// connection is between reads.
#[derive(Debug, Default)]
pub struct RxBuf(Option<Box<BytesMut>>);

impl RxBuf {
    /// Called by the event loop (or a test) with bytes read from the socket;
    /// appends them.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.0
                .get_or_insert_with(Box::default)
                .extend_from_slice(bytes);
        }
    }

    /// The bytes not yet parsed.
    pub(super) fn bytes(&self) -> &[u8] {
        self.0.as_deref().map_or(&[], |b| &b[..])
    }

    pub(super) fn is_empty(&self) -> bool {
        self.bytes().is_empty()
    }

    /// Makes room for `n` more bytes (the rest of a partial packet).
    pub(super) fn reserve(&mut self, n: usize) {
        self.0.get_or_insert_with(Box::default).reserve(n);
    }

    /// Takes the first `n` bytes, which `codec::check` found to be a packet.
    pub(super) fn split_to(&mut self, n: usize) -> bytes::Bytes {
        match self.0.as_mut() {
            Some(b) => b.split_to(n.min(b.len())).freeze(),
            None => bytes::Bytes::new(),
        }
    }

    /// Frees the buffer.
    pub(super) fn clear(&mut self) {
        self.0 = None;
    }
}

impl<T> Link<T> {
    /// A link that has not sent CONNECT yet.
    pub(super) fn new(
        io: T,
        peer: SocketAddr,
        listener: u16,
        generation: u32,
        last_rx: u64,
    ) -> Link<T> {
        Link {
            io,
            rx: RxBuf::default(),
            tx: OutBuf::default(),
            write_interest: false,
            peer,
            listener,
            generation,
            state: LinkState::AwaitConnect,
            protocol: Protocol::V311,
            session: u32::MAX,
            keep_alive: 0,
            last_rx,
            listed: 0,
            v5: None,
        }
    }

    /// True once the link is ending; the event loop stops reading it.
    pub fn is_closing(&self) -> bool {
        self.state == LinkState::Closing
    }

    /// The index of the link's session (meaningful once `Connected`).
    pub(super) fn sid(&self) -> usize {
        self.session as usize
    }

    /// May Reason Strings and User Properties go on acknowledgements?
    pub(super) fn problem_info(&self) -> bool {
        self.v5.as_ref().is_none_or(|v| v.problem_info)
    }
}

/// `Link::listed` bit: in `Broker::dirty`, the links with output to flush.
pub(super) const DIRTY: u8 = 1;
/// `Link::listed` bit: in `Broker::pressed`, the links whose output passed
/// the high-water mark.
pub(super) const PRESSED: u8 = 2;

/// `Link::listed` flag, set at CONNECT: the client is a 3.x bridge that
/// set the `try_private` bit, so its subscriptions are No Local and Retain
/// As Published (as Mosquitto treats such bridges).
pub(super) const PEER_BRIDGE: u8 = 4;

/// Adds `id` to `list` (the list that `bit` stands for) once.
pub(super) fn list_once<T>(list: &mut Vec<usize>, bit: u8, id: usize, link: &mut Link<T>) {
    if link.listed & bit == 0 {
        link.listed |= bit;
        list.push(id);
    }
}

/// Adds `id` to the flush list once.
#[inline]
pub(super) fn mark_dirty<T>(dirty: &mut Vec<usize>, id: usize, link: &mut Link<T>) {
    list_once(dirty, DIRTY, id, link);
}

/// Takes every id of `list` (the list that `bit` stands for) into `out`,
/// clearing their bits.
pub(super) fn take_listed<T>(
    list: &mut Vec<usize>,
    bit: u8,
    links: &mut slab::Slab<Link<T>>,
    out: &mut Vec<usize>,
) {
    out.clear();
    std::mem::swap(out, list);
    for &id in out.iter() {
        if let Some(l) = links.get_mut(id) {
            l.listed &= !bit;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_runs_number_each_run_once_and_never_reuse_a_number() {
        let mut runs = TopicRuns::default();
        let a = runs.of("house/a");
        assert_eq!(runs.of("house/a"), a, "the same run");
        let b = runs.of("house/b");
        let a2 = runs.of("house/a");
        assert!(
            a != 0 && b != a && a2 != a && a2 != b,
            "a new run: {a} {b} {a2}"
        );
        assert_eq!(runs.of(&"x".repeat(RUN_TOPIC_MAX + 1)), 0, "too long: none");
        // Unnumbered, it does not end the run: equal numbers still mean
        // equal topics.
        assert_eq!(runs.of("house/a"), a2);
    }

    fn link(out_max: u16) -> V5Link {
        V5Link::new(u32::MAX, true, out_max)
    }

    #[test]
    fn a_matching_run_reuses_the_alias_and_other_runs_compare_the_topic() {
        let mut runs = TopicRuns::default();
        let mut l = link(2);
        let r1 = runs.of("t/1");
        assert_eq!(l.alias_for("t/1", r1), ("t/1", Some(1)), "set up");
        assert_eq!(l.alias_for("t/1", r1), ("", Some(1)));
        let r2 = runs.of("t/2");
        assert_eq!(l.alias_for("t/2", r2), ("t/2", Some(2)));
        // Back to t/1 in a new run, and with no run at all: found by name.
        let r3 = runs.of("t/1");
        assert_eq!(l.alias_for("t/1", r3), ("", Some(1)));
        assert_eq!(l.alias_for("t/1", 0), ("", Some(1)));
        assert_eq!(
            l.alias_for("t/3", runs.of("t/3")),
            ("t/3", None),
            "table full"
        );
        // A run number only ever stands for its own topic: t/2's run does
        // not make t/3 look like alias 2.
        assert_eq!(l.alias_for("t/2", r2), ("", Some(2)));
        assert_eq!(l.alias_for("t/3", 0), ("t/3", None));
    }

    #[test]
    fn fresh_numbers_never_meet_those_of_runs() {
        let mut runs = TopicRuns::default();
        let a = runs.of("t/a");
        let f = runs.fresh();
        let a2 = runs.of("t/a");
        assert!(f != a && a2 != f && a2 != a, "{a} {f} {a2}");
    }

    #[test]
    fn an_alias_is_found_by_its_topics_number_among_others() {
        let mut runs = TopicRuns::default();
        let mut l = link(4);
        let (x, y) = (runs.fresh(), runs.fresh());
        assert_eq!(l.alias_for("x", x), ("x", Some(1)));
        assert_eq!(l.alias_for("y", y), ("y", Some(2)));
        assert_eq!(l.alias_for("x", x), ("", Some(1)), "by number");
        // A new number for the same topic: found by name, and renumbered.
        let x2 = runs.fresh();
        assert_eq!(l.alias_for("x", x2), ("", Some(1)));
        assert_eq!(l.alias_for("y", y), ("", Some(2)));
        assert_eq!(l.alias_for("x", x2), ("", Some(1)));
    }
}
