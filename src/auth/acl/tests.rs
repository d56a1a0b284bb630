//! Table tests of the parser and the checks, after Mosquitto 2.0's
//! behaviour (the precedence, `$SYS` and error cases are as mosquitto
//! 2.0.11 behaves, apart from the stricter errors the module doc names).

use std::rc::Rc;

use super::*;

fn acl(text: &str) -> Acl {
    Acl::parse("test.acl", text).unwrap_or_else(|e| panic!("{e}"))
}

/// `(user, client id, topic, read, write)`: what each client may do.
type Case<'a> = (Option<&'a str>, &'a str, &'a str, bool, bool);

fn check(text: &str, cases: &[Case]) {
    let acl = acl(text);
    for &(user, id, topic, read, write) in cases {
        let client = acl.for_client(user, id);
        let what = format!("user {user:?} id {id:?} topic {topic:?} in\n{text}");
        assert_eq!(client.can_read(topic), read, "read: {what}");
        assert_eq!(client.can_write(topic), write, "write: {what}");
    }
}

#[test]
fn anonymous_section_and_user_sections() {
    let text =
        "topic read public/#\ntopic a/b\nuser bob\ntopic write bob/#\ntopic readwrite shared\n\
                user eve\ntopic read public/#\n";
    check(
        text,
        &[
            (None, "c", "public/x", true, false),
            (None, "c", "a/b", true, true),
            (None, "c", "bob/x", false, false),
            // A user's section replaces the anonymous one.
            (Some("bob"), "c", "public/x", false, false),
            (Some("bob"), "c", "bob/x", false, true),
            (Some("bob"), "c", "shared", true, true),
            (Some("eve"), "c", "public/x", true, false),
            (Some("eve"), "c", "shared", false, false),
            // A user without a section may do nothing.
            (Some("mallory"), "c", "public/x", false, false),
            (Some("mallory"), "c", "a/b", false, false),
        ],
    );
}

#[test]
fn access_words() {
    check(
        "topic r\ntopic read r2\ntopic write w\ntopic readwrite rw\ntopic deny d\n",
        &[
            (None, "c", "r", true, true),
            (None, "c", "r2", true, false),
            (None, "c", "w", false, true),
            (None, "c", "rw", true, true),
            (None, "c", "d", false, false),
            (None, "c", "other", false, false),
        ],
    );
}

#[test]
fn denies_decide_first_within_a_list_whatever_their_place() {
    let cases = [
        (None, "c", "a/secret", false, false),
        (None, "c", "a/open", true, true),
        (None, "c", "a/secret/x", true, true),
    ];
    check("topic a/#\ntopic deny a/secret\n", &cases);
    check("topic deny a/secret\ntopic a/#\n", &cases);
    check("pattern a/#\npattern deny a/secret\n", &cases);
    check("pattern deny a/secret\npattern a/#\n", &cases);
    // A section's deny beats a pattern's grant.
    check("topic deny a/secret\npattern a/#\n", &cases);
}

#[test]
fn a_section_grant_beats_a_pattern_deny() {
    check(
        "user u\ntopic read a/#\npattern deny a/%u\npattern deny b/#\npattern read b/#\n",
        &[
            (Some("u"), "c", "a/u", true, false),
            (Some("u"), "c", "b/x", false, false),
        ],
    );
}

#[test]
fn patterns_substitute_client_id_and_user_name() {
    let text = "user bob\ntopic read x\npattern read devices/%c/#\npattern write users/%u/out\n\
                pattern read mixed/%u-%c\npattern read fixed\n";
    check(
        text,
        &[
            (None, "c1", "devices/c1/temp", true, false),
            (None, "c1", "devices/c2/temp", false, false),
            (None, "c1", "fixed", true, false),
            // `%u` patterns do not apply without a user name.
            (None, "c1", "users/%u/out", false, false),
            (None, "c1", "mixed/%u-c1", false, false),
            (Some("bob"), "c2", "x", true, false),
            (Some("bob"), "c2", "users/bob/out", false, true),
            (Some("bob"), "c2", "devices/c2", true, false),
            (Some("bob"), "c2", "mixed/bob-c2", true, false),
            (Some("bob"), "c2", "fixed", true, false),
            (Some("alice"), "c3", "users/alice/out", false, true),
            (Some("alice"), "c3", "users/bob/out", false, false),
            // A `/` in the id makes the pattern span levels (Mosquitto 2.0).
            (None, "a/b", "devices/a/b/x", true, false),
        ],
    );
}

#[test]
fn wildcards_in_id_or_user_name_refuse_everything_but_the_section() {
    let text = "topic read open\nuser a+b\ntopic read mine\npattern read p/%c\npattern read all\n";
    check(
        text,
        &[
            (None, "ok", "p/ok", true, false),
            (None, "ok", "all", true, false),
            (None, "x+y", "open", true, false),
            (None, "x+y", "all", false, false),
            (None, "x#", "all", false, false),
            (Some("a+b"), "ok", "mine", true, false),
            (Some("a+b"), "ok", "all", false, false),
        ],
    );
    // Without patterns the id does not matter.
    check("topic read open\n", &[(None, "x+y", "open", true, false)]);
}

#[test]
fn dollar_topics_need_their_own_rules() {
    check(
        "topic #\nuser admin\ntopic readwrite $SYS/#\ntopic $share/#\n\
         pattern write $SYS/broker/connection/%c/state\n",
        &[
            (None, "c", "a/b", true, true),
            (None, "c", "$SYS/broker/uptime", false, false),
            (None, "c", "$other", false, false),
            (Some("admin"), "c", "$SYS/broker/uptime", true, false),
            (
                Some("admin"),
                "c",
                "$SYS/broker/connection/c/state",
                true,
                true,
            ),
            (
                Some("admin"),
                "c",
                "$SYS/broker/connection/d/state",
                true,
                true,
            ),
            (None, "c", "$SYS/broker/connection/c/state", false, true),
            (None, "c", "$SYS/broker/connection/d/state", false, false),
            (Some("admin"), "c", "$share/g/a", false, false),
            (None, "c", "a/$SYS", true, true),
        ],
    );
}

#[test]
fn a_file_without_rules_refuses_everything() {
    for text in ["", "# only a comment\n", "\n\n", "user bob\n"] {
        check(
            text,
            &[
                (None, "c", "a", false, false),
                (Some("bob"), "c", "a", false, false),
            ],
        );
    }
}

#[test]
fn comments_blank_lines_and_blanks() {
    let text =
        "# comment\n\n   \n  topic read a  \r\n\t# indented comment\ntopic   write   b c  \n\
                user  bob smith \t\ntopic deny\tx\n#topic read z\n";
    check(
        text,
        &[
            (None, "c", "a", true, false),
            (None, "c", "b c", false, true),
            (None, "c", "z", false, false),
            (Some("bob smith"), "c", "deny\tx", true, true),
        ],
    );
}

#[test]
fn a_second_section_of_a_user_adds_to_the_first() {
    check(
        "user u\ntopic read a\nuser v\ntopic read b\nuser u\ntopic read c\n",
        &[
            (Some("u"), "c", "a", true, false),
            (Some("u"), "c", "c", true, false),
            (Some("u"), "c", "b", false, false),
        ],
    );
}

fn error(text: &str) -> (Option<usize>, String) {
    let e = Acl::parse("bad.acl", text).expect_err(text);
    assert_eq!(e.file, "bad.acl");
    assert!(e.to_string().starts_with("bad.acl:"), "{e}");
    (e.line, e.message)
}

#[test]
fn malformed_lines_are_errors_naming_the_line() {
    let cases: &[(&str, usize, &str)] = &[
        ("topic read a\nbogus a\n", 2, "unknown keyword \"bogus\""),
        ("topic\tread\ta\n", 1, "not tabs"),
        ("# c\n\ntopic\n", 3, "`topic` without a topic filter"),
        ("pattern   \n", 1, "`pattern` without a topic filter"),
        ("topic read\n", 1, "`topic read` without a topic filter"),
        ("topic deny\n", 1, "`topic deny` without a topic filter"),
        ("topic reed a/b\n", 1, "unknown access \"reed\""),
        ("topic READ a/b\n", 1, "unknown access \"READ\""),
        ("topic subscribe a/b\n", 1, "unknown access \"subscribe\""),
        ("user\n", 1, "`user` without a user name"),
        ("topic a\nuser   \t\n", 2, "`user` without a user name"),
        ("topic read a/#/b\n", 1, "invalid topic filter \"a/#/b\""),
        ("pattern read a/%c+\n", 1, "invalid topic filter \"a/%c+\""),
        ("topic write a b#\n", 1, "invalid topic filter \"a b#\""),
        ("topic a\0b\n", 1, "invalid topic filter"),
    ];
    for &(text, line, message) in cases {
        let (got_line, got) = error(text);
        assert_eq!(got_line, Some(line), "{text:?}: {got}");
        assert!(got.contains(message), "{text:?}: {got:?} lacks {message:?}");
    }
}

#[test]
fn load_reads_a_file_and_names_it() {
    let dir = std::env::temp_dir().join(format!("midge-acl-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("acl");
    fs::write(&path, b"# K\xfcche\ntopic read k\n").unwrap();
    let acl = Acl::load(&path).unwrap();
    assert!(acl.for_client(None, "c").can_read("k"));
    fs::write(&path, b"topic read k\ntopic read k\xfc\n").unwrap();
    let e = Acl::load(&path).unwrap_err();
    assert_eq!((e.file.as_str(), e.line), (path.to_str().unwrap(), Some(2)));
    fs::write(&path, b"topic read a\nuser\n").unwrap();
    assert_eq!(Acl::load(&path).unwrap_err().line, Some(2));
    let missing = dir.join("missing");
    let e = Acl::load(&missing).unwrap_err();
    assert_eq!((e.file.as_str(), e.line), (missing.to_str().unwrap(), None));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn clients_share_rules_unless_a_pattern_varies_for_them() {
    let acl = acl("topic read a\nuser bob\ntopic read b\npattern read fixed\npattern read u/%u\n");
    let (one, two) = (acl.for_client(None, "1"), acl.for_client(None, "2"));
    let both = |f: fn(&ClientAcl) -> &Option<Rc<Rules>>| match (f(&one), f(&two)) {
        (Some(a), Some(b)) => Rc::ptr_eq(a, b),
        _ => false,
    };
    assert!(both(|c| &c.user));
    // Only `u/%u` varies, and it does not apply without a user name.
    assert!(both(|c| &c.patterns));
    let (bob1, bob2) = (
        acl.for_client(Some("bob"), "1"),
        acl.for_client(Some("bob"), "2"),
    );
    assert!(Rc::ptr_eq(
        bob1.user.as_ref().unwrap(),
        bob2.user.as_ref().unwrap()
    ));
    assert!(!Rc::ptr_eq(
        bob1.patterns.as_ref().unwrap(),
        bob2.patterns.as_ref().unwrap()
    ));
    let plain = Acl::parse("t", "user bob\ntopic read b\n").unwrap();
    assert!(plain.for_client(Some("bob"), "1").patterns.is_none());
    assert!(plain.for_client(None, "1").user.is_none());
}

/// `(filter, expected)` for one client.
fn classify(text: &str, user: Option<&str>, id: &str, cases: &[(&str, FilterAccess)]) {
    let client = acl(text).for_client(user, id);
    for &(filter, want) in cases {
        assert_eq!(
            client.subscription(filter),
            want,
            "{filter:?} under\n{text}"
        );
    }
}

#[test]
fn common_subscriptions_are_classified_exactly() {
    use FilterAccess::{All, None as Nothing, PerTopic};
    classify(
        "topic read sensors/#\ntopic write house/cmd/#\ntopic read house/#\ntopic deny house/secret/#\n",
        None,
        "c",
        &[
            ("sensors/+/temp", All),
            ("sensors/#", All),
            ("sensors", All),
            ("house/+/temp", PerTopic),
            ("house/kitchen/#", All),
            ("house/secret/x", Nothing),
            ("house/secret/#", Nothing),
            ("garden/#", Nothing),
            ("#", PerTopic),
            ("+/+/temp", PerTopic),
            ("$SYS/#", Nothing),
            ("$share/g/#", Nothing),
        ],
    );
    classify(
        "topic read #\nuser admin\ntopic read $SYS/#\n",
        None,
        "c",
        &[("#", All), ("$SYS/broker/uptime", Nothing), ("a/b", All)],
    );
    classify(
        "topic read #\nuser admin\ntopic read $SYS/#\n",
        Some("admin"),
        "c",
        &[
            ("$SYS/broker/uptime", All),
            ("#", Nothing),
            ("+/#", Nothing),
        ],
    );
    classify(
        "topic write #\n",
        None,
        "c",
        &[("#", Nothing), ("a", Nothing)],
    );
    classify(
        "pattern read devices/%c/#\npattern deny devices/%c/private\nuser u\ntopic read devices/u/private\n",
        Some("u"),
        "u",
        &[
            ("devices/u/#", All),
            ("devices/+/#", PerTopic),
            ("devices/other/#", Nothing),
        ],
    );
    classify(
        "pattern read devices/%c/#\npattern deny devices/%c/private\n",
        None,
        "d1",
        &[
            ("devices/d1/#", PerTopic),
            ("devices/d1/temp", All),
            ("devices/d1/private", Nothing),
        ],
    );
    // A wildcard in the id leaves only the section.
    classify(
        "topic read a/#\npattern read %c/#\n",
        None,
        "x+",
        &[("a/#", All), ("b/#", Nothing), ("#", PerTopic)],
    );
}
