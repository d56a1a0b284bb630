//! MQTT 3.1 and 3.1.1 delivery: PUBLISH at every QoS, retained messages,
//! wills, the timers, SUBSCRIBE and UNSUBSCRIBE.

use super::*;

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

#[test]
fn output_past_the_high_water_mark_is_listed_once_for_an_early_write() {
    use crate::broker::deliver::TX_HIGH_WATER;
    let mut h = Harness::new();
    let sub = h.client("sub", true);
    h.subscribe(sub, "t/+", QoS::AtMostOnce);
    let quiet = h.client("quiet", true);
    h.subscribe(quiet, "other", QoS::AtMostOnce);
    let p = h.client("pub", true);
    let body = "x".repeat(1000);
    let n = TX_HIGH_WATER / 1000 + 20;
    for i in 0..n {
        h.send(
            p,
            publish(&format!("t/{}", i % 8), &body, QoS::AtMostOnce, false, 0),
        );
    }
    let mut pressed = Vec::new();
    h.broker.take_pressed(&mut pressed);
    assert_eq!(pressed, vec![sub], "listed once, only the subscriber");
    assert!(!h.broker.has_pressed());
    // What the event loop does with it: write it out, then the queued
    // messages follow in order, none lost.
    let got = h.recv(sub);
    h.broker.output_drained(sub, h.now);
    let got: Vec<Packet> = got.into_iter().chain(h.recv(sub)).collect();
    assert_eq!(payloads(&got).len(), n);
    h.send(p, publish("t/0", "after", QoS::AtMostOnce, false, 0));
    h.broker.take_pressed(&mut pressed);
    assert!(pressed.is_empty(), "below the mark again: not listed");
    assert_eq!(payloads(&h.recv(sub)), vec!["after"]);
}
