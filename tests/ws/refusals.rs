//! What breaks the WebSocket protocol ends the connection with the close
//! code that says why; a request that is not a valid upgrade gets an HTTP
//! error and the end; and neither disturbs the other clients.

use std::io::Write;
use std::net::TcpStream;

use crate::client::{expect_eof, frame, masked, read_http_head, WsClient, BINARY, TEXT};
use crate::common::{pingreq, ConnectSpec};
use crate::WsBroker;

#[test]
fn an_unmasked_frame_is_closed_with_1002() {
    let broker = WsBroker::start();
    let mut ws = broker.connected("unmasked");
    ws.send_raw(&frame(BINARY, true, &pingreq(), None));
    ws.expect_close(1002);
    broker.connected("next");
}

#[test]
fn a_text_frame_is_closed_with_1003() {
    let broker = WsBroker::start();
    let mut ws = broker.ws();
    ws.send_raw(&masked(TEXT, true, b"hello"));
    ws.expect_close(1003);
}

#[test]
fn a_frame_over_max_packet_size_is_closed_with_1009_from_its_header() {
    let broker = WsBroker::start_with(|c| c.max_packet_size = 100);
    let mut ws = broker.connected("big");
    // Only the header of a 1 MB frame: the broker must not wait for it.
    let header = &masked(BINARY, true, &vec![0u8; 1 << 20])[..14];
    ws.send_raw(header);
    ws.expect_close(1009);
}

#[test]
fn a_reserved_bit_or_a_fragmented_ping_is_closed_with_1002() {
    let broker = WsBroker::start();
    let mut ws = broker.ws();
    let mut rsv = masked(BINARY, true, &pingreq());
    rsv[0] |= 0x20;
    ws.send_raw(&rsv);
    ws.expect_close(1002);
    let mut ws = broker.ws();
    ws.send_raw(&masked(0x9, false, b""));
    ws.expect_close(1002);
}

/// Sends `request` raw and returns the HTTP answer's status line and body;
/// asserts the connection then ends.
fn refused(broker: &WsBroker, request: &[u8]) -> (String, String) {
    let mut stream = broker.tcp();
    stream.write_all(request).unwrap();
    answer(&mut stream)
}

fn answer(stream: &mut TcpStream) -> (String, String) {
    let head = read_http_head(stream);
    let status = head.lines().next().unwrap_or_default().to_string();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .expect("a Content-Length")
        .parse()
        .unwrap();
    let mut body = vec![0u8; length];
    std::io::Read::read_exact(stream, &mut body).unwrap();
    expect_eof(stream);
    (status, String::from_utf8(body).unwrap())
}

fn request_with(from: &str, to: &str) -> Vec<u8> {
    crate::client::upgrade_request(Some("mqtt"))
        .replace(from, to)
        .into_bytes()
}

#[test]
fn bad_upgrade_requests_get_the_fitting_http_error_and_the_end() {
    let broker = WsBroker::start();
    let cases: Vec<(Vec<u8>, &str, &str)> = vec![
        (
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_vec(),
            "HTTP/1.1 426 Upgrade Required",
            "not a WebSocket upgrade",
        ),
        (
            request_with("GET", "POST"),
            "HTTP/1.1 400 Bad Request",
            "method is not GET",
        ),
        (
            request_with("Upgrade: websocket\r\n", ""),
            "HTTP/1.1 426 Upgrade Required",
            "not a WebSocket upgrade",
        ),
        (
            request_with("Version: 13", "Version: 8"),
            "HTTP/1.1 426 Upgrade Required",
            "Sec-WebSocket-Version is not 13",
        ),
        (
            request_with("Sec-WebSocket-Key", "X-Key"),
            "HTTP/1.1 400 Bad Request",
            "Sec-WebSocket-Key",
        ),
        (
            request_with("Protocol: mqtt", "Protocol: wamp"),
            "HTTP/1.1 400 Bad Request",
            "no subprotocol",
        ),
        (
            b"\x00\x01garbage\r\n\r\n".to_vec(),
            "HTTP/1.1 400 Bad Request",
            "not an HTTP/1.1 request",
        ),
        (
            ConnectSpec::new("plain-mqtt").encode(),
            "HTTP/1.1 400 Bad Request",
            "not an HTTP/1.1 request",
        ),
    ];
    for (request, status, cause) in cases {
        let (got, body) = refused(&broker, &request);
        assert_eq!(got, status, "{:?}", String::from_utf8_lossy(&request));
        assert!(body.contains(cause), "{body:?} lacks {cause:?}");
    }
    broker.connected("still-served");
}

#[test]
fn a_header_block_over_websockets_headers_size_gets_431() {
    let broker = WsBroker::start_with(|c| c.websockets_headers_size = 1024);
    let cookie = format!("Cookie: {}\r\n", "c".repeat(1100));
    let request = request_with("Host:", &format!("{cookie}Host:"));
    let (status, _) = refused(&broker, &request);
    assert_eq!(status, "HTTP/1.1 431 Request Header Fields Too Large");
    // Just under the limit is served.
    let cookie = format!("Cookie: {}\r\n", "c".repeat(800));
    let mut stream = broker.tcp();
    let request = request_with("Host:", &format!("{cookie}Host:"));
    stream.write_all(&request).unwrap();
    assert!(read_http_head(&mut stream).starts_with("HTTP/1.1 101 "));
}

#[test]
fn data_sent_before_the_answer_is_refused() {
    let broker = WsBroker::start();
    let mut request = crate::client::upgrade_request(Some("mqtt")).into_bytes();
    request.extend(masked(BINARY, true, &pingreq()));
    let (status, body) = refused(&broker, &request);
    assert_eq!(status, "HTTP/1.1 400 Bad Request");
    assert!(body.contains("before the handshake"), "{body:?}");
}

#[test]
fn mqtt_only_starts_after_the_upgrade() {
    let broker = WsBroker::start();
    let (mut ws, _) = WsClient::upgrade(broker.tcp(), Some("mqtt"));
    ws.send(&ConnectSpec::new("after-upgrade").encode());
    ws.expect(crate::common::CONNACK_ACCEPTED);
}
