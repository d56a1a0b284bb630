//! Every property of the MQTT 5 table (section 2.2.2.2, identifiers 0x01
//! to 0x2A), one at a time, in each of the fourteen places a property block
//! can stand (thirteen packet types and the will): where the table allows
//! it, hand-written bytes decode to the expected packet, encode back to the
//! same bytes and frame at every split; where it does not, the packet is
//! malformed; twice, it is a protocol error unless it may repeat.

use bytes::Bytes;

use super::properties::{Properties, PublishProperties};
use super::tests::{cat, dec, fixture, malformed, protocol_error, publish, s};
use super::types::{self as t, reason, Ack, Packet, Protocol, QoS, SubOptions};

use Protocol::V5;

/// Where a property block stands.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Ctx {
    Connect,
    Will,
    ConnAck,
    Publish,
    PubAck,
    PubRec,
    PubRel,
    PubComp,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    Disconnect,
    Auth,
}

use Ctx::*;

pub(super) const EVERY_CTX: [Ctx; 14] = [
    Connect,
    Will,
    ConnAck,
    Publish,
    PubAck,
    PubRec,
    PubRel,
    PubComp,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    Disconnect,
    Auth,
];

/// What a property sets in the decoded packet.
#[derive(Clone, Copy)]
enum Set {
    /// A field of `Properties`.
    Field(fn(&mut Properties)),
    /// A PUBLISH or will property kept verbatim in `passthrough`.
    Pass,
    /// A user property `k` = `v` (passthrough in PUBLISH and the will).
    User,
    Expiry(u32),
    Alias(u16),
    SubId(u32),
    Delay(u32),
}

/// One property: its identifier, its hand-written bytes (identifier
/// first), the places the table of section 2.2.2.2 allows it, and what it
/// sets.
pub(super) struct Case {
    pub(super) id: u8,
    pub(super) bytes: &'static [u8],
    pub(super) allowed: &'static [Ctx],
    set: Set,
}

const AUTH_PACKETS: &[Ctx] = &[Connect, ConnAck, Auth];
const WILL_AND_PUBLISH: &[Ctx] = &[Publish, Will];

pub(super) fn cases() -> Vec<Case> {
    let case = |id, bytes, allowed, set| Case {
        id,
        bytes,
        allowed,
        set,
    };
    vec![
        case(0x01, &b"\x01\x01"[..], WILL_AND_PUBLISH, Set::Pass),
        case(
            0x02,
            b"\x02\x00\x00\x0e\x10",
            WILL_AND_PUBLISH,
            Set::Expiry(3600),
        ),
        case(0x03, b"\x03\x00\x04text", WILL_AND_PUBLISH, Set::Pass),
        case(0x08, b"\x08\x00\x03r/t", WILL_AND_PUBLISH, Set::Pass),
        case(0x09, b"\x09\x00\x02\xab\xcd", WILL_AND_PUBLISH, Set::Pass),
        case(
            0x0B,
            b"\x0b\x80\x01",
            &[Publish, Subscribe],
            Set::SubId(128),
        ),
        case(
            0x11,
            b"\x11\x00\x00\x0e\x10",
            &[Connect, ConnAck, Disconnect],
            Set::Field(|p| p.session_expiry = Some(3600)),
        ),
        case(
            0x12,
            b"\x12\x00\x02id",
            &[ConnAck],
            Set::Field(|p| p.assigned_client_identifier = Some(s("id"))),
        ),
        case(
            0x13,
            b"\x13\x00\x3c",
            &[ConnAck],
            Set::Field(|p| p.server_keep_alive = Some(60)),
        ),
        case(
            0x15,
            b"\x15\x00\x05SCRAM",
            AUTH_PACKETS,
            Set::Field(|p| p.authentication_method = Some(s("SCRAM"))),
        ),
        case(
            0x16,
            b"\x16\x00\x03\x01\x02\x03",
            AUTH_PACKETS,
            Set::Field(|p| p.authentication_data = Some(Bytes::from_static(b"\x01\x02\x03"))),
        ),
        case(
            0x17,
            b"\x17\x00",
            &[Connect],
            Set::Field(|p| p.request_problem_information = Some(0)),
        ),
        case(0x18, b"\x18\x00\x00\x00\x05", &[Will], Set::Delay(5)),
        case(
            0x19,
            b"\x19\x01",
            &[Connect],
            Set::Field(|p| p.request_response_information = Some(1)),
        ),
        case(
            0x1A,
            b"\x1a\x00\x04resp",
            &[ConnAck],
            Set::Field(|p| p.response_information = Some(s("resp"))),
        ),
        case(
            0x1C,
            b"\x1c\x00\x05other",
            &[ConnAck, Disconnect],
            Set::Field(|p| p.server_reference = Some(s("other"))),
        ),
        case(
            0x1F,
            b"\x1f\x00\x03why",
            &[
                ConnAck, PubAck, PubRec, PubRel, PubComp, SubAck, UnsubAck, Disconnect, Auth,
            ],
            Set::Field(|p| p.reason_string = Some(s("why"))),
        ),
        case(
            0x21,
            b"\x21\x00\x14",
            &[Connect, ConnAck],
            Set::Field(|p| p.receive_maximum = Some(20)),
        ),
        case(
            0x22,
            b"\x22\x00\x0a",
            &[Connect, ConnAck],
            Set::Field(|p| p.topic_alias_maximum = Some(10)),
        ),
        case(0x23, b"\x23\x00\x05", &[Publish], Set::Alias(5)),
        case(
            0x24,
            b"\x24\x01",
            &[ConnAck],
            Set::Field(|p| p.maximum_qos = Some(1)),
        ),
        case(
            0x25,
            b"\x25\x00",
            &[ConnAck],
            Set::Field(|p| p.retain_available = Some(0)),
        ),
        case(0x26, b"\x26\x00\x01k\x00\x01v", &EVERY_CTX, Set::User),
        case(
            0x27,
            b"\x27\x00\x00\x13\x88",
            &[Connect, ConnAck],
            Set::Field(|p| p.maximum_packet_size = Some(5000)),
        ),
        case(
            0x28,
            b"\x28\x00",
            &[ConnAck],
            Set::Field(|p| p.wildcard_subscription_available = Some(0)),
        ),
        case(
            0x29,
            b"\x29\x00",
            &[ConnAck],
            Set::Field(|p| p.subscription_identifier_available = Some(0)),
        ),
        case(
            0x2A,
            b"\x2a\x01",
            &[ConnAck],
            Set::Field(|p| p.shared_subscription_available = Some(1)),
        ),
    ]
}

/// The Authentication Method that AUTH always carries, and that
/// Authentication Data needs.
const METHOD: &[u8] = b"\x15\x00\x01m";

/// True when the block for `case` in `ctx` starts with [`METHOD`].
fn needs_method(case: &Case, ctx: Ctx) -> bool {
    (ctx == Auth && case.id != 0x15) || case.id == 0x16
}

/// A whole packet whose property block in `ctx` is `block`, with a
/// one-byte remaining length and property length.
pub(super) fn wire(ctx: Ctx, block: &[u8]) -> Vec<u8> {
    assert!(block.len() < 128);
    let (first, body) = body(ctx, &cat(&[&[block.len() as u8], block]));
    assert!(body.len() < 128);
    cat(&[&[first, body.len() as u8], &body])
}

/// The first byte and the body (all that follows the remaining length) of
/// a packet of `ctx` whose property field, length included, is `props`.
pub(super) fn body(ctx: Ctx, props: &[u8]) -> (u8, Vec<u8>) {
    let props = props.to_vec();
    match ctx {
        Connect => (
            0x10,
            cat(&[b"\x00\x04MQTT\x05\x02\x00\x3c", &props, b"\x00\x01c"]),
        ),
        Will => (
            0x10,
            cat(&[
                b"\x00\x04MQTT\x05\x06\x00\x3c\x00\x00\x01c",
                &props,
                b"\x00\x01t\x00\x01p",
            ]),
        ),
        ConnAck => (0x20, cat(&[b"\x00\x00", &props])),
        Publish => (0x30, cat(&[b"\x00\x01t", &props, b"x"])),
        PubAck => (0x40, cat(&[b"\x00\x01\x00", &props])),
        PubRec => (0x50, cat(&[b"\x00\x01\x00", &props])),
        PubRel => (0x62, cat(&[b"\x00\x01\x00", &props])),
        PubComp => (0x70, cat(&[b"\x00\x01\x00", &props])),
        Subscribe => (0x82, cat(&[b"\x00\x01", &props, b"\x00\x01t\x00"])),
        SubAck => (0x90, cat(&[b"\x00\x01", &props, b"\x00"])),
        Unsubscribe => (0xA2, cat(&[b"\x00\x01", &props, b"\x00\x01t"])),
        UnsubAck => (0xB0, cat(&[b"\x00\x01", &props, b"\x00"])),
        Disconnect => (0xE0, cat(&[b"\x00", &props])),
        Auth => (0xF0, cat(&[b"\x18", &props])),
    }
}

/// The packet [`wire`] decodes to, given what its block sets.
fn packet(ctx: Ctx, p: Properties, pp: PublishProperties, delay: u32) -> Packet {
    let ack = Ack {
        packet_id: 1,
        reason: 0,
        properties: p.clone(),
    };
    let connect = |properties, will| {
        Packet::Connect(Box::new(t::Connect {
            protocol: V5,
            clean_start: true,
            keep_alive: 60,
            client_id: s("c"),
            will,
            username: None,
            password: None,
            bridge: false,
            properties,
        }))
    };
    match ctx {
        Connect => connect(p, None),
        Will => connect(
            Properties::default(),
            Some(t::Will {
                topic: s("t"),
                payload: Bytes::from_static(b"p"),
                qos: QoS::AtMostOnce,
                retain: false,
                delay_interval: delay,
                properties: pp,
            }),
        ),
        ConnAck => Packet::ConnAck(t::ConnAck {
            properties: p,
            ..t::ConnAck::default()
        }),
        Publish => Packet::Publish(t::Publish {
            properties: pp,
            ..publish(QoS::AtMostOnce, "t", 0, b"x")
        }),
        PubAck => Packet::PubAck(ack),
        PubRec => Packet::PubRec(ack),
        PubRel => Packet::PubRel(ack),
        PubComp => Packet::PubComp(ack),
        Subscribe => Packet::Subscribe(t::Subscribe {
            packet_id: 1,
            filters: vec![(s("t"), SubOptions::default())],
            properties: p,
        }),
        SubAck => Packet::SubAck(t::SubAck {
            packet_id: 1,
            codes: vec![0],
            properties: p,
        }),
        Unsubscribe => Packet::Unsubscribe(t::Unsubscribe {
            packet_id: 1,
            filters: vec![s("t")],
            properties: p,
        }),
        UnsubAck => Packet::UnsubAck(t::UnsubAck {
            packet_id: 1,
            codes: vec![0],
            properties: p,
        }),
        Disconnect => Packet::Disconnect(t::Disconnect {
            reason: 0,
            properties: p,
        }),
        Auth => Packet::Auth(t::Auth {
            reason: reason::CONTINUE_AUTHENTICATION,
            properties: p,
        }),
    }
}

/// The property block of `case` repeated `times` times in `ctx`, after the
/// Authentication Method where one is needed.
pub(super) fn block(case: &Case, ctx: Ctx, times: usize) -> Vec<u8> {
    let mut block = Vec::new();
    if needs_method(case, ctx) {
        block.extend_from_slice(METHOD);
    }
    for _ in 0..times {
        block.extend_from_slice(case.bytes);
    }
    block
}

/// `case` repeated `times` times in `ctx`: the bytes and the packet they
/// decode to.
fn build(case: &Case, ctx: Ctx, times: usize) -> (Vec<u8>, Packet) {
    let mut p = Properties::default();
    let mut pp = PublishProperties::default();
    let mut delay = 0;
    let mut pass = Vec::new();
    if needs_method(case, ctx) {
        p.authentication_method = Some(s("m"));
    }
    for _ in 0..times {
        match case.set {
            Set::Field(f) => f(&mut p),
            Set::Pass => pass.extend_from_slice(case.bytes),
            Set::User if matches!(ctx, Publish | Will) => pass.extend_from_slice(case.bytes),
            Set::User => p.user.push((s("k"), s("v"))),
            Set::Expiry(v) => pp.message_expiry = Some(v),
            Set::Alias(v) => pp.topic_alias = Some(v),
            Set::SubId(v) if ctx == Publish => pp.subscription_ids.push(v),
            Set::SubId(v) => p.subscription_identifier = Some(v),
            Set::Delay(v) => delay = v,
        }
    }
    pp.passthrough = Bytes::from(pass);
    (
        wire(ctx, &block(case, ctx, times)),
        packet(ctx, p, pp, delay),
    )
}

#[test]
fn the_cases_are_the_whole_property_table() {
    let ids: Vec<u8> = cases().iter().map(|c| c.id).collect();
    assert_eq!(
        ids,
        [
            0x01, 0x02, 0x03, 0x08, 0x09, 0x0B, 0x11, 0x12, 0x13, 0x15, 0x16, 0x17, 0x18, 0x19,
            0x1A, 0x1C, 0x1F, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A
        ]
    );
    for case in cases() {
        assert_eq!(case.bytes[0], case.id);
    }
    let pairs: usize = cases().iter().map(|c| c.allowed.len()).sum();
    assert_eq!(pairs, 64, "the table of section 2.2.2.2 has 64 places");
}

#[test]
fn every_property_round_trips_in_every_packet_that_allows_it() {
    for case in cases() {
        for &ctx in case.allowed {
            let (wire, expected) = build(&case, ctx, 1);
            fixture(&wire, V5, expected);
        }
    }
}

#[test]
fn every_property_where_the_table_does_not_allow_it_is_malformed() {
    // Section 2.2.2.2: "A Control Packet which contains an Identifier which
    // is not valid for its packet type ... is a Malformed Packet".
    let mut refused = 0;
    for case in cases() {
        for ctx in EVERY_CTX {
            if !case.allowed.contains(&ctx) {
                malformed(&build(&case, ctx, 1).0, V5);
                refused += 1;
            }
        }
    }
    assert_eq!(refused, 27 * 14 - 64);
}

#[test]
fn every_single_use_property_twice_is_a_protocol_error() {
    // "It is a Protocol Error to include the <property> more than once",
    // stated for each property except User Property, which may repeat
    // everywhere, and Subscription Identifier, which may repeat in PUBLISH
    // (section 3.3.2.3.8) but not in SUBSCRIBE (section 3.8.2.1.2).
    for case in cases() {
        for &ctx in case.allowed {
            let (wire, expected) = build(&case, ctx, 2);
            let repeatable = case.id == 0x26 || (case.id == 0x0B && ctx == Publish);
            if repeatable {
                fixture(&wire, V5, expected);
            } else {
                protocol_error(&wire, V5);
            }
        }
    }
}

#[test]
fn every_unknown_property_identifier_is_malformed() {
    // Identifiers outside the table cannot be parsed (their value type is
    // unknown). All identifiers of this version are one byte, so one with
    // the continuation bit set is unknown too.
    let known: Vec<u8> = cases().iter().map(|c| c.id).collect();
    for pid in 0..=255u8 {
        if known.contains(&pid) {
            continue;
        }
        for ctx in EVERY_CTX {
            let block = [pid, 0x00, 0x01, b'a'];
            malformed(&wire(ctx, &block), V5);
        }
    }
}

#[test]
fn a_property_after_one_the_packet_does_not_allow_is_never_reached() {
    // The refusal does not depend on the order: a disallowed property
    // after a valid one is malformed too.
    let block = cat(&[b"\x1f\x00\x01r", b"\x23\x00\x01"]);
    malformed(&wire(PubAck, &block), V5);
    assert!(dec(&wire(PubAck, b"\x1f\x00\x01r"), V5).is_ok());
}
