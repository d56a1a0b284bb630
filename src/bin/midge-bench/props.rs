//! MQTT 5 property blocks as a client reads them: a variable byte integer
//! length, then identifier/value pairs whose value type the identifier
//! decides.
//!
//! `split` cuts a block off the front of a packet body; `Props` walks it,
//! refusing identifiers the packet kind does not allow, repeats of a
//! property that may appear once, and values that run past the block.
//! Pure: borrows the read buffer, never allocates, never panics.

/// How a property's value is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Byte,
    Two,
    Four,
    Var,
    Bin,
    Pair,
}

/// The value type of property `id`; `None` for identifiers MQTT 5 does
/// not define.
fn kind(id: u8) -> Option<Kind> {
    Some(match id {
        0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => Kind::Byte,
        0x13 | 0x21 | 0x22 | 0x23 => Kind::Two,
        0x02 | 0x11 | 0x18 | 0x27 => Kind::Four,
        0x0B => Kind::Var,
        0x03 | 0x08 | 0x09 | 0x12 | 0x15 | 0x16 | 0x1A | 0x1C | 0x1F => Kind::Bin,
        0x26 => Kind::Pair,
        _ => return None,
    })
}

/// A bit set of property identifiers (all defined ones are below 64).
pub type Allowed = u64;

/// Builds an `Allowed` set from identifiers.
const fn allow(ids: &[u8]) -> Allowed {
    let mut set = 0;
    let mut i = 0;
    while i < ids.len() {
        set |= 1 << ids[i];
        i += 1;
    }
    set
}

/// Properties a broker may put in a CONNACK.
pub const CONNACK: Allowed = allow(&[
    0x11, 0x12, 0x13, 0x15, 0x16, 0x1A, 0x1C, 0x1F, 0x21, 0x22, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29,
    0x2A,
]);
/// Properties of a PUBLISH.
pub const PUBLISH: Allowed = allow(&[0x01, 0x02, 0x03, 0x08, 0x09, 0x0B, 0x23, 0x26]);
/// Properties of PUBACK, PUBREC, PUBREL, PUBCOMP and SUBACK.
pub const ACK: Allowed = allow(&[0x1F, 0x26]);
/// Properties of a DISCONNECT from the broker.
pub const DISCONNECT: Allowed = allow(&[0x11, 0x1C, 0x1F, 0x26]);
/// Properties that may appear more than once.
const REPEATABLE: Allowed = allow(&[0x0B, 0x26]);

/// Reason String: a human-readable explanation of a reason code.
pub const REASON_STRING: u8 = 0x1F;

/// A property value, borrowing from the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    Byte(u8),
    Two(u16),
    Four(u32),
    Var(u32),
    /// UTF-8 string or binary data, without its length prefix.
    Bin(&'a [u8]),
    /// A user property's name and value.
    Pair(&'a [u8], &'a [u8]),
}

/// Reads a variable byte integer from the start of `buf`: the value and
/// the bytes it took. `None` when it is cut short or longer than 4 bytes.
pub fn varint(buf: &[u8]) -> Option<(u32, usize)> {
    let mut value = 0u32;
    for (i, &byte) in buf.iter().take(4).enumerate() {
        value |= u32::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// Splits the property block off the front of `buf`: (block, rest).
pub fn split(buf: &[u8]) -> Result<(&[u8], &[u8]), &'static str> {
    let (len, used) = varint(buf).ok_or("bad property length")?;
    let end = used
        .checked_add(len as usize)
        .filter(|&end| end <= buf.len())
        .ok_or("property block longer than the packet")?;
    Ok((&buf[used..end], &buf[end..]))
}

/// Iterator over the properties of one block; yields an error (and then
/// stops) on anything malformed or not allowed.
pub struct Props<'a> {
    rest: &'a [u8],
    allowed: Allowed,
    seen: Allowed,
}

impl<'a> Props<'a> {
    /// Walks `block`, accepting only the identifiers in `allowed`.
    pub fn new(block: &'a [u8], allowed: Allowed) -> Self {
        Props {
            rest: block,
            allowed,
            seen: 0,
        }
    }

    /// Reads the next value of kind `k`, advancing past it.
    fn value(&mut self, k: Kind) -> Option<Value<'a>> {
        let r = self.rest;
        let two = |at: usize| Some(u16::from_be_bytes(r.get(at..at + 2)?.try_into().ok()?));
        let bin = |at: usize| {
            let len = usize::from(two(at)?);
            Some((r.get(at + 2..at + 2 + len)?, at + 2 + len))
        };
        let (v, used) = match k {
            Kind::Byte => (Value::Byte(*r.first()?), 1),
            Kind::Two => (Value::Two(two(0)?), 2),
            Kind::Four => (
                Value::Four(u32::from_be_bytes(r.get(..4)?.try_into().ok()?)),
                4,
            ),
            Kind::Var => {
                let (v, used) = varint(r)?;
                (Value::Var(v), used)
            }
            Kind::Bin => {
                let (b, used) = bin(0)?;
                (Value::Bin(b), used)
            }
            Kind::Pair => {
                let (name, at) = bin(0)?;
                let (value, used) = bin(at)?;
                (Value::Pair(name, value), used)
            }
        };
        self.rest = &r[used..];
        Some(v)
    }
}

impl<'a> Iterator for Props<'a> {
    type Item = Result<(u8, Value<'a>), &'static str>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&id, rest) = self.rest.split_first()?;
        self.rest = rest;
        let result = match kind(id) {
            None => Err("unknown property identifier"),
            Some(_) if id >= 64 || self.allowed & (1 << id) == 0 => {
                Err("property not allowed in this packet")
            }
            Some(_) if self.seen & (1 << id) != 0 && REPEATABLE & (1 << id) == 0 => {
                Err("property repeated")
            }
            Some(k) => {
                self.seen |= 1 << id;
                self.value(k)
                    .map(|v| (id, v))
                    .ok_or("property value cut short")
            }
        };
        if result.is_err() {
            self.rest = &[];
        }
        Some(result)
    }
}

/// Checks a whole block and returns its Reason String, if any.
pub fn check(block: &[u8], allowed: Allowed) -> Result<Option<&[u8]>, &'static str> {
    let mut reason = None;
    for p in Props::new(block, allowed) {
        if let (REASON_STRING, Value::Bin(s)) = p? {
            reason = Some(s);
        }
    }
    Ok(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_of_one_to_four_bytes() {
        assert_eq!(varint(&[0]), Some((0, 1)));
        assert_eq!(varint(&[0x7F, 9]), Some((127, 1)));
        assert_eq!(varint(&[0x80, 1]), Some((128, 2)));
        assert_eq!(varint(&[0xFF, 0xFF, 0xFF, 0x7F]), Some((268_435_455, 4)));
        assert_eq!(varint(&[0xFF, 0xFF, 0xFF, 0xFF, 1]), None);
        assert_eq!(varint(&[0x80]), None);
        assert_eq!(varint(&[]), None);
    }

    #[test]
    fn split_checks_the_block_fits() {
        assert_eq!(split(&[2, 1, 2, 3]), Ok((&[1u8, 2][..], &[3u8][..])));
        assert_eq!(split(&[0]), Ok((&[][..], &[][..])));
        assert!(split(&[3, 1, 2]).is_err());
        assert!(split(&[]).is_err());
    }

    #[test]
    fn every_value_kind_decodes() {
        #[rustfmt::skip]
        let block = [
            0x24, 1,
            0x21, 0, 10,
            0x27, 0, 0, 1, 0,
            0x0B, 0x80, 1,
            0x1F, 0, 2, b'h', b'i',
            0x26, 0, 1, b'k', 0, 1, b'v',
        ];
        let all = CONNACK | PUBLISH;
        let got: Vec<_> = Props::new(&block, all).collect();
        assert_eq!(
            got,
            [
                Ok((0x24, Value::Byte(1))),
                Ok((0x21, Value::Two(10))),
                Ok((0x27, Value::Four(256))),
                Ok((0x0B, Value::Var(128))),
                Ok((0x1F, Value::Bin(b"hi"))),
                Ok((0x26, Value::Pair(b"k", b"v"))),
            ]
        );
        assert_eq!(check(&block, all), Ok(Some(&b"hi"[..])));
    }

    #[test]
    fn bad_blocks_are_errors() {
        for (block, allowed) in [
            (&[0x23, 0, 1, 0x23, 0, 2][..], PUBLISH),
            (&[0x21, 0, 1][..], PUBLISH),
            (&[0x7F, 0][..], PUBLISH),
            (&[0x1F, 0, 5, b'a'][..], ACK),
            (&[0x27, 0, 0][..], CONNACK),
        ] {
            assert!(check(block, allowed).is_err(), "{block:?}");
        }
        // User properties may repeat.
        let pairs = [0x26, 0, 0, 0, 0, 0x26, 0, 0, 0, 0];
        assert_eq!(check(&pairs, ACK), Ok(None));
        // After an error the iterator stops.
        assert_eq!(Props::new(&[0x7F, 0x01, 1], ACK).count(), 1);
    }
}
