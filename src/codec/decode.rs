//! Framing and decoding. (stub: signatures only, bodies to be written)

use bytes::Bytes;

use super::types::{Packet, Protocol};

/// What [`check`] found at the front of a receive buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// More bytes are needed. `total` is the whole packet's length once the
    /// fixed header is complete (so the caller can reserve exactly), else None.
    Incomplete { total: Option<usize> },
    /// A whole packet of `total` bytes (fixed header included) is buffered.
    Ready { total: usize },
}

/// Why bytes could not be decoded. Each maps to one MQTT 5 reason code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The packet is larger than the configured maximum (reason 0x95).
    TooLarge { size: usize, max: usize },
    /// The CONNECT names a protocol or level midge does not speak: answer
    /// CONNACK 0x01 (3.x) / 0x84 (5.0) and close [MQTT-3.1.2-2].
    UnsupportedProtocol { name: Bytes, level: u8 },
    /// Malformed packet (reason 0x81); the text names what was wrong.
    Malformed(&'static str),
    /// Well-formed bytes that break a protocol rule (reason 0x82).
    Protocol(&'static str),
}

impl DecodeError {
    /// The MQTT 5 reason code for a DISCONNECT or CONNACK about this error.
    pub fn reason_code(&self) -> u8 {
        use super::types::reason;
        match self {
            DecodeError::TooLarge { .. } => reason::PACKET_TOO_LARGE,
            DecodeError::UnsupportedProtocol { .. } => reason::UNSUPPORTED_PROTOCOL_VERSION,
            DecodeError::Malformed(_) => reason::MALFORMED_PACKET,
            DecodeError::Protocol(_) => reason::PROTOCOL_ERROR,
        }
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::TooLarge { size, max } => {
                write!(f, "packet of {size} bytes exceeds the maximum of {max}")
            }
            DecodeError::UnsupportedProtocol { name, level } => write!(
                f,
                "unsupported protocol {:?} level {level}",
                String::from_utf8_lossy(name)
            ),
            DecodeError::Malformed(what) => write!(f, "malformed packet: {what}"),
            DecodeError::Protocol(what) => write!(f, "protocol error: {what}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Looks at the front of `buf`: is a whole packet there, and how long is it?
pub fn check(buf: &[u8], max_packet_size: usize) -> Result<Check, DecodeError> {
    let _ = (buf, max_packet_size);
    todo!()
}

/// Decodes exactly one packet.
pub fn decode(frame: Bytes, protocol: Protocol) -> Result<Packet, DecodeError> {
    let _ = (frame, protocol);
    todo!()
}
