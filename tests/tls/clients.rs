//! Mosquitto's command-line clients against the real binary over TLS:
//! `--cafile` (and a wrong one), `--cert`/`--key` with
//! `require_certificate`, and the username a certificate gives, read from
//! the broker's log and compared with what OpenSSL prints.

use std::path::Path;
use std::process::Command;

use crate::kit::Pki;
use crate::process::{free_port, mosquitto, Midge};

/// The config of a broker with a TLS listener on `port` (`extra` lines
/// added to it) and a plain one on `plain`.
fn config(pki: &Pki, port: u16, plain: u16, extra: &str) -> String {
    format!(
        "log_type all\nallow_anonymous true\n\
         listener {port} 127.0.0.1\ncertfile {}\nkeyfile {}\n{extra}\n\
         listener {plain} 127.0.0.1\n",
        pki.path("server.pem").display(),
        pki.path("server.key").display(),
    )
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// `mosquitto_pub`/`mosquitto_sub --cafile` publish and receive through
/// TLS; a client trusting another CA cannot connect.
#[test]
fn mosquitto_clients_with_cafile() {
    let pki = Pki::new("mosq-cafile");
    let (port, plain) = (free_port(), free_port());
    let _midge = Midge::start(&pki.dir, &config(&pki, port, plain, ""), port);
    let (port, ca, other) = (
        port.to_string(),
        s(&pki.path("ca.pem")),
        s(&pki.path("other-ca.pem")),
    );
    let tls = ["-h", "127.0.0.1", "-p", &port, "--cafile", &ca];
    let publish = mosquitto(
        "mosquitto_pub",
        &[
            &tls[..],
            &["-t", "tls/t", "-m", "over tls", "-r", "-q", "1"],
        ]
        .concat(),
    );
    assert!(publish.status.success(), "{publish:?}");
    let sub = mosquitto(
        "mosquitto_sub",
        &[&tls[..], &["-t", "tls/t", "-C", "1", "-W", "8"]].concat(),
    );
    assert!(sub.status.success(), "{sub:?}");
    assert_eq!(String::from_utf8_lossy(&sub.stdout), "over tls\n");

    let wrong = [
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "--cafile",
        &other,
        "-t",
        "x",
        "-m",
        "no",
    ];
    let refused = mosquitto("mosquitto_pub", &wrong);
    assert!(
        !refused.status.success(),
        "a client with the wrong CA connected"
    );

    // The plain listener of the same broker still serves, and sees the
    // retained message published over TLS.
    let plain = plain.to_string();
    let sub = mosquitto(
        "mosquitto_sub",
        &[
            "-h",
            "127.0.0.1",
            "-p",
            &plain,
            "-t",
            "tls/t",
            "-C",
            "1",
            "-W",
            "8",
        ],
    );
    assert_eq!(String::from_utf8_lossy(&sub.stdout), "over tls\n");
}

/// With require_certificate, `--cert/--key` signed by the CA connect and
/// no certificate does not; use_identity_as_username makes the Common Name
/// the username.
#[test]
fn mosquitto_clients_with_certificates_and_identity() {
    let pki = Pki::new("mosq-identity");
    pki.client("alice", "alice");
    let (port, plain) = (free_port(), free_port());
    let extra = format!(
        "cafile {}\nrequire_certificate true\nuse_identity_as_username true",
        pki.path("ca.pem").display()
    );
    let midge = Midge::start(&pki.dir, &config(&pki, port, plain, &extra), port);
    let port = port.to_string();
    let (ca, cert, key) = (
        s(&pki.path("ca.pem")),
        s(&pki.path("alice.pem")),
        s(&pki.path("alice.key")),
    );
    let base = [
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "--cafile",
        &ca,
        "-t",
        "t",
        "-m",
        "m",
    ];
    let without = mosquitto("mosquitto_pub", &[&base[..], &["-i", "nocert"]].concat());
    assert!(!without.status.success(), "connected without a certificate");
    let with = mosquitto(
        "mosquitto_pub",
        &[
            &base[..],
            &[
                "-i", "alice-1", "--cert", &cert, "--key", &key, "-u", "ignored",
            ],
        ]
        .concat(),
    );
    assert!(with.status.success(), "{with:?}\n{}", midge.log());
    midge.wait_log("client alice-1 connected from 127.0.0.1");
    let log = midge.log();
    assert!(log.contains("username \"alice\""), "{log}");
    assert!(!log.contains("ignored"), "{log}");
}

/// use_subject_as_username: the username is the subject exactly as
/// OpenSSL prints it in RFC 2253 form (what Mosquitto uses).
#[test]
fn the_subject_as_username_matches_openssl() {
    let pki = Pki::new("mosq-subject");
    pki.client("bob", "bob, \"the\" builder");
    let printed = Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in"])
        .arg(pki.path("bob.pem"))
        .output()
        .expect("the openssl command-line tool (Debian: openssl)");
    let subject = String::from_utf8(printed.stdout).unwrap();
    let subject = subject
        .trim()
        .strip_prefix("subject=")
        .expect("openssl's subject line");
    assert!(subject.contains("\\,"), "{subject}");
    let (port, plain) = (free_port(), free_port());
    let extra = format!(
        "cafile {}\nrequire_certificate true\nuse_subject_as_username true",
        pki.path("ca.pem").display()
    );
    let midge = Midge::start(&pki.dir, &config(&pki, port, plain, &extra), port);
    let port = port.to_string();
    let (ca, cert, key) = (
        s(&pki.path("ca.pem")),
        s(&pki.path("bob.pem")),
        s(&pki.path("bob.key")),
    );
    let publish = mosquitto(
        "mosquitto_pub",
        &[
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "--cafile",
            &ca,
            "--cert",
            &cert,
            "--key",
            &key,
            "-i",
            "bob-1",
            "-t",
            "t",
            "-m",
            "m",
        ],
    );
    assert!(publish.status.success(), "{publish:?}");
    let log = midge.wait_log("client bob-1 connected");
    let expected = format!("username {subject:?}");
    assert!(log.contains(&expected), "expected {expected} in\n{log}");
}
