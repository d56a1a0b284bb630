//! The subscription tree: topic filters in an arena of nodes, one node per
//! filter level, matched against a topic name without scanning every
//! subscription and without allocating.
//!
//! Nodes live in a `Slab` addressed by `u32`; a freed node's slot is reused.
//! Each node has its exact-level children (sorted, see [`Children`]), a `+`
//! child, a `#` child and the subscribers whose filter ends there, kept sorted
//! by subscriber id. The root is node 0, never freed and never anyone's child,
//! so 0 doubles as "no child".
//!
//! Matching is a depth-first walk over the topic's levels that keeps no stack:
//! each node knows its parent and the walk keeps only a byte cursor into the
//! topic, so a topic or filter of 30,000 levels costs no stack depth. The tree
//! only matches; access control and delivery are the caller's.

use slab::Slab;

use super::children::Children;
use super::level::{level_at, prev_level_start};

/// Index of the root node; as a child index it means "none".
const ROOT: u32 = 0;
const NIL: u32 = 0;

struct Node<V> {
    children: Children,
    /// `(subscriber, value)` sorted by subscriber.
    subs: Vec<(u32, V)>,
    parent: u32,
    plus: u32,
    hash: u32,
}

impl<V> Node<V> {
    fn new(parent: u32) -> Self {
        Node {
            children: Children::default(),
            subs: Vec::new(),
            parent,
            plus: NIL,
            hash: NIL,
        }
    }

    fn is_unused(&self) -> bool {
        self.subs.is_empty() && self.children.is_empty() && self.plus == NIL && self.hash == NIL
    }
}

/// Subscriptions by topic filter: each is `(filter, subscriber id, value)`,
/// unique per `(filter, subscriber)`.
pub struct TopicTree<V> {
    nodes: Slab<Node<V>>,
    len: usize,
    /// Changes on every subscribe and unsubscribe (see [`TopicTree::version`]).
    version: u64,
}

impl<V> Default for TopicTree<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V> TopicTree<V> {
    /// Called once when the broker starts. Returns an empty tree (the root
    /// node only).
    pub fn new() -> Self {
        let mut nodes = Slab::new();
        nodes.insert(Node::new(ROOT));
        TopicTree {
            nodes,
            len: 0,
            version: 1,
        }
    }

    /// Called for each accepted SUBSCRIBE filter. Adds `subscriber`'s
    /// subscription to `filter` with `value`, replacing the value when that
    /// subscriber already had this exact filter. Returns true when the
    /// subscription is new, false when it replaced one.
    /// Precondition: `valid_topic_filter(filter)`.
    pub fn subscribe(&mut self, filter: &str, subscriber: u32, value: V) -> bool {
        self.version += 1;
        let mut node = ROOT;
        for level in filter.split('/') {
            node = self.child_or_insert(node, level);
        }
        let subs = &mut self.node_mut(node).subs;
        match subs.binary_search_by_key(&subscriber, |s| s.0) {
            Ok(i) => {
                if let Some(slot) = subs.get_mut(i) {
                    slot.1 = value;
                }
                false
            }
            Err(i) => {
                if subs.capacity() == 0 {
                    // Most nodes end up with one subscriber: start with room
                    // for exactly one rather than the default four.
                    subs.reserve_exact(1);
                }
                subs.insert(i, (subscriber, value));
                self.len += 1;
                true
            }
        }
    }

    /// Called for each UNSUBSCRIBE filter and when a session ends. Removes
    /// `subscriber`'s subscription to `filter`; returns its value, or `None`
    /// when there was none. Nodes left empty are freed, up to the root.
    pub fn unsubscribe(&mut self, filter: &str, subscriber: u32) -> Option<V> {
        self.version += 1;
        let node = self.find(filter)?;
        let subs = &mut self.node_mut(node).subs;
        let i = subs.binary_search_by_key(&subscriber, |s| s.0).ok()?;
        let (_, value) = subs.remove(i);
        if subs.capacity() > 4 * subs.len() + 4 {
            subs.shrink_to_fit();
        }
        self.len -= 1;
        self.prune(node, filter);
        Some(value)
    }

    /// Called when the broker needs one subscription's options (e.g. to
    /// report a re-subscribe). Returns the value of `subscriber`'s
    /// subscription to exactly `filter`.
    pub fn get(&self, filter: &str, subscriber: u32) -> Option<&V> {
        let subs = &self.node(self.find(filter)?).subs;
        let i = subs.binary_search_by_key(&subscriber, |s| s.0).ok()?;
        subs.get(i).map(|s| &s.1)
    }

    /// Called for every PUBLISH. Calls `f(subscriber, &value)` once per
    /// subscription whose filter matches `topic` (a subscriber with two
    /// overlapping filters is reported twice). Does not allocate.
    /// Precondition: `valid_topic_name(topic)`.
    pub fn for_each_match(&self, topic: &str, mut f: impl FnMut(u32, &V)) {
        let len = topic.len();
        // [MQTT-4.7.2-1]: no wildcard first level matches a '$' topic.
        let dollar = topic.starts_with('$');
        let wild_ok = |node: u32| node != ROOT || !dollar;
        let mut node = ROOT;
        // Cursor of the topic level that `node`'s children consume.
        let mut pos = 0;
        // Ancestors whose '+' child is still to be visited: when none is left
        // the walk is over without climbing back.
        let mut pending = 0u32;
        'arrive: loop {
            let n = self.node(node);
            if n.hash != NIL && wild_ok(node) {
                // '#' matches the rest, including no level ("a/#" matches "a").
                for (s, v) in &self.node(n.hash).subs {
                    f(*s, v);
                }
            }
            if pos > len {
                for (s, v) in &n.subs {
                    f(*s, v);
                }
            } else {
                let (level, next) = level_at(topic, pos);
                if let Some(child) = n.children.get(level) {
                    if n.plus != NIL && wild_ok(node) {
                        pending += 1;
                    }
                    node = child;
                    pos = next;
                    continue 'arrive;
                }
                if n.plus != NIL && wild_ok(node) {
                    node = n.plus;
                    pos = next;
                    continue 'arrive;
                }
            }
            // Climb until a parent whose '+' child is still to be visited.
            loop {
                if pending == 0 || node == ROOT {
                    return;
                }
                let parent = self.node(node).parent;
                let p = self.node(parent);
                if p.plus != node && p.plus != NIL && wild_ok(parent) {
                    // Came from the exact child; the '+' child takes the same level.
                    pending -= 1;
                    node = p.plus;
                    continue 'arrive;
                }
                node = parent;
                pos = prev_level_start(topic, pos);
            }
        }
    }

    /// A number that changes whenever a subscription is added, replaced or
    /// removed (never 0): what a [`MatchCache`](super::MatchCache) entry
    /// was walked at.
    #[inline]
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Number of subscriptions held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no subscription is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Called for `$SYS` statistics and memory tests. Returns the number of
    /// live nodes besides the root: 0 when the tree is empty.
    pub fn node_count(&self) -> usize {
        self.nodes.len() - 1
    }

    fn node(&self, id: u32) -> &Node<V> {
        &self.nodes[id as usize]
    }

    fn node_mut(&mut self, id: u32) -> &mut Node<V> {
        &mut self.nodes[id as usize]
    }

    /// Returns the node for `filter`, if it exists.
    fn find(&self, filter: &str) -> Option<u32> {
        let mut node = ROOT;
        for level in filter.split('/') {
            let n = self.node(node);
            let next = match level {
                "+" => n.plus,
                "#" => n.hash,
                _ => n.children.get(level).unwrap_or(NIL),
            };
            if next == NIL {
                return None;
            }
            node = next;
        }
        Some(node)
    }

    /// Returns `node`'s child for filter level `level`, made if missing.
    fn child_or_insert(&mut self, node: u32, level: &str) -> u32 {
        let n = self.node(node);
        let found = match level {
            "+" => Ok(n.plus),
            "#" => Ok(n.hash),
            _ => n
                .children
                .find(level)
                .map(|i| n.children.node_at(i).unwrap_or(NIL)),
        };
        match found {
            Ok(child) if child != NIL => child,
            Ok(_) => {
                let child = self.alloc(node);
                let n = self.node_mut(node);
                if level == "+" {
                    n.plus = child;
                } else {
                    n.hash = child;
                }
                child
            }
            Err(at) => {
                let child = self.alloc(node);
                self.node_mut(node).children.insert(at, level, child);
                child
            }
        }
    }

    fn alloc(&mut self, parent: u32) -> u32 {
        let key = self.nodes.insert(Node::new(parent));
        u32::try_from(key).expect("topic tree node count fits in u32")
    }

    /// Frees `node` and then its ancestors while they hold nothing. `filter`
    /// is the filter that leads to `node`; its levels are read backwards.
    fn prune(&mut self, mut node: u32, filter: &str) {
        let mut levels = filter.rsplit('/');
        while node != ROOT && self.node(node).is_unused() {
            let parent = self.node(node).parent;
            let p = self.node_mut(parent);
            match levels.next() {
                Some("+") => p.plus = NIL,
                Some("#") => p.hash = NIL,
                Some(level) => {
                    p.children.remove(level);
                }
                None => return,
            }
            self.nodes.remove(node as usize);
            node = parent;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(tree: &TopicTree<u8>, topic: &str) -> Vec<(u32, u8)> {
        let mut out = Vec::new();
        tree.for_each_match(topic, |s, v| out.push((s, *v)));
        out.sort_unstable();
        out
    }

    #[test]
    fn subscribe_replaces_and_unsubscribe_returns_value() {
        let mut t = TopicTree::new();
        assert!(t.is_empty());
        assert!(t.subscribe("a/+/c", 7, 1u8));
        assert!(!t.subscribe("a/+/c", 7, 2));
        assert!(t.subscribe("a/+/c", 3, 5));
        assert_eq!(t.len(), 2);
        assert_eq!(t.get("a/+/c", 7), Some(&2));
        assert_eq!(matches(&t, "a/b/c"), [(3, 5), (7, 2)]);
        assert_eq!(t.unsubscribe("a/+/c", 7), Some(2));
        assert_eq!(t.unsubscribe("a/+/c", 7), None);
        assert_eq!(t.unsubscribe("a/+", 3), None);
        assert_eq!(t.unsubscribe("x", 3), None);
        assert_eq!(t.get("a/+/c", 7), None);
        assert_eq!(t.len(), 1);
        assert_eq!(t.unsubscribe("a/+/c", 3), Some(5));
        assert!(t.is_empty());
        assert_eq!(t.node_count(), 0);
    }

    #[test]
    fn matching_tables_mqtt_4_7_1() {
        let mut t = TopicTree::new();
        let filters = [
            "sport/tennis/player1/#", // 0
            "sport/#",                // 1
            "sport/tennis/+",         // 2
            "sport/+",                // 3
            "+/+",                    // 4
            "/+",                     // 5
            "+",                      // 6
            "#",                      // 7
            "+/tennis/#",             // 8
            "/finance",               // 9
        ];
        for (i, f) in filters.iter().enumerate() {
            assert!(t.subscribe(f, i as u32, i as u8));
        }
        let ids = |topic: &str| -> Vec<u32> { matches(&t, topic).iter().map(|m| m.0).collect() };
        assert_eq!(ids("sport"), [1, 6, 7]);
        assert_eq!(ids("sport/"), [1, 3, 4, 7]);
        assert_eq!(ids("sport/tennis"), [1, 3, 4, 7, 8]);
        assert_eq!(ids("sport/tennis/player1"), [0, 1, 2, 7, 8]);
        assert_eq!(ids("sport/tennis/player1/ranking"), [0, 1, 7, 8]);
        assert_eq!(ids("/finance"), [4, 5, 7, 9]);
        assert_eq!(ids("finance"), [6, 7]);
        assert_eq!(ids("a/b/c"), [7]);
    }

    #[test]
    fn dollar_topics_skip_root_wildcards_mqtt_4_7_2_1() {
        let mut t = TopicTree::new();
        t.subscribe("#", 1, 0u8);
        t.subscribe("+/monitor/Clients", 2, 0);
        t.subscribe("$SYS/#", 3, 0);
        t.subscribe("$SYS/monitor/+", 4, 0);
        t.subscribe("+", 5, 0);
        let ids = |topic: &str| -> Vec<u32> { matches(&t, topic).iter().map(|m| m.0).collect() };
        assert_eq!(ids("$SYS/monitor/Clients"), [3, 4]);
        assert_eq!(ids("$SYS"), [3]);
        assert_eq!(ids("x/monitor/Clients"), [1, 2]);
        assert_eq!(ids("x"), [1, 5]);
    }

    #[test]
    fn overlapping_filters_report_each_subscription() {
        let mut t = TopicTree::new();
        t.subscribe("a/b", 1, 10u8);
        t.subscribe("a/+", 1, 11);
        t.subscribe("a/#", 1, 12);
        t.subscribe("#", 2, 20);
        assert_eq!(matches(&t, "a/b"), [(1, 10), (1, 11), (1, 12), (2, 20)]);
        assert_eq!(matches(&t, "a"), [(1, 12), (2, 20)]);
    }

    #[test]
    fn freed_nodes_are_reused() {
        let mut t = TopicTree::new();
        t.subscribe("a/b/c/d", 1, 0u8);
        assert_eq!(t.node_count(), 4);
        t.subscribe("a/b/x", 1, 0);
        assert_eq!(t.node_count(), 5);
        t.unsubscribe("a/b/c/d", 1);
        // "a" and "a/b" still carry "a/b/x".
        assert_eq!(t.node_count(), 3);
        let slab_capacity = t.nodes.capacity();
        for i in 0..100u32 {
            t.subscribe("p/q/r", i, 0);
            t.unsubscribe("p/q/r", i);
        }
        assert_eq!(t.nodes.capacity(), slab_capacity);
        t.unsubscribe("a/b/x", 1);
        assert_eq!(t.node_count(), 0);
    }

    #[test]
    fn deep_filters_and_topics_need_no_stack() {
        // 30,000 levels: a recursive walk of this depth would overflow the
        // test thread's stack.
        let deep = vec!["a"; 30_000].join("/");
        let deep_plus = vec!["+"; 30_000].join("/");
        let mut t = TopicTree::new();
        t.subscribe(&deep, 1, 1u8);
        t.subscribe(&deep_plus, 2, 2);
        t.subscribe(&format!("{deep}/#"), 3, 3);
        assert_eq!(matches(&t, &deep), [(1, 1), (2, 2), (3, 3)]);
        assert_eq!(matches(&t, &format!("{deep}/a")), [(3, 3)]);
        assert_eq!(t.unsubscribe(&deep, 1), Some(1));
        assert_eq!(t.unsubscribe(&deep_plus, 2), Some(2));
        assert_eq!(t.unsubscribe(&format!("{deep}/#"), 3), Some(3));
        assert_eq!(t.node_count(), 0);
    }
}
