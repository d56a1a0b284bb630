//! The bridge directives (see `config/bridge.rs`). `connection NAME` starts
//! a section; every other bridge directive configures the section of the
//! last `connection` line of the same file. As in Mosquitto, each file
//! starts outside any section: an `include_dir` file needs a `connection`
//! line of its own, and the main file's lines after `include_dir` still
//! configure the main file's last section. Other directives (`listener`
//! and the rest) work inside a section as anywhere else.
//!
//! Values are read as Mosquitto reads them: client ids, user names,
//! passwords, `notification_topic` and the TLS paths run to the end of the
//! line (they may contain spaces, and a `#` there is part of the value),
//! and each may be given once per section, like `address`; a boolean or a
//! number given again replaces the earlier one. The pattern of `topic` is
//! its first token even when that starts with `#`; `""` is an empty
//! pattern or prefix.
//!
//! Where midge differs from Mosquitto 2.0:
//! - a value below Mosquitto's minimum (`keepalive_interval` 5,
//!   `restart_timeout`, `idle_timeout` and `threshold` 1) is refused,
//!   where Mosquitto raises it to the minimum;
//! - an IPv6 `address` is written `[::1]:1884`; Mosquitto's `::1:1884`
//!   (the last `:` starts the port) is refused as ambiguous;
//! - `bridge_bind_address` is an IP literal (an `address` host name is
//!   kept as text, for the server to resolve);
//! - `topic` with a local prefix but no remote prefix is refused (write
//!   `""` for an empty one), and the pattern alone must make valid filters
//!   on both sides even without prefixes;
//! - `bridge_identity`, `bridge_psk` and `bridge_require_ocsp` are refused:
//!   PSK and OCSP are OpenSSL's, midge uses rustls.

use std::net::Ipv6Addr;
use std::time::Duration;

use super::{Line, Origin, Parser};
use crate::codec::QoS;
use crate::config::bridge::{
    BridgeAddress, BridgeConfig, BridgeProtocol, BridgeTopic, Direction, Restart, StartType,
    DEFAULT_BRIDGE_PORT,
};
use crate::config::{Config, ConfigError};
use crate::topic::{valid_topic_filter, valid_topic_name, MAX_TOPIC_LEN};

/// The longest client id, user name or password (an MQTT string).
const MAX_STRING: usize = 65_535;

/// The largest MQTT packet: 268435455 bytes after a 5-byte fixed header.
const MAX_PACKET: i64 = 268_435_460;

/// The largest number of seconds or messages (Mosquitto reads an `int`).
const MAX_INT: i64 = i32::MAX as i64;

/// The TLS directives, refused in a build without the `tls` feature.
const TLS: &[&str] = &[
    "bridge_cafile",
    "bridge_capath",
    "bridge_certfile",
    "bridge_keyfile",
    "bridge_insecure",
    "bridge_tls_version",
    "bridge_alpn",
];

/// The bridge sections being parsed, beside `Config::bridges`.
#[derive(Default)]
pub(super) struct Sections {
    /// Index in `Config::bridges` of the section the current file
    /// configures; `None` before its first `connection` line.
    current: Option<usize>,
    /// Where each section's directives were written, for the checks at
    /// the end.
    seen: Vec<Seen>,
}

impl Sections {
    /// Called when a file starts; returns what [`Sections::leave_file`]
    /// restores when it ends.
    pub(super) fn enter_file(&mut self) -> Option<usize> {
        self.current.take()
    }

    pub(super) fn leave_file(&mut self, outer: Option<usize>) {
        self.current = outer;
    }
}

/// Where one section's `connection` line and directives were written.
struct Seen {
    connection: Origin,
    /// (directive, as written, where) for the last line of each
    /// directive, aliases under their main name.
    lines: Vec<(&'static str, String, Origin)>,
}

impl Seen {
    fn note(&mut self, key: &'static str, line: &Line<'_>) {
        let entry = (key, line.directive.to_string(), line.origin());
        match self.lines.iter_mut().find(|(k, _, _)| *k == key) {
            Some(slot) => *slot = entry,
            None => self.lines.push(entry),
        }
    }

    /// An error at the line of directive `key`, or at the `connection`
    /// line when it was not written.
    fn error(&self, key: &str, message: String) -> ConfigError {
        let (directive, origin) = match self.lines.iter().find(|(k, _, _)| *k == key) {
            Some((_, written, origin)) => (written.as_str(), origin),
            None => ("connection", &self.connection),
        };
        ConfigError {
            file: Some(origin.file.clone()),
            line: Some(origin.line),
            directive: Some(directive.to_string()),
            message,
        }
    }

    /// An error at the `connection` line, for something missing.
    fn missing(&self, message: String) -> ConfigError {
        self.error("connection", message)
    }
}

/// The bridge directives that configure a section, by their main names
/// (with [`TLS`]'s).
const SECTION: &[&str] = &[
    "address",
    "topic",
    "bridge_protocol_version",
    "cleansession",
    "local_cleansession",
    "remote_clientid",
    "local_clientid",
    "remote_username",
    "remote_password",
    "local_username",
    "local_password",
    "keepalive_interval",
    "restart_timeout",
    "start_type",
    "idle_timeout",
    "threshold",
    "try_private",
    "notifications",
    "notifications_local_only",
    "notification_topic",
    "bridge_attempt_unsubscribe",
    "bridge_outgoing_retain",
    "bridge_max_packet_size",
    "round_robin",
    "bridge_bind_address",
];

/// The main name of bridge directive `name` (`clientid` is
/// `remote_clientid` and so on); `None` when it is none.
fn key(name: &str) -> Option<&'static str> {
    match name {
        "addresses" => Some("address"),
        "clientid" => Some("remote_clientid"),
        "username" => Some("remote_username"),
        "password" => Some("remote_password"),
        _ => SECTION
            .iter()
            .chain(TLS)
            .find(|&&main| main == name)
            .copied(),
    }
}

/// Applies `line` if it is a bridge directive; `None` if it is not one.
pub(super) fn directive(
    parser: &mut Parser<'_>,
    line: &Line<'_>,
) -> Option<Result<(), ConfigError>> {
    let name = line.directive;
    if matches!(
        name,
        "bridge_identity" | "bridge_psk" | "bridge_require_ocsp"
    ) {
        return Some(Err(line.error(
            "not supported: PSK and OCSP are OpenSSL-only, and midge uses rustls \
             (use certificates: bridge_cafile, bridge_certfile, bridge_keyfile)",
        )));
    }
    if name == "connection" {
        return Some(connection(parser, line));
    }
    let key = key(name)?;
    if !cfg!(feature = "tls") && TLS.contains(&key) {
        return Some(Err(line.error(
            "midge was built without TLS (the tls cargo feature is off)",
        )));
    }
    let Some(index) = parser.bridges.current else {
        return Some(Err(line.error(
            "must follow a connection line (in the same file: as in Mosquitto, \
             each file starts outside any bridge)",
        )));
    };
    let bridge = &mut parser.config.bridges[index];
    if let Err(e) = set(bridge, key, line) {
        return Some(Err(e));
    }
    if key == "bridge_insecure" && bridge.tls.insecure {
        // Mosquitto warns too.
        let warning = format!(
            "{}:{}: bridge {} does not check the remote broker's host name (bridge_insecure)",
            line.file, line.number, bridge.name
        );
        parser.config.warnings.push(warning);
    }
    parser.bridges.seen[index].note(key, line);
    Some(Ok(()))
}

/// `connection NAME`: starts a new section.
fn connection(parser: &mut Parser<'_>, line: &Line<'_>) -> Result<(), ConfigError> {
    let name = line.one()?;
    let bridges = &mut parser.config.bridges;
    if let Some(first) = bridges.iter().find(|b| b.name == name) {
        return Err(line.error(format!(
            "a bridge named '{name}' is already configured at {}; names must be unique",
            first.origin
        )));
    }
    bridges.push(BridgeConfig::new(
        name,
        format!("{}:{}", line.file, line.number),
    ));
    parser.bridges.seen.push(Seen {
        connection: line.origin(),
        lines: Vec::new(),
    });
    parser.bridges.current = Some(bridges.len() - 1);
    Ok(())
}

/// Sets the field of directive `key` (see [`key`]).
fn set(b: &mut BridgeConfig, key: &str, line: &Line<'_>) -> Result<(), ConfigError> {
    match key {
        "address" => {
            if !b.addresses.is_empty() {
                return Err(line.error(
                    "given more than once for this connection: list every address on one line",
                ));
            }
            if line.args.is_empty() {
                return Err(line.error("missing value"));
            }
            b.addresses = line
                .args
                .iter()
                .map(|text| address(line, text))
                .collect::<Result<_, _>>()?;
        }
        "topic" => b.topics.push(topic(line)?),
        "bridge_protocol_version" => {
            b.protocol = match line.one()? {
                "mqttv31" => BridgeProtocol::V31,
                "mqttv311" => BridgeProtocol::V311,
                "mqttv50" => BridgeProtocol::V5,
                other => return Err(line.invalid(other, "mqttv31, mqttv311 or mqttv50")),
            }
        }
        "cleansession" => b.clean_session = line.bool()?,
        "local_cleansession" => b.local_clean_session = Some(line.bool()?),
        "remote_clientid" => once(line, &mut b.remote_clientid, || client_id(line))?,
        "local_clientid" => once(line, &mut b.local_clientid, || client_id(line))?,
        "remote_username" => once(line, &mut b.remote_username, || text(line, "user name"))?,
        "remote_password" => once(line, &mut b.remote_password, || text(line, "password"))?,
        "local_username" => once(line, &mut b.local_username, || text(line, "user name"))?,
        "local_password" => once(line, &mut b.local_password, || text(line, "password"))?,
        "keepalive_interval" => {
            let secs = line.int(
                5,
                65535,
                "an integer from 5 to 65535 seconds (Mosquitto raises lower values to 5)",
            )?;
            b.keepalive = u16::try_from(secs).unwrap_or(u16::MAX);
        }
        "restart_timeout" => b.restart = restart(line)?,
        "start_type" => {
            b.start_type = match line.one()? {
                "automatic" => StartType::Automatic,
                "lazy" => StartType::Lazy,
                "once" => StartType::Once,
                "manual" => {
                    return Err(line.error(
                        "start_type manual is not supported (nor is it by Mosquitto): \
                         use automatic, lazy or once",
                    ))
                }
                other => return Err(line.invalid(other, "automatic, lazy or once")),
            }
        }
        "idle_timeout" => {
            let secs = line.int(
                1,
                MAX_INT,
                "a whole number of seconds, at least 1 (Mosquitto raises 0 to 1)",
            )?;
            b.idle_timeout = Duration::from_secs(secs.unsigned_abs());
        }
        "threshold" => {
            let count = line.int(
                1,
                MAX_INT,
                "a number of messages, at least 1 (Mosquitto raises lower values to 1)",
            )?;
            b.threshold = usize::try_from(count).unwrap_or(usize::MAX);
        }
        "try_private" => b.try_private = line.bool()?,
        "notifications" => b.notifications = line.bool()?,
        "notifications_local_only" => b.notifications_local_only = line.bool()?,
        "notification_topic" => once(line, &mut b.notification_topic, || notification_topic(line))?,
        "bridge_attempt_unsubscribe" => b.attempt_unsubscribe = line.bool()?,
        "bridge_outgoing_retain" => b.outgoing_retain = line.bool()?,
        "bridge_max_packet_size" => {
            let size = line.int(
                0,
                MAX_PACKET,
                "0 (no limit) or a packet size in bytes, at most 268435460",
            )?;
            b.max_packet_size = u32::try_from(size).unwrap_or(u32::MAX);
        }
        "round_robin" => b.round_robin = line.bool()?,
        "bridge_bind_address" => once(line, &mut b.bind_address, || line.ip(line.one()?))?,
        "bridge_cafile" => once(line, &mut b.tls.cafile, || line.path())?,
        "bridge_capath" => once(line, &mut b.tls.capath, || line.path())?,
        "bridge_certfile" => once(line, &mut b.tls.certfile, || line.path())?,
        "bridge_keyfile" => once(line, &mut b.tls.keyfile, || line.path())?,
        "bridge_insecure" => b.tls.insecure = line.bool()?,
        "bridge_tls_version" => once(line, &mut b.tls.version, || super::tls::version(line))?,
        "bridge_alpn" => once(line, &mut b.tls.alpn, || {
            let protocol = line.one()?;
            if protocol.len() > 255 {
                return Err(line.invalid(protocol, "an ALPN protocol name of 1 to 255 bytes"));
            }
            Ok(protocol.to_string())
        })?,
        _ => {}
    }
    Ok(())
}

/// Sets `slot` to `value()` unless it was set already (Mosquitto refuses
/// such a string value given twice).
fn once<T>(
    line: &Line<'_>,
    slot: &mut Option<T>,
    value: impl FnOnce() -> Result<T, ConfigError>,
) -> Result<(), ConfigError> {
    if slot.is_some() {
        return Err(line.error("given more than once for this connection"));
    }
    *slot = Some(value()?);
    Ok(())
}

/// The rest of the line as an MQTT string: not empty, at most 65535
/// bytes, no U+0000.
fn text(line: &Line<'_>, what: &str) -> Result<String, ConfigError> {
    let value = line.rest;
    if value.is_empty() {
        return Err(line.error("missing value"));
    }
    if value.len() > MAX_STRING {
        return Err(line.error(format!(
            "invalid value: {} bytes long, a {what} is at most {MAX_STRING}",
            value.len()
        )));
    }
    if value.contains('\0') {
        return Err(line.error(format!("invalid value: a {what} cannot contain U+0000")));
    }
    Ok(value.to_string())
}

fn client_id(line: &Line<'_>) -> Result<String, ConfigError> {
    text(line, "client id")
}

/// `notification_topic TOPIC`: the rest of the line, a topic name.
fn notification_topic(line: &Line<'_>) -> Result<String, ConfigError> {
    let topic = text(line, "topic")?;
    if topic.contains(['+', '#']) {
        let comment = topic.contains(" #") || topic.contains("\t#");
        let expected = if comment {
            "a topic name without the wildcards + and # \
             (the topic runs to the end of the line: no # comment may follow it)"
        } else {
            "a topic name without the wildcards + and #"
        };
        return Err(line.invalid(&topic, expected));
    }
    Ok(topic)
}

/// One entry of `address`: `HOST`, `HOST:PORT` or `[IPV6]:PORT`.
fn address(line: &Line<'_>, text: &str) -> Result<BridgeAddress, ConfigError> {
    let expected = "HOST, HOST:PORT or [IPV6]:PORT";
    let port = |digits: &str| {
        digits
            .parse::<u16>()
            .ok()
            .filter(|&port| port > 0)
            .ok_or_else(|| line.invalid(text, "a port from 1 to 65535 after the ':'"))
    };
    if let Some(inner) = text.strip_prefix('[') {
        let Some((host, after)) = inner.split_once(']') else {
            return Err(line.invalid(text, expected));
        };
        if host.parse::<Ipv6Addr>().is_err() {
            return Err(line.invalid(text, "an IPv6 address in brackets, as in [::1]:1883"));
        }
        let Some(digits) = after.strip_prefix(':') else {
            return Err(line.invalid(
                text,
                "a port after an IPv6 address, as in [::1]:1883 (Mosquitto requires one too)",
            ));
        };
        return Ok(BridgeAddress {
            host: host.to_string(),
            port: port(digits)?,
        });
    }
    let (host, port) = match text.split_once(':') {
        Some((_, rest)) if rest.contains(':') => {
            return Err(line.invalid(
                text,
                "an IPv6 address in brackets with its port, as in [::1]:1884 \
                 (without brackets it is ambiguous which ':' starts the port)",
            ))
        }
        Some((host, digits)) => (host, port(digits)?),
        None => (text, DEFAULT_BRIDGE_PORT),
    };
    if host.is_empty() || host.contains(['[', ']']) {
        return Err(line.invalid(text, expected));
    }
    Ok(BridgeAddress {
        host: host.to_string(),
        port,
    })
}

/// `restart_timeout CONSTANT` or `restart_timeout BASE CAP`.
fn restart(line: &Line<'_>) -> Result<Restart, ConfigError> {
    let secs = |text: &str| match text.parse::<i64>() {
        Ok(n) if (1..=MAX_INT).contains(&n) => Ok(Duration::from_secs(n.unsigned_abs())),
        _ => Err(line.invalid(
            text,
            "a whole number of seconds, at least 1 (Mosquitto raises lower values to 1)",
        )),
    };
    match line.args.as_slice() {
        [] => Err(line.error("missing value")),
        [constant] => Ok(Restart::Constant(secs(constant)?)),
        [base_text, cap_text] => {
            let (base, cap) = (secs(base_text)?, secs(cap_text)?);
            if cap < base {
                return Err(line.error(format!(
                    "the backoff cap {cap_text} is lower than its base {base_text}"
                )));
            }
            Ok(Restart::Backoff { base, cap })
        }
        [_, _, extra, ..] => Err(line.error(format!("unexpected extra value '{extra}'"))),
    }
}

/// `topic PATTERN [[[out|in|both] QOS] LOCAL_PREFIX REMOTE_PREFIX]`, with
/// the validity table of mosquitto.conf(5).
fn topic(line: &Line<'_>) -> Result<BridgeTopic, ConfigError> {
    let mut tokens = line.rest.split_whitespace();
    // The pattern may be `#`: only the tokens after it can start a comment.
    let pattern = tokens.next().ok_or_else(|| line.error("missing value"))?;
    let args: Vec<&str> = tokens.take_while(|token| !token.starts_with('#')).collect();
    let direction = |text: &str| match text.to_ascii_lowercase().as_str() {
        "out" => Ok(Direction::Out),
        "in" => Ok(Direction::In),
        "both" => Ok(Direction::Both),
        _ => Err(line.invalid(text, "a direction: out, in or both")),
    };
    let qos = |text: &str| match text {
        "0" => Ok(QoS::AtMostOnce),
        "1" => Ok(QoS::AtLeastOnce),
        "2" => Ok(QoS::ExactlyOnce),
        _ => Err(line.invalid(text, "a QoS: 0, 1 or 2")),
    };
    let (direction, qos, prefixes) = match args.as_slice() {
        [] => (Direction::Out, QoS::AtMostOnce, ("", "")),
        [d] => (direction(d)?, QoS::AtMostOnce, ("", "")),
        [d, q] => (direction(d)?, qos(q)?, ("", "")),
        [_, _, _] => {
            return Err(line.error(
                "a local prefix needs a remote prefix after it (write \"\" for an empty one)",
            ))
        }
        [d, q, local, remote] => (direction(d)?, qos(q)?, (*local, *remote)),
        [_, _, _, _, extra, ..] => {
            return Err(line.error(format!("unexpected extra value '{extra}'")))
        }
    };
    let unquote = |text: &str| {
        if text == "\"\"" {
            String::new()
        } else {
            text.to_string()
        }
    };
    let topic = BridgeTopic {
        pattern: unquote(pattern),
        direction,
        qos,
        local_prefix: unquote(prefixes.0),
        remote_prefix: unquote(prefixes.1),
    };
    if topic.pattern.is_empty() && (topic.local_prefix.is_empty() || topic.remote_prefix.is_empty())
    {
        return Err(line.error(
            "an empty pattern (\"\") needs a local and a remote prefix: it maps the one \
             topic to the other (see the topic table of mosquitto.conf(5))",
        ));
    }
    for (side, prefix) in [
        ("local", &topic.local_prefix),
        ("remote", &topic.remote_prefix),
    ] {
        if !prefix.is_empty() && !valid_topic_name(prefix) {
            return Err(line.invalid(
                prefix,
                &format!("a {side} prefix without the wildcards + and #"),
            ));
        }
    }
    for (side, filter) in [
        ("local", topic.local_filter()),
        ("remote", topic.remote_filter()),
    ] {
        if !valid_topic_filter(&filter) {
            let why = if filter.len() > MAX_TOPIC_LEN {
                format!("is longer than {MAX_TOPIC_LEN} bytes")
            } else {
                "is not a valid topic filter".to_string()
            };
            return Err(line.error(format!(
                "the {side} filter '{filter}' ({side} prefix + pattern) {why}"
            )));
        }
    }
    Ok(topic)
}

/// Called once after every file is read: what each section must have and
/// what its directives need of each other. An error names the directive
/// at fault, or the `connection` line when something is missing.
pub(super) fn check(sections: &Sections, config: &Config) -> Result<(), ConfigError> {
    // (local client id known from the file, its section) so far.
    let mut local_ids: Vec<(String, usize)> = Vec::new();
    for (index, (b, seen)) in config.bridges.iter().zip(&sections.seen).enumerate() {
        check_one(b, seen, config.max_queued_messages)?;
        let local_id = match (&b.local_clientid, &b.remote_clientid) {
            (Some(id), _) => Some((id.clone(), "local_clientid")),
            (None, Some(remote)) => Some((format!("local.{remote}"), "remote_clientid")),
            // `local.<hostname>.<name>`: names are unique.
            (None, None) => None,
        };
        if let Some((id, key)) = local_id {
            if let Some((_, other)) = local_ids.iter().find(|(seen_id, _)| *seen_id == id) {
                let other = &config.bridges[*other];
                return Err(seen.error(
                    key,
                    format!(
                        "connection {}: the local client id '{id}' is also the one of \
                         connection {} (at {}); set a different local_clientid",
                        b.name, other.name, other.origin
                    ),
                ));
            }
            local_ids.push((id, index));
        }
    }
    Ok(())
}

fn check_one(b: &BridgeConfig, seen: &Seen, max_queued: usize) -> Result<(), ConfigError> {
    let name = &b.name;
    if b.addresses.is_empty() {
        return Err(seen.missing(format!(
            "connection {name} has no address: give the remote broker with address HOST[:PORT]"
        )));
    }
    if b.topics.is_empty() {
        return Err(seen.missing(format!(
            "connection {name} has no topic: give at least one topic line"
        )));
    }
    for (password, username, user_key) in [
        (&b.remote_password, &b.remote_username, "remote_username"),
        (&b.local_password, &b.local_username, "local_username"),
    ] {
        if password.is_some() && username.is_none() {
            let key = if user_key == "remote_username" {
                "remote_password"
            } else {
                "local_password"
            };
            return Err(seen.error(
                key,
                format!("connection {name}: a password is only sent with {user_key}"),
            ));
        }
    }
    let tls = &b.tls;
    let needs_ca = [
        ("bridge_certfile", tls.certfile.is_some()),
        ("bridge_keyfile", tls.keyfile.is_some()),
        ("bridge_insecure", tls.insecure),
        ("bridge_tls_version", tls.version.is_some()),
        ("bridge_alpn", tls.alpn.is_some()),
    ];
    if !tls.enabled() {
        if let Some((key, _)) = needs_ca.iter().find(|(_, set)| *set) {
            return Err(seen.error(
                key,
                format!(
                    "connection {name}: needs bridge_cafile or bridge_capath, \
                     which turn TLS on for the bridge"
                ),
            ));
        }
    }
    match (&tls.certfile, &tls.keyfile) {
        (Some(_), None) => {
            return Err(seen.error(
                "bridge_certfile",
                format!("connection {name}: bridge_certfile is given without bridge_keyfile"),
            ))
        }
        (None, Some(_)) => {
            return Err(seen.error(
                "bridge_keyfile",
                format!("connection {name}: bridge_keyfile is given without bridge_certfile"),
            ))
        }
        _ => {}
    }
    if let (Some(local), Some(remote)) = (&b.local_clientid, &b.remote_clientid) {
        if local == remote {
            return Err(seen.error(
                "local_clientid",
                format!(
                    "connection {name}: local_clientid must differ from remote_clientid \
                     (the same id on both sides breaks a bridge to this broker itself)"
                ),
            ));
        }
    }
    if b.start_type == StartType::Lazy && max_queued != 0 && b.threshold >= max_queued {
        let key = if seen.lines.iter().any(|(k, _, _)| *k == "threshold") {
            "threshold"
        } else {
            "start_type"
        };
        return Err(seen.error(
            key,
            format!(
                "connection {name}: threshold {} must be less than max_queued_messages \
                 {max_queued}, or the lazy bridge never starts",
                b.threshold
            ),
        ));
    }
    if b.notifications && b.notification_topic.is_none() {
        let (id, key) = match &b.remote_clientid {
            Some(id) => (id.as_str(), "remote_clientid"),
            None => (name.as_str(), "connection"),
        };
        if id.contains(['+', '#']) {
            return Err(seen.error(
                key,
                format!(
                    "connection {name}: the notification topic \
                     $SYS/broker/connection/<remote client id>/state would contain a \
                     wildcard of '{id}'; set notification_topic or notifications false"
                ),
            ));
        }
    }
    Ok(())
}
