//! Bridges end to end: the real `midge` binary bridging to Debian's
//! `mosquitto` 2.0 broker (and to a second midge), every one a child
//! process on 127.0.0.1 with its own config file, and raw MQTT 3.1.1
//! clients on both sides. What the broker's unit tests check with a fake
//! clock (`src/broker/tests/bridge.rs`) is not repeated here; these check
//! what only real processes show: the wire between two brokers, restarts,
//! signals, persistence files, TLS and name resolution.
//!
//! # Layout
//! - `kit.rs`: ports, temporary directories, the broker processes
//!   (killed on drop, logs printed when a test fails), bounded waits, the
//!   raw client.
//!
//! Contract: 127.0.0.1 only; every wait is bounded (100 ms steps up to
//! 10 s); every process is killed when its test ends; each test takes a
//! few seconds.

#[path = "../common/mod.rs"]
pub mod common;

mod kit;

use std::time::Duration;

use kit::{free_port, wait_state, Dir, Msg, Server};

/// How long a client keeps reading, after what it waited for arrived,
/// before a PINGREQ barrier: a duplicate or an echo would show by then.
const SETTLE: Duration = Duration::from_millis(700);

/// A `connection` section: `name` to `address` (one or more) as remote
/// client id `id`, reconnecting after 1 s, with `lines` (topics and the
/// rest).
fn connection(name: &str, id: &str, address: &str, lines: &str) -> String {
    format!(
        "connection {name}\naddress {address}\nremote_clientid {id}\nrestart_timeout 1\n{lines}"
    )
}

/// The messages of `got` on `topic`.
fn on<'a>(got: &'a [Msg], topic: &str) -> Vec<&'a Msg> {
    got.iter().filter(|m| m.topic == topic).collect()
}

/// Payloads of every size class: empty, every byte value, UTF-8 text, and
/// 64 KiB (a 3-byte remaining length).
fn payloads() -> Vec<Vec<u8>> {
    vec![
        Vec::new(),
        (0..=255u8).collect(),
        "grüße, 温度 21.5 °C".as_bytes().to_vec(),
        (0..65_536u32).map(|i| (i * 7 % 251) as u8).collect(),
    ]
}

/// Asserts that `got` holds exactly `payloads`, in order, on `topic` at
/// `qos`, each once and without DUP.
fn assert_exactly_once(got: &[Msg], topic: &str, qos: u8, payloads: &[Vec<u8>]) {
    let mine = on(got, topic);
    let seen: Vec<&[u8]> = mine.iter().map(|m| &m.payload[..]).collect();
    let want: Vec<&[u8]> = payloads.iter().map(|p| &p[..]).collect();
    assert!(
        seen == want,
        "{topic}: expected {} payloads once each, in order; got {} (sizes {:?})",
        want.len(),
        seen.len(),
        seen.iter().map(|p| p.len()).collect::<Vec<_>>()
    );
    for m in mine {
        assert_eq!((m.qos, m.dup, m.retain), (qos, false, false), "{topic}");
    }
}

/// To Mosquitto, both ways, QoS 1 and QoS 2: an `out` message on
/// `local/<pattern>` reaches Mosquitto's subscribers on `pi/<pattern>`,
/// an `in` message on Mosquitto's `cloud/<pattern>` reaches midge's on
/// `cmd/<pattern>`, payloads byte for byte, at the topic line's QoS,
/// each exactly once (nothing more within a settling window and a
/// PINGREQ barrier), and nothing under the other side's names leaks
/// through. Mosquitto sees the try_private bit: it logs a bridge.
#[test]
fn mosquitto_both_ways_qos1_qos2_prefixes_remapped_exactly_once() {
    let dir = Dir::new("qos");
    let mq = Server::mosquitto(&dir, "mosquitto", free_port(), "");
    let id = "pi-qos";
    let body = connection(
        "cloud",
        id,
        &format!("127.0.0.1:{}", mq.port),
        "topic q1/# out 1 local/ pi/\ntopic q2/# out 2 local/ pi/\n\
         topic q1/# in 1 cmd/ cloud/\ntopic q2/# in 2 cmd/ cloud/\n",
    );
    let midge = Server::midge(&dir, "midge", free_port(), &body);
    wait_state(mq.port, id, "1");
    let log = mq.log();
    assert!(
        log.lines()
            .any(|l| l.contains("New bridge connected from") && l.contains(&format!(" as {id} "))),
        "Mosquitto did not take midge for a bridge (try_private):\n{log}"
    );

    let mut far = mq.client("far");
    far.subscribe("#", 2);
    let mut near = midge.client("near");
    near.subscribe("#", 2);
    let payloads = payloads();

    let mut near_pub = midge.client("near-pub");
    for p in &payloads {
        near_pub.publish("local/q1/a", p, 1, false);
        near_pub.publish("local/q2/b", p, 2, false);
    }
    far.wait_count(2 * payloads.len());
    far.settle(SETTLE);
    assert_exactly_once(&far.got, "pi/q1/a", 1, &payloads);
    assert_exactly_once(&far.got, "pi/q2/b", 2, &payloads);
    assert_eq!(
        far.got.len(),
        2 * payloads.len(),
        "only those: {:?}",
        far.got
    );

    let mut far_pub = mq.client("far-pub");
    for p in &payloads {
        far_pub.publish("cloud/q1/c", p, 1, false);
        far_pub.publish("cloud/q2/d", p, 2, false);
    }
    // `near` got its side's own two topics already.
    near.wait_count(4 * payloads.len());
    near.settle(SETTLE);
    assert_exactly_once(&near.got, "cmd/q1/c", 1, &payloads);
    assert_exactly_once(&near.got, "cmd/q2/d", 2, &payloads);
    assert_exactly_once(&near.got, "local/q1/a", 1, &payloads);
    assert_exactly_once(&near.got, "local/q2/b", 2, &payloads);
    assert_eq!(near.got.len(), 4 * payloads.len(), "only those");
    // Mosquitto's `#` subscriber saw the `in` messages only as published
    // there: the bridge sent none of them back.
    far.settle(SETTLE);
    assert_exactly_once(&far.got, "cloud/q1/c", 1, &payloads);
    assert_exactly_once(&far.got, "cloud/q2/d", 2, &payloads);
    assert_eq!(far.got.len(), 4 * payloads.len(), "only those");
    assert_eq!(
        (far.qos2_resent, near.qos2_resent),
        (0, 0),
        "no QoS 2 resend"
    );
}
