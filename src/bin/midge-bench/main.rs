//! midge-bench: an MQTT 3.1.1 and 5.0 load generator for loopback brokers.
//!
//! `midge-bench SCENARIO [flags]` opens many client connections from one
//! single-threaded mio loop, drives one load shape (fanin, fanout, pairs,
//! latency, connections, qos, handshakes) and prints exactly one JSON line
//! with what it measured. Every connection speaks 3.1.1, or 5.0 with
//! `--mqtt5`, over TCP or, with `--tls CAFILE` (and the `tls` feature),
//! over TLS. It speaks raw MQTT bytes through its own small codec and does
//! not link the midge library, so it measures midge and Mosquitto alike.
//!
//! Exit status: 0 on success; 1 when the run had errors or, at QoS 1/2,
//! any lost, duplicated or reordered message (the first error also goes to
//! stderr); 2 for a bad command line.
//!
//! # Layout
//! - `opts`: the command line.
//! - `wire`: the client-side encoders. `decode`: what the broker sends,
//!   with `props` for MQTT 5 property blocks and `reason` for code names.
//! - `handshake`: CONNECT per role; CONNACK, SUBACK, DISCONNECT checks.
//! - `net`: one non-blocking connection with its buffers, over `socket`
//!   (TCP, or TLS through `tls`, counting the bytes at the TCP socket).
//! - `plan`: who publishes and subscribes where. `world`: the protocol
//!   state of a message run. `flow`: its event loop. `idle`: the
//!   connections scenario. `churn`: the handshakes scenario. `procfs`:
//!   the broker's memory and CPU time from /proc.
//! - `alias`: received topic aliases. `tally`: per-link
//!   loss/duplicate/order accounting.
//! - `histogram`: the latency histogram. `report`: the JSON line.
//! - `ws`: `--ws`, MQTT over WebSockets at the edges of `net`.

mod alias;
mod churn;
mod decode;
#[cfg(test)]
mod fake;
mod flow;
mod handshake;
mod histogram;
mod idle;
mod net;
mod opts;
mod plan;
mod procfs;
mod props;
mod reason;
mod report;
mod socket;
mod tally;
#[cfg(feature = "tls")]
mod tls;
mod wire;
mod world;
mod ws;

use std::process::exit;
use std::time::Instant;

fn main() {
    let origin = Instant::now();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = match opts::parse(&args) {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("{}", opts::usage());
            return;
        }
        Err(msg) => {
            eprintln!("midge-bench: {msg}");
            exit(2);
        }
    };
    let result = match o.scenario {
        opts::Scenario::Connections => idle::run(&o),
        opts::Scenario::Handshakes => churn::run(&o),
        _ => flow::run(&o, origin),
    };
    match result {
        Ok(report) => {
            println!("{}", report.json());
            if report.failed() {
                if let Some(e) = &report.first_error {
                    eprintln!("midge-bench: {e}");
                }
                exit(1);
            }
        }
        Err(e) => {
            eprintln!("midge-bench: {e}");
            exit(1);
        }
    }
}
