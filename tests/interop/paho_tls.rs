//! TLS interop with paho-mqtt's `tls_set`: each test runs one check of
//! `paho_tls_check.py` against its own broker with a TLS listener, whose
//! certificate (for 127.0.0.1, signed by a CA made for the test with
//! rcgen) the script's client verifies.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

use crate::support::{python, run_script, script_dir, Broker};

/// The PEM files of one test, in a directory removed on drop: `ca.pem`
/// signed `server.pem` (key `server.key`); `other-ca.pem` signed nothing.
struct Certs {
    dir: PathBuf,
}

impl Certs {
    fn new(name: &str) -> Certs {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("interop-tls-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create the certificate directory");
        let ca = make_ca("midge interop CA");
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "127.0.0.1");
        let cert = params.signed_by(&key, &ca).unwrap();
        fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        fs::write(dir.join("other-ca.pem"), make_ca("someone else").pem()).unwrap();
        fs::write(dir.join("server.pem"), cert.pem()).unwrap();
        fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
        Certs { dir }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn make_ca(cn: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// Runs `paho_tls_check.py PORT CAFILE OTHER_CA CHECK` against a fresh
/// broker with a TLS listener.
fn paho_tls(check: &str) {
    let certs = Certs::new(check);
    let broker = Broker::start_tls(
        &format!("paho-tls-{check}"),
        &certs.path("server.pem"),
        &certs.path("server.key"),
    );
    run_script(
        Command::new(python())
            .arg(script_dir().join("paho_tls_check.py"))
            .arg(broker.port.to_string())
            .arg(certs.path("ca.pem"))
            .arg(certs.path("other-ca.pem"))
            .arg(check),
        "run scripts/test.sh",
    );
}

/// MQTT 3.1.1 over TLS: SUBACK QoS 1, PUBACK, the message back once.
#[test]
fn paho_tls_qos1_round_trip_v311() {
    paho_tls("round_trip_311");
}

/// MQTT 5.0 over TLS: SUBACK QoS 1, PUBACK Success, the message back once.
#[test]
fn paho_tls_qos1_round_trip_v5() {
    paho_tls("round_trip_5");
}

/// A client trusting another CA fails certificate verification (3.1.1
/// and 5.0); the broker goes on serving the right CA.
#[test]
fn paho_tls_wrong_ca_fails_the_handshake() {
    paho_tls("wrong_ca");
}
