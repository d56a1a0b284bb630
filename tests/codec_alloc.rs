//! Decoding one frame allocates at most a small multiple of the frame's
//! length, measured by a counting global allocator.
//!
//! What is counted: every byte requested from the allocator (the size of
//! each allocation and the new size of each reallocation) on the decoding
//! thread between the call to `codec::decode` and its return, successful
//! or not. That is an upper bound on the memory the decode holds at once.
//!
//! The bound is `K * len + size_of::<Connect>() + SLACK`:
//! - `K` is the largest ratio of a decoded list element to the fewest wire
//!   bytes that produce one: an UNSUBSCRIBE filter is a `ByteStr` (a
//!   `Bytes` handle, 32 bytes on 64-bit targets) for as little as two bytes
//!   (an empty string), a SUBSCRIBE entry `(ByteStr, SubOptions)` for three,
//!   a User Property `(ByteStr, ByteStr)` for five, a Subscription
//!   Identifier a `u32` for two (in a list that grows by doubling, so up to
//!   four times its final length is requested along the way). Lists whose
//!   length is known are allocated once at that length. `K` is 16 on
//!   64-bit targets and 8 on 32-bit ones.
//! - A CONNECT is boxed: `size_of::<Connect>()` once, whatever its length.
//! - `SLACK` covers the one small allocation `bytes` makes the first time
//!   a frame that owns a plain `Vec` is sliced.
//!
//! Everything else (strings, binary data, payloads) is a slice of the
//! frame and allocates nothing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::mem::size_of;

use bytes::{Bytes, BytesMut};
use midge::codec::{
    decode, encode, Ack, Auth, ByteStr, ConnAck, Connect, Disconnect, Packet, Properties, Protocol,
    Publish, PublishProperties, QoS, SubAck, SubOptions, Subscribe, UnsubAck, Unsubscribe, Will,
};

struct Counting;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static REQUESTED: Cell<usize> = const { Cell::new(0) };
}

/// Adds `n` requested bytes when this thread is measuring. The thread
/// locals are const-initialized without destructors, so touching them
/// from the allocator never allocates.
fn note(n: usize) {
    let _ = ARMED.try_with(|armed| {
        if armed.get() {
            let _ = REQUESTED.try_with(|r| r.set(r.get() + n));
        }
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns what it returned and the bytes it requested.
fn measured<T>(f: impl FnOnce() -> T) -> (T, usize) {
    REQUESTED.with(|r| r.set(0));
    ARMED.with(|a| a.set(true));
    let out = f();
    ARMED.with(|a| a.set(false));
    (out, REQUESTED.with(|r| r.get()))
}

const SLACK: usize = 64;

fn k() -> usize {
    let ratios = [
        size_of::<ByteStr>().div_ceil(2),
        size_of::<(ByteStr, SubOptions)>().div_ceil(3),
        size_of::<(ByteStr, ByteStr)>().div_ceil(5),
        4 * size_of::<u32>() / 2,
    ];
    ratios.into_iter().max().unwrap_or(0)
}

fn bound(len: usize) -> usize {
    k() * len + size_of::<Connect>() + SLACK
}

/// Decodes `wire` (successfully or not) and checks what it requested.
/// Returns whether it decoded.
fn check_bound(wire: &[u8], protocol: Protocol) -> bool {
    let frame = Bytes::copy_from_slice(wire);
    let (result, requested) = measured(|| decode(frame, protocol));
    assert!(
        requested <= bound(wire.len()),
        "{requested} bytes requested decoding {} bytes ({:02x?}...)",
        wire.len(),
        &wire[..wire.len().min(16)]
    );
    result.is_ok()
}

#[test]
fn the_counter_sees_allocations() {
    let (v, requested) = measured(|| Vec::<u8>::with_capacity(1000));
    assert!(requested >= 1000);
    drop(v);
    let (_, idle) = measured(|| 1 + 1);
    assert_eq!(idle, 0);
}

fn varint(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut b = (n & 0x7F) as u8;
        n >>= 7;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            return out;
        }
    }
}

fn frame(first: u8, body: &[u8]) -> Vec<u8> {
    [&[first][..], &varint(body.len()), body].concat()
}

fn with_props(prefix: &[u8], props: &[u8], suffix: &[u8]) -> Vec<u8> {
    [prefix, &varint(props.len()), props, suffix].concat()
}

/// Frames that pack the most decoded elements into the fewest bytes, each
/// with `n` elements.
fn dense(n: usize) -> Vec<(&'static str, Vec<u8>)> {
    let rep = |unit: &[u8]| unit.repeat(n);
    vec![
        (
            "SUBSCRIBE of empty filters",
            frame(0x82, &[b"\x00\x01\x00", &rep(b"\x00\x00\x00")[..]].concat()),
        ),
        (
            "SUBSCRIBE of one-byte filters",
            frame(
                0x82,
                &[b"\x00\x01\x00", &rep(b"\x00\x01a\x01")[..]].concat(),
            ),
        ),
        (
            "UNSUBSCRIBE of empty filters",
            frame(0xA2, &[b"\x00\x01\x00", &rep(b"\x00\x00")[..]].concat()),
        ),
        (
            "CONNECT of empty user properties",
            frame(
                0x10,
                &with_props(
                    b"\x00\x04MQTT\x05\x02\x00\x00",
                    &rep(b"\x26\x00\x00\x00\x00"),
                    b"\x00\x01c",
                ),
            ),
        ),
        (
            "DISCONNECT of user properties",
            frame(
                0xE0,
                &with_props(b"\x00", &rep(b"\x26\x00\x01k\x00\x00"), b""),
            ),
        ),
        (
            "PUBLISH of subscription identifiers",
            frame(0x30, &with_props(b"\x00\x01t", &rep(b"\x0b\x01"), b"")),
        ),
        (
            "PUBLISH of scattered passthrough",
            frame(
                0x30,
                &with_props(b"\x00\x01t", &rep(b"\x26\x00\x00\x00\x00\x0b\x01"), b"x"),
            ),
        ),
        (
            "SUBACK of codes",
            frame(0x90, &[b"\x00\x01\x00", &rep(b"\x00")[..]].concat()),
        ),
        (
            "UNSUBACK of codes",
            frame(0xB0, &[b"\x00\x01\x00", &rep(b"\x11")[..]].concat()),
        ),
    ]
}

#[test]
fn dense_frames_stay_within_the_bound() {
    for n in [1, 2, 3, 5, 10, 100, 1_000, 10_000] {
        for (what, wire) in dense(n) {
            assert!(
                check_bound(&wire, Protocol::V5),
                "{what} x{n} did not decode"
            );
        }
    }
}

#[test]
fn a_large_unsubscribe_allocates_its_filter_list_once() {
    // Without the list sized up front, doubling alone would request about
    // four times its final size.
    let n = 10_000;
    let wire = frame(
        0xA2,
        &[b"\x00\x01\x00", &b"\x00\x00".repeat(n)[..]].concat(),
    );
    let frame = Bytes::from(wire);
    let frame2 = frame.clone();
    let (result, requested) = measured(|| decode(frame2, Protocol::V5));
    assert!(result.is_ok());
    assert!(requested <= n * size_of::<ByteStr>() + SLACK, "{requested}");
    drop(frame);
}

/// xorshift64: the packets and mutations below are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

fn word(rng: &mut Rng) -> ByteStr {
    ByteStr::from(["", "a", "k", "sensor/1", "é"][rng.below(5)])
}

fn users(rng: &mut Rng) -> Vec<(ByteStr, ByteStr)> {
    (0..rng.below(4)).map(|_| (word(rng), word(rng))).collect()
}

fn props(rng: &mut Rng) -> Properties {
    Properties {
        reason_string: Some(word(rng)),
        user: users(rng),
        ..Properties::default()
    }
}

/// One valid MQTT 5 packet of every type, with some content.
fn packets(rng: &mut Rng) -> Vec<Packet> {
    let filters = 1 + rng.below(5);
    let opts = SubOptions {
        qos: QoS::AtLeastOnce,
        no_local: true,
        retain_as_published: false,
        retain_handling: 1,
    };
    let ack = |rng: &mut Rng| Ack {
        packet_id: 1 + rng.below(100) as u16,
        reason: 0,
        properties: props(rng),
    };
    vec![
        Packet::Connect(Box::new(Connect {
            protocol: Protocol::V5,
            clean_start: true,
            keep_alive: 30,
            client_id: word(rng),
            will: Some(Will {
                topic: ByteStr::from("w"),
                payload: Bytes::from_static(b"bye"),
                qos: QoS::AtLeastOnce,
                retain: false,
                delay_interval: 5,
                properties: PublishProperties {
                    message_expiry: Some(9),
                    passthrough: Bytes::from_static(b"\x01\x01\x26\x00\x01k\x00\x01v"),
                    ..PublishProperties::default()
                },
            }),
            username: Some(word(rng)),
            password: Some(Bytes::from_static(b"pw")),
            bridge: false,
            properties: Properties {
                session_expiry: Some(60),
                receive_maximum: Some(10),
                user: users(rng),
                ..Properties::default()
            },
        })),
        Packet::ConnAck(ConnAck {
            session_present: false,
            code: 0,
            properties: Properties {
                topic_alias_maximum: Some(10),
                assigned_client_identifier: Some(word(rng)),
                user: users(rng),
                ..Properties::default()
            },
        }),
        Packet::Publish(Publish {
            dup: false,
            qos: QoS::ExactlyOnce,
            retain: true,
            topic: ByteStr::from("a/b"),
            packet_id: 7,
            properties: PublishProperties {
                message_expiry: Some(1),
                topic_alias: Some(2),
                subscription_ids: (1..=rng.below(4) as u32).collect(),
                passthrough: Bytes::from_static(b"\x03\x00\x01t\x26\x00\x01k\x00\x01v"),
            },
            payload: Bytes::from(vec![0x55; rng.below(300)]),
        }),
        Packet::PubAck(ack(rng)),
        Packet::PubRec(ack(rng)),
        Packet::PubRel(ack(rng)),
        Packet::PubComp(ack(rng)),
        Packet::Subscribe(Subscribe {
            packet_id: 3,
            filters: (0..filters).map(|_| (word(rng), opts)).collect(),
            properties: Properties {
                subscription_identifier: Some(77),
                user: users(rng),
                ..Properties::default()
            },
        }),
        Packet::SubAck(SubAck {
            packet_id: 3,
            codes: vec![1; filters],
            properties: props(rng),
        }),
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 4,
            filters: (0..filters).map(|_| word(rng)).collect(),
            properties: Properties {
                user: users(rng),
                ..Properties::default()
            },
        }),
        Packet::UnsubAck(UnsubAck {
            packet_id: 4,
            codes: vec![0; filters],
            properties: props(rng),
        }),
        Packet::PingReq,
        Packet::PingResp,
        Packet::Disconnect(Disconnect {
            reason: 0x04,
            properties: props(rng),
        }),
        Packet::Auth(Auth {
            reason: 0x18,
            properties: Properties {
                authentication_method: Some(ByteStr::from("SCRAM")),
                authentication_data: Some(Bytes::from_static(b"\x01\x02")),
                ..props(rng)
            },
        }),
    ]
}

/// Flips, replaces, inserts, removes or truncates, then sets the remaining
/// length to the real one so that the decoder sees the mutant.
fn mutate(rng: &mut Rng, wire: &mut Vec<u8>) {
    let i = rng.below(wire.len());
    match rng.below(5) {
        0 => wire[i] ^= 1 << rng.below(8),
        1 => wire[i] = rng.byte(),
        2 => wire.insert(i, rng.byte()),
        3 => {
            wire.remove(i);
        }
        _ => wire.truncate(i.max(1)),
    }
    let mut at = 1;
    while at < wire.len() && at < 5 && wire[at] & 0x80 != 0 {
        at += 1;
    }
    let body = wire.get(at + 1..).unwrap_or(&[]).to_vec();
    *wire = frame(wire[0], &body);
}

#[test]
fn every_packet_type_and_its_mutants_stay_within_the_bound() {
    let mut rng = Rng(0xA110_C8ED_5EED_0001);
    let (mut decoded, mut refused) = (0, 0);
    for _ in 0..300 {
        for packet in packets(&mut rng) {
            let mut out = BytesMut::new();
            encode(&packet, Protocol::V5, &mut out);
            let wire = out.to_vec();
            assert!(check_bound(&wire, Protocol::V5), "{packet:?}");
            for _ in 0..4 {
                let mut mutant = wire.clone();
                for _ in 0..1 + rng.below(3) {
                    mutate(&mut rng, &mut mutant);
                }
                let protocol = [Protocol::V5, Protocol::V5, Protocol::V311][rng.below(3)];
                if check_bound(&mutant, protocol) {
                    decoded += 1;
                } else {
                    refused += 1;
                }
            }
        }
    }
    assert!(decoded > 1_000 && refused > 1_000, "{decoded} {refused}");
}
