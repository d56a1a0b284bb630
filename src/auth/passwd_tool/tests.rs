//! The command line of `midge passwd`, checked against `mosquitto_passwd`
//! 2.0's messages; the file edits are tested in `edit`, the whole command
//! in `tests/passwd_tool.rs`.

use super::*;

fn parse(args: &[&str]) -> Result<Request, String> {
    parse_args(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
}

fn edit(file: &str, action: Action, hash: NewHash) -> Result<Request, String> {
    Ok(Request::Edit {
        file: file.to_string(),
        action,
        hash,
    })
}

const PBKDF2: NewHash = NewHash::Pbkdf2 {
    iterations: DEFAULT_ITERATIONS,
};

fn set(user: &str, password: Option<&str>) -> Action {
    Action::Set {
        user: user.to_string(),
        password: password.map(str::to_string),
    }
}

#[test]
fn each_form_of_the_command_line() {
    let create = |password: Option<&str>| Action::Create {
        user: "u".to_string(),
        password: password.map(str::to_string),
    };
    assert_eq!(parse(&["f", "u"]), edit("f", set("u", None), PBKDF2));
    assert_eq!(
        parse(&["-b", "f", "u", "p"]),
        edit("f", set("u", Some("p")), PBKDF2)
    );
    assert_eq!(parse(&["-c", "f", "u"]), edit("f", create(None), PBKDF2));
    assert_eq!(
        parse(&["-c", "-b", "f", "u", "p"]),
        edit("f", create(Some("p")), PBKDF2)
    );
    assert_eq!(
        parse(&["-b", "-c", "f", "u", ""]),
        edit("f", create(Some("")), PBKDF2)
    );
    let delete = Action::Delete {
        user: "u".to_string(),
    };
    assert_eq!(parse(&["-D", "f", "u"]), edit("f", delete, PBKDF2));
    assert_eq!(parse(&["-U", "f"]), edit("f", Action::HashPlain, PBKDF2));
    assert_eq!(
        parse(&["-U", "-b", "f"]),
        edit("f", Action::HashPlain, PBKDF2)
    );
    assert_eq!(
        parse(&["--", "-f", "u"]),
        edit("-f", set("u", None), PBKDF2)
    );
    assert_eq!(parse(&["-"]), Ok(Request::Usage));
}

#[test]
fn hash_kinds_and_iterations() {
    let f = |args: &[&str]| match parse(args) {
        Ok(Request::Edit { hash, .. }) => Ok(hash),
        other => Err(format!("{other:?}")),
    };
    assert_eq!(f(&["-H", "sha512", "f", "u"]), Ok(NewHash::Sha512));
    assert_eq!(f(&["-H", "argon2id", "f", "u"]), Ok(NewHash::Argon2id));
    assert_eq!(f(&["-H", "sha512-pbkdf2", "f", "u"]), Ok(PBKDF2));
    let pbkdf2 = |iterations| Ok(NewHash::Pbkdf2 { iterations });
    assert_eq!(f(&["-I", "2000", "f", "u"]), pbkdf2(2000));
    assert_eq!(f(&["-I", "1", "-H", "sha512-pbkdf2", "f", "u"]), pbkdf2(1));
    assert_eq!(f(&["-I", "1000000", "-U", "f"]), pbkdf2(1_000_000));
    assert_eq!(
        f(&["-H", "sha512", "-H", "argon2id", "f", "u"]),
        Ok(NewHash::Argon2id)
    );
}

#[test]
fn errors_have_mosquitto_passwds_messages() {
    let cases: [(&[&str], &str); 21] = [
        (&["-H"], "-H argument given but not enough other arguments."),
        (&["-I"], "-I argument given but not enough other arguments."),
        (&["-H", "md5", "f", "u"], "Unknown hash type 'md5'"),
        (&["-I", "0", "f", "u"], "Number of iterations must be > 0."),
        (&["-I", "-3", "f", "u"], "Number of iterations must be > 0."),
        (
            &["-I", "abc", "f", "u"],
            "Number of iterations must be > 0.",
        ),
        (
            &["-I", "1000001", "f", "u"],
            "Number of iterations must be at most 1000000.",
        ),
        (
            &["-I", "9", "-H", "sha512", "f", "u"],
            "-I applies to -H sha512-pbkdf2 only.",
        ),
        (
            &["-c", "-D", "f", "u"],
            "-c and -D cannot be used together.",
        ),
        (&["-c", "-U", "f"], "-c and -U cannot be used together."),
        (&["-D", "-U", "f"], "-D and -U cannot be used together."),
        (
            &["-D", "-b", "f", "u"],
            "-b and -D cannot be used together.",
        ),
        (
            &["-c", "-b", "f", "u"],
            "-c argument given but password file, username, or password missing.",
        ),
        (
            &["-c", "f"],
            "-c argument given but password file or username missing.",
        ),
        (
            &["-D", "f"],
            "-D argument given but password file or username missing.",
        ),
        (&["-U"], "-U argument given but password file missing."),
        (
            &["-U", "f", "u"],
            "-U argument given but password file missing.",
        ),
        (&["-x", "f", "u"], "Unknown option '-x' (try -h)."),
        (
            &["-b", "f", "a:b", "p"],
            "Username must not contain the ':' character.",
        ),
        (
            &["f", "a\tb"],
            "Username must not contain control characters.",
        ),
        (&["-D", "f", ""], "Username must not be empty."),
    ];
    for (args, message) in cases {
        assert_eq!(parse(args), Err(message.to_string()), "{args:?}");
    }
    let long = "p".repeat(65536);
    assert_eq!(
        parse(&["-b", "f", "u", &long]),
        Err("Password must be less than 65536 characters long.".to_string())
    );
    let long = "u".repeat(65536);
    assert_eq!(
        parse(&["f", &long]),
        Err("Username must be less than 65536 characters long.".to_string())
    );
}

#[test]
fn user_names_the_broker_could_never_match_are_refused() {
    for user in ["#admin", " bob", "bob ", "bob\t", "a\u{85}b"] {
        assert!(parse(&["-b", "f", user, "p"]).is_err(), "{user:?}");
    }
    for user in ["a b", "José Smith", "数据", "a#b", "$6$"] {
        assert_eq!(
            parse(&["-b", "f", user, "p"]),
            edit("f", set(user, Some("p")), PBKDF2)
        );
    }
}

#[test]
fn help_and_usage() {
    assert_eq!(parse(&[]), Ok(Request::Usage));
    assert_eq!(parse(&["-h"]), Ok(Request::Help));
    assert_eq!(parse(&["-c", "--help"]), Ok(Request::Help));
    for args in [
        &["f"][..],
        &["f", "u", "p"],
        &["-b", "f", "u"],
        &["-D", "f", "u", "x"],
        &["-c", "f", "u", "x"],
    ] {
        assert_eq!(parse(args), Ok(Request::Usage), "{args:?}");
    }
    let text = usage();
    for flag in [
        "-b ",
        "-c ",
        "-D ",
        "-H ",
        "-I ",
        "-U ",
        "argon2id",
        "sha512-pbkdf2",
    ] {
        assert!(text.contains(flag), "{flag}");
    }
}

#[test]
fn write_atomic_keeps_the_mode_of_a_replaced_file_and_follows_links() {
    use std::os::unix::fs::{symlink, PermissionsExt};
    let dir = std::env::temp_dir().join(format!("midge-passwd-write-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;

    let new = dir.join("new");
    write_atomic(&new, "a:x\n").unwrap();
    assert_eq!(
        (fs::read_to_string(&new).unwrap().as_str(), mode(&new)),
        ("a:x\n", 0o600)
    );

    fs::set_permissions(&new, fs::Permissions::from_mode(0o640)).unwrap();
    write_atomic(&new, "b:y\n").unwrap();
    assert_eq!(
        (fs::read_to_string(&new).unwrap().as_str(), mode(&new)),
        ("b:y\n", 0o640)
    );

    let link = dir.join("link");
    symlink(&new, &link).unwrap();
    write_atomic(&link, "c:z\n").unwrap();
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read_to_string(&new).unwrap(), "c:z\n");

    let missing = dir.join("no-such-dir").join("f");
    assert!(write_atomic(&missing, "x").is_err());
    let names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "no temporary file left: {names:?}");
    fs::remove_dir_all(&dir).unwrap();
}
