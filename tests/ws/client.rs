//! A hand-written WebSocket client for the tests, over any blocking byte
//! stream (TCP, or TLS over TCP): the upgrade request, frames built byte
//! by byte from RFC 6455 section 5.2 (midge's own codec is never used),
//! and MQTT packets read out of the binary frames the broker sends.
//!
//! Contract: every read has the stream's timeout (the caller sets it), so
//! a missing answer fails the test; the server's frames are checked to be
//! unmasked and final-or-continued as the RFC says.

use std::io::{ErrorKind, Read, Write};

/// The RFC 6455 example key, and the accept value it must give.
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// Opcodes.
pub const CONTINUATION: u8 = 0x0;
pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xa;

/// The upgrade request for `/mqtt`, offering `protocol` if given.
pub fn upgrade_request(protocol: Option<&str>) -> String {
    let offer = protocol
        .map(|p| format!("Sec-WebSocket-Protocol: {p}\r\n"))
        .unwrap_or_default();
    format!(
        "GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n"
    )
}

/// One frame as a client sends it: `mask` applied when given.
pub fn frame(opcode: u8, fin: bool, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | opcode];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(mask_bit | n as u8),
        n @ 126..=65535 => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// A masked frame with a mask that differs from frame to frame.
pub fn masked(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
    let seed = payload.len() as u8;
    frame(
        opcode,
        fin,
        payload,
        Some([0x5a ^ seed, 0xc3, 0x0f ^ seed, 0x99]),
    )
}

/// A frame read from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

/// A WebSocket connection after a successful upgrade.
pub struct WsClient<S: Read + Write> {
    pub stream: S,
    /// Binary payload received but not yet taken as MQTT packets.
    pending: Vec<u8>,
}

/// Reads up to and including the blank line of an HTTP response.
pub fn read_http_head<S: Read>(stream: &mut S) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => head.push(byte[0]),
            Err(e) => panic!("reading the HTTP answer: {e} (so far {:?})", head),
        }
        assert!(head.len() < 16384, "endless HTTP answer");
    }
    String::from_utf8(head).expect("an HTTP head in ASCII")
}

impl<S: Read + Write> WsClient<S> {
    /// Sends the upgrade request and checks the 101 answer (the accept
    /// value, and the subprotocol answered when `protocol` was offered).
    /// Returns the client and the answer's head.
    pub fn upgrade(mut stream: S, protocol: Option<&str>) -> (WsClient<S>, String) {
        stream
            .write_all(upgrade_request(protocol).as_bytes())
            .unwrap();
        let head = read_http_head(&mut stream);
        assert!(
            head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
            "not a 101: {head:?}"
        );
        let lower = head.to_ascii_lowercase();
        assert!(lower.contains("\r\nupgrade: websocket\r\n"), "{head:?}");
        assert!(lower.contains("\r\nconnection: upgrade\r\n"), "{head:?}");
        assert!(
            head.contains(&format!("\r\nSec-WebSocket-Accept: {ACCEPT}\r\n")),
            "{head:?}"
        );
        let client = WsClient {
            stream,
            pending: Vec::new(),
        };
        (client, head)
    }

    /// Writes raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to the broker");
        self.stream.flush().unwrap();
    }

    /// Sends `bytes` (MQTT packets) in one masked binary frame.
    pub fn send(&mut self, bytes: &[u8]) {
        self.send_raw(&masked(BINARY, true, bytes));
    }

    /// Reads one frame; panics on timeout, EOF or a masked server frame.
    pub fn read_frame(&mut self) -> Frame {
        let mut head = [0u8; 2];
        self.stream.read_exact(&mut head).expect("a frame header");
        assert_eq!(head[1] & 0x80, 0, "the server masked a frame");
        let len = match head[1] & 0x7f {
            126 => {
                let mut b = [0u8; 2];
                self.stream.read_exact(&mut b).unwrap();
                u64::from(u16::from_be_bytes(b))
            }
            127 => {
                let mut b = [0u8; 8];
                self.stream.read_exact(&mut b).unwrap();
                u64::from_be_bytes(b)
            }
            n => u64::from(n),
        };
        let mut payload = vec![0u8; len as usize];
        self.stream
            .read_exact(&mut payload)
            .expect("a frame payload");
        Frame {
            fin: head[0] & 0x80 != 0,
            opcode: head[0] & 0x0f,
            payload,
        }
    }

    /// Reads frames until one MQTT packet is whole; returns its bytes.
    /// Panics on a control frame (the tests expect none then).
    pub fn read_packet(&mut self) -> Vec<u8> {
        loop {
            if let Some(len) = packet_len(&self.pending) {
                return self.pending.drain(..len).collect();
            }
            let frame = self.read_frame();
            assert!(
                matches!(frame.opcode, BINARY | CONTINUATION),
                "expected binary data, got {frame:?}"
            );
            self.pending.extend_from_slice(&frame.payload);
        }
    }

    /// Reads one packet and asserts it is exactly `expected`.
    pub fn expect(&mut self, expected: &[u8]) {
        assert_eq!(self.read_packet(), expected);
    }

    /// Asserts that the server sends a close frame with `code` next and
    /// then closes the connection.
    pub fn expect_close(&mut self, code: u16) {
        let frame = self.read_frame();
        assert_eq!(frame.opcode, CLOSE, "expected a close frame, got {frame:?}");
        assert_eq!(frame.payload[..2], code.to_be_bytes(), "{frame:?}");
        expect_eof(&mut self.stream);
    }
}

/// Asserts the peer closes the connection (EOF or reset) with nothing
/// more sent.
pub fn expect_eof<S: Read>(stream: &mut S) {
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("expected the end, got {:02x?}", &buf[..n]),
        Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {}
        Err(e) => panic!("expected the end, got {e}"),
    }
}

/// The length of the MQTT packet at the start of `buf`, once it is whole.
pub fn packet_len(buf: &[u8]) -> Option<usize> {
    let mut remaining = 0usize;
    for i in 1..5 {
        let b = *buf.get(i)?;
        remaining |= usize::from(b & 0x7f) << (7 * (i - 1));
        if b & 0x80 == 0 {
            let total = i + 1 + remaining;
            return (buf.len() >= total).then_some(total);
        }
    }
    panic!("remaining length over 4 bytes: {:02x?}", &buf[..5]);
}
