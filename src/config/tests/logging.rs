//! `log_type`, `log_dest` and `-v`.

use super::*;

// ---- logging ----

#[test]
fn log_type_lines_accumulate_and_replace_the_default() {
    let c = parse("log_type error\nlog_type subscribe\n");
    assert_eq!(
        c.log_types,
        LogTypes::NONE.with(LogType::Error).with(LogType::Subscribe)
    );
    assert!(!c.log_types.contains(LogType::Information));
    assert_eq!(
        c.log_filter(),
        log::LevelFilter::Error,
        "subscription lines are switched by their own target"
    );
    assert!(c.logs(LogType::Subscribe));
    let c = parse("log_type all\nlog_type none\nlog_type warning\n");
    assert_eq!(c.log_types, LogTypes::NONE.with(LogType::Warning));
    assert!(
        error("log_type verbose\n").starts_with("midge.conf:1: log_type: invalid value 'verbose'")
    );
}

#[test]
fn log_filter_maps_types_to_levels() {
    let level = |text: &str| parse(text).log_filter();
    use log::LevelFilter;
    assert_eq!(level("log_type none\n"), LevelFilter::Off);
    assert_eq!(level("log_type error\n"), LevelFilter::Error);
    assert_eq!(
        level("log_type warning\nlog_type error\n"),
        LevelFilter::Warn
    );
    assert_eq!(level("log_type notice\n"), LevelFilter::Info);
    assert_eq!(level("log_type information\n"), LevelFilter::Info);
    assert_eq!(level("log_type unsubscribe\n"), LevelFilter::Off);
    assert_eq!(level("log_type debug\n"), LevelFilter::Debug);
    assert_eq!(level("log_type all\n"), LevelFilter::Debug);
    assert_eq!(level(""), LevelFilter::Info);
}

#[test]
fn verbose_flag_logs_everything_over_the_file() {
    let dir = TempDir::new("verbose");
    let file = dir.write("m.conf", "log_type none\n");
    let c = run(&["-v", "-c", file.to_str().expect("utf-8 path")]);
    assert!(c.verbose);
    assert_eq!(c.log_filter(), log::LevelFilter::Debug);
}

#[test]
fn log_dest_lines_accumulate() {
    let c = parse("log_dest stdout\nlog_dest file /var/log/midge/midge log.txt\nlog_dest stdout\n");
    assert_eq!(
        c.log_dest,
        vec![
            LogDest::Stdout,
            LogDest::File(PathBuf::from("/var/log/midge/midge log.txt"))
        ]
    );
    let c = parse("log_dest stdout\nlog_dest none\n");
    assert!(c.log_dest.is_empty());
    let c = parse("log_dest none\nlog_dest stderr\n");
    assert_eq!(c.log_dest, vec![LogDest::Stderr]);
}

#[test]
fn log_dest_errors() {
    for kind in ["syslog", "topic", "dlt"] {
        assert_eq!(
            error(&format!("log_dest {kind}\n")),
            format!("midge.conf:1: log_dest: log_dest {kind} is not supported by midge")
        );
    }
    assert_eq!(
        error("log_dest file /a\nlog_dest file /b\n"),
        "midge.conf:2: log_dest: log_dest file given more than once"
    );
    assert_eq!(
        error("log_dest file\n"),
        "midge.conf:1: log_dest: missing value: log_dest file needs a path"
    );
    assert_eq!(
        error("log_dest printer\n"),
        "midge.conf:1: log_dest: invalid value 'printer': expected stdout, stderr, file PATH or none"
    );
    assert_eq!(
        error("log_dest stdout stderr\n"),
        "midge.conf:1: log_dest: unexpected extra value 'stderr'"
    );
}
