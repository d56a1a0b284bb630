//! The fuzz targets: what each does with the fuzzer's bytes and what it
//! checks. Compiled for tests and for `cargo fuzz` (which sets
//! `--cfg fuzzing`); `fuzz/fuzz_targets/` holds the thin libFuzzer entry
//! points, and [`replay`] runs every stored corpus input through the same
//! functions inside `cargo test`, so a known input that breaks is a test
//! failure without the fuzzer.
//!
//! A target panics when a property fails; libFuzzer saves the input.
//! - [`codec`]: framing and decoding at protocol 3, 4 and 5; whatever
//!   decodes must encode and decode to the same packet.
//! - [`broker`]: several clients' bytes, fuzzer-chosen, with the clock
//!   moving; the broker's invariants are audited after every step.
//!   `broker_acl` is the same with an ACL file: whatever a client reads,
//!   its rules let it read.
//! - [`bridge`]: a broker with a bridge, the fuzzer playing the far side,
//!   the event loop and two local clients; nothing the far side sends
//!   comes back to it.
//! - [`config`]: the config parser over a main file and `include_dir`
//!   files.
//! - [`store`]: recovery from arbitrary store files, and the replay of
//!   arbitrary records into a broker.
//! - [`acl`]: the ACL file parser, a client's checks, and the subscription
//!   classifier measured against `can_read`.
//! - `x509` (with the `tls` feature): the DER walk of a certificate and the
//!   RFC 2253 text of its subject.
//! - [`password`]: the password file parser, checks of every user, and
//!   `midge passwd`'s edits of the file.
//! - [`dns`]: the resolver's response reader over assorted questions, the
//!   hosts file and resolv.conf parsers over the same bytes as text, and a
//!   lookup answered with them (spoofed copies first).
//! - `ws` (with the `websockets` feature): the upgrade request parser and
//!   the frame decoder at every split; frames decode to what was encoded.

pub mod acl;
pub mod bridge;
pub mod broker;
pub mod codec;
pub mod config;
pub mod dns;
mod oracle;
pub mod password;
#[cfg(test)]
mod replay;
#[cfg(test)]
mod seeds;
pub mod store;
#[cfg(feature = "websockets")]
pub mod ws;
#[cfg(feature = "tls")]
pub mod x509;

/// A target: takes the fuzzer's bytes, panics when a property fails.
pub type Target = fn(&[u8]);

/// Every target by name, as `scripts/fuzz.sh` and the corpus folders name
/// them.
pub const TARGETS: &[(&str, Target)] = &[
    ("codec", codec::run),
    ("broker", broker::run),
    ("broker_acl", broker::run_acl),
    ("bridge", bridge::run),
    ("config", config::run),
    ("store", store::run),
    ("acl", acl::run),
    #[cfg(feature = "tls")]
    ("x509", x509::run),
    ("password", password::run),
    #[cfg(feature = "websockets")]
    ("ws", ws::run),
    ("dns", dns::run),
];
