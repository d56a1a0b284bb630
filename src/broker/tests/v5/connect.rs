//! CONNECT and CONNACK, session expiry, wills, and sessions across versions.

use std::time::Duration;

use super::*;

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
