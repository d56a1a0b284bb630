//! A small sans-I/O host name resolver for the bridge's `address` names:
//! no sockets, no clock reads, no threads, and no libc resolver (glibc's
//! `getaddrinfo` cannot run from the static Pi build, and would block the
//! event loop anyway).
//!
//! - [`hosts`]: `/etc/hosts` text, consulted before any query.
//! - [`conf`]: `/etc/resolv.conf` text: name servers, search list,
//!   timeout and attempts.

pub mod conf;
pub mod hosts;

pub use conf::ResolvConf;
