//! The ACL file at the broker: PUBLISH, SUBSCRIBE, delivery, retained
//! messages, wills, shared subscriptions, resumed sessions and a reload,
//! for 3.1.1 and 5.0 clients.

use std::rc::Rc;

use super::harness::*;
use super::v5::{connect5, publish5, qos, sub5, suback};
use crate::auth::acl::Acl;
use crate::broker::*;
use crate::codec::{reason, Ack, ByteStr, Packet, QoS};

const RULES: &str = "\
# anonymous clients read the weather
topic read weather/#

user alice
topic readwrite house/#
topic deny house/secret
topic write cmd/#

user bob
topic read house/+/temperature

pattern readwrite clients/%c/#
pattern read users/%u/#
";

fn acl(text: &str) -> Option<Rc<Acl>> {
    Some(Rc::new(Acl::parse("acl", text).expect("valid ACL")))
}

fn with_acl(text: &str) -> Harness {
    let mut settings = Settings {
        sys_interval: None,
        ..Settings::default()
    };
    settings.listeners[0].acl = acl(text);
    Harness::with(settings)
}

/// A 3.1.1 client with a user name (none for `""`).
fn user(h: &mut Harness, id: &str, name: &str) -> usize {
    let mut c = connect_packet(id, true, 60);
    c.username = (!name.is_empty()).then(|| ByteStr::from(name));
    let (link, ack) = h.connect(c);
    assert_eq!(ack.code, 0);
    link
}

fn user5(h: &mut Harness, id: &str, name: &str) -> usize {
    let mut c = connect5(id, None, true);
    c.username = Some(ByteStr::from(name));
    let (link, ack) = h.connect(c);
    assert_eq!(ack.code, reason::SUCCESS);
    link
}

fn codes(h: &mut Harness, link: usize, filters: &[&str]) -> Vec<u8> {
    let f: Vec<(&str, QoS)> = filters.iter().map(|f| (*f, QoS::AtLeastOnce)).collect();
    h.send(link, subscribe(1, &f));
    match h.recv(link).first() {
        Some(Packet::SubAck(a)) => a.codes.clone(),
        other => panic!("expected SUBACK, got {other:?}"),
    }
}

fn topics(got: &[Packet]) -> Vec<String> {
    publishes(got).iter().map(|p| p.topic.to_string()).collect()
}

#[test]
fn a_denied_publish_is_acknowledged_but_not_delivered_to_a_3x_client() {
    let mut h = with_acl(RULES);
    let watcher = user(&mut h, "w", "alice");
    h.subscribe(watcher, "house/#", QoS::AtLeastOnce);
    let bob = user(&mut h, "b", "bob");
    h.send(
        bob,
        publish("house/kitchen", "x", QoS::AtLeastOnce, false, 1),
    );
    assert_eq!(h.recv(bob), [Packet::PubAck(Ack::new(1))], "as Mosquitto");
    // QoS 2 goes through its whole flow, still undelivered.
    h.send(
        bob,
        publish("house/kitchen", "y", QoS::ExactlyOnce, false, 2),
    );
    assert_eq!(h.recv(bob), [Packet::PubRec(Ack::new(2))]);
    h.send(bob, Packet::PubRel(Ack::new(2)));
    assert_eq!(h.recv(bob), [Packet::PubComp(Ack::new(2))]);
    assert!(publishes(&h.recv(watcher)).is_empty());
    let alice = user(&mut h, "a", "alice");
    h.send(
        alice,
        publish("house/kitchen", "ok", QoS::AtMostOnce, false, 0),
    );
    assert_eq!(payloads(&h.recv(watcher)), ["ok"]);
    assert!(h.broker.stats().publish_dropped >= 2);
}

#[test]
fn a_denied_publish_gets_0x87_for_a_v5_client() {
    let mut h = with_acl(RULES);
    let bob = user5(&mut h, "b", "bob");
    h.send(
        bob,
        publish5(
            "house/kitchen",
            "x",
            QoS::AtLeastOnce,
            Default::default(),
            1,
        ),
    );
    let got = h.recv(bob);
    assert!(
        matches!(&got[..], [Packet::PubAck(a)] if a.packet_id == 1 && a.reason == reason::NOT_AUTHORIZED),
        "{got:?}"
    );
    h.send(
        bob,
        publish5(
            "house/kitchen",
            "x",
            QoS::ExactlyOnce,
            Default::default(),
            2,
        ),
    );
    let got = h.recv(bob);
    assert!(
        matches!(&got[..], [Packet::PubRec(a)] if a.reason == reason::NOT_AUTHORIZED),
        "{got:?}"
    );
    // A PUBREC with a failure code ends the exchange [MQTT-4.3.3-4]: the
    // id is free again, so a new message with it is refused afresh.
    h.send(
        bob,
        publish5(
            "house/kitchen",
            "x",
            QoS::ExactlyOnce,
            Default::default(),
            2,
        ),
    );
    assert!(matches!(&h.recv(bob)[..], [Packet::PubRec(a)] if a.reason == reason::NOT_AUTHORIZED));
}

#[test]
fn no_client_publishes_to_sys_or_share_even_without_an_acl_file() {
    let mut h = Harness::new();
    let w = h.client("w", true);
    h.subscribe(w, "$SYS/#", QoS::AtMostOnce);
    h.subscribe(w, "#", QoS::AtMostOnce);
    h.recv(w);
    let p = h.client("p", true);
    h.send(
        p,
        publish("$SYS/broker/uptime", "forged", QoS::AtMostOnce, false, 0),
    );
    h.send(p, publish("$share/g/t", "no", QoS::AtMostOnce, false, 0));
    // A bridge's state topic is the one exception.
    h.send(
        p,
        publish(
            "$SYS/broker/connection/b1/state",
            "1",
            QoS::AtMostOnce,
            false,
            0,
        ),
    );
    h.send(p, publish("t", "fine", QoS::AtMostOnce, false, 0));
    assert_eq!(topics(&h.recv(w)), ["$SYS/broker/connection/b1/state", "t"]);
}

#[test]
fn subscriptions_are_granted_refused_or_filtered_by_what_they_can_read() {
    let mut h = with_acl(RULES);
    let bob = user(&mut h, "b", "bob");
    // 0x80 where nothing can ever be read; granted otherwise.
    assert_eq!(
        codes(
            &mut h,
            bob,
            &["house/+/temperature", "house/#", "garden/#", "users/bob/x"]
        ),
        [1, 1, 0x80, 1]
    );
    let alice = user(&mut h, "a", "alice");
    for (topic, body) in [
        ("house/kitchen/temperature", "21"),
        ("house/kitchen/humidity", "40"),
        ("house/secret", "s"),
        ("users/bob/x", "mine"),
    ] {
        h.send(alice, publish(topic, body, QoS::AtMostOnce, false, 0));
    }
    // alice may not write users/bob/x (only read users/alice/#): only two
    // messages were published, and `house/#` gives bob just what he may
    // read, once.
    assert_eq!(topics(&h.recv(bob)), ["house/kitchen/temperature"]);
}

#[test]
fn a_v5_subscription_that_can_read_nothing_gets_0x87() {
    let mut h = with_acl(RULES);
    let bob = user5(&mut h, "b", "bob");
    assert_eq!(
        suback(&mut h, bob, sub5(1, "garden/#", qos(QoS::AtMostOnce), None)),
        [reason::NOT_AUTHORIZED]
    );
    assert_eq!(
        suback(
            &mut h,
            bob,
            sub5(2, "$share/g/garden/#", qos(QoS::AtMostOnce), None)
        ),
        [reason::NOT_AUTHORIZED]
    );
}

#[test]
fn retained_messages_obey_the_read_rules() {
    let mut h = with_acl(RULES);
    let alice = user(&mut h, "a", "alice");
    for topic in ["house/a/temperature", "house/a/humidity", "house/secret"] {
        h.send(alice, publish(topic, "r", QoS::AtMostOnce, true, 0));
    }
    let bob = user(&mut h, "b", "bob");
    h.send(bob, subscribe(1, &[("house/#", QoS::AtMostOnce)]));
    assert_eq!(topics(&h.recv(bob)), ["house/a/temperature"]);
    let again = user(&mut h, "a2", "alice");
    h.send(again, subscribe(1, &[("house/#", QoS::AtMostOnce)]));
    let mut got = topics(&h.recv(again));
    got.sort();
    assert_eq!(
        got,
        ["house/a/humidity", "house/a/temperature"],
        "no secret"
    );
}

#[test]
fn anonymous_clients_and_patterns() {
    let mut h = with_acl(RULES);
    let anon = user(&mut h, "sensor-7", "");
    assert_eq!(
        codes(
            &mut h,
            anon,
            &["weather/#", "house/#", "clients/sensor-7/#"]
        ),
        [1, 0x80, 1]
    );
    let alice = user(&mut h, "a", "alice");
    h.send(
        anon,
        publish("clients/sensor-7/t", "own", QoS::AtMostOnce, false, 0),
    );
    h.send(
        anon,
        publish("clients/other/t", "not own", QoS::AtMostOnce, false, 0),
    );
    h.send(
        anon,
        publish("weather/now", "read only", QoS::AtMostOnce, false, 0),
    );
    assert_eq!(topics(&h.recv(anon)), ["clients/sensor-7/t"]);
    assert!(publishes(&h.recv(alice)).is_empty());
}

#[test]
fn a_will_obeys_its_publishers_write_rules() {
    let mut h = with_acl(RULES);
    let bob = user(&mut h, "b", "bob");
    h.subscribe(bob, "house/+/temperature", QoS::AtMostOnce);
    for (id, name, topic) in [
        ("anon", "", "house/hall/temperature"),
        ("al", "alice", "house/kitchen/temperature"),
    ] {
        let mut c = connect_packet(id, true, 60);
        c.username = (!name.is_empty()).then(|| ByteStr::from(name));
        c.will = Some(will(topic, "gone", QoS::AtMostOnce, false));
        let (link, _) = h.connect(c);
        h.close(link);
    }
    assert_eq!(
        topics(&h.recv(bob)),
        ["house/kitchen/temperature"],
        "only alice may write there"
    );
}

#[test]
fn a_shared_group_member_that_may_not_read_is_passed_over() {
    let mut h = with_acl(RULES);
    let bob = user(&mut h, "b", "bob");
    let alice = user(&mut h, "a", "alice");
    assert_eq!(codes(&mut h, bob, &["$share/g/house/#"]), [1]);
    assert_eq!(codes(&mut h, alice, &["$share/g/house/#"]), [1]);
    let p = user(&mut h, "p", "alice");
    for i in 0..4 {
        h.send(
            p,
            publish(&format!("house/r{i}"), "x", QoS::AtMostOnce, false, 0),
        );
    }
    h.send(
        p,
        publish("house/r/temperature", "t", QoS::AtMostOnce, false, 0),
    );
    h.send(
        p,
        publish("house/s/temperature", "t", QoS::AtMostOnce, false, 0),
    );
    assert_eq!(
        h.recv(alice).len() + h.recv(bob).len(),
        6,
        "each message once"
    );
    h.send(p, publish("house/x", "x", QoS::AtMostOnce, false, 0));
    h.send(p, publish("house/y", "x", QoS::AtMostOnce, false, 0));
    assert!(
        publishes(&h.recv(bob)).is_empty(),
        "bob never gets what he may not read"
    );
    assert_eq!(payloads(&h.recv(alice)).len(), 2);
}

#[test]
fn a_resumed_session_is_classified_for_its_new_user() {
    let mut h = with_acl(RULES);
    let mut c = connect_packet("dev", false, 60);
    c.username = Some(ByteStr::from("alice"));
    let (link, _) = h.connect(c);
    assert_eq!(codes(&mut h, link, &["house/#"]), [1]);
    h.close(link);
    // Back as bob: the same subscription now delivers only what bob reads.
    let mut c = connect_packet("dev", false, 60);
    c.username = Some(ByteStr::from("bob"));
    let (link, ack) = h.connect(c);
    assert!(ack.session_present);
    h.recv(link);
    let alice = user(&mut h, "a", "alice");
    h.send(
        alice,
        publish("house/k/temperature", "t", QoS::AtMostOnce, false, 0),
    );
    h.send(
        alice,
        publish("house/k/light", "l", QoS::AtMostOnce, false, 0),
    );
    assert_eq!(topics(&h.recv(link)), ["house/k/temperature"]);
}

#[test]
fn a_reloaded_acl_applies_to_existing_subscriptions_and_publishes() {
    let mut h = with_acl(RULES);
    let bob = user(&mut h, "b", "bob");
    assert_eq!(codes(&mut h, bob, &["house/#"]), [1]);
    let alice = user(&mut h, "a", "alice");
    h.send(
        alice,
        publish("house/k/light", "before", QoS::AtMostOnce, false, 0),
    );
    assert!(publishes(&h.recv(bob)).is_empty());
    h.broker.set_acls(vec![acl(
        "user alice\ntopic readwrite house/#\nuser bob\ntopic read house/#\n",
    )]);
    h.send(
        alice,
        publish("house/k/light", "after", QoS::AtMostOnce, false, 0),
    );
    assert_eq!(payloads(&h.recv(bob)), ["after"]);
    // And the other way: alice loses her write access.
    h.broker
        .set_acls(vec![acl("user bob\ntopic read house/#\n")]);
    h.send(
        alice,
        publish("house/k/light", "denied", QoS::AtMostOnce, false, 0),
    );
    assert!(publishes(&h.recv(bob)).is_empty());
    // No ACL file any more: everything is allowed.
    h.broker.set_acls(vec![None]);
    h.send(
        alice,
        publish("house/secret", "open", QoS::AtMostOnce, false, 0),
    );
    assert_eq!(payloads(&h.recv(bob)), ["open"]);
}

#[test]
fn an_offline_session_keeps_its_rules_while_messages_queue() {
    let mut h = with_acl(RULES);
    let mut c = connect_packet("dev", false, 60);
    c.username = Some(ByteStr::from("bob"));
    let (link, _) = h.connect(c);
    assert_eq!(codes(&mut h, link, &["house/#"]), [1]);
    h.close(link);
    let alice = user(&mut h, "a", "alice");
    h.send(
        alice,
        publish("house/k/light", "no", QoS::AtLeastOnce, false, 1),
    );
    h.send(
        alice,
        publish("house/k/temperature", "yes", QoS::AtLeastOnce, false, 2),
    );
    let mut c = connect_packet("dev", false, 60);
    c.username = Some(ByteStr::from("bob"));
    let (link, _) = h.connect(c);
    assert_eq!(payloads(&h.recv(link)), ["yes"]);
}

#[test]
fn check_retain_source_rechecks_the_publisher_of_a_retained_message() {
    for check in [true, false] {
        let mut settings = Settings {
            sys_interval: None,
            check_retain_source: check,
            ..Settings::default()
        };
        settings.listeners[0].acl = acl("user alice\ntopic readwrite house/#\n");
        let mut h = Harness::with(settings);
        let alice = user(&mut h, "a", "alice");
        h.send(
            alice,
            publish("house/door", "open", QoS::AtMostOnce, true, 0),
        );
        h.send(
            alice,
            publish("house/light", "on", QoS::AtMostOnce, true, 0),
        );
        // alice may now write only house/light; bob reads everything.
        h.broker.set_acls(vec![acl(
            "user alice\ntopic write house/light\nuser bob\ntopic read house/#\n",
        )]);
        let bob = user(&mut h, "b", "bob");
        h.send(bob, subscribe(1, &[("house/#", QoS::AtMostOnce)]));
        let mut got = topics(&h.recv(bob));
        got.sort();
        if check {
            assert_eq!(got, ["house/light"], "the door's publisher lost its right");
        } else {
            assert_eq!(got, ["house/door", "house/light"]);
        }
    }
}

// ---- Passwords ----

const PASSWORDS: &str = include_str!("../../auth/fixtures/password-mosquitto.txt");

fn with_passwords(allow_anonymous: bool, extra: &str) -> Harness {
    use crate::auth::password::PasswordFile;
    let mut settings = Settings {
        sys_interval: None,
        ..Settings::default()
    };
    let file = PasswordFile::parse("passwd", &format!("{PASSWORDS}{extra}")).expect("valid");
    settings.listeners[0].passwords = Some(Rc::new(file));
    settings.listeners[0].allow_anonymous = allow_anonymous;
    Harness::with(settings)
}

/// The CONNACK code for a CONNECT at `level` (4 or 5) with these
/// credentials, and whether the connection stays open.
fn answer(h: &mut Harness, level: u8, user: Option<&str>, password: Option<&str>) -> (u8, bool) {
    let mut c = if level == 5 {
        connect5("c", None, true)
    } else {
        connect_packet("c", true, 60)
    };
    c.username = user.map(ByteStr::from);
    c.password = password.map(|p| bytes::Bytes::copy_from_slice(p.as_bytes()));
    let link = h.open();
    h.send(link, Packet::Connect(Box::new(c)));
    let code = match h.recv(link).first() {
        Some(Packet::ConnAck(a)) => a.code,
        other => panic!("expected CONNACK, got {other:?}"),
    };
    let open = h.is_open(link);
    if open {
        h.close(link);
    }
    (code, open)
}

#[test]
fn password_file_refusals_use_their_codes_in_3_1_1_and_5_0() {
    let mut h = with_passwords(false, "plain:secret\n");
    // 3.1.1 (CONNACK return codes, section 3.2.2.3): 0x04 bad user name
    // or password, 0x05 not authorised; 5.0 (section 3.2.2.2): 0x86, 0x87.
    let cases = [
        (Some("alice"), Some("alice-secret"), 0, 0),
        (Some("bob"), Some("hunter2"), 0, 0),
        (Some("carol"), Some("carol:colon$dollar"), 0, 0),
        (Some("alice"), Some("wrong"), 0x04, 0x86),
        (Some("alice"), None, 0x04, 0x86),
        (Some("mallory"), Some("x"), 0x04, 0x86),
        (None, None, 0x05, 0x87),
        (Some("plain"), Some("secret"), 0x05, 0x87),
    ];
    for (user, password, v3, v5) in cases {
        assert_eq!(
            answer(&mut h, 4, user, password),
            (v3, v3 == 0),
            "{user:?} 3.1.1"
        );
        assert_eq!(
            answer(&mut h, 5, user, password),
            (v5, v5 == 0),
            "{user:?} 5.0"
        );
    }
}

#[test]
fn allow_anonymous_with_a_password_file_still_checks_given_names() {
    let mut h = with_passwords(true, "");
    assert_eq!(answer(&mut h, 4, None, None), (0, true));
    assert_eq!(
        answer(&mut h, 4, Some("alice"), Some("alice-secret")),
        (0, true)
    );
    assert_eq!(answer(&mut h, 4, Some("alice"), Some("no")), (0x04, false));
}

#[test]
fn a_refused_client_publishes_no_will_and_harms_no_one() {
    let mut h = with_passwords(false, "");
    let mut c = connect_packet("ok", true, 60);
    c.username = Some(ByteStr::from("alice"));
    c.password = Some(bytes::Bytes::from_static(b"alice-secret"));
    let (watcher, _) = h.connect(c);
    h.subscribe(watcher, "#", QoS::AtMostOnce);
    let mut c = connect_packet("intruder", true, 60);
    c.username = Some(ByteStr::from("alice"));
    c.password = Some(bytes::Bytes::from_static(b"guess"));
    c.will = Some(will("alarm", "x", QoS::AtMostOnce, false));
    let link = h.open();
    h.send(link, Packet::Connect(Box::new(c)));
    assert!(!h.is_open(link));
    assert!(publishes(&h.recv(watcher)).is_empty(), "no will");
    assert!(h.is_open(watcher));
}

#[test]
fn a_reloaded_password_file_applies_to_the_next_connect_only() {
    use crate::auth::password::PasswordFile;
    let mut h = with_passwords(false, "");
    let mut c = connect_packet("kept", true, 60);
    c.username = Some(ByteStr::from("bob"));
    c.password = Some(bytes::Bytes::from_static(b"hunter2"));
    let (kept, _) = h.connect(c);
    let alice_only = PASSWORDS.lines().next().unwrap_or_default();
    let file = PasswordFile::parse("passwd", alice_only).expect("valid");
    h.broker.set_passwords(vec![Some(Rc::new(file))]);
    assert_eq!(
        answer(&mut h, 4, Some("bob"), Some("hunter2")),
        (0x04, false)
    );
    assert_eq!(
        answer(&mut h, 4, Some("alice"), Some("alice-secret")),
        (0, true)
    );
    assert!(h.is_open(kept), "connected clients keep their identity");
}
