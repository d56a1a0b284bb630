//! The state of a message run apart from the sockets: publishers with
//! their budgets, windows and packet identifiers, subscribers with their
//! delivery tallies and topic aliases, and the handler that applies each
//! packet the broker sends. No I/O: replies are appended to the
//! connection's output buffer handed in by the caller.

use crate::alias::Aliases;
use crate::decode::Packet;
use crate::handshake::{self, Client};
use crate::histogram::Histogram;
use crate::opts::Opts;
use crate::plan::Plan;
use crate::report::{self, Report};
use crate::tally::Tally;
use crate::wire::{self, Version};
use std::time::Duration;

/// One publisher's state.
pub struct Publisher {
    /// Index of its connection.
    pub conn: usize,
    pub topic: Vec<u8>,
    /// Subscribers that receive this publisher.
    pub subs: Vec<usize>,
    /// Messages it may publish in all.
    pub budget: u64,
    pub sent: u64,
    /// Publishes awaiting PUBACK or PUBCOMP.
    pub inflight: u64,
    /// Bound on `inflight`: `--window`, lowered to the broker's Receive
    /// Maximum; unbounded at QoS 0.
    pub window: u64,
    /// Outstanding packet identifiers, one bit each.
    ids: Vec<u64>,
    next_id: u16,
}

impl Publisher {
    /// A publisher on `topic` from connection `conn`.
    fn new(conn: usize, topic: Vec<u8>, subs: Vec<usize>, budget: u64, window: u64) -> Self {
        Publisher {
            conn,
            topic,
            subs,
            budget,
            sent: 0,
            inflight: 0,
            window,
            ids: vec![0; 1024],
            next_id: 0,
        }
    }

    /// Takes a free packet identifier (never 0) and marks it outstanding.
    pub fn take_id(&mut self) -> u16 {
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
pub struct Subscriber {
    filter: Vec<u8>,
    first_pub: usize,
    links: Vec<Tally>,
    aliases: Aliases,
    /// PUBLISH packets received, copies included.
    arrivals: u64,
}

/// What connection `c` is in the run.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Pub(usize),
    Sub(usize),
}

/// Where a connection is in its setup.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Closed,
    Connecting,
    Subscribing,
    Ready,
}

/// Everything but the sockets, so packet handlers can borrow it while a
/// connection is being read.
pub struct World {
    pub qos: u8,
    pub version: Version,
    pub pubs: Vec<Publisher>,
    subs: Vec<Subscriber>,
    pub roles: Vec<Role>,
    pub stages: Vec<Stage>,
    /// Connections set up (CONNACK, and SUBACK for subscribers).
    pub ready: usize,
    hist: Histogram,
    /// When the last message arrived, in nanoseconds of the tool's clock.
    pub last_rx: u64,
    /// Bytes of the largest PUBLISH a publisher sends.
    largest_publish: usize,
    /// PINGREQ interval: half the shortest keep-alive in force.
    pub ping_every: Duration,
    /// The report being filled: identity of the run, errors so far.
    pub report: Report,
    /// Bytes read and written per connection, noted when it is retired.
    bytes: Vec<(u64, u64)>,
}

impl World {
    /// The state of a fresh run of `plan` with the options `o`:
    /// subscribers take the first connection indexes, publishers the rest.
    pub fn new(o: &Opts, plan: &Plan) -> World {
        let n_pubs = plan.topics.len();
        let mut roles = Vec::new();
        let mut subs = Vec::new();
        for (s, (filter, range)) in plan.subscribers.iter().enumerate() {
            roles.push(Role::Sub(s));
            subs.push(Subscriber {
                filter: filter.clone().into_bytes(),
                first_pub: range.start,
                links: range.clone().map(|_| Tally::default()).collect(),
                aliases: Aliases::new(o.topic_alias_max),
                arrivals: 0,
            });
        }
        let budget = |p: usize| match o.count {
            0 => u64::from(u32::MAX),
            n => (n / n_pubs as u64 + u64::from((p as u64) < n % n_pubs as u64))
                .min(u64::from(u32::MAX)),
        };
        let window = if o.qos > 0 { o.window } else { u64::MAX };
        let mut pubs = Vec::new();
        for (p, topic) in plan.topics.iter().enumerate() {
            roles.push(Role::Pub(p));
            let receivers = (0..subs.len())
                .filter(|&s| plan.subscribers[s].1.contains(&p))
                .collect();
            let topic = topic.clone().into_bytes();
            pubs.push(Publisher::new(
                roles.len() - 1,
                topic,
                receivers,
                budget(p),
                window,
            ));
        }
        let longest = plan.topics.iter().map(String::len).max().unwrap_or(0);
        let total = roles.len();
        World {
            qos: o.qos,
            version: o.version,
            pubs,
            subs,
            stages: vec![Stage::Closed; total],
            roles,
            ready: 0,
            hist: Histogram::new(),
            last_rx: 0,
            largest_publish: wire::publish_len(longest, o.qos, o.size, o.version),
            ping_every: Duration::from_secs(u64::from(handshake::KEEP_ALIVE / 2)),
            report: Report {
                scenario: o.scenario.name(),
                mqtt: o.version.name(),
                qos: o.qos,
                size: o.size,
                publishers: n_pubs,
                subscribers: plan.subscribers.len(),
                ..Report::default()
            },
            bytes: vec![(0, 0); total],
        }
    }

    /// What kind of client connection `c` is, for its CONNECT.
    pub fn client(&self, c: usize) -> Client {
        match self.roles[c] {
            Role::Pub(_) => Client::Publisher,
            Role::Sub(_) => Client::Subscriber,
        }
    }

    /// Called when connection `c` closes or the run ends, with the bytes
    /// its socket read and wrote.
    pub fn retire(&mut self, c: usize, rx: u64, tx: u64) {
        if self.stages[c] == Stage::Ready {
            self.ready -= 1;
        }
        self.stages[c] = Stage::Closed;
        self.bytes[c] = (rx, tx);
    }

    /// Handles one packet the broker sent on connection `c`; replies go to
    /// `tx`. An `Err` closes the connection and counts as an error.
    pub fn on_packet(
        &mut self,
        c: usize,
        p: Packet<'_>,
        tx: &mut Vec<u8>,
        now: u64,
    ) -> Result<(), String> {
        let role = self.roles[c];
        match p {
            Packet::Publish(m) => {
                let Role::Sub(s) = role else {
                    return Err("PUBLISH received by a publisher".into());
                };
                match m.qos {
                    1 => wire::ack(tx, wire::PUBACK, m.packet_id),
                    2 => wire::ack(tx, wire::PUBREC, m.packet_id),
                    _ => {}
                }
                if m.qos != self.qos {
                    return Err(format!(
                        "message delivered at QoS {}, subscribed at {}",
                        m.qos, self.qos
                    ));
                }
                let sub = &mut self.subs[s];
                sub.arrivals += 1;
                let topic = sub.aliases.resolve(m.alias, m.topic)?;
                let stamp =
                    wire::read_stamp(m.payload).ok_or("payload shorter than the bench stamp")?;
                let publisher = stamp.publisher as usize;
                let link = publisher
                    .checked_sub(sub.first_pub)
                    .and_then(|i| sub.links.get_mut(i))
                    .ok_or_else(|| {
                        format!(
                            "message from publisher {publisher} this subscriber did not ask for"
                        )
                    })?;
                let Some(pb) = self
                    .pubs
                    .get(publisher)
                    .filter(|p| u64::from(stamp.seq) < p.sent)
                else {
                    return Err(format!(
                        "message {} of publisher {publisher} was never sent",
                        stamp.seq
                    ));
                };
                if topic != pb.topic.as_slice() {
                    return Err(format!(
                        "message of publisher {publisher} arrived on topic {}, sent on {}",
                        String::from_utf8_lossy(topic),
                        String::from_utf8_lossy(&pb.topic)
                    ));
                }
                link.record(u64::from(stamp.seq));
                self.hist.record(now.saturating_sub(stamp.nanos));
                self.last_rx = now;
            }
            Packet::PubRel(a) if matches!(role, Role::Sub(_)) => {
                handshake::accept_ack("PUBREL", a.id, a.code)?;
                wire::ack(tx, wire::PUBCOMP, a.id);
            }
            Packet::PubAck(a) | Packet::PubComp(a) => {
                let (kind, want) = match p {
                    Packet::PubAck(_) => ("PUBACK", 1),
                    _ => ("PUBCOMP", 2),
                };
                match role {
                    Role::Pub(i) if self.qos == want => {
                        handshake::accept_ack(kind, a.id, a.code)?;
                        if !self.pubs[i].release(a.id) {
                            return Err(format!("{kind} for unknown packet id {}", a.id));
                        }
                    }
                    _ => return Err(format!("unexpected {kind} {}", a.id)),
                }
            }
            Packet::PubRec(a) => match role {
                Role::Pub(i) if self.qos == 2 && self.pubs[i].holds(a.id) => {
                    handshake::accept_ack("PUBREC", a.id, a.code)?;
                    wire::ack(tx, wire::PUBREL, a.id);
                }
                _ => return Err(format!("unexpected PUBREC {}", a.id)),
            },
            Packet::ConnAck(ack) if self.stages[c] == Stage::Connecting => {
                let largest = match role {
                    Role::Pub(_) => self.largest_publish,
                    Role::Sub(_) => 0,
                };
                let granted = handshake::accept_connack(&ack, self.version, self.qos, largest)?;
                self.ping_every = self.ping_every.min(granted.ping_every);
                match role {
                    Role::Sub(s) => {
                        let filter = &self.subs[s].filter;
                        wire::subscribe(tx, 1, filter, self.qos, self.version);
                        self.stages[c] = Stage::Subscribing;
                    }
                    Role::Pub(i) => {
                        let allowed = u64::from(granted.receive_max);
                        let pb = &mut self.pubs[i];
                        if self.qos > 0 && allowed < pb.window {
                            pb.window = allowed;
                            let low = self.report.broker_receive_max.get_or_insert(u16::MAX);
                            *low = (*low).min(granted.receive_max);
                        }
                        self.stages[c] = Stage::Ready;
                        self.ready += 1;
                    }
                }
            }
            Packet::SubAck { code, reason } if self.stages[c] == Stage::Subscribing => {
                handshake::accept_suback(code, reason, self.qos)?;
                self.stages[c] = Stage::Ready;
                self.ready += 1;
            }
            Packet::Disconnect { code, reason } => {
                return Err(handshake::disconnected(code, reason));
            }
            Packet::PingResp => {}
            other => return Err(format!("unexpected {other:?}")),
        }
        Ok(())
    }

    /// Messages publisher `p` may still send given its slowest subscriber.
    pub fn credit_room(&self, p: usize, credit: u64) -> u64 {
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
    pub fn delivered(&self) -> (u64, u64) {
        let got = self
            .subs
            .iter()
            .flat_map(|s| &s.links)
            .map(Tally::unique)
            .sum();
        let want = self.pubs.iter().map(|p| p.sent * p.subs.len() as u64).sum();
        (got, want)
    }

    /// The report of the finished run, given how long it took. Called once
    /// every connection has been retired.
    pub fn finish(&self, seconds: f64) -> Report {
        let (got, want) = self.delivered();
        let links = || self.subs.iter().flat_map(|s| &s.links);
        let per = |bytes: u64, n: u64| (n > 0).then(|| bytes as f64 / n as f64);
        let arrivals = self.subs.iter().map(|s| s.arrivals).sum();
        // Subscribers hold connections 0..subs.len(), as `new` set them up.
        let sub_rx = (0..self.subs.len()).map(|c| self.bytes[c].0).sum();
        let sent = self.pubs.iter().map(|p| p.sent).sum();
        let pub_tx = self.pubs.iter().map(|p| self.bytes[p.conn].1).sum();
        let mut r = Report {
            scenario: self.report.scenario,
            mqtt: self.report.mqtt,
            qos: self.report.qos,
            size: self.report.size,
            publishers: self.report.publishers,
            subscribers: self.report.subscribers,
            sent,
            received: got,
            expected: want,
            lost: want.saturating_sub(got),
            duplicated: links().map(Tally::duplicated).sum(),
            out_of_order: links().map(Tally::out_of_order).sum(),
            seconds,
            latency: report::percentiles(&self.hist),
            sub_rx_bytes_per_msg: per(sub_rx, arrivals),
            pub_tx_bytes_per_msg: per(pub_tx, sent),
            aliased: (self.version == Version::V5)
                .then(|| self.subs.iter().map(|s| s.aliases.used()).sum()),
            broker_receive_max: self.report.broker_receive_max,
            errors: self.report.errors,
            first_error: self.report.first_error.clone(),
            ..Report::default()
        };
        let unacked: u64 = self.pubs.iter().map(|p| p.inflight).sum();
        if unacked > 0 {
            r.error(|| format!("{unacked} publishes never acknowledged"));
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_ids_skip_zero_and_outstanding_ones() {
        let mut p = Publisher::new(0, Vec::new(), Vec::new(), 0, 100);
        p.next_id = 65_534;
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
