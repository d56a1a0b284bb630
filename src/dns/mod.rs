//! A small sans-I/O host name resolver for the bridge's `address` names:
//! no sockets, no clock reads, no threads, and no libc resolver (glibc's
//! `getaddrinfo` cannot run from the static Pi build, and would block the
//! event loop anyway).
//!
//! - [`hosts`]: `/etc/hosts` text, consulted before any query.
//! - [`conf`]: `/etc/resolv.conf` text: name servers, search list,
//!   timeout and attempts.
//! - [`name`]: domain names: checking one to query, reading one from a
//!   response (compression pointers bounded).
//! - [`wire`]: the DNS message format for A and AAAA queries: building a
//!   query, checking and reading a response.

pub mod conf;
pub mod hosts;
pub mod name;
#[cfg(test)]
pub(crate) mod testdata;
pub mod wire;

pub use conf::ResolvConf;
pub use wire::{Answer, DnsError, NameError, QType};
