//! Encoding. (stub: signatures only, bodies to be written)

use bytes::BytesMut;

use super::types::{Packet, Protocol, QoS};

/// Everything that can differ between two copies of one PUBLISH sent to
/// different subscribers; the payload itself is written separately.
#[derive(Clone, Copy, Debug)]
pub struct PublishHeader<'a> {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    /// May be empty in MQTT 5 when `topic_alias` is set.
    pub topic: &'a str,
    /// Ignored at QoS 0.
    pub packet_id: u16,
    pub message_expiry: Option<u32>,
    pub topic_alias: Option<u16>,
    pub subscription_ids: &'a [u32],
    pub passthrough: &'a [u8],
    pub payload_len: usize,
}

/// Appends one whole packet to `out`.
pub fn encode(packet: &Packet, protocol: Protocol, out: &mut BytesMut) {
    let _ = (packet, protocol, out);
    todo!()
}

/// Appends the fixed and variable header of a PUBLISH to `out`.
pub fn encode_publish_header(header: &PublishHeader<'_>, protocol: Protocol, out: &mut BytesMut) {
    let _ = (header, protocol, out);
    todo!()
}

/// The length of what `encode_publish_header` would write.
pub fn publish_header_len(header: &PublishHeader<'_>, protocol: Protocol) -> usize {
    let _ = (header, protocol);
    todo!()
}
