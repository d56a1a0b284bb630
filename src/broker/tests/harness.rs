//! The test harness: a broker driven without sockets, packets in as
//! bytes, packets out decoded from each link's output queue, time moved by
//! hand.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::broker::*;
use crate::codec::{
    connack, ByteStr, ConnAck, Connect, Properties, Protocol, Publish, PublishProperties, QoS,
    SubOptions, Subscribe, Will,
};

pub(super) struct Harness {
    pub(super) broker: Broker<()>,
    pub(super) now: Instant,
    /// Packets received after a CONNACK, kept for the next `recv`.
    pending: HashMap<usize, Vec<Packet>>,
    /// The protocol each link's CONNECT named, for encoding its packets.
    protocols: HashMap<usize, Protocol>,
}

pub(super) fn peer() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

pub(super) fn connect_packet(id: &str, clean: bool, keep_alive: u16) -> Connect {
    Connect {
        protocol: Protocol::V311,
        clean_start: clean,
        keep_alive,
        client_id: ByteStr::from(id),
        will: None,
        username: None,
        password: None,
        bridge: false,
        properties: Properties::default(),
    }
}

pub(super) fn will(topic: &str, payload: &str, qos: QoS, retain: bool) -> Will {
    Will {
        topic: ByteStr::from(topic),
        payload: Bytes::copy_from_slice(payload.as_bytes()),
        qos,
        retain,
        delay_interval: 0,
        properties: PublishProperties::default(),
    }
}

pub(super) fn publish(
    topic: &str,
    payload: &str,
    qos: QoS,
    retain: bool,
    packet_id: u16,
) -> Packet {
    Packet::Publish(Publish {
        dup: false,
        qos,
        retain,
        topic: ByteStr::from(topic),
        packet_id,
        properties: PublishProperties::default(),
        payload: Bytes::copy_from_slice(payload.as_bytes()),
    })
}

pub(super) fn subscribe(packet_id: u16, filters: &[(&str, QoS)]) -> Packet {
    Packet::Subscribe(Subscribe {
        packet_id,
        filters: filters
            .iter()
            .map(|(f, qos)| {
                (
                    ByteStr::from(*f),
                    SubOptions {
                        qos: *qos,
                        ..SubOptions::default()
                    },
                )
            })
            .collect(),
        properties: Properties::default(),
    })
}

impl Harness {
    pub(super) fn new() -> Harness {
        Harness::with(Settings {
            sys_interval: None,
            ..Settings::default()
        })
    }

    pub(super) fn with(settings: Settings) -> Harness {
        let now = Instant::now();
        Harness {
            broker: Broker::new(settings, now),
            now,
            pending: HashMap::new(),
            protocols: HashMap::new(),
        }
    }

    pub(super) fn open(&mut self) -> usize {
        self.broker
            .open_link((), peer(), 0, self.now)
            .expect("link opened")
    }

    pub(super) fn raw(&mut self, link: usize, bytes: &[u8]) {
        self.broker
            .link_mut(link)
            .unwrap()
            .rx
            .extend_from_slice(bytes);
        self.broker.process_input(link, self.now);
    }

    /// Packets sent on `link` from now on are encoded for `protocol` (a
    /// bridge's link, where the test plays the far side).
    pub(super) fn speaks(&mut self, link: usize, protocol: Protocol) {
        self.protocols.insert(link, protocol);
    }

    pub(super) fn send(&mut self, link: usize, packet: Packet) {
        let mut buf = BytesMut::new();
        let protocol = match &packet {
            Packet::Connect(c) => {
                self.protocols.insert(link, c.protocol);
                c.protocol
            }
            _ => self.protocols.get(&link).copied().unwrap_or(Protocol::V311),
        };
        codec::encode(&packet, protocol, &mut buf);
        self.raw(link, &buf);
    }

    /// The bytes queued for `link` since the last call, as written.
    pub(super) fn recv_bytes(&mut self, link: usize) -> Vec<u8> {
        let Some(l) = self.broker.link_mut(link) else {
            return Vec::new();
        };
        let bytes = l.tx.take_all().to_vec();
        self.broker.wrote(link, bytes.len());
        bytes
    }

    /// Every packet queued for `link` since the last call.
    pub(super) fn recv(&mut self, link: usize) -> Vec<Packet> {
        let Some(l) = self.broker.link_mut(link) else {
            return Vec::new();
        };
        let protocol = l.protocol;
        let mut bytes = BytesMut::from(&l.tx.take_all()[..]);
        // As the event loop reports what it wrote.
        self.broker.wrote(link, bytes.len());
        let mut out = self.pending.remove(&link).unwrap_or_default();
        while !bytes.is_empty() {
            match codec::check(&bytes, usize::MAX).unwrap() {
                codec::Check::Ready { total } => {
                    let frame = bytes.split_to(total).freeze();
                    out.push(codec::decode(frame, protocol).unwrap());
                }
                other => panic!("partial packet in output: {other:?}"),
            }
        }
        out
    }

    pub(super) fn connect(&mut self, c: Connect) -> (usize, ConnAck) {
        let link = self.open();
        self.send(link, Packet::Connect(Box::new(c)));
        let mut got = self.recv(link);
        match got.first() {
            Some(Packet::ConnAck(a)) => {
                let a = a.clone();
                got.remove(0);
                self.pending.insert(link, got);
                (link, a)
            }
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    pub(super) fn client(&mut self, id: &str, clean: bool) -> usize {
        let (link, ack) = self.connect(connect_packet(id, clean, 60));
        assert_eq!(ack.code, connack::ACCEPTED);
        link
    }

    pub(super) fn subscribe(&mut self, link: usize, filter: &str, qos: QoS) {
        self.send(link, subscribe(1, &[(filter, qos)]));
        let got = self.recv(link);
        assert!(
            matches!(got.first(), Some(Packet::SubAck(_))),
            "expected SUBACK, got {got:?}"
        );
    }

    pub(super) fn advance(&mut self, by: Duration) {
        self.now += by;
        self.broker.tick(self.now);
    }

    /// Links the broker wants closed (and removes them, as the event loop
    /// does after flushing).
    pub(super) fn closed(&mut self) -> Vec<usize> {
        let mut v = Vec::new();
        self.broker.take_closing(&mut v);
        v
    }

    /// The client's socket goes away without DISCONNECT (its will is
    /// published).
    pub(super) fn close(&mut self, link: usize) {
        self.broker
            .link_lost(link, CloseCause::SocketClosed, self.now);
        for id in self.closed() {
            self.broker.remove_link(id);
        }
    }

    pub(super) fn is_open(&self, link: usize) -> bool {
        self.broker.link(link).is_some_and(|l| !l.is_closing())
    }
}

pub(super) fn publishes(packets: &[Packet]) -> Vec<&Publish> {
    packets
        .iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => Some(p),
            _ => None,
        })
        .collect()
}

pub(super) fn payloads(packets: &[Packet]) -> Vec<String> {
    publishes(packets)
        .iter()
        .map(|p| String::from_utf8_lossy(&p.payload).into_owned())
        .collect()
}
