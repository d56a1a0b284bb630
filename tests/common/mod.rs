//! Black-box test kit: an in-process midge on 127.0.0.1 (an ephemeral
//! port, served by a background thread) and a raw MQTT client over a plain
//! `TcpStream`; in [`process`], the real binary and Mosquitto's clients as
//! child processes.
//!
//! Contract:
//! - Every packet a test sends is built by hand here, byte by byte, from the
//!   MQTT 3.1.1 layouts (and in [`v5`] from the MQTT 5.0 ones); midge's own
//!   encoder is never used, so the tests check midge against the spec
//!   rather than against itself.
//! - Every read has a timeout ([`READ_TIMEOUT`]): a missing reply fails the
//!   test instead of hanging it.
//! - [`TestBroker`] stops the server and joins its thread when dropped, and
//!   fails the test if the server thread panicked or `run` returned an error.
//! - [`Client::ping`] is the ordering barrier: the broker handles a
//!   connection's packets in order on one thread, so a PINGRESP read as the
//!   next packet proves nothing else was queued for that client before it.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use midge::codec::{self, Packet, Protocol, Publish};
use midge::config::{Config, Listener};
use midge::server::{Server, StopHandle};

pub mod process;
pub mod v5;

/// How long a read waits before the test fails.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// A fresh directory under the system's temporary one (its name unique to
/// this process and call), removed on drop.
pub struct Dir(pub PathBuf);

impl Dir {
    pub fn new(name: &str) -> Dir {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("midge-test-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the test directory");
        Dir(dir)
    }

    /// The path of `file` in the directory.
    pub fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A midge server running on its own thread.
pub struct TestBroker {
    /// The address the first listener is bound to.
    pub addr: SocketAddr,
    /// Every listener's address, in the config's order.
    pub addrs: Vec<SocketAddr>,
    stop: StopHandle,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

/// Starts a broker with the default configuration, one loopback listener
/// on an ephemeral port and anonymous access allowed.
pub fn start() -> TestBroker {
    start_with(|_| {})
}

/// Starts a broker like [`start`], after `tweak` has adjusted the
/// configuration (limits, `$SYS` interval, the listener's fields).
pub fn start_with(tweak: impl FnOnce(&mut Config)) -> TestBroker {
    let mut config = Config {
        listeners: vec![Listener::new(0, Some("127.0.0.1".parse().unwrap()))],
        allow_anonymous: Some(true),
        ..Config::default()
    };
    tweak(&mut config);
    start_config(config)
}

/// Starts a broker with exactly `config` (its listeners bound as given).
pub fn start_config(config: Config) -> TestBroker {
    // The server holds `Rc`s and is not `Send`: it is bound on its own
    // thread, which hands back the addresses and the stop handle.
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let mut server = Server::bind(&config).expect("bind the test broker");
        tx.send((server.local_addrs(), server.stop_handle()))
            .expect("hand the address back");
        server.run()
    });
    let (addrs, stop) = rx.recv().expect("the broker thread failed to bind");
    TestBroker {
        addr: addrs[0],
        addrs,
        stop,
        thread: Some(thread),
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(thread) = self.thread.take() {
            let result = thread.join();
            if !std::thread::panicking() {
                result
                    .expect("the broker thread panicked")
                    .expect("Server::run returned an error");
            }
        }
    }
}

/// One raw TCP connection to the broker.
pub struct Client {
    stream: TcpStream,
}

impl Client {
    /// Opens a TCP connection and sends nothing.
    pub fn open(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("TCP connect to the broker");
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Client { stream }
    }

    /// Opens a connection and completes an MQTT 3.1.1 CONNECT with a clean
    /// session and keep-alive 60 s; asserts CONNACK `20 02 00 00`.
    pub fn connect(addr: SocketAddr, client_id: &str) -> Client {
        Client::connect_with(addr, &ConnectSpec::new(client_id), CONNACK_ACCEPTED)
    }

    /// Opens a connection, sends `spec` and asserts the exact CONNACK.
    pub fn connect_with(addr: SocketAddr, spec: &ConnectSpec, connack: &[u8]) -> Client {
        let mut c = Client::open(addr);
        c.send(&spec.encode());
        c.expect(connack);
        c
    }

    /// Writes `bytes` in one go.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to the broker");
        self.stream.flush().unwrap();
    }

    /// Writes `bytes` one byte per write, flushing after each.
    pub fn send_bytewise(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.stream.write_all(&[*b]).expect("write to the broker");
            self.stream.flush().unwrap();
        }
    }

    /// Changes how long reads wait (the default is [`READ_TIMEOUT`]).
    pub fn set_read_timeout(&mut self, timeout: Duration) {
        self.stream.set_read_timeout(Some(timeout)).unwrap();
    }

    /// Reads exactly one MQTT packet (fixed header, remaining length and
    /// body) and returns all of its bytes; panics on EOF or timeout.
    pub fn read_packet(&mut self) -> Vec<u8> {
        let mut packet = vec![0u8; 1];
        self.read_exact(&mut packet, "fixed header");
        let mut remaining = 0usize;
        let mut shift = 0;
        loop {
            let mut b = [0u8; 1];
            self.read_exact(&mut b, "remaining length");
            packet.push(b[0]);
            remaining |= usize::from(b[0] & 0x7f) << shift;
            if b[0] & 0x80 == 0 {
                break;
            }
            shift += 7;
            assert!(shift < 28, "broker sent a remaining length over 4 bytes");
        }
        let start = packet.len();
        packet.resize(start + remaining, 0);
        self.read_exact(&mut packet[start..], "packet body");
        packet
    }

    fn read_exact(&mut self, buf: &mut [u8], what: &str) {
        if let Err(e) = self.stream.read_exact(buf) {
            panic!("reading the {what} of a packet from the broker: {e}");
        }
    }

    /// Reads exactly `buf.len()` bytes; false if the read timeout passed
    /// first (panics on EOF or another error).
    pub fn try_read_exact(&mut self, buf: &mut [u8]) -> bool {
        match self.stream.read_exact(buf) {
            Ok(()) => true,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
            Err(e) => panic!("reading from the broker: {e}"),
        }
    }

    /// Reads one packet and asserts that it is exactly `expected`.
    pub fn expect(&mut self, expected: &[u8]) {
        let got = self.read_packet();
        assert_eq!(
            hex(&got),
            hex(expected),
            "unexpected packet from the broker"
        );
    }

    /// Reads one packet and decodes it as a PUBLISH (3.1.1 layout).
    pub fn read_publish(&mut self) -> Publish {
        let raw = self.read_packet();
        match codec::decode(raw.clone().into(), Protocol::V311) {
            Ok(Packet::Publish(p)) => p,
            other => panic!("expected a PUBLISH, got {other:?} from {}", hex(&raw)),
        }
    }

    /// Asserts that the broker closes the connection without sending any
    /// further byte (EOF, or a reset, before the read timeout).
    pub fn expect_closed(&mut self) {
        let mut buf = [0u8; 64];
        match self.stream.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => panic!(
                "expected the connection to be closed, got bytes {}",
                hex(&buf[..n])
            ),
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {}
            Err(e) => panic!("expected the connection to be closed, got {e}"),
        }
    }

    /// Sends PINGREQ and asserts the next packet is exactly PINGRESP
    /// `d0 00`: nothing was queued for this client before it.
    pub fn ping(&mut self) {
        self.send(&pingreq());
        self.expect(&[0xd0, 0x00]);
    }

    /// Subscribes to one filter at `qos` with packet id `pid` and asserts
    /// the exact SUBACK granting it.
    pub fn subscribe(&mut self, pid: u16, filter: &str, qos: u8) {
        self.send(&subscribe(pid, &[(filter, qos)]));
        self.expect(&suback(pid, &[qos]));
    }

    /// Publishes at QoS 1 with packet id `pid` and asserts PUBACK: the
    /// message has been routed once this returns.
    pub fn publish_qos1(&mut self, pid: u16, topic: &str, payload: &[u8], retain: bool) {
        self.send(&publish(topic, payload, 1, retain, false, pid));
        self.expect(&ack(0x40, pid));
    }

    /// Sends DISCONNECT and waits until the broker has closed the socket.
    pub fn disconnect(mut self) {
        self.send(&[0xe0, 0x00]);
        self.expect_closed();
    }

    /// Closes the socket without DISCONNECT (both directions).
    pub fn drop_connection(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// CONNACK accepted, no session present.
pub const CONNACK_ACCEPTED: &[u8] = &[0x20, 0x02, 0x00, 0x00];
/// CONNACK accepted with session present.
pub const CONNACK_SESSION_PRESENT: &[u8] = &[0x20, 0x02, 0x01, 0x00];

/// Bytes as space-separated hex, for readable assertion failures.
pub fn hex(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().take(64).map(|b| format!("{b:02x}")).collect();
    let more = if bytes.len() > 64 {
        format!(" ... ({} bytes)", bytes.len())
    } else {
        String::new()
    };
    shown.join(" ") + &more
}

/// The variable-length "remaining length" encoding of `n` [MQTT-2.2.3].
pub fn remaining_length(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            return out;
        }
    }
}

/// A whole packet: the first header byte, the remaining length, `body`.
pub fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    out.extend(remaining_length(body.len()));
    out.extend_from_slice(body);
    out
}

/// A length-prefixed string or binary field.
pub fn field(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

/// A will message for [`ConnectSpec`].
pub struct WillSpec<'a> {
    pub topic: &'a str,
    pub payload: &'a [u8],
    pub qos: u8,
    pub retain: bool,
}

/// The fields of a hand-built CONNECT.
pub struct ConnectSpec<'a> {
    /// Protocol name: `MQTT` (3.1.1) or `MQIsdp` (3.1).
    pub protocol: &'a [u8],
    pub level: u8,
    pub clean: bool,
    /// Sets the reserved bit 0 of the connect flags when true.
    pub reserved_flag: bool,
    pub keep_alive: u16,
    pub client_id: &'a str,
    pub will: Option<WillSpec<'a>>,
}

impl<'a> ConnectSpec<'a> {
    /// MQTT 3.1.1, clean session, keep-alive 60 s, no will.
    pub fn new(client_id: &'a str) -> Self {
        ConnectSpec {
            protocol: b"MQTT",
            level: 4,
            clean: true,
            reserved_flag: false,
            keep_alive: 60,
            client_id,
            will: None,
        }
    }

    /// The CONNECT packet bytes [MQTT-3.1].
    pub fn encode(&self) -> Vec<u8> {
        let mut flags = 0u8;
        if self.reserved_flag {
            flags |= 0x01;
        }
        if self.clean {
            flags |= 0x02;
        }
        if let Some(w) = &self.will {
            flags |= 0x04 | (w.qos << 3);
            if w.retain {
                flags |= 0x20;
            }
        }
        let mut body = field(self.protocol);
        body.push(self.level);
        body.push(flags);
        body.extend(self.keep_alive.to_be_bytes());
        body.extend(field(self.client_id.as_bytes()));
        if let Some(w) = &self.will {
            body.extend(field(w.topic.as_bytes()));
            body.extend(field(w.payload));
        }
        packet(0x10, &body)
    }
}

/// A PUBLISH [MQTT-3.3]; `pid` is written only for QoS 1 and 2.
pub fn publish(topic: &str, payload: &[u8], qos: u8, retain: bool, dup: bool, pid: u16) -> Vec<u8> {
    publish_raw_topic(topic.as_bytes(), payload, qos, retain, dup, pid)
}

/// A PUBLISH whose topic is any bytes (for malformed-input tests).
pub fn publish_raw_topic(
    topic: &[u8],
    payload: &[u8],
    qos: u8,
    retain: bool,
    dup: bool,
    pid: u16,
) -> Vec<u8> {
    let mut first = 0x30 | (qos << 1);
    if retain {
        first |= 0x01;
    }
    if dup {
        first |= 0x08;
    }
    let mut body = field(topic);
    if qos > 0 {
        body.extend(pid.to_be_bytes());
    }
    body.extend_from_slice(payload);
    packet(first, &body)
}

/// A two-byte acknowledgement: PUBACK `0x40`, PUBREC `0x50`, PUBREL `0x62`,
/// PUBCOMP `0x70`, UNSUBACK `0xb0`.
pub fn ack(first: u8, pid: u16) -> Vec<u8> {
    packet(first, &pid.to_be_bytes())
}

/// A SUBSCRIBE with one (filter, requested QoS) entry per pair [MQTT-3.8].
pub fn subscribe(pid: u16, filters: &[(&str, u8)]) -> Vec<u8> {
    let mut body = pid.to_be_bytes().to_vec();
    for (filter, qos) in filters {
        body.extend(field(filter.as_bytes()));
        body.push(*qos);
    }
    packet(0x82, &body)
}

/// The SUBACK expected for packet id `pid` with these return codes.
pub fn suback(pid: u16, codes: &[u8]) -> Vec<u8> {
    let mut body = pid.to_be_bytes().to_vec();
    body.extend_from_slice(codes);
    packet(0x90, &body)
}

/// An UNSUBSCRIBE of `filters` [MQTT-3.10].
pub fn unsubscribe(pid: u16, filters: &[&str]) -> Vec<u8> {
    let mut body = pid.to_be_bytes().to_vec();
    for filter in filters {
        body.extend(field(filter.as_bytes()));
    }
    packet(0xa2, &body)
}

/// PINGREQ `c0 00`.
pub fn pingreq() -> Vec<u8> {
    vec![0xc0, 0x00]
}
