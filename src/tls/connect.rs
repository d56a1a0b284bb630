//! Building a bridge's rustls client configuration from its TLS
//! directives, once, before the bridge first connects.
//!
//! Contract: [`Connector::load`] reads and checks every file the
//! [`BridgeTls`] names (as `load` does for listeners: a missing, unreadable
//! or malformed file, a certificate outside its validity period, or a key
//! that is not the certificate's is an error naming the directive and the
//! file). The remote broker's certificate must chain to a CA of
//! `bridge_cafile`/`bridge_capath` and be valid for the host connected to;
//! `bridge_insecure` skips only the host name check, never the chain.
//! Each connection is then made by `TlsStream::client`.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::ring;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme};

use super::files::{self, Directives};
use crate::config::bridge::BridgeTls;

/// How a bridge's directives are spelt, for errors.
const BRIDGE: Directives = Directives {
    cafile: "bridge_cafile",
    capath: "bridge_capath",
    certfile: "bridge_certfile",
    keyfile: "bridge_keyfile",
    version: "bridge_tls_version",
};

/// What a bridge hands each TLS connection it opens.
#[derive(Clone)]
pub struct Connector {
    pub(super) config: Arc<ClientConfig>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("alpn", &self.config.alpn_protocols)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// Called for a bridge whose TLS is on ([`BridgeTls::enabled`]). Reads
    /// every file the directives name and returns the connector, or an
    /// error naming the directive and file at fault.
    pub fn load(tls: &BridgeTls) -> Result<Connector, String> {
        let now = files::unix_now();
        let roots = files::roots(&BRIDGE, tls.cafile.as_deref(), tls.capath.as_deref(), now)?;
        let identity = match (&tls.certfile, &tls.keyfile) {
            (Some(certfile), Some(keyfile)) => Some((
                certfile,
                keyfile,
                files::certificates(BRIDGE.certfile, certfile, now)?,
                files::private_key(BRIDGE.keyfile, keyfile)?,
            )),
            (None, None) => None,
            (Some(_), None) => {
                return Err(format!(
                    "{} is given without {}",
                    BRIDGE.certfile, BRIDGE.keyfile
                ))
            }
            (None, Some(_)) => {
                return Err(format!(
                    "{} is given without {}",
                    BRIDGE.keyfile, BRIDGE.certfile
                ))
            }
        };
        let provider = Arc::new(ring::default_provider());
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| format!("server certificate verification: {e}"))?;
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(files::versions(tls.version))
            .map_err(|e| format!("{}: {e}", BRIDGE.version))?;
        let builder = if tls.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyName(webpki)))
        } else {
            builder.with_webpki_verifier(webpki)
        };
        let mut config = match identity {
            None => builder.with_no_client_auth(),
            Some((certfile, keyfile, chain, key)) => builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| files::pair_error(&BRIDGE, certfile, keyfile, e))?,
        };
        if let Some(alpn) = &tls.alpn {
            if alpn.is_empty() {
                return Err("bridge_alpn: the protocol name is empty".into());
            }
            config.alpn_protocols = vec![alpn.as_bytes().to_vec()];
        }
        Ok(Connector {
            config: Arc::new(config),
        })
    }
}

/// `bridge_insecure`: the WebPKI verifier with its host name check
/// skipped. The chain, validity and signatures are checked as usual (the
/// name is checked last, after the chain has been verified, so a name
/// error means everything else passed).
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }

    fn root_hint_subjects(&self) -> Option<&[rustls::DistinguishedName]> {
        self.0.root_hint_subjects()
    }
}

#[cfg(test)]
#[path = "connect_tests.rs"]
mod tests;
