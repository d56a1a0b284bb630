//! The real binary stops cleanly on SIGINT and SIGTERM: it closes every
//! client and exits 0 (as `mosquitto` does), and it refuses a bad config
//! file with exit status 3 and a message naming file, line and directive.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
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

fn start() -> (Running, u16) {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("free port");
        l.local_addr().unwrap().port()
    };
    let child = Command::new(env!("CARGO_BIN_EXE_midge"))
        .args(["-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("midge starts");
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "midge did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
    (Running(child), port)
}

/// A connected MQTT 3.1.1 client (CONNECT and CONNACK written by hand).
fn client(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
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

fn stops_on(signal: &str) {
    let (mut broker, port) = start();
    let mut c = client(port);
    let status = Command::new("kill")
        .args([signal, &broker.0.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let mut rest = Vec::new();
    let n = c
        .read_to_end(&mut rest)
        .expect("connection closed, not reset");
    assert_eq!(n, 0, "nothing but the close is sent to a 3.1.1 client");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = broker.0.try_wait().unwrap() {
            assert!(status.success(), "exit status after {signal}: {status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "midge still running after {signal}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut log = String::new();
    broker
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(log.contains("listening on 127.0.0.1:"), "{log}");
    assert!(log.contains("anonymous access allowed"), "{log}");
    assert!(log.contains("stopped"), "{log}");
}

#[test]
fn sigterm_closes_clients_and_exits_zero() {
    stops_on("-TERM");
}

#[test]
fn sigint_closes_clients_and_exits_zero() {
    stops_on("-INT");
}

#[test]
fn bad_config_file_is_refused_naming_file_line_and_directive() {
    let dir = std::env::temp_dir().join(format!("midge-signals-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("bad.conf");
    std::fs::write(&conf, "listener 18999 127.0.0.1\nuser mosquitto\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_midge"))
        .args(["-c", conf.to_str().unwrap()])
        .output()
        .expect("midge runs");
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.conf:2: user: directive not supported by midge yet"),
        "{err}"
    );
}

/// `pid_file` (as in Debian's mosquitto.conf): written with midge's pid
/// once it listens, removed after SIGTERM; a pid file that cannot be
/// written stops the start with status 1, naming the file (as Mosquitto).
#[test]
fn pid_file_is_written_at_start_and_removed_at_exit() {
    let dir = std::env::temp_dir().join(format!("midge-signals-pid-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pid_file = dir.join("midge.pid");
    let conf = dir.join("pid.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npid_file {}\n",
            pid_file.display()
        ),
    )
    .unwrap();
    let mut broker = Running(
        Command::new(env!("CARGO_BIN_EXE_midge"))
            .args(["-c", conf.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("midge starts"),
    );
    // Written once the listeners are bound: then the port answers.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !pid_file.exists() {
        assert!(Instant::now() < deadline, "no pid file");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _c = client(port);
    let written = std::fs::read_to_string(&pid_file).expect("pid file written");
    assert_eq!(written, format!("{}\n", broker.0.id()));
    Command::new("kill")
        .args(["-TERM", &broker.0.id().to_string()])
        .status()
        .expect("kill runs");
    let deadline = Instant::now() + Duration::from_secs(5);
    while broker.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "midge still running");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!pid_file.exists(), "pid file removed at exit");

    let unwritable = dir.join("no-such-dir").join("midge.pid");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\npid_file {}\n",
            unwritable.display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_midge"))
        .args(["-c", conf.to_str().unwrap()])
        .output()
        .expect("midge runs");
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "cannot write the pid file {}",
            unwritable.display()
        )),
        "{err}"
    );
}
