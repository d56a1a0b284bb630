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

mod read;
pub use read::*;

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
