//! Record framing and file headers: the byte layout shared by the log and
//! the snapshot.
//!
//! # Frame
//! `[u32 LE body length][u32 LE CRC-32C of (the 4 length bytes ++ body)][body]`
//!
//! - The CRC covers the length, so a damaged length is caught as a CRC
//!   mismatch rather than followed.
//! - A length over the caller's `max_record`, or running past the end of the
//!   buffer, stops the walk: it is never used to allocate or to index.
//! - A zero-length frame is well formed but is never a record: appends
//!   refuse an empty body, the log treats an empty frame as a bad record, and
//!   the snapshot uses one as its end marker (so the marker cannot be
//!   mistaken for a record).
//! - The CRC is not chained across frames: every frame checks on its own.
//!   Chaining guards against stale but valid frames after the real end; here
//!   files are never reused or preallocated and a bad tail is truncated
//!   before anything is appended after it, so the chain would add nothing but
//!   a dependency between the snapshot writer's chunks.
//!
//! # Header
//! Every file starts with [`HEADER_LEN`] bytes:
//! `[8-byte magic][u32 LE format version][u64 LE generation][u32 LE CRC-32C of the 20 bytes before]`.
//!
//! [`Frames`] walks a buffer and yields bodies as slices of it (no copy),
//! then [`Frames::end`] says how far the good frames go and why the walk
//! stopped.

use super::crc::{crc32c, extend};
use std::fmt;

/// Bytes before a frame's body.
pub const FRAME_HEADER: usize = 8;

/// Bytes of a file header.
pub const HEADER_LEN: usize = 24;

/// The on-disk format version written and accepted.
pub const VERSION: u32 = 1;

/// The largest body a frame can describe (its length is a `u32`).
pub const MAX_BODY: usize = u32::MAX as usize;

/// Why a walk stopped early, or why a file is damaged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// A frame's header or body runs past the end of the data.
    Torn,
    /// A frame's CRC does not match its length and body.
    BadCrc,
    /// A frame's length is over the `max_record` limit.
    TooLong,
    /// A zero-length frame where a record was expected.
    Empty,
    /// The file header is short, has the wrong magic or a bad CRC.
    BadHeader,
    /// The file header names a format version this code does not read.
    Version(u32),
    /// The header's generation does not match the file's name.
    Generation,
    /// A snapshot ends without its end marker.
    NoEnd,
    /// A snapshot has bytes after its end marker.
    Trailing,
}

impl fmt::Display for Why {
    /// Formats the reason for a log line or an error message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Torn => f.write_str("record cut short"),
            Why::BadCrc => f.write_str("crc mismatch"),
            Why::TooLong => f.write_str("record length over the maximum"),
            Why::Empty => f.write_str("zero-length record"),
            Why::BadHeader => f.write_str("bad file header"),
            Why::Version(v) => write!(f, "unsupported format version {v}"),
            Why::Generation => f.write_str("generation does not match the file name"),
            Why::NoEnd => f.write_str("no end marker"),
            Why::Trailing => f.write_str("bytes after the end marker"),
        }
    }
}

/// Where and why a walk stopped before the end of its buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stop {
    /// Offset of the frame that could not be read.
    pub offset: usize,
    pub why: Why,
}

/// Appends the frame of `body` to `out`. Called by the log and the snapshot
/// writer after they have checked `body.len() <= MAX_BODY`.
pub fn encode(out: &mut Vec<u8>, body: &[u8]) {
    let len = (body.len() as u32).to_le_bytes();
    let crc = extend(crc32c(&len), body);
    out.extend_from_slice(&len);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(body);
}

/// Bytes `body_len` takes once framed; used to size buffers and offsets.
pub fn framed_len(body_len: usize) -> usize {
    FRAME_HEADER + body_len
}

/// Reads the little-endian `u32` at `at`, if the four bytes are there.
fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    let b = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Appends a file header for `magic` and `generation` to `out`; called when
/// a log or snapshot file is created.
pub fn encode_header(out: &mut Vec<u8>, magic: &[u8; 8], generation: u64) {
    let start = out.len();
    out.extend_from_slice(magic);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&generation.to_le_bytes());
    let crc = crc32c(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// Checks the header at the start of `buf` against `magic`; returns the
/// generation it carries. Called first when a file is recovered.
pub fn decode_header(buf: &[u8], magic: &[u8; 8]) -> Result<u64, Why> {
    let h = buf.get(..HEADER_LEN).ok_or(Why::BadHeader)?;
    let stored = u32_at(h, 20).ok_or(Why::BadHeader)?;
    if &h[..8] != magic || crc32c(&h[..20]) != stored {
        return Err(Why::BadHeader);
    }
    let version = u32_at(h, 8).ok_or(Why::BadHeader)?;
    if version != VERSION {
        return Err(Why::Version(version));
    }
    let mut g = [0u8; 8];
    g.copy_from_slice(&h[12..20]);
    Ok(u64::from_le_bytes(g))
}

/// A walk over the frames of a buffer, yielding each body (including empty
/// ones; the caller decides what they mean).
pub struct Frames<'a> {
    buf: &'a [u8],
    pos: usize,
    max: usize,
    verify: bool,
    stop: Option<Stop>,
}

impl<'a> Frames<'a> {
    /// Starts a checked walk of `buf` from `pos`, refusing bodies longer
    /// than `max`. Used on data read from a file.
    pub fn new(buf: &'a [u8], pos: usize, max: usize) -> Frames<'a> {
        Frames {
            buf,
            pos,
            max,
            verify: true,
            stop: None,
        }
    }

    /// Starts a walk that skips the CRC check, for a range a checked walk
    /// has already accepted (the second pass that hands out bodies). Lengths
    /// are still bounds-checked, so a wrong range ends the walk, never
    /// panics.
    pub fn trusted(buf: &'a [u8]) -> Frames<'a> {
        Frames {
            buf,
            pos: 0,
            max: MAX_BODY,
            verify: false,
            stop: None,
        }
    }

    /// Offset just past the last frame yielded.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// After the walk: the length of the good prefix, and why the walk
    /// stopped before the end of the buffer (`None`: it reached the end
    /// exactly).
    pub fn end(&self) -> (usize, Option<Stop>) {
        (self.pos, self.stop)
    }

    /// Reads the frame at `self.pos`: its body and the offset after it.
    fn read(&self) -> Result<(&'a [u8], usize), Why> {
        let rest = self.buf.len().saturating_sub(self.pos);
        if rest < FRAME_HEADER {
            return Err(Why::Torn);
        }
        let len = u32_at(self.buf, self.pos).ok_or(Why::Torn)? as usize;
        let stored = u32_at(self.buf, self.pos + 4).ok_or(Why::Torn)?;
        if len > self.max {
            return Err(Why::TooLong);
        }
        if len > rest - FRAME_HEADER {
            return Err(Why::Torn);
        }
        let start = self.pos + FRAME_HEADER;
        let body = self.buf.get(start..start + len).ok_or(Why::Torn)?;
        if self.verify {
            let lb = (len as u32).to_le_bytes();
            if extend(crc32c(&lb), body) != stored {
                return Err(Why::BadCrc);
            }
        }
        Ok((body, start + len))
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = &'a [u8];

    /// Yields the next good body, or `None` at the end of the buffer or at
    /// the first bad frame (recorded for [`Frames::end`]).
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.stop.is_some() || self.pos >= self.buf.len() {
            return None;
        }
        match self.read() {
            Ok((body, next)) => {
                self.pos = next;
                Some(body)
            }
            Err(why) => {
                self.stop = Some(Stop {
                    offset: self.pos,
                    why,
                });
                None
            }
        }
    }
}
