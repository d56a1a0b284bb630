//! The TLS directives (see `config/tls.rs`): per listener, like Mosquitto's.
//! Those that only make sense with OpenSSL are refused by name, and so is
//! every TLS directive when midge was built without the `tls` feature.

use super::{Line, Parser};
use crate::config::tls::{CertUsername, TlsSettings, TlsVersion};
use crate::config::ConfigError;

/// Mosquitto directives that configure OpenSSL itself; rustls has no
/// counterpart (it picks safe cipher suites and groups on its own).
const OPENSSL_ONLY: &[&str] = &[
    "ciphers",
    "ciphers_tls1.3",
    "dhparamfile",
    "tls_engine",
    "tls_engine_kpass_sha1",
    "tls_keyform",
    "psk_hint",
    "psk_file",
];

/// The directives `set` applies.
const TLS: &[&str] = &[
    "cafile",
    "capath",
    "certfile",
    "keyfile",
    "crlfile",
    "require_certificate",
    "use_identity_as_username",
    "use_subject_as_username",
    "tls_version",
];

/// Applies `line` to the current listener if it is a TLS directive;
/// `None` if it is not one.
pub(super) fn directive(
    parser: &mut Parser<'_>,
    line: &Line<'_>,
) -> Option<Result<(), ConfigError>> {
    let name = line.directive;
    if OPENSSL_ONLY.contains(&name) {
        return Some(Err(line.error(
            "OpenSSL-only: midge uses rustls, which has no such setting \
             (it chooses safe cipher suites and key exchange itself; PSK is not supported)",
        )));
    }
    if !cfg!(feature = "tls") && TLS.contains(&name) {
        return Some(Err(line.error(
            "midge was built without TLS (the tls cargo feature is off)",
        )));
    }
    apply(parser, line)
}

/// Sets the directive's field on the current listener; `None` when `line`
/// is no TLS directive.
fn apply(parser: &mut Parser<'_>, line: &Line<'_>) -> Option<Result<(), ConfigError>> {
    if !TLS.contains(&line.directive) {
        return None;
    }
    let tls = &mut parser.current_listener(line).tls;
    Some(set(tls, line))
}

fn set(tls: &mut TlsSettings, line: &Line<'_>) -> Result<(), ConfigError> {
    match line.directive {
        "cafile" => tls.cafile = Some(line.path()?),
        "capath" => tls.capath = Some(line.path()?),
        "certfile" => tls.certfile = Some(line.path()?),
        "keyfile" => tls.keyfile = Some(line.path()?),
        "crlfile" => tls.crlfile = Some(line.path()?),
        "require_certificate" => tls.require_certificate = line.bool()?,
        "use_identity_as_username" | "use_subject_as_username" => {
            let wanted = if line.directive == "use_identity_as_username" {
                CertUsername::CommonName
            } else {
                CertUsername::Subject
            };
            let on = line.bool()?;
            if on && tls.cert_username != CertUsername::None && tls.cert_username != wanted {
                return Err(line.error(
                    "use_identity_as_username and use_subject_as_username cannot both be true",
                ));
            }
            if on {
                tls.cert_username = wanted;
            } else if tls.cert_username == wanted {
                tls.cert_username = CertUsername::None;
            }
        }
        "tls_version" => tls.version = Some(version(line)?),
        _ => {}
    }
    Ok(())
}

/// The value of `tls_version` or `bridge_tls_version`: Mosquitto's names
/// of the versions rustls offers.
pub(super) fn version(line: &Line<'_>) -> Result<TlsVersion, ConfigError> {
    match line.one()? {
        "tlsv1.3" => Ok(TlsVersion::V1_3),
        "tlsv1.2" => Ok(TlsVersion::V1_2),
        old @ ("tlsv1" | "tlsv1.1") => Err(line.error(format!(
            "{old} is not offered by rustls, which midge uses: \
             use tlsv1.2 or tlsv1.3 (or leave {} out for both)",
            line.directive
        ))),
        other => Err(line.invalid(other, "tlsv1.2 or tlsv1.3")),
    }
}
