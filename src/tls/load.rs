//! Building a listener's rustls configuration from its TLS settings, once,
//! when the server binds.
//!
//! Contract: every file is read and checked here, so that a missing,
//! unreadable or malformed file, a certificate outside its validity
//! period, or a key that does not match the certificate stops the broker
//! before it listens anywhere; the error names the directive and the file.

use std::sync::Arc;

use rustls::crypto::ring;
use rustls::server::WebPkiClientVerifier;
use rustls::ServerConfig;

use super::files::{self, Directives};
use crate::config::{CertUsername, TlsSettings};

/// How a listener's directives are spelt, for errors.
const LISTENER: Directives = Directives {
    cafile: "cafile",
    capath: "capath",
    certfile: "certfile",
    keyfile: "keyfile",
    version: "tls_version",
};

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
        let now = files::unix_now();
        let (Some(certfile), Some(keyfile)) = (&settings.certfile, &settings.keyfile) else {
            return Err("certfile and keyfile are both needed for TLS".into());
        };
        let chain = files::certificates(LISTENER.certfile, certfile, now)?;
        let key = files::private_key(LISTENER.keyfile, keyfile)?;
        let provider = Arc::new(ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(files::versions(settings.version))
            .map_err(|e| format!("{}: {e}", LISTENER.version))?;
        let builder = if settings.require_certificate {
            let roots = files::roots(
                &LISTENER,
                settings.cafile.as_deref(),
                settings.capath.as_deref(),
                now,
            )?;
            let roots = Arc::new(roots);
            let mut verifier = WebPkiClientVerifier::builder_with_provider(roots, provider);
            if let Some(crlfile) = &settings.crlfile {
                // As Mosquitto's OpenSSL set-up: the client's own
                // certificate is checked, and must be covered by a CRL.
                verifier = verifier
                    .with_crls(files::revocation_lists(crlfile)?)
                    .only_check_end_entity_revocation();
            }
            let verifier = verifier
                .build()
                .map_err(|e| format!("client certificate verification: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let config = builder
            .with_single_cert(chain, key)
            .map_err(|e| files::pair_error(&LISTENER, certfile, keyfile, e))?;
        Ok(Acceptor {
            config: Arc::new(config),
            username: settings.cert_username,
        })
    }
}
