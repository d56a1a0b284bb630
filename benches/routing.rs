//! Routing benchmarks: the broker's path from one PUBLISH frame in a
//! publisher's receive buffer to PUBLISH packets in subscribers' output
//! queues, driven through the public `Broker` API over `()` links (no
//! sockets, a fixed clock).
//!
//! - `fanout_1000`: one PUBLISH to 1,000 subscribers of the same topic, 64 B
//!   and 4 KB payloads: QoS 0; QoS 1 published and delivered at QoS 0 (the
//!   publisher's PUBACK included); QoS 1 delivered at QoS 1, timing the
//!   PUBLISH alone and the PUBLISH plus the 1,000 PUBACKs coming back.
//! - `fan_in_8`: 8 publishers on `bench/N/data`, one subscriber on
//!   `bench/+/data`, 64 B.
//! - `wildcard_10k`: one PUBLISH matched against 10,000 clients subscribed
//!   to `house/room{i % 100}/dev{i / 100}/+`.
//!
//! Only `process_input` calls are timed. Appending frames to receive buffers
//! and emptying the output queues (what the event loop's reads and writes
//! would do) happen between timed regions, and every round asserts that the
//! expected number of bytes came out, so a broken ack path cannot quietly
//! turn the benchmark into one of queueing. Each setup also asserts once
//! that every subscriber received exactly the expected bytes and, for 4 KB
//! payloads, that all 1,000 output queues hold the same payload buffer (no
//! copy per subscriber).
//!
//! Each fan-out case first builds and drops a throwaway broker. Every
//! delivery allocates the subscriber's staging buffer and every drain frees
//! it (an idle queue holds no buffer); on a fresh heap those blocks sit at
//! its top and glibc's trimming made whichever case ran first up to 2.5
//! times slower, so results depended on the order and on `--bench` filters.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use midge::broker::{Broker, Settings};
use midge::codec::{
    encode, Ack, ByteStr, Connect, Packet, Properties, Protocol, Publish, PublishProperties, QoS,
    SubOptions, Subscribe,
};
use midge::outbuf::INLINE_PAYLOAD_MAX;

const SUBSCRIBERS: usize = 1_000;
const SIZES: [usize; 2] = [64, 4096];
const FANOUT_TOPIC: &str = "bench/fanout/topic";
const PUBLISHERS: usize = 8;
const WILDCARD_CLIENTS: usize = 10_000;

fn wire(packet: &Packet) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode(packet, Protocol::V311, &mut out);
    out.to_vec()
}

fn publish(topic: &str, qos: QoS, packet_id: u16, payload_len: usize) -> Packet {
    Packet::Publish(Publish {
        dup: false,
        qos,
        retain: false,
        topic: ByteStr::from(topic),
        packet_id,
        properties: PublishProperties::default(),
        payload: Bytes::from(vec![0xA5; payload_len]),
    })
}

fn puback(packet_id: u16) -> Vec<u8> {
    wire(&Packet::PubAck(Ack::new(packet_id)))
}

/// A broker driven over `()` links at a fixed time.
struct Rig {
    broker: Broker<()>,
    now: Instant,
    dirty: Vec<usize>,
}

impl Rig {
    fn new() -> Rig {
        let now = Instant::now();
        let settings = Settings {
            sys_interval: None,
            ..Settings::default()
        };
        Rig {
            broker: Broker::new(settings, now),
            now,
            dirty: Vec::new(),
        }
    }

    /// Appends `frame` to link `id`'s receive buffer, as a socket read does.
    fn push(&mut self, id: usize, frame: &[u8]) {
        self.broker
            .link_mut(id)
            .expect("open link")
            .rx
            .extend_from_slice(frame);
    }

    fn feed(&mut self, id: usize, frame: &[u8]) {
        self.push(id, frame);
        self.broker.process_input(id, self.now);
    }

    fn take_output(&mut self, id: usize) -> Vec<u8> {
        self.broker.link_mut(id).expect("open link").tx.take_all()
    }

    /// Connects a clean-session 3.1.1 client without keep-alive and returns
    /// its link.
    fn client(&mut self, client_id: &str) -> usize {
        let peer: SocketAddr = "127.0.0.1:40000".parse().expect("address");
        let id = self
            .broker
            .open_link((), peer, 0, self.now)
            .expect("link opened");
        let connect = Connect {
            protocol: Protocol::V311,
            clean_start: true,
            keep_alive: 0,
            client_id: ByteStr::from(client_id),
            will: None,
            username: None,
            password: None,
            properties: Properties::default(),
            bridge: false,
        };
        self.feed(id, &wire(&Packet::Connect(Box::new(connect))));
        assert_eq!(self.take_output(id), [0x20, 0x02, 0x00, 0x00], "CONNACK");
        id
    }

    fn subscribe(&mut self, id: usize, filter: &str, qos: QoS) {
        let sub = Subscribe {
            packet_id: 1,
            filters: vec![(
                ByteStr::from(filter),
                SubOptions {
                    qos,
                    ..SubOptions::default()
                },
            )],
            properties: Properties::default(),
        };
        self.feed(id, &wire(&Packet::Subscribe(sub)));
        assert_eq!(
            self.take_output(id),
            [0x90, 0x03, 0x00, 0x01, qos as u8],
            "SUBACK granting {qos:?}"
        );
    }

    /// Empties every output queue written to since the last call, as the
    /// event loop's writes would; returns the number of bytes.
    fn drain(&mut self) -> usize {
        self.broker.take_dirty(&mut self.dirty);
        let mut total = 0;
        for &id in &self.dirty {
            let tx = &mut self.broker.link_mut(id).expect("open link").tx;
            total += tx.len();
            tx.advance(tx.len());
        }
        total
    }

    /// Asserts that each of `subscribers` has exactly `expected` queued and,
    /// for payloads too large to be copied, that all queues share one
    /// payload buffer; then empties every queue.
    fn check_delivery(&mut self, subscribers: &[usize], expected: &[u8], payload_len: usize) {
        let mut shared: Option<*const u8> = None;
        for &id in subscribers {
            let tx = &self.broker.link(id).expect("open link").tx;
            assert_eq!(tx.len(), expected.len(), "bytes queued for link {id}");
            assert_eq!(tx.to_vec(), expected, "bytes queued for link {id}");
            if payload_len > INLINE_PAYLOAD_MAX {
                let chunks: Vec<*const u8> = tx
                    .shared_chunks()
                    .filter(|c| c.len() == payload_len)
                    .map(|c| c.as_ptr())
                    .collect();
                assert_eq!(chunks.len(), 1, "one shared payload chunk for link {id}");
                let first = *shared.get_or_insert(chunks[0]);
                assert_eq!(chunks[0], first, "payload copied for link {id}");
            }
        }
        self.drain();
    }
}

/// The packet id the broker gives a session's next QoS 1 message when none
/// is in flight.
fn next_packet_id(id: u16) -> u16 {
    match id.wrapping_add(1) {
        0 => 1,
        n => n,
    }
}

/// 1,000 subscribers of one topic and a publisher.
struct Fanout {
    rig: Rig,
    publisher: usize,
    subscribers: Vec<usize>,
    frame: Vec<u8>,
    /// Bytes out per publish: every delivery plus the publisher's PUBACK.
    round_bytes: usize,
    /// Deliveries are QoS 1 and every subscriber acknowledges them.
    acks: bool,
    /// Packet id of the last delivery (the same for every subscriber).
    last_id: u16,
}

impl Fanout {
    fn new(publish_qos: QoS, sub_qos: QoS, payload_len: usize) -> Fanout {
        let mut rig = Rig::new();
        let subscribers: Vec<usize> = (0..SUBSCRIBERS)
            .map(|i| {
                let id = rig.client(&format!("sub{i}"));
                rig.subscribe(id, FANOUT_TOPIC, sub_qos);
                id
            })
            .collect();
        let publisher = rig.client("publisher");
        rig.drain();

        let frame = wire(&publish(FANOUT_TOPIC, publish_qos, 1, payload_len));
        let delivery_qos = publish_qos.min(sub_qos);
        let acks = delivery_qos == QoS::AtLeastOnce;
        let first_id = if acks { next_packet_id(0) } else { 0 };
        let delivered = wire(&publish(FANOUT_TOPIC, delivery_qos, first_id, payload_len));
        let publisher_ack = if publish_qos == QoS::AtLeastOnce {
            puback(1)
        } else {
            Vec::new()
        };

        rig.feed(publisher, &frame);
        assert_eq!(rig.take_output(publisher), publisher_ack, "publisher ack");
        rig.check_delivery(&subscribers, &delivered, payload_len);
        if acks {
            let ack = puback(first_id);
            for &s in &subscribers {
                rig.feed(s, &ack);
            }
            assert_eq!(rig.drain(), 0, "PUBACK from a subscriber sends nothing");
        }
        Fanout {
            rig,
            publisher,
            subscribers,
            frame,
            round_bytes: SUBSCRIBERS * delivered.len() + publisher_ack.len(),
            acks,
            last_id: first_id,
        }
    }

    /// `iters` publishes; the time spent in `process_input` for them (and
    /// for the subscribers' PUBACKs when `time_acks`).
    fn run(&mut self, iters: u64, time_acks: bool) -> Duration {
        let now = self.rig.now;
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            self.rig.push(self.publisher, &self.frame);
            let start = Instant::now();
            self.rig.broker.process_input(self.publisher, now);
            total += start.elapsed();
            assert_eq!(self.rig.drain(), self.round_bytes, "one round delivered");
            if self.acks {
                self.last_id = next_packet_id(self.last_id);
                let ack = puback(self.last_id);
                for &s in &self.subscribers {
                    self.rig.push(s, &ack);
                }
                let start = Instant::now();
                for &s in &self.subscribers {
                    self.rig.broker.process_input(s, now);
                }
                if time_acks {
                    total += start.elapsed();
                }
                assert_eq!(self.rig.drain(), 0, "PUBACKs send nothing");
            }
        }
        total
    }
}

fn fanout(c: &mut Criterion) {
    let mut group = c.benchmark_group("fanout_1000");
    group.throughput(Throughput::Elements(SUBSCRIBERS as u64));
    let cases = [
        ("qos0", QoS::AtMostOnce, QoS::AtMostOnce, false),
        (
            "qos1_pub_qos0_sub",
            QoS::AtLeastOnce,
            QoS::AtMostOnce,
            false,
        ),
        ("qos1_delivery", QoS::AtLeastOnce, QoS::AtLeastOnce, false),
        (
            "qos1_delivery+acks",
            QoS::AtLeastOnce,
            QoS::AtLeastOnce,
            true,
        ),
    ];
    for (name, publish_qos, sub_qos, time_acks) in cases {
        for size in SIZES {
            let mut state: Option<Fanout> = None;
            group.bench_function(BenchmarkId::new(name, size), |b| {
                let f = state.get_or_insert_with(|| {
                    // Warm the heap first (see the module doc).
                    drop(Fanout::new(publish_qos, sub_qos, size));
                    Fanout::new(publish_qos, sub_qos, size)
                });
                b.iter_custom(|iters| f.run(iters, time_acks));
            });
        }
    }
    group.finish();
}

/// 8 publishers, one subscriber on `bench/+/data`.
struct FanIn {
    rig: Rig,
    publishers: Vec<usize>,
    frames: Vec<Vec<u8>>,
    round_bytes: usize,
}

impl FanIn {
    fn new() -> FanIn {
        let mut rig = Rig::new();
        let subscriber = rig.client("sink");
        rig.subscribe(subscriber, "bench/+/data", QoS::AtMostOnce);
        let publishers: Vec<usize> = (0..PUBLISHERS)
            .map(|n| rig.client(&format!("pub{n}")))
            .collect();
        rig.drain();
        let frames: Vec<Vec<u8>> = (0..PUBLISHERS)
            .map(|n| wire(&publish(&format!("bench/{n}/data"), QoS::AtMostOnce, 0, 64)))
            .collect();
        for (&p, frame) in publishers.iter().zip(&frames) {
            rig.feed(p, frame);
        }
        // QoS 0 in, QoS 0 out: each delivery is the published frame itself.
        assert_eq!(rig.take_output(subscriber), frames.concat(), "fan-in");
        assert_eq!(rig.drain(), 0, "publishers receive nothing");
        let round_bytes = frames.iter().map(Vec::len).sum();
        FanIn {
            rig,
            publishers,
            frames,
            round_bytes,
        }
    }

    /// `iters` rounds of one publish per publisher.
    fn run(&mut self, iters: u64) -> Duration {
        let now = self.rig.now;
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            for (&p, frame) in self.publishers.iter().zip(&self.frames) {
                self.rig.push(p, frame);
            }
            let start = Instant::now();
            for &p in &self.publishers {
                self.rig.broker.process_input(p, now);
            }
            total += start.elapsed();
            assert_eq!(self.rig.drain(), self.round_bytes, "one round delivered");
        }
        total
    }
}

fn fan_in(c: &mut Criterion) {
    let mut group = c.benchmark_group("fan_in_8");
    group.throughput(Throughput::Elements(PUBLISHERS as u64));
    let mut state: Option<FanIn> = None;
    group.bench_function(BenchmarkId::new("qos0", 64), |b| {
        let f = state.get_or_insert_with(FanIn::new);
        b.iter_custom(|iters| f.run(iters));
    });
    group.finish();
}

/// 10,000 clients, each on `house/room{i % 100}/dev{i / 100}/+`, and a
/// publisher whose topic matches exactly one of them.
struct Wildcard {
    rig: Rig,
    publisher: usize,
    frame: Vec<u8>,
}

impl Wildcard {
    fn new() -> Wildcard {
        let mut rig = Rig::new();
        let clients: Vec<usize> = (0..WILDCARD_CLIENTS)
            .map(|i| {
                let id = rig.client(&format!("c{i}"));
                let filter = format!("house/room{}/dev{}/+", i % 100, i / 100);
                rig.subscribe(id, &filter, QoS::AtMostOnce);
                id
            })
            .collect();
        let publisher = rig.client("publisher");
        rig.drain();
        let frame = wire(&publish(
            "house/room7/dev42/temperature",
            QoS::AtMostOnce,
            0,
            64,
        ));
        rig.feed(publisher, &frame);
        assert_eq!(rig.take_output(clients[4207]), frame, "the one match");
        assert_eq!(rig.drain(), 0, "no other client receives it");
        Wildcard {
            rig,
            publisher,
            frame,
        }
    }

    fn run(&mut self, iters: u64) -> Duration {
        let now = self.rig.now;
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            self.rig.push(self.publisher, &self.frame);
            let start = Instant::now();
            self.rig.broker.process_input(self.publisher, now);
            total += start.elapsed();
            assert_eq!(self.rig.drain(), self.frame.len(), "one delivery");
        }
        total
    }
}

fn wildcard(c: &mut Criterion) {
    let mut group = c.benchmark_group("wildcard_10k");
    group.throughput(Throughput::Elements(1));
    let mut state: Option<Wildcard> = None;
    group.bench_function(BenchmarkId::new("qos0", 64), |b| {
        let w = state.get_or_insert_with(Wildcard::new);
        b.iter_custom(|iters| w.run(iters));
    });
    group.finish();
}

criterion_group!(benches, fanout, fan_in, wildcard);
criterion_main!(benches);
