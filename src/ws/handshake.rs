//! The opening handshake (RFC 6455 section 4.2): the client's HTTP/1.1
//! upgrade request read, and the server's answer, `101 Switching
//! Protocols` or an HTTP error that says why.
//!
//! Contract: [`parse`] looks at the bytes received so far and never
//! allocates; it answers "not yet" until the blank line that ends the
//! header block, refuses a block longer than the limit as soon as that
//! many bytes came without its end, and refuses at once what cannot be an
//! HTTP request (a client speaking plain MQTT to the port, say). The
//! subprotocol is `mqtt` or the older `mqttv3.1` (the first of the two the
//! client offers); a client that offers none is served too (as Mosquitto
//! does), one that offers only others is refused.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// The GUID RFC 6455 appends to the client's key before hashing.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The header block limit when `websockets_headers_size` is not set.
pub const DEFAULT_HEADERS_SIZE: usize = 8192;

/// The MQTT subprotocol the client is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subprotocol {
    /// `mqtt`, what MQTT 3.1.1 and 5.0 register.
    Mqtt,
    /// `mqttv3.1`, what older MQTT 3.1 clients ask for.
    MqttV31,
}

impl Subprotocol {
    fn name(self) -> &'static str {
        match self {
            Subprotocol::Mqtt => "mqtt",
            Subprotocol::MqttV31 => "mqttv3.1",
        }
    }
}

/// A valid upgrade request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upgrade {
    /// `Sec-WebSocket-Accept`: base64 of SHA-1 of the key and the GUID.
    pub accept: [u8; 28],
    /// The subprotocol to answer with; `None` when the client offered none.
    pub protocol: Option<Subprotocol>,
    /// The request's length, up to and including its blank line.
    pub len: usize,
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No end of the header block within the limit.
    TooLarge,
    /// Not an HTTP/1.1 request (the detail says what is wrong).
    Malformed(&'static str),
    /// A method other than GET.
    NotGet,
    /// No `Upgrade: websocket` and `Connection: Upgrade`: midge serves
    /// nothing but the upgrade.
    NotUpgrade,
    /// `Sec-WebSocket-Version` missing or not 13.
    Version,
    /// `Sec-WebSocket-Key` missing, repeated, or not 16 bytes of base64.
    Key,
    /// No `Host` header.
    Host,
    /// Subprotocols offered, but neither `mqtt` nor `mqttv3.1`.
    Subprotocol,
    /// Bytes after the request, before the server answered.
    EarlyData,
}

impl Refusal {
    /// The HTTP status code and reason phrase the refusal is sent with.
    pub fn status(self) -> (u16, &'static str) {
        match self {
            Refusal::TooLarge => (431, "Request Header Fields Too Large"),
            Refusal::NotUpgrade | Refusal::Version => (426, "Upgrade Required"),
            _ => (400, "Bad Request"),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::TooLarge => f.write_str("request headers larger than websockets_headers_size"),
            Refusal::Malformed(what) => write!(f, "not an HTTP/1.1 request: {what}"),
            Refusal::NotGet => f.write_str("method is not GET"),
            Refusal::NotUpgrade => {
                f.write_str("not a WebSocket upgrade (this port serves MQTT over WebSockets only)")
            }
            Refusal::Version => f.write_str("Sec-WebSocket-Version is not 13"),
            Refusal::Key => f.write_str("missing or invalid Sec-WebSocket-Key"),
            Refusal::Host => f.write_str("no Host header"),
            Refusal::Subprotocol => f.write_str("no subprotocol midge speaks (mqtt, mqttv3.1)"),
            Refusal::EarlyData => f.write_str("data sent before the handshake was answered"),
        }
    }
}

/// Called with every byte received before the handshake is answered,
/// and `limit`, the most the header block may take. Returns `Ok(None)`
/// while the request may still be valid but is incomplete, the upgrade
/// once its blank line is in, or why it is refused.
pub fn parse(buf: &[u8], limit: usize) -> Result<Option<Upgrade>, Refusal> {
    let method_end = buf.iter().position(|&b| !b.is_ascii_uppercase());
    if method_end.is_some_and(|at| at == 0 || buf[at] != b' ') {
        return Err(Refusal::Malformed("no method"));
    }
    let window = &buf[..buf.len().min(limit)];
    let Some(end) = window.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() >= limit {
            Err(Refusal::TooLarge)
        } else {
            Ok(None)
        };
    };
    let mut lines = Lines {
        rest: &buf[..end + 2],
    };
    let request = lines.next().ok_or(Refusal::Malformed("no request line"))?;
    request_line(request)?;
    let mut seen = Seen::default();
    for line in lines {
        seen.header(line)?;
    }
    let upgrade = seen.finish()?;
    Ok(Some(Upgrade {
        len: end + 4,
        ..upgrade
    }))
}

/// The CRLF-terminated lines of a header block.
struct Lines<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let at = self.rest.windows(2).position(|w| w == b"\r\n")?;
        let line = &self.rest[..at];
        self.rest = &self.rest[at + 2..];
        Some(line)
    }
}

/// `GET <target> HTTP/1.1`.
fn request_line(line: &[u8]) -> Result<(), Refusal> {
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::Malformed("bad request line"));
    };
    if target.is_empty() || !target.iter().all(|b| b.is_ascii_graphic()) {
        return Err(Refusal::Malformed("bad request target"));
    }
    if version != b"HTTP/1.1" {
        return Err(Refusal::Malformed("version is not HTTP/1.1"));
    }
    if method != b"GET" {
        return Err(Refusal::NotGet);
    }
    Ok(())
}

/// What the headers said so far.
#[derive(Default)]
struct Seen {
    host: bool,
    upgrade: bool,
    connection: bool,
    version: bool,
    keys: u8,
    accept: Option<[u8; 28]>,
    offered: bool,
    protocol: Option<Subprotocol>,
}

impl Seen {
    /// Takes in one `name: value` line.
    fn header(&mut self, line: &[u8]) -> Result<(), Refusal> {
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(Refusal::Malformed("header line without a colon"))?;
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Err(Refusal::Malformed("bad header name"));
        }
        let value = trim(&line[colon + 1..]);
        if value.iter().any(|&b| b < 0x20 && b != b'\t' || b == 0x7f) {
            return Err(Refusal::Malformed("control character in a header value"));
        }
        let is = |want: &str| name.eq_ignore_ascii_case(want.as_bytes());
        if is("host") {
            self.host = true;
        } else if is("upgrade") {
            self.upgrade |= tokens(value).any(|t| t.eq_ignore_ascii_case(b"websocket"));
        } else if is("connection") {
            self.connection |= tokens(value).any(|t| t.eq_ignore_ascii_case(b"upgrade"));
        } else if is("sec-websocket-version") {
            self.version = value == b"13";
        } else if is("sec-websocket-key") {
            self.keys = self.keys.saturating_add(1);
            self.accept = valid_key(value).then(|| accept_key(value));
        } else if is("sec-websocket-protocol") {
            for token in tokens(value) {
                self.offered = true;
                if self.protocol.is_none() {
                    self.protocol = if token.eq_ignore_ascii_case(b"mqtt") {
                        Some(Subprotocol::Mqtt)
                    } else if token.eq_ignore_ascii_case(b"mqttv3.1") {
                        Some(Subprotocol::MqttV31)
                    } else {
                        None
                    };
                }
            }
        }
        Ok(())
    }

    /// The upgrade the headers ask for (its `len` to be set), or the first
    /// thing wrong with them.
    fn finish(self) -> Result<Upgrade, Refusal> {
        if !self.upgrade || !self.connection {
            return Err(Refusal::NotUpgrade);
        }
        if !self.version {
            return Err(Refusal::Version);
        }
        if !self.host {
            return Err(Refusal::Host);
        }
        let (1, Some(accept)) = (self.keys, self.accept) else {
            return Err(Refusal::Key);
        };
        if self.offered && self.protocol.is_none() {
            return Err(Refusal::Subprotocol);
        }
        Ok(Upgrade {
            accept,
            protocol: self.protocol,
            len: 0,
        })
    }
}

/// The token characters of RFC 9110 5.6.2.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn trim(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}

/// The non-empty items of a comma-separated header value.
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim)
        .filter(|t| !t.is_empty())
}

/// A key is 16 bytes in base64 (24 characters).
fn valid_key(value: &[u8]) -> bool {
    let mut raw = [0u8; 18];
    value.len() == 24 && STANDARD.decode_slice(value, &mut raw) == Ok(16)
}

/// Called with the client's `Sec-WebSocket-Key` as sent. Returns the
/// `Sec-WebSocket-Accept` value: base64 of the SHA-1 of the key and the
/// GUID.
pub fn accept_key(key: &[u8]) -> [u8; 28] {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key);
    sha.update(GUID);
    let mut out = [0u8; 28];
    let written = STANDARD
        .encode_slice(sha.digest().bytes(), &mut out)
        .unwrap_or(0);
    debug_assert_eq!(written, 28);
    out
}

/// Called once the request is accepted. Returns the `101 Switching
/// Protocols` answer.
pub fn response(upgrade: &Upgrade) -> Vec<u8> {
    let mut out = Vec::with_capacity(160);
    out.extend_from_slice(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
    );
    out.extend_from_slice(b"Sec-WebSocket-Accept: ");
    out.extend_from_slice(&upgrade.accept);
    out.extend_from_slice(b"\r\n");
    if let Some(protocol) = upgrade.protocol {
        out.extend_from_slice(b"Sec-WebSocket-Protocol: ");
        out.extend_from_slice(protocol.name().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Called when a request is refused. Returns the HTTP error, with the
/// cause as a text body; the connection is closed after it.
pub fn refusal_response(refusal: Refusal) -> Vec<u8> {
    let (code, reason) = refusal.status();
    let body = format!("{refusal}\n");
    let extra = match refusal {
        Refusal::Version => "Sec-WebSocket-Version: 13\r\n",
        Refusal::NotUpgrade => "Upgrade: websocket\r\n",
        _ => "",
    };
    format!(
        "HTTP/1.1 {code} {reason}\r\nConnection: close\r\n{extra}\
         Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
