//! Mutated MQTT 5 input.

use super::*;

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
    super::super::fuzz_sessions(0x0005_F00D_CAFE, 3000, session_bytes_v5);
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

// ---- Findings of the coverage-guided fuzzer (fuzz/), as unit tests ----

/// A CONNECT naming level 6 on a connected link.
const CONNECT_LEVEL_6: &[u8] = b"\x10\x0d\x00\x04MQTT\x06\x02\x00\x3c\x00\x01x";

/// Found by `fuzz/broker`: a connected client's second CONNECT naming an
/// unsupported protocol was answered with a second CONNACK (0x01) and
/// switched the link to 3.1.1 encoding, so the 5.0 client got bytes it
/// could not decode. It is a second CONNECT, a protocol error whatever it
/// names [MQTT-3.1.0-2].
#[test]
fn second_connect_with_unknown_protocol_is_a_protocol_error_mqtt_3_1_0_2() {
    let mut h = Harness::new();
    let link = v5_client(&mut h, "c5");
    h.raw(link, CONNECT_LEVEL_6);
    let got = h.recv(link);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason == reason::PROTOCOL_ERROR),
        "{got:?}"
    );
    assert!(!h.is_open(link));

    let old = h.client("c3", true);
    h.raw(old, CONNECT_LEVEL_6);
    assert_eq!(h.recv(old), Vec::<Packet>::new(), "no second CONNACK");
    assert!(!h.is_open(old));
}

/// The plain second CONNECT gets the same DISCONNECT 0x82 in 5.0.
#[test]
fn second_connect_v5_gets_disconnect_protocol_error_mqtt_3_1_0_2() {
    let mut h = Harness::new();
    let link = v5_client(&mut h, "c5");
    h.send(link, Packet::Connect(Box::new(connect5("c5", None, true))));
    let got = h.recv(link);
    assert!(
        matches!(&got[..], [Packet::Disconnect(d)] if d.reason == reason::PROTOCOL_ERROR),
        "{got:?}"
    );
    assert!(!h.is_open(link));
}

/// Found by `fuzz/broker`: a session resumed with a lower Receive Maximum
/// got every in-flight message of its last connection re-sent at once.
/// No more than Receive Maximum go unacknowledged [MQTT-3.3.4-9]; the rest
/// follow as the client acknowledges.
#[test]
fn resume_with_a_lower_receive_maximum_resends_within_it_mqtt_3_3_4_9() {
    let mut h = Harness::new();
    let (sub, _) = h.connect(connect5("r", Some(100), true));
    h.send(sub, sub5(1, "a", qos(QoS::AtLeastOnce), None));
    h.recv(sub);
    let p = h.client("p", true);
    for i in 1..=5 {
        h.send(
            p,
            publish("a", &format!("m{i}"), QoS::AtLeastOnce, false, i),
        );
    }
    assert_eq!(publishes(&h.recv(sub)).len(), 5);
    h.broker.link_lost(sub, CloseCause::SocketClosed, h.now);
    let mut c = connect5("r", Some(100), false);
    c.properties.receive_maximum = Some(2);
    let (sub, ack) = h.connect(c);
    assert!(ack.session_present);
    let got = h.recv(sub);
    assert_eq!(payloads(&got), ["m1", "m2"], "two at once: {got:?}");
    assert!(publishes(&got).iter().all(|p| p.dup));
    let first = publishes(&got)[0].packet_id;
    h.send(sub, Packet::PubAck(Ack::new(first)));
    assert_eq!(payloads(&h.recv(sub)), ["m3"]);
    h.broker.audit().expect("audit");
}
