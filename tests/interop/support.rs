//! The kit every interop test uses: the broker under test as a child
//! process, client child processes read line by line, and where the client
//! tools that `scripts/test.sh` installs are found.
//!
//! Contract:
//! - [`Broker::start`] runs the real `midge` binary (`-v -p PORT`) on a free
//!   127.0.0.1 port and returns once it accepts connections. With
//!   `MIDGE_INTEROP_BROKER=PROGRAM` set (for example `mosquitto`), it runs
//!   that Mosquitto binary instead, from a generated config with one
//!   127.0.0.1 listener and anonymous access: the reference broker the
//!   client scripts are checked against. Tests ask [`Broker::is_midge`]
//!   only to enable assertions on behaviour the spec allows but does not
//!   require (such as outbound topic aliases). [`Broker::start_tls`] gives
//!   either broker a TLS listener instead, and [`Broker::start_websockets`]
//!   adds a `protocol websockets` listener on a second port (both from a
//!   generated config).
//! - The broker and every client are killed on drop, and every wait has a
//!   deadline, so nothing hangs. When a test fails, the broker's verbose
//!   log is printed with the failure.
//! - A missing tool fails the test with what to install or the advice to
//!   run `scripts/test.sh`; nothing is skipped.

use std::ffi::OsString;
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
/// Hard bound on any one Mosquitto client process; `-W` below is shorter
/// so that a subscriber normally times out by itself first.
pub const CLIENT_DEADLINE: Duration = Duration::from_secs(9);
/// `mosquitto_sub -W`: seconds a subscriber waits for its messages.
const SUB_TIMEOUT_SECS: &str = "7";
/// Hard bound on one check of a client script; each of its waits has a
/// shorter timeout of its own, and the scripts have watchdogs below this.
pub const SCRIPT_DEADLINE: Duration = Duration::from_secs(30);

/// `-V` values of the Mosquitto clients.
pub const V311: &str = "mqttv311";
pub const V5: &str = "mqttv5";

const INSTALL_MOSQUITTO: &str = "install Mosquitto's command-line clients \
     (Debian/Ubuntu: `apt-get install mosquitto-clients`, or run scripts/test.sh)";
const INSTALL_STDBUF: &str = "install GNU coreutils (for `stdbuf`)";
const RUN_TEST_SH: &str = "run scripts/test.sh, which installs it";

// ---- broker ----

/// A running broker, killed (and its log printed if the test is failing)
/// when dropped.
pub struct Broker {
    child: Child,
    /// The 127.0.0.1 port it listens on.
    pub port: u16,
    /// The 127.0.0.1 port of its WebSocket listener, if it has one.
    pub ws_port: Option<u16>,
    log: PathBuf,
    midge: bool,
}

impl Broker {
    /// Starts the broker under test on a free port (see the module doc)
    /// and waits until it accepts connections. Retries with another port
    /// if the chosen one was taken between probing and binding.
    pub fn start(name: &str) -> Broker {
        Broker::launch(name, None, false)
    }

    /// [`Broker::start`] with a TLS listener instead of a plain one: the
    /// listener gets `certfile` and `keyfile` (PEM files) in a generated
    /// config, for midge and the reference broker alike.
    #[cfg(feature = "tls")]
    pub fn start_tls(name: &str, certfile: &Path, keyfile: &Path) -> Broker {
        Broker::launch(name, Some((certfile, keyfile)), false)
    }

    /// [`Broker::start`] with a second listener, `protocol websockets`, on
    /// [`Broker::ws_port`].
    #[cfg(feature = "websockets")]
    pub fn start_websockets(name: &str) -> Broker {
        Broker::launch(name, None, true)
    }

    /// Starts the broker, plain or with the TLS files given, and with a
    /// WebSocket listener if asked; see [`Broker::start`].
    fn launch(name: &str, tls: Option<(&Path, &Path)>, websockets: bool) -> Broker {
        let reference = reference_broker();
        let mut last_log = String::new();
        for attempt in 0..3 {
            let port = free_port();
            let ws_port = websockets.then(free_port);
            let stem = Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("interop-{name}-{port}-{attempt}"));
            let log = stem.with_extension("log");
            let file = File::create(&log).expect("create broker log file");
            let err_file = file.try_clone().expect("clone broker log file");
            let conf = stem.with_extension("conf");
            let mut command = match (&reference, tls) {
                (None, None) if !websockets => {
                    let mut c = Command::new(env!("CARGO_BIN_EXE_midge"));
                    c.args(["-v", "-p", &port.to_string()]);
                    c
                }
                (None, files) => {
                    write_config(&conf, port, files, ws_port, "");
                    let mut c = Command::new(env!("CARGO_BIN_EXE_midge"));
                    c.arg("-v").arg("-c").arg(&conf);
                    c
                }
                (Some(program), files) => {
                    write_config(
                        &conf,
                        port,
                        files,
                        ws_port,
                        "log_type all\nlog_dest stderr\n",
                    );
                    let mut c = Command::new(program);
                    c.arg("-c").arg(&conf);
                    c
                }
            };
            let child = command
                .stdin(Stdio::null())
                .stdout(Stdio::from(file))
                .stderr(Stdio::from(err_file))
                .spawn()
                .unwrap_or_else(|e| panic!("spawn the broker {command:?}: {e}"));
            let mut broker = Broker {
                child,
                port,
                ws_port,
                log,
                midge: reference.is_none(),
            };
            if broker.wait_ready() {
                return broker;
            }
            last_log = broker.log_text();
        }
        panic!("the broker did not start listening within {BROKER_START:?}; last log:\n{last_log}");
    }

    /// True for midge, false for the reference broker.
    pub fn is_midge(&self) -> bool {
        self.midge
    }

    /// Polls the ports until they accept a TCP connection; false if the
    /// broker exited or the time ran out.
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + BROKER_START;
        for port in std::iter::once(self.port).chain(self.ws_port) {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            loop {
                if Instant::now() >= deadline {
                    return false;
                }
                if let Ok(Some(_)) = self.child.try_wait() {
                    return false;
                }
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    break;
                }
                thread::sleep(Duration::from_millis(20));
            }
        }
        true
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Mosquitto's command-line clients speaking `protocol` ([`V311`] or
    /// [`V5`]) to this broker, printing messages as "retain qos topic
    /// payload" unless [`Clients::format`] says otherwise.
    pub fn clients(&self, protocol: &'static str) -> Clients<'_> {
        Clients {
            port: self.port,
            protocol,
            format: "%r %q %t %p",
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            eprintln!(
                "---- broker log ({}) ----\n{}",
                self.log.display(),
                self.log_text()
            );
        }
    }
}

/// Writes a broker config with a 127.0.0.1 listener on `port` (TLS with
/// `tls`'s certificate and key files), a plain `protocol websockets` one
/// on `ws_port` if given, anonymous access, and `extra`.
fn write_config(
    conf: &Path,
    port: u16,
    tls: Option<(&Path, &Path)>,
    ws_port: Option<u16>,
    extra: &str,
) {
    let mut text = format!("listener {port} 127.0.0.1\nallow_anonymous true\n");
    if let Some((certfile, keyfile)) = tls {
        text += &format!(
            "certfile {}\nkeyfile {}\n",
            certfile.display(),
            keyfile.display()
        );
    }
    if let Some(p) = ws_port {
        text += &format!("listener {p} 127.0.0.1\nprotocol websockets\n");
    }
    std::fs::write(conf, text + extra).expect("write the broker config");
}

/// The Mosquitto binary named by `MIDGE_INTEROP_BROKER`, if any.
fn reference_broker() -> Option<OsString> {
    std::env::var_os("MIDGE_INTEROP_BROKER").filter(|v| !v.is_empty() && v != "midge")
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

// ---- Mosquitto's command-line clients ----

/// `mosquitto_sub`/`mosquitto_pub` for one broker and protocol version.
pub struct Clients<'a> {
    port: u16,
    protocol: &'static str,
    format: &'a str,
}

impl<'a> Clients<'a> {
    /// Sets the `mosquitto_sub -F` format of received messages.
    pub fn format(mut self, format: &'a str) -> Clients<'a> {
        self.format = format;
        self
    }

    /// The arguments every Mosquitto client needs to reach the broker.
    fn common_args(&self) -> Vec<String> {
        let port = self.port.to_string();
        ["-h", "127.0.0.1", "-p", &port, "-V", self.protocol]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// Starts `mosquitto_sub` with `args` plus debug output (to see the
    /// SUBACK), the format and a `-W` timeout. It runs under `stdbuf -oL`:
    /// its debug lines are not flushed to a pipe otherwise.
    pub fn sub(&self, args: &[&str]) -> Client {
        require_mosquitto_sub();
        let mut all = vec!["-oL".to_string(), "mosquitto_sub".to_string()];
        all.extend(self.common_args());
        all.extend(["-d", "-F", self.format, "-W", SUB_TIMEOUT_SECS].map(String::from));
        all.extend(args.iter().map(|s| s.to_string()));
        Client::spawn(Command::new("stdbuf").args(&all), None, INSTALL_STDBUF)
    }

    /// Starts a subscriber and returns once its SUBACK has arrived.
    pub fn subscribed(&self, args: &[&str]) -> Client {
        let mut sub = self.sub(args);
        sub.wait_subscribed();
        sub
    }

    /// Runs `mosquitto_pub` with `args` (and `stdin`, for `-l`) to the end;
    /// panics unless it succeeds.
    pub fn publish(&self, args: &[&str], stdin: Option<&str>) {
        let mut all = self.common_args();
        all.extend(args.iter().map(|s| s.to_string()));
        let mut command = Command::new("mosquitto_pub");
        command.args(&all);
        let done = Client::spawn(&mut command, stdin, INSTALL_MOSQUITTO).finish(CLIENT_DEADLINE);
        assert!(
            done.status.success(),
            "mosquitto_pub {args:?} failed: {}",
            done.transcript()
        );
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

/// Asserts a subscriber exited normally (its `-C` count reached) and
/// printed exactly `expected` message lines, in order.
pub fn assert_received(sub: Client, expected: &[&str]) {
    let done = sub.finish(CLIENT_DEADLINE);
    assert_eq!(
        done.messages(),
        expected,
        "wrong messages; {}",
        done.transcript()
    );
    assert!(done.status.success(), "{}", done.transcript());
}

// ---- client scripts ----

/// The Python of the virtualenv with paho-mqtt that `scripts/test.sh`
/// creates: `MIDGE_INTEROP_PYTHON`, else `interop-venv/bin/python` in the
/// target directory. Fails the test if it is missing.
pub fn python() -> PathBuf {
    let path = std::env::var_os("MIDGE_INTEROP_PYTHON")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("interop-venv/bin/python"));
    assert!(
        path.exists(),
        "no Python with paho-mqtt at {}: {RUN_TEST_SH}",
        path.display()
    );
    path
}

/// The directory whose `node_modules` holds MQTT.js, as `scripts/test.sh`
/// leaves it: `MIDGE_INTEROP_NODE_DIR`, else `tests/interop/js`. Fails the
/// test if MQTT.js is not installed there.
pub fn node_dir() -> PathBuf {
    let dir = std::env::var_os("MIDGE_INTEROP_NODE_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| script_dir().join("js"));
    let mqtt = dir.join("node_modules/mqtt/package.json");
    assert!(
        mqtt.exists(),
        "MQTT.js is not installed ({} is missing): {RUN_TEST_SH}",
        mqtt.display()
    );
    dir
}

/// `tests/interop`, where the client scripts live.
pub fn script_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

/// Cargo's target directory (the parent of `CARGO_TARGET_TMPDIR`).
fn target_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).to_path_buf()
}

/// Runs a check script to the end within [`SCRIPT_DEADLINE`], forwards
/// what it printed, and fails the test unless it exited 0. `install` is
/// the advice given if the program is missing.
pub fn run_script(command: &mut Command, install: &str) {
    let done = Client::spawn(command, None, install).finish(SCRIPT_DEADLINE);
    println!("{}", done.stdout.join("\n"));
    eprintln!("{}", done.stderr.join("\n"));
    assert!(done.status.success(), "check failed: {}", done.transcript());
}

// ---- client processes ----

enum Line {
    Out(String),
    Err(String),
    Closed,
}

/// A client child process whose stdout and stderr are read line by line
/// on helper threads; killed on drop if still running.
pub struct Client {
    name: String,
    child: Child,
    lines: Receiver<Line>,
    open_streams: u8,
    stdout: Vec<String>,
    stderr: Vec<String>,
}

/// What a finished client printed.
pub struct Finished {
    name: String,
    pub status: ExitStatus,
    /// What it printed on stdout, line by line.
    pub stdout: Vec<String>,
    stderr: Vec<String>,
}

impl Finished {
    /// The lines `mosquitto_sub -d` prints for received messages, without
    /// its protocol trace.
    pub fn messages(&self) -> Vec<String> {
        self.stdout
            .iter()
            .filter(|l| !is_debug_line(l))
            .cloned()
            .collect()
    }

    pub fn transcript(&self) -> String {
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
    /// Spawns `command` with piped output, feeding it `stdin` if given; a
    /// program that is not installed fails the test with `install`.
    pub fn spawn(command: &mut Command, stdin: Option<&str>, install: &str) -> Client {
        let name = format!("{command:?}");
        let program = command.get_program().to_string_lossy().into_owned();
        let mut child = match command
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
            name,
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
    pub fn wait_subscribed(&mut self) {
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
    pub fn finish(mut self, limit: Duration) -> Finished {
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
    pub fn kill_hard(mut self) {
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
