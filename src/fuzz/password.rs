//! The password target. Input: a password file's text (invalid UTF-8
//! replaced, as a text file read lossily would be).
//!
//! Checked: the parser never panics; an error names the file and a line of
//! the text, with a message. In a file that parses, every user is on a
//! line of the text and can be checked without a panic, with a verdict
//! that fits (no password never matches, an unsupported hash answers with
//! its own line); the passwords themselves are computed only for hashes
//! within [`WORK_BUDGET`] per input, since the broker's cost bounds allow
//! checks of seconds. And `midge passwd`'s edits keep the file readable:
//! adding a user makes it log in with its password, deleting it gives the
//! users back, and hashing plain-text passwords leaves no unsupported user.

use crate::auth::passwd_tool::edit;
use crate::auth::password::{NewHash, PasswordFile, Verdict};

/// The file name errors must carry.
const NAME: &str = "fuzz.pw";
/// The user the edits add: `midge passwd` accepts the name.
const NEW_USER: &str = "fuzz user";
/// Hash work (see `Hash::work`: 1 KiB block operations) computed per
/// input: 8192 PBKDF2 iterations, or Argon2id over 2 MiB.
const WORK_BUDGET: u64 = 2048;

/// Runs one input (see the module doc).
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let lines = text.split('\n').count();
    let file = match PasswordFile::parse(NAME, &text) {
        Ok(file) => file,
        Err(e) => {
            assert_eq!(e.file, NAME);
            let line = e.line.expect("a parse error names its line");
            assert!((1..=lines).contains(&line), "line {line} of {lines}: {e}");
            assert!(!e.message.is_empty(), "error without a message");
            return;
        }
    };
    check_users(&file, lines);
    check_edits(&text, &file);
}

/// Checks every user (see the module doc).
fn check_users(file: &PasswordFile, lines: usize) {
    let mut budget = WORK_BUDGET;
    for (user, line, work) in file.users_by_work() {
        assert!(
            (1..=lines).contains(&line),
            "{user:?} on line {line} of {lines}"
        );
        match file.check(user, None) {
            Verdict::WrongPassword => {}
            Verdict::UnsupportedHash { line: at, kind } => {
                assert_eq!(at, line, "{user:?}: {kind}");
                continue;
            }
            other => panic!("{user:?} without a password: {other:?}"),
        }
        if work <= budget {
            budget -= work;
            let verdict = file.check(user, Some(b"password"));
            assert!(
                matches!(verdict, Verdict::Accepted | Verdict::WrongPassword),
                "{user:?}: {verdict:?}"
            );
        }
    }
    assert_eq!(file.check(" none", Some(b"")), Verdict::UnknownUser);
    for warning in file.warnings() {
        assert!(warning.starts_with("fuzz.pw:"), "{warning}");
    }
}

/// `midge passwd`'s edits on a file that parses (see the module doc).
fn check_edits(text: &str, file: &PasswordFile) {
    let had = file.check(NEW_USER, None) != Verdict::UnknownUser;
    let entry = format!("{NEW_USER}:{}", NewHash::Sha512.encode(b"fuzz", &[0; 12]));
    let added = edit::set_user(text, NEW_USER, &entry).expect("a file that parses can be edited");
    let with = PasswordFile::parse(NAME, &added).expect("the edited file parses");
    assert_eq!(with.check(NEW_USER, Some(b"fuzz")), Verdict::Accepted);
    assert_eq!(with.len(), file.len() + usize::from(!had));

    let removed = edit::delete_user(&added, NEW_USER)
        .expect("an edited file can be edited")
        .expect("the added user is there");
    let without = PasswordFile::parse(NAME, &removed).expect("the file parses after -D");
    assert_eq!(without.check(NEW_USER, None), Verdict::UnknownUser);
    assert_eq!(without.len(), file.len() - usize::from(had));

    let hashed = edit::hash_plain(text, |password| {
        Ok(NewHash::Sha512.encode(password.as_bytes(), &[0; 12]))
    })
    .expect("a file that parses can be hashed");
    let hashed = PasswordFile::parse(NAME, &hashed).expect("the file parses after -U");
    assert_eq!(hashed.len(), file.len());
    for warning in hashed.warnings() {
        assert!(warning.contains("already defined"), "after -U: {warning}");
    }
}
