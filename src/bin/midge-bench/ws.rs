//! `--ws`: MQTT over WebSockets for the bench's connections, as a layer
//! at the edges of `net::Conn`: the upgrade request goes out first and
//! nothing else until the broker's `101` has come; after that, what the
//! encoders queued is wrapped into one masked binary frame per flush, and
//! what is read is unwrapped in place into the MQTT bytes the frames
//! carry, for the packet decoder as before.
//!
//! The broker's frames must be unmasked; its control frames are skipped,
//! except close, which ends the connection like a socket close.

use std::net::SocketAddr;

/// The longest `101` answer taken.
const MAX_ANSWER: usize = 8192;
/// The masking key of every frame (RFC 6455 wants one per frame from a
/// strong source; a load generator has no attacker to fool).
const MASK: [u8; 4] = [0x6d, 0x69, 0x64, 0x67];

/// The WebSocket state of one connection.
pub struct Ws {
    /// Reading the broker's answer to the upgrade, until its blank line.
    answer: Option<Vec<u8>>,
    /// `tx[..framed]` is wire bytes (the request, whole frames); the rest
    /// is MQTT not framed yet.
    framed: usize,
    /// A frame header split across reads.
    head: [u8; 14],
    head_len: usize,
    /// Payload bytes left in the frame being read, and whether they are
    /// MQTT (binary or continuation) rather than a control frame's.
    left: u64,
    data: bool,
    /// The broker sent a close frame.
    pub closed: bool,
}

impl Ws {
    /// Called right after the connection is opened, before anything is
    /// queued on it: puts the upgrade request for `addr` at the front of
    /// `tx` and returns the state waiting for the answer.
    pub fn start(addr: SocketAddr, tx: &mut Vec<u8>) -> Ws {
        let request = format!(
            "GET /mqtt HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: bWlkZ2UtYmVuY2gta2V5MQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: mqtt\r\n\r\n"
        );
        tx.splice(0..0, request.bytes());
        Ws {
            answer: Some(Vec::new()),
            framed: request.len(),
            head: [0; 14],
            head_len: 0,
            left: 0,
            data: false,
            closed: false,
        }
    }

    /// Called before a flush. Frames the MQTT bytes queued since the last
    /// call (once the upgrade is answered) and returns how much of `tx`
    /// may be written now.
    pub fn frame(&mut self, tx: &mut Vec<u8>) -> usize {
        if self.answer.is_none() && self.framed < tx.len() {
            let mut payload = tx.split_off(self.framed);
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= MASK[i % 4];
            }
            tx.push(0x82);
            match payload.len() {
                n @ 0..=125 => tx.push(0x80 | n as u8),
                n @ 126..=65535 => {
                    tx.push(0x80 | 126);
                    tx.extend_from_slice(&(n as u16).to_be_bytes());
                }
                n => {
                    tx.push(0x80 | 127);
                    tx.extend_from_slice(&(n as u64).to_be_bytes());
                }
            }
            tx.extend_from_slice(&MASK);
            tx.append(&mut payload);
            self.framed = tx.len();
        }
        self.framed
    }

    /// How much of a `tx` of `len` bytes may go out now: all of it once
    /// the upgrade is answered, the request alone before.
    pub fn sendable(&self, len: usize) -> usize {
        if self.answer.is_some() {
            self.framed.min(len)
        } else {
            len
        }
    }

    /// Called when `tx` was written out and cleared.
    pub fn cleared(&mut self) {
        self.framed = 0;
    }

    /// Called with the bytes just read. Unwraps them in place: returns
    /// `n`, the MQTT bytes now at `buf[..n]`, or why the broker's answer
    /// or frames are unusable.
    pub fn unwrap(&mut self, buf: &mut [u8]) -> Result<usize, String> {
        let mut at = 0;
        if let Some(answer) = self.answer.as_mut() {
            let seen = answer.len();
            answer.extend_from_slice(buf);
            let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
                if answer.len() > MAX_ANSWER {
                    return Err("no end to the broker's upgrade answer".into());
                }
                return Ok(0);
            };
            if !answer.starts_with(b"HTTP/1.1 101 ") {
                let line = answer.split(|&b| b == b'\r').next().unwrap_or_default();
                return Err(format!(
                    "upgrade refused: {}",
                    String::from_utf8_lossy(line)
                ));
            }
            at = end + 4 - seen;
            self.answer = None;
        }
        let mut out = 0;
        while at < buf.len() && !self.closed {
            if self.left == 0 && !self.read_header(buf, &mut at)? {
                continue;
            }
            let take = usize::try_from(self.left)
                .unwrap_or(usize::MAX)
                .min(buf.len() - at);
            if self.data {
                buf.copy_within(at..at + take, out);
                out += take;
            }
            at += take;
            self.left -= take as u64;
        }
        Ok(out)
    }

    /// Takes header bytes at `buf[*at..]`; true once a header with a
    /// payload to read is complete.
    fn read_header(&mut self, buf: &[u8], at: &mut usize) -> Result<bool, String> {
        let need = if self.head_len < 2 {
            2
        } else {
            2 + match self.head[1] & 0x7f {
                126 => 2,
                127 => 8,
                _ => 0,
            }
        };
        let take = (need - self.head_len).min(buf.len() - *at);
        self.head[self.head_len..self.head_len + take].copy_from_slice(&buf[*at..*at + take]);
        self.head_len += take;
        *at += take;
        if self.head_len < need || (self.head_len == 2 && need == 2 && self.head[1] & 0x7f >= 126) {
            return Ok(false);
        }
        if self.head[1] & 0x80 != 0 {
            return Err("the broker masked a frame".into());
        }
        let len = match self.head[1] & 0x7f {
            126 => u64::from(u16::from_be_bytes([self.head[2], self.head[3]])),
            127 => u64::from_be_bytes(self.head[2..10].try_into().unwrap_or_default()),
            n => u64::from(n),
        };
        let opcode = self.head[0] & 0x0f;
        self.head_len = 0;
        self.data = matches!(opcode, 0x0..=0x2);
        self.closed = opcode == 0x8;
        self.left = len;
        Ok(len > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";

    fn started() -> (Ws, Vec<u8>) {
        let mut tx = b"\x10\x00".to_vec();
        let ws = Ws::start("127.0.0.1:9001".parse().unwrap(), &mut tx);
        (ws, tx)
    }

    #[test]
    fn only_the_request_goes_out_until_the_answer_then_frames() {
        let (mut ws, mut tx) = started();
        let request_end = ws.frame(&mut tx);
        assert!(tx[..request_end].ends_with(b"\r\n\r\n"));
        assert_eq!(&tx[request_end..], b"\x10\x00");
        let mut answer = ANSWER.to_vec();
        assert_eq!(ws.unwrap(&mut answer), Ok(0));
        let end = ws.frame(&mut tx);
        assert_eq!(end, tx.len());
        let frame = &tx[request_end..];
        assert_eq!(frame[..2], [0x82, 0x82]);
        assert_eq!(frame[2..6], MASK);
        assert_eq!([frame[6] ^ MASK[0], frame[7] ^ MASK[1]], [0x10, 0x00]);
    }

    #[test]
    fn the_broker_frames_unwrap_the_same_at_every_cut() {
        let mut wire = ANSWER.to_vec();
        wire.extend_from_slice(&[0x82, 0x04, 0x20, 0x02, 0x00, 0x00]);
        wire.extend_from_slice(&[0x89, 0x01, b'p']);
        wire.extend_from_slice(&[0x82, 126, 0x00, 0x02, 0xd0, 0x00]);
        wire.extend_from_slice(&[0x88, 0x02, 0x03, 0xe8]);
        for cut in 0..=wire.len() {
            let (mut ws, _) = started();
            let mut got = Vec::new();
            for part in [&wire[..cut], &wire[cut..]] {
                let mut buf = part.to_vec();
                let n = ws.unwrap(&mut buf).unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, [0x20, 0x02, 0x00, 0x00, 0xd0, 0x00], "cut at {cut}");
            assert!(ws.closed, "cut at {cut}");
        }
    }

    #[test]
    fn a_refused_upgrade_is_an_error_naming_the_status() {
        let (mut ws, _) = started();
        let mut answer = b"HTTP/1.1 426 Upgrade Required\r\n\r\n".to_vec();
        assert_eq!(
            ws.unwrap(&mut answer),
            Err("upgrade refused: HTTP/1.1 426 Upgrade Required".to_string())
        );
    }
}
