//! The `midge` binary: parse the command line and config file, set up
//! logging, bind the listeners, write the `pid_file` if one is configured,
//! and run the event loop until SIGINT/SIGTERM (telling systemd when it is
//! ready if `NOTIFY_SOCKET` is set); or, as
//! `midge passwd ...`, edit a password file and exit.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use log::{error, info, warn};
use midge::broker::{SUBSCRIBE_LOG, UNSUBSCRIBE_LOG};
use midge::config::{self, Command, Config, LogDest, LogType};
use midge::server::Server;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).is_some_and(|a| a == "passwd") {
        return ExitCode::from(midge::auth::passwd_tool::main(&args[2..]));
    }
    match config::parse_args(&args) {
        Err(e) => {
            eprintln!("midge: {e}");
            ExitCode::from(3)
        }
        Ok(Command::Help(usage)) => {
            println!("{usage}");
            ExitCode::SUCCESS
        }
        Ok(Command::Version) => {
            println!("midge version {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Ok(Command::Run(config)) => run(*config),
    }
}

fn run(config: Config) -> ExitCode {
    if let Err(e) = init_logging(&config) {
        eprintln!("midge: cannot open log destination: {e}");
        return ExitCode::from(1);
    }
    for w in &config.warnings {
        warn!("{w}");
    }
    let mut server = match Server::bind(&config) {
        Ok(s) => s,
        Err(e) => {
            error!("{e}");
            return ExitCode::from(1);
        }
    };
    if let Err(e) = server.stop_on_signals() {
        error!("cannot install signal handlers: {e}");
        return ExitCode::from(1);
    }
    info!("midge version {} starting", env!("CARGO_PKG_VERSION"));
    if let Some(file) = &config.config_file {
        info!("config loaded from {}", file.display());
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
            return ExitCode::from(1);
        }
    }
    if let Some(notifier) = midge::notify::Notifier::from_env() {
        server.set_notifier(notifier);
    }
    let status = match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("event loop failed: {e}");
            ExitCode::from(1)
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
