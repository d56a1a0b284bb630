//! Tests of the command line and config file against Mosquitto 2.0's
//! documented behaviour: defaults, every directive, every error kind.

use super::*;
use std::net::Ipv6Addr;
use std::sync::atomic::{AtomicUsize, Ordering};

const LOOPBACK: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));

fn parse(text: &str) -> Config {
    match parse_str("midge.conf", text) {
        Ok(config) => config,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn error(text: &str) -> String {
    match parse_str("midge.conf", text) {
        Ok(config) => panic!("expected an error, got {config:?}"),
        Err(e) => e.to_string(),
    }
}

fn cli(args: &[&str]) -> Result<Command, ConfigError> {
    let argv: Vec<String> = std::iter::once("midge")
        .chain(args.iter().copied())
        .map(String::from)
        .collect();
    parse_args(&argv)
}

fn run(args: &[&str]) -> Config {
    match cli(args) {
        Ok(Command::Run(config)) => *config,
        other => panic!("expected Run, got {other:?}"),
    }
}

fn cli_error(args: &[&str]) -> String {
    match cli(args) {
        Err(e) => e.to_string(),
        Ok(other) => panic!("expected an error, got {other:?}"),
    }
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("midge-config-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write temp file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

mod cli;
mod directives;
mod logging;
mod mqtt5;
mod persistence;
mod syntax;
