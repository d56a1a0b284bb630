//! Persistence at the broker: what a restart from the journalled records
//! brings back. The "disk" is every record the broker journalled up to the
//! last sync (as the event loop commits them before it writes output); a
//! restart is a new broker restored from it, as after SIGKILL.

use std::time::Duration;

use super::harness::*;
use super::v5::{connect5, publish5, qos, sub5};
use crate::broker::*;
use crate::codec::{connack, Ack, ByteStr, Packet, PublishProperties, QoS, SubOptions, Will};

/// The wall clock when the first broker starts (ms since the epoch).
const WALL: u64 = 1_780_000_000_000;

struct Stored {
    h: Harness,
    disk: Vec<Vec<u8>>,
    /// Wall clock at `h`'s start.
    wall: u64,
    start: std::time::Instant,
    restored: Restored,
    settings: Settings,
}

impl Stored {
    fn new() -> Stored {
        Stored::with(Settings::default())
    }

    /// A store-backed broker with these settings (a restart keeps them).
    fn with(settings: Settings) -> Stored {
        let mut h = Harness::with(settings.clone());
        let restored = h.broker.restore(std::iter::empty(), WALL, h.now);
        let start = h.now;
        Stored {
            h,
            disk: Vec::new(),
            wall: WALL,
            start,
            restored,
            settings,
        }
    }

    /// The end of a turn: the journal goes to disk.
    fn sync(&mut self) {
        self.disk
            .extend(self.h.broker.journal().map(<[u8]>::to_vec));
        self.h.broker.clear_journal();
    }

    fn send(&mut self, link: usize, p: Packet) {
        self.h.send(link, p);
        self.sync();
    }

    fn recv(&mut self, link: usize) -> Vec<Packet> {
        self.sync();
        self.h.recv(link)
    }

    fn connect(&mut self, c: crate::codec::Connect) -> (usize, crate::codec::ConnAck) {
        let got = self.h.connect(c);
        self.sync();
        got
    }

    fn advance(&mut self, by: Duration) {
        self.h.advance(by);
        self.sync();
    }

    /// Killed, and started again `down` later: only what was synced
    /// survives.
    fn restart(&mut self, down: Duration) {
        let wall =
            self.wall + (self.h.now - self.start).as_millis() as u64 + down.as_millis() as u64;
        let mut h = Harness::with(self.settings.clone());
        let bodies: Vec<&[u8]> = self.disk.iter().map(Vec::as_slice).collect();
        self.restored = h.broker.restore(bodies, wall, h.now);
        self.start = h.now;
        self.wall = wall;
        self.h = h;
        self.sync();
    }

    /// The state as a snapshot alone would hold it (what compaction
    /// writes), replacing the disk.
    fn compact(&mut self) {
        self.sync();
        self.h.broker.journal_live_state();
        self.disk = self.h.broker.journal().map(<[u8]>::to_vec).collect();
        self.h.broker.clear_journal();
    }
}

fn persistent(id: &str) -> crate::codec::Connect {
    connect_packet(id, false, 60)
}

/// A persistent 3.1.1 subscriber to `filter` at `q`, then gone.
fn offline_subscriber(s: &mut Stored, id: &str, filter: &str, q: QoS) {
    let (link, _) = s.connect(persistent(id));
    s.send(link, subscribe(1, &[(filter, q)]));
    s.recv(link);
    s.send(link, Packet::Disconnect(Default::default()));
}

fn resume(s: &mut Stored, id: &str) -> (usize, Vec<Packet>) {
    let (link, ack) = s.connect(persistent(id));
    assert_eq!(ack.code, connack::ACCEPTED);
    assert!(ack.session_present, "session present after the restart");
    let got = s.recv(link);
    (link, got)
}

#[test]
fn queued_qos1_and_qos2_for_an_offline_session_survive_a_restart() {
    let mut s = Stored::new();
    offline_subscriber(&mut s, "sub", "a/#", QoS::ExactlyOnce);
    let p = s.h.client("pub", true);
    s.send(p, publish("a/1", "one", QoS::AtLeastOnce, false, 1));
    s.send(p, publish("a/2", "two", QoS::ExactlyOnce, false, 2));
    assert!(s.recv(p).contains(&Packet::PubAck(Ack::new(1))));
    s.restart(Duration::from_secs(5));
    assert_eq!(
        (s.restored.sessions, s.restored.messages),
        (1, 2),
        "{:?}",
        s.restored
    );
    let (link, got) = resume(&mut s, "sub");
    assert_eq!(payloads(&got), ["one", "two"]);
    let ids: Vec<u16> = publishes(&got).iter().map(|p| p.packet_id).collect();
    s.send(link, Packet::PubAck(Ack::new(ids[0])));
    s.send(link, Packet::PubRec(Ack::new(ids[1])));
    assert!(s.recv(link).contains(&Packet::PubRel(Ack::new(ids[1]))));
    s.send(link, Packet::PubComp(Ack::new(ids[1])));
    s.restart(Duration::ZERO);
    let (_, got) = resume(&mut s, "sub");
    assert!(publishes(&got).is_empty(), "acknowledged: gone, {got:?}");
}

#[test]
fn in_flight_messages_come_back_with_their_ids_and_dup_mqtt_4_4_0_1() {
    let mut s = Stored::new();
    let (sub, _) = s.connect(persistent("sub"));
    s.send(sub, subscribe(1, &[("a/#", QoS::ExactlyOnce)]));
    s.recv(sub);
    let p = s.h.client("pub", true);
    s.send(p, publish("a/1", "one", QoS::AtLeastOnce, false, 1));
    s.send(p, publish("a/2", "two", QoS::ExactlyOnce, false, 2));
    let first = s.recv(sub);
    let sent: Vec<(u16, bool)> = publishes(&first)
        .iter()
        .map(|p| (p.packet_id, p.dup))
        .collect();
    assert_eq!(sent.len(), 2);
    // PUBREC for the QoS 2 one: PUBREL is what is owed from now on.
    s.send(sub, Packet::PubRec(Ack::new(sent[1].0)));
    assert!(s.recv(sub).contains(&Packet::PubRel(Ack::new(sent[1].0))));
    s.restart(Duration::from_secs(1));
    let (_, got) = resume(&mut s, "sub");
    let again: Vec<(u16, bool)> = publishes(&got)
        .iter()
        .map(|p| (p.packet_id, p.dup))
        .collect();
    assert_eq!(
        again,
        [(sent[0].0, true)],
        "QoS 1 re-sent with DUP: {got:?}"
    );
    assert!(
        got.contains(&Packet::PubRel(Ack::new(sent[1].0))),
        "PUBREL re-sent, not the PUBLISH: {got:?}"
    );
}

#[test]
fn inbound_qos2_is_delivered_once_across_a_restart_mqtt_4_3_3_10() {
    let mut s = Stored::new();
    offline_subscriber(&mut s, "sub", "a/#", QoS::AtLeastOnce);
    let (p, _) = s.connect(persistent("pub"));
    s.send(p, publish("a/x", "once", QoS::ExactlyOnce, false, 7));
    assert!(s.recv(p).contains(&Packet::PubRec(Ack::new(7))));
    s.restart(Duration::from_secs(1));
    let (p, _) = resume(&mut s, "pub");
    // The publisher did not get PUBREL out before the crash: it re-sends.
    let mut again = publish("a/x", "once", QoS::ExactlyOnce, false, 7);
    if let Packet::Publish(m) = &mut again {
        m.dup = true;
    }
    s.send(p, again);
    assert!(s.recv(p).contains(&Packet::PubRec(Ack::new(7))));
    s.send(p, Packet::PubRel(Ack::new(7)));
    assert!(s.recv(p).contains(&Packet::PubComp(Ack::new(7))));
    let (_, got) = resume(&mut s, "sub");
    assert_eq!(payloads(&got), ["once"], "exactly once: {got:?}");
}

#[test]
fn retained_messages_set_and_cleared_survive() {
    let mut s = Stored::new();
    let p = s.h.client("pub", true);
    s.send(p, publish("r/kept", "v1", QoS::AtLeastOnce, true, 1));
    s.send(p, publish("r/kept", "v2", QoS::AtMostOnce, true, 0));
    s.send(p, publish("r/gone", "x", QoS::AtMostOnce, true, 0));
    s.send(p, publish("r/gone", "", QoS::AtMostOnce, true, 0));
    s.restart(Duration::ZERO);
    assert_eq!(s.restored.retained, 1);
    let c = s.h.client("late", true);
    s.send(c, subscribe(1, &[("r/#", QoS::AtLeastOnce)]));
    let got = s.recv(c);
    assert_eq!(payloads(&got), ["v2"]);
    assert!(publishes(&got)[0].retain);
}

#[test]
fn subscription_options_and_identifiers_survive() {
    let mut s = Stored::new();
    let (link, _) = s.connect(connect5("v5", Some(u32::MAX), true));
    let options = SubOptions {
        qos: QoS::AtLeastOnce,
        no_local: true,
        retain_as_published: true,
        retain_handling: 0,
    };
    s.send(link, sub5(1, "t/+", options, Some(42)));
    s.send(link, sub5(2, "$share/g/s/#", qos(QoS::AtLeastOnce), None));
    s.recv(link);
    s.restart(Duration::ZERO);
    assert_eq!(s.restored.subscriptions, 2);
    let (link, ack) = s.connect(connect5("v5", Some(u32::MAX), false));
    assert!(ack.session_present);
    // No Local: its own message does not come back.
    s.send(
        link,
        publish5(
            "t/own",
            "mine",
            QoS::AtMostOnce,
            PublishProperties::default(),
            0,
        ),
    );
    let other = s.h.client("other", true);
    let mut retained = publish("t/x", "theirs", QoS::AtLeastOnce, true, 1);
    if let Packet::Publish(m) = &mut retained {
        m.retain = true;
    }
    s.send(other, retained);
    s.send(other, publish("s/1", "shared", QoS::AtLeastOnce, false, 2));
    let got = s.recv(link);
    let pubs = publishes(&got);
    assert_eq!(payloads(&got), ["theirs", "shared"], "{got:?}");
    assert_eq!(pubs[0].properties.subscription_ids, [42]);
    assert!(pubs[0].retain, "Retain As Published");
}

#[test]
fn session_expiry_counts_the_downtime() {
    let mut s = Stored::new();
    let (link, _) = s.connect(connect5("short", Some(10), true));
    s.send(link, sub5(1, "a", qos(QoS::AtLeastOnce), None));
    let (long, _) = s.connect(connect5("long", Some(100), true));
    s.send(long, sub5(1, "a", qos(QoS::AtLeastOnce), None));
    s.send(link, Packet::Disconnect(Default::default()));
    s.send(long, Packet::Disconnect(Default::default()));
    s.advance(Duration::from_secs(4));
    // Down for 20 s: "short" (10 s) ran out while midge was down.
    s.restart(Duration::from_secs(20));
    s.advance(Duration::from_millis(200));
    let (_, ack) = s.connect(connect5("short", Some(10), false));
    assert!(!ack.session_present, "expired during the downtime");
    let (_, ack) = s.connect(connect5("long", Some(100), false));
    assert!(ack.session_present, "100 s not over yet");
}

#[test]
fn a_will_of_a_connection_cut_by_the_crash_is_published_after_its_delay() {
    let mut s = Stored::new();
    offline_subscriber(&mut s, "watch", "w/#", QoS::AtLeastOnce);
    let mut c = connect5("dev", Some(300), true);
    c.will = Some(Will {
        topic: ByteStr::from("w/dev"),
        payload: bytes::Bytes::from_static(b"offline"),
        qos: QoS::AtLeastOnce,
        retain: false,
        delay_interval: 5,
        properties: PublishProperties::default(),
    });
    s.connect(c);
    s.restart(Duration::ZERO);
    s.advance(Duration::from_secs(4));
    let (w, got) = resume(&mut s, "watch");
    assert!(publishes(&got).is_empty(), "not before its delay: {got:?}");
    s.advance(Duration::from_secs(2));
    assert_eq!(payloads(&s.recv(w)), ["offline"]);
}

#[test]
fn a_will_cancelled_by_disconnect_stays_cancelled() {
    let mut s = Stored::new();
    offline_subscriber(&mut s, "watch", "w/#", QoS::AtLeastOnce);
    let mut c = connect_packet("dev", false, 60);
    c.will = Some(will("w/dev", "offline", QoS::AtLeastOnce, false));
    let (link, _) = s.connect(c);
    s.send(link, Packet::Disconnect(Default::default()));
    s.restart(Duration::ZERO);
    s.advance(Duration::from_secs(1));
    let (_, got) = resume(&mut s, "watch");
    assert!(publishes(&got).is_empty(), "{got:?}");
}

#[test]
fn clean_sessions_and_qos0_write_nothing() {
    let mut s = Stored::new();
    let sub = s.h.client("clean", true);
    s.h.subscribe(sub, "a/#", QoS::AtLeastOnce);
    let p = s.h.client("pub", true);
    s.h.send(p, publish("a/1", "x", QoS::AtLeastOnce, false, 1));
    s.h.send(p, publish("a/2", "y", QoS::AtMostOnce, false, 0));
    s.h.recv(sub);
    assert!(!s.h.broker.has_journal(), "nothing durable happened");
    // A persistent subscriber at QoS 0 costs nothing per message either.
    offline_subscriber(&mut s, "p0", "b", QoS::AtMostOnce);
    s.h.send(p, publish("b", "z", QoS::AtLeastOnce, false, 2));
    assert!(!s.h.broker.has_journal());
}

#[test]
fn a_snapshot_alone_restores_the_same_state() {
    let mut s = Stored::new();
    offline_subscriber(&mut s, "sub", "a/#", QoS::AtLeastOnce);
    let (live, _) = s.connect(persistent("live"));
    s.send(live, subscribe(1, &[("a/#", QoS::ExactlyOnce)]));
    s.recv(live);
    let p = s.h.client("pub", true);
    s.send(p, publish("r", "kept", QoS::AtMostOnce, true, 0));
    for i in 1..=3 {
        s.send(
            p,
            publish("a/x", &format!("m{i}"), QoS::ExactlyOnce, false, i),
        );
    }
    let got = s.recv(live);
    let first = publishes(&got)[0].packet_id;
    s.send(live, Packet::PubRec(Ack::new(first)));
    s.compact();
    // After the compaction the log goes on.
    s.send(p, publish("a/x", "m4", QoS::ExactlyOnce, false, 4));
    s.restart(Duration::ZERO);
    assert_eq!(
        (
            s.restored.sessions,
            s.restored.retained,
            s.restored.messages
        ),
        (2, 1, 8),
        "{:?}",
        s.restored
    );
    let (_, got) = resume(&mut s, "sub");
    assert_eq!(payloads(&got), ["m1", "m2", "m3", "m4"]);
    let (_, got) = resume(&mut s, "live");
    assert!(got.contains(&Packet::PubRel(Ack::new(first))), "{got:?}");
    assert_eq!(payloads(&got), ["m2", "m3", "m4"]);
}

#[test]
fn undecodable_records_are_counted_not_fatal() {
    let mut s = Stored::new();
    offline_subscriber(&mut s, "sub", "a", QoS::AtLeastOnce);
    s.disk.push(vec![0xEE, 1, 2, 3]);
    s.restart(Duration::ZERO);
    assert_eq!((s.restored.sessions, s.restored.undecodable), (1, 1));
}

#[test]
fn a_snapshot_written_over_several_turns_while_clients_go_on() {
    let mut s = Stored::new();
    for id in ["s1", "s2", "s3"] {
        offline_subscriber(&mut s, id, "a/#", QoS::AtLeastOnce);
    }
    let p = s.h.client("pub", true);
    for i in 1..=4 {
        s.send(
            p,
            publish("a/x", &format!("old{i}"), QoS::AtLeastOnce, false, i),
        );
    }
    s.send(p, publish("r/1", "first", QoS::AtMostOnce, true, 0));
    // Compaction: the store switches to a new log, the snapshot is written
    // one record at a time, and clients go on in between.
    s.sync();
    s.h.broker.begin_live_state();
    let mut snapshot = Vec::new();
    let mut new_log = Vec::new();
    let mut turn = 0;
    loop {
        let done = s.h.broker.journal_live_state_step(1);
        snapshot.extend(s.h.broker.journal().map(<[u8]>::to_vec));
        s.h.broker.clear_journal();
        if done {
            break;
        }
        turn += 1;
        // Sessions are written last first (s3, s2, s1), then retained.
        match turn {
            // s3, already written, starts clean: gone.
            1 => {
                let (l, _) = s.h.connect(crate::codec::Connect {
                    clean_start: true,
                    ..persistent("s3")
                });
                s.h.send(l, Packet::Disconnect(Default::default()));
            }
            // A message for s2 (written) and s1 (not yet).
            2 => {
                s.h.send(p, publish("a/x", "new1", QoS::AtLeastOnce, false, 9))
            }
            // s2 takes everything; the retained value changes before the
            // snapshot gets to it.
            3 => {
                let (l, _) = s.h.connect(persistent("s2"));
                let got = s.h.recv(l);
                for m in publishes(&got) {
                    s.h.send(l, Packet::PubAck(Ack::new(m.packet_id)));
                }
                s.h.send(l, Packet::Disconnect(Default::default()));
                s.h.send(p, publish("r/1", "second", QoS::AtMostOnce, true, 0));
            }
            _ => {}
        }
        new_log.extend(s.h.broker.journal().map(<[u8]>::to_vec));
        s.h.broker.clear_journal();
    }
    assert_eq!(turn, 3, "written over four turns");
    s.disk = snapshot;
    s.disk.extend(new_log);
    s.restart(Duration::ZERO);
    let (_, got) = resume(&mut s, "s1");
    assert_eq!(payloads(&got), ["old1", "old2", "old3", "old4", "new1"]);
    let (_, got) = resume(&mut s, "s2");
    assert!(
        publishes(&got).is_empty(),
        "acknowledged during the snapshot"
    );
    let (_, ack) = s.connect(persistent("s3"));
    assert!(!ack.session_present, "cleaned during the snapshot");
    let c = s.h.client("late", true);
    s.send(c, subscribe(1, &[("r/#", QoS::AtMostOnce)]));
    assert_eq!(payloads(&s.recv(c)), ["second"]);
}

#[test]
fn only_records_an_acknowledgement_or_exactly_once_depends_on_need_a_sync() {
    let mut s = Stored::new();
    let (sub, _) = s.connect(persistent("sub"));
    s.send(sub, subscribe(1, &[("a/#", QoS::ExactlyOnce)]));
    s.recv(sub);
    let p = s.h.client("pub", true);
    // PUBACK to the publisher: the message must be durable first.
    s.h.send(p, publish("a/1", "x", QoS::AtLeastOnce, false, 1));
    assert!(s.h.broker.journal_needs_sync());
    s.sync();
    let got = s.recv(sub);
    let id = publishes(&got)[0].packet_id;
    // The subscriber's PUBACK only completes it: written, no sync of its own.
    s.h.send(sub, Packet::PubAck(Ack::new(id)));
    assert!(s.h.broker.has_journal() && !s.h.broker.journal_needs_sync());
    s.sync();
    // QoS 2: PUBREL may only leave once the PUBREC is durable (the client
    // forgets the id on PUBREL); the PUBCOMP completes it lazily.
    s.h.send(p, publish("a/2", "y", QoS::ExactlyOnce, false, 2));
    s.sync();
    let got = s.recv(sub);
    let id = publishes(&got)[0].packet_id;
    s.h.send(sub, Packet::PubRec(Ack::new(id)));
    assert!(s.h.broker.journal_needs_sync(), "PUBREC before PUBREL");
    s.sync();
    s.h.send(sub, Packet::PubComp(Ack::new(id)));
    assert!(s.h.broker.has_journal() && !s.h.broker.journal_needs_sync());
}

#[test]
fn while_the_store_is_down_qos1_and_2_are_refused_and_qos0_flows() {
    let mut s = Stored::new();
    let sub = s.h.client("watch", true);
    s.h.subscribe(sub, "z/#", QoS::AtLeastOnce);
    s.h.broker.set_store_down(true);
    let (v5, _) = s.connect(connect5("v5", None, true));
    s.send(
        v5,
        publish5(
            "z/1",
            "a",
            QoS::AtLeastOnce,
            PublishProperties::default(),
            1,
        ),
    );
    s.send(
        v5,
        publish5(
            "z/2",
            "b",
            QoS::ExactlyOnce,
            PublishProperties::default(),
            2,
        ),
    );
    let got = s.recv(v5);
    let codes: Vec<(u16, u8)> = got
        .iter()
        .filter_map(|p| match p {
            Packet::PubAck(a) | Packet::PubRec(a) => Some((a.packet_id, a.reason)),
            _ => None,
        })
        .collect();
    assert_eq!(codes, [(1, 0x97), (2, 0x97)], "Quota exceeded: {got:?}");
    let old = s.h.client("old", true);
    s.send(old, publish("z/3", "c", QoS::AtLeastOnce, false, 1));
    assert!(!s.h.is_open(old), "3.x: no reason code, so disconnected");
    s.send(
        v5,
        publish5("z/4", "d", QoS::AtMostOnce, PublishProperties::default(), 0),
    );
    assert_eq!(
        payloads(&s.recv(sub)),
        ["d"],
        "QoS 0 goes on; nothing refused reached anyone"
    );
    s.h.broker.set_store_down(false);
    s.send(
        v5,
        publish5(
            "z/5",
            "e",
            QoS::AtLeastOnce,
            PublishProperties::default(),
            5,
        ),
    );
    assert_eq!(payloads(&s.recv(sub)), ["e"]);
}

#[test]
fn the_user_name_of_an_offline_session_survives_a_restart_and_a_snapshot() {
    let mut s = Stored::new();
    let mut c = persistent("sensor");
    c.username = Some(ByteStr::from("kitchen"));
    let (link, _) = s.connect(c);
    s.send(link, subscribe(1, &[("a/#", QoS::AtLeastOnce)]));
    s.send(link, Packet::Disconnect(Default::default()));
    offline_subscriber(&mut s, "anonymous", "b", QoS::AtLeastOnce);
    let users = |s: &Stored| -> Vec<(String, Option<String>)> {
        let view = s.h.broker.durable_view(s.h.now);
        view.sessions
            .into_iter()
            .map(|d| (d.client_id, d.username))
            .collect()
    };
    let want = vec![
        ("anonymous".to_string(), None),
        ("sensor".to_string(), Some("kitchen".to_string())),
    ];
    assert_eq!(users(&s), want);
    s.restart(Duration::from_secs(1));
    assert_eq!(users(&s), want, "from the journal");
    s.compact();
    s.restart(Duration::from_secs(1));
    assert_eq!(users(&s), want, "from a snapshot");
}

#[test]
fn a_restored_offline_session_keeps_its_users_acl() {
    let mut settings = Settings::default();
    let acl = crate::auth::acl::Acl::parse(
        "acl",
        "user alice\ntopic readwrite house/#\nuser bob\ntopic read house/+/temperature\n",
    )
    .expect("valid");
    settings.listeners[0].acl = Some(std::rc::Rc::new(acl));
    let mut s = Stored::with(settings);
    let mut c = persistent("bob-dev");
    c.username = Some(ByteStr::from("bob"));
    let (link, _) = s.connect(c);
    s.send(link, subscribe(1, &[("house/#", QoS::AtLeastOnce)]));
    s.send(link, Packet::Disconnect(Default::default()));
    s.restart(Duration::from_secs(1));
    let mut c = connect_packet("alice-dev", true, 60);
    c.username = Some(ByteStr::from("alice"));
    let (alice, _) = s.connect(c);
    s.send(
        alice,
        publish("house/k/light", "no", QoS::AtLeastOnce, false, 1),
    );
    s.send(
        alice,
        publish("house/k/temperature", "yes", QoS::AtLeastOnce, false, 2),
    );
    let mut c = persistent("bob-dev");
    c.username = Some(ByteStr::from("bob"));
    let (link, ack) = s.connect(c);
    assert!(ack.session_present);
    let got = s.recv(link);
    assert_eq!(
        payloads(&got),
        ["yes"],
        "queued under bob's rules while offline"
    );
}

/// The bridge of `bridge_conf`, with messages to `t/#` going out at QoS 1.
fn bridge_conf() -> crate::config::BridgeConfig {
    use crate::config::bridge::{BridgeAddress, BridgeTopic, Direction};
    let mut c = crate::config::BridgeConfig::new("up", "test.conf:1".into());
    c.addresses = vec![BridgeAddress {
        host: "remote".into(),
        port: 1883,
    }];
    c.topics = vec![BridgeTopic {
        pattern: "t/#".into(),
        direction: Direction::Out,
        qos: QoS::AtLeastOnce,
        local_prefix: String::new(),
        remote_prefix: String::new(),
    }];
    c.notifications = false;
    c
}

/// Opens the bridge's dial and accepts its CONNECT; returns the link and
/// what the bridge sent after CONNACK.
fn bridge_up(s: &mut Stored, session_present: bool) -> (usize, Vec<Packet>) {
    let mut dials = Vec::new();
    s.h.broker.take_dials(&mut dials);
    let now = s.h.now;
    let link =
        s.h.broker
            .bridge_connected(0, dials[0].generation, (), peer(), now)
            .expect("live dial");
    let _ = s.recv(link);
    s.h.speaks(link, crate::codec::Protocol::V311);
    s.send(
        link,
        Packet::ConnAck(crate::codec::ConnAck {
            session_present,
            code: 0,
            properties: Default::default(),
        }),
    );
    let after = s.recv(link);
    (link, after)
}

#[test]
fn a_bridges_queue_and_in_flight_messages_survive_a_restart_and_drain_in_order() {
    let mut s = Stored::new();
    let now = s.h.now;
    s.h.broker.add_bridge(bridge_conf(), "pi", now);
    let (link, _) = bridge_up(&mut s, false);
    let publisher = s.h.client("p", true);
    s.send(publisher, publish("t/1", "one", QoS::AtLeastOnce, false, 1));
    assert_eq!(
        payloads(&s.recv(link)),
        ["one"],
        "in flight, not acknowledged"
    );
    s.h.close(link);
    for (i, text) in ["two", "three"].iter().enumerate() {
        s.send(
            publisher,
            publish("t/2", text, QoS::AtLeastOnce, false, 2 + i as u16),
        );
    }
    s.sync();
    // SIGKILL, and midge starts again: the bridge is added after the
    // store is restored, and finds its session there.
    s.restart(Duration::from_secs(5));
    let now = s.h.now;
    s.h.broker.add_bridge(bridge_conf(), "pi", now);
    let (_, got) = bridge_up(&mut s, true);
    assert_eq!(payloads(&got), ["one", "two", "three"]);
    assert!(publishes(&got)[0].dup, "the one in flight again, with DUP");
}
