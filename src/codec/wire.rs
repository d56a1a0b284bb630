//! Low-level wire primitives shared by the decoder and the encoder.
//!
//! Contract:
//! - [`Reader`] walks one frozen frame with bounds checks on every read; a
//!   read past its end is `Malformed`, never a panic. Strings and binary
//!   fields come back as zero-copy slices of the frame.
//! - The `put_*` writers append to a `BytesMut` and never fail; the caller
//!   guarantees that strings fit a 16-bit length.

use bytes::{BufMut, Bytes, BytesMut};

use super::decode::DecodeError;
use super::types::ByteStr;

/// The largest value a variable byte integer can hold (four bytes).
pub(crate) const VARINT_MAX: usize = 268_435_455;

/// A bounds-checked cursor over `frame[pos..end]`.
#[derive(Clone)]
pub(crate) struct Reader<'a> {
    frame: &'a Bytes,
    pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `frame[pos..end]`; the caller guarantees
    /// `pos <= end <= frame.len()`.
    pub(crate) fn new(frame: &'a Bytes, pos: usize, end: usize) -> Reader<'a> {
        debug_assert!(pos <= end && end <= frame.len());
        Reader { frame, pos, end }
    }

    /// The absolute offset of the next byte.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left before `end`.
    pub(crate) fn remaining(&self) -> usize {
        self.end - self.pos
    }

    /// True when every byte has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.pos == self.end
    }

    /// The frame this reader walks.
    pub(crate) fn frame(&self) -> &'a Bytes {
        self.frame
    }

    /// Takes the next `n` bytes as a borrowed slice.
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::Malformed(
                "field runs past the end of the packet",
            ));
        }
        let frame: &'a [u8] = self.frame;
        let s = frame
            .get(self.pos..self.pos + n)
            .ok_or(DecodeError::Malformed(
                "field runs past the end of the packet",
            ))?;
        self.pos += n;
        Ok(s)
    }

    /// Splits off a reader over the next `n` bytes and skips them here.
    pub(crate) fn sub(&mut self, n: usize) -> Result<Reader<'a>, DecodeError> {
        let start = self.pos;
        self.take(n)?;
        Ok(Reader::new(self.frame, start, self.pos))
    }

    /// Skips the next `n` bytes.
    pub(crate) fn skip(&mut self, n: usize) -> Result<(), DecodeError> {
        self.take(n).map(|_| ())
    }

    /// Skips binary data or a string (16-bit length, then the bytes)
    /// without looking at it.
    pub(crate) fn skip_binary(&mut self) -> Result<(), DecodeError> {
        let n = self.u16()?;
        self.skip(usize::from(n))
    }

    /// The next byte, without reading it.
    pub(crate) fn peek(&self) -> Option<u8> {
        if self.pos < self.end {
            self.frame.get(self.pos).copied()
        } else {
            None
        }
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        let s = self.take(1)?;
        Ok(s[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        let s = self.take(2)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        let s = self.take(4)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }

    /// A variable byte integer of at most four bytes [MQTT-1.5.5].
    pub(crate) fn varint(&mut self) -> Result<u32, DecodeError> {
        let mut value: u32 = 0;
        for i in 0..4 {
            let b = self.u8()?;
            value |= u32::from(b & 0x7F) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::Malformed(
            "variable byte integer longer than 4 bytes",
        ))
    }

    /// The next `n` bytes as a zero-copy slice of the frame.
    pub(crate) fn slice(&mut self, n: usize) -> Result<Bytes, DecodeError> {
        let start = self.pos;
        self.take(n)?;
        Ok(self.frame.slice(start..self.pos))
    }

    /// The rest of the reader as a zero-copy slice.
    pub(crate) fn rest(&mut self) -> Bytes {
        let start = self.pos;
        self.pos = self.end;
        self.frame.slice(start..self.end)
    }

    /// Binary data: a 16-bit length, then that many bytes [MQTT-1.5.6].
    pub(crate) fn binary(&mut self) -> Result<Bytes, DecodeError> {
        let n = self.u16()?;
        self.slice(usize::from(n))
    }

    /// A UTF-8 encoded string [MQTT-1.5.4]: valid UTF-8 [MQTT-1.5.4-1] and
    /// no U+0000 [MQTT-1.5.4-2], else `Malformed`.
    pub(crate) fn string(&mut self) -> Result<ByteStr, DecodeError> {
        // Nearly every topic and client id is plain ASCII: one pass, no
        // UTF-8 decoder.
        let bytes = match ByteStr::from_plain_ascii(self.binary()?) {
            Ok(s) => return Ok(s),
            Err(bytes) => bytes,
        };
        if bytes.contains(&0) {
            return Err(DecodeError::Malformed("string contains U+0000"));
        }
        ByteStr::from_utf8(bytes).map_err(|_| DecodeError::Malformed("string is not valid UTF-8"))
    }
}

/// True when every byte of `b` is ASCII other than NUL (so `b` is a valid
/// MQTT string); see [`crate::swar::ascii_without_nul`].
#[inline]
pub(crate) fn ascii_without_nul(b: &[u8]) -> bool {
    crate::swar::ascii_without_nul(b)
}

/// How many bytes `value` takes as a variable byte integer.
pub(crate) fn varint_len(value: usize) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Writes `value` (at most [`VARINT_MAX`]) as a variable byte integer into
/// `buf`, returning how many bytes it used.
pub(crate) fn write_varint(mut value: usize, buf: &mut [u8; 4]) -> usize {
    debug_assert!(value <= VARINT_MAX);
    let mut n = 0;
    while n < 4 {
        let mut b = (value & 0x7F) as u8;
        value >>= 7;
        if value > 0 {
            b |= 0x80;
        }
        buf[n] = b;
        n += 1;
        if value == 0 {
            break;
        }
    }
    n
}

/// Appends `value` as a variable byte integer. The one- and two-byte
/// forms, which nearly every length takes, are written as fixed-size
/// stores rather than a copy of a variable-length slice.
#[inline]
pub(crate) fn put_varint(out: &mut BytesMut, value: usize) {
    if value < 0x80 {
        out.put_u8(value as u8);
    } else if value < 0x4000 {
        out.put_slice(&[(value & 0x7F) as u8 | 0x80, (value >> 7) as u8]);
    } else {
        let mut buf = [0u8; 4];
        let n = write_varint(value, &mut buf);
        out.put_slice(&buf[..n]);
    }
}

/// Appends binary data or a string with its 16-bit length.
pub(crate) fn put_binary(out: &mut BytesMut, data: &[u8]) {
    debug_assert!(data.len() <= usize::from(u16::MAX));
    out.put_u16(data.len() as u16);
    out.put_slice(data);
}

/// Appends whatever `body` writes, preceded by its length as a variable
/// byte integer (reserves the longest prefix, then closes the gap).
pub(crate) fn put_len_prefixed(out: &mut BytesMut, body: impl FnOnce(&mut BytesMut)) {
    let start = out.len();
    out.put_bytes(0, 4);
    body(out);
    let len = out.len() - start - 4;
    let mut prefix = [0u8; 4];
    let n = write_varint(len, &mut prefix);
    out[start..start + n].copy_from_slice(&prefix[..n]);
    if n < 4 {
        let end = out.len();
        out.copy_within(start + 4..end, start + n);
        out.truncate(end - (4 - n));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ascii_fast_path_agrees_with_the_full_check_mqtt_1_5_4() {
        // Every single byte, alone and inside a string: the fast path takes
        // exactly the bytes 0x01..=0x7F [MQTT-1.5.4-1, MQTT-1.5.4-2].
        for c in 0..=255u8 {
            for s in [
                vec![c],
                [b"ab".as_slice(), &[c], b"cdefghijklmnopqrstuvwxyz0123"].concat(),
            ] {
                assert_eq!(
                    ascii_without_nul(&s),
                    (1..=0x7F).contains(&c),
                    "byte {c:#x}"
                );
            }
        }
        let decode = |s: &[u8]| {
            let mut framed = (s.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(s);
            let frame = Bytes::from(framed);
            let end = frame.len();
            Reader::new(&frame, 0, end)
                .string()
                .map(|b| b.as_str().to_string())
        };
        assert_eq!(decode(b"house/kitchen").unwrap(), "house/kitchen");
        assert_eq!(decode("küche/°C".as_bytes()).unwrap(), "küche/°C");
        assert!(decode(b"a\0b").is_err());
        assert!(decode(b"a\xffb").is_err());
        assert!(decode(b"\xc3").is_err());
    }
}
