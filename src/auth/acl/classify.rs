//! What a subscription filter may ever read: [`FilterAccess`], from two
//! exact relations between topic filters.
//!
//! - `meet(F, G)`: the topics that match both F and G are exactly the
//!   topics of one filter (or none): level by level a literal meets an
//!   equal literal or `+`, `+` meets `+`, and `#` takes the rest of the
//!   other filter (including nothing, as `a/#` matches `a`).
//! - `covers(G, F)`: every topic that matches F matches G: where G has a
//!   literal F has the same literal, where G has `+` F has a literal or
//!   `+`, and G's `#` covers whatever F has left.
//!
//! Both keep [MQTT-4.7.2-1]: a wildcard first level matches no topic that
//! starts with `$`. Read as levels, the filter `#` is `+/#` (a topic has at
//! least one level), which puts every first-level wildcard on a `+` and
//! keeps the `$` rule in one place. Both relations are exact over topics
//! of any length; a topic name's 64 KiB limit only makes them conservative
//! (a meet whose topics are all too long is still taken as non-empty).
//!
//! With them, the readable set of a client is (`U`: the user's or
//! anonymous section, `P`: the patterns as substituted for the client,
//! `+`/`-` on sets of topics)
//! `R = (U.grants + (P.grants - P.denies)) - U.denies`, since the section
//! decides before the patterns and each list's denies before its grants.
//! A filter F is
//! - `None` when every grant G of U has its `meet(F, G)` empty or covered
//!   by one deny of U, and every grant of P likewise with the denies of U
//!   and P;
//! - `All` when F meets no deny of U and either one grant of U covers F,
//!   or one grant of P covers F and every deny of P that F meets is
//!   covered, where they meet, by a grant of U;
//! - `PerTopic` otherwise. The answer is exact when a single rule decides
//!   (the common case); only a union of several rules doing what one would
//!   (grants `a` and `a/+/#` together covering `a/#`) gives `PerTopic`
//!   where `All` or `None` would be true.

use super::rules::{Rules, READ};

/// What a client may read through one subscription filter, from
/// [`ClientAcl::subscription`](super::ClientAcl::subscription).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterAccess {
    /// Every topic the filter can match is readable: deliver without a
    /// check per message.
    All,
    /// No topic the filter can match is readable: refuse the subscription
    /// (SUBACK 0x80, or 0x87 Not authorized for MQTT 5).
    None,
    /// Some topics are readable and some not, or the rules are too
    /// involved to tell: check `can_read` per delivered message.
    PerTopic,
}

/// One level of a topic filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level<'a> {
    Literal(&'a str),
    Plus,
    Hash,
}

/// The levels of `filter`, with the filter `#` read as `+/#`.
fn levels(filter: &str) -> impl Iterator<Item = Level<'_>> {
    let lead = (filter == "#").then_some(Level::Plus);
    lead.into_iter().chain(filter.split('/').map(|l| match l {
        "+" => Level::Plus,
        "#" => Level::Hash,
        _ => Level::Literal(l),
    }))
}

/// A literal that a first-level wildcard does not match.
fn dollar(level: &str) -> bool {
    level.starts_with('$')
}

/// Writes `meet(x, g)` into `out`. Returns false when no topic matches
/// both (then `out` holds nothing useful).
fn meet<'a>(x: &[Level<'a>], g: &'a str, out: &mut Vec<Level<'a>>) -> bool {
    out.clear();
    let mut g = levels(g);
    let mut i = 0;
    loop {
        let level = match (x.get(i).copied(), g.next()) {
            (None, None) | (Some(Level::Hash), None) | (None, Some(Level::Hash)) => return true,
            (None, Some(_)) | (Some(_), None) => return false,
            (Some(Level::Hash), Some(first)) => {
                out.push(first);
                out.extend(g);
                return true;
            }
            (Some(_), Some(Level::Hash)) => {
                out.extend_from_slice(&x[i..]);
                return true;
            }
            (Some(Level::Plus), Some(Level::Plus)) => Level::Plus,
            (Some(Level::Plus), Some(Level::Literal(l)))
            | (Some(Level::Literal(l)), Some(Level::Plus)) => {
                if i == 0 && dollar(l) {
                    return false;
                }
                Level::Literal(l)
            }
            (Some(Level::Literal(a)), Some(Level::Literal(b))) => {
                if a != b {
                    return false;
                }
                Level::Literal(a)
            }
        };
        out.push(level);
        i += 1;
    }
}

/// Returns true when every topic that matches `x` matches the filter `g`.
fn covers(g: &str, x: &[Level<'_>]) -> bool {
    let mut g = levels(g);
    let mut i = 0;
    loop {
        let same = match (g.next(), x.get(i).copied()) {
            (Some(Level::Hash), _) | (None, None) => return true,
            (None, Some(_)) | (Some(_), None) | (Some(_), Some(Level::Hash)) => return false,
            (Some(Level::Plus), Some(Level::Plus)) => true,
            (Some(Level::Plus), Some(Level::Literal(l))) => !(i == 0 && dollar(l)),
            (Some(Level::Literal(a)), Some(Level::Literal(b))) => a == b,
            (Some(Level::Literal(_)), Some(Level::Plus)) => false,
        };
        if !same {
            return false;
        }
        i += 1;
    }
}

/// The filter, its levels, and a buffer for meets.
struct Query<'a> {
    filter: Vec<Level<'a>>,
    scratch: Vec<Level<'a>>,
}

impl<'a> Query<'a> {
    /// Returns true when `filter` and `g` have a topic in common.
    fn meets(&mut self, g: &'a str) -> bool {
        meet(&self.filter, g, &mut self.scratch)
    }

    /// Returns true when every topic of `filter` that matches a read grant
    /// of `grants` is denied by a rule of `denies` (one rule per grant).
    fn nothing_left(&mut self, grants: &'a Rules, denies: &[&'a Rules]) -> bool {
        grants.grants(READ).all(|g| {
            !self.meets(&g.filter)
                || denies
                    .iter()
                    .flat_map(|d| d.denies())
                    .any(|d| covers(&d.filter, &self.scratch))
        })
    }

    /// Returns true when `filter` meets a deny rule of `rules`.
    fn meets_deny(&mut self, rules: &'a Rules) -> bool {
        rules.denies().iter().any(|d| self.meets(&d.filter))
    }

    /// Returns true when one read grant of `rules` covers `filter`.
    fn granted(&self, rules: &Rules) -> bool {
        rules.grants(READ).any(|g| covers(&g.filter, &self.filter))
    }
}

/// Called by `ClientAcl::subscription` with the client's two lists.
/// Returns the filter's access (see the module doc).
/// Precondition: `valid_topic_filter(filter)`.
pub(super) fn classify(
    filter: &str,
    user: Option<&Rules>,
    patterns: Option<&Rules>,
) -> FilterAccess {
    let mut q = Query {
        filter: levels(filter).collect(),
        scratch: Vec::new(),
    };
    let none = user.is_none_or(|u| q.nothing_left(u, &[u]))
        && patterns.is_none_or(|p| {
            let denies: Vec<&Rules> = user.into_iter().chain([p]).collect();
            q.nothing_left(p, &denies)
        });
    if none {
        return FilterAccess::None;
    }
    if user.is_some_and(|u| q.meets_deny(u)) {
        return FilterAccess::PerTopic;
    }
    if user.is_some_and(|u| q.granted(u)) {
        return FilterAccess::All;
    }
    let by_patterns = patterns.is_some_and(|p| {
        q.granted(p)
            && p.denies().iter().all(|d| {
                !q.meets(&d.filter)
                    || user.is_some_and(|u| u.grants(READ).any(|g| covers(&g.filter, &q.scratch)))
            })
    });
    if by_patterns {
        FilterAccess::All
    } else {
        FilterAccess::PerTopic
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn met(x: &str, g: &str) -> Option<String> {
        let x: Vec<Level> = levels(x).collect();
        let mut out = Vec::new();
        meet(&x, g, &mut out).then(|| render(&out))
    }

    fn render(levels: &[Level]) -> String {
        let parts: Vec<&str> = levels
            .iter()
            .map(|l| match l {
                Level::Literal(s) => s,
                Level::Plus => "+",
                Level::Hash => "#",
            })
            .collect();
        parts.join("/")
    }

    fn covered(g: &str, x: &str) -> bool {
        let x: Vec<Level> = levels(x).collect();
        covers(g, &x)
    }

    #[test]
    fn meets_of_filters() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("a/#", "+/b", Some("a/b")),
            ("a/#", "a", Some("a")),
            ("a", "a/#", Some("a")),
            ("a/+", "a/#", Some("a/+")),
            ("#", "a/b", Some("a/b")),
            ("#", "+", Some("+")),
            ("#", "#", Some("+/#")),
            ("a/#", "a/+/c/#", Some("a/+/c/#")),
            ("+/+", "a/b/c", None),
            ("a/b", "a/c", None),
            ("a/+", "a", None),
            ("$SYS/#", "#", None),
            ("$SYS/#", "+/x", None),
            ("$SYS/#", "$SYS/+", Some("$SYS/+")),
            ("a/$x", "a/+", Some("a/$x")),
            ("a//b", "a/+/b", Some("a//b")),
        ];
        for &(x, g, want) in cases {
            assert_eq!(met(x, g).as_deref(), want, "meet({x:?}, {g:?})");
            assert_eq!(met(g, x).as_deref(), want, "meet({g:?}, {x:?})");
        }
    }

    #[test]
    fn covering_filters() {
        let cases: &[(&str, &str, bool)] = &[
            ("sensors/#", "sensors/+/temp", true),
            ("sensors/#", "sensors", true),
            ("sensors/#", "sensors/#", true),
            ("sensors/+/temp", "sensors/#", false),
            ("#", "a/b", true),
            ("#", "+/#", true),
            ("+/#", "#", true),
            ("#", "$SYS/x", false),
            ("+/x", "$SYS/x", false),
            ("$SYS/#", "$SYS/x", true),
            ("a/+", "a/b", true),
            ("a/+", "a/+", true),
            ("a/b", "a/+", false),
            ("a/+", "a/#", false),
            ("a/+/#", "a/#", false),
            ("a/#", "a/+/#", true),
            ("a", "a/#", false),
            ("a/b", "a", false),
            ("a", "a/b", false),
            ("+/+", "a/$x", true),
        ];
        for &(g, x, want) in cases {
            assert_eq!(covered(g, x), want, "covers({g:?}, {x:?})");
        }
    }
}
