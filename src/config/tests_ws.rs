//! The WebSocket directives: `protocol` per listener, the header limit,
//! and the Mosquitto directives midge takes differently (`http_dir`,
//! `websockets_log_level`).

use super::{parse_str, Config, ListenerProtocol, DEFAULT_WEBSOCKETS_HEADERS_SIZE};

fn ok(text: &str) -> Config {
    parse_str("t.conf", text).unwrap_or_else(|e| panic!("unexpected error: {e}"))
}

fn err(text: &str) -> String {
    parse_str("t.conf", text)
        .expect_err("must be refused")
        .to_string()
}

#[test]
fn protocol_websockets_applies_to_the_listener_it_follows() {
    let c = ok("listener 1883\nlistener 8080 127.0.0.1\nprotocol websockets\nlistener 1884\nprotocol mqtt\n");
    let protocols: Vec<ListenerProtocol> = c.listeners.iter().map(|l| l.protocol).collect();
    assert_eq!(
        protocols,
        [
            ListenerProtocol::Mqtt,
            ListenerProtocol::Websockets,
            ListenerProtocol::Mqtt
        ]
    );
}

#[test]
fn protocol_before_any_listener_configures_the_default_one() {
    let c = ok("port 9001\nprotocol websockets\n");
    assert_eq!(c.listeners.len(), 1);
    assert_eq!(c.listeners[0].port, 9001);
    assert_eq!(c.listeners[0].protocol, ListenerProtocol::Websockets);
}

#[test]
fn an_unknown_protocol_is_refused() {
    assert_eq!(
        err("listener 1883\nprotocol mqttsn\n"),
        "t.conf:2: protocol: invalid value 'mqttsn': expected mqtt or websockets"
    );
}

#[test]
fn websockets_headers_size_sets_the_limit_and_zero_means_the_default() {
    assert_eq!(
        ok("").websockets_headers_size,
        DEFAULT_WEBSOCKETS_HEADERS_SIZE
    );
    assert_eq!(
        ok("websockets_headers_size 2048\n").websockets_headers_size,
        2048
    );
    assert_eq!(
        ok("websockets_headers_size 0\n").websockets_headers_size,
        DEFAULT_WEBSOCKETS_HEADERS_SIZE
    );
    assert_eq!(
        err("websockets_headers_size 70000\n"),
        "t.conf:1: websockets_headers_size: invalid value '70000': \
         expected an integer from 0 to 65535 (0: 8192)"
    );
}

#[test]
fn http_dir_is_an_error_saying_midge_serves_no_files() {
    assert_eq!(
        err("listener 8080\nprotocol websockets\nhttp_dir /var/www\n"),
        "t.conf:3: http_dir: midge serves no files: a websockets listener answers only \
         the MQTT upgrade"
    );
}

#[test]
fn websockets_log_level_is_accepted_with_a_warning() {
    let c = ok("websockets_log_level 255\n");
    assert_eq!(
        c.warnings,
        ["t.conf:1: websockets_log_level is ignored (midge has no libwebsockets)"]
    );
    assert!(err("websockets_log_level loud\n").contains("invalid value 'loud'"));
}
