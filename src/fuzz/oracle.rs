//! What the broker target checks deliveries against, written apart from
//! the broker's own code: topic matching, and a client's view of its
//! output (frames decoded, topic aliases resolved).

use std::collections::HashMap;

use bytes::BytesMut;

use crate::codec::{check, decode, Check, Packet, Protocol, Publish};

/// Does `filter` (possibly `$share/group/filter`) match `topic`? `+` and
/// `#` match one and any number of levels, `#` its parent level too, and
/// neither matches a first level that starts with `$` [MQTT-4.7.2-1].
pub fn matches(filter: &str, topic: &str) -> bool {
    let filter = match filter.strip_prefix("$share/") {
        Some(rest) => match rest.split_once('/') {
            Some((_, f)) => f,
            None => return false,
        },
        None => filter,
    };
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// A client's reading of its connection: the broker's output decoded.
#[derive(Default)]
pub struct Reader {
    /// Topic aliases the broker assigned on this connection.
    aliases: HashMap<u16, String>,
}

impl Reader {
    /// Decodes everything in `out` (the broker must only ever write whole,
    /// valid packets) and returns the packets, with every PUBLISH's topic
    /// resolved from its alias.
    pub fn read(&mut self, out: &[u8], protocol: Protocol) -> Vec<Packet> {
        let mut bytes = BytesMut::from(out);
        let mut packets = Vec::new();
        while !bytes.is_empty() {
            let total = match check(&bytes, usize::MAX) {
                Ok(Check::Ready { total }) => total,
                other => panic!("broker wrote a partial or bad packet: {other:?}"),
            };
            let frame = bytes.split_to(total).freeze();
            let mut packet = match decode(frame.clone(), protocol) {
                Ok(p) => p,
                Err(e) => panic!("broker wrote {frame:02x?}, which fails: {e}"),
            };
            if let Packet::Publish(p) = &mut packet {
                self.resolve(p);
            }
            packets.push(packet);
        }
        packets
    }

    /// Applies the broker's Topic Alias to `p` [MQTT-3.3.2-12].
    fn resolve(&mut self, p: &mut Publish) {
        let Some(alias) = p.properties.topic_alias else {
            assert!(!p.topic.is_empty(), "PUBLISH without topic or alias");
            return;
        };
        if p.topic.is_empty() {
            let topic = self
                .aliases
                .get(&alias)
                .unwrap_or_else(|| panic!("alias {alias} used before it was set"));
            p.topic = crate::codec::ByteStr::from(topic.as_str());
        } else {
            self.aliases.insert(alias, p.topic.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn matching_follows_the_spec_examples() {
        // [MQTT-4.7.1-2] and the examples of 4.7.1.2 and 4.7.1.3.
        assert!(matches("sport/tennis/player1/#", "sport/tennis/player1"));
        assert!(matches(
            "sport/tennis/player1/#",
            "sport/tennis/player1/ranking"
        ));
        assert!(matches("sport/#", "sport"));
        assert!(matches("sport/+", "sport/"));
        assert!(!matches("sport/+", "sport"));
        assert!(matches("+/+", "/finance"));
        assert!(matches("/+", "/finance"));
        assert!(!matches("+", "/finance"));
        assert!(!matches("#", "$SYS/uptime"));
        assert!(!matches("+/monitor/Clients", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/#", "$SYS/monitor/Clients"));
        assert!(matches("$share/g/sport/#", "sport/x"));
        assert!(!matches("$share/g", "g"));
        assert!(!matches("a/b", "a/c"));
    }
}
