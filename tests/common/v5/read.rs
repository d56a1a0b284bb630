//! Reading what the broker sends back over MQTT 5.0: property blocks,
//! CONNACK, DISCONNECT and PUBLISH, and the `Client` methods that read
//! them with the kit's timeouts.

use super::*;

/// A Variable Byte Integer at the front of `bytes`: its value and length.
fn read_varint(bytes: &[u8]) -> (usize, usize) {
    let mut value = 0usize;
    for (i, b) in bytes.iter().enumerate().take(4) {
        value |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return (value, i + 1);
        }
    }
    panic!("bad Variable Byte Integer in {}", hex(bytes));
}

/// Splits a property block (its length first) at the front of `bytes` into
/// (identifier, raw value bytes) pairs, in order, and returns them with the
/// number of bytes the whole block took.
pub fn parse_properties(bytes: &[u8]) -> (Vec<(u8, Vec<u8>)>, usize) {
    let (len, skip) = read_varint(bytes);
    let end = skip + len;
    assert!(
        end <= bytes.len(),
        "property block runs past the packet: {}",
        hex(bytes)
    );
    let block = &bytes[skip..end];
    let mut out = Vec::new();
    let mut at = 0;
    let string_at = |at: usize| -> usize {
        assert!(
            at + 2 <= block.len(),
            "truncated property in {}",
            hex(block)
        );
        2 + usize::from(u16::from_be_bytes([block[at], block[at + 1]]))
    };
    while at < block.len() {
        let pid = block[at];
        at += 1;
        let kind = kind_of(pid)
            .unwrap_or_else(|| panic!("unknown property 0x{pid:02x} in {}", hex(block)));
        let n = match kind {
            Kind::Byte => 1,
            Kind::Two => 2,
            Kind::Four => 4,
            Kind::VarInt => read_varint(&block[at..]).1,
            Kind::Str | Kind::Bin => string_at(at),
            Kind::Pair => {
                let first = string_at(at);
                first + string_at(at + first)
            }
        };
        assert!(
            at + n <= block.len(),
            "truncated property 0x{pid:02x} in {}",
            hex(block)
        );
        out.push((pid, block[at..at + n].to_vec()));
        at += n;
    }
    (out, end)
}

/// A CONNACK as received: flags, reason code and properties in order.
#[derive(Debug)]
pub struct Connack5 {
    pub session_present: bool,
    pub code: u8,
    pub properties: Vec<(u8, Vec<u8>)>,
}

impl Connack5 {
    /// The identifiers of the properties, in the order received.
    pub fn ids(&self) -> Vec<u8> {
        self.properties.iter().map(|(pid, _)| *pid).collect()
    }

    /// The raw value of property `pid`; fails the test if it is absent.
    pub fn value(&self, pid: u8) -> &[u8] {
        self.properties
            .iter()
            .find(|(p, _)| *p == pid)
            .map(|(_, v)| &v[..])
            .unwrap_or_else(|| panic!("CONNACK has no property 0x{pid:02x}: {self:?}"))
    }
}

/// Splits a received MQTT 5.0 CONNACK (section 3.2).
pub fn parse_connack5(raw: &[u8]) -> Connack5 {
    assert_eq!(raw[0], 0x20, "expected CONNACK, got {}", hex(raw));
    let (len, skip) = read_varint(&raw[1..]);
    let body = &raw[1 + skip..];
    assert_eq!(body.len(), len);
    assert!(body.len() >= 3, "CONNACK too short: {}", hex(raw));
    assert_eq!(
        body[0] & 0xfe,
        0,
        "reserved CONNACK flags set [MQTT-3.2.2-1]"
    );
    let (properties, n) = parse_properties(&body[2..]);
    assert_eq!(2 + n, body.len(), "bytes after CONNACK properties");
    Connack5 {
        session_present: body[0] & 1 == 1,
        code: body[1],
        properties,
    }
}

/// A DISCONNECT as received: reason code and properties, and its bytes.
#[derive(Debug)]
pub struct Disconnect5 {
    pub reason: u8,
    pub properties: Vec<(u8, Vec<u8>)>,
    pub raw: Vec<u8>,
}

/// A PUBLISH as received, split by the MQTT 5.0 layout.
#[derive(Debug)]
pub struct Publish5 {
    pub first: u8,
    pub topic: Vec<u8>,
    pub pid: u16,
    pub properties: Vec<(u8, Vec<u8>)>,
    pub payload: Vec<u8>,
}

/// Splits a received MQTT 5.0 PUBLISH.
pub fn parse_publish5(raw: &[u8]) -> Publish5 {
    assert_eq!(raw[0] >> 4, 3, "expected a PUBLISH, got {}", hex(raw));
    let (_, len_bytes) = read_varint(&raw[1..]);
    let body = &raw[1 + len_bytes..];
    let topic_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
    let topic = body[2..2 + topic_len].to_vec();
    let mut at = 2 + topic_len;
    let pid = if raw[0] & 0x06 != 0 {
        at += 2;
        u16::from_be_bytes([body[at - 2], body[at - 1]])
    } else {
        0
    };
    let (properties, n) = parse_properties(&body[at..]);
    Publish5 {
        first: raw[0],
        topic,
        pid,
        properties,
        payload: body[at + n..].to_vec(),
    }
}

impl Client {
    /// Opens a connection, sends `spec` and returns the CONNACK read back
    /// (asserting only that it is a well-formed MQTT 5.0 CONNACK).
    pub fn connect5_raw(addr: SocketAddr, spec: &V5ConnectSpec) -> (Client, Connack5) {
        let mut c = Client::open(addr);
        c.send(&spec.encode());
        let ack = c.read_connack5();
        (c, ack)
    }

    /// Opens a connection, sends `spec` and asserts a successful CONNACK
    /// with this Session Present flag.
    pub fn connect5_with(addr: SocketAddr, spec: &V5ConnectSpec, session_present: bool) -> Client {
        let (c, ack) = Client::connect5_raw(addr, spec);
        assert_eq!(ack.code, rc::SUCCESS, "CONNACK refused: {ack:?}");
        assert_eq!(
            ack.session_present, session_present,
            "Session Present in {ack:?}"
        );
        c
    }

    /// An MQTT 5.0 connection with Clean Start 1, keep-alive 60 s and no
    /// properties; asserts a successful CONNACK without a session.
    pub fn connect5(addr: SocketAddr, client_id: &str) -> Client {
        Client::connect5_with(addr, &V5ConnectSpec::new(client_id), false)
    }

    /// Reads one packet and splits it as an MQTT 5.0 CONNACK.
    pub fn read_connack5(&mut self) -> Connack5 {
        let raw = self.read_packet();
        parse_connack5(&raw)
    }

    /// Reads one packet and splits it as an MQTT 5.0 DISCONNECT.
    pub fn read_disconnect5(&mut self) -> Disconnect5 {
        let raw = self.read_packet();
        assert_eq!(raw[0], 0xe0, "expected DISCONNECT, got {}", hex(&raw));
        let (len, skip) = read_varint(&raw[1..]);
        let body = &raw[1 + skip..];
        assert_eq!(body.len(), len);
        if body.is_empty() {
            return Disconnect5 {
                reason: 0,
                properties: Vec::new(),
                raw,
            };
        }
        let properties = if body.len() > 1 {
            let (p, n) = parse_properties(&body[1..]);
            assert_eq!(1 + n, body.len(), "bytes after DISCONNECT properties");
            p
        } else {
            Vec::new()
        };
        Disconnect5 {
            reason: body[0],
            properties,
            raw: raw.clone(),
        }
    }

    /// Asserts that the next packet is a DISCONNECT with `reason` carrying
    /// no property a server may not send on it (only Reason String, User
    /// Property and Server Reference; never Session Expiry Interval
    /// [MQTT-3.14.2-2]), and that the connection is then closed.
    pub fn expect_disconnect5(&mut self, reason: u8) {
        let d = self.read_disconnect5();
        assert_eq!(
            d.reason,
            reason,
            "DISCONNECT reason 0x{:02x}, expected 0x{reason:02x}: {}",
            d.reason,
            hex(&d.raw)
        );
        for (pid, _) in &d.properties {
            assert!(
                [id::REASON_STRING, id::USER_PROPERTY, id::SERVER_REFERENCE].contains(pid),
                "property 0x{pid:02x} on a server's DISCONNECT: {}",
                hex(&d.raw)
            );
        }
        self.expect_closed();
    }

    /// Asserts a refusing CONNACK: Session Present 0 [MQTT-3.2.2-6], reason
    /// `code`, no property but Reason String or User Property; then the
    /// connection closes [MQTT-3.2.2-7].
    pub fn expect_connack5_refused(&mut self, code: u8) {
        let ack = self.read_connack5();
        assert_eq!(ack.code, code, "CONNACK reason code in {ack:?}");
        assert!(!ack.session_present, "Session Present on a refusal");
        for pid in ack.ids() {
            assert!(
                pid == id::REASON_STRING || pid == id::USER_PROPERTY,
                "property 0x{pid:02x} on a refusing CONNACK: {ack:?}"
            );
        }
        self.expect_closed();
    }

    /// Subscribes to one filter with this options byte and packet id and
    /// asserts the exact SUBACK granting the options' QoS.
    pub fn subscribe5(&mut self, pid: u16, filter: &str, opts: u8) {
        self.send(&subscribe5(pid, &Props::new(), &[(filter, opts)]));
        self.expect(&suback5(pid, &[opts & 0x03]));
    }

    /// Reads one packet and splits it as an MQTT 5.0 PUBLISH.
    pub fn read_publish5(&mut self) -> Publish5 {
        let raw = self.read_packet();
        parse_publish5(&raw)
    }

    /// Reads one PUBLISH and asserts it is exactly the one built from these
    /// fields; returns its packet id (the broker's choice, 0 at QoS 0).
    pub fn expect_publish5(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: u8,
        retain: bool,
        props: &Props,
    ) -> u16 {
        let raw = self.read_packet();
        let pid = parse_publish5(&raw).pid;
        assert_eq!(
            hex(&raw),
            hex(&publish5(topic, payload, qos, retain, pid, props)),
            "PUBLISH delivered"
        );
        if qos > 0 {
            assert_ne!(pid, 0, "a QoS {qos} PUBLISH needs a non-zero packet id");
        }
        pid
    }

    /// Sends DISCONNECT with reason 0 and no properties (`e0 00`) and waits
    /// until the broker has closed the socket.
    pub fn disconnect5(mut self) {
        self.send(&[0xe0, 0x00]);
        self.expect_closed();
    }

    /// Reads one packet, or `None` if the broker closes the connection
    /// first (EOF or reset, before the read timeout).
    pub fn read_packet_or_close(&mut self) -> Option<Vec<u8>> {
        use std::io::{ErrorKind, Read};
        let mut first = [0u8; 1];
        match self.stream.read(&mut first) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {
                return None
            }
            Err(e) => panic!("reading from the broker: {e}"),
        }
        let mut rest = Vec::new();
        let mut remaining = 0usize;
        let mut shift = 0;
        loop {
            let mut b = [0u8; 1];
            self.read_exact(&mut b, "remaining length");
            rest.push(b[0]);
            remaining |= usize::from(b[0] & 0x7f) << shift;
            if b[0] & 0x80 == 0 {
                break;
            }
            shift += 7;
            assert!(shift < 28, "broker sent a remaining length over 4 bytes");
        }
        let mut body = vec![0u8; remaining];
        self.read_exact(&mut body, "packet body");
        let mut packet = first.to_vec();
        packet.extend(rest);
        packet.extend(body);
        Some(packet)
    }
}
