//! The TLS directives: where they apply, what they must come with, and
//! the ones refused (all of them in a build without the `tls` feature).

#[cfg(feature = "tls")]
use std::path::PathBuf;

use super::{parse_str, ConfigError};
#[cfg(feature = "tls")]
use super::{CertUsername, TlsVersion};

fn err(text: &str) -> ConfigError {
    parse_str("t.conf", text).expect_err("must be refused")
}

#[cfg(feature = "tls")]
const TLS: &str = "listener 8883\ncertfile /c.pem\nkeyfile /k.pem\n";

#[test]
#[cfg(feature = "tls")]
fn certfile_and_keyfile_make_a_tls_listener_and_the_rest_apply_to_it() {
    let c = parse_str(
        "t.conf",
        &format!(
            "listener 1883\n{TLS}cafile /ca.pem\ncapath /cas\ncrlfile /crl.pem\n\
             require_certificate true\nuse_subject_as_username true\ntls_version tlsv1.3\n"
        ),
    )
    .unwrap();
    assert!(!c.listeners[0].tls.enabled());
    let tls = &c.listeners[1].tls;
    assert!(tls.enabled());
    assert_eq!(tls.certfile, Some(PathBuf::from("/c.pem")));
    assert_eq!(tls.keyfile, Some(PathBuf::from("/k.pem")));
    assert_eq!(tls.cafile, Some(PathBuf::from("/ca.pem")));
    assert_eq!(tls.capath, Some(PathBuf::from("/cas")));
    assert_eq!(tls.crlfile, Some(PathBuf::from("/crl.pem")));
    assert!(tls.require_certificate);
    assert_eq!(tls.cert_username, CertUsername::Subject);
    assert_eq!(tls.version, Some(TlsVersion::V1_3));
}

#[test]
#[cfg(feature = "tls")]
fn the_default_listener_takes_tls_directives_too() {
    let c = parse_str("t.conf", "port 8883\ncertfile /c.pem\nkeyfile /k.pem\n").unwrap();
    assert!(c.listeners[0].tls.enabled());
    assert_eq!(c.listeners[0].port, 8883);
}

#[test]
#[cfg(feature = "tls")]
fn half_a_tls_listener_is_refused_at_its_listener_line() {
    let e = err("listener 1\nlistener 8883\ncertfile /c.pem\n");
    assert_eq!(
        (e.line, e.directive.as_deref()),
        (Some(2), Some("listener"))
    );
    assert!(
        e.message.contains("certfile is given without keyfile"),
        "{e}"
    );
    let e = err("listener 8883\ncafile /ca.pem\n");
    assert!(e.message.contains("no certfile and keyfile"), "{e}");
    let e = err("port 8883\nkeyfile /k.pem\n");
    assert_eq!((e.line, e.directive.as_deref()), (Some(1), Some("port")));
}

#[test]
#[cfg(feature = "tls")]
fn client_certificate_settings_need_what_they_depend_on() {
    let e = err(&format!("{TLS}require_certificate true\n"));
    assert!(e.message.contains("needs cafile or capath"), "{e}");
    let e = err(&format!("{TLS}use_identity_as_username true\ncafile /ca\n"));
    assert!(e.message.contains("need require_certificate true"), "{e}");
    let e = err(&format!("{TLS}crlfile /crl\ncafile /ca\n"));
    assert!(
        e.message.contains("crlfile needs require_certificate"),
        "{e}"
    );
    let ok = format!("{TLS}capath /cas\nrequire_certificate true\nuse_identity_as_username true\n");
    let c = parse_str("t.conf", &ok).unwrap();
    assert_eq!(c.listeners[0].tls.cert_username, CertUsername::CommonName);
}

#[test]
#[cfg(feature = "tls")]
fn identity_and_subject_cannot_both_be_on() {
    let e = err(&format!(
        "{TLS}use_identity_as_username true\nuse_subject_as_username true\n"
    ));
    assert_eq!(e.directive.as_deref(), Some("use_subject_as_username"));
    let c = parse_str(
        "t.conf",
        &format!(
            "{TLS}cafile /ca\nrequire_certificate true\nuse_identity_as_username true\n\
             use_identity_as_username false\nuse_subject_as_username true\n"
        ),
    )
    .unwrap();
    assert_eq!(c.listeners[0].tls.cert_username, CertUsername::Subject);
}

#[test]
#[cfg(feature = "tls")]
fn tls_versions_are_mosquittos_names_and_old_ones_are_refused() {
    let c = parse_str("t.conf", &format!("{TLS}tls_version tlsv1.2\n")).unwrap();
    assert_eq!(c.listeners[0].tls.version, Some(TlsVersion::V1_2));
    for old in ["tlsv1", "tlsv1.1"] {
        let e = err(&format!("{TLS}tls_version {old}\n"));
        assert_eq!(e.line, Some(4));
        assert!(e.message.contains("not offered by rustls"), "{e}");
    }
    let e = err(&format!("{TLS}tls_version sslv3\n"));
    assert!(e.message.contains("expected tlsv1.2 or tlsv1.3"), "{e}");
}

#[test]
fn openssl_only_directives_are_refused_by_name() {
    for d in [
        "ciphers",
        "ciphers_tls1.3",
        "dhparamfile",
        "tls_engine",
        "tls_engine_kpass_sha1",
        "tls_keyform",
        "psk_hint",
        "psk_file",
    ] {
        let e = err(&format!("listener 8883\n{d} x\n"));
        assert_eq!(e.directive.as_deref(), Some(d));
        assert!(e.message.contains("OpenSSL-only"), "{d}: {e}");
    }
}

#[test]
#[cfg(not(feature = "tls"))]
fn without_the_feature_every_tls_directive_is_refused() {
    for d in [
        "certfile /c",
        "keyfile /k",
        "cafile /ca",
        "require_certificate true",
    ] {
        let e = err(&format!("listener 8883\n{d}\n"));
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("built without TLS"), "{d}: {e}");
    }
}
