//! The command line.

use super::*;

// ---- command line ----

#[test]
fn dash_p_without_config_is_loopback_only() {
    let c = run(&["-p", "1884"]);
    assert!(c.local_only);
    assert_eq!(c.listeners, vec![Listener::new(1884, LOOPBACK)]);
    assert!(c.anonymous_allowed(0));
}

#[test]
fn dash_p_repeated_opens_each_port() {
    let c = run(&["-p", "1884", "--port", "1885", "-p", "1884"]);
    let ports: Vec<_> = c.listeners.iter().map(|l| (l.port, l.bind)).collect();
    assert_eq!(ports, vec![(1884, LOOPBACK), (1885, LOOPBACK)]);
}

#[test]
fn dash_p_is_limited_to_ten_ports() {
    let mut args = Vec::new();
    for port in 2000..2011 {
        args.push("-p".to_string());
        args.push(port.to_string());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(
        cli_error(&refs),
        "-p: at most 10 ports can be given on the command line"
    );
    assert_eq!(run(&refs[..20]).listeners.len(), 10);
}

#[test]
fn dash_p_bad_values() {
    for bad in ["0", "65536", "http", "-1"] {
        assert_eq!(
            cli_error(&["-p", bad]),
            format!("-p: invalid port '{bad}': expected an integer from 1 to 65535")
        );
    }
    assert!(cli_error(&["-p"]).contains("Argument to option 'p' missing"));
}

#[test]
fn dash_c_with_listeners_ignores_dash_p() {
    let dir = TempDir::new("cli-c");
    let file = dir.write("m.conf", "listener 1883\n");
    let path = file.to_str().expect("utf-8 path");
    let c = run(&["-c", path, "-p", "1999"]);
    assert!(!c.local_only);
    assert_eq!(c.listeners, vec![Listener::new(1883, None)]);
    assert_eq!(c.config_file.as_deref(), Some(file.as_path()));
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0].contains("-p is ignored"));
    let c = run(&["--config-file", path]);
    assert_eq!(c.listeners, vec![Listener::new(1883, None)]);
}

#[test]
fn dash_c_without_listeners_uses_dash_p_on_loopback() {
    let dir = TempDir::new("cli-c-local");
    let file = dir.write("m.conf", "max_keepalive 30\n");
    let c = run(&["-p", "1999", "-c", file.to_str().expect("utf-8 path")]);
    assert!(c.local_only);
    assert_eq!(c.listeners, vec![Listener::new(1999, LOOPBACK)]);
    assert_eq!(c.max_keepalive, 30);
}

#[test]
fn dash_c_file_errors_propagate() {
    let dir = TempDir::new("cli-c-bad");
    let file = dir.write("m.conf", "listener 1883\nauth_plugin /etc/p\n");
    let e = cli(&["-c", file.to_str().expect("utf-8 path")]).unwrap_err();
    assert_eq!(e.line, Some(2));
    assert_eq!(e.directive.as_deref(), Some("auth_plugin"));
    assert!(cli_error(&["-c"]).contains("Argument to option 'c' missing"));
    assert!(cli_error(&["-c", "a.conf", "-c", "b.conf"]).contains("given more than once"));
}

#[test]
fn help_version_and_unknown_flags() {
    match cli(&["-h"]) {
        Ok(Command::Help(text)) => {
            assert!(text.contains("--config-file"), "{text}");
            assert!(text.contains("--port"), "{text}");
            assert!(text.contains("--verbose"), "{text}");
        }
        other => panic!("expected Help, got {other:?}"),
    }
    assert!(matches!(cli(&["--help"]), Ok(Command::Help(_))));
    assert!(matches!(cli(&["--version"]), Ok(Command::Version)));
    assert!(cli_error(&["-x"]).contains("Unrecognized option: 'x'"));
    assert!(cli_error(&["--bogus"]).contains("Unrecognized option: 'bogus'"));
    assert_eq!(
        cli_error(&["midge.conf"]),
        "unexpected argument 'midge.conf' (try -h)"
    );
    assert!(cli_error(&["-d"]).starts_with("-d/--daemon is not supported by midge"));
}

#[test]
fn verbose_may_be_repeated() {
    let c = run(&["-v", "--verbose"]);
    assert!(c.verbose);
    assert_eq!(c.log_filter(), log::LevelFilter::Debug);
}

#[test]
fn cli_error_display_is_just_the_message() {
    let e = cli(&["-p", "x"]).unwrap_err();
    assert_eq!(e.file, None);
    assert_eq!(e.line, None);
    assert_eq!(e.to_string(), e.message);
}

#[test]
fn subscription_lines_follow_their_log_types() {
    let default = parse("");
    assert!(
        !default.logs(LogType::Subscribe),
        "not in Mosquitto's default"
    );
    let c = parse("log_type subscribe\n");
    assert!(c.logs(LogType::Subscribe));
    assert!(!c.logs(LogType::Unsubscribe));
    let mut v = parse("");
    v.verbose = true;
    assert!(v.logs(LogType::Unsubscribe), "-v logs everything");
}
