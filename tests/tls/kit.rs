//! The TLS test kit: certificates made for each test with rcgen (a CA, a
//! server certificate for 127.0.0.1, client certificates, a second CA that
//! signed none of them), written as PEM files into a fresh temporary
//! directory; an in-process broker with one TLS listener and one plain
//! one; and a blocking rustls client that speaks raw MQTT bytes.
//!
//! Contract: every read has a timeout, every file lives under the test's
//! own directory (removed on drop), and the broker stops and is joined on
//! drop (see `common::TestBroker`).

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use midge::config::{Config, Listener, TlsSettings};
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertificateRevocationListParams,
    CertifiedIssuer, DistinguishedName, DnType, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevocationReason, RevokedCertParams, SerialNumber,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::common::{self, hex, TestBroker};

/// How long a read waits before the test fails.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// A directory of PEM files for one test.
pub struct Pki {
    pub dir: PathBuf,
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    /// A new CA and, signed by it, a server certificate for 127.0.0.1
    /// (`server.pem`, `server.key`); the CA is `ca.pem`, and `other-ca.pem`
    /// is a CA that signed nothing here.
    pub fn new(name: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("midge-tls-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let ca = make_ca("midge test CA");
        fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        fs::write(dir.join("other-ca.pem"), make_ca("someone else").pem()).unwrap();
        let pki = Pki { dir, ca };
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "127.0.0.1");
        pki.issue("server", dn, vec!["127.0.0.1".into()]);
        pki
    }

    /// Issues `NAME.pem` and `NAME.key` with subject `dn`, signed by the
    /// CA; returns the certificate's path.
    pub fn issue(&self, name: &str, dn: DistinguishedName, sans: Vec<String>) -> PathBuf {
        self.issue_with(name, dn, sans, |_| {})
    }

    /// [`Pki::issue`], with `tweak` applied to the parameters (validity,
    /// serial number).
    pub fn issue_with(
        &self,
        name: &str,
        dn: DistinguishedName,
        sans: Vec<String>,
        tweak: impl FnOnce(&mut CertificateParams),
    ) -> PathBuf {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(sans).unwrap();
        params.distinguished_name = dn;
        tweak(&mut params);
        let cert = params.signed_by(&key, &self.ca).unwrap();
        fs::write(self.path(&format!("{name}.key")), key.serialize_pem()).unwrap();
        let path = self.path(&format!("{name}.pem"));
        fs::write(&path, cert.pem()).unwrap();
        path
    }

    /// A client certificate with Common Name `cn` (and O and C), as
    /// `NAME.pem`/`NAME.key`.
    pub fn client(&self, name: &str, cn: &str) {
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, "GB");
        dn.push(DnType::OrganizationName, "Example, Ltd");
        dn.push(DnType::CommonName, cn);
        self.issue(name, dn, Vec::new());
    }

    /// [`Pki::client`] with serial number `serial`, which it returns.
    pub fn client_with_serial(&self, name: &str, cn: &str, serial: u64) -> SerialNumber {
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, cn);
        let number = SerialNumber::from_slice(&serial.to_be_bytes());
        let copy = number.clone();
        self.issue_with(name, dn, Vec::new(), |p| p.serial_number = Some(copy));
        number
    }

    /// Writes a CRL of the CA revoking `serials` as `file`.
    pub fn write_crl(&self, file: &str, serials: &[SerialNumber]) {
        let params = CertificateRevocationListParams {
            this_update: date_time_ymd(2020, 1, 1),
            next_update: date_time_ymd(2090, 1, 1),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|s| RevokedCertParams {
                    serial_number: s.clone(),
                    revocation_time: date_time_ymd(2021, 1, 1),
                    reason_code: Some(RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let crl = params.signed_by(&self.ca).unwrap();
        fs::write(self.path(file), crl.pem().unwrap()).unwrap();
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// TLS settings for the server certificate, plus `tweak`.
    pub fn server_settings(&self, tweak: impl FnOnce(&mut TlsSettings)) -> TlsSettings {
        let mut tls = TlsSettings {
            certfile: Some(self.path("server.pem")),
            keyfile: Some(self.path("server.key")),
            ..TlsSettings::default()
        };
        tweak(&mut tls);
        tls
    }

    /// A client config trusting `ca_file`, presenting `client` (the name
    /// of a pair made by [`Pki::client`]) if given.
    pub fn client_config(&self, ca_file: &str, client: Option<&str>) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(self.path(ca_file)).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = match client {
            None => builder.with_no_client_auth(),
            Some(name) => {
                let chain = CertificateDer::pem_file_iter(self.path(&format!("{name}.pem")))
                    .unwrap()
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap();
                let key = PrivateKeyDer::from_pem_file(self.path(&format!("{name}.key"))).unwrap();
                builder.with_client_auth_cert(chain, key).unwrap()
            }
        };
        Arc::new(config)
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn make_ca(cn: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.distinguished_name.push(DnType::CommonName, cn);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// An in-process broker: listener 0 is TLS with `tls`, listener 1 plain,
/// both on 127.0.0.1 with ephemeral ports; anonymous access allowed.
/// Stopped and joined on drop.
pub struct TlsBroker {
    pub tls_addr: SocketAddr,
    pub plain_addr: SocketAddr,
    _broker: TestBroker,
}

impl TlsBroker {
    pub fn start(tls: TlsSettings) -> TlsBroker {
        TlsBroker::start_with(tls, |_| {})
    }

    /// [`TlsBroker::start`], with `tweak` applied to the config.
    pub fn start_with(tls: TlsSettings, tweak: impl FnOnce(&mut Config)) -> TlsBroker {
        let loopback = Some("127.0.0.1".parse().unwrap());
        let mut secure = Listener::new(0, loopback);
        secure.tls = tls;
        let mut config = Config {
            listeners: vec![secure, Listener::new(0, loopback)],
            allow_anonymous: Some(true),
            ..Config::default()
        };
        tweak(&mut config);
        let broker = common::start_config(config);
        TlsBroker {
            tls_addr: broker.addrs[0],
            plain_addr: broker.addrs[1],
            _broker: broker,
        }
    }
}

/// A blocking TLS connection speaking raw MQTT.
pub struct TlsClient {
    stream: StreamOwned<ClientConnection, TcpStream>,
}

impl TlsClient {
    /// Connects and completes the handshake; `Err` says why it failed.
    pub fn open(addr: SocketAddr, config: Arc<ClientConfig>) -> Result<TlsClient, String> {
        let sock = TcpStream::connect(addr).expect("TCP connect to the broker");
        sock.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let conn = ClientConnection::new(config, name).unwrap();
        let mut stream = StreamOwned::new(conn, sock);
        while stream.conn.is_handshaking() {
            stream
                .conn
                .complete_io(&mut stream.sock)
                .map_err(|e| e.to_string())?;
        }
        Ok(TlsClient { stream })
    }

    /// The TLS stream itself, for a protocol on top (WebSocket).
    #[cfg(feature = "websockets")]
    pub fn into_stream(self) -> StreamOwned<ClientConnection, TcpStream> {
        self.stream
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to the broker");
        self.stream.flush().unwrap();
    }

    /// Reads one MQTT packet; `Err` on end of stream or a TLS error.
    pub fn try_read_packet(&mut self) -> Result<Vec<u8>, std::io::Error> {
        let mut packet = vec![0u8; 2];
        self.stream.read_exact(&mut packet)?;
        let mut remaining = usize::from(packet[1] & 0x7f);
        let mut shift = 7;
        while packet[packet.len() - 1] & 0x80 != 0 {
            let mut b = [0u8; 1];
            self.stream.read_exact(&mut b)?;
            packet.push(b[0]);
            remaining |= usize::from(b[0] & 0x7f) << shift;
            shift += 7;
        }
        let start = packet.len();
        packet.resize(start + remaining, 0);
        self.stream.read_exact(&mut packet[start..])?;
        Ok(packet)
    }

    /// Reads one packet and asserts it is exactly `expected`.
    pub fn expect(&mut self, expected: &[u8]) {
        let got = self.try_read_packet().expect("a packet from the broker");
        assert_eq!(
            hex(&got),
            hex(expected),
            "unexpected packet from the broker"
        );
    }

    /// Asserts that the broker ends the connection (close_notify, EOF or
    /// reset) without sending another packet.
    pub fn expect_closed(&mut self) {
        let mut buf = [0u8; 64];
        match self.stream.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => panic!("expected the end, got {}", hex(&buf[..n])),
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                panic!("the broker did not close the connection")
            }
            Err(_) => {}
        }
    }

    /// The TLS version agreed in the handshake.
    pub fn protocol_version(&self) -> Option<rustls::ProtocolVersion> {
        self.stream.conn.protocol_version()
    }

    /// True when the broker's last message was close_notify.
    pub fn peer_sent_close_notify(&mut self) -> bool {
        let mut buf = [0u8; 1];
        matches!(self.stream.read(&mut buf), Ok(0))
    }
}

/// Reads from a raw socket until the broker closes it (EOF or reset),
/// passing over what it sends first (a TLS alert). False if it is still
/// open after `within`.
pub fn closed_within(sock: &mut TcpStream, within: Duration) -> bool {
    sock.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match sock.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                return false
            }
            Err(_) => return true,
        }
    }
}
