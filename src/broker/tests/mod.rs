//! Broker logic driven without sockets (see [`harness`]): MQTT 3.1 and
//! 3.1.1 CONNECT, sessions, `$SYS` and untrusted input here, their
//! delivery in [`delivery`], MQTT 5 in [`v5`].

mod access;
mod bridge;
mod delivery;
mod harness;
mod persist;
mod v5;

use std::time::Duration;

use bytes::BytesMut;

use super::*;
use crate::codec::{connack, Ack, ByteStr, Properties, Protocol, QoS, Unsubscribe};
use harness::*;
// ---- CONNECT ----

#[test]
fn first_packet_must_be_connect_mqtt_3_1_0_1() {
    let mut h = Harness::new();
    let link = h.open();
    h.send(link, Packet::PingReq);
    assert!(!h.is_open(link));
    assert!(h.recv(link).is_empty(), "no PINGRESP before CONNECT");
}

#[test]
fn unsupported_protocol_level_gets_connack_1_mqtt_3_1_2_2() {
    let mut h = Harness::new();
    let link = h.open();
    // CONNECT "MQTT" level 6.
    h.raw(
        link,
        &[0x10, 12, 0, 4, b'M', b'Q', b'T', b'T', 6, 0x02, 0, 60, 0, 0],
    );
    let got = h.recv(link);
    assert!(
        matches!(&got[..], [Packet::ConnAck(a)] if a.code == connack::UNACCEPTABLE_PROTOCOL_VERSION),
        "{got:?}"
    );
    assert!(!h.is_open(link));
}

#[test]
fn empty_client_id_with_clean_session_gets_generated_id_mqtt_3_1_3_6() {
    let mut h = Harness::new();
    let (a, ack_a) = h.connect(connect_packet("", true, 60));
    let (b, ack_b) = h.connect(connect_packet("", true, 60));
    assert_eq!(ack_a.code, connack::ACCEPTED);
    assert_eq!(ack_b.code, connack::ACCEPTED);
    assert!(
        h.is_open(a) && h.is_open(b),
        "two generated ids do not collide"
    );
}

#[test]
fn empty_client_id_without_clean_session_is_rejected_mqtt_3_1_3_8() {
    let mut h = Harness::new();
    let (link, ack) = h.connect(connect_packet("", false, 60));
    assert_eq!(ack.code, connack::IDENTIFIER_REJECTED);
    assert!(!ack.session_present);
    assert!(!h.is_open(link));
}

#[test]
fn empty_client_id_refused_when_zero_length_ids_disallowed() {
    let mut h = Harness::with(Settings {
        sys_interval: None,
        listeners: vec![ListenerPolicy {
            allow_zero_length_clientid: false,
            ..ListenerPolicy::default()
        }],
        ..Settings::default()
    });
    let (_, ack) = h.connect(connect_packet("", true, 60));
    assert_eq!(ack.code, connack::IDENTIFIER_REJECTED);
}

#[test]
fn mqtt31_requires_a_client_id() {
    let mut h = Harness::new();
    let mut c = connect_packet("", true, 60);
    c.protocol = Protocol::V31;
    let (_, ack) = h.connect(c);
    assert_eq!(ack.code, connack::IDENTIFIER_REJECTED);
}

#[test]
fn second_connect_is_a_protocol_violation_mqtt_3_1_0_2() {
    let mut h = Harness::new();
    let link = h.client("c", true);
    h.send(
        link,
        Packet::Connect(Box::new(connect_packet("c", true, 60))),
    );
    assert!(!h.is_open(link));
    assert!(h.recv(link).is_empty());
}

#[test]
fn anonymous_refused_when_not_allowed() {
    let mut h = Harness::with(Settings {
        sys_interval: None,
        listeners: vec![ListenerPolicy {
            allow_anonymous: false,
            ..ListenerPolicy::default()
        }],
        ..Settings::default()
    });
    let (link, ack) = h.connect(connect_packet("c", true, 60));
    assert_eq!(ack.code, connack::NOT_AUTHORIZED);
    assert!(!h.is_open(link));
}

#[test]
fn keep_alive_above_max_keepalive_is_refused() {
    let mut h = Harness::with(Settings {
        sys_interval: None,
        max_keepalive: 60,
        ..Settings::default()
    });
    let (_, ack) = h.connect(connect_packet("c", true, 61));
    assert_ne!(ack.code, connack::ACCEPTED);
    let (_, ack) = h.connect(connect_packet("d", true, 60));
    assert_eq!(ack.code, connack::ACCEPTED);
}

#[test]
fn max_connections_refuses_new_links() {
    let mut h = Harness::with(Settings {
        sys_interval: None,
        listeners: vec![ListenerPolicy {
            max_connections: Some(2),
            ..ListenerPolicy::default()
        }],
        ..Settings::default()
    });
    let a = h.open();
    let _b = h.open();
    assert!(h.broker.open_link((), peer(), 0, h.now).is_err());
    h.broker.link_lost(a, CloseCause::SocketClosed, h.now);
    for id in h.closed() {
        h.broker.remove_link(id);
    }
    assert!(h.broker.open_link((), peer(), 0, h.now).is_ok());
}

#[test]
fn takeover_closes_old_connection_and_publishes_its_will_mqtt_3_1_4_2() {
    let mut h = Harness::new();
    let watcher = h.client("watcher", true);
    h.subscribe(watcher, "wills/#", QoS::AtMostOnce);
    let mut c = connect_packet("dup", true, 60);
    c.will = Some(will("wills/dup", "gone", QoS::AtMostOnce, false));
    let (old, _) = h.connect(c);
    let (new, ack) = h.connect(connect_packet("dup", true, 60));
    assert_eq!(ack.code, connack::ACCEPTED);
    assert!(!h.is_open(old));
    assert!(h.is_open(new));
    assert_eq!(payloads(&h.recv(watcher)), vec!["gone"]);
}

#[test]
fn session_present_reflects_stored_session_mqtt_3_2_2_2() {
    let mut h = Harness::new();
    let (a, ack) = h.connect(connect_packet("p", false, 60));
    assert!(!ack.session_present, "no session existed");
    h.send(a, Packet::Disconnect(Default::default()));
    let (b, ack) = h.connect(connect_packet("p", false, 60));
    assert!(ack.session_present, "persistent session resumed");
    h.send(b, Packet::Disconnect(Default::default()));
    let (_, ack) = h.connect(connect_packet("p", true, 60));
    assert!(
        !ack.session_present,
        "clean session discards it [MQTT-3.2.2-1]"
    );
}

// ---- Sessions ----

#[test]
fn persistent_session_keeps_subscriptions_and_queues_qos1_while_offline() {
    let mut h = Harness::new();
    let sub = h.client("sub", false);
    h.subscribe(sub, "a/b", QoS::AtLeastOnce);
    h.send(sub, Packet::Disconnect(Default::default()));
    let publisher = h.client("pub", true);
    h.send(publisher, publish("a/b", "m1", QoS::AtLeastOnce, false, 1));
    h.send(publisher, publish("a/b", "m0", QoS::AtMostOnce, false, 0));
    h.send(publisher, publish("a/b", "m2", QoS::ExactlyOnce, false, 2));
    let (sub2, ack) = h.connect(connect_packet("sub", false, 60));
    assert!(ack.session_present);
    let got = h.recv(sub2);
    assert_eq!(
        payloads(&got),
        vec!["m1", "m2"],
        "QoS 0 is not queued by default"
    );
    let ps = publishes(&got);
    assert_eq!(ps[0].qos, QoS::AtLeastOnce);
    assert_eq!(ps[1].qos, QoS::AtLeastOnce, "min(published, granted)");
}

#[test]
fn queue_qos0_messages_queues_qos0_for_offline_sessions() {
    let mut h = Harness::with(Settings {
        queue_qos0: true,
        sys_interval: None,
        ..Settings::default()
    });
    let sub = h.client("sub", false);
    h.subscribe(sub, "t", QoS::AtMostOnce);
    h.send(sub, Packet::Disconnect(Default::default()));
    let p = h.client("pub", true);
    h.send(p, publish("t", "zero", QoS::AtMostOnce, false, 0));
    let sub2 = h.client("sub", false);
    assert_eq!(payloads(&h.recv(sub2)), vec!["zero"]);
}

#[test]
fn clean_session_discards_subscriptions_on_disconnect() {
    let mut h = Harness::new();
    let sub = h.client("sub", true);
    h.subscribe(sub, "t", QoS::AtLeastOnce);
    h.send(sub, Packet::Disconnect(Default::default()));
    assert_eq!(h.broker.tree.len(), 0);
    let p = h.client("pub", true);
    h.send(p, publish("t", "x", QoS::AtLeastOnce, false, 1));
    let (sub2, ack) = h.connect(connect_packet("sub", false, 60));
    assert!(!ack.session_present);
    assert!(publishes(&h.recv(sub2)).is_empty());
}

#[test]
fn unacknowledged_messages_resent_with_dup_and_same_ids_on_reconnect_mqtt_4_4_0_1() {
    let mut h = Harness::new();
    let sub = h.client("sub", false);
    h.subscribe(sub, "t", QoS::ExactlyOnce);
    let p = h.client("pub", true);
    h.send(p, publish("t", "q1", QoS::AtLeastOnce, false, 1));
    h.send(p, publish("t", "q2", QoS::ExactlyOnce, false, 2));
    h.send(p, publish("t", "q2b", QoS::ExactlyOnce, false, 3));
    let first = h.recv(sub);
    let ids: Vec<u16> = publishes(&first).iter().map(|p| p.packet_id).collect();
    assert_eq!(ids.len(), 3);
    // Acknowledge the third message as far as PUBREC: it awaits PUBCOMP.
    h.send(sub, Packet::PubRec(Ack::new(ids[2])));
    assert!(matches!(&h.recv(sub)[..], [Packet::PubRel(a)] if a.packet_id == ids[2]));
    h.broker.link_lost(sub, CloseCause::SocketClosed, h.now);
    let sub2 = h.client("sub", false);
    let again = h.recv(sub2);
    let ps = publishes(&again);
    assert_eq!(ps.len(), 2);
    assert!(
        ps.iter().all(|p| p.dup),
        "re-sent PUBLISH has DUP [MQTT-3.3.1-1]"
    );
    assert_eq!(ps[0].packet_id, ids[0]);
    assert_eq!(ps[1].packet_id, ids[1]);
    assert!(
        again
            .iter()
            .any(|p| matches!(p, Packet::PubRel(a) if a.packet_id == ids[2])),
        "PUBREL re-sent: {again:?}"
    );
}

#[test]
fn persistent_client_expiration_removes_abandoned_sessions() {
    let mut h = Harness::with(Settings {
        persistent_client_expiration: Some(Duration::from_secs(3600)),
        sys_interval: None,
        ..Settings::default()
    });
    let sub = h.client("sub", false);
    h.subscribe(sub, "t", QoS::AtLeastOnce);
    h.broker.link_lost(sub, CloseCause::SocketClosed, h.now);
    h.advance(Duration::from_secs(3599));
    assert_eq!(h.broker.tree.len(), 1, "not yet expired");
    h.advance(Duration::from_secs(2));
    assert_eq!(
        h.broker.tree.len(),
        0,
        "expired session's subscriptions gone"
    );
    let (_, ack) = h.connect(connect_packet("sub", false, 60));
    assert!(!ack.session_present);
}

#[test]
fn reconnect_before_expiration_keeps_the_session() {
    let mut h = Harness::with(Settings {
        persistent_client_expiration: Some(Duration::from_secs(10)),
        sys_interval: None,
        ..Settings::default()
    });
    let sub = h.client("sub", false);
    h.broker.link_lost(sub, CloseCause::SocketClosed, h.now);
    h.advance(Duration::from_secs(5));
    let (_, ack) = h.connect(connect_packet("sub", false, 60));
    assert!(ack.session_present);
    h.advance(Duration::from_secs(20));
    assert_eq!(
        h.broker.sessions.len(),
        1,
        "a connected session never expires"
    );
}

// ---- $SYS ----

#[test]
fn sys_topics_published_retained_and_not_matched_by_root_wildcards_mqtt_4_7_2_1() {
    let mut h = Harness::with(Settings {
        sys_interval: Some(Duration::from_secs(10)),
        ..Settings::default()
    });
    let all = h.client("all", true);
    h.subscribe(all, "#", QoS::AtMostOnce);
    let plus = h.client("plus", true);
    h.subscribe(plus, "+/broker/uptime", QoS::AtMostOnce);
    let sys = h.client("sys", true);
    h.subscribe(sys, "$SYS/broker/clients/connected", QoS::AtMostOnce);
    h.advance(Duration::from_secs(10));
    assert!(publishes(&h.recv(all)).is_empty());
    assert!(publishes(&h.recv(plus)).is_empty());
    assert_eq!(payloads(&h.recv(sys)), vec!["3"]);
    let late = h.client("late", true);
    h.send(
        late,
        subscribe(1, &[("$SYS/broker/version", QoS::AtMostOnce)]),
    );
    let got = h.recv(late);
    assert!(publishes(&got)[0].retain);
    assert!(payloads(&got)[0].starts_with("midge"));
}

#[test]
fn per_connection_structures_stay_small() {
    // Budget for the Pi Zero: 10,000 idle clients in a few megabytes.
    let link = std::mem::size_of::<Link<mio::net::TcpStream>>();
    println!(
        "real {}",
        std::mem::size_of::<Link<crate::transport::Stream>>()
    );
    let session = std::mem::size_of::<Session>();
    println!("Link {link} B, Session {session} B");
    assert!(link <= 136, "Link grew to {link} bytes");
    // 120: the store id (persistence) took the last padding bytes; 128:
    // the pointer to an authenticated client's user name and ACL.
    assert!(session <= 128, "Session grew to {session} bytes");
}

// ---- Untrusted input ----

/// A stream of valid client packets, for the fuzz test to mutate.
fn session_bytes(id: &str) -> Vec<u8> {
    let mut buf = BytesMut::new();
    let mut c = connect_packet(id, false, 30);
    c.will = Some(will("w/t", "bye", QoS::AtLeastOnce, true));
    let packets = [
        Packet::Connect(Box::new(c)),
        subscribe(1, &[("f/#", QoS::ExactlyOnce), ("+/x", QoS::AtLeastOnce)]),
        publish("f/a", "one", QoS::AtLeastOnce, true, 2),
        publish("f/b", "two", QoS::ExactlyOnce, false, 3),
        Packet::PubRel(Ack::new(3)),
        Packet::PubAck(Ack::new(1)),
        Packet::PubRec(Ack::new(2)),
        Packet::PubComp(Ack::new(2)),
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 4,
            filters: vec![ByteStr::from("+/x")],
            properties: Properties::default(),
        }),
        Packet::PingReq,
        Packet::Disconnect(Default::default()),
    ];
    for p in &packets {
        codec::encode(p, Protocol::V311, &mut buf);
    }
    buf.to_vec()
}

/// Mutated 3.1.1 packet streams never panic the broker, and a client that
/// sends only valid packets keeps being served throughout.
#[test]
fn mutated_input_never_panics_and_never_affects_others() {
    fuzz_sessions(0x005E_ED0F_B0B0, 3000, session_bytes);
}

/// Feeds `rounds` mutated copies of `session(client_id)` (bit flips,
/// truncation, inserted and deleted bytes, garbage), in pieces of random
/// size, from up to 20 client ids, with the clock moving; checks the
/// session books' bounds after every stream, and that a well-behaved
/// client is served throughout.
pub(super) fn fuzz_sessions(seed: u64, rounds: u32, session: fn(&str) -> Vec<u8>) {
    let mut rng = crate::testutil::Rng(seed);
    let mut settings = Settings {
        sys_interval: Some(Duration::from_secs(1)),
        retry_interval: Some(Duration::from_secs(2)),
        persistent_client_expiration: Some(Duration::from_secs(5)),
        max_packet_size: 4096,
        ..Settings::default()
    };
    settings.limits.max_queued = 50;
    let mut h = Harness::with(settings);
    let watcher = h.client("watcher", true);
    h.subscribe(watcher, "#", QoS::AtMostOnce);
    for round in 0..rounds {
        let mut bytes = session(&format!("c{}", rng.below(20)));
        match rng.below(5) {
            0 => {
                for _ in 0..=rng.below(4) {
                    let i = rng.below(bytes.len());
                    bytes[i] ^= 1 << rng.below(8);
                }
            }
            1 => bytes.truncate(rng.below(bytes.len())),
            2 => {
                let i = rng.below(bytes.len());
                bytes.insert(i, rng.byte());
            }
            3 => {
                let i = rng.below(bytes.len());
                bytes.remove(i);
            }
            _ => {
                let i = rng.below(bytes.len());
                for b in bytes.iter_mut().skip(i).take(16) {
                    *b = rng.byte();
                }
            }
        }
        let link = h.open();
        // Sent in pieces of random size, as TCP may deliver them.
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let n = 1 + rng.below(rest.len().min(64));
            h.raw(link, &rest[..n]);
            rest = &rest[n..];
        }
        if rng.one_in(3) {
            h.broker.link_lost(link, CloseCause::SocketClosed, h.now);
        }
        if round % 100 == 0 {
            h.advance(Duration::from_millis(700));
        }
        for id in h.closed() {
            h.broker.remove_link(id);
        }
        h.broker.link_mut(watcher).unwrap().tx.take_all();
        if let Err(broken) = h.broker.audit() {
            panic!("round {round}: {broken}");
        }
    }
    assert!(
        h.is_open(watcher),
        "the well-behaved client is still served"
    );
    h.send(watcher, Packet::PingReq);
    assert!(h.recv(watcher).contains(&Packet::PingResp));
    let p = h.client("late-publisher", true);
    h.send(p, publish("after/fuzz", "ok", QoS::AtMostOnce, false, 0));
    assert!(payloads(&h.recv(watcher)).contains(&"ok".to_string()));
}
