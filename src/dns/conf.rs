//! `/etc/resolv.conf` (resolv.conf(5)), as much as a stub resolver of A
//! and AAAA needs, read as glibc reads it:
//!
//! - `nameserver ADDR`: IPv4 or IPv6, at most [`MAX_NAMESERVERS`] (3, as
//!   glibc), in order; addresses with a zone (`fe80::1%eth0`) are
//!   skipped. None given: 127.0.0.1.
//! - `search D...` and `domain D`: the search list; the last of these
//!   lines wins; at most [`MAX_SEARCH`] (6) suffixes, trailing dots
//!   dropped. Not derived from the host name when absent.
//! - `options timeout:N attempts:N`: the wait per try (default 5 s, 1 to
//!   30) and the tries per server (default 2, 1 to 5): glibc's defaults
//!   and bounds (RES_MAXRETRANS, RES_MAXRETRY), out-of-range values
//!   clamped, non-numbers ignored. Other options are ignored; so is
//!   `ndots` (see [`ResolvConf::candidates`]).
//!
//! Lines starting with `#` or `;` are comments, and so is the rest of a
//! line from a word starting with one; unknown keywords and bad lines are
//! skipped. Parsing never fails. Pure: the caller reads the file.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// The most name servers kept (glibc's MAXNS).
pub const MAX_NAMESERVERS: usize = 3;
/// The most search suffixes kept (glibc's historical MAXDNSRCH).
pub const MAX_SEARCH: usize = 6;
/// The default wait for a reply (glibc's RES_TIMEOUT).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest `timeout:` (glibc's RES_MAXRETRANS), in seconds.
pub const MAX_TIMEOUT_SECS: u32 = 30;
/// The default tries per server (glibc's RES_DFLRETRY).
pub const DEFAULT_ATTEMPTS: u32 = 2;
/// The most `attempts:` (glibc's RES_MAXRETRY).
pub const MAX_ATTEMPTS: u32 = 5;

/// The resolver settings of a resolv.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvConf {
    /// Never empty when parsed.
    pub nameservers: Vec<IpAddr>,
    /// Suffixes tried after a name without a dot.
    pub search: Vec<String>,
    /// The wait for a reply to each try.
    pub timeout: Duration,
    /// The tries per server.
    pub attempts: u32,
}

impl Default for ResolvConf {
    /// What an empty file gives.
    fn default() -> ResolvConf {
        ResolvConf {
            nameservers: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
            search: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            attempts: DEFAULT_ATTEMPTS,
        }
    }
}

impl ResolvConf {
    /// Reads resolv.conf text (see the module doc).
    pub fn parse(text: &str) -> ResolvConf {
        let mut conf = ResolvConf {
            nameservers: Vec::new(),
            ..ResolvConf::default()
        };
        for line in text.lines() {
            let mut words = line
                .split_ascii_whitespace()
                .take_while(|w| !w.starts_with(['#', ';']));
            let Some(keyword) = words.next() else {
                continue;
            };
            match keyword {
                "nameserver" => {
                    let addr = words.next().and_then(|w| w.parse::<IpAddr>().ok());
                    if let Some(addr) = addr {
                        if conf.nameservers.len() < MAX_NAMESERVERS {
                            conf.nameservers.push(addr);
                        }
                    }
                }
                "search" | "domain" => {
                    let take = if keyword == "domain" { 1 } else { MAX_SEARCH };
                    conf.search = words
                        .take(take)
                        .map(|w| w.strip_suffix('.').unwrap_or(w))
                        .filter(|w| !w.is_empty())
                        .map(str::to_string)
                        .collect();
                }
                "options" => {
                    for w in words {
                        if let Some(n) = w.strip_prefix("timeout:").and_then(number) {
                            let secs = n.clamp(1, MAX_TIMEOUT_SECS);
                            conf.timeout = Duration::from_secs(u64::from(secs));
                        } else if let Some(n) = w.strip_prefix("attempts:").and_then(number) {
                            conf.attempts = n.clamp(1, MAX_ATTEMPTS);
                        }
                    }
                }
                _ => {}
            }
        }
        if conf.nameservers.is_empty() {
            conf.nameservers.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        conf
    }

    /// The names to try for `name`, in order: `name` as given, then, when
    /// it has no dot at all (a trailing one makes it absolute), `name`
    /// with each search suffix. Simpler than glibc, which with `ndots:1`
    /// tries such a name's suffixes before the name itself.
    pub fn candidates(&self, name: &str) -> Vec<String> {
        let mut names = vec![name.to_string()];
        if !name.is_empty() && !name.contains('.') {
            names.extend(self.search.iter().map(|s| format!("{name}.{s}")));
        }
        names
    }
}

/// Decimal digits as a number, saturating; anything else is `None`.
fn number(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u32, |n, b| {
        n.saturating_mul(10).saturating_add(u32::from(b - b'0'))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn dns_conf_variants() {
        struct Case {
            text: &'static str,
            servers: &'static [&'static str],
            search: &'static [&'static str],
            timeout: u64,
            attempts: u32,
        }
        let case = |text, servers, search, timeout, attempts| Case {
            text,
            servers,
            search,
            timeout,
            attempts,
        };
        let cases = [
            case("", &["127.0.0.1"], &[], 5, 2),
            case("# nothing\n; at all\n", &["127.0.0.1"], &[], 5, 2),
            case(
                "# Generated by NetworkManager\nsearch lan home.arpa.\nnameserver 192.168.1.1\nnameserver fd00::1\n",
                &["192.168.1.1", "fd00::1"],
                &["lan", "home.arpa"],
                5,
                2,
            ),
            // systemd-resolved's stub.
            case(
                "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n",
                &["127.0.0.53"],
                &[],
                5,
                2,
            ),
            // Three servers at most; bad and zoned addresses skipped.
            case(
                "nameserver 10.0.0.1\nnameserver bogus\nnameserver fe80::1%eth0\nnameserver\nnameserver 10.0.0.2 # second\nnameserver ::1\nnameserver 10.0.0.4\n",
                &["10.0.0.1", "10.0.0.2", "::1"],
                &[],
                5,
                2,
            ),
            // The last of search and domain wins; domain keeps one.
            case("search a b\ndomain c d\n", &["127.0.0.1"], &["c"], 5, 2),
            case("domain c\nsearch a b ; comment\n", &["127.0.0.1"], &["a", "b"], 5, 2),
            case(
                "search s1 s2 s3 s4 s5 s6 s7\n",
                &["127.0.0.1"],
                &["s1", "s2", "s3", "s4", "s5", "s6"],
                5,
                2,
            ),
            // Options: values, bounds, junk, several lines.
            case("options timeout:1 attempts:3 rotate\n", &["127.0.0.1"], &[], 1, 3),
            case("options timeout:0 attempts:0\n", &["127.0.0.1"], &[], 1, 1),
            case("options timeout:99999999999 attempts:6\n", &["127.0.0.1"], &[], 30, 5),
            case("options timeout:x attempts:-1 timeout: attempts:2x\n", &["127.0.0.1"], &[], 5, 2),
            case("options timeout:3\noptions attempts:4\n", &["127.0.0.1"], &[], 3, 4),
            case("options ndots:5 timeout:2\n", &["127.0.0.1"], &[], 2, 2),
            // Keywords are whole words; comments and CRLF.
            case(
                "nameservers 10.0.0.9\n#nameserver 10.0.0.8\n  nameserver 10.0.0.7\r\nsearchx a\n",
                &["10.0.0.7"],
                &[],
                5,
                2,
            ),
        ];
        for c in &cases {
            let conf = ResolvConf::parse(c.text);
            assert_eq!(conf.nameservers, ips(c.servers), "{:?}", c.text);
            assert_eq!(conf.search, c.search, "{:?}", c.text);
            assert_eq!(conf.timeout, Duration::from_secs(c.timeout), "{:?}", c.text);
            assert_eq!(conf.attempts, c.attempts, "{:?}", c.text);
        }
        assert_eq!(ResolvConf::parse(""), ResolvConf::default());
    }

    #[test]
    fn dns_conf_candidates() {
        let conf = ResolvConf::parse("search lan example.net\n");
        assert_eq!(
            conf.candidates("broker"),
            ["broker", "broker.lan", "broker.example.net"]
        );
        assert_eq!(conf.candidates("broker.lan"), ["broker.lan"]);
        assert_eq!(conf.candidates("broker."), ["broker."]);
        assert_eq!(conf.candidates(""), [""]);
        assert_eq!(ResolvConf::default().candidates("broker"), ["broker"]);
    }
}
