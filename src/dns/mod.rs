//! A small sans-I/O host name resolver for the bridge's `address` names:
//! no sockets, no clock reads, no threads, and no libc resolver (glibc's
//! `getaddrinfo` cannot run from the static Pi build, and would block the
//! event loop anyway).
//!
//! The event loop owns one non-blocking UDP socket and drives a
//! [`Lookup`]: it sends what [`Lookup::transmit`] hands it, passes every
//! datagram it receives to [`Lookup::datagram`] with the sender's address,
//! calls [`Lookup::timeout`] once [`Lookup::deadline`] has passed, and is
//! done when [`Lookup::result`] is `Some`. Time comes in as an
//! [`Instant`](std::time::Instant) argument; a datagram the socket could
//! not send counts as lost and is retried at the deadline.
//!
//! - [`hosts`]: `/etc/hosts` text, consulted before any query.
//! - [`conf`]: `/etc/resolv.conf` text: name servers, search list,
//!   timeout and attempts.
//! - [`name`]: domain names: checking one to query, reading one from a
//!   response (compression pointers bounded).
//! - [`wire`]: the DNS message format for A and AAAA queries: building a
//!   query, checking and reading a response.
//! - [`lookup`]: the state machine that ties them together.
//!
//! Only UDP: a truncated reply is an error from that server (the next one
//! is tried), not a retry over TCP. Plain A/AAAA lookups of at most a few
//! addresses fit in 512 bytes.

pub mod conf;
pub mod hosts;
pub mod lookup;
pub mod name;
#[cfg(test)]
pub(crate) mod testdata;
pub mod wire;

pub use conf::ResolvConf;
pub use lookup::Lookup;
pub use wire::{Answer, DnsError, NameError, QType};
