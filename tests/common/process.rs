//! The real `midge` binary and Mosquitto's command-line clients as child
//! processes, each with a deadline and killed on drop.

use std::fs::{self, File};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// How long the broker may take to listen, and a client to finish.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A port free on 127.0.0.1 a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `midge -c CONFIG`, its stderr (the log) in a file.
pub struct Midge {
    child: Child,
    log: PathBuf,
}

impl Midge {
    /// Writes `config` as `dir/midge.conf` and starts the binary on it.
    pub fn spawn(dir: &Path, config: &str) -> Midge {
        let conf = dir.join("midge.conf");
        fs::write(&conf, config).unwrap();
        let log = dir.join("midge.log");
        let child = Command::new(env!("CARGO_BIN_EXE_midge"))
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .expect("start midge");
        Midge { child, log }
    }

    /// [`Midge::spawn`], then waits until `port` accepts connections.
    pub fn start(dir: &Path, config: &str, port: u16) -> Midge {
        let mut midge = Midge::spawn(dir, config);
        let until = Instant::now() + DEADLINE;
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            if let Ok(Some(status)) = midge.child.try_wait() {
                panic!("midge exited with {status}: {}", midge.log());
            }
            assert!(
                Instant::now() < until,
                "midge did not listen: {}",
                midge.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        midge
    }

    /// Waits for the process to exit by itself; its status.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let until = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < until, "midge did not exit: {}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `text`; the log.
    pub fn wait_log(&self, text: &str) -> String {
        self.wait_log_count(text, 1)
    }

    /// Waits until the log contains `text` `n` times; the log.
    pub fn wait_log_count(&self, text: &str, n: usize) -> String {
        let until = Instant::now() + DEADLINE;
        loop {
            let log = self.log();
            if log.matches(text).count() >= n {
                return log;
            }
            assert!(
                Instant::now() < until,
                "no {text:?} x{n} in the log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` (`kill`'s form: `-HUP`, `-TERM`) to the process.
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill runs")
            .success();
        assert!(ok, "kill {signal} failed");
    }
}

impl Drop for Midge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a Mosquitto client tool with `args` to completion (killed at the
/// deadline); fails the test with what to install when it is missing.
pub fn mosquitto(tool: &str, args: &[&str]) -> Output {
    let install = "install Mosquitto's command-line clients \
                   (apt-get install mosquitto-clients, or run scripts/test.sh)";
    run_to_end(Command::new(tool).args(args), install)
}

/// Runs `command` to completion, killing it at [`DEADLINE`], and returns
/// what it printed; `install` says what to do when it cannot start.
pub fn run_to_end(command: &mut Command, install: &str) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?} ({e}): {install}"));
    let until = Instant::now() + DEADLINE;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= until {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}
