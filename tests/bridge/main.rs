//! Bridges end to end: the real `midge` binary bridging to Debian's
//! `mosquitto` 2.0 broker and to a second midge, and Mosquitto's own
//! bridge into midge; every broker a child process on 127.0.0.1 with its
//! own config file, raw MQTT 3.1.1 clients on both sides. What the
//! broker's unit tests check with a fake clock
//! (`src/broker/tests/bridge.rs`) is not repeated here; these check what
//! only real processes show: the wire between two brokers, restarts and
//! crashes of either side, signals, persistence files, TLS, name
//! resolution and the remote's password file.
//!
//! `mosquitto` (in /usr/sbin) and `mosquitto_passwd` come from Debian's
//! `mosquitto` package, which `scripts/test.sh` installs; a test fails,
//! naming the package, when it is missing.
//!
//! # Layout
//! - `kit.rs`: ports, temporary directories, the broker processes
//!   (killed on drop, logs printed when a test fails), bounded waits, the
//!   raw client.
//! - `restarts.rs`: streams through a bridge while either broker is
//!   stopped, killed or restarted, with and without persistence.
//! - here: what crosses a bridge, loops, failover, notifications, names,
//!   MQTT 5, TLS, retained messages and credentials.
//!
//! Contract: 127.0.0.1 only; every wait is bounded (100 ms steps up to
//! 10 s); every process is killed when its test ends; each test takes a
//! few seconds.

#[path = "../common/mod.rs"]
pub mod common;

mod kit;
mod restarts;

use std::time::Duration;

use kit::{free_port, state_topic, wait_state, Dir, Mqtt, Msg, Server};
/// How long a client keeps reading, after what it waited for arrived,
/// before a PINGREQ barrier: a duplicate or an echo would show by then.
pub(crate) const SETTLE: Duration = Duration::from_millis(700);

/// A `connection` section: `name` to `address` (one or more) as remote
/// client id `id`, reconnecting after 1 s, with `lines` (topics and the
/// rest).
pub(crate) fn connection(name: &str, id: &str, address: &str, lines: &str) -> String {
    format!(
        "connection {name}\naddress {address}\nremote_clientid {id}\nrestart_timeout 1\n{lines}"
    )
}

/// The messages of `got` on `topic`.
pub(crate) fn on<'a>(got: &'a [Msg], topic: &str) -> Vec<&'a Msg> {
    got.iter().filter(|m| m.topic == topic).collect()
}

/// Payloads of every size class: empty, every byte value, UTF-8 text, and
/// 64 KiB (a 3-byte remaining length).
pub(crate) fn payloads() -> Vec<Vec<u8>> {
    vec![
        Vec::new(),
        (0..=255u8).collect(),
        "grüße, 温度 21.5 °C".as_bytes().to_vec(),
        (0..65_536u32).map(|i| (i * 7 % 251) as u8).collect(),
    ]
}

/// Asserts that `got` holds exactly `payloads`, in order, on `topic` at
/// `qos`, each once and without DUP.
pub(crate) fn assert_exactly_once(got: &[Msg], topic: &str, qos: u8, payloads: &[Vec<u8>]) {
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

/// Two midges bridged with `topic # both 1` (and `extra`): a message
/// published on either side reaches the other side's subscriber exactly
/// once and no subscriber sees one twice, counted over a settling window
/// closed by a PINGREQ barrier. A retained message stays retained across
/// (Retain As Published).
fn midge_to_midge_no_echo(tag: &str, extra: &str) {
    let dir = Dir::new(tag);
    let remote = Server::midge(&dir, "remote", free_port(), "");
    let id = format!("a-to-b-{tag}");
    let body = connection(
        "peer",
        &id,
        &format!("127.0.0.1:{}", remote.port),
        &format!("topic # both 1\n{extra}"),
    );
    let local = Server::midge(&dir, "local", free_port(), &body);
    wait_state(remote.port, &id, "1");
    let mut sa = local.client("sa");
    sa.subscribe("t/#", 1);
    let mut sb = remote.client("sb");
    sb.subscribe("t/#", 1);

    local.client("pub-a").publish("t/a", b"from a", 1, false);
    remote.client("pub-b").publish("t/b", b"from b", 1, false);
    for s in [&mut sa, &mut sb] {
        s.wait_count(2);
        s.settle(SETTLE);
        for (topic, payload) in [("t/a", &b"from a"[..]), ("t/b", b"from b")] {
            let copies = on(&s.got, topic);
            assert_eq!(copies.len(), 1, "{topic} once each side: {:?}", s.got);
            assert_eq!(copies[0].payload, payload);
            assert_eq!(copies[0].qos, 1);
        }
        assert_eq!(s.got.len(), 2, "{:?}", s.got);
    }

    local
        .client("pub-r")
        .publish("t/retained", b"kept", 1, true);
    sb.wait_message("t/retained", b"kept");
    let mut late = remote.client("late");
    late.subscribe("t/retained", 1);
    let m = late.wait_message("t/retained", b"kept");
    assert!(m.retain, "retained on the remote side too");
}

/// [`midge_to_midge_no_echo`] over MQTT 3.1.1: the remote midge takes the
/// try_private bit as No Local (and Retain As Published) for the bridge's
/// subscriptions.
#[test]
fn midge_to_midge_both_ways_no_echo() {
    midge_to_midge_no_echo("midge-midge", "");
}

/// [`midge_to_midge_no_echo`] over MQTT 5: the bridge's SUBSCRIBE asks
/// for No Local and Retain As Published itself.
#[test]
fn midge_to_midge_mqtt5_both_ways_no_echo() {
    midge_to_midge_no_echo("midge-midge-v5", "bridge_protocol_version mqttv50\n");
}

/// Mosquitto's own bridge to midge, `topic # both 2`: midge as the remote
/// of a real Mosquitto bridge (try_private bit and all) carries QoS 2 both
/// ways, each message once on the other side and none echoed.
#[test]
fn mosquitto_bridge_to_midge_both_ways_no_echo() {
    let dir = Dir::new("mosquitto-to-midge");
    let midge = Server::midge(&dir, "midge", free_port(), "");
    let id = "mq-bridge";
    let mq = Server::mosquitto(
        &dir,
        "mosquitto",
        free_port(),
        &connection(
            "tomidge",
            id,
            &format!("127.0.0.1:{}", midge.port),
            "topic # both 2\n",
        ),
    );
    wait_state(midge.port, id, "1");
    let mut sa = midge.client("sa");
    sa.subscribe("t/#", 2);
    let mut sb = mq.client("sb");
    sb.subscribe("t/#", 2);
    midge
        .client("pub-a")
        .publish("t/a", b"from midge", 2, false);
    mq.client("pub-b")
        .publish("t/b", b"from mosquitto", 2, false);
    for s in [&mut sa, &mut sb] {
        s.wait_count(2);
        s.settle(SETTLE);
        for (topic, payload) in [("t/a", &b"from midge"[..]), ("t/b", b"from mosquitto")] {
            let copies = on(&s.got, topic);
            assert_eq!(copies.len(), 1, "{topic} once each side: {:?}", s.got);
            assert_eq!((&copies[0].payload[..], copies[0].qos), (payload, 2));
        }
        assert_eq!((s.got.len(), s.qos2_resent), (2, 0), "{:?}", s.got);
    }
}

/// The contrast: with `try_private false` the remote midge takes the
/// bridge for a plain 3.1.1 client, whose `#` subscription gets its own
/// messages back, so a message published on the local side comes back
/// once (the local session's No Local stops it there). This is what shows
/// that the bit, not the topic set-up, stops the echo in
/// `midge_to_midge_both_ways_no_echo`.
#[test]
fn midge_to_midge_without_try_private_echoes_once() {
    let dir = Dir::new("midge-midge-plain");
    let remote = Server::midge(&dir, "remote", free_port(), "");
    let id = "a-to-b-plain";
    let body = connection(
        "peer",
        id,
        &format!("127.0.0.1:{}", remote.port),
        "topic # both 1\ntry_private false\n",
    );
    let local = Server::midge(&dir, "local", free_port(), &body);
    wait_state(remote.port, id, "1");
    let mut sa = local.client("sa");
    sa.subscribe("t/#", 1);
    local.client("pub-a").publish("t/a", b"from a", 1, false);
    sa.wait_count(2);
    sa.settle(SETTLE);
    assert_eq!(on(&sa.got, "t/a").len(), 2, "{:?}", sa.got);
}

/// Failover: with `address <closed port> <Mosquitto>`, the refused
/// first address is logged and the second one tried at once: the bridge
/// ends up connected there and a message crosses.
#[test]
fn failover_to_the_second_address() {
    let dir = Dir::new("failover");
    let closed = free_port();
    let mq = Server::mosquitto(&dir, "mosquitto", free_port(), "");
    let id = "pi-failover";
    let body = connection(
        "cloud",
        id,
        &format!("127.0.0.1:{closed} 127.0.0.1:{}", mq.port),
        "topic data/# out 1 \"\" pi/\n",
    );
    let midge = Server::midge(&dir, "midge", free_port(), &body);
    wait_state(mq.port, id, "1");
    let log = midge.log();
    assert!(
        log.contains(&format!("cannot connect to 127.0.0.1:{closed}")),
        "{log}"
    );
    let mut far = mq.client("far");
    far.subscribe("pi/#", 1);
    midge.client("pub").publish("data/x", b"over", 1, false);
    far.wait_message("pi/data/x", b"over");
}

/// Reads until the last message on `topic` says `payload`.
fn wait_last(c: &mut Mqtt, topic: &str, payload: &str) {
    c.wait_until(&format!("{payload} last on {topic}"), |got| {
        got.iter()
            .rev()
            .find(|m| m.topic == topic)
            .is_some_and(|m| m.payload == payload.as_bytes())
    });
}

/// Notifications. On Mosquitto, a subscriber to
/// `$SYS/broker/connection/+/state` sees `1` when midge connects, `0` when
/// midge is killed (SIGKILL: the retained will), `1` again when it is
/// back, and `0` after a SIGTERM (midge publishes it, then DISCONNECTs,
/// which suppresses the will). On midge, its own state topic says `0`
/// once the remote went away.
#[test]
fn state_notifications_on_both_sides() {
    let dir = Dir::new("notify");
    let mut mq = Server::mosquitto(&dir, "mosquitto", free_port(), "");
    let id = "pi-notify";
    let topic = state_topic(id);
    let mut watch = mq.client("watch");
    watch.subscribe("$SYS/broker/connection/+/state", 1);
    let body = connection(
        "cloud",
        id,
        &format!("127.0.0.1:{}", mq.port),
        "topic data/# out 1\n",
    );
    let mut midge = Server::midge(&dir, "midge", free_port(), &body);
    wait_last(&mut watch, &topic, "1");

    midge.kill();
    wait_last(&mut watch, &topic, "0");
    wait_state(mq.port, id, "0"); // and retained

    midge.start();
    wait_last(&mut watch, &topic, "1");
    midge.stop();
    wait_last(&mut watch, &topic, "0");
    // Mosquitto logs each packet as it reads it: `0` came as midge's own
    // PUBLISH (QoS 0, retained), then a DISCONNECT.
    mq.wait_log(&format!(
        "Received PUBLISH from {id} (d0, q0, r1, m0, '{topic}'"
    ));
    mq.wait_log(&format!("Received DISCONNECT from {id}"));
    wait_state(mq.port, id, "0");

    midge.start();
    wait_state(mq.port, id, "1");
    let mut local = midge.client("local-watch");
    local.subscribe(&topic, 1);
    wait_last(&mut local, &topic, "1");
    mq.stop();
    wait_last(&mut local, &topic, "0");
}

/// A host name: `address localhost:<port>` is resolved by midge's own
/// resolver (from /etc/hosts) and the bridge connects.
#[test]
fn address_by_host_name() {
    let dir = Dir::new("hostname");
    let mq = Server::mosquitto(&dir, "mosquitto", free_port(), "");
    let id = "pi-hostname";
    let body = connection(
        "cloud",
        id,
        &format!("localhost:{}", mq.port),
        "topic data/# out 1 \"\" pi/\n",
    );
    let midge = Server::midge(&dir, "midge", free_port(), &body);
    wait_state(mq.port, id, "1");
    let mut far = mq.client("far");
    far.subscribe("pi/#", 1);
    midge.client("pub").publish("data/x", b"by name", 1, false);
    far.wait_message("pi/data/x", b"by name");
    assert!(
        midge
            .log()
            .contains(&format!("connecting to localhost:{}", mq.port)),
        "{}",
        midge.log()
    );
}

/// `bridge_protocol_version mqttv50` to Mosquitto: the link is MQTT 5
/// (Mosquitto logs protocol 5) and messages cross both ways.
#[test]
fn mqtt5_bridge_to_mosquitto() {
    let dir = Dir::new("v5");
    let mq = Server::mosquitto(&dir, "mosquitto", free_port(), "");
    let id = "pi-v5";
    let body = connection(
        "cloud",
        id,
        &format!("127.0.0.1:{}", mq.port),
        "bridge_protocol_version mqttv50\n\
         topic up/# out 1 \"\" pi/\ntopic down/# in 2 \"\" cloud/\n",
    );
    let midge = Server::midge(&dir, "midge", free_port(), &body);
    wait_state(mq.port, id, "1");
    assert!(
        mq.log().contains(&format!("as {id} (p5,")),
        "not MQTT 5:\n{}",
        mq.log()
    );
    let mut far = mq.client("far");
    far.subscribe("pi/#", 2);
    let mut near = midge.client("near");
    near.subscribe("down/#", 2);
    midge.client("pub").publish("up/x", b"up five", 1, false);
    let m = far.wait_message("pi/up/x", b"up five");
    assert_eq!(m.qos, 1);
    mq.client("far-pub")
        .publish("cloud/down/y", b"down five", 2, false);
    let m = near.wait_message("down/y", b"down five");
    assert_eq!(m.qos, 2);
    far.settle(SETTLE);
    near.settle(SETTLE);
    assert_eq!(far.got.len(), 1, "{:?}", far.got);
    assert_eq!(near.got.len(), 1, "{:?}", near.got);
}

/// TLS upstream: Mosquitto's TLS listener with an rcgen certificate
/// for 127.0.0.1 and localhost; midge with `bridge_cafile` of the CA that
/// signed it connects (by IP address, and by name) and messages cross both
/// ways. With a CA that did not sign it, the bridge never connects and
/// midge's log names the certificate problem.
#[cfg(feature = "tls")]
#[test]
fn tls_to_mosquitto() {
    let dir = Dir::new("tls");
    kit::certificates(&dir);
    let tls_port = free_port();
    let mq = Server::mosquitto(
        &dir,
        "mosquitto",
        free_port(),
        &format!(
            "listener {tls_port} 127.0.0.1\ncertfile {}\nkeyfile {}\n",
            dir.path("server.pem").display(),
            dir.path("server.key").display()
        ),
    );
    let id = "pi-tls";
    let body = connection(
        "cloud",
        id,
        &format!("127.0.0.1:{tls_port}"),
        &format!(
            "bridge_cafile {}\ntopic up/# out 1 \"\" pi/\ntopic down/# in 1 \"\" cloud/\n",
            dir.path("ca.pem").display()
        ),
    );
    let midge = Server::midge(&dir, "midge", free_port(), &body);
    wait_state(mq.port, id, "1");
    let mut far = mq.client("far");
    far.subscribe("pi/#", 1);
    let mut near = midge.client("near");
    near.subscribe("down/#", 1);
    midge.client("pub").publish("up/x", b"sealed up", 1, false);
    far.wait_message("pi/up/x", b"sealed up");
    mq.client("far-pub")
        .publish("cloud/down/y", b"sealed down", 1, false);
    near.wait_message("down/y", b"sealed down");

    // By name: the certificate's DNS name is checked against `localhost`.
    let by_name = "pi-tls-name";
    let body = connection(
        "cloud",
        by_name,
        &format!("localhost:{tls_port}"),
        &format!(
            "bridge_cafile {}\ntopic up/# out 1 \"\" pi/\n",
            dir.path("ca.pem").display()
        ),
    );
    let _named = Server::midge(&dir, "midge-by-name", free_port(), &body);
    wait_state(mq.port, by_name, "1");

    let bad_id = "pi-tls-bad";
    let body = connection(
        "cloud",
        bad_id,
        &format!("127.0.0.1:{tls_port}"),
        &format!(
            "bridge_cafile {}\ntopic up/# out 1 \"\" pi/\n",
            dir.path("other-ca.pem").display()
        ),
    );
    let bad = Server::midge(&dir, "midge-bad-ca", free_port(), &body);
    // A first attempt and one retry (1 s later), both refused.
    kit::wait_for("two failed attempts in midge's log", || {
        bad.log().matches("ended before CONNACK").count() >= 2
    });
    let log = bad.log();
    assert!(
        log.contains("the server's certificate is refused: unknown issuer"),
        "the log does not name the certificate problem:\n{log}"
    );
    assert!(!log.contains("connected to"), "{log}");
    let mut check = mq.client("check");
    check.subscribe(&state_topic(bad_id), 1);
    check.settle(SETTLE);
    assert!(
        check.got.iter().all(|m| m.payload != b"1"),
        "{:?}",
        check.got
    );
}

/// A retained message published on midge on an `out` topic is retained
/// on Mosquitto too (a later subscriber there gets it with RETAIN), and
/// one published on Mosquitto on an `in` topic is retained on midge; with
/// `bridge_outgoing_retain false` the one sent out is not retained there.
#[test]
fn retained_crosses_unless_bridge_outgoing_retain_false() {
    for (extra, kept_there) in [("", true), ("bridge_outgoing_retain false\n", false)] {
        let dir = Dir::new("retained");
        let mq = Server::mosquitto(&dir, "mosquitto", free_port(), "");
        let id = "pi-retained";
        let body = connection(
            "cloud",
            id,
            &format!("127.0.0.1:{}", mq.port),
            &format!("topic r/# out 1 \"\" pi/\ntopic s/# in 1 \"\" cloud/\n{extra}"),
        );
        let midge = Server::midge(&dir, "midge", free_port(), &body);
        wait_state(mq.port, id, "1");
        // Live subscribers first: once they have the messages, both
        // brokers have them.
        let mut far = mq.client("far");
        far.subscribe("pi/#", 1);
        let mut near = midge.client("near");
        near.subscribe("s/#", 1);
        midge.client("pub").publish("r/x", b"out", 1, true);
        mq.client("far-pub").publish("cloud/s/y", b"in", 1, true);
        far.wait_message("pi/r/x", b"out");
        near.wait_message("s/y", b"in");

        let mut late = mq.client("far-late");
        late.subscribe("pi/r/x", 1);
        late.settle(SETTLE);
        let retained: Vec<&Msg> = late.got.iter().filter(|m| m.retain).collect();
        assert_eq!(
            retained.len(),
            usize::from(kept_there),
            "{extra:?}: {:?}",
            late.got
        );
        let mut late = midge.client("near-late");
        late.subscribe("s/y", 1);
        let m = late.wait_message("s/y", b"in");
        assert!(m.retain, "{extra:?}");
    }
}

/// `remote_username` and `remote_password` (each with a space: they run
/// to the end of the line) log in to a Mosquitto with a password file; a
/// wrong password is refused, and midge's log says so with the CONNACK's
/// meaning.
#[test]
fn remote_credentials_to_mosquitto() {
    let dir = Dir::new("credentials");
    let passwd = dir.path("passwd");
    let made = std::process::Command::new("mosquitto_passwd")
        .arg("-c")
        .arg("-b")
        .arg(&passwd)
        .args(["pi user", "s3cret pass"])
        .output()
        .expect("mosquitto_passwd runs (scripts/test.sh installs mosquitto)");
    assert!(made.status.success(), "{made:?}");
    let mq = Server::mosquitto(
        &dir,
        "mosquitto",
        free_port(),
        &format!(
            "password_file {}\nallow_anonymous false\n",
            passwd.display()
        ),
    );
    let address = format!("127.0.0.1:{}", mq.port);
    let good = connection(
        "cloud",
        "pi-login",
        &address,
        "remote_username pi user\nremote_password s3cret pass\ntopic r/# out 1\n",
    );
    let _good = Server::midge(&dir, "midge", free_port(), &good);
    let bad = connection(
        "cloud",
        "pi-login-bad",
        &address,
        "remote_username pi user\nremote_password wrong\ntopic r/# out 1\n",
    );
    let bad = Server::midge(&dir, "midge-bad", free_port(), &bad);
    // Mosquitto names the user it let in.
    mq.wait_log("as pi-login (p2, c0, k60, u'pi user').");
    bad.wait_log("connection refused by the remote broker: not authorized (0x05)");
    assert!(!bad.log().contains("connected to"), "{}", bad.log());
}
