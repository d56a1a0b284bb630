//! One list of rules (a user's section, the anonymous section, or the
//! patterns as they read for one client) and the decision it makes for a
//! topic.
//!
//! Mosquitto keeps every `deny` rule ahead of the grants of its list
//! (`add__acl`, `add__acl_pattern`) and stops at the first rule that
//! matches and either denies or grants the access asked for
//! (`mosquitto_acl_check_default`). So a list decides "denied" when any of
//! its deny rules matches, else "granted" when any grant with the access
//! matches, else nothing and the caller asks the next list: the order of
//! the rules inside each part does not matter, and [`Rules`] keeps the
//! denies first only so that one pass answers.

use crate::topic::filter_matches;

/// What a rule allows: a set of these bits, `0` for `deny`.
pub(super) type Access = u8;
/// Receiving a message (delivery, retained messages).
pub(super) const READ: Access = 1;
/// Sending a message (PUBLISH, the will).
pub(super) const WRITE: Access = 2;
/// The `deny` access word: matches take every access away.
pub(super) const DENY: Access = 0;

/// One `topic` or `pattern` line (a pattern's filter already substituted
/// when it sits in a client's list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rule {
    pub(super) filter: Box<str>,
    pub(super) access: Access,
}

/// A list of rules, the denies first.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Rules {
    rules: Box<[Rule]>,
    denies: usize,
}

impl Rules {
    /// Called when a section is complete (parse) or a client's patterns
    /// are substituted (`Acl::for_client`). Returns the list of `rules` in
    /// checking order.
    pub(super) fn new(rules: Vec<Rule>) -> Rules {
        // Splitting keeps the file order inside each part, which makes the
        // debug output follow the file (and costs less code than a sort).
        let (mut rules, grants): (Vec<Rule>, Vec<Rule>) =
            rules.into_iter().partition(|r| r.access == DENY);
        let denies = rules.len();
        rules.extend(grants);
        Rules {
            rules: rules.into_boxed_slice(),
            denies,
        }
    }

    /// Called per PUBLISH or delivery. Returns `Some(false)` when a deny
    /// rule matches `topic`, `Some(true)` when a rule granting `want`
    /// matches it, `None` when this list has nothing to say.
    /// Precondition: `valid_topic_name(topic)`.
    pub(super) fn decide(&self, topic: &str, want: Access) -> Option<bool> {
        if self
            .denies()
            .iter()
            .any(|r| filter_matches(&r.filter, topic))
        {
            return Some(false);
        }
        self.grants(want)
            .any(|r| filter_matches(&r.filter, topic))
            .then_some(true)
    }

    /// The deny rules.
    pub(super) fn denies(&self) -> &[Rule] {
        &self.rules[..self.denies]
    }

    /// The rules that grant `want` (all of it).
    pub(super) fn grants(&self, want: Access) -> impl Iterator<Item = &Rule> {
        self.rules[self.denies..]
            .iter()
            .filter(move |r| (r.access & want) == want)
    }
}

/// A `pattern` line as parsed: its filter with `%c` / `%u` still in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Pattern {
    pub(super) rule: Rule,
    /// Holds `%c` or `%u`, so it reads differently for each client.
    pub(super) varies: bool,
    /// Holds `%u`, so it does not apply to a client without a user name.
    pub(super) needs_username: bool,
}

impl Pattern {
    /// Called per `pattern` line. Returns the pattern of `rule`.
    pub(super) fn new(rule: Rule) -> Pattern {
        let needs_username = rule.filter.contains("%u");
        let varies = needs_username || rule.filter.contains("%c");
        Pattern {
            rule,
            varies,
            needs_username,
        }
    }
}

/// Called by `Acl::for_client` per pattern that applies. Returns the
/// pattern's filter with `%c` replaced by `client_id` and `%u` by
/// `username`, as Mosquitto substitutes: as plain text, left to right, one
/// `%` at a time (so `%%c` keeps the first `%`), and `%u` stays as it is
/// when there is no user name (the caller has already skipped such a
/// pattern).
pub(super) fn substitute(pattern: &str, client_id: &str, username: Option<&str>) -> String {
    let mut out = String::with_capacity(pattern.len() + client_id.len());
    let mut rest = pattern;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        match (after.as_bytes().first(), username) {
            (Some(b'c'), _) => {
                out.push_str(client_id);
                rest = &after[1..];
            }
            (Some(b'u'), Some(user)) => {
                out.push_str(user);
                rest = &after[1..];
            }
            _ => {
                out.push('%');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(filter: &str, access: Access) -> Rule {
        Rule {
            filter: filter.into(),
            access,
        }
    }

    #[test]
    fn denies_come_first_and_decide_before_grants() {
        let rules = Rules::new(vec![
            rule("a/#", READ | WRITE),
            rule("a/secret", DENY),
            rule("b", WRITE),
        ]);
        assert_eq!(rules.denies(), [rule("a/secret", DENY)]);
        assert_eq!(rules.decide("a/secret", READ), Some(false));
        assert_eq!(rules.decide("a/secret", WRITE), Some(false));
        assert_eq!(rules.decide("a/open", READ), Some(true));
        assert_eq!(rules.decide("b", READ), None);
        assert_eq!(rules.decide("b", WRITE), Some(true));
        assert_eq!(rules.decide("c", READ), None);
    }

    #[test]
    fn substitution_is_textual_like_mosquitto() {
        assert_eq!(substitute("d/%c/s", "id", Some("u")), "d/id/s");
        assert_eq!(substitute("d/%u/%c", "id", Some("u")), "d/u/id");
        assert_eq!(substitute("d/x%cy", "id", None), "d/xidy");
        assert_eq!(substitute("%c%c", "ab", None), "abab");
        assert_eq!(substitute("%%c", "id", None), "%id");
        assert_eq!(substitute("a/%", "id", None), "a/%");
        assert_eq!(substitute("a/%x/%", "id", Some("u")), "a/%x/%");
        assert_eq!(substitute("a/%u", "id", None), "a/%u");
        assert_eq!(substitute("%c", "a/b", None), "a/b");
        assert_eq!(substitute("é%cé", "ü", None), "éüé");
    }

    #[test]
    fn patterns_know_what_they_need() {
        let p = Pattern::new(rule("a/%c", READ));
        assert!(p.varies && !p.needs_username);
        let p = Pattern::new(rule("a/%u", READ));
        assert!(p.varies && p.needs_username);
        let p = Pattern::new(rule("a/b", READ));
        assert!(!p.varies && !p.needs_username);
    }
}
