//! `TlsStream` over a real loopback TCP pair with a rustls client at the
//! other end. The socket buffers are made small, so that a large write
//! leaves encrypted records inside rustls after the caller's queue is
//! empty; the test drives the stream as the server's flush does and checks
//! that those records count as pending output until the client has every
//! byte.

use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream as StdStream;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig};

use super::{Acceptor, TlsStream};
use crate::config::CertUsername;

/// Bound on every loop of the test.
const DEADLINE: Duration = Duration::from_secs(10);
/// Plaintext the server writes: several rustls buffer limits' worth.
const TOTAL: usize = 512 * 1024;
/// Bytes the client takes from its socket per step.
const STEP: usize = 1500;

/// A CA, and a server certificate for 127.0.0.1 that it signed; returns
/// the server's and the client's configurations.
fn configs() -> (Arc<ServerConfig>, Arc<ClientConfig>) {
    let mut ca_params = CertificateParams::new(Vec::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(server), Arc::new(client))
}

/// Sets a socket buffer option (`SO_SNDBUF` or `SO_RCVBUF`) to `bytes`.
fn set_buffer(fd: &impl AsRawFd, option: libc::c_int, bytes: libc::c_int) {
    // SAFETY: the descriptor is open for the call and the value is a
    // c_int of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            (&bytes as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt: {}", io::Error::last_os_error());
}

/// The client end: a non-blocking socket and its rustls session, with
/// the plaintext received so far.
struct Client {
    sock: StdStream,
    conn: ClientConnection,
    got: Vec<u8>,
}

impl Client {
    /// Writes what rustls has for the server, then reads at most `limit`
    /// bytes from the socket and decrypts them.
    fn step(&mut self, limit: usize) {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.sock) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("client write: {e}"),
            }
        }
        let mut buf = vec![0u8; limit];
        let n = match self.sock.read(&mut buf) {
            Ok(0) => panic!("the server closed the connection"),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => panic!("client read: {e}"),
        };
        let mut records = &buf[..n];
        while !records.is_empty() {
            self.conn.read_tls(&mut records).unwrap();
            self.conn.process_new_packets().expect("client TLS");
        }
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.conn.reader().read(&mut chunk) {
                Ok(0) => panic!("close_notify from the server"),
                Ok(n) => self.got.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("client plaintext: {e}"),
            }
        }
    }
}

/// A handshaken pair: the server's stream (small send buffer) and the
/// client (small receive buffer).
fn pair() -> (TlsStream, Client) {
    let (server_config, client_config) = configs();
    let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let sock = StdStream::connect(listener.local_addr().unwrap()).unwrap();
    let until = Instant::now() + DEADLINE;
    let accepted: TcpStream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < until => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    set_buffer(&accepted, libc::SO_SNDBUF, 4096);
    set_buffer(&sock, libc::SO_RCVBUF, 64 * 1024);
    sock.set_nonblocking(true).unwrap();
    let acceptor = Acceptor {
        config: server_config,
        username: CertUsername::None,
    };
    let mut server = TlsStream::new(accepted, &acceptor).unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let mut client = Client {
        sock,
        conn: ClientConnection::new(client_config, name).unwrap(),
        got: Vec::new(),
    };
    let mut scratch = [0u8; 64];
    while client.conn.is_handshaking() || !server.established {
        assert!(Instant::now() < until, "no handshake within {DEADLINE:?}");
        client.step(16 * 1024);
        match server.read(&mut scratch) {
            Ok(n) => assert_eq!(n, 0, "plaintext before any was sent"),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("server handshake: {e}"),
        }
        let _ = server.flush();
    }
    (server, client)
}

/// One pass of the server's flush: writes the queue until it is empty or
/// the stream says `WouldBlock`, then, with an empty queue, flushes the
/// records rustls holds. Returns true while output is pending (queued or
/// held by rustls), as the event loop decides on WRITABLE interest.
fn flush_pass(server: &mut TlsStream, queue: &[u8], sent: &mut usize) -> bool {
    while *sent < queue.len() {
        match server.write_vectored(&[IoSlice::new(&queue[*sent..])]) {
            Ok(0) => panic!("write returned zero"),
            Ok(n) => *sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("server write: {e}"),
        }
    }
    if *sent == queue.len() && server.wants_write() {
        match server.flush() {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("server flush: {e}"),
        }
    }
    *sent < queue.len() || server.wants_write()
}

#[test]
fn records_rustls_holds_after_the_queue_empties_are_pending_until_written() {
    let (mut server, mut client) = pair();
    let queue: Vec<u8> = (0..TOTAL).map(|i| (i * 7 % 251) as u8).collect();
    let mut sent = 0;
    let mut held_after_queue_emptied = false;
    let until = Instant::now() + DEADLINE;
    while flush_pass(&mut server, &queue, &mut sent) {
        assert!(
            Instant::now() < until,
            "output still pending after {DEADLINE:?}: {sent} of {TOTAL} taken, {} received",
            client.got.len()
        );
        held_after_queue_emptied |= sent == queue.len();
        client.step(STEP);
    }
    // Nothing pending: whatever is still in flight is in the sockets, and
    // the client drains it in steps.
    while client.got.len() < TOTAL && Instant::now() < until {
        client.step(STEP);
    }
    assert_eq!(
        client.got.len(),
        TOTAL,
        "the client received {} of {TOTAL} bytes",
        client.got.len()
    );
    assert!(client.got == queue, "the plaintext arrived changed");
    assert!(
        held_after_queue_emptied,
        "the queue never emptied while rustls still held records: the test did not \
         reach the case it is about"
    );
}
