//! The retained-message store: at most one message per topic name, in an
//! arena tree with one node per topic level, so that a subscription's filter
//! walks only the part of the tree it can match, never every retained message.
//!
//! Nodes live in a `Slab` addressed by `u32` (freed slots are reused); each has
//! its children by level (sorted, see [`Children`]), its parent and the
//! message retained at exactly its topic. The root is node 0 and never holds a
//! message (a topic name has at least one byte).
//!
//! [`RetainedStore::for_each_match`] walks depth first without recursion:
//! exact filter levels descend, `+` iterates the children, `#` visits a whole
//! subtree. Climbing back uses parent links and the child's index among its
//! siblings, kept in a fixed array for the first [`CURSORS`] levels and found
//! by a scan of the parent's children below that, so a 30,000-level topic
//! costs no stack. The store does not interpret messages: clearing on an empty
//! retained payload is the caller's call to [`RetainedStore::remove`].

use slab::Slab;

use super::children::Children;
use super::level::{level_at, prev_level_start};

const ROOT: u32 = 0;

/// Depths whose sibling index the match walk keeps in a fixed array.
const CURSORS: usize = 64;

struct Node<M> {
    children: Children,
    msg: Option<M>,
    parent: u32,
}

impl<M> Node<M> {
    fn new(parent: u32) -> Self {
        Node {
            children: Children::default(),
            msg: None,
            parent,
        }
    }
}

/// Retained messages keyed by topic name.
pub struct RetainedStore<M> {
    nodes: Slab<Node<M>>,
    len: usize,
}

impl<M> Default for RetainedStore<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M> RetainedStore<M> {
    /// Called once when the broker starts (or before loading persisted
    /// messages). Returns an empty store.
    pub fn new() -> Self {
        let mut nodes = Slab::new();
        nodes.insert(Node::new(ROOT));
        RetainedStore { nodes, len: 0 }
    }

    /// Called for a PUBLISH with RETAIN set and a non-empty payload. Stores
    /// `msg` as the retained message of `topic`; returns the one it replaced.
    /// Precondition: `valid_topic_name(topic)`.
    pub fn insert(&mut self, topic: &str, msg: M) -> Option<M> {
        let mut node = ROOT;
        for level in topic.split('/') {
            node = self.child_or_insert(node, level);
        }
        let old = self.node_mut(node).msg.replace(msg);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Called for a PUBLISH with RETAIN set and an empty payload, and when a
    /// retained message expires. Removes the retained message of `topic` and
    /// returns it; nodes left empty are freed, up to the root.
    pub fn remove(&mut self, topic: &str) -> Option<M> {
        let node = self.find(topic)?;
        let old = self.node_mut(node).msg.take()?;
        self.len -= 1;
        self.prune(node, topic);
        Some(old)
    }

    /// Returns the retained message of exactly `topic`.
    pub fn get(&self, topic: &str) -> Option<&M> {
        self.node(self.find(topic)?).msg.as_ref()
    }

    /// Called when a subscription is made, to send the retained messages.
    /// Calls `f(&msg)` for every retained message whose topic matches
    /// `filter`; a topic starting with '$' is not matched by a first-level
    /// wildcard [MQTT-4.7.2-1]. Does not allocate.
    /// Precondition: `valid_topic_filter(filter)`.
    pub fn for_each_match(&self, filter: &str, mut f: impl FnMut(&M)) {
        let flen = filter.len();
        // cursors[d]: index of the depth-d node of the walk among its siblings.
        let mut cursors = [0u32; CURSORS];
        let mut node = ROOT;
        let mut depth = 0usize;
        // Cursor of the filter level that `node`'s children are matched by.
        let mut pos = 0usize;
        // Depth of the node where '#' took over; deeper nodes are all matched.
        let mut hash_depth = usize::MAX;
        'arrive: loop {
            let n = self.node(node);
            let down = if depth > hash_depth {
                self.report(n, &mut f);
                self.next_child(node, 0).map(|(i, c)| (i, c, pos))
            } else if pos > flen {
                self.report(n, &mut f);
                None
            } else {
                match level_at(filter, pos) {
                    ("#", _) => {
                        // "a/#" matches "a" too.
                        self.report(n, &mut f);
                        hash_depth = depth;
                        self.next_child(node, 0).map(|(i, c)| (i, c, pos))
                    }
                    ("+", next) => self.next_child(node, 0).map(|(i, c)| (i, c, next)),
                    (level, next) => n
                        .children
                        .find(level)
                        .ok()
                        .and_then(|i| Some((i, n.children.node_at(i)?, next))),
                }
            };
            if let Some((index, child, child_pos)) = down {
                depth += 1;
                set_cursor(&mut cursors, depth, index);
                node = child;
                pos = child_pos;
                continue 'arrive;
            }
            // `node` and its subtree are done: climb to the next sibling to visit.
            loop {
                if node == ROOT {
                    return;
                }
                let parent = self.node(node).parent;
                let in_subtree = depth > hash_depth;
                let parent_pos = if in_subtree {
                    pos
                } else {
                    prev_level_start(filter, pos)
                };
                if in_subtree || level_at(filter, parent_pos).0 == "+" {
                    let index = match cursors.get(depth) {
                        Some(&i) => i as usize,
                        None => self
                            .node(parent)
                            .children
                            .position(node)
                            .unwrap_or(usize::MAX - 1),
                    };
                    if let Some((i, sibling)) = self.next_child(parent, index + 1) {
                        set_cursor(&mut cursors, depth, i);
                        node = sibling;
                        continue 'arrive;
                    }
                }
                node = parent;
                depth -= 1;
                pos = parent_pos;
                if depth == hash_depth {
                    hash_depth = usize::MAX;
                }
            }
        }
    }

    /// Calls `f(&msg)` for every retained message, in no particular order
    /// (for a snapshot of the store).
    pub fn for_each(&self, mut f: impl FnMut(&M)) {
        for (_, node) in self.nodes.iter() {
            if let Some(m) = &node.msg {
                f(m);
            }
        }
    }

    /// Number of retained messages.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no message is retained.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Called for `$SYS` statistics and memory tests. Returns the number of
    /// live nodes besides the root: 0 when the store is empty.
    pub fn node_count(&self) -> usize {
        self.nodes.len() - 1
    }

    fn report(&self, n: &Node<M>, f: &mut impl FnMut(&M)) {
        if let Some(m) = &n.msg {
            f(m);
        }
    }

    /// Returns the first child of `node` at index `from` or later, skipping
    /// '$' levels under the root, since the walk only asks while matching a
    /// wildcard level [MQTT-4.7.2-1].
    fn next_child(&self, node: u32, from: usize) -> Option<(usize, u32)> {
        let children = &self.node(node).children;
        (from..children.len()).find_map(|i| {
            let dollar = node == ROOT && children.level_at(i)?.starts_with('$');
            if dollar {
                None
            } else {
                Some((i, children.node_at(i)?))
            }
        })
    }

    fn node(&self, id: u32) -> &Node<M> {
        &self.nodes[id as usize]
    }

    fn node_mut(&mut self, id: u32) -> &mut Node<M> {
        &mut self.nodes[id as usize]
    }

    /// Returns the node for `topic`, if it exists.
    fn find(&self, topic: &str) -> Option<u32> {
        let mut node = ROOT;
        for level in topic.split('/') {
            node = self.node(node).children.get(level)?;
        }
        Some(node)
    }

    /// Returns `node`'s child for `level`, made if missing.
    fn child_or_insert(&mut self, node: u32, level: &str) -> u32 {
        let at = match self.node(node).children.find(level) {
            Ok(i) => {
                if let Some(child) = self.node(node).children.node_at(i) {
                    return child;
                }
                i
            }
            Err(i) => i,
        };
        let key = self.nodes.insert(Node::new(node));
        let child = u32::try_from(key).expect("retained node count fits in u32");
        self.node_mut(node).children.insert(at, level, child);
        child
    }

    /// Frees `node` and then its ancestors while they hold nothing. `topic` is
    /// the topic that leads to `node`; its levels are read backwards.
    fn prune(&mut self, mut node: u32, topic: &str) {
        let mut levels = topic.rsplit('/');
        while node != ROOT {
            let n = self.node(node);
            if n.msg.is_some() || !n.children.is_empty() {
                return;
            }
            let parent = n.parent;
            let Some(level) = levels.next() else {
                return;
            };
            self.node_mut(parent).children.remove(level);
            self.nodes.remove(node as usize);
            node = parent;
        }
    }
}

/// Records that the walk's node at `depth` is child `index` of its parent,
/// when `depth` is within the fixed cursor array.
fn set_cursor(cursors: &mut [u32; CURSORS], depth: usize, index: usize) {
    if let Some(c) = cursors.get_mut(depth) {
        *c = u32::try_from(index).unwrap_or(u32::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(store: &RetainedStore<u32>, filter: &str) -> Vec<u32> {
        let mut out = Vec::new();
        store.for_each_match(filter, |m| out.push(*m));
        out.sort_unstable();
        out
    }

    #[test]
    fn insert_replace_get_remove() {
        let mut s = RetainedStore::new();
        assert!(s.is_empty());
        assert_eq!(s.insert("a/b", 1), None);
        assert_eq!(s.insert("a/b", 2), Some(1));
        assert_eq!(s.insert("a", 3), None);
        assert_eq!(s.len(), 2);
        assert_eq!(s.get("a/b"), Some(&2));
        assert_eq!(s.get("a"), Some(&3));
        assert_eq!(s.get("a/b/c"), None);
        assert_eq!(s.get("b"), None);
        assert_eq!(s.remove("a/b/c"), None);
        assert_eq!(s.remove("a/b"), Some(2));
        assert_eq!(s.remove("a/b"), None);
        // "a" keeps its node; "a/b" is gone.
        assert_eq!(s.node_count(), 1);
        assert_eq!(s.remove("a"), Some(3));
        assert!(s.is_empty());
        assert_eq!(s.node_count(), 0);
    }

    #[test]
    fn removing_an_inner_topic_keeps_its_descendants() {
        let mut s = RetainedStore::new();
        s.insert("a", 1);
        s.insert("a/b/c", 2);
        assert_eq!(s.remove("a/b"), None);
        assert_eq!(s.remove("a"), Some(1));
        assert_eq!(s.get("a/b/c"), Some(&2));
        assert_eq!(s.node_count(), 3);
    }

    #[test]
    fn matching_tables_mqtt_4_7_1() {
        let mut s = RetainedStore::new();
        let topics = [
            "sport",                                // 0
            "sport/",                               // 1
            "sport/tennis",                         // 2
            "sport/tennis/player1",                 // 3
            "sport/tennis/player1/ranking",         // 4
            "sport/tennis/player1/score/wimbledon", // 5
            "/finance",                             // 6
            "finance",                              // 7
        ];
        for (i, t) in topics.iter().enumerate() {
            s.insert(t, i as u32);
        }
        assert_eq!(matches(&s, "sport/tennis/player1/#"), [3, 4, 5]);
        assert_eq!(matches(&s, "sport/#"), [0, 1, 2, 3, 4, 5]);
        assert_eq!(matches(&s, "sport/tennis/+"), [3]);
        assert_eq!(matches(&s, "sport/+"), [1, 2]);
        assert_eq!(matches(&s, "+/+"), [1, 2, 6]);
        assert_eq!(matches(&s, "/+"), [6]);
        assert_eq!(matches(&s, "+"), [0, 7]);
        assert_eq!(matches(&s, "#"), [0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(matches(&s, "+/tennis/#"), [2, 3, 4, 5]);
        assert_eq!(matches(&s, "+/+/+/+"), [4]);
        assert_eq!(matches(&s, "sport/tennis"), [2]);
        assert_eq!(matches(&s, "tennis/#"), Vec::<u32>::new());
    }

    #[test]
    fn dollar_topics_skip_root_wildcards_mqtt_4_7_2_1() {
        let mut s = RetainedStore::new();
        s.insert("$SYS/monitor/Clients", 1);
        s.insert("$SYS", 2);
        s.insert("x/monitor/Clients", 3);
        s.insert("a/$b", 4);
        assert_eq!(matches(&s, "#"), [3, 4]);
        assert_eq!(matches(&s, "+/monitor/Clients"), [3]);
        assert_eq!(matches(&s, "+"), Vec::<u32>::new());
        assert_eq!(matches(&s, "$SYS/#"), [1, 2]);
        assert_eq!(matches(&s, "$SYS/monitor/+"), [1]);
        assert_eq!(matches(&s, "a/+"), [4]);
    }

    #[test]
    fn deep_topics_walk_past_the_cursor_array() {
        // Deeper than CURSORS, with siblings at every level, so the walk must
        // find sibling indexes by scanning below the fixed array.
        let depth = 3 * CURSORS;
        let mut s = RetainedStore::new();
        let mut topic = String::from("r");
        let mut want = Vec::new();
        for d in 0..depth {
            for sib in ["a", "b"] {
                let t = format!("{topic}/{sib}");
                s.insert(&t, (2 * d + usize::from(sib == "b")) as u32);
                want.push((2 * d + usize::from(sib == "b")) as u32);
            }
            topic.push_str("/a");
        }
        assert_eq!(matches(&s, "r/#"), want);
        assert_eq!(matches(&s, "#"), want);
        let plus_path = vec!["+"; depth].join("/");
        // Only "r/a/.../a/{a,b}" at that depth: the last pair.
        let last = 2 * (depth - 1) as u32;
        assert_eq!(matches(&s, &format!("r/{plus_path}")), [last, last + 1]);
    }

    #[test]
    fn very_deep_topic_needs_no_stack() {
        let deep = vec!["a"; 30_000].join("/");
        let mut s = RetainedStore::new();
        s.insert(&deep, 1u32);
        s.insert("a", 2);
        assert_eq!(matches(&s, "#"), [1, 2]);
        assert_eq!(matches(&s, &vec!["+"; 30_000].join("/")), [1]);
        assert_eq!(s.remove(&deep), Some(1));
        assert_eq!(s.node_count(), 1);
    }
}
