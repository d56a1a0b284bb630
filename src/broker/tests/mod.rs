//! Broker logic driven without sockets (see [`harness`]): MQTT 3.1 and
//! 3.1.1 behaviour here, MQTT 5 in [`v5`].

mod harness;
mod v5;

use std::time::Duration;

use bytes::BytesMut;

use super::*;
use crate::codec::{connack, Ack, ByteStr, Properties, Protocol, QoS, Unsubscribe};
use harness::*;
// ---- CONNECT ----

#[test]
fn first_packet_must_be_connect_mqtt_3_1_0_1() {
    let mut h = Harness::new();
    let link = h.open();
    h.send(link, Packet::PingReq);
    assert!(!h.is_open(link));
    assert!(h.recv(link).is_empty(), "no PINGRESP before CONNECT");
}

#[test]
fn unsupported_protocol_level_gets_connack_1_mqtt_3_1_2_2() {
    let mut h = Harness::new();
    let link = h.open();
    // CONNECT "MQTT" level 6.
    h.raw(
        link,
        &[0x10, 12, 0, 4, b'M', b'Q', b'T', b'T', 6, 0x02, 0, 60, 0, 0],
    );
    let got = h.recv(link);
    assert!(
        matches!(&got[..], [Packet::ConnAck(a)] if a.code == connack::UNACCEPTABLE_PROTOCOL_VERSION),
        "{got:?}"
    );
    assert!(!h.is_open(link));
}

#[test]
fn empty_client_id_with_clean_session_gets_generated_id_mqtt_3_1_3_6() {
    let mut h = Harness::new();
    let (a, ack_a) = h.connect(connect_packet("", true, 60));
    let (b, ack_b) = h.connect(connect_packet("", true, 60));
    assert_eq!(ack_a.code, connack::ACCEPTED);
    assert_eq!(ack_b.code, connack::ACCEPTED);
    assert!(
        h.is_open(a) && h.is_open(b),
        "two generated ids do not collide"
    );
}

#[test]
fn empty_client_id_without_clean_session_is_rejected_mqtt_3_1_3_8() {
    let mut h = Harness::new();
    let (link, ack) = h.connect(connect_packet("", false, 60));
    assert_eq!(ack.code, connack::IDENTIFIER_REJECTED);
    assert!(!ack.session_present);
    assert!(!h.is_open(link));
}

#[test]
fn empty_client_id_refused_when_zero_length_ids_disallowed() {
    let mut h = Harness::with(Settings {
        sys_interval: None,
        listeners: vec![ListenerPolicy {
            allow_zero_length_clientid: false,
            ..ListenerPolicy::default()
        }],
        ..Settings::default()
    });
    let (_, ack) = h.connect(connect_packet("", true, 60));
    assert_eq!(ack.code, connack::IDENTIFIER_REJECTED);
}

#[test]
fn mqtt31_requires_a_client_id() {
    let mut h = Harness::new();
    let mut c = connect_packet("", true, 60);
    c.protocol = Protocol::V31;
    let (_, ack) = h.connect(c);
    assert_eq!(ack.code, connack::IDENTIFIER_REJECTED);
}

#[test]
fn second_connect_is_a_protocol_violation_mqtt_3_1_0_2() {
    let mut h = Harness::new();
    let link = h.client("c", true);
    h.send(
        link,
        Packet::Connect(Box::new(connect_packet("c", true, 60))),
    );
    assert!(!h.is_open(link));
    assert!(h.recv(link).is_empty());
}

#[test]
fn anonymous_refused_when_not_allowed() {
    let mut h = Harness::with(Settings {
        sys_interval: None,
        listeners: vec![ListenerPolicy {
            allow_anonymous: false,
            ..ListenerPolicy::default()
        }],
        ..Settings::default()
    });
    let (link, ack) = h.connect(connect_packet("c", true, 60));
    assert_eq!(ack.code, connack::NOT_AUTHORIZED);
    assert!(!h.is_open(link));
}

#[test]
fn keep_alive_above_max_keepalive_is_refused() {
    let mut h = Harness::with(Settings {
        sys_interval: None,
        max_keepalive: 60,
        ..Settings::default()
    });
    let (_, ack) = h.connect(connect_packet("c", true, 61));
    assert_ne!(ack.code, connack::ACCEPTED);
    let (_, ack) = h.connect(connect_packet("d", true, 60));
    assert_eq!(ack.code, connack::ACCEPTED);
}

#[test]
fn max_connections_refuses_new_links() {
    let mut h = Harness::with(Settings {
        sys_interval: None,
        listeners: vec![ListenerPolicy {
            max_connections: Some(2),
            ..ListenerPolicy::default()
        }],
        ..Settings::default()
    });
    let a = h.open();
    let _b = h.open();
    assert!(h.broker.open_link((), peer(), 0, h.now).is_err());
    h.broker.link_lost(a, CloseCause::SocketClosed, h.now);
    for id in h.closed() {
        h.broker.remove_link(id);
    }
    assert!(h.broker.open_link((), peer(), 0, h.now).is_ok());
}

#[test]
fn takeover_closes_old_connection_and_publishes_its_will_mqtt_3_1_4_2() {
    let mut h = Harness::new();
    let watcher = h.client("watcher", true);
    h.subscribe(watcher, "wills/#", QoS::AtMostOnce);
    let mut c = connect_packet("dup", true, 60);
    c.will = Some(will("wills/dup", "gone", QoS::AtMostOnce, false));
    let (old, _) = h.connect(c);
    let (new, ack) = h.connect(connect_packet("dup", true, 60));
    assert_eq!(ack.code, connack::ACCEPTED);
    assert!(!h.is_open(old));
    assert!(h.is_open(new));
    assert_eq!(payloads(&h.recv(watcher)), vec!["gone"]);
}

#[test]
fn session_present_reflects_stored_session_mqtt_3_2_2_2() {
    let mut h = Harness::new();
    let (a, ack) = h.connect(connect_packet("p", false, 60));
    assert!(!ack.session_present, "no session existed");
    h.send(a, Packet::Disconnect(Default::default()));
    let (b, ack) = h.connect(connect_packet("p", false, 60));
    assert!(ack.session_present, "persistent session resumed");
    h.send(b, Packet::Disconnect(Default::default()));
    let (_, ack) = h.connect(connect_packet("p", true, 60));
    assert!(
        !ack.session_present,
        "clean session discards it [MQTT-3.2.2-1]"
    );
}

// ---- Sessions ----

#[test]
fn persistent_session_keeps_subscriptions_and_queues_qos1_while_offline() {
    let mut h = Harness::new();
    let sub = h.client("sub", false);
    h.subscribe(sub, "a/b", QoS::AtLeastOnce);
    h.send(sub, Packet::Disconnect(Default::default()));
    let publisher = h.client("pub", true);
    h.send(publisher, publish("a/b", "m1", QoS::AtLeastOnce, false, 1));
    h.send(publisher, publish("a/b", "m0", QoS::AtMostOnce, false, 0));
    h.send(publisher, publish("a/b", "m2", QoS::ExactlyOnce, false, 2));
    let (sub2, ack) = h.connect(connect_packet("sub", false, 60));
    assert!(ack.session_present);
    let got = h.recv(sub2);
    assert_eq!(
        payloads(&got),
        vec!["m1", "m2"],
        "QoS 0 is not queued by default"
    );
    let ps = publishes(&got);
    assert_eq!(ps[0].qos, QoS::AtLeastOnce);
    assert_eq!(ps[1].qos, QoS::AtLeastOnce, "min(published, granted)");
}

#[test]
fn queue_qos0_messages_queues_qos0_for_offline_sessions() {
    let mut h = Harness::with(Settings {
        queue_qos0: true,
        sys_interval: None,
        ..Settings::default()
    });
    let sub = h.client("sub", false);
    h.subscribe(sub, "t", QoS::AtMostOnce);
    h.send(sub, Packet::Disconnect(Default::default()));
    let p = h.client("pub", true);
    h.send(p, publish("t", "zero", QoS::AtMostOnce, false, 0));
    let sub2 = h.client("sub", false);
    assert_eq!(payloads(&h.recv(sub2)), vec!["zero"]);
}

#[test]
fn clean_session_discards_subscriptions_on_disconnect() {
    let mut h = Harness::new();
    let sub = h.client("sub", true);
    h.subscribe(sub, "t", QoS::AtLeastOnce);
    h.send(sub, Packet::Disconnect(Default::default()));
    assert_eq!(h.broker.tree.len(), 0);
    let p = h.client("pub", true);
    h.send(p, publish("t", "x", QoS::AtLeastOnce, false, 1));
    let (sub2, ack) = h.connect(connect_packet("sub", false, 60));
    assert!(!ack.session_present);
    assert!(publishes(&h.recv(sub2)).is_empty());
}

#[test]
fn unacknowledged_messages_resent_with_dup_and_same_ids_on_reconnect_mqtt_4_4_0_1() {
    let mut h = Harness::new();
    let sub = h.client("sub", false);
    h.subscribe(sub, "t", QoS::ExactlyOnce);
    let p = h.client("pub", true);
    h.send(p, publish("t", "q1", QoS::AtLeastOnce, false, 1));
    h.send(p, publish("t", "q2", QoS::ExactlyOnce, false, 2));
    h.send(p, publish("t", "q2b", QoS::ExactlyOnce, false, 3));
    let first = h.recv(sub);
    let ids: Vec<u16> = publishes(&first).iter().map(|p| p.packet_id).collect();
    assert_eq!(ids.len(), 3);
    // Acknowledge the third message as far as PUBREC: it awaits PUBCOMP.
    h.send(sub, Packet::PubRec(Ack::new(ids[2])));
    assert!(matches!(&h.recv(sub)[..], [Packet::PubRel(a)] if a.packet_id == ids[2]));
    h.broker.link_lost(sub, CloseCause::SocketClosed, h.now);
    let sub2 = h.client("sub", false);
    let again = h.recv(sub2);
    let ps = publishes(&again);
    assert_eq!(ps.len(), 2);
    assert!(
        ps.iter().all(|p| p.dup),
        "re-sent PUBLISH has DUP [MQTT-3.3.1-1]"
    );
    assert_eq!(ps[0].packet_id, ids[0]);
    assert_eq!(ps[1].packet_id, ids[1]);
    assert!(
        again
            .iter()
            .any(|p| matches!(p, Packet::PubRel(a) if a.packet_id == ids[2])),
        "PUBREL re-sent: {again:?}"
    );
}

#[test]
fn persistent_client_expiration_removes_abandoned_sessions() {
    let mut h = Harness::with(Settings {
        persistent_client_expiration: Some(Duration::from_secs(3600)),
        sys_interval: None,
        ..Settings::default()
    });
    let sub = h.client("sub", false);
    h.subscribe(sub, "t", QoS::AtLeastOnce);
    h.broker.link_lost(sub, CloseCause::SocketClosed, h.now);
    h.advance(Duration::from_secs(3599));
    assert_eq!(h.broker.tree.len(), 1, "not yet expired");
    h.advance(Duration::from_secs(2));
    assert_eq!(
        h.broker.tree.len(),
        0,
        "expired session's subscriptions gone"
    );
    let (_, ack) = h.connect(connect_packet("sub", false, 60));
    assert!(!ack.session_present);
}

#[test]
fn reconnect_before_expiration_keeps_the_session() {
    let mut h = Harness::with(Settings {
        persistent_client_expiration: Some(Duration::from_secs(10)),
        sys_interval: None,
        ..Settings::default()
    });
    let sub = h.client("sub", false);
    h.broker.link_lost(sub, CloseCause::SocketClosed, h.now);
    h.advance(Duration::from_secs(5));
    let (_, ack) = h.connect(connect_packet("sub", false, 60));
    assert!(ack.session_present);
    h.advance(Duration::from_secs(20));
    assert_eq!(
        h.broker.sessions.len(),
        1,
        "a connected session never expires"
    );
}

// ---- PUBLISH ----

#[test]
fn qos_round_trips_and_acks() {
    let mut h = Harness::new();
    let sub = h.client("sub", true);
    h.subscribe(sub, "t", QoS::ExactlyOnce);
    let p = h.client("pub", true);
    h.send(p, publish("t", "one", QoS::AtLeastOnce, false, 10));
    assert!(matches!(&h.recv(p)[..], [Packet::PubAck(a)] if a.packet_id == 10));
    h.send(p, publish("t", "two", QoS::ExactlyOnce, false, 11));
    assert!(matches!(&h.recv(p)[..], [Packet::PubRec(a)] if a.packet_id == 11));
    h.send(p, Packet::PubRel(Ack::new(11)));
    assert!(matches!(&h.recv(p)[..], [Packet::PubComp(a)] if a.packet_id == 11));
    let got = h.recv(sub);
    assert_eq!(payloads(&got), vec!["one", "two"]);
    let ps = publishes(&got);
    assert_eq!((ps[0].qos, ps[1].qos), (QoS::AtLeastOnce, QoS::ExactlyOnce));
}

#[test]
fn inbound_qos2_is_delivered_exactly_once_mqtt_4_3_3() {
    let mut h = Harness::new();
    let sub = h.client("sub", true);
    h.subscribe(sub, "t", QoS::AtMostOnce);
    let p = h.client("pub", true);
    h.send(p, publish("t", "once", QoS::ExactlyOnce, false, 5));
    h.send(p, publish("t", "once", QoS::ExactlyOnce, false, 5));
    let acks = h.recv(p);
    assert_eq!(acks.len(), 2, "each copy is acknowledged with PUBREC");
    assert_eq!(payloads(&h.recv(sub)), vec!["once"]);
    h.send(p, Packet::PubRel(Ack::new(5)));
    h.send(p, publish("t", "again", QoS::ExactlyOnce, false, 5));
    assert_eq!(
        payloads(&h.recv(sub)),
        vec!["again"],
        "id reusable after PUBREL"
    );
}

#[test]
fn inflight_window_limits_unacknowledged_messages_and_keeps_order() {
    let mut settings = Settings {
        sys_interval: None,
        ..Settings::default()
    };
    settings.limits.max_inflight = 2;
    let mut h = Harness::with(settings);
    let sub = h.client("sub", true);
    h.subscribe(sub, "t", QoS::AtLeastOnce);
    let p = h.client("pub", true);
    for i in 0..5u16 {
        h.send(
            p,
            publish("t", &format!("m{i}"), QoS::AtLeastOnce, false, i + 1),
        );
    }
    let got = h.recv(sub);
    assert_eq!(payloads(&got), vec!["m0", "m1"], "window of 2");
    let first = publishes(&got)[0].packet_id;
    h.send(sub, Packet::PubAck(Ack::new(first)));
    assert_eq!(payloads(&h.recv(sub)), vec!["m2"], "one ack frees one slot");
}

#[test]
fn qos0_waits_behind_queued_messages_to_keep_order() {
    let mut settings = Settings {
        sys_interval: None,
        ..Settings::default()
    };
    settings.limits.max_inflight = 1;
    let mut h = Harness::with(settings);
    let sub = h.client("sub", true);
    h.subscribe(sub, "t", QoS::AtLeastOnce);
    let p = h.client("pub", true);
    h.send(p, publish("t", "a", QoS::AtLeastOnce, false, 1));
    h.send(p, publish("t", "b", QoS::AtLeastOnce, false, 2));
    h.send(p, publish("t", "c", QoS::AtMostOnce, false, 0));
    let got = h.recv(sub);
    assert_eq!(payloads(&got), vec!["a"]);
    h.send(sub, Packet::PubAck(Ack::new(publishes(&got)[0].packet_id)));
    assert_eq!(payloads(&h.recv(sub)), vec!["b", "c"]);
}

#[test]
fn queue_bound_drops_and_counts() {
    let mut settings = Settings {
        sys_interval: None,
        ..Settings::default()
    };
    settings.limits.max_queued = 2;
    let mut h = Harness::with(settings);
    let sub = h.client("sub", false);
    h.subscribe(sub, "t", QoS::AtLeastOnce);
    h.send(sub, Packet::Disconnect(Default::default()));
    let p = h.client("pub", true);
    for i in 0..4u16 {
        h.send(
            p,
            publish("t", &format!("m{i}"), QoS::AtLeastOnce, false, i + 1),
        );
    }
    assert_eq!(h.broker.stats().publish_dropped, 2);
    let sub2 = h.client("sub", false);
    assert_eq!(payloads(&h.recv(sub2)), vec!["m0", "m1"]);
}

#[test]
fn overlapping_subscriptions_get_one_copy_at_highest_qos() {
    let mut h = Harness::new();
    let sub = h.client("sub", true);
    h.subscribe(sub, "a/+", QoS::AtMostOnce);
    h.subscribe(sub, "a/#", QoS::ExactlyOnce);
    h.subscribe(sub, "a/b", QoS::AtLeastOnce);
    let p = h.client("pub", true);
    h.send(p, publish("a/b", "x", QoS::ExactlyOnce, false, 1));
    let got = h.recv(sub);
    let ps = publishes(&got);
    assert_eq!(ps.len(), 1);
    assert_eq!(ps[0].qos, QoS::ExactlyOnce);
}

#[test]
fn invalid_topic_name_in_publish_closes_mqtt_3_3_2_2() {
    let mut h = Harness::new();
    let sub = h.client("sub", true);
    h.subscribe(sub, "#", QoS::AtMostOnce);
    let p = h.client("pub", true);
    h.send(p, publish("a/+", "x", QoS::AtMostOnce, false, 0));
    assert!(!h.is_open(p));
    assert!(publishes(&h.recv(sub)).is_empty());
    assert!(h.is_open(sub), "nobody else is affected");
}

#[test]
fn message_size_limit_drops_but_acknowledges() {
    let mut h = Harness::with(Settings {
        message_size_limit: 4,
        sys_interval: None,
        ..Settings::default()
    });
    let sub = h.client("sub", true);
    h.subscribe(sub, "t", QoS::AtLeastOnce);
    let p = h.client("pub", true);
    h.send(p, publish("t", "too long", QoS::AtLeastOnce, false, 1));
    assert!(matches!(&h.recv(p)[..], [Packet::PubAck(_)]));
    assert!(publishes(&h.recv(sub)).is_empty());
    h.send(p, publish("t", "ok", QoS::AtLeastOnce, false, 2));
    assert_eq!(payloads(&h.recv(sub)), vec!["ok"]);
    assert_eq!(h.broker.stats().publish_dropped, 1);
}

#[test]
fn oversized_packet_closes_the_connection() {
    let mut h = Harness::with(Settings {
        max_packet_size: 64,
        sys_interval: None,
        ..Settings::default()
    });
    let p = h.client("pub", true);
    // Fixed header declaring 1000 bytes: refused before the body arrives.
    h.raw(p, &[0x30, 0xE8, 0x07]);
    assert!(!h.is_open(p));
}

#[test]
fn packets_split_at_every_byte_are_reassembled() {
    let mut h = Harness::new();
    let sub = h.client("sub", true);
    h.subscribe(sub, "t", QoS::AtMostOnce);
    let p = h.client("pub", true);
    let mut buf = BytesMut::new();
    for i in 0..3 {
        codec::encode(
            &publish("t", &format!("split{i}"), QoS::AtLeastOnce, false, i + 1),
            Protocol::V311,
            &mut buf,
        );
    }
    for b in buf.iter() {
        h.raw(p, &[*b]);
    }
    assert_eq!(payloads(&h.recv(sub)), vec!["split0", "split1", "split2"]);
}

#[test]
fn large_payload_is_shared_not_copied_per_subscriber() {
    let mut h = Harness::new();
    let subs: Vec<usize> = (0..3)
        .map(|i| {
            let s = h.client(&format!("s{i}"), true);
            h.subscribe(s, "big", QoS::AtMostOnce);
            s
        })
        .collect();
    let p = h.client("pub", true);
    let payload = "x".repeat(4096);
    h.send(p, publish("big", &payload, QoS::AtMostOnce, false, 0));
    let ptrs: Vec<*const u8> = subs
        .iter()
        .map(|&s| {
            let link = h.broker.link(s).unwrap();
            let chunk = link
                .tx
                .shared_chunks()
                .find(|c| c.len() == 4096)
                .expect("payload queued as a shared chunk");
            chunk.as_ptr()
        })
        .collect();
    assert!(ptrs.windows(2).all(|w| w[0] == w[1]), "one buffer for all");
}

// ---- Retained ----

#[test]
fn retained_message_sent_to_new_subscribers_with_retain_set_mqtt_3_3_1_6() {
    let mut h = Harness::new();
    let p = h.client("pub", true);
    h.send(
        p,
        publish("house/kitchen/temp", "21", QoS::AtLeastOnce, true, 1),
    );
    h.send(
        p,
        publish("house/hall/temp", "19", QoS::AtMostOnce, true, 0),
    );
    let sub = h.client("sub", true);
    h.send(sub, subscribe(1, &[("house/+/temp", QoS::AtLeastOnce)]));
    let got = h.recv(sub);
    assert!(matches!(got[0], Packet::SubAck(_)), "SUBACK first");
    let ps = publishes(&got);
    assert_eq!(ps.len(), 2);
    assert!(ps.iter().all(|p| p.retain));
    let mut vals = payloads(&got);
    vals.sort();
    assert_eq!(vals, vec!["19", "21"]);
}

#[test]
fn retained_forwarded_live_with_retain_clear_mqtt_3_3_1_9() {
    let mut h = Harness::new();
    let sub = h.client("sub", true);
    h.subscribe(sub, "t", QoS::AtMostOnce);
    let p = h.client("pub", true);
    h.send(p, publish("t", "v", QoS::AtMostOnce, true, 0));
    let got = h.recv(sub);
    assert!(!publishes(&got)[0].retain);
}

#[test]
fn retained_replaced_and_cleared_by_empty_payload_mqtt_3_3_1_10() {
    let mut h = Harness::new();
    let p = h.client("pub", true);
    h.send(p, publish("t", "old", QoS::AtMostOnce, true, 0));
    h.send(p, publish("t", "new", QoS::AtMostOnce, true, 0));
    let sub = h.client("sub", true);
    h.send(sub, subscribe(1, &[("t", QoS::AtMostOnce)]));
    assert_eq!(payloads(&h.recv(sub)), vec!["new"]);
    h.send(p, publish("t", "", QoS::AtMostOnce, true, 0));
    assert_eq!(
        payloads(&h.recv(sub)),
        vec![""],
        "the empty message is forwarded"
    );
    let sub2 = h.client("sub2", true);
    h.send(sub2, subscribe(1, &[("t", QoS::AtMostOnce)]));
    assert!(publishes(&h.recv(sub2)).is_empty(), "cleared");
}

#[test]
fn resubscribing_resends_retained_mqtt_3_8_4_3() {
    let mut h = Harness::new();
    let p = h.client("pub", true);
    h.send(p, publish("t", "r", QoS::AtMostOnce, true, 0));
    let sub = h.client("sub", true);
    h.send(sub, subscribe(1, &[("t", QoS::AtMostOnce)]));
    assert_eq!(payloads(&h.recv(sub)), vec!["r"]);
    h.send(sub, subscribe(2, &[("t", QoS::AtMostOnce)]));
    assert_eq!(payloads(&h.recv(sub)), vec!["r"]);
    assert_eq!(h.broker.tree.len(), 1, "still one subscription");
}

#[test]
fn retain_unavailable_closes_publisher() {
    let mut h = Harness::with(Settings {
        retain_available: false,
        sys_interval: None,
        ..Settings::default()
    });
    let p = h.client("pub", true);
    h.send(p, publish("t", "r", QoS::AtMostOnce, true, 0));
    assert!(!h.is_open(p));
    assert_eq!(h.broker.retained.len(), 0);
}

// ---- Wills ----

fn will_client(h: &mut Harness, id: &str, keep_alive: u16) -> usize {
    let mut c = connect_packet(id, true, keep_alive);
    c.will = Some(will("status/dev", "offline", QoS::AtLeastOnce, true));
    let (link, ack) = h.connect(c);
    assert_eq!(ack.code, connack::ACCEPTED);
    link
}

#[test]
fn will_published_when_socket_closes_without_disconnect() {
    let mut h = Harness::new();
    let watcher = h.client("w", true);
    h.subscribe(watcher, "status/#", QoS::AtLeastOnce);
    let dev = will_client(&mut h, "dev", 60);
    h.broker.link_lost(dev, CloseCause::SocketClosed, h.now);
    let got = h.recv(watcher);
    assert_eq!(payloads(&got), vec!["offline"]);
    assert_eq!(publishes(&got)[0].qos, QoS::AtLeastOnce);
    assert!(
        h.broker.retained.get("status/dev").is_some(),
        "will retain honoured"
    );
}

#[test]
fn no_will_after_disconnect_mqtt_3_14_4_3() {
    let mut h = Harness::new();
    let watcher = h.client("w", true);
    h.subscribe(watcher, "status/#", QoS::AtLeastOnce);
    let dev = will_client(&mut h, "dev", 60);
    h.send(dev, Packet::Disconnect(Default::default()));
    assert!(!h.is_open(dev));
    assert!(publishes(&h.recv(watcher)).is_empty());
}

#[test]
fn will_published_on_protocol_error() {
    let mut h = Harness::new();
    let watcher = h.client("w", true);
    h.subscribe(watcher, "status/#", QoS::AtLeastOnce);
    let dev = will_client(&mut h, "dev", 60);
    h.raw(dev, &[0xF0, 0x00]); // AUTH is not a 3.1.1 packet
    assert!(!h.is_open(dev));
    assert_eq!(payloads(&h.recv(watcher)), vec!["offline"]);
}

// ---- Timers ----

#[test]
fn keep_alive_expires_after_one_and_a_half_times_mqtt_3_1_2_24() {
    let mut h = Harness::new();
    let watcher = h.client("w", true);
    h.subscribe(watcher, "status/#", QoS::AtLeastOnce);
    let dev = will_client(&mut h, "dev", 10);
    h.advance(Duration::from_secs(14));
    assert!(h.is_open(dev), "14 s < 15 s");
    h.send(dev, Packet::PingReq);
    assert!(matches!(&h.recv(dev)[..], [Packet::PingResp]));
    h.advance(Duration::from_secs(14));
    assert!(h.is_open(dev), "activity restarted the clock");
    h.advance(Duration::from_millis(1100));
    assert!(!h.is_open(dev), "15 s of silence");
    assert_eq!(payloads(&h.recv(watcher)), vec!["offline"]);
}

#[test]
fn keep_alive_zero_never_expires() {
    let mut h = Harness::new();
    let dev = will_client(&mut h, "dev", 0);
    h.advance(Duration::from_secs(100_000));
    assert!(h.is_open(dev));
}

#[test]
fn connect_timeout_closes_silent_sockets() {
    let mut h = Harness::new();
    let link = h.open();
    h.advance(Duration::from_secs(9));
    assert!(h.is_open(link));
    h.advance(Duration::from_secs(2));
    assert!(!h.is_open(link));
}

#[test]
fn retry_interval_resends_unacknowledged_with_dup() {
    let mut h = Harness::with(Settings {
        retry_interval: Some(Duration::from_secs(20)),
        sys_interval: None,
        ..Settings::default()
    });
    let sub = h.client("sub", true);
    h.subscribe(sub, "t", QoS::AtLeastOnce);
    let p = h.client("pub", true);
    h.send(p, publish("t", "r", QoS::AtLeastOnce, false, 1));
    let first = h.recv(sub);
    let id = publishes(&first)[0].packet_id;
    h.advance(Duration::from_secs(19));
    assert!(publishes(&h.recv(sub)).is_empty());
    h.advance(Duration::from_secs(2));
    let again = h.recv(sub);
    let ps = publishes(&again);
    assert_eq!(ps.len(), 1);
    assert!(ps[0].dup);
    assert_eq!(ps[0].packet_id, id);
    h.send(sub, Packet::PubAck(Ack::new(id)));
    h.advance(Duration::from_secs(60));
    assert!(
        publishes(&h.recv(sub)).is_empty(),
        "acknowledged: no more retries"
    );
}

#[test]
fn no_retry_by_default() {
    let mut h = Harness::new();
    let sub = h.client("sub", true);
    h.subscribe(sub, "t", QoS::AtLeastOnce);
    let p = h.client("pub", true);
    h.send(p, publish("t", "r", QoS::AtLeastOnce, false, 1));
    h.recv(sub);
    h.advance(Duration::from_secs(3600));
    assert!(publishes(&h.recv(sub)).is_empty());
}

// ---- SUBSCRIBE / UNSUBSCRIBE ----

#[test]
fn invalid_filter_gets_0x80_while_others_are_granted_mqtt_3_9_3() {
    let mut h = Harness::new();
    let sub = h.client("sub", true);
    h.send(
        sub,
        subscribe(
            7,
            &[
                ("ok/+", QoS::AtLeastOnce),
                ("bad#", QoS::AtMostOnce),
                ("fine", QoS::ExactlyOnce),
            ],
        ),
    );
    match &h.recv(sub)[..] {
        [Packet::SubAck(a)] => {
            assert_eq!(a.packet_id, 7);
            assert_eq!(a.codes, vec![1, 0x80, 2]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.broker.tree.len(), 2);
}

#[test]
fn unsubscribe_stops_delivery_and_is_acknowledged() {
    let mut h = Harness::new();
    let sub = h.client("sub", true);
    h.subscribe(sub, "t", QoS::AtMostOnce);
    h.send(
        sub,
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 9,
            filters: vec![ByteStr::from("t"), ByteStr::from("never")],
            properties: Properties::default(),
        }),
    );
    assert!(matches!(&h.recv(sub)[..], [Packet::UnsubAck(a)] if a.packet_id == 9));
    let p = h.client("pub", true);
    h.send(p, publish("t", "x", QoS::AtMostOnce, false, 0));
    assert!(publishes(&h.recv(sub)).is_empty());
}

// ---- $SYS ----

#[test]
fn sys_topics_published_retained_and_not_matched_by_root_wildcards_mqtt_4_7_2_1() {
    let mut h = Harness::with(Settings {
        sys_interval: Some(Duration::from_secs(10)),
        ..Settings::default()
    });
    let all = h.client("all", true);
    h.subscribe(all, "#", QoS::AtMostOnce);
    let plus = h.client("plus", true);
    h.subscribe(plus, "+/broker/uptime", QoS::AtMostOnce);
    let sys = h.client("sys", true);
    h.subscribe(sys, "$SYS/broker/clients/connected", QoS::AtMostOnce);
    h.advance(Duration::from_secs(10));
    assert!(publishes(&h.recv(all)).is_empty());
    assert!(publishes(&h.recv(plus)).is_empty());
    assert_eq!(payloads(&h.recv(sys)), vec!["3"]);
    let late = h.client("late", true);
    h.send(
        late,
        subscribe(1, &[("$SYS/broker/version", QoS::AtMostOnce)]),
    );
    let got = h.recv(late);
    assert!(publishes(&got)[0].retain);
    assert!(payloads(&got)[0].starts_with("midge"));
}

#[test]
fn per_connection_structures_stay_small() {
    // Budget for the Pi Zero: 10,000 idle clients in a few megabytes.
    let link = std::mem::size_of::<Link<mio::net::TcpStream>>();
    let session = std::mem::size_of::<Session>();
    println!("Link {link} B, Session {session} B");
    assert!(link <= 136, "Link grew to {link} bytes");
    assert!(session <= 112, "Session grew to {session} bytes");
}

// ---- Untrusted input ----

/// A stream of valid client packets, for the fuzz test to mutate.
fn session_bytes(id: &str) -> Vec<u8> {
    let mut buf = BytesMut::new();
    let mut c = connect_packet(id, false, 30);
    c.will = Some(will("w/t", "bye", QoS::AtLeastOnce, true));
    let packets = [
        Packet::Connect(Box::new(c)),
        subscribe(1, &[("f/#", QoS::ExactlyOnce), ("+/x", QoS::AtLeastOnce)]),
        publish("f/a", "one", QoS::AtLeastOnce, true, 2),
        publish("f/b", "two", QoS::ExactlyOnce, false, 3),
        Packet::PubRel(Ack::new(3)),
        Packet::PubAck(Ack::new(1)),
        Packet::PubRec(Ack::new(2)),
        Packet::PubComp(Ack::new(2)),
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 4,
            filters: vec![ByteStr::from("+/x")],
            properties: Properties::default(),
        }),
        Packet::PingReq,
        Packet::Disconnect(Default::default()),
    ];
    for p in &packets {
        codec::encode(p, Protocol::V311, &mut buf);
    }
    buf.to_vec()
}

/// Mutated 3.1.1 packet streams never panic the broker, and a client that
/// sends only valid packets keeps being served throughout.
#[test]
fn mutated_input_never_panics_and_never_affects_others() {
    fuzz_sessions(0x005E_ED0F_B0B0, 3000, session_bytes);
}

/// Feeds `rounds` mutated copies of `session(client_id)` (bit flips,
/// truncation, inserted and deleted bytes, garbage), in pieces of random
/// size, from up to 20 client ids, with the clock moving; checks the
/// session books' bounds after every stream, and that a well-behaved
/// client is served throughout.
pub(super) fn fuzz_sessions(seed: u64, rounds: u32, session: fn(&str) -> Vec<u8>) {
    let mut rng = crate::testutil::Rng(seed);
    let mut settings = Settings {
        sys_interval: Some(Duration::from_secs(1)),
        retry_interval: Some(Duration::from_secs(2)),
        persistent_client_expiration: Some(Duration::from_secs(5)),
        max_packet_size: 4096,
        ..Settings::default()
    };
    settings.limits.max_queued = 50;
    let mut h = Harness::with(settings);
    let watcher = h.client("watcher", true);
    h.subscribe(watcher, "#", QoS::AtMostOnce);
    for round in 0..rounds {
        let mut bytes = session(&format!("c{}", rng.below(20)));
        match rng.below(5) {
            0 => {
                for _ in 0..=rng.below(4) {
                    let i = rng.below(bytes.len());
                    bytes[i] ^= 1 << rng.below(8);
                }
            }
            1 => bytes.truncate(rng.below(bytes.len())),
            2 => {
                let i = rng.below(bytes.len());
                bytes.insert(i, rng.byte());
            }
            3 => {
                let i = rng.below(bytes.len());
                bytes.remove(i);
            }
            _ => {
                let i = rng.below(bytes.len());
                for b in bytes.iter_mut().skip(i).take(16) {
                    *b = rng.byte();
                }
            }
        }
        let link = h.open();
        // Sent in pieces of random size, as TCP may deliver them.
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let n = 1 + rng.below(rest.len().min(64));
            h.raw(link, &rest[..n]);
            rest = &rest[n..];
        }
        if rng.one_in(3) {
            h.broker.link_lost(link, CloseCause::SocketClosed, h.now);
        }
        if round % 100 == 0 {
            h.advance(Duration::from_millis(700));
        }
        for id in h.closed() {
            h.broker.remove_link(id);
        }
        h.broker.link_mut(watcher).unwrap().tx.take_all();
        let limits = h.broker.settings.limits;
        for (_, s) in h.broker.sessions.iter() {
            assert!(s.inflight_len() <= usize::from(s.window), "window held");
            assert!(s.queued().count() <= limits.max_queued, "queue bound held");
            if s.protocol.is_v5() {
                assert!(s.incoming_qos2() <= usize::from(limits.max_inflight));
            }
        }
    }
    assert!(
        h.is_open(watcher),
        "the well-behaved client is still served"
    );
    h.send(watcher, Packet::PingReq);
    assert!(h.recv(watcher).contains(&Packet::PingResp));
    let p = h.client("late-publisher", true);
    h.send(p, publish("after/fuzz", "ok", QoS::AtMostOnce, false, 0));
    assert!(payloads(&h.recv(watcher)).contains(&"ok".to_string()));
}
