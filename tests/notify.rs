//! The real binary speaks systemd's readiness protocol when, and only when,
//! `NOTIFY_SOCKET` is set: a fake service manager (a datagram socket bound
//! in a temporary directory, or under an abstract name) receives READY=1
//! once the listener accepts connections, RELOADING=1 then READY=1 around
//! a SIGHUP reload, and STOPPING=1 on SIGTERM.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the broker if a test fails before it exits by itself.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Running {
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.0.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits (5 s at most) for the exit after SIGTERM; it must be 0.
    fn wait_exit(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                assert!(status.success(), "exit status {status}");
                return;
            }
            assert!(Instant::now() < deadline, "midge still running");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("midge-notify-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("free port");
    l.local_addr().unwrap().port()
}

/// midge on 127.0.0.1:`port` with a config file (so that SIGHUP has
/// something to read), `NOTIFY_SOCKET` set to `notify` or removed.
fn start(dir: &std::path::Path, port: u16, notify: Option<&str>) -> Running {
    let conf = dir.join("midge.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\n"),
    )
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_midge"));
    cmd.arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    match notify {
        Some(value) => cmd.env("NOTIFY_SOCKET", value),
        None => cmd.env_remove("NOTIFY_SOCKET"),
    };
    Running(cmd.spawn().expect("midge starts"))
}

/// The next datagram, within 10 s.
fn next(manager: &UnixDatagram) -> String {
    manager
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 512];
    let n = manager.recv(&mut buf).expect("a notification within 10 s");
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

fn has_line(message: &str, line: &str) -> bool {
    message.lines().any(|l| l == line)
}

/// READY=1 first, and the port accepts at once; then the reload and stop
/// messages in order.
fn full_cycle(manager: &UnixDatagram, notify: &str, dir: &std::path::Path) {
    let port = free_port();
    let mut broker = start(dir, port, Some(notify));
    let ready = next(manager);
    assert!(has_line(&ready, "READY=1"), "first message: {ready:?}");
    assert!(
        has_line(&ready, &format!("STATUS=listening on 127.0.0.1:{port}")),
        "{ready:?}"
    );
    TcpStream::connect(("127.0.0.1", port)).expect("listening once READY=1 is sent");

    broker.signal("-HUP");
    let reloading = next(manager);
    assert!(has_line(&reloading, "RELOADING=1"), "{reloading:?}");
    assert!(
        reloading.lines().any(|l| l.starts_with("MONOTONIC_USEC=")),
        "{reloading:?}"
    );
    let ready = next(manager);
    assert!(has_line(&ready, "READY=1"), "after the reload: {ready:?}");

    broker.signal("-TERM");
    let stopping = next(manager);
    assert!(has_line(&stopping, "STOPPING=1"), "{stopping:?}");
    broker.wait_exit();
}

#[test]
fn socket_file_gets_ready_reloading_stopping() {
    let dir = scratch("path");
    let path = dir.join("notify");
    let manager = UnixDatagram::bind(&path).unwrap();
    full_cycle(&manager, path.to_str().unwrap(), &dir);
}

#[test]
fn abstract_socket_gets_ready_reloading_stopping() {
    let dir = scratch("abstract");
    let name = format!("midge-notify-test-{}", std::process::id());
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let manager = UnixDatagram::bind_addr(&addr).unwrap();
    full_cycle(&manager, &format!("@{name}"), &dir);
}

/// A connected MQTT 3.1.1 client (the port is tried for 10 s): once its
/// CONNACK is in, the event loop is running.
fn client(port: u16) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut s = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(e) => assert!(Instant::now() < deadline, "port {port}: {e}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&[
        0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 1, b'c',
    ])
    .unwrap();
    let mut connack = [0u8; 4];
    s.read_exact(&mut connack).unwrap();
    assert_eq!(connack, [0x20, 2, 0, 0]);
    s
}

/// The sockets among a process's open files.
fn sockets(child: &Child) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", child.id()))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("socket:"))
        .count()
}

/// With the variable unset no socket is opened for the manager (so nothing
/// can be sent): the same broker with one client holds exactly one socket
/// fewer than with `NOTIFY_SOCKET` set, and the manager's socket hears
/// nothing through its start, reload and stop.
#[test]
fn no_socket_when_unset() {
    let dir = scratch("unset");
    let path = dir.join("notify");
    let manager = UnixDatagram::bind(&path).unwrap();

    let port = free_port();
    let mut with = start(&dir, port, Some(path.to_str().unwrap()));
    assert!(has_line(&next(&manager), "READY=1"));
    let _c = client(port);
    let sockets_with = sockets(&with.0);
    with.signal("-TERM");
    assert!(has_line(&next(&manager), "STOPPING=1"));
    with.wait_exit();

    let port = free_port();
    let mut without = start(&dir, port, None);
    let _c = client(port);
    assert_eq!(sockets(&without.0), sockets_with - 1);
    without.signal("-HUP");
    let _c2 = client(port);
    without.signal("-TERM");
    without.wait_exit();
    manager.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    let got = manager.recv(&mut buf);
    assert!(
        matches!(&got, Err(e) if e.kind() == ErrorKind::WouldBlock),
        "nothing after the first run's STOPPING=1: {got:?}"
    );
}
