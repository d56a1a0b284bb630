//! The client side of TLS for bench connections (`--tls CAFILE`), with
//! rustls and its ring provider, driven by readiness like the plain
//! socket it wraps.
//!
//! Contract:
//! - [`client_config`] trusts exactly the certificates of CAFILE and turns
//!   session resumption off, so that every connection makes a full
//!   handshake (the `handshakes` scenario measures those).
//! - [`Tls::read`] returns plaintext, filling the buffer while the socket
//!   has records. A short read means the socket said `WouldBlock` or the
//!   stream ended ([`Tls::ended`] then says so and the next read returns
//!   0), never that decrypted bytes were left behind. Records rustls makes
//!   while reading (the rest of the handshake, alerts) are written at once,
//!   up to `WouldBlock`.
//! - [`Tls::write`] encrypts plaintext only when no earlier record still
//!   waits for the socket, so the caller's buffer holds the backlog;
//!   `Ok(0)` means rustls takes no more plaintext before the handshake
//!   ends (not a socket state). [`Tls::wants_write`] says records wait,
//!   [`Tls::push`] writes them.
//! - A failed handshake (an untrusted certificate, a server that does not
//!   speak TLS or closes during the handshake) or a bad record is an
//!   `InvalidData` error saying so.

use rustls::client::Resumption;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

/// Called once per run with `--tls CAFILE`: a client configuration that
/// trusts the CA certificates in `cafile` and never resumes a session.
/// `Err` names the file and what is wrong with it.
pub fn client_config(cafile: &Path) -> Result<Arc<ClientConfig>, String> {
    let what = |e: String| format!("--tls {}: {e}", cafile.display());
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(cafile).map_err(|e| what(e.to_string()))? {
        let cert = cert.map_err(|e| what(e.to_string()))?;
        roots.add(cert).map_err(|e| what(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(what("no certificate in the file".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| what(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = Resumption::disabled();
    Ok(Arc::new(config))
}

/// The TLS state of one connection; the socket is passed to each call.
pub struct Tls {
    conn: ClientConnection,
    ended: bool,
}

impl Tls {
    /// Called when a connection to `ip` is opened: a client session that
    /// expects a certificate for that IP address. The ClientHello waits in
    /// rustls until the first write or push.
    pub fn new(config: &Arc<ClientConfig>, ip: IpAddr) -> io::Result<Tls> {
        let conn = ClientConnection::new(config.clone(), ServerName::IpAddress(ip.into()))
            .map_err(io::Error::other)?;
        Ok(Tls { conn, ended: false })
    }

    /// True once the peer ended the stream (with or without
    /// `close_notify`); reads return 0 from then on.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// True while encrypted records wait for the socket.
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// The negotiated protocol, cipher suite and key exchange, e.g.
    /// "TLSv1_3 TLS13_AES_256_GCM_SHA384 X25519"; `None` during the
    /// handshake.
    pub fn summary(&self) -> Option<String> {
        if self.conn.is_handshaking() {
            return None;
        }
        let version = self.conn.protocol_version()?;
        let suite = self.conn.negotiated_cipher_suite()?.suite();
        let group = self
            .conn
            .negotiated_key_exchange_group()
            .map_or_else(|| "-".to_string(), |g| format!("{:?}", g.name()));
        Some(format!("{version:?} {suite:?} {group}"))
    }

    /// Called when the run ends a connection: queues `close_notify`; the
    /// next push sends it.
    pub fn close(&mut self) {
        self.conn.send_close_notify();
    }

    /// Writes waiting records to `sock` until none are left (`Ok(true)`)
    /// or the socket says `WouldBlock` (`Ok(false)`).
    pub fn push(&mut self, sock: &mut impl Write) -> io::Result<bool> {
        while self.conn.wants_write() {
            match self.conn.write_tls(sock) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Called on a readable socket: fills `buf` with plaintext (see the
    /// module doc for what a short read means); `WouldBlock` when there
    /// was none.
    pub fn read<S: Read + Write>(&mut self, sock: &mut S, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match self
                .conn
                .reader()
                .read(buf.get_mut(filled..).unwrap_or_default())
            {
                Ok(0) => {
                    self.ended = true;
                    return Ok(filled);
                }
                Ok(n) => {
                    filled += n;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    self.ended = true;
                    return Ok(filled);
                }
                Err(e) => return Err(e),
            }
            match self.conn.read_tls(sock) {
                Ok(0) if self.conn.is_handshaking() => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "TLS handshake failed: the broker closed the connection \
                         (is this port a TLS listener?)",
                    ));
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && filled > 0 => return Ok(filled),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            if let Err(e) = self.conn.process_new_packets() {
                // rustls queued an alert that says why: send what we can.
                let _ = self.push(sock);
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    describe(&e, self.conn.is_handshaking()),
                ));
            }
            self.push(sock)?;
        }
        Ok(filled)
    }

    /// Called to send plaintext: encrypts some of `buf` and writes what
    /// the socket takes. Returns the plaintext bytes taken (see the module
    /// doc for `Ok(0)`); `WouldBlock` when earlier records still wait.
    pub fn write(&mut self, sock: &mut impl Write, buf: &[u8]) -> io::Result<usize> {
        if !self.push(sock)? {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.conn.writer().write(buf)?;
        self.push(sock)?;
        Ok(n)
    }
}

/// A rustls error as the run's error text.
fn describe(e: &rustls::Error, handshaking: bool) -> String {
    match e {
        rustls::Error::InvalidMessage(_) if handshaking => {
            format!("TLS handshake failed: the broker does not speak TLS here ({e})")
        }
        _ if handshaking => format!("TLS handshake failed: {e}"),
        _ => format!("TLS error: {e}"),
    }
}
