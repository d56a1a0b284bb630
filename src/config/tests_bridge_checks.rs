//! The bridge directives, continued: the TLS directives, the ones refused
//! as OpenSSL-only, and the checks across a section and a file (where
//! bridge directives may stand, names, required lines, pairs of
//! directives that go together).

use std::path::Path;
#[cfg(feature = "tls")]
use std::path::PathBuf;

#[cfg(feature = "tls")]
use super::bridge::BridgeTls;
use super::parse_str_with;
#[cfg(feature = "tls")]
use super::tests_bridge::err;
use super::tests_bridge::{bridge, parse, refused, refused_extra, MIN};
#[cfg(feature = "tls")]
use super::TlsVersion;

#[test]
#[cfg(feature = "tls")]
fn tls_directives_fill_bridge_tls() {
    let c = parse(&format!(
        "{MIN}bridge_capath /etc/ssl/certs\nbridge_certfile /c.pem\nbridge_keyfile /k.pem\n\
         bridge_insecure true\nbridge_tls_version tlsv1.2\nbridge_alpn x-amzn-mqtt-ca\n"
    ));
    // Mosquitto warns of insecure mode too.
    assert_eq!(
        c.warnings,
        ["b.conf:7: bridge b does not check the remote broker's host name (bridge_insecure)"]
    );
    let b = &c.bridges[0];
    assert!(b.tls.enabled());
    assert_eq!(
        b.tls,
        BridgeTls {
            cafile: None,
            capath: Some(PathBuf::from("/etc/ssl/certs")),
            certfile: Some(PathBuf::from("/c.pem")),
            keyfile: Some(PathBuf::from("/k.pem")),
            insecure: true,
            version: Some(TlsVersion::V1_2),
            alpn: Some("x-amzn-mqtt-ca".into()),
        }
    );
    assert!(bridge("bridge_cafile /ca.pem\n").tls.enabled());
}

#[test]
#[cfg(feature = "tls")]
fn tls_values_are_checked_and_given_once() {
    for old in ["tlsv1", "tlsv1.1"] {
        let message = refused(
            &format!("{MIN}bridge_cafile /ca\nbridge_tls_version {old}\n"),
            5,
            "bridge_tls_version",
        );
        assert!(message.contains("not offered by rustls"), "{message}");
        assert!(
            message.contains("leave bridge_tls_version out"),
            "{message}"
        );
    }
    let message = refused_extra("bridge_tls_version sslv3\n", "bridge_tls_version");
    assert!(message.contains("tlsv1.2 or tlsv1.3"), "{message}");
    let message = refused_extra(&format!("bridge_alpn {}\n", "p".repeat(256)), "bridge_alpn");
    assert!(message.contains("1 to 255 bytes"), "{message}");
    for d in [
        "bridge_cafile",
        "bridge_capath",
        "bridge_certfile",
        "bridge_keyfile",
    ] {
        let message = refused(&format!("{MIN}{d} /a\n{d} /b\n"), 5, d);
        assert!(message.contains("more than once"), "{d}: {message}");
        assert_eq!(refused_extra(&format!("{d}\n"), d), "missing value");
    }
}

#[test]
fn psk_and_ocsp_are_refused_as_openssl_only() {
    for d in ["bridge_identity", "bridge_psk", "bridge_require_ocsp"] {
        let message = refused_extra(&format!("{d} x\n"), d);
        assert!(message.contains("OpenSSL-only"), "{d}: {message}");
        assert!(message.contains("rustls"), "{d}: {message}");
        // Before any connection too.
        let message = refused(&format!("{d} true\n"), 1, d);
        assert!(message.contains("not supported"), "{d}: {message}");
    }
}

#[test]
#[cfg(not(feature = "tls"))]
fn without_the_tls_feature_bridge_tls_is_refused() {
    for d in [
        "bridge_cafile /ca",
        "bridge_capath /cas",
        "bridge_certfile /c",
        "bridge_keyfile /k",
        "bridge_insecure true",
        "bridge_tls_version tlsv1.2",
        "bridge_alpn mqtt",
    ] {
        let directive = d.split(' ').next().unwrap();
        let message = refused_extra(&format!("{d}\n"), directive);
        assert!(message.contains("built without TLS"), "{d}: {message}");
    }
}

// ---- sections ----

/// Every bridge directive but `connection`, with a valid value.
const DIRECTIVES: &[&str] = &[
    "address h",
    "addresses h",
    "topic a",
    "bridge_protocol_version mqttv50",
    "cleansession true",
    "local_cleansession true",
    "remote_clientid r",
    "clientid r",
    "local_clientid l",
    "remote_username u",
    "username u",
    "remote_password p",
    "password p",
    "local_username u",
    "local_password p",
    "keepalive_interval 60",
    "restart_timeout 5",
    "start_type once",
    "idle_timeout 5",
    "threshold 5",
    "try_private true",
    "notifications true",
    "notifications_local_only true",
    "notification_topic t",
    "bridge_attempt_unsubscribe true",
    "bridge_outgoing_retain true",
    "bridge_max_packet_size 0",
    "round_robin true",
    "bridge_bind_address 10.0.0.1",
    "bridge_cafile /ca",
    "bridge_capath /cas",
    "bridge_certfile /c",
    "bridge_keyfile /k",
    "bridge_insecure true",
    "bridge_tls_version tlsv1.2",
    "bridge_alpn mqtt",
];

#[test]
fn bridge_directives_before_any_connection_are_refused() {
    for d in DIRECTIVES {
        let directive = d.split(' ').next().unwrap();
        let message = refused(&format!("listener 1883\n{d}\n"), 2, directive);
        // Without the tls feature, the TLS ones are refused for that first.
        let tls_refused = !cfg!(feature = "tls") && message.contains("built without TLS");
        assert!(
            tls_refused || message.contains("must follow a connection line"),
            "{d}: {message}"
        );
    }
}

#[test]
fn no_bridge_directive_is_refused_as_not_yet_supported() {
    for d in DIRECTIVES.iter().chain(&["connection x"]) {
        let directive = d.split(' ').next().unwrap();
        assert!(
            !super::not_yet::NOT_YET.contains(&directive),
            "{directive} is still in NOT_YET"
        );
    }
}

#[test]
fn connection_needs_one_unique_name() {
    let message = refused(&format!("{MIN}connection b\n"), 4, "connection");
    assert!(
        message.contains("a bridge named 'b' is already configured at b.conf:1"),
        "{message}"
    );
    assert_eq!(refused("connection\n", 1, "connection"), "missing value");
    let message = refused("connection a b\n", 1, "connection");
    assert!(message.contains("unexpected extra value 'b'"), "{message}");
    let c = parse(&format!(
        "{MIN}connection B # another one\naddress h\ntopic t\n"
    ));
    assert_eq!(c.bridges[1].name, "B");
}

#[test]
fn each_include_dir_file_starts_outside_any_bridge() {
    let files = vec![
        (
            "conf.d/a.conf".to_string(),
            "connection inc\naddress h\ntopic t\n".to_string(),
        ),
        (
            "conf.d/b.conf".to_string(),
            "try_private false\n".to_string(),
        ),
    ];
    let read = |_: &Path| Ok(files.clone());
    let e = parse_str_with("b.conf", &format!("{MIN}include_dir conf.d\n"), &read).unwrap_err();
    assert_eq!(
        (e.file.as_deref(), e.line, e.directive.as_deref()),
        (Some("conf.d/b.conf"), Some(1), Some("try_private"))
    );
    assert!(e.message.contains("must follow a connection line"), "{e}");

    // After include_dir, the main file's lines configure its own section.
    let files = vec![(
        "conf.d/a.conf".to_string(),
        "connection inc\naddress h\ntopic t\ntry_private false\n".to_string(),
    )];
    let read = |_: &Path| Ok(files.clone());
    let c = parse_str_with(
        "b.conf",
        &format!("{MIN}include_dir conf.d\nround_robin true\n"),
        &read,
    )
    .unwrap();
    assert_eq!(c.bridges.len(), 2);
    assert!(c.bridges[0].round_robin && c.bridges[0].try_private);
    assert!(!c.bridges[1].round_robin && !c.bridges[1].try_private);
    assert_eq!(c.bridges[1].origin, "conf.d/a.conf:1");
}

// ---- the checks at the end ----

#[test]
fn a_section_needs_an_address_and_a_topic() {
    let message = refused("listener 1883\nconnection b\ntopic a\n", 2, "connection");
    assert!(message.contains("connection b has no address"), "{message}");
    let message = refused("connection b\naddress h\nlistener 1883\n", 1, "connection");
    assert!(message.contains("connection b has no topic"), "{message}");
    // The second section is checked too, at its own line.
    let message = refused(&format!("{MIN}connection c\naddress h\n"), 4, "connection");
    assert!(message.contains("connection c has no topic"), "{message}");
}

#[test]
fn passwords_need_user_names() {
    for (line, directive) in [
        ("remote_password p", "remote_password"),
        ("password p", "password"),
        ("local_password p", "local_password"),
    ] {
        let message = refused_extra(&format!("{line}\n"), directive);
        assert!(
            message.contains("a password is only sent with"),
            "{message}"
        );
    }
    let message = refused_extra("local_password p\nremote_username u\n", "local_password");
    assert!(message.contains("local_username"), "{message}");
    let b = bridge("remote_password p\nremote_username u\nlocal_username l\nlocal_password q\n");
    assert_eq!(b.remote_password.as_deref(), Some("p"));
}

#[test]
#[cfg(feature = "tls")]
fn tls_directives_need_a_ca_and_certfile_goes_with_keyfile() {
    for (line, directive) in [
        ("bridge_certfile /c\nbridge_keyfile /k", "bridge_certfile"),
        ("bridge_keyfile /k\nbridge_certfile /c", "bridge_certfile"),
        ("bridge_insecure true", "bridge_insecure"),
        ("bridge_tls_version tlsv1.3", "bridge_tls_version"),
        ("bridge_alpn mqtt", "bridge_alpn"),
    ] {
        let text = format!("{MIN}{line}\n");
        let e = err(&text);
        assert_eq!(e.directive.as_deref(), Some(directive), "{e}");
        let at = text.lines().position(|l| l.starts_with(directive)).unwrap() + 1;
        assert_eq!(e.line, Some(at), "{e}");
        assert!(
            e.message.contains("needs bridge_cafile or bridge_capath"),
            "{e}"
        );
    }
    // bridge_insecure false asks for nothing.
    assert!(!bridge("bridge_insecure false\n").tls.enabled());
    let message = refused_extra("bridge_certfile /c\nbridge_cafile /ca\n", "bridge_certfile");
    assert!(message.contains("without bridge_keyfile"), "{message}");
    let message = refused_extra("bridge_keyfile /k\nbridge_capath /ca\n", "bridge_keyfile");
    assert!(message.contains("without bridge_certfile"), "{message}");
}

#[test]
fn client_ids_must_differ() {
    let message = refused(
        &format!("{MIN}remote_clientid same\nlocal_clientid same\n"),
        5,
        "local_clientid",
    );
    assert!(
        message.contains("must differ from remote_clientid"),
        "{message}"
    );
    // Between sections, the local ids must differ too (Mosquitto's check).
    let message = refused(
        &format!("{MIN}local_clientid l\nconnection c\naddress h\ntopic t\nlocal_clientid l\n"),
        8,
        "local_clientid",
    );
    assert!(
        message.contains("'l' is also the one of connection b (at b.conf:1)"),
        "{message}"
    );
    let message = refused(
        &format!("{MIN}clientid r\nconnection c\naddress h\ntopic t\nlocal_clientid local.r\n"),
        8,
        "local_clientid",
    );
    assert!(message.contains("'local.r'"), "{message}");
    let message = refused(
        &format!("{MIN}clientid r\nconnection c\naddress h\ntopic t\nclientid r\n"),
        8,
        "clientid",
    );
    assert!(message.contains("'local.r'"), "{message}");
}

#[test]
fn a_lazy_threshold_must_be_below_max_queued_messages() {
    let message = refused(
        &format!("max_queued_messages 5\n{MIN}start_type lazy\nthreshold 5\n"),
        6,
        "threshold",
    );
    assert!(
        message.contains("threshold 5 must be less than max_queued_messages 5"),
        "{message}"
    );
    // The default threshold (10): the start_type line is the one at fault;
    // max_queued_messages may come after the section.
    let message = refused(
        &format!("{MIN}start_type lazy\nmax_queued_messages 10\n"),
        4,
        "start_type",
    );
    assert!(message.contains("threshold 10"), "{message}");
    let b = bridge("max_queued_messages 6\nstart_type lazy\nthreshold 5\n");
    assert_eq!(b.threshold, 5);
    // Not lazy, or no limit: nothing to check.
    bridge("max_queued_messages 5\nthreshold 50\n");
    bridge("max_queued_messages 0\nstart_type lazy\nthreshold 5000\n");
}

#[test]
fn the_default_notification_topic_must_be_a_topic_name() {
    let message = refused("connection a+b\naddress h\ntopic t\n", 1, "connection");
    assert!(message.contains("set notification_topic"), "{message}");
    let message = refused_extra("remote_clientid id#1\n", "remote_clientid");
    assert!(message.contains("wildcard of 'id#1'"), "{message}");
    let c = parse("connection a+b\naddress h\ntopic t\nnotification_topic n\n");
    assert_eq!(c.bridges[0].name, "a+b");
    parse("connection a+b\naddress h\ntopic t\nnotifications false\n");
}
