//! The file's syntax (comments, CRLF, errors that name file, line and
//! directive), `include_dir` and loading a file.

use super::*;

// ---- syntax ----

#[test]
fn comments_blank_lines_crlf_tabs_and_trailing_space() {
    let c = parse(
        "# a comment\r\n\
         \r\n\
         \x20  # an indented comment\n\
         listener\t1884   \r\n\
         max_keepalive 60 # one minute\n\
         \tretain_available false\t\n",
    );
    assert_eq!(c.listeners[0].port, 1884);
    assert_eq!(c.max_keepalive, 60);
    assert!(!c.retain_available);
}

#[test]
fn missing_and_extra_values_name_file_line_and_directive() {
    assert_eq!(
        error("listener 1883\nmax_keepalive\n"),
        "midge.conf:2: max_keepalive: missing value"
    );
    assert_eq!(
        error("max_keepalive 60 70\n"),
        "midge.conf:1: max_keepalive: unexpected extra value '70'"
    );
    assert_eq!(
        error("allow_anonymous\n"),
        "midge.conf:1: allow_anonymous: missing value"
    );
    assert_eq!(
        error("include_dir\n"),
        "midge.conf:1: include_dir: missing value"
    );
}

#[test]
fn error_message_format_matches_the_documented_one() {
    let text = format!(
        "listener 1883\n{}max_inflight_messages x\n",
        "# c\n".repeat(10)
    );
    assert_eq!(
        error(&text),
        "midge.conf:12: max_inflight_messages: invalid value 'x': \
         expected an integer up to 65535 (0: no limit)"
    );
    let e = parse_str("midge.conf", "max_keepalive x\n").unwrap_err();
    assert_eq!(e.file.as_deref(), Some("midge.conf"));
    assert_eq!(e.line, Some(1));
    assert_eq!(e.directive.as_deref(), Some("max_keepalive"));
}

#[test]
fn mosquitto_directives_midge_lacks_are_refused_by_name() {
    let cases = [
        "auth_plugin /usr/lib/auth.so",
        "bind_interface eth0",
        "memory_limit 0",
        "set_tcp_nodelay true",
        "log_timestamp false",
        "user mosquitto",
        "auth_opt_backend files",
        "plugin_opt_x y",
    ];
    for case in cases {
        let directive = case.split(' ').next().unwrap_or_default();
        assert_eq!(
            error(&format!("listener 1883\n{case}\n")),
            format!("midge.conf:2: {directive}: directive not supported by midge yet")
        );
    }
    assert_eq!(
        error("protocol mqttsn\n"),
        "midge.conf:1: protocol: invalid value 'mqttsn': expected mqtt or websockets"
    );
}

#[test]
fn unknown_directive_is_refused() {
    assert_eq!(
        error("listener 1883\nmax_inflight 10\n"),
        "midge.conf:2: max_inflight: unknown directive"
    );
    assert_eq!(
        error("Listener 1883\n"),
        "midge.conf:1: Listener: unknown directive"
    );
}

#[test]
fn retry_interval_enables_live_resends_and_zero_disables() {
    assert_eq!(Config::default().retry_interval, None, "off by default");
    let c = parse("retry_interval 20\n");
    assert_eq!(c.retry_interval, Some(Duration::from_secs(20)));
    assert!(c.warnings.is_empty());
    assert_eq!(parse("retry_interval 0\n").retry_interval, None);
    assert_eq!(
        error("retry_interval soon\n"),
        "midge.conf:1: retry_interval: invalid value 'soon': expected an integer from 0 to 65535 seconds (0: off)"
    );
}

#[test]
fn an_error_anywhere_refuses_the_whole_file() {
    let result = parse_str(
        "midge.conf",
        "listener 1883\nallow_anonymous true\nbogus 1\n",
    );
    assert!(result.is_err());
}

// ---- include_dir ----

#[test]
fn include_dir_reads_conf_files_in_sorted_order_at_that_point() {
    let dir = TempDir::new("include");
    let sub = TempDir::new("include-sub");
    dir.write("b.conf", "max_keepalive 200\nlistener 1885\n");
    dir.write("a.conf", "max_keepalive 100\nlistener 1884\n");
    dir.write("c.conf.disabled", "bogus\n");
    dir.write("notes.txt", "bogus\n");
    let dir_path = dir.0.display().to_string();

    let c = parse(&format!(
        "listener 1883\nmax_keepalive 50\ninclude_dir {dir_path}\n"
    ));
    assert_eq!(c.max_keepalive, 200);
    let ports: Vec<u16> = c.listeners.iter().map(|l| l.port).collect();
    assert_eq!(ports, vec![1883, 1884, 1885]);
    assert_eq!(c.include_dirs, vec![dir.0.clone()]);

    let c = parse(&format!("include_dir {dir_path}\nmax_keepalive 50\n"));
    assert_eq!(c.max_keepalive, 50);

    // A per-listener setting in an included file applies to the listener
    // before it, even one from the main file.
    sub.write("z.conf", "max_connections 9\n");
    let c = parse(&format!("listener 1883\ninclude_dir {}\n", sub.0.display()));
    assert_eq!(c.listeners[0].max_connections, Some(9));
}

#[test]
fn include_dir_error_names_the_included_file_and_line() {
    let dir = TempDir::new("include-error");
    let bad = dir.write("10-bad.conf", "# first\nlistener 1884\nauth_plugin /x\n");
    let e = error(&format!("listener 1883\ninclude_dir {}\n", dir.0.display()));
    assert_eq!(
        e,
        format!(
            "{}:3: auth_plugin: directive not supported by midge yet",
            bad.display()
        )
    );
}

#[test]
fn include_dir_missing_directory_is_an_error() {
    let dir = TempDir::new("include-missing");
    let missing = dir.0.join("nope");
    let e = error(&format!("include_dir {}\n", missing.display()));
    assert!(
        e.starts_with(&format!(
            "midge.conf:1: include_dir: cannot read directory '{}'",
            missing.display()
        )),
        "{e}"
    );
}

#[test]
fn include_dir_inside_an_included_file_is_ignored_with_a_warning() {
    let dir = TempDir::new("include-nested");
    let inner = TempDir::new("include-inner");
    inner.write("x.conf", "max_keepalive 11\n");
    dir.write("a.conf", &format!("include_dir {}\n", inner.0.display()));
    let c = parse(&format!("include_dir {}\n", dir.0.display()));
    assert_eq!(c.max_keepalive, 65535);
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0].contains("include_dir in an included file is ignored"));
}

// ---- load_file ----

#[test]
fn load_file_reads_and_records_the_path() {
    let dir = TempDir::new("load");
    let file = dir.write("midge.conf", "listener 1883\nallow_anonymous true\n");
    let c = load_file(&file).expect("valid file");
    assert_eq!(c.config_file.as_deref(), Some(file.as_path()));
    assert!(c.anonymous_allowed(0));
    assert!(!c.local_only);
}

#[test]
fn load_file_missing_file_names_it() {
    let dir = TempDir::new("load-missing");
    let missing = dir.0.join("absent.conf");
    let e = load_file(&missing).unwrap_err();
    assert_eq!(e.file, Some(missing.display().to_string()));
    assert_eq!(e.line, None);
    assert!(e.to_string().contains("cannot read config file"), "{e}");
}
