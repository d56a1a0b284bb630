//! Mosquitto-format password files (`password_file`): one `USER:HASH` line
//! per user, as `mosquitto_passwd` and `midge passwd` write them.
//!
//! Contract:
//! - [`PasswordFile::load`] (or [`PasswordFile::parse`] on text already
//!   read) runs when the broker starts or reloads: it reads the whole file
//!   and refuses it at the first malformed line, with an [`AuthFileError`]
//!   naming the file and the line. [`PasswordFile::check`] runs at CONNECT,
//!   does no I/O and costs one hash computation for a known user.
//! - Lines, as Mosquitto 2.0's broker reads them: a line ends at `\n`;
//!   blanks (space, tab, CR, VT, FF) around the user name and around the
//!   hash are ignored, so a CRLF file reads like an LF one; a line whose
//!   first character is `#` is a comment and a blank line is skipped; any
//!   other line is `USER:HASH`. A user name may hold spaces and any Unicode,
//!   not `:`. A UTF-8 byte order mark at the start of the file is ignored.
//! - Hash kinds (SALT and HASH in base64, padding optional):
//!   - `$6$SALT$HASH`: SHA-512 of the password then the salt
//!     (`mosquitto_passwd -H sha512`);
//!   - `$7$ITERATIONS$SALT$HASH`: PBKDF2-HMAC-SHA512 (`-H sha512-pbkdf2`,
//!     the default of Mosquitto 2.0 with 101 iterations and of 2.1 with
//!     1000); HASH is 64 bytes for both, SALT 1 to 64 bytes (Mosquitto
//!     writes 12, 2.1 also 64);
//!   - `$argon2id$v=19$m=M,t=T,p=P$SALT$HASH`: an Argon2id PHC string,
//!     Mosquitto 2.1's default (m=47104, t=1, p=1, a 64-byte salt and
//!     hash); `v=16`, or no `v=`, is Argon2 version 0x10. SALT is 8 to 64
//!     bytes and HASH 4 to 64.
//! - Any other hash (`$5$...`, `$argon2i$...`, or a password left in plain
//!   text) is not an error: that user is refused with
//!   [`Verdict::UnsupportedHash`], which carries the kind and the line for
//!   the broker's log. Mosquitto 2.0 likewise drops such a user and starts
//!   (a plain-text password file only works with a Mosquitto built without
//!   TLS; `midge passwd -U` hashes one).
//! - A user named on several lines is defined by the last one, as in
//!   Mosquitto 2.0 (2.0.11 accepts the later line's password only).
//! - Both cases are also listed by [`PasswordFile::warnings`], for the
//!   broker to log at load.
//! - A hash's cost is bounded (see [`MAX_PBKDF2_ITERATIONS`] and the
//!   `MAX_ARGON2_*` constants): a hash above a bound is an error naming its
//!   line, so a CONNECT can never make the single-threaded broker allocate
//!   more, or compute longer, than the bounds allow.
//!
//! Where midge is stricter than Mosquitto 2.0, which skips such a line or
//! drops the user and starts anyway, these are errors: a line without `:`,
//! with more than one `:` (Mosquitto ignores what follows the second), an
//! empty user name or hash, and a malformed `$6$`, `$7$` or `$argon2id$`
//! hash (bad base64, wrong length, iterations that are not a number from
//! 1 to the bound). A password is hashed whole, where Mosquitto stops at a
//! NUL byte.

mod hash;
#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use sha2::{Digest, Sha512};
use std::fmt;
use std::path::Path;
use subtle::ConstantTimeEq;

use super::AuthFileError;
pub(crate) use hash::{is_hash, NewHash};
use hash::{Hash, PLAIN_TEXT};

/// The most iterations a `$7$` hash may ask for, above OWASP's 2023
/// advice for PBKDF2-HMAC-SHA512 (210,000). Each iteration is two SHA-512
/// blocks, slow on the Raspberry Pi Zero's 32-bit core: there a check at
/// the bound would take many seconds, during which the broker serves no
/// one, so files for a Pi should stay near Mosquitto's 101 or 1000.
pub const MAX_PBKDF2_ITERATIONS: u32 = 1_000_000;

/// The most memory (`m`, in KiB) an `$argon2id$` hash may ask for: 64 MiB.
/// The broker checks one password at a time, so this is the most a check
/// ever holds; it covers Mosquitto 2.1's default (46 MiB) and RFC 9106's
/// second recommended setting (64 MiB, t=3), and leaves most of a 512 MB
/// Raspberry Pi Zero to the broker's queues and the system.
pub const MAX_ARGON2_MEMORY_KIB: u32 = 64 * 1024;

/// The most work (`m` times `t`, KiB passes) an `$argon2id$` hash may ask
/// for: three passes over 64 MiB, RFC 9106's second setting. OWASP's
/// settings (46 MiB t=1 down to 7 MiB t=5) are all well below it.
pub const MAX_ARGON2_WORK: u64 = 3 * 64 * 1024;

/// The most lanes (`p`) an `$argon2id$` hash may ask for. midge computes
/// the lanes one after another, so they cost no extra time or memory; the
/// bound only refuses nonsense.
pub const MAX_ARGON2_LANES: u32 = 16;

/// The longest user name: MQTT carries at most 65535 bytes.
const MAX_USERNAME_LEN: usize = 65535;

/// A parsed password file: who may connect and how their passwords are
/// hashed.
#[derive(Clone)]
pub struct PasswordFile {
    users: HashMap<String, Entry>,
    warnings: Vec<String>,
    /// The key of the remembered digests: random per file loaded.
    key: [u8; 32],
}

#[derive(Clone)]
struct Entry {
    /// The 1-based line the user is on.
    line: usize,
    hash: Hash,
    /// For a slow hash: a keyed digest of the password last accepted for
    /// this user (see [`PasswordFile::check`]).
    accepted: Cell<Option<[u8; 32]>>,
}

/// What [`PasswordFile::check`] says about a user name and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The user is in the file and the password matches.
    Accepted,
    /// The user is in the file and the password does not match, or the
    /// client sent no password.
    WrongPassword,
    /// No such user in the file.
    UnknownUser,
    /// The user's hash is of a kind midge cannot check (`kind` is `$5$`,
    /// `$argon2i$`, ... or `plain text`), on 1-based line `line`: the user
    /// is refused, and the broker should log why.
    UnsupportedHash { kind: String, line: usize },
}

impl PasswordFile {
    /// Parses the password file `text`, called at load and reload; `name`
    /// is the file name used in errors. Returns the users, or the first
    /// malformed line as an error (see the module doc for the rules).
    pub fn parse(name: &str, text: &str) -> Result<PasswordFile, AuthFileError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut users: HashMap<String, Entry> = HashMap::new();
        let mut notes: Vec<(usize, String)> = Vec::new();
        for (i, raw) in text.split('\n').enumerate() {
            let line = i + 1;
            let error = |message: String| AuthFileError {
                file: name.to_string(),
                line: Some(line),
                message,
            };
            let Line::Entry { user, hash } = split_line(raw).map_err(error)? else {
                continue;
            };
            let hash = Hash::parse(hash).map_err(error)?;
            let entry = Entry {
                line,
                hash,
                accepted: Cell::new(None),
            };
            if let Some(earlier) = users.insert(user.to_string(), entry) {
                notes.push((
                    line,
                    format!(
                        "user '{user}' is already defined on line {}; this line replaces it",
                        earlier.line
                    ),
                ));
            }
        }
        for (user, entry) in &users {
            match &entry.hash {
                Hash::Unsupported { kind } if kind == PLAIN_TEXT => notes.push((
                    entry.line,
                    format!(
                        "user '{user}' has a plain-text password, which midge does not \
                         accept (`midge passwd -U {name}` hashes it): that user cannot log in"
                    ),
                )),
                Hash::Unsupported { kind } => notes.push((
                    entry.line,
                    format!(
                        "user '{user}' has a {kind} password hash, which midge cannot \
                         check: that user cannot log in"
                    ),
                )),
                _ => {}
            }
        }
        notes.sort_unstable();
        let warnings = notes
            .into_iter()
            .map(|(line, note)| format!("{name}:{line}: {note}"))
            .collect();
        Ok(PasswordFile {
            users,
            warnings,
            key: random_key(),
        })
    }

    /// Reads and parses the password file at `path` (named in errors as
    /// given), called at load and reload. Returns the users, or an error
    /// when the file cannot be read (no line), is not UTF-8 (the line of
    /// the first bad byte) or has a malformed line.
    pub fn load(path: &Path) -> Result<PasswordFile, AuthFileError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| AuthFileError {
            file: name.clone(),
            line: None,
            message: format!("cannot read the password file: {e}"),
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            AuthFileError {
                file: name.clone(),
                line: Some(1 + good.iter().filter(|&&b| b == b'\n').count()),
                message: "not valid UTF-8".to_string(),
            }
        })?;
        PasswordFile::parse(&name, &text)
    }

    /// Checks a CONNECT's user name and password (`None` when the client
    /// sent none, which never matches). Called for every CONNECT that
    /// carries a user name; costs one hash computation for a known user.
    ///
    /// A user's slow hash (`$7$`, `$argon2id$`) is computed once per
    /// password: the password accepted last is remembered as a SHA-512
    /// digest keyed with this process's random key, so a client that
    /// reconnects (a Pi's sensors after a Wi-Fi drop) costs microseconds
    /// instead of holding the single-threaded broker for an Argon2 check
    /// each. A wrong password always costs the full check. The memory goes
    /// with the file (a reload starts afresh).
    pub fn check(&self, username: &str, password: Option<&[u8]>) -> Verdict {
        let Some(entry) = self.users.get(username) else {
            return Verdict::UnknownUser;
        };
        if let Hash::Unsupported { kind } = &entry.hash {
            return Verdict::UnsupportedHash {
                kind: kind.clone(),
                line: entry.line,
            };
        }
        let Some(password) = password else {
            return Verdict::WrongPassword;
        };
        if !entry.hash.is_slow() {
            return if entry.hash.verify(password) {
                Verdict::Accepted
            } else {
                Verdict::WrongPassword
            };
        }
        let digest = self.remembered(username, password);
        if entry
            .accepted
            .get()
            .is_some_and(|known| bool::from(known.ct_eq(&digest)))
        {
            return Verdict::Accepted;
        }
        if entry.hash.verify(password) {
            entry.accepted.set(Some(digest));
            Verdict::Accepted
        } else {
            Verdict::WrongPassword
        }
    }

    /// The keyed digest [`PasswordFile::check`] remembers a password by.
    fn remembered(&self, username: &str, password: &[u8]) -> [u8; 32] {
        let mut h = Sha512::new();
        h.update(self.key);
        h.update((username.len() as u64).to_be_bytes());
        h.update(username.as_bytes());
        h.update(password);
        let full = h.finalize();
        let mut out = [0u8; 32];
        out.copy_from_slice(&full[..32]);
        out
    }

    /// What the broker should log after a load, as `FILE:LINE: message`
    /// in line order: each user with an unsupported hash (who cannot log
    /// in) and each line that replaces an earlier one of the same user.
    /// Empty for a file `midge passwd` or `mosquitto_passwd` wrote.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// How many users the file defines (those with an unsupported hash
    /// included).
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// True when the file defines no user: nobody can log in with it.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Every user with its line and the rough cost of checking its
    /// password (see `Hash::work`), for the fuzz target's time budget.
    #[cfg(any(test, fuzzing))]
    pub(crate) fn users_by_work(&self) -> impl Iterator<Item = (&str, usize, u64)> {
        self.users
            .iter()
            .map(|(user, entry)| (user.as_str(), entry.line, entry.hash.work()))
    }
}

/// Lists the users and the kinds of their hashes, never salts or hashes.
impl fmt::Debug for PasswordFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut users: Vec<(&String, &Entry)> = self.users.iter().collect();
        users.sort_unstable_by_key(|(_, entry)| entry.line);
        f.debug_map()
            .entries(
                users
                    .into_iter()
                    .map(|(user, entry)| (user, entry.hash.kind())),
            )
            .finish()
    }
}

/// What one line of a password file holds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line<'a> {
    /// A comment or a blank line.
    Skip,
    /// A user and its hash field, blanks trimmed; neither is empty.
    Entry { user: &'a str, hash: &'a str },
}

/// Splits one line (without its `\n`) by the rules of the module doc;
/// called by the parser and by `midge passwd`'s edits. Returns what the
/// line holds, or why it is malformed.
pub(crate) fn split_line(line: &str) -> Result<Line<'_>, String> {
    if line.starts_with('#') || line.trim_matches(is_blank).is_empty() {
        return Ok(Line::Skip);
    }
    let Some((user, hash)) = line.split_once(':') else {
        return Err("expected USER:HASH, found no ':'".to_string());
    };
    if hash.contains(':') {
        return Err("more than one ':' (neither a user name nor a hash has one)".to_string());
    }
    let user = user.trim_matches(is_blank);
    let hash = hash.trim_matches(is_blank);
    if user.is_empty() {
        return Err("empty user name".to_string());
    }
    if user.len() > MAX_USERNAME_LEN {
        return Err(format!(
            "user name of {} bytes (MQTT carries at most {MAX_USERNAME_LEN})",
            user.len()
        ));
    }
    if hash.is_empty() {
        return Err(format!("no password hash for user '{user}'"));
    }
    Ok(Line::Entry { user, hash })
}

/// The blanks trimmed around user names and hashes (C's `isspace`).
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// 32 bytes from std's per-process random hashing keys (seeded from the
/// operating system's random source), with no I/O of its own: the key of
/// the remembered password digests.
fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    for (i, chunk) in key.chunks_exact_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    key
}
