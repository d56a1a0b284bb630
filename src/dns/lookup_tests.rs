//! `Lookup` on a fake clock: `Instant`s advanced by adding durations, the
//! name servers' replies built by hand.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::Lookup;
use crate::dns::conf::ResolvConf;
use crate::dns::testdata::{reply, reply_rcode, Rr};
use crate::dns::wire::QType;

const NS1: &str = "192.0.2.1:53";
const NS2: &str = "192.0.2.2:53";
const V4: &str = "198.51.100.7";
const V6: &str = "2001:db8::7";

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// One datagram the lookup sent: where, its id, type and name.
#[derive(Debug, Clone)]
struct Sent {
    to: SocketAddr,
    id: u16,
    qtype: QType,
    name: String,
}

impl Sent {
    /// The reply with these records.
    fn answer(&self, rrs: &[Rr]) -> Vec<u8> {
        reply(self.id, &self.name, self.qtype, rrs)
    }

    /// The reply with the address for its type.
    fn address(&self) -> Vec<u8> {
        let addr = match self.qtype {
            QType::A => ip(V4),
            QType::Aaaa => ip(V6),
        };
        self.answer(&[Rr::addr(addr, 60)])
    }

    fn rcode(&self, rcode: u8) -> Vec<u8> {
        reply_rcode(self.id, &self.name, self.qtype, rcode, &[])
    }
}

/// Everything the lookup has to send now.
fn drain(l: &mut Lookup) -> Vec<Sent> {
    let mut out = Vec::new();
    while let Some((to, m)) = l.transmit() {
        let mut labels = Vec::new();
        let mut pos = 12;
        while m[pos] != 0 {
            let n = usize::from(m[pos]);
            labels.push(String::from_utf8(m[pos + 1..pos + 1 + n].to_vec()).unwrap());
            pos += 1 + n;
        }
        let qtype = match u16::from_be_bytes([m[pos + 1], m[pos + 2]]) {
            1 => QType::A,
            28 => QType::Aaaa,
            t => panic!("query type {t}"),
        };
        assert_eq!(m.len(), pos + 5, "one question, nothing after it");
        out.push(Sent {
            to,
            id: u16::from_be_bytes([m[0], m[1]]),
            qtype,
            name: labels.join("."),
        });
    }
    out
}

fn start(name: &str, conf: &str, t0: Instant) -> (Lookup, Vec<Sent>) {
    let mut l = Lookup::new(name, 1883, &ResolvConf::parse(conf), "", 0x2a2a, t0);
    let sent = drain(&mut l);
    (l, sent)
}

fn ok(l: &Lookup) -> Vec<SocketAddr> {
    match l.result() {
        Some(Ok(addrs)) => addrs.clone(),
        other => panic!("not resolved: {other:?}"),
    }
}

fn err(l: &Lookup) -> String {
    match l.result() {
        Some(Err(why)) => why.clone(),
        other => panic!("not failed: {other:?}"),
    }
}

const ONE: &str = "nameserver 192.0.2.1\noptions timeout:1 attempts:2\n";
const TWO: &str = "nameserver 192.0.2.1\nnameserver 192.0.2.2\noptions timeout:1 attempts:2\n";

#[test]
fn dns_lookup_literals_need_no_query() {
    let t0 = Instant::now();
    for (name, want) in [
        ("127.0.0.1", "127.0.0.1:1883"),
        ("::1", "[::1]:1883"),
        ("[::1]", "[::1]:1883"),
        ("[2001:db8::1]", "[2001:db8::1]:1883"),
    ] {
        let (l, sent) = start(name, ONE, t0);
        assert!(sent.is_empty(), "{name}");
        assert_eq!(ok(&l), [sa(want)], "{name}");
        assert_eq!(l.deadline(), None);
    }
    for name in ["[127.0.0.1]", "bad name", "", "a..b", "fe80::1%eth0"] {
        let (l, sent) = start(name, ONE, t0);
        assert!(sent.is_empty(), "{name}");
        assert!(
            err(&l).starts_with(&format!("cannot resolve {name:?}: ")),
            "{name}"
        );
    }
}

#[test]
fn dns_lookup_localhost_and_hosts_file() {
    let t0 = Instant::now();
    let conf = ResolvConf::parse(ONE);
    let mut l = Lookup::new("LocalHost.", 80, &conf, "", 1, t0);
    assert!(l.transmit().is_none());
    assert_eq!(ok(&l), [sa("127.0.0.1:80"), sa("[::1]:80")]);
    let l = Lookup::new("localhost", 80, &conf, "127.0.0.1 localhost\n", 1, t0);
    assert_eq!(ok(&l), [sa("127.0.0.1:80")]);
    let hosts = "2001:db8::5 broker\n10.0.0.5 broker broker.lan\n";
    let mut l = Lookup::new("Broker", 8883, &conf, hosts, 1, t0);
    assert!(l.transmit().is_none());
    assert_eq!(ok(&l), [sa("10.0.0.5:8883"), sa("[2001:db8::5]:8883")]);
}

#[test]
fn dns_lookup_both_answers_ipv4_first() {
    let t0 = Instant::now();
    let (mut l, sent) = start("broker.lan", ONE, t0);
    assert_eq!(sent.len(), 2);
    assert_eq!([sent[0].qtype, sent[1].qtype], [QType::A, QType::Aaaa]);
    assert!(sent
        .iter()
        .all(|s| s.to == sa(NS1) && s.name == "broker.lan"));
    assert_ne!(sent[0].id, sent[1].id);
    assert_eq!(l.deadline(), Some(t0 + secs(1)));
    l.datagram(sa(NS1), &sent[1].address(), t0);
    assert!(l.result().is_none());
    l.datagram(sa(NS1), &sent[0].address(), t0);
    assert_eq!(ok(&l), [sa("198.51.100.7:1883"), sa("[2001:db8::7]:1883")]);
    assert!(l.transmit().is_none());
    assert_eq!(l.deadline(), None);
    // Done is done.
    l.timeout(t0 + secs(60));
    l.datagram(sa(NS1), &sent[0].rcode(2), t0);
    assert_eq!(ok(&l).len(), 2);
}

#[test]
fn dns_lookup_one_answer_other_times_out() {
    let t0 = Instant::now();
    let (mut l, sent) = start("broker.lan", ONE, t0);
    l.datagram(sa(NS1), &sent[0].address(), t0);
    assert!(l.result().is_none());
    assert_eq!(l.deadline(), Some(t0 + secs(1)));
    l.timeout(t0 + secs(1));
    let again = drain(&mut l);
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].qtype, again[0].to), (QType::Aaaa, sa(NS1)));
    assert_ne!(again[0].id, sent[1].id);
    assert_eq!(l.deadline(), Some(t0 + secs(2)));
    l.timeout(t0 + secs(2));
    assert!(drain(&mut l).is_empty());
    assert_eq!(ok(&l), [sa("198.51.100.7:1883")]);
}

#[test]
fn dns_lookup_empty_answer_settles_a_query() {
    let t0 = Instant::now();
    let (mut l, sent) = start("v6only.lan", ONE, t0);
    l.datagram(sa(NS1), &sent[0].answer(&[]), t0);
    l.datagram(sa(NS1), &sent[1].address(), t0);
    assert_eq!(ok(&l), [sa("[2001:db8::7]:1883")]);
    let (mut l, sent) = start("nothing.lan", ONE, t0);
    l.datagram(sa(NS1), &sent[0].answer(&[]), t0);
    l.datagram(sa(NS1), &sent[1].answer(&[]), t0);
    assert_eq!(
        err(&l),
        "cannot resolve nothing.lan: no IPv4 or IPv6 address"
    );
}

#[test]
fn dns_lookup_retries_then_second_server() {
    let t0 = Instant::now();
    let (mut l, first) = start("broker.lan", TWO, t0);
    assert!(first.iter().all(|s| s.to == sa(NS1)));
    // Early: nothing moves.
    l.timeout(t0 + Duration::from_millis(999));
    assert!(drain(&mut l).is_empty());
    l.timeout(t0 + secs(1));
    let second = drain(&mut l);
    assert_eq!(second.len(), 2);
    assert!(second.iter().all(|s| s.to == sa(NS1)));
    assert!(second.iter().all(|s| first.iter().all(|f| f.id != s.id)));
    // A late reply to the first try is no longer awaited.
    l.datagram(sa(NS1), &first[0].address(), t0 + secs(1));
    l.datagram(sa(NS1), &first[1].address(), t0 + secs(1));
    assert!(l.result().is_none());
    l.timeout(t0 + secs(2));
    let third = drain(&mut l);
    assert_eq!(third.len(), 2);
    assert!(third.iter().all(|s| s.to == sa(NS2)));
    assert_eq!(l.deadline(), Some(t0 + secs(3)));
    l.datagram(sa(NS2), &third[0].address(), t0 + secs(2));
    l.datagram(sa(NS2), &third[1].address(), t0 + secs(2));
    assert_eq!(ok(&l).len(), 2);
}

#[test]
fn dns_lookup_all_time_out() {
    let t0 = Instant::now();
    let (mut l, sent) = start("broker.lan", ONE, t0);
    let mut total = sent.len();
    for s in 1..=2 {
        l.timeout(t0 + secs(s));
        total += drain(&mut l).len();
    }
    assert_eq!(total, 4);
    assert_eq!(
        err(&l),
        "cannot resolve broker.lan: timed out after 2 tries to 192.0.2.1"
    );
    let (mut l, _) = start("broker.lan", TWO, t0);
    for s in 1..=4 {
        assert!(l.result().is_none());
        l.timeout(t0 + secs(s));
        drain(&mut l);
    }
    assert_eq!(
        err(&l),
        "cannot resolve broker.lan: timed out after 2 tries to 192.0.2.1; \
         timed out after 2 tries to 192.0.2.2"
    );
    let (mut l, _) = start("broker.lan", "nameserver 192.0.2.1\noptions attempts:1", t0);
    assert_eq!(l.deadline(), Some(t0 + secs(5)));
    l.timeout(t0 + secs(5));
    assert_eq!(
        err(&l),
        "cannot resolve broker.lan: timed out after 1 try to 192.0.2.1"
    );
}

#[test]
fn dns_lookup_ignores_spoofed_and_stray_datagrams() {
    let t0 = Instant::now();
    let (mut l, sent) = start("broker.lan", ONE, t0);
    let good = sent[0].address();
    let mut other_question = sent[0].clone();
    other_question.name = "evil.lan".into();
    let mut wrong_id = sent[0].clone();
    wrong_id.id = sent[0].id.wrapping_add(1);
    for (from, msg) in [
        (sa("192.0.2.99:53"), good.clone()),
        (sa("192.0.2.1:5353"), good.clone()),
        (sa("[2001:db8::1]:53"), good.clone()),
        (sa(NS1), wrong_id.address()),
        (sa(NS1), other_question.address()),
        (sa(NS1), good[..good.len() - 1].to_vec()),
        (sa(NS1), vec![]),
        (sa(NS1), vec![good[0]]),
        (sa(NS1), good[..2].to_vec()),
    ] {
        l.datagram(from, &msg, t0);
        assert!(l.result().is_none(), "{from} {msg:?}");
        assert!(l.transmit().is_none());
        assert_eq!(l.deadline(), Some(t0 + secs(1)));
    }
    // The A query still waits: an IPv4-mapped sender is the server.
    l.datagram(sa("[::ffff:192.0.2.1]:53"), &good, t0);
    l.datagram(sa(NS1), &sent[1].address(), t0);
    assert_eq!(ok(&l).len(), 2);
}

#[test]
fn dns_lookup_server_failure_moves_on() {
    let t0 = Instant::now();
    let (mut l, sent) = start("broker.lan", TWO, t0 + secs(0));
    l.datagram(sa(NS1), &sent[0].rcode(2), t0);
    let moved = drain(&mut l);
    assert_eq!(moved.len(), 1);
    assert_eq!((moved[0].qtype, moved[0].to), (QType::A, sa(NS2)));
    l.datagram(sa(NS2), &moved[0].address(), t0);
    l.datagram(sa(NS1), &sent[1].address(), t0);
    assert_eq!(ok(&l).len(), 2);
    let (mut l, sent) = start("broker.lan", ONE, t0);
    l.datagram(sa(NS1), &sent[0].rcode(2), t0);
    l.datagram(sa(NS1), &sent[1].rcode(5), t0);
    assert!(drain(&mut l).is_empty());
    assert_eq!(
        err(&l),
        "cannot resolve broker.lan: server failure from 192.0.2.1"
    );
    // A truncated reply (no TCP here) fails that server too.
    let (mut l, sent) = start("broker.lan", ONE, t0);
    let mut tc = sent[0].address();
    tc[2] |= 0x02;
    l.datagram(sa(NS1), &tc, t0);
    l.datagram(sa(NS1), &sent[1].answer(&[]), t0);
    assert!(err(&l).contains("truncated reply"), "{}", err(&l));
}

#[test]
fn dns_lookup_nxdomain_then_search_suffix() {
    let t0 = Instant::now();
    let conf = "nameserver 192.0.2.1\nsearch lan example.net\noptions timeout:1\n";
    let (mut l, sent) = start("broker", conf, t0);
    assert!(sent.iter().all(|s| s.name == "broker"));
    l.datagram(sa(NS1), &sent[0].rcode(3), t0);
    assert!(drain(&mut l).is_empty());
    l.datagram(sa(NS1), &sent[1].rcode(3), t0 + secs(1));
    let next = drain(&mut l);
    assert_eq!(next.len(), 2);
    assert!(next
        .iter()
        .all(|s| s.name == "broker.lan" && s.to == sa(NS1)));
    assert_eq!(l.deadline(), Some(t0 + secs(2)));
    l.datagram(sa(NS1), &next[0].address(), t0 + secs(1));
    l.datagram(sa(NS1), &next[1].rcode(3), t0 + secs(1));
    assert_eq!(ok(&l), [sa("198.51.100.7:1883")]);
    // Every name unknown.
    let (mut l, mut sent) = start("broker", conf, t0);
    for _ in 0..3 {
        for s in &sent {
            l.datagram(sa(NS1), &s.rcode(3), t0);
        }
        sent = drain(&mut l);
    }
    assert!(sent.is_empty());
    assert_eq!(err(&l), "cannot resolve broker: no such host");
}

#[test]
fn dns_lookup_error_names_the_most_telling_cause() {
    let t0 = Instant::now();
    let conf = "nameserver 192.0.2.1\nsearch lan\noptions timeout:1 attempts:1\n";
    let (mut l, sent) = start("broker", conf, t0);
    for s in &sent {
        l.datagram(sa(NS1), &s.rcode(3), t0);
    }
    assert_eq!(drain(&mut l).len(), 2);
    l.timeout(t0 + secs(1));
    assert_eq!(
        err(&l),
        "cannot resolve broker: timed out after 1 try to 192.0.2.1 (as broker.lan)"
    );
}

#[test]
fn dns_lookup_ids_come_from_the_seed() {
    let t0 = Instant::now();
    let conf = ResolvConf::parse(ONE);
    let ids = |seed: u16| {
        let mut l = Lookup::new("broker.lan", 1, &conf, "", seed, t0);
        drain(&mut l).iter().map(|s| s.id).collect::<Vec<u16>>()
    };
    assert_eq!(ids(7), ids(7));
    let all: Vec<Vec<u16>> = (0..64).map(ids).collect();
    assert!(all.iter().all(|p| p[0] != p[1]));
    let mut firsts: Vec<u16> = all.iter().map(|p| p[0]).collect();
    firsts.sort_unstable();
    firsts.dedup();
    assert!(
        firsts.len() > 60,
        "{} distinct first ids of 64 seeds",
        firsts.len()
    );
}
