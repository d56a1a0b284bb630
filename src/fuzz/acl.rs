//! The ACL target. Input: one flags byte (bit 0: the client has a user
//! name), then NUL-separated parts, read lossily as UTF-8: the ACL file,
//! the client id, the user name, and up to eight probes, each used as a
//! topic and, where it is a valid filter, as a subscription.
//!
//! Checked: the parser never panics, and an error names the file and a
//! line of it; for a file that parses, the client's checks never panic,
//! and `subscription` agrees with `can_read` on every probe and on topics
//! built from each filter (its wildcards filled with levels taken from the
//! input) that the filter matches: `All` only where all are readable,
//! `None` only where none is.

use crate::auth::acl::{Acl, FilterAccess};
use crate::topic::{filter_matches, valid_topic_filter, valid_topic_name};

/// How many probes one input has at most.
const PROBES: usize = 8;
/// How many topics are built per filter.
const INSTANCES: usize = 32;
/// The longest level taken from the input to fill a wildcard.
const LEVEL_MAX: usize = 32;

/// Runs one input (see the module doc).
pub fn run(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let mut parts = text.split('\0');
    let file = parts.next().unwrap_or_default();
    let id = parts.next().unwrap_or_default();
    let user = parts.next().filter(|_| flags & 1 == 1);
    let probes: Vec<&str> = parts.take(PROBES).collect();
    let acl = match Acl::parse("fuzz.acl", file) {
        Ok(acl) => acl,
        Err(e) => {
            assert_eq!(e.file, "fuzz.acl");
            let lines = file.split('\n').count();
            let line = e.line.expect("a parse error names its line");
            assert!((1..=lines).contains(&line), "line {line} of {lines}: {e}");
            assert!(!e.message.is_empty(), "an error without a message");
            return;
        }
    };
    let client = acl.for_client(user, id);
    let topics: Vec<&str> = probes
        .iter()
        .copied()
        .filter(|p| valid_topic_name(p))
        .collect();
    for t in &topics {
        client.can_read(t);
        client.can_write(t);
    }
    let pool = level_pool(file, id, user, &probes);
    let mut rng = Seed::of(data);
    for filter in probes.iter().copied().filter(|p| valid_topic_filter(p)) {
        let access = client.subscription(filter);
        if access == FilterAccess::PerTopic {
            continue;
        }
        let built: Vec<String> = (0..INSTANCES)
            .map(|_| instance(filter, &pool, &mut rng))
            .collect();
        let candidates = topics
            .iter()
            .copied()
            .chain(built.iter().map(String::as_str));
        for t in candidates.filter(|t| valid_topic_name(t) && filter_matches(filter, t)) {
            let read = client.can_read(t);
            assert_eq!(
                read,
                access == FilterAccess::All,
                "subscription({filter:?}) is {access:?} but can_read({t:?}) is {read}"
            );
        }
    }
}

/// Called once per input. Returns the levels that fill wildcards: every
/// level (up to [`LEVEL_MAX`] bytes) of the file's words, the id, the user
/// name and the probes, and one that appears nowhere else.
fn level_pool<'a>(
    file: &'a str,
    id: &'a str,
    user: Option<&'a str>,
    probes: &[&'a str],
) -> Vec<&'a str> {
    let words = file
        .split([' ', '\n'])
        .chain([id])
        .chain(user)
        .chain(probes.iter().copied());
    let mut pool: Vec<&str> = words
        .flat_map(|w| w.split('/'))
        .filter(|l| l.len() <= LEVEL_MAX && !l.contains(['+', '#']))
        .take(64)
        .collect();
    pool.push("\u{1}fresh");
    pool
}

/// Called per built topic. Returns `filter` with each `+` replaced by a
/// level of `pool` and its `#` by zero to two of them.
fn instance(filter: &str, pool: &[&str], rng: &mut Seed) -> String {
    let mut levels: Vec<&str> = Vec::new();
    for level in filter.split('/') {
        match level {
            "+" => levels.push(rng.pick(pool)),
            "#" => {
                for _ in 0..rng.below(3) {
                    levels.push(rng.pick(pool));
                }
            }
            _ => levels.push(level),
        }
    }
    levels.join("/")
}

/// A small generator seeded from the input, so a run repeats.
struct Seed(u64);

impl Seed {
    /// FNV-1a of `data`, never zero.
    fn of(data: &[u8]) -> Seed {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in data {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Seed(h | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}
