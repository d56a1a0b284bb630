//! Decoding of MQTT 5 property blocks: each property's identifier checked
//! against the packet type that carries it, its value type and value rules,
//! duplicates refused; PUBLISH properties split into the few the broker
//! acts on and one zero-copy slice of the rest.

use bytes::{BufMut, Bytes, BytesMut};

use super::decode::{
    DecodeError, AUTH, CONNACK, CONNECT, DISCONNECT, PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL,
    SUBACK, SUBSCRIBE, UNSUBACK, WILL,
};
use super::properties::{id, Properties, PublishProperties};
use super::types::ByteStr;
use super::wire::Reader;

/// How a property value is encoded.
#[derive(Clone, Copy)]
enum Kind {
    Byte,
    Two,
    Four,
    VarInt,
    Str,
    Bin,
    Pair,
}

// Property contexts as bits: bit n is packet type n, bit 0 the will.
const IN_WILL: u16 = 1 << WILL;
const IN_CONNECT: u16 = 1 << CONNECT;
const IN_CONNACK: u16 = 1 << CONNACK;
const IN_PUBLISH: u16 = 1 << PUBLISH;
const IN_ACKS: u16 = (1 << PUBACK) | (1 << PUBREC) | (1 << PUBREL) | (1 << PUBCOMP);
const IN_SUBSCRIBE: u16 = 1 << SUBSCRIBE;
const IN_SUBACK: u16 = 1 << SUBACK;
const IN_UNSUBACK: u16 = 1 << UNSUBACK;
const IN_DISCONNECT: u16 = 1 << DISCONNECT;
const IN_AUTH: u16 = 1 << AUTH;
const IN_ALL: u16 = 0xFFFF;

/// The value encoding of property `pid` and the packets that allow it
/// (MQTT 5, section 2.2.2.2); `None` for an unknown identifier.
fn property_spec(pid: u8) -> Option<(Kind, u16)> {
    let spec = match pid {
        id::PAYLOAD_FORMAT_INDICATOR => (Kind::Byte, IN_PUBLISH | IN_WILL),
        id::MESSAGE_EXPIRY_INTERVAL => (Kind::Four, IN_PUBLISH | IN_WILL),
        id::CONTENT_TYPE => (Kind::Str, IN_PUBLISH | IN_WILL),
        id::RESPONSE_TOPIC => (Kind::Str, IN_PUBLISH | IN_WILL),
        id::CORRELATION_DATA => (Kind::Bin, IN_PUBLISH | IN_WILL),
        id::SUBSCRIPTION_IDENTIFIER => (Kind::VarInt, IN_PUBLISH | IN_SUBSCRIBE),
        id::SESSION_EXPIRY_INTERVAL => (Kind::Four, IN_CONNECT | IN_CONNACK | IN_DISCONNECT),
        id::ASSIGNED_CLIENT_IDENTIFIER => (Kind::Str, IN_CONNACK),
        id::SERVER_KEEP_ALIVE => (Kind::Two, IN_CONNACK),
        id::AUTHENTICATION_METHOD => (Kind::Str, IN_CONNECT | IN_CONNACK | IN_AUTH),
        id::AUTHENTICATION_DATA => (Kind::Bin, IN_CONNECT | IN_CONNACK | IN_AUTH),
        id::REQUEST_PROBLEM_INFORMATION => (Kind::Byte, IN_CONNECT),
        id::WILL_DELAY_INTERVAL => (Kind::Four, IN_WILL),
        id::REQUEST_RESPONSE_INFORMATION => (Kind::Byte, IN_CONNECT),
        id::RESPONSE_INFORMATION => (Kind::Str, IN_CONNACK),
        id::SERVER_REFERENCE => (Kind::Str, IN_CONNACK | IN_DISCONNECT),
        id::REASON_STRING => (
            Kind::Str,
            IN_CONNACK | IN_ACKS | IN_SUBACK | IN_UNSUBACK | IN_DISCONNECT | IN_AUTH,
        ),
        id::RECEIVE_MAXIMUM => (Kind::Two, IN_CONNECT | IN_CONNACK),
        id::TOPIC_ALIAS_MAXIMUM => (Kind::Two, IN_CONNECT | IN_CONNACK),
        id::TOPIC_ALIAS => (Kind::Two, IN_PUBLISH),
        id::MAXIMUM_QOS => (Kind::Byte, IN_CONNACK),
        id::RETAIN_AVAILABLE => (Kind::Byte, IN_CONNACK),
        id::USER_PROPERTY => (Kind::Pair, IN_ALL),
        id::MAXIMUM_PACKET_SIZE => (Kind::Four, IN_CONNECT | IN_CONNACK),
        id::WILDCARD_SUBSCRIPTION_AVAILABLE => (Kind::Byte, IN_CONNACK),
        id::SUBSCRIPTION_IDENTIFIER_AVAILABLE => (Kind::Byte, IN_CONNACK),
        id::SHARED_SUBSCRIPTION_AVAILABLE => (Kind::Byte, IN_CONNACK),
        _ => return None,
    };
    Some(spec)
}

/// A decoded property value.
enum Value {
    Int(u32),
    Str(ByteStr),
    Bin(Bytes),
    Pair(ByteStr, ByteStr),
}

/// One property, with where its bytes (identifier included) lie in the frame.
struct Prop {
    id: u8,
    value: Value,
    start: usize,
    end: usize,
}

/// Walks one property block (its variable-length length first) in context
/// `ctx`, checking each property's identifier, placement, uniqueness and
/// value, and hands each to `each` in order.
fn walk_properties(
    r: &mut Reader<'_>,
    ctx: u8,
    mut each: impl FnMut(Prop),
) -> Result<(), DecodeError> {
    let len = r.varint()? as usize;
    if len > r.remaining() {
        return Err(DecodeError::Malformed(
            "property length runs past the end of the packet",
        ));
    }
    let mut block = r.sub(len)?;
    let mut seen: u64 = 0;
    while !block.is_empty() {
        let start = block.pos();
        let pid = block.u8()?;
        let (kind, allowed) =
            property_spec(pid).ok_or(DecodeError::Malformed("unknown property identifier"))?;
        if allowed & (1 << ctx) == 0 {
            // Section 2.2.2.2: "an Identifier which is not valid for its
            // packet type" makes a Malformed Packet.
            return Err(DecodeError::Malformed(
                "property not valid in this packet type",
            ));
        }
        let repeatable =
            pid == id::USER_PROPERTY || (pid == id::SUBSCRIPTION_IDENTIFIER && ctx == PUBLISH);
        // Every known identifier is below 64.
        let bit = 1u64 << pid;
        if seen & bit != 0 && !repeatable {
            return Err(DecodeError::Protocol("duplicate property"));
        }
        seen |= bit;
        let value = match kind {
            Kind::Byte => Value::Int(u32::from(block.u8()?)),
            Kind::Two => Value::Int(u32::from(block.u16()?)),
            Kind::Four => Value::Int(block.u32()?),
            Kind::VarInt => Value::Int(block.varint()?),
            Kind::Str => Value::Str(block.string()?),
            Kind::Bin => Value::Bin(block.binary()?),
            Kind::Pair => Value::Pair(block.string()?, block.string()?),
        };
        if let Value::Int(v) = value {
            check_int_property(pid, v)?;
        }
        each(Prop {
            id: pid,
            value,
            start,
            end: block.pos(),
        });
    }
    Ok(())
}

/// The value rules of integer properties (MQTT 5, section 3.x.2.x).
fn check_int_property(pid: u8, v: u32) -> Result<(), DecodeError> {
    match pid {
        id::PAYLOAD_FORMAT_INDICATOR
        | id::REQUEST_PROBLEM_INFORMATION
        | id::REQUEST_RESPONSE_INFORMATION
        | id::MAXIMUM_QOS
        | id::RETAIN_AVAILABLE
        | id::WILDCARD_SUBSCRIPTION_AVAILABLE
        | id::SUBSCRIPTION_IDENTIFIER_AVAILABLE
        | id::SHARED_SUBSCRIPTION_AVAILABLE
            if v > 1 =>
        {
            Err(DecodeError::Protocol("property value must be 0 or 1"))
        }
        // Topic Alias 0 is refused by the broker, which must answer it with
        // its own reason code, 0x94 (section 3.3.2.3.4).
        id::RECEIVE_MAXIMUM | id::MAXIMUM_PACKET_SIZE | id::SUBSCRIPTION_IDENTIFIER if v == 0 => {
            Err(DecodeError::Protocol("property value must not be 0"))
        }
        _ => Ok(()),
    }
}

/// How many User Properties the property block at the front of `r` holds,
/// counted by skipping over values without checking them, so that the
/// list is allocated once at its size. Stops where the block stops
/// parsing (which the real walk then refuses).
fn count_user_properties(r: &Reader<'_>) -> usize {
    let mut scan = r.clone();
    let Ok(len) = scan.varint() else {
        return 0;
    };
    let Ok(mut block) = scan.sub(len as usize) else {
        return 0;
    };
    let mut n = 0;
    while let Ok(pid) = block.u8() {
        let Some((kind, _)) = property_spec(pid) else {
            break;
        };
        let skipped = match kind {
            Kind::Byte => block.skip(1),
            Kind::Two => block.skip(2),
            Kind::Four => block.skip(4),
            Kind::VarInt => block.varint().map(|_| ()),
            Kind::Str | Kind::Bin => block.skip_binary(),
            Kind::Pair => block.skip_binary().and_then(|()| block.skip_binary()),
        };
        if skipped.is_err() {
            break;
        }
        if pid == id::USER_PROPERTY {
            n += 1;
        }
    }
    n
}

/// The property block of any packet other than PUBLISH (and the will).
pub(super) fn decode_properties(r: &mut Reader<'_>, ctx: u8) -> Result<Properties, DecodeError> {
    let mut p = Properties {
        user: Vec::with_capacity(count_user_properties(r)),
        ..Properties::default()
    };
    walk_properties(r, ctx, |prop| match (prop.id, prop.value) {
        (id::SESSION_EXPIRY_INTERVAL, Value::Int(v)) => p.session_expiry = Some(v),
        (id::RECEIVE_MAXIMUM, Value::Int(v)) => p.receive_maximum = Some(v as u16),
        (id::MAXIMUM_PACKET_SIZE, Value::Int(v)) => p.maximum_packet_size = Some(v),
        (id::TOPIC_ALIAS_MAXIMUM, Value::Int(v)) => p.topic_alias_maximum = Some(v as u16),
        (id::REQUEST_RESPONSE_INFORMATION, Value::Int(v)) => {
            p.request_response_information = Some(v as u8)
        }
        (id::REQUEST_PROBLEM_INFORMATION, Value::Int(v)) => {
            p.request_problem_information = Some(v as u8)
        }
        (id::AUTHENTICATION_METHOD, Value::Str(s)) => p.authentication_method = Some(s),
        (id::AUTHENTICATION_DATA, Value::Bin(b)) => p.authentication_data = Some(b),
        (id::ASSIGNED_CLIENT_IDENTIFIER, Value::Str(s)) => p.assigned_client_identifier = Some(s),
        (id::SERVER_KEEP_ALIVE, Value::Int(v)) => p.server_keep_alive = Some(v as u16),
        (id::RESPONSE_INFORMATION, Value::Str(s)) => p.response_information = Some(s),
        (id::SERVER_REFERENCE, Value::Str(s)) => p.server_reference = Some(s),
        (id::REASON_STRING, Value::Str(s)) => p.reason_string = Some(s),
        (id::MAXIMUM_QOS, Value::Int(v)) => p.maximum_qos = Some(v as u8),
        (id::RETAIN_AVAILABLE, Value::Int(v)) => p.retain_available = Some(v as u8),
        (id::WILDCARD_SUBSCRIPTION_AVAILABLE, Value::Int(v)) => {
            p.wildcard_subscription_available = Some(v as u8)
        }
        (id::SUBSCRIPTION_IDENTIFIER_AVAILABLE, Value::Int(v)) => {
            p.subscription_identifier_available = Some(v as u8)
        }
        (id::SHARED_SUBSCRIPTION_AVAILABLE, Value::Int(v)) => {
            p.shared_subscription_available = Some(v as u8)
        }
        (id::SUBSCRIPTION_IDENTIFIER, Value::Int(v)) => p.subscription_identifier = Some(v),
        (id::USER_PROPERTY, Value::Pair(k, v)) => p.user.push((k, v)),
        // The context table admits no other property here.
        _ => {}
    })?;
    if p.authentication_data.is_some() && p.authentication_method.is_none() {
        return Err(DecodeError::Protocol(
            "authentication data without an authentication method",
        ));
    }
    Ok(p)
}

/// True for the PUBLISH properties the broker forwards untouched.
fn is_passthrough(pid: u8) -> bool {
    matches!(
        pid,
        id::PAYLOAD_FORMAT_INDICATOR
            | id::CONTENT_TYPE
            | id::RESPONSE_TOPIC
            | id::CORRELATION_DATA
            | id::USER_PROPERTY
    )
}

/// The property block of a PUBLISH (`ctx` PUBLISH) or of a will (`ctx`
/// WILL): the properties the broker acts on, the rest as one `passthrough`
/// slice (a copy only when they are interleaved with the others), and the
/// Will Delay Interval (0 when absent).
pub(super) fn decode_publish_properties(
    r: &mut Reader<'_>,
    ctx: u8,
) -> Result<(PublishProperties, u32), DecodeError> {
    // Most messages carry no property at all: one zero length byte.
    if r.peek() == Some(0) {
        r.u8()?;
        return Ok((PublishProperties::default(), 0));
    }
    let frame = r.frame();
    let again = r.clone();
    let mut p = PublishProperties::default();
    let mut delay = 0;
    let mut run: Option<(usize, usize)> = None;
    let mut scattered = false;
    let mut passthrough_len = 0;
    walk_properties(r, ctx, |prop| match (prop.id, prop.value) {
        (id::MESSAGE_EXPIRY_INTERVAL, Value::Int(v)) => p.message_expiry = Some(v),
        (id::TOPIC_ALIAS, Value::Int(v)) => p.topic_alias = Some(v as u16),
        (id::SUBSCRIPTION_IDENTIFIER, Value::Int(v)) => p.subscription_ids.push(v),
        (id::WILL_DELAY_INTERVAL, Value::Int(v)) => delay = v,
        _ => {
            passthrough_len += prop.end - prop.start;
            match run {
                None => run = Some((prop.start, prop.end)),
                Some((s, e)) if e == prop.start => run = Some((s, prop.end)),
                Some(_) => scattered = true,
            }
        }
    })?;
    if scattered {
        let mut buf = BytesMut::with_capacity(passthrough_len);
        let mut again = again;
        walk_properties(&mut again, ctx, |prop| {
            if is_passthrough(prop.id) {
                if let Some(raw) = frame.get(prop.start..prop.end) {
                    buf.put_slice(raw);
                }
            }
        })?;
        p.passthrough = buf.freeze();
    } else if let Some((s, e)) = run {
        p.passthrough = frame.slice(s..e);
    }
    Ok((p, delay))
}
