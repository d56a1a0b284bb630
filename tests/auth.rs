//! Passwords, ACLs and SIGHUP with the real binary, as a user sets them
//! up: a password file made by `midge passwd`, an ACL file in Mosquitto's
//! format, the answers raw MQTT 3.1.1 and 5.0 CONNECTs get, Mosquitto's own
//! clients publishing and subscribing through the rules, a reload that
//! changes both files while a client stays connected, a reload with a
//! broken file that keeps the old one, and a broken file at start.
//!
//! `mosquitto_pub` and `mosquitto_sub` come from Debian's
//! mosquitto-clients, which `scripts/test.sh` installs. Every process has
//! a deadline; the broker listens on 127.0.0.1 only.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output, Stdio};

pub mod common;

use common::process::{free_port, mosquitto, run_to_end, Midge, DEADLINE};
use common::Dir;

/// The broker on the config in a test's directory, and its port.
struct Running {
    midge: Midge,
    port: u16,
}

impl std::ops::Deref for Running {
    type Target = Midge;
    fn deref(&self) -> &Midge {
        &self.midge
    }
}

fn passwd(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_midge"))
        .arg("passwd")
        .args(args)
        .output()
        .expect("midge passwd runs");
    assert!(out.status.success(), "midge passwd {args:?}: {out:?}");
}

/// A config with a password and an ACL file in `dir`, and the broker on it.
fn start(dir: &Dir) -> Running {
    let port = free_port();
    let config = format!(
        "listener {port} 127.0.0.1\nallow_anonymous false\n\
         password_file {}\nacl_file {}\nlog_type all\n",
        dir.path("passwd").display(),
        dir.path("acl").display()
    );
    Running {
        midge: Midge::start(&dir.0, &config, port),
        port,
    }
}

fn field(b: &[u8]) -> Vec<u8> {
    let mut v = (b.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(b);
    v
}

/// Sends a CONNECT at `level` (4 or 5) with these credentials; returns the
/// connection and the CONNACK code.
fn connect(
    port: u16,
    level: u8,
    id: &str,
    user: Option<&str>,
    pw: Option<&str>,
) -> (TcpStream, u8) {
    let mut flags = 0x02;
    let mut payload = field(id.as_bytes());
    if let Some(u) = user {
        flags |= 0x80;
        payload.extend(field(u.as_bytes()));
    }
    if let Some(p) = pw {
        flags |= 0x40;
        payload.extend(field(p.as_bytes()));
    }
    let mut body = field(b"MQTT");
    body.extend([level, flags, 0, 60]);
    if level == 5 {
        body.push(0);
    }
    body.extend(payload);
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend(body);
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    s.write_all(&packet).expect("send CONNECT");
    let mut head = [0u8; 2];
    s.read_exact(&mut head).expect("CONNACK");
    let mut rest = vec![0u8; usize::from(head[1])];
    s.read_exact(&mut rest).expect("CONNACK body");
    assert_eq!(head[0], 0x20, "CONNACK expected");
    (s, rest[1])
}

fn mosquitto_pub(port: u16, user: &str, pw: &str, topic: &str, msg: &str) -> Output {
    mosquitto(
        "mosquitto_pub",
        &[
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-u",
            user,
            "-P",
            pw,
            "-t",
            topic,
            "-m",
            msg,
            "-q",
            "1",
        ],
    )
}

fn write_files(dir: &Dir, acl: &str) {
    let pw = dir.path("passwd");
    let pw = pw.to_str().expect("utf-8 path");
    passwd(&["-c", "-b", pw, "alice", "alice-secret"]);
    passwd(&["-b", pw, "bob", "hunter2"]);
    fs::write(dir.path("acl"), acl).expect("acl");
}

const ACL: &str =
    "user alice\ntopic readwrite house/#\n\nuser bob\ntopic read house/+/temperature\n";

#[test]
fn connect_answers_follow_the_password_file_in_3_1_1_and_5_0() {
    let dir = Dir::new("codes");
    write_files(&dir, ACL);
    let m = start(&dir);
    let cases = [
        (Some("alice"), Some("alice-secret"), 0x00, 0x00),
        (Some("alice"), Some("nope"), 0x04, 0x86),
        (Some("mallory"), Some("x"), 0x04, 0x86),
        (None, None, 0x05, 0x87),
    ];
    for (user, pw, v3, v5) in cases {
        assert_eq!(connect(m.port, 4, "c3", user, pw).1, v3, "{user:?} 3.1.1");
        assert_eq!(connect(m.port, 5, "c5", user, pw).1, v5, "{user:?} 5.0");
    }
    let log = m.log();
    assert!(log.contains("wrong password for user \"alice\""), "{log}");
    assert!(
        log.contains("user \"mallory\" is not in the password file"),
        "{log}"
    );
}

#[test]
fn mosquitto_clients_publish_and_subscribe_through_the_rules() {
    let dir = Dir::new("clients");
    write_files(&dir, ACL);
    let m = start(&dir);
    let port = m.port.to_string();
    let sub = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-u",
            "bob",
            "-P",
            "hunter2",
            "-t",
            "house/#",
            "-v",
            "-C",
            "1",
            "-W",
            "8",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mosquitto_sub (scripts/test.sh installs mosquitto-clients)");
    m.wait_log("subscribed to house/#");
    // bob may read only house/+/temperature: the light is filtered out.
    assert!(
        mosquitto_pub(m.port, "alice", "alice-secret", "house/hall/light", "on")
            .status
            .success()
    );
    assert!(mosquitto_pub(
        m.port,
        "alice",
        "alice-secret",
        "house/hall/temperature",
        "21"
    )
    .status
    .success());
    let out = sub.wait_with_output().expect("mosquitto_sub ends");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "house/hall/temperature 21\n"
    );
    let refused = mosquitto_pub(m.port, "alice", "wrong", "house/x", "x");
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr).to_lowercase();
    assert!(err.contains("bad user name or password"), "{err}");
}

#[test]
fn sighup_reloads_both_files_and_keeps_connections() {
    let dir = Dir::new("reload");
    write_files(&dir, ACL);
    let m = start(&dir);
    let (mut kept, code) = connect(m.port, 4, "kept", Some("bob"), Some("hunter2"));
    assert_eq!(code, 0);
    assert_eq!(
        connect(m.port, 4, "c", Some("carol"), Some("carol-pw")).1,
        0x04
    );
    let pw = dir.path("passwd");
    passwd(&["-b", pw.to_str().expect("utf-8"), "carol", "carol-pw"]);
    m.signal("-HUP");
    m.wait_log("reload: password files read");
    assert_eq!(
        connect(m.port, 4, "c", Some("carol"), Some("carol-pw")).1,
        0x00
    );
    // A broken ACL file keeps the old one in force, and says where.
    fs::write(dir.path("acl"), "user carol\ntopic sideways x\n").expect("acl");
    m.signal("-HUP");
    m.wait_log_count("reload: password files read", 2);
    let log = m.log();
    assert!(log.contains(":2: "), "the bad line is named: {log}");
    assert!(log.contains("the ACL files in force stay"), "{log}");
    // The connection from before every reload still answers.
    kept.write_all(&[0xC0, 0]).expect("PINGREQ");
    let mut resp = [0u8; 2];
    kept.read_exact(&mut resp).expect("PINGRESP");
    assert_eq!(resp, [0xD0, 0]);
}

#[test]
fn a_malformed_password_file_stops_the_start_naming_file_and_line() {
    let dir = Dir::new("bad");
    let pw = dir.path("passwd");
    passwd(&[
        "-c",
        "-b",
        pw.to_str().expect("utf-8"),
        "alice",
        "alice-secret",
    ]);
    let good = fs::read_to_string(&pw).expect("passwd");
    fs::write(&pw, format!("{good}no colon here\n")).expect("passwd");
    fs::write(dir.path("acl"), ACL).expect("acl");
    let conf = dir.path("midge.conf");
    fs::write(
        &conf,
        format!(
            "listener {} 127.0.0.1\npassword_file {}\nacl_file {}\n",
            free_port(),
            dir.path("passwd").display(),
            dir.path("acl").display()
        ),
    )
    .expect("config");
    let out = run_to_end(
        Command::new(env!("CARGO_BIN_EXE_midge"))
            .arg("-c")
            .arg(&conf),
        "cargo builds midge for its tests",
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    let named = format!("{}:2: ", pw.display());
    assert!(err.contains(&named), "{err}");
}

/// The file a fresh package install leaves: empty, mode 0640. midge starts
/// on it, says in the log that nobody can log in yet, refuses every client;
/// `midge passwd -b` adds a user to it without changing its mode, and after
/// SIGHUP that user is let in.
#[test]
fn an_empty_password_file_refuses_everyone_until_a_user_is_added() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Dir::new("empty");
    let pw = dir.path("passwd");
    fs::write(&pw, "").expect("passwd");
    fs::set_permissions(&pw, fs::Permissions::from_mode(0o640)).expect("chmod");
    fs::write(dir.path("acl"), ACL).expect("acl");
    let m = start(&dir);
    m.wait_log("no users yet, so every client giving a user name is refused");
    assert_eq!(connect(m.port, 4, "c", Some("alice"), Some("x")).1, 0x04);
    assert_eq!(connect(m.port, 4, "c", None, None).1, 0x05);

    passwd(&["-b", pw.to_str().expect("utf-8"), "alice", "alice-secret"]);
    let mode = fs::metadata(&pw).expect("passwd").permissions().mode();
    assert_eq!(mode & 0o777, 0o640, "midge passwd kept the mode");
    m.signal("-HUP");
    m.wait_log("reload: password files read");
    assert_eq!(
        connect(m.port, 4, "c", Some("alice"), Some("alice-secret")).1,
        0x00
    );
}
