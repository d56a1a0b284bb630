//! WebSocket listeners, black-box: a hand-written WebSocket client over
//! real TCP against an in-process midge with one `protocol websockets`
//! listener and one plain listener.
//!
//! # Layout
//! - `client.rs`: the WebSocket client (frames built byte by byte).
//! - `session.rs`: MQTT through WebSocket frames, to and from a plain TCP
//!   client; fragmented, coalesced and byte-by-byte frames; ping, close;
//!   a message larger than the socket buffers.
//! - `refusals.rs`: frames that break the protocol (close 1002, 1003,
//!   1009) and upgrade requests that are refused (HTTP 400, 426, 431).
//!
//! Contract: 127.0.0.1 only; every read has a timeout; every test starts
//! its own broker, stopped and joined on drop.

#[path = "../common/mod.rs"]
pub mod common;

pub mod client;
mod refusals;
mod session;

use std::net::{SocketAddr, TcpStream};

use midge::config::{Config, Listener, ListenerProtocol};

use client::WsClient;
use common::READ_TIMEOUT;

/// A broker with a WebSocket listener and a plain one, on its own thread
/// (stopped and joined on drop).
pub struct WsBroker {
    pub ws: SocketAddr,
    pub plain: SocketAddr,
    _broker: common::TestBroker,
}

impl WsBroker {
    /// Starts the broker after `tweak` has adjusted the configuration.
    pub fn start_with(tweak: impl FnOnce(&mut Config)) -> WsBroker {
        let loopback = Some("127.0.0.1".parse().unwrap());
        let mut ws = Listener::new(0, loopback);
        ws.protocol = ListenerProtocol::Websockets;
        let mut config = Config {
            listeners: vec![ws, Listener::new(0, loopback)],
            allow_anonymous: Some(true),
            ..Config::default()
        };
        tweak(&mut config);
        let broker = common::start_config(config);
        WsBroker {
            ws: broker.addrs[0],
            plain: broker.addrs[1],
            _broker: broker,
        }
    }

    pub fn start() -> WsBroker {
        WsBroker::start_with(|_| {})
    }

    /// A TCP connection to the WebSocket listener, nothing sent.
    pub fn tcp(&self) -> TcpStream {
        let stream = TcpStream::connect(self.ws).expect("TCP connect");
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
    }

    /// An upgraded connection that offered the `mqtt` subprotocol.
    pub fn ws(&self) -> WsClient<TcpStream> {
        let (client, head) = WsClient::upgrade(self.tcp(), Some("mqtt"));
        assert!(
            head.contains("\r\nSec-WebSocket-Protocol: mqtt\r\n"),
            "{head:?}"
        );
        client
    }

    /// An upgraded connection that sent CONNECT (3.1.1) and got CONNACK.
    pub fn connected(&self, client_id: &str) -> WsClient<TcpStream> {
        let mut c = self.ws();
        c.send(&common::ConnectSpec::new(client_id).encode());
        c.expect(common::CONNACK_ACCEPTED);
        c
    }
}
