//! PINGREQ, PINGRESP, DISCONNECT and AUTH; and framing: what `check`
//! makes of a fixed header before the packet is in.

use super::*;

#[test]
fn pings() {
    for protocol in [V31, V311, V5] {
        fixture(b"\xc0\x00", protocol, Packet::PingReq);
        fixture(b"\xd0\x00", protocol, Packet::PingResp);
    }
}

#[test]
fn ping_with_body_is_malformed() {
    malformed(b"\xc0\x01\x00", V311);
    malformed(b"\xd0\x01\x00", V5);
}

#[test]
fn ping_bad_flags_are_malformed() {
    malformed(b"\xc1\x00", V311);
}

#[test]
fn disconnect_3x() {
    fixture(b"\xe0\x00", V311, Packet::Disconnect(Disconnect::default()));
    fixture(b"\xe0\x00", V31, Packet::Disconnect(Disconnect::default()));
    let d = Disconnect {
        reason: reason::DISCONNECT_WITH_WILL,
        properties: Properties::default(),
    };
    assert_eq!(enc(&Packet::Disconnect(d), V311), b"\xe0\x00");
}

#[test]
fn disconnect_3x_with_body_is_malformed() {
    malformed(b"\xe0\x01\x00", V311);
}

#[test]
fn disconnect_5() {
    fixture(b"\xe0\x00", V5, Packet::Disconnect(Disconnect::default()));
    fixture(
        b"\xe0\x01\x04",
        V5,
        Packet::Disconnect(Disconnect {
            reason: reason::DISCONNECT_WITH_WILL,
            properties: Properties::default(),
        }),
    );
    fixture(
        b"\xe0\x0d\x04\x0b\x11\x00\x00\x00\x00\x1f\x00\x03bye",
        V5,
        Packet::Disconnect(Disconnect {
            reason: reason::DISCONNECT_WITH_WILL,
            properties: Properties {
                session_expiry: Some(0),
                reason_string: Some(s("bye")),
                ..Properties::default()
            },
        }),
    );
}

#[test]
fn auth_5() {
    fixture(b"\xf0\x00", V5, Packet::Auth(Auth::default()));
    fixture(
        b"\xf0\x10\x18\x0e\x15\x00\x05SCRAM\x16\x00\x03\x01\x02\x03",
        V5,
        Packet::Auth(Auth {
            reason: reason::CONTINUE_AUTHENTICATION,
            properties: Properties {
                authentication_method: Some(s("SCRAM")),
                authentication_data: Some(Bytes::from_static(b"\x01\x02\x03")),
                ..Properties::default()
            },
        }),
    );
}

#[test]
fn auth_in_3x_is_malformed() {
    malformed(b"\xf0\x00", V311);
    malformed(b"\xf0\x00", V31);
}

#[test]
fn packet_type_0_is_malformed() {
    malformed(b"\x00\x00", V311);
    malformed(b"\x00\x00", V5);
}

#[test]
fn frame_other_than_its_remaining_length_is_malformed() {
    for wire in [&b"\xc0\x00\xc0\x00"[..], b"\x30\x05\x00\x01t", b"\x30"] {
        assert!(matches!(dec(wire, V311), Err(DecodeError::Malformed(_))));
    }
}

#[test]
fn check_refuses_oversized_packet_from_the_fixed_header_alone() {
    // Remaining length 16,383 in two bytes: the total is 16,386.
    assert_eq!(
        check(b"\x30\xff\x7f", 1024),
        Err(DecodeError::TooLarge {
            size: 16_386,
            max: 1024
        })
    );
    // Four length bytes, the maximum remaining length.
    assert_eq!(
        check(b"\x30\xff\xff\xff\x7f", 1 << 20),
        Err(DecodeError::TooLarge {
            size: 268_435_455 + 5,
            max: 1 << 20
        })
    );
    assert_eq!(
        check(b"\x30\x05", 6),
        Err(DecodeError::TooLarge { size: 7, max: 6 })
    );
    assert_eq!(
        check(b"\x30\x05", 7),
        Ok(Check::Incomplete { total: Some(7) })
    );
    assert_eq!(
        DecodeError::TooLarge { size: 7, max: 6 }.reason_code(),
        reason::PACKET_TOO_LARGE
    );
}

#[test]
fn check_remaining_length_of_five_bytes_is_malformed() {
    assert!(matches!(
        check(b"\x30\xff\xff\xff\xff\x01", usize::MAX),
        Err(DecodeError::Malformed(_))
    ));
    // Known as soon as the fourth length byte asks for a fifth.
    assert!(matches!(
        check(b"\x30\x80\x80\x80\x80", usize::MAX),
        Err(DecodeError::Malformed(_))
    ));
    malformed(b"\x30\x80\x80\x80\x80\x00", V311);
}

#[test]
fn check_non_minimal_remaining_length_frames() {
    // [MQTT-1.5.5-1] binds the sender; the length still frames.
    assert_eq!(
        check(b"\xc0\x80\x00", usize::MAX),
        Ok(Check::Ready { total: 3 })
    );
    assert_eq!(dec(b"\xc0\x80\x00", V311), Ok(Packet::PingReq));
}

#[test]
fn check_multi_byte_lengths() {
    let mut big = vec![0x30, 0x80, 0x01, 0x00, 0x01, b't'];
    big.resize(3 + 128, b'x');
    assert_framing(&big);
    let Ok(Packet::Publish(p)) = dec(&big, V311) else {
        panic!("not a PUBLISH");
    };
    assert_eq!(p.payload.len(), 125);
    assert_eq!(enc(&Packet::Publish(p), V311), big);
}
