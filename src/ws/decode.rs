//! The server's frame decoder: client frames in, the binary payload out as
//! one byte stream, in place.
//!
//! Contract: [`Decoder::feed`] takes whatever bytes the socket gave, at
//! any split, and leaves the unmasked payload of binary (and continuation)
//! frames at the front of the same buffer; what it holds between calls is
//! a partial header and a control frame's payload, never more than a few
//! hundred bytes, whatever the frames' lengths. Control frames are
//! answered through [`Decoder::take_pong`] (only the latest ping's, as RFC
//! 6455 5.5.3 allows, so a ping flood queues nothing) and
//! [`Decoder::peer_close`]. A frame that breaks the protocol is a
//! [`FrameError`] carrying the close code to send: 1002 for an unmasked
//! or malformed frame, 1003 for a text frame, 1009 for a message longer
//! than the limit, 1007 for a close reason that is not UTF-8.

use std::fmt;

use super::frame::{apply_mask, header_len, parse_header, Header, Opcode, MAX_CONTROL, MAX_HEADER};

/// Close code: normal closure.
pub const CLOSE_NORMAL: u16 = 1000;
/// Close code: protocol error.
pub const CLOSE_PROTOCOL: u16 = 1002;
/// Close code: data of a type the endpoint does not accept (text).
pub const CLOSE_UNSUPPORTED: u16 = 1003;
/// Close code: a payload that is not what its type says (bad UTF-8).
pub const CLOSE_INVALID: u16 = 1007;
/// Close code: a message too big to process.
pub const CLOSE_TOO_BIG: u16 = 1009;

/// Why the client's frames were refused, and the close code that says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameError {
    pub code: u16,
    pub what: &'static str,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "websocket: {} (close {})", self.what, self.code)
    }
}

impl std::error::Error for FrameError {}

fn refuse(code: u16, what: &'static str) -> FrameError {
    FrameError { code, what }
}

/// A control frame's payload (at most 125 bytes).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Control {
    len: u8,
    data: [u8; MAX_CONTROL],
}

impl Control {
    /// The payload.
    pub fn as_slice(&self) -> &[u8] {
        &self.data[..usize::from(self.len)]
    }
}

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Control({:?})", self.as_slice())
    }
}

/// What the client's close frame said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerClose {
    /// The status code, `None` for a close frame without a payload.
    pub code: Option<u16>,
}

/// The frame being read.
#[derive(Debug, Clone, Copy)]
struct Frame {
    opcode: Opcode,
    remaining: u64,
    mask: [u8; 4],
    mask_pos: usize,
}

/// Decoder state of one connection (see the module doc).
#[derive(Debug)]
pub struct Decoder {
    max_message: u64,
    head: [u8; MAX_HEADER],
    head_len: usize,
    frame: Option<Frame>,
    /// A binary message whose last frame has not come yet.
    fragmented: bool,
    /// Payload bytes of the current message so far.
    message_len: u64,
    control: Control,
    pong: Option<Control>,
    close: Option<PeerClose>,
}

impl Decoder {
    /// Called when the handshake is done. A decoder that refuses messages
    /// (a binary frame, or the fragments of one) longer than
    /// `max_message` bytes.
    pub fn new(max_message: u64) -> Decoder {
        Decoder {
            max_message,
            head: [0; MAX_HEADER],
            head_len: 0,
            frame: None,
            fragmented: false,
            message_len: 0,
            control: Control {
                len: 0,
                data: [0; MAX_CONTROL],
            },
            pong: None,
            close: None,
        }
    }

    /// Called with the bytes just read. Decodes them in place: returns `n`,
    /// the payload bytes now at `buf[..n]`, or the error to close with.
    /// After the client's close frame, bytes are ignored (`Ok(0)`).
    pub fn feed(&mut self, buf: &mut [u8]) -> Result<usize, FrameError> {
        let mut pos = 0;
        let mut out = 0;
        while pos < buf.len() && self.close.is_none() {
            let Some(mut frame) = self.frame else {
                pos += self.read_header(&buf[pos..])?;
                continue;
            };
            let take = usize::try_from(frame.remaining)
                .unwrap_or(usize::MAX)
                .min(buf.len() - pos);
            let chunk = &mut buf[pos..pos + take];
            frame.mask_pos = apply_mask(frame.mask, frame.mask_pos, chunk);
            if frame.opcode.is_control() {
                let at = usize::from(self.control.len);
                self.control.data[at..at + take].copy_from_slice(chunk);
                self.control.len += take as u8;
            } else {
                buf.copy_within(pos..pos + take, out);
                out += take;
            }
            pos += take;
            frame.remaining -= take as u64;
            self.frame = Some(frame);
            if frame.remaining == 0 {
                self.end_frame(frame)?;
            }
        }
        Ok(out)
    }

    /// Called after a read: the payload of the latest ping not answered
    /// yet, once.
    pub fn take_pong(&mut self) -> Option<Control> {
        self.pong.take()
    }

    /// The client's close frame, once it came: nothing after it is read.
    pub fn peer_close(&self) -> Option<PeerClose> {
        self.close
    }

    /// Takes header bytes from `input` (a frame boundary, or the middle of
    /// a header); returns how many it used. A complete header starts the
    /// frame.
    fn read_header(&mut self, input: &[u8]) -> Result<usize, FrameError> {
        let (header, used) = if self.head_len == 0 {
            match parse_header(input) {
                Some(parsed) => parsed,
                None => {
                    self.head[..input.len()].copy_from_slice(input);
                    self.head_len = input.len();
                    return Ok(input.len());
                }
            }
        } else {
            let need = if self.head_len < 2 {
                2
            } else {
                header_len(self.head[1])
            };
            let take = (need - self.head_len).min(input.len());
            self.head[self.head_len..self.head_len + take].copy_from_slice(&input[..take]);
            self.head_len += take;
            let Some((header, _)) = parse_header(&self.head[..self.head_len]) else {
                return Ok(take);
            };
            self.head_len = 0;
            (header, take)
        };
        self.start_frame(header)?;
        Ok(used)
    }

    /// Checks a header against the protocol and the limit and starts its
    /// frame (a frame without payload ends at once).
    fn start_frame(&mut self, header: Header) -> Result<(), FrameError> {
        if header.rsv != 0 {
            return Err(refuse(CLOSE_PROTOCOL, "reserved bits set"));
        }
        let Some(mask) = header.mask else {
            return Err(refuse(CLOSE_PROTOCOL, "unmasked client frame"));
        };
        if header.len >> 63 != 0 {
            return Err(refuse(CLOSE_PROTOCOL, "frame length with its top bit set"));
        }
        match header.opcode {
            Opcode::Text => return Err(refuse(CLOSE_UNSUPPORTED, "text frame")),
            Opcode::Reserved(_) => return Err(refuse(CLOSE_PROTOCOL, "reserved opcode")),
            Opcode::Binary if self.fragmented => {
                return Err(refuse(
                    CLOSE_PROTOCOL,
                    "new message inside a fragmented one",
                ))
            }
            Opcode::Continuation if !self.fragmented => {
                return Err(refuse(CLOSE_PROTOCOL, "continuation without a message"))
            }
            Opcode::Binary | Opcode::Continuation => {
                if header.opcode == Opcode::Binary {
                    self.message_len = 0;
                }
                self.message_len = self.message_len.saturating_add(header.len);
                if self.message_len > self.max_message {
                    return Err(refuse(CLOSE_TOO_BIG, "message larger than max_packet_size"));
                }
                self.fragmented = !header.fin;
            }
            Opcode::Close | Opcode::Ping | Opcode::Pong => {
                if !header.fin {
                    return Err(refuse(CLOSE_PROTOCOL, "fragmented control frame"));
                }
                if header.len > MAX_CONTROL as u64 {
                    return Err(refuse(CLOSE_PROTOCOL, "control frame over 125 bytes"));
                }
                self.control.len = 0;
            }
        }
        let frame = Frame {
            opcode: header.opcode,
            remaining: header.len,
            mask,
            mask_pos: 0,
        };
        self.frame = Some(frame);
        if header.len == 0 {
            self.end_frame(frame)?;
        }
        Ok(())
    }

    /// The frame's payload is all in: acts on a control frame.
    fn end_frame(&mut self, frame: Frame) -> Result<(), FrameError> {
        self.frame = None;
        match frame.opcode {
            Opcode::Ping => self.pong = Some(self.control),
            Opcode::Close => self.close = Some(close_frame(self.control.as_slice())?),
            _ => {}
        }
        Ok(())
    }
}

/// Reads a close frame's payload: empty, or a valid status code and a
/// UTF-8 reason.
fn close_frame(payload: &[u8]) -> Result<PeerClose, FrameError> {
    match payload {
        [] => Ok(PeerClose { code: None }),
        [_] => Err(refuse(
            CLOSE_PROTOCOL,
            "close frame with a one-byte payload",
        )),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            let valid = matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999);
            if !valid {
                return Err(refuse(CLOSE_PROTOCOL, "invalid close status code"));
            }
            if std::str::from_utf8(reason).is_err() {
                return Err(refuse(CLOSE_INVALID, "close reason is not UTF-8"));
            }
            Ok(PeerClose { code: Some(code) })
        }
    }
}
