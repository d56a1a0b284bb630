//! Domain names, as queries spell them and as responses encode them.
//!
//! A name to query is checked by [`check`]: one optional trailing dot
//! (ignored), at most 253 characters without it, labels of 1 to 63 bytes
//! of letters, digits, `-` and `_` (underscores appear in real host
//! names; nothing else does). [`encode`] writes it in wire form.
//!
//! [`read`] decodes a name inside a response (RFC 1035 §4.1.4), with
//! every length checked against the message: at most 255 bytes in wire
//! form, compression pointers only to the message body (past the header)
//! and strictly backwards from where they stand, at most [`MAX_JUMPS`] of
//! them, and no other label types. It writes into a caller's fixed buffer,
//! lowercased, so reading allocates nothing and names compare
//! case-insensitively by plain equality.

use std::fmt;

/// The longest name in wire form, length bytes and root label included.
pub const MAX_WIRE: usize = 255;
/// The longest name as text, without its trailing dot.
pub const MAX_TEXT: usize = 253;
/// The longest label.
pub const MAX_LABEL: usize = 63;
/// The most compression pointers one name may follow.
pub const MAX_JUMPS: usize = 32;
/// The DNS header's length: pointers below it are refused.
const HEADER_LEN: usize = 12;

/// Why a name cannot be queried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// Nothing, or only a dot.
    Empty,
    /// More than 253 characters (not counting a trailing dot).
    TooLong,
    /// Two dots in a row, or a leading dot.
    EmptyLabel,
    /// A label of more than 63 bytes.
    LabelTooLong,
    /// A character other than a letter, digit, `-` or `_`.
    BadChar(char),
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Empty => f.write_str("empty name"),
            NameError::TooLong => write!(f, "name longer than {MAX_TEXT} characters"),
            NameError::EmptyLabel => f.write_str("empty label"),
            NameError::LabelTooLong => write!(f, "label longer than {MAX_LABEL} bytes"),
            NameError::BadChar(c) => write!(f, "character {c:?} not allowed in a host name"),
        }
    }
}

impl std::error::Error for NameError {}

/// Checks `name` for a query; returns it without its trailing dot.
pub fn check(name: &str) -> Result<&str, NameError> {
    let bare = name.strip_suffix('.').unwrap_or(name);
    if bare.is_empty() {
        return Err(NameError::Empty);
    }
    if bare.len() > MAX_TEXT {
        return Err(NameError::TooLong);
    }
    for label in bare.split('.') {
        if label.is_empty() {
            return Err(NameError::EmptyLabel);
        }
        if label.len() > MAX_LABEL {
            return Err(NameError::LabelTooLong);
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(NameError::BadChar(c));
        }
    }
    Ok(bare)
}

/// Appends `name` (checked) in wire form, root label included.
pub fn encode(name: &str, out: &mut Vec<u8>) -> Result<(), NameError> {
    for label in check(name)?.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    Ok(())
}

/// A decoded name: wire form without the root label, lowercased.
pub struct Buf {
    bytes: [u8; MAX_WIRE],
    len: usize,
}

impl Default for Buf {
    fn default() -> Buf {
        Buf::new()
    }
}

impl Buf {
    /// The empty name (the root).
    pub fn new() -> Buf {
        Buf {
            bytes: [0; MAX_WIRE],
            len: 0,
        }
    }

    /// `name` (checked), as [`read`] would decode it.
    pub fn of(name: &str) -> Result<Buf, NameError> {
        let mut b = Buf::new();
        for label in check(name)?.split('.') {
            b.push(label.as_bytes());
        }
        Ok(b)
    }

    /// The labels, each after its length byte; no root label.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Appends one label, lowercased; the caller has checked it fits.
    fn push(&mut self, label: &[u8]) {
        self.bytes[self.len] = label.len() as u8;
        let to = &mut self.bytes[self.len + 1..self.len + 1 + label.len()];
        for (t, b) in to.iter_mut().zip(label) {
            *t = b.to_ascii_lowercase();
        }
        self.len += 1 + label.len();
    }
}

impl PartialEq for Buf {
    fn eq(&self, other: &Buf) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

/// Why a name in a message could not be read.
pub type ReadError = &'static str;

/// Reads the name at `pos` of `msg` into `out`; returns the offset just
/// past the name where it stands (past its first pointer, if any).
pub fn read(msg: &[u8], mut pos: usize, out: &mut Buf) -> Result<usize, ReadError> {
    out.len = 0;
    let mut end = None;
    let mut jumps = 0;
    loop {
        let &b = msg.get(pos).ok_or("name past the end")?;
        match b & 0xc0 {
            0x00 if b == 0 => return Ok(end.unwrap_or(pos + 1)),
            0x00 => {
                let n = usize::from(b);
                let label = msg.get(pos + 1..pos + 1 + n).ok_or("label past the end")?;
                // The root label's byte must still fit after this one.
                if out.len + 1 + n + 1 > MAX_WIRE {
                    return Err("name longer than 255 bytes");
                }
                out.push(label);
                pos += 1 + n;
            }
            0xc0 => {
                let &lo = msg.get(pos + 1).ok_or("pointer past the end")?;
                let target = (usize::from(b & 0x3f) << 8) | usize::from(lo);
                if target >= pos || target < HEADER_LEN {
                    return Err("compression pointer not backwards into the body");
                }
                jumps += 1;
                if jumps > MAX_JUMPS {
                    return Err("too many compression pointers");
                }
                end.get_or_insert(pos + 2);
                pos = target;
            }
            _ => return Err("unknown label type"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names_checked_for_queries() {
        let long_label = "a".repeat(64);
        let max_label = "a".repeat(63);
        let max_name = [&max_label[..]; 4].join(".")[..253].to_string();
        let too_long = format!("{max_name}a");
        let cases: &[(&str, Result<&str, NameError>)] = &[
            ("example.com", Ok("example.com")),
            ("example.com.", Ok("example.com")),
            ("Broker-1.LAN", Ok("Broker-1.LAN")),
            ("_mqtt._tcp.example", Ok("_mqtt._tcp.example")),
            ("localhost", Ok("localhost")),
            (&max_label, Ok(&max_label)),
            (&max_name, Ok(&max_name)),
            ("", Err(NameError::Empty)),
            (".", Err(NameError::Empty)),
            ("a..b", Err(NameError::EmptyLabel)),
            (".a", Err(NameError::EmptyLabel)),
            ("a.b..", Err(NameError::EmptyLabel)),
            (&long_label, Err(NameError::LabelTooLong)),
            (&too_long, Err(NameError::TooLong)),
            ("a b", Err(NameError::BadChar(' '))),
            ("ex*mple", Err(NameError::BadChar('*'))),
            ("::1", Err(NameError::BadChar(':'))),
            ("héllo", Err(NameError::BadChar('é'))),
        ];
        for (name, want) in cases {
            assert_eq!(check(name), *want, "{name:?}");
        }
    }

    #[test]
    fn dns_name_encoding() {
        let mut out = Vec::new();
        encode("Www.Example.com.", &mut out).unwrap();
        assert_eq!(out, b"\x03Www\x07Example\x03com\x00");
        assert_eq!(
            Buf::of("Www.Example.com").unwrap().as_bytes(),
            b"\x03www\x07example\x03com"
        );
        assert_eq!(encode("a..b", &mut out), Err(NameError::EmptyLabel));
    }

    fn header() -> Vec<u8> {
        vec![0; HEADER_LEN]
    }

    #[test]
    fn dns_name_read_follows_backward_pointers() {
        let mut m = header();
        m.extend_from_slice(b"\x07EXAMPLE\x03com\x00"); // 12
        m.extend_from_slice(b"\x03www\xc0\x0c"); // 25
        m.extend_from_slice(b"\x04mqtt\xc0\x19"); // 31
        let mut b = Buf::new();
        assert_eq!(read(&m, 31, &mut b), Ok(38));
        assert_eq!(b.as_bytes(), b"\x04mqtt\x03www\x07example\x03com");
        assert_eq!(read(&m, 12, &mut b), Ok(25));
        assert_eq!(b.as_bytes(), b"\x07example\x03com");
    }

    #[test]
    fn dns_name_read_refuses_loops_and_forward_pointers() {
        let mut b = Buf::new();
        // A pointer to itself, one forward, one into the header, one
        // pair pointing at each other.
        let mut m = header();
        m.extend_from_slice(b"\xc0\x0c");
        assert!(read(&m, 12, &mut b).is_err());
        let mut m = header();
        m.extend_from_slice(b"\xc0\x0e\x00");
        assert!(read(&m, 12, &mut b).is_err());
        let mut m = header();
        m.extend_from_slice(b"\xc0\x02");
        assert!(read(&m, 12, &mut b).is_err());
        let mut m = header();
        m.extend_from_slice(b"\x01a\xc0\x10\xc0\x0c");
        assert!(read(&m, 16, &mut b).is_err());
    }

    #[test]
    fn dns_name_read_bounds_jumps() {
        // The root at 12, then pointers each to the one before.
        let chain = |n: usize| {
            let mut m = header();
            m.push(0);
            for i in 0..n {
                let to = if i == 0 { 12 } else { 13 + 2 * (i - 1) };
                m.extend_from_slice(&[0xc0 | (to >> 8) as u8, to as u8]);
            }
            m
        };
        let mut b = Buf::new();
        let m = chain(MAX_JUMPS);
        assert_eq!(read(&m, m.len() - 2, &mut b), Ok(m.len()));
        assert_eq!(b.as_bytes(), b"");
        let m = chain(MAX_JUMPS + 1);
        assert_eq!(
            read(&m, m.len() - 2, &mut b),
            Err("too many compression pointers")
        );
    }

    #[test]
    fn dns_name_read_bounds_length_and_label_types() {
        let mut b = Buf::new();
        // 4 labels of 63: 256 bytes with the root, one too many.
        let mut m = header();
        for _ in 0..4 {
            m.push(63);
            m.extend_from_slice(&[b'a'; 63]);
        }
        m.push(0);
        assert_eq!(read(&m, 12, &mut b), Err("name longer than 255 bytes"));
        // Three of 63 and one of 61: 255 bytes, the most.
        let mut m = header();
        for n in [63u8, 63, 63, 61] {
            m.push(n);
            m.extend_from_slice(&vec![b'a'; usize::from(n)]);
        }
        m.push(0);
        assert_eq!(read(&m, 12, &mut b), Ok(m.len()));
        assert_eq!(b.as_bytes().len(), 254);
        for kind in [0x40u8, 0x80] {
            let mut m = header();
            m.extend_from_slice(&[kind | 1, b'a', 0]);
            assert_eq!(read(&m, 12, &mut b), Err("unknown label type"));
        }
        let mut m = header();
        m.extend_from_slice(b"\x05ab");
        assert_eq!(read(&m, 12, &mut b), Err("label past the end"));
        assert_eq!(read(&m, 40, &mut b), Err("name past the end"));
    }
}
