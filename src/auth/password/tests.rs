//! Password files made by the real tools, and every rule of the module doc.
//!
//! `fixtures/password-mosquitto.txt` was made with Mosquitto 2.0.11's
//! `mosquitto_passwd` (`-c -b`, then `-b` with `-H sha512` or `-I 2000` for
//! some users); `fixtures/password-argon2id.txt` with the reference Argon2
//! command-line tool (`argon2 SALT -id -t T -k M -p P -l LEN -e`), in
//! Mosquitto 2.1's format. The passwords are in [`MOSQUITTO_USERS`] and
//! [`ARGON2_USERS`].

use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::*;

const MOSQUITTO: &str = include_str!("../fixtures/password-mosquitto.txt");
const ARGON2: &str = include_str!("../fixtures/password-argon2id.txt");

/// The users of the Mosquitto fixture, their passwords and hash kinds.
const MOSQUITTO_USERS: [(&str, &str, &str); 6] = [
    ("alice", "alice-secret", "$7$"),
    ("bob", "hunter2", "$6$"),
    ("José Smith", "pässwörd with spaces", "$7$"),
    ("carol", "carol:colon$dollar", "$7$"),
    ("数据 user", "", "$6$"),
    ("dave", "x", "$6$"),
];

/// The users of the Argon2id fixture: erin's hash has Mosquitto 2.1's
/// exact settings (m=47104, t=1, p=1, 64-byte salt and hash), frank's two
/// lanes and a 32-byte hash, grace's version 0x10.
const ARGON2_USERS: [(&str, &str); 3] = [
    ("erin", "erin-secret"),
    ("frank", "frank secret"),
    ("grace", "grace"),
];

fn parse(text: &str) -> PasswordFile {
    PasswordFile::parse("pw", text).unwrap_or_else(|e| panic!("{e}"))
}

fn error(text: &str) -> AuthFileError {
    match PasswordFile::parse("pw", text) {
        Ok(file) => panic!("parsed {file:?} from {text:?}"),
        Err(e) => e,
    }
}

/// Asserts that each user of `users` is accepted with its password only.
fn assert_users(file: &PasswordFile, users: &[(&str, &str)]) {
    for (user, password) in users {
        assert_eq!(
            file.check(user, Some(password.as_bytes())),
            Verdict::Accepted,
            "{user}"
        );
        let wrong = format!("{password}x");
        assert_eq!(
            file.check(user, Some(wrong.as_bytes())),
            Verdict::WrongPassword,
            "{user}"
        );
        assert_eq!(file.check(user, None), Verdict::WrongPassword, "{user}");
    }
}

fn mosquitto_users() -> Vec<(&'static str, &'static str)> {
    MOSQUITTO_USERS.iter().map(|&(u, p, _)| (u, p)).collect()
}

#[test]
fn mosquitto_passwd_files_are_read_with_every_hash_kind() {
    let file = parse(MOSQUITTO);
    assert_eq!(file.len(), MOSQUITTO_USERS.len());
    assert_users(&file, &mosquitto_users());
    let debug = format!("{file:?}");
    for (user, _, kind) in MOSQUITTO_USERS {
        assert!(debug.contains(&format!("{user:?}: {kind:?}")), "{debug}");
    }
    assert!(file.warnings().is_empty());
}

#[test]
fn argon2id_phc_strings_are_read_in_mosquitto_2_1_format() {
    let file = parse(ARGON2);
    assert_eq!(file.len(), ARGON2_USERS.len());
    assert_users(&file, &ARGON2_USERS);
    assert!(ARGON2
        .lines()
        .next()
        .unwrap()
        .starts_with("erin:$argon2id$v=19$m=47104,t=1,p=1$"));
}

#[test]
fn user_names_and_passwords_are_matched_exactly() {
    let file = parse(MOSQUITTO);
    for user in ["Alice", "alice ", " alice", "José", "", "nobody"] {
        assert_eq!(
            file.check(user, Some(b"alice-secret")),
            Verdict::UnknownUser,
            "{user:?}"
        );
    }
    assert_eq!(file.check("bob", Some(b"HUNTER2")), Verdict::WrongPassword);
    assert_eq!(file.check("bob", Some(b"hunter")), Verdict::WrongPassword);
    assert_eq!(
        file.check("bob", Some(b"hunter2\0")),
        Verdict::WrongPassword
    );
    assert_eq!(file.check("数据 user", Some(b"")), Verdict::Accepted);
    assert_eq!(file.check("数据 user", None), Verdict::WrongPassword);
}

#[test]
fn crlf_comments_blank_lines_and_blanks_around_fields_are_ignored() {
    let crlf = MOSQUITTO.replace('\n', "\r\n");
    assert_users(&parse(&crlf), &mosquitto_users());

    let mut decorated = String::from("\u{feff}# made by mosquitto_passwd\n\n   \n\t\r\n");
    for line in MOSQUITTO.lines() {
        let (user, hash) = line.split_once(':').unwrap();
        decorated.push_str(&format!("  {user}\t: {hash} \t\r\n# between\n"));
    }
    decorated.push_str("#no-newline-at-end");
    assert_users(&parse(&decorated), &mosquitto_users());

    // Only a `#` in the first column makes a comment.
    let hash = MOSQUITTO.lines().next().unwrap().split_once(':').unwrap().1;
    let file = parse(&format!(" #alice:{hash}\n#alice:{hash}\n"));
    assert_eq!(file.len(), 1);
    assert_eq!(
        file.check("#alice", Some(b"alice-secret")),
        Verdict::Accepted
    );
}

#[test]
fn unknown_hash_kinds_and_plain_text_refuse_that_user_only() {
    let text = format!(
        "{MOSQUITTO}sha256:$5$rounds=5000$salt$hash\nlegacy:$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA\n\
         plain:secret\ndollar:$ not a hash\n"
    );
    let file = parse(&text);
    let unsupported = [
        ("sha256", "$5$", 7),
        ("legacy", "$argon2i$", 8),
        ("plain", "plain text", 9),
        ("dollar", "plain text", 10),
    ];
    for (user, kind, line) in unsupported {
        let verdict = Verdict::UnsupportedHash {
            kind: kind.to_string(),
            line,
        };
        assert_eq!(file.check(user, Some(b"secret")), verdict, "{user}");
        assert_eq!(file.check(user, None), verdict, "{user}");
    }
    assert_eq!(
        file.warnings(),
        [
            "pw:7: user 'sha256' has a $5$ password hash, which midge cannot check: \
             that user cannot log in",
            "pw:8: user 'legacy' has a $argon2i$ password hash, which midge cannot check: \
             that user cannot log in",
            "pw:9: user 'plain' has a plain-text password, which midge does not accept \
             (`midge passwd -U pw` hashes it): that user cannot log in",
            "pw:10: user 'dollar' has a plain-text password, which midge does not accept \
             (`midge passwd -U pw` hashes it): that user cannot log in",
        ]
    );
    assert_users(&file, &mosquitto_users());
}

/// A valid `$7$` hash (alice's), for building malformed variants.
fn alice_hash() -> &'static str {
    MOSQUITTO.lines().next().unwrap().split_once(':').unwrap().1
}

#[test]
fn malformed_lines_are_errors_naming_file_and_line() {
    let pbkdf2 = alice_hash();
    let parts: Vec<&str> = pbkdf2.split('$').collect();
    let (salt, digest) = (parts[3], parts[4]);
    let sha = |s: &str, d: &str| format!("$6${s}${d}");
    let cases: Vec<(String, &str)> = vec![
        ("no colon here".into(), "found no ':'"),
        (format!(":{pbkdf2}"), "empty user name"),
        (format!("  \t:{pbkdf2}"), "empty user name"),
        ("bob:".into(), "no password hash for user 'bob'"),
        ("bob: \t ".into(), "no password hash for user 'bob'"),
        (format!("bob:{pbkdf2}:extra"), "more than one ':'"),
        (
            format!("{}:{pbkdf2}", "u".repeat(65536)),
            "user name of 65536 bytes",
        ),
        ("bob:$6$".into(), "expected $6$SALT$HASH"),
        ("bob:$6".into(), "expected $6$SALT$HASH"),
        (format!("bob:$6${salt}"), "expected $6$SALT$HASH"),
        (
            format!("bob:{}$x", sha(salt, digest)),
            "expected $6$SALT$HASH",
        ),
        (format!("bob:{}", sha("", digest)), "empty salt"),
        (
            format!("bob:{}", sha("not*base64", digest)),
            "salt is not base64",
        ),
        (format!("bob:{}", sha(salt, "%%%%")), "hash is not base64"),
        (
            format!("bob:{}", sha(salt, "aGFzaA==")),
            "hash of 4 bytes, expected 64",
        ),
        (
            format!("bob:{}", sha(&"A".repeat(100), digest)),
            "salt longer than 64 bytes",
        ),
        ("bob:$7$".into(), "expected $7$ITERATIONS$SALT$HASH"),
        (
            format!("bob:$7${salt}${digest}"),
            "expected $7$ITERATIONS$SALT$HASH",
        ),
        (
            format!("bob:$7$abc${salt}${digest}"),
            "iterations 'abc' is not a number",
        ),
        (
            format!("bob:$7$0${salt}${digest}"),
            "iterations '0' is not a number from 1",
        ),
        (format!("bob:$7$-5${salt}${digest}"), "iterations '-5'"),
        (format!("bob:$7$+5${salt}${digest}"), "iterations '+5'"),
        (format!("bob:$7$ 5${salt}${digest}"), "iterations ' 5'"),
        (
            format!("bob:$7$1000001${salt}${digest}"),
            "from 1 to 1000000",
        ),
        (
            format!("bob:$7$99999999999${salt}${digest}"),
            "from 1 to 1000000",
        ),
        (format!("bob:$7$101${salt}$"), "empty hash"),
        (
            "bob:$argon2id$".into(),
            "expected $argon2id$v=19$m=M,t=T,p=P$SALT$HASH",
        ),
        (
            "bob:$argon2id".into(),
            "expected $argon2id$v=19$m=M,t=T,p=P$SALT$HASH",
        ),
        (
            "bob:$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into(),
            "version v=18",
        ),
        (
            "bob:$argon2id$v=19$m=64,t=1$c2FsdHNhbHQ$aGFzaA".into(),
            "expected m=M,t=T,p=P",
        ),
        (
            "bob:$argon2id$v=19$t=1,m=64,p=1$c2FsdHNhbHQ$aGFzaA".into(),
            "expected m=M,t=T,p=P",
        ),
        (
            "bob:$argon2id$v=19$m=x,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into(),
            "m=x is not a number",
        ),
        (
            "bob:$argon2id$v=19$m=64,t=1,p=1,x=2$c2FsdHNhbHQ$aGFzaA".into(),
            "p=1,x=2 is not a number",
        ),
        (
            "bob:$argon2id$v=19$m=64,t=0,p=1$c2FsdHNhbHQ$aGFzaA".into(),
            "m=64,t=0,p=1: ",
        ),
        (
            "bob:$argon2id$v=19$m=4,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into(),
            "m=4,t=1,p=1: ",
        ),
        (
            "bob:$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA".into(),
            "salt of 4 bytes, expected 8 to 64",
        ),
        (
            "bob:$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGE".into(),
            "hash of 2 bytes, expected 4 to 64",
        ),
        (
            "bob:$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ".into(),
            "expected $argon2id$",
        ),
        (
            "bob:$argon2id$v=19$m=65537,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into(),
            "m=65537 KiB is above",
        ),
        (
            "bob:$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into(),
            "m=4294967295 KiB",
        ),
        (
            "bob:$argon2id$v=19$m=65536,t=4,p=1$c2FsdHNhbHQ$aGFzaA".into(),
            "m times t = 262144",
        ),
        (
            "bob:$argon2id$v=19$m=1024,t=4294967295,p=1$c2FsdHNhbHQ$aGFzaA".into(),
            "m times t",
        ),
        (
            "bob:$argon2id$v=19$m=1024,t=1,p=17$c2FsdHNhbHQ$aGFzaA".into(),
            "p=17 is above",
        ),
    ];
    for (line, expected) in cases {
        let text = format!(
            "# users\n{}\n{line}\nzed:{pbkdf2}\n",
            MOSQUITTO.lines().next().unwrap()
        );
        let e = error(&text);
        assert_eq!(
            (e.file.as_str(), e.line),
            ("pw", Some(3)),
            "{line:.80}: {e}"
        );
        assert!(e.message.contains(expected), "{line:.80}: {e}");
        assert!(e.to_string().starts_with("pw:3: "), "{e}");
    }
}

#[test]
fn the_bounds_themselves_are_accepted() {
    let parts: Vec<&str> = alice_hash().split('$').collect();
    let (salt, digest) = (parts[3], parts[4]);
    parse(&format!("a:$7${MAX_PBKDF2_ITERATIONS}${salt}${digest}\n"));
    parse(&format!("a:$7$1${salt}${digest}\n"));
    parse("a:$argon2id$v=19$m=65536,t=3,p=16$c2FsdHNhbHQ$aGFzaA\n");
    parse("a:$argon2id$m=8,t=24576,p=1$c2FsdHNhbHQ$aGFzaA\n");
}

#[test]
fn a_user_named_twice_is_defined_by_the_last_line() {
    let alice = MOSQUITTO.lines().next().unwrap();
    let bob = MOSQUITTO.lines().nth(1).unwrap().split_once(':').unwrap().1;
    let file = parse(&format!("{alice}\ncarol:secret\n\n alice :{bob}\n"));
    assert_eq!(file.len(), 2);
    assert_eq!(file.check("alice", Some(b"hunter2")), Verdict::Accepted);
    assert_eq!(
        file.check("alice", Some(b"alice-secret")),
        Verdict::WrongPassword
    );
    assert_eq!(
        file.warnings(),
        [
            "pw:2: user 'carol' has a plain-text password, which midge does not accept \
             (`midge passwd -U pw` hashes it): that user cannot log in",
            "pw:4: user 'alice' is already defined on line 1; this line replaces it",
        ]
    );

    // The last line counts even when its hash cannot be checked.
    let file = parse(&format!("{alice}\nalice:$5$x$y\nalice:plain\n"));
    let verdict = Verdict::UnsupportedHash {
        kind: "plain text".to_string(),
        line: 3,
    };
    assert_eq!(file.check("alice", Some(b"alice-secret")), verdict);
    assert_eq!(file.warnings().len(), 3, "{:?}", file.warnings());
}

#[test]
fn load_reads_a_file_and_names_it_in_errors() {
    let dir = std::env::temp_dir().join(format!("midge-password-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good");
    std::fs::write(&good, MOSQUITTO).unwrap();
    assert_users(&PasswordFile::load(&good).unwrap(), &mosquitto_users());

    let missing = dir.join("missing");
    let e = PasswordFile::load(&missing).unwrap_err();
    assert_eq!((e.file, e.line), (missing.display().to_string(), None));
    assert!(
        e.message.starts_with("cannot read the password file: "),
        "{}",
        e.message
    );

    let latin1 = dir.join("latin1");
    std::fs::write(&latin1, b"# users\nalice:x\nJos\xe9:x\n").unwrap();
    let e = PasswordFile::load(&latin1).unwrap_err();
    assert_eq!((e.line, e.message.as_str()), (Some(3), "not valid UTF-8"));

    let bad = dir.join("bad");
    std::fs::write(&bad, "alice\n").unwrap();
    let e = PasswordFile::load(&bad).unwrap_err();
    assert_eq!((e.file, e.line), (bad.display().to_string(), Some(1)));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_empty_file_has_no_users() {
    for text in ["", "\n", "# nobody\n", "\r\n\r\n"] {
        let file = parse(text);
        assert!(file.is_empty());
        assert_eq!(file.check("alice", Some(b"x")), Verdict::UnknownUser);
    }
    assert!(
        !PasswordFile::load(Path::new("src/auth/fixtures/password-mosquitto.txt"))
            .map(|f| f.is_empty())
            .unwrap_or(true)
    );
}

#[test]
fn new_hashes_have_mosquittos_format_and_verify() {
    let salt = [7u8; 64];
    let kinds = [
        (NewHash::Sha512, "$6$"),
        (NewHash::Pbkdf2 { iterations: 101 }, "$7$101$"),
        (NewHash::Pbkdf2 { iterations: 2000 }, "$7$2000$"),
        (NewHash::Argon2id, "$argon2id$v=19$m=47104,t=1,p=1$"),
    ];
    for (kind, prefix) in kinds {
        let salt = &salt[..kind.salt_len()];
        let field = kind.encode("pässword\0with nul".as_bytes(), salt);
        assert!(field.starts_with(prefix), "{field}");
        assert!(is_hash(&field));
        let fields: Vec<&str> = field.rsplitn(3, '$').collect();
        let (digest, salt_text) = (fields[0], fields[1]);
        match kind {
            NewHash::Argon2id => assert_eq!((salt_text.len(), digest.len()), (86, 86)),
            _ => assert_eq!((salt_text, digest.len()), ("BwcHBwcHBwcHBwcH", 88)),
        }
        let file = parse(&format!("u:{field}\n"));
        assert_eq!(
            file.check("u", Some("pässword\0with nul".as_bytes())),
            Verdict::Accepted
        );
        assert_eq!(
            file.check("u", Some("pässword".as_bytes())),
            Verdict::WrongPassword
        );
    }
    // The same password and salt give mosquitto_passwd's hash.
    let bob = MOSQUITTO.lines().nth(1).unwrap().split_once(':').unwrap().1;
    let salt = STANDARD.decode(bob.split('$').nth(2).unwrap()).unwrap();
    assert_eq!(NewHash::Sha512.encode(b"hunter2", &salt), bob);
    let carol = MOSQUITTO.lines().nth(3).unwrap().split_once(':').unwrap().1;
    let salt = STANDARD.decode(carol.split('$').nth(3).unwrap()).unwrap();
    assert_eq!(
        NewHash::Pbkdf2 { iterations: 2000 }.encode(b"carol:colon$dollar", &salt),
        carol
    );
}

#[test]
fn is_hash_names_the_kinds_midge_checks() {
    for field in ["$6$a$b", "$7$", "$argon2id$x", "$6"] {
        assert!(is_hash(field), "{field}");
    }
    for field in ["secret", "$5$a$b", "$argon2i$x", "6$a$b", "$", "$$6$"] {
        assert!(!is_hash(field), "{field}");
    }
}

#[test]
fn split_line_follows_the_line_rules() {
    assert_eq!(split_line("# c:x"), Ok(Line::Skip));
    assert_eq!(split_line(" \t\r"), Ok(Line::Skip));
    assert_eq!(
        split_line(" a b :\t$6$x$y\r"),
        Ok(Line::Entry {
            user: "a b",
            hash: "$6$x$y"
        })
    );
    assert!(split_line("a").is_err());
}

#[test]
fn a_slow_hash_is_computed_once_per_accepted_password() {
    let file = parse(MOSQUITTO);
    let remembered = |f: &PasswordFile, user: &str| f.users[user].accepted.get().is_some();
    assert!(!remembered(&file, "alice"));
    assert_eq!(file.check("alice", Some(b"wrong")), Verdict::WrongPassword);
    assert!(!remembered(&file, "alice"), "a failure is not remembered");
    assert_eq!(
        file.check("alice", Some(b"alice-secret")),
        Verdict::Accepted
    );
    assert!(remembered(&file, "alice"));
    // From memory, and a wrong password is still checked in full.
    assert_eq!(
        file.check("alice", Some(b"alice-secret")),
        Verdict::Accepted
    );
    assert_eq!(
        file.check("alice", Some(b"alice-secreT")),
        Verdict::WrongPassword
    );
    assert_eq!(file.check("alice", None), Verdict::WrongPassword);
    // The digest is keyed per user: bob's cannot stand in for alice's.
    assert_eq!(file.check("bob", Some(b"hunter2")), Verdict::Accepted);
    assert!(
        !remembered(&file, "bob"),
        "$6$ is one SHA-512: nothing to save"
    );
    // Another load has another key and remembers nothing.
    let again = parse(MOSQUITTO);
    assert!(!remembered(&again, "alice"));
    assert_ne!(file.key, again.key);
}
