//! One TLS connection driven by readiness: rustls is sans-I/O, so this owns
//! the socket and moves records between it and the rustls `Connection`,
//! the server side of one accepted on a TLS listener ([`TlsStream::new`])
//! or the client side of one a bridge opens ([`TlsStream::client`]). Both
//! sides share every read, write and close below.
//!
//! Contract, for the event loop's edge-triggered reads and writes:
//! - [`TlsStream::read`] returns plaintext, filling the buffer as long as
//!   the socket has records; a short read (or `WouldBlock`) means the
//!   socket itself said `WouldBlock` or ended, never that records were left
//!   unread. Handshake records rustls produces while reading (and alerts)
//!   are written out at once, up to `WouldBlock`.
//! - [`TlsStream::write_vectored`] encrypts plaintext only when no earlier
//!   record is still waiting for the socket, so the caller's queue holds
//!   the backlog, not rustls; [`TlsStream::wants_write`] says records are
//!   waiting, and `flush` writes them (`WouldBlock` while some remain).
//! - A failed handshake or a bad record is an `InvalidData` error naming
//!   the TLS problem (as a client, the server certificate's problem in
//!   words: unknown issuer, not valid for the name, expired); the peer
//!   closing, with or without `close_notify`, is end of stream.
//! - The server waits for the client to speak; a client stream has its
//!   ClientHello queued from the start ([`TlsStream::wants_write`] is
//!   true), so the event loop's flush sends it once the socket connects.

use std::io::{self, IoSlice, Read, Write};

use mio::net::TcpStream;
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, Connection, ServerConnection};

use super::connect::Connector;
use super::load::Acceptor;
use super::{dn, x509};
use crate::config::CertUsername;

/// A TLS connection, server or client side, over a non-blocking socket.
pub struct TlsStream {
    pub(crate) sock: TcpStream,
    conn: Connection,
    /// What the client's certificate is to be made into (always `None` on
    /// the client side).
    username: CertUsername,
    /// The certificate's name, once the handshake is done, until taken.
    cert_name: Option<Box<str>>,
    /// The handshake has completed and `cert_name` was worked out.
    established: bool,
}

impl std::fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsStream")
            .field("sock", &self.sock)
            .field("established", &self.established)
            .finish_non_exhaustive()
    }
}

impl TlsStream {
    /// Called by the server for a socket accepted on a TLS listener.
    /// Returns the stream with its handshake not yet started (the client
    /// speaks first).
    pub fn new(sock: TcpStream, acceptor: &Acceptor) -> io::Result<TlsStream> {
        let conn = ServerConnection::new(acceptor.config.clone())
            .map_err(|e| io::Error::other(format!("TLS set-up: {e}")))?;
        Ok(TlsStream {
            sock,
            conn: Connection::Server(conn),
            username: acceptor.username,
            cert_name: None,
            established: false,
        })
    }

    /// Called by a bridge for a socket it is connecting to `host` (a DNS
    /// name or an IP literal, IPv6 with or without brackets), which the
    /// server's certificate must be valid for unless `bridge_insecure`.
    /// Returns the stream with its ClientHello queued, for the event loop
    /// to flush; `InvalidInput` if `host` is not a valid name.
    pub fn client(sock: TcpStream, connector: &Connector, host: &str) -> io::Result<TlsStream> {
        // An IPv6 literal as an address writes it, in brackets, is the
        // address.
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .filter(|h| h.parse::<std::net::Ipv6Addr>().is_ok())
            .unwrap_or(host);
        let name = ServerName::try_from(bare.to_owned()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("TLS: {host:?} is neither a valid host name nor an IP address"),
            )
        })?;
        let conn = ClientConnection::new(connector.config.clone(), name)
            .map_err(|e| io::Error::other(format!("TLS set-up: {e}")))?;
        Ok(TlsStream {
            sock,
            conn: Connection::Client(conn),
            username: CertUsername::None,
            cert_name: None,
            established: false,
        })
    }

    /// The TLS version agreed, once the handshake has got that far.
    pub fn protocol_version(&self) -> Option<rustls::ProtocolVersion> {
        self.conn.protocol_version()
    }

    /// True while encrypted records wait for the socket.
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// The username the client certificate gives (see [`CertUsername`]),
    /// once, after the handshake; `None` before, after it was taken, when
    /// the listener does not use certificates as usernames, or when the
    /// certificate gives none.
    pub fn take_cert_name(&mut self) -> Option<Box<str>> {
        self.cert_name.take()
    }

    /// Called when the connection is being closed: queues `close_notify`
    /// and writes what the socket takes. Errors are ignored (the socket is
    /// closed next).
    pub fn close_notify(&mut self) {
        self.conn.send_close_notify();
        let _ = self.push();
    }

    /// Writes queued records until none are left or the socket says
    /// `WouldBlock` (which is not an error here).
    fn push(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.sock) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads records from the socket once (at end of stream, rustls
    /// notes it) and processes them; `WouldBlock` when the socket has
    /// nothing.
    fn pull(&mut self) -> io::Result<()> {
        loop {
            match self.conn.read_tls(&mut self.sock) {
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if let Err(e) = self.conn.process_new_packets() {
            // rustls has queued an alert saying why: send it if we can.
            let _ = self.push();
            let client = matches!(self.conn, Connection::Client(_));
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                describe(&e, self.conn.is_handshaking(), client),
            ));
        }
        if !self.established && !self.conn.is_handshaking() {
            self.established = true;
            self.cert_name = self.name_from_certificate();
        }
        self.push()
    }

    /// The username the client's certificate gives under this listener's
    /// `use_identity_as_username` / `use_subject_as_username`.
    fn name_from_certificate(&self) -> Option<Box<str>> {
        if self.username == CertUsername::None {
            return None;
        }
        let cert = self.conn.peer_certificates()?.first()?;
        let info = x509::parse(cert).ok()?;
        match self.username {
            CertUsername::CommonName => x509::common_name(info.subject).map(Box::from),
            CertUsername::Subject => dn::rfc2253(info.subject).ok().map(String::into_boxed_str),
            CertUsername::None => None,
        }
    }
}

/// A rustls error as a log line; a peer that sends plain MQTT (or
/// anything but TLS) is told apart, and so, as a `client`, is the server
/// certificate's problem.
fn describe(e: &rustls::Error, handshaking: bool, client: bool) -> String {
    let peer = if client { "server" } else { "client" };
    match e {
        rustls::Error::InvalidMessage(_) if handshaking => {
            format!("TLS handshake failed: the {peer} does not speak TLS ({e})")
        }
        rustls::Error::InvalidCertificate(why) if handshaking && client => {
            format!(
                "TLS handshake failed: the server's certificate is refused: {}",
                certificate_problem(why)
            )
        }
        _ if handshaking => format!("TLS handshake failed: {e}"),
        _ => format!("TLS error: {e}"),
    }
}

/// What is wrong with a peer's certificate, in words (rustls's own words
/// where it has them, else its variant's name).
fn certificate_problem(why: &rustls::CertificateError) -> String {
    use rustls::CertificateError as E;
    match why {
        E::UnknownIssuer => {
            "unknown issuer (it does not chain to a CA of bridge_cafile/bridge_capath)".into()
        }
        E::NotValidForName => "certificate not valid for the host name".into(),
        E::BadSignature => "bad signature".into(),
        E::Expired => "expired".into(),
        E::NotValidYet => "not valid yet".into(),
        E::Revoked => "revoked".into(),
        E::BadEncoding => "cannot be parsed".into(),
        other => other.to_string(),
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        loop {
            if filled == buf.len() {
                return Ok(filled);
            }
            match self.conn.reader().read(&mut buf[filled..]) {
                // close_notify received: the end, after what was read.
                Ok(0) => return Ok(filled),
                Ok(n) => {
                    filled += n;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The socket ended without close_notify: an end too (many
                // clients just close).
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(filled),
                Err(e) => return Err(e),
            }
            match self.pull() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && filled > 0 => return Ok(filled),
                Err(e) => return Err(e),
            }
        }
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.push()?;
        if self.conn.wants_write() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.conn.writer().write_vectored(bufs)?;
        self.push()?;
        if n == 0 && bufs.iter().any(|b| !b.is_empty()) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.push()?;
        if self.conn.wants_write() {
            Err(io::ErrorKind::WouldBlock.into())
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "client_tests.rs"]
mod client_tests;
