//! Topic name and topic filter rules (MQTT 3.1.1 and 5.0, section 4.7).
//!
//! Pure functions on `&str`, no allocation: the broker calls the validators on
//! every PUBLISH topic and SUBSCRIBE/UNSUBSCRIBE filter before they reach the
//! topic tree or the retained store, and [`filter_matches`] is the reference
//! matcher that the trees are tested against.

/// Largest topic name or filter, in bytes: a UTF-8 string on the wire carries
/// a 16-bit length [MQTT-4.7.3-3].
pub const MAX_TOPIC_LEN: usize = 65_535;

/// The prefix that marks an MQTT 5 shared subscription filter.
const SHARE_PREFIX: &str = "$share/";

/// Called on a PUBLISH topic (and a will topic) before routing. Returns true
/// when `topic` is a legal topic name: at least one byte [MQTT-4.7.3-1], at
/// most 65535 bytes, no wildcard [MQTT-4.7.1-1] and no NUL [MQTT-4.7.3-2].
pub fn valid_topic_name(topic: &str) -> bool {
    !topic.is_empty()
        && topic.len() <= MAX_TOPIC_LEN
        && !crate::swar::has_wildcard_or_nul(topic.as_bytes())
}

/// Called on each SUBSCRIBE and UNSUBSCRIBE filter. Returns true when `filter`
/// is a legal topic filter: at least one byte, at most 65535 bytes, no NUL,
/// `#` only as the whole last level [MQTT-4.7.1-2] and `+` only as a whole
/// level [MQTT-4.7.1-3].
pub fn valid_topic_filter(filter: &str) -> bool {
    if filter.is_empty() || filter.len() > MAX_TOPIC_LEN || filter.as_bytes().contains(&0) {
        return false;
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        let last = levels.peek().is_none();
        if level.contains('#') && (level != "#" || !last) {
            return false;
        }
        if level.contains('+') && level != "+" {
            return false;
        }
    }
    true
}

/// Called on a SUBSCRIBE filter from an MQTT 5 client. Returns
/// `Some((group, filter))` when `filter` is a shared subscription
/// `$share/{group}/{filter}` with a non-empty group free of `+`, `#` and `/`
/// and a valid inner filter; `None` for any other string. A filter that starts
/// with `$share/` but yields `None` is malformed and the caller refuses it.
pub fn parse_shared(filter: &str) -> Option<(&str, &str)> {
    let rest = filter.strip_prefix(SHARE_PREFIX)?;
    let (group, inner) = rest.split_once('/')?;
    let group_ok = !group.is_empty() && !group.bytes().any(|b| b == b'+' || b == b'#');
    if group_ok && valid_topic_filter(inner) {
        Some((group, inner))
    } else {
        None
    }
}

/// The reference matcher, used by tests and by rare paths (e.g. checking one
/// filter against one topic). Returns true when `filter` matches `topic`:
/// `+` matches exactly one level, `#` matches any number of levels including
/// none (so `a/#` matches `a`), and a topic starting with `$` is never matched
/// by a filter whose first level is a wildcard [MQTT-4.7.2-1].
/// Preconditions: `valid_topic_filter(filter)` and `valid_topic_name(topic)`.
pub fn filter_matches(filter: &str, topic: &str) -> bool {
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    let mut first = true;
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return !(first && topic.starts_with('$')),
            (Some("+"), Some(_)) => {
                if first && topic.starts_with('$') {
                    return false;
                }
            }
            (Some(fl), Some(tl)) => {
                if fl != tl {
                    return false;
                }
            }
            (None, None) => return true,
            _ => return false,
        }
        first = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_mqtt_4_7_1_1_and_4_7_3() {
        let valid = [
            "sport/tennis/player1",
            "sport",
            "/",
            "//",
            "/finance",
            "finance/",
            "a//b",
            "Accounts payable",
            "$SYS/monitor/Clients",
            "ünïcödé/€",
        ];
        for t in valid {
            assert!(valid_topic_name(t), "{t:?} should be a valid name");
        }
        let invalid = [
            "",        // [MQTT-4.7.3-1]
            "sport/+", // [MQTT-4.7.1-1]
            "sport/#", // [MQTT-4.7.1-1]
            "+",       // [MQTT-4.7.1-1]
            "#",       // [MQTT-4.7.1-1]
            "sport+",  // [MQTT-4.7.1-1]
            "a\0b",    // [MQTT-4.7.3-2]
        ];
        for t in invalid {
            assert!(!valid_topic_name(t), "{t:?} should be an invalid name");
        }
    }

    #[test]
    fn topic_name_length_limit_mqtt_4_7_3_3() {
        let max = "a".repeat(MAX_TOPIC_LEN);
        assert!(valid_topic_name(&max));
        let over = "a".repeat(MAX_TOPIC_LEN + 1);
        assert!(!valid_topic_name(&over));
        assert!(valid_topic_filter(&max));
        assert!(!valid_topic_filter(&over));
    }

    #[test]
    fn topic_filters_mqtt_4_7_1_2_and_4_7_1_3() {
        let valid = [
            "sport/tennis/player1/#",
            "sport/tennis/#",
            "sport/#",
            "#",
            "+",
            "+/tennis/#",
            "sport/+/player1",
            "sport/+",
            "+/+",
            "/+",
            "+/",
            "$SYS/#",
            "$SYS/monitor/+",
            "/",
            "a//b",
            "/#",
        ];
        for f in valid {
            assert!(valid_topic_filter(f), "{f:?} should be a valid filter");
        }
        let invalid = [
            "",                       // [MQTT-4.7.3-1]
            "sport/tennis#",          // [MQTT-4.7.1-2]
            "sport/tennis/#/ranking", // [MQTT-4.7.1-2]
            "#/a",                    // [MQTT-4.7.1-2]
            "##",                     // [MQTT-4.7.1-2]
            "a/#b",                   // [MQTT-4.7.1-2]
            "sport+",                 // [MQTT-4.7.1-3]
            "sport/+tennis",          // [MQTT-4.7.1-3]
            "++",                     // [MQTT-4.7.1-3]
            "+#",                     // [MQTT-4.7.1-2], [MQTT-4.7.1-3]
            "a/\0",                   // [MQTT-4.7.3-2]
        ];
        for f in invalid {
            assert!(!valid_topic_filter(f), "{f:?} should be an invalid filter");
        }
    }

    #[test]
    fn shared_subscription_filters() {
        assert_eq!(parse_shared("$share/g/a/b"), Some(("g", "a/b")));
        assert_eq!(parse_shared("$share/group1/#"), Some(("group1", "#")));
        assert_eq!(parse_shared("$share/g/+/x/#"), Some(("g", "+/x/#")));
        assert_eq!(parse_shared("$share/g//"), Some(("g", "/")));
        // Not a shared subscription at all.
        assert_eq!(parse_shared("a/b"), None);
        assert_eq!(parse_shared("$SYS/#"), None);
        assert_eq!(parse_shared("$share"), None);
        assert_eq!(parse_shared("$sharegroup/a"), None);
        // Malformed shared subscriptions.
        assert_eq!(parse_shared("$share/"), None);
        assert_eq!(parse_shared("$share/g"), None);
        assert_eq!(parse_shared("$share//a"), None);
        assert_eq!(parse_shared("$share/g/"), None);
        assert_eq!(parse_shared("$share/g+/a"), None);
        assert_eq!(parse_shared("$share/+/a"), None);
        assert_eq!(parse_shared("$share/#/a"), None);
        assert_eq!(parse_shared("$share/g/a#"), None);
        assert_eq!(parse_shared("$share/g/#/a"), None);
    }

    #[test]
    fn matching_tables_mqtt_4_7_1() {
        let cases: &[(&str, &str, bool)] = &[
            // Multi-level wildcard [MQTT-4.7.1-2].
            ("sport/tennis/player1/#", "sport/tennis/player1", true),
            (
                "sport/tennis/player1/#",
                "sport/tennis/player1/ranking",
                true,
            ),
            (
                "sport/tennis/player1/#",
                "sport/tennis/player1/score/wimbledon",
                true,
            ),
            ("sport/tennis/player1/#", "sport/tennis/player2", false),
            ("sport/#", "sport", true),
            ("sport/#", "sports", false),
            ("sport/#", "sport/", true),
            ("#", "sport/tennis", true),
            ("#", "/", true),
            ("/#", "/finance", true),
            ("/#", "finance", false),
            // Single-level wildcard [MQTT-4.7.1-3].
            ("sport/tennis/+", "sport/tennis/player1", true),
            ("sport/tennis/+", "sport/tennis/player2", true),
            ("sport/tennis/+", "sport/tennis/player1/ranking", false),
            ("sport/+", "sport", false),
            ("sport/+", "sport/", true),
            ("+/+", "/finance", true),
            ("/+", "/finance", true),
            ("+", "/finance", false),
            ("+", "finance", true),
            ("+/tennis/#", "sport/tennis", true),
            ("+/tennis/#", "sport/tennis/x/y", true),
            ("+/tennis/#", "sport/golf", false),
            ("sport/+/player1", "sport/tennis/player1", true),
            ("sport/+/player1", "sport//player1", true),
            ("+/", "a/", true),
            ("+/", "a", false),
            // Exact levels: case, spaces and empty levels are significant.
            ("ACCOUNTS", "Accounts", false),
            ("Accounts payable", "Accounts payable", true),
            ("/finance", "finance", false),
            ("a//b", "a//b", true),
            ("a//b", "a/b", false),
            ("a/b", "a/b/c", false),
            ("a/b/c", "a/b", false),
        ];
        for &(f, t, want) in cases {
            assert_eq!(filter_matches(f, t), want, "filter {f:?} topic {t:?}");
        }
    }

    #[test]
    fn dollar_topics_mqtt_4_7_2_1() {
        let cases: &[(&str, &str, bool)] = &[
            ("#", "$SYS/monitor/Clients", false),
            ("+/monitor/Clients", "$SYS/monitor/Clients", false),
            ("+", "$SYS", false),
            ("+/#", "$SYS/x", false),
            ("$SYS/#", "$SYS/monitor/Clients", true),
            ("$SYS/#", "$SYS", true),
            ("$SYS/monitor/+", "$SYS/monitor/Clients", true),
            ("$SYS/+/Clients", "$SYS/monitor/Clients", true),
            ("$SYS/monitor/Clients", "$SYS/monitor/Clients", true),
            // Only a leading '$' is special.
            ("+/$x", "a/$x", true),
            ("a/#", "a/$x", true),
            ("a/+", "a/$x", true),
            ("#", "x$", true),
        ];
        for &(f, t, want) in cases {
            assert_eq!(filter_matches(f, t), want, "filter {f:?} topic {t:?}");
        }
    }
}
