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
    pub(super) dirty: bool,
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
    pub outbound: Vec<Box<str>>,
    /// The entry of `outbound` used last: consecutive messages mostly share
    /// their topic, so it is compared first.
    pub recent: usize,
    /// How many outbound aliases may be assigned: the client's Topic Alias
    /// Maximum, at most [`OUT_ALIAS_CAP`].
    pub out_max: u16,
    /// Since when (see `uptime_secs`) deliveries have found the output past
    /// the high-water mark with nothing written since; 0 when not. Only
    /// MQTT 5 has a reason code to tell a client it was dropped for that.
    pub blocked_since: u32,
}

impl V5Link {
    /// The outbound form of `topic`: the topic and a new alias the first
    /// time (while aliases are left), the alias alone with an empty topic
    /// afterwards, the topic alone once aliases ran out.
    ///
    /// The table is at most [`OUT_ALIAS_CAP`] entries, so a scan (after the
    /// most recent entry) costs less than hashing the topic for every
    /// subscriber copy, as a hash map would.
    pub fn alias_for<'t>(&mut self, topic: &'t str) -> (&'t str, Option<u16>) {
        if self.out_max == 0 {
            return (topic, None);
        }
        let found = match self.outbound.get(self.recent) {
            Some(t) if **t == *topic => Some(self.recent),
            _ => self.outbound.iter().position(|t| **t == *topic),
        };
        if let Some(i) = found {
            self.recent = i;
            return ("", Some(i as u16 + 1));
        }
        let next = self.outbound.len();
        if next >= usize::from(self.out_max) {
            return (topic, None);
        }
        self.outbound.push(topic.into());
        self.recent = next;
        (topic, Some(next as u16 + 1))
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
            dirty: false,
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

/// Adds `id` to the flush list once.
pub(super) fn mark_dirty<T>(dirty: &mut Vec<usize>, id: usize, link: &mut Link<T>) {
    if !link.dirty {
        link.dirty = true;
        dirty.push(id);
    }
}
