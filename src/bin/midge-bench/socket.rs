//! The byte stream under one bench connection: a non-blocking TCP socket,
//! with TLS on top when the run has `--tls` (and the tool was built with
//! the `tls` feature), and the bytes that crossed the TCP socket, counted
//! where they cross it (so with TLS, records and handshakes included).
//!
//! Contract, for the edge-triggered loop in `net`:
//! - [`Socket::read`] returns plaintext; a short read means the socket is
//!   drained, or the stream ended when [`Socket::ended`] says so.
//! - [`Socket::write`] takes what it can of the buffer; `WouldBlock`
//!   means wait for a writable event, `Ok(0)` means the TLS handshake
//!   holds back plaintext for now (try again on a later turn).
//! - [`Socket::wants_write`] is true while TLS records wait for the
//!   socket, even when the caller's buffer is empty, and
//!   [`Socket::flush`] writes them (`WouldBlock` while some remain).

use crate::opts::Opts;
use mio::net::TcpStream;
use std::io::{self, Read, Write};
use std::net::SocketAddr;

#[cfg(feature = "tls")]
use crate::tls::{self, Tls};
#[cfg(feature = "tls")]
use std::sync::Arc;

/// How every connection of a run is opened: the broker's address,
/// whether it speaks WebSockets (`--ws`, a layer above the socket, see
/// `net`) and, with `--tls`, the client TLS configuration.
pub struct Dialer {
    pub addr: SocketAddr,
    pub websockets: bool,
    #[cfg(feature = "tls")]
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Dialer {
    /// Called once per run: reads `--tls`'s CA file if given. `Err` says
    /// what is wrong with it.
    pub fn new(o: &Opts) -> Result<Dialer, String> {
        Ok(Dialer {
            addr: o.addr,
            websockets: o.websockets,
            #[cfg(feature = "tls")]
            tls: o.tls.as_deref().map(tls::client_config).transpose()?,
        })
    }

    /// Starts a non-blocking connect (and, with TLS, a client session).
    pub fn dial(&self) -> io::Result<Socket> {
        let tcp = TcpStream::connect(self.addr)?;
        tcp.set_nodelay(true)?;
        Ok(Socket {
            #[cfg(feature = "tls")]
            tls: match &self.tls {
                Some(config) => Some(Box::new(Tls::new(config, self.addr.ip())?)),
                None => None,
            },
            tcp: Counted { tcp, rx: 0, tx: 0 },
        })
    }
}

/// The TCP socket with the bytes read from and written to it.
pub struct Counted {
    pub tcp: TcpStream,
    rx: u64,
    tx: u64,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.tcp.read(buf)?;
        self.rx += n as u64;
        Ok(n)
    }
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.tcp.write(buf)?;
        self.tx += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One connection's stream, plain or TLS.
pub struct Socket {
    pub tcp: Counted,
    #[cfg(feature = "tls")]
    tls: Option<Box<Tls>>,
}

impl Socket {
    /// Bytes read from the TCP socket so far.
    pub fn rx_bytes(&self) -> u64 {
        self.tcp.rx
    }

    /// Bytes written to the TCP socket so far.
    pub fn tx_bytes(&self) -> u64 {
        self.tcp.tx
    }

    /// True once a TLS stream ended; a plain socket says so by reading 0.
    pub fn ended(&self) -> bool {
        #[cfg(feature = "tls")]
        if let Some(t) = &self.tls {
            return t.ended();
        }
        false
    }

    /// True while TLS records wait for the socket.
    pub fn wants_write(&self) -> bool {
        #[cfg(feature = "tls")]
        if let Some(t) = &self.tls {
            return t.wants_write();
        }
        false
    }

    /// The negotiated TLS parameters once the handshake is done; `None`
    /// for plain TCP.
    pub fn tls_summary(&self) -> Option<String> {
        #[cfg(feature = "tls")]
        if let Some(t) = &self.tls {
            return t.summary();
        }
        None
    }

    /// Called when the run ends the connection: queues TLS `close_notify`
    /// for the next flush; nothing for plain TCP.
    pub fn close(&mut self) {
        #[cfg(feature = "tls")]
        if let Some(t) = self.tls.as_mut() {
            t.close();
        }
    }

    /// Reads plaintext (see the module doc).
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        #[cfg(feature = "tls")]
        if let Some(t) = self.tls.as_mut() {
            return t.read(&mut self.tcp, buf);
        }
        self.tcp.read(buf)
    }

    /// Writes plaintext (see the module doc).
    pub fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        #[cfg(feature = "tls")]
        if let Some(t) = self.tls.as_mut() {
            return t.write(&mut self.tcp, buf);
        }
        match self.tcp.write(buf)? {
            0 if !buf.is_empty() => Err(io::ErrorKind::WriteZero.into()),
            n => Ok(n),
        }
    }

    /// Writes the TLS records that wait; `WouldBlock` while some remain.
    pub fn flush(&mut self) -> io::Result<()> {
        #[cfg(feature = "tls")]
        if let Some(t) = self.tls.as_mut() {
            if !t.push(&mut self.tcp)? {
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
        Ok(())
    }
}
