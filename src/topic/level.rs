//! Level cursors over a topic or filter string, without allocating.
//!
//! A cursor is the byte offset where a level starts; the position after the
//! last level is `len + 1`, so `"a/"` has the levels `"a"` (at 0) and `""`
//! (at 2) and is exhausted at 3. The tree walks keep only such offsets, which
//! lets them go down and back up a topic without a stack.

/// Called by the tree walks to read one level. Returns the level that starts at
/// `pos` and the position of the next level (`s.len() + 1` after the last one).
/// An exhausted `pos` yields `("", pos)`.
pub(crate) fn level_at(s: &str, pos: usize) -> (&str, usize) {
    let Some(rest) = s.get(pos..) else {
        return ("", pos);
    };
    match rest.bytes().position(|b| b == b'/') {
        Some(i) => (rest.get(..i).unwrap_or(""), pos + i + 1),
        None => (rest, s.len() + 1),
    }
}

/// Called when a walk climbs back to a parent node. `pos` is the position of
/// the level after the one that led to the child; returns the position of the
/// level that led to the child, i.e. the parent's cursor.
pub(crate) fn prev_level_start(s: &str, pos: usize) -> usize {
    let end = pos.saturating_sub(1).min(s.len());
    s.as_bytes()
        .get(..end)
        .and_then(|b| b.iter().rposition(|&c| c == b'/'))
        .map_or(0, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_levels_forward_and_back() {
        let s = "a//bc/";
        let mut pos = 0;
        let mut seen = Vec::new();
        let mut starts = Vec::new();
        while pos <= s.len() {
            starts.push(pos);
            let (level, next) = level_at(s, pos);
            seen.push(level);
            pos = next;
        }
        assert_eq!(seen, ["a", "", "bc", ""]);
        assert_eq!(pos, s.len() + 1);
        // Climbing back visits the same starts in reverse.
        for &start in starts.iter().rev() {
            assert_eq!(prev_level_start(s, pos), start);
            pos = start;
        }
    }

    #[test]
    fn single_level_and_exhausted_cursor() {
        assert_eq!(level_at("abc", 0), ("abc", 4));
        assert_eq!(level_at("abc", 4), ("", 4));
        assert_eq!(prev_level_start("abc", 4), 0);
        assert_eq!(level_at("/", 0), ("", 1));
        assert_eq!(level_at("/", 1), ("", 2));
        assert_eq!(prev_level_start("/", 2), 1);
        assert_eq!(prev_level_start("/", 1), 0);
    }
}
