//! The ACL file's lines, read as Mosquitto's `aclfile__parse` reads them,
//! into the anonymous section, the user sections and the patterns.
//!
//! A line is trimmed of blanks (space, tab, CR, LF, VT, FF) at both ends;
//! one that is then empty or starts with `#` says nothing. Otherwise its
//! words are separated by spaces (a tab is part of a word, as in
//! Mosquitto) and the first is the keyword:
//! - `topic [ACCESS] FILTER` and `pattern [ACCESS] FILTER`: ACCESS is
//!   `read`, `write`, `readwrite` or `deny`, readwrite when left out; the
//!   filter is the rest of the line, so it may hold spaces when ACCESS is
//!   given, and must be a valid topic filter.
//! - `user NAME`: NAME is the rest of the line; the `topic` lines after
//!   it, up to the next `user` line, are NAME's. A second section for the
//!   same NAME adds to the first.

use std::collections::HashMap;

use super::rules::{Access, Pattern, Rule, DENY, READ, WRITE};
use crate::auth::AuthFileError;
use crate::topic::valid_topic_filter;

/// A parsed file: each section's rules in file order.
#[derive(Debug, Default)]
pub(super) struct Parsed {
    /// The `topic` lines before the first `user` line.
    pub(super) anonymous: Vec<Rule>,
    /// The `topic` lines of each `user` section, by user name.
    pub(super) users: HashMap<Box<str>, Vec<Rule>>,
    /// Every `pattern` line, wherever it stands.
    pub(super) patterns: Vec<Pattern>,
}

/// The blanks that Mosquitto trims off a line (C's `isspace`).
fn blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// Splits off the first space-separated word of `s` (which starts with a
/// non-space). Returns the word and what follows its ending space, if
/// anything does.
fn word(s: &str) -> (&str, Option<&str>) {
    match s.split_once(' ') {
        Some((w, rest)) => (w, Some(rest)),
        None => (s, None),
    }
}

/// The access word of a `topic` or `pattern` line.
fn access(w: &str) -> Option<Access> {
    match w {
        "read" => Some(READ),
        "write" => Some(WRITE),
        "readwrite" => Some(READ | WRITE),
        "deny" => Some(DENY),
        _ => None,
    }
}

/// Called by `Acl::parse`. Returns the sections of `text`, or the first
/// malformed line as an error naming `name` and the line.
pub(super) fn parse(name: &str, text: &str) -> Result<Parsed, AuthFileError> {
    let mut parsed = Parsed::default();
    let mut user: Option<Box<str>> = None;
    for (index, raw) in text.split('\n').enumerate() {
        let fail = |message: String| AuthFileError {
            file: name.to_string(),
            line: Some(index + 1),
            message,
        };
        let line = raw.trim_matches(blank);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (keyword, rest) = word(line);
        match keyword {
            "topic" | "pattern" => {
                let rule = rule_line(keyword, rest).map_err(fail)?;
                if keyword == "pattern" {
                    parsed.patterns.push(Pattern::new(rule));
                } else if let Some(u) = &user {
                    parsed.users.entry(u.clone()).or_default().push(rule);
                } else {
                    parsed.anonymous.push(rule);
                }
            }
            "user" => {
                let name = rest.map(|r| r.trim_matches(blank)).unwrap_or_default();
                if name.is_empty() {
                    return Err(fail("`user` without a user name".into()));
                }
                user = Some(name.into());
            }
            other => {
                let hint = if other.contains('\t') {
                    " (words are separated by spaces, not tabs)"
                } else {
                    ""
                };
                return Err(fail(format!(
                    "unknown keyword {other:?}: expected topic, pattern or user{hint}"
                )));
            }
        }
    }
    Ok(parsed)
}

/// Reads what follows the keyword of a `topic` or `pattern` line. Returns
/// its rule, or why the line is malformed.
fn rule_line(keyword: &str, rest: Option<&str>) -> Result<Rule, String> {
    let rest = rest.map(|r| r.trim_start_matches(' ')).unwrap_or_default();
    if rest.is_empty() {
        return Err(format!("`{keyword}` without a topic filter"));
    }
    let (first, after) = word(rest);
    let after = after.map(|a| a.trim_matches(blank)).unwrap_or_default();
    let (access, filter) = if after.is_empty() {
        // Mosquitto reads `topic read` as readwrite access to a topic
        // named "read"; that is almost surely a forgotten topic.
        if access(first).is_some() {
            return Err(format!("`{keyword} {first}` without a topic filter"));
        }
        (READ | WRITE, first)
    } else {
        let access = access(first).ok_or_else(|| {
            format!("unknown access {first:?}: expected read, write, readwrite or deny")
        })?;
        (access, after)
    };
    if !valid_topic_filter(filter) {
        return Err(format!("invalid topic filter {filter:?}"));
    }
    Ok(Rule {
        filter: filter.into(),
        access,
    })
}
