//! Bounds, `$SYS` and malformed input over real TCP: configured limits,
//! the `$SYS` topics, and bad bytes that must end only the connection that
//! sent them.

pub mod common;

use std::time::Duration;

use common::{ack, packet, publish, publish_raw_topic, Client, ConnectSpec};

/// A listener at `max_connections` closes the next socket without a
/// CONNACK; a slot freed by a disconnect can be used again.
#[test]
fn max_connections_refuses_next_socket() {
    let broker = common::start_with(|c| c.listeners[0].max_connections = Some(2));
    let a = Client::connect(broker.addr, "mc-a");
    let mut b = Client::connect(broker.addr, "mc-b");

    let mut refused = Client::open(broker.addr);
    refused.send(&ConnectSpec::new("mc-c").encode());
    refused.expect_closed();

    a.disconnect();
    let mut c = Client::connect(broker.addr, "mc-c");
    c.ping();
    b.ping();
}

/// A PUBLISH whose payload is over `message_size_limit` is acknowledged
/// but not delivered; one at the limit is delivered.
#[test]
fn message_size_limit_drops_oversized_payload() {
    let broker = common::start_with(|c| c.message_size_limit = 10);
    let mut sub = Client::connect(broker.addr, "size-sub");
    sub.subscribe(1, "size/t", 1);
    let mut publ = Client::connect(broker.addr, "size-pub");

    publ.publish_qos1(1, "size/t", b"eleven byte", false);
    sub.ping();

    publ.publish_qos1(2, "size/t", b"ten bytes!", false);
    let p = sub.read_publish();
    assert_eq!(&p.payload[..], b"ten bytes!");
}

/// With `max_inflight_messages` 2 at most two QoS 1 messages are
/// outstanding; the third is sent once one of them is acknowledged.
#[test]
fn max_inflight_messages_limits_outstanding_qos1() {
    let broker = common::start_with(|c| c.max_inflight_messages = 2);
    let mut sub = Client::connect(broker.addr, "window-sub");
    sub.subscribe(1, "win/t", 1);
    let mut publ = Client::connect(broker.addr, "window-pub");
    for (pid, payload) in [(1, b"m1"), (2, b"m2"), (3, b"m3")] {
        publ.publish_qos1(pid, "win/t", payload, false);
    }

    let first = sub.read_publish();
    assert_eq!(&first.payload[..], b"m1");
    let second = sub.read_publish();
    assert_eq!(&second.payload[..], b"m2");
    sub.ping();

    sub.send(&ack(0x40, first.packet_id));
    let third = sub.read_publish();
    assert_eq!(&third.payload[..], b"m3");
    assert_ne!(third.packet_id, second.packet_id);
    sub.send(&ack(0x40, second.packet_id));
    sub.send(&ack(0x40, third.packet_id));
    sub.ping();
}

/// With `sys_interval` 1 s a subscriber to `$SYS/broker/uptime` receives it.
#[test]
fn sys_uptime_published() {
    let broker = common::start_with(|c| c.sys_interval = Some(Duration::from_secs(1)));
    let mut sub = Client::connect(broker.addr, "sys-sub");
    sub.subscribe(1, "$SYS/broker/uptime", 0);
    let p = sub.read_publish();
    assert_eq!(p.topic.as_str(), "$SYS/broker/uptime");
    let text = std::str::from_utf8(&p.payload).expect("uptime is text");
    assert!(
        text.ends_with(" seconds") && text.split(' ').next().unwrap().parse::<u64>().is_ok(),
        "uptime payload {text:?}"
    );
}

/// A `#` subscription does not match topics starting with `$`, neither
/// for live `$SYS` updates nor for retained `$SYS` messages [MQTT-4.7.2-1].
#[test]
fn hash_subscriber_does_not_get_sys_topics_mqtt_4_7_2_1() {
    let broker = common::start_with(|c| c.sys_interval = Some(Duration::from_secs(1)));
    let mut all = Client::connect(broker.addr, "hash-all");
    // `$SYS/broker/version` is retained from the start: not sent to `#`.
    all.subscribe(1, "#", 0);
    all.ping();
    let mut sys = Client::connect(broker.addr, "sys-watch");
    sys.subscribe(1, "$SYS/broker/uptime", 0);
    // Wait for a live (not retained) update, so that one $SYS round has
    // been routed after `#` subscribed.
    loop {
        let p = sys.read_publish();
        if !p.retain {
            break;
        }
    }
    all.ping();
    let mut plus = Client::connect(broker.addr, "plus-all");
    plus.subscribe(1, "+/broker/uptime", 0);
    plus.ping();
}

/// Malformed bytes end only the connection that sent them: `bad` is
/// closed, while an already connected client keeps working.
fn malformed_closes_only_that_connection(bad_bytes: &[u8]) {
    let broker = common::start();
    let mut good = Client::connect(broker.addr, "good");
    good.subscribe(1, "still/t", 0);
    let mut bad = Client::connect(broker.addr, "bad");
    bad.send(bad_bytes);
    bad.expect_closed();
    good.ping();
    let mut publ = Client::connect(broker.addr, "after");
    publ.send(&publish("still/t", b"alive", 0, false, false, 0));
    let p = good.read_publish();
    assert_eq!(&p.payload[..], b"alive");
}

/// A remaining length of more than four bytes is malformed
/// (section 2.2.3); the connection is closed [MQTT-4.8.0-1].
#[test]
fn malformed_remaining_length_closes_only_that_connection() {
    malformed_closes_only_that_connection(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01]);
}

/// A topic name that is not valid UTF-8 closes the connection
/// [MQTT-1.5.3-1].
#[test]
fn invalid_utf8_topic_closes_only_that_connection_mqtt_1_5_3_1() {
    malformed_closes_only_that_connection(&publish_raw_topic(
        &[b'a', 0xff, 0xfe],
        b"x",
        0,
        false,
        false,
        0,
    ));
}

/// PUBLISH with both QoS bits set (QoS 3) is malformed [MQTT-3.3.1-4].
#[test]
fn publish_qos3_closes_only_that_connection_mqtt_3_3_1_4() {
    let mut body = common::field(b"q/3");
    body.extend([0x00, 0x01, b'x']);
    malformed_closes_only_that_connection(&packet(0x36, &body));
}

/// A topic name with a wildcard is refused: the connection is closed
/// [MQTT-3.3.2-2].
#[test]
fn publish_wildcard_topic_closes_only_that_connection_mqtt_3_3_2_2() {
    malformed_closes_only_that_connection(&publish("a/+/b", b"x", 0, false, false, 0));
}

/// A QoS 1 PUBLISH with packet id 0 is malformed [MQTT-2.3.1-1].
#[test]
fn publish_packet_id_zero_closes_only_that_connection_mqtt_2_3_1_1() {
    malformed_closes_only_that_connection(&publish("q/zero", b"x", 1, false, false, 0));
}

/// SUBSCRIBE with fixed header flags other than 0010 is malformed
/// [MQTT-3.8.1-1].
#[test]
fn subscribe_bad_header_flags_closes_only_that_connection_mqtt_3_8_1_1() {
    let mut body = vec![0x00, 0x01];
    body.extend(common::field(b"f/t"));
    body.push(0);
    malformed_closes_only_that_connection(&packet(0x80, &body));
}

/// SUBSCRIBE without any filter is a protocol violation [MQTT-3.8.3-3].
#[test]
fn subscribe_without_filters_closes_only_that_connection_mqtt_3_8_3_3() {
    malformed_closes_only_that_connection(&packet(0x82, &[0x00, 0x01]));
}

/// A CONNECT body with raw connect `flags`, keep-alive 60 and `rest`
/// after the client id.
fn raw_connect(flags: u8, rest: &[u8]) -> Vec<u8> {
    let mut body = common::field(b"MQTT");
    body.extend([4, flags, 0, 60]);
    body.extend(common::field(b"raw"));
    body.extend_from_slice(rest);
    packet(0x10, &body)
}

/// Will QoS set while the will flag is 0 [MQTT-3.1.2-13], will QoS 3
/// [MQTT-3.1.2-14] and a password without a user name [MQTT-3.1.2-22]:
/// each closes the connection without accepting it.
#[test]
fn connect_inconsistent_flags_closed_mqtt_3_1_2_13_14_22() {
    let broker = common::start();
    let will = [common::field(b"w/t"), common::field(b"w")].concat();
    for bytes in [
        raw_connect(0x02 | 0x08, &[]),
        raw_connect(0x02 | 0x04 | 0x18, &will),
        raw_connect(0x02 | 0x40, &common::field(b"secret")),
    ] {
        let mut c = Client::open(broker.addr);
        c.send(&bytes);
        c.expect_closed();
    }
    Client::connect(broker.addr, "still-works").ping();
}
