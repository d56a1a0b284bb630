//! TLS listeners, black-box: a rustls client over real TCP against an
//! in-process midge, the real binary refusing bad certificate files, and
//! Mosquitto's command-line clients with `--cafile`/`--cert`/`--key`.
//!
//! # Layout
//! - `kit.rs`: certificates made per test (rcgen), the broker with one TLS
//!   and one plain listener, a blocking rustls client speaking raw MQTT.
//! - `session.rs`: CONNECT, SUBSCRIBE and PUBLISH through TLS, between TLS
//!   and plain clients; what a bad peer gets (plain MQTT, garbage, a
//!   handshake that never ends) while others go on.
//! - `identity.rs`: `require_certificate`, `use_identity_as_username`,
//!   `use_subject_as_username`, `crlfile`.
//! - `start.rs`: bad, unreadable or expired files stop the real binary at
//!   start with the file named.
//! - `clients.rs`: `mosquitto_pub`/`mosquitto_sub` over TLS.
//! - `bench.rs`: `midge-bench --tls` (message scenarios and handshakes).
//! - `process.rs`: the real binary and the Mosquitto clients as child
//!   processes with deadlines.
//! - `websockets.rs` (with the `websockets` feature): MQTT over WebSocket
//!   over TLS (wss), with the WebSocket client of `tests/ws/client.rs`.
//!
//! Contract: 127.0.0.1 only; every read and every child process has a
//! deadline; every test makes its own certificates and broker.

#[path = "../common/mod.rs"]
pub mod common;

use common::process;

mod bench;
mod clients;
mod identity;
mod kit;
mod session;
mod start;
#[cfg(feature = "websockets")]
mod websockets;
#[cfg(feature = "websockets")]
#[path = "../ws/client.rs"]
pub mod ws_client;
