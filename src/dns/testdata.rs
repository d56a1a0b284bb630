//! Hand-built DNS responses for the tests and the fuzz seeds: the reply a
//! recursive resolver sends (QR, RD, RA), its question echoing the query,
//! owners equal to the question compressed to a pointer at it.

use std::net::IpAddr;

use super::name;
use super::wire::QType;

/// One answer record.
#[derive(Debug, Clone)]
pub struct Rr {
    /// `None`: the question's name.
    pub owner: Option<String>,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub data: Vec<u8>,
}

impl Rr {
    /// The question name's A or AAAA record for `addr`.
    pub fn addr(addr: IpAddr, ttl: u32) -> Rr {
        let (rtype, data) = match addr {
            IpAddr::V4(a) => (1, a.octets().to_vec()),
            IpAddr::V6(a) => (28, a.octets().to_vec()),
        };
        Rr {
            owner: None,
            rtype,
            class: 1,
            ttl,
            data,
        }
    }

    /// Any record of `owner`, with a TTL of 60.
    pub fn other(owner: &str, rtype: u16, class: u16, data: &[u8]) -> Rr {
        Rr {
            owner: Some(owner.to_string()),
            rtype,
            class,
            ttl: 60,
            data: data.to_vec(),
        }
    }

    /// `owner CNAME target`.
    pub fn cname(owner: &str, target: &str, ttl: u32) -> Rr {
        let mut data = Vec::new();
        name::encode(target, &mut data).expect("a valid target");
        Rr {
            ttl,
            ..Rr::other(owner, 5, 1, &data)
        }
    }
}

/// The NOERROR reply with id `id` to `name`'s `qtype` query.
pub fn reply(id: u16, name: &str, qtype: QType, answers: &[Rr]) -> Vec<u8> {
    reply_rcode(id, name, qtype, 0, answers)
}

/// The reply with `rcode`.
pub fn reply_rcode(id: u16, name: &str, qtype: QType, rcode: u8, answers: &[Rr]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0x81, 0x80 | rcode, 0, 1]);
    m.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 0]);
    name::encode(name, &mut m).expect("a valid name");
    m.extend_from_slice(&qtype.code().to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    for rr in answers {
        match &rr.owner {
            Some(o) if !o.eq_ignore_ascii_case(name) => {
                name::encode(o, &mut m).expect("a valid owner")
            }
            _ => m.extend_from_slice(&[0xc0, 0x0c]),
        }
        m.extend_from_slice(&rr.rtype.to_be_bytes());
        m.extend_from_slice(&rr.class.to_be_bytes());
        m.extend_from_slice(&rr.ttl.to_be_bytes());
        m.extend_from_slice(&(rr.data.len() as u16).to_be_bytes());
        m.extend_from_slice(&rr.data);
    }
    m
}
