//! The matches of recently routed topics, so that a topic published again
//! (a sensor's reading every few seconds, a publisher's stream) skips the
//! tree walk: a hash of the topic picks one of [`SLOTS`] entries, and an
//! entry holds the topic, the tree's version when it was walked, and up to
//! [`MAX_MATCHES`] matches.
//!
//! Contract: [`MatchCache::get`] gives the matches only for the same topic
//! and the same tree version ([`TopicTree::version`](super::TopicTree::version)
//! changes on every subscribe and unsubscribe), so a hit is exactly what a
//! walk would give, in the same order. Topics longer than [`MAX_TOPIC`] or
//! with more matches than [`MAX_MATCHES`] are not kept (a fan-out's
//! deliveries cost far more than its walk). Fixed size: no allocation
//! after the first use.
//!
//! Measured (callgrind, `midge-bench fanin --mqtt5`, 8 publishers of a
//! topic each, one `+` subscriber): the walk of a 4-level topic is about
//! 450 instructions per message, a hit about 60.

/// Entries (a power of two).
pub const SLOTS: usize = 32;
/// Longest topic kept, in bytes.
pub const MAX_TOPIC: usize = 64;
/// Most matches kept for one topic.
pub const MAX_MATCHES: usize = 4;

#[derive(Clone, Copy)]
struct Entry<V> {
    /// The tree version it was walked at; 0: empty.
    version: u64,
    len: u8,
    topic: [u8; MAX_TOPIC],
    count: u8,
    /// The number the caller gave the topic when it was kept.
    run: u64,
    matches: [(u32, V); MAX_MATCHES],
}

/// See the module doc.
pub struct MatchCache<V> {
    entries: Option<Box<[Entry<V>; SLOTS]>>,
}

impl<V> Default for MatchCache<V> {
    fn default() -> Self {
        MatchCache { entries: None }
    }
}

/// The entry for `topic`, by a hash of its 8-byte words.
#[inline]
fn slot(topic: &[u8]) -> usize {
    crate::swar::hash(topic) as usize & (SLOTS - 1)
}

impl<V: Copy + Default> MatchCache<V> {
    /// Called before a tree walk for `topic` at tree version `version`.
    /// On a hit, appends the matches to `out` and returns the number given
    /// to [`MatchCache::put`] with them; 0 on a miss.
    #[inline]
    pub fn get(&self, topic: &str, version: u64, out: &mut Vec<(u32, V)>) -> u64 {
        let t = topic.as_bytes();
        let Some(entries) = self.entries.as_deref() else {
            return 0;
        };
        if t.len() > MAX_TOPIC {
            return 0;
        }
        let e = &entries[slot(t)];
        if e.version != version
            || usize::from(e.len) != t.len()
            || !crate::swar::same(&e.topic[..t.len()], t)
        {
            return 0;
        }
        // One by one: there are at most four, usually one, and a copy of
        // a slice of unknown length is a `memcpy` call.
        for &m in &e.matches[..usize::from(e.count)] {
            out.push(m);
        }
        e.run
    }

    /// Called after a walk of `topic` at tree version `version` found
    /// `matches`: keeps them, with `run` (a number the caller gives this
    /// topic, never 0), if they fit.
    pub fn put(&mut self, topic: &str, version: u64, matches: &[(u32, V)], run: u64) {
        let t = topic.as_bytes();
        if t.len() > MAX_TOPIC || matches.len() > MAX_MATCHES || version == 0 {
            return;
        }
        let entries = self.entries.get_or_insert_with(|| {
            Box::new(
                [Entry {
                    version: 0,
                    len: 0,
                    topic: [0; MAX_TOPIC],
                    count: 0,
                    run: 0,
                    matches: [(0, V::default()); MAX_MATCHES],
                }; SLOTS],
            )
        });
        let e = &mut entries[slot(t)];
        e.version = version;
        e.len = t.len() as u8;
        e.topic[..t.len()].copy_from_slice(t);
        e.count = matches.len() as u8;
        e.run = run;
        e.matches[..matches.len()].copy_from_slice(matches);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topic::TopicTree;

    fn walk(tree: &TopicTree<u8>, cache: &mut MatchCache<u8>, topic: &str) -> Vec<(u32, u8)> {
        let mut out = Vec::new();
        if cache.get(topic, tree.version(), &mut out) == 0 {
            tree.for_each_match(topic, |s, v| out.push((s, *v)));
            cache.put(topic, tree.version(), &out, 7);
        }
        out
    }

    #[test]
    fn a_hit_is_what_the_walk_gives_until_the_tree_changes() {
        let mut tree = TopicTree::new();
        let mut cache = MatchCache::default();
        tree.subscribe("a/+", 1, 10u8);
        tree.subscribe("a/#", 2, 20);
        let first = walk(&tree, &mut cache, "a/b");
        let mut hit = Vec::new();
        assert_eq!(cache.get("a/b", tree.version(), &mut hit), 7, "kept");
        assert_eq!(hit, first);
        // Any change to the tree: a miss, and the walk's new answer.
        tree.subscribe("a/b", 3, 30);
        assert_eq!(0, cache.get("a/b", tree.version(), &mut Vec::new()));
        assert_eq!(walk(&tree, &mut cache, "a/b").len(), 3);
        tree.subscribe("a/b", 3, 31);
        let changed = walk(&tree, &mut cache, "a/b");
        assert!(changed.contains(&(3, 31)), "a replaced value: {changed:?}");
        tree.unsubscribe("a/+", 1);
        assert!(!walk(&tree, &mut cache, "a/b").contains(&(1, 10)));
        // Another topic in the same slot is not mistaken for this one.
        assert_eq!(0, cache.get("a/c", tree.version(), &mut Vec::new()));
    }

    #[test]
    fn long_topics_and_many_matches_are_not_kept() {
        let mut tree = TopicTree::new();
        let mut cache = MatchCache::default();
        for s in 0..=MAX_MATCHES as u32 {
            tree.subscribe("#", s, 0u8);
        }
        walk(&tree, &mut cache, "x");
        assert_eq!(0, cache.get("x", tree.version(), &mut Vec::new()));
        let long = "y".repeat(MAX_TOPIC + 1);
        let mut small = TopicTree::new();
        small.subscribe("#", 1, 0u8);
        walk(&small, &mut cache, &long);
        assert_eq!(0, cache.get(&long, small.version(), &mut Vec::new()));
        // No match at all is kept too: the walk is skipped as well.
        let mut empty = TopicTree::<u8>::new();
        empty.subscribe("z", 1, 0);
        walk(&empty, &mut cache, "nobody");
        let mut out = vec![(9, 9)];
        assert_eq!(cache.get("nobody", empty.version(), &mut out), 7);
        assert_eq!(out, [(9, 9)], "nothing appended");
    }
}
