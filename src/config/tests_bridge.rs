//! The bridge directives: a whole section, Mosquitto's defaults, each
//! directive, the prefix table of mosquitto.conf(5), and every refusal
//! (with the line and directive it names).

#[cfg(feature = "tls")]
use std::path::PathBuf;
use std::time::Duration;

#[cfg(feature = "tls")]
use super::bridge::BridgeTls;
use super::bridge::{
    BridgeAddress, BridgeConfig, BridgeProtocol, BridgeTopic, Direction, Restart, StartType,
};
#[cfg(feature = "tls")]
use super::TlsVersion;
use super::{parse_str, Config, ConfigError};
use crate::codec::QoS;

/// A section's required lines: `connection b` (line 1), an address and a
/// topic (lines 2 and 3).
pub(super) const MIN: &str = "connection b\naddress 10.0.0.1\ntopic a\n";

pub(super) fn parse(text: &str) -> Config {
    match parse_str("b.conf", text) {
        Ok(config) => config,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

/// The one bridge of `MIN` followed by `extra`.
pub(super) fn bridge(extra: &str) -> BridgeConfig {
    let mut c = parse(&format!("{MIN}{extra}"));
    assert_eq!(c.bridges.len(), 1);
    c.bridges.remove(0)
}

pub(super) fn err(text: &str) -> ConfigError {
    match parse_str("b.conf", text) {
        Ok(config) => panic!("expected an error, got {:?}", config.bridges),
        Err(e) => e,
    }
}

/// Asserts that `text` is refused at `line`, directive `directive`, in
/// b.conf; returns the message.
pub(super) fn refused(text: &str, line: usize, directive: &str) -> String {
    let e = err(text);
    assert_eq!(
        (e.file.as_deref(), e.line, e.directive.as_deref()),
        (Some("b.conf"), Some(line), Some(directive)),
        "{e}"
    );
    e.message
}

/// Asserts that `extra` after `MIN` is refused at its first line (4).
pub(super) fn refused_extra(extra: &str, directive: &str) -> String {
    refused(&format!("{MIN}{extra}"), 4, directive)
}

fn topic(pattern: &str, direction: Direction, qos: QoS, local: &str, remote: &str) -> BridgeTopic {
    BridgeTopic {
        pattern: pattern.to_string(),
        direction,
        qos,
        local_prefix: local.to_string(),
        remote_prefix: remote.to_string(),
    }
}

fn addr(host: &str, port: u16) -> BridgeAddress {
    BridgeAddress {
        host: host.to_string(),
        port,
    }
}

// ---- a whole section and the defaults ----

/// The bridge of the Mosquitto guide (mosquitto.conf(5) and the example
/// mosquitto.conf), with every directive midge takes.
#[cfg(feature = "tls")]
const GUIDE: &str = "\
# Bridges
listener 1883
connection cloud-bridge
addresses broker.example.com:8883 [2001:db8::1]:8884 10.0.0.2
round_robin true
topic sensors/# out 1 local/ remote/
topic cmd/+ in 2 # commands from the cloud
topic clients/total in 0 test/mosquitto/org/ $SYS/broker/
topic \"\" both 1 local/state remote/state
bridge_protocol_version mqttv50
cleansession true
local_cleansession false
remote_clientid edge-1
local_clientid local-edge-1
remote_username bridge user
remote_password s3cret pass
local_username bridge-local
local_password local-pass
keepalive_interval 30
restart_timeout 10 60
start_type lazy
idle_timeout 120
threshold 5
try_private false
notifications true
notifications_local_only true
notification_topic bridges/cloud/state
bridge_attempt_unsubscribe false
bridge_outgoing_retain false
bridge_max_packet_size 65536
bridge_bind_address 192.168.1.10
bridge_cafile /etc/midge/ca certs/ca.pem
bridge_capath /etc/ssl/certs
bridge_certfile /etc/midge/bridge.crt
bridge_keyfile /etc/midge/bridge.key
bridge_insecure false
bridge_tls_version tlsv1.3
bridge_alpn mqtt
listener 8883
";

#[test]
#[cfg(feature = "tls")]
fn the_guide_section_parses_to_exactly_the_expected_bridge() {
    let c = parse(GUIDE);
    let expected = BridgeConfig {
        name: "cloud-bridge".into(),
        addresses: vec![
            addr("broker.example.com", 8883),
            addr("2001:db8::1", 8884),
            addr("10.0.0.2", 1883),
        ],
        round_robin: true,
        topics: vec![
            topic(
                "sensors/#",
                Direction::Out,
                QoS::AtLeastOnce,
                "local/",
                "remote/",
            ),
            topic("cmd/+", Direction::In, QoS::ExactlyOnce, "", ""),
            topic(
                "clients/total",
                Direction::In,
                QoS::AtMostOnce,
                "test/mosquitto/org/",
                "$SYS/broker/",
            ),
            topic(
                "",
                Direction::Both,
                QoS::AtLeastOnce,
                "local/state",
                "remote/state",
            ),
        ],
        protocol: BridgeProtocol::V5,
        clean_session: true,
        local_clean_session: Some(false),
        remote_clientid: Some("edge-1".into()),
        local_clientid: Some("local-edge-1".into()),
        remote_username: Some("bridge user".into()),
        remote_password: Some("s3cret pass".into()),
        local_username: Some("bridge-local".into()),
        local_password: Some("local-pass".into()),
        keepalive: 30,
        restart: Restart::Backoff {
            base: Duration::from_secs(10),
            cap: Duration::from_secs(60),
        },
        start_type: StartType::Lazy,
        idle_timeout: Duration::from_secs(120),
        threshold: 5,
        try_private: false,
        notifications: true,
        notifications_local_only: true,
        notification_topic: Some("bridges/cloud/state".into()),
        attempt_unsubscribe: false,
        outgoing_retain: false,
        max_packet_size: 65536,
        bind_address: Some("192.168.1.10".parse().unwrap()),
        tls: BridgeTls {
            cafile: Some(PathBuf::from("/etc/midge/ca certs/ca.pem")),
            capath: Some(PathBuf::from("/etc/ssl/certs")),
            certfile: Some(PathBuf::from("/etc/midge/bridge.crt")),
            keyfile: Some(PathBuf::from("/etc/midge/bridge.key")),
            insecure: false,
            version: Some(TlsVersion::V1_3),
            alpn: Some("mqtt".into()),
        },
        origin: "b.conf:3".into(),
    };
    assert_eq!(c.bridges, vec![expected]);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    // The listeners around the section are untouched by it.
    let ports: Vec<u16> = c.listeners.iter().map(|l| l.port).collect();
    assert_eq!(ports, [1883, 8883]);
}

#[test]
fn a_section_has_mosquittos_defaults() {
    let b = bridge("");
    let expected = BridgeConfig {
        name: "b".into(),
        addresses: vec![addr("10.0.0.1", 1883)],
        round_robin: false,
        topics: vec![topic("a", Direction::Out, QoS::AtMostOnce, "", "")],
        protocol: BridgeProtocol::V311,
        clean_session: false,
        local_clean_session: None,
        remote_clientid: None,
        local_clientid: None,
        remote_username: None,
        remote_password: None,
        local_username: None,
        local_password: None,
        keepalive: 60,
        restart: Restart::Backoff {
            base: Duration::from_secs(5),
            cap: Duration::from_secs(30),
        },
        start_type: StartType::Automatic,
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
        tls: Default::default(),
        origin: "b.conf:1".into(),
    };
    assert_eq!(b, expected);
    assert!(!b.tls.enabled());
    assert_eq!(b.remote_id("pi"), "pi.b");
    assert_eq!(b.local_id("pi"), "local.pi.b");
    assert_eq!(b.state_topic("pi.b"), "$SYS/broker/connection/pi.b/state");
    assert!(b.local_persistent());
}

#[test]
fn sections_are_kept_in_order_and_other_directives_still_work_between_them() {
    let c = parse(&format!(
        "{MIN}listener 1884\nmax_qos 1\nconnection second\naddress h2\n\
         max_queued_messages 50\ntopic b in\nlistener 1885 127.0.0.1\n"
    ));
    let names: Vec<&str> = c.bridges.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["b", "second"]);
    assert_eq!(c.bridges[1].origin, "b.conf:6");
    assert_eq!(c.bridges[1].addresses, [addr("h2", 1883)]);
    assert_eq!(c.bridges[1].topics[0].direction, Direction::In);
    assert_eq!(c.listeners.len(), 2);
    assert_eq!(c.listeners[0].max_qos, QoS::AtLeastOnce);
    assert_eq!(c.max_queued_messages, 50);
}

// ---- each directive ----

#[test]
fn address_forms_and_the_addresses_alias() {
    let b = bridge_with_address("address host.example:1884 10.1.2.3 [::1]:1885 [2001:db8::2]:1");
    assert_eq!(
        b.addresses,
        [
            addr("host.example", 1884),
            addr("10.1.2.3", 1883),
            addr("::1", 1885),
            addr("2001:db8::2", 1),
        ]
    );
    let b = bridge_with_address("addresses a b:2 # backup second");
    assert_eq!(b.addresses, [addr("a", 1883), addr("b", 2)]);
}

/// The bridge of a section whose address line is `line` (line 2).
fn bridge_with_address(line: &str) -> BridgeConfig {
    let mut c = parse(&format!("connection b\n{line}\ntopic a\n"));
    c.bridges.remove(0)
}

#[test]
fn address_errors_name_the_line() {
    for (value, why) in [
        ("::1:1884", "ambiguous"),
        ("::1", "ambiguous"),
        ("[::1]", "a port after an IPv6 address"),
        ("[::1]1884", "a port after an IPv6 address"),
        ("[::1", "HOST, HOST:PORT or [IPV6]:PORT"),
        ("[host]:1", "an IPv6 address in brackets"),
        ("host:0", "a port from 1 to 65535"),
        ("host:65536", "a port from 1 to 65535"),
        ("host:", "a port from 1 to 65535"),
        ("host:x1", "a port from 1 to 65535"),
        (":1883", "HOST, HOST:PORT or [IPV6]:PORT"),
        ("ho]st", "HOST, HOST:PORT or [IPV6]:PORT"),
    ] {
        let message = refused(
            &format!("connection b\naddress ok {value}\ntopic a\n"),
            2,
            "address",
        );
        assert!(message.contains(why), "{value}: {message}");
        assert!(message.contains(value), "{value}: {message}");
    }
    assert_eq!(
        refused("connection b\naddress\n", 2, "address"),
        "missing value"
    );
    let message = refused_extra("addresses 10.0.0.2\n", "addresses");
    assert!(message.contains("more than once"), "{message}");
}

#[test]
fn topic_defaults_to_out_at_qos_0_and_takes_direction_and_qos() {
    let b = bridge(
        "topic b/# in\ntopic c BOTH 2\ntopic d out 1 # comment\ntopic # both 1 l/ r/\ntopic #\n",
    );
    assert_eq!(
        b.topics,
        [
            topic("a", Direction::Out, QoS::AtMostOnce, "", ""),
            topic("b/#", Direction::In, QoS::AtMostOnce, "", ""),
            topic("c", Direction::Both, QoS::ExactlyOnce, "", ""),
            topic("d", Direction::Out, QoS::AtLeastOnce, "", ""),
            topic("#", Direction::Both, QoS::AtLeastOnce, "l/", "r/"),
            topic("#", Direction::Out, QoS::AtMostOnce, "", ""),
        ]
    );
    assert!(b.topics[2].direction.carries_in() && b.topics[2].direction.carries_out());
    assert_eq!(b.topics[4].local_filter(), "l/#");
    assert_eq!(b.topics[4].remote_filter(), "r/#");
}

#[test]
fn topic_prefix_table_of_the_man_page_row_by_row() {
    // (pattern, local prefix, remote prefix, full local, full remote).
    let valid = [
        ("pattern", "L/", "R/", "L/pattern", "R/pattern"),
        ("pattern", "L/", "\"\"", "L/pattern", "pattern"),
        ("pattern", "\"\"", "R/", "pattern", "R/pattern"),
        ("pattern", "\"\"", "\"\"", "pattern", "pattern"),
        ("\"\"", "local", "remote", "local", "remote"),
    ];
    for (pattern, local, remote, full_local, full_remote) in valid {
        let b = bridge(&format!("topic {pattern} both 0 {local} {remote}\n"));
        let t = &b.topics[1];
        assert_eq!(
            (t.local_filter().as_str(), t.remote_filter().as_str()),
            (full_local, full_remote),
            "{pattern} {local} {remote}"
        );
    }
    let invalid = [
        ("\"\"", "local", "\"\""),
        ("\"\"", "\"\"", "remote"),
        ("\"\"", "\"\"", "\"\""),
    ];
    for (pattern, local, remote) in invalid {
        let message = refused_extra(
            &format!("topic {pattern} both 0 {local} {remote}\n"),
            "topic",
        );
        assert!(message.contains("empty pattern"), "{message}");
    }
    // An empty pattern without prefixes is the last row too.
    let message = refused_extra("topic \"\"\n", "topic");
    assert!(message.contains("empty pattern"), "{message}");
    let message = refused_extra("topic \"\" in 1\n", "topic");
    assert!(message.contains("empty pattern"), "{message}");
}

#[test]
fn topic_filters_and_prefixes_must_be_valid() {
    for (extra, why) in [
        (
            "topic a out 0 l/+/ r/",
            "a local prefix without the wildcards",
        ),
        (
            "topic a out 0 l/ r/#",
            "a remote prefix without the wildcards",
        ),
        ("topic # out 0 l r/", "the local filter 'l#'"),
        ("topic + out 0 l/ r", "the remote filter 'r+'"),
        ("topic a/#/b", "the local filter 'a/#/b'"),
        ("topic a+ in 1", "the local filter 'a+'"),
    ] {
        let message = refused_extra(&format!("{extra}\n"), "topic");
        assert!(message.contains(why), "{extra}: {message}");
    }
    let long = "x".repeat(65_535);
    let message = refused_extra(&format!("topic {long} out 0 l/ \"\"\n"), "topic");
    assert!(message.contains("longer than 65535"), "{message}");
}

#[test]
fn topic_argument_counts_and_values() {
    assert_eq!(refused_extra("topic\n", "topic"), "missing value");
    let message = refused_extra("topic a out 0 l/\n", "topic");
    assert!(message.contains("needs a remote prefix"), "{message}");
    let message = refused_extra("topic a out 0 l/ r/ extra\n", "topic");
    assert!(
        message.contains("unexpected extra value 'extra'"),
        "{message}"
    );
    let message = refused_extra("topic a sideways\n", "topic");
    assert!(message.contains("out, in or both"), "{message}");
    for qos in ["3", "-1", "x", "1.0"] {
        let message = refused_extra(&format!("topic a in {qos}\n"), "topic");
        assert!(message.contains("0, 1 or 2"), "{qos}: {message}");
    }
}

#[test]
fn protocol_versions() {
    for (text, protocol) in [
        ("mqttv31", BridgeProtocol::V31),
        ("mqttv311", BridgeProtocol::V311),
        ("mqttv50", BridgeProtocol::V5),
    ] {
        let b = bridge(&format!("bridge_protocol_version {text}\n"));
        assert_eq!(b.protocol, protocol);
    }
    let message = refused_extra(
        "bridge_protocol_version mqttv5\n",
        "bridge_protocol_version",
    );
    assert!(
        message.contains("mqttv31, mqttv311 or mqttv50"),
        "{message}"
    );
}

#[test]
fn boolean_directives_set_their_fields_and_the_last_one_wins() {
    let b = bridge(
        "cleansession true\nlocal_cleansession true\ntry_private 0\nnotifications false\n\
         notifications_local_only 1\nbridge_attempt_unsubscribe false\n\
         bridge_outgoing_retain false\nround_robin true\nround_robin false\nround_robin 1\n",
    );
    assert!(b.clean_session);
    assert_eq!(b.local_clean_session, Some(true));
    assert!(!b.local_persistent());
    assert!(!b.try_private);
    assert!(!b.notifications);
    assert!(b.notifications_local_only);
    assert!(!b.attempt_unsubscribe);
    assert!(!b.outgoing_retain);
    assert!(b.round_robin);
    // local_cleansession false keeps the local session of a clean bridge.
    let b = bridge("cleansession true\nlocal_cleansession false\n");
    assert!(b.local_persistent());
    let message = refused_extra("cleansession yes\n", "cleansession");
    assert!(message.contains("true or false"), "{message}");
}

#[test]
fn client_ids_user_names_and_passwords_run_to_the_end_of_the_line() {
    let b = bridge(
        "clientid remote id\nlocal_clientid local id\nusername u one\npassword p # not a comment\n\
         local_username lu\nlocal_password lp\n",
    );
    assert_eq!(b.remote_clientid.as_deref(), Some("remote id"));
    assert_eq!(b.local_clientid.as_deref(), Some("local id"));
    assert_eq!(b.remote_username.as_deref(), Some("u one"));
    assert_eq!(b.remote_password.as_deref(), Some("p # not a comment"));
    assert_eq!(b.local_username.as_deref(), Some("lu"));
    assert_eq!(b.local_password.as_deref(), Some("lp"));
    assert_eq!(b.remote_id("pi"), "remote id");
    assert_eq!(b.local_id("pi"), "local id");
    let b = bridge("remote_clientid r\nremote_username u\nremote_password p\n");
    assert_eq!(b.remote_clientid.as_deref(), Some("r"));
    assert_eq!(b.local_id("pi"), "local.r");
    assert_eq!(b.remote_password.as_deref(), Some("p"));
}

#[test]
fn client_ids_are_1_to_65535_bytes() {
    for d in ["remote_clientid", "clientid", "local_clientid"] {
        assert_eq!(refused_extra(&format!("{d}\n"), d), "missing value");
        let long = "i".repeat(65_536);
        let message = refused_extra(&format!("{d} {long}\n"), d);
        assert!(message.contains("65536 bytes long"), "{d}: {message}");
        let max = "i".repeat(65_535);
        let b = bridge(&format!("{d} {max}\n"));
        let id = if d == "local_clientid" {
            b.local_clientid
        } else {
            b.remote_clientid
        };
        assert_eq!(id.map(|id| id.len()), Some(65_535));
    }
    let message = refused_extra("remote_username a\0b\n", "remote_username");
    assert!(message.contains("U+0000"), "{message}");
}

#[test]
fn string_values_given_twice_in_a_section_are_refused() {
    for (first, second) in [
        ("remote_clientid a", "clientid b"),
        ("local_clientid a", "local_clientid b"),
        ("username a", "remote_username b"),
        ("remote_password a", "password b"),
        ("local_username a", "local_username b"),
        ("local_password a", "local_password b"),
        ("notification_topic a", "notification_topic b"),
        (
            "bridge_bind_address 10.0.0.1",
            "bridge_bind_address 10.0.0.2",
        ),
    ] {
        let directive = second.split(' ').next().unwrap();
        let message = refused(&format!("{MIN}{first}\n{second}\n"), 5, directive);
        assert!(message.contains("more than once"), "{second}: {message}");
    }
    // Each section has its own.
    let c = parse(&format!(
        "{MIN}remote_clientid a\nconnection c\naddress h\ntopic t\nremote_clientid c\n"
    ));
    assert_eq!(c.bridges[1].remote_clientid.as_deref(), Some("c"));
}

#[test]
fn keepalive_interval_is_5_to_65535_seconds() {
    assert_eq!(bridge("keepalive_interval 5\n").keepalive, 5);
    assert_eq!(bridge("keepalive_interval 65535\n").keepalive, 65535);
    for bad in ["4", "0", "-1", "65536", "1m"] {
        let message = refused_extra(&format!("keepalive_interval {bad}\n"), "keepalive_interval");
        assert!(message.contains("from 5 to 65535"), "{bad}: {message}");
    }
}

#[test]
fn restart_timeout_is_a_constant_or_a_backoff() {
    assert_eq!(
        bridge("restart_timeout 20\n").restart,
        Restart::Constant(Duration::from_secs(20))
    );
    assert_eq!(
        bridge("restart_timeout 10 30\n").restart,
        Restart::Backoff {
            base: Duration::from_secs(10),
            cap: Duration::from_secs(30),
        }
    );
    assert_eq!(
        bridge("restart_timeout 7 7\n").restart,
        Restart::Backoff {
            base: Duration::from_secs(7),
            cap: Duration::from_secs(7),
        }
    );
    let message = refused_extra("restart_timeout 30 10\n", "restart_timeout");
    assert!(
        message.contains("cap 10 is lower than its base 30"),
        "{message}"
    );
    for bad in ["0", "-5", "x", "1 0", "0 5"] {
        let message = refused_extra(&format!("restart_timeout {bad}\n"), "restart_timeout");
        assert!(message.contains("at least 1"), "{bad}: {message}");
    }
    assert_eq!(
        refused_extra("restart_timeout\n", "restart_timeout"),
        "missing value"
    );
    let message = refused_extra("restart_timeout 1 2 3\n", "restart_timeout");
    assert!(message.contains("unexpected extra value '3'"), "{message}");
}

#[test]
fn start_types_idle_timeout_and_threshold() {
    for (text, start) in [
        ("automatic", StartType::Automatic),
        ("lazy", StartType::Lazy),
        ("once", StartType::Once),
    ] {
        assert_eq!(bridge(&format!("start_type {text}\n")).start_type, start);
    }
    let message = refused_extra("start_type manual\n", "start_type");
    assert!(message.contains("manual is not supported"), "{message}");
    let message = refused_extra("start_type eager\n", "start_type");
    assert!(message.contains("automatic, lazy or once"), "{message}");

    let b = bridge("idle_timeout 1\nthreshold 1\n");
    assert_eq!((b.idle_timeout, b.threshold), (Duration::from_secs(1), 1));
    let b = bridge("idle_timeout 3600\nthreshold 999\n");
    assert_eq!(
        (b.idle_timeout, b.threshold),
        (Duration::from_secs(3600), 999)
    );
    for d in ["idle_timeout", "threshold"] {
        for bad in ["0", "-1", "ten"] {
            let message = refused_extra(&format!("{d} {bad}\n"), d);
            assert!(message.contains("at least 1"), "{d} {bad}: {message}");
        }
    }
}

#[test]
fn notification_topic_is_a_topic_name_to_the_end_of_the_line() {
    let b = bridge("notification_topic bridges/my bridge/state\n");
    assert_eq!(
        b.notification_topic.as_deref(),
        Some("bridges/my bridge/state")
    );
    assert_eq!(b.state_topic("x"), "bridges/my bridge/state");
    let message = refused_extra("notification_topic a/+/state\n", "notification_topic");
    assert!(message.contains("without the wildcards"), "{message}");
    let message = refused_extra("notification_topic a/state # mine\n", "notification_topic");
    assert!(message.contains("no # comment may follow it"), "{message}");
    assert_eq!(
        refused_extra("notification_topic\n", "notification_topic"),
        "missing value"
    );
}

#[test]
fn bridge_max_packet_size_is_0_to_268435460() {
    assert_eq!(bridge("bridge_max_packet_size 0\n").max_packet_size, 0);
    assert_eq!(
        bridge("bridge_max_packet_size 268435460\n").max_packet_size,
        268_435_460
    );
    for bad in ["268435461", "-1", "1k"] {
        let message = refused_extra(
            &format!("bridge_max_packet_size {bad}\n"),
            "bridge_max_packet_size",
        );
        assert!(message.contains("at most 268435460"), "{bad}: {message}");
    }
}

#[test]
fn bridge_bind_address_is_an_ip_literal() {
    let b = bridge("bridge_bind_address ::1\n");
    assert_eq!(b.bind_address, Some("::1".parse().unwrap()));
    let message = refused_extra("bridge_bind_address eth0.local\n", "bridge_bind_address");
    assert!(message.contains("does not resolve host names"), "{message}");
}
