//! PUBLISH: message expiry, topic aliases, flow control and sizes, payload
//! format and response topic, and clients that stop reading.

use std::time::Duration;

use super::*;

// ---- Message expiry ----

#[test]
fn queued_message_expires_and_forwarded_expiry_counts_down_mqtt_3_3_2_5_mqtt_3_3_2_6() {
    let mut h = Harness::new();
    let (link, _) = h.connect(connect5("c", Some(600), true));
    h.send(link, sub5(1, "t", qos(QoS::AtLeastOnce), None));
    h.send(link, Packet::Disconnect(Disconnect::default()));
    let p = v5_client(&mut h, "p");
    h.send(p, publish5("t", "short", QoS::AtLeastOnce, expiring(5), 1));
    h.send(p, publish5("t", "long", QoS::AtLeastOnce, expiring(100), 2));
    h.advance(Duration::from_secs(10));
    let (link, _) = h.connect(connect5("c", Some(600), false));
    let got = h.recv(link);
    let got = publishes(&got);
    assert_eq!(got.len(), 1, "the 5 s message expired while queued");
    assert_eq!(&got[0].payload[..], b"long");
    assert_eq!(got[0].properties.message_expiry, Some(90));
    assert_eq!(h.broker.stats().expired, 1);
}

#[test]
fn retained_message_expires() {
    let mut h = Harness::new();
    let p = v5_client(&mut h, "p");
    let mut retained = publish5("r", "soon gone", QoS::AtMostOnce, expiring(2), 0);
    if let Packet::Publish(p) = &mut retained {
        p.retain = true;
    }
    h.send(p, retained);
    let a = v5_client(&mut h, "a");
    h.send(a, sub5(1, "r", qos(QoS::AtMostOnce), None));
    let got = h.recv(a);
    assert_eq!(publishes(&got)[0].properties.message_expiry, Some(2));
    h.advance(Duration::from_secs(3));
    let b = v5_client(&mut h, "b");
    h.send(b, sub5(1, "r", qos(QoS::AtMostOnce), None));
    assert!(publishes(&h.recv(b)).is_empty(), "expired retained message");
}

// ---- Topic aliases ----

#[test]
fn inbound_topic_alias_binds_and_resolves_mqtt_3_3_2_12() {
    let mut h = Harness::new();
    let sub = v5_client(&mut h, "s");
    h.send(sub, sub5(1, "long/topic/name", qos(QoS::AtMostOnce), None));
    h.recv(sub);
    let p = v5_client(&mut h, "p");
    h.send(
        p,
        publish5("long/topic/name", "1", QoS::AtMostOnce, aliased(3), 0),
    );
    h.send(p, publish5("", "2", QoS::AtMostOnce, aliased(3), 0));
    let got = h.recv(sub);
    let got = publishes(&got);
    assert_eq!(got.len(), 2);
    assert!(got
        .iter()
        .all(|m| m.topic.as_str() == "long/topic/name" && m.properties.topic_alias.is_none()));
}

#[test]
fn invalid_or_unknown_topic_alias_disconnects() {
    let mut h = Harness::new();
    let p = v5_client(&mut h, "p");
    h.send(p, publish5("t", "x", QoS::AtMostOnce, aliased(11), 0));
    assert_eq!(
        disconnect_reason(&mut h, p),
        Some(reason::TOPIC_ALIAS_INVALID),
        "above max_topic_alias 10"
    );
    let p = v5_client(&mut h, "zero");
    h.send(p, publish5("t", "x", QoS::AtMostOnce, aliased(0), 0));
    assert_eq!(
        disconnect_reason(&mut h, p),
        Some(reason::TOPIC_ALIAS_INVALID),
        "alias 0"
    );
    let p = v5_client(&mut h, "q");
    h.send(p, publish5("", "x", QoS::AtMostOnce, aliased(1), 0));
    assert_eq!(disconnect_reason(&mut h, p), Some(reason::PROTOCOL_ERROR));
}

#[test]
fn outbound_topic_aliases_up_to_the_clients_maximum() {
    let mut h = Harness::new();
    let mut c = connect5("s", None, true);
    c.properties.topic_alias_maximum = Some(1);
    let (sub, _) = h.connect(c);
    h.send(sub, sub5(1, "#", qos(QoS::AtMostOnce), None));
    h.recv(sub);
    let p = v5_client(&mut h, "p");
    for topic in ["a/b", "a/b", "c", "a/b"] {
        h.send(
            p,
            publish5(topic, "x", QoS::AtMostOnce, Default::default(), 0),
        );
    }
    let got = h.recv(sub);
    let got: Vec<(&str, Option<u16>)> = publishes(&got)
        .iter()
        .map(|m| (m.topic.as_str(), m.properties.topic_alias))
        .collect();
    assert_eq!(
        got,
        [("a/b", Some(1)), ("", Some(1)), ("c", None), ("", Some(1))]
    );
}

// ---- Flow control and sizes ----

#[test]
fn outbound_window_is_the_clients_receive_maximum_mqtt_3_3_4_9() {
    let mut h = Harness::new();
    let mut c = connect5("s", None, true);
    c.properties.receive_maximum = Some(2);
    let (sub, _) = h.connect(c);
    h.send(sub, sub5(1, "t", qos(QoS::AtLeastOnce), None));
    h.recv(sub);
    let p = v5_client(&mut h, "p");
    for i in 1..=4 {
        h.send(
            p,
            publish5("t", &i.to_string(), QoS::AtLeastOnce, Default::default(), i),
        );
    }
    assert_eq!(payloads(&h.recv(sub)), ["1", "2"]);
    h.send(sub, Packet::PubAck(Ack::new(1)));
    assert_eq!(payloads(&h.recv(sub)), ["3"]);
}

#[test]
fn client_exceeding_our_receive_maximum_gets_0x93_mqtt_3_3_4_7() {
    let mut h = quiet(Settings {
        limits: crate::session::QueueLimits {
            max_inflight: 2,
            max_queued: 100,
            max_queued_bytes: 0,
        },
        ..Settings::default()
    });
    let p = v5_client(&mut h, "p");
    for id in 1..=3 {
        h.send(
            p,
            publish5("t", "x", QoS::ExactlyOnce, Default::default(), id),
        );
    }
    assert_eq!(
        disconnect_reason(&mut h, p),
        Some(reason::RECEIVE_MAXIMUM_EXCEEDED)
    );
}

#[test]
fn message_above_the_clients_maximum_packet_size_is_dropped_for_it_mqtt_3_1_2_25() {
    let mut h = Harness::new();
    let mut c = connect5("s", None, true);
    c.properties.maximum_packet_size = Some(40);
    let (sub, _) = h.connect(c);
    h.send(sub, sub5(1, "t", qos(QoS::AtLeastOnce), None));
    h.recv(sub);
    let p = v5_client(&mut h, "p");
    let big = "x".repeat(100);
    h.send(
        p,
        publish5("t", &big, QoS::AtLeastOnce, Default::default(), 1),
    );
    h.send(
        p,
        publish5("t", "small", QoS::AtLeastOnce, Default::default(), 2),
    );
    assert_eq!(payloads(&h.recv(sub)), ["small"]);
    assert!(h.is_open(sub));
    assert_eq!(h.broker.stats().publish_dropped, 1);
}

#[test]
fn no_matching_subscribers_is_0x10_in_the_puback() {
    let mut h = Harness::new();
    let p = v5_client(&mut h, "p");
    h.send(
        p,
        publish5("nobody", "x", QoS::AtLeastOnce, Default::default(), 7),
    );
    let got = h.recv(p);
    assert!(
        matches!(&got[..], [Packet::PubAck(a)] if a.packet_id == 7 && a.reason == reason::NO_MATCHING_SUBSCRIBERS),
        "{got:?}"
    );
}

#[test]
fn subscription_identifier_from_a_client_is_a_protocol_error_mqtt_3_3_4_6() {
    let mut h = Harness::new();
    let p = v5_client(&mut h, "p");
    let props = PublishProperties {
        subscription_ids: vec![4],
        ..PublishProperties::default()
    };
    h.send(p, publish5("t", "x", QoS::AtMostOnce, props, 0));
    assert_eq!(disconnect_reason(&mut h, p), Some(reason::PROTOCOL_ERROR));
}

#[test]
fn qos_above_max_qos_gets_0x9b_and_subscriptions_are_capped() {
    let mut h = quiet(Settings {
        listeners: vec![ListenerPolicy {
            max_qos: QoS::AtLeastOnce,
            ..ListenerPolicy::default()
        }],
        ..Settings::default()
    });
    let s = v5_client(&mut h, "s");
    assert_eq!(
        suback(&mut h, s, sub5(1, "t", qos(QoS::ExactlyOnce), None)),
        [1]
    );
    h.send(
        s,
        publish5("t", "x", QoS::ExactlyOnce, Default::default(), 1),
    );
    assert_eq!(
        disconnect_reason(&mut h, s),
        Some(reason::QOS_NOT_SUPPORTED)
    );
}

// ---- Payload format and response topic ----

#[test]
fn payload_said_to_be_utf8_but_not_is_refused_with_0x99() {
    let mut h = Harness::new();
    let s = v5_client(&mut h, "s");
    h.send(s, sub5(1, "t", qos(QoS::AtLeastOnce), None));
    h.recv(s);
    let p = v5_client(&mut h, "p");
    let mut bad = publish5("t", "", QoS::AtLeastOnce, forwarded_props(1, None), 1);
    if let Packet::Publish(m) = &mut bad {
        m.payload = Bytes::from_static(&[0xff, 0xfe]);
    }
    h.send(p, bad);
    let got = h.recv(p);
    assert!(
        matches!(&got[..], [Packet::PubAck(a)] if a.reason == reason::PAYLOAD_FORMAT_INVALID),
        "{got:?}"
    );
    h.send(
        p,
        publish5("t", "fine", QoS::AtLeastOnce, forwarded_props(1, None), 2),
    );
    assert_eq!(payloads(&h.recv(s)), ["fine"]);
}

#[test]
fn response_topic_with_a_wildcard_is_a_protocol_error_mqtt_3_3_2_14() {
    let mut h = Harness::new();
    let p = v5_client(&mut h, "p");
    let props = forwarded_props(0, Some("reply/#"));
    h.send(p, publish5("t", "x", QoS::AtMostOnce, props, 0));
    assert_eq!(disconnect_reason(&mut h, p), Some(reason::PROTOCOL_ERROR));
}

#[test]
fn forwarded_properties_are_read_without_trusting_them() {
    let props = forwarded_props(1, Some("r/t"));
    let f = crate::broker::publish::forwarded(&props.passthrough);
    assert!(f.utf8_payload);
    assert_eq!(f.response_topic, Some("r/t"));
    // A truncated block ends the walk instead of panicking.
    let raw = &props.passthrough[..props.passthrough.len() - 1];
    assert_eq!(crate::broker::publish::forwarded(raw).response_topic, None);
}

#[test]
fn a_v5_client_that_stops_reading_is_disconnected_with_0x97_when_its_queue_overflows() {
    use crate::broker::deliver::STALL;
    let mut settings = Settings {
        sys_interval: None,
        ..Settings::default()
    };
    settings.limits.max_queued = 5;
    let mut h = Harness::with(settings);
    let v5 = v5_client(&mut h, "v5");
    h.send(v5, sub5(1, "t", qos(QoS::AtMostOnce), None));
    let v3 = h.client("v3", true);
    h.subscribe(v3, "t", QoS::AtMostOnce);
    h.recv(v5);
    let p = v5_client(&mut h, "p");
    let body = "x".repeat(1000);
    // Nobody reads the subscribers' output: past the high-water mark and
    // five queued messages, the queue overflows.
    let n = TX_HIGH_WATER / 1000 + 10;
    for _ in 0..n {
        h.send(
            p,
            publish5("t", &body, QoS::AtMostOnce, Default::default(), 0),
        );
    }
    assert!(
        h.is_open(v5),
        "overflowing is not enough: it may be reading"
    );
    h.advance(STALL);
    h.send(
        p,
        publish5("t", &body, QoS::AtMostOnce, Default::default(), 0),
    );
    let got = h.recv(v5);
    assert!(
        matches!(got.last(), Some(Packet::Disconnect(d)) if d.reason == reason::QUOTA_EXCEEDED),
        "last packet {:?}",
        got.last()
    );
    assert!(!h.is_open(v5));
    assert!(
        h.is_open(v3),
        "a 3.x client has no such reason code: it stays"
    );
    assert!(h.is_open(p), "the publisher is not affected");
}

#[test]
fn a_slow_v5_reader_loses_qos0_messages_but_stays_connected() {
    use crate::broker::deliver::STALL;
    let mut settings = Settings {
        sys_interval: None,
        ..Settings::default()
    };
    settings.limits.max_queued = 5;
    let mut h = Harness::with(settings);
    let s = v5_client(&mut h, "slow");
    h.send(s, sub5(1, "t", qos(QoS::AtMostOnce), None));
    h.recv(s);
    let p = v5_client(&mut h, "p");
    let body = "x".repeat(1000);
    for _ in 0..3 {
        for _ in 0..TX_HIGH_WATER / 1000 + 10 {
            h.send(
                p,
                publish5("t", &body, QoS::AtMostOnce, Default::default(), 0),
            );
        }
        h.advance(STALL);
        // It reads a little before the next burst (and keeps itself alive).
        h.send(s, Packet::PingReq);
        let n = h.broker.link_mut(s).unwrap().tx.len() / 2;
        h.broker.link_mut(s).unwrap().tx.advance(n);
        h.broker.wrote(s, n);
    }
    assert!(h.is_open(s));
    assert!(h.broker.stats().publish_dropped > 0);
}
