//! The config file parser: mosquitto.conf syntax, one directive per line.
//!
//! A line is `directive [value]...`, separated by spaces or tabs. A line
//! whose first non-blank character is `#` is a comment; blank lines are
//! skipped; `\r\n` line ends and trailing blanks are fine; a trailing
//! `# comment` after the values is ignored, except for the path of
//! `include_dir` and `log_dest file` and the prefix of `mount_point`, which
//! run to the end of the line (as in Mosquitto: they may contain spaces).
//!
//! Directives that configure one listener (`max_connections`,
//! `max_topic_alias`, `max_qos`, `mount_point`, `protocol`, the TLS
//! directives, and
//! `allow_anonymous` /
//! `allow_zero_length_clientid` when `per_listener_settings` is true) apply
//! to the listener of the last `listener` line, or before any, to the
//! default listener set up by `port` / `bind_address`. The bridge
//! directives apply to the last `connection` section (see `parse/bridge.rs`).

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod bridge;
mod persistence;
mod security;
mod tls;
mod websockets;

use super::not_yet::NOT_YET;
use super::{Config, ConfigError, Listener, LogDest, LogType, LogTypes, DEFAULT_PORT, MAX_PAYLOAD};
use crate::codec::QoS;
use crate::topic::MAX_TOPIC_LEN;

/// Where something was written.
#[derive(Debug, Clone)]
struct Origin {
    file: String,
    line: usize,
}

/// One directive line, split.
struct Line<'a> {
    file: &'a str,
    number: usize,
    directive: &'a str,
    /// The values, up to a token starting with `#`.
    args: Vec<&'a str>,
    /// Everything after the directive, trimmed (for paths).
    rest: &'a str,
}

impl Line<'_> {
    fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: Some(self.file.to_string()),
            line: Some(self.number),
            directive: Some(self.directive.to_string()),
            message: message.into(),
        }
    }

    fn invalid(&self, value: &str, expected: &str) -> ConfigError {
        self.error(format!("invalid value '{value}': expected {expected}"))
    }

    fn origin(&self) -> Origin {
        Origin {
            file: self.file.to_string(),
            line: self.number,
        }
    }

    /// The single value of the directive.
    fn one(&self) -> Result<&str, ConfigError> {
        match self.args.as_slice() {
            [] => Err(self.error("missing value")),
            [value] => Ok(value),
            [_, extra, ..] => Err(self.error(format!("unexpected extra value '{extra}'"))),
        }
    }

    /// Everything after the directive, which must not be empty.
    fn path(&self) -> Result<PathBuf, ConfigError> {
        if self.rest.is_empty() {
            Err(self.error("missing value"))
        } else {
            Ok(PathBuf::from(self.rest))
        }
    }

    fn bool(&self) -> Result<bool, ConfigError> {
        // Mosquitto also takes 1 and 0.
        match self.one()? {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            other => Err(self.invalid(other, "true or false")),
        }
    }

    /// The single value as an integer, then checked against `lo..=hi`.
    fn int(&self, lo: i64, hi: i64, expected: &str) -> Result<i64, ConfigError> {
        let text = self.one()?;
        match text.parse::<i64>() {
            Ok(value) if (lo..=hi).contains(&value) => Ok(value),
            _ => Err(self.invalid(text, expected)),
        }
    }

    fn ip(&self, text: &str) -> Result<IpAddr, ConfigError> {
        text.parse::<IpAddr>().map_err(|_| {
            let hint = if text.eq_ignore_ascii_case("localhost") {
                " (use 127.0.0.1 or ::1)"
            } else {
                ""
            };
            self.error(format!(
                "invalid address '{text}': expected an IP address such as 0.0.0.0 or ::1; \
                 midge does not resolve host names{hint}"
            ))
        })
    }
}

/// The default listener, configured by `port`, `bind_address` and the
/// per-listener settings written before the first `listener` line.
#[derive(Default)]
struct DefaultListener {
    port: Option<u16>,
    bind: Option<IpAddr>,
    /// The first `port` or `bind_address` line.
    configured_at: Option<Origin>,
    /// Per-listener settings given to it.
    settings: Option<Listener>,
    /// The first per-listener setting given to it, and its directive.
    first_setting: Option<(Origin, String)>,
}

/// The `*.conf` files of an `include_dir` directory as (name, text), in
/// the order they are read; an error is the message for the directive's
/// line. [`read_conf_dir`] reads them from the file system; the fuzzer
/// passes files of its own.
pub(crate) type ReadDir<'a> = &'a dyn Fn(&Path) -> Result<Vec<(String, String)>, String>;

/// Parser state across a file and its `include_dir` files.
struct Parser<'a> {
    read_dir: ReadDir<'a>,
    config: Config,
    default_listener: DefaultListener,
    /// Index in `config.listeners` of the listener being configured; `None`
    /// while still on the default listener.
    current: Option<usize>,
    /// Where each of `config.listeners` was defined.
    origins: Vec<Origin>,
    /// A security setting was seen (`per_listener_settings true` must come
    /// before any).
    security_set: bool,
    /// `log_type` lines so far (the first one replaces the default).
    log_types: Option<LogTypes>,
    /// `log_dest` lines so far (the first one replaces the default).
    log_dest: Option<Vec<LogDest>>,
    /// The `connection` sections.
    bridges: bridge::Sections,
}

/// Reads and parses the file at `path` without settling listeners (the
/// command line's `-p` comes after).
pub(super) fn load_raw(path: &Path) -> Result<Config, ConfigError> {
    let name = path.display().to_string();
    let text = fs::read_to_string(path).map_err(|e| ConfigError {
        file: Some(name.clone()),
        line: None,
        directive: None,
        message: format!("cannot read config file: {e}"),
    })?;
    let mut config = parse_raw(&name, &text)?;
    config.config_file = Some(path.to_path_buf());
    Ok(config)
}

/// Parses `text` (named `name` in errors) without settling listeners.
pub(super) fn parse_raw(name: &str, text: &str) -> Result<Config, ConfigError> {
    parse_raw_with(name, text, &read_conf_dir)
}

/// [`parse_raw`], with `include_dir` directories read by `read_dir`.
pub(crate) fn parse_raw_with(
    name: &str,
    text: &str,
    read_dir: ReadDir<'_>,
) -> Result<Config, ConfigError> {
    let mut parser = Parser {
        read_dir,
        config: Config::default(),
        default_listener: DefaultListener::default(),
        current: None,
        origins: Vec::new(),
        security_set: false,
        log_types: None,
        log_dest: None,
        bridges: bridge::Sections::default(),
    };
    parser.text(name, text, 0)?;
    parser.finish()
}

impl Parser<'_> {
    /// Parses every line of one file; `depth` is 0 for the main file.
    fn text(&mut self, name: &str, text: &str, depth: usize) -> Result<(), ConfigError> {
        let outer_bridge = self.bridges.enter_file();
        for (index, raw) in text.lines().enumerate() {
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let (directive, rest) = match trimmed.split_once([' ', '\t']) {
                Some((directive, rest)) => (directive, rest.trim()),
                None => (trimmed, ""),
            };
            let args = rest
                .split_whitespace()
                .take_while(|token| !token.starts_with('#'))
                .collect();
            let line = Line {
                file: name,
                number: index + 1,
                directive,
                args,
                rest,
            };
            self.directive(&line, depth)?;
        }
        self.bridges.leave_file(outer_bridge);
        Ok(())
    }

    fn directive(&mut self, line: &Line<'_>, depth: usize) -> Result<(), ConfigError> {
        let done = persistence::directive(&mut self.config, line)
            .or_else(|| tls::directive(self, line))
            .or_else(|| websockets::directive(self, line))
            .or_else(|| security::directive(self, line))
            .or_else(|| bridge::directive(self, line));
        if let Some(done) = done {
            return done;
        }
        let config = &mut self.config;
        match line.directive {
            "listener" => self.listener(line)?,
            "port" => {
                let port = line.int(1, 65535, "a port from 1 to 65535")?;
                if self.default_listener.port.is_some() {
                    config.warnings.push(format!(
                        "{}:{}: port given more than once; the last one is used",
                        line.file, line.number
                    ));
                }
                self.default_listener.port = u16::try_from(port).ok();
                self.default_listener
                    .configured_at
                    .get_or_insert_with(|| line.origin());
            }
            "bind_address" => {
                let bind = line.ip(line.one()?)?;
                self.default_listener.bind = Some(bind);
                self.default_listener
                    .configured_at
                    .get_or_insert_with(|| line.origin());
            }
            "max_connections" => {
                let value = line.int(
                    i64::from(i32::MIN),
                    i64::from(i32::MAX),
                    "an integer (-1: unlimited)",
                )?;
                let max = usize::try_from(value).ok().filter(|&n| n > 0);
                self.current_listener(line).max_connections = max;
            }
            "max_topic_alias" => {
                let value =
                    line.int(0, 65535, "an integer from 0 to 65535 (0: no topic aliases)")?;
                self.current_listener(line).max_topic_alias =
                    u16::try_from(value).unwrap_or(u16::MAX);
            }
            // `maximum_qos` is the older spelling Mosquitto still accepts.
            "max_qos" | "maximum_qos" => {
                let value = line.int(0, 2, "0, 1 or 2")?;
                let qos = u8::try_from(value).ok().and_then(QoS::from_u8);
                self.current_listener(line).max_qos = qos.unwrap_or(QoS::ExactlyOnce);
            }
            "mount_point" => {
                let prefix = mount_point(line)?;
                let listener = self.current_listener(line);
                if listener.mount_point.is_some() {
                    return Err(line.error("given more than once for this listener"));
                }
                listener.mount_point = Some(prefix);
            }
            "max_inflight_messages" => {
                let value = line.int(
                    i64::from(i32::MIN),
                    65535,
                    "an integer up to 65535 (0: no limit)",
                )?;
                // Mosquitto reads a negative value and 65535 as "no limit".
                config.max_inflight_messages = u16::try_from(value)
                    .ok()
                    .filter(|&n| n != u16::MAX)
                    .unwrap_or(0);
            }
            "max_inflight_bytes" => {
                let value = line.int(i64::MIN, i64::MAX, "an integer (0: no limit)")?;
                config.max_inflight_bytes = non_negative(value);
            }
            "max_queued_messages" => {
                let value = line.int(i64::MIN, i64::MAX, "an integer (0: no limit)")?;
                config.max_queued_messages = non_negative(value);
            }
            "max_queued_bytes" => {
                let value = line.int(i64::MIN, i64::MAX, "an integer (0: no limit)")?;
                config.max_queued_bytes = non_negative(value);
            }
            "queue_qos0_messages" => config.queue_qos0_messages = line.bool()?,
            "message_size_limit" => {
                let value = line.int(
                    0,
                    i64::from(MAX_PAYLOAD),
                    "an integer from 0 to 268435455 (0: no limit)",
                )?;
                config.message_size_limit = u32::try_from(value).unwrap_or(MAX_PAYLOAD);
            }
            "max_packet_size" => {
                let expected = "0 (no limit) or an integer from 20 to 2147483647";
                let value = line.int(0, i64::from(i32::MAX), expected)?;
                if (1..20).contains(&value) {
                    return Err(line.invalid(line.one()?, expected));
                }
                config.max_packet_size = u32::try_from(value).unwrap_or(u32::MAX);
            }
            "max_keepalive" => {
                let value = line.int(10, 65535, "an integer from 10 to 65535")?;
                config.max_keepalive = u16::try_from(value).unwrap_or(u16::MAX);
            }
            "retain_available" => config.retain_available = line.bool()?,
            "upgrade_outgoing_qos" => config.upgrade_outgoing_qos = line.bool()?,
            "sys_interval" => {
                let value = line.int(0, 65535, "an integer from 0 to 65535 (0: disabled)")?;
                config.sys_interval = u64::try_from(value)
                    .ok()
                    .filter(|&secs| secs > 0)
                    .map(Duration::from_secs);
            }
            "persistent_client_expiration" => {
                let text = line.one()?;
                config.persistent_client_expiration = Some(expiration(text).ok_or_else(|| {
                    line.invalid(
                        text,
                        "a duration such as 14d: a positive integer followed by \
                         h (hours), d (days), w (weeks), m (months) or y (years)",
                    )
                })?);
            }
            "log_type" => {
                let text = line.one()?;
                let current = self.log_types.unwrap_or(LogTypes::NONE);
                let kind = match text {
                    "none" => {
                        self.log_types = Some(LogTypes::NONE);
                        return Ok(());
                    }
                    "all" => {
                        self.log_types = Some(LogTypes::all());
                        return Ok(());
                    }
                    "debug" => LogType::Debug,
                    "error" => LogType::Error,
                    "warning" => LogType::Warning,
                    "notice" => LogType::Notice,
                    "information" => LogType::Information,
                    "subscribe" => LogType::Subscribe,
                    "unsubscribe" => LogType::Unsubscribe,
                    "websockets" => LogType::Websockets,
                    "internal" => LogType::Internal,
                    other => {
                        return Err(line.invalid(
                            other,
                            "one of debug, error, warning, notice, information, subscribe, \
                             unsubscribe, websockets, internal, none, all",
                        ))
                    }
                };
                self.log_types = Some(current.with(kind));
            }
            "log_dest" => self.log_dest(line)?,
            "pid_file" => self.config.pid_file = Some(line.path()?),
            "include_dir" => {
                let dir = line.path()?;
                if depth > 0 {
                    // Mosquitto reads include_dir in the main file only.
                    self.config.warnings.push(format!(
                        "{}:{}: include_dir in an included file is ignored",
                        line.file, line.number
                    ));
                } else {
                    self.include_dir(line, &dir, depth)?;
                    self.config.include_dirs.push(dir);
                }
            }
            // Mosquitto 2.0 ignores retry_interval and re-sends only on
            // reconnect. midge honours it for 3.x clients (as Mosquitto 1.x
            // did), since a config that still sets it asks for retries; 0
            // turns it off, which is also the default.
            "retry_interval" => {
                let value = line.int(0, 65535, "an integer from 0 to 65535 seconds (0: off)")?;
                config.retry_interval = u64::try_from(value)
                    .ok()
                    .filter(|&secs| secs > 0)
                    .map(Duration::from_secs);
            }
            other
                if NOT_YET.contains(&other)
                    || other.starts_with("auth_opt_")
                    || other.starts_with("plugin_opt_") =>
            {
                return Err(line.error("directive not supported by midge yet"))
            }
            _ => return Err(line.error("unknown directive")),
        }
        Ok(())
    }

    /// `listener PORT [ADDRESS]`: starts a new listener.
    fn listener(&mut self, line: &Line<'_>) -> Result<(), ConfigError> {
        let (port_text, address) = match line.args.as_slice() {
            [] => return Err(line.error("missing value")),
            [port] => (*port, None),
            [port, address] => (*port, Some(*address)),
            [_, _, extra, ..] => {
                return Err(line.error(format!("unexpected extra value '{extra}'")))
            }
        };
        if port_text == "0" {
            return Err(line.error("listener port 0 (a Unix socket) is not supported by midge yet"));
        }
        let port = port_text
            .parse::<u16>()
            .ok()
            .filter(|&port| port > 0)
            .ok_or_else(|| line.invalid(port_text, "a port from 1 to 65535"))?;
        let bind = address.map(|text| line.ip(text)).transpose()?;
        self.check_duplicate(port, bind, &line.origin(), line)?;
        self.config.listeners.push(Listener::new(port, bind));
        self.origins.push(line.origin());
        self.current = Some(self.config.listeners.len() - 1);
        Ok(())
    }

    /// Refuses a second listener on the same port and address.
    fn check_duplicate(
        &self,
        port: u16,
        bind: Option<IpAddr>,
        origin: &Origin,
        line: &Line<'_>,
    ) -> Result<(), ConfigError> {
        let clash = self
            .config
            .listeners
            .iter()
            .zip(&self.origins)
            .find(|(l, _)| l.port == port && l.bind == bind);
        match clash {
            Some((_, first)) => {
                let mut error = line.error(format!(
                    "port {port} on {} is already configured at {}:{}",
                    bind.map_or_else(|| "all interfaces".to_string(), |ip| ip.to_string()),
                    first.file,
                    first.line
                ));
                error.file = Some(origin.file.clone());
                error.line = Some(origin.line);
                Err(error)
            }
            None => Ok(()),
        }
    }

    /// The listener per-listener settings apply to: the last `listener`,
    /// else the default listener.
    fn current_listener(&mut self, line: &Line<'_>) -> &mut Listener {
        match self.current {
            Some(index) => &mut self.config.listeners[index],
            None => {
                let default = &mut self.default_listener;
                default
                    .first_setting
                    .get_or_insert_with(|| (line.origin(), line.directive.to_string()));
                default
                    .settings
                    .get_or_insert_with(|| Listener::new(DEFAULT_PORT, None))
            }
        }
    }

    /// `log_dest stdout|stderr|file PATH|none`.
    fn log_dest(&mut self, line: &Line<'_>) -> Result<(), ConfigError> {
        let kind = line
            .args
            .first()
            .copied()
            .ok_or_else(|| line.error("missing value"))?;
        let dests = self.log_dest.get_or_insert_with(Vec::new);
        let dest = match kind {
            "file" => {
                let path = line.rest.strip_prefix("file").unwrap_or_default().trim();
                if path.is_empty() {
                    return Err(line.error("missing value: log_dest file needs a path"));
                }
                if dests.iter().any(|d| matches!(d, LogDest::File(_))) {
                    return Err(line.error("log_dest file given more than once"));
                }
                LogDest::File(PathBuf::from(path))
            }
            "stdout" | "stderr" | "none" => {
                if let Some(extra) = line.args.get(1) {
                    return Err(line.error(format!("unexpected extra value '{extra}'")));
                }
                match kind {
                    "stdout" => LogDest::Stdout,
                    "stderr" => LogDest::Stderr,
                    _ => {
                        dests.clear();
                        return Ok(());
                    }
                }
            }
            "syslog" | "topic" | "dlt" => {
                return Err(line.error(format!("log_dest {kind} is not supported by midge")))
            }
            other => return Err(line.invalid(other, "stdout, stderr, file PATH or none")),
        };
        if !dests.contains(&dest) {
            dests.push(dest);
        }
        Ok(())
    }

    /// `include_dir DIR`: parses every `*.conf` file of `dir`, in sorted
    /// order, as if its lines were written here.
    fn include_dir(
        &mut self,
        line: &Line<'_>,
        dir: &Path,
        depth: usize,
    ) -> Result<(), ConfigError> {
        let files = (self.read_dir)(dir).map_err(|e| line.error(e))?;
        for (name, text) in files {
            self.text(&name, &text, depth + 1)?;
        }
        Ok(())
    }

    /// Settles the default listener and the log settings, and checks the
    /// bridges.
    fn finish(mut self) -> Result<Config, ConfigError> {
        let default = std::mem::take(&mut self.default_listener);
        match (&default.configured_at, &default.first_setting) {
            (Some(origin), _) => {
                let mut listener = default
                    .settings
                    .unwrap_or_else(|| Listener::new(DEFAULT_PORT, None));
                listener.port = default.port.unwrap_or(DEFAULT_PORT);
                listener.bind = default.bind;
                let line = Line {
                    file: &origin.file,
                    number: origin.line,
                    directive: if default.port.is_some() {
                        "port"
                    } else {
                        "bind_address"
                    },
                    args: Vec::new(),
                    rest: "",
                };
                self.check_duplicate(listener.port, listener.bind, origin, &line)?;
                check_tls(&listener, origin, line.directive)?;
                self.config.listeners.push(listener);
            }
            (None, Some((origin, directive))) => {
                return Err(ConfigError {
                    file: Some(origin.file.clone()),
                    line: Some(origin.line),
                    directive: Some(directive.clone()),
                    message: "applies to the default listener, but no port or bind_address \
                              configures one; write it after a listener line"
                        .to_string(),
                });
            }
            (None, None) => {}
        }
        for (listener, origin) in self.config.listeners.iter().zip(&self.origins) {
            check_tls(listener, origin, "listener")?;
        }
        bridge::check(&self.bridges, &self.config)?;
        if let Some(types) = self.log_types {
            self.config.log_types = types;
        }
        if let Some(dests) = self.log_dest {
            self.config.log_dest = dests;
        }
        Ok(self.config)
    }
}

/// Refuses a listener whose TLS directives do not add up; the error
/// points at the line that started the listener.
fn check_tls(listener: &Listener, origin: &Origin, directive: &str) -> Result<(), ConfigError> {
    listener.tls.check().map_err(|why| ConfigError {
        file: Some(origin.file.clone()),
        line: Some(origin.line),
        directive: Some(directive.to_string()),
        message: format!("listener on port {}: {why}", listener.port),
    })
}

/// The prefix of `mount_point PREFIX`: the rest of the line, a topic name
/// without wildcards (Mosquitto checks it the same way).
fn mount_point(line: &Line<'_>) -> Result<String, ConfigError> {
    let prefix = line.rest;
    if prefix.is_empty() {
        return Err(line.error("missing value"));
    }
    if prefix.contains(['+', '#']) {
        let comment = prefix.contains(" #") || prefix.contains("\t#");
        let expected = if comment {
            "a topic prefix without the wildcards + and # \
             (the prefix runs to the end of the line: no # comment may follow it)"
        } else {
            "a topic prefix without the wildcards + and #"
        };
        return Err(line.invalid(prefix, expected));
    }
    if prefix.contains('\0') {
        return Err(line.error("invalid value: a topic prefix cannot contain U+0000"));
    }
    if prefix.len() > MAX_TOPIC_LEN {
        return Err(line.error(format!(
            "invalid value: {} bytes long, a topic prefix is at most {MAX_TOPIC_LEN}",
            prefix.len()
        )));
    }
    Ok(prefix.to_string())
}

/// A negative limit means "no limit" (0), as in Mosquitto.
fn non_negative(value: i64) -> usize {
    usize::try_from(value.max(0)).unwrap_or(usize::MAX)
}

/// Parses `N[hdwmy]` (hours, days, weeks, 30-day months, 365-day years).
fn expiration(text: &str) -> Option<Duration> {
    let unit = text.chars().last()?;
    let count: u64 = text.get(..text.len() - unit.len_utf8())?.parse().ok()?;
    let secs_per_unit = match unit {
        'h' => 3_600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        'm' => 30 * 86_400,
        'y' => 365 * 86_400,
        _ => return None,
    };
    let secs = count.checked_mul(secs_per_unit)?;
    (secs > 0).then(|| Duration::from_secs(secs))
}

/// Reads the `*.conf` files of `dir`, sorted by name (see [`ReadDir`]).
fn read_conf_dir(dir: &Path) -> Result<Vec<(String, String)>, String> {
    let cannot = |e: std::io::Error| format!("cannot read directory '{}': {e}", dir.display());
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir).map_err(cannot)? {
        let path = entry.map_err(cannot)?.path();
        let is_conf = path.extension().is_some_and(|ext| ext == "conf");
        if is_conf && path.is_file() {
            paths.push(path);
        }
    }
    // Names in one directory are unique: an unstable sort orders them the
    // same, with less code.
    paths.sort_unstable();
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        let name = path.display().to_string();
        let text = fs::read_to_string(&path).map_err(|e| format!("cannot read '{name}': {e}"))?;
        files.push((name, text));
    }
    Ok(files)
}
