//! Bridges driven without sockets: the broker asks for dials, the test
//! plays the event loop (hands a link over or reports a failure) and the
//! remote broker (answers CONNACK, SUBACK, PUBACK... on the bridge's link),
//! with the clock moved by hand.

use std::time::Duration;

use super::*;
use crate::codec::{Ack, ConnAck, Connect, Properties, Publish, QoS};
use crate::config::bridge::{
    BridgeAddress, BridgeConfig, BridgeProtocol, BridgeTopic, Direction, Restart, StartType,
};
use harness::*;

const STATE: &str = "$SYS/broker/connection/pi.cloud/state";

fn topic(pattern: &str, direction: Direction, qos: QoS, local: &str, remote: &str) -> BridgeTopic {
    BridgeTopic::new(pattern, direction, qos, local, remote)
}

fn conf(topics: Vec<BridgeTopic>) -> BridgeConfig {
    let mut c = BridgeConfig::new("cloud", "test.conf:1".into());
    c.addresses = vec![
        BridgeAddress {
            host: "main.example".into(),
            port: 1883,
        },
        BridgeAddress {
            host: "spare.example".into(),
            port: 1884,
        },
    ];
    c.topics = topics;
    c.restart = Restart::Constant(Duration::from_secs(7));
    c
}

/// The bridge with `topic # out 0`.
fn everything_out() -> BridgeConfig {
    conf(vec![topic("#", Direction::Out, QoS::AtMostOnce, "", "")])
}

/// A broker with the bridge, and the test in the event loop's place.
struct Rig {
    h: Harness,
    dials: Vec<Dial>,
}

impl Rig {
    fn new(c: BridgeConfig) -> Rig {
        let mut h = Harness::new();
        let now = h.now;
        h.broker.add_bridge(c, "pi", now);
        Rig {
            h,
            dials: Vec::new(),
        }
    }

    /// The dials asked for since the last call.
    fn dials(&mut self) -> Vec<Dial> {
        self.h.broker.take_dials(&mut self.dials);
        self.dials.clone()
    }

    /// Hands dial `d` a link; returns it with the CONNECT it carries.
    fn connected(&mut self, d: &Dial) -> (usize, Connect) {
        let now = self.h.now;
        let id = self
            .h
            .broker
            .bridge_connected(d.bridge, d.generation, (), peer(), now)
            .expect("the dial is live");
        let got = self.h.recv(id);
        match &got[..] {
            [Packet::Connect(c)] => {
                self.h.speaks(id, c.protocol);
                (id, (**c).clone())
            }
            other => panic!("expected CONNECT, got {other:?}"),
        }
    }

    /// The remote broker accepts: returns what the bridge sends next.
    fn accept(&mut self, link: usize, session_present: bool) -> Vec<Packet> {
        self.answer(link, session_present, 0, Properties::default())
    }

    /// The remote broker answers CONNACK `code` with `properties`:
    /// returns what the bridge sends next.
    fn answer(
        &mut self,
        link: usize,
        session_present: bool,
        code: u8,
        properties: Properties,
    ) -> Vec<Packet> {
        self.h.send(
            link,
            Packet::ConnAck(ConnAck {
                session_present,
                code,
                properties,
            }),
        );
        self.h.recv(link)
    }

    /// Dials, connects and accepts: the bridge's link is up. Returns the
    /// link and what the bridge sent after CONNACK; the state message
    /// among it is acknowledged.
    fn up(&mut self) -> (usize, Vec<Packet>) {
        let dials = self.dials();
        assert_eq!(dials.len(), 1, "one dial: {dials:?}");
        let (link, _) = self.connected(&dials[0]);
        let after = self.accept(link, false);
        for p in publishes(&after) {
            if p.qos != QoS::AtMostOnce {
                self.h.send(link, Packet::PubAck(ack(p.packet_id)));
            }
        }
        (link, after)
    }

    /// Subscribes a new client `id` to `filter`; returns it and the
    /// retained messages it got.
    fn watcher(&mut self, id: &str, filter: &str) -> (usize, Vec<String>) {
        let w = self.h.client(id, true);
        self.h.send(w, subscribe(1, &[(filter, QoS::AtMostOnce)]));
        let got = self.h.recv(w);
        assert!(matches!(got.first(), Some(Packet::SubAck(_))));
        (w, payloads(&got))
    }
}

fn ack(packet_id: u16) -> Ack {
    Ack {
        packet_id,
        reason: 0,
        properties: Properties::default(),
    }
}

#[test]
fn connect_carries_the_remote_id_the_bridge_bit_and_a_retained_0_will() {
    let mut r = Rig::new(everything_out());
    let dials = r.dials();
    assert_eq!(
        dials,
        [Dial {
            bridge: 0,
            generation: dials[0].generation,
            host: "main.example".into(),
            port: 1883
        }]
    );
    let (_, c) = r.connected(&dials[0]);
    assert_eq!(c.client_id.as_str(), "pi.cloud", "<hostname>.<connection>");
    assert!(c.bridge, "try_private is on by default");
    assert!(!c.clean_start, "cleansession false by default");
    assert_eq!(c.keep_alive, 60);
    let will = c.will.expect("notifications: a will");
    assert_eq!(will.topic.as_str(), STATE);
    assert_eq!(&will.payload[..], b"0");
    assert!(will.retain);
}

#[test]
fn on_connack_it_subscribes_the_in_topics_and_both_sides_hear_1() {
    let mut r = Rig::new(conf(vec![
        topic("cmd/#", Direction::In, QoS::ExactlyOnce, "", "cloud/"),
        topic("sensors/#", Direction::Out, QoS::AtLeastOnce, "", "pi/"),
    ]));
    let (watcher, retained) = r.watcher("watcher", STATE);
    assert_eq!(retained, ["0"], "retained 0 before");
    let (_, after) = r.up();
    let subscribe = after.iter().find_map(|p| match p {
        Packet::Subscribe(s) => Some(s),
        _ => None,
    });
    let s = subscribe.expect("SUBSCRIBE to the far side");
    assert_eq!(s.filters.len(), 1);
    assert_eq!(s.filters[0].0.as_str(), "cloud/cmd/#");
    assert_eq!(s.filters[0].1.qos, QoS::ExactlyOnce);
    let unsub = after.iter().find_map(|p| match p {
        Packet::Unsubscribe(u) => Some(u),
        _ => None,
    });
    assert_eq!(
        unsub.expect("bridge_attempt_unsubscribe").filters[0].as_str(),
        "pi/sensors/#"
    );
    let state: Vec<&Publish> = publishes(&after);
    assert_eq!(state.len(), 1);
    assert_eq!(state[0].topic.as_str(), STATE);
    assert_eq!(&state[0].payload[..], b"1");
    assert!(state[0].retain && state[0].qos == QoS::AtLeastOnce);
    assert_eq!(payloads(&r.h.recv(watcher)), ["1"], "local side too");
}

#[test]
fn out_messages_leave_under_the_remote_prefix_and_qos1_completes() {
    let mut r = Rig::new(conf(vec![topic(
        "sensors/#",
        Direction::Out,
        QoS::AtLeastOnce,
        "home/",
        "pi/",
    )]));
    let (link, _) = r.up();
    let publisher = r.h.client("sensor", true);
    r.h.send(
        publisher,
        publish("home/sensors/t", "21.5", QoS::AtLeastOnce, false, 1),
    );
    r.h.send(
        publisher,
        publish("home/other", "no", QoS::AtLeastOnce, false, 2),
    );
    let got = r.h.recv(link);
    let out = publishes(&got);
    assert_eq!(out.len(), 1, "{got:?}");
    assert_eq!(out[0].topic.as_str(), "pi/sensors/t");
    assert_eq!(out[0].qos, QoS::AtLeastOnce);
    let id = out[0].packet_id;
    r.h.send(link, Packet::PubAck(ack(id)));
    let sid = r.h.broker.bridges[0].sid;
    assert_eq!(r.h.broker.sessions[sid].inflight_len(), 0, "PUBACK done");
}

#[test]
fn in_messages_arrive_under_the_local_prefix_and_qos2_completes() {
    let mut r = Rig::new(conf(vec![topic(
        "cmd/#",
        Direction::In,
        QoS::ExactlyOnce,
        "local/",
        "cloud/",
    )]));
    let (link, _) = r.up();
    let sub = r.h.client("app", true);
    r.h.subscribe(sub, "local/cmd/#", QoS::ExactlyOnce);
    r.h.send(
        link,
        publish("cloud/cmd/light", "on", QoS::ExactlyOnce, false, 9),
    );
    assert!(
        matches!(&r.h.recv(link)[..], [Packet::PubRec(a)] if a.packet_id == 9),
        "PUBREC to the far side"
    );
    r.h.send(link, Packet::PubRel(ack(9)));
    assert!(matches!(&r.h.recv(link)[..], [Packet::PubComp(a)] if a.packet_id == 9));
    let got = r.h.recv(sub);
    let p = publishes(&got);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].topic.as_str(), "local/cmd/light");
    assert_eq!(&p[0].payload[..], b"on");
}

#[test]
fn a_both_topic_never_echoes_what_came_in() {
    let mut r = Rig::new(conf(vec![topic(
        "#",
        Direction::Both,
        QoS::AtLeastOnce,
        "",
        "",
    )]));
    let (link, _) = r.up();
    r.h.send(link, publish("a/b", "from far", QoS::AtLeastOnce, true, 3));
    let back = r.h.recv(link);
    assert!(publishes(&back).is_empty(), "not echoed: {back:?}");
    // A local publisher's message still goes out, retained as published.
    let local = r.h.client("local", true);
    r.h.send(
        local,
        publish("a/c", "from here", QoS::AtLeastOnce, true, 1),
    );
    let out = r.h.recv(link);
    let p = publishes(&out);
    assert_eq!(p.len(), 1);
    assert!(p[0].retain, "Retain As Published");
}

#[test]
fn while_down_messages_queue_and_after_the_restart_delay_they_drain_in_order() {
    let mut r = Rig::new(conf(vec![topic(
        "t/#",
        Direction::Out,
        QoS::AtLeastOnce,
        "",
        "",
    )]));
    let (link, _) = r.up();
    let publisher = r.h.client("p", true);
    r.h.send(publisher, publish("t/1", "one", QoS::AtLeastOnce, false, 1));
    let sent = r.h.recv(link);
    assert_eq!(payloads(&sent), ["one"]);
    // The link dies with "one" unacknowledged.
    r.h.close(link);
    for (i, text) in ["two", "three"].iter().enumerate() {
        r.h.send(
            publisher,
            publish("t/2", text, QoS::AtLeastOnce, false, 2 + i as u16),
        );
    }
    assert!(r.dials().is_empty(), "restart_timeout 7: not yet");
    r.h.advance(Duration::from_secs(6));
    assert!(r.dials().is_empty(), "not after 6 s");
    r.h.advance(Duration::from_secs(1));
    let dials = r.dials();
    assert_eq!(dials.len(), 1, "after 7 s");
    assert_eq!(dials[0].host, "main.example", "the main address first");
    let (link, _) = r.connected(&dials[0]);
    let got = r.accept(link, true);
    let p = publishes(&got);
    let texts: Vec<&[u8]> = p.iter().map(|p| &p.payload[..]).collect();
    assert_eq!(
        texts,
        [&b"one"[..], b"two", b"three", b"1"],
        "the unacknowledged one again (DUP), the queue, then the state"
    );
    assert!(p[0].dup);
}

#[test]
fn pubrel_is_sent_again_after_a_reconnect() {
    let mut r = Rig::new(conf(vec![topic(
        "t",
        Direction::Out,
        QoS::ExactlyOnce,
        "",
        "",
    )]));
    let (link, _) = r.up();
    let publisher = r.h.client("p", true);
    r.h.send(publisher, publish("t", "x", QoS::ExactlyOnce, false, 1));
    let out = r.h.recv(link);
    let id = publishes(&out)[0].packet_id;
    r.h.send(link, Packet::PubRec(ack(id)));
    assert!(matches!(&r.h.recv(link)[..], [Packet::PubRel(a)] if a.packet_id == id));
    r.h.close(link);
    r.h.advance(Duration::from_secs(7));
    let dials = r.dials();
    let (link, _) = r.connected(&dials[0]);
    let got = r.accept(link, true);
    assert!(
        got.iter()
            .any(|p| matches!(p, Packet::PubRel(a) if a.packet_id == id)),
        "PUBREL again: {got:?}"
    );
    assert!(
        publishes(&got).iter().all(|p| p.topic.as_str() != "t"),
        "no PUBLISH again"
    );
    r.h.send(link, Packet::PubComp(ack(id)));
    let sid = r.h.broker.bridges[0].sid;
    assert_eq!(
        r.h.broker.sessions[sid].inflight_len(),
        1,
        "only the state message"
    );
}

#[test]
fn a_failed_dial_tries_the_next_address_at_once_then_waits_for_the_first() {
    let mut r = Rig::new(everything_out());
    let now = r.h.now;
    let d = r.dials();
    r.h.broker
        .bridge_dial_failed(0, d[0].generation, "connection refused", now);
    let d2 = r.dials();
    assert_eq!(d2.len(), 1);
    assert_eq!((d2[0].host.as_str(), d2[0].port), ("spare.example", 1884));
    assert!(
        !r.h.broker.dial_live(0, d[0].generation),
        "the old dial is stale"
    );
    r.h.broker
        .bridge_dial_failed(0, d2[0].generation, "connection refused", now);
    assert!(r.dials().is_empty(), "both failed: the restart delay");
    r.h.advance(Duration::from_secs(7));
    assert_eq!(r.dials()[0].host, "main.example");
}

#[test]
fn a_dial_that_hangs_times_out() {
    let mut r = Rig::new(everything_out());
    let d = r.dials();
    r.h.advance(DIAL_TIMEOUT);
    assert!(!r.h.broker.dial_live(0, d[0].generation));
    let next = r.dials();
    assert_eq!(next[0].host, "spare.example");
    let now = r.h.now;
    assert!(
        r.h.broker
            .bridge_connected(0, d[0].generation, (), peer(), now)
            .is_err(),
        "a late connection of the stale dial is given back"
    );
}

#[test]
fn backoff_delays_stay_between_base_and_cap_and_grow() {
    let mut c = everything_out();
    c.addresses.truncate(1);
    c.restart = Restart::Backoff {
        base: Duration::from_secs(5),
        cap: Duration::from_secs(30),
    };
    let mut r = Rig::new(c);
    let mut delays = Vec::new();
    for _ in 0..12 {
        let d = r.dials();
        assert_eq!(d.len(), 1);
        let now = r.h.now;
        r.h.broker
            .bridge_dial_failed(0, d[0].generation, "refused", now);
        // Step a second at a time until the next dial is asked for.
        let mut waited = 0;
        loop {
            r.h.advance(Duration::from_secs(1));
            waited += 1;
            if !r.h.broker.dials.is_empty() {
                break;
            }
            assert!(waited <= 31, "no dial within the cap");
        }
        delays.push(waited);
    }
    assert!(delays.iter().all(|&d| (5..=31).contains(&d)), "{delays:?}");
    assert!(
        delays.iter().any(|&d| d > 6),
        "jitter grows past the base: {delays:?}"
    );
}

#[test]
fn a_broker_refusing_the_bridge_bit_is_tried_again_without_it() {
    let mut r = Rig::new(everything_out());
    let d = r.dials();
    let (link, c) = r.connected(&d[0]);
    assert!(c.bridge);
    r.answer(
        link,
        false,
        connack::UNACCEPTABLE_PROTOCOL_VERSION,
        Properties::default(),
    );
    assert!(!r.h.is_open(link));
    let d = r.dials();
    assert_eq!(d.len(), 1, "at once");
    assert_eq!(d[0].host, "main.example", "the same address");
    let (_, c) = r.connected(&d[0]);
    assert!(!c.bridge, "without try_private");
}

#[test]
fn keep_alive_pings_and_a_silent_far_side_is_dropped() {
    let mut c = everything_out();
    c.keepalive = 10;
    c.notifications = false;
    let mut r = Rig::new(c);
    let (link, _) = r.up();
    r.h.advance(Duration::from_secs(10));
    assert!(matches!(&r.h.recv(link)[..], [Packet::PingReq]));
    r.h.send(link, Packet::PingResp);
    r.h.advance(Duration::from_secs(10));
    let got = r.h.recv(link);
    assert!(matches!(&got[..], [Packet::PingReq]), "still up: {got:?}");
    // No PINGRESP this time: at 15 s of silence it is gone.
    r.h.advance(Duration::from_secs(10));
    assert!(!r.h.is_open(link), "keep-alive timeout");
    assert!(!r.h.broker.bridge_up(0));
}

#[test]
fn a_once_bridge_is_not_restarted() {
    let mut c = everything_out();
    c.start_type = StartType::Once;
    let mut r = Rig::new(c);
    let (link, _) = r.up();
    r.h.close(link);
    r.h.advance(Duration::from_secs(120));
    assert!(r.dials().is_empty());
}

#[test]
fn a_lazy_bridge_starts_at_its_threshold_and_stops_when_idle() {
    let mut c = conf(vec![topic("t", Direction::Out, QoS::AtLeastOnce, "", "")]);
    c.start_type = StartType::Lazy;
    c.threshold = 3;
    c.notifications = false;
    let mut r = Rig::new(c);
    assert!(r.dials().is_empty(), "lazy: not at start");
    let publisher = r.h.client("p", true);
    for i in 1..=2 {
        r.h.send(publisher, publish("t", "m", QoS::AtLeastOnce, false, i));
    }
    assert!(r.dials().is_empty(), "below the threshold");
    r.h.send(publisher, publish("t", "m", QoS::AtLeastOnce, false, 3));
    let d = r.dials();
    assert_eq!(d.len(), 1, "three queued");
    let (link, _) = r.connected(&d[0]);
    let got = r.accept(link, false);
    let sent = publishes(&got);
    assert_eq!(sent.len(), 3);
    for p in sent {
        r.h.send(link, Packet::PubAck(ack(p.packet_id)));
    }
    r.h.advance(Duration::from_secs(60));
    let got = r.h.recv(link);
    assert!(matches!(got.last(), Some(Packet::Disconnect(_))), "{got:?}");
    assert!(!r.h.is_open(link));
    assert!(r.dials().is_empty(), "and it waits for the threshold again");
}

#[test]
fn a_v5_bridge_takes_the_far_sides_limits_and_subscribes_with_no_local() {
    let mut c = conf(vec![topic("#", Direction::Both, QoS::AtLeastOnce, "", "")]);
    c.protocol = BridgeProtocol::V5;
    let mut r = Rig::new(c);
    let d = r.dials();
    let (link, connect) = r.connected(&d[0]);
    assert_eq!(connect.protocol, Protocol::V5);
    assert!(!connect.bridge, "MQTT 5 has No Local instead");
    assert_eq!(connect.properties.session_expiry, Some(u32::MAX));
    let after = r.answer(
        link,
        false,
        0,
        Properties {
            receive_maximum: Some(1),
            topic_alias_maximum: Some(5),
            ..Properties::default()
        },
    );
    let s = after
        .iter()
        .find_map(|p| match p {
            Packet::Subscribe(s) => Some(s.clone()),
            _ => None,
        })
        .expect("SUBSCRIBE");
    assert!(s.filters[0].1.no_local && s.filters[0].1.retain_as_published);
    let sid = r.h.broker.bridges[0].sid;
    assert_eq!(
        r.h.broker.sessions[sid].window, 1,
        "the far side's Receive Maximum"
    );
    let publisher = r.h.client("p", true);
    r.h.send(publisher, publish("x", "1", QoS::AtLeastOnce, false, 1));
    r.h.send(publisher, publish("x", "2", QoS::AtLeastOnce, false, 2));
    assert!(
        publishes(&r.h.recv(link)).is_empty(),
        "window of 1: the state message holds it"
    );
}

#[test]
fn a_3x_client_with_the_bridge_bit_gets_no_echo_and_retain_as_published() {
    let mut h = Harness::new();
    let mut c = connect_packet("remote-bridge", true, 60);
    c.bridge = true;
    let (link, ack) = h.connect(c);
    assert_eq!(ack.code, 0);
    h.subscribe(link, "#", QoS::AtMostOnce);
    h.send(link, publish("a", "mine", QoS::AtMostOnce, true, 0));
    assert!(publishes(&h.recv(link)).is_empty(), "No Local");
    let other = h.client("other", true);
    h.send(other, publish("b", "theirs", QoS::AtMostOnce, true, 0));
    let got = h.recv(link);
    let p = publishes(&got);
    assert_eq!(p.len(), 1);
    assert!(p[0].retain, "Retain As Published");
}

#[test]
fn on_a_secondary_address_the_main_one_is_probed_and_taken_back() {
    let mut c = everything_out();
    c.keepalive = 1000; // the test does not answer pings
    let mut r = Rig::new(c);
    let now = r.h.now;
    let d = r.dials();
    r.h.broker
        .bridge_dial_failed(0, d[0].generation, "refused", now);
    let d = r.dials();
    assert_eq!(d[0].host, "spare.example");
    let (link, _) = r.connected(&d[0]);
    r.accept(link, false);
    r.h.advance(MAIN_RETRY);
    let probe = r.dials();
    assert_eq!(probe.len(), 1, "the main address probed");
    assert_eq!(probe[0].host, "main.example");
    assert!(r.h.is_open(link), "the link stays up meanwhile");
    // Still down: probed again later.
    let now = r.h.now;
    r.h.broker
        .bridge_dial_failed(0, probe[0].generation, "refused", now);
    assert!(r.h.is_open(link));
    r.h.advance(MAIN_RETRY);
    let probe = r.dials();
    assert_eq!(probe[0].host, "main.example");
    // It answers: the probe's socket is given back, the spare link ends
    // with DISCONNECT, and the main address is dialled at once.
    let now = r.h.now;
    assert!(r
        .h
        .broker
        .bridge_connected(0, probe[0].generation, (), peer(), now)
        .is_err());
    let got = r.h.recv(link);
    assert!(matches!(got.last(), Some(Packet::Disconnect(_))), "{got:?}");
    assert!(!r.h.is_open(link));
    let d = r.dials();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].host, "main.example");
}

#[test]
fn with_round_robin_the_secondary_is_kept() {
    let mut c = everything_out();
    c.keepalive = 1000;
    c.round_robin = true;
    let mut r = Rig::new(c);
    let now = r.h.now;
    let d = r.dials();
    r.h.broker
        .bridge_dial_failed(0, d[0].generation, "refused", now);
    let d = r.dials();
    let (link, _) = r.connected(&d[0]);
    r.accept(link, false);
    r.h.advance(MAIN_RETRY * 3);
    assert!(r.dials().is_empty(), "no probe");
    // A loss moves on to the next address, which is the main one again.
    r.h.close(link);
    r.h.advance(Duration::from_secs(7));
    assert_eq!(r.dials()[0].host, "main.example");
}

#[test]
fn no_client_may_take_a_bridges_local_client_id() {
    let mut r = Rig::new(everything_out());
    let (link, _) = r.up();
    let (client, ack) = r.h.connect(connect_packet("local.pi.cloud", false, 60));
    assert_eq!(ack.code, connack::IDENTIFIER_REJECTED);
    assert!(!r.h.is_open(client));
    assert!(r.h.is_open(link), "the bridge keeps its session");
}

#[test]
fn an_mqtt5_far_side_with_maximum_qos_1_gets_nothing_above_it() {
    let mut c = conf(vec![topic("t", Direction::Out, QoS::ExactlyOnce, "", "")]);
    c.protocol = BridgeProtocol::V5;
    c.notifications = false;
    let mut r = Rig::new(c);
    let d = r.dials();
    let (link, _) = r.connected(&d[0]);
    let after = r.answer(
        link,
        false,
        0,
        Properties {
            maximum_qos: Some(1),
            retain_available: Some(0),
            ..Properties::default()
        },
    );
    assert!(publishes(&after).is_empty());
    let publisher = r.h.client("p", true);
    r.h.send(publisher, publish("t", "x", QoS::ExactlyOnce, true, 1));
    let got = r.h.recv(link);
    let p = publishes(&got);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].qos, QoS::AtLeastOnce, "[MQTT-3.2.2-11]");
    assert!(!p[0].retain, "Retain Available 0 [MQTT-3.2.2-14]");
}

#[test]
fn a_disconnect_from_the_far_side_ends_the_link_and_it_restarts() {
    let mut c = everything_out();
    c.protocol = BridgeProtocol::V5;
    let mut r = Rig::new(c);
    let (link, _) = r.up();
    r.h.send(
        link,
        Packet::Disconnect(crate::codec::Disconnect {
            reason: 0x8B,
            properties: Properties::default(),
        }),
    );
    assert!(!r.h.is_open(link));
    r.h.advance(Duration::from_secs(7));
    assert_eq!(r.dials().len(), 1, "reconnecting after the delay");
}
