//! The MQTT meaning of the store's records: what the broker writes when
//! durable state changes, and replays at start.
//!
//! Every record is a keyed upsert or delete, so applying one twice, or
//! applying one whose key is gone, is harmless: that is what lets a
//! snapshot be written while the log goes on (see `store/mod.rs`).
//! Keys: a session by its store id (`sid`, assigned once, never reused), a
//! message by its store id (`mid`), an outbound entry by `(sid, seq)`, a
//! subscription by `(sid, filter)`, a retained message by topic.
//!
//! A payload is written once, in a [`Record::Msg`]; every session that
//! queues it refers to it by `mid`.
//!
//! Encoding: one kind byte, then the fields in order; integers as LEB128
//! varints, strings and byte strings as a varint length and the bytes.
//! Decoding borrows from the body and never allocates more than the body's
//! length (a list's length is checked against the bytes left first).

use std::fmt;

/// One durable change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record<'a> {
    /// A persistent session exists (created, or resumed by a connection).
    Session {
        sid: u64,
        client_id: &'a str,
        /// Protocol level: 3, 4 or 5.
        level: u8,
        /// Session Expiry Interval, seconds (`u32::MAX`: never).
        expiry: u32,
        /// The user name it connected with, for its ACL while it is offline
        /// after a restart. Written last and only when there is one, so a
        /// record from before user names were stored reads as `None`.
        username: Option<&'a str>,
    },
    /// The session's connection ended at `at_ms` (wall clock, ms since
    /// the Unix epoch), so its expiry counts from then, across restarts.
    Offline {
        sid: u64,
        at_ms: u64,
    },
    /// The session ended: everything keyed by `sid` goes with it.
    SessionEnd {
        sid: u64,
    },
    Sub {
        sid: u64,
        filter: &'a str,
        /// The MQTT 5 subscription options byte (QoS, No Local, Retain As
        /// Published, Retain Handling).
        options: u8,
        /// Subscription Identifier, 0 for none.
        sub_id: u32,
    },
    Unsub {
        sid: u64,
        filter: &'a str,
    },
    /// A message body, referred to by `mid`.
    Msg {
        mid: u64,
        topic: &'a str,
        payload: &'a [u8],
        qos: u8,
        retain: bool,
        /// Wall clock ms of its expiry; 0 for never.
        expires_ms: u64,
        /// MQTT 5 properties forwarded as received.
        passthrough: &'a [u8],
    },
    Retain {
        topic: &'a str,
        mid: u64,
    },
    Unretain {
        topic: &'a str,
    },
    /// Message `mid` queued for session `sid` as its `seq`th outbound
    /// entry (entries go out in `seq` order).
    Out {
        sid: u64,
        seq: u64,
        mid: u64,
        qos: u8,
        retain: bool,
        sub_ids: Vec<u32>,
    },
    /// Outbound entry sent with `packet_id` (a re-send after a restart
    /// carries DUP).
    OutSent {
        sid: u64,
        seq: u64,
        packet_id: u16,
    },
    /// PUBREC received for it: PUBREL is what is owed now.
    OutReleased {
        sid: u64,
        seq: u64,
    },
    /// Acknowledged, expired or dropped: gone.
    OutDone {
        sid: u64,
        seq: u64,
    },
    /// Inbound QoS 2 `packet_id` received and routed, not yet released.
    Incoming {
        sid: u64,
        packet_id: u16,
    },
    /// PUBREL for it: released.
    Released {
        sid: u64,
        packet_id: u16,
    },
    /// The session's will (kept while the session may still publish it).
    Will {
        sid: u64,
        topic: &'a str,
        payload: &'a [u8],
        qos: u8,
        retain: bool,
        delay: u32,
        /// Message Expiry Interval of the will message, +1 (0: none).
        expiry: u64,
        passthrough: &'a [u8],
    },
    WillGone {
        sid: u64,
    },
}

/// Why a record body did not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordError {
    Empty,
    UnknownKind(u8),
    Truncated,
    /// A varint longer than 10 bytes or a value past its field's range.
    BadInteger,
    BadUtf8,
    TrailingBytes,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::Empty => write!(f, "empty record"),
            RecordError::UnknownKind(k) => write!(f, "unknown record kind {k}"),
            RecordError::Truncated => write!(f, "record ends inside a field"),
            RecordError::BadInteger => write!(f, "integer out of range"),
            RecordError::BadUtf8 => write!(f, "string is not UTF-8"),
            RecordError::TrailingBytes => write!(f, "bytes after the last field"),
        }
    }
}

mod kind {
    pub const SESSION: u8 = 1;
    pub const OFFLINE: u8 = 2;
    pub const SESSION_END: u8 = 3;
    pub const SUB: u8 = 4;
    pub const UNSUB: u8 = 5;
    pub const MSG: u8 = 6;
    pub const RETAIN: u8 = 7;
    pub const UNRETAIN: u8 = 8;
    pub const OUT: u8 = 9;
    pub const OUT_SENT: u8 = 10;
    pub const OUT_RELEASED: u8 = 11;
    pub const OUT_DONE: u8 = 12;
    pub const INCOMING: u8 = 13;
    pub const RELEASED: u8 = 14;
    pub const WILL: u8 = 15;
    pub const WILL_GONE: u8 = 16;
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

impl Record<'_> {
    /// Appends the record's body to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let v = put_varint;
        match self {
            Record::Session {
                sid,
                client_id,
                level,
                expiry,
                username,
            } => {
                out.push(kind::SESSION);
                v(out, *sid);
                put_bytes(out, client_id.as_bytes());
                out.push(*level);
                v(out, u64::from(*expiry));
                if let Some(name) = username {
                    put_bytes(out, name.as_bytes());
                }
            }
            Record::Offline { sid, at_ms } => {
                out.push(kind::OFFLINE);
                v(out, *sid);
                v(out, *at_ms);
            }
            Record::SessionEnd { sid } => {
                out.push(kind::SESSION_END);
                v(out, *sid);
            }
            Record::Sub {
                sid,
                filter,
                options,
                sub_id,
            } => {
                out.push(kind::SUB);
                v(out, *sid);
                put_bytes(out, filter.as_bytes());
                out.push(*options);
                v(out, u64::from(*sub_id));
            }
            Record::Unsub { sid, filter } => {
                out.push(kind::UNSUB);
                v(out, *sid);
                put_bytes(out, filter.as_bytes());
            }
            Record::Msg {
                mid,
                topic,
                payload,
                qos,
                retain,
                expires_ms,
                passthrough,
            } => {
                out.push(kind::MSG);
                v(out, *mid);
                put_bytes(out, topic.as_bytes());
                out.push(qos | (u8::from(*retain) << 2));
                v(out, *expires_ms);
                put_bytes(out, passthrough);
                // Last, unprefixed: the payload runs to the end.
                out.extend_from_slice(payload);
            }
            Record::Retain { topic, mid } => {
                out.push(kind::RETAIN);
                v(out, *mid);
                put_bytes(out, topic.as_bytes());
            }
            Record::Unretain { topic } => {
                out.push(kind::UNRETAIN);
                put_bytes(out, topic.as_bytes());
            }
            Record::Out {
                sid,
                seq,
                mid,
                qos,
                retain,
                sub_ids,
            } => {
                out.push(kind::OUT);
                v(out, *sid);
                v(out, *seq);
                v(out, *mid);
                out.push(qos | (u8::from(*retain) << 2));
                v(out, sub_ids.len() as u64);
                for id in sub_ids {
                    v(out, u64::from(*id));
                }
            }
            Record::OutSent {
                sid,
                seq,
                packet_id,
            } => {
                out.push(kind::OUT_SENT);
                v(out, *sid);
                v(out, *seq);
                v(out, u64::from(*packet_id));
            }
            Record::OutReleased { sid, seq } => {
                out.push(kind::OUT_RELEASED);
                v(out, *sid);
                v(out, *seq);
            }
            Record::OutDone { sid, seq } => {
                out.push(kind::OUT_DONE);
                v(out, *sid);
                v(out, *seq);
            }
            Record::Incoming { sid, packet_id } => {
                out.push(kind::INCOMING);
                v(out, *sid);
                v(out, u64::from(*packet_id));
            }
            Record::Released { sid, packet_id } => {
                out.push(kind::RELEASED);
                v(out, *sid);
                v(out, u64::from(*packet_id));
            }
            Record::Will {
                sid,
                topic,
                payload,
                qos,
                retain,
                delay,
                expiry,
                passthrough,
            } => {
                out.push(kind::WILL);
                v(out, *sid);
                put_bytes(out, topic.as_bytes());
                out.push(qos | (u8::from(*retain) << 2));
                v(out, u64::from(*delay));
                v(out, *expiry);
                put_bytes(out, passthrough);
                out.extend_from_slice(payload);
            }
            Record::WillGone { sid } => {
                out.push(kind::WILL_GONE);
                v(out, *sid);
            }
        }
    }

    /// Decodes one record body (see the module doc).
    pub fn decode(body: &[u8]) -> Result<Record<'_>, RecordError> {
        let (&k, rest) = body.split_first().ok_or(RecordError::Empty)?;
        let mut r = Reader(rest);
        let record = match k {
            kind::SESSION => Record::Session {
                sid: r.varint()?,
                client_id: r.str()?,
                level: r.byte()?,
                expiry: r.u32()?,
                username: if r.0.is_empty() { None } else { Some(r.str()?) },
            },
            kind::OFFLINE => Record::Offline {
                sid: r.varint()?,
                at_ms: r.varint()?,
            },
            kind::SESSION_END => Record::SessionEnd { sid: r.varint()? },
            kind::SUB => Record::Sub {
                sid: r.varint()?,
                filter: r.str()?,
                options: r.byte()?,
                sub_id: r.u32()?,
            },
            kind::UNSUB => Record::Unsub {
                sid: r.varint()?,
                filter: r.str()?,
            },
            kind::MSG => {
                let mid = r.varint()?;
                let topic = r.str()?;
                let (qos, retain) = r.flags()?;
                let expires_ms = r.varint()?;
                let passthrough = r.bytes()?;
                Record::Msg {
                    mid,
                    topic,
                    qos,
                    retain,
                    expires_ms,
                    passthrough,
                    payload: r.rest(),
                }
            }
            kind::RETAIN => {
                let mid = r.varint()?;
                Record::Retain {
                    topic: r.str()?,
                    mid,
                }
            }
            kind::UNRETAIN => Record::Unretain { topic: r.str()? },
            kind::OUT => {
                let (sid, seq, mid) = (r.varint()?, r.varint()?, r.varint()?);
                let (qos, retain) = r.flags()?;
                let n = r.varint()?;
                // Each id takes at least a byte: no list longer than that.
                if n > r.0.len() as u64 {
                    return Err(RecordError::Truncated);
                }
                let mut sub_ids = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    sub_ids.push(r.u32()?);
                }
                Record::Out {
                    sid,
                    seq,
                    mid,
                    qos,
                    retain,
                    sub_ids,
                }
            }
            kind::OUT_SENT => Record::OutSent {
                sid: r.varint()?,
                seq: r.varint()?,
                packet_id: r.u16()?,
            },
            kind::OUT_RELEASED => Record::OutReleased {
                sid: r.varint()?,
                seq: r.varint()?,
            },
            kind::OUT_DONE => Record::OutDone {
                sid: r.varint()?,
                seq: r.varint()?,
            },
            kind::INCOMING => Record::Incoming {
                sid: r.varint()?,
                packet_id: r.u16()?,
            },
            kind::RELEASED => Record::Released {
                sid: r.varint()?,
                packet_id: r.u16()?,
            },
            kind::WILL => {
                let sid = r.varint()?;
                let topic = r.str()?;
                let (qos, retain) = r.flags()?;
                let delay = r.u32()?;
                let expiry = r.varint()?;
                let passthrough = r.bytes()?;
                Record::Will {
                    sid,
                    topic,
                    qos,
                    retain,
                    delay,
                    expiry,
                    passthrough,
                    payload: r.rest(),
                }
            }
            kind::WILL_GONE => Record::WillGone { sid: r.varint()? },
            other => return Err(RecordError::UnknownKind(other)),
        };
        if r.0.is_empty() {
            Ok(record)
        } else {
            Err(RecordError::TrailingBytes)
        }
    }
}

/// A cursor over a record body.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, RecordError> {
        let (&b, rest) = self.0.split_first().ok_or(RecordError::Truncated)?;
        self.0 = rest;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, RecordError> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.byte()?;
            let bits = u64::from(b & 0x7F);
            if i == 9 && bits > 1 {
                return Err(RecordError::BadInteger);
            }
            v |= bits << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(RecordError::BadInteger)
    }

    fn u32(&mut self) -> Result<u32, RecordError> {
        u32::try_from(self.varint()?).map_err(|_| RecordError::BadInteger)
    }

    fn u16(&mut self) -> Result<u16, RecordError> {
        u16::try_from(self.varint()?).map_err(|_| RecordError::BadInteger)
    }

    /// QoS (0..=2) and RETAIN from one flags byte.
    fn flags(&mut self) -> Result<(u8, bool), RecordError> {
        let b = self.byte()?;
        if b & 3 == 3 || b & !7 != 0 {
            return Err(RecordError::BadInteger);
        }
        Ok((b & 3, b & 4 != 0))
    }

    fn bytes(&mut self) -> Result<&'a [u8], RecordError> {
        let n = self.varint()?;
        if n > self.0.len() as u64 {
            return Err(RecordError::Truncated);
        }
        let (b, rest) = self.0.split_at(n as usize);
        self.0 = rest;
        Ok(b)
    }

    fn str(&mut self) -> Result<&'a str, RecordError> {
        std::str::from_utf8(self.bytes()?).map_err(|_| RecordError::BadUtf8)
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
}
