//! The little of X.509 midge reads itself: a certificate's validity period
//! (to refuse an expired certificate at start) and its subject (for
//! `use_identity_as_username` and `use_subject_as_username`).
//!
//! Contract: [`parse`] takes untrusted DER (a client's certificate has been
//! verified by rustls by then, but the files at start have not) and never
//! panics; it walks the outer `Certificate` and `TBSCertificate` sequences
//! only as far as the subject, checking every length against the bytes
//! present. Nothing is allocated. See `dn.rs` for how a subject is printed.

use std::fmt;

const INTEGER: u8 = 0x02;
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
/// `[0] EXPLICIT Version`.
const VERSION: u8 = 0xa0;

/// Why DER could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DerError {
    /// An element runs past the bytes present.
    Truncated,
    /// A tag other than the one the structure has there.
    Unexpected,
    /// A length form DER does not allow (indefinite, or over 4 bytes) or a
    /// multi-byte tag number.
    BadLength,
    /// A time that is not `YYMMDDHHMMSSZ` / `YYYYMMDDHHMMSSZ`.
    BadTime,
}

impl fmt::Display for DerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DerError::Truncated => "truncated DER",
            DerError::Unexpected => "not an X.509 certificate",
            DerError::BadLength => "invalid DER length or tag",
            DerError::BadTime => "invalid validity time",
        })
    }
}

/// What [`parse`] found in a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertInfo<'a> {
    /// The contents of the subject `Name` (its RDN sequence, without the
    /// outer tag and length).
    pub subject: &'a [u8],
    /// `notBefore`, in seconds since the Unix epoch.
    pub not_before: i64,
    /// `notAfter`, in seconds since the Unix epoch.
    pub not_after: i64,
}

/// One DER element.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Element<'a> {
    pub tag: u8,
    pub content: &'a [u8],
    /// Tag, length and content together.
    pub raw: &'a [u8],
}

/// Reads DER elements one after another from a byte slice.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next element, whatever its tag.
    pub fn any(&mut self) -> Result<Element<'a>, DerError> {
        let all = self.data;
        let [tag, first, rest @ ..] = all else {
            return Err(DerError::Truncated);
        };
        if tag & 0x1f == 0x1f {
            return Err(DerError::BadLength);
        }
        let (len, rest) = if first & 0x80 == 0 {
            (usize::from(*first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 {
                return Err(DerError::BadLength);
            }
            let bytes = rest.get(..n).ok_or(DerError::Truncated)?;
            let len = bytes.iter().fold(0usize, |l, &b| (l << 8) | usize::from(b));
            (len, &rest[n..])
        };
        let content = rest.get(..len).ok_or(DerError::Truncated)?;
        let header = all.len() - rest.len();
        self.data = &rest[len..];
        Ok(Element {
            tag: *tag,
            content,
            raw: &all[..header + len],
        })
    }

    /// The next element's content, which must have tag `tag`.
    pub fn expect(&mut self, tag: u8) -> Result<&'a [u8], DerError> {
        let e = self.any()?;
        if e.tag == tag {
            Ok(e.content)
        } else {
            Err(DerError::Unexpected)
        }
    }
}

/// Called for every certificate file loaded at start and for a client's
/// certificate after the handshake. Returns its validity and subject.
pub fn parse(der: &[u8]) -> Result<CertInfo<'_>, DerError> {
    let cert = Reader::new(der).expect(SEQUENCE)?;
    let tbs = Reader::new(cert).expect(SEQUENCE)?;
    let mut tbs = Reader::new(tbs);
    let mut serial = tbs.any()?;
    if serial.tag == VERSION {
        serial = tbs.any()?;
    }
    if serial.tag != INTEGER {
        return Err(DerError::Unexpected);
    }
    tbs.expect(SEQUENCE)?; // signature algorithm
    tbs.expect(SEQUENCE)?; // issuer
    let mut validity = Reader::new(tbs.expect(SEQUENCE)?);
    let not_before = time(validity.any()?)?;
    let not_after = time(validity.any()?)?;
    let subject = tbs.expect(SEQUENCE)?;
    Ok(CertInfo {
        subject,
        not_before,
        not_after,
    })
}

/// One attribute of a subject: `type` OID (content bytes) and its value
/// element, with the index of the RDN (SET) it belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attribute<'a> {
    pub rdn: usize,
    pub oid: &'a [u8],
    pub value: Element<'a>,
}

/// Calls `each` for every attribute of `subject` (from [`CertInfo`]) in
/// the order they are encoded; stops at the first error.
pub(crate) fn attributes<'a>(
    subject: &'a [u8],
    mut each: impl FnMut(Attribute<'a>),
) -> Result<(), DerError> {
    let mut rdns = Reader::new(subject);
    let mut rdn = 0;
    while !rdns.is_empty() {
        let mut set = Reader::new(rdns.expect(SET)?);
        while !set.is_empty() {
            let mut atv = Reader::new(set.expect(SEQUENCE)?);
            let oid = atv.expect(OID)?;
            let value = atv.any()?;
            each(Attribute { rdn, oid, value });
        }
        rdn += 1;
    }
    Ok(())
}

/// The OID 2.5.4.3 (commonName), as encoded.
pub(crate) const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

/// Called after the handshake with `use_identity_as_username`. Returns the
/// first Common Name of `subject` as it is encoded, if it is UTF-8 without
/// NUL (as Mosquitto takes it), else `None`.
pub fn common_name(subject: &[u8]) -> Option<&str> {
    let mut found = None;
    attributes(subject, |a| {
        if found.is_none() && a.oid == COMMON_NAME {
            found = Some(a.value.content);
        }
    })
    .ok()?;
    let name = std::str::from_utf8(found?).ok()?;
    (!name.contains('\0')).then_some(name)
}

/// A UTCTime or GeneralizedTime in seconds since the Unix epoch.
fn time(e: Element<'_>) -> Result<i64, DerError> {
    let digits = |s: &[u8]| -> Result<i64, DerError> {
        s.iter().try_fold(0i64, |n, &c| {
            if c.is_ascii_digit() {
                Ok(n * 10 + i64::from(c - b'0'))
            } else {
                Err(DerError::BadTime)
            }
        })
    };
    let (year, rest) = match (e.tag, e.content) {
        (UTC_TIME, [y @ .., _, _, _, _, _, _, _, _, _, _, b'Z']) if y.len() == 2 => {
            let yy = digits(y)?;
            (
                if yy < 50 { 2000 + yy } else { 1900 + yy },
                &e.content[2..12],
            )
        }
        (GENERALIZED_TIME, [y @ .., _, _, _, _, _, _, _, _, _, _, b'Z']) if y.len() == 4 => {
            (digits(y)?, &e.content[4..14])
        }
        _ => return Err(DerError::BadTime),
    };
    let [month, day, hour, minute, second] = [0, 2, 4, 6, 8].map(|i| digits(&rest[i..i + 2]));
    let (month, day, hour, minute, second) = (month?, day?, hour?, minute?, second?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(DerError::BadTime);
    }
    Ok(days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `secs` since the Unix epoch as `YYYY-MM-DD HH:MM:SS UTC`, for error
/// messages about certificate validity.
pub fn format_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_convert_both_ways() {
        let utc = Element {
            tag: UTC_TIME,
            content: b"491231235959Z",
            raw: &[],
        };
        let t = time(utc).unwrap();
        assert_eq!(format_time(t), "2049-12-31 23:59:59 UTC");
        let gen = Element {
            tag: GENERALIZED_TIME,
            content: b"19700101000000Z",
            raw: &[],
        };
        assert_eq!(time(gen), Ok(0));
        let old = Element {
            tag: UTC_TIME,
            content: b"500229120000Z",
            raw: &[],
        };
        assert_eq!(format_time(time(old).unwrap()), "1950-03-01 12:00:00 UTC");
        for bad in [
            &b"4912312359Z"[..],
            b"491331235959Z",
            b"49123123595aZ",
            b"491231235959",
        ] {
            let e = Element {
                tag: UTC_TIME,
                content: bad,
                raw: &[],
            };
            assert_eq!(time(e), Err(DerError::BadTime), "{bad:?}");
        }
    }

    #[test]
    fn lengths_are_checked_against_the_bytes_present() {
        assert_eq!(Reader::new(&[0x30]).any().unwrap_err(), DerError::Truncated);
        assert_eq!(
            Reader::new(&[0x30, 0x03, 1]).any().unwrap_err(),
            DerError::Truncated
        );
        assert_eq!(
            Reader::new(&[0x30, 0x80]).any().unwrap_err(),
            DerError::BadLength
        );
        assert_eq!(
            Reader::new(&[0x30, 0x85, 0, 0, 0, 0, 1]).any().unwrap_err(),
            DerError::BadLength
        );
        assert_eq!(
            Reader::new(&[0x1f, 0x01, 0]).any().unwrap_err(),
            DerError::BadLength
        );
        let mut r = Reader::new(&[0x04, 0x81, 0x01, 0xaa, 0x05, 0x00]);
        let e = r.any().unwrap();
        assert_eq!((e.tag, e.content, e.raw.len()), (0x04, &[0xaa][..], 4));
        assert_eq!(r.expect(0x05), Ok(&[][..]));
        assert!(r.is_empty());
        assert_eq!(parse(&[0x30, 0x00]), Err(DerError::Truncated));
        assert_eq!(parse(&[0x04, 0x00]), Err(DerError::Unexpected));
    }
}
