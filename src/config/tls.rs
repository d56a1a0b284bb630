//! The TLS settings of one listener, as Mosquitto's per-listener
//! directives write them. Plain data: the files are read and checked when
//! the server binds (see `tls::load`), not while parsing.
//!
//! A listener with `certfile` and `keyfile` is a TLS listener; every other
//! TLS directive needs those two ([`TlsSettings::check`] says what is
//! missing).

use std::path::PathBuf;

/// A TLS protocol version rustls offers (`tls_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    /// `tlsv1.2`.
    V1_2,
    /// `tlsv1.3`.
    V1_3,
}

/// What a client certificate becomes the CONNECT's username as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CertUsername {
    /// The CONNECT's own username is kept (the default).
    #[default]
    None,
    /// `use_identity_as_username true`: the certificate's Common Name.
    CommonName,
    /// `use_subject_as_username true`: the whole subject, in RFC 2253 form
    /// as OpenSSL prints it (`CN=dev1,O=Example,C=GB`).
    Subject,
}

/// One listener's TLS directives; all unset means a plain TCP listener.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsSettings {
    /// `cafile`: PEM file of the CA certificates that client certificates
    /// are checked against.
    pub cafile: Option<PathBuf>,
    /// `capath`: a directory whose PEM files hold more such CA
    /// certificates (every file is read; OpenSSL's hash names are not
    /// needed).
    pub capath: Option<PathBuf>,
    /// `certfile`: the server's PEM certificate chain, its own first.
    pub certfile: Option<PathBuf>,
    /// `keyfile`: the server's PEM private key (PKCS#8, PKCS#1 or SEC1),
    /// unencrypted.
    pub keyfile: Option<PathBuf>,
    /// `crlfile`: PEM certificate revocation lists for client
    /// certificates.
    pub crlfile: Option<PathBuf>,
    /// `require_certificate` (default false): a client must present a
    /// certificate signed by `cafile`/`capath`, or the handshake fails.
    pub require_certificate: bool,
    /// `use_identity_as_username` / `use_subject_as_username`.
    pub cert_username: CertUsername,
    /// `tls_version`: the only version offered; `None` offers TLS 1.2 and
    /// 1.3.
    pub version: Option<TlsVersion>,
}

impl TlsSettings {
    /// True when the listener speaks TLS (`certfile` and `keyfile` given).
    /// Called when the server binds and by the broker's settings.
    pub fn enabled(&self) -> bool {
        self.certfile.is_some() && self.keyfile.is_some()
    }

    /// Called once per listener after the config is parsed. Returns what
    /// is inconsistent, or `Ok` for a plain listener or a complete TLS one.
    pub fn check(&self) -> Result<(), String> {
        let other_set = self.cafile.is_some()
            || self.capath.is_some()
            || self.crlfile.is_some()
            || self.require_certificate
            || self.cert_username != CertUsername::None
            || self.version.is_some();
        match (&self.certfile, &self.keyfile) {
            (Some(_), None) => return Err("certfile is given without keyfile".into()),
            (None, Some(_)) => return Err("keyfile is given without certfile".into()),
            (None, None) if other_set => {
                return Err("TLS settings are given, but no certfile and keyfile \
                            make this a TLS listener"
                    .into())
            }
            _ => {}
        }
        let has_ca = self.cafile.is_some() || self.capath.is_some();
        if self.require_certificate && !has_ca {
            return Err(
                "require_certificate needs cafile or capath to check client certificates against"
                    .into(),
            );
        }
        if self.crlfile.is_some() && !self.require_certificate {
            return Err(
                "crlfile needs require_certificate true (no client certificate is \
                        asked for without it)"
                    .into(),
            );
        }
        if self.cert_username != CertUsername::None && !self.require_certificate {
            return Err("use_identity_as_username and use_subject_as_username need \
                        require_certificate true (no client certificate is asked for without it)"
                .into());
        }
        Ok(())
    }
}
