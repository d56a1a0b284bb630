//! Packet types shared by the decoder, the encoder and the broker.

use bytes::Bytes;
use std::fmt;

use super::properties::{Properties, PublishProperties};

/// The protocol a connection speaks, fixed by its CONNECT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// MQTT 3.1: protocol name `MQIsdp`, level 3.
    V31,
    /// MQTT 3.1.1: protocol name `MQTT`, level 4.
    V311,
    /// MQTT 5.0: protocol name `MQTT`, level 5.
    V5,
}

impl Protocol {
    /// The protocol level byte of CONNECT.
    pub fn level(self) -> u8 {
        match self {
            Protocol::V31 => 3,
            Protocol::V311 => 4,
            Protocol::V5 => 5,
        }
    }

    /// The protocol name of CONNECT.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::V31 => "MQIsdp",
            Protocol::V311 | Protocol::V5 => "MQTT",
        }
    }

    /// Identifies the protocol from the CONNECT name and level; `None` when
    /// the pair is not one midge speaks [MQTT-3.1.2-1, MQTT-3.1.2-2].
    pub fn from_name_level(name: &[u8], level: u8) -> Option<Protocol> {
        match (name, level) {
            (b"MQIsdp", 3) => Some(Protocol::V31),
            (b"MQTT", 4) => Some(Protocol::V311),
            (b"MQTT", 5) => Some(Protocol::V5),
            _ => None,
        }
    }

    /// True for MQTT 5, which carries properties and reason codes.
    pub fn is_v5(self) -> bool {
        self == Protocol::V5
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::V31 => "3.1",
            Protocol::V311 => "3.1.1",
            Protocol::V5 => "5.0",
        })
    }
}

/// Quality of service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(u8)]
pub enum QoS {
    #[default]
    AtMostOnce = 0,
    AtLeastOnce = 1,
    ExactlyOnce = 2,
}

impl QoS {
    /// Parses the two QoS bits; 3 is not a QoS.
    pub fn from_u8(v: u8) -> Option<QoS> {
        match v {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }
}

/// A UTF-8 string that is a zero-copy slice of a received frame.
///
/// The only way to build one checks that the bytes are valid UTF-8 (and
/// the decoder also refuses U+0000, [MQTT-1.5.4-2]), so reading it back as
/// `&str` cannot fail.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteStr(Bytes);

/// Hashes as the `str` it holds, so maps keyed by `ByteStr` can be looked up
/// with a `&str`.
impl std::hash::Hash for ByteStr {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl std::borrow::Borrow<str> for ByteStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl ByteStr {
    /// Checks that `bytes` is UTF-8; on failure hands the bytes back.
    pub fn from_utf8(bytes: Bytes) -> Result<ByteStr, Bytes> {
        match std::str::from_utf8(&bytes) {
            Ok(_) => Ok(ByteStr(bytes)),
            Err(_) => Err(bytes),
        }
    }

    /// Takes `bytes` when they are ASCII without NUL (a valid MQTT string,
    /// checked in one vectorised pass); hands them back otherwise, for the
    /// full UTF-8 check.
    pub(crate) fn from_plain_ascii(bytes: Bytes) -> Result<ByteStr, Bytes> {
        if crate::codec::wire::ascii_without_nul(&bytes) {
            Ok(ByteStr(bytes))
        } else {
            Err(bytes)
        }
    }

    /// Bytes the caller has already checked are a valid MQTT string (for
    /// the decoder's fast path, after [`crate::swar::ascii_without_nul`]).
    pub(crate) fn from_checked(bytes: Bytes) -> ByteStr {
        debug_assert!(std::str::from_utf8(&bytes).is_ok() && !bytes.contains(&0));
        ByteStr(bytes)
    }

    /// A string known at compile time.
    pub const fn from_static(s: &'static str) -> ByteStr {
        ByteStr(Bytes::from_static(s.as_bytes()))
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor checked (or was given) valid UTF-8 and
        // the inner `Bytes` is immutable.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The underlying bytes (shares the buffer).
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A copy in a buffer of its own, so that a long-lived value does not
    /// pin the receive buffer it was sliced from.
    pub fn compact(&self) -> ByteStr {
        ByteStr(Bytes::copy_from_slice(&self.0))
    }
}

impl From<String> for ByteStr {
    fn from(s: String) -> ByteStr {
        ByteStr(Bytes::from(s))
    }
}

impl From<&str> for ByteStr {
    fn from(s: &str) -> ByteStr {
        ByteStr(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl std::ops::Deref for ByteStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The will message carried in CONNECT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Will {
    pub topic: ByteStr,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    /// MQTT 5 Will Delay Interval in seconds (0 when absent).
    pub delay_interval: u32,
    /// MQTT 5 will properties other than the delay.
    pub properties: PublishProperties,
}

/// CONNECT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connect {
    pub protocol: Protocol,
    /// "Clean session" in 3.x, "clean start" in 5.
    pub clean_start: bool,
    pub keep_alive: u16,
    pub client_id: ByteStr,
    pub will: Option<Will>,
    pub username: Option<ByteStr>,
    pub password: Option<Bytes>,
    pub properties: Properties,
    /// A 3.x bridge announced itself (`try_private`): bit 0x80 of the
    /// protocol level, as Mosquitto's bridges set it. The broker then
    /// treats its subscriptions as No Local and Retain As Published, so
    /// that what it forwards is not echoed back to it.
    pub bridge: bool,
}

/// CONNACK. `code` is the 3.x return code or the 5.0 reason code.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ConnAck {
    pub session_present: bool,
    pub code: u8,
    pub properties: Properties,
}

/// PUBLISH. `packet_id` is 0 at QoS 0 (the field is absent on the wire).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publish {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    pub topic: ByteStr,
    pub packet_id: u16,
    pub properties: PublishProperties,
    pub payload: Bytes,
}

/// PUBACK, PUBREC, PUBREL and PUBCOMP share one shape. In 3.x `reason` is
/// always 0 and there are no properties.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Ack {
    pub packet_id: u16,
    pub reason: u8,
    pub properties: Properties,
}

impl Ack {
    /// A success acknowledgement for `packet_id`.
    pub fn new(packet_id: u16) -> Ack {
        Ack {
            packet_id,
            ..Ack::default()
        }
    }
}

/// The options byte of one SUBSCRIBE entry. In 3.x only `qos` is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SubOptions {
    pub qos: QoS,
    pub no_local: bool,
    pub retain_as_published: bool,
    /// 0: send retained on subscribe; 1: only if the subscription is new;
    /// 2: never.
    pub retain_handling: u8,
}

/// SUBSCRIBE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscribe {
    pub packet_id: u16,
    pub filters: Vec<(ByteStr, SubOptions)>,
    pub properties: Properties,
}

/// SUBACK: one return/reason code per requested filter.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SubAck {
    pub packet_id: u16,
    pub codes: Vec<u8>,
    pub properties: Properties,
}

/// UNSUBSCRIBE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsubscribe {
    pub packet_id: u16,
    pub filters: Vec<ByteStr>,
    pub properties: Properties,
}

/// UNSUBACK. `codes` is empty in 3.x (the packet has none).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct UnsubAck {
    pub packet_id: u16,
    pub codes: Vec<u8>,
    pub properties: Properties,
}

/// DISCONNECT (5.0 carries a reason and properties; 3.x has neither).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Disconnect {
    pub reason: u8,
    pub properties: Properties,
}

/// AUTH (5.0 only).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Auth {
    pub reason: u8,
    pub properties: Properties,
}

/// Any MQTT control packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet {
    Connect(Box<Connect>),
    ConnAck(ConnAck),
    Publish(Publish),
    PubAck(Ack),
    PubRec(Ack),
    PubRel(Ack),
    PubComp(Ack),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    PingReq,
    PingResp,
    Disconnect(Disconnect),
    Auth(Auth),
}

impl Packet {
    /// The packet type name, for log lines.
    pub fn name(&self) -> &'static str {
        match self {
            Packet::Connect(_) => "CONNECT",
            Packet::ConnAck(_) => "CONNACK",
            Packet::Publish(_) => "PUBLISH",
            Packet::PubAck(_) => "PUBACK",
            Packet::PubRec(_) => "PUBREC",
            Packet::PubRel(_) => "PUBREL",
            Packet::PubComp(_) => "PUBCOMP",
            Packet::Subscribe(_) => "SUBSCRIBE",
            Packet::SubAck(_) => "SUBACK",
            Packet::Unsubscribe(_) => "UNSUBSCRIBE",
            Packet::UnsubAck(_) => "UNSUBACK",
            Packet::PingReq => "PINGREQ",
            Packet::PingResp => "PINGRESP",
            Packet::Disconnect(_) => "DISCONNECT",
            Packet::Auth(_) => "AUTH",
        }
    }
}

/// MQTT 3.x CONNACK return codes.
pub mod connack {
    pub const ACCEPTED: u8 = 0x00;
    pub const UNACCEPTABLE_PROTOCOL_VERSION: u8 = 0x01;
    pub const IDENTIFIER_REJECTED: u8 = 0x02;
    pub const SERVER_UNAVAILABLE: u8 = 0x03;
    pub const BAD_USERNAME_OR_PASSWORD: u8 = 0x04;
    pub const NOT_AUTHORIZED: u8 = 0x05;
}

/// MQTT 5 reason codes (also the 3.1.1 SUBACK failure code 0x80).
pub mod reason {
    pub const SUCCESS: u8 = 0x00;
    pub const GRANTED_QOS_1: u8 = 0x01;
    pub const GRANTED_QOS_2: u8 = 0x02;
    pub const DISCONNECT_WITH_WILL: u8 = 0x04;
    pub const NO_MATCHING_SUBSCRIBERS: u8 = 0x10;
    pub const NO_SUBSCRIPTION_EXISTED: u8 = 0x11;
    pub const CONTINUE_AUTHENTICATION: u8 = 0x18;
    pub const REAUTHENTICATE: u8 = 0x19;
    pub const UNSPECIFIED_ERROR: u8 = 0x80;
    pub const MALFORMED_PACKET: u8 = 0x81;
    pub const PROTOCOL_ERROR: u8 = 0x82;
    pub const IMPLEMENTATION_SPECIFIC_ERROR: u8 = 0x83;
    pub const UNSUPPORTED_PROTOCOL_VERSION: u8 = 0x84;
    pub const CLIENT_IDENTIFIER_NOT_VALID: u8 = 0x85;
    pub const BAD_USERNAME_OR_PASSWORD: u8 = 0x86;
    pub const NOT_AUTHORIZED: u8 = 0x87;
    pub const SERVER_UNAVAILABLE: u8 = 0x88;
    pub const SERVER_BUSY: u8 = 0x89;
    pub const BANNED: u8 = 0x8A;
    pub const SERVER_SHUTTING_DOWN: u8 = 0x8B;
    pub const BAD_AUTHENTICATION_METHOD: u8 = 0x8C;
    pub const KEEP_ALIVE_TIMEOUT: u8 = 0x8D;
    pub const SESSION_TAKEN_OVER: u8 = 0x8E;
    pub const TOPIC_FILTER_INVALID: u8 = 0x8F;
    pub const TOPIC_NAME_INVALID: u8 = 0x90;
    pub const PACKET_IDENTIFIER_IN_USE: u8 = 0x91;
    pub const PACKET_IDENTIFIER_NOT_FOUND: u8 = 0x92;
    pub const RECEIVE_MAXIMUM_EXCEEDED: u8 = 0x93;
    pub const TOPIC_ALIAS_INVALID: u8 = 0x94;
    pub const PACKET_TOO_LARGE: u8 = 0x95;
    pub const MESSAGE_RATE_TOO_HIGH: u8 = 0x96;
    pub const QUOTA_EXCEEDED: u8 = 0x97;
    pub const ADMINISTRATIVE_ACTION: u8 = 0x98;
    pub const PAYLOAD_FORMAT_INVALID: u8 = 0x99;
    pub const RETAIN_NOT_SUPPORTED: u8 = 0x9A;
    pub const QOS_NOT_SUPPORTED: u8 = 0x9B;
    pub const USE_ANOTHER_SERVER: u8 = 0x9C;
    pub const SERVER_MOVED: u8 = 0x9D;
    pub const SHARED_SUBSCRIPTIONS_NOT_SUPPORTED: u8 = 0x9E;
    pub const CONNECTION_RATE_EXCEEDED: u8 = 0x9F;
    pub const MAXIMUM_CONNECT_TIME: u8 = 0xA0;
    pub const SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED: u8 = 0xA1;
    pub const WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED: u8 = 0xA2;
}
