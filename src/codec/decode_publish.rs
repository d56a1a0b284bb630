//! The PUBLISH, the one packet on the hot path: [`is_publish`] and
//! [`decode_publish_frame`] for the broker, with a fast path for the
//! common frame, and [`decode_publish`], the general decoder that
//! [`decode`](super::decode())(super::decode) uses too.

use bytes::{Buf, Bytes};

use super::decode::{open, packet_id, DecodeError, PUBLISH};
use super::properties::PublishProperties;
use super::props_decode::decode_publish_properties;
use super::types::{ByteStr, Protocol, Publish, QoS};
use super::wire::{self, Reader};

/// True when the frame `check` found is a PUBLISH: the broker then calls
/// [`decode_publish_frame`], which gives what [`decode`](super::decode()) would without the
/// `Packet` around it (the PUBLISH is the one packet on the hot path, and
/// `Packet`, sized by its largest variant, is twice a `Publish`).
#[inline]
pub fn is_publish(frame: &[u8]) -> bool {
    frame.first().is_some_and(|b| b >> 4 == PUBLISH)
}

/// Decodes a frame [`is_publish`] said is a PUBLISH: the same result as
/// [`decode`](super::decode()) gives, unwrapped.
pub fn decode_publish_frame(frame: Bytes, protocol: Protocol) -> Result<Publish, DecodeError> {
    let (kind, flags, header) = open(&frame)?;
    if kind != PUBLISH {
        return Err(DecodeError::Malformed("not a PUBLISH"));
    }
    if let Some(p) = plain_publish(&frame, flags, header, protocol) {
        return Ok(p(frame));
    }
    let mut r = Reader::new(&frame, header, frame.len());
    // The payload is the rest: nothing can trail it.
    decode_publish(&mut r, flags, protocol)
}

/// The common PUBLISH, checked without the [`Reader`]: a valid QoS, a
/// plain ASCII topic, a non-zero packet id where there is one, and (5.0)
/// no properties. It is then built from the owned frame: the payload is
/// the frame itself, advanced, so no reference is taken and dropped for
/// it. Anything else returns `None` and goes through [`decode_publish`],
/// which gives the same result for these and the errors for the rest.
#[inline(always)]
fn plain_publish(
    b: &[u8],
    flags: u8,
    header: usize,
    protocol: Protocol,
) -> Option<impl FnOnce(Bytes) -> Publish> {
    let qos = QoS::from_u8((flags >> 1) & 0x03)?;
    let dup = flags & 0x08 != 0;
    if dup && qos == QoS::AtMostOnce {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([*b.get(header)?, *b.get(header + 1)?]));
    let topic = header + 2..header + 2 + len;
    let mut pos = topic.end;
    if len == 0 || !wire::ascii_without_nul(b.get(topic.clone())?) {
        return None;
    }
    let packet_id = if qos == QoS::AtMostOnce {
        0
    } else {
        pos += 2;
        match u16::from_be_bytes([*b.get(pos - 2)?, *b.get(pos - 1)?]) {
            0 => return None,
            id => id,
        }
    };
    if protocol.is_v5() {
        if *b.get(pos)? != 0 {
            return None;
        }
        pos += 1;
    }
    Some(move |mut frame: Bytes| {
        let topic = ByteStr::from_checked(frame.slice(topic));
        frame.advance(pos);
        Publish {
            dup,
            qos,
            retain: flags & 0x01 != 0,
            topic,
            packet_id,
            properties: PublishProperties::default(),
            payload: frame,
        }
    })
}

pub(super) fn decode_publish(
    r: &mut Reader<'_>,
    flags: u8,
    protocol: Protocol,
) -> Result<Publish, DecodeError> {
    let dup = flags & 0x08 != 0;
    let qos = QoS::from_u8((flags >> 1) & 0x03).ok_or(DecodeError::Malformed("PUBLISH QoS 3"))?;
    if protocol != Protocol::V31 && dup && qos == QoS::AtMostOnce {
        return Err(DecodeError::Malformed("DUP set on a QoS 0 PUBLISH"));
    }
    let topic = r.string()?;
    let packet_id = if qos == QoS::AtMostOnce {
        0
    } else {
        packet_id(r)?
    };
    let properties = if protocol.is_v5() {
        decode_publish_properties(r, PUBLISH)?.0
    } else {
        PublishProperties::default()
    };
    if protocol.is_v5() && topic.is_empty() && properties.topic_alias.is_none() {
        // Section 3.3.2.1: "It is a Protocol Error if the Topic Name is zero
        // length and there is no Topic Alias." (A 3.x empty topic is left to
        // the broker's topic check [MQTT-4.7.3-1].)
        return Err(DecodeError::Protocol(
            "empty topic name without a topic alias",
        ));
    }
    Ok(Publish {
        dup,
        qos,
        retain: flags & 0x01 != 0,
        topic,
        packet_id,
        properties,
        payload: r.rest(),
    })
}
