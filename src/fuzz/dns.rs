//! The DNS target. Input: one flags byte, then a message, read three ways:
//! as a DNS response (bit 0: to an A or an AAAA query), as hosts file and
//! resolv.conf text (invalid UTF-8 replaced), and as the reply a
//! [`Lookup`] gets to every query it sends (bit 1: the lookup is for the
//! bare `broker`, searched under two suffixes, else for the name the
//! message's question holds; bit 2: with a hosts file naming `broker`).
//!
//! Checked: nothing panics. `parse_response`, for assorted names (the
//! question's among them) and both types: every address is of the queried
//! family, there are fewer than one per 16 bytes, an empty answer has TTL
//! 0; the verdict is the same for the name in capitals, and another id is
//! `WrongId`. The hosts file gives each address once, one written in the
//! text, the same for the name in capitals or with a trailing dot. The
//! resolv.conf settings stay in glibc's bounds and candidates start with
//! the name. The lookup: replies with the right id from another address
//! change nothing; it ends within [`STEPS`] turns of the clock, with
//! addresses (port kept, IPv4 first, each written in the message when they
//! came from it) or an error naming the host.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use crate::dns::conf::{MAX_ATTEMPTS, MAX_NAMESERVERS, MAX_SEARCH, MAX_TIMEOUT_SECS};
use crate::dns::wire::{self, DnsError, QType, HEADER_LEN};
use crate::dns::{hosts, name, Lookup, ResolvConf};

/// Names every input is parsed as a response to, besides its question's.
const NAMES: &[&str] = &["www.example.com", "example.com", "broker.lan", "a"];
/// The lookup's resolv.conf: two servers, two tries each, two suffixes.
const CONF: &str = "nameserver 192.0.2.53\nnameserver 2001:db8::53\nsearch lan example.net\n\
                    options timeout:1 attempts:2\n";
/// The hosts file of bit 2.
const HOSTS: &str = "10.9.8.7 broker\n::1 localhost\n";
/// Where spoofed copies of each reply come from.
const SPOOFERS: &[&str] = &["198.51.100.1:53", "192.0.2.53:54", "[2001:db8::54]:53"];
/// The most turns of the clock a lookup may take.
const STEPS: usize = 64;
/// The bridge's port, as the lookup is asked for.
const PORT: u16 = 1883;

/// Runs one input (see the module doc).
pub fn run(data: &[u8]) {
    let Some((&flags, msg)) = data.split_first() else {
        return;
    };
    let qtype = if flags & 1 == 0 {
        QType::A
    } else {
        QType::Aaaa
    };
    let asked = question(msg);
    for name in NAMES.iter().copied().chain(asked.as_deref()) {
        for qtype in [qtype, other(qtype)] {
            response(msg, name, qtype);
        }
    }
    let text = String::from_utf8_lossy(msg);
    text_files(&text);
    let name = match asked {
        Some(name) if flags & 2 == 0 => name,
        _ => "broker".to_string(),
    };
    let hosts = if flags & 4 == 0 { "" } else { HOSTS };
    lookup(&name, hosts, msg, fnv(data) as u16);
}

fn other(qtype: QType) -> QType {
    match qtype {
        QType::A => QType::Aaaa,
        QType::Aaaa => QType::A,
    }
}

/// The question's name when it is plain labels a query could carry.
fn question(msg: &[u8]) -> Option<String> {
    let mut labels = Vec::new();
    let mut pos = HEADER_LEN;
    loop {
        let n = usize::from(*msg.get(pos)?);
        if n == 0 {
            break;
        }
        let label = msg.get(pos + 1..pos + 1 + n)?;
        labels.push(std::str::from_utf8(label).ok()?);
        pos += 1 + n;
    }
    let joined = labels.join(".");
    name::check(&joined).ok()?;
    Some(joined)
}

/// `msg` as the response to `name`'s `qtype` query, with the id it has.
fn response(msg: &[u8], name: &str, qtype: QType) {
    let id = msg.get(..2).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    let verdict = wire::parse_response(msg, id, name, qtype);
    match &verdict {
        Ok(answer) => {
            assert!(msg.len() >= HEADER_LEN);
            assert!(
                answer.addrs.iter().all(|a| qtype.holds(a)),
                "{answer:?} to {qtype:?}"
            );
            assert!(
                answer.addrs.len() * 16 <= msg.len(),
                "{} addresses",
                answer.addrs.len()
            );
            assert!(!answer.addrs.is_empty() || answer.ttl == 0);
            assert!(answer.ttl <= i32::MAX as u32);
        }
        Err(DnsError::Malformed(why)) => assert!(!why.is_empty()),
        Err(_) => assert!(msg.len() >= HEADER_LEN),
    }
    let shouted = name.to_ascii_uppercase();
    assert_eq!(wire::parse_response(msg, id, &shouted, qtype), verdict);
    if msg.len() >= HEADER_LEN {
        assert_eq!(
            wire::parse_response(msg, id ^ 0x8001, name, qtype),
            Err(DnsError::WrongId)
        );
    }
}

/// The text as a hosts file and as a resolv.conf.
fn text_files(text: &str) {
    let mut probes: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_ascii_whitespace().nth(1))
        .take(8)
        .collect();
    probes.push("localhost");
    for &p in &probes {
        let found = hosts::lookup(text, p);
        for (i, a) in found.iter().enumerate() {
            assert!(!found[..i].contains(a), "{a} twice for {p:?}");
            let written = text
                .split(|c: char| c.is_ascii_whitespace() || c == '#')
                .any(|w| w.parse::<IpAddr>().as_ref() == Ok(a));
            assert!(written, "{a} for {p:?} is not in the text");
        }
        assert_eq!(hosts::lookup(text, &p.to_ascii_uppercase()), found);
        if !p.ends_with('.') {
            assert_eq!(hosts::lookup(text, &format!("{p}.")), found);
        }
    }
    let conf = ResolvConf::parse(text);
    assert!((1..=MAX_NAMESERVERS).contains(&conf.nameservers.len()));
    assert!(conf.search.len() <= MAX_SEARCH);
    assert!(conf.search.iter().all(|s| !s.is_empty()));
    assert!((1..=MAX_ATTEMPTS).contains(&conf.attempts));
    assert!((1..=u64::from(MAX_TIMEOUT_SECS)).contains(&conf.timeout.as_secs()));
    assert_eq!(conf.timeout.subsec_nanos(), 0);
    for &p in &probes {
        let names = conf.candidates(p);
        assert_eq!(names[0], p);
        let searched = !p.is_empty() && !p.contains('.');
        let want = if searched { 1 + conf.search.len() } else { 1 };
        assert_eq!(names.len(), want, "{p:?}");
    }
}

/// A lookup of `name` whose every query is answered with `msg` (its id
/// set to the query's), spoofed copies first.
fn lookup(name: &str, hosts: &str, msg: &[u8], seed: u16) {
    let conf = ResolvConf::parse(CONF);
    let spoofers: Vec<SocketAddr> = SPOOFERS.iter().map(|s| s.parse().unwrap()).collect();
    let mut now = Instant::now();
    let mut l = Lookup::new(name, PORT, &conf, hosts, seed, now);
    for _ in 0..STEPS {
        if l.result().is_some() {
            break;
        }
        let mut out = Vec::new();
        while let Some(d) = l.transmit() {
            out.push(d);
            assert!(out.len() <= 2, "more than one datagram per query");
        }
        let mut replies = Vec::new();
        for (to, query) in &out {
            assert_eq!(to.port(), 53);
            assert!(conf.nameservers.contains(&to.ip()), "sent to {to}");
            let mut reply = msg.to_vec();
            if let Some(id) = reply.get_mut(..2) {
                id.copy_from_slice(&query[..2]);
            }
            replies.push((*to, reply));
        }
        let before = l.deadline();
        for (_, reply) in &replies {
            for &from in &spoofers {
                l.datagram(from, reply, now);
                assert!(l.result().is_none(), "a reply from {from} was heard");
                assert_eq!(l.deadline(), before);
            }
        }
        assert!(l.transmit().is_none());
        for (to, reply) in &replies {
            l.datagram(*to, reply, now);
        }
        if l.result().is_none() {
            let due = l.deadline().expect("a lookup under way has a deadline");
            assert!(due >= now, "a deadline in the past");
            now = due;
            l.timeout(now);
        }
    }
    match l.result().expect("the lookup ended") {
        Ok(addrs) => {
            assert!(!addrs.is_empty());
            assert!(addrs.iter().all(|a| a.port() == PORT));
            assert!(addrs.is_sorted_by_key(SocketAddr::is_ipv6), "{addrs:?}");
            let from_dns = name.parse::<IpAddr>().is_err()
                && !name.eq_ignore_ascii_case("localhost")
                && hosts::lookup(hosts, name).is_empty();
            for a in addrs.iter().filter(|_| from_dns) {
                let octets = match a.ip() {
                    IpAddr::V4(v4) => v4.octets().to_vec(),
                    IpAddr::V6(v6) => v6.octets().to_vec(),
                };
                let written = msg.windows(octets.len()).any(|w| w == octets);
                assert!(written, "{a} is not in the message");
            }
        }
        Err(why) => assert!(
            why.starts_with(&format!("cannot resolve {name}: ")),
            "{why}"
        ),
    }
}

/// FNV-1a of `data`: the lookup's seed, so a run repeats.
fn fnv(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}
