//! `parse_response` on a captured-style reply, cut, bent and spoofed,
//! and on hand-built ones: CNAME chains, TTLs, NODATA, pointer loops.

use super::*;
use crate::dns::testdata::{reply, Rr};

/// A reply as a recursive resolver sends it for `www.example.com A`:
/// a CNAME to `example.com`, then its address, with the names
/// compressed against the question.
const CAPTURED: &[u8] = &[
    0x12, 0x34, // id
    0x81, 0x80, // QR, RD, RA, NOERROR
    0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, // 1 question, 2 answers
    // 12: www.example.com A IN
    0x03, b'w', b'w', b'w', 0x07, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0x03, b'c', b'o', b'm',
    0x00, 0x00, 0x01, 0x00, 0x01, //
    // 33: www.example.com (-> 12) CNAME IN ttl 3600, example.com (-> 16)
    0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x02, 0xc0, 0x10,
    // 47: example.com (-> 16) A IN ttl 300, 93.184.216.34
    0xc0, 0x10, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x04, 0x5d, 0xb8, 0xd8, 0x22,
];

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

#[test]
fn dns_query_bytes() {
    let q = query(0xbeef, "Broker.lan.", QType::Aaaa).unwrap();
    assert_eq!(
        q,
        b"\xbe\xef\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x06Broker\x03lan\x00\x00\x1c\x00\x01"
    );
    assert_eq!(query(1, "a..b", QType::A), Err(NameError::EmptyLabel));
    assert_eq!(query(1, "", QType::A), Err(NameError::Empty));
    // A query is no response to itself.
    let q = query(7, "example.com", QType::A).unwrap();
    assert_eq!(
        parse_response(&q, 7, "example.com", QType::A),
        Err(DnsError::NotResponse)
    );
}

#[test]
fn dns_captured_reply_with_compression_and_cname() {
    let want = Answer {
        addrs: vec![v4(93, 184, 216, 34)],
        ttl: 300,
    };
    assert_eq!(
        parse_response(CAPTURED, 0x1234, "www.example.com", QType::A),
        Ok(want.clone())
    );
    // The question compares case-insensitively, trailing dot or not.
    assert_eq!(
        parse_response(CAPTURED, 0x1234, "WWW.Example.COM.", QType::A),
        Ok(want)
    );
}

#[test]
fn dns_captured_reply_cut_anywhere_is_an_error() {
    for cut in 0..CAPTURED.len() {
        let r = parse_response(&CAPTURED[..cut], 0x1234, "www.example.com", QType::A);
        assert!(
            matches!(r, Err(DnsError::Malformed(_))),
            "cut at {cut}: {r:?}"
        );
    }
}

#[test]
fn dns_reply_mismatches() {
    let name = "www.example.com";
    let ok = |m: &[u8]| parse_response(m, 0x1234, name, QType::A);
    let with = |i: usize, b: u8| {
        let mut m = CAPTURED.to_vec();
        m[i] = b;
        m
    };
    assert_eq!(
        parse_response(CAPTURED, 0x1235, name, QType::A),
        Err(DnsError::WrongId)
    );
    assert_eq!(ok(&with(2, 0x01)), Err(DnsError::NotResponse));
    assert_eq!(ok(&with(2, 0x81 | 0x10)), Err(DnsError::WrongOpcode));
    assert_eq!(
        parse_response(CAPTURED, 0x1234, "example.com", QType::A),
        Err(DnsError::WrongQuestion)
    );
    assert_eq!(
        parse_response(CAPTURED, 0x1234, "www.example.co", QType::A),
        Err(DnsError::WrongQuestion)
    );
    assert_eq!(
        parse_response(CAPTURED, 0x1234, name, QType::Aaaa),
        Err(DnsError::WrongQuestion)
    );
    assert_eq!(
        parse_response(CAPTURED, 0x1234, "bad name", QType::A),
        Err(DnsError::WrongQuestion)
    );
    assert_eq!(ok(&with(14, b'x')), Err(DnsError::WrongQuestion));
    assert_eq!(ok(&with(32, 3)), Err(DnsError::WrongQuestion)); // class CH
    assert_eq!(ok(&with(5, 0)), Err(DnsError::WrongQuestion)); // no question
    assert_eq!(ok(&with(5, 2)), Err(DnsError::WrongQuestion)); // two
}

#[test]
fn dns_reply_rcodes_and_truncation() {
    let name = "www.example.com";
    for (rcode, want) in [
        (1, DnsError::FormatError),
        (2, DnsError::ServerFailure),
        (3, DnsError::NoSuchName),
        (4, DnsError::NotImplemented),
        (5, DnsError::Refused),
        (9, DnsError::Rcode(9)),
    ] {
        let mut m = CAPTURED.to_vec();
        m[3] |= rcode;
        assert_eq!(parse_response(&m, 0x1234, name, QType::A), Err(want));
        assert!(!want.is_mismatch());
    }
    let mut m = CAPTURED.to_vec();
    m[2] |= 0x02;
    assert_eq!(
        parse_response(&m, 0x1234, name, QType::A),
        Err(DnsError::Truncated)
    );
    // A truncated reply cut where the server cut it: still Truncated.
    assert_eq!(
        parse_response(&m[..37], 0x1234, name, QType::A),
        Err(DnsError::Truncated)
    );
}

#[test]
fn dns_reply_addresses_nodata_and_ttl() {
    let six: IpAddr = "2001:db8::1".parse().unwrap();
    let m = reply(
        9,
        "h.lan",
        QType::Aaaa,
        &[
            Rr::addr(six, 60),
            Rr::addr("2001:db8::2".parse().unwrap(), 30),
        ],
    );
    let a = parse_response(&m, 9, "h.lan", QType::Aaaa).unwrap();
    assert_eq!(a.addrs, vec![six, "2001:db8::2".parse().unwrap()]);
    assert_eq!(a.ttl, 30);
    // NODATA: NOERROR, nothing of the type; other classes and owners
    // are skipped; a TTL with the top bit set is zero.
    let m = reply(
        9,
        "h.lan",
        QType::A,
        &[
            Rr::other("x.lan", 1, 1, &[1, 2, 3, 4]),
            Rr::other("h.lan", 1, 3, &[1, 2, 3, 4]),
        ],
    );
    assert_eq!(
        parse_response(&m, 9, "h.lan", QType::A),
        Ok(Answer {
            addrs: vec![],
            ttl: 0
        })
    );
    let m = reply(
        9,
        "h.lan",
        QType::A,
        &[Rr::addr(v4(10, 0, 0, 1), 0x8000_0000)],
    );
    assert_eq!(parse_response(&m, 9, "h.lan", QType::A).unwrap().ttl, 0);
    // An A record of 5 bytes is malformed.
    let m = reply(
        9,
        "h.lan",
        QType::A,
        &[Rr::other("h.lan", 1, 1, &[1, 2, 3, 4, 5])],
    );
    assert!(matches!(
        parse_response(&m, 9, "h.lan", QType::A),
        Err(DnsError::Malformed(_))
    ));
}

#[test]
fn dns_cname_chains() {
    let addr = Rr::other("c.lan", 1, 1, &[10, 0, 0, 3]);
    // Out of order: the address first, the chain backwards.
    let m = reply(
        1,
        "a.lan",
        QType::A,
        &[
            addr.clone(),
            Rr::cname("b.lan", "c.lan", 50),
            Rr::cname("a.lan", "b.lan", 100),
        ],
    );
    assert_eq!(
        parse_response(&m, 1, "a.lan", QType::A),
        Ok(Answer {
            addrs: vec![v4(10, 0, 0, 3)],
            ttl: 50
        })
    );
    // A chain to a name without records here: NODATA.
    let m = reply(1, "a.lan", QType::A, &[Rr::cname("a.lan", "b.lan", 100)]);
    assert!(parse_response(&m, 1, "a.lan", QType::A)
        .unwrap()
        .addrs
        .is_empty());
    // A loop, and a chain one longer than allowed.
    let m = reply(
        1,
        "a.lan",
        QType::A,
        &[
            Rr::cname("a.lan", "b.lan", 1),
            Rr::cname("b.lan", "a.lan", 1),
        ],
    );
    assert_eq!(
        parse_response(&m, 1, "a.lan", QType::A),
        Err(DnsError::TooManyCnames)
    );
    let names: Vec<String> = (0..=MAX_CNAMES + 1).map(|i| format!("n{i}.lan")).collect();
    let chain = |links: usize| {
        let mut rrs: Vec<Rr> = (0..links)
            .map(|i| Rr::cname(&names[i], &names[i + 1], 1))
            .collect();
        rrs.push(Rr::other(&names[links], 1, 1, &[10, 0, 0, 9]));
        reply(1, &names[0], QType::A, &rrs)
    };
    assert_eq!(
        parse_response(&chain(MAX_CNAMES), 1, &names[0], QType::A)
            .unwrap()
            .addrs,
        vec![v4(10, 0, 0, 9)]
    );
    assert_eq!(
        parse_response(&chain(MAX_CNAMES + 1), 1, &names[0], QType::A),
        Err(DnsError::TooManyCnames)
    );
    // CNAME data longer than its name.
    let mut bad = Rr::cname("a.lan", "b.lan", 1);
    bad.data.push(0);
    let m = reply(1, "a.lan", QType::A, &[bad]);
    assert!(matches!(
        parse_response(&m, 1, "a.lan", QType::A),
        Err(DnsError::Malformed(_))
    ));
}

#[test]
fn dns_reply_pointer_loops_and_bad_counts() {
    let name = "www.example.com";
    // The answer's owner points at itself (offset 33), then forward.
    for ptr in [[0xc0, 33], [0xc0, 60], [0xff, 0xff]] {
        let mut m = CAPTURED.to_vec();
        m[33..35].copy_from_slice(&ptr);
        assert!(
            matches!(
                parse_response(&m, 0x1234, name, QType::A),
                Err(DnsError::Malformed(_))
            ),
            "{ptr:?}"
        );
    }
    // The question itself compressed: nothing before it to point at.
    let mut m = CAPTURED[..12].to_vec();
    m.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
    assert!(matches!(
        parse_response(&m, 0x1234, name, QType::A),
        Err(DnsError::Malformed(_))
    ));
    // More answers announced than there are.
    let mut m = CAPTURED.to_vec();
    m[7] = 3;
    assert!(matches!(
        parse_response(&m, 0x1234, name, QType::A),
        Err(DnsError::Malformed(_))
    ));
    // A huge count over a short message allocates nothing first.
    m[6] = 0xff;
    assert!(matches!(
        parse_response(&m, 0x1234, name, QType::A),
        Err(DnsError::Malformed(_))
    ));
}
