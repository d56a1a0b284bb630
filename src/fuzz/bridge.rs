//! The bridge target: a broker with one bridge, where the fuzzer plays the
//! far side (its bytes arrive on the bridge's link), the event loop
//! (dials succeed or fail), a local publisher and a local subscriber, with
//! the clock moving.
//!
//! The bridge's topics: `a/# out 1 "" r/`, `c/# in 2 l/ ""` and
//! `# both 0 "" ""`, over MQTT 3.1.1 or 5 (selector bit 0).
//!
//! Input: a selector byte, then operations, a byte each (low three bits
//! the kind):
//! - 0: raw bytes from the far side: a length byte (0..=63), then those;
//! - 1: a well-formed packet from the far side built from the next two
//!   bytes (CONNACK accepted or refused, PUBLISH on an `in` or other
//!   topic at any QoS, the acknowledgement of what the bridge sent last,
//!   PUBREL, SUBACK, PINGRESP, DISCONNECT);
//! - 2: the local client publishes (topic and QoS from the next byte);
//! - 3: the clock moves by the next byte times 100 ms (255: ten minutes);
//! - 4: the bridge's socket is lost;
//! - 5: the event loop opens the dials asked for, or fails them (next
//!   byte's low bit);
//! - 6 and 7: the far side and the local subscriber read their output.
//!
//! After every operation:
//! - [`Broker::audit`] holds;
//! - everything the bridge wrote decodes;
//! - nothing the far side sent comes back to it (payloads say who
//!   published them: `R…` from the far side, `L…` from the local
//!   client), and no local topic under `a/` leaves without its `r/`;
//! - the local subscriber gets `in` messages under `l/` only from the far
//!   side.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::oracle::Reader;
use crate::broker::{Broker, CloseCause, Dial, Settings};
use crate::codec::{
    encode, Ack, ByteStr, ConnAck, Connect, Disconnect, Packet, Properties, Protocol, Publish,
    PublishProperties, QoS, SubAck, SubOptions, Subscribe,
};
use crate::config::bridge::{
    BridgeAddress, BridgeConfig, BridgeProtocol, BridgeTopic, Direction, Restart,
};

/// Topics the local client publishes to.
const LOCAL_TOPICS: [&str; 4] = ["a/b", "c/d", "l/c/x", "x"];
/// Topics the far side publishes to.
const REMOTE_TOPICS: [&str; 4] = ["c/x", "r/a/b", "z", "c/y/z"];

struct Driver {
    broker: Broker<()>,
    now: Instant,
    protocol: Protocol,
    /// The bridge's link, once a dial was opened.
    link: Option<usize>,
    remote: Reader,
    publisher: usize,
    subscriber: usize,
    sub_reader: Reader,
    /// The packet id of the last QoS 1/2 PUBLISH the bridge sent, and of
    /// the last QoS 2 PUBLISH the far side sent.
    last_out: u16,
    last_in: u16,
    next_in: u16,
    next_local: u16,
    serial: u32,
    dials: Vec<Dial>,
    /// The broker is shutting down (everyone is disconnected).
    stopping: bool,
}

fn topic(pattern: &str, direction: Direction, qos: QoS, local: &str, remote: &str) -> BridgeTopic {
    BridgeTopic::new(pattern, direction, qos, local, remote)
}

fn peer() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40000))
}

fn take(ops: &mut &[u8]) -> u8 {
    match ops.split_first() {
        Some((&b, rest)) => {
            *ops = rest;
            b
        }
        None => 0,
    }
}

/// Runs one input (see the module doc).
pub fn run(data: &[u8]) {
    let Some((&select, mut ops)) = data.split_first() else {
        return;
    };
    let mut d = Driver::new(select);
    while let Some((&op, rest)) = ops.split_first() {
        ops = rest;
        match op & 7 {
            0 => {
                let n = usize::from(take(&mut ops) & 63).min(ops.len());
                let (chunk, rest) = ops.split_at(n);
                ops = rest;
                d.remote_sends(chunk);
            }
            1 => {
                let (a, b) = (take(&mut ops), take(&mut ops));
                let packet = d.template(a, b);
                let mut wire = BytesMut::new();
                encode(&packet, d.protocol, &mut wire);
                d.remote_sends(&wire);
            }
            2 => {
                let b = take(&mut ops);
                d.local_publish(b);
            }
            3 => {
                let step = take(&mut ops);
                let ms = if step == 255 {
                    600_000
                } else {
                    u64::from(step) * 100
                };
                d.now += Duration::from_millis(ms);
                d.broker.tick(d.now);
            }
            4 => {
                if let Some(id) = d.link {
                    d.broker.link_lost(id, CloseCause::SocketClosed, d.now);
                }
            }
            5 => {
                let b = take(&mut ops);
                d.dial(b & 1 == 1);
            }
            6 => d.read_remote(),
            _ => d.read_local(),
        }
        d.settle();
    }
    d.read_remote();
    d.broker.shutdown(d.now);
    d.stopping = true;
    d.settle();
}

impl Driver {
    fn new(select: u8) -> Driver {
        let v5 = select & 1 != 0;
        let mut settings = Settings {
            sys_interval: None,
            max_packet_size: 2048,
            ..Settings::default()
        };
        settings.limits.max_inflight = [1, 2, 3, 20][usize::from(select >> 1) & 3];
        settings.limits.max_queued = [0, 1, 4, 16][usize::from(select >> 3) & 3];
        let now = Instant::now();
        let mut broker = Broker::new(settings, now);
        let mut conf = BridgeConfig::new("fuzz", "fuzz.conf:1".into());
        conf.addresses = vec![
            BridgeAddress {
                host: "one".into(),
                port: 1,
            },
            BridgeAddress {
                host: "two".into(),
                port: 2,
            },
        ];
        conf.topics = vec![
            topic("a/#", Direction::Out, QoS::AtLeastOnce, "", "r/"),
            topic("c/#", Direction::In, QoS::ExactlyOnce, "l/", ""),
            topic("#", Direction::Both, QoS::AtMostOnce, "", ""),
        ];
        conf.protocol = if v5 {
            BridgeProtocol::V5
        } else {
            BridgeProtocol::V311
        };
        conf.keepalive = 5;
        conf.restart = Restart::Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(4),
        };
        conf.clean_session = select & 0x20 != 0;
        conf.local_clean_session = Some(select & 0x40 != 0);
        broker.add_bridge(conf, "host", now);
        let publisher = broker.open_link((), peer(), 0, now).expect("link");
        let subscriber = broker.open_link((), peer(), 0, now).expect("link");
        let mut d = Driver {
            broker,
            now,
            protocol: if v5 { Protocol::V5 } else { Protocol::V311 },
            link: None,
            remote: Reader::default(),
            publisher,
            subscriber,
            sub_reader: Reader::default(),
            last_out: 1,
            last_in: 1,
            next_in: 0,
            next_local: 0,
            serial: 0,
            dials: Vec::new(),
            stopping: false,
        };
        for (id, client) in [(publisher, "pub"), (subscriber, "sub")] {
            let mut wire = BytesMut::new();
            let hello = Connect {
                protocol: Protocol::V311,
                clean_start: true,
                keep_alive: 0,
                client_id: ByteStr::from(client),
                will: None,
                username: None,
                password: None,
                properties: Properties::default(),
                bridge: false,
            };
            encode(&Packet::Connect(Box::new(hello)), Protocol::V311, &mut wire);
            d.feed(id, &wire);
        }
        let sub = Packet::Subscribe(Subscribe {
            packet_id: 1,
            filters: vec![(
                ByteStr::from("l/#"),
                SubOptions {
                    qos: QoS::ExactlyOnce,
                    ..SubOptions::default()
                },
            )],
            properties: Properties::default(),
        });
        let mut wire = BytesMut::new();
        encode(&sub, Protocol::V311, &mut wire);
        d.feed(subscriber, &wire);
        d.settle();
        d
    }

    fn feed(&mut self, id: usize, bytes: &[u8]) {
        if let Some(l) = self.broker.link_mut(id) {
            l.rx.extend_from_slice(bytes);
            self.broker.process_input(id, self.now);
        }
    }

    fn remote_sends(&mut self, bytes: &[u8]) {
        if let Some(id) = self.link {
            self.feed(id, bytes);
        }
    }

    fn serial(&mut self, who: char) -> Bytes {
        self.serial += 1;
        Bytes::from(format!("{who}{}", self.serial))
    }

    /// A packet the far side sends, from two fuzzer bytes.
    fn template(&mut self, a: u8, b: u8) -> Packet {
        let qos = QoS::from_u8(b & 3).unwrap_or(QoS::AtMostOnce);
        match a % 9 {
            0 => Packet::ConnAck(ConnAck {
                session_present: b & 0x10 != 0,
                code: match (b & 3, self.protocol.is_v5()) {
                    (0 | 3, _) => 0,
                    (1, false) => 1,
                    (1, true) => 0x84,
                    (_, false) => 5,
                    (_, true) => 0x87,
                },
                properties: if self.protocol.is_v5() {
                    Properties {
                        receive_maximum: (b & 4 != 0).then_some(1 + u16::from(b >> 6)),
                        topic_alias_maximum: (b & 8 != 0).then_some(2),
                        maximum_packet_size: (b & 0x20 != 0).then_some(64),
                        server_keep_alive: (b & 0x40 != 0).then_some(2),
                        ..Properties::default()
                    }
                } else {
                    Properties::default()
                },
            }),
            1 | 2 => {
                let packet_id = if qos == QoS::AtMostOnce {
                    0
                } else {
                    self.next_in = self.next_in % 7 + 1;
                    self.next_in
                };
                if qos == QoS::ExactlyOnce {
                    self.last_in = packet_id;
                }
                Packet::Publish(Publish {
                    dup: b & 0x80 != 0,
                    qos,
                    retain: b & 0x40 != 0,
                    topic: ByteStr::from(REMOTE_TOPICS[usize::from(b >> 2) & 3]),
                    packet_id,
                    properties: PublishProperties::default(),
                    payload: self.serial('R'),
                })
            }
            3 => Packet::PubAck(self.ack(self.last_out, b)),
            4 => Packet::PubRec(self.ack(self.last_out, b)),
            5 => Packet::PubComp(self.ack(self.last_out, b)),
            6 => Packet::PubRel(self.ack(self.last_in, b)),
            7 => Packet::SubAck(SubAck {
                packet_id: u16::from(b).max(1),
                codes: vec![b & 0x82],
                ..SubAck::default()
            }),
            _ => match b % 3 {
                0 => Packet::PingResp,
                1 if self.protocol.is_v5() => Packet::Disconnect(Disconnect {
                    reason: 0x8B,
                    properties: Properties::default(),
                }),
                _ => Packet::PingResp,
            },
        }
    }

    fn ack(&self, id: u16, b: u8) -> Ack {
        Ack {
            packet_id: if b & 0x80 != 0 {
                u16::from(b & 7).max(1)
            } else {
                id
            },
            reason: 0,
            properties: Properties::default(),
        }
    }

    fn local_publish(&mut self, b: u8) {
        let qos = QoS::from_u8(b & 3).unwrap_or(QoS::AtLeastOnce);
        let packet_id = if qos == QoS::AtMostOnce {
            0
        } else {
            self.next_local = self.next_local % 60_000 + 1;
            self.next_local
        };
        let p = Packet::Publish(Publish {
            dup: false,
            qos,
            retain: b & 0x80 != 0,
            topic: ByteStr::from(LOCAL_TOPICS[usize::from(b >> 2) & 3]),
            packet_id,
            properties: PublishProperties::default(),
            payload: self.serial('L'),
        });
        let mut wire = BytesMut::new();
        encode(&p, Protocol::V311, &mut wire);
        let id = self.publisher;
        self.feed(id, &wire);
        // Its acknowledgements are not of interest.
        if let Some(l) = self.broker.link_mut(id) {
            l.tx.take_all();
        }
        if qos == QoS::ExactlyOnce {
            let rel = Packet::PubRel(Ack {
                packet_id,
                reason: 0,
                properties: Properties::default(),
            });
            let mut wire = BytesMut::new();
            encode(&rel, Protocol::V311, &mut wire);
            self.feed(id, &wire);
            if let Some(l) = self.broker.link_mut(id) {
                l.tx.take_all();
            }
        }
    }

    fn dial(&mut self, open: bool) {
        self.broker.take_dials(&mut self.dials);
        for dial in std::mem::take(&mut self.dials) {
            if !open {
                self.broker
                    .bridge_dial_failed(dial.bridge, dial.generation, "fuzz", self.now);
                continue;
            }
            if let Some(old) = self.link.filter(|&l| self.broker.link(l).is_some()) {
                panic!("a second link {old} while one is open");
            }
            if let Ok(id) =
                self.broker
                    .bridge_connected(dial.bridge, dial.generation, (), peer(), self.now)
            {
                self.link = Some(id);
                self.remote = Reader::default();
            }
        }
    }

    /// The far side reads what the bridge wrote, and checks it.
    fn read_remote(&mut self) {
        let Some(id) = self.link else {
            return;
        };
        let Some(protocol) = self.broker.link_protocol(id) else {
            return;
        };
        let Some(l) = self.broker.link_mut(id) else {
            return;
        };
        let out = l.tx.take_all();
        self.broker.wrote(id, out.len());
        for packet in self.remote.read(&out, protocol) {
            let Packet::Publish(p) = packet else {
                continue;
            };
            assert!(
                !p.payload.starts_with(b"R"),
                "echoed to the far side: {} {:?}",
                p.topic,
                p.payload
            );
            assert!(
                !p.topic.starts_with("a/"),
                "{} left without its remote prefix",
                p.topic
            );
            if p.qos != QoS::AtMostOnce {
                self.last_out = p.packet_id;
            }
        }
    }

    fn read_local(&mut self) {
        let id = self.subscriber;
        let Some(l) = self.broker.link_mut(id) else {
            return;
        };
        let out = l.tx.take_all();
        self.broker.wrote(id, out.len());
        for packet in self.sub_reader.read(&out, Protocol::V311) {
            if let Packet::Publish(p) = packet {
                assert!(
                    p.payload.starts_with(b"R") || p.topic.as_str() == "l/c/x",
                    "{} from the local client came through the bridge",
                    p.topic
                );
            }
        }
    }

    fn settle(&mut self) {
        let mut dirty = Vec::new();
        self.broker.take_dirty(&mut dirty);
        let mut closing = Vec::new();
        self.broker.take_closing(&mut closing);
        for id in closing {
            assert!(
                self.stopping || (id != self.publisher && id != self.subscriber),
                "a local client was disconnected"
            );
            if Some(id) == self.link {
                self.read_remote();
                self.link = None;
            }
            self.broker.remove_link(id);
        }
        if let Err(broken) = self.broker.audit() {
            panic!("audit: {broken}");
        }
    }
}
