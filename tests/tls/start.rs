//! A TLS listener whose files are missing, unreadable, malformed, expired
//! or do not match stops the real binary at start (exit 1) with the
//! listener and the file named; bad TLS directives are config errors
//! (exit 3).

use std::fs;

use rcgen::{date_time_ymd, DistinguishedName, DnType};

use crate::kit::Pki;
use crate::process::{free_port, Midge};

/// Starts midge on `config` (in `pki`'s directory) and returns its exit
/// code and log; it must exit by itself.
fn refused(pki: &Pki, config: &str) -> (Option<i32>, String) {
    let mut midge = Midge::spawn(&pki.dir, config);
    let status = midge.wait_exit();
    (status.code(), midge.log())
}

fn listener(pki: &Pki, port: u16, cert: &str, key: &str) -> String {
    format!(
        "listener {port} 127.0.0.1\ncertfile {}\nkeyfile {}\n",
        pki.path(cert).display(),
        pki.path(key).display()
    )
}

#[test]
fn a_missing_certfile_stops_the_start() {
    let pki = Pki::new("start-missing");
    let port = free_port();
    let (code, log) = refused(&pki, &listener(&pki, port, "nothere.pem", "server.key"));
    assert_eq!(code, Some(1), "{log}");
    let file = pki.path("nothere.pem").display().to_string();
    assert!(log.contains(&format!("listener on port {port}")), "{log}");
    assert!(log.contains(&format!("certfile {file}")), "{log}");
}

#[test]
fn a_malformed_or_mismatched_key_stops_the_start() {
    let pki = Pki::new("start-key");
    fs::write(
        pki.path("junk.key"),
        "-----BEGIN PRIVATE KEY-----\nnot base64!\n",
    )
    .unwrap();
    let port = free_port();
    let (code, log) = refused(&pki, &listener(&pki, port, "server.pem", "junk.key"));
    assert_eq!(code, Some(1), "{log}");
    let junk = pki.path("junk.key").display().to_string();
    assert!(log.contains(&format!("keyfile {junk}")), "{log}");

    pki.client("other", "other");
    let (code, log) = refused(&pki, &listener(&pki, port, "server.pem", "other.key"));
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("keyfile") && log.contains("other.key"),
        "{log}"
    );
}

#[test]
fn an_expired_certificate_stops_the_start() {
    let pki = Pki::new("start-expired");
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "old server");
    pki.issue_with("old", dn, vec!["127.0.0.1".into()], |p| {
        p.not_before = date_time_ymd(2001, 1, 1);
        p.not_after = date_time_ymd(2002, 1, 1);
    });
    let port = free_port();
    let (code, log) = refused(&pki, &listener(&pki, port, "old.pem", "old.key"));
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("the certificate CN=old server expired on 2002-01-01 00:00:00 UTC"),
        "{log}"
    );
    assert!(log.contains("old.pem"), "{log}");
}

#[test]
fn an_expired_ca_in_cafile_stops_the_start() {
    let pki = Pki::new("start-ca-expired");
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "old ca");
    pki.issue_with("oldca", dn, Vec::new(), |p| {
        p.not_after = date_time_ymd(2003, 6, 1);
    });
    let port = free_port();
    let config = format!(
        "{}cafile {}\nrequire_certificate true\n",
        listener(&pki, port, "server.pem", "server.key"),
        pki.path("oldca.pem").display()
    );
    let (code, log) = refused(&pki, &config);
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("cafile") && log.contains("oldca.pem") && log.contains("expired"),
        "{log}"
    );
}

#[test]
fn bad_tls_directives_are_config_errors() {
    let pki = Pki::new("start-directives");
    let port = free_port();
    let base = listener(&pki, port, "server.pem", "server.key");
    for (extra, says) in [
        ("tls_version tlsv1.1\n", "tlsv1.1 is not offered by rustls"),
        ("ciphers ECDHE-RSA-AES128-GCM-SHA256\n", "OpenSSL-only"),
        ("require_certificate true\n", "needs cafile or capath"),
        (
            "use_identity_as_username true\n",
            "need require_certificate true",
        ),
    ] {
        let (code, log) = refused(&pki, &format!("{base}{extra}"));
        assert_eq!(code, Some(3), "{extra}: {log}");
        assert!(log.contains(says), "{extra}: {log}");
        assert!(
            log.contains("midge.conf:"),
            "{extra}: the file is named: {log}"
        );
    }
    let (code, log) = refused(
        &pki,
        &format!(
            "listener {port} 127.0.0.1\nkeyfile {}\n",
            pki.path("server.key").display()
        ),
    );
    assert_eq!(code, Some(3), "{log}");
    assert!(log.contains("keyfile is given without certfile"), "{log}");
}
