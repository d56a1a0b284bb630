//! The message scenarios: fanin, fanout, pairs, latency and qos, all one
//! engine over a `Plan`, driven by one single-threaded mio loop; the
//! protocol state lives in `World`.
//!
//! A run has four phases: setup (connect, subscribe), run (publish until
//! the count or the duration is reached), drain (wait for what is still in
//! flight, at most a few seconds) and done. A publisher never runs more
//! than `credit` messages ahead of its slowest subscriber, and at QoS 1/2
//! never has more than its window of publishes unacknowledged, so the
//! rates are sustainable ones. Everything stops at the hard deadline,
//! duration + 10 s after the start.

use crate::handshake;
use crate::net::{self, Conn, SCRATCH};
use crate::opts::{Opts, Scenario};
use crate::plan::plan;
use crate::report::Report;
use crate::socket::Dialer;
use crate::wire::{self, Stamp};
use crate::world::{Stage, World};
use mio::{Events, Poll, Token};
use std::time::{Duration, Instant};

/// A publisher stops filling its output buffer at this many bytes per turn.
const TX_HIGH: usize = 64 * 1024;
/// How long to wait for in-flight messages after publishing stopped.
const DRAIN_QOS0: Duration = Duration::from_secs(2);
/// The same at QoS 1/2, where every message must arrive.
const DRAIN_QOS12: Duration = Duration::from_secs(5);

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
    let mut w = World::new(o, &plan(o, tag));
    let total = w.roles.len();

    let dialer = Dialer::new(o)?;
    let mut poll = Poll::new().map_err(|e| format!("poll: {e}"))?;
    let mut events = Events::with_capacity(1024);
    let mut scratch = vec![0u8; SCRATCH];
    let mut closed = Vec::new();
    let mut conns: Vec<Option<Conn>> = (0..total).map(|_| None).collect();
    let start = Instant::now();
    let hard = start + o.duration + Duration::from_secs(10);
    let rate = (o.scenario == Scenario::Latency).then_some(o.rate);
    let mut opened = 0;
    let mut phase = Phase::Setup;
    let mut t0 = start;
    let mut last_ping = start;
    let mut more = false;

    while phase != Phase::Done {
        // Open connections while fewer than connect_window await CONNACK.
        while opened < total && opened - w.ready.min(opened) < o.connect_window {
            match Conn::open(&dialer, poll.registry(), Token(opened), o.version) {
                Ok(mut c) => {
                    let id = format!("mb{tag}-{}-{opened}", o.scenario.name());
                    handshake::connect(&mut c.tx, id.as_bytes(), o, w.client(opened));
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
        let now = net::wait(&mut poll, &mut events, timeout)?;
        let now_ns = nanos(origin, now);

        closed.clear();
        net::handle_events(
            &events,
            &mut conns,
            &mut scratch,
            &mut closed,
            |c, p, tx| w.on_packet(c, p, tx, now_ns),
        );
        for (c, why, conn) in closed.drain(..) {
            w.report.error(|| format!("connection {c}: {why}"));
            w.retire(c, conn.rx_bytes(), conn.tx_bytes());
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
                room = room.min(pb.window - pb.inflight);
                // Refill in chunks of a quarter window: fewer, larger writes
                // for the tool and the broker alike.
                let low_water = (o.credit.min(pb.window) / 4).max(1);
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
                    wire::publish(&mut conn.tx, &pb.topic, o.qos, id, stamp, o.size, o.version);
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

        if now.duration_since(last_ping) >= w.ping_every {
            last_ping = now;
            conns
                .iter_mut()
                .flatten()
                .for_each(|c| wire::pingreq(&mut c.tx));
        }
        for (c, slot) in conns.iter_mut().enumerate() {
            if let Some(conn) = slot.as_mut().filter(|k| k.has_output() && k.writable) {
                if let Err(e) = conn.flush() {
                    w.report.error(|| format!("connection {c}: {e}"));
                    w.retire(c, conn.rx_bytes(), conn.tx_bytes());
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

    let mut tls = None;
    for (c, slot) in conns.iter_mut().enumerate() {
        if let Some(conn) = slot.take().as_mut() {
            tls = tls.or_else(|| conn.tls_summary());
            conn.close();
            let _ = conn.flush();
            w.retire(c, conn.rx_bytes(), conn.tx_bytes());
        }
    }
    let (got, _) = w.delivered();
    let t0_ns = nanos(origin, t0);
    let seconds = if got > 0 && w.last_rx > t0_ns {
        (w.last_rx - t0_ns) as f64 / 1e9
    } else {
        t0.elapsed().as_secs_f64()
    };
    let mut r = w.finish(seconds);
    r.tls = tls;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{self, Forward};
    use crate::opts::parse;

    fn opts(s: &str) -> Opts {
        let args: Vec<String> = s.split_whitespace().map(String::from).collect();
        parse(&args).unwrap().unwrap()
    }

    #[test]
    fn loss_and_duplicates_are_counted_end_to_end() {
        let port = fake::broker(Forward::DropAndRepeat { drop: 3, dup: 5 });
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
        // 20 PUBLISH packets, plus CONNECT and DISCONNECT: a little more
        // per message than the PUBLISH itself.
        let topic = format!("bench/{}/pair/0", std::process::id());
        let publish = wire::publish_len(topic.len(), 0, 64, o.version) as f64;
        let per_msg = r.pub_tx_bytes_per_msg.unwrap();
        assert!(per_msg > publish && per_msg < publish + 5.0, "{}", r.json());
    }

    #[test]
    fn v5_topic_aliases_are_resolved_and_save_bytes() {
        let port = fake::broker(Forward::Alias);
        let o = opts(&format!("pairs --mqtt5 --pairs 1 --count 50 --port {port}"));
        let r = run(&o, Instant::now()).unwrap();
        let j = r.json();
        assert_eq!((r.received, r.lost, r.errors), (50, 0, 0), "{j}");
        assert_eq!(r.aliased, Some(49), "{j}");
        assert!(j.contains("\"mqtt\":\"5.0\""), "{j}");
        let (rx, tx) = (
            r.sub_rx_bytes_per_msg.unwrap(),
            r.pub_tx_bytes_per_msg.unwrap(),
        );
        assert!(rx + 10.0 < tx, "aliases shorten every copy: {j}");
    }

    #[test]
    fn v5_qos1_through_the_fake_broker() {
        let port = fake::broker(Forward::Alias);
        let o = opts(&format!(
            "qos --mqtt5 --publishers 1 --count 300 --window 10 --port {port}"
        ));
        let r = run(&o, Instant::now()).unwrap();
        assert!(!r.failed(), "{}", r.json());
        assert_eq!((r.received, r.aliased), (300, Some(299)), "{}", r.json());
    }

    #[test]
    fn v5_protocol_errors_fail_the_run() {
        for (forward, want) in [
            (
                Forward::UnknownAlias,
                "topic alias 1 used before it was set",
            ),
            (Forward::Disconnect, "reason 0x8b Server shutting down"),
            (Forward::RefuseV5, "0x84 Unsupported Protocol Version"),
        ] {
            let port = fake::broker(forward);
            let o = opts(&format!(
                "pairs --mqtt5 --pairs 1 --count 5 --port {port} --duration 2"
            ));
            let r = run(&o, Instant::now()).unwrap();
            assert!(r.failed(), "{}", r.json());
            let first = r.first_error.unwrap_or_default();
            assert!(first.contains(want), "{first}");
        }
    }
}
