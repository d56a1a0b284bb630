//! Mosquitto-format ACL files (`acl_file`): who may publish to and receive
//! from which topics, decided as Mosquitto 2.0's built-in ACL check
//! decides.
//!
//! Contract: [`Acl::parse`] (or [`Acl::load`]) once per (re)load; at
//! CONNECT [`Acl::for_client`] gives the client's [`ClientAcl`], with the
//! patterns already substituted, and the broker asks it
//! [`can_write`](ClientAcl::can_write) per PUBLISH and for the will,
//! [`can_read`](ClientAcl::can_read) per delivered or retained message,
//! and [`subscription`](ClientAcl::subscription) per SUBSCRIBE filter
//! (for a shared subscription, the filter without its `$share/GROUP/`
//! prefix). After a reload every client needs a new `ClientAcl`. The
//! per-message checks neither substitute nor allocate; they walk the
//! client's rules, which are few.
//!
//! # The file (`aclfile__parse`)
//! One rule or statement per line (the `parse` module has the details):
//! `topic [read|write|readwrite|deny] FILTER` (readwrite when the word is
//! left out), `pattern ...` of the same form, `user NAME`, and `#`
//! comments. The `topic` lines before the first `user` line are the
//! anonymous section, for clients without a user name; `pattern` lines
//! apply to every client wherever they stand.
//!
//! As in Mosquitto, an unknown keyword or access word, a missing filter
//! or user name, and a filter that is not a valid topic filter make the
//! file fail, naming the line; `%c` and `%u` in a `topic` line are plain
//! text. Stricter than Mosquitto: `topic read` with no filter fails (for
//! Mosquitto it is readwrite access to a topic named `read`), and so does
//! a rule line that is not UTF-8 ([`Acl::load`]), which no MQTT topic or
//! user name could match. Laxer: an indented line or an indented comment
//! is accepted (Mosquitto refuses a line that starts with a tab, or with
//! spaces and then `#`).
//!
//! # A check (`mosquitto_acl_check` and `mosquitto_acl_check_default`)
//! 1. Writing to a topic that starts with `$SYS` is refused, except
//!    `$SYS/broker/connection/+/state` (a bridge's status), and so is
//!    reading or writing a topic that starts with `$share`
//!    (`acl__check_dollar`). The broker's own `$SYS` publications are not
//!    checked; their delivery is, with `can_read`.
//! 2. The client's section: the user's own for a client with a user name
//!    (a user without a section has none: the anonymous one is not a
//!    fallback), the anonymous one for a client without. Its `deny` rules
//!    come first (`add__acl` puts them at the front): one that matches
//!    refuses; otherwise a matching rule with the access asked for grants.
//! 3. If the file has any `pattern` line and the client id or user name
//!    holds `+` or `#`, refuse (Mosquitto 2.0 no longer refuses `/`, which
//!    makes a pattern span more levels).
//! 4. The patterns, `%c` replaced by the client id and `%u` by the user
//!    name as plain text; a pattern with `%u` is skipped for a client
//!    without a user name. Denies first again, then grants.
//! 5. Otherwise refuse: with an ACL file, a client without rules may do
//!    nothing.
//!
//! A rule matches a topic as a subscription filter does, including
//! [MQTT-4.7.2-1]: `topic read #` does not grant `$SYS/broker/uptime`, and
//! reading `$SYS` needs a rule such as `topic read $SYS/#`. A user's grant
//! decides before a pattern's deny.
//!
//! Mosquitto 2.0 does not check SUBSCRIBE against the file at all (only
//! what is delivered); [`ClientAcl::subscription`] lets the broker refuse
//! a filter that can never deliver anything, and skip the check per
//! message where everything it can deliver is readable.

mod classify;
mod parse;
mod rules;

#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::rc::Rc;

pub use classify::FilterAccess;
use rules::{substitute, Access, Pattern, Rule, Rules, READ, WRITE};

use crate::auth::AuthFileError;
use crate::topic::filter_matches;

/// A parsed ACL file.
#[derive(Debug)]
pub struct Acl {
    /// The anonymous section; `None` when it has no rules.
    anonymous: Option<Rc<Rules>>,
    /// Each user's section.
    users: HashMap<Box<str>, Rc<Rules>>,
    /// Every `pattern` line, in file order.
    patterns: Box<[Pattern]>,
    /// The patterns without `%c` and `%u`, shared by every client for
    /// which no other pattern applies; `None` when there are none.
    fixed_patterns: Option<Rc<Rules>>,
}

/// The rules of one connected client, from [`Acl::for_client`]. Two shared
/// lists: cloning is cheap, and a client to which no varying pattern
/// applies holds no rules of its own.
#[derive(Debug, Clone)]
pub struct ClientAcl {
    /// The client's section (step 2 of the module doc).
    user: Option<Rc<Rules>>,
    /// The patterns as they read for this client (step 4), `None` when
    /// none apply or step 3 refuses.
    patterns: Option<Rc<Rules>>,
}

/// Called per PUBLISH from a client, with or without an ACL file (step 1
/// of the module doc, `acl__check_dollar`). Returns true when no client
/// may publish to `topic`: `$SYS` (but a bridge's
/// `$SYS/broker/connection/+/state`) is the broker's, and `$share` names
/// shared subscriptions, not topics.
pub fn reserved_topic(topic: &str) -> bool {
    if !topic.starts_with('$') {
        return false;
    }
    (topic.starts_with("$SYS") && !filter_matches("$SYS/broker/connection/+/state", topic))
        || topic.starts_with("$share")
}

/// `Some(rules)` unless `rules` is empty.
fn shared(rules: Vec<Rule>) -> Option<Rc<Rules>> {
    (!rules.is_empty()).then(|| Rc::new(Rules::new(rules)))
}

impl Acl {
    /// Called when the config names an `acl_file`, with its text; `name`
    /// is how errors name the file. Returns the ACL, or the first
    /// malformed line as an error naming `name` and the line.
    pub fn parse(name: &str, text: &str) -> Result<Acl, AuthFileError> {
        let parsed = parse::parse(name, text)?;
        let fixed = parsed
            .patterns
            .iter()
            .filter(|p| !p.varies)
            .map(|p| p.rule.clone())
            .collect();
        Ok(Acl {
            anonymous: shared(parsed.anonymous),
            users: parsed
                .users
                .into_iter()
                .map(|(user, rules)| (user, Rc::new(Rules::new(rules))))
                .collect(),
            patterns: parsed.patterns.into_boxed_slice(),
            fixed_patterns: shared(fixed),
        })
    }

    /// Called at startup and on reload with the config's `acl_file`.
    /// Returns the parsed file, or an error naming it: without a line when
    /// it cannot be read, with the line when one is malformed (a line that
    /// is not UTF-8 counts as malformed unless it is a comment).
    pub fn load(path: &Path) -> Result<Acl, AuthFileError> {
        let name = path.display().to_string();
        let bytes = fs::read(path).map_err(|e| AuthFileError {
            file: name.clone(),
            line: None,
            message: e.to_string(),
        })?;
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => utf8_lines(&name, e.as_bytes())?,
        };
        Acl::parse(&name, &text)
    }

    /// Called at CONNECT, once the client id (assigned, if the client sent
    /// none) and the user name are known. Returns the rules that apply to
    /// this client, with `%c` and `%u` substituted.
    pub fn for_client(&self, username: Option<&str>, client_id: &str) -> ClientAcl {
        let user = match username {
            Some(name) => self.users.get(name).cloned(),
            None => self.anonymous.clone(),
        };
        let dangerous = |s: &str| s.contains(['+', '#']);
        let patterns = if self.patterns.is_empty()
            || dangerous(client_id)
            || username.is_some_and(dangerous)
        {
            None
        } else {
            let applies = |p: &&Pattern| !p.needs_username || username.is_some();
            if self.patterns.iter().filter(applies).any(|p| p.varies) {
                let rules = self
                    .patterns
                    .iter()
                    .filter(applies)
                    .map(|p| Rule {
                        filter: substitute(&p.rule.filter, client_id, username).into(),
                        access: p.rule.access,
                    })
                    // An empty filter (`%c` for an empty id) matches no
                    // topic.
                    .filter(|r| !r.filter.is_empty())
                    .collect();
                shared(rules)
            } else {
                self.fixed_patterns.clone()
            }
        };
        ClientAcl { user, patterns }
    }
}

/// Called by [`Acl::load`] for a file that is not all UTF-8. Returns its
/// text with the comment lines that are not UTF-8 left empty, or an error
/// naming the first other line that is not.
fn utf8_lines(name: &str, bytes: &[u8]) -> Result<String, AuthFileError> {
    let mut text = String::with_capacity(bytes.len());
    for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if index > 0 {
            text.push('\n');
        }
        match std::str::from_utf8(line) {
            Ok(line) => text.push_str(line),
            Err(_) if line.trim_ascii_start().starts_with(b"#") => {}
            Err(_) => {
                return Err(AuthFileError {
                    file: name.to_string(),
                    line: Some(index + 1),
                    message: "the line is not UTF-8".into(),
                })
            }
        }
    }
    Ok(text)
}

impl ClientAcl {
    /// Called per list in order. Returns the first list's decision.
    fn decide(&self, topic: &str, want: Access) -> bool {
        let decided = self.user.as_ref().and_then(|u| u.decide(topic, want));
        decided
            .or_else(|| self.patterns.as_ref().and_then(|p| p.decide(topic, want)))
            .unwrap_or(false)
    }

    /// Called per PUBLISH from the client and for its will. Returns true
    /// when the client may publish to `topic`.
    /// Precondition: `valid_topic_name(topic)`.
    pub fn can_write(&self, topic: &str) -> bool {
        !reserved_topic(topic) && self.decide(topic, WRITE)
    }

    /// Called per message about to be delivered to the client (including
    /// retained messages) whose subscription was
    /// [`FilterAccess::PerTopic`]. Returns true when the client may
    /// receive a message published to `topic`.
    /// Precondition: `valid_topic_name(topic)`.
    pub fn can_read(&self, topic: &str) -> bool {
        !topic.starts_with("$share") && self.decide(topic, READ)
    }

    /// Called per SUBSCRIBE filter (for a shared subscription, the filter
    /// after `$share/GROUP/`). Returns [`FilterAccess::All`] when every
    /// topic the filter can match is readable, [`FilterAccess::None`] when
    /// none is, [`FilterAccess::PerTopic`] otherwise or when the rules are
    /// too involved to tell. `All` and `None` are never wrong. Allocates a
    /// little; the time grows with the product of the client's grants and
    /// denies. Precondition: `valid_topic_filter(filter)`.
    pub fn subscription(&self, filter: &str) -> FilterAccess {
        // Topics under `$share` are never readable (see `can_read`); only a
        // literal first level reaches them.
        if filter.starts_with("$share") {
            return FilterAccess::None;
        }
        classify::classify(filter, self.user.as_deref(), self.patterns.as_deref())
    }
}
