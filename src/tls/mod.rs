//! TLS with rustls (and ring), inside the one event loop: listeners (the
//! server side) and bridges (the client side).
//!
//! Contract:
//! - [`Acceptor::load`] turns a listener's [`TlsSettings`](crate::config::TlsSettings)
//!   into a rustls server configuration when the server binds, reading and
//!   checking every file then (see `load`).
//! - [`Connector::load`] does the same for a bridge's
//!   [`BridgeTls`](crate::config::bridge::BridgeTls): a rustls client
//!   configuration (see `connect`).
//! - `files` reads and checks the PEM files for both.
//! - [`TlsStream`] is one connection, accepted ([`TlsStream::new`]) or
//!   opened ([`TlsStream::client`]): the event loop reads and writes it
//!   like a socket (see `stream` for what a short read and `WouldBlock`
//!   mean there); the handshake happens inside those reads and writes, so
//!   the broker's CONNECT timeout covers it.
//! - `x509` and `dn` read what midge needs from a certificate itself: the
//!   validity period, the Common Name and the subject in Mosquitto's RFC
//!   2253 form (for `use_identity_as_username` / `use_subject_as_username`).

mod connect;
pub mod dn;
mod files;
mod load;
mod stream;
#[cfg(test)]
mod test_pki;
pub mod x509;

pub use connect::Connector;
pub use load::Acceptor;
pub use stream::TlsStream;
