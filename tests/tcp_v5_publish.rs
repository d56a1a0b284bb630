//! MQTT 5.0 PUBLISH over real TCP, byte for byte against an in-process
//! midge: topic aliases both ways, message expiry, Receive Maximum both
//! ways, Maximum Packet Size, PUBACK reason codes, and messages crossing
//! between 3.1.1 and 5.0 clients.

pub mod common;

use std::time::Duration;

use common::v5::{ack5, id, parse_publish5, publish5, rc, Props, V5ConnectSpec};
use common::{ack, publish, Client};

/// A v5 CONNECT that keeps its session for 60 s after the connection ends.
fn persistent5(client_id: &str, clean_start: bool) -> V5ConnectSpec<'_> {
    let mut spec = V5ConnectSpec::new(client_id);
    spec.clean_start = clean_start;
    spec.properties = Props::new().session_expiry(60);
    spec
}

// ---- Topic aliases ----

/// A PUBLISH with a topic and Topic Alias 3 binds the alias; one with an
/// empty topic and the alias uses it [MQTT-3.3.2-12]. The subscriber sees
/// the full topic both times, and no alias (it allowed none).
#[test]
fn topic_alias_binds_then_resolves_for_subscribers_mqtt_3_3_2_12() {
    let broker = common::start();
    let mut sub = Client::connect5(broker.addr, "alias-sub");
    sub.subscribe5(1, "alias/long/topic", 0);
    let mut publ = Client::connect5(broker.addr, "alias-pub");
    let alias = Props::new().topic_alias(3);
    publ.send(&publish5("alias/long/topic", b"1", 0, false, 0, &alias));
    publ.send(&publish5("", b"2", 0, false, 0, &alias));
    publ.send(&publish5("", b"3", 1, false, 9, &alias));
    publ.expect(&ack5(0x40, 9, rc::SUCCESS));
    for payload in [b"1", b"2", b"3"] {
        sub.expect_publish5("alias/long/topic", payload, 0, false, &Props::new());
    }
    sub.ping();
}

/// Topic Alias 0 is not permitted [MQTT-3.3.2-8]: "a Topic Alias value of
/// 0 or greater than the Maximum Topic Alias is a Protocol Error, the
/// receiver uses DISCONNECT with Reason Code of 0x94" (section 3.3.4).
#[test]
fn topic_alias_0_gets_disconnect_0x94() {
    let broker = common::start();
    let mut publ = Client::connect5(broker.addr, "alias-zero");
    publ.send(&publish5(
        "t",
        b"x",
        0,
        false,
        0,
        &Props::new().topic_alias(0),
    ));
    publ.expect_disconnect5(rc::TOPIC_ALIAS_INVALID);
}

/// A Topic Alias above the Topic Alias Maximum of the CONNACK (10)
/// [MQTT-3.3.2-9] gets DISCONNECT 0x94 and the connection is closed
/// (section 3.3.4).
#[test]
fn topic_alias_above_the_maximum_gets_disconnect_0x94() {
    let broker = common::start();
    let mut publ = Client::connect5(broker.addr, "alias-eleven");
    // 10 is still accepted.
    publ.send(&publish5(
        "t",
        b"x",
        1,
        false,
        1,
        &Props::new().topic_alias(10),
    ));
    publ.expect(&ack5(0x40, 1, rc::NO_MATCHING_SUBSCRIBERS));
    publ.send(&publish5(
        "t",
        b"x",
        0,
        false,
        0,
        &Props::new().topic_alias(11),
    ));
    publ.expect_disconnect5(rc::TOPIC_ALIAS_INVALID);
}

/// An empty topic with an alias that was never bound is a Protocol Error:
/// DISCONNECT 0x82 and close (section 3.3.4).
#[test]
fn unknown_topic_alias_with_empty_topic_gets_disconnect_0x82() {
    let broker = common::start();
    let mut publ = Client::connect5(broker.addr, "alias-unknown");
    publ.send(&publish5(
        "",
        b"x",
        0,
        false,
        0,
        &Props::new().topic_alias(4),
    ));
    publ.expect_disconnect5(rc::PROTOCOL_ERROR);
}

/// A subscriber allowing 2 aliases (Topic Alias Maximum 2 in CONNECT)
/// gets the first message on a topic with the topic and alias 1, and the
/// next with an empty topic and alias 1 [MQTT-3.1.2-26].
#[test]
fn outbound_topic_alias_within_the_clients_maximum_mqtt_3_1_2_26() {
    let broker = common::start();
    let mut spec = V5ConnectSpec::new("alias-out");
    spec.properties = Props::new().topic_alias_maximum(2);
    let mut sub = Client::connect5_with(broker.addr, &spec, false);
    sub.subscribe5(1, "out/alias", 0);
    let mut publ = Client::connect5(broker.addr, "alias-out-pub");
    publ.send(&publish5("out/alias", b"first", 0, false, 0, &Props::new()));
    publ.send(&publish5(
        "out/alias",
        b"second",
        0,
        false,
        0,
        &Props::new(),
    ));
    sub.expect(&[
        0x30, 0x14, 0x00, 0x09, b'o', b'u', b't', b'/', b'a', b'l', b'i', b'a', b's', 0x03, 0x23,
        0x00, 0x01, b'f', b'i', b'r', b's', b't',
    ]);
    sub.expect(&[
        0x30, 0x0c, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01, b's', b'e', b'c', b'o', b'n', b'd',
    ]);
    sub.ping();
}

// ---- Message expiry ----

/// A QoS 1 message with Message Expiry Interval 10 s, queued for an
/// offline session, is delivered on reconnect with the interval minus its
/// time in the server [MQTT-3.3.2-6]: at most 10 s.
#[test]
fn queued_message_keeps_a_counted_down_expiry_mqtt_3_3_2_6() {
    let broker = common::start();
    let mut sub = Client::connect5_with(broker.addr, &persistent5("expiry-sub", true), false);
    sub.subscribe5(1, "exp/t", 1);
    sub.disconnect5();

    let mut publ = Client::connect5(broker.addr, "expiry-pub");
    let expiring = Props::new().message_expiry(10);
    publ.send(&publish5("exp/t", b"soon", 1, false, 1, &expiring));
    publ.expect(&ack5(0x40, 1, rc::SUCCESS));

    let mut sub = Client::connect5_with(broker.addr, &persistent5("expiry-sub", false), true);
    let raw = sub.read_packet();
    let got = parse_publish5(&raw);
    let left = match &got.properties[..] {
        [(id::MESSAGE_EXPIRY_INTERVAL, v)] => u32::from_be_bytes([v[0], v[1], v[2], v[3]]),
        other => panic!("expected only a Message Expiry Interval, got {other:?}"),
    };
    assert!((1..=10).contains(&left), "expiry {left} s left of 10");
    let expected = publish5(
        "exp/t",
        b"soon",
        1,
        false,
        got.pid,
        &Props::new().message_expiry(left),
    );
    assert_eq!(
        common::hex(&raw),
        common::hex(&expected),
        "PUBLISH delivered"
    );
    sub.send(&ack(0x40, got.pid));
    sub.ping();
}

/// A queued message whose Message Expiry Interval (1 s) passed before the
/// session reconnected is deleted, not delivered [MQTT-3.3.2-5]; a longer
/// lived one queued after it still is.
#[test]
fn expired_message_is_not_delivered_mqtt_3_3_2_5() {
    let broker = common::start();
    let mut sub = Client::connect5_with(broker.addr, &persistent5("expired-sub", true), false);
    sub.subscribe5(1, "exp/short", 1);
    sub.disconnect5();

    let mut publ = Client::connect5(broker.addr, "expired-pub");
    let short = Props::new().message_expiry(1);
    publ.send(&publish5("exp/short", b"short", 1, false, 1, &short));
    publ.expect(&ack5(0x40, 1, rc::SUCCESS));
    let long = Props::new().message_expiry(60);
    publ.send(&publish5("exp/short", b"long", 1, false, 2, &long));
    publ.expect(&ack5(0x40, 2, rc::SUCCESS));

    // The one wait on the wall clock in these tests: past the 1 s expiry.
    std::thread::sleep(Duration::from_millis(1200));

    let mut sub = Client::connect5_with(broker.addr, &persistent5("expired-sub", false), true);
    let got = sub.read_publish5();
    assert_eq!(got.payload, b"long", "the expired message was delivered");
    sub.send(&ack(0x40, got.pid));
    sub.ping();
}

// ---- Flow control and sizes ----

/// A subscriber with Receive Maximum 1 has one QoS 1 message in flight at
/// most [MQTT-3.3.4-9]: the second comes only after its PUBACK.
#[test]
fn receive_maximum_1_holds_the_second_message_until_puback_mqtt_3_3_4_9() {
    let broker = common::start();
    let mut spec = V5ConnectSpec::new("rm-sub");
    spec.properties = Props::new().receive_maximum(1);
    let mut sub = Client::connect5_with(broker.addr, &spec, false);
    sub.subscribe5(1, "rm/t", 1);
    let mut publ = Client::connect5(broker.addr, "rm-pub");
    for (pid, payload) in [(1, b"one"), (2, b"two")] {
        publ.send(&publish5("rm/t", payload, 1, false, pid, &Props::new()));
        publ.expect(&ack5(0x40, pid, rc::SUCCESS));
    }

    let first = sub.expect_publish5("rm/t", b"one", 1, false, &Props::new());
    sub.ping();
    sub.send(&ack(0x40, first));
    let second = sub.expect_publish5("rm/t", b"two", 1, false, &Props::new());
    sub.send(&ack(0x40, second));
    sub.ping();
}

/// With `max_inflight_messages` 2 the CONNACK says Receive Maximum 2; a
/// client sending a third QoS 2 PUBLISH before releasing the first two
/// exceeds it [MQTT-3.3.4-7] and gets DISCONNECT 0x93, then the close.
#[test]
fn more_unreleased_qos2_than_receive_maximum_gets_disconnect_0x93_mqtt_3_3_4_7() {
    let broker = common::start_with(|c| c.max_inflight_messages = 2);
    let (mut publ, connack) = Client::connect5_raw(broker.addr, &V5ConnectSpec::new("rm-pub2"));
    assert_eq!(connack.code, rc::SUCCESS);
    assert_eq!(connack.value(id::RECEIVE_MAXIMUM), [0x00, 0x02]);
    for pid in 1..=2 {
        publ.send(&publish5("rm2/t", b"x", 2, false, pid, &Props::new()));
        publ.expect(&ack5(0x50, pid, rc::NO_MATCHING_SUBSCRIBERS));
    }
    publ.send(&publish5("rm2/t", b"x", 2, false, 3, &Props::new()));
    publ.expect_disconnect5(rc::RECEIVE_MAXIMUM_EXCEEDED);
}

/// A subscriber with Maximum Packet Size 30 is not sent a PUBLISH carrying
/// 100 bytes [MQTT-3.1.2-24]; it is discarded as if sent [MQTT-3.1.2-25],
/// and a small message after it arrives.
#[test]
fn message_over_the_clients_maximum_packet_size_is_dropped_mqtt_3_1_2_25() {
    let broker = common::start();
    let mut spec = V5ConnectSpec::new("mps-sub");
    spec.properties = Props::new().maximum_packet_size(30);
    let mut sub = Client::connect5_with(broker.addr, &spec, false);
    sub.subscribe5(1, "mps/t", 1);
    let mut publ = Client::connect5(broker.addr, "mps-pub");
    publ.send(&publish5("mps/t", &[b'x'; 100], 1, false, 1, &Props::new()));
    publ.expect(&ack5(0x40, 1, rc::SUCCESS));
    publ.send(&publish5("mps/t", b"small", 1, false, 2, &Props::new()));
    publ.expect(&ack5(0x40, 2, rc::SUCCESS));

    let pid = sub.expect_publish5("mps/t", b"small", 1, false, &Props::new());
    sub.send(&ack(0x40, pid));
    sub.ping();
}

/// A QoS 1 PUBLISH that no subscription matches gets PUBACK with reason
/// 0x10 (No matching subscribers); one that matches gets the two-byte
/// PUBACK of reason 0.
#[test]
fn qos1_publish_without_subscribers_gets_puback_0x10() {
    let broker = common::start();
    let mut publ = Client::connect5(broker.addr, "lonely");
    publ.send(&publish5("nobody/here", b"x", 1, false, 7, &Props::new()));
    publ.expect(&[0x40, 0x03, 0x00, 0x07, 0x10]);

    let mut sub = Client::connect5(broker.addr, "somebody");
    sub.subscribe5(1, "nobody/here", 0);
    publ.send(&publish5("nobody/here", b"x", 1, false, 8, &Props::new()));
    publ.expect(&[0x40, 0x02, 0x00, 0x08]);
    sub.expect_publish5("nobody/here", b"x", 0, false, &Props::new());
}

// ---- Mixed versions ----

/// User Properties reach a 5.0 subscriber unaltered [MQTT-3.3.2-17] and in
/// order [MQTT-3.3.2-18]; a 3.1.1 subscriber of the same message gets a
/// plain 3.1.1 PUBLISH, without a property block.
#[test]
fn user_properties_reach_v5_subscribers_and_3_1_1_gets_plain_publish_mqtt_3_3_2_17() {
    let broker = common::start();
    let mut sub5 = Client::connect5(broker.addr, "mix-sub5");
    sub5.subscribe5(1, "mix/u", 0);
    let mut sub3 = Client::connect(broker.addr, "mix-sub3");
    sub3.subscribe(1, "mix/u", 0);
    let mut publ = Client::connect5(broker.addr, "mix-pub5");
    let user = Props::new().user("k", "2").user("k", "1").user("a", "x");
    publ.send(&publish5("mix/u", b"hello", 0, false, 0, &user));
    publ.ping();

    sub5.expect_publish5("mix/u", b"hello", 0, false, &user);
    sub3.expect(&publish("mix/u", b"hello", 0, false, false, 0));
    sub5.ping();
    sub3.ping();
}

/// A 3.1.1 publisher's message reaches a 5.0 subscriber with an empty
/// property block (property length 0).
#[test]
fn message_from_3_1_1_reaches_v5_subscriber_with_empty_properties() {
    let broker = common::start();
    let mut sub5 = Client::connect5(broker.addr, "mix-sub5");
    sub5.subscribe5(1, "mix/e", 1);
    let mut publ = Client::connect(broker.addr, "mix-pub3");
    publ.publish_qos1(1, "mix/e", b"from 3.1.1", false);
    publ.send(&publish("mix/e", b"qos0", 0, false, false, 0));
    publ.ping();

    let pid = sub5.expect_publish5("mix/e", b"from 3.1.1", 1, false, &Props::new());
    sub5.send(&ack(0x40, pid));
    sub5.expect(&[
        0x30, 0x0c, 0x00, 0x05, b'm', b'i', b'x', b'/', b'e', 0x00, b'q', b'o', b's', b'0',
    ]);
    sub5.ping();
}
