//! MQTT through a TLS listener, and peers that do not speak TLS to it.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::{pingreq, publish, suback, subscribe, Client, ConnectSpec, CONNACK_ACCEPTED};
use crate::kit::{closed_within, Pki, TlsBroker, TlsClient};

const PINGRESP: &[u8] = &[0xd0, 0x00];

/// CONNECT, SUBSCRIBE and PUBLISH over TLS, and messages crossing between
/// the TLS and the plain listener both ways.
#[test]
fn mqtt_over_tls_and_across_listeners() {
    let pki = Pki::new("session");
    let broker = TlsBroker::start(pki.server_settings(|_| {}));
    let config = pki.client_config("ca.pem", None);
    let mut sub = TlsClient::open(broker.tls_addr, config.clone()).expect("handshake");
    sub.send(&ConnectSpec::new("tls-sub").encode());
    sub.expect(CONNACK_ACCEPTED);
    sub.send(&subscribe(1, &[("t/#", 1)]));
    sub.expect(&suback(1, &[1]));

    let mut plain = Client::connect(broker.plain_addr, "plain");
    plain.send(&subscribe(1, &[("back", 0)]));
    plain.expect(&suback(1, &[0]));
    plain.send(&publish("t/1", b"from plain", 0, false, false, 0));
    sub.expect(&publish("t/1", b"from plain", 0, false, false, 0));

    // A payload larger than one TLS record (16 KiB) arrives whole.
    let big = vec![0x5a; 100_000];
    let mut publisher = TlsClient::open(broker.tls_addr, config).expect("handshake");
    publisher.send(&ConnectSpec::new("tls-pub").encode());
    publisher.expect(CONNACK_ACCEPTED);
    publisher.send(&publish("t/big", &big, 1, false, false, 7));
    publisher.expect(&[0x40, 0x02, 0x00, 0x07]);
    let got = sub.try_read_packet().expect("the large message");
    assert_eq!(got, publish("t/big", &big, 1, false, false, 1));
    sub.send(&[0x40, 0x02, 0x00, 0x01]);

    publisher.send(&publish("back", b"from tls", 0, false, false, 0));
    plain.expect(&publish("back", b"from tls", 0, false, false, 0));
    sub.send(&pingreq());
    sub.expect(PINGRESP);
}

/// Many messages queued at once to a TLS subscriber that is not reading
/// all arrive in order once it reads: output that the socket did not take,
/// including TLS records rustls already made, goes out on WRITABLE.
#[test]
fn a_burst_of_output_is_delivered_in_order() {
    const COUNT: usize = 800;
    let pki = Pki::new("burst");
    // Unlimited queues: more output than the socket buffers hold waits in
    // the broker, and the socket says WouldBlock on the way.
    let broker = TlsBroker::start_with(pki.server_settings(|_| {}), |c| {
        c.max_queued_messages = 0;
    });
    let config = pki.client_config("ca.pem", None);
    let mut sub = TlsClient::open(broker.tls_addr, config).expect("handshake");
    sub.send(&ConnectSpec::new("s").encode());
    sub.expect(CONNACK_ACCEPTED);
    sub.send(&subscribe(1, &[("b", 0)]));
    sub.expect(&suback(1, &[0]));
    let mut publisher = Client::connect(broker.plain_addr, "p");
    let payload = vec![7u8; 16_000];
    let mut burst = Vec::new();
    for _ in 0..COUNT {
        burst.extend(publish("b", &payload, 0, false, false, 0));
    }
    publisher.send(&burst);
    publisher.send(&pingreq());
    publisher.expect(PINGRESP);
    for i in 0..COUNT {
        let got = sub
            .try_read_packet()
            .unwrap_or_else(|e| panic!("message {i}: {e}"));
        assert_eq!(
            got,
            publish("b", &payload, 0, false, false, 0),
            "message {i}"
        );
    }
}

/// A client sending plain MQTT to the TLS port is closed; a TLS client of
/// the same broker is not disturbed.
#[test]
fn plain_mqtt_to_the_tls_port_is_closed_and_others_go_on() {
    let pki = Pki::new("plain-to-tls");
    let broker = TlsBroker::start(pki.server_settings(|_| {}));
    let mut good = TlsClient::open(broker.tls_addr, pki.client_config("ca.pem", None)).unwrap();
    good.send(&ConnectSpec::new("good").encode());
    good.expect(CONNACK_ACCEPTED);

    let mut wrong = TcpStream::connect(broker.tls_addr).unwrap();
    wrong
        .write_all(&ConnectSpec::new("wrong").encode())
        .unwrap();
    assert!(
        closed_within(&mut wrong, Duration::from_secs(5)),
        "plain MQTT on the TLS port must be closed"
    );

    let mut garbage = TcpStream::connect(broker.tls_addr).unwrap();
    garbage
        .write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5])
        .unwrap();
    assert!(
        closed_within(&mut garbage, Duration::from_secs(5)),
        "a broken ClientHello must close the connection"
    );

    good.send(&pingreq());
    good.expect(PINGRESP);
}

/// A TLS client that opens the connection and never completes the
/// handshake (nothing at all, or half a ClientHello) is closed by the
/// CONNECT timeout, the broker's 10 s; others are served meanwhile.
#[test]
fn an_unfinished_handshake_is_closed_by_the_connect_timeout() {
    let pki = Pki::new("timeout");
    let broker = TlsBroker::start(pki.server_settings(|_| {}));
    let started = Instant::now();
    let silent = TcpStream::connect(broker.tls_addr).unwrap();
    let mut partial = TcpStream::connect(broker.tls_addr).unwrap();
    partial
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .unwrap();
    let mut good = TlsClient::open(broker.tls_addr, pki.client_config("ca.pem", None)).unwrap();
    good.send(&ConnectSpec::new("good").encode());
    good.expect(CONNACK_ACCEPTED);
    for mut s in [silent, partial] {
        assert!(closed_within(&mut s, Duration::from_secs(15)), "still open");
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(14),
        "closed after {waited:?}, not by the 10 s CONNECT timeout"
    );
    good.send(&pingreq());
    good.expect(PINGRESP);
}

/// A client that does not trust the broker's CA fails the handshake.
#[test]
fn a_client_with_the_wrong_ca_fails_the_handshake() {
    let pki = Pki::new("wrong-ca");
    let broker = TlsBroker::start(pki.server_settings(|_| {}));
    let err = TlsClient::open(broker.tls_addr, pki.client_config("other-ca.pem", None))
        .err()
        .expect("the handshake must fail");
    assert!(err.contains("UnknownIssuer"), "{err}");
}

/// The broker ends a TLS connection with close_notify (here: after a
/// protocol error, a packet before CONNECT).
#[test]
fn the_broker_sends_close_notify_when_it_closes() {
    let pki = Pki::new("close-notify");
    let broker = TlsBroker::start(pki.server_settings(|_| {}));
    let mut c = TlsClient::open(broker.tls_addr, pki.client_config("ca.pem", None)).unwrap();
    c.send(&pingreq());
    assert!(
        c.peer_sent_close_notify(),
        "the broker closed without close_notify"
    );
}

/// tls_version tlsv1.2 and tlsv1.3 offer only that version.
#[test]
fn tls_version_limits_what_is_negotiated() {
    use midge::config::TlsVersion;
    let pki = Pki::new("versions");
    for (version, expected) in [
        (TlsVersion::V1_2, rustls::ProtocolVersion::TLSv1_2),
        (TlsVersion::V1_3, rustls::ProtocolVersion::TLSv1_3),
    ] {
        let broker = TlsBroker::start(pki.server_settings(|t| t.version = Some(version)));
        let mut c = TlsClient::open(broker.tls_addr, pki.client_config("ca.pem", None)).unwrap();
        assert_eq!(c.protocol_version(), Some(expected));
        c.send(&ConnectSpec::new("v").encode());
        c.expect(CONNACK_ACCEPTED);
    }
}
