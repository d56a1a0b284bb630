//! Building a listener's rustls configuration from its TLS settings, once,
//! when the server binds.
//!
//! Contract: every file is read and checked here, so that a missing,
//! unreadable or malformed file, a certificate outside its validity
//! period, or a key that does not match the certificate stops the broker
//! before it listens anywhere; the error names the directive and the file.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::crypto::ring;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};

use super::{dn, x509};
use crate::config::{CertUsername, TlsSettings, TlsVersion};

/// What a TLS listener hands each accepted connection.
#[derive(Clone)]
pub struct Acceptor {
    pub(super) config: Arc<ServerConfig>,
    pub(super) username: CertUsername,
}

impl std::fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acceptor")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Acceptor {
    /// Called by the server's bind for each listener with `certfile` and
    /// `keyfile`. Reads every file the settings name and returns the
    /// acceptor, or an error naming the directive and file at fault.
    pub fn load(settings: &TlsSettings) -> Result<Acceptor, String> {
        let now = unix_now();
        let (Some(certfile), Some(keyfile)) = (&settings.certfile, &settings.keyfile) else {
            return Err("certfile and keyfile are both needed for TLS".into());
        };
        let chain = certificates("certfile", certfile, now)?;
        let key = PrivateKeyDer::from_pem_file(keyfile)
            .map_err(|e| format!("keyfile {}: {}", keyfile.display(), pem_error(e)))?;
        let provider = Arc::new(ring::default_provider());
        let versions: &[&SupportedProtocolVersion] = match settings.version {
            Some(TlsVersion::V1_2) => &[&rustls::version::TLS12],
            Some(TlsVersion::V1_3) => &[&rustls::version::TLS13],
            None => &[&rustls::version::TLS13, &rustls::version::TLS12],
        };
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .map_err(|e| format!("tls_version: {e}"))?;
        let builder = if settings.require_certificate {
            let roots = Arc::new(roots(settings, now)?);
            let mut verifier = WebPkiClientVerifier::builder_with_provider(roots, provider);
            if let Some(crlfile) = &settings.crlfile {
                // As Mosquitto's OpenSSL set-up: the client's own
                // certificate is checked, and must be covered by a CRL.
                verifier = verifier
                    .with_crls(revocation_lists(crlfile)?)
                    .only_check_end_entity_revocation();
            }
            let verifier = verifier
                .build()
                .map_err(|e| format!("client certificate verification: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let config = builder.with_single_cert(chain, key).map_err(|e| {
            format!(
                "certfile {} and keyfile {}: {e}",
                certfile.display(),
                keyfile.display()
            )
        })?;
        Ok(Acceptor {
            config: Arc::new(config),
            username: settings.cert_username,
        })
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The certificates of PEM file `path` (`directive` names it in errors),
/// each checked to be valid at `now`; at least one.
fn certificates(
    directive: &str,
    path: &Path,
    now: i64,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let at = || format!("{directive} {}", path.display());
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {}", at(), pem_error(e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {}", at(), pem_error(e)))?;
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate in the file", at()));
    }
    for cert in &certs {
        check_validity(cert, now).map_err(|why| format!("{}: {why}", at()))?;
    }
    Ok(certs)
}

/// Refuses a certificate that does not parse, has expired, or is not
/// valid yet.
fn check_validity(cert: &CertificateDer<'_>, now: i64) -> Result<(), String> {
    let info = x509::parse(cert).map_err(|e| format!("a certificate cannot be read: {e}"))?;
    let name = || dn::rfc2253(info.subject).unwrap_or_else(|_| "?".into());
    if now > info.not_after {
        return Err(format!(
            "the certificate {} expired on {}",
            name(),
            x509::format_time(info.not_after)
        ));
    }
    if now < info.not_before {
        return Err(format!(
            "the certificate {} is not valid before {}",
            name(),
            x509::format_time(info.not_before)
        ));
    }
    Ok(())
}

/// The CA certificates of `cafile` and of every file in `capath`.
fn roots(settings: &TlsSettings, now: i64) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    let mut add = |directive: &str, path: &Path, certs: Vec<CertificateDer<'static>>| {
        for cert in certs {
            store.add(cert).map_err(|e| {
                format!(
                    "{directive} {}: not a usable CA certificate: {e}",
                    path.display()
                )
            })?;
        }
        Ok::<(), String>(())
    };
    if let Some(cafile) = &settings.cafile {
        add("cafile", cafile, certificates("cafile", cafile, now)?)?;
    }
    if let Some(capath) = &settings.capath {
        for file in capath_files(capath)? {
            let certs = certificates("capath", &file, now)?;
            add("capath", &file, certs)?;
        }
    }
    if store.is_empty() {
        return Err("cafile/capath: no CA certificate found".into());
    }
    Ok(store)
}

/// The regular files of directory `capath` holding a PEM certificate,
/// sorted (OpenSSL's hash-named links lead to the same certificates, which
/// only adds duplicates).
fn capath_files(capath: &Path) -> Result<Vec<PathBuf>, String> {
    let cannot = |e: std::io::Error| format!("capath {}: {e}", capath.display());
    let mut files = Vec::new();
    for entry in fs::read_dir(capath).map_err(cannot)? {
        let path = entry.map_err(cannot)?.path();
        if !path.is_file() {
            continue;
        }
        let text = fs::read(&path).map_err(|e| format!("capath {}: {e}", path.display()))?;
        if text
            .windows(27)
            .any(|w| w == b"-----BEGIN CERTIFICATE-----")
        {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn revocation_lists(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, String> {
    let at = || format!("crlfile {}", path.display());
    let crls = CertificateRevocationListDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {}", at(), pem_error(e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {}", at(), pem_error(e)))?;
    if crls.is_empty() {
        return Err(format!("{}: no PEM revocation list in the file", at()));
    }
    Ok(crls)
}

/// A PEM reading error in words (the I/O error alone when it is one).
fn pem_error(e: rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match e {
        Error::Io(e) => format!("cannot read: {e}"),
        Error::NoItemsFound => "no PEM item of the expected kind in the file".into(),
        other => format!("not valid PEM: {other:?}"),
    }
}
