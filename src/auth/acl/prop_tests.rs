//! Random rule sets over a small alphabet of levels, checked against a
//! finite universe of topics: the checks agree with a plain model of
//! Mosquitto's loop, and `subscription` never says `All` or `None`
//! wrongly.

use super::rules::DENY;
use super::*;

/// xorshift64*: enough randomness for test cases, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

/// The levels topics are made of: "c" appears in no rule, so it stands for
/// every level a `+` matches and no literal does.
const TOPIC_LEVELS: [&str; 4] = ["a", "b", "$x", "c"];

/// Every topic of 1 to 4 levels over [`TOPIC_LEVELS`].
fn universe() -> Vec<String> {
    let mut all: Vec<String> = TOPIC_LEVELS.iter().map(|l| l.to_string()).collect();
    let mut last = all.clone();
    for _ in 1..4 {
        last = last
            .iter()
            .flat_map(|t| TOPIC_LEVELS.iter().map(move |l| format!("{t}/{l}")))
            .collect();
        all.extend(last.iter().cloned());
    }
    all
}

/// A random valid filter of 1 to 3 levels from `levels`, maybe ending in
/// `#`.
fn filter(rng: &mut Rng, levels: &[&str]) -> String {
    let mut parts: Vec<&str> = (0..=rng.below(3)).map(|_| rng.pick(levels)).collect();
    if rng.below(3) == 0 {
        if rng.below(2) == 0 {
            parts.clear();
        }
        parts.push("#");
    }
    parts.join("/")
}

/// One rule line as the model keeps it.
struct Line {
    pattern: bool,
    user: Option<&'static str>,
    access: Access,
    filter: String,
}

/// A random rule set and its file text.
fn rule_set(rng: &mut Rng) -> (Vec<Line>, String) {
    let words = [
        ("", READ | WRITE),
        ("read ", READ),
        ("write ", WRITE),
        ("readwrite ", READ | WRITE),
        ("deny ", DENY),
    ];
    let mut lines = Vec::new();
    let mut text = String::new();
    let mut user = None;
    for _ in 0..rng.below(7) {
        if rng.below(4) == 0 {
            user = Some(rng.pick(&["a", "b"]));
            text.push_str(&format!("user {}\n", user.unwrap_or_default()));
        }
        let pattern = rng.below(3) == 0;
        let levels: &[&str] = if pattern {
            &["a", "b", "$x", "+", "%c", "%u"]
        } else {
            &["a", "b", "$x", "+"]
        };
        let filter = filter(rng, levels);
        let (word, access) = words[rng.below(words.len())];
        let keyword = if pattern { "pattern" } else { "topic" };
        text.push_str(&format!("{keyword} {word}{filter}\n"));
        lines.push(Line {
            pattern,
            user: if pattern { None } else { user },
            access,
            filter,
        });
    }
    (lines, text)
}

/// Mosquitto's check, written as its loop reads: the section's list with
/// the denies moved to the front, then (unless the id or name holds a
/// wildcard) the patterns likewise, substituted per check.
fn model(lines: &[Line], user: Option<&str>, id: &str, topic: &str, want: Access) -> bool {
    if topic.starts_with("$share") {
        return false;
    }
    if want == WRITE
        && topic.starts_with("$SYS")
        && !filter_matches("$SYS/broker/connection/+/state", topic)
    {
        return false;
    }
    let list = |pattern: bool| {
        let mut list: Vec<&Line> = Vec::new();
        for l in lines
            .iter()
            .filter(|l| l.pattern == pattern && (pattern || l.user == user))
        {
            if l.access == DENY {
                list.insert(0, l);
            } else {
                list.push(l);
            }
        }
        list
    };
    let matches = |f: &str| !f.is_empty() && filter_matches(f, topic);
    for l in list(false) {
        if matches(&l.filter) {
            if l.access == DENY {
                return false;
            }
            if l.access & want != 0 {
                return true;
            }
        }
    }
    let patterns = list(true);
    let wild = |s: &str| s.contains('+') || s.contains('#');
    if !patterns.is_empty() && (wild(id) || user.is_some_and(wild)) {
        return false;
    }
    for l in patterns {
        if l.filter.contains("%u") && user.is_none() {
            continue;
        }
        if matches(&substitute(&l.filter, id, user)) {
            if l.access == DENY {
                return false;
            }
            if l.access & want != 0 {
                return true;
            }
        }
    }
    false
}

#[test]
fn checks_agree_with_mosquittos_loop_and_subscriptions_never_lie() {
    let universe = universe();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let clients: [(Option<&str>, &str); 7] = [
        (None, "a"),
        (None, "a/b"),
        (None, "$x"),
        (Some("a"), "b"),
        (Some("b"), "+"),
        (Some("c"), ""),
        (Some("a#"), "a"),
    ];
    let (mut exact, mut per_topic) = (0usize, 0usize);
    for _ in 0..300 {
        let (lines, text) = rule_set(&mut rng);
        let acl = Acl::parse("prop.acl", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        for &(user, id) in &clients {
            let client = acl.for_client(user, id);
            let readable: Vec<bool> = universe.iter().map(|t| client.can_read(t)).collect();
            for (t, &read) in universe.iter().zip(&readable) {
                let want = model(&lines, user, id, t, READ);
                assert_eq!(read, want, "read {t:?} by {user:?}/{id:?} under\n{text}");
                let wrote = client.can_write(t);
                assert_eq!(
                    wrote,
                    model(&lines, user, id, t, WRITE),
                    "write {t:?} by {user:?}/{id:?} under\n{text}"
                );
            }
            for _ in 0..12 {
                let f = filter(&mut rng, &["a", "b", "$x", "c", "+"]);
                let access = client.subscription(&f);
                let mut seen = universe
                    .iter()
                    .zip(&readable)
                    .filter(|(t, _)| filter_matches(&f, t));
                let what = || format!("{f:?} by {user:?}/{id:?} under\n{text}");
                match access {
                    FilterAccess::All => assert!(seen.all(|(_, &r)| r), "All: {}", what()),
                    FilterAccess::None => assert!(seen.all(|(_, &r)| !r), "None: {}", what()),
                    FilterAccess::PerTopic => {
                        // A filter without wildcards is one topic: a
                        // single rule decides it, so the answer is exact.
                        assert!(f.contains(['+', '#']), "PerTopic for a topic: {}", what());
                        per_topic += 1;
                        continue;
                    }
                }
                exact += 1;
            }
        }
    }
    // The random sets are mostly simple: most answers are exact.
    assert!(
        exact > 3 * per_topic,
        "{exact} exact, {per_topic} per topic"
    );
}
