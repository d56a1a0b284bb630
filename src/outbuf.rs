//! A connection's queue of bytes waiting to be written.
//!
//! Small packets (acks, headers, short payloads) are appended to one staging
//! buffer; a large payload is pushed as its own shared `Bytes`, so a message
//! delivered to N subscribers is never copied N times. The event loop hands
//! the chunks to one vectored write per turn ([`OutBuf::io_slices`]) and
//! reports how much went out ([`OutBuf::advance`]).
//!
//! Why small payloads are copied: below [`INLINE_PAYLOAD_MAX`] bytes a copy
//! into the staging buffer costs less than sharing (an atomic reference
//! count up and down and one more iovec per message), and it lets one
//! `writev` carry hundreds of messages. Larger payloads are always shared.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};

/// Payloads up to this many bytes are copied into the staging buffer.
pub const INLINE_PAYLOAD_MAX: usize = 128;

/// Most iovecs handed to one `writev` (Linux's IOV_MAX is 1024).
const MAX_IOVECS: usize = 64;

/// The first staging allocation; it grows as needed.
const STAGING_MIN: usize = 512;

/// The queue; boxed so that a connection with nothing to send carries one
/// null pointer instead of 72 bytes.
#[derive(Debug, Default)]
pub struct OutBuf(Option<Box<Pending>>);

#[derive(Debug, Default)]
struct Pending {
    /// Frozen chunks, oldest first; the staging bytes come after them.
    chunks: VecDeque<Bytes>,
    /// Total length of `chunks`.
    chunks_len: usize,
    staging: BytesMut,
}

impl OutBuf {
    /// Bytes waiting to be written.
    pub fn len(&self) -> usize {
        self.0
            .as_ref()
            .map_or(0, |p| p.chunks_len + p.staging.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The staging buffer, for an encoder to append a packet (or a packet's
    /// header) to.
    pub fn staging(&mut self) -> &mut BytesMut {
        let p = self.0.get_or_insert_with(Box::default);
        if p.staging.capacity() == 0 {
            p.staging.reserve(STAGING_MIN);
        }
        &mut p.staging
    }

    /// Appends a payload after whatever was staged: copied when small,
    /// shared otherwise.
    pub fn push_payload(&mut self, payload: &Bytes) {
        if payload.len() <= INLINE_PAYLOAD_MAX {
            self.staging().extend_from_slice(payload);
        } else {
            let p = self.0.get_or_insert_with(Box::default);
            p.seal();
            p.chunks_len += payload.len();
            p.chunks.push_back(payload.clone());
        }
    }

    /// The pending bytes as at most `MAX_IOVECS` slices, oldest first, for
    /// one vectored write.
    pub fn io_slices(&self) -> Vec<IoSlice<'_>> {
        let Some(p) = self.0.as_ref() else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(p.chunks.len().min(MAX_IOVECS) + 1);
        for chunk in p.chunks.iter().take(MAX_IOVECS) {
            out.push(IoSlice::new(chunk));
        }
        if out.len() < MAX_IOVECS && !p.staging.is_empty() {
            out.push(IoSlice::new(&p.staging));
        }
        out
    }

    /// Drops the first `n` bytes, which were written.
    pub fn advance(&mut self, mut n: usize) {
        debug_assert!(n <= self.len());
        let Some(p) = self.0.as_mut() else {
            return;
        };
        while n > 0 {
            match p.chunks.front_mut() {
                Some(front) if front.len() <= n => {
                    n -= front.len();
                    p.chunks_len -= front.len();
                    p.chunks.pop_front();
                }
                Some(front) => {
                    front.advance(n);
                    p.chunks_len -= n;
                    n = 0;
                }
                None => {
                    p.staging.advance(n.min(p.staging.len()));
                    n = 0;
                }
            }
        }
        if self.is_empty() {
            // An idle connection holds no buffer.
            self.0 = None;
        }
    }

    /// Everything pending, concatenated (tests and diagnostics).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len());
        if let Some(p) = self.0.as_ref() {
            for c in &p.chunks {
                v.extend_from_slice(c);
            }
            v.extend_from_slice(&p.staging);
        }
        v
    }

    /// Takes everything pending as one buffer and leaves the queue empty.
    pub fn take_all(&mut self) -> Vec<u8> {
        let v = self.to_vec();
        self.advance(self.len());
        v
    }

    /// The payloads queued as shared chunks rather than copies (tests).
    pub fn shared_chunks(&self) -> impl Iterator<Item = &Bytes> {
        self.0.iter().flat_map(|p| p.chunks.iter())
    }
}

impl Pending {
    /// Moves the staged bytes into a chunk of their own.
    fn seal(&mut self) {
        if !self.staging.is_empty() {
            let staged = self.staging.split().freeze();
            self.chunks_len += staged.len();
            self.chunks.push_back(staged);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_payloads_are_staged_large_ones_shared() {
        let mut out = OutBuf::default();
        out.staging().extend_from_slice(b"hdr1");
        out.push_payload(&Bytes::from_static(b"small"));
        let big = Bytes::from(vec![7u8; 4096]);
        out.staging().extend_from_slice(b"hdr2");
        out.push_payload(&big);
        out.staging().extend_from_slice(b"tail");
        assert_eq!(out.len(), 4 + 5 + 4 + 4096 + 4);
        let shared: Vec<_> = out.shared_chunks().filter(|c| c.len() == 4096).collect();
        assert_eq!(shared.len(), 1);
        assert_eq!(
            shared[0].as_ptr(),
            big.as_ptr(),
            "payload must not be copied"
        );
        let all = out.to_vec();
        assert_eq!(&all[..13], b"hdr1smallhdr2");
        assert_eq!(&all[all.len() - 4..], b"tail");
    }

    #[test]
    fn advance_across_chunks_and_staging() {
        let mut out = OutBuf::default();
        out.staging().extend_from_slice(b"ab");
        out.push_payload(&Bytes::from(vec![1u8; 200]));
        out.staging().extend_from_slice(b"cd");
        let expected = out.to_vec();
        out.advance(1);
        assert_eq!(out.to_vec(), &expected[1..]);
        out.advance(150);
        assert_eq!(out.to_vec(), &expected[151..]);
        out.advance(52);
        assert_eq!(out.to_vec(), b"d");
        assert_eq!(out.io_slices().len(), 1);
        out.advance(1);
        assert!(out.is_empty());
        assert!(out.0.is_none(), "an idle queue holds no buffer");
    }
}
