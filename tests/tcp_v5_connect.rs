//! MQTT 5.0 CONNECT, CONNACK, sessions, DISCONNECT and take-over over real
//! TCP, byte for byte against an in-process midge. Every packet sent is
//! built by hand in `common::v5`.

pub mod common;

use common::v5::{disconnect5, id, parse_connack5, publish5, rc, Props, V5ConnectSpec, V5Will};
use common::{ack, Client, ConnectSpec, CONNACK_ACCEPTED};

/// A v5 CONNECT that keeps its session for 60 s after the connection ends.
fn persistent5(client_id: &str, clean_start: bool) -> V5ConnectSpec<'_> {
    let mut spec = V5ConnectSpec::new(client_id);
    spec.clean_start = clean_start;
    spec.properties = Props::new().session_expiry(60);
    spec
}

/// With the default configuration the CONNACK is exactly what Mosquitto
/// 2.0.11 sends: Session Present 0, reason 0, and the properties Topic
/// Alias Maximum 10 then Receive Maximum 20 (`max_inflight_messages`).
#[test]
fn connack_for_the_default_config_is_exactly_mosquittos() {
    let broker = common::start();
    let mut c = Client::open(broker.addr);
    c.send(&V5ConnectSpec::new("exact5").encode());
    c.expect(&[
        0x20, 0x09, 0x00, 0x00, 0x06, 0x22, 0x00, 0x0a, 0x21, 0x00, 0x14,
    ]);
    c.ping();
}

/// Keep-alive 0 is answered with Server Keep Alive 65535 (`max_keepalive`),
/// between the other two properties, as Mosquitto 2.0.11 does.
#[test]
fn connack_for_keep_alive_0_carries_server_keep_alive_65535() {
    let broker = common::start();
    let mut spec = V5ConnectSpec::new("ka0");
    spec.keep_alive = 0;
    let mut c = Client::open(broker.addr);
    c.send(&spec.encode());
    c.expect(&[
        0x20, 0x0c, 0x00, 0x00, 0x09, 0x22, 0x00, 0x0a, 0x13, 0xff, 0xff, 0x21, 0x00, 0x14,
    ]);
    c.ping();
}

/// An empty client id is given one, returned as Assigned Client Identifier
/// [MQTT-3.1.3-7] between Topic Alias Maximum and Receive Maximum; the
/// connection then is that client [MQTT-3.1.3-6]: a second connection
/// with the assigned id takes it over.
#[test]
fn empty_client_id_gets_an_assigned_client_identifier_mqtt_3_1_3_7() {
    let broker = common::start();
    let (mut first, ack) = Client::connect5_raw(broker.addr, &V5ConnectSpec::new(""));
    assert_eq!(ack.code, rc::SUCCESS);
    assert!(!ack.session_present);
    assert_eq!(ack.value(id::TOPIC_ALIAS_MAXIMUM), [0x00, 0x0a]);
    assert_eq!(ack.value(id::RECEIVE_MAXIMUM), [0x00, 0x14]);
    let raw_id = ack.value(id::ASSIGNED_CLIENT_IDENTIFIER);
    let assigned = std::str::from_utf8(&raw_id[2..]).expect("a UTF-8 client id");
    assert!(!assigned.is_empty(), "an empty Assigned Client Identifier");

    let mut second = Client::connect5(broker.addr, assigned);
    first.expect_disconnect5(rc::SESSION_TAKEN_OVER);
    second.ping();

    // Mosquitto 2.0.11's order, as in the CONNACKs above.
    assert_eq!(
        ack.ids(),
        [
            id::TOPIC_ALIAS_MAXIMUM,
            id::ASSIGNED_CLIENT_IDENTIFIER,
            id::RECEIVE_MAXIMUM
        ],
        "property order of {ack:?}"
    );
}

/// With a Session Expiry Interval above 0 the session outlives the
/// connection [MQTT-3.1.2-23]: Clean Start 0 resumes it with Session
/// Present 1 [MQTT-3.2.2-3], subscriptions included.
#[test]
fn session_present_after_resume_with_session_expiry_mqtt_3_2_2_3() {
    let broker = common::start();
    let mut c = Client::connect5_with(broker.addr, &persistent5("resume5", true), false);
    c.subscribe5(1, "resume/t", 0);
    c.disconnect5();

    let (mut c, ack) = Client::connect5_raw(broker.addr, &persistent5("resume5", false));
    assert_eq!(ack.code, rc::SUCCESS);
    assert!(ack.session_present, "session not resumed: {ack:?}");
    let mut publ = Client::connect5(broker.addr, "resume-pub");
    publ.send(&publish5("resume/t", b"still", 0, false, 0, &Props::new()));
    c.expect_publish5("resume/t", b"still", 0, false, &Props::new());
    c.ping();
}

/// Without a Session Expiry Interval (0) the session ends with the
/// connection: Clean Start 0 afterwards finds none.
#[test]
fn session_expiry_0_ends_the_session_with_the_connection() {
    let broker = common::start();
    let mut c = Client::connect5(broker.addr, "brief5");
    c.subscribe5(1, "brief/t", 0);
    c.disconnect5();

    let mut spec = V5ConnectSpec::new("brief5");
    spec.clean_start = false;
    let mut c = Client::connect5_with(broker.addr, &spec, false);
    let mut publ = Client::connect5(broker.addr, "brief-pub");
    publ.send(&publish5("brief/t", b"gone", 0, false, 0, &Props::new()));
    publ.ping();
    c.ping();
}

/// An Authentication Method midge does not support gets CONNACK 0x8C and
/// the connection is closed [MQTT-4.12.0-1].
#[test]
fn authentication_method_gets_connack_0x8c_and_close_mqtt_4_12_0_1() {
    let broker = common::start();
    let mut spec = V5ConnectSpec::new("auth5");
    spec.properties = Props::new().authentication_method("SCRAM-SHA-1");
    let mut c = Client::open(broker.addr);
    c.send(&spec.encode());
    c.expect_connack5_refused(rc::BAD_AUTHENTICATION_METHOD);
}

/// Session Expiry Interval twice is a Protocol Error (section 3.1.2.11.2):
/// the CONNECT does not match section 3.1, so the connection is closed
/// [MQTT-3.1.4-1]. Before closing the server may send a CONNACK with 0x82
/// (section 4.13.1), but never DISCONNECT, which needs a successful
/// CONNACK first [MQTT-3.14.0-1].
#[test]
fn duplicate_property_in_connect_closes_mqtt_3_1_4_1() {
    let broker = common::start();
    let mut spec = V5ConnectSpec::new("dup-prop");
    spec.properties = Props::new().session_expiry(10).session_expiry(10);
    let mut c = Client::open(broker.addr);
    c.send(&spec.encode());
    if let Some(raw) = c.read_packet_or_close() {
        let ack = parse_connack5(&raw);
        assert_eq!(ack.code, rc::PROTOCOL_ERROR, "{ack:?}");
        assert!(!ack.session_present);
        c.expect_closed();
    }
}

/// A will topic with a wildcard is no Topic Name [MQTT-4.7.0-1]: CONNACK
/// 0x90 (Topic Name invalid), then the connection is closed.
#[test]
fn will_topic_with_a_wildcard_gets_connack_0x90() {
    let broker = common::start();
    let mut spec = V5ConnectSpec::new("bad-will");
    spec.will = Some(V5Will {
        properties: Props::new(),
        topic: "will/#",
        payload: b"x",
        qos: 0,
        retain: false,
    });
    let mut c = Client::open(broker.addr);
    c.send(&spec.encode());
    c.expect_connack5_refused(rc::TOPIC_NAME_INVALID);
}

/// A client with a will on `topic`, connected with Clean Start 1.
fn will_client(broker: &common::TestBroker, client_id: &str, topic: &str) -> Client {
    let mut spec = V5ConnectSpec::new(client_id);
    spec.will = Some(V5Will {
        properties: Props::new(),
        topic,
        payload: b"bye",
        qos: 0,
        retain: false,
    });
    Client::connect5_with(broker.addr, &spec, false)
}

/// DISCONNECT with reason 0x04 (Disconnect with Will Message) ends the
/// connection and publishes the will.
#[test]
fn disconnect_with_0x04_publishes_the_will() {
    let broker = common::start();
    let mut watcher = Client::connect5(broker.addr, "will-watcher");
    watcher.subscribe5(1, "will5/t", 0);
    let mut c = will_client(&broker, "will-sender", "will5/t");
    c.send(&disconnect5(rc::DISCONNECT_WITH_WILL, &Props::new()));
    c.expect_closed();
    watcher.expect_publish5("will5/t", b"bye", 0, false, &Props::new());
    watcher.ping();
}

/// DISCONNECT with reason 0 deletes the will unpublished [MQTT-3.1.2-10].
#[test]
fn normal_disconnect_discards_the_will_mqtt_3_1_2_10() {
    let broker = common::start();
    let mut watcher = Client::connect5(broker.addr, "quiet-watcher");
    watcher.subscribe5(1, "will5/q", 0);
    will_client(&broker, "quiet-sender", "will5/q").disconnect5();
    watcher.ping();
}

/// A DISCONNECT setting a Session Expiry Interval after CONNECT set 0 is a
/// Protocol Error (section 3.14.2.2.2): the server answers DISCONNECT 0x82,
/// which carries no Session Expiry Interval [MQTT-3.14.2-2], and closes;
/// the invalid DISCONNECT changed nothing, so no session was kept.
#[test]
fn disconnect_setting_session_expiry_after_0_gets_disconnect_0x82_mqtt_3_14_2_2() {
    let broker = common::start();
    let mut c = Client::connect5(broker.addr, "sei-zero");
    c.subscribe5(1, "sei/t", 1);
    c.send(&disconnect5(0x00, &Props::new().session_expiry(60)));
    c.expect_disconnect5(rc::PROTOCOL_ERROR);

    let c = Client::connect5_with(broker.addr, &persistent5("sei-zero", false), false);
    c.disconnect5();
}

/// A second connection with the same client id: the first, an MQTT 5.0
/// connection, gets DISCONNECT 0x8E (Session taken over) and is closed
/// [MQTT-3.1.4-3].
#[test]
fn take_over_sends_disconnect_0x8e_to_the_old_connection_mqtt_3_1_4_3() {
    let broker = common::start();
    let mut old = Client::connect5(broker.addr, "twice5");
    let mut new = Client::connect5(broker.addr, "twice5");
    old.expect_disconnect5(rc::SESSION_TAKEN_OVER);
    new.ping();
}

/// A v5 client with Clean Start 0 takes over the persistent session of a
/// connected 3.1.1 client with the same id: Session Present 1
/// [MQTT-3.1.2-5], the 3.1.1 connection is closed (3.1.1 has no
/// DISCONNECT from the server), and the 3.1.1 subscription now delivers in
/// the 5.0 form.
#[test]
fn v5_client_takes_over_a_persistent_3_1_1_session_mqtt_3_1_2_5() {
    let broker = common::start();
    let mut spec = ConnectSpec::new("mixed-id");
    spec.clean = false;
    let mut old = Client::connect_with(broker.addr, &spec, CONNACK_ACCEPTED);
    old.subscribe(1, "mixed/t", 1);

    let mut new = Client::connect5_with(broker.addr, &persistent5("mixed-id", false), true);
    old.expect_closed();

    let mut publ = Client::connect(broker.addr, "mixed-pub");
    publ.publish_qos1(1, "mixed/t", b"to five", false);
    let pid = new.expect_publish5("mixed/t", b"to five", 1, false, &Props::new());
    new.send(&ack(0x40, pid));
    new.ping();
}

/// A 3.1.1 clean session leaves nothing to resume: the v5 client taking
/// over with Clean Start 0 gets Session Present 0.
#[test]
fn v5_client_taking_over_a_clean_3_1_1_session_finds_none() {
    let broker = common::start();
    let mut old = Client::connect(broker.addr, "mixed-clean");
    old.subscribe(1, "mixed/c", 0);

    let mut new = Client::connect5_with(broker.addr, &persistent5("mixed-clean", false), false);
    old.expect_closed();
    let mut publ = Client::connect(broker.addr, "mixed-clean-pub");
    publ.publish_qos1(1, "mixed/c", b"nobody", false);
    new.ping();
}
