//! The bridges of a config file: each `connection NAME` section, as
//! Mosquitto 2.0's bridge directives write it. Plain data: nothing here
//! resolves a name or opens a file (the server does, when it binds).

use std::path::PathBuf;
use std::time::Duration;

use super::TlsVersion;
use crate::codec::QoS;

/// The port of an `address` entry that names none.
pub const DEFAULT_BRIDGE_PORT: u16 = 1883;

/// One `connection` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeConfig {
    /// `connection NAME`.
    pub name: String,
    /// `address`/`addresses`: where to connect, the main one first.
    pub addresses: Vec<BridgeAddress>,
    /// `round_robin` (default false): with false the first address is the
    /// main one, tried again while connected to another.
    pub round_robin: bool,
    /// `topic` lines, in order.
    pub topics: Vec<BridgeTopic>,
    /// `bridge_protocol_version` (default mqttv311).
    pub protocol: BridgeProtocol,
    /// `cleansession` (default false).
    pub clean_session: bool,
    /// `local_cleansession` (default: `cleansession`).
    pub local_clean_session: Option<bool>,
    /// `remote_clientid` (or the older `clientid`); default
    /// `<hostname>.<name>`, filled in by the server.
    pub remote_clientid: Option<String>,
    /// `local_clientid`; default `local.<remote client id>`.
    pub local_clientid: Option<String>,
    /// `remote_username` (or `username`).
    pub remote_username: Option<String>,
    /// `remote_password` (or `password`); only sent with a username.
    pub remote_password: Option<String>,
    /// `local_username`: the user whose ACL rules the bridge's local
    /// session obeys.
    pub local_username: Option<String>,
    /// `local_password`: checked against the password file when given.
    pub local_password: Option<String>,
    /// `keepalive_interval` (default 60 s, at least 5 s).
    pub keepalive: u16,
    /// `restart_timeout`.
    pub restart: Restart,
    /// `start_type` (default automatic).
    pub start_type: StartType,
    /// `idle_timeout` (default 60 s): a lazy bridge idle this long stops.
    pub idle_timeout: Duration,
    /// `threshold` (default 10): queued messages that start a lazy bridge.
    pub threshold: usize,
    /// `try_private` (default true): tell the remote broker this is a
    /// bridge (the 0x80 bit of the protocol level, for 3.x).
    pub try_private: bool,
    /// `notifications` (default true).
    pub notifications: bool,
    /// `notifications_local_only` (default false).
    pub notifications_local_only: bool,
    /// `notification_topic`; default
    /// `$SYS/broker/connection/<remote client id>/state`.
    pub notification_topic: Option<String>,
    /// `bridge_attempt_unsubscribe` (default true): UNSUBSCRIBE the `out`
    /// topics on the remote broker after connecting.
    pub attempt_unsubscribe: bool,
    /// `bridge_outgoing_retain` (default true): with false, the retain
    /// flag is cleared on every message sent to the remote broker.
    pub outgoing_retain: bool,
    /// `bridge_max_packet_size` (default 0: no limit of its own).
    pub max_packet_size: u32,
    /// `bridge_bind_address`: the local address to connect from.
    pub bind_address: Option<std::net::IpAddr>,
    /// `bridge_cafile` and the other TLS directives.
    pub tls: BridgeTls,
    /// Where `connection` was written (`file:line`), for messages.
    pub origin: String,
}

/// One entry of `address`: a host name or IP literal and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeAddress {
    pub host: String,
    pub port: u16,
}

/// `bridge_protocol_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BridgeProtocol {
    /// `mqttv31`.
    V31,
    /// `mqttv311` (the default).
    #[default]
    V311,
    /// `mqttv50`.
    V5,
}

/// `start_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartType {
    /// Connect at start and after every loss (the default).
    #[default]
    Automatic,
    /// Connect when `threshold` messages wait; stop after `idle_timeout`.
    Lazy,
    /// Connect at start; never again after a loss.
    Once,
}

/// `restart_timeout`: one value is a constant delay, two are the base and
/// cap of a decorrelated-jitter backoff (the default: 5 s and 30 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    Constant(Duration),
    Backoff { base: Duration, cap: Duration },
}

impl Default for Restart {
    fn default() -> Restart {
        Restart::Backoff {
            base: Duration::from_secs(5),
            cap: Duration::from_secs(30),
        }
    }
}

/// Which way a `topic` line carries messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// `out` (the default): local to remote.
    #[default]
    Out,
    /// `in`: remote to local.
    In,
    /// `both`.
    Both,
}

impl Direction {
    pub fn carries_in(self) -> bool {
        matches!(self, Direction::In | Direction::Both)
    }

    pub fn carries_out(self) -> bool {
        matches!(self, Direction::Out | Direction::Both)
    }
}

/// One `topic PATTERN [[[out|in|both] QOS] LOCAL_PREFIX REMOTE_PREFIX]`.
/// The local filter is `local_prefix + pattern`, the remote one
/// `remote_prefix + pattern` (`""` in the file is an empty string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeTopic {
    pub pattern: String,
    pub direction: Direction,
    pub qos: QoS,
    pub local_prefix: String,
    pub remote_prefix: String,
}

impl BridgeTopic {
    /// A `topic` line's values.
    pub fn new(pattern: &str, direction: Direction, qos: QoS, local: &str, remote: &str) -> Self {
        BridgeTopic {
            pattern: pattern.into(),
            direction,
            qos,
            local_prefix: local.into(),
            remote_prefix: remote.into(),
        }
    }

    /// The filter the bridge subscribes to on the local broker.
    pub fn local_filter(&self) -> String {
        format!("{}{}", self.local_prefix, self.pattern)
    }

    /// The filter the bridge subscribes to on the remote broker.
    pub fn remote_filter(&self) -> String {
        format!("{}{}", self.remote_prefix, self.pattern)
    }
}

/// The TLS directives of a bridge; TLS is on when `cafile` or `capath`
/// is given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BridgeTls {
    /// `bridge_cafile`: PEM CA certificates the remote broker's
    /// certificate must chain to.
    pub cafile: Option<PathBuf>,
    /// `bridge_capath`: a directory of such PEM files.
    pub capath: Option<PathBuf>,
    /// `bridge_certfile`: the bridge's own PEM certificate chain.
    pub certfile: Option<PathBuf>,
    /// `bridge_keyfile`: its PEM private key.
    pub keyfile: Option<PathBuf>,
    /// `bridge_insecure` (default false): skip the host name check.
    pub insecure: bool,
    /// `bridge_tls_version`: the only version offered; `None` offers 1.2
    /// and 1.3.
    pub version: Option<TlsVersion>,
    /// `bridge_alpn`: the ALPN protocol to ask for.
    pub alpn: Option<String>,
}

impl BridgeTls {
    /// True when the bridge connects with TLS.
    pub fn enabled(&self) -> bool {
        self.cafile.is_some() || self.capath.is_some()
    }
}

impl BridgeConfig {
    /// A section with Mosquitto's defaults, as `connection NAME` starts it.
    pub fn new(name: &str, origin: String) -> BridgeConfig {
        BridgeConfig {
            name: name.to_string(),
            addresses: Vec::new(),
            round_robin: false,
            topics: Vec::new(),
            protocol: BridgeProtocol::default(),
            clean_session: false,
            local_clean_session: None,
            remote_clientid: None,
            local_clientid: None,
            remote_username: None,
            remote_password: None,
            local_username: None,
            local_password: None,
            keepalive: 60,
            restart: Restart::default(),
            start_type: StartType::default(),
            idle_timeout: Duration::from_secs(60),
            threshold: 10,
            try_private: true,
            notifications: true,
            notifications_local_only: false,
            notification_topic: None,
            attempt_unsubscribe: true,
            outgoing_retain: true,
            max_packet_size: 0,
            bind_address: None,
            tls: BridgeTls::default(),
            origin,
        }
    }

    /// The remote client id: `remote_clientid`, else `<hostname>.<name>`
    /// (as Mosquitto names it).
    pub fn remote_id(&self, hostname: &str) -> String {
        match &self.remote_clientid {
            Some(id) => id.clone(),
            None => format!("{hostname}.{}", self.name),
        }
    }

    /// The local client id: `local_clientid`, else `local.<remote id>`.
    pub fn local_id(&self, hostname: &str) -> String {
        match &self.local_clientid {
            Some(id) => id.clone(),
            None => format!("local.{}", self.remote_id(hostname)),
        }
    }

    /// The notification topic for remote id `remote_id`.
    pub fn state_topic(&self, remote_id: &str) -> String {
        match &self.notification_topic {
            Some(t) => t.clone(),
            None => format!("$SYS/broker/connection/{remote_id}/state"),
        }
    }

    /// Does the local session survive the link (local_cleansession, else
    /// cleansession)?
    pub fn local_persistent(&self) -> bool {
        !self.local_clean_session.unwrap_or(self.clean_session)
    }
}
