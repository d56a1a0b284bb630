//! Crash safety of the real binary: what midge acknowledged survives
//! SIGKILL (also in the middle of compactions) and a full disk. Each test
//! starts `midge` with `persistence true` in a directory of its own,
//! takes acknowledgements, kills it, starts it again on the same store and
//! checks that every acknowledged message is delivered (QoS 2 exactly
//! once), retained values are back and sessions resume with session
//! present.

pub mod common;

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A running midge; killed if the test ends first.
struct Midge {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Midge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts midge on `dir`'s store with `extra` config lines; `shell` wraps
/// the command (for `ulimit`), `None` runs it directly.
fn start(dir: &Path, port: u16, extra: &str, shell: Option<&str>) -> Midge {
    let conf = dir.join("midge.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n\
             persistence_location {}\nsys_interval 0\n{extra}",
            dir.join("db").display()
        ),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_midge");
    let mut cmd = match shell {
        Some(prefix) => {
            let mut c = Command::new("bash");
            c.arg("-c")
                .arg(format!("{prefix}; exec '{bin}' -c '{}'", conf.display()));
            c
        }
        None => {
            let mut c = Command::new(bin);
            c.arg("-c").arg(&conf);
            c
        }
    };
    let log = std::fs::File::create(dir.join(format!("midge-{}.log", now_ms()))).unwrap();
    let child = cmd
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("midge starts");
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "midge did not listen on {port}");
        std::thread::sleep(Duration::from_millis(10));
    }
    Midge { child, addr }
}

/// Everything the runs of midge on `dir` logged.
fn logs(dir: &Path) -> String {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap_or_default())
        .collect()
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn kill9(mut m: Midge) {
    m.child.kill().expect("SIGKILL");
    m.child.wait().unwrap();
}

fn persistent(id: &str) -> ConnectSpec<'_> {
    ConnectSpec {
        clean: false,
        ..ConnectSpec::new(id)
    }
}

/// The persistent subscriber "sub" to `c/#` at QoS 2, then gone.
fn subscribe_and_leave(addr: SocketAddr) {
    let mut s = Client::connect_with(addr, &persistent("sub"), CONNACK_ACCEPTED);
    s.subscribe(1, "c/#", 2);
    s.disconnect();
}

/// Back as "sub": reads everything queued, acknowledging each (QoS 2 to
/// the end), until a PINGREQ's PINGRESP comes with nothing before it.
/// Returns the payloads in order.
fn drain_sub(addr: SocketAddr) -> Vec<String> {
    let mut s = Client::connect_with(addr, &persistent("sub"), CONNACK_SESSION_PRESENT);
    let mut got = Vec::new();
    loop {
        s.send(&pingreq());
        let mut quiet = true;
        loop {
            let raw = s.read_packet();
            match midge::codec::decode(raw.clone().into(), midge::codec::Protocol::V311) {
                Ok(midge::codec::Packet::PingResp) => break,
                Ok(midge::codec::Packet::Publish(p)) => {
                    quiet = false;
                    got.push(String::from_utf8_lossy(&p.payload).into_owned());
                    match p.qos as u8 {
                        1 => s.send(&ack(0x40, p.packet_id)),
                        2 => s.send(&ack(0x50, p.packet_id)),
                        _ => {}
                    }
                }
                // PUBREL, after our PUBREC or owed from before the crash.
                Ok(midge::codec::Packet::PubRel(a)) => {
                    quiet = false;
                    s.send(&ack(0x70, a.packet_id));
                }
                other => panic!("unexpected {other:?}: {}", hex(&raw)),
            }
        }
        if quiet {
            break;
        }
    }
    s.disconnect();
    got
}

/// Publishes `payload` at `qos` with `pid` and waits for its
/// acknowledgement (PUBREC for QoS 2, PUBREL not sent).
fn publish_acked(c: &mut Client, pid: u16, topic: &str, payload: &str, qos: u8, retain: bool) {
    c.send(&publish(topic, payload.as_bytes(), qos, retain, false, pid));
    c.expect(&ack(if qos == 1 { 0x40 } else { 0x50 }, pid));
}

#[test]
fn acknowledged_messages_retained_values_and_sessions_survive_sigkill() {
    let dir = Dir::new("basic");
    let port = free_port();
    let m = start(&dir.0, port, "", None);
    subscribe_and_leave(m.addr);
    let mut p = Client::connect_with(m.addr, &persistent("pub"), CONNACK_ACCEPTED);
    let mut acked = Vec::new();
    for i in 1..=30u16 {
        let qos = 1 + (i % 2) as u8;
        publish_acked(&mut p, i, "c/x", &format!("m{i}"), qos, false);
        if qos == 2 && i % 4 == 0 {
            p.send(&ack(0x62, i));
            p.expect(&ack(0x70, i));
        }
        acked.push(format!("m{i}"));
    }
    publish_acked(&mut p, 100, "r/a", "retained-a", 1, true);
    // QoS 2 from the publisher, PUBREC taken, PUBREL not yet sent.
    publish_acked(&mut p, 200, "c/once", "once", 2, false);
    kill9(m);

    let m = start(&dir.0, port, "", None);
    let mut p = Client::connect_with(m.addr, &persistent("pub"), CONNACK_SESSION_PRESENT);
    // Re-sent with DUP after the restart: acknowledged, not delivered again.
    p.send(&publish("c/once", b"once", 2, false, true, 200));
    p.expect(&ack(0x50, 200));
    p.send(&ack(0x62, 200));
    p.expect(&ack(0x70, 200));
    p.ping();
    let got = drain_sub(m.addr);
    let mut expected = acked.clone();
    expected.push("once".into());
    assert_eq!(got, expected, "every acknowledged message, in order, once");
    let mut r = Client::connect(m.addr, "reader");
    r.send(&subscribe(1, &[("r/#", 1)]));
    r.expect(&suback(1, &[1]));
    let retained = r.read_publish();
    assert_eq!(&retained.payload[..], b"retained-a");
    assert!(retained.retain);
}

/// Publishes as fast as acknowledgements come, several publishers' worth
/// in one pipelined stream, and kills midge after a random number of
/// acknowledgements: every acknowledged message is delivered after the
/// restart, and none twice. With `extra` forcing compactions, kills land
/// in the middle of them too.
fn kill_while_publishing(name: &str, extra: &str, payload_len: usize, rounds: u32) {
    let dir = Dir::new(name);
    let port = free_port();
    let mut m = start(&dir.0, port, extra, None);
    subscribe_and_leave(m.addr);
    let mut acked = BTreeSet::new();
    let mut delivered: Vec<String> = Vec::new();
    let mut seed = 0x9E37_79B9u64;
    let pad = "x".repeat(payload_len);
    for round in 0..rounds {
        let mut p = Client::connect(m.addr, &format!("pub{round}"));
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let kill_after = 20 + (seed % 200) as usize;
        let window = 10u16;
        let mut next = 1u16;
        let mut outstanding = std::collections::VecDeque::new();
        let mut seen = 0;
        while seen < kill_after {
            while outstanding.len() < usize::from(window) {
                let payload = format!("r{round}-{next}-{pad}");
                p.send(&publish(
                    "c/load",
                    payload.as_bytes(),
                    1,
                    false,
                    false,
                    next,
                ));
                outstanding.push_back((next, payload));
                next += 1;
            }
            let a = p.read_packet();
            let pid = u16::from_be_bytes([a[2], a[3]]);
            let pos = outstanding
                .iter()
                .position(|(id, _)| *id == pid)
                .expect("ack of a sent id");
            let (_, payload) = outstanding.remove(pos).unwrap();
            acked.insert(payload);
            seen += 1;
        }
        kill9(m);
        m = start(&dir.0, port, extra, None);
        delivered.extend(drain_sub(m.addr));
    }
    if extra.contains("autosave") {
        let compactions = logs(&dir.0).matches("store: compacted").count();
        assert!(compactions >= 2, "{compactions} compactions");
    }
    let unique: BTreeSet<String> = delivered.iter().cloned().collect();
    let lost: Vec<&String> = acked.difference(&unique).take(5).collect();
    assert!(
        lost.is_empty(),
        "acknowledged and lost: {lost:?} ({} acked)",
        acked.len()
    );
    assert_eq!(unique.len(), delivered.len(), "a message delivered twice");
}

#[test]
fn sigkill_at_random_points_loses_no_acknowledged_message() {
    kill_while_publishing("kill", "", 16, 4);
}

#[test]
fn sigkill_during_compactions_loses_no_acknowledged_message() {
    // A compaction every 50 records: the kills land before, in and after
    // them.
    kill_while_publishing(
        "compact",
        "autosave_on_changes true\nautosave_interval 50\n",
        600,
        4,
    );
}

#[test]
fn sigterm_syncs_and_exits_0() {
    let dir = Dir::new("term");
    let port = free_port();
    let mut m = start(&dir.0, port, "persistence_sync never\n", None);
    subscribe_and_leave(m.addr);
    let mut p = Client::connect(m.addr, "pub");
    for i in 1..=5 {
        p.publish_qos1(i, "c/t", format!("t{i}").as_bytes(), false);
    }
    let status = Command::new("kill")
        .args(["-TERM", &m.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = m.child.wait().unwrap();
    assert_eq!(exit.code(), Some(0), "exit 0 on SIGTERM");
    let m = start(&dir.0, port, "", None);
    assert_eq!(drain_sub(m.addr), ["t1", "t2", "t3", "t4", "t5"]);
}

#[test]
fn a_full_disk_holds_acknowledgements_refuses_new_qos1_serves_qos0_and_loses_nothing_acknowledged()
{
    let dir = Dir::new("full");
    let port = free_port();
    // Files may not grow past 64 KiB: the log fills up. SIGXFSZ is
    // ignored, so a write past the limit fails with EFBIG, as a full disk
    // fails with ENOSPC.
    let m = start(&dir.0, port, "", Some("trap '' XFSZ; ulimit -f 128"));
    subscribe_and_leave(m.addr);
    let mut watch = Client::connect(m.addr, "watch");
    watch.subscribe(1, "z/#", 0);
    let mut p = Client::connect(m.addr, "pub");
    p.set_read_timeout(Duration::from_millis(1500));
    let body = "y".repeat(1000);
    let mut acked = Vec::new();
    let mut held = None;
    for i in 1..=200u16 {
        let payload = format!("f{i}-{body}");
        p.send(&publish("c/full", payload.as_bytes(), 1, false, false, i));
        let mut a = [0u8; 4];
        match p.try_read_exact(&mut a) {
            true => {
                assert_eq!(a, [0x40, 2, (i >> 8) as u8, i as u8]);
                acked.push(payload);
            }
            false => {
                held = Some(i);
                break;
            }
        }
    }
    let held = held.expect("the 64 KiB limit was reached: an acknowledgement is held");
    assert!(acked.len() > 10, "some messages were acknowledged first");
    // midge still runs and serves what needs no disk: QoS 0 flows...
    let mut q0 = Client::connect(m.addr, "q0");
    q0.send(&publish("z/1", b"still here", 0, false, false, 0));
    assert_eq!(&watch.read_publish().payload[..], b"still here");
    // ...while new QoS 1 work is refused: a 3.1.1 publisher is
    // disconnected (it has no reason code to be told with)...
    let mut q1 = Client::connect(m.addr, "q1");
    q1.send(&publish("z/2", b"x", 1, false, false, 1));
    q1.expect_closed();
    // ...and an MQTT 5 one gets PUBACK 0x97 (Quota exceeded).
    let mut v5 = Client::open(m.addr);
    v5.send(&[
        0x10, 0x0e, 0, 4, b'M', b'Q', b'T', b'T', 5, 0x02, 0, 60, 0, 0, 1, b'v',
    ]);
    assert_eq!(v5.read_packet()[0], 0x20, "CONNACK");
    v5.send(&[0x32, 9, 0, 3, b'z', b'/', b'3', 0, 1, 0, b'q']);
    let ack = v5.read_packet();
    assert_eq!(
        (ack[0], ack[2], ack[3], ack[4]),
        (0x40, 0, 1, 0x97),
        "{}",
        hex(&ack)
    );
    let mut m = m;
    assert!(m.child.try_wait().unwrap().is_none(), "midge still runs");
    kill9(m);
    let log = logs(&dir.0);
    assert!(
        log.contains("store: cannot write"),
        "the failure is logged: {log}"
    );
    let m = start(&dir.0, port, "", None);
    let got = drain_sub(m.addr);
    for a in &acked {
        assert!(
            got.contains(a),
            "acknowledged before the disk filled, then lost"
        );
    }
    assert!(
        got.len() <= acked.len() + 1,
        "message {held} at most once more"
    );
}

#[test]
fn a_damaged_snapshot_stops_midge_with_the_file_and_offset() {
    let dir = Dir::new("damaged");
    let db = dir.0.join("db");
    std::fs::create_dir_all(&db).unwrap();
    std::fs::write(db.join("midge.db"), b"not a midge snapshot at all").unwrap();
    let conf = dir.0.join("midge.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {} 127.0.0.1\npersistence true\npersistence_location {}\n",
            free_port(),
            db.display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_midge"))
        .arg("-c")
        .arg(&conf)
        .output()
        .expect("midge runs");
    assert_eq!(out.status.code(), Some(1), "does not start half-way");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("midge.db: damaged at byte 0") && err.contains("move it away"),
        "{err}"
    );
}
