//! wss: the WebSocket layer over TLS on a listener with certificates and
//! `protocol websockets`; MQTT goes both ways with a plain TCP client, and
//! the WebSocket control frames work through the TLS records.

use midge::config::ListenerProtocol;

use crate::common::{publish, suback, subscribe, Client, ConnectSpec, CONNACK_ACCEPTED};
use crate::kit::{Pki, TlsBroker, TlsClient};
use crate::ws_client::{masked, WsClient, CLOSE, PING, PONG};

#[test]
fn mqtt_over_websockets_over_tls_reaches_plain_clients_and_back() {
    let pki = Pki::new("wss");
    let broker = TlsBroker::start_with(pki.server_settings(|_| {}), |c| {
        c.listeners[0].protocol = ListenerProtocol::Websockets;
    });
    let tls =
        TlsClient::open(broker.tls_addr, pki.client_config("ca.pem", None)).expect("TLS handshake");
    let (mut ws, head) = WsClient::upgrade(tls.into_stream(), Some("mqtt"));
    assert!(
        head.contains("\r\nSec-WebSocket-Protocol: mqtt\r\n"),
        "{head:?}"
    );
    ws.send(&ConnectSpec::new("wss").encode());
    ws.expect(CONNACK_ACCEPTED);
    ws.send(&subscribe(1, &[("secure/#", 0)]));
    ws.expect(&suback(1, &[0]));

    let mut plain = Client::connect(broker.plain_addr, "plain");
    plain.subscribe(1, "up", 0);
    plain.publish_qos1(1, "secure/x", b"down through TLS", false);
    let got = ws.read_packet();
    assert!(got.ends_with(b"down through TLS"), "{got:02x?}");
    ws.send(&publish("up", b"up through TLS", 0, false, false, 0));
    assert_eq!(plain.read_publish().payload.as_ref(), b"up through TLS");

    ws.send_raw(&masked(PING, true, b"tls"));
    let pong = ws.read_frame();
    assert_eq!((pong.opcode, pong.payload.as_slice()), (PONG, &b"tls"[..]));
    ws.send_raw(&masked(CLOSE, true, &1000u16.to_be_bytes()));
    let close = ws.read_frame();
    assert_eq!(
        (close.opcode, close.payload.as_slice()),
        (CLOSE, &[0x03, 0xe8][..])
    );
}
