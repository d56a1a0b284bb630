//! One network connection as the broker sees it: its buffers, its state,
//! and what the peer negotiated in CONNECT.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::BytesMut;

use crate::codec::Protocol;
use crate::outbuf::OutBuf;

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
    pub(super) last_rx: Instant,
    pub(super) generation: u32,
    /// The session index, once `Connected`.
    pub(super) session: u32,
    pub(super) listener: u16,
    pub(super) keep_alive: u16,
    pub(super) state: LinkState,
    pub(super) protocol: Protocol,
    pub(super) dirty: bool,
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
        now: Instant,
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
            last_rx: now,
            dirty: false,
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
}

/// Adds `id` to the flush list once.
pub(super) fn mark_dirty<T>(dirty: &mut Vec<usize>, id: usize, link: &mut Link<T>) {
    if !link.dirty {
        link.dirty = true;
        dirty.push(id);
    }
}
