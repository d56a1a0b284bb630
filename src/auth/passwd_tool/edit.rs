//! The edits `midge passwd` makes to a password file's text: pure
//! functions from the old text to the new. Every line they do not edit
//! (comments, blank lines, other users, whatever their hash) is kept byte
//! for byte, with its line ending (or its lack of one, at the end); a line
//! they write ends as the line it replaces did, or as the last line with
//! an ending does (`\n` when none has one).
//!
//! Lines are read with the broker's rules (`password::split_line`): a line
//! the broker would refuse is [`EditError::Corrupt`], and nothing is
//! written, as `mosquitto_passwd` does.

use std::fmt;
use std::io;

use crate::auth::password::{is_hash, split_line, Line};

/// Why an edit was refused.
#[derive(Debug)]
pub(crate) enum EditError {
    /// Line `line` (1-based) is malformed, for `reason`.
    Corrupt { line: usize, reason: String },
    /// Hashing a password failed (no random salt).
    Hash(io::Error),
}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EditError::Corrupt { line, reason } => {
                write!(f, "Corrupt password file at line {line}: {reason}.")
            }
            EditError::Hash(e) => write!(f, "Unable to hash password: {e}."),
        }
    }
}

/// One line of the text: its content, its ending (`\r\n`, `\n`, or empty
/// for a last line without one), and what it holds.
struct Parsed<'a> {
    content: &'a str,
    ending: &'a str,
    line: Line<'a>,
}

/// Splits `text` into lines and reads each, stopping at the first
/// malformed one.
fn parse(text: &str) -> Result<Vec<Parsed<'_>>, EditError> {
    let mut lines = Vec::new();
    for (i, piece) in text.split_inclusive('\n').enumerate() {
        let (content, ending) = match piece.strip_suffix("\r\n") {
            Some(content) => (content, "\r\n"),
            None => match piece.strip_suffix('\n') {
                Some(content) => (content, "\n"),
                None => (piece, ""),
            },
        };
        let read = if i == 0 {
            content.strip_prefix('\u{feff}').unwrap_or(content)
        } else {
            content
        };
        let line = split_line(read).map_err(|reason| EditError::Corrupt {
            line: i + 1,
            reason,
        })?;
        lines.push(Parsed {
            content,
            ending,
            line,
        });
    }
    Ok(lines)
}

/// The ending for a line written after `lines`: that of the last line
/// that has one, else `\n`.
fn file_ending<'a>(lines: &[Parsed<'a>]) -> &'a str {
    lines
        .iter()
        .rev()
        .map(|l| l.ending)
        .find(|e| !e.is_empty())
        .unwrap_or("\n")
}

/// Writes a line unchanged to `out`.
fn keep_line(out: &mut String, line: &Parsed<'_>) {
    out.push_str(line.content);
    out.push_str(line.ending);
}

/// Writes a new line's `content` and an ending to `out`: `ending`, that of
/// the line it replaces, or `fallback` when that had none.
fn push_line(out: &mut String, content: &str, ending: &str, fallback: &str) {
    out.push_str(content);
    out.push_str(if ending.is_empty() { fallback } else { ending });
}

/// Checks that every line of `text` is one the broker reads, before
/// `midge passwd` asks for a password it could not store.
pub(crate) fn check(text: &str) -> Result<(), EditError> {
    parse(text).map(drop)
}

/// Sets `user`'s line to `entry` (a whole `USER:HASH` line, no ending):
/// the first line of `user` is replaced and any later one dropped, or
/// `entry` is appended. Called for `midge passwd FILE USER` and `-b`.
/// Returns the new text.
pub(crate) fn set_user(text: &str, user: &str, entry: &str) -> Result<String, EditError> {
    let lines = parse(text)?;
    let ending = file_ending(&lines);
    let mut out = String::with_capacity(text.len() + entry.len() + 2);
    let mut done = false;
    for l in &lines {
        match l.line {
            Line::Entry { user: u, .. } if u == user => {
                if !done {
                    push_line(&mut out, entry, l.ending, ending);
                    done = true;
                }
            }
            _ => keep_line(&mut out, l),
        }
    }
    if !done {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push_str(ending);
        }
        push_line(&mut out, entry, "", ending);
    }
    Ok(out)
}

/// Removes every line of `user` (`midge passwd -D`). Returns the new
/// text, or `None` when `user` is not in the file.
pub(crate) fn delete_user(text: &str, user: &str) -> Result<Option<String>, EditError> {
    let lines = parse(text)?;
    let mut out = String::with_capacity(text.len());
    let mut found = false;
    for l in &lines {
        match l.line {
            Line::Entry { user: u, .. } if u == user => found = true,
            _ => keep_line(&mut out, l),
        }
    }
    Ok(found.then_some(out))
}

/// Replaces each plain-text password by its hash (`midge passwd -U`):
/// `hash(password)` gives the new hash field, and what precedes the `:`
/// is kept as it was. A line whose field already
/// is a `$6$`, `$7$` or `$argon2id$` hash is kept, so running it twice
/// changes nothing. Returns the new text.
pub(crate) fn hash_plain(
    text: &str,
    mut hash: impl FnMut(&str) -> io::Result<String>,
) -> Result<String, EditError> {
    let lines = parse(text)?;
    let ending = file_ending(&lines);
    let mut out = String::with_capacity(text.len() * 2);
    for l in &lines {
        match l.line {
            Line::Entry { hash: field, .. } if !is_hash(field) => {
                let hashed = hash(field).map_err(EditError::Hash)?;
                // The user's side of the line stays as it was: trimmed, a
                // name such as " #a" would turn the line into a comment.
                let (user_side, _) = l.content.split_once(':').unwrap_or_default();
                push_line(&mut out, &format!("{user_side}:{hashed}"), l.ending, ending);
            }
            _ => keep_line(&mut out, l),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# users\r\nalice:$6$a$b\r\n\r\nbob : $7$1$c$d \r\ncarol:$6$e$f";

    #[test]
    fn set_user_replaces_in_place_and_keeps_every_other_byte() {
        let out = set_user(FILE, "bob", "bob:NEW").unwrap();
        assert_eq!(
            out,
            "# users\r\nalice:$6$a$b\r\n\r\nbob:NEW\r\ncarol:$6$e$f"
        );
        let out = set_user(FILE, "carol", "carol:NEW").unwrap();
        assert_eq!(
            out,
            "# users\r\nalice:$6$a$b\r\n\r\nbob : $7$1$c$d \r\ncarol:NEW\r\n"
        );
    }

    #[test]
    fn set_user_appends_a_new_user_with_the_files_line_ending() {
        let out = set_user(FILE, "dave", "dave:NEW").unwrap();
        assert_eq!(out, format!("{FILE}\r\ndave:NEW\r\n"));
        assert_eq!(set_user("", "dave", "dave:NEW").unwrap(), "dave:NEW\n");
        assert_eq!(
            set_user("a:x\n", "dave", "dave:N").unwrap(),
            "a:x\ndave:N\n"
        );
        assert_eq!(set_user("a:x", "dave", "dave:N").unwrap(), "a:x\ndave:N\n");
        // A name is matched whole, not as a prefix or with its blanks.
        assert_eq!(set_user("al:x\n", "a", "a:N").unwrap(), "al:x\na:N\n");
    }

    #[test]
    fn set_user_leaves_one_line_of_a_user_named_twice() {
        let text = "a:1\nb:2\na:3\nc:4\n a :5\n";
        assert_eq!(set_user(text, "a", "a:N").unwrap(), "a:N\nb:2\nc:4\n");
    }

    #[test]
    fn delete_user_removes_every_line_of_the_user() {
        let text = "a:1\n# a:2\nb:2\na:3";
        assert_eq!(delete_user(text, "a").unwrap().unwrap(), "# a:2\nb:2\n");
        assert_eq!(delete_user(text, "b").unwrap().unwrap(), "a:1\n# a:2\na:3");
        assert!(delete_user(text, "c").unwrap().is_none());
        assert_eq!(delete_user("a:1\n", "a").unwrap().unwrap(), "");
    }

    #[test]
    fn hash_plain_hashes_plain_text_only() {
        let text = "\u{feff}# users\nalice: secret \nbob:$6$a$b\ncarol:$5$x\r\n\ndave:$7$bad";
        let hash = |pw: &str| Ok(format!("$6$H({pw})"));
        let out = hash_plain(text, hash).unwrap();
        assert_eq!(
            out,
            "\u{feff}# users\nalice:$6$H(secret)\nbob:$6$a$b\ncarol:$6$H($5$x)\r\n\ndave:$7$bad"
        );
        assert_eq!(hash_plain(&out, hash).unwrap(), out);
        // Blanks before a user name stay, or " #a" would become a comment.
        let out = hash_plain(" #a :x\n", hash).unwrap();
        assert_eq!(out, " #a :$6$H(x)\n");
    }

    #[test]
    fn hash_plain_reports_a_hashing_failure() {
        let e = hash_plain("a:x\n", |_| Err(io::Error::other("no entropy"))).unwrap_err();
        assert_eq!(e.to_string(), "Unable to hash password: no entropy.");
    }

    #[test]
    fn a_line_the_broker_refuses_stops_every_edit() {
        let text = "a:1\nno colon\nb:2\n";
        let corrupt = |e: EditError| match e {
            EditError::Corrupt { line, reason } => (line, reason),
            EditError::Hash(e) => panic!("{e}"),
        };
        let (line, reason) = corrupt(set_user(text, "c", "c:N").unwrap_err());
        assert_eq!(
            (line, reason.as_str()),
            (2, "expected USER:HASH, found no ':'")
        );
        assert_eq!(corrupt(delete_user(text, "a").unwrap_err()).0, 2);
        assert_eq!(
            corrupt(hash_plain(text, |p| Ok(p.into())).unwrap_err()).0,
            2
        );
        let e = set_user("a:1:2\n", "a", "a:N").unwrap_err();
        assert!(e
            .to_string()
            .starts_with("Corrupt password file at line 1: more than one ':'"));
    }
}
