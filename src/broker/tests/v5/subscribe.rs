//! Subscription options, shared subscriptions, mixed versions and the
//! MQTT 5 directives.

use super::*;

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
