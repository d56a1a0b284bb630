//! The broker target: up to four fuzzer-driven connections and one
//! well-behaved watcher, with the clock moving.
//!
//! Input: a selector byte (queue and window limits, `$SYS` on or off;
//! with `$SYS` on the queue always has a bound), then operations. Each
//! operation is a byte whose low three bits are the kind and the next two
//! bits the connection:
//! - 0..=3: raw bytes: a length byte (0..=63), then that many bytes;
//! - 4: a well-formed packet built from the next two bytes ([`template`]),
//!   so the fuzzer reaches deep states without finding every field;
//! - 5: the clock moves by the next byte times 50 ms (255: a minute);
//! - 6: the client reads its output;
//! - 7: the socket is lost.
//!
//! Bytes go to the broker one packet at a time (frames cut where the codec
//! cuts them; a chunk's partial last packet as it came), and after every
//! packet and every operation:
//! - [`Broker::audit`] holds (windows, queue bounds, links and sessions);
//! - whatever the broker wrote decodes, and every PUBLISH to a client
//!   matches a filter that client id has subscribed to at some point;
//! - a QoS 2 PUBLISH whose packet id the session holds unreleased reaches
//!   no subscriber again (exactly once, [MQTT-4.3.3-10]);
//! - the watcher stays connected and is answered.
//!
//! With persistence (selector bit 7), every turn's journal goes to a
//! "disk"; at the end, after every connection has dropped, a broker
//! restored from that disk, and one restored from a snapshot of the live
//! state alone, must hold the same durable state as the live broker
//! (sessions, subscriptions, queued and in-flight messages with their ids,
//! inbound QoS 2 ids, wills, retained messages).
//!
//! [`run_acl`] adds an ACL file (and `check_retain_source`): every PUBLISH
//! a client reads must be one the rules of some user name its client id
//! connected with let it read.
//!
//! At the end the clock runs far enough for every expiry, and the broker
//! shuts down, audited again.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::oracle::{matches, Reader};
use crate::auth::acl::Acl;
use crate::broker::{Broker, CloseCause, Settings};
use crate::codec::{
    check, decode, encode, Ack, ByteStr, Check, Connect, Disconnect, Packet, Properties, Protocol,
    Publish, PublishProperties, QoS, SubOptions, Subscribe, Unsubscribe, Will,
};

const LINKS: usize = 4;
const WATCHER_ID: &str = "fuzz-watcher-3c9e";
/// Filters and topics the templates use (and the dictionary lists).
const FILTERS: [&str; 8] = [
    "#",
    "a/+",
    "a/b",
    "$share/g/a/#",
    "$SYS/#",
    "+/b",
    "w/x",
    "$share/h/#",
];
const TOPICS: [&str; 5] = ["a/b", "a/c", "w/x", "b", "x/b"];
const CLIENT_IDS: [&str; 4] = ["a", "b", "c", ""];

/// One fuzzer-driven connection slot.
#[derive(Default)]
struct Slot {
    link: Option<usize>,
    /// Bytes of a partial packet already given to the broker; `None` once
    /// the stream could not be framed (the broker closes such a link).
    partial: Option<Vec<u8>>,
    reader: Reader,
    /// The client id of the session the link was last connected to.
    client: Option<String>,
}

struct Driver {
    broker: Broker<()>,
    now: Instant,
    slots: [Slot; LINKS],
    watcher: usize,
    watcher_reader: Reader,
    /// Every filter each client id has held.
    ever: HashMap<String, HashSet<String>>,
    /// Every user name each client id has connected with.
    users: HashMap<String, HashSet<Option<String>>>,
    /// The ACL, in the `broker_acl` target.
    acl: Option<Rc<Acl>>,
    /// PUBLISH packets the watcher received in the current step.
    watched: Vec<Publish>,
    max_packet: usize,
    settings: Settings,
    /// Every record journalled, with persistence on.
    disk: Option<Vec<Vec<u8>>>,
    start: Instant,
}

/// The wall clock at the start (ms since the epoch).
const WALL: u64 = 1_780_000_000_000;

/// The ACL of the `broker_acl` target: anonymous clients (the watcher
/// among them) read everything but `a/c`, write only some topics; each
/// client id has a subtree of its own and one topic denied.
const ACL_RULES: &str = "topic read #\ntopic read $SYS/#\ntopic deny a/c\n\
                         topic write a/#\ntopic write b\ntopic write w/x\n\
                         user u\ntopic readwrite +/b\n\
                         pattern readwrite %c/#\npattern deny x/%c\n";

/// Runs one input (see the module doc).
pub fn run(data: &[u8]) {
    run_with(data, None);
}

/// The same, with an ACL file (`ACL_RULES`) and `check_retain_source`:
/// every PUBLISH a client reads must also be one its rules let it read.
pub fn run_acl(data: &[u8]) {
    let acl = Acl::parse("fuzz-acl", ACL_RULES).expect("the fuzz ACL parses");
    run_with(data, Some(Rc::new(acl)));
}

fn run_with(data: &[u8], acl: Option<Rc<Acl>>) {
    let Some((&select, mut ops)) = data.split_first() else {
        return;
    };
    let mut d = Driver::new(select, acl);
    while let Some((&op, rest)) = ops.split_first() {
        ops = rest;
        let slot = usize::from(op >> 3) % LINKS;
        match op & 7 {
            0..=3 => {
                let n = usize::from(take(&mut ops).unwrap_or(0) & 63).min(ops.len());
                let (chunk, rest) = ops.split_at(n);
                ops = rest;
                d.send(slot, chunk);
            }
            4 => {
                let (a, b) = (take(&mut ops).unwrap_or(0), take(&mut ops).unwrap_or(0));
                let protocol = d.protocol_of(slot);
                let packet = template(a, b, protocol);
                let protocol = match &packet {
                    Packet::Connect(c) => c.protocol,
                    _ => protocol,
                };
                let mut wire = BytesMut::new();
                encode(&packet, protocol, &mut wire);
                d.send(slot, &wire);
            }
            5 => {
                let step = take(&mut ops).unwrap_or(0);
                let ms = if step == 255 {
                    60_000
                } else {
                    u64::from(step) * 50
                };
                d.advance(Duration::from_millis(ms));
            }
            6 => d.read(slot),
            _ => {
                if let Some(link) = d.slots[slot].link {
                    d.broker.link_lost(link, CloseCause::SocketClosed, d.now);
                }
            }
        }
        d.settle();
    }
    for slot in 0..LINKS {
        d.read(slot);
    }
    d.check_restart();
    // Past every will delay, session and message expiry the templates
    // set, then past `persistent_client_expiration`.
    for secs in [5, 31] {
        d.advance(Duration::from_secs(secs));
        d.settle();
    }
    d.broker.shutdown(d.now);
    if let Err(broken) = d.broker.audit() {
        panic!("audit after shutdown: {broken}");
    }
}

fn take(ops: &mut &[u8]) -> Option<u8> {
    let (&b, rest) = ops.split_first()?;
    *ops = rest;
    Some(b)
}

fn peer() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40000))
}

impl Driver {
    fn new(select: u8, acl: Option<Rc<Acl>>) -> Driver {
        let mut settings = Settings {
            sys_interval: (select & 1 != 0).then(|| Duration::from_secs(2)),
            retry_interval: Some(Duration::from_secs(3)),
            persistent_client_expiration: Some(Duration::from_secs(30)),
            max_packet_size: 2048,
            ..Settings::default()
        };
        settings.limits.max_inflight = [1, 2, 3, 20][usize::from(select >> 1) & 3];
        // 0 is no bound. The broker's own `$SYS` messages come with the
        // clock, not with the input: with them on, a session subscribed to
        // `$SYS/#` that never reads would queue ever more of them (with
        // `upgrade_outgoing_qos`, and journal them) as the clock runs, past
        // any bound in proportion to the input. So the queue has one then.
        let queued = [0, 1, 4, 16][usize::from(select >> 3) & 3];
        settings.limits.max_queued = match (settings.sys_interval, queued) {
            (Some(_), 0) => 16,
            (_, q) => q,
        };
        settings.limits.max_queued_bytes = [0, 64][usize::from(select >> 5) & 1];
        settings.upgrade_outgoing_qos = select & 0x40 != 0;
        settings.listeners[0].max_topic_alias = 3;
        settings.listeners[0].acl = acl.clone();
        settings.check_retain_source = acl.is_some();
        let max_packet = settings.max_packet_size;
        let now = Instant::now();
        let mut broker = Broker::new(settings.clone(), now);
        let disk = (select & 0x80 != 0).then(|| {
            broker.restore(std::iter::empty(), WALL, now);
            Vec::new()
        });
        let watcher = broker.open_link((), peer(), 0, now).expect("watcher link");
        let mut d = Driver {
            broker,
            now,
            slots: Default::default(),
            watcher,
            watcher_reader: Reader::default(),
            ever: HashMap::new(),
            users: HashMap::new(),
            acl,
            watched: Vec::new(),
            max_packet,
            settings,
            disk,
            start: now,
        };
        let mut wire = BytesMut::new();
        let mut hello = connect(Protocol::V311, WATCHER_ID, true);
        hello.keep_alive = 0;
        encode(&Packet::Connect(Box::new(hello)), Protocol::V311, &mut wire);
        let sub = subscribe(1, "#", QoS::AtMostOnce, Protocol::V311);
        encode(&sub, Protocol::V311, &mut wire);
        d.feed(watcher, &wire);
        d.settle();
        assert!(
            d.broker.session_view(watcher).is_some(),
            "watcher connected"
        );
        d
    }

    fn protocol_of(&self, slot: usize) -> Protocol {
        self.slots[slot]
            .link
            .and_then(|l| self.broker.link_protocol(l))
            .unwrap_or(Protocol::V311)
    }

    /// Gives `chunk` to slot `slot`'s link (opening one if needed), one
    /// packet at a time, checking exactly-once after each.
    fn send(&mut self, slot: usize, chunk: &[u8]) {
        let link = match self.slots[slot].link {
            Some(l) => l,
            None => {
                let Ok(l) = self.broker.open_link((), peer(), 0, self.now) else {
                    return;
                };
                self.slots[slot] = Slot {
                    link: Some(l),
                    partial: Some(Vec::new()),
                    ..Slot::default()
                };
                l
            }
        };
        let Some(mut buf) = self.slots[slot].partial.take() else {
            self.feed(link, chunk);
            return;
        };
        let mut fed = buf.len();
        buf.extend_from_slice(chunk);
        let mut start = 0;
        loop {
            match check(&buf[start..], self.max_packet) {
                Ok(Check::Ready { total }) => {
                    let end = start + total;
                    self.packet(slot, link, &buf[fed..end], &buf[start..end]);
                    start = end;
                    fed = end;
                }
                Ok(Check::Incomplete { .. }) => {
                    self.feed(link, &buf[fed..]);
                    self.slots[slot].partial = Some(buf[start..].to_vec());
                    return;
                }
                Err(_) => {
                    self.feed(link, &buf[fed..]);
                    return;
                }
            }
        }
    }

    /// Feeds `tail` (the unfed end of the whole packet `frame`) and checks
    /// that a re-sent QoS 2 PUBLISH is not routed again.
    fn packet(&mut self, slot: usize, link: usize, tail: &[u8], frame: &[u8]) {
        let resent = match self
            .broker
            .link_protocol(link)
            .map(|p| decode(Bytes::copy_from_slice(frame), p))
        {
            Some(Ok(Packet::Publish(p)))
                if p.qos == QoS::ExactlyOnce && self.broker.link_holds_qos2(link, p.packet_id) =>
            {
                Some(p)
            }
            _ => None,
        };
        self.watch();
        self.watched.clear();
        self.feed(link, tail);
        self.note_filters(slot);
        self.watch();
        let Some(p) = resent else {
            return;
        };
        if self.broker.link(link).is_none_or(|l| l.is_closing()) {
            // Closed for it: its will may carry the same bytes.
            return;
        }
        let again = self
            .watched
            .iter()
            .any(|w| w.payload == p.payload && (p.topic.is_empty() || w.topic == p.topic));
        assert!(
            !again,
            "QoS 2 packet id {} delivered twice: {p:?}",
            p.packet_id
        );
    }

    fn feed(&mut self, link: usize, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let Some(l) = self.broker.link_mut(link) else {
            return;
        };
        l.rx.extend_from_slice(bytes);
        self.broker.process_input(link, self.now);
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.broker.tick(self.now);
    }

    /// Records the filters of every connected slot's session.
    fn note_filters(&mut self, slot: usize) {
        let Some(view) = self.slots[slot]
            .link
            .and_then(|l| self.broker.session_view(l))
        else {
            return;
        };
        self.slots[slot].client = Some(view.client_id.clone());
        self.users
            .entry(view.client_id.clone())
            .or_default()
            .insert(view.username);
        self.ever
            .entry(view.client_id)
            .or_default()
            .extend(view.filters);
    }

    /// The watcher reads everything; it must still be connected.
    fn watch(&mut self) {
        let link = self.watcher;
        let out = match self.broker.link_mut(link) {
            Some(l) if !l.is_closing() => l.tx.take_all(),
            _ => panic!("the watcher was disconnected"),
        };
        self.broker.wrote(link, out.len());
        for p in self.watcher_reader.read(&out, Protocol::V311) {
            if let Packet::Publish(p) = p {
                assert!(matches("#", &p.topic), "watcher got {}", p.topic);
                self.watched.push(p);
            }
        }
    }

    /// Slot `slot`'s client reads its output; every PUBLISH must match a
    /// filter its client id has held.
    fn read(&mut self, slot: usize) {
        let Some(link) = self.slots[slot].link else {
            return;
        };
        self.note_filters(slot);
        let Some(protocol) = self.broker.link_protocol(link) else {
            return;
        };
        let Some(l) = self.broker.link_mut(link) else {
            return;
        };
        let out = l.tx.take_all();
        self.broker.wrote(link, out.len());
        let packets = self.slots[slot].reader.read(&out, protocol);
        let client = self.slots[slot].client.clone().unwrap_or_default();
        let held = self.ever.get(&client);
        for p in packets {
            if let Packet::Publish(p) = p {
                let ok = held.is_some_and(|f| f.iter().any(|f| matches(f, &p.topic)));
                assert!(ok, "{} sent to {client:?}, which holds {held:?}", p.topic);
                if let Some(acl) = &self.acl {
                    // Under the rules of some user name it connected with.
                    let users = self.users.get(&client);
                    let readable = users.is_some_and(|us| {
                        us.iter()
                            .any(|u| acl.for_client(u.as_deref(), &client).can_read(&p.topic))
                    });
                    assert!(
                        readable,
                        "{} sent to {client:?} ({users:?}), which may not read it",
                        p.topic
                    );
                }
            }
        }
    }

    /// After each operation: closed links read and removed, the watcher
    /// served, and the audit.
    fn settle(&mut self) {
        for slot in 0..LINKS {
            self.note_filters(slot);
        }
        let mut dirty = Vec::new();
        self.broker.take_dirty(&mut dirty);
        let mut closing = Vec::new();
        self.broker.take_closing(&mut closing);
        for id in closing {
            if id == self.watcher {
                panic!("the watcher was disconnected");
            }
            if let Some(slot) = self.slots.iter().position(|s| s.link == Some(id)) {
                self.read(slot);
                self.slots[slot] = Slot::default();
            }
            self.broker.remove_link(id);
        }
        self.watch();
        self.watched.clear();
        if let Err(broken) = self.broker.audit() {
            panic!("audit: {broken}");
        }
        self.sync();
    }

    /// The end of a turn: the journal goes to the disk.
    fn sync(&mut self) {
        if let Some(disk) = self.disk.as_mut() {
            disk.extend(self.broker.journal().map(<[u8]>::to_vec));
            self.broker.clear_journal();
        }
    }

    /// With persistence: every connection drops (wills go out or are held
    /// as the live broker decides), then a restart from the disk and one
    /// from a snapshot alone must give the live broker's durable state.
    fn check_restart(&mut self) {
        if self.disk.is_none() {
            return;
        }
        for slot in 0..LINKS {
            if let Some(link) = self.slots[slot].link {
                self.broker
                    .link_lost(link, CloseCause::SocketClosed, self.now);
            }
        }
        self.settle();
        let now = self.now;
        let wall = WALL + now.saturating_duration_since(self.start).as_millis() as u64;
        let live = self.broker.durable_view(now);
        let restart = |bodies: &[Vec<u8>]| {
            let mut b: Broker<()> = Broker::new(self.settings.clone(), now);
            b.restore(bodies.iter().map(Vec::as_slice), wall, now);
            if let Err(broken) = b.audit() {
                panic!("audit after restart: {broken}");
            }
            b.durable_view(now)
        };
        let disk = self.disk.as_deref().unwrap_or_default();
        assert_eq!(restart(disk), live, "restarted from the log");
        self.broker.journal_live_state();
        let snapshot: Vec<Vec<u8>> = self.broker.journal().map(<[u8]>::to_vec).collect();
        self.broker.clear_journal();
        assert_eq!(restart(&snapshot), live, "restarted from a snapshot");
    }
}

fn connect(protocol: Protocol, id: &str, clean: bool) -> Connect {
    Connect {
        protocol,
        clean_start: clean,
        keep_alive: 5,
        client_id: ByteStr::from(id),
        will: None,
        username: None,
        password: None,
        bridge: false,
        properties: Properties::default(),
    }
}

fn subscribe(packet_id: u16, filter: &str, qos: QoS, protocol: Protocol) -> Packet {
    let mut options = SubOptions {
        qos,
        ..SubOptions::default()
    };
    let mut properties = Properties::default();
    if protocol.is_v5() {
        options.no_local = packet_id & 1 != 0;
        options.retain_as_published = packet_id & 2 != 0;
        options.retain_handling = (packet_id % 3) as u8;
        properties.subscription_identifier = (packet_id & 4 != 0).then_some(u32::from(packet_id));
    }
    Packet::Subscribe(Subscribe {
        packet_id,
        filters: vec![(ByteStr::from(filter), options)],
        properties,
    })
}

fn qos(bits: u8) -> QoS {
    QoS::from_u8(bits % 3).unwrap_or(QoS::AtMostOnce)
}

/// A well-formed client packet: `kind` chooses the type, `p` its fields.
fn template(kind: u8, p: u8, protocol: Protocol) -> Packet {
    let v5 = protocol.is_v5();
    let pid = u16::from(p >> 5) + 1;
    match kind % 10 {
        0 => {
            let version = [Protocol::V31, Protocol::V311, Protocol::V5][usize::from(p % 3)];
            let id = CLIENT_IDS[usize::from(p >> 2) & 3];
            let mut c = connect(version, id, p & 0x10 != 0);
            if p & 0x20 != 0 {
                c.will = Some(Will {
                    topic: ByteStr::from("w/x"),
                    payload: Bytes::from_static(b"gone"),
                    qos: qos(p >> 6),
                    retain: p & 0x80 != 0,
                    delay_interval: if version.is_v5() {
                        u32::from(p >> 6)
                    } else {
                        0
                    },
                    properties: PublishProperties::default(),
                });
            }
            if version.is_v5() {
                c.properties.session_expiry = [None, Some(4), Some(u32::MAX), Some(0)]
                    .get(usize::from(p >> 6))
                    .copied()
                    .flatten();
                c.properties.receive_maximum = Some(2);
                c.properties.topic_alias_maximum = Some(2);
            }
            Packet::Connect(Box::new(c))
        }
        1 => subscribe(
            pid,
            FILTERS[usize::from(p) % FILTERS.len()],
            qos(p >> 3),
            protocol,
        ),
        2 => Packet::Unsubscribe(Unsubscribe {
            packet_id: pid,
            filters: vec![ByteStr::from(FILTERS[usize::from(p) % FILTERS.len()])],
            properties: Properties::default(),
        }),
        3 => {
            let q = qos(p);
            let mut properties = PublishProperties::default();
            if v5 {
                properties.message_expiry = (p & 0x08 != 0).then_some(1);
                properties.topic_alias = (p & 0x10 != 0).then_some(1);
            }
            Packet::Publish(Publish {
                dup: p & 0x80 != 0,
                qos: q,
                retain: p & 0x04 != 0,
                topic: ByteStr::from(TOPICS[usize::from(p >> 5) % TOPICS.len()]),
                packet_id: if q == QoS::AtMostOnce { 0 } else { pid },
                properties,
                payload: Bytes::copy_from_slice(&[p]),
            })
        }
        4 => Packet::PubAck(Ack::new(pid)),
        5 => Packet::PubRec(Ack::new(pid)),
        6 => Packet::PubRel(Ack::new(pid)),
        7 => Packet::PubComp(Ack::new(pid)),
        8 => Packet::PingReq,
        _ => Packet::Disconnect(Disconnect {
            reason: if v5 && p & 1 != 0 { 0x04 } else { 0 },
            properties: Properties {
                session_expiry: (v5 && p & 2 != 0).then_some(0),
                ..Properties::default()
            },
        }),
    }
}
