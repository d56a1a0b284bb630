//! The `midge` binary: parse the command line and config file, set up
//! logging, bind the listeners, write the `pid_file` if one is configured,
//! and run the event loop until SIGINT/SIGTERM (telling systemd when it is
//! ready if `NOTIFY_SOCKET` is set); or, as
//! `midge passwd ...`, edit a password file and exit.
//!
//! The binary defines the C `main` itself (`no_main`): Rust's own start-up
//! would also install a stack-overflow handler, and on Linux with glibc
//! finding the main thread's stack for it links `pthread_getattr_np`,
//! which pulls `sscanf` and `strtod` into a static build (64 KB of the
//! Pi Zero binary). [`start`] does the rest of what that start-up does:
//! it ignores SIGPIPE and gives closed standard descriptors `/dev/null`.
//! A stack overflow still ends the process, with SIGSEGV and no message.
#![no_main]

use std::ffi::{c_char, c_int, CStr};
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use log::{error, info, warn};
use midge::broker::{SUBSCRIBE_LOG, UNSUBSCRIBE_LOG};
use midge::config::{self, Command, Config, LogDest, LogType};
use midge::server::Server;

/// The process entry point: prepares the process as Rust's start-up
/// would, runs midge with the arguments (not valid UTF-8: replaced
/// lossily) and exits with its status, flushing stdout.
#[no_mangle]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    start();
    let args = (0..usize::try_from(argc).unwrap_or(0))
        // SAFETY: the C runtime passes argc valid NUL-terminated strings.
        .map(|i| unsafe { CStr::from_ptr(*argv.add(i)) })
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    std::process::exit(i32::from(midge_main(args)))
}

/// What Rust's start-up does before `main` and midge relies on: SIGPIPE
/// ignored (a write to a closed socket or pipe returns EPIPE instead of
/// killing the broker), and descriptors 0-2 open, so that a socket never
/// takes one of them and receives log lines.
fn start() {
    // SAFETY: plain libc calls on the process's own signal disposition
    // and descriptors, before anything else runs.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        for fd in 0..3 {
            if libc::fcntl(fd, libc::F_GETFD) == -1
                && io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
                && libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) == -1
            {
                libc::abort();
            }
        }
    }
}

/// Runs midge with its command line; returns the exit status.
fn midge_main(args: Vec<String>) -> u8 {
    if args.get(1).is_some_and(|a| a == "passwd") {
        return midge::auth::passwd_tool::main(&args[2..]);
    }
    match config::parse_args(&args) {
        Err(e) => {
            eprintln!("midge: {e}");
            3
        }
        Ok(Command::Help(usage)) => {
            println!("{usage}");
            0
        }
        Ok(Command::Version) => {
            println!("midge version {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Ok(Command::Run(config)) => run(*config),
    }
}

fn run(config: Config) -> u8 {
    if let Err(e) = init_logging(&config) {
        eprintln!("midge: cannot open log destination: {e}");
        return 1;
    }
    for w in &config.warnings {
        warn!("{w}");
    }
    info!("midge version {} starting", env!("CARGO_PKG_VERSION"));
    if let Some(file) = &config.config_file {
        info!("config loaded from {}", file.display());
    }
    let mut server = match Server::bind(&config) {
        Ok(s) => s,
        Err(e) => {
            error!("{e}");
            return 1;
        }
    };
    if let Err(e) = server.stop_on_signals() {
        error!("cannot install signal handlers: {e}");
        return 1;
    }
    for (i, addr) in server.local_addrs().iter().enumerate() {
        let anonymous = if config.anonymous_allowed(i) {
            "anonymous access allowed"
        } else {
            "anonymous access refused"
        };
        let tls = if config.listeners.get(i).is_some_and(|l| l.tls.enabled()) {
            "TLS, "
        } else {
            ""
        };
        info!("listening on {addr} ({tls}{anonymous})");
    }
    if let Some(path) = &config.pid_file {
        if let Err(e) = std::fs::write(path, format!("{}\n", std::process::id())) {
            error!("cannot write the pid file {}: {e}", path.display());
            return 1;
        }
    }
    if let Some(notifier) = midge::notify::Notifier::from_env() {
        server.set_notifier(notifier);
    }
    let status = match server.run() {
        Ok(()) => 0,
        Err(e) => {
            error!("event loop failed: {e}");
            1
        }
    };
    if let Some(path) = &config.pid_file {
        if let Err(e) = std::fs::remove_file(path) {
            warn!("cannot remove the pid file {}: {e}", path.display());
        }
    }
    status
}

/// Sends log lines, prefixed by Unix time as Mosquitto does, to every
/// `log_dest`; `RUST_LOG` overrides the level chosen by `log_type`/`-v`.
fn init_logging(config: &Config) -> io::Result<()> {
    let mut sinks: Vec<Box<dyn Write + Send>> = Vec::new();
    for dest in &config.log_dest {
        match dest {
            LogDest::Stdout => sinks.push(Box::new(io::stdout())),
            LogDest::Stderr => sinks.push(Box::new(io::stderr())),
            LogDest::File(path) => sinks.push(Box::new(
                OpenOptions::new().create(true).append(true).open(path)?,
            )),
        }
    }
    let mut builder = env_logger::Builder::new();
    builder.filter_level(config.log_filter());
    for (target, kind) in [
        (SUBSCRIBE_LOG, LogType::Subscribe),
        (UNSUBSCRIBE_LOG, LogType::Unsubscribe),
    ] {
        let level = if config.logs(kind) {
            log::LevelFilter::Info
        } else {
            log::LevelFilter::Off
        };
        builder.filter_module(target, level);
    }
    if let Ok(spec) = std::env::var("RUST_LOG") {
        builder.parse_filters(&spec);
    }
    builder
        .format(|buf, record| {
            let secs = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            writeln!(buf, "{secs}: {}", record.args())
        })
        .target(env_logger::Target::Pipe(Box::new(Tee(sinks))))
        .init();
    Ok(())
}

/// Writes every log line to each destination.
struct Tee(Vec<Box<dyn Write + Send>>);

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for sink in &mut self.0 {
            sink.write_all(buf)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        for sink in &mut self.0 {
            sink.flush()?;
        }
        Ok(())
    }
}
