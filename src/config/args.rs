//! The command line: `-c`, `-p`, `-v`, `-h` and `--version`, as
//! Mosquitto 2.0 takes them (and `-d` refused), read into a [`Command`].

use std::path::Path;

use super::{parse, Config, ConfigError};

/// The most ports `-p` may give, as in Mosquitto.
pub const MAX_CMD_PORTS: usize = 10;

/// What the command line asks for.
#[derive(Debug, Clone)]
pub enum Command {
    /// Run the broker with this configuration.
    Run(Box<Config>),
    /// Print this usage text and exit successfully (`-h`, `--help`).
    Help(String),
    /// Print the version and exit successfully (`--version`).
    Version,
}

/// The command line options, shared by parsing and the usage text.
fn options() -> getopts::Options {
    let mut opts = getopts::Options::new();
    opts.optopt(
        "c",
        "config-file",
        "load the configuration from FILE",
        "FILE",
    )
    .optmulti(
        "p",
        "port",
        "listen on PORT, bound to the loopback interface (up to 10 times; \
             ignored when the config file defines listeners)",
        "PORT",
    )
    .optflagmulti("v", "verbose", "log everything (log_type all)")
    .optflag(
        "d",
        "daemon",
        "not supported: run midge under a service manager",
    )
    .optflag("h", "help", "print this help and exit")
    .optflag("", "version", "print the version and exit");
    opts
}

/// The usage text printed by `-h`.
fn usage() -> String {
    let brief = format!(
        "midge {} - a small, fast MQTT 5.0/3.1.1/3.1 broker\n\n\
         Usage: midge [-c FILE] [-p PORT]... [-v]\n       \
         midge passwd [-H HASH] [-I N] [-c | -D | -U] [-b] FILE [USER [PASSWORD]]\n       \
         midge -h | --version",
        env!("CARGO_PKG_VERSION")
    );
    let mut text = options().usage(&brief);
    text.push_str(
        "\nWithout -c, or when the config file defines no listener, midge listens on\n\
         127.0.0.1 only (port 1883, or the -p ports) and allows anonymous clients.\n\
         `midge passwd` creates and edits password files like mosquitto_passwd\n\
         (`midge passwd -h` tells how).\n",
    );
    text
}

/// Parses the command line (`args[0]` is the program name), reading the
/// `-c` file if given; called once by `main`. Returns what to do, or an
/// error for an unknown flag, a bad value or a bad config file.
pub fn parse_args(args: &[String]) -> Result<Command, ConfigError> {
    let matches = options()
        .parse(args.iter().skip(1))
        .map_err(|e| ConfigError::cli(format!("{e} (try -h)")))?;
    if matches.opt_present("h") {
        return Ok(Command::Help(usage()));
    }
    if matches.opt_present("version") {
        return Ok(Command::Version);
    }
    if let Some(extra) = matches.free.first() {
        return Err(ConfigError::cli(format!(
            "unexpected argument '{extra}' (try -h)"
        )));
    }
    if matches.opt_present("d") {
        return Err(ConfigError::cli(
            "-d/--daemon is not supported by midge: run it in the foreground under a service manager",
        ));
    }
    let port_args = matches.opt_strs("p");
    if port_args.len() > MAX_CMD_PORTS {
        return Err(ConfigError::cli(format!(
            "-p: at most {MAX_CMD_PORTS} ports can be given on the command line"
        )));
    }
    let mut ports = Vec::with_capacity(port_args.len());
    for arg in &port_args {
        match arg.parse::<u16>() {
            Ok(port) if port > 0 => ports.push(port),
            _ => {
                return Err(ConfigError::cli(format!(
                    "-p: invalid port '{arg}': expected an integer from 1 to 65535"
                )))
            }
        }
    }
    let mut config = match matches.opt_str("c") {
        Some(file) => parse::load_raw(Path::new(&file))?,
        None => Config::default(),
    };
    config.verbose = matches.opt_present("v");
    config.finish(&ports);
    Ok(Command::Run(Box::new(config)))
}
