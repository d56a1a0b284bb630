//! Record encoding: every kind round trips, cuts and bad bodies fail.

use super::record::{Record, RecordError};

/// One record of every kind, with values at their fields' limits.
pub(crate) fn samples() -> Vec<Record<'static>> {
    vec![
        Record::Session {
            sid: 1,
            client_id: "sensor-1",
            level: 5,
            expiry: u32::MAX,
            username: Some("kitchen"),
        },
        Record::Session {
            sid: 3,
            client_id: "",
            level: 4,
            expiry: 0,
            username: None,
        },
        Record::Offline {
            sid: 1,
            at_ms: 1_780_000_000_000,
        },
        Record::SessionEnd { sid: u64::MAX },
        Record::Sub {
            sid: 2,
            filter: "house/+/temperature",
            options: 0x2e,
            sub_id: 268_435_455,
        },
        Record::Unsub {
            sid: 2,
            filter: "$share/g/#",
        },
        Record::Msg {
            mid: 300,
            topic: "house/kitchen/temperature",
            payload: b"21.5",
            qos: 2,
            retain: true,
            expires_ms: 0,
            passthrough: b"\x01\x01",
        },
        Record::Msg {
            mid: 0,
            topic: "",
            payload: b"",
            qos: 0,
            retain: false,
            expires_ms: u64::MAX,
            passthrough: b"",
        },
        Record::Retain {
            topic: "a/b",
            mid: 300,
        },
        Record::Unretain { topic: "a/b" },
        Record::Out {
            sid: 2,
            seq: 1 << 40,
            mid: 300,
            qos: 1,
            retain: false,
            sub_ids: vec![1, 268_435_455],
        },
        Record::OutSent {
            sid: 2,
            seq: 7,
            packet_id: 65535,
        },
        Record::OutReleased { sid: 2, seq: 7 },
        Record::OutDone { sid: 2, seq: 7 },
        Record::Incoming {
            sid: 2,
            packet_id: 1,
        },
        Record::Released {
            sid: 2,
            packet_id: 1,
        },
        Record::Will {
            sid: 3,
            topic: "w/x",
            payload: b"gone",
            qos: 1,
            retain: true,
            delay: 30,
            expiry: 0,
            passthrough: b"",
        },
        Record::WillGone { sid: 3 },
    ]
}

fn body(r: &Record<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    r.encode(&mut out);
    out
}

#[test]
fn every_kind_round_trips() {
    for r in samples() {
        let b = body(&r);
        assert_eq!(Record::decode(&b), Ok(r.clone()), "{b:02x?}");
    }
}

#[test]
fn a_cut_body_is_an_error_or_a_shorter_payload() {
    for r in samples() {
        let b = body(&r);
        for cut in 0..b.len() {
            match Record::decode(&b[..cut]) {
                Err(_) => {}
                // Only the payload, the last field, may be cut short.
                Ok(Record::Msg { payload, .. }) | Ok(Record::Will { payload, .. }) => {
                    assert!(payload.len() < 4, "{r:?} cut at {cut}");
                }
                // Cut right before its optional user name, a session record
                // is the older form of itself (the frame's CRC is what
                // catches a cut).
                Ok(Record::Session {
                    username: None,
                    sid,
                    ..
                }) if matches!(r, Record::Session { username: Some(name), sid: s, .. }
                    if s == sid && cut == b.len() - name.len() - 1) => {}
                Ok(other) => panic!("{r:?} cut at {cut} decoded as {other:?}"),
            }
        }
    }
}

#[test]
fn bad_bodies_name_their_fault() {
    assert_eq!(Record::decode(b""), Err(RecordError::Empty));
    assert_eq!(Record::decode(b"\x63"), Err(RecordError::UnknownKind(0x63)));
    assert_eq!(
        Record::decode(b"\x03\x01\x00"),
        Err(RecordError::TrailingBytes)
    );
    assert_eq!(
        Record::decode(b"\x03\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f"),
        Err(RecordError::BadInteger)
    );
    assert_eq!(
        Record::decode(b"\x05\x01\x02\xc0\x80"),
        Err(RecordError::BadUtf8)
    );
    assert_eq!(
        Record::decode(b"\x0e\x01\x80\x80\x04"),
        Err(RecordError::BadInteger),
        "packet id past 65535"
    );
    // A list length past the bytes left is refused before allocating.
    assert_eq!(
        Record::decode(b"\x09\x01\x01\x01\x01\xff\xff\xff\xff\x0f"),
        Err(RecordError::Truncated)
    );
}
