//! MQTT 5 properties.
//!
//! Two shapes, chosen for the hot path:
//! - [`PublishProperties`] travels with every message, so it stays small: the
//!   broker only reads and rewrites the message expiry, the topic alias and
//!   the subscription identifiers; every other PUBLISH property (payload
//!   format, content type, response topic, correlation data, user
//!   properties) is validated on decode and then kept as one zero-copy slice
//!   of the received property bytes, `passthrough`, which the encoder writes
//!   back verbatim.
//! - [`Properties`] holds every other property of every other packet.

use bytes::Bytes;

use super::types::ByteStr;

/// Property identifiers (MQTT 5, section 2.2.2.2).
pub mod id {
    pub const PAYLOAD_FORMAT_INDICATOR: u8 = 0x01;
    pub const MESSAGE_EXPIRY_INTERVAL: u8 = 0x02;
    pub const CONTENT_TYPE: u8 = 0x03;
    pub const RESPONSE_TOPIC: u8 = 0x08;
    pub const CORRELATION_DATA: u8 = 0x09;
    pub const SUBSCRIPTION_IDENTIFIER: u8 = 0x0B;
    pub const SESSION_EXPIRY_INTERVAL: u8 = 0x11;
    pub const ASSIGNED_CLIENT_IDENTIFIER: u8 = 0x12;
    pub const SERVER_KEEP_ALIVE: u8 = 0x13;
    pub const AUTHENTICATION_METHOD: u8 = 0x15;
    pub const AUTHENTICATION_DATA: u8 = 0x16;
    pub const REQUEST_PROBLEM_INFORMATION: u8 = 0x17;
    pub const WILL_DELAY_INTERVAL: u8 = 0x18;
    pub const REQUEST_RESPONSE_INFORMATION: u8 = 0x19;
    pub const RESPONSE_INFORMATION: u8 = 0x1A;
    pub const SERVER_REFERENCE: u8 = 0x1C;
    pub const REASON_STRING: u8 = 0x1F;
    pub const RECEIVE_MAXIMUM: u8 = 0x21;
    pub const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
    pub const TOPIC_ALIAS: u8 = 0x23;
    pub const MAXIMUM_QOS: u8 = 0x24;
    pub const RETAIN_AVAILABLE: u8 = 0x25;
    pub const USER_PROPERTY: u8 = 0x26;
    pub const MAXIMUM_PACKET_SIZE: u8 = 0x27;
    pub const WILDCARD_SUBSCRIPTION_AVAILABLE: u8 = 0x28;
    pub const SUBSCRIPTION_IDENTIFIER_AVAILABLE: u8 = 0x29;
    pub const SHARED_SUBSCRIPTION_AVAILABLE: u8 = 0x2A;
}

/// The properties of PUBLISH (and, without the delay, of a will).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PublishProperties {
    /// Message Expiry Interval, seconds.
    pub message_expiry: Option<u32>,
    /// Topic Alias.
    pub topic_alias: Option<u16>,
    /// Subscription Identifiers (server to client only).
    pub subscription_ids: Vec<u32>,
    /// Payload format, content type, response topic, correlation data and
    /// user properties exactly as received (already validated), in order.
    pub passthrough: Bytes,
}

impl PublishProperties {
    /// True when no property is set (always so for 3.x).
    pub fn is_empty(&self) -> bool {
        self.message_expiry.is_none()
            && self.topic_alias.is_none()
            && self.subscription_ids.is_empty()
            && self.passthrough.is_empty()
    }
}

/// The properties of every packet other than PUBLISH. The decoder refuses a
/// property that the packet type does not allow (Malformed Packet) and a
/// property other than User Property or Subscription Identifier that appears
/// twice (Protocol Error).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Properties {
    pub session_expiry: Option<u32>,
    pub receive_maximum: Option<u16>,
    pub maximum_packet_size: Option<u32>,
    pub topic_alias_maximum: Option<u16>,
    pub request_response_information: Option<u8>,
    pub request_problem_information: Option<u8>,
    pub authentication_method: Option<ByteStr>,
    pub authentication_data: Option<Bytes>,
    pub assigned_client_identifier: Option<ByteStr>,
    pub server_keep_alive: Option<u16>,
    pub response_information: Option<ByteStr>,
    pub server_reference: Option<ByteStr>,
    pub reason_string: Option<ByteStr>,
    pub maximum_qos: Option<u8>,
    pub retain_available: Option<u8>,
    pub wildcard_subscription_available: Option<u8>,
    pub subscription_identifier_available: Option<u8>,
    pub shared_subscription_available: Option<u8>,
    /// SUBSCRIBE only.
    pub subscription_identifier: Option<u32>,
    pub user: Vec<(ByteStr, ByteStr)>,
}
