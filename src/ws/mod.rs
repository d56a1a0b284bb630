//! MQTT over WebSockets (RFC 6455), as Mosquitto's `protocol websockets`
//! listeners offer it: a browser or any WebSocket client sends MQTT
//! packets in binary frames.
//!
//! Contract:
//! - [`handshake`] reads the HTTP/1.1 upgrade request and writes the
//!   answer (`101` with the `mqtt` subprotocol, or an HTTP error); no I/O.
//! - [`frame`] reads and writes frame headers; [`decode`] turns the
//!   client's frames, at any split, into the byte stream they carry, in
//!   place, and says which control frames to answer; no I/O.
//! - [`WsStream`] is the transport layer the event loop drives like a
//!   socket, over a plain or a TLS stream: the handshake inside its first
//!   reads (so the broker's CONNECT timeout covers it), then MQTT bytes
//!   out of and into binary frames. MQTT packets may span frames and a
//!   frame may hold several: the broker sees only the bytes.
//!
//! The codec is midge's own: a crate such as tungstenite owns the socket
//! and buffers whole messages, where the loop needs a decoder that works
//! in its read buffer and a writer that frames its vectored writes.

pub mod decode;
pub mod frame;
pub mod handshake;
mod stream;
#[cfg(test)]
mod tests;

pub use stream::{WsLimits, WsStream};
