//! The MQTT wire format for 3.1 (`MQIsdp`, level 3), 3.1.1 (level 4) and
//! 5.0 (level 5): one codec for every version.
//!
//! Contract:
//! - Pure: no I/O, no clock, no logging, no global state.
//! - Framing is [`check`] (no allocation; says how long the next packet is,
//!   or that more bytes are needed, and refuses an oversized packet from its
//!   fixed header alone), then [`decode`] on exactly one frozen frame.
//! - Zero-copy: every string and binary field of a decoded packet is a slice
//!   of the frame it came from (`Bytes`), so a PUBLISH payload is never
//!   copied on its way through the broker.
//! - Untrusted input never panics: every failure is a [`DecodeError`], which
//!   maps to the MQTT 5 reason code the broker sends back.
//! - MQTT 5 properties and reason codes are part of the types for every
//!   version; a 3.x peer simply never carries properties.

mod decode;
mod decode_publish;
mod encode;
mod properties;
mod props_decode;
mod types;
mod wire;

#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod tests_publish;
#[cfg(test)]
mod tests_v5;
#[cfg(test)]
mod tests_v5_connack;
#[cfg(test)]
mod tests_v5_errors;
#[cfg(test)]
mod tests_v5_fuzz;
#[cfg(test)]
mod tests_v5_props;

pub use decode::{check, decode, Check, DecodeError};
pub use decode_publish::{decode_publish_frame, is_publish};
pub use encode::{
    encode, encode_plain_ack, encode_publish_header, publish_header_len, AckKind, PublishHeader,
};
pub use properties::{id as property_id, Properties, PublishProperties};
pub use types::*;
