//! The upgrade request at every split, the subprotocol choice, and each
//! refusal with its HTTP status.

use crate::ws::handshake::{accept_key, parse, refusal_response, response, Refusal, Subprotocol};

const LIMIT: usize = 8192;

fn request(extra: &str) -> String {
    format!(
        "GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nUpgrade: websocket\r\n\
         Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

fn refused(text: &str) -> Refusal {
    parse(text.as_bytes(), LIMIT).expect_err("must be refused")
}

#[test]
fn the_rfc_example_key_gives_the_rfc_accept_value() {
    assert_eq!(
        &accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
        b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn a_request_is_incomplete_at_every_cut_until_its_blank_line() {
    let text = request("Sec-WebSocket-Protocol: mqtt\r\nOrigin: http://127.0.0.1\r\n");
    let bytes = text.as_bytes();
    for cut in 0..bytes.len() {
        assert_eq!(parse(&bytes[..cut], LIMIT), Ok(None), "cut at {cut}");
    }
    let upgrade = parse(bytes, LIMIT).unwrap().unwrap();
    assert_eq!(upgrade.len, bytes.len());
    assert_eq!(upgrade.protocol, Some(Subprotocol::Mqtt));
    assert_eq!(&upgrade.accept, b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    // Bytes after the request are the caller's business (len says where
    // it ended).
    let more = [bytes, b"\x82\x80"].concat();
    assert_eq!(parse(&more, LIMIT).unwrap().unwrap().len, bytes.len());
}

#[test]
fn the_answer_names_the_accept_value_and_the_chosen_subprotocol() {
    let upgrade = parse(
        request("Sec-WebSocket-Protocol: mqtt\r\n").as_bytes(),
        LIMIT,
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        String::from_utf8(response(&upgrade)).unwrap(),
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"
    );
    let bare = parse(request("").as_bytes(), LIMIT).unwrap().unwrap();
    assert!(!String::from_utf8(response(&bare))
        .unwrap()
        .contains("Sec-WebSocket-Protocol"));
}

#[test]
fn the_subprotocol_is_the_first_mqtt_one_the_client_offers() {
    let chosen = |offer: &str| {
        parse(request(offer).as_bytes(), LIMIT)
            .map(|u| u.unwrap().protocol)
            .map_err(|r| r.status().0)
    };
    assert_eq!(chosen(""), Ok(None));
    assert_eq!(
        chosen("Sec-WebSocket-Protocol: mqtt\r\n"),
        Ok(Some(Subprotocol::Mqtt))
    );
    assert_eq!(
        chosen("Sec-WebSocket-Protocol: mqttv3.1\r\n"),
        Ok(Some(Subprotocol::MqttV31))
    );
    assert_eq!(
        chosen("Sec-WebSocket-Protocol: foo, MQTTv3.1 , mqtt\r\n"),
        Ok(Some(Subprotocol::MqttV31))
    );
    assert_eq!(
        chosen("Sec-WebSocket-Protocol: foo\r\nsec-websocket-protocol: mqtt\r\n"),
        Ok(Some(Subprotocol::Mqtt))
    );
    assert_eq!(chosen("Sec-WebSocket-Protocol: foo, bar\r\n"), Err(400));
}

#[test]
fn bad_requests_are_refused_with_the_fitting_status() {
    let upgrade_free = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_eq!(refused(upgrade_free), Refusal::NotUpgrade);
    assert_eq!(Refusal::NotUpgrade.status().0, 426);
    let post = request("").replacen("GET", "POST", 1);
    assert_eq!(refused(&post), Refusal::NotGet);
    let v8 = request("").replace("Version: 13", "Version: 8");
    assert_eq!(refused(&v8), Refusal::Version);
    assert_eq!(Refusal::Version.status().0, 426);
    let no_key = request("").replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "");
    assert_eq!(refused(&no_key), Refusal::Key);
    let short_key = request("").replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZQ==");
    assert_eq!(refused(&short_key), Refusal::Key);
    let two_keys = request("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n");
    assert_eq!(refused(&two_keys), Refusal::Key);
    let no_host = request("").replace("Host: 127.0.0.1:9001\r\n", "");
    assert_eq!(refused(&no_host), Refusal::Host);
    let http10 = request("").replace("HTTP/1.1", "HTTP/1.0");
    assert!(matches!(refused(&http10), Refusal::Malformed(_)));
    let folded = request(" folded\r\n");
    assert!(matches!(refused(&folded), Refusal::Malformed(_)));
    for r in [
        Refusal::NotGet,
        Refusal::Key,
        Refusal::Host,
        Refusal::Subprotocol,
    ] {
        assert_eq!(r.status().0, 400);
    }
}

#[test]
fn what_cannot_be_http_is_refused_from_its_first_bytes() {
    // An MQTT CONNECT sent to a WebSocket port.
    assert!(matches!(
        parse(b"\x10\x0c\x00\x04MQTT", LIMIT),
        Err(Refusal::Malformed(_))
    ));
    assert!(matches!(parse(b"get /", LIMIT), Err(Refusal::Malformed(_))));
    assert_eq!(parse(b"GE", LIMIT), Ok(None));
}

#[test]
fn a_header_block_reaching_the_limit_without_its_end_is_refused() {
    let text = request(&format!("Cookie: {}\r\n", "c".repeat(300)));
    let bytes = text.as_bytes();
    assert!(parse(bytes, bytes.len()).unwrap().is_some());
    assert_eq!(parse(bytes, bytes.len() - 1), Err(Refusal::TooLarge));
    assert_eq!(parse(&bytes[..100], 100), Err(Refusal::TooLarge));
    assert_eq!(parse(&bytes[..99], 100), Ok(None));
    assert_eq!(Refusal::TooLarge.status().0, 431);
}

#[test]
fn a_refusal_is_an_http_error_with_the_cause_as_its_body() {
    let text = String::from_utf8(refusal_response(Refusal::Version)).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
    assert!(head.contains("\r\nSec-WebSocket-Version: 13"));
    assert!(head.contains("\r\nConnection: close"));
    assert!(head.contains(&format!("\r\nContent-Length: {}", body.len())));
    assert_eq!(body, "Sec-WebSocket-Version is not 13\n");
}
