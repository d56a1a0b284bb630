//! CONNECT, CONNACK, take-over, keep-alive and PINGREQ over real TCP, byte
//! for byte against an in-process midge.

pub mod common;

use std::time::{Duration, Instant};

use common::{
    pingreq, publish, Client, ConnectSpec, WillSpec, CONNACK_ACCEPTED, CONNACK_SESSION_PRESENT,
};

/// A CONNECT is answered with exactly `20 02 00 00` [MQTT-3.2.2-1].
#[test]
fn connect_accepted_with_exact_connack() {
    let broker = common::start();
    let mut c = Client::open(broker.addr);
    c.send(&ConnectSpec::new("exact").encode());
    c.expect(&[0x20, 0x02, 0x00, 0x00]);
    c.ping();
}

/// Session present is 0 for a persistent session with no stored state
/// [MQTT-3.2.2-3], 1 when it is resumed [MQTT-3.2.2-2], and 0 whenever
/// clean session is 1 [MQTT-3.2.2-1], which also discards the stored
/// session [MQTT-3.1.2-6].
#[test]
fn session_present_across_persistent_reconnects_mqtt_3_2_2_1_to_3() {
    let broker = common::start();
    let mut spec = ConnectSpec::new("sp-client");
    spec.clean = false;
    Client::connect_with(broker.addr, &spec, CONNACK_ACCEPTED).disconnect();
    Client::connect_with(broker.addr, &spec, CONNACK_SESSION_PRESENT).disconnect();

    spec.clean = true;
    Client::connect_with(broker.addr, &spec, CONNACK_ACCEPTED).disconnect();
    spec.clean = false;
    // The clean connection ended the stored session: none to resume.
    Client::connect_with(broker.addr, &spec, CONNACK_ACCEPTED).disconnect();
    Client::connect_with(broker.addr, &spec, CONNACK_SESSION_PRESENT).disconnect();
}

/// MQTT 3.1: protocol name `MQIsdp`, level 3, is accepted.
#[test]
fn mqtt_3_1_mqisdp_accepted() {
    let broker = common::start();
    let mut spec = ConnectSpec::new("old-client");
    spec.protocol = b"MQIsdp";
    spec.level = 3;
    let mut c = Client::connect_with(broker.addr, &spec, CONNACK_ACCEPTED);
    c.subscribe(1, "v31/t", 1);
    c.publish_qos1(2, "v31/t", b"x", false);
    let p = c.read_publish();
    assert_eq!(p.topic.as_str(), "v31/t");
    assert_eq!(&p.payload[..], b"x");
    c.ping();
}

/// A first packet other than CONNECT closes the connection [MQTT-3.1.0-1].
#[test]
fn first_packet_not_connect_closes_mqtt_3_1_0_1() {
    let broker = common::start();
    let mut c = Client::open(broker.addr);
    c.send(&pingreq());
    c.expect_closed();

    let mut c = Client::open(broker.addr);
    c.send(&publish("a", b"b", 0, false, false, 0));
    c.expect_closed();
}

/// A second CONNECT is a protocol violation: closed [MQTT-3.1.0-2].
#[test]
fn second_connect_closes_mqtt_3_1_0_2() {
    let broker = common::start();
    let mut c = Client::connect(broker.addr, "twice");
    c.send(&ConnectSpec::new("twice").encode());
    c.expect_closed();
}

/// An unknown protocol level gets CONNACK 0x01 and the connection is
/// closed [MQTT-3.1.2-2].
#[test]
fn unknown_protocol_level_refused_with_0x01_mqtt_3_1_2_2() {
    let broker = common::start();
    let mut spec = ConnectSpec::new("future");
    spec.level = 6;
    let mut c = Client::open(broker.addr);
    c.send(&spec.encode());
    c.expect(&[0x20, 0x02, 0x00, 0x01]);
    c.expect_closed();
}

/// An empty client id with clean session 1 is accepted: the broker assigns
/// one [MQTT-3.1.3-6, MQTT-3.1.3-7].
#[test]
fn empty_client_id_with_clean_session_accepted_mqtt_3_1_3_6() {
    let broker = common::start();
    let mut a = Client::connect(broker.addr, "");
    let mut b = Client::connect(broker.addr, "");
    // Two anonymous-id clients are distinct sessions: neither takes over.
    a.subscribe(1, "anon/t", 0);
    b.send(&publish("anon/t", b"hi", 0, false, false, 0));
    b.ping();
    let p = a.read_publish();
    assert_eq!(&p.payload[..], b"hi");
    a.ping();
}

/// An empty client id with clean session 0 gets CONNACK 0x02 and is closed
/// [MQTT-3.1.3-8, MQTT-3.1.3-9].
#[test]
fn empty_client_id_without_clean_session_refused_mqtt_3_1_3_8() {
    let broker = common::start();
    let mut spec = ConnectSpec::new("");
    spec.clean = false;
    let mut c = Client::open(broker.addr);
    c.send(&spec.encode());
    c.expect(&[0x20, 0x02, 0x00, 0x02]);
    c.expect_closed();
}

/// The reserved connect flag (bit 0) set: closed without CONNACK
/// [MQTT-3.1.2-3].
#[test]
fn connect_reserved_flag_closes_mqtt_3_1_2_3() {
    let broker = common::start();
    let mut spec = ConnectSpec::new("reserved");
    spec.reserved_flag = true;
    let mut c = Client::open(broker.addr);
    c.send(&spec.encode());
    c.expect_closed();
}

/// A second connection with the same client id closes the first
/// [MQTT-3.1.4-2], whose will is then published as it did not disconnect.
#[test]
fn take_over_closes_first_and_publishes_its_will_mqtt_3_1_4_2() {
    let broker = common::start();
    let mut watcher = Client::connect(broker.addr, "watcher");
    watcher.subscribe(1, "will/takeover", 1);

    let mut spec = ConnectSpec::new("same-id");
    spec.will = Some(WillSpec {
        topic: "will/takeover",
        payload: b"first gone",
        qos: 1,
        retain: false,
    });
    let mut first = Client::connect_with(broker.addr, &spec, CONNACK_ACCEPTED);
    let mut second = Client::connect(broker.addr, "same-id");
    first.expect_closed();
    second.ping();

    let will = watcher.read_publish();
    assert_eq!(will.topic.as_str(), "will/takeover");
    assert_eq!(&will.payload[..], b"first gone");
    assert_eq!(will.qos as u8, 1);
    assert!(!will.retain);
}

/// A client with keep-alive 1 s that goes silent is disconnected after
/// 1.5 s [MQTT-3.1.2-24], and its will is published.
#[test]
fn keep_alive_expiry_disconnects_and_publishes_will_mqtt_3_1_2_24() {
    let broker = common::start();
    let mut watcher = Client::connect(broker.addr, "ka-watcher");
    watcher.subscribe(1, "will/ka", 0);

    let mut spec = ConnectSpec::new("sleepy");
    spec.keep_alive = 1;
    spec.will = Some(WillSpec {
        topic: "will/ka",
        payload: b"timed out",
        qos: 0,
        retain: false,
    });
    let mut sleepy = Client::connect_with(broker.addr, &spec, CONNACK_ACCEPTED);
    let connected = Instant::now();
    sleepy.set_read_timeout(Duration::from_secs(4));
    sleepy.expect_closed();
    let silent_for = connected.elapsed();
    assert!(
        silent_for >= Duration::from_millis(1400) && silent_for <= Duration::from_millis(2500),
        "closed after {silent_for:?}, expected about 1.5 s"
    );

    let will = watcher.read_publish();
    assert_eq!(will.topic.as_str(), "will/ka");
    assert_eq!(&will.payload[..], b"timed out");
}

/// PINGREQ is answered with exactly `d0 00` [MQTT-3.12.4-1].
#[test]
fn pingreq_gets_exact_pingresp_mqtt_3_12_4_1() {
    let broker = common::start();
    let mut c = Client::connect(broker.addr, "pinger");
    c.send(&[0xc0, 0x00]);
    c.expect(&[0xd0, 0x00]);
    c.send(&[0xc0, 0x00, 0xc0, 0x00]);
    c.expect(&[0xd0, 0x00]);
    c.expect(&[0xd0, 0x00]);
}
