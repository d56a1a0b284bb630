//! Tests of the command line and config file against Mosquitto 2.0's
//! documented behaviour: defaults, every directive, every error kind.

use super::*;
use std::net::Ipv6Addr;
use std::sync::atomic::{AtomicUsize, Ordering};

const LOOPBACK: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));

fn parse(text: &str) -> Config {
    match parse_str("midge.conf", text) {
        Ok(config) => config,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn error(text: &str) -> String {
    match parse_str("midge.conf", text) {
        Ok(config) => panic!("expected an error, got {config:?}"),
        Err(e) => e.to_string(),
    }
}

fn cli(args: &[&str]) -> Result<Command, ConfigError> {
    let argv: Vec<String> = std::iter::once("midge")
        .chain(args.iter().copied())
        .map(String::from)
        .collect();
    parse_args(&argv)
}

fn run(args: &[&str]) -> Config {
    match cli(args) {
        Ok(Command::Run(config)) => *config,
        other => panic!("expected Run, got {other:?}"),
    }
}

fn cli_error(args: &[&str]) -> String {
    match cli(args) {
        Err(e) => e.to_string(),
        Ok(other) => panic!("expected an error, got {other:?}"),
    }
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("midge-config-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write temp file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---- defaults ----

#[test]
fn defaults_equal_mosquitto() {
    let c = Config::default();
    assert!(c.listeners.is_empty());
    assert!(!c.per_listener_settings);
    assert_eq!(c.allow_anonymous, None);
    assert!(c.allow_zero_length_clientid);
    assert_eq!(c.max_inflight_messages, 20);
    assert_eq!(c.max_inflight_bytes, 0);
    assert_eq!(c.max_queued_messages, 1000);
    assert_eq!(c.max_queued_bytes, 0);
    assert!(!c.queue_qos0_messages);
    assert_eq!(c.message_size_limit, 0);
    assert_eq!(c.max_packet_size, 0);
    assert_eq!(c.max_keepalive, 65535);
    assert!(c.retain_available);
    assert!(!c.upgrade_outgoing_qos);
    assert!(!c.check_retain_source);
    assert_eq!(c.sys_interval, Some(Duration::from_secs(10)));
    assert_eq!(c.persistent_client_expiration, None);
    assert_eq!(c.log_types, LogTypes::mosquitto_default());
    assert_eq!(c.log_dest, vec![LogDest::Stderr]);
    assert!(!c.verbose);
    assert_eq!(c.log_filter(), log::LevelFilter::Info);
}

#[test]
fn empty_file_is_local_only_on_loopback_1883_with_anonymous() {
    let c = parse("# nothing\n\n");
    assert!(c.local_only);
    assert_eq!(c.listeners, vec![Listener::new(1883, LOOPBACK)]);
    assert!(c.anonymous_allowed(0));
}

#[test]
fn no_arguments_is_local_only_mode() {
    let c = run(&[]);
    assert!(c.local_only);
    assert_eq!(c.listeners, vec![Listener::new(1883, LOOPBACK)]);
    assert!(c.anonymous_allowed(0));
    assert_eq!(c.config_file, None);
}

// ---- every directive ----

#[test]
fn every_directive_is_parsed() {
    let c = parse(
        "listener 1884\n\
         max_connections 50\n\
         allow_anonymous true\n\
         allow_zero_length_clientid false\n\
         max_topic_alias 20\n\
         max_qos 1\n\
         mount_point tenant/a/\n\
         max_inflight_messages 5\n\
         max_inflight_bytes 8192\n\
         max_queued_messages 200\n\
         max_queued_bytes 65536\n\
         queue_qos0_messages true\n\
         message_size_limit 1024\n\
         max_packet_size 2048\n\
         max_keepalive 120\n\
         retain_available false\n\
         upgrade_outgoing_qos true\n\
         check_retain_source true\n\
         sys_interval 30\n\
         persistent_client_expiration 2d\n\
         log_type debug\n\
         log_dest stdout\n\
         protocol mqtt\n",
    );
    assert!(!c.local_only);
    assert_eq!(c.listeners.len(), 1);
    assert_eq!(c.listeners[0].port, 1884);
    assert_eq!(c.listeners[0].bind, None);
    assert_eq!(c.listeners[0].max_connections, Some(50));
    assert_eq!(c.listeners[0].max_topic_alias, 20);
    assert_eq!(c.listeners[0].max_qos, QoS::AtLeastOnce);
    assert_eq!(c.listeners[0].mount_point.as_deref(), Some("tenant/a/"));
    assert_eq!(c.allow_anonymous, Some(true));
    assert!(c.anonymous_allowed(0));
    assert!(!c.allow_zero_length_clientid);
    assert!(!c.zero_length_clientid_allowed(0));
    assert_eq!(c.max_inflight_messages, 5);
    assert_eq!(c.inflight_window(), 5);
    assert_eq!(c.max_inflight_bytes, 8192);
    assert_eq!(c.max_queued_messages, 200);
    assert_eq!(c.max_queued_bytes, 65536);
    assert!(c.queue_qos0_messages);
    assert_eq!(c.message_size_limit, 1024);
    assert_eq!(c.max_packet_size, 2048);
    assert_eq!(c.max_keepalive, 120);
    assert!(!c.retain_available);
    assert!(c.upgrade_outgoing_qos);
    assert!(c.check_retain_source);
    assert_eq!(c.sys_interval, Some(Duration::from_secs(30)));
    assert_eq!(
        c.persistent_client_expiration,
        Some(Duration::from_secs(2 * 86_400))
    );
    assert_eq!(c.log_types, LogTypes::NONE.with(LogType::Debug));
    assert_eq!(c.log_dest, vec![LogDest::Stdout]);
    assert!(c.warnings.is_empty());
}

#[test]
fn listener_with_ipv4_and_ipv6_addresses() {
    let c = parse("listener 1883 0.0.0.0\nlistener 8883 ::1\nlistener 1884 192.168.1.10\n");
    let binds: Vec<_> = c.listeners.iter().map(|l| (l.port, l.bind)).collect();
    assert_eq!(
        binds,
        vec![
            (1883, Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED))),
            (8883, Some(IpAddr::V6(Ipv6Addr::LOCALHOST))),
            (1884, Some(IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10)))),
        ]
    );
}

#[test]
fn listener_host_name_is_refused_with_reason() {
    let e = error("listener 1883 broker.example.com\n");
    assert!(e.starts_with("midge.conf:1: listener: invalid address 'broker.example.com'"));
    assert!(e.contains("does not resolve host names"), "{e}");
    let e = error("\nbind_address localhost\n");
    assert!(e.starts_with("midge.conf:2: bind_address: invalid address 'localhost'"));
    assert!(e.contains("use 127.0.0.1 or ::1"), "{e}");
}

#[test]
fn listener_port_range() {
    assert_eq!(
        error("listener 65536\n"),
        "midge.conf:1: listener: invalid value '65536': expected a port from 1 to 65535"
    );
    assert_eq!(
        error("listener x\n"),
        "midge.conf:1: listener: invalid value 'x': expected a port from 1 to 65535"
    );
    assert_eq!(
        error("listener 0 /run/midge.sock\n"),
        "midge.conf:1: listener: listener port 0 (a Unix socket) is not supported by midge yet"
    );
    assert_eq!(error("listener\n"), "midge.conf:1: listener: missing value");
    assert_eq!(
        error("listener 1883 0.0.0.0 extra\n"),
        "midge.conf:1: listener: unexpected extra value 'extra'"
    );
}

#[test]
fn duplicate_listener_is_refused() {
    assert_eq!(
        error("listener 1883\nlistener 1884\nlistener 1883\n"),
        "midge.conf:3: listener: port 1883 on all interfaces is already configured at midge.conf:1"
    );
    // Same port on different addresses is fine.
    let c = parse("listener 1883 127.0.0.1\nlistener 1883 ::1\n");
    assert_eq!(c.listeners.len(), 2);
    assert_eq!(
        error("listener 1883\nport 1883\n"),
        "midge.conf:2: port: port 1883 on all interfaces is already configured at midge.conf:1"
    );
}

#[test]
fn port_and_bind_address_make_the_default_listener_last() {
    let c = parse("port 1885\nbind_address 10.0.0.1\nmax_connections 7\nlistener 1886\n");
    assert!(!c.local_only);
    assert_eq!(c.listeners.len(), 2);
    assert_eq!(c.listeners[0].port, 1886);
    assert_eq!(c.listeners[1].port, 1885);
    assert_eq!(
        c.listeners[1].bind,
        Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))
    );
    assert_eq!(c.listeners[1].max_connections, Some(7));
    assert_eq!(c.listeners[0].max_connections, None);
}

#[test]
fn bind_address_alone_uses_port_1883_and_leaves_local_only_mode() {
    let c = parse("bind_address 0.0.0.0\n");
    assert!(!c.local_only);
    assert_eq!(
        c.listeners,
        vec![Listener::new(1883, Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))]
    );
    assert!(!c.anonymous_allowed(0));
}

#[test]
fn port_twice_keeps_the_last_and_warns() {
    let c = parse("port 1884\nport 1885\n");
    assert_eq!(c.listeners, vec![Listener::new(1885, None)]);
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0].starts_with("midge.conf:2: port"));
    assert_eq!(
        error("port 0\n"),
        "midge.conf:1: port: invalid value '0': expected a port from 1 to 65535"
    );
}

#[test]
fn max_connections_minus_one_and_zero_are_unlimited() {
    for value in ["-1", "0", "-100"] {
        let c = parse(&format!("listener 1883\nmax_connections {value}\n"));
        assert_eq!(c.listeners[0].max_connections, None, "{value}");
    }
    let c = parse("listener 1883\nmax_connections 3\nlistener 1884\n");
    assert_eq!(c.listeners[0].max_connections, Some(3));
    assert_eq!(c.listeners[1].max_connections, None);
    assert_eq!(
        error("listener 1883\nmax_connections lots\n"),
        "midge.conf:2: max_connections: invalid value 'lots': expected an integer (-1: unlimited)"
    );
}

// ---- anonymous access and per_listener_settings ----

#[test]
fn allow_anonymous_defaults_false_with_listeners() {
    let c = parse("listener 1883\n");
    assert_eq!(c.allow_anonymous, None);
    assert!(!c.anonymous_allowed(0));
    let c = parse("listener 1883\nallow_anonymous true\n");
    assert!(c.anonymous_allowed(0));
}

#[test]
fn allow_anonymous_is_global_without_per_listener_settings() {
    let c = parse("allow_anonymous true\nlistener 1883\nlistener 1884\nallow_anonymous false\n");
    assert!(!c.anonymous_allowed(0));
    assert!(!c.anonymous_allowed(1));
}

#[test]
fn local_only_mode_allows_anonymous_unless_told_not_to() {
    let c = parse("max_keepalive 60\n");
    assert!(c.local_only);
    assert!(c.anonymous_allowed(0));
    let c = parse("allow_anonymous false\n");
    assert!(c.local_only);
    assert!(!c.anonymous_allowed(0));
}

#[test]
fn per_listener_settings_apply_to_the_listener_they_follow() {
    let c = parse(
        "per_listener_settings true\n\
         listener 1883\n\
         allow_anonymous true\n\
         listener 1884\n\
         allow_zero_length_clientid false\n\
         listener 1885\n\
         allow_anonymous false\n",
    );
    assert!(c.per_listener_settings);
    assert!(c.anonymous_allowed(0));
    assert!(!c.anonymous_allowed(1), "not set: false with listeners");
    assert!(!c.anonymous_allowed(2));
    assert!(c.zero_length_clientid_allowed(0));
    assert!(!c.zero_length_clientid_allowed(1));
    assert_eq!(c.allow_anonymous, None);
    assert!(!c.anonymous_allowed(99), "unknown listener index");
}

#[test]
fn per_listener_settings_apply_to_the_default_listener_before_any_listener() {
    let c = parse("per_listener_settings true\nport 1883\nallow_anonymous true\nlistener 1884\n");
    assert_eq!(c.listeners[1].port, 1883);
    assert!(c.anonymous_allowed(1));
    assert!(!c.anonymous_allowed(0));
}

#[test]
fn per_listener_setting_without_a_default_listener_is_refused() {
    assert_eq!(
        error("per_listener_settings true\nallow_anonymous true\nlistener 1883\n"),
        "midge.conf:2: allow_anonymous: applies to the default listener, but no port or \
         bind_address configures one; write it after a listener line"
    );
    assert_eq!(
        error("max_connections 10\nlistener 1883\n"),
        "midge.conf:1: max_connections: applies to the default listener, but no port or \
         bind_address configures one; write it after a listener line"
    );
}

#[test]
fn per_listener_settings_must_precede_security_settings() {
    assert_eq!(
        error("allow_anonymous true\nper_listener_settings true\n"),
        "midge.conf:2: per_listener_settings: must come before any security setting \
         (allow_anonymous, allow_zero_length_clientid, check_retain_source, password_file, \
         acl_file)"
    );
    let c = parse("allow_anonymous true\nper_listener_settings false\n");
    assert!(!c.per_listener_settings);
}

// ---- limits ----

#[test]
fn max_inflight_messages_zero_minus_one_and_65535_mean_no_limit() {
    for value in ["0", "-1", "65535"] {
        let c = parse(&format!("max_inflight_messages {value}\n"));
        assert_eq!(c.max_inflight_messages, 0, "{value}");
        assert_eq!(c.inflight_window(), 65535);
    }
    assert_eq!(
        error("listener 1883\n\nmax_inflight_messages 65536\n"),
        "midge.conf:3: max_inflight_messages: invalid value '65536': \
         expected an integer up to 65535 (0: no limit)"
    );
}

#[test]
fn queue_limits_negative_means_no_limit() {
    let c = parse("max_queued_messages -1\nmax_queued_bytes -5\n");
    assert_eq!(c.max_queued_messages, 0);
    assert_eq!(c.max_queued_bytes, 0);
    assert_eq!(
        error("max_queued_messages 1e3\n"),
        "midge.conf:1: max_queued_messages: invalid value '1e3': expected an integer (0: no limit)"
    );
}

#[test]
fn message_size_limit_range() {
    let c = parse("message_size_limit 268435455\n");
    assert_eq!(c.message_size_limit, MAX_PAYLOAD);
    assert_eq!(
        error("message_size_limit 268435456\n"),
        "midge.conf:1: message_size_limit: invalid value '268435456': \
         expected an integer from 0 to 268435455 (0: no limit)"
    );
    assert!(error("message_size_limit -1\n").contains("invalid value '-1'"));
}

#[test]
fn max_packet_size_refuses_below_20() {
    assert_eq!(parse("max_packet_size 20\n").max_packet_size, 20);
    assert_eq!(parse("max_packet_size 0\n").max_packet_size, 0);
    assert_eq!(
        error("max_packet_size 19\n"),
        "midge.conf:1: max_packet_size: invalid value '19': \
         expected 0 (no limit) or an integer from 20 to 2147483647"
    );
}

#[test]
fn max_keepalive_range_is_10_to_65535() {
    assert_eq!(parse("max_keepalive 10\n").max_keepalive, 10);
    assert_eq!(parse("max_keepalive 65535\n").max_keepalive, 65535);
    for bad in ["9", "0", "65536", "-1"] {
        assert_eq!(
            error(&format!("max_keepalive {bad}\n")),
            format!(
                "midge.conf:1: max_keepalive: invalid value '{bad}': \
                 expected an integer from 10 to 65535"
            )
        );
    }
}

#[test]
fn pid_file_is_a_path() {
    assert_eq!(parse("").pid_file, None);
    assert_eq!(
        parse("pid_file /run/mosquitto/mosquitto.pid\n").pid_file,
        Some(PathBuf::from("/run/mosquitto/mosquitto.pid"))
    );
    assert!(error("pid_file\n").contains("pid_file"));
}

#[test]
fn sys_interval_zero_disables() {
    assert_eq!(parse("sys_interval 0\n").sys_interval, None);
    assert_eq!(
        parse("sys_interval 65535\n").sys_interval,
        Some(Duration::from_secs(65535))
    );
    assert!(error("sys_interval 65536\n").contains("expected an integer from 0 to 65535"));
}

#[test]
fn persistent_client_expiration_units() {
    let cases = [
        ("3h", 3 * 3_600),
        ("2d", 2 * 86_400),
        ("1w", 7 * 86_400),
        ("1m", 30 * 86_400),
        ("1y", 365 * 86_400),
    ];
    for (text, secs) in cases {
        let c = parse(&format!("persistent_client_expiration {text}\n"));
        assert_eq!(
            c.persistent_client_expiration,
            Some(Duration::from_secs(secs)),
            "{text}"
        );
    }
    for bad in ["0d", "5", "d", "5x", "-1d", "1.5h", "99999999999999999999y"] {
        let e = error(&format!("persistent_client_expiration {bad}\n"));
        assert!(
            e.starts_with(&format!(
                "midge.conf:1: persistent_client_expiration: invalid value '{bad}': expected a duration"
            )),
            "{e}"
        );
    }
}

// ---- MQTT 5 directives ----

#[test]
fn per_listener_mqtt5_defaults() {
    let l = Listener::new(1883, None);
    assert_eq!(l.max_topic_alias, 10);
    assert_eq!(l.max_qos, QoS::ExactlyOnce);
    assert_eq!(l.mount_point, None);
    let c = parse("listener 1883\nlistener 1884\n");
    for l in &c.listeners {
        assert_eq!(l.max_topic_alias, 10, "{}", l.port);
        assert_eq!(l.max_qos, QoS::ExactlyOnce, "{}", l.port);
        assert_eq!(l.mount_point, None, "{}", l.port);
    }
    let c = parse("");
    assert_eq!(c.listeners[0].max_topic_alias, 10, "local-only listener");
    assert_eq!(c.listeners[0].max_qos, QoS::ExactlyOnce);
    assert_eq!(c.listeners[0].mount_point, None);
}

#[test]
fn max_topic_alias_is_per_listener_from_0_to_65535() {
    let c = parse(
        "listener 1883\n\
         max_topic_alias 0\n\
         listener 1884\n\
         max_topic_alias 65535\n\
         listener 1885\n",
    );
    let aliases: Vec<u16> = c.listeners.iter().map(|l| l.max_topic_alias).collect();
    assert_eq!(aliases, vec![0, 65535, 10]);
    // Before any listener line: the default listener, which comes last.
    let c = parse("port 1884\nmax_topic_alias 3\nlistener 1885\n");
    assert_eq!(c.listeners[0].max_topic_alias, 10);
    assert_eq!(c.listeners[1].port, 1884);
    assert_eq!(c.listeners[1].max_topic_alias, 3);
    for bad in ["-1", "65536", "ten", "1.5", "12abc"] {
        assert_eq!(
            error(&format!("listener 1883\n\nmax_topic_alias {bad}\n")),
            format!(
                "midge.conf:3: max_topic_alias: invalid value '{bad}': \
                 expected an integer from 0 to 65535 (0: no topic aliases)"
            )
        );
    }
    assert_eq!(
        error("listener 1883\nmax_topic_alias\n"),
        "midge.conf:2: max_topic_alias: missing value"
    );
    assert_eq!(
        error("listener 1883\nmax_topic_alias 5 6\n"),
        "midge.conf:2: max_topic_alias: unexpected extra value '6'"
    );
    assert_eq!(
        error("max_topic_alias 5\nlistener 1883\n"),
        "midge.conf:1: max_topic_alias: applies to the default listener, but no port or \
         bind_address configures one; write it after a listener line"
    );
}

#[test]
fn max_qos_is_per_listener_from_0_to_2() {
    let c = parse(
        "listener 1883\n\
         max_qos 0\n\
         listener 1884\n\
         max_qos 1\n\
         listener 1885\n\
         maximum_qos 2\n\
         listener 1886\n",
    );
    let qos: Vec<QoS> = c.listeners.iter().map(|l| l.max_qos).collect();
    assert_eq!(
        qos,
        vec![
            QoS::AtMostOnce,
            QoS::AtLeastOnce,
            QoS::ExactlyOnce,
            QoS::ExactlyOnce
        ]
    );
    let c = parse("bind_address 127.0.0.1\nmax_qos 0\nlistener 1885\n");
    assert_eq!(c.listeners[0].max_qos, QoS::ExactlyOnce);
    assert_eq!(c.listeners[1].max_qos, QoS::AtMostOnce);
    for bad in ["3", "-1", "two", "1.0"] {
        assert_eq!(
            error(&format!("listener 1883\nmax_qos {bad}\n")),
            format!("midge.conf:2: max_qos: invalid value '{bad}': expected 0, 1 or 2")
        );
    }
    assert_eq!(
        error("listener 1883\nmax_qos\n"),
        "midge.conf:2: max_qos: missing value"
    );
}

#[test]
fn mount_point_is_per_listener_and_runs_to_the_end_of_the_line() {
    let c = parse(
        "listener 1883\n\
         mount_point tenant/a/\n\
         listener 1884\n\
         mount_point  tenant b/  \n\
         listener 1885\n",
    );
    let mounts: Vec<Option<&str>> = c
        .listeners
        .iter()
        .map(|l| l.mount_point.as_deref())
        .collect();
    assert_eq!(mounts, vec![Some("tenant/a/"), Some("tenant b/"), None]);
    // Joined as written: no separator is added.
    assert_eq!(
        parse("listener 1883\nmount_point site\n").listeners[0]
            .mount_point
            .as_deref(),
        Some("site")
    );
    let c = parse("port 1884\nmount_point $local/\nlistener 1885\n");
    assert_eq!(c.listeners[0].mount_point, None);
    assert_eq!(c.listeners[1].mount_point.as_deref(), Some("$local/"));
    // The same prefix on two listeners is fine.
    let c = parse("listener 1883\nmount_point x/\nlistener 1884\nmount_point x/\n");
    assert_eq!(c.listeners[0].mount_point, c.listeners[1].mount_point);
}

#[test]
fn mount_point_with_a_wildcard_is_refused() {
    for bad in ["site/+/", "site/#", "+", "#", "a+b/", "tenant#1/"] {
        assert_eq!(
            error(&format!("listener 1883\n\nmount_point {bad}\n")),
            format!(
                "midge.conf:3: mount_point: invalid value '{bad}': \
                 expected a topic prefix without the wildcards + and #"
            )
        );
    }
    assert_eq!(
        error("listener 1883\nmount_point site/ # tenant A\n"),
        "midge.conf:2: mount_point: invalid value 'site/ # tenant A': \
         expected a topic prefix without the wildcards + and # \
         (the prefix runs to the end of the line: no # comment may follow it)"
    );
}

#[test]
fn mount_point_other_errors() {
    assert_eq!(
        error("listener 1883\nmount_point\n"),
        "midge.conf:2: mount_point: missing value"
    );
    assert_eq!(
        error("listener 1883\nmount_point   \n"),
        "midge.conf:2: mount_point: missing value"
    );
    assert_eq!(
        error("listener 1883\nmount_point a/\nlistener 1884\nmount_point b/\nmount_point c/\n"),
        "midge.conf:5: mount_point: given more than once for this listener"
    );
    assert_eq!(
        error("listener 1883\nmount_point a\0b/\n"),
        "midge.conf:2: mount_point: invalid value: a topic prefix cannot contain U+0000"
    );
    let long = "a".repeat(65_536);
    assert_eq!(
        error(&format!("listener 1883\nmount_point {long}\n")),
        "midge.conf:2: mount_point: invalid value: 65536 bytes long, \
         a topic prefix is at most 65535"
    );
    let longest = "a".repeat(65_535);
    let c = parse(&format!("listener 1883\nmount_point {longest}\n"));
    assert_eq!(
        c.listeners[0].mount_point.as_deref(),
        Some(longest.as_str())
    );
    assert_eq!(
        error("mount_point site/\nlistener 1883\n"),
        "midge.conf:1: mount_point: applies to the default listener, but no port or \
         bind_address configures one; write it after a listener line"
    );
}

#[test]
fn max_inflight_bytes_is_global_and_negative_means_no_limit() {
    assert_eq!(parse("max_inflight_bytes 4096\n").max_inflight_bytes, 4096);
    assert_eq!(parse("max_inflight_bytes 0\n").max_inflight_bytes, 0);
    assert_eq!(parse("max_inflight_bytes -1\n").max_inflight_bytes, 0);
    // Global: the listener it follows does not matter.
    let c = parse("listener 1883\nlistener 1884\nmax_inflight_bytes 100\n");
    assert_eq!(c.max_inflight_bytes, 100);
    for bad in ["4k", "lots", "1e3", "99999999999999999999"] {
        assert_eq!(
            error(&format!("listener 1883\nmax_inflight_bytes {bad}\n")),
            format!(
                "midge.conf:2: max_inflight_bytes: invalid value '{bad}': \
                 expected an integer (0: no limit)"
            )
        );
    }
    assert_eq!(
        error("max_inflight_bytes\n"),
        "midge.conf:1: max_inflight_bytes: missing value"
    );
}

#[test]
fn upgrade_outgoing_qos_is_a_global_bool() {
    assert!(parse("upgrade_outgoing_qos true\n").upgrade_outgoing_qos);
    assert!(parse("upgrade_outgoing_qos 1\n").upgrade_outgoing_qos);
    assert!(!parse("upgrade_outgoing_qos false\n").upgrade_outgoing_qos);
    assert!(
        parse("listener 1883\nlistener 1884\nupgrade_outgoing_qos true\n").upgrade_outgoing_qos
    );
    for bad in ["yes", "on", "2"] {
        assert_eq!(
            error(&format!("listener 1883\nupgrade_outgoing_qos {bad}\n")),
            format!(
                "midge.conf:2: upgrade_outgoing_qos: invalid value '{bad}': expected true or false"
            )
        );
    }
    assert_eq!(
        error("upgrade_outgoing_qos\n"),
        "midge.conf:1: upgrade_outgoing_qos: missing value"
    );
}

#[test]
fn settings_from_carries_the_mqtt5_directives() {
    let c = parse(
        "max_inflight_bytes 1000\n\
         upgrade_outgoing_qos true\n\
         listener 1883\n\
         max_topic_alias 0\n\
         max_qos 1\n\
         mount_point tenant/a/\n\
         listener 1884\n",
    );
    let s = crate::server::settings_from(&c);
    assert_eq!(s.max_inflight_bytes, 1000);
    assert!(s.upgrade_outgoing_qos);
    assert_eq!(s.listeners.len(), 2);
    assert_eq!(s.listeners[0].max_topic_alias, 0);
    assert_eq!(s.listeners[0].max_qos, QoS::AtLeastOnce);
    assert_eq!(s.listeners[0].mount_point.as_deref(), Some("tenant/a/"));
    assert_eq!(s.listeners[1].max_topic_alias, 10);
    assert_eq!(s.listeners[1].max_qos, QoS::ExactlyOnce);
    assert_eq!(s.listeners[1].mount_point, None);
    let s = crate::server::settings_from(&parse(""));
    assert_eq!(s.max_inflight_bytes, 0);
    assert!(!s.upgrade_outgoing_qos);
    assert_eq!(s.listeners[0].max_topic_alias, 10);
}

#[test]
fn booleans_are_true_false_one_zero() {
    assert!(!parse("retain_available false\n").retain_available);
    assert!(!parse("retain_available 0\n").retain_available);
    assert!(parse("queue_qos0_messages 1\n").queue_qos0_messages);
    assert_eq!(
        error("retain_available yes\n"),
        "midge.conf:1: retain_available: invalid value 'yes': expected true or false"
    );
    assert_eq!(
        error("retain_available True\n"),
        "midge.conf:1: retain_available: invalid value 'True': expected true or false"
    );
}

// ---- logging ----

#[test]
fn log_type_lines_accumulate_and_replace_the_default() {
    let c = parse("log_type error\nlog_type subscribe\n");
    assert_eq!(
        c.log_types,
        LogTypes::NONE.with(LogType::Error).with(LogType::Subscribe)
    );
    assert!(!c.log_types.contains(LogType::Information));
    assert_eq!(
        c.log_filter(),
        log::LevelFilter::Error,
        "subscription lines are switched by their own target"
    );
    assert!(c.logs(LogType::Subscribe));
    let c = parse("log_type all\nlog_type none\nlog_type warning\n");
    assert_eq!(c.log_types, LogTypes::NONE.with(LogType::Warning));
    assert!(
        error("log_type verbose\n").starts_with("midge.conf:1: log_type: invalid value 'verbose'")
    );
}

#[test]
fn log_filter_maps_types_to_levels() {
    let level = |text: &str| parse(text).log_filter();
    use log::LevelFilter;
    assert_eq!(level("log_type none\n"), LevelFilter::Off);
    assert_eq!(level("log_type error\n"), LevelFilter::Error);
    assert_eq!(
        level("log_type warning\nlog_type error\n"),
        LevelFilter::Warn
    );
    assert_eq!(level("log_type notice\n"), LevelFilter::Info);
    assert_eq!(level("log_type information\n"), LevelFilter::Info);
    assert_eq!(level("log_type unsubscribe\n"), LevelFilter::Off);
    assert_eq!(level("log_type debug\n"), LevelFilter::Debug);
    assert_eq!(level("log_type all\n"), LevelFilter::Debug);
    assert_eq!(level(""), LevelFilter::Info);
}

#[test]
fn verbose_flag_logs_everything_over_the_file() {
    let dir = TempDir::new("verbose");
    let file = dir.write("m.conf", "log_type none\n");
    let c = run(&["-v", "-c", file.to_str().expect("utf-8 path")]);
    assert!(c.verbose);
    assert_eq!(c.log_filter(), log::LevelFilter::Debug);
}

#[test]
fn log_dest_lines_accumulate() {
    let c = parse("log_dest stdout\nlog_dest file /var/log/midge/midge log.txt\nlog_dest stdout\n");
    assert_eq!(
        c.log_dest,
        vec![
            LogDest::Stdout,
            LogDest::File(PathBuf::from("/var/log/midge/midge log.txt"))
        ]
    );
    let c = parse("log_dest stdout\nlog_dest none\n");
    assert!(c.log_dest.is_empty());
    let c = parse("log_dest none\nlog_dest stderr\n");
    assert_eq!(c.log_dest, vec![LogDest::Stderr]);
}

#[test]
fn log_dest_errors() {
    for kind in ["syslog", "topic", "dlt"] {
        assert_eq!(
            error(&format!("log_dest {kind}\n")),
            format!("midge.conf:1: log_dest: log_dest {kind} is not supported by midge")
        );
    }
    assert_eq!(
        error("log_dest file /a\nlog_dest file /b\n"),
        "midge.conf:2: log_dest: log_dest file given more than once"
    );
    assert_eq!(
        error("log_dest file\n"),
        "midge.conf:1: log_dest: missing value: log_dest file needs a path"
    );
    assert_eq!(
        error("log_dest printer\n"),
        "midge.conf:1: log_dest: invalid value 'printer': expected stdout, stderr, file PATH or none"
    );
    assert_eq!(
        error("log_dest stdout stderr\n"),
        "midge.conf:1: log_dest: unexpected extra value 'stderr'"
    );
}

// ---- syntax ----

#[test]
fn comments_blank_lines_crlf_tabs_and_trailing_space() {
    let c = parse(
        "# a comment\r\n\
         \r\n\
         \x20  # an indented comment\n\
         listener\t1884   \r\n\
         max_keepalive 60 # one minute\n\
         \tretain_available false\t\n",
    );
    assert_eq!(c.listeners[0].port, 1884);
    assert_eq!(c.max_keepalive, 60);
    assert!(!c.retain_available);
}

#[test]
fn missing_and_extra_values_name_file_line_and_directive() {
    assert_eq!(
        error("listener 1883\nmax_keepalive\n"),
        "midge.conf:2: max_keepalive: missing value"
    );
    assert_eq!(
        error("max_keepalive 60 70\n"),
        "midge.conf:1: max_keepalive: unexpected extra value '70'"
    );
    assert_eq!(
        error("allow_anonymous\n"),
        "midge.conf:1: allow_anonymous: missing value"
    );
    assert_eq!(
        error("include_dir\n"),
        "midge.conf:1: include_dir: missing value"
    );
}

#[test]
fn error_message_format_matches_the_documented_one() {
    let text = format!(
        "listener 1883\n{}max_inflight_messages x\n",
        "# c\n".repeat(10)
    );
    assert_eq!(
        error(&text),
        "midge.conf:12: max_inflight_messages: invalid value 'x': \
         expected an integer up to 65535 (0: no limit)"
    );
    let e = parse_str("midge.conf", "max_keepalive x\n").unwrap_err();
    assert_eq!(e.file.as_deref(), Some("midge.conf"));
    assert_eq!(e.line, Some(1));
    assert_eq!(e.directive.as_deref(), Some("max_keepalive"));
}

#[test]
fn mosquitto_directives_midge_lacks_are_refused_by_name() {
    let cases = [
        "auth_plugin /usr/lib/auth.so",
        "bind_interface eth0",
        "memory_limit 0",
        "set_tcp_nodelay true",
        "log_timestamp false",
        "user mosquitto",
        "auth_opt_backend files",
        "plugin_opt_x y",
    ];
    for case in cases {
        let directive = case.split(' ').next().unwrap_or_default();
        assert_eq!(
            error(&format!("listener 1883\n{case}\n")),
            format!("midge.conf:2: {directive}: directive not supported by midge yet")
        );
    }
    assert_eq!(
        error("protocol mqttsn\n"),
        "midge.conf:1: protocol: invalid value 'mqttsn': expected mqtt or websockets"
    );
}

#[test]
fn unknown_directive_is_refused() {
    assert_eq!(
        error("listener 1883\nmax_inflight 10\n"),
        "midge.conf:2: max_inflight: unknown directive"
    );
    assert_eq!(
        error("Listener 1883\n"),
        "midge.conf:1: Listener: unknown directive"
    );
}

#[test]
fn retry_interval_enables_live_resends_and_zero_disables() {
    assert_eq!(Config::default().retry_interval, None, "off by default");
    let c = parse("retry_interval 20\n");
    assert_eq!(c.retry_interval, Some(Duration::from_secs(20)));
    assert!(c.warnings.is_empty());
    assert_eq!(parse("retry_interval 0\n").retry_interval, None);
    assert_eq!(
        error("retry_interval soon\n"),
        "midge.conf:1: retry_interval: invalid value 'soon': expected an integer from 0 to 65535 seconds (0: off)"
    );
}

#[test]
fn an_error_anywhere_refuses_the_whole_file() {
    let result = parse_str(
        "midge.conf",
        "listener 1883\nallow_anonymous true\nbogus 1\n",
    );
    assert!(result.is_err());
}

// ---- include_dir ----

#[test]
fn include_dir_reads_conf_files_in_sorted_order_at_that_point() {
    let dir = TempDir::new("include");
    let sub = TempDir::new("include-sub");
    dir.write("b.conf", "max_keepalive 200\nlistener 1885\n");
    dir.write("a.conf", "max_keepalive 100\nlistener 1884\n");
    dir.write("c.conf.disabled", "bogus\n");
    dir.write("notes.txt", "bogus\n");
    let dir_path = dir.0.display().to_string();

    let c = parse(&format!(
        "listener 1883\nmax_keepalive 50\ninclude_dir {dir_path}\n"
    ));
    assert_eq!(c.max_keepalive, 200);
    let ports: Vec<u16> = c.listeners.iter().map(|l| l.port).collect();
    assert_eq!(ports, vec![1883, 1884, 1885]);
    assert_eq!(c.include_dirs, vec![dir.0.clone()]);

    let c = parse(&format!("include_dir {dir_path}\nmax_keepalive 50\n"));
    assert_eq!(c.max_keepalive, 50);

    // A per-listener setting in an included file applies to the listener
    // before it, even one from the main file.
    sub.write("z.conf", "max_connections 9\n");
    let c = parse(&format!("listener 1883\ninclude_dir {}\n", sub.0.display()));
    assert_eq!(c.listeners[0].max_connections, Some(9));
}

#[test]
fn include_dir_error_names_the_included_file_and_line() {
    let dir = TempDir::new("include-error");
    let bad = dir.write("10-bad.conf", "# first\nlistener 1884\nauth_plugin /x\n");
    let e = error(&format!("listener 1883\ninclude_dir {}\n", dir.0.display()));
    assert_eq!(
        e,
        format!(
            "{}:3: auth_plugin: directive not supported by midge yet",
            bad.display()
        )
    );
}

#[test]
fn include_dir_missing_directory_is_an_error() {
    let dir = TempDir::new("include-missing");
    let missing = dir.0.join("nope");
    let e = error(&format!("include_dir {}\n", missing.display()));
    assert!(
        e.starts_with(&format!(
            "midge.conf:1: include_dir: cannot read directory '{}'",
            missing.display()
        )),
        "{e}"
    );
}

#[test]
fn include_dir_inside_an_included_file_is_ignored_with_a_warning() {
    let dir = TempDir::new("include-nested");
    let inner = TempDir::new("include-inner");
    inner.write("x.conf", "max_keepalive 11\n");
    dir.write("a.conf", &format!("include_dir {}\n", inner.0.display()));
    let c = parse(&format!("include_dir {}\n", dir.0.display()));
    assert_eq!(c.max_keepalive, 65535);
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0].contains("include_dir in an included file is ignored"));
}

// ---- load_file ----

#[test]
fn load_file_reads_and_records_the_path() {
    let dir = TempDir::new("load");
    let file = dir.write("midge.conf", "listener 1883\nallow_anonymous true\n");
    let c = load_file(&file).expect("valid file");
    assert_eq!(c.config_file.as_deref(), Some(file.as_path()));
    assert!(c.anonymous_allowed(0));
    assert!(!c.local_only);
}

#[test]
fn load_file_missing_file_names_it() {
    let dir = TempDir::new("load-missing");
    let missing = dir.0.join("absent.conf");
    let e = load_file(&missing).unwrap_err();
    assert_eq!(e.file, Some(missing.display().to_string()));
    assert_eq!(e.line, None);
    assert!(e.to_string().contains("cannot read config file"), "{e}");
}

// ---- command line ----

#[test]
fn dash_p_without_config_is_loopback_only() {
    let c = run(&["-p", "1884"]);
    assert!(c.local_only);
    assert_eq!(c.listeners, vec![Listener::new(1884, LOOPBACK)]);
    assert!(c.anonymous_allowed(0));
}

#[test]
fn dash_p_repeated_opens_each_port() {
    let c = run(&["-p", "1884", "--port", "1885", "-p", "1884"]);
    let ports: Vec<_> = c.listeners.iter().map(|l| (l.port, l.bind)).collect();
    assert_eq!(ports, vec![(1884, LOOPBACK), (1885, LOOPBACK)]);
}

#[test]
fn dash_p_is_limited_to_ten_ports() {
    let mut args = Vec::new();
    for port in 2000..2011 {
        args.push("-p".to_string());
        args.push(port.to_string());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(
        cli_error(&refs),
        "-p: at most 10 ports can be given on the command line"
    );
    assert_eq!(run(&refs[..20]).listeners.len(), 10);
}

#[test]
fn dash_p_bad_values() {
    for bad in ["0", "65536", "http", "-1"] {
        assert_eq!(
            cli_error(&["-p", bad]),
            format!("-p: invalid port '{bad}': expected an integer from 1 to 65535")
        );
    }
    assert!(cli_error(&["-p"]).contains("Argument to option 'p' missing"));
}

#[test]
fn dash_c_with_listeners_ignores_dash_p() {
    let dir = TempDir::new("cli-c");
    let file = dir.write("m.conf", "listener 1883\n");
    let path = file.to_str().expect("utf-8 path");
    let c = run(&["-c", path, "-p", "1999"]);
    assert!(!c.local_only);
    assert_eq!(c.listeners, vec![Listener::new(1883, None)]);
    assert_eq!(c.config_file.as_deref(), Some(file.as_path()));
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0].contains("-p is ignored"));
    let c = run(&["--config-file", path]);
    assert_eq!(c.listeners, vec![Listener::new(1883, None)]);
}

#[test]
fn dash_c_without_listeners_uses_dash_p_on_loopback() {
    let dir = TempDir::new("cli-c-local");
    let file = dir.write("m.conf", "max_keepalive 30\n");
    let c = run(&["-p", "1999", "-c", file.to_str().expect("utf-8 path")]);
    assert!(c.local_only);
    assert_eq!(c.listeners, vec![Listener::new(1999, LOOPBACK)]);
    assert_eq!(c.max_keepalive, 30);
}

#[test]
fn dash_c_file_errors_propagate() {
    let dir = TempDir::new("cli-c-bad");
    let file = dir.write("m.conf", "listener 1883\nauth_plugin /etc/p\n");
    let e = cli(&["-c", file.to_str().expect("utf-8 path")]).unwrap_err();
    assert_eq!(e.line, Some(2));
    assert_eq!(e.directive.as_deref(), Some("auth_plugin"));
    assert!(cli_error(&["-c"]).contains("Argument to option 'c' missing"));
    assert!(cli_error(&["-c", "a.conf", "-c", "b.conf"]).contains("given more than once"));
}

#[test]
fn help_version_and_unknown_flags() {
    match cli(&["-h"]) {
        Ok(Command::Help(text)) => {
            assert!(text.contains("--config-file"), "{text}");
            assert!(text.contains("--port"), "{text}");
            assert!(text.contains("--verbose"), "{text}");
        }
        other => panic!("expected Help, got {other:?}"),
    }
    assert!(matches!(cli(&["--help"]), Ok(Command::Help(_))));
    assert!(matches!(cli(&["--version"]), Ok(Command::Version)));
    assert!(cli_error(&["-x"]).contains("Unrecognized option: 'x'"));
    assert!(cli_error(&["--bogus"]).contains("Unrecognized option: 'bogus'"));
    assert_eq!(
        cli_error(&["midge.conf"]),
        "unexpected argument 'midge.conf' (try -h)"
    );
    assert!(cli_error(&["-d"]).starts_with("-d/--daemon is not supported by midge"));
}

#[test]
fn verbose_may_be_repeated() {
    let c = run(&["-v", "--verbose"]);
    assert!(c.verbose);
    assert_eq!(c.log_filter(), log::LevelFilter::Debug);
}

#[test]
fn cli_error_display_is_just_the_message() {
    let e = cli(&["-p", "x"]).unwrap_err();
    assert_eq!(e.file, None);
    assert_eq!(e.line, None);
    assert_eq!(e.to_string(), e.message);
}

#[test]
fn subscription_lines_follow_their_log_types() {
    let default = parse("");
    assert!(
        !default.logs(LogType::Subscribe),
        "not in Mosquitto's default"
    );
    let c = parse("log_type subscribe\n");
    assert!(c.logs(LogType::Subscribe));
    assert!(!c.logs(LogType::Unsubscribe));
    let mut v = parse("");
    v.verbose = true;
    assert!(v.logs(LogType::Unsubscribe), "-v logs everything");
}

// ---- Persistence ----

#[test]
fn persistence_is_off_by_default_with_mosquitto_defaults_otherwise() {
    let p = parse("listener 1883\n").persistence;
    assert_eq!(p, Persistence::default());
    assert!(!p.enabled);
    assert_eq!(p.file, "midge.db");
    assert_eq!(p.autosave, Autosave::Seconds(Duration::from_secs(1800)));
    assert_eq!(p.sync, PersistenceSync::Turn);
}

#[test]
fn persistence_directives_are_read() {
    let p = parse(
        "listener 1883\npersistence true\npersistence_location /var/lib/midge/\n\
         persistence_file broker.db\npersistence_sync never\nautosave_interval 60\n",
    )
    .persistence;
    assert!(p.enabled);
    assert_eq!(p.location, std::path::PathBuf::from("/var/lib/midge/"));
    assert_eq!(p.file, "broker.db");
    assert_eq!(p.sync, PersistenceSync::Never);
    assert_eq!(p.autosave, Autosave::Seconds(Duration::from_secs(60)));
}

#[test]
fn autosave_on_changes_turns_the_interval_into_a_count_in_either_order() {
    for text in [
        "autosave_on_changes true\nautosave_interval 500\n",
        "autosave_interval 500\nautosave_on_changes true\n",
    ] {
        let p = parse(&format!("listener 1883\n{text}")).persistence;
        assert_eq!(p.autosave, Autosave::Changes(500), "{text}");
    }
}

#[test]
fn bad_persistence_values_name_file_line_and_directive() {
    assert_eq!(
        error("listener 1883\npersistence maybe\n"),
        "midge.conf:2: persistence: invalid value 'maybe': expected true or false"
    );
    assert_eq!(
        error("listener 1883\npersistence_sync always\n"),
        "midge.conf:2: persistence_sync: invalid value 'always': expected turn or never"
    );
    assert_eq!(
        error("listener 1883\npersistence_file db/x.db\n"),
        "midge.conf:2: persistence_file: invalid value 'db/x.db': expected a file name \
         (the directory is persistence_location)"
    );
    assert_eq!(
        error("listener 1883\nautosave_interval -1\n"),
        "midge.conf:2: autosave_interval: invalid value '-1': expected an integer from 0 to 4294967295"
    );
    assert!(error("listener 1883\npersistence_location\n").contains("missing value"));
}

#[test]
fn password_and_acl_files_for_the_broker_or_per_listener() {
    let c = parse(
        "listener 1883\npassword_file /etc/midge/passwd\nacl_file /etc/midge/acl\nlistener 1884\n",
    );
    for i in 0..2 {
        assert_eq!(c.password_file(i), Some(Path::new("/etc/midge/passwd")));
        assert_eq!(c.acl_file(i), Some(Path::new("/etc/midge/acl")));
    }
    // A path may contain spaces, as in Mosquitto (the rest of the line).
    let c = parse("listener 1883\npassword_file /etc/my files/pw\n");
    assert_eq!(c.password_file(0), Some(Path::new("/etc/my files/pw")));
    let c = parse(
        "per_listener_settings true\nlistener 1883\npassword_file /a\n\
         listener 1884\nacl_file /b\nlistener 1885\n",
    );
    assert_eq!(c.password_file(0), Some(Path::new("/a")));
    assert_eq!(c.acl_file(0), None);
    assert_eq!(c.password_file(1), None);
    assert_eq!(c.acl_file(1), Some(Path::new("/b")));
    assert_eq!((c.password_file(2), c.acl_file(2)), (None, None));
    assert_eq!(
        error("listener 1883\npassword_file\n"),
        "midge.conf:2: password_file: missing value"
    );
    assert!(
        error("acl_file /x\nper_listener_settings true\nlistener 1883\n").starts_with(
            "midge.conf:2: per_listener_settings: must come before any security setting"
        )
    );
}
