//! The bridge tests' process kit: the real `midge` binary and Debian's
//! `mosquitto` broker as child processes on 127.0.0.1, each with a config
//! file in the test's own temporary directory, and a raw MQTT 3.1.1 client
//! (packets built by `common`) whose every read has a deadline.
//!
//! Contract:
//! - Ports come from binding 127.0.0.1:0; a closed port is one bound that
//!   way and released.
//! - A [`Server`]'s process is killed (SIGKILL) and reaped when the
//!   `Server` is dropped; a test that fails prints every server's log.
//! - Every wait is a poll loop of [`STEP`] steps up to [`DEADLINE`]
//!   ([`wait_for`]); a client read waits at most [`STEP`] at a time.
//! - A [`Dir`] is unique to its test (name, process id, counter) and
//!   removed on drop.

use std::collections::BTreeSet;
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::common::{ack, pingreq, publish, subscribe, ConnectSpec};

/// The longest any condition is waited for.
pub const DEADLINE: Duration = Duration::from_secs(10);
/// One step of a poll loop, and the longest single read.
pub const STEP: Duration = Duration::from_millis(100);

/// A port nothing listens on (bound to 127.0.0.1:0, then released), and
/// one this test binary has not handed out before: tests run in
/// parallel, and the system may give a released port out again.
pub fn free_port() -> u16 {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = l.local_addr().expect("local address").port();
        if GIVEN.lock().expect("ports").insert(port) {
            return port;
        }
    }
}

/// Polls `cond` every [`STEP`] until it holds; panics naming `what` after
/// [`DEADLINE`].
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {DEADLINE:?} waiting for {what}"
        );
        std::thread::sleep(STEP);
    }
}

pub use crate::common::Dir;

/// The path of `program` on PATH or in the usual sbin folders
/// (`mosquitto` is in /usr/sbin, not always on a user's PATH).
fn find(program: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{program} is not installed (scripts/test.sh installs it: \
                 apt-get install mosquitto mosquitto-clients)"
            )
        })
}

/// Which broker a [`Server`] runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Midge,
    Mosquitto,
}

/// A broker process on one 127.0.0.1 port with a config file, which can
/// be stopped and started again on the same port with the same file.
pub struct Server {
    pub kind: Kind,
    pub name: String,
    pub port: u16,
    conf: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Server {
    /// Writes the config of a midge listening on `port` (anonymous access
    /// allowed) followed by `body`, and starts it with `-v` (its log goes
    /// to `<name>.log`); returns once it listens.
    pub fn midge(dir: &Dir, name: &str, port: u16, body: &str) -> Server {
        let text = format!("listener {port} 127.0.0.1\nallow_anonymous true\n{body}");
        Server::new(dir, Kind::Midge, name, port, &text).started()
    }

    /// A Mosquitto with a plain listener on `port`, anonymous access,
    /// everything logged to `<name>.log`, and `body` (more listeners go
    /// there); started, returns once it listens.
    pub fn mosquitto(dir: &Dir, name: &str, port: u16, body: &str) -> Server {
        Server::mosquitto_stopped(dir, name, port, body).started()
    }

    /// Like [`Server::mosquitto`], but not started yet.
    pub fn mosquitto_stopped(dir: &Dir, name: &str, port: u16, body: &str) -> Server {
        // `user root` keeps a Mosquitto started by root from switching to
        // the `mosquitto` user, who could not write the test directory.
        let text = format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\nuser root\n\
             log_dest stderr\nlog_type all\n{body}"
        );
        Server::new(dir, Kind::Mosquitto, name, port, &text)
    }

    fn new(dir: &Dir, kind: Kind, name: &str, port: u16, text: &str) -> Server {
        let conf = dir.path(&format!("{name}.conf"));
        fs::write(&conf, text).expect("write the config file");
        Server {
            kind,
            name: name.to_string(),
            port,
            conf,
            log: dir.path(&format!("{name}.log")),
            child: None,
        }
    }

    fn started(mut self) -> Server {
        self.start();
        self
    }

    /// Starts the process (again) and waits until its port answers.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "{} already running", self.name);
        let mut cmd = match self.kind {
            Kind::Midge => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_midge"));
                c.arg("-v");
                c
            }
            Kind::Mosquitto => Command::new(find("mosquitto")),
        };
        // One log per server, appended to by each run.
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open the log file");
        let child = cmd
            .arg("-c")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.name));
        self.child = Some(child);
        let port = self.port;
        wait_for(&format!("{} to listen on {port}", self.name), || {
            if let Some(status) = self.exited() {
                panic!("{} exited at start ({status}):\n{}", self.name, self.log());
            }
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.as_mut()?.try_wait().expect("try_wait")
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("running").id() as i32
    }

    /// Sends `signal`, waits (bounded) for the exit and returns its
    /// status.
    pub fn stop_with(&mut self, signal: i32) -> ExitStatus {
        // SAFETY: kill(2) on our own child, which is not reaped yet.
        let rc = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(rc, 0, "kill {} {signal}", self.name);
        let mut status = None;
        wait_for(
            &format!("{} to exit after signal {signal}", self.name),
            || {
                status = self.exited();
                status.is_some()
            },
        );
        self.child = None;
        status.expect("exit status")
    }

    /// SIGTERM: the clean stop; asserts exit status 0.
    pub fn stop(&mut self) {
        let status = self.stop_with(libc::SIGTERM);
        assert!(status.success(), "{} after SIGTERM: {status}", self.name);
    }

    /// SIGKILL: the crash.
    pub fn kill(&mut self) {
        self.stop_with(libc::SIGKILL);
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `text`.
    pub fn wait_log(&self, text: &str) {
        let what = format!("{text:?} in the log of {}", self.name);
        wait_for(&what, || self.log().contains(text));
    }

    /// A client connected to this server with a clean session.
    pub fn client(&self, id: &str) -> Mqtt {
        Mqtt::connect(self.port, id, true)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("---- log of {} ----\n{}", self.name, self.log());
        }
    }
}

/// A PUBLISH as a client received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
    pub dup: bool,
}

/// The connection ended (EOF, reset or the deadline).
#[derive(Debug)]
pub struct Gone(pub String);

/// A raw MQTT 3.1.1 client: publishes and acknowledges as the protocol
/// says, and keeps every PUBLISH it receives in `got`, in order, counting
/// each one (a duplicate shows as a second entry). A QoS 2 PUBLISH whose
/// packet id awaits PUBREL is the same message sent again: it is answered
/// (PUBREC) and counted in `qos2_resent`, not kept twice, as a receiver
/// that delivers at PUBLISH does [MQTT-4.3.3-2].
pub struct Mqtt {
    stream: TcpStream,
    buf: Vec<u8>,
    next_pid: u16,
    pub got: Vec<Msg>,
    pub session_present: bool,
    /// QoS 2 packet ids received and not released yet (PUBREL).
    qos2_pending: BTreeSet<u16>,
    pub qos2_resent: usize,
}

impl Mqtt {
    /// CONNECT with client id `id`; asserts it is accepted.
    pub fn connect(port: u16, id: &str, clean: bool) -> Mqtt {
        Mqtt::try_connect(port, id, clean)
            .unwrap_or_else(|e| panic!("client {id} to port {port}: {}", e.0))
    }

    /// CONNECT with client id `id` (keep-alive 60 s); `Err` if the
    /// connection is refused or ends before an accepting CONNACK.
    pub fn try_connect(port: u16, id: &str, clean: bool) -> Result<Mqtt, Gone> {
        let stream =
            TcpStream::connect(("127.0.0.1", port)).map_err(|e| Gone(format!("connect: {e}")))?;
        stream.set_nodelay(true).expect("nodelay");
        let mut c = Mqtt {
            stream,
            buf: Vec::new(),
            next_pid: 0,
            got: Vec::new(),
            session_present: false,
            qos2_pending: BTreeSet::new(),
            qos2_resent: 0,
        };
        let mut spec = ConnectSpec::new(id);
        spec.clean = clean;
        c.send(&spec.encode())?;
        let p = c.next_packet(Instant::now() + DEADLINE)?;
        if p.len() != 4 || p[0] != 0x20 || p[3] != 0 {
            return Err(Gone(format!("CONNACK expected, got {p:02x?}")));
        }
        c.session_present = p[2] & 1 != 0;
        Ok(c)
    }

    /// A reconnected client takes over the QoS 2 state of the one it
    /// replaces (the session's client half).
    pub fn resume_from(&mut self, old: &Mqtt) {
        self.qos2_pending = old.qos2_pending.clone();
        self.qos2_resent = old.qos2_resent;
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), Gone> {
        self.stream
            .write_all(bytes)
            .map_err(|e| Gone(format!("write: {e}")))
    }

    fn pid(&mut self) -> u16 {
        self.next_pid = self.next_pid % u16::MAX + 1;
        self.next_pid
    }

    /// The next whole packet, reading at most [`STEP`] at a time until
    /// `deadline`.
    fn next_packet(&mut self, deadline: Instant) -> Result<Vec<u8>, Gone> {
        loop {
            if let Some(len) = whole_packet(&self.buf) {
                return Ok(self.buf.drain(..len).collect());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Gone("deadline passed".into()));
            }
            let wait = (deadline - now).min(STEP).max(Duration::from_millis(1));
            self.stream.set_read_timeout(Some(wait)).expect("timeout");
            let mut chunk = [0u8; 16384];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(Gone("closed by the broker".into())),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(Gone(format!("read: {e}"))),
            }
        }
    }

    /// Reads one packet and does what the protocol asks of a receiver
    /// (PUBACK, PUBREC, PUBCOMP); returns its first byte.
    fn step(&mut self, deadline: Instant) -> Result<(u8, Vec<u8>), Gone> {
        let p = self.next_packet(deadline)?;
        let first = p[0];
        match first >> 4 {
            3 => {
                let (msg, pid) = parse_publish(&p);
                match msg.qos {
                    1 => self.send(&ack(0x40, pid))?,
                    2 => {
                        self.send(&ack(0x50, pid))?;
                        if !self.qos2_pending.insert(pid) {
                            self.qos2_resent += 1;
                            return Ok((first, p));
                        }
                    }
                    _ => {}
                }
                self.got.push(msg);
            }
            6 => {
                let pid = u16::from_be_bytes([p[2], p[3]]);
                self.send(&ack(0x70, pid))?;
                self.qos2_pending.remove(&pid);
            }
            _ => {}
        }
        Ok((first, p))
    }

    /// Reads until a packet of type `kind` (the high nibble) arrives and
    /// returns it.
    fn until(&mut self, kind: u8, deadline: Instant) -> Result<Vec<u8>, Gone> {
        loop {
            let (first, p) = self.step(deadline)?;
            if first >> 4 == kind {
                return Ok(p);
            }
        }
    }

    /// SUBSCRIBE to `filter` at `qos`; asserts SUBACK grants it.
    pub fn subscribe(&mut self, filter: &str, qos: u8) {
        let pid = self.pid();
        self.send(&subscribe(pid, &[(filter, qos)])).expect("send");
        let p = self
            .until(9, Instant::now() + DEADLINE)
            .unwrap_or_else(|e| panic!("SUBACK for {filter}: {}", e.0));
        assert_eq!(p, [0x90, 3, (pid >> 8) as u8, pid as u8, qos], "SUBACK");
    }

    /// PUBLISH at `qos`, through its whole exchange (PUBACK; PUBREC,
    /// PUBREL, PUBCOMP); `Err` if the connection ends first.
    pub fn try_publish(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: u8,
        retain: bool,
    ) -> Result<(), Gone> {
        let pid = if qos > 0 { self.pid() } else { 0 };
        self.send(&publish(topic, payload, qos, retain, false, pid))?;
        let deadline = Instant::now() + DEADLINE;
        match qos {
            0 => {}
            1 => self.until_ack(0x40, pid, deadline)?,
            _ => {
                self.until_ack(0x50, pid, deadline)?;
                self.send(&ack(0x62, pid))?;
                self.until_ack(0x70, pid, deadline)?;
            }
        }
        Ok(())
    }

    pub fn publish(&mut self, topic: &str, payload: &[u8], qos: u8, retain: bool) {
        self.try_publish(topic, payload, qos, retain)
            .unwrap_or_else(|e| panic!("publish to {topic}: {}", e.0));
    }

    fn until_ack(&mut self, first: u8, pid: u16, deadline: Instant) -> Result<(), Gone> {
        let p = self.until(first >> 4, deadline)?;
        if p != ack(first, pid) {
            return Err(Gone(format!(
                "{:02x} for {pid} expected, got {p:02x?}",
                first
            )));
        }
        Ok(())
    }

    /// PINGREQ, then reads (handling PUBLISH and the rest) until PINGRESP:
    /// the broker had sent everything it queued for us before it.
    pub fn barrier(&mut self) {
        self.try_barrier()
            .unwrap_or_else(|e| panic!("PINGRESP: {}", e.0));
    }

    pub fn try_barrier(&mut self) -> Result<(), Gone> {
        self.send(&pingreq())?;
        self.until(0xd, Instant::now() + DEADLINE).map(|_| ())
    }

    /// Reads until `cond(&self.got)` holds; panics naming `what` after
    /// [`DEADLINE`].
    pub fn wait_until(&mut self, what: &str, mut cond: impl FnMut(&[Msg]) -> bool) {
        let deadline = Instant::now() + DEADLINE;
        while !cond(&self.got) {
            match self.step(deadline) {
                Ok(_) => {}
                Err(e) => panic!("waiting for {what}: {}; received {:?}", e.0, self.got),
            }
        }
    }

    /// Reads until at least `n` messages were received.
    pub fn wait_count(&mut self, n: usize) {
        self.wait_until(&format!("{n} messages"), |got| got.len() >= n);
    }

    /// Reads for `window` (whatever else arrives is counted), then a
    /// [`Mqtt::barrier`].
    pub fn settle(&mut self, window: Duration) {
        let deadline = Instant::now() + window;
        loop {
            match self.step(deadline) {
                Ok(_) => {}
                Err(_) if Instant::now() >= deadline => break,
                Err(e) => panic!("while settling: {}", e.0),
            }
        }
        self.barrier();
    }

    /// Reads whatever arrives until the connection ends or `deadline`;
    /// returns true if it ended (the broker went away).
    pub fn drain_until_gone(&mut self, deadline: Instant) -> bool {
        loop {
            match self.step(deadline) {
                Ok(_) => {}
                Err(_) => return Instant::now() < deadline,
            }
        }
    }

    /// Reads packets until `deadline`; `Err` if the connection ends.
    pub fn pump(&mut self, deadline: Instant) -> Result<(), Gone> {
        loop {
            match self.step(deadline) {
                Ok(_) => {}
                Err(_) if Instant::now() >= deadline => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits for a PUBLISH on `topic` with `payload` (a retained one
    /// counts), and returns it.
    pub fn wait_message(&mut self, topic: &str, payload: &[u8]) -> Msg {
        let what = format!("{payload:?} on {topic}");
        self.wait_until(&what, |got| {
            got.iter().any(|m| m.topic == topic && m.payload == payload)
        });
        let m = self
            .got
            .iter()
            .find(|m| m.topic == topic && m.payload == payload)
            .cloned()
            .expect("found");
        m
    }

    /// DISCONNECT, then waits until the broker closed the socket.
    pub fn disconnect(mut self) {
        let _ = self.send(&[0xe0, 0]);
        let _ = self.drain_until_gone(Instant::now() + DEADLINE);
    }
}

/// The length of the first packet of `buf` if it is all there.
fn whole_packet(buf: &[u8]) -> Option<usize> {
    let mut len = 0usize;
    for i in 0..4 {
        let b = *buf.get(1 + i)?;
        len |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            let total = 2 + i + len;
            return (buf.len() >= total).then_some(total);
        }
    }
    panic!("remaining length over 4 bytes: {:02x?}", &buf[..5]);
}

/// A 3.1.1 PUBLISH's message and packet id.
fn parse_publish(p: &[u8]) -> (Msg, u16) {
    let first = p[0];
    let mut at = 1;
    while p[at] & 0x80 != 0 {
        at += 1;
    }
    at += 1;
    let tlen = usize::from(u16::from_be_bytes([p[at], p[at + 1]]));
    at += 2;
    let topic = String::from_utf8(p[at..at + tlen].to_vec()).expect("UTF-8 topic");
    at += tlen;
    let qos = (first >> 1) & 3;
    let mut pid = 0;
    if qos > 0 {
        pid = u16::from_be_bytes([p[at], p[at + 1]]);
        at += 2;
    }
    let msg = Msg {
        topic,
        payload: p[at..].to_vec(),
        qos,
        retain: first & 1 != 0,
        dup: first & 8 != 0,
    };
    (msg, pid)
}

/// A subscriber to the state topic of remote client id `id` on `port`:
/// waits until it says `state` (`1` or `0`), retained or not.
pub fn wait_state(port: u16, id: &str, state: &str) {
    let topic = state_topic(id);
    let mut c = Mqtt::connect(port, &unique("state-watch"), true);
    c.subscribe(&topic, 1);
    c.wait_until(&format!("{state} on {topic} (port {port})"), |got| {
        got.last().is_some_and(|m| m.payload == state.as_bytes())
    });
    c.disconnect();
}

/// `$SYS/broker/connection/<remote client id>/state`.
pub fn state_topic(id: &str) -> String {
    format!("$SYS/broker/connection/{id}/state")
}

/// `prefix-N`: a client id no other client of this test binary has.
pub fn unique(prefix: &str) -> String {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}-{}", COUNT.fetch_add(1, Ordering::Relaxed))
}

/// Certificates for a TLS listener, made with rcgen in `dir`: `ca.pem`,
/// the server's `server.pem`/`server.key` (for 127.0.0.1 and localhost)
/// signed by it, and `other-ca.pem`, a CA that signed nothing.
#[cfg(feature = "tls")]
pub fn certificates(dir: &Dir) {
    use rcgen::{CertificateParams, DnType, KeyPair};
    let ca = make_ca("midge bridge test CA");
    fs::write(dir.path("ca.pem"), ca.pem()).expect("write ca.pem");
    fs::write(dir.path("other-ca.pem"), make_ca("someone else").pem()).expect("write");
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("params");
    params
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    let cert = params.signed_by(&key, &ca).expect("sign");
    fs::write(dir.path("server.pem"), cert.pem()).expect("write server.pem");
    fs::write(dir.path("server.key"), key.serialize_pem()).expect("write server.key");
}

#[cfg(feature = "tls")]
fn make_ca(cn: &str) -> rcgen::CertifiedIssuer<'static, rcgen::KeyPair> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let mut params = CertificateParams::new(Vec::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.distinguished_name.push(DnType::CommonName, cn);
    rcgen::CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA")
}
