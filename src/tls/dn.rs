//! A certificate subject as the text `use_subject_as_username` makes the
//! username: the RFC 2253 form that OpenSSL's `X509_NAME_print_ex` prints
//! with `XN_FLAG_RFC2253` (what Mosquitto uses), so that the same
//! certificate gives the same username with midge as with Mosquitto.
//!
//! That form: the attributes last-encoded first; `,` between RDNs and `+`
//! inside a multi-valued one; short attribute names (`CN`, `O`, `OU`, `C`,
//! `emailAddress`, ...); `,+"\<>;` escaped with a backslash, as is `#` at
//! the start and a space at either end; control characters and every byte
//! of a non-ASCII character as `\XX` (so the text is ASCII). An attribute
//! midge has no name for is its dotted OID and `#` with the hex of its DER
//! value, and so is a value of a type that is not a string. The names midge
//! knows are the X.520 ones in common use; OpenSSL knows more, which it
//! prints by name where midge prints the OID.

use super::x509::{attributes, Attribute, DerError};

/// Short names of the attribute types midge knows, by encoded OID.
const NAMES: &[(&[u8], &str)] = &[
    (&[0x55, 0x04, 0x03], "CN"),
    (&[0x55, 0x04, 0x04], "SN"),
    (&[0x55, 0x04, 0x05], "serialNumber"),
    (&[0x55, 0x04, 0x06], "C"),
    (&[0x55, 0x04, 0x07], "L"),
    (&[0x55, 0x04, 0x08], "ST"),
    (&[0x55, 0x04, 0x09], "street"),
    (&[0x55, 0x04, 0x0a], "O"),
    (&[0x55, 0x04, 0x0b], "OU"),
    (&[0x55, 0x04, 0x0c], "title"),
    (&[0x55, 0x04, 0x0d], "description"),
    (&[0x55, 0x04, 0x0f], "businessCategory"),
    (&[0x55, 0x04, 0x11], "postalCode"),
    (&[0x55, 0x04, 0x29], "name"),
    (&[0x55, 0x04, 0x2a], "GN"),
    (&[0x55, 0x04, 0x2b], "initials"),
    (&[0x55, 0x04, 0x2c], "generationQualifier"),
    (&[0x55, 0x04, 0x2e], "dnQualifier"),
    (&[0x55, 0x04, 0x41], "pseudonym"),
    (&[0x55, 0x04, 0x61], "organizationIdentifier"),
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01],
        "emailAddress",
    ),
    (
        &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19],
        "DC",
    ),
    (
        &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01],
        "UID",
    ),
];

/// Why a subject has no text form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// The DER of the name is broken.
    Der(DerError),
    /// A BMPString or UniversalString holds something that is not a
    /// character (OpenSSL fails on those too).
    BadChar,
}

/// Called after the handshake with `use_subject_as_username`. Returns the
/// subject (from `x509::CertInfo`) in the form this module describes.
pub fn rfc2253(subject: &[u8]) -> Result<String, NameError> {
    let mut all: Vec<Attribute<'_>> = Vec::new();
    attributes(subject, |a| all.push(a)).map_err(NameError::Der)?;
    let mut out = String::new();
    let mut previous = None;
    for a in all.iter().rev() {
        match previous {
            Some(rdn) if rdn == a.rdn => out.push('+'),
            Some(_) => out.push(','),
            None => {}
        }
        previous = Some(a.rdn);
        match NAMES.iter().find(|(oid, _)| *oid == a.oid) {
            Some((_, name)) => {
                out.push_str(name);
                out.push('=');
                value(&mut out, a)?;
            }
            None => {
                dotted(&mut out, a.oid).map_err(NameError::Der)?;
                out.push('=');
                hex_dump(&mut out, a.value.raw);
            }
        }
    }
    Ok(out)
}

/// Appends the value of a named attribute: escaped characters for the
/// string types, the `#` hex dump for any other.
fn value(out: &mut String, a: &Attribute<'_>) -> Result<(), NameError> {
    let v = a.value.content;
    let width = match a.value.tag {
        // UTF8String: its bytes one by one (OpenSSL does not decode it).
        0x0c => 1,
        // Numeric, Printable, T61, IA5, UTCTime, GeneralizedTime, Visible:
        // one byte per character (Latin-1 for T61).
        0x12 | 0x13 | 0x14 | 0x16 | 0x17 | 0x18 | 0x1a => 1,
        0x1e => 2, // BMPString
        0x1c => 4, // UniversalString
        _ => {
            hex_dump(out, a.value.raw);
            return Ok(());
        }
    };
    let utf8_bytes = a.value.tag == 0x0c;
    if v.len() % width != 0 {
        return Err(NameError::BadChar);
    }
    let count = v.len() / width;
    for (i, unit) in v.chunks(width).enumerate() {
        let code = unit.iter().fold(0u32, |c, &b| (c << 8) | u32::from(b));
        let at = if i + 1 == count {
            Position::Last
        } else if i == 0 {
            Position::First
        } else {
            Position::Middle
        };
        if utf8_bytes || code < 0x80 {
            escape_byte(out, code as u8, at);
        } else {
            let c = char::from_u32(code).ok_or(NameError::BadChar)?;
            let mut buf = [0u8; 4];
            for &b in c.encode_utf8(&mut buf).as_bytes() {
                escape_byte(out, b, at);
            }
        }
    }
    Ok(())
}

/// Where a character is in its value: RFC 2253 escapes `#` only first and
/// a space only first or last. (OpenSSL takes a one-character value as
/// last only.)
#[derive(Clone, Copy, PartialEq, Eq)]
enum Position {
    First,
    Middle,
    Last,
}

fn escape_byte(out: &mut String, b: u8, at: Position) {
    let special = matches!(b, b',' | b'+' | b'"' | b'\\' | b'<' | b'>' | b';')
        || (b == b'#' && at == Position::First)
        || (b == b' ' && at != Position::Middle);
    if special {
        out.push('\\');
        out.push(char::from(b));
    } else if !(0x20..0x7f).contains(&b) {
        push_hex(out, '\\', b);
    } else {
        out.push(char::from(b));
    }
}

fn push_hex(out: &mut String, prefix: char, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    if prefix != '\0' {
        out.push(prefix);
    }
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 15)]));
}

/// `#` and the hex of a whole DER element.
fn hex_dump(out: &mut String, der: &[u8]) {
    out.push('#');
    for &b in der {
        push_hex(out, '\0', b);
    }
}

/// Appends an encoded OID in dotted form.
fn dotted(out: &mut String, oid: &[u8]) -> Result<(), DerError> {
    use std::fmt::Write;
    let mut arc: u64 = 0;
    let mut first = true;
    if oid.is_empty() || oid[oid.len() - 1] & 0x80 != 0 {
        return Err(DerError::Truncated);
    }
    for &b in oid {
        if arc > u64::MAX >> 7 {
            return Err(DerError::BadLength);
        }
        arc = (arc << 7) | u64::from(b & 0x7f);
        if b & 0x80 != 0 {
            continue;
        }
        if first {
            let (top, second) = match arc {
                0..=39 => (0, arc),
                40..=79 => (1, arc - 40),
                _ => (2, arc - 80),
            };
            let _ = write!(out, "{top}.{second}");
            first = false;
        } else {
            let _ = write!(out, ".{arc}");
        }
        arc = 0;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DER of `tag` with `content`.
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        if content.len() < 128 {
            v.push(content.len() as u8);
        } else {
            v.push(0x82);
            v.extend_from_slice(&(content.len() as u16).to_be_bytes());
        }
        v.extend_from_slice(content);
        v
    }

    /// One attribute: OID, value tag, value.
    type Atv<'a> = (&'a [u8], u8, &'a [u8]);

    /// A subject's RDN sequence contents from RDNs of attributes.
    fn subject(rdns: &[&[Atv<'_>]]) -> Vec<u8> {
        let mut out = Vec::new();
        for rdn in rdns {
            let mut set = Vec::new();
            for (oid, tag, value) in *rdn {
                let atv = [tlv(0x06, oid), tlv(*tag, value)].concat();
                set.extend(tlv(0x30, &atv));
            }
            out.extend(tlv(0x31, &set));
        }
        out
    }

    const CN: &[u8] = &[0x55, 0x04, 0x03];
    const O: &[u8] = &[0x55, 0x04, 0x0a];
    const C: &[u8] = &[0x55, 0x04, 0x06];
    const OU: &[u8] = &[0x55, 0x04, 0x0b];

    #[test]
    fn rdns_are_printed_last_first_with_short_names() {
        let s = subject(&[
            &[(C, 0x13, b"GB")],
            &[(O, 0x0c, b"Example Ltd")],
            &[(CN, 0x0c, b"dev1")],
        ]);
        assert_eq!(rfc2253(&s).unwrap(), "CN=dev1,O=Example Ltd,C=GB");
        assert_eq!(super::super::x509::common_name(&s), Some("dev1"));
    }

    #[test]
    fn multi_valued_rdns_use_plus_and_are_reversed_too() {
        let s = subject(&[&[(O, 0x0c, b"a"), (OU, 0x0c, b"b")], &[(CN, 0x0c, b"c")]]);
        assert_eq!(rfc2253(&s).unwrap(), "CN=c,OU=b+O=a");
    }

    #[test]
    fn special_characters_are_escaped() {
        let s = subject(&[&[(CN, 0x0c, b"#a,b+c\"d\\e<f>g;h ")]]);
        assert_eq!(rfc2253(&s).unwrap(), r#"CN=\#a\,b\+c\"d\\e\<f\>g\;h\ "#);
        let s = subject(&[&[(CN, 0x0c, b" a#b ")]]);
        assert_eq!(rfc2253(&s).unwrap(), r"CN=\ a#b\ ");
        // A one-character value is "last" only: '#' stays, ' ' is escaped.
        assert_eq!(rfc2253(&subject(&[&[(CN, 0x0c, b"#")]])).unwrap(), "CN=#");
        assert_eq!(rfc2253(&subject(&[&[(CN, 0x0c, b" ")]])).unwrap(), r"CN=\ ");
        let s = subject(&[&[(CN, 0x0c, b"a\x01b\x7f")]]);
        assert_eq!(rfc2253(&s).unwrap(), r"CN=a\01b\7F");
    }

    #[test]
    fn non_ascii_is_escaped_byte_by_byte_in_utf8() {
        let s = subject(&[&[(CN, 0x0c, "é".as_bytes())]]);
        assert_eq!(rfc2253(&s).unwrap(), r"CN=\C3\A9");
        // T61String is Latin-1: é is 0xe9, printed as its UTF-8.
        let s = subject(&[&[(CN, 0x14, &[0xe9])]]);
        assert_eq!(rfc2253(&s).unwrap(), r"CN=\C3\A9");
        let s = subject(&[&[(CN, 0x1e, &[0x00, b'a', 0x20, 0xac])]]);
        assert_eq!(rfc2253(&s).unwrap(), r"CN=a\E2\82\AC");
        let s = subject(&[&[(CN, 0x1c, &[0, 0, 0, b'z'])]]);
        assert_eq!(rfc2253(&s).unwrap(), "CN=z");
        let bad = subject(&[&[(CN, 0x1e, &[0xd8, 0x00])]]);
        assert_eq!(rfc2253(&bad), Err(NameError::BadChar));
        let odd = subject(&[&[(CN, 0x1e, &[0x00])]]);
        assert_eq!(rfc2253(&odd), Err(NameError::BadChar));
    }

    #[test]
    fn unknown_attributes_and_types_are_dumped_in_hex() {
        let s = subject(&[&[(&[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37], 0x0c, b"x")]]);
        assert_eq!(rfc2253(&s).unwrap(), "1.3.6.1.4.1.311=#0C0178");
        let s = subject(&[&[(CN, 0x04, &[0xab])]]);
        assert_eq!(rfc2253(&s).unwrap(), "CN=#0401AB");
    }

    #[test]
    fn the_common_name_is_the_first_one_and_must_be_clean() {
        let s = subject(&[&[(CN, 0x0c, b"first")], &[(CN, 0x0c, b"second")]]);
        assert_eq!(super::super::x509::common_name(&s), Some("first"));
        let s = subject(&[&[(O, 0x0c, b"no cn")]]);
        assert_eq!(super::super::x509::common_name(&s), None);
        let s = subject(&[&[(CN, 0x0c, b"a\0b")]]);
        assert_eq!(super::super::x509::common_name(&s), None);
        let s = subject(&[&[(CN, 0x0c, &[0xff])]]);
        assert_eq!(super::super::x509::common_name(&s), None);
    }

    #[test]
    fn broken_names_are_errors() {
        assert!(matches!(
            rfc2253(&[0x31, 0x05, 0x30]),
            Err(NameError::Der(_))
        ));
        assert!(matches!(rfc2253(&[0x30, 0x00]), Err(NameError::Der(_))));
        assert_eq!(rfc2253(&[]).unwrap(), "");
    }
}
