//! Persistent sessions over real TCP: messages queued while the client is
//! away, and unacknowledged messages re-sent on reconnect.

pub mod common;

use common::{ack, Client, ConnectSpec, CONNACK_ACCEPTED, CONNACK_SESSION_PRESENT};

fn persistent(client_id: &str) -> ConnectSpec<'_> {
    let mut spec = ConnectSpec::new(client_id);
    spec.clean = false;
    spec
}

/// QoS 1 messages published while a persistent (clean session 0) client
/// is away are stored and delivered when it reconnects [MQTT-3.1.2-5,
/// MQTT-4.4.0-1]; the subscription survives the disconnect.
#[test]
fn queued_message_delivered_on_reconnect_mqtt_3_1_2_5() {
    let broker = common::start();
    let spec = persistent("away");
    let mut sub = Client::connect_with(broker.addr, &spec, CONNACK_ACCEPTED);
    sub.subscribe(1, "sess/t", 1);
    sub.disconnect();

    let mut publ = Client::connect(broker.addr, "sess-pub");
    publ.publish_qos1(1, "sess/t", b"while away 1", false);
    publ.publish_qos1(2, "sess/t", b"while away 2", false);
    // QoS 0 is not queued for an offline client (queue_qos0_messages off).
    publ.send(&common::publish("sess/t", b"qos0", 0, false, false, 0));
    publ.ping();

    let mut sub = Client::connect_with(broker.addr, &spec, CONNACK_SESSION_PRESENT);
    for expected in [&b"while away 1"[..], b"while away 2"] {
        let p = sub.read_publish();
        assert_eq!(p.topic.as_str(), "sess/t");
        assert_eq!(&p.payload[..], expected);
        assert_eq!(p.qos as u8, 1);
        assert!(!p.dup, "a first delivery has DUP 0");
        sub.send(&ack(0x40, p.packet_id));
    }
    sub.ping();

    // The subscription is still there.
    publ.publish_qos1(3, "sess/t", b"live", false);
    let p = sub.read_publish();
    assert_eq!(&p.payload[..], b"live");
}

/// A QoS 1 message the client did not acknowledge is re-sent on reconnect
/// with DUP set and the same packet id [MQTT-4.4.0-1, MQTT-3.3.1-1].
#[test]
fn unacknowledged_qos1_resent_with_dup_and_same_id_mqtt_4_4_0_1() {
    let broker = common::start();
    let spec = persistent("forgetful");
    let mut sub = Client::connect_with(broker.addr, &spec, CONNACK_ACCEPTED);
    sub.subscribe(1, "resend/t", 1);
    let mut publ = Client::connect(broker.addr, "resend-pub");
    publ.publish_qos1(1, "resend/t", b"ack me", false);
    let first = sub.read_packet();
    let original = sub_packet_id(&first);
    assert_eq!(first[0], 0x32, "QoS 1, DUP 0, RETAIN 0");
    sub.disconnect();

    let mut sub = Client::connect_with(broker.addr, &spec, CONNACK_SESSION_PRESENT);
    let again = sub.read_packet();
    assert_eq!(again[0], 0x3a, "QoS 1 with DUP set");
    assert_eq!(
        common::hex(&again[1..]),
        common::hex(&first[1..]),
        "same topic, packet id {original} and payload"
    );
    sub.send(&ack(0x40, original));
    sub.ping();

    // Once acknowledged it is not re-sent again.
    sub.disconnect();
    let mut sub = Client::connect_with(broker.addr, &spec, CONNACK_SESSION_PRESENT);
    sub.ping();
}

/// The packet id of a hand-parsed QoS 1 PUBLISH with a short topic.
fn sub_packet_id(raw: &[u8]) -> u16 {
    // Header byte, one-byte remaining length, topic length, topic, id.
    let topic_len = usize::from(u16::from_be_bytes([raw[2], raw[3]]));
    u16::from_be_bytes([raw[4 + topic_len], raw[5 + topic_len]])
}
