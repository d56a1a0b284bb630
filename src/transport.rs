//! The transport of one connection, as the event loop and the broker's
//! links hold it: a plain TCP socket or, with the `tls` feature, a TLS
//! connection over one; with the `websockets` feature, a WebSocket
//! connection over either.
//!
//! Contract: [`Stream`] reads, writes (vectored) and registers with mio
//! like a socket, whatever it holds; the plain case is one `match` away
//! from the socket's own calls. A TLS stream may hold encrypted records
//! the socket did not take yet, and a WebSocket stream its handshake
//! answer, control frames or a frame header's rest: [`Stream::wants_write`]
//! says so, and the event loop then keeps WRITABLE interest and calls
//! `flush` until it returns `Ok` (see `tls::TlsStream` and `ws::WsStream`
//! for what their reads and writes mean).

use std::io::{self, IoSlice, Read, Write};

use mio::event::Source;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

#[cfg(feature = "tls")]
use crate::tls::TlsStream;
#[cfg(feature = "websockets")]
use crate::ws::WsStream;

/// One connection's byte stream.
#[derive(Debug)]
pub enum Stream {
    /// Plain MQTT over TCP.
    Plain(TcpStream),
    /// MQTT over TLS over TCP.
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream>),
    /// MQTT over WebSocket over one of the others.
    #[cfg(feature = "websockets")]
    Ws(Box<WsStream>),
}

impl Stream {
    /// The TCP socket underneath.
    fn socket(&mut self) -> &mut TcpStream {
        match self {
            Stream::Plain(s) => s,
            #[cfg(feature = "tls")]
            Stream::Tls(t) => &mut t.sock,
            #[cfg(feature = "websockets")]
            Stream::Ws(w) => w.inner.socket(),
        }
    }

    /// Called after reads and before deciding on WRITABLE interest. True
    /// while the transport itself holds output (TLS records) that the
    /// socket did not take, or WebSocket output of the layer's own; always
    /// false for plain TCP.
    #[inline]
    pub fn wants_write(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.wants_write(),
            #[cfg(feature = "websockets")]
            Stream::Ws(w) => w.wants_write(),
        }
    }

    /// Called after each read. Returns, once, the username the client's
    /// certificate gives on a listener with `use_identity_as_username` or
    /// `use_subject_as_username` (after the handshake); `None` otherwise.
    #[inline]
    pub fn take_cert_name(&mut self) -> Option<Box<str>> {
        match self {
            Stream::Plain(_) => None,
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.take_cert_name(),
            #[cfg(feature = "websockets")]
            Stream::Ws(w) => w.inner.take_cert_name(),
        }
    }

    /// Called just before the connection is dropped: sends a WebSocket
    /// close frame and TLS `close_notify` (what the socket takes of them);
    /// nothing for plain TCP.
    pub fn close_notify(&mut self) {
        match self {
            Stream::Plain(_) => {}
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.close_notify(),
            #[cfg(feature = "websockets")]
            Stream::Ws(w) => w.close_notify(),
        }
    }
}

impl Read for Stream {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.read(buf),
            #[cfg(feature = "websockets")]
            Stream::Ws(w) => w.read(buf),
        }
    }
}

impl Write for Stream {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.write(buf),
            #[cfg(feature = "websockets")]
            Stream::Ws(w) => w.write(buf),
        }
    }

    #[inline]
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write_vectored(bufs),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.write_vectored(bufs),
            #[cfg(feature = "websockets")]
            Stream::Ws(w) => w.write_vectored(bufs),
        }
    }

    #[inline]
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.flush(),
            #[cfg(feature = "websockets")]
            Stream::Ws(w) => w.flush(),
        }
    }
}

impl Source for Stream {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.socket().register(registry, token, interest)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.socket().reregister(registry, token, interest)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        self.socket().deregister(registry)
    }
}
