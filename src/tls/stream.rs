//! One TLS connection driven by readiness: rustls is sans-I/O, so this owns
//! the socket and moves records between it and the `ServerConnection`.
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
//!   the TLS problem; the peer closing, with or without `close_notify`, is
//!   end of stream.

use std::io::{self, IoSlice, Read, Write};

use mio::net::TcpStream;
use rustls::ServerConnection;

use super::load::Acceptor;
use super::{dn, x509};
use crate::config::CertUsername;

/// A server-side TLS connection over a non-blocking socket.
pub struct TlsStream {
    pub(crate) sock: TcpStream,
    conn: ServerConnection,
    /// What the client's certificate is to be made into.
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
            conn,
            username: acceptor.username,
            cert_name: None,
            established: false,
        })
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
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                describe(&e, self.conn.is_handshaking()),
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

/// A rustls error as a log line; a client that sends plain MQTT (or
/// anything but TLS) to a TLS listener is told apart.
fn describe(e: &rustls::Error, handshaking: bool) -> String {
    match e {
        rustls::Error::InvalidMessage(_) if handshaking => {
            format!("TLS handshake failed: the client does not speak TLS ({e})")
        }
        _ if handshaking => format!("TLS handshake failed: {e}"),
        _ => format!("TLS error: {e}"),
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
