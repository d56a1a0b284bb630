//! Command line and config file, as a drop-in for Mosquitto 2.0's.
//!
//! Contract:
//! - `midge -v -p PORT` and `midge -c FILE` mean what `mosquitto -v -p PORT`
//!   and `mosquitto -c FILE` mean, for the flags and directives midge
//!   implements (see [`parse_args`] and the `parse` module for the list).
//! - Parsing is all-or-nothing: a directive midge does not implement yet, a
//!   directive nobody knows, a missing or extra argument or a value out of
//!   range is a [`ConfigError`] naming the file, line and directive, and the
//!   broker does not start half-configured.
//! - No I/O other than reading the config file and the `include_dir`
//!   directories; nothing here touches the network (a listener address must
//!   be an IP literal: the static Pi build cannot resolve names; a bridge's
//!   `address` may name a host, kept as text).
//! - The result is a plain [`Config`] whose fields the broker reads directly.
//!
//! Where midge deliberately differs from Mosquitto 2.0:
//! - local-only mode (no listener configured) binds 127.0.0.1 only, not also
//!   `::1`; the event loop may add `::1` when [`Config::local_only`] is set;
//! - an explicit `allow_anonymous false` is honoured in local-only mode
//!   (Mosquitto forces anonymous access on there);
//! - a per-listener setting written before the first `listener` line while
//!   no `port`/`bind_address` configures the default listener is an error
//!   (Mosquitto silently opens an extra listener on port 1883, or drops the
//!   setting); `mount_point` may be given to the default listener too
//!   (Mosquitto 2.0 refuses it before the first `listener` line);
//! - values are checked strictly (`12abc` is not 12), and a duplicate
//!   listener is refused when parsed rather than when bound;
//! - the bridge directives differ in the few ways `parse/bridge.rs` lists
//!   (values below Mosquitto's minimum are refused rather than raised,
//!   IPv6 bridge addresses are written in brackets, PSK and OCSP are
//!   refused).

mod args;
pub mod bridge;
mod not_yet;
mod parse;
pub mod persistence;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_bridge;
#[cfg(test)]
mod tests_bridge_checks;
#[cfg(test)]
mod tests_tls;
#[cfg(test)]
mod tests_ws;
pub mod tls;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::codec::QoS;
pub use args::{parse_args, Command, MAX_CMD_PORTS};
pub use bridge::BridgeConfig;
pub use persistence::{Autosave, Persistence, PersistenceSync};
pub use tls::{CertUsername, TlsSettings, TlsVersion};

/// The default MQTT port.
pub const DEFAULT_PORT: u16 = 1883;

/// The largest PUBLISH payload MQTT can carry (and the largest
/// `message_size_limit`).
pub const MAX_PAYLOAD: u32 = 268_435_455;

/// The header block limit of a WebSocket upgrade request when
/// `websockets_headers_size` is not set (or is 0).
pub const DEFAULT_WEBSOCKETS_HEADERS_SIZE: usize = 8192;

/// What a listener's clients speak (`protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListenerProtocol {
    /// `mqtt` (the default): MQTT over TCP (or TLS).
    #[default]
    Mqtt,
    /// `websockets`: MQTT over WebSockets (over TCP or TLS), with the
    /// `websockets` feature.
    Websockets,
}

/// One TCP listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// The TCP port (1 to 65535). Mosquitto: `listener PORT`, `port`
    /// (default listener), `-p`; 1883 when nothing says otherwise.
    pub port: u16,
    /// The address to bind; `None` binds all interfaces (mosquitto: no
    /// address given). Local-only mode binds 127.0.0.1.
    pub bind: Option<IpAddr>,
    /// At most this many clients at once on this listener; `None` is
    /// unlimited (mosquitto default -1; any value <= 0 means unlimited).
    pub max_connections: Option<usize>,
    /// This listener's `allow_anonymous`, set only when
    /// `per_listener_settings` is true; `None` when not set. Read it through
    /// [`Config::anonymous_allowed`].
    pub allow_anonymous: Option<bool>,
    /// This listener's `allow_zero_length_clientid`, set only when
    /// `per_listener_settings` is true; `None` when not set. Read it through
    /// [`Config::zero_length_clientid_allowed`].
    pub allow_zero_length_clientid: Option<bool>,
    /// `max_topic_alias` (default 10, range 0 to 65535): the Topic Alias
    /// Maximum sent to MQTT 5 clients in CONNACK, that is how many topic
    /// aliases a client may set up towards the broker; 0 allows none.
    pub max_topic_alias: u16,
    /// `max_qos` (default 2): the highest QoS a client of this listener may
    /// publish at or be granted. MQTT 5 clients are told it in CONNACK
    /// (Maximum QoS) and one publishing above it gets DISCONNECT 0x9B (QoS
    /// not supported); a 3.x client publishing above it is disconnected.
    pub max_qos: QoS,
    /// This listener's `password_file`, set only when
    /// `per_listener_settings` is true. Read it through
    /// [`Config::password_file`].
    pub password_file: Option<PathBuf>,
    /// This listener's `acl_file`, set only when `per_listener_settings`
    /// is true. Read it through [`Config::acl_file`].
    pub acl_file: Option<PathBuf>,
    /// `mount_point` (default none): a topic prefix, written as it is
    /// joined (usually ending in `/`), added to every topic this listener's
    /// clients publish or subscribe to and removed from the topics they
    /// receive. Never contains `+` or `#`.
    pub mount_point: Option<String>,
    /// The TLS directives (`certfile`, `keyfile`, `cafile`, ...); a plain
    /// TCP listener when none is given.
    pub tls: TlsSettings,
    /// `protocol` (default mqtt): MQTT straight over the connection, or
    /// inside WebSocket frames (TLS, if configured, is under them).
    pub protocol: ListenerProtocol,
}

impl Listener {
    /// A listener on `port` and `bind` with every other setting at its
    /// default.
    pub fn new(port: u16, bind: Option<IpAddr>) -> Self {
        Listener {
            port,
            bind,
            max_connections: None,
            allow_anonymous: None,
            allow_zero_length_clientid: None,
            password_file: None,
            acl_file: None,
            max_topic_alias: 10,
            max_qos: QoS::ExactlyOnce,
            mount_point: None,
            tls: TlsSettings::default(),
            protocol: ListenerProtocol::Mqtt,
        }
    }
}

/// One kind of log message (`log_type` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogType {
    /// `debug`: packet-level tracing.
    Debug,
    /// `error`.
    Error,
    /// `warning`.
    Warning,
    /// `notice`: connections and disconnections.
    Notice,
    /// `information`.
    Information,
    /// `subscribe`: every SUBSCRIBE.
    Subscribe,
    /// `unsubscribe`: every UNSUBSCRIBE.
    Unsubscribe,
    /// `websockets`: WebSocket handshakes and the refusals of bad ones.
    Websockets,
    /// `internal`: accepted for compatibility.
    Internal,
}

impl LogType {
    const ALL: [LogType; 9] = [
        LogType::Debug,
        LogType::Error,
        LogType::Warning,
        LogType::Notice,
        LogType::Information,
        LogType::Subscribe,
        LogType::Unsubscribe,
        LogType::Websockets,
        LogType::Internal,
    ];

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of [`LogType`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogTypes(u16);

impl LogTypes {
    /// No log messages (`log_type none`).
    pub const NONE: LogTypes = LogTypes(0);

    /// Every kind (`log_type all`, `-v`).
    pub fn all() -> Self {
        LogTypes(LogType::ALL.iter().fold(0, |bits, t| bits | t.bit()))
    }

    /// Mosquitto's default: error, warning, notice and information.
    pub fn mosquitto_default() -> Self {
        LogTypes::NONE
            .with(LogType::Error)
            .with(LogType::Warning)
            .with(LogType::Notice)
            .with(LogType::Information)
    }

    /// This set plus `kind`.
    pub fn with(self, kind: LogType) -> Self {
        LogTypes(self.0 | kind.bit())
    }

    /// True when `kind` is in the set.
    pub fn contains(self, kind: LogType) -> bool {
        self.0 & kind.bit() != 0
    }

    /// True when the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// Where log messages go (`log_dest` values). Several may be given; they
/// add up. `log_dest none` empties the list. Mosquitto's `syslog`, `topic`
/// and `dlt` are refused: midge does not support them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogDest {
    /// `stdout`.
    Stdout,
    /// `stderr` (the default).
    Stderr,
    /// `file PATH`: appended to; at most one.
    File(PathBuf),
}

/// The whole configuration. Every field has Mosquitto 2.0's default unless
/// its doc says otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The listeners, in config order; the default listener (`port`,
    /// `bind_address`) comes last as in Mosquitto. In local-only mode, one
    /// listener on 127.0.0.1 per `-p` port, or 127.0.0.1:1883.
    pub listeners: Vec<Listener>,
    /// True in Mosquitto 2.0's local-only mode: no `listener`, `port` or
    /// `bind_address` was configured, so the listeners are loopback-only and
    /// anonymous clients are allowed unless `allow_anonymous` says no.
    pub local_only: bool,
    /// `per_listener_settings` (default false): `allow_anonymous` and
    /// `allow_zero_length_clientid` apply to the listener they follow
    /// instead of the whole broker.
    pub per_listener_settings: bool,
    /// `allow_anonymous` for the whole broker (`per_listener_settings
    /// false`); `None` when not set: then true in local-only mode, false
    /// otherwise. Read it through [`Config::anonymous_allowed`].
    pub allow_anonymous: Option<bool>,
    /// `password_file` for the whole broker (`per_listener_settings
    /// false`): the users allowed to connect, in the format
    /// `mosquitto_passwd` (or `midge passwd`) writes. Read it through
    /// [`Config::password_file`].
    pub password_file: Option<PathBuf>,
    /// `acl_file` for the whole broker (`per_listener_settings false`):
    /// who may publish and subscribe to what, in Mosquitto's ACL format.
    /// With one, what it does not grant is denied. Read it through
    /// [`Config::acl_file`].
    pub acl_file: Option<PathBuf>,
    /// `allow_zero_length_clientid` for the whole broker (default true): a
    /// client may connect with an empty client id and be given one. Read it
    /// through [`Config::zero_length_clientid_allowed`].
    pub allow_zero_length_clientid: bool,
    /// `max_inflight_messages` (default 20): outgoing QoS 1 and 2 messages
    /// in flight per client; 0 means no limit (Mosquitto: 0, -1 and 65535).
    /// See [`Config::inflight_window`].
    pub max_inflight_messages: u16,
    /// `max_inflight_bytes` (default 0): payload bytes of outgoing QoS 1
    /// and 2 messages in flight per client; 0 means no limit (a negative
    /// value too, as in Mosquitto). A message larger than the limit is still
    /// sent, alone in flight. Applies together with `max_inflight_messages`.
    pub max_inflight_bytes: usize,
    /// `max_queued_messages` (default 1000): messages queued per client
    /// beyond the in-flight window; 0 means no limit.
    pub max_queued_messages: usize,
    /// `max_queued_bytes` (default 0): payload bytes queued per client
    /// beyond the in-flight window; 0 means no limit.
    pub max_queued_bytes: usize,
    /// `queue_qos0_messages` (default false): queue QoS 0 messages for
    /// offline persistent clients too.
    pub queue_qos0_messages: bool,
    /// `message_size_limit` (default 0): the largest PUBLISH payload
    /// accepted, in bytes; 0 means MQTT's own limit, 268435455.
    pub message_size_limit: u32,
    /// `max_packet_size` (default 0): the largest packet accepted, in bytes
    /// (at least 20); 0 means no limit beyond MQTT's.
    pub max_packet_size: u32,
    /// `max_keepalive` (default 65535, range 10 to 65535): the longest
    /// keep-alive, in seconds, a client may use. An MQTT 5 client asking for
    /// more, or for 0 (no keep-alive), is given this value as Server Keep
    /// Alive in CONNACK and must use it; so with the default, a client
    /// asking for 0 is given 65535 (as in Mosquitto 2.0.11). An MQTT 3.x
    /// client, which cannot be told, is refused (CONNACK 0x02) when it asks
    /// for more, or for 0 while this is below 65535.
    pub max_keepalive: u16,
    /// `retain_available` (default true): when false, a retained PUBLISH is
    /// refused.
    pub retain_available: bool,
    /// `upgrade_outgoing_qos` (default false): deliver every message at the
    /// QoS its subscription was granted, even when it was published at a
    /// lower one (not in the MQTT specification, which delivers at the lower
    /// of the two).
    pub upgrade_outgoing_qos: bool,
    /// `check_retain_source` (default false): re-check that the publisher
    /// of a retained message may still publish to it before delivering it.
    pub check_retain_source: bool,
    /// `sys_interval` (default 10 s): period of the `$SYS` updates; `None`
    /// (`sys_interval 0`) disables them.
    pub sys_interval: Option<Duration>,
    /// `persistent_client_expiration` (default never): a disconnected
    /// persistent MQTT 3.x session is dropped after this long.
    pub persistent_client_expiration: Option<Duration>,
    /// `retry_interval` (default off): re-send an unacknowledged QoS 1/2
    /// message on a live MQTT 3.x connection after this long.
    pub retry_interval: Option<Duration>,
    /// `log_type` (default error, warning, notice, information). Several
    /// lines add up; `none` clears, `all` sets every kind. `-v` sets all.
    pub log_types: LogTypes,
    /// `log_dest` (default stderr). Several lines add up; empty after
    /// `log_dest none`.
    pub log_dest: Vec<LogDest>,
    /// `pid_file` (default none): where midge writes its process id once
    /// the listeners are bound; removed again at a clean exit.
    pub pid_file: Option<PathBuf>,
    /// `include_dir` directories read, in order (default none).
    pub include_dirs: Vec<PathBuf>,
    /// `-v`/`--verbose` (default false): log everything, overriding
    /// `log_type`.
    pub verbose: bool,
    /// The `-c` file, if any.
    pub config_file: Option<PathBuf>,
    /// `persistence` and the directives of the store.
    pub persistence: Persistence,
    /// `websockets_headers_size` (default 8192 bytes, also for 0): the
    /// longest WebSocket upgrade request; a longer one gets HTTP 431.
    pub websockets_headers_size: usize,
    /// `connection` sections, in order.
    pub bridges: Vec<BridgeConfig>,
    /// Things the broker should log once at start (ignored directives,
    /// ignored `-p`); the config is still valid.
    pub warnings: Vec<String>,
}

impl Default for Config {
    /// Mosquitto 2.0's defaults, with no listener yet (see
    /// [`Config::local_only`]).
    fn default() -> Self {
        Config {
            listeners: Vec::new(),
            local_only: true,
            per_listener_settings: false,
            allow_anonymous: None,
            allow_zero_length_clientid: true,
            password_file: None,
            acl_file: None,
            max_inflight_messages: 20,
            max_inflight_bytes: 0,
            max_queued_messages: 1000,
            max_queued_bytes: 0,
            queue_qos0_messages: false,
            message_size_limit: 0,
            max_packet_size: 0,
            max_keepalive: 65535,
            retain_available: true,
            upgrade_outgoing_qos: false,
            check_retain_source: false,
            sys_interval: Some(Duration::from_secs(10)),
            persistent_client_expiration: None,
            retry_interval: None,
            log_types: LogTypes::mosquitto_default(),
            log_dest: vec![LogDest::Stderr],
            pid_file: None,
            include_dirs: Vec::new(),
            websockets_headers_size: DEFAULT_WEBSOCKETS_HEADERS_SIZE,
            bridges: Vec::new(),
            verbose: false,
            config_file: None,
            persistence: Persistence::default(),
            warnings: Vec::new(),
        }
    }
}

impl Config {
    /// Whether a client without a username may connect on listener
    /// `listener_index`; called at CONNECT. Applies `per_listener_settings`;
    /// when nothing was set, anonymous clients are allowed only in
    /// local-only mode (Mosquitto 2.0).
    pub fn anonymous_allowed(&self, listener_index: usize) -> bool {
        let set = if self.per_listener_settings {
            self.listeners
                .get(listener_index)
                .and_then(|l| l.allow_anonymous)
        } else {
            self.allow_anonymous
        };
        set.unwrap_or(self.local_only)
    }

    /// The password file that applies to listener `listener_index`
    /// (`per_listener_settings` decides whose); read at start and on
    /// SIGHUP.
    pub fn password_file(&self, listener_index: usize) -> Option<&Path> {
        if self.per_listener_settings {
            self.listeners.get(listener_index)?.password_file.as_deref()
        } else {
            self.password_file.as_deref()
        }
    }

    /// The ACL file that applies to listener `listener_index`
    /// (`per_listener_settings` decides whose); read at start and on
    /// SIGHUP.
    pub fn acl_file(&self, listener_index: usize) -> Option<&Path> {
        if self.per_listener_settings {
            self.listeners.get(listener_index)?.acl_file.as_deref()
        } else {
            self.acl_file.as_deref()
        }
    }

    /// Whether a client may connect with an empty client id on listener
    /// `listener_index`; called at CONNECT. Applies `per_listener_settings`.
    pub fn zero_length_clientid_allowed(&self, listener_index: usize) -> bool {
        if self.per_listener_settings {
            self.listeners
                .get(listener_index)
                .and_then(|l| l.allow_zero_length_clientid)
                .unwrap_or(true)
        } else {
            self.allow_zero_length_clientid
        }
    }

    /// The outgoing in-flight window per client (MQTT 5 Receive Maximum
    /// style): `max_inflight_messages`, with 0 ("no limit") as 65535.
    pub fn inflight_window(&self) -> u16 {
        match self.max_inflight_messages {
            0 => u16::MAX,
            n => n,
        }
    }

    /// Whether lines of `kind` are wanted (`log_type`, or `-v` for all);
    /// used at start to switch the subscribe/unsubscribe log targets.
    pub fn logs(&self, kind: LogType) -> bool {
        self.verbose || self.log_types.contains(kind)
    }

    /// The most verbose `log` level wanted, for the logger set-up at start:
    /// debug -> Debug; information, notice -> Info;
    /// warning -> Warn; error -> Error; none -> Off. `-v` -> Debug.
    /// Subscription lines have their own targets, switched by
    /// [`Config::logs`].
    pub fn log_filter(&self) -> log::LevelFilter {
        use log::LevelFilter;
        if self.verbose {
            return LevelFilter::Debug;
        }
        let types = self.log_types;
        let level_of = |kind: LogType| match kind {
            LogType::Debug | LogType::Websockets | LogType::Internal => LevelFilter::Debug,
            LogType::Information | LogType::Notice => LevelFilter::Info,
            // Subscription lines have log targets of their own.
            LogType::Subscribe | LogType::Unsubscribe => LevelFilter::Off,
            LogType::Warning => LevelFilter::Warn,
            LogType::Error => LevelFilter::Error,
        };
        LogType::ALL
            .iter()
            .filter(|&&kind| types.contains(kind))
            .map(|&kind| level_of(kind))
            .max()
            .unwrap_or(LevelFilter::Off)
    }

    /// Applies the command line's `-p` ports and settles local-only mode;
    /// called once after the file (if any) is parsed. With no listener
    /// configured: one loopback listener per `-p` port, or 127.0.0.1:1883.
    /// With listeners: `-p` is ignored, as in Mosquitto 2.0.
    fn finish(&mut self, cmd_ports: &[u16]) {
        if self.listeners.is_empty() {
            self.local_only = true;
            let loopback = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
            if cmd_ports.is_empty() {
                self.listeners.push(Listener::new(DEFAULT_PORT, loopback));
            } else {
                for &port in cmd_ports {
                    if !self.listeners.iter().any(|l| l.port == port) {
                        self.listeners.push(Listener::new(port, loopback));
                    }
                }
            }
        } else {
            self.local_only = false;
            if !cmd_ports.is_empty() {
                self.warnings.push(
                    "-p is ignored because the config file defines listeners (as in mosquitto 2.0)"
                        .to_string(),
                );
            }
        }
    }
}

/// Why the command line or the config file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The config file the error is in; `None` for a command line error.
    pub file: Option<String>,
    /// The 1-based line in `file`.
    pub line: Option<usize>,
    /// The directive on that line.
    pub directive: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// A command line error.
    fn cli(message: impl Into<String>) -> Self {
        ConfigError {
            file: None,
            line: None,
            directive: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}:")?;
            if let Some(line) = self.line {
                write!(f, "{line}:")?;
            }
            f.write_str(" ")?;
        }
        if let Some(directive) = &self.directive {
            write!(f, "{directive}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Reads and parses the config file at `path` (as `-c` does, `-p` aside);
/// `include_dir` directories are read too. Returns the config, with the
/// local-only listener when the file defines none, or the first error.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let mut config = parse::load_raw(path)?;
    config.finish(&[]);
    Ok(config)
}

/// Parses config `text`; `name` is the file name used in errors. Returns
/// the config, with the local-only listener when the text defines none, or
/// the first error.
pub fn parse_str(name: &str, text: &str) -> Result<Config, ConfigError> {
    let mut config = parse::parse_raw(name, text)?;
    config.finish(&[]);
    Ok(config)
}

/// [`parse_str`] with `include_dir` directories read by `read_dir` instead
/// of the file system (for the fuzzer).
#[cfg(any(test, fuzzing))]
pub(crate) fn parse_str_with(
    name: &str,
    text: &str,
    read_dir: parse::ReadDir<'_>,
) -> Result<Config, ConfigError> {
    let mut config = parse::parse_raw_with(name, text, read_dir)?;
    config.finish(&[]);
    Ok(config)
}
