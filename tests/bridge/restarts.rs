//! Bridges while brokers come and go: a stream of messages through a
//! bridge while Mosquitto is stopped and started again, or midge is killed
//! or restarted, with persistence on the side that must keep what it
//! acknowledged: nothing missing, first arrivals in order, and at QoS 2
//! nothing twice.

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::kit::{free_port, wait_state, Dir, Mqtt, Msg, Server, DEADLINE, STEP};
use crate::{connection, SETTLE};

/// How many messages a stream test publishes.
const STREAM: u32 = 300;

/// The sequence numbers of `got`'s payloads.
fn numbers(got: &[Msg]) -> Vec<u32> {
    got.iter()
        .map(|m| {
            std::str::from_utf8(&m.payload)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("not a sequence number: {m:?}"))
        })
        .collect()
}

/// Asserts that `seq` holds every number below `total` and no other, and
/// that their first arrivals are in order (duplicates allowed).
fn assert_all_in_order(seq: &[u32], total: u32) {
    let distinct: BTreeSet<u32> = seq.iter().copied().collect();
    let missing: Vec<u32> = (0..total).filter(|n| !distinct.contains(n)).collect();
    assert!(
        missing.is_empty(),
        "missing {} of {total}: {missing:?}",
        missing.len()
    );
    assert!(
        distinct.iter().all(|&n| n < total),
        "unexpected numbers in {seq:?}"
    );
    let mut seen = BTreeSet::new();
    let firsts: Vec<u32> = seq.iter().copied().filter(|n| seen.insert(*n)).collect();
    assert!(
        firsts.windows(2).all(|w| w[0] < w[1]),
        "out of order (first arrivals): {firsts:?}"
    );
}

/// Asserts that `seq` holds every number below `total` exactly once, in
/// order.
fn assert_all_once_in_order(seq: &[u32], total: u32) {
    let want: Vec<u32> = (0..total).collect();
    if seq != want {
        assert_all_in_order(seq, total);
        let mut seen = BTreeSet::new();
        let twice: Vec<u32> = seq.iter().copied().filter(|n| !seen.insert(*n)).collect();
        panic!("QoS 2: received twice: {twice:?}");
    }
}

/// What a [`persistent_subscriber`] received.
struct Received {
    numbers: Vec<u32>,
    connections: usize,
}

/// A persistent (clean session false) subscriber to `filter` at `qos` on
/// `port`, on its own thread: it reconnects whenever the broker goes away
/// (its session must be there again, and the client keeps its QoS 2
/// state) and returns once `total` different numbers arrived, or after
/// 25 s. `ready` says it has subscribed.
fn persistent_subscriber(
    port: u16,
    id: &'static str,
    filter: &'static str,
    qos: u8,
    total: u32,
) -> (mpsc::Receiver<()>, thread::JoinHandle<Received>) {
    let (tx, rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        let limit = Instant::now() + Duration::from_secs(25);
        let mut c = Mqtt::connect(port, id, false);
        c.subscribe(filter, qos);
        tx.send(()).expect("ready");
        let mut got = Received {
            numbers: Vec::new(),
            connections: 1,
        };
        let mut distinct = BTreeSet::new();
        loop {
            let pumped = c.pump(Instant::now() + STEP);
            for n in numbers(&c.got) {
                distinct.insert(n);
                got.numbers.push(n);
            }
            c.got.clear();
            if distinct.len() >= total as usize || Instant::now() > limit {
                return got;
            }
            if pumped.is_ok() {
                continue;
            }
            // The broker went away: connect again once it is back.
            loop {
                assert!(Instant::now() < limit, "{id}: the broker did not come back");
                match Mqtt::try_connect(port, id, false) {
                    Ok(mut again) => {
                        assert!(again.session_present, "{id}: the session did not survive");
                        again.resume_from(&c);
                        c = again;
                        got.connections += 1;
                        break;
                    }
                    Err(_) => thread::sleep(STEP),
                }
            }
        }
    });
    (rx, handle)
}

/// midge's persistence in `dir`.
fn midge_persistence(dir: &Dir) -> String {
    let store = dir.path("midge-db");
    std::fs::create_dir_all(&store).expect("store directory");
    format!(
        "persistence true\npersistence_location {}\n",
        store.display()
    )
}

/// Mosquitto's persistence in `dir` (its sessions survive a SIGTERM).
fn mosquitto_persistence(dir: &Dir) -> String {
    let store = dir.path("mosquitto-db");
    std::fs::create_dir_all(&store).expect("store directory");
    format!(
        "persistence true\npersistence_location {}/\n",
        store.display()
    )
}

/// Mosquitto is stopped (SIGTERM) after the 100th of 300 messages
/// published to midge at `qos` on an `out` topic of that QoS, and started
/// again (same port, same persistence) after the 200th: a persistent
/// subscriber at `qos` on Mosquitto, reconnecting after the restart, has
/// every message in the end, first arrivals in order; at QoS 2 each
/// exactly once.
fn restart_mid_stream_out(qos: u8) {
    let dir = Dir::new(&format!("restart-out-{qos}"));
    let mut mq = Server::mosquitto(&dir, "mosquitto", free_port(), &mosquitto_persistence(&dir));
    let id = "pi-stream-out";
    let body = connection(
        "cloud",
        id,
        &format!("127.0.0.1:{}", mq.port),
        &format!("topic stream/# out {qos} \"\" pi/\n"),
    );
    let midge = Server::midge(&dir, "midge", free_port(), &body);
    wait_state(mq.port, id, "1");
    let (ready, subscriber) = persistent_subscriber(mq.port, "far-sub", "pi/stream/#", qos, STREAM);
    ready.recv_timeout(DEADLINE).expect("subscriber ready");

    let mut p = midge.client("pub");
    for i in 0..STREAM {
        if i == 100 {
            mq.stop();
        }
        if i == 200 {
            mq.start();
        }
        p.publish("stream/n", i.to_string().as_bytes(), qos, false);
    }
    let got = subscriber.join().expect("the subscriber thread");
    assert!(got.connections >= 2, "the subscriber never reconnected");
    if qos == 2 {
        assert_all_once_in_order(&got.numbers, STREAM);
    } else {
        assert_all_in_order(&got.numbers, STREAM);
    }
    assert!(midge.log().contains("link to"), "{}", midge.log());
}

/// [`restart_mid_stream_out`] at QoS 1.
#[test]
fn mosquitto_restart_mid_stream_loses_no_out_message_qos1() {
    restart_mid_stream_out(1);
}

/// [`restart_mid_stream_out`] at QoS 2: exactly once.
#[test]
fn mosquitto_restart_mid_stream_out_qos2_exactly_once() {
    restart_mid_stream_out(2);
}

/// The other way: Mosquitto restarts (SIGTERM, same port and
/// persistence) after the 150th of 300 messages published there at `qos`
/// on an `in` topic of that QoS, and the publisher goes on at once, while
/// midge's link is down: midge's subscriber gets every message, first
/// arrivals in order, at QoS 2 exactly once; what Mosquitto queued for the
/// bridge's persistent session comes when the bridge is back.
fn restart_mid_stream_in(qos: u8) {
    let dir = Dir::new(&format!("restart-in-{qos}"));
    let mut mq = Server::mosquitto(&dir, "mosquitto", free_port(), &mosquitto_persistence(&dir));
    let id = "pi-stream-in";
    let body = connection(
        "cloud",
        id,
        &format!("127.0.0.1:{}", mq.port),
        &format!("topic stream/# in {qos} cmd/ cloud/\n"),
    );
    let midge = Server::midge(&dir, "midge", free_port(), &body);
    wait_state(mq.port, id, "1");
    let mut near = midge.client("near");
    near.subscribe("cmd/stream/#", qos);

    let mut far = mq.client("far-pub");
    for i in 0..STREAM {
        if i == 150 {
            mq.stop();
            mq.start();
            far = mq.client("far-pub");
        }
        far.publish("cloud/stream/n", i.to_string().as_bytes(), qos, false);
    }
    near.wait_until("every message", |got| {
        numbers(got).into_iter().collect::<BTreeSet<_>>().len() >= STREAM as usize
    });
    near.settle(SETTLE);
    if qos == 2 {
        assert_all_once_in_order(&numbers(&near.got), STREAM);
        assert_eq!(near.qos2_resent, 0, "midge sent a QoS 2 PUBLISH again");
    } else {
        assert_all_in_order(&numbers(&near.got), STREAM);
    }
    assert!(midge.log().contains("link to"), "{}", midge.log());
}

/// [`restart_mid_stream_in`] at QoS 1.
#[test]
fn mosquitto_restart_mid_stream_loses_no_in_message_qos1() {
    restart_mid_stream_in(1);
}

/// [`restart_mid_stream_in`] at QoS 2: exactly once.
#[test]
fn mosquitto_restart_mid_stream_in_qos2_exactly_once() {
    restart_mid_stream_in(2);
}

/// With `persistence true` on midge: QoS 1 messages published on an
/// `out` topic while the remote is down wait in the bridge's session;
/// midge is stopped (SIGTERM) and started again, then the remote comes
/// up: every message arrives, in order.
#[test]
fn midge_persistence_keeps_the_bridge_queue_across_a_restart() {
    const N: u32 = 100;
    let dir = Dir::new("persist");
    // The far subscriber's session is made first, so that it is there
    // whenever the bridge delivers.
    let mut mq = Server::mosquitto(&dir, "mosquitto", free_port(), &mosquitto_persistence(&dir));
    let mut sub = Mqtt::connect(mq.port, "far-sub", false);
    sub.subscribe("pi/#", 1);
    sub.disconnect();
    mq.stop();

    let id = "pi-persist";
    let body = format!(
        "{}{}",
        midge_persistence(&dir),
        connection(
            "cloud",
            id,
            &format!("127.0.0.1:{}", mq.port),
            "topic data/# out 1 \"\" pi/\n",
        )
    );
    let mut midge = Server::midge(&dir, "midge", free_port(), &body);
    let mut p = midge.client("pub");
    for i in 0..N {
        p.publish("data/n", i.to_string().as_bytes(), 1, false);
    }
    p.disconnect();
    midge.stop();
    midge.start();
    mq.start();
    wait_state(mq.port, id, "1");
    let mut sub = Mqtt::connect(mq.port, "far-sub", false);
    assert!(sub.session_present);
    sub.wait_until("every message", |got| {
        numbers(got).into_iter().collect::<BTreeSet<_>>().len() >= N as usize
    });
    sub.settle(SETTLE);
    assert_all_in_order(&numbers(&sub.got), N);
}

/// Mosquitto, and midge with persistence bridged to it with `topic` as
/// remote client `pi-<tag>`, once the bridge is up; the directory goes
/// last.
fn persistent_bridge(tag: &str, topic: &str) -> (Dir, Server, Server) {
    let dir = Dir::new(tag);
    let mq = Server::mosquitto(&dir, "mosquitto", free_port(), "");
    let id = format!("pi-{tag}");
    let body = format!(
        "{}{}",
        midge_persistence(&dir),
        connection("cloud", &id, &format!("127.0.0.1:{}", mq.port), topic)
    );
    let midge = Server::midge(&dir, "midge", free_port(), &body);
    wait_state(mq.port, &id, "1");
    (dir, mq, midge)
}

/// midge (with persistence) is killed with SIGKILL after the 150th of 300
/// QoS 2 messages published to it on an `out` topic, and started again:
/// Mosquitto's subscriber gets every message exactly once and in order
/// (every one midge acknowledged was on disk, and the bridge's QoS 2 state
/// with it).
#[test]
fn midge_killed_mid_stream_out_qos2_exactly_once() {
    let (_dir, mq, mut midge) = persistent_bridge("kill-out", "topic data/# out 2 \"\" pi/\n");
    let mut far = Mqtt::connect(mq.port, "far-sub", false);
    far.subscribe("pi/#", 2);
    let mut p = midge.client("pub");
    for i in 0..STREAM {
        if i == 150 {
            midge.kill();
            midge.start();
            p = midge.client("pub");
        }
        p.publish("data/n", i.to_string().as_bytes(), 2, false);
    }
    far.wait_until("every message", |got| {
        numbers(got).into_iter().collect::<BTreeSet<_>>().len() >= STREAM as usize
    });
    far.settle(SETTLE);
    assert_all_once_in_order(&numbers(&far.got), STREAM);
}

/// The other way: midge (with persistence) is killed with SIGKILL after
/// the 150th of 300 QoS 2 messages published on Mosquitto on an `in`
/// topic, and started again while the publisher goes on: a persistent
/// QoS 2 subscriber on midge, reconnecting, gets every message exactly
/// once and in order (the bridge's half-done QoS 2 receptions survive).
#[test]
fn midge_killed_mid_stream_in_qos2_exactly_once() {
    let (_dir, mq, mut midge) = persistent_bridge("kill-in", "topic data/# in 2 cmd/ cloud/\n");
    let (ready, subscriber) =
        persistent_subscriber(midge.port, "near-sub", "cmd/data/#", 2, STREAM);
    ready.recv_timeout(DEADLINE).expect("subscriber ready");
    let mut p = mq.client("far-pub");
    for i in 0..STREAM {
        if i == 150 {
            midge.kill();
            midge.start();
        }
        p.publish("cloud/data/n", i.to_string().as_bytes(), 2, false);
    }
    let got = subscriber.join().expect("the subscriber thread");
    assert!(got.connections >= 2, "the subscriber never reconnected");
    assert_all_once_in_order(&got.numbers, STREAM);
}
