//! MQTT 5.0 packets built by hand, byte by byte, from the layouts of the
//! MQTT 5.0 specification, and a small reader for what the broker sends
//! back. Nothing here uses midge's codec.
//!
//! Contract:
//! - [`Props`] writes one property block; each property is its identifier
//!   byte followed by its value in the encoding the specification's
//!   property table gives it (section 2.2.2.2). Properties are written in
//!   the order the builder calls come, duplicates included, so a test can
//!   build packets that break the rules too.
//! - [`parse_properties`] splits a property block the broker sent into
//!   (identifier, raw value) pairs by the same table, and fails the test on
//!   an identifier the table does not know or a block that does not add up.
//! - The `Client` methods here read with the kit's timeouts, like the rest.

use std::net::SocketAddr;

use super::{field, hex, packet, remaining_length, Client};

/// Property identifiers and their value encodings (MQTT 5.0, section
/// 2.2.2.2, table 2-4).
pub mod id {
    /// Byte.
    pub const PAYLOAD_FORMAT_INDICATOR: u8 = 0x01;
    /// Four Byte Integer.
    pub const MESSAGE_EXPIRY_INTERVAL: u8 = 0x02;
    /// UTF-8 Encoded String.
    pub const CONTENT_TYPE: u8 = 0x03;
    /// UTF-8 Encoded String.
    pub const RESPONSE_TOPIC: u8 = 0x08;
    /// Binary Data.
    pub const CORRELATION_DATA: u8 = 0x09;
    /// Variable Byte Integer.
    pub const SUBSCRIPTION_IDENTIFIER: u8 = 0x0B;
    /// Four Byte Integer.
    pub const SESSION_EXPIRY_INTERVAL: u8 = 0x11;
    /// UTF-8 Encoded String.
    pub const ASSIGNED_CLIENT_IDENTIFIER: u8 = 0x12;
    /// Two Byte Integer.
    pub const SERVER_KEEP_ALIVE: u8 = 0x13;
    /// UTF-8 Encoded String.
    pub const AUTHENTICATION_METHOD: u8 = 0x15;
    /// Binary Data.
    pub const AUTHENTICATION_DATA: u8 = 0x16;
    /// Byte.
    pub const REQUEST_PROBLEM_INFORMATION: u8 = 0x17;
    /// Four Byte Integer.
    pub const WILL_DELAY_INTERVAL: u8 = 0x18;
    /// Byte.
    pub const REQUEST_RESPONSE_INFORMATION: u8 = 0x19;
    /// UTF-8 Encoded String.
    pub const RESPONSE_INFORMATION: u8 = 0x1A;
    /// UTF-8 Encoded String.
    pub const SERVER_REFERENCE: u8 = 0x1C;
    /// UTF-8 Encoded String.
    pub const REASON_STRING: u8 = 0x1F;
    /// Two Byte Integer.
    pub const RECEIVE_MAXIMUM: u8 = 0x21;
    /// Two Byte Integer.
    pub const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
    /// Two Byte Integer.
    pub const TOPIC_ALIAS: u8 = 0x23;
    /// Byte.
    pub const MAXIMUM_QOS: u8 = 0x24;
    /// Byte.
    pub const RETAIN_AVAILABLE: u8 = 0x25;
    /// UTF-8 String Pair.
    pub const USER_PROPERTY: u8 = 0x26;
    /// Four Byte Integer.
    pub const MAXIMUM_PACKET_SIZE: u8 = 0x27;
    /// Byte.
    pub const WILDCARD_SUBSCRIPTION_AVAILABLE: u8 = 0x28;
    /// Byte.
    pub const SUBSCRIPTION_IDENTIFIER_AVAILABLE: u8 = 0x29;
    /// Byte.
    pub const SHARED_SUBSCRIPTION_AVAILABLE: u8 = 0x2A;
}

/// The reason codes the tests expect (MQTT 5.0, section 2.4).
pub mod rc {
    pub const SUCCESS: u8 = 0x00;
    pub const DISCONNECT_WITH_WILL: u8 = 0x04;
    pub const NO_MATCHING_SUBSCRIBERS: u8 = 0x10;
    pub const NO_SUBSCRIPTION_EXISTED: u8 = 0x11;
    pub const MALFORMED_PACKET: u8 = 0x81;
    pub const PROTOCOL_ERROR: u8 = 0x82;
    pub const BAD_AUTHENTICATION_METHOD: u8 = 0x8C;
    pub const SESSION_TAKEN_OVER: u8 = 0x8E;
    pub const TOPIC_FILTER_INVALID: u8 = 0x8F;
    pub const TOPIC_NAME_INVALID: u8 = 0x90;
    pub const RECEIVE_MAXIMUM_EXCEEDED: u8 = 0x93;
    pub const TOPIC_ALIAS_INVALID: u8 = 0x94;
}

/// How a property's value is encoded on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Byte,
    Two,
    Four,
    VarInt,
    Str,
    Bin,
    Pair,
}

/// The value encoding of property `pid`, from the specification's table;
/// `None` for an identifier the table does not have.
fn kind_of(pid: u8) -> Option<Kind> {
    use id::*;
    let kind = match pid {
        PAYLOAD_FORMAT_INDICATOR
        | REQUEST_PROBLEM_INFORMATION
        | REQUEST_RESPONSE_INFORMATION
        | MAXIMUM_QOS
        | RETAIN_AVAILABLE
        | WILDCARD_SUBSCRIPTION_AVAILABLE
        | SUBSCRIPTION_IDENTIFIER_AVAILABLE
        | SHARED_SUBSCRIPTION_AVAILABLE => Kind::Byte,
        SERVER_KEEP_ALIVE | RECEIVE_MAXIMUM | TOPIC_ALIAS_MAXIMUM | TOPIC_ALIAS => Kind::Two,
        MESSAGE_EXPIRY_INTERVAL
        | SESSION_EXPIRY_INTERVAL
        | WILL_DELAY_INTERVAL
        | MAXIMUM_PACKET_SIZE => Kind::Four,
        SUBSCRIPTION_IDENTIFIER => Kind::VarInt,
        CONTENT_TYPE
        | RESPONSE_TOPIC
        | ASSIGNED_CLIENT_IDENTIFIER
        | AUTHENTICATION_METHOD
        | RESPONSE_INFORMATION
        | SERVER_REFERENCE
        | REASON_STRING => Kind::Str,
        CORRELATION_DATA | AUTHENTICATION_DATA => Kind::Bin,
        USER_PROPERTY => Kind::Pair,
        _ => return None,
    };
    Some(kind)
}

/// A property block under construction: the properties' bytes, without
/// the block's length (see [`Props::block`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Props(Vec<u8>);

impl Props {
    /// No properties (a block of length 0).
    pub fn new() -> Props {
        Props::default()
    }

    /// A Byte property.
    pub fn byte(mut self, pid: u8, v: u8) -> Props {
        self.0.extend([pid, v]);
        self
    }

    /// A Two Byte Integer property (big-endian).
    pub fn two(mut self, pid: u8, v: u16) -> Props {
        self.0.push(pid);
        self.0.extend(v.to_be_bytes());
        self
    }

    /// A Four Byte Integer property (big-endian).
    pub fn four(mut self, pid: u8, v: u32) -> Props {
        self.0.push(pid);
        self.0.extend(v.to_be_bytes());
        self
    }

    /// A Variable Byte Integer property.
    pub fn varint(mut self, pid: u8, v: u32) -> Props {
        self.0.push(pid);
        self.0.extend(remaining_length(v as usize));
        self
    }

    /// A UTF-8 Encoded String property (two-byte length, then the bytes).
    pub fn string(mut self, pid: u8, s: &str) -> Props {
        self.0.push(pid);
        self.0.extend(field(s.as_bytes()));
        self
    }

    /// A UTF-8 String Pair property (two strings).
    pub fn pair(mut self, pid: u8, key: &str, value: &str) -> Props {
        self.0.push(pid);
        self.0.extend(field(key.as_bytes()));
        self.0.extend(field(value.as_bytes()));
        self
    }

    pub fn session_expiry(self, secs: u32) -> Props {
        self.four(id::SESSION_EXPIRY_INTERVAL, secs)
    }

    pub fn receive_maximum(self, n: u16) -> Props {
        self.two(id::RECEIVE_MAXIMUM, n)
    }

    pub fn maximum_packet_size(self, n: u32) -> Props {
        self.four(id::MAXIMUM_PACKET_SIZE, n)
    }

    pub fn topic_alias_maximum(self, n: u16) -> Props {
        self.two(id::TOPIC_ALIAS_MAXIMUM, n)
    }

    pub fn topic_alias(self, alias: u16) -> Props {
        self.two(id::TOPIC_ALIAS, alias)
    }

    pub fn message_expiry(self, secs: u32) -> Props {
        self.four(id::MESSAGE_EXPIRY_INTERVAL, secs)
    }

    pub fn subscription_identifier(self, n: u32) -> Props {
        self.varint(id::SUBSCRIPTION_IDENTIFIER, n)
    }

    pub fn authentication_method(self, method: &str) -> Props {
        self.string(id::AUTHENTICATION_METHOD, method)
    }

    pub fn user(self, key: &str, value: &str) -> Props {
        self.pair(id::USER_PROPERTY, key, value)
    }

    /// The properties' bytes alone.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The whole block: its length as a Variable Byte Integer, then the
    /// properties [MQTT 5.0 section 2.2.2.1].
    pub fn block(&self) -> Vec<u8> {
        let mut out = remaining_length(self.0.len());
        out.extend_from_slice(&self.0);
        out
    }
}

/// A will message for [`V5ConnectSpec`], with its Will Properties.
pub struct V5Will<'a> {
    pub properties: Props,
    pub topic: &'a str,
    pub payload: &'a [u8],
    pub qos: u8,
    pub retain: bool,
}

/// The fields of a hand-built MQTT 5.0 CONNECT.
pub struct V5ConnectSpec<'a> {
    pub clean_start: bool,
    pub keep_alive: u16,
    pub client_id: &'a str,
    pub properties: Props,
    pub will: Option<V5Will<'a>>,
}

impl<'a> V5ConnectSpec<'a> {
    /// Protocol level 5, Clean Start 1, keep-alive 60 s, no properties, no
    /// will.
    pub fn new(client_id: &'a str) -> Self {
        V5ConnectSpec {
            clean_start: true,
            keep_alive: 60,
            client_id,
            properties: Props::new(),
            will: None,
        }
    }

    /// The CONNECT packet bytes (MQTT 5.0 section 3.1): protocol name
    /// `MQTT`, version 5, flags, keep-alive, properties, then the payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut flags = 0u8;
        if self.clean_start {
            flags |= 0x02;
        }
        if let Some(w) = &self.will {
            flags |= 0x04 | (w.qos << 3);
            if w.retain {
                flags |= 0x20;
            }
        }
        let mut body = field(b"MQTT");
        body.push(5);
        body.push(flags);
        body.extend(self.keep_alive.to_be_bytes());
        body.extend(self.properties.block());
        body.extend(field(self.client_id.as_bytes()));
        if let Some(w) = &self.will {
            body.extend(w.properties.block());
            body.extend(field(w.topic.as_bytes()));
            body.extend(field(w.payload));
        }
        packet(0x10, &body)
    }
}

/// An MQTT 5.0 PUBLISH (section 3.3): topic, packet id (QoS 1 and 2 only),
/// properties, payload. Also builds the PUBLISH a test expects to receive.
pub fn publish5(
    topic: &str,
    payload: &[u8],
    qos: u8,
    retain: bool,
    pid: u16,
    props: &Props,
) -> Vec<u8> {
    let mut first = 0x30 | (qos << 1);
    if retain {
        first |= 0x01;
    }
    let mut body = field(topic.as_bytes());
    if qos > 0 {
        body.extend(pid.to_be_bytes());
    }
    body.extend(props.block());
    body.extend_from_slice(payload);
    packet(first, &body)
}

/// The Subscription Options byte (section 3.8.3.1): QoS in bits 0-1, No
/// Local bit 2, Retain As Published bit 3, Retain Handling bits 4-5.
pub fn options(qos: u8, no_local: bool, retain_as_published: bool, retain_handling: u8) -> u8 {
    qos | (u8::from(no_local) << 2) | (u8::from(retain_as_published) << 3) | (retain_handling << 4)
}

/// An MQTT 5.0 SUBSCRIBE (section 3.8): packet id, properties, then one
/// (filter, options byte) entry per pair.
pub fn subscribe5(pid: u16, props: &Props, filters: &[(&str, u8)]) -> Vec<u8> {
    let mut body = pid.to_be_bytes().to_vec();
    body.extend(props.block());
    for (filter, opts) in filters {
        body.extend(field(filter.as_bytes()));
        body.push(*opts);
    }
    packet(0x82, &body)
}

/// The SUBACK expected for `pid` with these reason codes and no
/// properties (section 3.9).
pub fn suback5(pid: u16, codes: &[u8]) -> Vec<u8> {
    let mut body = pid.to_be_bytes().to_vec();
    body.push(0);
    body.extend_from_slice(codes);
    packet(0x90, &body)
}

/// An MQTT 5.0 UNSUBSCRIBE with no properties (section 3.10).
pub fn unsubscribe5(pid: u16, filters: &[&str]) -> Vec<u8> {
    let mut body = pid.to_be_bytes().to_vec();
    body.push(0);
    for filter in filters {
        body.extend(field(filter.as_bytes()));
    }
    packet(0xa2, &body)
}

/// The UNSUBACK expected for `pid` with these reason codes and no
/// properties (section 3.11).
pub fn unsuback5(pid: u16, codes: &[u8]) -> Vec<u8> {
    let mut body = pid.to_be_bytes().to_vec();
    body.push(0);
    body.extend_from_slice(codes);
    packet(0xb0, &body)
}

/// PUBACK `0x40`, PUBREC `0x50`, PUBREL `0x62` or PUBCOMP `0x70` with a
/// reason code and no properties. Reason 0 takes the two-byte form the
/// specification allows when there is neither a reason code nor properties
/// to carry (section 3.4.2.1), which is the form midge sends.
pub fn ack5(first: u8, pid: u16, reason: u8) -> Vec<u8> {
    let mut body = pid.to_be_bytes().to_vec();
    if reason != 0 {
        body.push(reason);
    }
    packet(first, &body)
}

/// An MQTT 5.0 DISCONNECT with a reason code and properties (section 3.14).
pub fn disconnect5(reason: u8, props: &Props) -> Vec<u8> {
    let mut body = vec![reason];
    body.extend(props.block());
    packet(0xe0, &body)
}

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
