//! The connections scenario: open N connections (at most `connect_window`
//! awaiting CONNACK at once), optionally subscribe each to its own topic,
//! hold them idle for `hold` seconds while watching for any that closes,
//! then send every connection a PINGREQ and count the PINGRESPs: a
//! connection counts as alive only if it answers.
//!
//! Reports CONNACKs per second over the connect phase and, when the broker
//! PID is given, the broker's VmRSS before connecting and while holding.

use crate::decode::Packet;
use crate::handshake::{self, Client};
use crate::net::{self, Conn, SCRATCH};
use crate::opts::Opts;
use crate::procfs::rss_kb;
use crate::report::Report;
use crate::socket::Dialer;
use crate::wire::{self, Version};
use mio::{Events, Poll, Token};
use std::time::{Duration, Instant};
/// How long the final PINGREQ round may take.
const PING_WAIT: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Closed,
    Connecting,
    Subscribing,
    Ready,
    Pinged,
    Answered,
}

#[derive(Clone, Copy, PartialEq)]
enum Phase {
    Connect,
    Hold(Instant),
    Ping(Instant),
    Done,
}

/// Counters of the run, apart from the sockets.
struct State {
    stages: Vec<Stage>,
    subscribe: bool,
    version: Version,
    /// PINGREQ interval: half the shortest keep-alive in force.
    ping_every: Duration,
    /// The broker refused a CONNECT: the run stops.
    refused: bool,
    connacks: u64,
    last_connack: Instant,
    settled: usize,
    pinged: u64,
    answered: u64,
    report: Report,
}

impl State {
    /// Handles one packet the broker sent on connection `c`; an `Err`
    /// closes the connection and counts as an error.
    fn on_packet(
        &mut self,
        c: usize,
        p: Packet<'_>,
        tx: &mut Vec<u8>,
        now: Instant,
    ) -> Result<(), String> {
        match (self.stages[c], p) {
            (Stage::Connecting, Packet::ConnAck(ack)) => {
                let granted = handshake::accept_connack(&ack, self.version, 0, 0)
                    .inspect_err(|_| self.refused = true)?;
                self.ping_every = self.ping_every.min(granted.ping_every);
                self.connacks += 1;
                self.last_connack = now;
                if self.subscribe {
                    let topic = format!("bench/{}/conn/{c}", std::process::id());
                    wire::subscribe(tx, 1, topic.as_bytes(), 0, self.version);
                    self.stages[c] = Stage::Subscribing;
                } else {
                    self.stages[c] = Stage::Ready;
                    self.settled += 1;
                }
            }
            (Stage::Subscribing, Packet::SubAck { code, reason }) => {
                handshake::accept_suback(code, reason, 0)?;
                self.stages[c] = Stage::Ready;
                self.settled += 1;
            }
            (Stage::Pinged, Packet::PingResp) => {
                self.stages[c] = Stage::Answered;
                self.answered += 1;
            }
            (Stage::Ready | Stage::Answered, Packet::PingResp) => {}
            (_, Packet::Disconnect { code, reason }) => {
                return Err(handshake::disconnected(code, reason));
            }
            (_, other) => return Err(format!("unexpected {other:?}")),
        }
        Ok(())
    }
}

/// Runs the connections scenario and returns its report. `Err` only when
/// the event loop cannot be set up.
pub fn run(o: &Opts) -> Result<Report, String> {
    let n = o.connections;
    let tag = std::process::id();
    let dialer = Dialer::new(o)?;
    let mut poll = Poll::new().map_err(|e| format!("poll: {e}"))?;
    let mut events = Events::with_capacity(4096);
    let mut scratch = vec![0u8; SCRATCH];
    let mut closed = Vec::new();
    let mut conns: Vec<Option<Conn>> = (0..n).map(|_| None).collect();
    let start = Instant::now();
    let hard = start + o.duration + o.hold + Duration::from_secs(10);
    let rss_before = o.broker_pid.and_then(rss_kb);
    let mut rss_held = None;
    let mut st = State {
        stages: vec![Stage::Closed; n],
        subscribe: o.subscribe,
        version: o.version,
        ping_every: Duration::from_secs(u64::from(handshake::KEEP_ALIVE / 2)),
        refused: false,
        connacks: 0,
        last_connack: start,
        settled: 0,
        pinged: 0,
        answered: 0,
        report: Report {
            scenario: "connections",
            mqtt: o.version.name(),
            connections: n as u64,
            ..Report::default()
        },
    };
    let mut opened = 0;
    let mut phase = Phase::Connect;
    let mut last_ping = start;
    let client = if o.subscribe {
        Client::Subscriber
    } else {
        Client::Idle
    };

    while phase != Phase::Done {
        while phase == Phase::Connect && opened < n && opened - st.settled < o.connect_window {
            match Conn::open(&dialer, poll.registry(), Token(opened), o.version) {
                Ok(mut c) => {
                    let id = format!("mb{tag}-idle-{opened}");
                    handshake::connect(&mut c.tx, id.as_bytes(), o, client);
                    conns[opened] = Some(c);
                    st.stages[opened] = Stage::Connecting;
                }
                Err(e) => {
                    st.report.error(|| format!("connect {opened}: {e}"));
                    st.settled += 1;
                }
            }
            opened += 1;
        }

        let now = net::wait(&mut poll, &mut events, Duration::from_millis(50))?;
        closed.clear();
        net::handle_events(
            &events,
            &mut conns,
            &mut scratch,
            &mut closed,
            |c, p, tx| st.on_packet(c, p, tx, now),
        );
        for (c, why, _) in closed.drain(..) {
            st.report.error(|| format!("connection {c}: {why}"));
            if matches!(st.stages[c], Stage::Connecting | Stage::Subscribing) {
                st.settled += 1;
            }
            st.stages[c] = Stage::Closed;
        }

        match phase {
            _ if st.refused => phase = Phase::Done,
            Phase::Connect if opened == n && st.settled == n => phase = Phase::Hold(now + o.hold),
            Phase::Connect if now >= start + o.duration => {
                let missing = n - st.settled;
                st.report
                    .error(|| format!("{missing} connections not set up within --duration"));
                phase = Phase::Hold(now + o.hold);
            }
            Phase::Hold(until) if now >= until => {
                rss_held = o.broker_pid.and_then(rss_kb);
                for (c, slot) in conns.iter_mut().enumerate() {
                    if let Some(conn) = slot.as_mut().filter(|_| st.stages[c] == Stage::Ready) {
                        wire::pingreq(&mut conn.tx);
                        st.stages[c] = Stage::Pinged;
                        st.pinged += 1;
                    }
                }
                phase = Phase::Ping(now + PING_WAIT);
            }
            _ => {}
        }
        if now.duration_since(last_ping) >= st.ping_every {
            last_ping = now;
            conns
                .iter_mut()
                .flatten()
                .for_each(|c| wire::pingreq(&mut c.tx));
        }
        for (c, slot) in conns.iter_mut().enumerate() {
            if let Some(conn) = slot.as_mut().filter(|k| k.has_output() && k.writable) {
                if let Err(e) = conn.flush() {
                    st.report.error(|| format!("connection {c}: {e}"));
                    st.stages[c] = Stage::Closed;
                    *slot = None;
                }
            }
        }
        if let Phase::Ping(until) = phase {
            if st.answered == st.pinged || now >= until {
                phase = Phase::Done;
            }
        }
        if phase != Phase::Done && now >= hard {
            st.report.error(|| "hard deadline reached".to_string());
            phase = Phase::Done;
        }
    }

    let mut tls = None;
    for conn in conns.iter_mut().flatten() {
        tls = tls.or_else(|| conn.tls_summary());
        conn.close();
        let _ = conn.flush();
    }
    let mut r = st.report;
    r.tls = tls;
    let connect_secs = st.last_connack.duration_since(start).as_secs_f64();
    r.connect_rate = Some(if connect_secs > 0.0 {
        st.connacks as f64 / connect_secs
    } else {
        0.0
    });
    r.seconds = start.elapsed().as_secs_f64();
    r.alive = Some(st.answered);
    if st.answered < n as u64 {
        let dead = n as u64 - st.answered;
        r.error(|| format!("{dead} connections did not answer the final PINGREQ"));
    }
    r.broker_rss_kb = rss_before.zip(rss_held);
    Ok(r)
}
