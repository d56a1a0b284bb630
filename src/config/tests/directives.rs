//! The defaults, every directive of the config file, anonymous access and
//! `per_listener_settings`, and the limits.

use super::*;

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
