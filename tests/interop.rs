//! Interoperability tests: the real `midge` binary against real clients,
//! Mosquitto's `mosquitto_pub`/`mosquitto_sub` and Python's paho-mqtt 2.x
//! (`tests/interop/paho_check.py`), all speaking MQTT 3.1.1.
//!
//! Contract: every test starts its own broker on a free 127.0.0.1 port, so
//! tests run in parallel; the broker and every client are child processes
//! with bounded lifetimes (`-W`, `-C` and a hard deadline here), killed on
//! drop, so nothing hangs. A missing client tool fails the test with the
//! package to install; nothing is skipped. When a test fails, the broker's
//! verbose log is printed with the failure.

use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// How long the broker may take to accept connections.
const BROKER_START: Duration = Duration::from_secs(5);
/// Hard bound on any one client process; `-W` below is shorter so that a
/// subscriber normally times out by itself first.
const CLIENT_DEADLINE: Duration = Duration::from_secs(9);
/// `mosquitto_sub -W`: seconds a subscriber waits for its messages.
const SUB_TIMEOUT_SECS: &str = "7";
/// The paho script does many round trips, each bounded by its own timeout.
const PAHO_DEADLINE: Duration = Duration::from_secs(20);
/// Output format of every `mosquitto_sub`: retain flag, QoS, topic, payload.
const SUB_FORMAT: &str = "%r %q %t %p";

const INSTALL_MOSQUITTO: &str = "install Mosquitto's command-line clients \
     (Debian/Ubuntu: `apt-get install mosquitto-clients`)";
const INSTALL_STDBUF: &str = "install GNU coreutils (for `stdbuf`)";
const INSTALL_PAHO: &str =
    "install Python 3 with paho-mqtt 2.x (`python3 -m pip install 'paho-mqtt>=2'`)";

// ---- broker ----

/// A running `midge`, killed (and its log printed if the test is failing)
/// when dropped.
struct Broker {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Broker {
    /// Starts `midge -v -p PORT` on a free port and waits until it accepts
    /// connections. Retries with another port if the chosen one was taken
    /// between probing and binding.
    fn start(name: &str) -> Broker {
        let mut last_log = String::new();
        for attempt in 0..3 {
            let port = free_port();
            let log = Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("interop-{name}-{port}-{attempt}.log"));
            let file = File::create(&log).expect("create broker log file");
            let err_file = file.try_clone().expect("clone broker log file");
            let child = Command::new(env!("CARGO_BIN_EXE_midge"))
                .args(["-v", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::from(file))
                .stderr(Stdio::from(err_file))
                .spawn()
                .expect("spawn the midge binary");
            let mut broker = Broker { child, port, log };
            if broker.wait_ready() {
                return broker;
            }
            last_log = broker.log_text();
        }
        panic!("midge did not start listening within {BROKER_START:?}; last log:\n{last_log}");
    }

    /// Polls the port until it accepts a TCP connection; false if the broker
    /// exited or the time ran out.
    fn wait_ready(&mut self) -> bool {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + BROKER_START;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return true;
            }
            thread::sleep(Duration::from_millis(20));
        }
        false
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The arguments every Mosquitto client needs to reach this broker.
    fn client_args(&self) -> Vec<String> {
        [
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-V",
            "mqttv311",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    /// Starts `mosquitto_sub` with `args` plus debug output (to see the
    /// SUBACK), [`SUB_FORMAT`] and a `-W` timeout. It runs under
    /// `stdbuf -oL`: its debug lines are not flushed to a pipe otherwise.
    fn sub(&self, args: &[&str]) -> Client {
        require_mosquitto_sub();
        let mut all = vec!["-oL".to_string(), "mosquitto_sub".to_string()];
        all.extend(self.client_args());
        all.extend(["-d", "-F", SUB_FORMAT, "-W", SUB_TIMEOUT_SECS].map(String::from));
        all.extend(args.iter().map(|s| s.to_string()));
        Client::spawn("stdbuf", &all, None, INSTALL_STDBUF)
    }

    /// Starts a subscriber and returns once its SUBACK has arrived.
    fn subscribed(&self, args: &[&str]) -> Client {
        let mut sub = self.sub(args);
        sub.wait_subscribed();
        sub
    }

    /// Runs `mosquitto_pub` with `args` (and `stdin`, for `-l`) to the end;
    /// panics unless it succeeds.
    fn publish(&self, args: &[&str], stdin: Option<&str>) {
        let mut all = self.client_args();
        all.extend(args.iter().map(|s| s.to_string()));
        let done =
            Client::spawn("mosquitto_pub", &all, stdin, INSTALL_MOSQUITTO).finish(CLIENT_DEADLINE);
        assert!(
            done.status.success(),
            "mosquitto_pub {args:?} failed: {}",
            done.transcript()
        );
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            eprintln!(
                "---- midge log ({}) ----\n{}",
                self.log.display(),
                self.log_text()
            );
        }
    }
}

/// Fails the test unless `mosquitto_sub` can be run (checked once).
fn require_mosquitto_sub() {
    static FOUND: OnceLock<bool> = OnceLock::new();
    let found = *FOUND.get_or_init(|| {
        Command::new("mosquitto_sub")
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    });
    assert!(
        found,
        "`mosquitto_sub` is not installed: {INSTALL_MOSQUITTO}"
    );
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

// ---- client processes ----

enum Line {
    Out(String),
    Err(String),
    Closed,
}

/// A client child process whose stdout and stderr are read line by line
/// on helper threads; killed on drop if still running.
struct Client {
    name: String,
    child: Child,
    lines: Receiver<Line>,
    open_streams: u8,
    stdout: Vec<String>,
    stderr: Vec<String>,
}

/// What a finished client printed.
struct Finished {
    name: String,
    status: ExitStatus,
    stdout: Vec<String>,
    stderr: Vec<String>,
}

impl Finished {
    /// The lines `mosquitto_sub -d` prints for received messages, without
    /// its protocol trace.
    fn messages(&self) -> Vec<String> {
        self.stdout
            .iter()
            .filter(|l| !is_debug_line(l))
            .cloned()
            .collect()
    }

    fn transcript(&self) -> String {
        format!(
            "{} exited with {}\n-- stdout --\n{}\n-- stderr --\n{}",
            self.name,
            self.status,
            self.stdout.join("\n"),
            self.stderr.join("\n")
        )
    }
}

fn is_debug_line(line: &str) -> bool {
    line.starts_with("Client ") || line.starts_with("Subscribed (mid")
}

impl Client {
    /// Spawns `program args`, feeding it `stdin` if given; a program that
    /// is not installed fails the test with `install`.
    fn spawn(program: &str, args: &[String], stdin: Option<&str>, install: &str) -> Client {
        let mut child = match Command::new(program)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(c) => c,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                panic!("`{program}` is not installed: {install}")
            }
            Err(e) => panic!("cannot run `{program}`: {e}"),
        };
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes()).expect("write client stdin");
        }
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().expect("piped stdout");
        let err = child.stderr.take().expect("piped stderr");
        forward_lines(out, tx.clone(), Line::Out);
        forward_lines(err, tx, Line::Err);
        Client {
            name: format!("{program} '{}'", args.join("' '")),
            child,
            lines: rx,
            open_streams: 2,
            stdout: Vec::new(),
            stderr: Vec::new(),
        }
    }

    /// Takes the next line or stream end; false once both streams closed
    /// or the deadline passed.
    fn pump(&mut self, deadline: Instant) -> bool {
        if self.open_streams == 0 {
            return false;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(Line::Out(l)) => self.stdout.push(l),
            Ok(Line::Err(l)) => self.stderr.push(l),
            Ok(Line::Closed) => self.open_streams -= 1,
            Err(RecvTimeoutError::Timeout) => return false,
            Err(RecvTimeoutError::Disconnected) => self.open_streams = 0,
        }
        true
    }

    /// Waits for `mosquitto_sub -d` to report its SUBACK.
    fn wait_subscribed(&mut self) {
        let deadline = Instant::now() + CLIENT_DEADLINE;
        while !self.stdout.iter().any(|l| l.starts_with("Subscribed (mid")) {
            if !self.pump(deadline) {
                panic!(
                    "no SUBACK for {}\n-- stdout --\n{}\n-- stderr --\n{}",
                    self.name,
                    self.stdout.join("\n"),
                    self.stderr.join("\n")
                );
            }
        }
    }

    /// Waits for the process to exit within `limit`, killing it and failing
    /// the test otherwise.
    fn finish(mut self, limit: Duration) -> Finished {
        let deadline = Instant::now() + limit;
        while self.pump(deadline) {}
        if self.open_streams != 0 {
            let _ = self.child.kill();
            panic!(
                "{} still running after {limit:?}\n-- stdout --\n{}\n-- stderr --\n{}",
                self.name,
                self.stdout.join("\n"),
                self.stderr.join("\n")
            );
        }
        let status = self.child.wait().expect("wait for client");
        Finished {
            name: std::mem::take(&mut self.name),
            status,
            stdout: std::mem::take(&mut self.stdout),
            stderr: std::mem::take(&mut self.stderr),
        }
    }

    /// SIGKILLs the process: its TCP connection closes without DISCONNECT.
    fn kill_hard(mut self) {
        self.child.kill().expect("SIGKILL client");
        self.child.wait().expect("reap client");
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends each line of `stream` through `tx`, then `Line::Closed`.
fn forward_lines<R: Read + Send + 'static>(stream: R, tx: Sender<Line>, wrap: fn(String) -> Line) {
    thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            match line {
                Ok(l) => {
                    if tx.send(wrap(l)).is_err() {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        let _ = tx.send(Line::Closed);
    });
}

/// Asserts a subscriber exited normally (its `-C` count reached) and
/// printed exactly `expected` message lines, in order.
fn assert_received(sub: Client, expected: &[&str]) {
    let done = sub.finish(CLIENT_DEADLINE);
    assert_eq!(
        done.messages(),
        expected,
        "wrong messages; {}",
        done.transcript()
    );
    assert!(done.status.success(), "{}", done.transcript());
}

// ---- Mosquitto clients ----

/// Messages published at QoS 0, 1 and 2 reach `#` subscribers at the
/// minimum of the published and granted QoS [MQTT-3.8.4-6], in the order
/// each publisher sent them [MQTT-4.6.0-6].
#[test]
fn mosquitto_qos_0_1_2_reach_wildcard_subscribers_at_min_qos() {
    let broker = Broker::start("qos");
    let subs: Vec<Client> = ["0", "1", "2"]
        .iter()
        .map(|q| broker.subscribed(&["-t", "#", "-q", q, "-C", "9"]))
        .collect();
    for q in ["0", "1", "2"] {
        let topic = format!("interop/qos{q}");
        let lines = format!("first {q}\nsecond {q}\nthird {q}\n");
        broker.publish(&["-t", &topic, "-q", q, "-l"], Some(&lines));
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
    let live = broker.subscribed(&["-t", "home/#", "-q", "1", "-C", "2"]);
    broker.publish(&["-t", "home/temp", "-m", "21.5 C", "-q", "1", "-r"], None);

    let late = broker.sub(&["-t", "home/#", "-q", "1", "-C", "1"]);
    assert_received(late, &["1 1 home/temp 21.5 C"]);
    let only = broker.sub(&["-t", "home/+", "--retained-only", "-C", "1"]);
    assert_received(only, &["1 0 home/temp 21.5 C"]);

    broker.publish(&["-t", "home/temp", "-q", "1", "-r", "-n"], None);
    assert_received(live, &["0 1 home/temp 21.5 C", "0 1 home/temp "]);

    // After the clear, the first thing a new subscriber sees is live traffic.
    let after = broker.subscribed(&["-t", "home/#", "-C", "1"]);
    broker.publish(&["-t", "home/marker", "-m", "live"], None);
    assert_received(after, &["0 0 home/marker live"]);
}

/// A client whose connection drops without DISCONNECT has its will
/// published [MQTT-3.1.2-8].
#[test]
fn mosquitto_will_is_published_when_client_is_killed() {
    let broker = Broker::start("will-kill");
    let watcher = broker.subscribed(&["-t", "status/#", "-q", "1", "-C", "1"]);
    let victim = broker.subscribed(&[
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
    let watcher = broker.subscribed(&["-t", "status/#", "-q", "1", "-C", "1"]);
    let polite = broker.subscribed(&[
        "-t",
        "polite/stop",
        "-C",
        "1",
        "--will-topic",
        "status/polite",
        "--will-payload",
        "should never appear",
    ]);
    broker.publish(&["-t", "polite/stop", "-m", "bye"], None);
    assert_received(polite, &["0 0 polite/stop bye"]);
    // The subscriber has exited (DISCONNECT sent) before this publish starts.
    broker.publish(&["-t", "status/marker", "-m", "after", "-q", "1"], None);
    assert_received(watcher, &["0 1 status/marker after"]);
}

/// A CleanSession=0 client gets the QoS 1 messages published while it was
/// away when it reconnects [MQTT-3.1.2-4] [MQTT-3.1.2-5], even though it
/// does not subscribe to them again.
#[test]
fn mosquitto_persistent_session_receives_messages_queued_while_offline() {
    let broker = Broker::start("persist");
    let first = broker.sub(&["-c", "-i", "night-shift", "-q", "1", "-t", "jobs/#", "-E"]);
    let done = first.finish(CLIENT_DEADLINE);
    assert!(done.status.success(), "{}", done.transcript());

    broker.publish(&["-t", "jobs/a", "-q", "1", "-l"], Some("one\ntwo\n"));
    broker.publish(&["-t", "jobs/b", "-q", "2", "-m", "three"], None);

    let back = broker.sub(&[
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
    let first = broker.sub(&["-c", "-i", "forgetful", "-q", "1", "-t", "jobs/#", "-E"]);
    assert!(first.finish(CLIENT_DEADLINE).status.success());
    broker.publish(&["-t", "jobs/a", "-q", "1", "-m", "stale"], None);

    let wipe = broker.sub(&["-i", "forgetful", "-t", "nothing/here", "-E"]);
    assert!(wipe.finish(CLIENT_DEADLINE).status.success());

    let back = broker.subscribed(&[
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
    broker.publish(&["-t", "fresh/x", "-q", "1", "-m", "new"], None);
    assert_received(back, &["0 1 fresh/x new"]);
}

/// `$SYS/broker/version` names midge, and `#` does not match `$SYS`
/// topics [MQTT-4.7.2-1].
#[test]
fn mosquitto_sys_version_names_midge_and_hash_skips_sys() {
    let broker = Broker::start("sys");
    let version = broker.sub(&["-t", "$SYS/broker/version", "-C", "1"]);
    let expected = format!(
        "1 0 $SYS/broker/version midge version {}",
        env!("CARGO_PKG_VERSION")
    );
    assert_received(version, &[expected.as_str()]);

    let everything = broker.subscribed(&["-t", "#", "-C", "1"]);
    broker.publish(&["-t", "plain/topic", "-m", "first"], None);
    assert_received(everything, &["0 0 plain/topic first"]);
}

// ---- paho-mqtt ----

/// Runs `tests/interop/paho_check.py` (QoS 0/1/2 round trips on wildcard
/// subscriptions, retained messages, wills, persistent sessions) against
/// the broker and forwards its report.
#[test]
fn paho_mqtt_client_round_trips() {
    let probe = Client::spawn(
        "python3",
        &[
            "-c".to_string(),
            "import paho.mqtt.client as m; m.CallbackAPIVersion.VERSION2".to_string(),
        ],
        None,
        INSTALL_PAHO,
    )
    .finish(CLIENT_DEADLINE);
    assert!(
        probe.status.success(),
        "python3 lacks paho-mqtt 2.x: {INSTALL_PAHO}\n{}",
        probe.transcript()
    );

    let broker = Broker::start("paho");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/paho_check.py");
    let args = [script.display().to_string(), broker.port.to_string()];
    let done = Client::spawn("python3", &args, None, INSTALL_PAHO).finish(PAHO_DEADLINE);
    println!("{}", done.stdout.join("\n"));
    eprintln!("{}", done.stderr.join("\n"));
    assert!(
        done.status.success(),
        "paho check failed: {}",
        done.transcript()
    );
}
