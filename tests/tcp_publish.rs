//! PUBLISH at every QoS, retained messages, wills, SUBSCRIBE/UNSUBSCRIBE
//! and packet framing over real TCP, byte for byte against an in-process
//! midge.

pub mod common;

use common::{
    ack, publish, suback, subscribe, unsubscribe, Client, ConnectSpec, WillSpec, CONNACK_ACCEPTED,
};

/// Reads one packet, asserts it is a PUBLISH with these fields, and
/// returns its packet id (0 at QoS 0). The whole packet is compared with a
/// hand-built one.
fn expect_publish(c: &mut Client, topic: &str, payload: &[u8], qos: u8, retain: bool) -> u16 {
    let raw = c.read_packet();
    let pid = if qos > 0 {
        // Fixed header, remaining length, topic length and topic, then id.
        let at = raw.len() - payload.len() - 2;
        u16::from_be_bytes([raw[at], raw[at + 1]])
    } else {
        0
    };
    assert_eq!(
        common::hex(&raw),
        common::hex(&publish(topic, payload, qos, retain, false, pid)),
        "PUBLISH delivered"
    );
    if qos > 0 {
        assert_ne!(pid, 0, "a QoS {qos} PUBLISH needs a non-zero packet id");
    }
    pid
}

/// QoS 0 goes through with no acknowledgement [MQTT-4.3.1].
#[test]
fn publish_qos0_delivered() {
    let broker = common::start();
    let mut sub = Client::connect(broker.addr, "sub0");
    sub.subscribe(1, "q/0", 2);
    let mut publ = Client::connect(broker.addr, "pub0");
    publ.send(&publish("q/0", b"zero", 0, false, false, 0));
    expect_publish(&mut sub, "q/0", b"zero", 0, false);
    publ.ping();
    sub.ping();
}

/// QoS 1: PUBACK `40 02 id` to the publisher [MQTT-4.3.2-2]; the
/// subscriber receives QoS 1 and its PUBACK completes the delivery.
#[test]
fn publish_qos1_acknowledged_and_delivered() {
    let broker = common::start();
    let mut sub = Client::connect(broker.addr, "sub1");
    sub.subscribe(1, "q/1", 1);
    let mut publ = Client::connect(broker.addr, "pub1");
    publ.send(&publish("q/1", b"one", 1, false, false, 0x1234));
    publ.expect(&[0x40, 0x02, 0x12, 0x34]);
    let pid = expect_publish(&mut sub, "q/1", b"one", 1, false);
    sub.send(&ack(0x40, pid));
    sub.ping();
}

/// Delivery QoS is the minimum of the published and granted QoS
/// [MQTT-3.8.4-6]: QoS 2 published to a QoS 1 subscription arrives at QoS 1.
#[test]
fn publish_downgraded_to_granted_qos() {
    let broker = common::start();
    let mut sub = Client::connect(broker.addr, "sub-low");
    sub.subscribe(1, "q/low", 1);
    let mut publ = Client::connect(broker.addr, "pub-high");
    publ.send(&publish("q/low", b"hi", 2, false, false, 5));
    publ.expect(&ack(0x50, 5));
    let pid = expect_publish(&mut sub, "q/low", b"hi", 1, false);
    sub.send(&ack(0x40, pid));
    publ.send(&ack(0x62, 5));
    publ.expect(&ack(0x70, 5));
}

/// QoS 2 in both directions: PUBLISH/PUBREC/PUBREL/PUBCOMP with the
/// publisher [MQTT-4.3.3-2], and the same handshake driven by the broker
/// towards the subscriber, whose PUBREC is answered with PUBREL (`62`)
/// [MQTT-4.3.3-1, MQTT-3.6.1-1].
#[test]
fn publish_qos2_full_handshake_both_directions() {
    let broker = common::start();
    let mut sub = Client::connect(broker.addr, "sub2");
    sub.subscribe(1, "q/2", 2);
    let mut publ = Client::connect(broker.addr, "pub2");

    publ.send(&publish("q/2", b"two", 2, false, false, 7));
    publ.expect(&[0x50, 0x02, 0x00, 0x07]);
    let pid = expect_publish(&mut sub, "q/2", b"two", 2, false);
    publ.send(&[0x62, 0x02, 0x00, 0x07]);
    publ.expect(&[0x70, 0x02, 0x00, 0x07]);

    sub.send(&ack(0x50, pid));
    sub.expect(&ack(0x62, pid));
    sub.send(&ack(0x70, pid));
    sub.ping();
    publ.ping();
}

/// A QoS 2 PUBLISH re-sent with the same packet id before PUBREL is
/// acknowledged again but not delivered twice [MQTT-4.3.3-2].
#[test]
fn publish_qos2_duplicate_not_delivered_twice_mqtt_4_3_3_2() {
    let broker = common::start();
    let mut sub = Client::connect(broker.addr, "sub-dup");
    sub.subscribe(1, "q/dup", 2);
    let mut publ = Client::connect(broker.addr, "pub-dup");

    publ.send(&publish("q/dup", b"once", 2, false, false, 9));
    publ.expect(&ack(0x50, 9));
    publ.send(&publish("q/dup", b"once", 2, false, true, 9));
    publ.expect(&ack(0x50, 9));
    publ.send(&ack(0x62, 9));
    publ.expect(&ack(0x70, 9));

    let pid = expect_publish(&mut sub, "q/dup", b"once", 2, false);
    sub.ping();
    sub.send(&ack(0x50, pid));
    sub.expect(&ack(0x62, pid));
    sub.send(&ack(0x70, pid));

    // After PUBREL the id is free again: a new message with it is new.
    publ.send(&publish("q/dup", b"again", 2, false, false, 9));
    publ.expect(&ack(0x50, 9));
    expect_publish(&mut sub, "q/dup", b"again", 2, false);
}

/// A new subscriber receives the retained message [MQTT-3.3.1-6] with
/// RETAIN set [MQTT-3.3.1-8]; a live subscriber gets it with RETAIN clear
/// [MQTT-3.3.1-9].
#[test]
fn retained_message_sent_to_new_subscriber_with_retain_mqtt_3_3_1_6() {
    let broker = common::start();
    let mut live = Client::connect(broker.addr, "live");
    live.subscribe(1, "ret/t", 1);
    let mut publ = Client::connect(broker.addr, "ret-pub");
    publ.publish_qos1(1, "ret/t", b"kept", true);
    let pid = expect_publish(&mut live, "ret/t", b"kept", 1, false);
    live.send(&ack(0x40, pid));

    let mut late = Client::connect(broker.addr, "late");
    late.send(&subscribe(3, &[("ret/t", 1)]));
    late.expect(&suback(3, &[1]));
    expect_publish(&mut late, "ret/t", b"kept", 1, true);
}

/// A retained PUBLISH with an empty payload clears the retained message
/// [MQTT-3.3.1-10, MQTT-3.3.1-11].
#[test]
fn retained_message_cleared_by_empty_payload_mqtt_3_3_1_10() {
    let broker = common::start();
    let mut publ = Client::connect(broker.addr, "clear-pub");
    publ.publish_qos1(1, "ret/clear", b"old", true);
    publ.publish_qos1(2, "ret/clear", b"", true);

    let mut late = Client::connect(broker.addr, "clear-sub");
    late.subscribe(1, "ret/clear", 1);
    late.subscribe(2, "ret/#", 1);
    late.ping();
}

/// Subscribers with `+` and `#` filters receive matching retained messages.
#[test]
fn retained_message_sent_to_wildcard_subscribers() {
    let broker = common::start();
    let mut publ = Client::connect(broker.addr, "wild-pub");
    publ.publish_qos1(1, "home/kitchen/temp", b"21", true);
    publ.publish_qos1(2, "home/hall/temp", b"19", true);

    let mut plus = Client::connect(broker.addr, "plus");
    plus.subscribe(1, "home/+/temp", 0);
    let mut got = [plus.read_publish(), plus.read_publish()];
    got.sort_by(|a, b| a.topic.as_str().cmp(b.topic.as_str()));
    assert_eq!(got[0].topic.as_str(), "home/hall/temp");
    assert_eq!(&got[0].payload[..], b"19");
    assert_eq!(got[1].topic.as_str(), "home/kitchen/temp");
    assert_eq!(&got[1].payload[..], b"21");
    assert!(got.iter().all(|p| p.retain && p.qos as u8 == 0));
    plus.ping();

    let mut hash = Client::connect(broker.addr, "hash");
    hash.subscribe(1, "home/kitchen/#", 0);
    expect_publish(&mut hash, "home/kitchen/temp", b"21", 0, true);
    hash.ping();
}

fn will_client(broker: &common::TestBroker, id: &str, topic: &str, retain: bool) -> Client {
    let mut spec = ConnectSpec::new(id);
    spec.will = Some(WillSpec {
        topic,
        payload: b"last words",
        qos: 1,
        retain,
    });
    Client::connect_with(broker.addr, &spec, CONNACK_ACCEPTED)
}

/// The will is published when the socket closes without DISCONNECT
/// [MQTT-3.1.2-8].
#[test]
fn will_published_on_socket_close_mqtt_3_1_2_8() {
    let broker = common::start();
    let mut watcher = Client::connect(broker.addr, "will-watcher");
    watcher.subscribe(1, "will/close", 1);
    will_client(&broker, "will-close", "will/close", false).drop_connection();
    let pid = expect_publish(&mut watcher, "will/close", b"last words", 1, false);
    watcher.send(&ack(0x40, pid));
    watcher.ping();
}

/// After DISCONNECT the will is discarded, not published [MQTT-3.1.2-10,
/// MQTT-3.14.4-3].
#[test]
fn will_not_published_after_disconnect_mqtt_3_14_4_3() {
    let broker = common::start();
    let mut watcher = Client::connect(broker.addr, "quiet-watcher");
    watcher.subscribe(1, "will/quiet", 1);
    will_client(&broker, "will-quiet", "will/quiet", false).disconnect();
    watcher.ping();
}

/// A will with Will Retain 1 is published as a retained message
/// [MQTT-3.1.2-17]: a later subscriber receives it with RETAIN set.
#[test]
fn will_retain_flag_honoured_mqtt_3_1_2_17() {
    let broker = common::start();
    let mut watcher = Client::connect(broker.addr, "ret-watcher");
    watcher.subscribe(1, "will/ret", 1);
    will_client(&broker, "will-ret", "will/ret", true).drop_connection();
    let pid = expect_publish(&mut watcher, "will/ret", b"last words", 1, false);
    watcher.send(&ack(0x40, pid));

    let mut late = Client::connect(broker.addr, "ret-late");
    late.subscribe(1, "will/ret", 1);
    expect_publish(&mut late, "will/ret", b"last words", 1, true);
}

/// An invalid filter gets 0x80 in its SUBACK slot while the others are
/// granted [MQTT-3.8.4-4, MQTT-3.8.4-5].
#[test]
fn subscribe_invalid_filter_gets_0x80_in_its_slot() {
    let broker = common::start();
    let mut c = Client::connect(broker.addr, "mixed");
    c.send(&subscribe(
        0x0a0b,
        &[("ok/one", 0), ("bad/#/x", 1), ("ok/+", 2), ("bad+", 1)],
    ));
    c.expect(&[0x90, 0x06, 0x0a, 0x0b, 0x00, 0x80, 0x02, 0x80]);
    let mut publ = Client::connect(broker.addr, "mixed-pub");
    publ.send(&publish("ok/one", b"x", 0, false, false, 0));
    expect_publish(&mut c, "ok/one", b"x", 0, false);
    c.ping();
}

/// UNSUBSCRIBE is answered with UNSUBACK `b0 02 id` [MQTT-3.10.4-4] and
/// stops delivery [MQTT-3.10.4-2].
#[test]
fn unsubscribe_gets_unsuback_and_stops_delivery_mqtt_3_10_4_4() {
    let broker = common::start();
    let mut c = Client::connect(broker.addr, "unsub");
    c.subscribe(1, "un/t", 0);
    c.send(&unsubscribe(0x0102, &["un/t"]));
    c.expect(&[0xb0, 0x02, 0x01, 0x02]);
    // Unsubscribing from a filter never subscribed is still acknowledged
    // [MQTT-3.10.4-5].
    c.send(&unsubscribe(3, &["never/subscribed"]));
    c.expect(&[0xb0, 0x02, 0x00, 0x03]);

    let mut publ = Client::connect(broker.addr, "unsub-pub");
    publ.publish_qos1(1, "un/t", b"x", false);
    c.ping();
}

/// Packets written one byte per write are reassembled: CONNECT,
/// SUBSCRIBE, PUBLISH and PINGREQ all answered correctly.
#[test]
fn packets_split_at_every_byte_boundary() {
    let broker = common::start();
    let mut c = Client::open(broker.addr);
    c.send_bytewise(&ConnectSpec::new("bytewise").encode());
    c.expect(CONNACK_ACCEPTED);
    c.send_bytewise(&subscribe(1, &[("split/t", 1)]));
    c.expect(&suback(1, &[1]));
    let payload: Vec<u8> = (0..=255u8).collect();
    c.send_bytewise(&publish("split/t", &payload, 1, false, false, 2));
    c.expect(&ack(0x40, 2));
    let pid = expect_publish(&mut c, "split/t", &payload, 1, false);
    c.send_bytewise(&ack(0x40, pid));
    c.send_bytewise(&[0xc0, 0x00]);
    c.expect(&[0xd0, 0x00]);
}

/// A 1 MB payload reaches three subscribers intact.
#[test]
fn large_payload_delivered_intact_to_three_subscribers() {
    let broker = common::start();
    let payload: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let mut subs: Vec<Client> = (0..3)
        .map(|i| {
            let mut s = Client::connect(broker.addr, &format!("big-sub-{i}"));
            s.subscribe(1, "big/t", 1);
            s
        })
        .collect();
    let mut publ = Client::connect(broker.addr, "big-pub");
    publ.publish_qos1(1, "big/t", &payload, false);
    for s in &mut subs {
        let p = s.read_publish();
        assert_eq!(p.topic.as_str(), "big/t");
        assert_eq!(p.payload.len(), payload.len());
        assert!(p.payload[..] == payload[..], "payload corrupted");
        s.send(&ack(0x40, p.packet_id));
        s.ping();
    }
}
