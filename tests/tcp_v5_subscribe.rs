//! MQTT 5.0 SUBSCRIBE and UNSUBSCRIBE over real TCP, byte for byte against
//! an in-process midge: subscription options, Subscription Identifiers,
//! SUBACK and UNSUBACK reason codes, and shared subscriptions.

pub mod common;

use common::v5::{id, options, publish5, rc, suback5, subscribe5, unsubscribe5, Props};
use common::Client;

/// Publishes a retained QoS 0 message from a fresh v5 client and waits
/// until the broker has handled it.
fn retain(broker: &common::TestBroker, topic: &str, payload: &[u8]) {
    let mut publ = Client::connect5(broker.addr, "retainer");
    publ.send(&publish5(topic, payload, 0, true, 0, &Props::new()));
    publ.ping();
    publ.disconnect5();
}

// ---- Subscription options ----

/// No Local: a client's own message is not sent back to it on a No Local
/// subscription [MQTT-3.8.3-3]; another subscriber still gets it.
#[test]
fn no_local_message_not_sent_back_to_its_publisher_mqtt_3_8_3_3() {
    let broker = common::start();
    let mut me = Client::connect5(broker.addr, "no-local");
    me.subscribe5(1, "nl/t", options(0, true, false, 0));
    let mut other = Client::connect5(broker.addr, "no-local-other");
    other.subscribe5(1, "nl/t", 0);
    me.send(&publish5("nl/t", b"mine", 0, false, 0, &Props::new()));
    me.ping();
    other.expect_publish5("nl/t", b"mine", 0, false, &Props::new());
    other.ping();
}

/// Retain As Published 1 forwards the RETAIN flag as published
/// [MQTT-3.3.1-13]; 0 clears it on a live delivery [MQTT-3.3.1-12].
#[test]
fn retain_as_published_keeps_the_retain_flag_mqtt_3_3_1_13() {
    let broker = common::start();
    let mut rap = Client::connect5(broker.addr, "rap-1");
    rap.subscribe5(1, "rap/t", options(0, false, true, 0));
    let mut plain = Client::connect5(broker.addr, "rap-0");
    plain.subscribe5(1, "rap/t", options(0, false, false, 0));
    retain(&broker, "rap/t", b"flagged");
    rap.expect_publish5("rap/t", b"flagged", 0, true, &Props::new());
    plain.expect_publish5("rap/t", b"flagged", 0, false, &Props::new());
    rap.ping();
    plain.ping();
}

/// Retain Handling 2: no retained message is sent when the subscription
/// is made [MQTT-3.3.1-11], where Retain Handling 0 sends it with RETAIN 1.
#[test]
fn retain_handling_2_sends_no_retained_message_mqtt_3_3_1_11() {
    let broker = common::start();
    retain(&broker, "rh/t", b"kept");
    let mut never = Client::connect5(broker.addr, "rh-2");
    never.subscribe5(1, "rh/t", options(0, false, false, 2));
    never.ping();
    let mut always = Client::connect5(broker.addr, "rh-0");
    always.subscribe5(1, "rh/t", options(0, false, false, 0));
    always.expect_publish5("rh/t", b"kept", 0, true, &Props::new());
    always.ping();
}

/// Retain Handling 1: the retained message is sent for a new subscription,
/// not when the same filter is subscribed again [MQTT-3.3.1-10].
#[test]
fn retain_handling_1_sends_retained_only_for_a_new_subscription_mqtt_3_3_1_10() {
    let broker = common::start();
    retain(&broker, "rh1/t", b"kept");
    let mut c = Client::connect5(broker.addr, "rh-1");
    c.subscribe5(1, "rh1/t", options(0, false, false, 1));
    c.expect_publish5("rh1/t", b"kept", 0, true, &Props::new());
    c.subscribe5(2, "rh1/t", options(0, false, false, 1));
    c.ping();
}

/// A subscription made with Subscription Identifier 300 (two bytes as a
/// Variable Byte Integer, `ac 02`) delivers with that identifier
/// [MQTT-3.3.4-3].
#[test]
fn subscription_identifier_sent_with_the_message_mqtt_3_3_4_3() {
    let broker = common::start();
    let mut sub = Client::connect5(broker.addr, "sub-id");
    let sub_id = Props::new().subscription_identifier(300);
    sub.send(&subscribe5(1, &sub_id, &[("sid/t", 0)]));
    sub.expect(&suback5(1, &[0]));
    let mut publ = Client::connect5(broker.addr, "sub-id-pub");
    publ.send(&publish5("sid/t", b"x", 0, false, 0, &Props::new()));
    sub.expect(&[
        0x30, 0x0c, 0x00, 0x05, b's', b'i', b'd', b'/', b't', 0x03, 0x0b, 0xac, 0x02, b'x',
    ]);
    sub.ping();
}

/// Two overlapping subscriptions with identifiers 7 and 9: one PUBLISH
/// carrying both identifiers, in either order [MQTT-3.3.4-4], at the
/// higher granted QoS [MQTT-3.3.4-2].
#[test]
fn overlapping_subscriptions_deliver_once_with_both_identifiers_mqtt_3_3_4_4() {
    let broker = common::start();
    let mut sub = Client::connect5(broker.addr, "overlap");
    let seven = Props::new().subscription_identifier(7);
    sub.send(&subscribe5(1, &seven, &[("ov/+", 0)]));
    sub.expect(&suback5(1, &[0]));
    let nine = Props::new().subscription_identifier(9);
    sub.send(&subscribe5(2, &nine, &[("ov/#", 1)]));
    sub.expect(&suback5(2, &[1]));
    let mut publ = Client::connect5(broker.addr, "overlap-pub");
    publ.send(&publish5("ov/a", b"x", 1, false, 1, &Props::new()));
    publ.expect(&[0x40, 0x02, 0x00, 0x01]);

    let raw = sub.read_packet();
    let got = common::v5::parse_publish5(&raw);
    let mut ids: Vec<Vec<u8>> = got
        .properties
        .iter()
        .map(|(pid, v)| {
            assert_eq!(
                *pid,
                id::SUBSCRIPTION_IDENTIFIER,
                "in {}",
                common::hex(&raw)
            );
            v.clone()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, [[7], [9]], "identifiers in {}", common::hex(&raw));
    let mut expected = Props::new();
    for (pid, v) in &got.properties {
        expected = expected.byte(*pid, v[0]);
    }
    assert_eq!(
        common::hex(&raw),
        common::hex(&publish5("ov/a", b"x", 1, false, got.pid, &expected)),
        "PUBLISH delivered"
    );
    sub.send(&common::ack(0x40, got.pid));
    sub.ping();
}

// ---- SUBACK and UNSUBACK reason codes ----

/// An invalid filter gets 0x8F (Topic Filter invalid) in its SUBACK slot;
/// the valid filter of the same SUBSCRIBE is granted.
#[test]
fn suback_0x8f_for_an_invalid_filter() {
    let broker = common::start();
    let mut c = Client::connect5(broker.addr, "bad-filter");
    c.send(&subscribe5(
        0x0102,
        &Props::new(),
        &[("ok/t", 1), ("a/#/b", 0)],
    ));
    c.expect(&[0x90, 0x05, 0x01, 0x02, 0x00, 0x01, rc::TOPIC_FILTER_INVALID]);
    c.ping();
}

/// UNSUBACK: 0x00 for a subscription removed, 0x11 (No subscription
/// existed) for a filter never subscribed.
#[test]
fn unsuback_0x11_for_a_filter_never_subscribed() {
    let broker = common::start();
    let mut c = Client::connect5(broker.addr, "unsub5");
    c.subscribe5(1, "un/t", 0);
    c.send(&unsubscribe5(2, &["un/t", "never/subscribed"]));
    c.expect(&[
        0xb0,
        0x05,
        0x00,
        0x02,
        0x00,
        rc::SUCCESS,
        rc::NO_SUBSCRIPTION_EXISTED,
    ]);
    c.ping();
}

// ---- Shared subscriptions ----

/// Two members of `$share/g/sh/t`: four messages, two to each, taking
/// turns; each arrives on its own topic, not the share filter.
#[test]
fn shared_subscription_members_take_turns() {
    let broker = common::start();
    let mut a = Client::connect5(broker.addr, "share-a");
    a.subscribe5(1, "$share/g/sh/t", 0);
    let mut b = Client::connect5(broker.addr, "share-b");
    b.subscribe5(1, "$share/g/sh/t", 0);
    let mut publ = Client::connect5(broker.addr, "share-pub");
    for payload in [b"1", b"2", b"3", b"4"] {
        publ.send(&publish5("sh/t", payload, 0, false, 0, &Props::new()));
    }
    publ.ping();

    let mut got = Vec::new();
    for member in [&mut a, &mut b] {
        let mut mine = Vec::new();
        for _ in 0..2 {
            let raw = member.read_packet();
            let p = common::v5::parse_publish5(&raw);
            assert_eq!(
                common::hex(&raw),
                common::hex(&publish5("sh/t", &p.payload, 0, false, 0, &Props::new())),
                "PUBLISH delivered"
            );
            mine.push(p.payload);
        }
        member.ping();
        got.push(mine);
    }
    let (odd, even) = (
        vec![b"1".to_vec(), b"3".to_vec()],
        vec![b"2".to_vec(), b"4".to_vec()],
    );
    assert!(
        (got[0] == odd && got[1] == even) || (got[0] == even && got[1] == odd),
        "members got {got:?}, expected alternate messages"
    );
}

/// A shared subscription gets no retained message when it is made (only
/// a new non-shared subscription does, section 3.3.1.3).
#[test]
fn shared_subscription_gets_no_retained_message_on_joining() {
    let broker = common::start();
    retain(&broker, "shr/t", b"kept");
    let mut member = Client::connect5(broker.addr, "share-late");
    member.subscribe5(1, "$share/g/shr/t", 0);
    member.ping();
    let mut plain = Client::connect5(broker.addr, "share-plain");
    plain.subscribe5(1, "shr/t", 0);
    plain.expect_publish5("shr/t", b"kept", 0, true, &Props::new());
}
