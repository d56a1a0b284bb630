//! The certificate target (with the `tls` feature). Input: bytes taken as
//! a DER certificate, and the same bytes as a bare subject (an RDN
//! sequence).
//!
//! Checked: reading never panics; a certificate's subject is a slice of
//! the input; the RFC 2253 text of any subject is printable ASCII (every
//! other byte escaped), and its Common Name, when there is one, has no NUL;
//! validity times print.

use crate::tls::{dn, x509};

/// Runs one input (see the module doc).
pub fn run(data: &[u8]) {
    if let Ok(info) = x509::parse(data) {
        let start = data.as_ptr() as usize;
        let at = info.subject.as_ptr() as usize;
        assert!(
            at >= start && at + info.subject.len() <= start + data.len(),
            "the subject is not within the input"
        );
        assert!(!x509::format_time(info.not_before).is_empty());
        assert!(!x509::format_time(info.not_after).is_empty());
        subject(info.subject);
    }
    subject(data);
}

fn subject(der: &[u8]) {
    if let Ok(text) = dn::rfc2253(der) {
        assert!(
            text.bytes().all(|b| (0x20..0x7f).contains(&b)),
            "unescaped byte in {text:?}"
        );
    }
    if let Some(cn) = x509::common_name(der) {
        assert!(!cn.contains('\0'), "NUL in the common name {cn:?}");
    }
}
