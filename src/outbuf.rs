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

/// The smallest staging buffer, as a power of two (512 B), and the room
/// below which a staging buffer counts as full.
const STAGING_MIN_LOG2: u8 = 9;
const STAGING_MIN: usize = 1 << STAGING_MIN_LOG2;

/// The largest staging buffer, as a power of two (32 KB).
const STAGING_MAX_LOG2: u8 = 15;

/// The queue. The staging buffer is allocated only while bytes are staged.
/// The shared-chunk list lives behind a pointer that stays null until the
/// first large payload or full staging buffer; it is then kept (as its
/// capacity was before), so a busy subscriber does not allocate it again
/// for every message.
///
/// A staging buffer never grows: when it is full it is sealed into a chunk
/// (without copying) and a fresh one is started. Growing it made `BytesMut`
/// copy everything staged into a doubled allocation, or the unwritten tail
/// to the front, again and again; in fan-out that copying cost more than
/// the messages themselves (callgrind). The size of the next buffer adapts
/// to the link: doubled after a buffer filled up, halved when the queue
/// ran empty, kept in one byte.
#[derive(Debug, Default)]
pub struct OutBuf {
    staging: BytesMut,
    chunks: Option<Box<Chunks>>,
    /// Size of the next staging buffer, as a power of two above
    /// [`STAGING_MIN_LOG2`] (0 means the minimum).
    size: u8,
}

/// Frozen chunks, oldest first; the staging bytes come after them.
#[derive(Debug, Default)]
struct Chunks {
    queue: VecDeque<Bytes>,
    /// Total length of `queue`.
    len: usize,
}

impl OutBuf {
    /// Bytes waiting to be written.
    pub fn len(&self) -> usize {
        self.chunks.as_ref().map_or(0, |c| c.len) + self.staging.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The staging buffer, for an encoder to append a packet (or a packet's
    /// header) to.
    #[inline]
    pub fn staging(&mut self) -> &mut BytesMut {
        if self.staging.capacity() - self.staging.len() < STAGING_MIN {
            self.new_staging();
        }
        &mut self.staging
    }

    /// The staging buffer is full (or not there): a fresh one, after
    /// sealing what it holds.
    #[cold]
    #[inline(never)]
    fn new_staging(&mut self) {
        if !self.staging.is_empty() {
            self.seal();
            // It filled up: the next one is larger.
            self.size = (self.size + 1).min(STAGING_MAX_LOG2 - STAGING_MIN_LOG2);
        }
        self.staging = BytesMut::with_capacity(1 << (STAGING_MIN_LOG2 + self.size));
    }

    /// Appends a payload after whatever was staged: copied when small,
    /// shared otherwise.
    pub fn push_payload(&mut self, payload: &Bytes) {
        if payload.len() <= INLINE_PAYLOAD_MAX {
            self.staging().extend_from_slice(payload);
        } else {
            self.push_shared(payload);
        }
    }

    /// One packet: `header` appends its header to the staging buffer, and
    /// its payload follows as [`OutBuf::push_payload`] would put it (with
    /// one look at the staging room for both).
    #[inline(always)]
    pub fn push_packet(&mut self, header: impl FnOnce(&mut BytesMut), payload: &Bytes) {
        let staging = self.staging();
        header(staging);
        if payload.len() <= INLINE_PAYLOAD_MAX {
            staging.extend_from_slice(payload);
        } else {
            self.push_shared(payload);
        }
    }

    /// Appends bytes already encoded (a packet written before).
    #[inline]
    pub fn push_bytes(&mut self, bytes: &[u8]) {
        self.staging().extend_from_slice(bytes);
    }

    /// The staged bytes from offset `start` of the staging buffer on: what
    /// was appended since [`OutBuf::push_packet`]'s header saw `start` as
    /// the staging length (a small payload included).
    pub fn staged_since(&self, start: usize) -> &[u8] {
        self.staging.get(start..).unwrap_or_default()
    }

    /// A large payload as a chunk of its own, behind what was staged.
    fn push_shared(&mut self, payload: &Bytes) {
        if !self.staging.is_empty() {
            self.seal();
        }
        let chunks = self.chunks.get_or_insert_with(Box::default);
        chunks.len += payload.len();
        chunks.queue.push_back(payload.clone());
    }

    /// Moves the staged bytes, without copying them, into a chunk of their
    /// own, behind the chunks already queued.
    fn seal(&mut self) {
        let staged = self.staging.split().freeze();
        let chunks = self.chunks.get_or_insert_with(Box::default);
        chunks.len += staged.len();
        chunks.queue.push_back(staged);
    }

    /// The pending bytes as at most `MAX_IOVECS` slices, oldest first, for
    /// one vectored write.
    /// The pending bytes when they are all in the staging buffer (the
    /// usual case), for a write without building a slice list.
    #[inline]
    pub fn only_staged(&self) -> Option<&[u8]> {
        self.chunks
            .as_ref()
            .is_none_or(|c| c.queue.is_empty())
            .then_some(&self.staging[..])
    }

    pub fn io_slices(&self) -> Vec<IoSlice<'_>> {
        let queue = self.chunks.as_ref().map(|c| &c.queue);
        let mut out = Vec::with_capacity(queue.map_or(0, |q| q.len().min(MAX_IOVECS)) + 1);
        for chunk in queue.into_iter().flatten().take(MAX_IOVECS) {
            out.push(IoSlice::new(chunk));
        }
        if out.len() < MAX_IOVECS && !self.staging.is_empty() {
            out.push(IoSlice::new(&self.staging));
        }
        out
    }

    /// Drops the first `n` bytes, which were written.
    pub fn advance(&mut self, mut n: usize) {
        debug_assert!(n <= self.len());
        while n > 0 {
            let chunks = self.chunks.as_deref_mut();
            match chunks.and_then(|c| c.queue.front_mut().map(|f| (f, &mut c.len))) {
                Some((front, len)) if front.len() <= n => {
                    n -= front.len();
                    *len -= front.len();
                    if let Some(c) = self.chunks.as_mut() {
                        c.queue.pop_front();
                    }
                }
                Some((front, len)) => {
                    front.advance(n);
                    *len -= n;
                    n = 0;
                }
                None => {
                    self.staging.advance(n.min(self.staging.len()));
                    n = 0;
                }
            }
        }
        if self.is_empty() {
            // An idle connection holds no buffer, only the size to start
            // from next time. Keeping drained buffers in a bounded pool
            // for the next link was measured and dropped: it removed the
            // page faults glibc's heap trim causes in fan-out, but the
            // reused buffers made fan-out slower (MQTT 5.0: 3.78M against
            // 4.28M msgs per broker CPU-second, 5 runs each, broker and
            // load tool pinned to a core each).
            self.size = self.size.saturating_sub(1);
            self.staging = BytesMut::new();
        }
    }

    /// Everything pending, concatenated (tests and diagnostics).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len());
        for c in self.shared_chunks() {
            v.extend_from_slice(c);
        }
        v.extend_from_slice(&self.staging);
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
        self.chunks.iter().flat_map(|c| c.queue.iter())
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
    fn a_full_staging_buffer_is_sealed_not_grown() {
        let mut out = OutBuf::default();
        let mut expected = Vec::new();
        let mut largest = 0;
        for i in 0..5000u32 {
            let packet = i.to_be_bytes().repeat(10);
            out.staging().extend_from_slice(&packet);
            largest = largest.max(out.staging.capacity());
            expected.extend_from_slice(&packet);
            if i % 700 == 0 {
                // A partial write, as a slow socket takes.
                let n = out.len() / 3;
                out.advance(n);
                expected.drain(..n);
            }
        }
        assert_eq!(out.to_vec(), expected, "order and content kept");
        assert!(out.shared_chunks().count() > 0, "sealed into chunks");
        assert!(
            largest <= 1 << STAGING_MAX_LOG2,
            "the staging buffer never grew past its largest size: {largest}"
        );
        out.advance(out.len());
        assert!(out.is_empty());
        assert_eq!(out.staging.capacity(), 0, "an empty queue holds no buffer");
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
        assert_eq!(out.staging.capacity(), 0, "an idle queue holds no buffer");
    }
}
