//! `/etc/hosts` (hosts(5)): each line an IP address, then one or more
//! names (the canonical name, then aliases); `#` starts a comment.
//!
//! [`lookup`] gives every address whose line names `name`, in the file's
//! order, each once: names compare ASCII case-insensitively, with one
//! trailing dot ignored on either side. A line whose first word is no
//! IPv4 or IPv6 address (a zone suffix such as `%eth0` included) or that
//! has no name is skipped, as glibc skips it. Pure: the caller reads the
//! file.

use std::net::IpAddr;

/// The addresses `hosts_text` gives `name` (see the module doc).
pub fn lookup(hosts_text: &str, name: &str) -> Vec<IpAddr> {
    let want = bare(name);
    let mut found = Vec::new();
    if want.is_empty() {
        return found;
    }
    for line in hosts_text.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let mut words = line.split_ascii_whitespace();
        let Some(Ok(addr)) = words.next().map(str::parse::<IpAddr>) else {
            continue;
        };
        if words.any(|w| bare(w).eq_ignore_ascii_case(want)) && !found.contains(&addr) {
            found.push(addr);
        }
    }
    found
}

/// `name` without one trailing dot.
fn bare(name: &str) -> &str {
    name.strip_suffix('.').unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTS: &str = "\
# /etc/hosts
127.0.0.1\tlocalhost
127.0.1.1   pizero.lan pizero   # this machine
::1         localhost ip6-localhost ip6-loopback
fe00::0     ip6-localnet
ff02::1\tip6-allnodes
192.168.1.20 Broker.LAN broker mqtt
2001:db8::20 broker.lan.
192.168.1.20 broker.lan
10.0.0.300  broken
fe80::1%eth0 zoned
not-an-address broker
192.168.1.21
#192.168.1.22 broker
192.168.1.23#broker
  192.168.1.24  spaced  \r
";

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn dns_hosts_lines() {
        let cases: &[(&str, &[&str])] = &[
            ("localhost", &["127.0.0.1", "::1"]),
            ("LOCALHOST.", &["127.0.0.1", "::1"]),
            ("pizero", &["127.0.1.1"]),
            ("pizero.lan", &["127.0.1.1"]),
            ("ip6-loopback", &["::1"]),
            ("ip6-allnodes", &["ff02::1"]),
            // Several lines, one address once, IPv4 and IPv6 in file order.
            ("broker.lan", &["192.168.1.20", "2001:db8::20"]),
            ("BROKER", &["192.168.1.20"]),
            ("mqtt", &["192.168.1.20"]),
            ("spaced", &["192.168.1.24"]),
            // Comments, bad addresses, zones, lines without a name.
            ("this", &[]),
            ("machine", &[]),
            ("broken", &[]),
            ("zoned", &[]),
            ("192.168.1.21", &[]),
            ("", &[]),
            (".", &[]),
            ("broker.lan..", &[]),
            ("elsewhere", &[]),
        ];
        for (name, want) in cases {
            assert_eq!(lookup(HOSTS, name), ips(want), "{name:?}");
        }
    }

    #[test]
    fn dns_hosts_empty_and_odd_text() {
        assert!(lookup("", "localhost").is_empty());
        assert!(lookup("\n\n#\n \t\n", "localhost").is_empty());
        assert_eq!(lookup("::1 a\r\n", "a"), ips(&["::1"]));
        assert_eq!(lookup("1.2.3.4 a b a\n", "a"), ips(&["1.2.3.4"]));
    }
}
