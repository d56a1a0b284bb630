//! The DNS message (RFC 1035 §4) for A and AAAA lookups: [`query`] builds
//! one, [`parse_response`] checks and reads the answer to it.
//!
//! A query asks recursion (RD) for one question of class IN. A response
//! is accepted only when it answers that query: its id, the QR bit, the
//! standard opcode, and its one question equal to the query's (the name
//! case-insensitively, the type, class IN); then its RCODE is reported
//! (NXDOMAIN as [`DnsError::NoSuchName`], each other failure as its own
//! error), then the TC bit ([`DnsError::Truncated`]: no TCP here). The
//! answer section is walked whole, every length checked against the
//! message; from the queried name, CNAME records are followed within it
//! (at most [`MAX_CNAMES`], in any order) to the records of the queried
//! type. Authority and additional sections are not read.
//!
//! Never panics on any input. Allocates only the address list, which
//! holds fewer addresses than the message has 15-byte slices: at most a
//! small multiple of the input. Names are read into fixed buffers (see
//! [`super::name`]).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use super::name::NameError;
use super::name::{self, Buf};

/// The header's length.
pub const HEADER_LEN: usize = 12;
/// The most CNAME records followed from the queried name.
pub const MAX_CNAMES: usize = 8;

const CLASS_IN: u16 = 1;
const TYPE_CNAME: u16 = 5;
const FLAG_QR: u16 = 0x8000;
const FLAG_TC: u16 = 0x0200;
const FLAG_RD: u16 = 0x0100;

/// The record type asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QType {
    /// An IPv4 address.
    A,
    /// An IPv6 address.
    Aaaa,
}

impl QType {
    /// The type's code in a message.
    pub fn code(self) -> u16 {
        match self {
            QType::A => 1,
            QType::Aaaa => 28,
        }
    }

    /// Whether `addr` is of the family this type asks for.
    pub fn holds(self, addr: &IpAddr) -> bool {
        matches!(
            (self, addr),
            (QType::A, IpAddr::V4(_)) | (QType::Aaaa, IpAddr::V6(_))
        )
    }
}

/// What a response said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The addresses of the queried type, in the message's order; empty
    /// when the name exists without such records (NODATA).
    pub addrs: Vec<IpAddr>,
    /// The least TTL of the records used (the CNAMEs followed and the
    /// addresses), in seconds; 0 when `addrs` is empty.
    pub ttl: u32,
}

/// Why a response gave no [`Answer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsError {
    /// Cut short, or a length, name or pointer that does not fit.
    Malformed(&'static str),
    /// Not the query's id.
    WrongId,
    /// The QR bit is clear: a query, not a response.
    NotResponse,
    /// Not a standard query's opcode.
    WrongOpcode,
    /// Not the query's question.
    WrongQuestion,
    /// RCODE 1.
    FormatError,
    /// RCODE 2 (SERVFAIL).
    ServerFailure,
    /// RCODE 3 (NXDOMAIN).
    NoSuchName,
    /// RCODE 4.
    NotImplemented,
    /// RCODE 5.
    Refused,
    /// Any other RCODE.
    Rcode(u8),
    /// The TC bit: the reply did not fit in a datagram.
    Truncated,
    /// More than [`MAX_CNAMES`] CNAMEs from the name, or a loop of them.
    TooManyCnames,
}

impl DnsError {
    /// Whether the datagram is no reply to the query at all (garbage, a
    /// stray or a spoof): a lookup ignores it and keeps waiting. Every
    /// other error is the server's answer.
    pub fn is_mismatch(&self) -> bool {
        matches!(
            self,
            DnsError::Malformed(_)
                | DnsError::WrongId
                | DnsError::NotResponse
                | DnsError::WrongOpcode
                | DnsError::WrongQuestion
        )
    }
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::Malformed(why) => write!(f, "malformed reply: {why}"),
            DnsError::WrongId => f.write_str("reply with another id"),
            DnsError::NotResponse => f.write_str("not a reply"),
            DnsError::WrongOpcode => f.write_str("reply with another opcode"),
            DnsError::WrongQuestion => f.write_str("reply to another question"),
            DnsError::FormatError => f.write_str("format error"),
            DnsError::ServerFailure => f.write_str("server failure"),
            DnsError::NoSuchName => f.write_str("no such host"),
            DnsError::NotImplemented => f.write_str("query not implemented"),
            DnsError::Refused => f.write_str("query refused"),
            DnsError::Rcode(n) => write!(f, "response code {n}"),
            DnsError::Truncated => f.write_str("truncated reply (no TCP fallback)"),
            DnsError::TooManyCnames => write!(f, "more than {MAX_CNAMES} CNAMEs"),
        }
    }
}

impl std::error::Error for DnsError {}

/// A query with id `id` for the `qtype` records of `name` (see
/// [`super::name::check`] for the names accepted).
pub fn query(id: u16, name: &str, qtype: QType) -> Result<Vec<u8>, NameError> {
    let mut m = Vec::with_capacity(HEADER_LEN + name.len() + 6);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&FLAG_RD.to_be_bytes());
    m.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    name::encode(name, &mut m)?;
    m.extend_from_slice(&qtype.code().to_be_bytes());
    m.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(m)
}

fn u16_at(msg: &[u8], pos: usize) -> Option<u16> {
    let b = msg.get(pos..pos + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

/// Reads the response `msg` to the query `query(id, name, qtype)`.
pub fn parse_response(msg: &[u8], id: u16, name: &str, qtype: QType) -> Result<Answer, DnsError> {
    let header = msg
        .get(..HEADER_LEN)
        .ok_or(DnsError::Malformed("shorter than a header"))?;
    let field = |i: usize| u16::from_be_bytes([header[2 * i], header[2 * i + 1]]);
    if field(0) != id {
        return Err(DnsError::WrongId);
    }
    let flags = field(1);
    if flags & FLAG_QR == 0 {
        return Err(DnsError::NotResponse);
    }
    if (flags >> 11) & 0xf != 0 {
        return Err(DnsError::WrongOpcode);
    }
    // A name we could not have queried is in no reply to us.
    let want = Buf::of(name).map_err(|_| DnsError::WrongQuestion)?;
    if field(2) != 1 {
        return Err(DnsError::WrongQuestion);
    }
    let mut got = Buf::new();
    let pos = name::read(msg, HEADER_LEN, &mut got).map_err(DnsError::Malformed)?;
    let (Some(t), Some(c)) = (u16_at(msg, pos), u16_at(msg, pos + 2)) else {
        return Err(DnsError::Malformed("question past the end"));
    };
    if got != want || t != qtype.code() || c != CLASS_IN {
        return Err(DnsError::WrongQuestion);
    }
    match (flags & 0xf) as u8 {
        0 => {}
        1 => return Err(DnsError::FormatError),
        2 => return Err(DnsError::ServerFailure),
        3 => return Err(DnsError::NoSuchName),
        4 => return Err(DnsError::NotImplemented),
        5 => return Err(DnsError::Refused),
        n => return Err(DnsError::Rcode(n)),
    }
    if flags & FLAG_TC != 0 {
        return Err(DnsError::Truncated);
    }
    answers(msg, pos + 4, field(3), want, qtype)
}

/// One pass over the answer section at `start` (`count` records): the
/// records owned by `owner`, found in it.
struct Pass {
    addrs: Vec<IpAddr>,
    ttl: u32,
    /// The first CNAME of `owner` and its TTL.
    cname: Option<(Buf, u32)>,
}

/// Follows `owner`'s CNAMEs through the answer section to its addresses.
fn answers(
    msg: &[u8],
    start: usize,
    count: u16,
    mut owner: Buf,
    qtype: QType,
) -> Result<Answer, DnsError> {
    let mut ttl = u32::MAX;
    for _ in 0..=MAX_CNAMES {
        let pass = pass(msg, start, count, &owner, qtype)?;
        if !pass.addrs.is_empty() {
            return Ok(Answer {
                addrs: pass.addrs,
                ttl: ttl.min(pass.ttl),
            });
        }
        let Some((target, cname_ttl)) = pass.cname else {
            return Ok(Answer {
                addrs: Vec::new(),
                ttl: 0,
            });
        };
        owner = target;
        ttl = ttl.min(cname_ttl);
    }
    Err(DnsError::TooManyCnames)
}

/// Walks the whole answer section, checking every record's lengths.
fn pass(msg: &[u8], start: usize, count: u16, owner: &Buf, qtype: QType) -> Result<Pass, DnsError> {
    let malformed = DnsError::Malformed;
    let mut out = Pass {
        addrs: Vec::new(),
        ttl: u32::MAX,
        cname: None,
    };
    let mut pos = start;
    let mut name = Buf::new();
    for _ in 0..count {
        pos = name::read(msg, pos, &mut name).map_err(malformed)?;
        let fixed = msg
            .get(pos..pos + 10)
            .ok_or(malformed("record past the end"))?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let class = u16::from_be_bytes([fixed[2], fixed[3]]);
        let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
        // RFC 2181 §8: a TTL with the top bit set is read as zero.
        let ttl = if ttl > i32::MAX as u32 { 0 } else { ttl };
        let len = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let data_at = pos + 10;
        let data = msg
            .get(data_at..data_at + len)
            .ok_or(malformed("record data past the end"))?;
        pos = data_at + len;
        if class != CLASS_IN || name != *owner {
            continue;
        }
        if rtype == qtype.code() {
            let addr = match (qtype, data.len()) {
                (QType::A, 4) => IpAddr::V4(Ipv4Addr::new(data[0], data[1], data[2], data[3])),
                (QType::Aaaa, 16) => {
                    let mut b = [0u8; 16];
                    b.copy_from_slice(data);
                    IpAddr::V6(Ipv6Addr::from(b))
                }
                _ => return Err(malformed("address of the wrong length")),
            };
            out.addrs.push(addr);
            out.ttl = out.ttl.min(ttl);
        } else if rtype == TYPE_CNAME && out.cname.is_none() {
            let mut target = Buf::new();
            let end = name::read(msg, data_at, &mut target).map_err(malformed)?;
            if end != pos {
                return Err(malformed("CNAME data not one name"));
            }
            out.cname = Some((target, ttl));
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
