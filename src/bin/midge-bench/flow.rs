//! The message scenarios: fanin, fanout, pairs, latency and qos, all one
//! engine over a `Plan` (which publisher publishes where, which subscriber
//! receives which publishers), driven by one single-threaded mio loop.
//!
//! A run has four phases: setup (connect, subscribe), run (publish until
//! the count or the duration is reached), drain (wait for what is still in
//! flight, at most a few seconds) and done. A publisher never runs more
//! than `credit` messages ahead of its slowest subscriber, and at QoS 1/2
//! never has more than `window` publishes unacknowledged, so the rates are
//! sustainable ones. Everything stops at the hard deadline, duration + 10 s
//! after the start.

use crate::histogram::Histogram;
use crate::net::{self, Conn, SCRATCH};
use crate::opts::{Opts, Scenario};
use crate::report::{self, Report};
use crate::tally::Tally;
use crate::wire::{self, Packet, Stamp};
use mio::{Events, Poll, Token};
use std::time::{Duration, Instant};

/// A publisher stops filling its output buffer at this many bytes per turn.
const TX_HIGH: usize = 64 * 1024;
/// Keep-alive sent in CONNECT; a PINGREQ goes out at half of it.
const KEEP_ALIVE: u16 = 60;
/// How long to wait for in-flight messages after publishing stopped.
const DRAIN_QOS0: Duration = Duration::from_secs(2);
/// The same at QoS 1/2, where every message must arrive.
const DRAIN_QOS12: Duration = Duration::from_secs(5);

/// Who publishes where and who receives whom.
pub struct Plan {
    /// Topic of each publisher.
    pub topics: Vec<String>,
    /// Filter of each subscriber and the range of publishers it receives.
    pub subscribers: Vec<(String, std::ops::Range<usize>)>,
}

/// Builds the plan of a scenario. Topics carry the process id so that two
/// runs against one broker never see each other's messages.
pub fn plan(o: &Opts, tag: u32) -> Plan {
    let pfx = format!("bench/{tag}");
    match o.scenario {
        Scenario::FanIn => Plan {
            topics: (0..o.publishers)
                .map(|i| format!("{pfx}/{i}/data"))
                .collect(),
            subscribers: vec![(format!("{pfx}/+/data"), 0..o.publishers)],
        },
        Scenario::FanOut => Plan {
            topics: vec![format!("{pfx}/fan")],
            subscribers: (0..o.subscribers)
                .map(|_| (format!("{pfx}/fan"), 0..1))
                .collect(),
        },
        Scenario::Pairs | Scenario::Latency | Scenario::Qos | Scenario::Connections => {
            let n = match o.scenario {
                Scenario::Pairs => o.pairs,
                Scenario::Qos => o.publishers,
                _ => 1,
            };
            Plan {
                topics: (0..n).map(|i| format!("{pfx}/pair/{i}")).collect(),
                subscribers: (0..n)
                    .map(|i| (format!("{pfx}/pair/{i}"), i..i + 1))
                    .collect(),
            }
        }
    }
}

/// One publisher's state.
struct Publisher {
    conn: usize,
    topic: Vec<u8>,
    /// Subscribers that receive this publisher.
    subs: Vec<usize>,
    budget: u64,
    sent: u64,
    inflight: u64,
    /// Outstanding packet identifiers, one bit each.
    ids: Vec<u64>,
    next_id: u16,
}

impl Publisher {
    /// Takes a free packet identifier (never 0) and marks it outstanding.
    fn take_id(&mut self) -> u16 {
        loop {
            self.next_id = self.next_id.checked_add(1).unwrap_or(1);
            let (w, b) = (usize::from(self.next_id) / 64, self.next_id % 64);
            if let Some(word) = self.ids.get_mut(w) {
                if *word & (1 << b) == 0 {
                    *word |= 1 << b;
                    return self.next_id;
                }
            }
        }
    }

    /// Clears an outstanding identifier; false when it was not outstanding.
    fn release(&mut self, id: u16) -> bool {
        let (w, b) = (usize::from(id) / 64, id % 64);
        match self.ids.get_mut(w) {
            Some(word) if *word & (1 << b) != 0 => {
                *word &= !(1 << b);
                self.inflight -= 1;
                true
            }
            _ => false,
        }
    }

    /// True when `id` is outstanding.
    fn holds(&self, id: u16) -> bool {
        self.ids
            .get(usize::from(id) / 64)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }
}

/// One subscriber's state.
struct Subscriber {
    filter: Vec<u8>,
    first_pub: usize,
    links: Vec<Tally>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Pub(usize),
    Sub(usize),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Closed,
    Connecting,
    Subscribing,
    Ready,
}

/// Everything but the sockets, so packet handlers can borrow it while a
/// connection is being read.
struct World {
    qos: u8,
    pubs: Vec<Publisher>,
    subs: Vec<Subscriber>,
    roles: Vec<Role>,
    stages: Vec<Stage>,
    ready: usize,
    hist: Histogram,
    last_rx: u64,
    report: Report,
}

impl World {
    /// Handles one packet the broker sent on connection `c`; replies go to
    /// `tx`. An `Err` closes the connection and counts as an error.
    fn on_packet(
        &mut self,
        c: usize,
        p: Packet<'_>,
        tx: &mut Vec<u8>,
        now: u64,
    ) -> Result<(), String> {
        let role = self.roles[c];
        match p {
            Packet::Publish {
                qos,
                packet_id,
                payload,
            } => {
                let Role::Sub(s) = role else {
                    return Err("PUBLISH received by a publisher".into());
                };
                match qos {
                    1 => wire::ack(tx, wire::PUBACK, packet_id),
                    2 => wire::ack(tx, wire::PUBREC, packet_id),
                    _ => {}
                }
                if qos != self.qos {
                    return Err(format!(
                        "message delivered at QoS {qos}, subscribed at {}",
                        self.qos
                    ));
                }
                let stamp =
                    wire::read_stamp(payload).ok_or("payload shorter than the bench stamp")?;
                let publisher = stamp.publisher as usize;
                let sub = &mut self.subs[s];
                let link = publisher
                    .checked_sub(sub.first_pub)
                    .and_then(|i| sub.links.get_mut(i))
                    .ok_or_else(|| {
                        format!(
                            "message from publisher {publisher} this subscriber did not ask for"
                        )
                    })?;
                if self
                    .pubs
                    .get(publisher)
                    .is_none_or(|p| u64::from(stamp.seq) >= p.sent)
                {
                    return Err(format!(
                        "message {} of publisher {publisher} was never sent",
                        stamp.seq
                    ));
                }
                link.record(u64::from(stamp.seq));
                self.hist.record(now.saturating_sub(stamp.nanos));
                self.last_rx = now;
            }
            Packet::PubRel(id) if matches!(role, Role::Sub(_)) => wire::ack(tx, wire::PUBCOMP, id),
            Packet::PubAck(id) | Packet::PubComp(id) => {
                let want = if matches!(p, Packet::PubAck(_)) { 1 } else { 2 };
                match role {
                    Role::Pub(i) if self.qos == want => {
                        if !self.pubs[i].release(id) {
                            return Err(format!("acknowledgement for unknown packet id {id}"));
                        }
                    }
                    _ => return Err(format!("unexpected {p:?}")),
                }
            }
            Packet::PubRec(id) => match role {
                Role::Pub(i) if self.qos == 2 && self.pubs[i].holds(id) => {
                    wire::ack(tx, wire::PUBREL, id)
                }
                _ => return Err(format!("unexpected PUBREC {id}")),
            },
            Packet::ConnAck(0) if self.stages[c] == Stage::Connecting => match role {
                Role::Sub(s) => {
                    wire::subscribe(tx, 1, &self.subs[s].filter, self.qos);
                    self.stages[c] = Stage::Subscribing;
                }
                Role::Pub(_) => {
                    self.stages[c] = Stage::Ready;
                    self.ready += 1;
                }
            },
            Packet::ConnAck(code) => return Err(format!("CONNACK return code {code}")),
            Packet::SubAck(code) if self.stages[c] == Stage::Subscribing => {
                if code != self.qos {
                    return Err(format!("SUBACK granted {code:#04x} for QoS {}", self.qos));
                }
                self.stages[c] = Stage::Ready;
                self.ready += 1;
            }
            Packet::PingResp => {}
            other => return Err(format!("unexpected {other:?}")),
        }
        Ok(())
    }

    /// Messages publisher `p` may still send given its slowest subscriber.
    fn credit_room(&self, p: usize, credit: u64) -> u64 {
        let pb = &self.pubs[p];
        let slowest = pb
            .subs
            .iter()
            .filter_map(|&s| self.subs[s].links.get(p - self.subs[s].first_pub))
            .map(Tally::next)
            .min()
            .unwrap_or(pb.sent);
        credit.saturating_sub(pb.sent.saturating_sub(slowest))
    }

    /// Messages delivered so far (distinct) and expected from what was sent.
    fn delivered(&self) -> (u64, u64) {
        let got = self
            .subs
            .iter()
            .flat_map(|s| &s.links)
            .map(Tally::unique)
            .sum();
        let want = self.pubs.iter().map(|p| p.sent * p.subs.len() as u64).sum();
        (got, want)
    }
}

/// Where the run is.
#[derive(Clone, Copy, PartialEq)]
enum Phase {
    Setup,
    Run,
    Drain(Instant),
    Done,
}

/// Nanoseconds since the tool's clock origin.
fn nanos(origin: Instant, t: Instant) -> u64 {
    t.saturating_duration_since(origin).as_nanos() as u64
}

/// Runs one message scenario against the broker and returns its report.
/// `origin` is the clock origin shared by send and receive stamps. `Err`
/// only when the event loop itself cannot be set up.
pub fn run(o: &Opts, origin: Instant) -> Result<Report, String> {
    let tag = std::process::id();
    let plan = plan(o, tag);
    let n_pubs = plan.topics.len();
    let mut roles = Vec::new();
    let mut subs = Vec::new();
    for (s, (filter, range)) in plan.subscribers.iter().enumerate() {
        roles.push(Role::Sub(s));
        subs.push(Subscriber {
            filter: filter.clone().into_bytes(),
            first_pub: range.start,
            links: range.clone().map(|_| Tally::default()).collect(),
        });
    }
    let budget = |p: usize| match o.count {
        0 => u64::from(u32::MAX),
        n => {
            (n / n_pubs as u64 + u64::from((p as u64) < n % n_pubs as u64)).min(u64::from(u32::MAX))
        }
    };
    let pubs: Vec<Publisher> = plan
        .topics
        .iter()
        .enumerate()
        .map(|(p, topic)| {
            roles.push(Role::Pub(p));
            Publisher {
                conn: roles.len() - 1,
                topic: topic.clone().into_bytes(),
                subs: (0..subs.len())
                    .filter(|&s| plan.subscribers[s].1.contains(&p))
                    .collect(),
                budget: budget(p),
                sent: 0,
                inflight: 0,
                ids: vec![0; 1024],
                next_id: 0,
            }
        })
        .collect();
    let total = roles.len();
    let mut w = World {
        qos: o.qos,
        pubs,
        subs,
        stages: vec![Stage::Closed; total],
        roles,
        ready: 0,
        hist: Histogram::new(),
        last_rx: 0,
        report: Report {
            scenario: o.scenario.name(),
            qos: o.qos,
            size: o.size,
            publishers: n_pubs,
            subscribers: plan.subscribers.len(),
            ..Report::default()
        },
    };

    let mut poll = Poll::new().map_err(|e| format!("poll: {e}"))?;
    let mut events = Events::with_capacity(1024);
    let mut scratch = vec![0u8; SCRATCH];
    let mut closed = Vec::new();
    let mut conns: Vec<Option<Conn>> = (0..total).map(|_| None).collect();
    let start = Instant::now();
    let hard = start + o.duration + Duration::from_secs(10);
    let rate = (o.scenario == Scenario::Latency).then_some(o.rate);
    let window = if o.qos > 0 { o.window } else { u64::MAX };
    let low_water = (o.credit.min(window) / 4).max(1);
    let mut opened = 0;
    let mut phase = Phase::Setup;
    let mut t0 = start;
    let mut last_ping = start;
    let mut more = false;

    while phase != Phase::Done {
        // Open connections while fewer than connect_window await CONNACK.
        while opened < total && opened - w.ready.min(opened) < o.connect_window {
            match Conn::open(o.addr, poll.registry(), Token(opened)) {
                Ok(mut c) => {
                    let id = format!("mb{tag}-{}-{opened}", o.scenario.name());
                    wire::connect(&mut c.tx, id.as_bytes(), KEEP_ALIVE);
                    conns[opened] = Some(c);
                    w.stages[opened] = Stage::Connecting;
                }
                Err(e) => w.report.error(|| format!("connect: {e}")),
            }
            opened += 1;
        }

        let timeout = if more {
            Duration::ZERO
        } else {
            match (phase, rate) {
                (Phase::Run, Some(r)) => {
                    let next =
                        t0 + Duration::from_nanos(w.pubs[0].sent.saturating_mul(1_000_000_000) / r);
                    next.saturating_duration_since(Instant::now())
                        .min(Duration::from_millis(50))
                }
                _ => Duration::from_millis(50),
            }
        };
        if let Err(e) = poll.poll(&mut events, Some(timeout)) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(format!("poll: {e}"));
            }
        }
        let now = Instant::now();
        let now_ns = nanos(origin, now);

        closed.clear();
        net::handle_events(
            &events,
            &mut conns,
            &mut scratch,
            &mut closed,
            |c, p, tx| w.on_packet(c, p, tx, now_ns),
        );
        for (c, why) in closed.drain(..) {
            w.report.error(|| format!("connection {c}: {why}"));
            if w.stages[c] == Stage::Ready {
                w.ready -= 1;
            }
            w.stages[c] = Stage::Closed;
        }

        if phase == Phase::Setup && w.report.errors > 0 {
            phase = Phase::Done;
        }
        if phase == Phase::Setup && w.ready == total {
            phase = Phase::Run;
            t0 = Instant::now();
        }
        more = false;
        if phase == Phase::Run {
            let elapsed = t0.elapsed();
            let stamp_ns = nanos(origin, Instant::now());
            for p in 0..w.pubs.len() {
                let mut room = w.credit_room(p, o.credit);
                let pb = &mut w.pubs[p];
                let Some(conn) = conns[pb.conn].as_mut() else {
                    continue;
                };
                if !conn.writable {
                    continue;
                }
                room = room.min(window - pb.inflight);
                // Refill in chunks of a quarter window: fewer, larger writes
                // for the tool and the broker alike.
                let left = pb.budget - pb.sent;
                if room < low_water && room < left {
                    continue;
                }
                room = room.min(left);
                if let Some(r) = rate {
                    let due = (elapsed.as_nanos() * u128::from(r) / 1_000_000_000) as u64 + 1;
                    room = room.min(due.saturating_sub(pb.sent));
                }
                let mut n = 0;
                while n < room && conn.tx.len() < TX_HIGH {
                    let id = if o.qos > 0 {
                        pb.inflight += 1;
                        pb.take_id()
                    } else {
                        0
                    };
                    let stamp = Stamp {
                        publisher: p as u32,
                        seq: pb.sent as u32,
                        nanos: stamp_ns,
                    };
                    wire::publish(&mut conn.tx, &pb.topic, o.qos, id, stamp, o.size);
                    pb.sent += 1;
                    n += 1;
                }
                more |= n > 0 && n < room;
            }
            let all_sent = w.pubs.iter().all(|p| p.sent >= p.budget);
            if all_sent || elapsed >= o.duration {
                let drain = if o.qos > 0 { DRAIN_QOS12 } else { DRAIN_QOS0 };
                phase = Phase::Drain(now + drain);
            }
        }

        if now.duration_since(last_ping) >= Duration::from_secs(u64::from(KEEP_ALIVE / 2)) {
            last_ping = now;
            conns
                .iter_mut()
                .flatten()
                .for_each(|c| wire::pingreq(&mut c.tx));
        }
        for (c, slot) in conns.iter_mut().enumerate() {
            if let Some(conn) = slot.as_mut().filter(|k| k.pending() > 0 && k.writable) {
                if let Err(e) = conn.flush() {
                    w.report.error(|| format!("connection {c}: {e}"));
                    *slot = None;
                }
            }
        }

        if let Phase::Drain(until) = phase {
            let (got, want) = w.delivered();
            let acked = w.pubs.iter().all(|p| p.inflight == 0);
            if (got >= want && acked) || now >= until {
                phase = Phase::Done;
            }
        }
        if phase != Phase::Done && now >= hard {
            w.report
                .error(|| "hard deadline (duration + 10 s) reached".to_string());
            phase = Phase::Done;
        }
    }

    for conn in conns.iter_mut().flatten() {
        wire::disconnect(&mut conn.tx);
        let _ = conn.flush();
    }
    Ok(finish(&w, t0, origin))
}

/// Builds the report from the final state.
fn finish(w: &World, t0: Instant, origin: Instant) -> Report {
    let (got, want) = w.delivered();
    let t0_ns = nanos(origin, t0);
    let seconds = if got > 0 && w.last_rx > t0_ns {
        (w.last_rx - t0_ns) as f64 / 1e9
    } else {
        t0.elapsed().as_secs_f64()
    };
    let links = || w.subs.iter().flat_map(|s| &s.links);
    let mut r = Report {
        scenario: w.report.scenario,
        qos: w.report.qos,
        size: w.report.size,
        publishers: w.report.publishers,
        subscribers: w.report.subscribers,
        sent: w.pubs.iter().map(|p| p.sent).sum(),
        received: got,
        expected: want,
        lost: want.saturating_sub(got),
        duplicated: links().map(Tally::duplicated).sum(),
        out_of_order: links().map(Tally::out_of_order).sum(),
        seconds,
        latency: report::percentiles(&w.hist),
        errors: w.report.errors,
        first_error: w.report.first_error.clone(),
        ..Report::default()
    };
    let unacked: u64 = w.pubs.iter().map(|p| p.inflight).sum();
    if unacked > 0 {
        r.error(|| format!("{unacked} publishes never acknowledged"));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opts::parse;

    fn opts(s: &str) -> Opts {
        let args: Vec<String> = s.split_whitespace().map(String::from).collect();
        parse(&args).unwrap().unwrap()
    }

    #[test]
    fn fanin_plan_is_one_wildcard_subscriber() {
        let p = plan(&opts("fanin --publishers 3"), 7);
        assert_eq!(
            p.topics,
            ["bench/7/0/data", "bench/7/1/data", "bench/7/2/data"]
        );
        assert_eq!(p.subscribers, [("bench/7/+/data".to_string(), 0..3)]);
    }

    #[test]
    fn fanout_and_pairs_plans() {
        let p = plan(&opts("fanout --subscribers 2"), 1);
        assert_eq!(p.topics.len(), 1);
        assert_eq!(p.subscribers.len(), 2);
        assert!(p
            .subscribers
            .iter()
            .all(|(f, r)| f == "bench/1/fan" && *r == (0..1)));
        let p = plan(&opts("pairs --pairs 2"), 1);
        assert_eq!(p.subscribers[1], ("bench/1/pair/1".to_string(), 1..2));
        assert_eq!(plan(&opts("qos --publishers 3"), 1).topics.len(), 3);
        assert_eq!(plan(&opts("latency"), 1).topics.len(), 1);
    }

    /// A one-topic fake broker for `pairs --pairs 1`: CONNACKs, SUBACKs at
    /// the requested QoS, and forwards QoS 0 publishes to the subscriber,
    /// except that it drops sequence number `drop` and sends `dup` twice.
    fn fake_broker(drop: u32, dup: u32) -> u16 {
        use std::io::{Read, Write};
        use std::net::{TcpListener, TcpStream};
        use std::sync::{Arc, Mutex};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let sub: Arc<Mutex<Option<TcpStream>>> = Arc::default();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(2) {
                let mut stream = stream.unwrap();
                let sub = Arc::clone(&sub);
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        while let wire::Frame::Packet { first, body, total } = wire::frame(&buf) {
                            let packet: Vec<u8> = buf.drain(..total).collect();
                            match first >> 4 {
                                1 => stream.write_all(&[0x20, 2, 0, 0]).unwrap(),
                                8 => {
                                    *sub.lock().unwrap() = Some(stream.try_clone().unwrap());
                                    stream
                                        .write_all(&[0x90, 3, packet[body], packet[body + 1], 0])
                                        .unwrap();
                                }
                                3 => {
                                    let payload =
                                        &packet[body + 2 + usize::from(packet[body + 1])..];
                                    let seq = wire::read_stamp(payload).unwrap().seq;
                                    let copies = if seq == drop {
                                        0
                                    } else if seq == dup {
                                        2
                                    } else {
                                        1
                                    };
                                    let mut guard = sub.lock().unwrap();
                                    for _ in 0..copies {
                                        guard.as_mut().unwrap().write_all(&packet).unwrap();
                                    }
                                }
                                _ => {}
                            }
                        }
                        match stream.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                });
            }
        });
        port
    }

    #[test]
    fn loss_and_duplicates_are_counted_end_to_end() {
        let port = fake_broker(3, 5);
        let o = opts(&format!("pairs --pairs 1 --count 20 --port {port}"));
        let r = run(&o, Instant::now()).unwrap();
        assert_eq!(
            (r.sent, r.expected, r.received),
            (20, 20, 19),
            "{}",
            r.json()
        );
        assert_eq!(
            (r.lost, r.duplicated, r.out_of_order, r.errors),
            (1, 1, 0, 0),
            "{}",
            r.json()
        );
        assert!(r.latency.is_some());
        assert!(!r.failed(), "QoS 0 loss is reported, not a failure");
    }

    #[test]
    fn packet_ids_skip_zero_and_outstanding_ones() {
        let mut p = Publisher {
            conn: 0,
            topic: Vec::new(),
            subs: Vec::new(),
            budget: 0,
            sent: 0,
            inflight: 0,
            ids: vec![0; 1024],
            next_id: 65_534,
        };
        p.inflight = 3;
        assert_eq!(p.take_id(), 65_535);
        assert_eq!(p.take_id(), 1);
        p.next_id = 0;
        assert_eq!(p.take_id(), 2);
        assert!(p.holds(1));
        assert!(p.release(1));
        assert!(!p.release(1));
        assert!(!p.holds(1));
        assert_eq!(p.inflight, 2);
    }
}
