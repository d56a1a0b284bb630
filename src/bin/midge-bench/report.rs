//! The result of one run and its single-line JSON form (written by hand;
//! numbers and escaped strings only), plus the rule for the exit status.

use crate::histogram::Histogram;
use std::fmt::Write;

/// Everything a run measured.
#[derive(Default)]
pub struct Report {
    pub scenario: &'static str,
    /// Protocol version name ("3.1.1", "5.0"); omitted when empty.
    pub mqtt: &'static str,
    pub qos: u8,
    pub size: usize,
    pub publishers: usize,
    pub subscribers: usize,
    pub sent: u64,
    pub received: u64,
    pub expected: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    pub seconds: f64,
    /// Latency percentiles in microseconds, when measured.
    pub latency: Option<[f64; 4]>,
    /// Bytes subscribers read per PUBLISH they received (copies included).
    pub sub_rx_bytes_per_msg: Option<f64>,
    /// Bytes publishers wrote per message they published.
    pub pub_tx_bytes_per_msg: Option<f64>,
    /// Messages whose topic a subscriber took from a topic alias (MQTT 5).
    pub aliased: Option<u64>,
    /// The smallest Receive Maximum a broker announced below `--window`;
    /// the publishers' window was lowered to it.
    pub broker_receive_max: Option<u16>,
    /// With `--tls`: the negotiated protocol, cipher suite and key
    /// exchange of the first connection.
    pub tls: Option<String>,
    pub connections: u64,
    pub connect_rate: Option<f64>,
    /// Handshakes scenario: connections completed per second.
    pub handshakes_per_sec: Option<f64>,
    /// Handshakes scenario with `--broker-pid`: the broker's CPU seconds
    /// from the first connect to the last close.
    pub handshake_cpu_s: Option<f64>,
    pub alive: Option<u64>,
    pub broker_rss_kb: Option<(u64, u64)>,
    pub errors: u64,
    pub first_error: Option<String>,
}

/// Appends `s` as a JSON string literal.
fn quote(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Latency percentiles (p50, p99, p99.9, max) in microseconds.
pub fn percentiles(h: &Histogram) -> Option<[f64; 4]> {
    if h.count() == 0 {
        return None;
    }
    let us = |ns: u64| ns as f64 / 1000.0;
    Some([
        us(h.quantile(0.5)),
        us(h.quantile(0.99)),
        us(h.quantile(0.999)),
        us(h.max()),
    ])
}

impl Report {
    /// Notes an error; the first description is kept for the report.
    pub fn error(&mut self, what: impl FnOnce() -> String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(what());
        }
    }

    /// Delivered messages per second.
    pub fn msgs_per_sec(&self) -> f64 {
        if self.seconds > 0.0 {
            self.received as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// True when the run must exit with status 1: any error, or any loss,
    /// duplicate or reordering at QoS 1 or 2.
    pub fn failed(&self) -> bool {
        self.errors > 0 || (self.qos > 0 && self.lost + self.duplicated + self.out_of_order > 0)
    }

    /// The one-line JSON object printed at the end of a run.
    pub fn json(&self) -> String {
        let mut o = String::with_capacity(512);
        o.push_str("{\"scenario\":");
        quote(&mut o, self.scenario);
        if !self.mqtt.is_empty() {
            o.push_str(",\"mqtt\":");
            quote(&mut o, self.mqtt);
        }
        let _ = write!(
            o,
            ",\"qos\":{},\"size\":{},\"publishers\":{},\"subscribers\":{},\"sent\":{},\
             \"received\":{},\"expected\":{},\"lost\":{},\"duplicated\":{},\"out_of_order\":{},\
             \"seconds\":{:.3},\"msgs_per_sec\":{:.0}",
            self.qos,
            self.size,
            self.publishers,
            self.subscribers,
            self.sent,
            self.received,
            self.expected,
            self.lost,
            self.duplicated,
            self.out_of_order,
            self.seconds,
            self.msgs_per_sec()
        );
        if let Some([p50, p99, p999, max]) = self.latency {
            let _ = write!(o, ",\"p50_us\":{p50:.1},\"p99_us\":{p99:.1},\"p999_us\":{p999:.1},\"max_us\":{max:.1}");
        }
        if let Some(b) = self.sub_rx_bytes_per_msg {
            let _ = write!(o, ",\"sub_rx_bytes_per_msg\":{b:.1}");
        }
        if let Some(b) = self.pub_tx_bytes_per_msg {
            let _ = write!(o, ",\"pub_tx_bytes_per_msg\":{b:.1}");
        }
        if let Some(n) = self.aliased {
            let _ = write!(o, ",\"aliased\":{n}");
        }
        if let Some(n) = self.broker_receive_max {
            let _ = write!(o, ",\"broker_receive_max\":{n}");
        }
        if let Some(t) = &self.tls {
            o.push_str(",\"tls\":");
            quote(&mut o, t);
        }
        if self.connections > 0 {
            let _ = write!(o, ",\"connections\":{}", self.connections);
        }
        if let Some(rate) = self.connect_rate {
            let _ = write!(o, ",\"connect_rate\":{rate:.0}");
        }
        if let Some(rate) = self.handshakes_per_sec {
            let _ = write!(o, ",\"handshakes_per_sec\":{rate:.0}");
        }
        if let Some(cpu) = self.handshake_cpu_s {
            let _ = write!(o, ",\"handshake_cpu_s\":{cpu:.3}");
            if cpu > 0.0 {
                let per = self.connections as f64 / cpu;
                let _ = write!(o, ",\"handshakes_per_cpu_s\":{per:.0}");
            }
        }
        if let Some(alive) = self.alive {
            let _ = write!(o, ",\"alive\":{alive}");
        }
        if let Some((before, held)) = self.broker_rss_kb {
            let _ = write!(
                o,
                ",\"broker_rss_kb_before\":{before},\"broker_rss_kb_held\":{held}"
            );
            if self.connections > 0 {
                let per = (held.saturating_sub(before) * 1024) as f64 / self.connections as f64;
                let _ = write!(o, ",\"broker_bytes_per_conn\":{per:.0}");
            }
        }
        let _ = write!(o, ",\"errors\":{}", self.errors);
        if let Some(e) = &self.first_error {
            o.push_str(",\"first_error\":");
            quote(&mut o, e);
        }
        o.push('}');
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        let mut s = String::new();
        quote(&mut s, "a\"b\\c\nd");
        assert_eq!(s, r#""a\"b\\c\u000ad""#);
    }

    #[test]
    fn json_line_has_required_fields() {
        let mut r = Report {
            scenario: "pairs",
            mqtt: "5.0",
            qos: 1,
            size: 64,
            sent: 10,
            received: 9,
            expected: 10,
            lost: 1,
            seconds: 0.5,
            ..Report::default()
        };
        r.error(|| "first".into());
        r.error(|| "second".into());
        let j = r.json();
        for field in [
            "\"scenario\":\"pairs\",\"mqtt\":\"5.0\"",
            "\"qos\":1",
            "\"sent\":10",
            "\"received\":9",
            "\"expected\":10",
            "\"lost\":1",
            "\"msgs_per_sec\":18",
            "\"errors\":2",
            "\"first_error\":\"first\"",
        ] {
            assert!(j.contains(field), "{field} missing in {j}");
        }
        assert!(!j.contains('\n'));
        assert!(r.failed());
    }

    #[test]
    fn qos0_loss_is_reported_but_not_a_failure() {
        let r = Report {
            qos: 0,
            lost: 5,
            ..Report::default()
        };
        assert!(!r.failed());
        let r = Report {
            qos: 2,
            duplicated: 1,
            ..Report::default()
        };
        assert!(r.failed());
    }

    #[test]
    fn latency_and_connection_fields_appear_when_measured() {
        let mut h = Histogram::new();
        h.record(2_000);
        let r = Report {
            latency: percentiles(&h),
            connections: 4,
            connect_rate: Some(100.0),
            alive: Some(4),
            broker_rss_kb: Some((1000, 1004)),
            sub_rx_bytes_per_msg: Some(83.04),
            pub_tx_bytes_per_msg: Some(83.0),
            aliased: Some(7),
            ..Report::default()
        };
        let j = r.json();
        for field in [
            "\"p50_us\":2.0",
            "\"max_us\":2.0",
            "\"connect_rate\":100",
            "\"alive\":4",
            "\"broker_bytes_per_conn\":1024",
            "\"sub_rx_bytes_per_msg\":83.0",
            "\"pub_tx_bytes_per_msg\":83.0",
            "\"aliased\":7",
        ] {
            assert!(j.contains(field), "{field} missing in {j}");
        }
    }
}
