//! One client connection of the bench: a non-blocking socket (plain or
//! TLS, see `socket`), with `--ws` a WebSocket layer above it (see `ws`),
//! the protocol version its packets are decoded with,
//! the bytes of a partial packet carried between reads, an output buffer
//! flushed once per loop turn, and the bytes its TCP socket has read and
//! written.
//!
//! Reads go through one large scratch buffer shared by all connections, so
//! ten thousand idle connections cost no read buffers; only a packet split
//! across reads is copied into the connection's own `partial` vector.

use crate::decode::{self, Frame, Packet};
use crate::socket::{Dialer, Socket};
use crate::wire::{self, Version};
use crate::ws::Ws;
use mio::{Events, Interest, Poll, Registry, Token};
use std::io;
use std::time::{Duration, Instant};

/// Why [`handle_events`] took a connection the broker closed.
pub const CLOSED_BY_BROKER: &str = "closed by the broker";

/// Size of the shared read buffer.
pub const SCRATCH: usize = 256 * 1024;

/// A client connection.
pub struct Conn {
    socket: Socket,
    partial: Vec<u8>,
    /// Bytes waiting to be written; encoders append here.
    pub tx: Vec<u8>,
    tx_pos: usize,
    /// False after a write hit `WouldBlock`, true again on a writable event.
    pub writable: bool,
    version: Version,
    /// The WebSocket layer, with `--ws`.
    ws: Option<Ws>,
}

/// How a read pass ended.
pub enum ReadEnd {
    /// The socket is drained and still open.
    Open,
    /// The peer closed the connection.
    Closed,
    /// A socket error or a protocol error in what the broker sent.
    Failed(String),
}

/// True for the error kinds that mean "try again later".
fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

/// Feeds every complete packet at the start of `buf`, decoded at
/// `version`, to `on_packet`; returns how many bytes were consumed.
fn parse_all<F>(
    buf: &[u8],
    version: Version,
    tx: &mut Vec<u8>,
    on_packet: &mut F,
) -> Result<usize, String>
where
    F: FnMut(Packet<'_>, &mut Vec<u8>) -> Result<(), String>,
{
    let mut at = 0;
    loop {
        let rest = buf.get(at..).unwrap_or_default();
        match decode::frame(rest) {
            Frame::Incomplete => return Ok(at),
            Frame::Malformed => return Err("malformed remaining length from broker".into()),
            Frame::Packet { first, body, total } => {
                let body = rest.get(body..total).unwrap_or_default();
                on_packet(decode::parse(first, body, version)?, tx)?;
                at += total;
            }
        }
    }
}

impl Conn {
    /// Starts a non-blocking connect with `dialer` and registers the
    /// socket for read and write readiness under `token`; what the broker
    /// sends is decoded at `version`. With `--ws` the upgrade request is
    /// queued first, and the packets queued after it travel in frames.
    pub fn open(
        dialer: &Dialer,
        registry: &Registry,
        token: Token,
        version: Version,
    ) -> io::Result<Conn> {
        let mut socket = dialer.dial()?;
        registry.register(
            &mut socket.tcp.tcp,
            token,
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let mut tx = Vec::new();
        let ws = dialer.websockets.then(|| Ws::start(dialer.addr, &mut tx));
        Ok(Conn {
            socket,
            partial: Vec::new(),
            tx,
            tx_pos: 0,
            writable: true,
            version,
            ws,
        })
    }

    /// True while bytes are queued that may go out now (with `--ws`,
    /// only the upgrade request until it is answered), or TLS records
    /// wait for the socket: the loop flushes such a connection when it is
    /// writable.
    pub fn has_output(&self) -> bool {
        let end = match &self.ws {
            Some(ws) => ws.sendable(self.tx.len()),
            None => self.tx.len(),
        };
        self.tx_pos < end || self.socket.wants_write()
    }

    /// Bytes the TCP socket has read so far (TLS records included).
    pub fn rx_bytes(&self) -> u64 {
        self.socket.rx_bytes()
    }

    /// Bytes the TCP socket has written so far (TLS records included).
    pub fn tx_bytes(&self) -> u64 {
        self.socket.tx_bytes()
    }

    /// The negotiated TLS parameters (see `Tls::summary`); `None` for
    /// plain TCP or before the handshake ended.
    pub fn tls_summary(&self) -> Option<String> {
        self.socket.tls_summary()
    }

    /// Called when the run ends the connection: queues DISCONNECT and,
    /// with TLS, `close_notify`; the next flush sends them.
    pub fn close(&mut self) {
        wire::disconnect(&mut self.tx);
        self.socket.close();
    }

    /// Called on a readable event: reads until the socket is drained and
    /// hands each complete packet to `on_packet`, which may append replies
    /// to the connection's output buffer.
    pub fn read_packets<F>(&mut self, scratch: &mut [u8], mut on_packet: F) -> ReadEnd
    where
        F: FnMut(Packet<'_>, &mut Vec<u8>) -> Result<(), String>,
    {
        let version = self.version;
        loop {
            let n = match self.socket.read(scratch) {
                Ok(0) => return ReadEnd::Closed,
                Ok(n) => n,
                Err(e) if would_block(&e) => return ReadEnd::Open,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return ReadEnd::Failed(format!("read: {e}")),
            };
            let mut len = n;
            if let Some(ws) = self.ws.as_mut() {
                match ws.unwrap(scratch.get_mut(..n).unwrap_or_default()) {
                    Ok(k) => len = k,
                    Err(e) => return ReadEnd::Failed(e),
                }
            }
            let data = scratch.get(..len).unwrap_or_default();
            let result = if self.partial.is_empty() {
                parse_all(data, version, &mut self.tx, &mut on_packet).map(|used| {
                    self.partial
                        .extend_from_slice(data.get(used..).unwrap_or_default());
                })
            } else {
                self.partial.extend_from_slice(data);
                parse_all(&self.partial, version, &mut self.tx, &mut on_packet).map(|used| {
                    self.partial.drain(..used);
                })
            };
            if let Err(e) = result {
                return ReadEnd::Failed(e);
            }
            if self.ws.as_ref().is_some_and(|ws| ws.closed) {
                return ReadEnd::Closed;
            }
            // A short read drained the socket; on Linux a new arrival raises
            // a fresh edge, so the extra read that would say WouldBlock is
            // skipped (unless TLS saw the end: the next read says so).
            if n < scratch.len() && !self.socket.ended() {
                return ReadEnd::Open;
            }
        }
    }

    /// Writes queued bytes (with `--ws`, framed first, and only the
    /// upgrade request until the broker answered it), then any TLS records
    /// still waiting, until done or `WouldBlock` (which clears
    /// `writable`). Returns an error description when the socket failed.
    pub fn flush(&mut self) -> Result<(), String> {
        let end = match self.ws.as_mut() {
            Some(ws) => ws.frame(&mut self.tx),
            None => self.tx.len(),
        };
        while self.tx_pos < end {
            match self
                .socket
                .write(self.tx.get(self.tx_pos..end).unwrap_or_default())
            {
                // The TLS handshake holds plaintext back: a later turn.
                Ok(0) => return Ok(()),
                Ok(n) => self.tx_pos += n,
                Err(e) if would_block(&e) => {
                    self.writable = false;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("write: {e}")),
            }
        }
        if end < self.tx.len() {
            // The rest waits for the WebSocket upgrade; TLS records that
            // wait still go out.
            return match self.socket.flush() {
                Err(e) if !would_block(&e) => Err(format!("write: {e}")),
                Err(_) => {
                    self.writable = false;
                    Ok(())
                }
                Ok(()) => Ok(()),
            };
        }
        self.tx.clear();
        self.tx_pos = 0;
        if let Some(ws) = self.ws.as_mut() {
            ws.cleared();
        }
        match self.socket.flush() {
            Ok(()) => Ok(()),
            Err(e) if would_block(&e) => {
                self.writable = false;
                Ok(())
            }
            Err(e) => Err(format!("write: {e}")),
        }
    }
}

/// Handles one poll's readiness events for connections indexed by token:
/// marks writable ones, reads readable ones (each packet goes to
/// `on_packet` with the connection's index) and takes every connection
/// that closed or failed out of `conns`, handing it to `closed` with its
/// index and the reason (its socket closes when the caller drops it).
/// One wait of a scenario's poll loop: up to `timeout` for events (an
/// interrupted wait is an empty one). Returns the time after it.
pub fn wait(poll: &mut Poll, events: &mut Events, timeout: Duration) -> Result<Instant, String> {
    if let Err(e) = poll.poll(events, Some(timeout)) {
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("poll: {e}"));
        }
    }
    Ok(Instant::now())
}

pub fn handle_events<F>(
    events: &Events,
    conns: &mut [Option<Conn>],
    scratch: &mut [u8],
    closed: &mut Vec<(usize, String, Conn)>,
    mut on_packet: F,
) where
    F: FnMut(usize, Packet<'_>, &mut Vec<u8>) -> Result<(), String>,
{
    for ev in events.iter() {
        let c = ev.token().0;
        let Some(conn) = conns.get_mut(c).and_then(Option::as_mut) else {
            continue;
        };
        if ev.is_writable() {
            conn.writable = true;
        }
        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
            let why = match conn.read_packets(scratch, |p, tx| on_packet(c, p, tx)) {
                ReadEnd::Open => continue,
                ReadEnd::Closed => CLOSED_BY_BROKER.to_string(),
                ReadEnd::Failed(e) => e,
            };
            if let Some(conn) = conns[c].take() {
                closed.push((c, why, conn));
            }
        }
    }
}
