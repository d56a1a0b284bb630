//! MQTT 5 CONNACK: its properties in the order Mosquitto 2.0.11 writes
//! them (measured against Debian's mosquitto 2.0.11, whole CONNACKs in
//! hex), so a client sees the same bytes from either broker, and its short
//! forms. Each is a fixture: decoded, encoded back to the same bytes,
//! framed at every split.

use bytes::Bytes;

use super::properties::Properties;
use super::tests::{cat, enc, fixture, s};
use super::types::*;

use Protocol::V5;

fn connack(session_present: bool, code: u8, properties: Properties) -> Packet {
    Packet::ConnAck(ConnAck {
        session_present,
        code,
        properties,
    })
}

// ------------------------------------------- CONNACK as Mosquitto writes it

/// The identifier Mosquitto assigns is `auto-` and a random 36-character
/// UUID: 41 bytes, hence its length 0x0029. This one stands for it.
const ASSIGNED: &[u8] = b"auto-3529E745-5DAC-2161-6879-2A29587BB470";

#[test]
fn connack_default_config_is_mosquittos_topic_alias_maximum_then_receive_maximum() {
    fixture(
        b"\x20\x09\x00\x00\x06\x22\x00\x0a\x21\x00\x14",
        V5,
        connack(
            false,
            reason::SUCCESS,
            Properties {
                topic_alias_maximum: Some(10),
                receive_maximum: Some(20),
                ..Properties::default()
            },
        ),
    );
}

#[test]
fn connack_assigned_client_identifier_sits_between_alias_and_receive_maximum() {
    assert_eq!(ASSIGNED.len(), 0x29);
    let wire = cat(&[
        b"\x20\x35\x00\x00\x32\x22\x00\x0a\x12\x00\x29",
        ASSIGNED,
        b"\x21\x00\x14",
    ]);
    fixture(
        &wire,
        V5,
        connack(
            false,
            reason::SUCCESS,
            Properties {
                topic_alias_maximum: Some(10),
                assigned_client_identifier: Some(
                    ByteStr::from_utf8(Bytes::from(ASSIGNED)).unwrap(),
                ),
                receive_maximum: Some(20),
                ..Properties::default()
            },
        ),
    );
}

#[test]
fn connack_server_keep_alive_follows_topic_alias_maximum() {
    fixture(
        b"\x20\x0c\x00\x00\x09\x22\x00\x0a\x13\xff\xff\x21\x00\x14",
        V5,
        connack(
            false,
            reason::SUCCESS,
            Properties {
                topic_alias_maximum: Some(10),
                server_keep_alive: Some(0xFFFF),
                receive_maximum: Some(20),
                ..Properties::default()
            },
        ),
    );
}

#[test]
fn connack_with_every_limit_configured_is_in_mosquittos_order() {
    // max_keepalive 30, max_packet_size 5000, retain_available false,
    // max_inflight_messages 7, max_topic_alias 3, max_qos 1, empty id.
    let wire = cat(&[
        b"\x20\x41\x00\x00\x3e",
        b"\x22\x00\x03",
        b"\x13\x00\x1e",
        b"\x12\x00\x29",
        ASSIGNED,
        b"\x25\x00",
        b"\x27\x00\x00\x13\x88",
        b"\x21\x00\x07",
        b"\x24\x01",
    ]);
    fixture(
        &wire,
        V5,
        connack(
            false,
            reason::SUCCESS,
            Properties {
                topic_alias_maximum: Some(3),
                server_keep_alive: Some(30),
                assigned_client_identifier: Some(
                    ByteStr::from_utf8(Bytes::from(ASSIGNED)).unwrap(),
                ),
                retain_available: Some(0),
                maximum_packet_size: Some(5000),
                receive_maximum: Some(7),
                maximum_qos: Some(1),
                ..Properties::default()
            },
        ),
    );
}

#[test]
fn connack_writes_authentication_after_the_identifier_and_the_rest_after_maximum_qos() {
    let wire = cat(&[
        b"\x20\x3f\x01\x00\x3c",
        b"\x22\x00\x01",
        b"\x13\x00\x02",
        b"\x12\x00\x01a",
        b"\x15\x00\x01m",
        b"\x16\x00\x01d",
        b"\x25\x01",
        b"\x27\x00\x00\x04\x00",
        b"\x21\x00\x03",
        b"\x24\x00",
        b"\x11\x00\x00\x00\x04",
        b"\x1a\x00\x01r",
        b"\x1c\x00\x01s",
        b"\x1f\x00\x01x",
        b"\x28\x00",
        b"\x29\x01",
        b"\x2a\x00",
        b"\x26\x00\x01k\x00\x01v",
    ]);
    fixture(
        &wire,
        V5,
        connack(
            true,
            reason::SUCCESS,
            Properties {
                topic_alias_maximum: Some(1),
                server_keep_alive: Some(2),
                assigned_client_identifier: Some(s("a")),
                authentication_method: Some(s("m")),
                authentication_data: Some(Bytes::from_static(b"d")),
                retain_available: Some(1),
                maximum_packet_size: Some(1024),
                receive_maximum: Some(3),
                maximum_qos: Some(0),
                session_expiry: Some(4),
                response_information: Some(s("r")),
                server_reference: Some(s("s")),
                reason_string: Some(s("x")),
                wildcard_subscription_available: Some(0),
                subscription_identifier_available: Some(1),
                shared_subscription_available: Some(0),
                user: vec![(s("k"), s("v"))],
                ..Properties::default()
            },
        ),
    );
}

#[test]
fn connack_writer_leaves_out_properties_connack_does_not_allow() {
    let ack = connack(
        false,
        reason::SUCCESS,
        Properties {
            receive_maximum: Some(20),
            request_problem_information: Some(0),
            request_response_information: Some(1),
            subscription_identifier: Some(5),
            ..Properties::default()
        },
    );
    assert_eq!(enc(&ack, V5), b"\x20\x06\x00\x00\x03\x21\x00\x14");
}

#[test]
fn connack_5_short_forms_and_a_refusal_with_reason_string() {
    fixture(
        b"\x20\x03\x00\x00\x00",
        V5,
        Packet::ConnAck(ConnAck::default()),
    );
    fixture(
        b"\x20\x03\x01\x00\x00",
        V5,
        connack(true, reason::SUCCESS, Properties::default()),
    );
    fixture(
        b"\x20\x08\x00\x87\x05\x1f\x00\x02no",
        V5,
        connack(
            false,
            reason::NOT_AUTHORIZED,
            Properties {
                reason_string: Some(s("no")),
                ..Properties::default()
            },
        ),
    );
}
