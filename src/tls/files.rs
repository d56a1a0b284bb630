//! Reading and checking the PEM files of a TLS set-up, for listeners
//! (`load`) and bridges (`connect`) alike.
//!
//! Contract: each function reads its files at once and returns either
//! what rustls needs or an error naming the directive (as the caller's
//! [`Directives`] spell it) and the file; a certificate outside its
//! validity period is an error, as a missing, unreadable or malformed file
//! is.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::{RootCertStore, SupportedProtocolVersion};

use super::{dn, x509};
use crate::config::TlsVersion;

/// How the config file spells the directives a set of files comes from.
pub(super) struct Directives {
    pub cafile: &'static str,
    pub capath: &'static str,
    pub certfile: &'static str,
    pub keyfile: &'static str,
    pub version: &'static str,
}

/// The versions offered for `version`: the one named, else TLS 1.3 and
/// 1.2.
pub(super) fn versions(
    version: Option<TlsVersion>,
) -> &'static [&'static SupportedProtocolVersion] {
    static V1_2: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS12];
    static V1_3: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
    static BOTH: [&SupportedProtocolVersion; 2] =
        [&rustls::version::TLS13, &rustls::version::TLS12];
    match version {
        Some(TlsVersion::V1_2) => &V1_2,
        Some(TlsVersion::V1_3) => &V1_3,
        None => &BOTH,
    }
}

/// The current time in seconds since the epoch, for [`certificates`].
pub(super) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The certificates of PEM file `path` (`directive` names it in errors),
/// each checked to be valid at `now`; at least one.
pub(super) fn certificates(
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

/// The private key of PEM file `path` (`directive` names it in errors).
pub(super) fn private_key(directive: &str, path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| format!("{directive} {}: {}", path.display(), pem_error(e)))
}

/// The error of a certificate chain and key that rustls refuses together
/// (a key that is not the certificate's).
pub(super) fn pair_error(
    names: &Directives,
    certfile: &Path,
    keyfile: &Path,
    e: rustls::Error,
) -> String {
    format!(
        "{} {} and {} {}: {e}",
        names.certfile,
        certfile.display(),
        names.keyfile,
        keyfile.display()
    )
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

/// The CA certificates of `cafile` and of every file in `capath`; at
/// least one.
pub(super) fn roots(
    names: &Directives,
    cafile: Option<&Path>,
    capath: Option<&Path>,
    now: i64,
) -> Result<RootCertStore, String> {
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
    if let Some(cafile) = cafile {
        add(
            names.cafile,
            cafile,
            certificates(names.cafile, cafile, now)?,
        )?;
    }
    if let Some(capath) = capath {
        for file in capath_files(names.capath, capath)? {
            let certs = certificates(names.capath, &file, now)?;
            add(names.capath, &file, certs)?;
        }
    }
    if store.is_empty() {
        return Err(format!(
            "{}/{}: no CA certificate found",
            names.cafile, names.capath
        ));
    }
    Ok(store)
}

/// The regular files of directory `capath` holding a PEM certificate,
/// sorted (OpenSSL's hash-named links lead to the same certificates, which
/// only adds duplicates).
fn capath_files(directive: &str, capath: &Path) -> Result<Vec<PathBuf>, String> {
    let cannot = |e: std::io::Error| format!("{directive} {}: {e}", capath.display());
    let mut files = Vec::new();
    for entry in fs::read_dir(capath).map_err(cannot)? {
        let path = entry.map_err(cannot)?.path();
        if !path.is_file() {
            continue;
        }
        let text = fs::read(&path).map_err(|e| format!("{directive} {}: {e}", path.display()))?;
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

/// The revocation lists of PEM file `path` (`crlfile`); at least one.
pub(super) fn revocation_lists(
    path: &Path,
) -> Result<Vec<CertificateRevocationListDer<'static>>, String> {
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
