//! The transport each listener gives the sockets it accepts: plain TCP,
//! TLS on a listener with certificates, and a WebSocket layer over either
//! on a `protocol websockets` listener.
//!
//! Contract: [`Transports::load`] runs when the server binds, before any
//! socket: it loads every listener's TLS files and refuses what this build
//! cannot serve (an error names the listener); [`Transports::wrap`] then
//! turns each accepted socket into its [`Stream`].

use std::io;
use std::net::SocketAddr;

#[cfg(feature = "tls")]
use log::warn;
use mio::net::TcpStream;

#[cfg(feature = "websockets")]
use crate::broker::MQTT_MAX_PACKET;
#[cfg(feature = "websockets")]
use crate::config::ListenerProtocol;
use crate::config::{Config, Listener};
#[cfg(feature = "tls")]
use crate::tls::{Acceptor, TlsStream};
use crate::transport::Stream;
#[cfg(feature = "websockets")]
use crate::ws::{WsLimits, WsStream};

/// Per listener, what its connections are wrapped in.
pub(super) struct Transports {
    /// The TLS set-up, `None` for plain TCP (replaced on SIGHUP).
    #[cfg(feature = "tls")]
    pub(super) acceptors: Vec<Option<Acceptor>>,
    /// The WebSocket limits, `None` for MQTT straight over the stream.
    #[cfg(feature = "websockets")]
    websockets: Vec<Option<WsLimits>>,
}

/// An error naming the listener.
fn refused(l: &Listener, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("listener on port {}: {what}", l.port),
    )
}

impl Transports {
    /// Called by `Server::bind` before anything is bound. Returns every
    /// listener's set-up, or the first listener this build cannot serve
    /// or whose TLS files do not load.
    pub(super) fn load(config: &Config) -> io::Result<Transports> {
        #[cfg(not(feature = "tls"))]
        if let Some(l) = config.listeners.iter().find(|l| l.tls.enabled()) {
            return Err(refused(l, "midge was built without TLS (the tls feature)"));
        }
        #[cfg(not(feature = "websockets"))]
        if let Some(l) = config
            .listeners
            .iter()
            .find(|l| l.protocol != crate::config::ListenerProtocol::Mqtt)
        {
            return Err(refused(
                l,
                "midge was built without WebSockets (the websockets feature)",
            ));
        }
        #[cfg(feature = "websockets")]
        let max_message = match config.max_packet_size {
            0 => MQTT_MAX_PACKET as u64,
            n => u64::from(n),
        };
        Ok(Transports {
            #[cfg(feature = "tls")]
            acceptors: load_tls(config)?,
            #[cfg(feature = "websockets")]
            websockets: config
                .listeners
                .iter()
                .map(|l| {
                    (l.protocol == ListenerProtocol::Websockets).then_some(WsLimits {
                        max_message,
                        headers_size: config.websockets_headers_size,
                    })
                })
                .collect(),
        })
    }

    /// Called for each socket accepted on listener `index`. Returns its
    /// transport; `None` (logged; the socket closes) if rustls cannot set
    /// up the connection.
    pub(super) fn wrap(&self, index: usize, sock: TcpStream, peer: SocketAddr) -> Option<Stream> {
        let stream = self.secure(index, sock, peer)?;
        #[cfg(feature = "websockets")]
        if let Some(limits) = self.websockets[index] {
            return Some(Stream::Ws(Box::new(WsStream::new(stream, limits))));
        }
        Some(stream)
    }

    /// TLS on a TLS listener, else the socket itself.
    #[cfg(feature = "tls")]
    fn secure(&self, index: usize, sock: TcpStream, peer: SocketAddr) -> Option<Stream> {
        match &self.acceptors[index] {
            None => Some(Stream::Plain(sock)),
            Some(acceptor) => match TlsStream::new(sock, acceptor) {
                Ok(tls) => Some(Stream::Tls(Box::new(tls))),
                Err(e) => {
                    warn!("connection from {peer} dropped: {e}");
                    None
                }
            },
        }
    }

    /// Without the `tls` feature every socket is plain TCP.
    #[cfg(not(feature = "tls"))]
    fn secure(&self, _index: usize, sock: TcpStream, _peer: SocketAddr) -> Option<Stream> {
        Some(Stream::Plain(sock))
    }
}

/// The TLS set-up of every listener (`None` for a plain one), loaded before
/// anything is bound and on SIGHUP; an error names the listener and the
/// file.
#[cfg(feature = "tls")]
pub(super) fn load_tls(config: &Config) -> io::Result<Vec<Option<Acceptor>>> {
    config
        .listeners
        .iter()
        .map(|l| {
            if !l.tls.enabled() {
                return Ok(None);
            }
            Acceptor::load(&l.tls).map(Some).map_err(|e| refused(l, e))
        })
        .collect()
}
