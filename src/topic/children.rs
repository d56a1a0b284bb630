//! The exact-level children of one arena node: a vector of
//! `(hash, level, node)` kept sorted by `(hash, level)`, found by bisecting
//! the hashes and then comparing the one or few levels with that hash.
//!
//! Each level string is stored once, here, in its parent. Measured in
//! `benches/topic.rs` (`child_lookup`, 8 lookups): bisecting on string order
//! costs a string comparison per step and loses to a `HashMap` at every
//! fan-out, even 4 (147 ns vs 66 ns at 4 children, 1.1 us vs 78 ns at
//! 10,000). Bisecting a stored 32-bit hash instead makes a whole match under
//! a 10,000-child node 93 ns (150 ns with string order, though part of that
//! gain is the walk's early stop, added at the same time), with entries no
//! larger than before on 64-bit, and no per-node table as a `HashMap` would
//! need. A separate hashed representation for very wide nodes is left for
//! when a profile asks for it. The order is stable, so the retained-store walk
//! can resume from an index.
//!
//! The hash is not keyed: levels crafted to collide under one node make its
//! lookups a scan of that node's colliding entries, never worse.

/// Sorted `(hash, level, node index)` entries of one node.
#[derive(Default)]
pub(crate) struct Children(Vec<(u32, Box<str>, u32)>);

/// Returns the 32-bit hash of one level (a multiply-rotate hash over 4-byte
/// words; fast on 32-bit ARM).
#[inline]
pub(crate) fn level_hash(level: &str) -> u32 {
    const K: u32 = 0x9E37_79B9;
    let mix = |h: u32, w: u32| (h.rotate_left(5) ^ w).wrapping_mul(K);
    let bytes = level.as_bytes();
    let mut h = mix(0, bytes.len() as u32);
    let mut words = bytes.chunks_exact(4);
    for w in &mut words {
        h = mix(
            h,
            u32::from_le_bytes(<[u8; 4]>::try_from(w).unwrap_or_default()),
        );
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 4];
        for (d, s) in w.iter_mut().zip(rest) {
            *d = *s;
        }
        h = mix(h, u32::from_le_bytes(w));
    }
    h
}

impl Children {
    /// Called on every exact level of a walk. Returns the child for `level`.
    #[inline]
    pub(crate) fn get(&self, level: &str) -> Option<u32> {
        if self.0.is_empty() {
            // A node reached only through '+' or '#' below it: no hash.
            return None;
        }
        self.find(level).ok().and_then(|i| self.node_at(i))
    }

    /// Returns `Ok(index)` of `level`, or `Err(index)` where it would go.
    #[inline]
    pub(crate) fn find(&self, level: &str) -> Result<usize, usize> {
        let h = level_hash(level);
        let mut i = self.0.partition_point(|e| e.0 < h);
        while let Some((eh, name, _)) = self.0.get(i) {
            if *eh != h {
                break;
            }
            match (**name).cmp(level) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Equal => return Ok(i),
                std::cmp::Ordering::Greater => break,
            }
        }
        Err(i)
    }

    /// Called when a new child node was made. Inserts `(level, node)` at
    /// `index`, a value `find(level)` returned as `Err`.
    pub(crate) fn insert(&mut self, index: usize, level: &str, node: u32) {
        self.0
            .insert(index, (level_hash(level), level.into(), node));
    }

    /// Called when a child node was freed. Removes `level`; returns its node.
    pub(crate) fn remove(&mut self, level: &str) -> Option<u32> {
        let index = self.find(level).ok()?;
        let (_, _, node) = self.0.remove(index);
        if self.0.capacity() > 4 * self.0.len() + 4 {
            self.0.shrink_to_fit();
        }
        Some(node)
    }

    /// Returns the child node at `index`.
    #[inline]
    pub(crate) fn node_at(&self, index: usize) -> Option<u32> {
        self.0.get(index).map(|e| e.2)
    }

    /// Returns the level name at `index`.
    #[inline]
    pub(crate) fn level_at(&self, index: usize) -> Option<&str> {
        self.0.get(index).map(|e| &*e.1)
    }

    /// Returns the index of child `node` by a linear scan (for walks deeper
    /// than their fixed cursor stack).
    pub(crate) fn position(&self, node: u32) -> Option<usize> {
        self.0.iter().position(|e| e.2 == node)
    }

    /// Number of children.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no children.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn finds_inserted_levels_and_removes_them() {
        let mut c = Children::default();
        let levels = ["b", "", "$SYS", "a", "bb", "metric0", "metric1"];
        for (n, level) in levels.iter().enumerate() {
            let at = c.find(level).unwrap_err();
            c.insert(at, level, n as u32 + 1);
        }
        for (n, level) in levels.iter().enumerate() {
            let i = c.find(level).unwrap();
            assert_eq!(c.level_at(i), Some(*level));
            assert_eq!(c.position(n as u32 + 1), Some(i));
            assert_eq!(c.get(level), Some(n as u32 + 1));
        }
        assert_eq!(c.get("c"), None);
        assert_eq!(c.remove("a"), Some(4));
        assert_eq!(c.remove("a"), None);
        assert_eq!(c.get("bb"), Some(5));
        assert_eq!(c.len(), levels.len() - 1);
    }

    #[test]
    fn colliding_levels_are_told_apart() {
        // Find two levels with the same hash (the birthday bound makes this
        // take about 80,000 tries for a 32-bit hash).
        let mut seen = HashMap::new();
        let (x, y) = (0u32..)
            .find_map(|i| {
                let level = format!("l{i}");
                let prev = seen.insert(level_hash(&level), level.clone())?;
                Some((prev, level))
            })
            .unwrap();
        assert_eq!(level_hash(&x), level_hash(&y));
        let mut c = Children::default();
        for (n, level) in [&y, "q", &x].into_iter().enumerate() {
            let at = c.find(level).unwrap_err();
            c.insert(at, level, n as u32 + 1);
        }
        assert_eq!(c.get(&y), Some(1));
        assert_eq!(c.get(&x), Some(3));
        assert_eq!(c.get("q"), Some(2));
        assert_eq!(c.remove(&y), Some(1));
        assert_eq!(c.get(&y), None);
        assert_eq!(c.get(&x), Some(3));
    }
}
