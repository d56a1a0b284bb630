//! midge: a small, fast, single-threaded MQTT 3.1 / 3.1.1 / 5.0 broker.
//!
//! # Layout
//! - [`auth`]: password and ACL files (who may connect, publish and
//!   subscribe).
//! - [`codec`]: the pure MQTT wire format (framing, decode, encode).
//! - [`topic`]: topic and filter validation, the arena topic tree and the
//!   retained-message store.
//! - [`timer`]: the hashed timer wheel.
//! - [`session`]: per-client state that outlives a connection.
//! - [`outbuf`]: a connection's output queue (shared payloads, vectored
//!   writes).
//! - [`broker`]: the protocol logic, driven by bytes and the time; no
//!   sockets.
//! - [`server`]: the mio event loop that connects the broker to sockets.
//! - [`notify`]: telling systemd (`NOTIFY_SOCKET`) when the broker is
//!   ready, reloading or stopping.
//! - [`transport`]: a connection's byte stream, plain TCP, TLS, or
//!   WebSocket over either.
//! - `tls` (the `tls` feature): TLS listeners with rustls: loading the
//!   certificates, the sans-I/O connection driven by the loop, and the
//!   certificate names used as usernames.
//! - `ws` (the `websockets` feature): MQTT over WebSockets: the upgrade
//!   handshake, the frame codec, and the stream layer the loop drives.
//! - [`config`]: command line and mosquitto.conf-style config file.
//! - [`dns`]: the bridge's host name resolver, sans-I/O: hosts file,
//!   resolv.conf, the DNS message, and the lookup the loop drives.
//! - `fuzz` (tests and `cargo fuzz` only): the fuzz targets.
//! - [`persistence`]: the store driven by the event loop (commit per
//!   turn, compaction).
//! - [`store`]: crash-safe storage of opaque records (append log with group
//!   commit, compacted snapshot, recovery).
//! - `swar`: byte tests eight at a time, for the checks on every topic.

pub mod auth;
pub mod broker;
pub mod codec;
pub mod config;
pub mod dns;
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub mod fuzz;
pub mod notify;
pub mod outbuf;
pub mod persistence;
pub mod server;
pub mod session;
pub mod store;
mod swar;
#[cfg(test)]
mod testutil;
pub mod timer;
#[cfg(feature = "tls")]
pub mod tls;
pub mod topic;
pub mod transport;
#[cfg(feature = "websockets")]
pub mod ws;
