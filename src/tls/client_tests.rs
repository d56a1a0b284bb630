//! A client `TlsStream` (as a bridge opens it, from a [`Connector`])
//! against a server `TlsStream` (as a listener accepts it, from an
//! [`Acceptor`]) over a real non-blocking loopback TCP pair, both driven as
//! the event loop drives them: reads until a short read, writes until
//! `WouldBlock`, `flush` while `wants_write`, with mio's poll waiting for
//! readiness between rounds (bounded in rounds and time, no sleeps).

use std::io::{self, IoSlice, Read, Write};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use rcgen::date_time_ymd;
use rustls::ProtocolVersion;

use super::TlsStream;
use crate::config::bridge::BridgeTls;
use crate::config::{CertUsername, TlsSettings, TlsVersion};
use crate::tls::test_pki::Pki;
use crate::tls::{Acceptor, Connector};

/// Bound on every exchange.
const DEADLINE: Duration = Duration::from_secs(10);

/// One end: its stream, what it has still to write, what it has read,
/// whether it read the end of the stream, and the error that ended it.
struct End {
    tls: TlsStream,
    out: Vec<u8>,
    got: Vec<u8>,
    ended: bool,
    error: Option<io::Error>,
}

impl End {
    fn new(tls: TlsStream) -> End {
        End {
            tls,
            out: Vec::new(),
            got: Vec::new(),
            ended: false,
            error: None,
        }
    }

    /// One pass of what the event loop does on readiness.
    fn drive(&mut self) {
        if self.error.is_some() || self.ended {
            return;
        }
        if let Err(e) = self.write_and_read() {
            self.error = Some(e);
        }
    }

    fn write_and_read(&mut self) -> io::Result<()> {
        while !self.out.is_empty() {
            match self.tls.write_vectored(&[IoSlice::new(&self.out)]) {
                Ok(n) => drop(self.out.drain(..n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if self.tls.wants_write() {
            match self.tls.flush() {
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
                _ => {}
            }
        }
        let mut buf = [0u8; 4096];
        loop {
            match self.tls.read(&mut buf) {
                Ok(0) => {
                    self.ended = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.got.extend_from_slice(&buf[..n]);
                    if n < buf.len() {
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    fn handshaken(&self) -> bool {
        self.tls.established && !self.tls.wants_write()
    }

    fn error(&self) -> String {
        self.error.as_ref().map_or(String::new(), |e| e.to_string())
    }
}

/// A client and a server over loopback TCP, registered with one poll.
struct Pair {
    client: End,
    server: End,
    poll: Poll,
}

impl Pair {
    /// Connects a bridge-style client to `host` (really 127.0.0.1) with
    /// `bridge`'s TLS against a listener with `listener`'s.
    fn new(bridge: &BridgeTls, host: &str, listener: &TlsSettings) -> Pair {
        let acceptor = Acceptor::load(listener).expect("the listener's TLS");
        let connector = Connector::load(bridge).expect("the bridge's TLS");
        Pair::with(&connector, host, &acceptor)
    }

    fn with(connector: &Connector, host: &str, acceptor: &Acceptor) -> Pair {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let sock = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        accepted.set_nonblocking(true).unwrap();
        let client = TlsStream::client(sock, connector, host).unwrap();
        assert!(
            client.wants_write(),
            "a new client stream has its ClientHello queued"
        );
        let server = TlsStream::new(TcpStream::from_std(accepted), acceptor).unwrap();
        assert!(!server.wants_write(), "the server waits for the client");
        let mut pair = Pair {
            client: End::new(client),
            server: End::new(server),
            poll: Poll::new().unwrap(),
        };
        let both = Interest::READABLE | Interest::WRITABLE;
        let registry = pair.poll.registry();
        registry
            .register(&mut pair.client.tls.sock, Token(0), both)
            .unwrap();
        registry
            .register(&mut pair.server.tls.sock, Token(1), both)
            .unwrap();
        pair
    }

    /// Drives both ends until `done` holds or both have failed; false if
    /// neither happened within the deadline.
    fn run(&mut self, done: impl Fn(&End, &End) -> bool) -> bool {
        let until = Instant::now() + DEADLINE;
        let mut events = Events::with_capacity(8);
        while Instant::now() < until {
            self.client.drive();
            self.server.drive();
            if done(&self.client, &self.server)
                || (self.client.error.is_some() && self.server.error.is_some())
            {
                return done(&self.client, &self.server);
            }
            self.poll
                .poll(&mut events, Some(Duration::from_millis(100)))
                .unwrap();
        }
        false
    }

    /// Runs the handshake to its end; panics, saying why, if it fails.
    fn handshake(&mut self) {
        let ok = self.run(|c, s| c.handshaken() && s.handshaken());
        assert!(
            ok,
            "handshake: client error {:?}, server error {:?}",
            self.client.error(),
            self.server.error()
        );
    }

    /// Runs until the client fails; returns its error (and the server's).
    fn client_failure(&mut self) -> (io::Error, String) {
        let failed = self.run(|c, _| c.error.is_some());
        assert!(
            failed,
            "the client did not fail: server error {:?}",
            self.server.error()
        );
        (self.client.error.take().unwrap(), self.server.error())
    }

    /// Sends a message each way and checks that both arrive.
    fn exchange(&mut self) {
        self.client
            .out
            .extend_from_slice(b"\x10 up to the remote broker");
        self.server
            .out
            .extend_from_slice(b"\x20 down to the bridge");
        let ok = self.run(|c, s| {
            c.got == b"\x20 down to the bridge" && s.got == b"\x10 up to the remote broker"
        });
        assert!(
            ok,
            "exchange: client got {:?} (error {:?}), server got {:?} (error {:?})",
            self.client.got,
            self.client.error(),
            self.server.got,
            self.server.error()
        );
    }
}

/// A bridge trusting `ca` (a file of `pki`).
fn bridge(pki: &Pki, ca: &str) -> BridgeTls {
    BridgeTls {
        cafile: Some(pki.path(ca)),
        ..BridgeTls::default()
    }
}

/// A listener with certificate `name` (made by [`Pki::issue`]).
fn listener(pki: &Pki, name: &str) -> TlsSettings {
    TlsSettings {
        certfile: Some(pki.path(&format!("{name}.pem"))),
        keyfile: Some(pki.path(&format!("{name}.key"))),
        ..TlsSettings::default()
    }
}

/// A PKI with `server` issued for DNS name broker.example.
fn broker_pki(test: &str) -> Pki {
    let pki = Pki::new(test);
    pki.issue("server", "broker.example", &["broker.example"], |_| {});
    pki
}

#[test]
fn a_message_goes_both_ways_after_the_handshake() {
    let pki = broker_pki("both-ways");
    let mut pair = Pair::new(
        &bridge(&pki, "ca.pem"),
        "broker.example",
        &listener(&pki, "server"),
    );
    pair.handshake();
    assert_eq!(pair.server.tls.take_cert_name(), None);
    pair.exchange();
    // close_notify from the client: the server reads the end.
    pair.client.tls.close_notify();
    assert!(pair.run(|_, s| s.ended), "{:?}", pair.server.error());
}

#[test]
fn a_server_certificate_from_another_ca_fails_naming_the_unknown_issuer() {
    let pki = broker_pki("wrong-ca");
    let mut pair = Pair::new(
        &bridge(&pki, "other-ca.pem"),
        "broker.example",
        &listener(&pki, "server"),
    );
    let (e, server) = pair.client_failure();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    let e = e.to_string();
    assert!(
        e.contains("TLS handshake failed") && e.contains("unknown issuer"),
        "{e}"
    );
    // The client said why in an alert, which the server reads.
    assert!(server.contains("UnknownCA"), "{server}");
}

#[test]
fn a_name_mismatch_fails_naming_both_names() {
    let pki = broker_pki("mismatch");
    let mut pair = Pair::new(
        &bridge(&pki, "ca.pem"),
        "other.example",
        &listener(&pki, "server"),
    );
    let (e, _) = pair.client_failure();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    let e = e.to_string();
    assert!(
        e.contains("not valid for name \"other.example\"") && e.contains("broker.example"),
        "{e}"
    );
}

#[test]
fn insecure_skips_only_the_name_check() {
    let pki = broker_pki("insecure");
    let insecure = BridgeTls {
        insecure: true,
        ..bridge(&pki, "ca.pem")
    };
    let mut pair = Pair::new(&insecure, "other.example", &listener(&pki, "server"));
    pair.handshake();
    pair.exchange();
    // The chain is still checked.
    let untrusting = BridgeTls {
        insecure: true,
        ..bridge(&pki, "other-ca.pem")
    };
    let mut pair = Pair::new(&untrusting, "other.example", &listener(&pki, "server"));
    let (e, _) = pair.client_failure();
    assert!(e.to_string().contains("unknown issuer"), "{e}");
}

#[test]
fn an_ip_literal_host_matches_an_ip_san() {
    let pki = Pki::new("ip-san");
    pki.issue("ip", "127.0.0.1", &["127.0.0.1", "::1"], |_| {});
    // The connection is over 127.0.0.1 either way: the host is what the
    // certificate is checked against (IPv6 as an address writes it too).
    for host in ["127.0.0.1", "::1", "[::1]"] {
        let mut pair = Pair::new(&bridge(&pki, "ca.pem"), host, &listener(&pki, "ip"));
        pair.handshake();
        pair.exchange();
    }
    // Another address is not that SAN.
    let mut pair = Pair::new(&bridge(&pki, "ca.pem"), "127.0.0.2", &listener(&pki, "ip"));
    let (e, _) = pair.client_failure();
    assert!(e.to_string().contains("not valid for name"), "{e}");
}

#[test]
fn an_invalid_host_name_is_refused_before_any_byte_is_sent() {
    let pki = broker_pki("bad-host");
    let connector = Connector::load(&bridge(&pki, "ca.pem")).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    for host in ["", "bad host", "broker..example", "[not-ipv6]", "[::1"] {
        let sock = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let e = TlsStream::client(sock, &connector, host).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{host:?}");
        let e = e.to_string();
        assert!(
            e.contains(&format!("{host:?}")) && e.contains("host name"),
            "{e}"
        );
    }
}

#[test]
fn the_client_certificate_is_presented_when_the_server_requires_one() {
    let pki = broker_pki("client-cert");
    pki.issue("bridge", "bridge-1", &[], |_| {});
    let requiring = TlsSettings {
        cafile: Some(pki.path("ca.pem")),
        require_certificate: true,
        cert_username: CertUsername::CommonName,
        ..listener(&pki, "server")
    };
    let with_cert = BridgeTls {
        certfile: Some(pki.path("bridge.pem")),
        keyfile: Some(pki.path("bridge.key")),
        ..bridge(&pki, "ca.pem")
    };
    let mut pair = Pair::new(&with_cert, "broker.example", &requiring);
    pair.handshake();
    assert_eq!(
        pair.server.tls.take_cert_name().as_deref(),
        Some("bridge-1")
    );
    pair.exchange();
    // Without one the server refuses the connection, and the client hears
    // why.
    let mut pair = Pair::new(&bridge(&pki, "ca.pem"), "broker.example", &requiring);
    let (e, server) = pair.client_failure();
    assert!(server.contains("no certificates"), "{server}");
    assert!(e.to_string().contains("CertificateRequired"), "{e}");
}

#[test]
fn bridge_tls_version_restricts_the_version_offered() {
    let pki = broker_pki("version");
    let server = listener(&pki, "server");
    for (version, agreed) in [
        (None, ProtocolVersion::TLSv1_3),
        (Some(TlsVersion::V1_2), ProtocolVersion::TLSv1_2),
        (Some(TlsVersion::V1_3), ProtocolVersion::TLSv1_3),
    ] {
        let tls = BridgeTls {
            version,
            ..bridge(&pki, "ca.pem")
        };
        let mut pair = Pair::new(&tls, "broker.example", &server);
        pair.handshake();
        assert_eq!(
            pair.client.tls.protocol_version(),
            Some(agreed),
            "{version:?}"
        );
        assert_eq!(
            pair.server.tls.protocol_version(),
            Some(agreed),
            "{version:?}"
        );
        pair.exchange();
    }
    // A TLS 1.2 bridge to a TLS 1.3 listener: no version in common.
    let tls = BridgeTls {
        version: Some(TlsVersion::V1_2),
        ..bridge(&pki, "ca.pem")
    };
    let only_1_3 = TlsSettings {
        version: Some(TlsVersion::V1_3),
        ..server
    };
    let mut pair = Pair::new(&tls, "broker.example", &only_1_3);
    let (e, _) = pair.client_failure();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    assert!(e.to_string().contains("ProtocolVersion"), "{e}");
}

#[test]
fn bridge_alpn_is_offered_and_agreed() {
    let pki = broker_pki("alpn");
    let acceptor = Acceptor::load(&listener(&pki, "server")).unwrap();
    let mut config = (*acceptor.config).clone();
    config.alpn_protocols = vec![b"mqtt".to_vec()];
    let acceptor = Acceptor {
        config: config.into(),
        ..acceptor
    };
    let mqtt = Connector::load(&BridgeTls {
        alpn: Some("mqtt".into()),
        ..bridge(&pki, "ca.pem")
    })
    .unwrap();
    let mut pair = Pair::with(&mqtt, "broker.example", &acceptor);
    pair.handshake();
    assert_eq!(pair.client.tls.conn.alpn_protocol(), Some(&b"mqtt"[..]));
    assert_eq!(pair.server.tls.conn.alpn_protocol(), Some(&b"mqtt"[..]));
    let other = Connector::load(&BridgeTls {
        alpn: Some("x-other".into()),
        ..bridge(&pki, "ca.pem")
    })
    .unwrap();
    let mut pair = Pair::with(&other, "broker.example", &acceptor);
    let (e, _) = pair.client_failure();
    assert!(e.to_string().contains("NoApplicationProtocol"), "{e}");
}

#[test]
fn a_ca_found_through_capath_is_trusted() {
    let pki = broker_pki("capath");
    let dir = pki.path("cas");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(pki.path("other-ca.pem"), dir.join("a.pem")).unwrap();
    std::fs::copy(pki.path("ca.pem"), dir.join("b.crt")).unwrap();
    std::fs::write(dir.join("README"), "not a certificate").unwrap();
    let tls = BridgeTls {
        capath: Some(dir),
        ..BridgeTls::default()
    };
    let mut pair = Pair::new(&tls, "broker.example", &listener(&pki, "server"));
    pair.handshake();
    pair.exchange();
}

#[test]
fn an_expired_server_certificate_is_refused_as_expired() {
    let pki = Pki::new("expired-server");
    // Listeners refuse to load an expired certfile, so the server's
    // configuration is made from a good one and the expired one swapped in.
    pki.issue("server", "broker.example", &["broker.example"], |_| {});
    pki.issue("old", "broker.example", &["broker.example"], |p| {
        p.not_before = date_time_ymd(2000, 1, 1);
        p.not_after = date_time_ymd(2001, 1, 1);
    });
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let chain =
        crate::tls::files::certificates("certfile", &pki.path("old.pem"), 978_000_000).unwrap();
    let key = crate::tls::files::private_key("keyfile", &pki.path("old.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = Acceptor {
        config: config.into(),
        username: CertUsername::None,
    };
    let connector = Connector::load(&bridge(&pki, "ca.pem")).unwrap();
    let mut pair = Pair::with(&connector, "broker.example", &acceptor);
    let (e, _) = pair.client_failure();
    assert!(e.to_string().contains("certificate expired"), "{e}");
}
