//! MQTT 3.1.1 interop: `mosquitto_pub`/`mosquitto_sub -V mqttv311` and
//! paho-mqtt (`paho_check.py`) against the broker.

use std::process::Command;

use crate::support::{
    assert_received, python, run_script, script_dir, Broker, Client, CLIENT_DEADLINE, V311,
};

// ---- Mosquitto clients ----

/// Messages published at QoS 0, 1 and 2 reach `#` subscribers at the
/// minimum of the published and granted QoS [MQTT-3.8.4-6], in the order
/// each publisher sent them [MQTT-4.6.0-6].
#[test]
fn mosquitto_qos_0_1_2_reach_wildcard_subscribers_at_min_qos() {
    let broker = Broker::start("qos");
    let mq = broker.clients(V311);
    let subs: Vec<Client> = ["0", "1", "2"]
        .iter()
        .map(|q| mq.subscribed(&["-t", "#", "-q", q, "-C", "9"]))
        .collect();
    for q in ["0", "1", "2"] {
        let topic = format!("interop/qos{q}");
        let lines = format!("first {q}\nsecond {q}\nthird {q}\n");
        mq.publish(&["-t", &topic, "-q", q, "-l"], Some(&lines));
    }
    for (sub_qos, sub) in subs.into_iter().enumerate() {
        let mut expected = Vec::new();
        for pub_qos in 0..3 {
            let qos = pub_qos.min(sub_qos);
            for word in ["first", "second", "third"] {
                expected.push(format!("0 {qos} interop/qos{pub_qos} {word} {pub_qos}"));
            }
        }
        let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
        assert_received(sub, &expected);
    }
}

/// A retained message is sent to a new subscriber with RETAIN=1 [MQTT-3.3.1-6]
/// [MQTT-3.3.1-8], to an existing one with RETAIN=0 [MQTT-3.3.1-9], and a
/// zero-byte retained message removes it [MQTT-3.3.1-10] [MQTT-3.3.1-11].
#[test]
fn mosquitto_retained_message_reaches_new_subscribers_until_cleared() {
    let broker = Broker::start("retain");
    let mq = broker.clients(V311);
    let live = mq.subscribed(&["-t", "home/#", "-q", "1", "-C", "2"]);
    mq.publish(&["-t", "home/temp", "-m", "21.5 C", "-q", "1", "-r"], None);

    let late = mq.sub(&["-t", "home/#", "-q", "1", "-C", "1"]);
    assert_received(late, &["1 1 home/temp 21.5 C"]);
    let only = mq.sub(&["-t", "home/+", "--retained-only", "-C", "1"]);
    assert_received(only, &["1 0 home/temp 21.5 C"]);

    mq.publish(&["-t", "home/temp", "-q", "1", "-r", "-n"], None);
    assert_received(live, &["0 1 home/temp 21.5 C", "0 1 home/temp "]);

    // After the clear, the first thing a new subscriber sees is live traffic.
    let after = mq.subscribed(&["-t", "home/#", "-C", "1"]);
    mq.publish(&["-t", "home/marker", "-m", "live"], None);
    assert_received(after, &["0 0 home/marker live"]);
}

/// A client whose connection drops without DISCONNECT has its will
/// published [MQTT-3.1.2-8].
#[test]
fn mosquitto_will_is_published_when_client_is_killed() {
    let broker = Broker::start("will-kill");
    let mq = broker.clients(V311);
    let watcher = mq.subscribed(&["-t", "status/#", "-q", "1", "-C", "1"]);
    let victim = mq.subscribed(&[
        "-t",
        "unused/topic",
        "-i",
        "doomed-sensor",
        "--will-topic",
        "status/doomed-sensor",
        "--will-payload",
        "offline (killed)",
        "--will-qos",
        "1",
    ]);
    victim.kill_hard();
    assert_received(watcher, &["0 1 status/doomed-sensor offline (killed)"]);
}

/// A client that sends DISCONNECT has its will discarded [MQTT-3.1.2-10].
#[test]
fn mosquitto_will_is_discarded_on_clean_disconnect() {
    let broker = Broker::start("will-clean");
    let mq = broker.clients(V311);
    let watcher = mq.subscribed(&["-t", "status/#", "-q", "1", "-C", "1"]);
    let polite = mq.subscribed(&[
        "-t",
        "polite/stop",
        "-C",
        "1",
        "--will-topic",
        "status/polite",
        "--will-payload",
        "should never appear",
    ]);
    mq.publish(&["-t", "polite/stop", "-m", "bye"], None);
    assert_received(polite, &["0 0 polite/stop bye"]);
    // The subscriber has exited (DISCONNECT sent) before this publish starts.
    mq.publish(&["-t", "status/marker", "-m", "after", "-q", "1"], None);
    assert_received(watcher, &["0 1 status/marker after"]);
}

/// A CleanSession=0 client gets the QoS 1 messages published while it was
/// away when it reconnects [MQTT-3.1.2-4] [MQTT-3.1.2-5], even though it
/// does not subscribe to them again.
#[test]
fn mosquitto_persistent_session_receives_messages_queued_while_offline() {
    let broker = Broker::start("persist");
    let mq = broker.clients(V311);
    let first = mq.sub(&["-c", "-i", "night-shift", "-q", "1", "-t", "jobs/#", "-E"]);
    let done = first.finish(CLIENT_DEADLINE);
    assert!(done.status.success(), "{}", done.transcript());

    mq.publish(&["-t", "jobs/a", "-q", "1", "-l"], Some("one\ntwo\n"));
    mq.publish(&["-t", "jobs/b", "-q", "2", "-m", "three"], None);

    let back = mq.sub(&[
        "-c",
        "-i",
        "night-shift",
        "-q",
        "1",
        "-t",
        "unrelated/topic",
        "-C",
        "3",
    ]);
    assert_received(
        back,
        &["0 1 jobs/a one", "0 1 jobs/a two", "0 1 jobs/b three"],
    );
}

/// Connecting with CleanSession=1 discards the stored session and its
/// queued messages [MQTT-3.1.2-6].
#[test]
fn mosquitto_clean_session_connect_discards_stored_session() {
    let broker = Broker::start("clean");
    let mq = broker.clients(V311);
    let first = mq.sub(&["-c", "-i", "forgetful", "-q", "1", "-t", "jobs/#", "-E"]);
    assert!(first.finish(CLIENT_DEADLINE).status.success());
    mq.publish(&["-t", "jobs/a", "-q", "1", "-m", "stale"], None);

    let wipe = mq.sub(&["-i", "forgetful", "-t", "nothing/here", "-E"]);
    assert!(wipe.finish(CLIENT_DEADLINE).status.success());

    let back = mq.subscribed(&[
        "-c",
        "-i",
        "forgetful",
        "-q",
        "1",
        "-t",
        "fresh/#",
        "-C",
        "1",
    ]);
    mq.publish(&["-t", "fresh/x", "-q", "1", "-m", "new"], None);
    assert_received(back, &["0 1 fresh/x new"]);
}

/// `$SYS/broker/version` names midge, and `#` does not match `$SYS`
/// topics [MQTT-4.7.2-1].
#[test]
fn mosquitto_sys_version_names_midge_and_hash_skips_sys() {
    let broker = Broker::start("sys");
    let mq = broker.clients(V311);
    let version = mq.sub(&["-t", "$SYS/broker/version", "-C", "1"]);
    let expected = format!(
        "1 0 $SYS/broker/version midge version {}",
        env!("CARGO_PKG_VERSION")
    );
    assert_received(version, &[expected.as_str()]);

    let everything = mq.subscribed(&["-t", "#", "-C", "1"]);
    mq.publish(&["-t", "plain/topic", "-m", "first"], None);
    assert_received(everything, &["0 0 plain/topic first"]);
}

// ---- paho-mqtt ----

/// Runs `tests/interop/paho_check.py` (QoS 0/1/2 round trips on wildcard
/// subscriptions, retained messages, wills, persistent sessions) against
/// the broker and forwards its report.
#[test]
fn paho_mqtt_client_round_trips() {
    let broker = Broker::start("paho");
    let script = script_dir().join("paho_check.py");
    run_script(
        Command::new(python())
            .arg(script)
            .arg(broker.port.to_string()),
        "run scripts/test.sh",
    );
}
