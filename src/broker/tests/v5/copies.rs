//! The copies of one message routed to several connections: where two
//! copies are the same bytes they are written from one encoding
//! (`outbound::PacketMemo`). Whatever its company, each connection must
//! read exactly the bytes it reads as the only subscriber.

use super::*;

/// One kind of subscriber: its protocol, Topic Alias Maximum, Maximum
/// Packet Size and subscriptions (filter, QoS, Retain As Published,
/// subscription id).
struct Kind {
    protocol: Protocol,
    alias_max: Option<u16>,
    max_packet: Option<u32>,
    subs: &'static [(&'static str, QoS, bool, Option<u32>)],
}

const KINDS: &[Kind] = &[
    kind(
        Protocol::V31,
        None,
        &[("f/#", QoS::AtMostOnce, false, None)],
    ),
    kind(
        Protocol::V311,
        None,
        &[("f/#", QoS::AtLeastOnce, false, None)],
    ),
    kind(Protocol::V5, None, &[("f/#", QoS::AtMostOnce, false, None)]),
    kind(
        Protocol::V5,
        Some(10),
        &[("f/#", QoS::AtMostOnce, false, None)],
    ),
    // Two alike: the second copy is the first one's bytes.
    kind(
        Protocol::V5,
        Some(10),
        &[("f/#", QoS::AtMostOnce, false, None)],
    ),
    kind(
        Protocol::V5,
        Some(10),
        &[("f/#", QoS::AtMostOnce, true, None)],
    ),
    kind(
        Protocol::V5,
        Some(10),
        &[("f/#", QoS::AtMostOnce, false, Some(7))],
    ),
    kind(
        Protocol::V5,
        Some(10),
        &[("f/#", QoS::AtMostOnce, false, Some(8))],
    ),
    // Overlapping subscriptions: one copy with both ids.
    kind(
        Protocol::V5,
        Some(10),
        &[
            ("f/#", QoS::AtMostOnce, false, Some(1)),
            ("f/+", QoS::AtMostOnce, false, Some(2)),
        ],
    ),
    // One alias for three topics: replaced again and again.
    kind(
        Protocol::V5,
        Some(1),
        &[("f/#", QoS::AtMostOnce, false, None)],
    ),
    kind(
        Protocol::V5,
        Some(10),
        &[("f/#", QoS::AtLeastOnce, false, None)],
    ),
    kind(
        Protocol::V5,
        Some(10),
        &[("f/kitchen-temperature", QoS::AtMostOnce, false, None)],
    ),
    Kind {
        protocol: Protocol::V5,
        alias_max: Some(10),
        max_packet: Some(40),
        subs: &[("f/#", QoS::AtMostOnce, false, None)],
    },
];

const fn kind(
    protocol: Protocol,
    alias_max: Option<u16>,
    subs: &'static [(&'static str, QoS, bool, Option<u32>)],
) -> Kind {
    Kind {
        protocol,
        alias_max,
        max_packet: None,
        subs,
    }
}

/// What the publisher sends: topics taking turns, RETAIN on and off,
/// QoS 0 and 1, an expiry, forwarded properties, a payload too large to
/// copy inline and one too large for the smallest Maximum Packet Size.
fn script() -> Vec<Packet> {
    let mut out = Vec::new();
    let topics = [
        "f/kitchen-temperature",
        "f/hall-humidity",
        "f/kitchen-temperature",
        "f/garden/light-level",
        "f/kitchen-temperature",
        "f/hall-humidity",
    ];
    for (i, topic) in topics.iter().cycle().take(30).enumerate() {
        let props = match i % 5 {
            1 => expiring(100),
            3 => forwarded_props(1, Some("reply/here")),
            _ => PublishProperties::default(),
        };
        let payload = match i % 7 {
            4 => "x".repeat(300),
            5 => "y".repeat(30),
            _ => format!("m{i}"),
        };
        let qos = if i % 4 == 2 {
            QoS::AtLeastOnce
        } else {
            QoS::AtMostOnce
        };
        let Packet::Publish(mut p) = publish5(topic, &payload, qos, props, 1 + i as u16) else {
            unreachable!()
        };
        p.retain = i % 3 == 0;
        out.push(Packet::Publish(p));
    }
    out
}

/// The bytes each of `kinds` reads while the script is published to all of
/// them at once.
fn run(kinds: &[&Kind]) -> Vec<Vec<u8>> {
    let mut h = quiet(Settings::default());
    let links: Vec<usize> = kinds
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let mut c = connect5(&format!("s{i}"), None, true);
            c.protocol = k.protocol;
            c.properties.topic_alias_maximum = k.alias_max;
            c.properties.maximum_packet_size = k.max_packet;
            let (link, ack) = h.connect(c);
            assert_eq!(ack.code, 0);
            for (n, &(filter, q, rap, id)) in k.subs.iter().enumerate() {
                let mut options = qos(q);
                options.retain_as_published = rap;
                if k.protocol == Protocol::V5 {
                    suback(&mut h, link, sub5(1 + n as u16, filter, options, id));
                } else {
                    h.subscribe(link, filter, q);
                }
            }
            link
        })
        .collect();
    let publisher = v5_client(&mut h, "pub");
    for p in script() {
        h.send(publisher, p);
    }
    links.into_iter().map(|l| h.recv_bytes(l)).collect()
}

#[test]
fn every_copy_of_a_routed_message_is_what_a_lone_subscriber_reads() {
    let all: Vec<&Kind> = KINDS.iter().collect();
    let together = run(&all);
    for (i, k) in KINDS.iter().enumerate() {
        let alone = run(&[k]);
        assert!(!alone[0].is_empty(), "kind {i} read nothing");
        assert_eq!(together[i], alone[0], "kind {i}: bytes differ with company");
    }
    // The two alike kinds read the same bytes, and the copies to them
    // used topic aliases (repeated topics cost a few bytes).
    assert_eq!(together[3], together[4]);
    assert!(together[4].len() < together[2].len());
}
