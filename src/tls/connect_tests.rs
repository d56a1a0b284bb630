//! `Connector::load`'s errors: each names the bridge directive and the
//! file at fault, as a listener's do.

use std::fs;

use rcgen::date_time_ymd;

use super::Connector;
use crate::config::bridge::BridgeTls;
use crate::tls::test_pki::Pki;

fn load_error(tls: &BridgeTls) -> String {
    Connector::load(tls).expect_err("the load should fail")
}

/// A bridge trusting the PKI's CA.
fn trusting(pki: &Pki) -> BridgeTls {
    BridgeTls {
        cafile: Some(pki.path("ca.pem")),
        ..BridgeTls::default()
    }
}

#[test]
fn a_complete_set_of_files_loads() {
    let pki = Pki::new("load-ok");
    pki.issue("bridge", "bridge-1", &[], |_| {});
    let tls = BridgeTls {
        certfile: Some(pki.path("bridge.pem")),
        keyfile: Some(pki.path("bridge.key")),
        alpn: Some("mqtt".into()),
        insecure: true,
        ..trusting(&pki)
    };
    let connector = Connector::load(&tls).unwrap();
    assert_eq!(connector.config.alpn_protocols, vec![b"mqtt".to_vec()]);
    assert!(connector.config.client_auth_cert_resolver.has_certs());
}

#[test]
fn a_missing_cafile_is_named() {
    let pki = Pki::new("load-missing");
    let missing = pki.path("nowhere.pem");
    let e = load_error(&BridgeTls {
        cafile: Some(missing.clone()),
        ..BridgeTls::default()
    });
    assert!(
        e.starts_with(&format!("bridge_cafile {}: cannot read", missing.display())),
        "{e}"
    );
    let e = load_error(&BridgeTls {
        capath: Some(missing.clone()),
        ..BridgeTls::default()
    });
    assert!(
        e.starts_with(&format!("bridge_capath {}", missing.display())),
        "{e}"
    );
}

#[test]
fn a_file_without_pem_is_named() {
    let pki = Pki::new("load-junk");
    let junk = pki.path("junk.pem");
    fs::write(&junk, "not PEM at all\n").unwrap();
    let e = load_error(&BridgeTls {
        cafile: Some(junk.clone()),
        ..BridgeTls::default()
    });
    assert!(
        e.starts_with(&format!("bridge_cafile {}: no PEM", junk.display())),
        "{e}"
    );
    let e = load_error(&BridgeTls {
        certfile: Some(junk.clone()),
        keyfile: Some(junk.clone()),
        ..trusting(&pki)
    });
    assert!(
        e.starts_with(&format!("bridge_certfile {}: no PEM", junk.display())),
        "{e}"
    );
    pki.issue("bridge", "bridge-1", &[], |_| {});
    let e = load_error(&BridgeTls {
        certfile: Some(pki.path("bridge.pem")),
        keyfile: Some(junk.clone()),
        ..trusting(&pki)
    });
    assert!(
        e.starts_with(&format!("bridge_keyfile {}:", junk.display())),
        "{e}"
    );
    // A broken PEM block, not just a missing one.
    let broken = pki.path("broken.pem");
    fs::write(
        &broken,
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let e = load_error(&BridgeTls {
        cafile: Some(broken.clone()),
        ..BridgeTls::default()
    });
    assert!(
        e.starts_with(&format!(
            "bridge_cafile {}: not valid PEM",
            broken.display()
        )),
        "{e}"
    );
}

#[test]
fn a_directory_with_no_ca_certificate_is_an_error() {
    let pki = Pki::new("load-empty-capath");
    let dir = pki.path("empty");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("README"), "nothing here").unwrap();
    let e = load_error(&BridgeTls {
        capath: Some(dir),
        ..BridgeTls::default()
    });
    assert_eq!(e, "bridge_cafile/bridge_capath: no CA certificate found");
}

#[test]
fn an_expired_certificate_is_named_with_its_file() {
    let pki = Pki::new("load-expired");
    let old = pki.issue("old", "old bridge", &[], |p| {
        p.not_before = date_time_ymd(2000, 1, 1);
        p.not_after = date_time_ymd(2002, 1, 1);
    });
    let e = load_error(&BridgeTls {
        certfile: Some(old.clone()),
        keyfile: Some(pki.path("old.key")),
        ..trusting(&pki)
    });
    assert_eq!(
        e,
        format!(
            "bridge_certfile {}: the certificate CN=old bridge expired on 2002-01-01 00:00:00 UTC",
            old.display()
        )
    );
    // An expired CA, in a directory of CAs.
    let dir = pki.path("cas");
    fs::create_dir(&dir).unwrap();
    pki.write_ca("cas/old-ca.pem", "old CA", |p| {
        p.not_before = date_time_ymd(2000, 1, 1);
        p.not_after = date_time_ymd(2002, 1, 1);
    });
    let e = load_error(&BridgeTls {
        capath: Some(dir.clone()),
        ..BridgeTls::default()
    });
    let file = dir.join("old-ca.pem");
    assert!(
        e.starts_with(&format!("bridge_capath {}: ", file.display())) && e.contains("expired"),
        "{e}"
    );
}

#[test]
fn certfile_and_keyfile_go_together() {
    let pki = Pki::new("load-pair");
    pki.issue("bridge", "bridge-1", &[], |_| {});
    pki.issue("another", "bridge-2", &[], |_| {});
    let e = load_error(&BridgeTls {
        certfile: Some(pki.path("bridge.pem")),
        ..trusting(&pki)
    });
    assert_eq!(e, "bridge_certfile is given without bridge_keyfile");
    let e = load_error(&BridgeTls {
        keyfile: Some(pki.path("bridge.key")),
        ..trusting(&pki)
    });
    assert_eq!(e, "bridge_keyfile is given without bridge_certfile");
    // A key that is not the certificate's.
    let (cert, key) = (pki.path("bridge.pem"), pki.path("another.key"));
    let e = load_error(&BridgeTls {
        certfile: Some(cert.clone()),
        keyfile: Some(key.clone()),
        ..trusting(&pki)
    });
    assert!(
        e.starts_with(&format!(
            "bridge_certfile {} and bridge_keyfile {}: ",
            cert.display(),
            key.display()
        )),
        "{e}"
    );
}

#[test]
fn an_empty_alpn_is_refused() {
    let pki = Pki::new("load-alpn");
    let e = load_error(&BridgeTls {
        alpn: Some(String::new()),
        ..trusting(&pki)
    });
    assert!(e.starts_with("bridge_alpn"), "{e}");
}
