//! Certificates for the unit tests of `tls`, made with rcgen when a test
//! runs and written as PEM files into a directory of the test's own
//! (removed on drop): a CA (`ca.pem`), a CA that signed nothing
//! (`other-ca.pem`), and whatever the test issues with [`Pki::issue`].

use std::fs;
use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

/// A directory of PEM files for one test.
pub struct Pki {
    pub dir: PathBuf,
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    /// A fresh directory named after the test, with `ca.pem` and
    /// `other-ca.pem`.
    pub fn new(test: &str) -> Pki {
        let dir =
            std::env::temp_dir().join(format!("midge-unit-tls-{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let ca = make_ca("midge unit CA", |_| {});
        fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        let other = make_ca("someone else", |_| {});
        fs::write(dir.join("other-ca.pem"), other.pem()).unwrap();
        Pki { dir, ca }
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Issues `NAME.pem` and `NAME.key`, Common Name `cn`, names `sans`
    /// (an IP literal becomes an IP SAN), signed by the CA, with `tweak`
    /// applied to the parameters; returns the certificate's path.
    pub fn issue(
        &self,
        name: &str,
        cn: &str,
        sans: &[&str],
        tweak: impl FnOnce(&mut CertificateParams),
    ) -> PathBuf {
        let key = KeyPair::generate().unwrap();
        let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(sans).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        tweak(&mut params);
        let cert = params.signed_by(&key, &self.ca).unwrap();
        fs::write(self.path(&format!("{name}.key")), key.serialize_pem()).unwrap();
        let path = self.path(&format!("{name}.pem"));
        fs::write(&path, cert.pem()).unwrap();
        path
    }

    /// Writes a self-signed CA, with `tweak` applied, as `file`.
    pub fn write_ca(&self, file: &str, cn: &str, tweak: impl FnOnce(&mut CertificateParams)) {
        fs::write(self.path(file), make_ca(cn, tweak).pem()).unwrap();
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn make_ca(
    cn: &str,
    tweak: impl FnOnce(&mut CertificateParams),
) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.distinguished_name.push(DnType::CommonName, cn);
    tweak(&mut params);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}
