//! MQTT 5 interop with `mosquitto_pub`/`mosquitto_sub -V mqttv5`: QoS,
//! message properties set with `-D publish ...` and printed with `-F`
//! (`%P` user properties as `key:value` separated by spaces, `%C` content
//! type, `%R` response topic, `%D` correlation data, `%F` payload format
//! indicator), retained messages, session expiry (`-x`), topic aliases
//! from the publisher and the will delay.
//!
//! `mosquitto_sub` never sends a Topic Alias Maximum here: libmosquitto
//! 2.0 cannot resolve an alias-only PUBLISH, so the broker must not send
//! it one [MQTT-3.1.2-27].

use std::time::{Duration, Instant};

use crate::support::{assert_received, Broker, CLIENT_DEADLINE, V5};

/// QoS 0, 1 and 2 reach `#` subscribers at the minimum of published and
/// granted QoS [MQTT-3.8.4-8], in order [MQTT-4.6.0-6], with the
/// publisher's user properties unaltered and in order, duplicate keys
/// included [MQTT-3.3.2-17] [MQTT-3.3.2-18].
#[test]
fn mosquitto5_qos_0_1_2_carry_user_properties() {
    let broker = Broker::start("v5-qos");
    let mq = broker.clients(V5).format("%r %q %t [%P] %p");
    let subs: Vec<_> = ["0", "1", "2"]
        .iter()
        .map(|q| mq.subscribed(&["-t", "#", "-q", q, "-C", "6"]))
        .collect();
    for q in ["0", "1", "2"] {
        let topic = format!("interop5/qos{q}");
        let lines = format!("first {q}\nsecond {q}\n");
        mq.publish(
            &[
                "-t",
                &topic,
                "-q",
                q,
                "-l",
                "-D",
                "publish",
                "user-property",
                "sensor",
                "kitchen",
                "-D",
                "publish",
                "user-property",
                "sensor",
                "hall",
            ],
            Some(&lines),
        );
    }
    for (sub_qos, sub) in subs.into_iter().enumerate() {
        let mut expected = Vec::new();
        for pub_qos in 0..3 {
            let qos = pub_qos.min(sub_qos);
            for word in ["first", "second"] {
                expected.push(format!(
                    "0 {qos} interop5/qos{pub_qos} [sensor:kitchen sensor:hall] {word} {pub_qos}"
                ));
            }
        }
        let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
        assert_received(sub, &expected);
    }
}

/// Content Type, Response Topic, Correlation Data, Payload Format
/// Indicator and a user property reach the subscriber unaltered
/// [MQTT-3.3.2-20] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-4]
/// [MQTT-3.3.2-17].
#[test]
fn mosquitto5_publish_properties_reach_the_subscriber() {
    let broker = Broker::start("v5-props");
    let mq = broker
        .clients(V5)
        .format("%q %t [%C] [%R] [%D] [%F] [%P] %p");
    let sub = mq.subscribed(&["-t", "req/#", "-q", "2", "-C", "1"]);
    mq.publish(
        &[
            "-t",
            "req/lamp",
            "-q",
            "2",
            "-m",
            "{\"on\":true}",
            "-D",
            "publish",
            "content-type",
            "application/json",
            "-D",
            "publish",
            "response-topic",
            "reply/lamp",
            "-D",
            "publish",
            "correlation-data",
            "req-42",
            "-D",
            "publish",
            "payload-format-indicator",
            "1",
            "-D",
            "publish",
            "user-property",
            "trace",
            "abc",
        ],
        None,
    );
    assert_received(
        sub,
        &["2 req/lamp [application/json] [reply/lamp] [req-42] [1] [trace:abc] {\"on\":true}"],
    );
}

/// A retained message keeps its properties: a new subscriber gets it with
/// RETAIN=1 and its user property and content type; an existing
/// subscriber (Retain As Published 0) gets RETAIN=0 [MQTT-3.3.1-12]; an
/// empty retained message clears it [MQTT-3.3.1-6].
#[test]
fn mosquitto5_retained_message_keeps_its_properties_until_cleared() {
    let broker = Broker::start("v5-retain");
    let mq = broker.clients(V5).format("%r %q %t [%C] [%P] %p");
    let live = mq.subscribed(&["-t", "home5/#", "-q", "1", "-C", "2"]);
    mq.publish(
        &[
            "-t",
            "home5/temp",
            "-m",
            "21.5",
            "-q",
            "1",
            "-r",
            "-D",
            "publish",
            "content-type",
            "text/plain",
            "-D",
            "publish",
            "user-property",
            "unit",
            "C",
        ],
        None,
    );
    let late = mq.sub(&["-t", "home5/#", "-q", "1", "-C", "1"]);
    assert_received(late, &["1 1 home5/temp [text/plain] [unit:C] 21.5"]);

    mq.publish(&["-t", "home5/temp", "-q", "1", "-r", "-n"], None);
    assert_received(
        live,
        &[
            "0 1 home5/temp [text/plain] [unit:C] 21.5",
            "0 1 home5/temp [] [] ",
        ],
    );
    let after = mq.subscribed(&["-t", "home5/#", "-C", "1"]);
    mq.publish(&["-t", "home5/marker", "-m", "live"], None);
    assert_received(after, &["0 0 home5/marker [] [] live"]);
}

/// With Clean Start 0 (`-c`) and a Session Expiry Interval of 30 s (`-x`),
/// the session outlives the connection [MQTT-3.1.2-23]: QoS 1/2 messages
/// published while away arrive on reconnect [MQTT-3.1.2-5] without a new
/// SUBSCRIBE.
#[test]
fn mosquitto5_session_with_expiry_receives_messages_queued_while_away() {
    let broker = Broker::start("v5-session");
    let mq = broker.clients(V5);
    let first = mq.sub(&[
        "-c", "-x", "30", "-i", "shift-5", "-q", "2", "-t", "jobs5/#", "-E",
    ]);
    let done = first.finish(CLIENT_DEADLINE);
    assert!(done.status.success(), "{}", done.transcript());

    mq.publish(&["-t", "jobs5/a", "-q", "1", "-l"], Some("one\ntwo\n"));
    mq.publish(&["-t", "jobs5/b", "-q", "2", "-m", "three"], None);

    let back = mq.sub(&[
        "-c",
        "-x",
        "30",
        "-i",
        "shift-5",
        "-t",
        "unrelated/topic",
        "-C",
        "3",
    ]);
    assert_received(
        back,
        &["0 1 jobs5/a one", "0 1 jobs5/a two", "0 2 jobs5/b three"],
    );
}

/// With Session Expiry Interval 0 the session ends with the connection
/// [MQTT-4.1.0-2], even with Clean Start 0: nothing published meanwhile
/// is delivered on reconnect.
#[test]
fn mosquitto5_session_without_expiry_ends_with_the_connection() {
    let broker = Broker::start("v5-no-expiry");
    let mq = broker.clients(V5);
    let first = mq.sub(&[
        "-c", "-x", "0", "-i", "brief-5", "-q", "1", "-t", "jobs5/#", "-E",
    ]);
    assert!(first.finish(CLIENT_DEADLINE).status.success());
    mq.publish(&["-t", "jobs5/a", "-q", "1", "-m", "stale"], None);

    let back = mq.subscribed(&[
        "-c", "-x", "0", "-i", "brief-5", "-q", "1", "-t", "fresh5/#", "-C", "1",
    ]);
    mq.publish(&["-t", "fresh5/x", "-q", "1", "-m", "new"], None);
    assert_received(back, &["0 1 fresh5/x new"]);
}

/// `mosquitto_pub -l -D publish topic-alias 1` sends the first message
/// with topic and alias and the rest with the alias only; the broker
/// resolves them [MQTT-3.3.2-12] and subscribers get the full topic.
#[test]
fn mosquitto5_topic_alias_from_the_publisher_is_resolved() {
    let broker = Broker::start("v5-alias");
    let mq = broker.clients(V5).format("%q %t %p");
    let sub = mq.subscribed(&["-t", "fleet/#", "-q", "1", "-C", "3"]);
    mq.publish(
        &[
            "-t",
            "fleet/truck-7/position",
            "-q",
            "1",
            "-l",
            "-D",
            "publish",
            "topic-alias",
            "1",
        ],
        Some("52.1 4.3\n52.2 4.4\n52.3 4.5\n"),
    );
    assert_received(
        sub,
        &[
            "1 fleet/truck-7/position 52.1 4.3",
            "1 fleet/truck-7/position 52.2 4.4",
            "1 fleet/truck-7/position 52.3 4.5",
        ],
    );
}

/// A client killed without DISCONNECT, with a Will Delay Interval of 1 s
/// and a session that outlives it (`-x 10`), has its will published
/// after the delay, not at once [MQTT-3.1.2-8].
#[test]
fn mosquitto5_will_delay_interval_defers_the_will() {
    let broker = Broker::start("v5-will");
    let mq = broker.clients(V5);
    let watcher = mq.subscribed(&["-t", "status5/#", "-q", "1", "-C", "1"]);
    let victim = mq.subscribed(&[
        "-t",
        "unused/topic",
        "-i",
        "doomed-5",
        "-x",
        "10",
        "--will-topic",
        "status5/doomed-5",
        "--will-payload",
        "offline",
        "--will-qos",
        "1",
        "-D",
        "will",
        "will-delay-interval",
        "1",
    ]);
    let killed = Instant::now();
    victim.kill_hard();
    assert_received(watcher, &["0 1 status5/doomed-5 offline"]);
    let waited = killed.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "the will with a 1 s Will Delay Interval came {waited:?} after the kill"
    );
}
