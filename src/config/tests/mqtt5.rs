//! The MQTT 5 directives: `max_topic_alias`, `max_qos`, `mount_point`,
//! `max_inflight_bytes`, `upgrade_outgoing_qos`.

use super::*;

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
