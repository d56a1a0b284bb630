//! midge: a small, fast, single-threaded MQTT 3.1 / 3.1.1 / 5.0 broker.
//!
//! # Layout
//! - [`codec`]: the pure MQTT wire format (framing, decode, encode).
//! - [`topic`]: topic and filter validation, the arena topic tree and the
//!   retained-message store.
//! - [`timer`]: the hashed timer wheel.
//! - [`config`]: command line and mosquitto.conf-style config file.

pub mod codec;
pub mod config;
pub mod timer;
pub mod topic;
