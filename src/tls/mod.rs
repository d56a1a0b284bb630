//! TLS listeners with rustls (and ring), inside the one event loop.
//!
//! Contract:
//! - [`Acceptor::load`] turns a listener's [`TlsSettings`](crate::config::TlsSettings)
//!   into a rustls server configuration when the server binds, reading and
//!   checking every file then (see `load`).
//! - [`TlsStream`] is one connection: the event loop reads and writes it
//!   like a socket (see `stream` for what a short read and `WouldBlock`
//!   mean there); the handshake happens inside those reads and writes, so
//!   the broker's CONNECT timeout covers it.
//! - `x509` and `dn` read what midge needs from a certificate itself: the
//!   validity period, the Common Name and the subject in Mosquitto's RFC
//!   2253 form (for `use_identity_as_username` / `use_subject_as_username`).

pub mod dn;
mod files;
mod load;
mod stream;
pub mod x509;

pub use load::Acceptor;
pub use stream::TlsStream;
