//! Client certificates: `require_certificate`, `crlfile`, and the
//! certificate as username (`use_identity_as_username`,
//! `use_subject_as_username`). The username's exact text is checked in
//! `clients.rs`, from the real binary's log.

use midge::config::CertUsername;

use crate::common::{field, packet, ConnectSpec, CONNACK_ACCEPTED};
use crate::kit::{Pki, TlsBroker, TlsClient};

/// CONNACK refusing a 3.1.1 client with "bad user name or password".
const CONNACK_BAD_CREDENTIALS: &[u8] = &[0x20, 0x02, 0x00, 0x04];

/// A 3.1.1 CONNECT with a username and password.
fn connect_with_credentials(client_id: &str) -> Vec<u8> {
    let mut body = field(b"MQTT");
    body.extend([4, 0xc2, 0, 60]);
    body.extend(field(client_id.as_bytes()));
    body.extend(field(b"claimed-user"));
    body.extend(field(b"secret"));
    packet(0x10, &body)
}

/// With require_certificate, a client without a certificate, or with one
/// from another CA, fails the handshake; one signed by `cafile` connects.
#[test]
fn require_certificate_needs_a_certificate_from_the_ca() {
    let pki = Pki::new("require");
    pki.client("alice", "alice");
    let ca = pki.path("ca.pem");
    let broker = TlsBroker::start(pki.server_settings(|t| {
        t.require_certificate = true;
        t.cafile = Some(ca);
    }));
    // TLS 1.3: the client learns of the refusal on its first read.
    let refused = match TlsClient::open(broker.tls_addr, pki.client_config("ca.pem", None)) {
        Err(e) => e,
        Ok(mut c) => {
            c.send(&ConnectSpec::new("anon").encode());
            c.try_read_packet()
                .expect_err("no CONNACK without a certificate")
                .to_string()
        }
    };
    assert!(refused.contains("CertificateRequired"), "{refused}");

    let mut good = TlsClient::open(broker.tls_addr, pki.client_config("ca.pem", Some("alice")))
        .expect("handshake with a good certificate");
    good.send(&ConnectSpec::new("alice").encode());
    good.expect(CONNACK_ACCEPTED);
}

/// A client certificate from a CA the broker does not trust is refused.
#[test]
fn a_client_certificate_from_another_ca_is_refused() {
    let pki = Pki::new("require-other");
    let stranger = Pki::new("require-stranger");
    stranger.client("mallory", "mallory");
    std::fs::copy(stranger.path("mallory.pem"), pki.path("mallory.pem")).unwrap();
    std::fs::copy(stranger.path("mallory.key"), pki.path("mallory.key")).unwrap();
    let ca = pki.path("ca.pem");
    let broker = TlsBroker::start(pki.server_settings(|t| {
        t.require_certificate = true;
        t.cafile = Some(ca);
    }));
    let refused = match TlsClient::open(
        broker.tls_addr,
        pki.client_config("ca.pem", Some("mallory")),
    ) {
        Err(e) => e,
        Ok(mut c) => {
            c.send(&ConnectSpec::new("m").encode());
            c.try_read_packet().expect_err("no CONNACK").to_string()
        }
    };
    // Both test CAs have the same name: the signature check is what fails.
    assert!(refused.contains("fatal alert"), "{refused}");
}

/// use_identity_as_username admits a client with a certificate even with
/// allow_anonymous false, whatever credentials its CONNECT carries.
#[test]
fn the_certificate_authenticates_without_allow_anonymous() {
    let pki = Pki::new("identity");
    pki.client("bob", "bob");
    let ca = pki.path("ca.pem");
    let settings = pki.server_settings(|t| {
        t.require_certificate = true;
        t.cafile = Some(ca);
        t.cert_username = CertUsername::CommonName;
    });
    let broker = TlsBroker::start_with(settings, |c| c.allow_anonymous = Some(false));
    let mut c = TlsClient::open(broker.tls_addr, pki.client_config("ca.pem", Some("bob"))).unwrap();
    c.send(&connect_with_credentials("bob-device"));
    c.expect(CONNACK_ACCEPTED);
    // The plain listener still refuses anonymous clients.
    let mut plain = crate::common::Client::open(broker.plain_addr);
    plain.send(&ConnectSpec::new("anon").encode());
    plain.expect(&[0x20, 0x02, 0x00, 0x05]);
}

/// A certificate without a Common Name gives no username: the client is
/// refused with 0x04 (bad user name or password), as Mosquitto does.
#[test]
fn a_certificate_without_a_common_name_is_refused() {
    let pki = Pki::new("no-cn");
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::OrganizationName, "No CN Inc");
    pki.issue("nocn", dn, Vec::new());
    let ca = pki.path("ca.pem");
    let broker = TlsBroker::start(pki.server_settings(|t| {
        t.require_certificate = true;
        t.cafile = Some(ca);
        t.cert_username = CertUsername::CommonName;
    }));
    let mut c =
        TlsClient::open(broker.tls_addr, pki.client_config("ca.pem", Some("nocn"))).unwrap();
    c.send(&connect_with_credentials("nocn"));
    c.expect(CONNACK_BAD_CREDENTIALS);
    c.expect_closed();

    // With use_subject_as_username the same certificate has a name.
    let ca = pki.path("ca.pem");
    let broker = TlsBroker::start(pki.server_settings(|t| {
        t.require_certificate = true;
        t.cafile = Some(ca);
        t.cert_username = CertUsername::Subject;
    }));
    let mut c =
        TlsClient::open(broker.tls_addr, pki.client_config("ca.pem", Some("nocn"))).unwrap();
    c.send(&ConnectSpec::new("nocn").encode());
    c.expect(CONNACK_ACCEPTED);
}

/// A certificate revoked by the crlfile fails the handshake; another one
/// from the same CA connects.
#[test]
fn a_revoked_certificate_is_refused() {
    let pki = Pki::new("crl");
    pki.client("good", "good");
    let revoked_serial = pki.client_with_serial("revoked", "revoked", 0x4242);
    pki.write_crl("crl.pem", &[revoked_serial]);
    let (ca, crl) = (pki.path("ca.pem"), pki.path("crl.pem"));
    let broker = TlsBroker::start(pki.server_settings(|t| {
        t.require_certificate = true;
        t.cafile = Some(ca);
        t.crlfile = Some(crl);
    }));
    let refused = match TlsClient::open(
        broker.tls_addr,
        pki.client_config("ca.pem", Some("revoked")),
    ) {
        Err(e) => e,
        Ok(mut c) => {
            c.send(&ConnectSpec::new("r").encode());
            c.try_read_packet().expect_err("no CONNACK").to_string()
        }
    };
    assert!(refused.contains("CertificateRevoked"), "{refused}");
    let mut c =
        TlsClient::open(broker.tls_addr, pki.client_config("ca.pem", Some("good"))).unwrap();
    c.send(&ConnectSpec::new("g").encode());
    c.expect(CONNACK_ACCEPTED);
}
