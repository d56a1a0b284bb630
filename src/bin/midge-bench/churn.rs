//! The handshakes scenario: connection churn. Each connection connects
//! (and, with `--tls`, makes a full TLS handshake), sends CONNECT, waits
//! for CONNACK, sends DISCONNECT and waits for the broker to close it; at
//! most `--connect-window` connections are under way at once, and a new
//! one starts as soon as one ends. New connections start until
//! `--duration` has passed or `--connections` have been started.
//!
//! Reports completed connections per second (`handshakes_per_sec`, from
//! the first connect to the last close), the time from connect to CONNACK
//! as latency percentiles, and with `--broker-pid` the broker's CPU time
//! over the same span (`handshake_cpu_s`, `handshakes_per_cpu_s`). Any
//! failure (a refused CONNECT, a failed handshake, a connection closed
//! before its CONNACK, a hard deadline) counts as an error and ends the
//! run.

use crate::decode::Packet;
use crate::handshake::{self, Client};
use crate::histogram::Histogram;
use crate::net::{self, Conn, SCRATCH};
use crate::opts::Opts;
use crate::procfs;
use crate::report::{self, Report};
use crate::socket::Dialer;
use crate::wire;
use mio::{Events, Poll, Token};
use std::time::{Duration, Instant};

/// Where one slot's connection is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Free,
    /// Connecting, handshaking, waiting for CONNACK.
    Connecting,
    /// DISCONNECT sent; waiting for the broker to close.
    Closing,
}

/// Counters of the run, apart from the sockets.
struct State {
    stages: Vec<Stage>,
    /// When each slot's connection started, and its number in the run.
    started: Vec<(Instant, usize)>,
    connacks: u64,
    hist: Histogram,
    report: Report,
}

impl State {
    /// Handles one packet the broker sent on slot `c`; an `Err` closes the
    /// connection and counts as an error.
    fn on_packet(
        &mut self,
        c: usize,
        p: Packet<'_>,
        tx: &mut Vec<u8>,
        version: wire::Version,
        now: Instant,
    ) -> Result<(), String> {
        match (self.stages[c], p) {
            (Stage::Connecting, Packet::ConnAck(ack)) => {
                handshake::accept_connack(&ack, version, 0, 0)?;
                self.connacks += 1;
                let took = now.saturating_duration_since(self.started[c].0);
                self.hist.record(took.as_nanos() as u64);
                wire::disconnect(tx);
                self.stages[c] = Stage::Closing;
                Ok(())
            }
            (_, Packet::Disconnect { code, reason }) => Err(handshake::disconnected(code, reason)),
            (_, other) => Err(format!("unexpected {other:?}")),
        }
    }
}

/// Runs the handshakes scenario and returns its report. `Err` only when
/// the event loop cannot be set up or `--tls`'s CA file is unusable.
pub fn run(o: &Opts) -> Result<Report, String> {
    let window = o.connect_window;
    let tag = std::process::id();
    let dialer = Dialer::new(o)?;
    let mut poll = Poll::new().map_err(|e| format!("poll: {e}"))?;
    let mut events = Events::with_capacity(1024);
    let mut scratch = vec![0u8; SCRATCH];
    let mut closed = Vec::new();
    let mut conns: Vec<Option<Conn>> = (0..window).map(|_| None).collect();
    let mut free: Vec<usize> = (0..window).rev().collect();
    let start = Instant::now();
    let stop_opening = start + o.duration;
    let hard = stop_opening + Duration::from_secs(10);
    let cpu_before = o.broker_pid.and_then(procfs::cpu_seconds);
    let mut st = State {
        stages: vec![Stage::Free; window],
        started: vec![(start, 0); window],
        connacks: 0,
        hist: Histogram::new(),
        report: Report {
            scenario: "handshakes",
            mqtt: o.version.name(),
            ..Report::default()
        },
    };
    let mut opened = 0usize;
    let mut completed = 0u64;
    let mut last_close = start;
    let mut tls = None;

    loop {
        let now = Instant::now();
        let may_open = now < stop_opening && (o.connections == 0 || opened < o.connections);
        while may_open && st.report.errors == 0 {
            let Some(c) = free.pop() else { break };
            match Conn::open(&dialer, poll.registry(), Token(c), o.version) {
                Ok(mut conn) => {
                    let id = format!("mb{tag}-hs-{opened}");
                    handshake::connect(&mut conn.tx, id.as_bytes(), o, Client::Idle);
                    conns[c] = Some(conn);
                    st.stages[c] = Stage::Connecting;
                    st.started[c] = (Instant::now(), opened);
                }
                Err(e) => {
                    st.report.error(|| format!("connect {opened}: {e}"));
                    free.push(c);
                }
            }
            opened += 1;
            if o.connections > 0 && opened >= o.connections {
                break;
            }
        }
        if free.len() == window && (!may_open || st.report.errors > 0) {
            break;
        }
        if now >= hard {
            st.report
                .error(|| "hard deadline (duration + 10 s) reached".into());
            break;
        }

        let now = net::wait(&mut poll, &mut events, Duration::from_millis(50))?;
        closed.clear();
        net::handle_events(
            &events,
            &mut conns,
            &mut scratch,
            &mut closed,
            |c, p, tx| st.on_packet(c, p, tx, o.version, now),
        );
        for (c, why, conn) in closed.drain(..) {
            if st.stages[c] == Stage::Closing && why == net::CLOSED_BY_BROKER {
                completed += 1;
                last_close = now;
                tls = tls.or_else(|| conn.tls_summary());
            } else {
                let n = st.started[c].1;
                st.report.error(|| format!("connection {n}: {why}"));
            }
            st.stages[c] = Stage::Free;
            free.push(c);
        }
        for (c, slot) in conns.iter_mut().enumerate() {
            if let Some(conn) = slot.as_mut().filter(|k| k.has_output() && k.writable) {
                if let Err(e) = conn.flush() {
                    let n = st.started[c].1;
                    st.report.error(|| format!("connection {n}: {e}"));
                    st.stages[c] = Stage::Free;
                    *slot = None;
                    free.push(c);
                }
            }
        }
    }

    let cpu = cpu_before.zip(o.broker_pid.and_then(procfs::cpu_seconds));
    let mut r = st.report;
    let seconds = last_close.duration_since(start).as_secs_f64();
    r.seconds = seconds;
    r.connections = completed;
    r.latency = report::percentiles(&st.hist);
    r.tls = tls;
    r.handshakes_per_sec = Some(if seconds > 0.0 {
        completed as f64 / seconds
    } else {
        0.0
    });
    r.handshake_cpu_s = cpu.map(|(before, after)| after - before);
    if st.connacks > completed {
        let open = st.connacks - completed;
        r.error(|| format!("{open} connections not closed by the broker after DISCONNECT"));
    }
    if completed == 0 {
        r.error(|| "no connection completed".into());
    }
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
    fn churn_counts_every_connection_the_broker_closes() {
        let port = fake::broker_for(Forward::DropAndRepeat { drop: 0, dup: 0 }, 40);
        let pid = std::process::id();
        let o = opts(&format!(
            "handshakes --connections 40 --connect-window 4 --port {port} --broker-pid {pid}"
        ));
        let r = run(&o).unwrap();
        let j = r.json();
        assert_eq!((r.connections, r.errors), (40, 0), "{j}");
        assert!(j.contains("\"handshakes_per_sec\":"), "{j}");
        assert!(r.handshake_cpu_s.is_some_and(|s| s >= 0.0), "{j}");
        assert!(r.latency.is_some(), "{j}");
        assert!(r.tls.is_none(), "{j}");
    }

    #[test]
    fn a_refused_connect_ends_the_run() {
        let port = fake::broker_for(Forward::RefuseV5, 40);
        let o = opts(&format!(
            "handshakes --mqtt5 --connections 40 --connect-window 1 --port {port} --duration 2"
        ));
        let r = run(&o).unwrap();
        assert!(r.failed(), "{}", r.json());
        let first = r.first_error.unwrap_or_default();
        assert!(
            first.contains("0x84 Unsupported Protocol Version"),
            "{first}"
        );
        assert_eq!(r.connections, 0);
    }
}
