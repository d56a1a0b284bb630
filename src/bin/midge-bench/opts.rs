//! Command line of midge-bench: `midge-bench SCENARIO [flags]`.
//!
//! Parsing is pure (no I/O) and returns either the options of one run or a
//! message for the user. The broker address must be an IP literal on the
//! loopback network (127.0.0.0/8 or ::1): the tool is a load generator and
//! refuses to point it at anything else.

use crate::wire::Version;
use getopts::Options;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The load shapes the tool can drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Many publishers, one subscriber on a wildcard filter.
    FanIn,
    /// One publisher, many subscribers of one topic.
    FanOut,
    /// Independent publisher/subscriber pairs, one topic each.
    Pairs,
    /// One publisher at a fixed rate to one subscriber; latency percentiles.
    Latency,
    /// Many idle connections: connect rate and whether they stay up.
    Connections,
    /// QoS 1 or 2 throughput with a bounded in-flight window.
    Qos,
    /// Connection churn: connect (TLS handshake with `--tls`), CONNECT,
    /// CONNACK, DISCONNECT, close, with a bounded number in flight.
    Handshakes,
}

impl Scenario {
    /// The name used on the command line and in the JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::FanIn => "fanin",
            Scenario::FanOut => "fanout",
            Scenario::Pairs => "pairs",
            Scenario::Latency => "latency",
            Scenario::Connections => "connections",
            Scenario::Qos => "qos",
            Scenario::Handshakes => "handshakes",
        }
    }
}

/// Options of one run.
#[derive(Clone, Debug)]
pub struct Opts {
    pub scenario: Scenario,
    pub addr: SocketAddr,
    pub qos: u8,
    pub size: usize,
    /// Total messages to publish across all publishers; 0 = no bound.
    pub count: u64,
    pub duration: Duration,
    pub publishers: usize,
    pub subscribers: usize,
    pub pairs: usize,
    /// Messages per second for the latency scenario.
    pub rate: u64,
    /// Connections of the connections scenario; for handshakes, the most
    /// to complete (0 = until `duration` ends).
    pub connections: usize,
    pub subscribe: bool,
    pub hold: Duration,
    /// QoS 1/2 in-flight limit per publisher.
    pub window: u64,
    /// Messages a publisher may be ahead of its slowest subscriber.
    pub credit: u64,
    /// Connections allowed to wait for CONNACK at once.
    pub connect_window: usize,
    /// Broker process whose memory the connections scenario samples.
    pub broker_pid: Option<u32>,
    /// Protocol version of every connection.
    pub version: Version,
    /// Topic Alias Maximum subscribers announce (MQTT 5); 0 = none.
    pub topic_alias_max: u16,
    /// Subscribers keep a session (3.1.1 clean session 0; MQTT 5 a Session
    /// Expiry Interval that never ends), so a broker with persistence
    /// stores what it delivers to them.
    pub persistent: bool,
    /// `--ws`: every connection speaks MQTT over WebSockets.
    pub websockets: bool,
    /// `--tls CAFILE`: every connection speaks TLS and trusts the CA
    /// certificates in this file.
    #[cfg(feature = "tls")]
    pub tls: Option<std::path::PathBuf>,
}

/// Largest payload the tool will send.
const MAX_SIZE: usize = 16 * 1024 * 1024;

/// The usage text.
pub fn usage() -> String {
    let brief =
        "usage: midge-bench fanin|fanout|pairs|latency|connections|qos|handshakes [flags]\n\
                 Drives MQTT 3.1.1 (or, with --mqtt5, 5.0) load, over TCP or TLS (either\n\
                 with --ws, over WebSockets), at a loopback broker and prints one JSON line.";
    options().usage(brief)
}

/// The flag table.
fn options() -> Options {
    let mut o = Options::new();
    o.optopt(
        "",
        "host",
        "broker IP literal, loopback only (127.0.0.1)",
        "IP",
    );
    o.optopt("", "port", "broker port (1883)", "PORT");
    o.optopt(
        "",
        "qos",
        "QoS of publishes and subscriptions (0; qos scenario: 1)",
        "0|1|2",
    );
    o.optopt("", "size", "payload bytes, at least 16 (64)", "BYTES");
    o.optopt(
        "",
        "count",
        "stop after publishing this many messages in total",
        "N",
    );
    o.optopt(
        "",
        "duration",
        "stop publishing after this many seconds (10)",
        "SECS",
    );
    o.optopt(
        "",
        "publishers",
        "publishers for fanin (8) and qos (4)",
        "N",
    );
    o.optopt("", "subscribers", "subscribers for fanout (100)", "N");
    o.optopt("", "pairs", "publisher/subscriber pairs (50)", "N");
    o.optopt("", "rate", "messages per second for latency (10000)", "N");
    o.optopt(
        "",
        "connections",
        "idle connections (10000); handshakes: how many to complete (no bound)",
        "N",
    );
    o.optflag(
        "",
        "subscribe",
        "connections: one subscription per connection",
    );
    o.optopt(
        "",
        "hold",
        "connections: seconds to hold them open (5)",
        "SECS",
    );
    o.optopt(
        "",
        "window",
        "QoS 1/2 in-flight limit per publisher (qos: 100)",
        "N",
    );
    o.optopt(
        "",
        "credit",
        "messages a publisher may run ahead of its subscribers (1000)",
        "N",
    );
    o.optopt(
        "",
        "connect-window",
        "connections awaiting CONNACK at once (100)",
        "N",
    );
    o.optopt(
        "",
        "broker-pid",
        "broker PID whose VmRSS the connections scenario samples",
        "PID",
    );
    o.optflag(
        "",
        "mqtt5",
        "connect every client with MQTT 5.0 (default 3.1.1)",
    );
    o.optopt(
        "",
        "topic-alias-max",
        "MQTT 5: Topic Alias Maximum subscribers announce, 0 for none (100)",
        "N",
    );
    o.optflag(
        "",
        "persistent",
        "subscribers keep a session (clean session 0 / session expiry never), as a persistence test needs",
    );
    o.optflag(
        "",
        "ws",
        "speak MQTT over WebSockets (the port is a websockets listener; with --tls, wss)",
    );
    o.optopt(
        "",
        "tls",
        "connect with TLS, trusting the CA certificates in this PEM file",
        "CAFILE",
    );
    o.optflag("h", "help", "print this help");
    o
}

/// Parses flag `name` as a number, with a default.
fn num<T: std::str::FromStr>(m: &getopts::Matches, name: &str, default: T) -> Result<T, String> {
    match m.opt_str(name) {
        None => Ok(default),
        Some(s) => s
            .parse()
            .map_err(|_| format!("--{name}: not a valid number: {s}")),
    }
}

/// Parses a number of seconds (fractions allowed) that must be positive.
fn secs(m: &getopts::Matches, name: &str, default: f64) -> Result<Duration, String> {
    let v: f64 = num(m, name, default)?;
    if !(v > 0.0 && v < 1e6) {
        return Err(format!("--{name}: must be a positive number of seconds"));
    }
    Ok(Duration::from_secs_f64(v))
}

/// Accepts only IP literals on the loopback network.
pub fn loopback(host: &str) -> Result<IpAddr, String> {
    let ip: IpAddr = host.parse().map_err(|_| {
        format!("--host: {host} is not an IP literal (host names are not resolved)")
    })?;
    if !ip.is_loopback() {
        return Err(format!(
            "--host: {ip} is not a loopback address; midge-bench only loads 127.0.0.0/8 or ::1"
        ));
    }
    Ok(ip)
}

/// Parses the arguments after the program name. `Err` carries the text to
/// print: the usage for `--help` (`Ok(None)`), otherwise what was wrong.
pub fn parse(args: &[String]) -> Result<Option<Opts>, String> {
    let m = options()
        .parse(args)
        .map_err(|e| format!("{e}\n{}", usage()))?;
    if m.opt_present("help") {
        return Ok(None);
    }
    let scenario = match m.free.first().map(String::as_str) {
        Some("fanin") => Scenario::FanIn,
        Some("fanout") => Scenario::FanOut,
        Some("pairs") => Scenario::Pairs,
        Some("latency") => Scenario::Latency,
        Some("connections") => Scenario::Connections,
        Some("qos") => Scenario::Qos,
        Some("handshakes") => Scenario::Handshakes,
        Some(other) => return Err(format!("unknown scenario {other}\n{}", usage())),
        None => return Err(usage()),
    };
    if m.free.len() > 1 {
        return Err(format!("unexpected argument {}", m.free[1]));
    }
    let ip = loopback(m.opt_str("host").as_deref().unwrap_or("127.0.0.1"))?;
    let port: u16 = num(&m, "port", 1883)?;
    let default_qos = if scenario == Scenario::Qos { 1 } else { 0 };
    let qos: u8 = num(&m, "qos", default_qos)?;
    if qos > 2 || (scenario == Scenario::Qos && qos == 0) {
        return Err("--qos: must be 0, 1 or 2 (1 or 2 for the qos scenario)".into());
    }
    let size: usize = num(&m, "size", 64)?;
    if !(16..=MAX_SIZE).contains(&size) {
        return Err(format!(
            "--size: must be 16..={MAX_SIZE} (the payload holds a 16-byte stamp)"
        ));
    }
    let default_publishers = if scenario == Scenario::Qos { 4 } else { 8 };
    let default_window = if scenario == Scenario::Qos { 100 } else { 1000 };
    let churn = scenario == Scenario::Handshakes;
    let tls = m.opt_str("tls").map(std::path::PathBuf::from);
    #[cfg(not(feature = "tls"))]
    if tls.is_some() {
        return Err(
            "--tls: this midge-bench was built without the `tls` feature \
                    (build it with the default features)"
                .into(),
        );
    }
    let opts = Opts {
        scenario,
        addr: SocketAddr::new(ip, port),
        qos,
        size,
        count: num(&m, "count", 0)?,
        duration: secs(&m, "duration", 10.0)?,
        publishers: num(&m, "publishers", default_publishers)?,
        subscribers: num(&m, "subscribers", 100)?,
        pairs: num(&m, "pairs", 50)?,
        rate: num(&m, "rate", 10_000)?,
        connections: num(&m, "connections", if churn { 0 } else { 10_000 })?,
        subscribe: m.opt_present("subscribe"),
        hold: secs(&m, "hold", 5.0)?,
        window: num(&m, "window", default_window)?,
        credit: num(&m, "credit", 1000)?,
        connect_window: num(&m, "connect-window", 100)?,
        broker_pid: m
            .opt_str("broker-pid")
            .map(|s| s.parse())
            .transpose()
            .map_err(|_| "--broker-pid: not a PID")?,
        version: if m.opt_present("mqtt5") {
            Version::V5
        } else {
            Version::V311
        },
        topic_alias_max: num(&m, "topic-alias-max", 100)?,
        persistent: m.opt_present("persistent"),
        websockets: m.opt_present("ws"),
        #[cfg(feature = "tls")]
        tls,
    };
    if opts.version == Version::V311 && m.opt_present("topic-alias-max") {
        return Err("--topic-alias-max: topic aliases need --mqtt5".into());
    }
    let positive = [
        ("publishers", opts.publishers as u64),
        ("subscribers", opts.subscribers as u64),
        ("pairs", opts.pairs as u64),
        ("rate", opts.rate),
        ("credit", opts.credit),
        ("connect-window", opts.connect_window as u64),
    ];
    for (name, v) in positive {
        if v == 0 {
            return Err(format!("--{name}: must be at least 1"));
        }
    }
    if opts.connections == 0 && !churn {
        return Err("--connections: must be at least 1".into());
    }
    if !(1..=65_535).contains(&opts.window) {
        return Err("--window: must be 1..=65535 (packet identifiers are 16 bits)".into());
    }
    Ok(Some(opts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn only_loopback_literals_are_accepted() {
        assert!(loopback("127.0.0.1").is_ok());
        assert!(loopback("127.1.2.3").is_ok());
        assert!(loopback("::1").is_ok());
        assert!(loopback("10.0.0.1").is_err());
        assert!(loopback("0.0.0.0").is_err());
        assert!(loopback("localhost").is_err());
        assert!(loopback("::ffff:127.0.0.1").is_err());
    }

    #[test]
    fn defaults_per_scenario() {
        let o = parse(&args("qos")).unwrap().unwrap();
        assert_eq!((o.qos, o.publishers, o.window), (1, 4, 100));
        let o = parse(&args("fanin --port 18830")).unwrap().unwrap();
        assert_eq!(
            (o.qos, o.publishers, o.size, o.addr.port()),
            (0, 8, 64, 18830)
        );
        assert_eq!(o.duration, Duration::from_secs(10));
        assert_eq!((o.version, o.topic_alias_max), (Version::V311, 100));
        let o = parse(&args("qos --mqtt5 --topic-alias-max 0"))
            .unwrap()
            .unwrap();
        assert_eq!((o.version, o.topic_alias_max), (Version::V5, 0));
        let o = parse(&args("handshakes")).unwrap().unwrap();
        assert_eq!((o.scenario, o.connections), (Scenario::Handshakes, 0));
        assert_eq!(
            parse(&args("connections")).unwrap().unwrap().connections,
            10_000
        );
    }

    #[test]
    fn tls_needs_the_feature() {
        let parsed = parse(&args("fanin --tls ca.pem"));
        #[cfg(feature = "tls")]
        assert_eq!(
            parsed.unwrap().unwrap().tls.as_deref(),
            Some(std::path::Path::new("ca.pem"))
        );
        #[cfg(not(feature = "tls"))]
        assert!(parsed.unwrap_err().contains("without the `tls` feature"));
    }

    #[test]
    #[cfg(feature = "tls")]
    fn ws_and_tls_combine_into_wss() {
        let o = parse(&args("handshakes --ws --tls ca.pem"))
            .unwrap()
            .unwrap();
        assert!(o.websockets);
        assert_eq!(o.tls.as_deref(), Some(std::path::Path::new("ca.pem")));
        assert!(!parse(&args("fanin")).unwrap().unwrap().websockets);
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in [
            "fanin --host 192.168.1.1",
            "fanin --size 15",
            "fanin --qos 3",
            "qos --qos 0",
            "pairs --pairs 0",
            "connections --connections 0",
            "latency --duration 0",
            "qos --window 70000",
            "nosuch",
            "",
            "fanin extra",
            "fanin --topic-alias-max 5",
            "fanin --mqtt5 --topic-alias-max 70000",
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad}");
        }
        assert!(parse(&args("fanin --help")).unwrap().is_none());
    }
}
