//! The WebSocket frame header (RFC 6455 section 5.2): reading one from the
//! first bytes of a frame, writing one, and the masking XOR.
//!
//! Contract: pure functions over byte slices; no allocation. A header is
//! at most [`MAX_HEADER`] bytes; [`header_len`] says from the second byte
//! how many there are, so that a reader can wait for the rest without
//! guessing.

/// The longest frame header: 2 bytes, an 8-byte length and a 4-byte mask.
pub const MAX_HEADER: usize = 14;

/// The largest payload a control frame may carry (RFC 6455 5.5).
pub const MAX_CONTROL: usize = 125;

/// A frame's opcode (RFC 6455 5.2); the reserved ones are kept as numbers
/// so that the decoder can refuse them by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
    Reserved(u8),
}

impl Opcode {
    /// The opcode of a header's low nibble.
    pub fn from_bits(bits: u8) -> Opcode {
        match bits & 0x0f {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xa => Opcode::Pong,
            other => Opcode::Reserved(other),
        }
    }

    /// The opcode's four bits.
    pub fn bits(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xa,
            Opcode::Reserved(bits) => bits & 0x0f,
        }
    }

    /// Close, ping and pong (opcodes 8 and up).
    pub fn is_control(self) -> bool {
        self.bits() >= 0x8
    }
}

/// One frame header, as read or to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The last frame of its message.
    pub fin: bool,
    /// The RSV1-3 bits (no extension is negotiated, so they must be 0).
    pub rsv: u8,
    pub opcode: Opcode,
    /// The masking key; client-to-server frames must have one.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub len: u64,
}

/// Called with the second byte of a header (the mask bit and the length
/// code). Returns how long the whole header is: 2, plus 2 or 8 for an
/// extended length, plus 4 for a mask.
pub fn header_len(second: u8) -> usize {
    let extended = match second & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask = if second & 0x80 != 0 { 4 } else { 0 };
    2 + extended + mask
}

/// Called with the bytes at a frame boundary. Returns `None` while they
/// do not hold the whole header, else the header and its length in
/// bytes. The length is taken as written: whether it is allowed is the
/// caller's check (a 64-bit length with its top bit set is returned as
/// such).
pub fn parse_header(buf: &[u8]) -> Option<(Header, usize)> {
    let (&b0, &b1) = (buf.first()?, buf.get(1)?);
    let total = header_len(b1);
    if buf.len() < total {
        return None;
    }
    let (len, at) = match b1 & 0x7f {
        126 => (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
        127 => {
            let mut be = [0u8; 8];
            be.copy_from_slice(&buf[2..10]);
            (u64::from_be_bytes(be), 10)
        }
        short => (u64::from(short), 2),
    };
    let mask = (b1 & 0x80 != 0).then(|| [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]);
    let header = Header {
        fin: b0 & 0x80 != 0,
        rsv: (b0 >> 4) & 0x07,
        opcode: Opcode::from_bits(b0),
        mask,
        len,
    };
    Some((header, total))
}

/// Called to frame a payload. Writes `header` into `out` with the
/// shortest length encoding and returns how many bytes it took.
pub fn write_header(header: &Header, out: &mut [u8; MAX_HEADER]) -> usize {
    out[0] = (u8::from(header.fin) << 7) | ((header.rsv & 0x07) << 4) | header.opcode.bits();
    let mask_bit = if header.mask.is_some() { 0x80 } else { 0 };
    let mut at = 2;
    if header.len < 126 {
        out[1] = mask_bit | header.len as u8;
    } else if let Ok(short) = u16::try_from(header.len) {
        out[1] = mask_bit | 126;
        out[2..4].copy_from_slice(&short.to_be_bytes());
        at = 4;
    } else {
        out[1] = mask_bit | 127;
        out[2..10].copy_from_slice(&header.len.to_be_bytes());
        at = 10;
    }
    if let Some(mask) = header.mask {
        out[at..at + 4].copy_from_slice(&mask);
        at += 4;
    }
    at
}

/// Called on payload bytes that start `offset` bytes into a masked
/// payload: XORs them with the key in place (masking and unmasking are
/// the same operation). Returns the offset after them, modulo 4.
pub fn apply_mask(mask: [u8; 4], offset: usize, data: &mut [u8]) -> usize {
    let mut key = mask;
    key.rotate_left(offset % 4);
    let word = u32::from_ne_bytes(key);
    let mut chunks = data.chunks_exact_mut(4);
    for chunk in &mut chunks {
        let v = u32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) ^ word;
        chunk.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i];
    }
    (offset + data.len()) % 4
}

/// Called by clients (tests, the benchmark) and for the server's control
/// frames: one whole frame, `fin` set, masked with `mask` when given.
pub fn encode_frame(opcode: Opcode, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let header = Header {
        fin: true,
        rsv: 0,
        opcode,
        mask,
        len: payload.len() as u64,
    };
    let mut head = [0u8; MAX_HEADER];
    let n = write_header(&header, &mut head);
    let mut out = Vec::with_capacity(n + payload.len());
    out.extend_from_slice(&head[..n]);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(mask) = mask {
        apply_mask(mask, 0, &mut out[start..]);
    }
    out
}
