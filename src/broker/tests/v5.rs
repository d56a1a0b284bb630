//! MQTT 5 behaviour of the broker, driven through the harness with a
//! hand-moved clock: CONNACK properties, session expiry, will delay,
//! message expiry, topic aliases, flow control, subscription options,
//! shared subscriptions and the server's DISCONNECT reason codes.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};

use super::harness::*;
use crate::broker::*;
use crate::codec::{
    reason, Ack, ByteStr, ConnAck, Connect, Disconnect, Packet, Properties, Protocol, Publish,
    PublishProperties, QoS, SubOptions, Subscribe, Unsubscribe, Will,
};

fn connect5(id: &str, expiry: Option<u32>, clean: bool) -> Connect {
    Connect {
        protocol: Protocol::V5,
        clean_start: clean,
        keep_alive: 60,
        client_id: ByteStr::from(id),
        will: None,
        username: None,
        password: None,
        properties: Properties {
            session_expiry: expiry,
            ..Properties::default()
        },
    }
}

fn publish5(topic: &str, payload: &str, qos: QoS, props: PublishProperties, id: u16) -> Packet {
    Packet::Publish(Publish {
        dup: false,
        qos,
        retain: false,
        topic: ByteStr::from(topic),
        packet_id: id,
        properties: props,
        payload: Bytes::copy_from_slice(payload.as_bytes()),
    })
}

fn sub5(packet_id: u16, filter: &str, options: SubOptions, sub_id: Option<u32>) -> Packet {
    Packet::Subscribe(Subscribe {
        packet_id,
        filters: vec![(ByteStr::from(filter), options)],
        properties: Properties {
            subscription_identifier: sub_id,
            ..Properties::default()
        },
    })
}

fn qos(q: QoS) -> SubOptions {
    SubOptions {
        qos: q,
        ..SubOptions::default()
    }
}

fn v5_client(h: &mut Harness, id: &str) -> usize {
    let (link, ack) = h.connect(connect5(id, None, true));
    assert_eq!(ack.code, reason::SUCCESS);
    link
}

/// Subscribes and returns the SUBACK reason codes.
fn suback(h: &mut Harness, link: usize, packet: Packet) -> Vec<u8> {
    h.send(link, packet);
    match h.recv(link).first() {
        Some(Packet::SubAck(a)) => a.codes.clone(),
        other => panic!("expected SUBACK, got {other:?}"),
    }
}

/// The DISCONNECT reason the broker sent before closing `link`.
fn disconnect_reason(h: &mut Harness, link: usize) -> Option<u8> {
    let got = h.recv(link);
    assert!(!h.is_open(link), "link still open after {got:?}");
    got.iter().find_map(|p| match p {
        Packet::Disconnect(d) => Some(d.reason),
        _ => None,
    })
}

fn quiet(settings: Settings) -> Harness {
    Harness::with(Settings {
        sys_interval: None,
        ..settings
    })
}

// ---- CONNECT / CONNACK ----

#[test]
fn connack_properties_are_mosquittos_for_the_default_config() {
    let mut h = Harness::new();
    let (_, ack) = h.connect(connect5("c", None, true));
    // Mosquitto 2.0.11, default config: Topic Alias Maximum 10, Receive
    // Maximum 20 and nothing else.
    assert_eq!(
        ack,
        ConnAck {
            session_present: false,
            code: 0,
            properties: Properties {
                topic_alias_maximum: Some(10),
                receive_maximum: Some(20),
                ..Properties::default()
            }
        }
    );
    let mut c = connect5("", None, true);
    c.keep_alive = 0;
    let (_, ack) = h.connect(c);
    assert!(ack
        .properties
        .assigned_client_identifier
        .as_ref()
        .is_some_and(|id| !id.is_empty()));
    assert_eq!(
        ack.properties.server_keep_alive,
        Some(65535),
        "keep-alive 0 is answered with max_keepalive, as Mosquitto does"
    );
}

#[test]
fn connack_properties_follow_the_config() {
    let mut h = quiet(Settings {
        max_keepalive: 30,
        max_packet_size: 5000,
        retain_available: false,
        limits: crate::session::QueueLimits {
            max_inflight: 7,
            max_queued: 100,
            max_queued_bytes: 0,
        },
        listeners: vec![ListenerPolicy {
            max_topic_alias: 3,
            max_qos: QoS::AtLeastOnce,
            ..ListenerPolicy::default()
        }],
        ..Settings::default()
    });
    let (_, ack) = h.connect(connect5("c", None, true));
    let p = ack.properties;
    assert_eq!(p.topic_alias_maximum, Some(3));
    assert_eq!(p.server_keep_alive, Some(30), "60 s asked, 30 s allowed");
    assert_eq!(p.retain_available, Some(0));
    assert_eq!(p.maximum_packet_size, Some(5000));
    assert_eq!(p.receive_maximum, Some(7));
    assert_eq!(p.maximum_qos, Some(1));
}

#[test]
fn authentication_method_without_one_configured_gets_0x8c() {
    let mut h = Harness::new();
    let mut c = connect5("c", None, true);
    c.properties.authentication_method = Some(ByteStr::from("SCRAM-SHA-1"));
    let (link, ack) = h.connect(c);
    assert_eq!(ack.code, reason::BAD_AUTHENTICATION_METHOD);
    assert!(ack.properties.reason_string.is_some());
    assert!(!h.is_open(link));
}

#[test]
fn auth_packet_without_a_method_is_a_protocol_error_mqtt_4_12_0_6() {
    let mut h = Harness::new();
    let link = v5_client(&mut h, "c");
    h.send(link, Packet::Auth(Default::default()));
    assert_eq!(
        disconnect_reason(&mut h, link),
        Some(reason::PROTOCOL_ERROR)
    );
}

#[test]
fn will_topic_must_be_a_topic_name_mqtt_3_3_2_2() {
    let mut h = Harness::new();
    let bad = Will {
        topic: ByteStr::from("a/#"),
        payload: Bytes::from_static(b"x"),
        qos: QoS::AtMostOnce,
        retain: false,
        delay_interval: 0,
        properties: PublishProperties::default(),
    };
    let mut c = connect5("c", None, true);
    c.will = Some(bad.clone());
    let (_, ack) = h.connect(c);
    assert_eq!(ack.code, reason::TOPIC_NAME_INVALID);
    // 3.1.1 has no return code for it: the connection is closed.
    let mut c = connect_packet("d", true, 60);
    c.will = Some(bad);
    let link = h.open();
    h.send(link, Packet::Connect(Box::new(c)));
    assert!(h.recv(link).is_empty(), "no CONNACK");
    assert!(!h.is_open(link));
}

#[test]
fn take_over_sends_0x8e_to_the_old_connection() {
    let mut h = Harness::new();
    let old = v5_client(&mut h, "c");
    let _new = v5_client(&mut h, "c");
    assert_eq!(
        disconnect_reason(&mut h, old),
        Some(reason::SESSION_TAKEN_OVER)
    );
}

#[test]
fn keep_alive_timeout_sends_0x8d() {
    let mut h = Harness::new();
    let mut c = connect5("c", None, true);
    c.keep_alive = 10;
    let (link, _) = h.connect(c);
    h.advance(Duration::from_secs(16));
    assert_eq!(
        disconnect_reason(&mut h, link),
        Some(reason::KEEP_ALIVE_TIMEOUT)
    );
}

#[test]
fn shutdown_sends_0x8b() {
    let mut h = Harness::new();
    let link = v5_client(&mut h, "c");
    let now = h.now;
    h.broker.shutdown(now);
    assert_eq!(
        disconnect_reason(&mut h, link),
        Some(reason::SERVER_SHUTTING_DOWN)
    );
}

// ---- Session expiry ----

#[test]
fn session_expiry_zero_ends_the_session_with_the_connection() {
    let mut h = Harness::new();
    let link = v5_client(&mut h, "c");
    h.send(link, sub5(1, "t", qos(QoS::AtLeastOnce), None));
    h.send(link, Packet::Disconnect(Disconnect::default()));
    let (_, ack) = h.connect(connect5("c", Some(60), false));
    assert!(!ack.session_present);
}

#[test]
fn session_is_kept_until_its_expiry_interval_mqtt_3_1_2_23() {
    let mut h = Harness::new();
    let (link, _) = h.connect(connect5("c", Some(30), true));
    h.send(link, sub5(1, "t", qos(QoS::AtLeastOnce), None));
    h.send(link, Packet::Disconnect(Disconnect::default()));
    let publisher = v5_client(&mut h, "p");
    h.send(
        publisher,
        publish5("t", "kept", QoS::AtLeastOnce, Default::default(), 1),
    );
    h.advance(Duration::from_secs(29));
    let (link, ack) = h.connect(connect5("c", Some(30), false));
    assert!(ack.session_present, "resumed within the interval");
    assert_eq!(payloads(&h.recv(link)), ["kept"]);
    h.send(link, Packet::Disconnect(Disconnect::default()));
    h.advance(Duration::from_secs(31));
    let (_, ack) = h.connect(connect5("c", Some(30), false));
    assert!(
        !ack.session_present,
        "expired 30 s after the last disconnect"
    );
}

#[test]
fn disconnect_may_change_the_expiry_but_not_from_zero_mqtt_3_14_2_2() {
    let mut h = Harness::new();
    let (link, _) = h.connect(connect5("c", Some(10), true));
    let longer = Disconnect {
        reason: 0,
        properties: Properties {
            session_expiry: Some(100),
            ..Properties::default()
        },
    };
    h.send(link, Packet::Disconnect(longer.clone()));
    h.advance(Duration::from_secs(50));
    let (_, ack) = h.connect(connect5("c", Some(0), false));
    assert!(ack.session_present, "DISCONNECT lengthened it to 100 s");

    let link = v5_client(&mut h, "z");
    h.send(link, Packet::Disconnect(longer));
    assert_eq!(
        disconnect_reason(&mut h, link),
        Some(reason::PROTOCOL_ERROR)
    );
}

// ---- Wills ----

fn will_connect(id: &str, delay: u32, expiry: u32) -> Connect {
    let mut c = connect5(id, Some(expiry), true);
    c.will = Some(Will {
        topic: ByteStr::from("w"),
        payload: Bytes::from_static(b"gone"),
        qos: QoS::AtMostOnce,
        retain: false,
        delay_interval: delay,
        properties: PublishProperties::default(),
    });
    c
}

#[test]
fn disconnect_with_0x04_publishes_the_will() {
    let mut h = Harness::new();
    let watcher = v5_client(&mut h, "watcher");
    h.send(watcher, sub5(1, "w", qos(QoS::AtMostOnce), None));
    h.recv(watcher);
    let (link, _) = h.connect(will_connect("c", 0, 0));
    let with_will = Disconnect {
        reason: reason::DISCONNECT_WITH_WILL,
        ..Disconnect::default()
    };
    h.send(link, Packet::Disconnect(with_will));
    assert_eq!(payloads(&h.recv(watcher)), ["gone"]);
}

#[test]
fn will_waits_for_its_delay_and_is_cancelled_by_a_reconnection_mqtt_3_1_3_9() {
    let mut h = Harness::new();
    let watcher = v5_client(&mut h, "watcher");
    h.send(watcher, sub5(1, "w", qos(QoS::AtMostOnce), None));
    h.recv(watcher);

    let (link, _) = h.connect(will_connect("c", 5, 60));
    let now = h.now;
    h.broker.link_lost(link, CloseCause::SocketClosed, now);
    h.advance(Duration::from_secs(4));
    assert!(payloads(&h.recv(watcher)).is_empty(), "not before 5 s");
    h.advance(Duration::from_secs(1));
    assert_eq!(payloads(&h.recv(watcher)), ["gone"]);

    let (link, _) = h.connect(will_connect("d", 5, 60));
    let now = h.now;
    h.broker.link_lost(link, CloseCause::SocketClosed, now);
    h.advance(Duration::from_secs(2));
    let (_, ack) = h.connect(connect5("d", Some(60), false));
    assert!(ack.session_present);
    h.advance(Duration::from_secs(10));
    assert!(
        payloads(&h.recv(watcher)).is_empty(),
        "back within the delay: no will"
    );
}

#[test]
fn will_goes_when_the_session_ends_before_the_delay() {
    let mut h = Harness::new();
    let watcher = v5_client(&mut h, "watcher");
    h.send(watcher, sub5(1, "w", qos(QoS::AtMostOnce), None));
    h.recv(watcher);
    let (link, _) = h.connect(will_connect("c", 100, 3));
    let now = h.now;
    h.broker.link_lost(link, CloseCause::SocketClosed, now);
    h.advance(Duration::from_secs(3));
    assert_eq!(
        payloads(&h.recv(watcher)),
        ["gone"],
        "session expired at 3 s"
    );
}

// ---- Message expiry ----

fn expiring(secs: u32) -> PublishProperties {
    PublishProperties {
        message_expiry: Some(secs),
        ..PublishProperties::default()
    }
}

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

fn aliased(alias: u16) -> PublishProperties {
    PublishProperties {
        topic_alias: Some(alias),
        ..PublishProperties::default()
    }
}

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

// ---- Subscription options ----

#[test]
fn no_local_is_not_sent_back_to_the_publisher_mqtt_3_8_3_3() {
    let mut h = Harness::new();
    let c = v5_client(&mut h, "c");
    let opts = SubOptions {
        no_local: true,
        ..qos(QoS::AtMostOnce)
    };
    h.send(c, sub5(1, "t", opts, None));
    h.recv(c);
    let other = v5_client(&mut h, "o");
    h.send(other, sub5(1, "t", qos(QoS::AtMostOnce), None));
    h.recv(other);
    h.send(
        c,
        publish5("t", "x", QoS::AtMostOnce, Default::default(), 0),
    );
    assert!(publishes(&h.recv(c)).is_empty());
    assert_eq!(payloads(&h.recv(other)), ["x"]);
}

#[test]
fn retain_as_published_keeps_the_flag_mqtt_3_3_1_12() {
    let mut h = Harness::new();
    let rap = v5_client(&mut h, "rap");
    let opts = SubOptions {
        retain_as_published: true,
        ..qos(QoS::AtMostOnce)
    };
    h.send(rap, sub5(1, "t", opts, None));
    h.recv(rap);
    let plain = v5_client(&mut h, "plain");
    h.send(plain, sub5(1, "t", qos(QoS::AtMostOnce), None));
    h.recv(plain);
    let p = v5_client(&mut h, "p");
    let mut msg = publish5("t", "x", QoS::AtMostOnce, Default::default(), 0);
    if let Packet::Publish(m) = &mut msg {
        m.retain = true;
    }
    h.send(p, msg);
    assert!(publishes(&h.recv(rap))[0].retain);
    assert!(!publishes(&h.recv(plain))[0].retain);
}

#[test]
fn retain_handling_0_1_2_mqtt_3_3_1_9_mqtt_3_3_1_10_mqtt_3_3_1_11() {
    let mut h = Harness::new();
    let p = v5_client(&mut h, "p");
    let mut msg = publish5("r", "kept", QoS::AtMostOnce, Default::default(), 0);
    if let Packet::Publish(m) = &mut msg {
        m.retain = true;
    }
    h.send(p, msg);
    let c = v5_client(&mut h, "c");
    let handling = |rh| SubOptions {
        retain_handling: rh,
        ..qos(QoS::AtMostOnce)
    };
    let count = |h: &mut Harness, rh: u8| {
        h.send(c, sub5(1, "r", handling(rh), None));
        publishes(&h.recv(c)).len()
    };
    assert_eq!(count(&mut h, 1), 1, "1: sent for a new subscription");
    assert_eq!(count(&mut h, 1), 0, "1: not for an existing one");
    assert_eq!(count(&mut h, 0), 1, "0: sent on every subscribe");
    assert_eq!(count(&mut h, 2), 0, "2: never");
}

#[test]
fn overlapping_subscriptions_deliver_once_with_every_identifier_mqtt_3_3_4_3() {
    let mut h = Harness::new();
    let c = v5_client(&mut h, "c");
    h.send(c, sub5(1, "a/+", qos(QoS::AtMostOnce), Some(7)));
    h.send(c, sub5(2, "a/#", qos(QoS::AtLeastOnce), Some(9)));
    h.send(c, sub5(3, "#", qos(QoS::AtMostOnce), None));
    h.recv(c);
    let p = v5_client(&mut h, "p");
    h.send(
        p,
        publish5("a/b", "x", QoS::AtLeastOnce, Default::default(), 1),
    );
    let got = h.recv(c);
    let got = publishes(&got);
    assert_eq!(got.len(), 1, "one copy per session");
    assert_eq!(got[0].qos, QoS::AtLeastOnce, "the highest granted QoS");
    let mut ids = got[0].properties.subscription_ids.clone();
    ids.sort_unstable();
    assert_eq!(ids, [7, 9]);
}

#[test]
fn suback_and_unsuback_reason_codes() {
    let mut h = Harness::new();
    let c = v5_client(&mut h, "c");
    assert_eq!(
        suback(&mut h, c, sub5(1, "a/#/b", qos(QoS::AtMostOnce), None)),
        [reason::TOPIC_FILTER_INVALID]
    );
    h.send(c, sub5(2, "a", qos(QoS::AtLeastOnce), None));
    h.recv(c);
    h.send(
        c,
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 3,
            filters: vec![ByteStr::from("a"), ByteStr::from("never")],
            properties: Properties::default(),
        }),
    );
    let got = h.recv(c);
    assert!(
        matches!(&got[..], [Packet::UnsubAck(u)] if u.codes == [reason::SUCCESS, reason::NO_SUBSCRIPTION_EXISTED]),
        "{got:?}"
    );
}

// ---- Shared subscriptions ----

#[test]
fn shared_group_members_take_turns() {
    let mut h = Harness::new();
    let a = v5_client(&mut h, "a");
    let b = v5_client(&mut h, "b");
    // A 3.1.1 member too.
    let c = h.client("c", true);
    for link in [a, b] {
        assert_eq!(
            suback(
                &mut h,
                link,
                sub5(1, "$share/g/t/+", qos(QoS::AtMostOnce), None)
            ),
            [0]
        );
    }
    h.subscribe(c, "$share/g/t/+", QoS::AtMostOnce);
    let p = v5_client(&mut h, "p");
    for i in 0..6 {
        h.send(
            p,
            publish5(
                "t/x",
                &i.to_string(),
                QoS::AtMostOnce,
                Default::default(),
                0,
            ),
        );
    }
    assert_eq!(payloads(&h.recv(a)), ["0", "3"]);
    assert_eq!(payloads(&h.recv(b)), ["1", "4"]);
    assert_eq!(payloads(&h.recv(c)), ["2", "5"]);
}

#[test]
fn shared_group_queues_for_an_offline_member_when_none_is_online() {
    let mut h = Harness::new();
    let (a, _) = h.connect(connect5("a", Some(300), true));
    h.send(a, sub5(1, "$share/g/t", qos(QoS::AtLeastOnce), None));
    h.send(a, Packet::Disconnect(Disconnect::default()));
    let p = v5_client(&mut h, "p");
    h.send(
        p,
        publish5("t", "waiting", QoS::AtLeastOnce, Default::default(), 1),
    );
    let (a, ack) = h.connect(connect5("a", Some(300), false));
    assert!(ack.session_present);
    assert_eq!(payloads(&h.recv(a)), ["waiting"]);
}

#[test]
fn shared_subscription_gets_no_retained_messages_and_no_local_is_refused_mqtt_3_8_3_4() {
    let mut h = Harness::new();
    let p = v5_client(&mut h, "p");
    let mut msg = publish5("t", "kept", QoS::AtMostOnce, Default::default(), 0);
    if let Packet::Publish(m) = &mut msg {
        m.retain = true;
    }
    h.send(p, msg);
    let a = v5_client(&mut h, "a");
    h.send(a, sub5(1, "$share/g/t", qos(QoS::AtMostOnce), None));
    assert!(publishes(&h.recv(a)).is_empty());
    let opts = SubOptions {
        no_local: true,
        ..qos(QoS::AtMostOnce)
    };
    h.send(a, sub5(2, "$share/g/t", opts, None));
    assert_eq!(disconnect_reason(&mut h, a), Some(reason::PROTOCOL_ERROR));
}

// ---- Mixed versions and directives ----

#[test]
fn v5_properties_reach_v5_subscribers_only() {
    let mut h = Harness::new();
    let v5 = v5_client(&mut h, "v5");
    h.send(v5, sub5(1, "t", qos(QoS::AtMostOnce), None));
    h.recv(v5);
    let v3 = h.client("v3", true);
    h.subscribe(v3, "t", QoS::AtMostOnce);
    // User Property ("k", "v") as it appears on the wire.
    let mut raw = BytesMut::new();
    raw.put_u8(0x26);
    for s in ["k", "v"] {
        raw.put_u16(1);
        raw.put_slice(s.as_bytes());
    }
    let props = PublishProperties {
        passthrough: raw.freeze(),
        ..PublishProperties::default()
    };
    let p = v5_client(&mut h, "p");
    h.send(p, publish5("t", "x", QoS::AtMostOnce, props.clone(), 0));
    assert_eq!(publishes(&h.recv(v5))[0].properties, props);
    assert!(publishes(&h.recv(v3))[0].properties.is_empty());
}

#[test]
fn mount_point_prefixes_topics_in_and_strips_them_out() {
    let mut h = quiet(Settings {
        listeners: vec![
            ListenerPolicy {
                mount_point: Some("site/".into()),
                ..ListenerPolicy::default()
            },
            ListenerPolicy::default(),
        ],
        ..Settings::default()
    });
    let mounted = v5_client(&mut h, "m");
    h.send(mounted, sub5(1, "t", qos(QoS::AtMostOnce), None));
    h.recv(mounted);
    let plain = h.broker.open_link((), peer(), 1, h.now).unwrap();
    h.send(
        plain,
        Packet::Connect(Box::new(connect5("plain", None, true))),
    );
    h.recv(plain);
    h.send(plain, sub5(1, "#", qos(QoS::AtMostOnce), None));
    h.recv(plain);
    h.send(
        mounted,
        publish5("t", "in", QoS::AtMostOnce, Default::default(), 0),
    );
    let seen: Vec<String> = publishes(&h.recv(plain))
        .iter()
        .map(|m| m.topic.to_string())
        .collect();
    assert_eq!(seen, ["site/t"]);
    assert_eq!(payloads(&h.recv(mounted)), ["in"]);
    h.send(
        plain,
        publish5("site/t", "out", QoS::AtMostOnce, Default::default(), 0),
    );
    let got = h.recv(mounted);
    assert_eq!(publishes(&got)[0].topic.as_str(), "t");
}

#[test]
fn upgrade_outgoing_qos_delivers_at_the_granted_qos() {
    let mut h = quiet(Settings {
        upgrade_outgoing_qos: true,
        ..Settings::default()
    });
    let s = v5_client(&mut h, "s");
    h.send(s, sub5(1, "t", qos(QoS::ExactlyOnce), None));
    h.recv(s);
    let p = v5_client(&mut h, "p");
    h.send(
        p,
        publish5("t", "x", QoS::AtMostOnce, Default::default(), 0),
    );
    assert_eq!(publishes(&h.recv(s))[0].qos, QoS::ExactlyOnce);
}

#[test]
fn max_inflight_bytes_bounds_the_window() {
    let mut h = quiet(Settings {
        max_inflight_bytes: 10,
        ..Settings::default()
    });
    let s = v5_client(&mut h, "s");
    h.send(s, sub5(1, "t", qos(QoS::AtLeastOnce), None));
    h.recv(s);
    let p = v5_client(&mut h, "p");
    for (i, body) in ["123456", "123456", "x"].iter().enumerate() {
        h.send(
            p,
            publish5(
                "t",
                body,
                QoS::AtLeastOnce,
                Default::default(),
                i as u16 + 1,
            ),
        );
    }
    assert_eq!(
        payloads(&h.recv(s)).len(),
        2,
        "6 bytes in flight let one more go; 12 stop the third"
    );
}

// ---- Payload format and response topic ----

/// Forwarded property bytes: Payload Format Indicator `pfi`, then a
/// Response Topic when given.
fn forwarded_props(pfi: u8, response_topic: Option<&str>) -> PublishProperties {
    let mut raw = BytesMut::new();
    raw.put_u8(0x01);
    raw.put_u8(pfi);
    if let Some(t) = response_topic {
        raw.put_u8(0x08);
        raw.put_u16(t.len() as u16);
        raw.put_slice(t.as_bytes());
    }
    PublishProperties {
        passthrough: raw.freeze(),
        ..PublishProperties::default()
    }
}

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

// ---- Across versions ----

#[test]
fn a_v5_client_takes_over_and_resumes_a_3_1_1_session() {
    let mut h = Harness::new();
    let old = h.client("c", false);
    h.subscribe(old, "t", QoS::AtLeastOnce);
    let (new, ack) = h.connect(connect5("c", Some(60), false));
    assert!(ack.session_present);
    assert!(!h.is_open(old));
    let p = h.client("p", true);
    h.send(p, publish("t", "x", QoS::AtLeastOnce, false, 1));
    let got = h.recv(new);
    let got = publishes(&got);
    assert_eq!(got.len(), 1);
    assert!(
        got[0].properties.is_empty(),
        "a 3.1.1 message has no properties"
    );
}

// ---- Untrusted input ----

/// A stream of valid MQTT 5 client packets using most of what 5.0 adds,
/// for the fuzz driver to mutate.
fn session_bytes_v5(id: &str) -> Vec<u8> {
    let mut c = will_connect(id, 2, 30);
    c.properties.receive_maximum = Some(3);
    c.properties.topic_alias_maximum = Some(4);
    c.properties.maximum_packet_size = Some(200);
    let options = SubOptions {
        no_local: true,
        retain_as_published: true,
        retain_handling: 1,
        qos: QoS::ExactlyOnce,
    };
    let mut retained = publish5("f/r", "kept", QoS::AtLeastOnce, expiring(3), 5);
    if let Packet::Publish(m) = &mut retained {
        m.retain = true;
    }
    let packets = [
        Packet::Connect(Box::new(c)),
        sub5(1, "f/#", options, Some(3)),
        sub5(2, "$share/g/f/+", qos(QoS::AtLeastOnce), Some(4)),
        publish5("f/a", "one", QoS::AtLeastOnce, aliased(2), 2),
        publish5("", "two", QoS::ExactlyOnce, aliased(2), 3),
        retained,
        publish5(
            "f/u",
            "x",
            QoS::AtMostOnce,
            forwarded_props(1, Some("re/ply")),
            0,
        ),
        Packet::PubRel(Ack::new(3)),
        Packet::PubAck(Ack::new(1)),
        Packet::PubRec(Ack::new(2)),
        Packet::PubComp(Ack::new(2)),
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 4,
            filters: vec![ByteStr::from("$share/g/f/+")],
            properties: Properties::default(),
        }),
        Packet::PingReq,
        Packet::Disconnect(Disconnect {
            reason: reason::DISCONNECT_WITH_WILL,
            properties: Properties {
                session_expiry: Some(5),
                ..Properties::default()
            },
        }),
    ];
    let mut buf = BytesMut::new();
    for p in &packets {
        crate::codec::encode(p, Protocol::V5, &mut buf);
    }
    buf.to_vec()
}

/// Mutated MQTT 5 streams: no panic, bounds held, others unaffected.
#[test]
fn mutated_v5_input_never_panics_and_never_affects_others() {
    super::fuzz_sessions(0x0005_F00D_CAFE, 3000, session_bytes_v5);
}

/// The fuzz seed stream is itself valid: every packet is accepted and the
/// connection ends with the client's own DISCONNECT.
#[test]
fn v5_fuzz_seed_stream_is_accepted_whole() {
    let mut h = Harness::new();
    let link = h.open();
    h.raw(link, &session_bytes_v5("seed"));
    let got = h.recv(link);
    assert!(
        matches!(got.first(), Some(Packet::ConnAck(a)) if a.code == 0),
        "{got:?}"
    );
    let subacks: Vec<&Vec<u8>> = got
        .iter()
        .filter_map(|p| match p {
            Packet::SubAck(a) => Some(&a.codes),
            _ => None,
        })
        .collect();
    assert_eq!(subacks, [&vec![2u8], &vec![1u8]]);
    assert!(got.iter().any(|p| matches!(p, Packet::UnsubAck(_))));
    assert!(got.contains(&Packet::PingResp));
    assert!(
        !got.iter().any(|p| matches!(p, Packet::Disconnect(_))),
        "no server DISCONNECT: {got:?}"
    );
    assert!(!h.is_open(link));
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
