//! The persistence directives.

use super::*;

// ---- Persistence ----

#[test]
fn persistence_is_off_by_default_with_mosquitto_defaults_otherwise() {
    let p = parse("listener 1883\n").persistence;
    assert_eq!(p, Persistence::default());
    assert!(!p.enabled);
    assert_eq!(p.file, "midge.db");
    assert_eq!(p.autosave, Autosave::Seconds(Duration::from_secs(1800)));
    assert_eq!(p.sync, PersistenceSync::Turn);
}

#[test]
fn persistence_directives_are_read() {
    let p = parse(
        "listener 1883\npersistence true\npersistence_location /var/lib/midge/\n\
         persistence_file broker.db\npersistence_sync never\nautosave_interval 60\n",
    )
    .persistence;
    assert!(p.enabled);
    assert_eq!(p.location, std::path::PathBuf::from("/var/lib/midge/"));
    assert_eq!(p.file, "broker.db");
    assert_eq!(p.sync, PersistenceSync::Never);
    assert_eq!(p.autosave, Autosave::Seconds(Duration::from_secs(60)));
}

#[test]
fn autosave_on_changes_turns_the_interval_into_a_count_in_either_order() {
    for text in [
        "autosave_on_changes true\nautosave_interval 500\n",
        "autosave_interval 500\nautosave_on_changes true\n",
    ] {
        let p = parse(&format!("listener 1883\n{text}")).persistence;
        assert_eq!(p.autosave, Autosave::Changes(500), "{text}");
    }
}

#[test]
fn bad_persistence_values_name_file_line_and_directive() {
    assert_eq!(
        error("listener 1883\npersistence maybe\n"),
        "midge.conf:2: persistence: invalid value 'maybe': expected true or false"
    );
    assert_eq!(
        error("listener 1883\npersistence_sync always\n"),
        "midge.conf:2: persistence_sync: invalid value 'always': expected turn or never"
    );
    assert_eq!(
        error("listener 1883\npersistence_file db/x.db\n"),
        "midge.conf:2: persistence_file: invalid value 'db/x.db': expected a file name \
         (the directory is persistence_location)"
    );
    assert_eq!(
        error("listener 1883\nautosave_interval -1\n"),
        "midge.conf:2: autosave_interval: invalid value '-1': expected an integer from 0 to 4294967295"
    );
    assert!(error("listener 1883\npersistence_location\n").contains("missing value"));
}

#[test]
fn password_and_acl_files_for_the_broker_or_per_listener() {
    let c = parse(
        "listener 1883\npassword_file /etc/midge/passwd\nacl_file /etc/midge/acl\nlistener 1884\n",
    );
    for i in 0..2 {
        assert_eq!(c.password_file(i), Some(Path::new("/etc/midge/passwd")));
        assert_eq!(c.acl_file(i), Some(Path::new("/etc/midge/acl")));
    }
    // A path may contain spaces, as in Mosquitto (the rest of the line).
    let c = parse("listener 1883\npassword_file /etc/my files/pw\n");
    assert_eq!(c.password_file(0), Some(Path::new("/etc/my files/pw")));
    let c = parse(
        "per_listener_settings true\nlistener 1883\npassword_file /a\n\
         listener 1884\nacl_file /b\nlistener 1885\n",
    );
    assert_eq!(c.password_file(0), Some(Path::new("/a")));
    assert_eq!(c.acl_file(0), None);
    assert_eq!(c.password_file(1), None);
    assert_eq!(c.acl_file(1), Some(Path::new("/b")));
    assert_eq!((c.password_file(2), c.acl_file(2)), (None, None));
    assert_eq!(
        error("listener 1883\npassword_file\n"),
        "midge.conf:2: password_file: missing value"
    );
    assert!(
        error("acl_file /x\nper_listener_settings true\nlistener 1883\n").starts_with(
            "midge.conf:2: per_listener_settings: must come before any security setting"
        )
    );
}
