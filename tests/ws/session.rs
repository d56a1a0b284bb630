//! MQTT through WebSocket frames: whatever the framing, the broker sees
//! the same packets, and a plain TCP client exchanges messages with a
//! WebSocket one.

use std::io::Write;
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::client::{expect_eof, masked, WsClient, BINARY, CLOSE, CONTINUATION, PING, PONG};
use crate::common::{self, publish, suback, subscribe, Client, ConnectSpec, CONNACK_ACCEPTED};
use crate::WsBroker;

#[test]
fn websocket_and_plain_clients_exchange_messages_both_ways() {
    let broker = WsBroker::start();
    let mut ws = broker.connected("ws-sub");
    ws.send(&subscribe(1, &[("t/#", 1)]));
    ws.expect(&suback(1, &[1]));
    let mut plain = Client::connect(broker.plain, "plain");
    plain.subscribe(1, "back", 0);
    plain.publish_qos1(2, "t/1", b"to the browser", false);
    let got = ws.read_packet();
    assert_eq!(got[0] & 0xf0, 0x30, "a PUBLISH: {got:02x?}");
    assert!(got.ends_with(b"to the browser"));
    ws.send(&publish("back", b"from the browser", 0, false, false, 0));
    assert_eq!(plain.read_publish().payload.as_ref(), b"from the browser");
}

#[test]
fn no_subprotocol_offered_is_served_without_one_and_mqttv31_is_echoed() {
    let broker = WsBroker::start();
    let (_, head) = WsClient::upgrade(broker.tcp(), None);
    assert!(!head.contains("Sec-WebSocket-Protocol"), "{head:?}");
    let (_, head) = WsClient::upgrade(broker.tcp(), Some("foo, mqttv3.1"));
    assert!(
        head.contains("\r\nSec-WebSocket-Protocol: mqttv3.1\r\n"),
        "{head:?}"
    );
}

#[test]
fn a_packet_split_over_fragments_and_packets_sharing_a_frame_are_read() {
    let broker = WsBroker::start();
    let mut ws = broker.ws();
    let connect = ConnectSpec::new("frag").encode();
    let (a, b) = connect.split_at(5);
    let (b, c) = b.split_at(3);
    // A fragmented message with a ping between its fragments, and an
    // empty continuation.
    let mut wire = masked(BINARY, false, a);
    wire.extend(masked(PING, true, b"mid"));
    wire.extend(masked(CONTINUATION, false, b));
    wire.extend(masked(CONTINUATION, false, b""));
    wire.extend(masked(CONTINUATION, true, c));
    ws.send_raw(&wire);
    let pong = ws.read_frame();
    assert_eq!((pong.opcode, pong.payload.as_slice()), (PONG, &b"mid"[..]));
    ws.expect(CONNACK_ACCEPTED);
    // Two packets in one frame, then one packet over two frames.
    let two = [common::pingreq(), common::pingreq()].concat();
    ws.send(&two);
    ws.expect(&[0xd0, 0x00]);
    ws.expect(&[0xd0, 0x00]);
    let ping = common::pingreq();
    ws.send(&ping[..1]);
    ws.send(&ping[1..]);
    ws.expect(&[0xd0, 0x00]);
}

#[test]
fn frames_written_one_byte_at_a_time_are_read() {
    let broker = WsBroker::start();
    let mut ws = broker.ws();
    let wire = masked(BINARY, true, &ConnectSpec::new("bytewise").encode());
    for b in &wire {
        ws.send_raw(&[*b]);
    }
    ws.expect(CONNACK_ACCEPTED);
}

#[test]
fn a_ping_is_answered_with_a_pong_carrying_its_payload() {
    let broker = WsBroker::start();
    let mut ws = broker.connected("pinger");
    ws.send_raw(&masked(PING, true, b"are you there"));
    let pong = ws.read_frame();
    assert!(pong.fin);
    assert_eq!(pong.opcode, PONG);
    assert_eq!(pong.payload, b"are you there");
    // MQTT goes on after it.
    ws.send(&common::pingreq());
    ws.expect(&[0xd0, 0x00]);
}

#[test]
fn a_close_frame_is_echoed_and_the_connection_ends() {
    let broker = WsBroker::start();
    let mut ws = broker.connected("closer");
    ws.send_raw(&masked(CLOSE, true, &[0x03, 0xe8, b'b', b'y', b'e']));
    let close = ws.read_frame();
    assert_eq!(close.opcode, CLOSE);
    assert_eq!(close.payload, [0x03, 0xe8]);
    expect_eof(&mut ws.stream);
}

#[test]
fn the_broker_ending_a_session_sends_a_close_frame() {
    let broker = WsBroker::start();
    let mut ws = broker.connected("leaver");
    ws.send(&[0xe0, 0x00]);
    ws.expect_close(1000);
}

#[test]
fn a_message_larger_than_the_socket_buffers_arrives_whole() {
    let broker = WsBroker::start();
    let mut ws = broker.connected("big-sub");
    ws.send(&subscribe(1, &[("big", 0)]));
    ws.expect(&suback(1, &[0]));
    let payload: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut plain = Client::connect(broker.plain, "big-pub");
    plain.publish_qos1(1, "big", &payload, false);
    // The broker meets a full socket and must finish the frame it began.
    sleep(Duration::from_millis(200));
    let got = ws.read_packet();
    assert!(got.ends_with(&payload), "{} bytes", got.len());
    ws.send(&common::pingreq());
    ws.expect(&[0xd0, 0x00]);
}

#[test]
fn a_client_that_upgrades_and_hangs_up_is_let_go() {
    let broker = WsBroker::start();
    let mut ws = broker.ws();
    ws.stream.shutdown(std::net::Shutdown::Write).unwrap();
    ws.expect_close(1000);
    // The broker still serves others.
    broker.connected("after");
}

/// A client that never finishes the upgrade request, and one that
/// upgrades and never sends CONNECT, are closed by the broker's 10 s
/// CONNECT timeout (the upgraded one after a close frame); others are
/// served meanwhile.
#[test]
fn an_unfinished_upgrade_or_a_silent_upgraded_client_meets_the_connect_timeout() {
    let broker = WsBroker::start();
    let started = Instant::now();
    let mut half = broker.tcp();
    half.write_all(b"GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    let mut silent = broker.ws();
    broker.connected("meanwhile");
    half.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    expect_eof(&mut half);
    silent
        .stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    silent.expect_close(1000);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(14),
        "closed after {waited:?}, not by the 10 s CONNECT timeout"
    );
}
