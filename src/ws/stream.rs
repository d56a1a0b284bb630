//! One WebSocket connection driven by readiness, over a plain or TLS
//! stream: the handshake, then MQTT bytes in binary frames both ways.
//!
//! Contract, for the event loop's edge-triggered reads and writes (the
//! same as `tls::TlsStream`'s):
//! - [`WsStream::read`] answers the handshake first (nothing is read as
//!   MQTT before it), then returns the payload of the client's binary
//!   frames as one byte stream, decoded in the caller's buffer. It fills
//!   the buffer as long as the stream underneath has bytes: a short read
//!   (or `WouldBlock`) means that stream said `WouldBlock` or ended. Pongs
//!   and close replies are written out at once, up to `WouldBlock`.
//! - [`WsStream::write_vectored`] sends the caller's bytes as one binary
//!   frame per call, header and payload in one vectored write; a frame the
//!   socket took only part of is finished by the next calls, which the
//!   caller's queue (still holding the rest) makes. Control frames go out
//!   between data frames. [`WsStream::wants_write`] says output of the
//!   layer's own (the handshake answer, a header's rest, a pong, a close)
//!   is waiting, and `flush` writes it.
//! - A refused handshake is an `InvalidData` error naming the cause, after
//!   the HTTP error was queued (and written as far as the socket took it);
//!   a frame that breaks the protocol likewise, after the close frame with
//!   its code. The client's close frame is answered and then is the end of
//!   the stream.

use std::io::{self, IoSlice, Read, Write};

use super::decode::{Control, Decoder, FrameError, CLOSE_NORMAL};
use super::frame::{write_header, Header, Opcode, MAX_HEADER};
use super::handshake::{self, Refusal};
use crate::transport::Stream;

/// What a WebSocket listener's connections are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsLimits {
    /// The longest message (binary frames of one message together).
    pub max_message: u64,
    /// The longest handshake request (`websockets_headers_size`).
    pub headers_size: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the upgrade request.
    Handshake,
    /// Frames both ways.
    Open,
    /// The client closed (its close frame is answered): end of stream.
    PeerClosed,
    /// Refused or failed: what is queued is the last output.
    Failed,
}

/// A server-side WebSocket connection (see the module doc).
#[derive(Debug)]
pub struct WsStream {
    pub(crate) inner: Stream,
    limits: WsLimits,
    state: State,
    /// The request so far, while in `Handshake`.
    request: Vec<u8>,
    decoder: Decoder,
    /// Bytes of the layer's own to write before anything else: the
    /// handshake answer or refusal, or an encoded control frame.
    own: Vec<u8>,
    /// The rest of a data frame header the socket did not take.
    head: [u8; MAX_HEADER],
    head_at: usize,
    head_end: usize,
    /// Payload bytes of the current data frame not written yet.
    frame_left: u64,
    /// The latest ping not answered yet.
    pong: Option<Control>,
    /// A close frame to send (its status code, if any).
    close_due: Option<Option<u16>>,
    close_sent: bool,
}

impl WsStream {
    /// Called by the server for a socket (plain or TLS) accepted on a
    /// `protocol websockets` listener. Returns the stream waiting for the
    /// client's upgrade request.
    pub fn new(inner: Stream, limits: WsLimits) -> WsStream {
        WsStream {
            inner,
            limits,
            state: State::Handshake,
            request: Vec::new(),
            decoder: Decoder::new(limits.max_message),
            own: Vec::new(),
            head: [0; MAX_HEADER],
            head_at: 0,
            head_end: 0,
            frame_left: 0,
            pong: None,
            close_due: None,
            close_sent: false,
        }
    }

    /// True while output of the layer's own, or of the stream under it,
    /// waits for the socket.
    pub fn wants_write(&self) -> bool {
        !self.own.is_empty()
            || self.head_at < self.head_end
            || (self.pong.is_some() || self.close_due.is_some()) && !self.close_sent
            || self.inner.wants_write()
    }

    /// Called just before the connection is dropped: sends a close frame
    /// (1000) unless one was sent or a data frame is half written, then
    /// what the stream under it sends at the end. Errors are ignored.
    pub fn close_notify(&mut self) {
        if self.state == State::Open && self.close_due.is_none() {
            self.close_due = Some(Some(CLOSE_NORMAL));
        }
        let _ = self.push();
        self.inner.close_notify();
    }

    /// Writes the layer's own output: a header's rest, and at a frame
    /// boundary the queued answer and control frames. `WouldBlock` while
    /// some is left.
    fn push(&mut self) -> io::Result<()> {
        while self.head_at < self.head_end {
            let n = write_some(&mut self.inner, &self.head[self.head_at..self.head_end])?;
            self.head_at += n;
        }
        if self.frame_left > 0 {
            return Ok(());
        }
        loop {
            if self.own.is_empty() && !self.close_sent {
                if let Some(pong) = self.pong.take() {
                    self.own = control_frame(Opcode::Pong, pong.as_slice());
                } else if let Some(code) = self.close_due {
                    let payload = code.map(u16::to_be_bytes);
                    self.own = control_frame(Opcode::Close, payload.as_ref().map_or(&[], |c| c));
                    self.close_sent = true;
                }
            }
            if self.own.is_empty() {
                return Ok(());
            }
            let n = write_some(&mut self.inner, &self.own)?;
            self.own.drain(..n);
        }
    }

    /// `push`, where the socket not taking everything is no error (the
    /// caller asks for WRITABLE through `wants_write`).
    fn push_some(&mut self) -> io::Result<()> {
        match self.push() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            other => other,
        }
    }

    /// Reads the upgrade request; on its end queues the answer and opens
    /// the stream. `Ok(false)` at end of stream.
    fn read_request(&mut self, scratch: &mut [u8]) -> io::Result<bool> {
        let n = self.inner.read(scratch)?;
        if n == 0 {
            return Ok(false);
        }
        // One byte past the limit is enough to tell "too large" or "early
        // data": the request never holds more.
        let room = (self.limits.headers_size + 1).saturating_sub(self.request.len());
        self.request.extend_from_slice(&scratch[..n.min(room)]);
        match handshake::parse(&self.request, self.limits.headers_size) {
            Ok(None) => Ok(true),
            Ok(Some(upgrade)) if upgrade.len < self.request.len() => {
                Err(self.refuse(Refusal::EarlyData))
            }
            Ok(Some(upgrade)) => {
                self.own = handshake::response(&upgrade);
                self.request = Vec::new();
                self.state = State::Open;
                self.push_some()?;
                Ok(true)
            }
            Err(refusal) => Err(self.refuse(refusal)),
        }
    }

    /// Queues the HTTP error, writes what the socket takes, and returns
    /// the error to end the connection with.
    fn refuse(&mut self, refusal: Refusal) -> io::Error {
        self.own = handshake::refusal_response(refusal);
        self.request = Vec::new();
        self.state = State::Failed;
        let _ = self.push();
        let (code, _) = refusal.status();
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("websocket handshake refused with HTTP {code}: {refusal}"),
        )
    }

    /// Queues the close frame for a protocol error, writes what the socket
    /// takes, and returns the error to end the connection with.
    fn fail(&mut self, error: FrameError) -> io::Error {
        self.close_due = Some(Some(error.code));
        self.state = State::Failed;
        let _ = self.push();
        io::Error::new(io::ErrorKind::InvalidData, error)
    }

    /// After frames were decoded: the latest ping is to be answered, a
    /// close frame to be echoed.
    fn answer_control(&mut self) -> io::Result<()> {
        if let Some(pong) = self.decoder.take_pong() {
            self.pong = Some(pong);
        }
        if let Some(close) = self.decoder.peer_close() {
            self.state = State::PeerClosed;
            if self.close_due.is_none() {
                self.close_due = Some(close.code);
            }
        }
        if self.pong.is_some() || self.close_due.is_some() {
            self.push_some()?;
        }
        Ok(())
    }
}

/// One write of `bytes`; `WriteZero` if the stream took none.
fn write_some(inner: &mut Stream, bytes: &[u8]) -> io::Result<usize> {
    loop {
        match inner.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// A whole unmasked control frame, as the server sends it.
fn control_frame(opcode: Opcode, payload: &[u8]) -> Vec<u8> {
    super::frame::encode_frame(opcode, payload, None)
}

impl Read for WsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        loop {
            if filled == buf.len() {
                return Ok(filled);
            }
            let region = &mut buf[filled..];
            let result = match self.state {
                State::PeerClosed | State::Failed => return Ok(filled),
                State::Handshake => match self.read_request(region) {
                    Ok(true) => continue,
                    Ok(false) => return Ok(0),
                    Err(e) => Err(e),
                },
                State::Open => self.inner.read(region),
            };
            match result {
                Ok(0) => return Ok(filled),
                Ok(n) => {
                    let produced = match self.decoder.feed(&mut region[..n]) {
                        Ok(k) => k,
                        Err(e) => return Err(self.fail(e)),
                    };
                    filled += produced;
                    self.answer_control()?;
                    if n < region.len() && filled > 0 {
                        return Ok(filled);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && filled > 0 => return Ok(filled),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl Write for WsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if self.state != State::Open {
            return Err(closed());
        }
        self.push()?;
        if self.close_sent {
            return Err(closed());
        }
        // A frame is what one vectored write can carry.
        let offered: u64 = bufs.iter().take(SLICES - 1).map(|b| b.len() as u64).sum();
        if offered == 0 {
            return Ok(0);
        }
        if self.frame_left > 0 {
            let n = write_limited(&mut self.inner, &[], bufs, self.frame_left)?;
            self.frame_left -= n as u64;
            return Ok(n);
        }
        let header = Header {
            fin: true,
            rsv: 0,
            opcode: Opcode::Binary,
            mask: None,
            len: offered,
        };
        let mut head = [0u8; MAX_HEADER];
        let head_len = write_header(&header, &mut head);
        let n = write_limited(&mut self.inner, &head[..head_len], bufs, offered)?;
        if n < head_len {
            // The frame is committed: its header's rest goes first, then
            // the payload from the caller's next writes.
            self.head = head;
            self.head_at = n;
            self.head_end = head_len;
            self.frame_left = offered;
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let payload = n - head_len;
        self.frame_left = offered - payload as u64;
        if payload == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(payload)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.push()?;
        self.inner.flush()
    }
}

/// The most slices one write passes down (a header and the payload's).
const SLICES: usize = 64;

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "websocket closed")
}

/// One vectored write of `head` and then at most `limit` bytes of `bufs`.
/// Returns how many bytes the stream took (of `head` first).
fn write_limited(
    inner: &mut Stream,
    head: &[u8],
    bufs: &[IoSlice<'_>],
    limit: u64,
) -> io::Result<usize> {
    let mut slices: [IoSlice<'_>; SLICES] = [IoSlice::new(&[]); SLICES];
    let mut count = 0;
    if !head.is_empty() {
        slices[0] = IoSlice::new(head);
        count = 1;
    }
    let mut left = limit;
    for buf in bufs {
        if left == 0 || count == SLICES {
            break;
        }
        let take = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        slices[count] = IoSlice::new(&buf[..take]);
        count += 1;
        left -= take as u64;
    }
    loop {
        match inner.write_vectored(&slices[..count]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
