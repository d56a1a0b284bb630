//! [`Lookup`]: one host name to socket addresses, as a state machine the
//! event loop drives (see [`super`] for the loop's side).
//!
//! Answered at once, with no datagram: an IP literal (`192.0.2.1`, `::1`,
//! `[::1]`), a name of the hosts file, `localhost` (127.0.0.1 and ::1 when
//! the hosts file does not name it), and a name no query could carry (an
//! error).
//!
//! Otherwise, for each candidate name of [`ResolvConf::candidates`] in
//! turn, an A and an AAAA query go to the first name server. Each query
//! moves on by itself: a try unanswered after `timeout` is sent again with
//! a new id until `attempts` tries, then goes to the next server; so does
//! a server's error (SERVFAIL, REFUSED, a truncated reply...). NXDOMAIN or
//! a reply without addresses settles it. Once both queries are settled
//! (answered, or failed on every server), their addresses are the result,
//! IPv4 first; without any, the next candidate is tried, and after the
//! last the lookup fails, naming the host and the most telling cause:
//! a server's error or a timeout over a missing address, over "no such
//! host".
//!
//! Spoof resistance: a datagram counts only when it comes from the server
//! its query was last sent to (an IPv4-mapped sender equals the IPv4
//! server) with that try's id and echoes the question; anything else,
//! malformed replies included, is ignored and the wait goes on. Each try
//! has a fresh id from a generator seeded with `seed`: the loop should
//! seed it from a random source, and let the kernel pick a random source
//! port. Not a cryptographic generator: 16-bit ids are guessable anyway.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::conf::ResolvConf;
use super::wire::{self, DnsError, QType};
use super::{hosts, name};

/// The port name servers listen on.
pub const DNS_PORT: u16 = 53;

/// One host name's resolution (see the module doc).
#[derive(Debug)]
pub struct Lookup {
    /// The name as given, for error texts.
    host: String,
    port: u16,
    /// The names to query, in order, and the one being queried.
    names: Vec<String>,
    at: usize,
    servers: Vec<SocketAddr>,
    timeout: Duration,
    attempts: u32,
    /// The A query, then the AAAA one.
    queries: [Query; 2],
    /// The most telling failure of the names tried so far.
    failure: Option<(u8, String)>,
    rng: u32,
    result: Option<Result<Vec<SocketAddr>, String>>,
}

#[derive(Debug)]
struct Query {
    qtype: QType,
    /// The server of the current try, an index into `servers`.
    server: usize,
    /// Tries to that server, the current one included.
    tries: u32,
    id: u16,
    deadline: Instant,
    state: State,
    /// What went wrong with each server before, as text.
    failures: Vec<String>,
}

#[derive(Debug)]
enum State {
    /// The current try is to be sent.
    Pending,
    /// The current try is out.
    Sent,
    /// Settled for the current name.
    Done(Settled),
}

#[derive(Debug)]
enum Settled {
    /// Possibly none: the name exists without such records.
    Addrs(Vec<IpAddr>),
    NoSuchName,
    /// Every server failed; why, per server.
    Failed(String),
}

impl Settled {
    /// How telling a failure is: a server trouble may hide an address,
    /// an empty answer says the name exists.
    fn rank(&self) -> (u8, String) {
        match self {
            Settled::Failed(why) => (3, why.clone()),
            Settled::Addrs(_) => (2, "no IPv4 or IPv6 address".to_string()),
            Settled::NoSuchName => (1, DnsError::NoSuchName.to_string()),
        }
    }
}

impl Lookup {
    /// Starts resolving `name` to addresses with `port`, per `conf` and
    /// the hosts file text `hosts`, at `now`.
    pub fn new(
        name: &str,
        port: u16,
        conf: &ResolvConf,
        hosts: &str,
        seed: u16,
        now: Instant,
    ) -> Lookup {
        let seed = u32::from(seed);
        let mut lookup = Lookup {
            host: name.to_string(),
            port,
            names: Vec::new(),
            at: 0,
            servers: conf
                .nameservers
                .iter()
                .map(|&ip| SocketAddr::new(ip, DNS_PORT))
                .collect(),
            timeout: conf.timeout,
            attempts: conf.attempts.max(1),
            queries: [Query::new(QType::A, now), Query::new(QType::Aaaa, now)],
            failure: None,
            // Never zero, for xorshift.
            rng: ((seed << 16) | (seed ^ 0x5bd1)).wrapping_mul(0x9e37_79b9) | 1,
            result: None,
        };
        if let Some(addrs) = immediate(name, hosts) {
            lookup.finish(Ok(addrs));
        } else if let Err(e) = name::check(name) {
            lookup.result = Some(Err(format!("cannot resolve {name:?}: {e}")));
        } else if lookup.servers.is_empty() {
            lookup.result = Some(Err(format!("cannot resolve {name}: no name server")));
        } else {
            lookup.names = conf.candidates(name);
            lookup.names.retain(|n| name::check(n).is_ok());
            lookup.start(now);
        }
        lookup
    }

    /// The next datagram to send and where to; `None` when nothing is due
    /// (wait for a reply or the deadline).
    pub fn transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        if self.result.is_some() {
            return None;
        }
        let q = self
            .queries
            .iter_mut()
            .find(|q| matches!(q.state, State::Pending))?;
        // Every candidate was checked, so this cannot fail.
        let msg = wire::query(q.id, &self.names[self.at], q.qtype).ok()?;
        q.state = State::Sent;
        Some((self.servers[q.server], msg))
    }

    /// A datagram `msg` from `from`, received at `now`.
    pub fn datagram(&mut self, from: SocketAddr, msg: &[u8], now: Instant) {
        if self.result.is_some() || msg.len() < 2 {
            return;
        }
        let id = u16::from_be_bytes([msg[0], msg[1]]);
        let servers = &self.servers;
        let Some(i) = self.queries.iter().position(|q| {
            matches!(q.state, State::Sent) && q.id == id && same(from, servers[q.server])
        }) else {
            return;
        };
        let qtype = self.queries[i].qtype;
        let settled = match wire::parse_response(msg, id, &self.names[self.at], qtype) {
            Ok(answer) => Settled::Addrs(answer.addrs),
            Err(DnsError::NoSuchName) => Settled::NoSuchName,
            Err(e) if e.is_mismatch() => return,
            Err(e) => {
                let why = format!("{e} from {}", self.servers[self.queries[i].server].ip());
                self.next_server(i, why, now);
                self.settle(now);
                return;
            }
        };
        self.queries[i].state = State::Done(settled);
        self.settle(now);
    }

    /// When [`Lookup::timeout`] is due; `None` once there is a result.
    pub fn deadline(&self) -> Option<Instant> {
        if self.result.is_some() {
            return None;
        }
        self.queries
            .iter()
            .filter(|q| !matches!(q.state, State::Done(_)))
            .map(|q| q.deadline)
            .min()
    }

    /// The clock reached `now`: every try out since its timeout is sent
    /// again, or moves on to the next server.
    pub fn timeout(&mut self, now: Instant) {
        if self.result.is_some() {
            return;
        }
        for i in 0..self.queries.len() {
            let q = &self.queries[i];
            if matches!(q.state, State::Done(_)) || q.deadline > now {
                continue;
            }
            if q.tries < self.attempts {
                let id = self.fresh_id(i);
                let q = &mut self.queries[i];
                q.tries += 1;
                q.retry(id, now + self.timeout);
            } else {
                let tries = if q.tries == 1 { "try" } else { "tries" };
                let server = self.servers[q.server].ip();
                let why = format!("timed out after {} {tries} to {server}", q.tries);
                self.next_server(i, why, now);
            }
        }
        self.settle(now);
    }

    /// The addresses (IPv4 first) or why there are none, once known.
    pub fn result(&self) -> Option<&Result<Vec<SocketAddr>, String>> {
        self.result.as_ref()
    }

    /// Both queries of the current name, from its first server.
    fn start(&mut self, now: Instant) {
        for i in 0..self.queries.len() {
            let id = self.fresh_id(i);
            let q = &mut self.queries[i];
            q.server = 0;
            q.tries = 1;
            q.failures.clear();
            q.retry(id, now + self.timeout);
        }
    }

    /// Query `i` failed on its server for `why`: the next server, or
    /// settled as failed after the last.
    fn next_server(&mut self, i: usize, why: String, now: Instant) {
        let id = self.fresh_id(i);
        let last = self.servers.len() - 1;
        let q = &mut self.queries[i];
        q.failures.push(why);
        if q.server < last {
            q.server += 1;
            q.tries = 1;
            q.retry(id, now + self.timeout);
        } else {
            q.state = State::Done(Settled::Failed(q.failures.join("; ")));
        }
    }

    /// Once both queries are settled: the result, or the next name.
    fn settle(&mut self, now: Instant) {
        let [State::Done(a), State::Done(b)] = [&self.queries[0].state, &self.queries[1].state]
        else {
            return;
        };
        let addrs: Vec<IpAddr> = [a, b]
            .into_iter()
            .flat_map(|s| match s {
                Settled::Addrs(list) => list.as_slice(),
                _ => &[],
            })
            .copied()
            .collect();
        if !addrs.is_empty() {
            self.finish(Ok(addrs));
            return;
        }
        // On a tie, the A query's cause.
        let (a, b) = (a.rank(), b.rank());
        let (rank, why) = if b.0 > a.0 { b } else { a };
        if self.failure.as_ref().is_none_or(|(r, _)| rank > *r) {
            let name = &self.names[self.at];
            let why = if *name == self.host {
                why
            } else {
                format!("{why} (as {name})")
            };
            self.failure = Some((rank, why));
        }
        self.at += 1;
        if self.at < self.names.len() {
            self.start(now);
        } else {
            let why = self.failure.take().map(|(_, why)| why).unwrap_or_default();
            self.finish(Err(why));
        }
    }

    /// Sets the result: `addrs` with the port, IPv4 first, or the error
    /// text naming the host.
    fn finish(&mut self, addrs: Result<Vec<IpAddr>, String>) {
        self.result = Some(match addrs {
            Ok(mut addrs) => {
                addrs.sort_by_key(IpAddr::is_ipv6);
                Ok(addrs
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, self.port))
                    .collect())
            }
            Err(why) => Err(format!("cannot resolve {}: {why}", self.host)),
        });
    }

    /// A new id for query `i`, never the other query's.
    fn fresh_id(&mut self, i: usize) -> u16 {
        let other = self.queries[1 - i].id;
        loop {
            let mut x = self.rng;
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            self.rng = x;
            let id = (x >> 16) as u16;
            if id != other {
                return id;
            }
        }
    }
}

impl Query {
    fn new(qtype: QType, now: Instant) -> Query {
        Query {
            qtype,
            server: 0,
            tries: 0,
            id: 0,
            deadline: now,
            state: State::Done(Settled::Addrs(Vec::new())),
            failures: Vec::new(),
        }
    }

    /// The current try, to be sent with `id`, waited for until `deadline`.
    fn retry(&mut self, id: u16, deadline: Instant) {
        self.id = id;
        self.deadline = deadline;
        self.state = State::Pending;
    }
}

/// The addresses of a name that needs no query.
fn immediate(name: &str, hosts: &str) -> Option<Vec<IpAddr>> {
    let literal = match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        Some(inner) => inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
        None => name.parse::<IpAddr>().ok(),
    };
    if let Some(ip) = literal {
        return Some(vec![ip]);
    }
    let listed = hosts::lookup(hosts, name);
    if !listed.is_empty() {
        return Some(listed);
    }
    let bare = name.strip_suffix('.').unwrap_or(name);
    bare.eq_ignore_ascii_case("localhost").then(|| {
        vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ]
    })
}

/// Whether a datagram from `from` comes from `server`.
fn same(from: SocketAddr, server: SocketAddr) -> bool {
    from.port() == server.port() && from.ip().to_canonical() == server.ip().to_canonical()
}

#[cfg(test)]
#[path = "lookup_tests.rs"]
mod tests;
