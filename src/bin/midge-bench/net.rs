//! One client connection of the bench: a non-blocking mio socket, the
//! protocol version its packets are decoded with, the bytes of a partial
//! packet carried between reads, an output buffer flushed once per loop
//! turn, and the bytes it has read and written.
//!
//! Reads go through one large scratch buffer shared by all connections, so
//! ten thousand idle connections cost no read buffers; only a packet split
//! across reads is copied into the connection's own `partial` vector.

use crate::decode::{self, Frame, Packet};
use crate::wire::Version;
use crate::ws::Ws;
use mio::net::TcpStream;
use mio::{Events, Interest, Registry, Token};
use std::io::{self, Read, Write};
use std::net::SocketAddr;

/// Size of the shared read buffer.
pub const SCRATCH: usize = 256 * 1024;

/// A client connection.
pub struct Conn {
    stream: TcpStream,
    partial: Vec<u8>,
    /// Bytes waiting to be written; encoders append here.
    pub tx: Vec<u8>,
    tx_pos: usize,
    /// False after a write hit `WouldBlock`, true again on a writable event.
    pub writable: bool,
    version: Version,
    /// Bytes read from the socket so far.
    pub rx_bytes: u64,
    /// Bytes written to the socket so far.
    pub tx_bytes: u64,
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
    /// Starts a non-blocking connect to `addr` and registers the socket for
    /// read and write readiness under `token`; what the broker sends is
    /// decoded at `version`.
    pub fn open(
        addr: SocketAddr,
        registry: &Registry,
        token: Token,
        version: Version,
    ) -> io::Result<Conn> {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        registry.register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)?;
        Ok(Conn {
            stream,
            partial: Vec::new(),
            tx: Vec::new(),
            tx_pos: 0,
            writable: true,
            version,
            rx_bytes: 0,
            tx_bytes: 0,
            ws: None,
        })
    }

    /// Called with `--ws` right after `open`, before anything is queued:
    /// the connection upgrades to WebSocket first and then carries its
    /// packets in frames (see `ws`).
    pub fn use_websockets(&mut self, addr: SocketAddr) {
        self.ws = Some(Ws::start(addr, &mut self.tx));
    }

    /// Bytes queued but not yet written.
    pub fn pending(&self) -> usize {
        self.tx.len() - self.tx_pos
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
            let n = match self.stream.read(scratch) {
                Ok(0) => return ReadEnd::Closed,
                Ok(n) => n,
                Err(e) if would_block(&e) => return ReadEnd::Open,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return ReadEnd::Failed(format!("read: {e}")),
            };
            self.rx_bytes += n as u64;
            let mut len = n;
            if let Some(ws) = self.ws.as_mut() {
                match ws.unwrap(&mut scratch[..n]) {
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
            // skipped.
            if n < scratch.len() {
                return ReadEnd::Open;
            }
        }
    }

    /// Writes queued bytes until done or `WouldBlock`. Returns an error
    /// description when the socket failed.
    pub fn flush(&mut self) -> Result<(), String> {
        let end = match self.ws.as_mut() {
            Some(ws) => ws.frame(&mut self.tx),
            None => self.tx.len(),
        };
        while self.tx_pos < end {
            match self
                .stream
                .write(self.tx.get(self.tx_pos..end).unwrap_or_default())
            {
                Ok(0) => return Err("write returned 0".into()),
                Ok(n) => {
                    self.tx_pos += n;
                    self.tx_bytes += n as u64;
                }
                Err(e) if would_block(&e) => {
                    self.writable = false;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("write: {e}")),
            }
        }
        if end < self.tx.len() {
            return Ok(()); // the rest waits for the WebSocket upgrade
        }
        self.tx.clear();
        self.tx_pos = 0;
        if let Some(ws) = self.ws.as_mut() {
            ws.cleared();
        }
        Ok(())
    }
}

/// Handles one poll's readiness events for connections indexed by token:
/// marks writable ones, reads readable ones (each packet goes to
/// `on_packet` with the connection's index) and takes every connection
/// that closed or failed out of `conns`, handing it to `closed` with its
/// index and the reason (its socket closes when the caller drops it).
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
                ReadEnd::Closed => "closed by the broker".to_string(),
                ReadEnd::Failed(e) => e,
            };
            if let Some(conn) = conns[c].take() {
                closed.push((c, why, conn));
            }
        }
    }
}
