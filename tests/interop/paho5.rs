//! MQTT 5 interop with paho-mqtt: each test runs one check of
//! `paho5_check.py` against its own broker. The script's docstrings name
//! the normative statements each check covers.

use std::process::Command;

use crate::support::{python, run_script, script_dir, Broker};

/// Runs `paho5_check.py PORT CHECK` against a fresh broker.
fn paho5(check: &str) {
    let broker = Broker::start(&format!("paho5-{check}"));
    run_script(
        Command::new(python())
            .arg(script_dir().join("paho5_check.py"))
            .arg(broker.port.to_string())
            .arg(check),
        "run scripts/test.sh",
    );
}

/// QoS 0/1/2 to wildcard subscribers at min(published, granted) QoS, in
/// order, PUBACK/PUBREC with Success.
#[test]
fn paho5_qos_0_1_2_round_trips() {
    paho5("qos_round_trips");
}

/// Clean Start 0 + Session Expiry Interval 30: Session Present and the
/// messages queued while away; without an expiry no session survives.
#[test]
fn paho5_session_resumes_with_expiry_interval() {
    paho5("session_resume");
}

/// A 1 s Session Expiry Interval has passed after 2.2 s: no session.
#[test]
fn paho5_session_is_discarded_after_its_expiry() {
    paho5("session_expiry");
}

/// A queued message past its Message Expiry Interval is dropped; a live
/// one arrives with the interval lowered by its wait.
#[test]
fn paho5_message_expiry_drops_and_counts_down() {
    paho5("message_expiry");
}

/// Will Delay Interval 1 s: the will after the delay; a reconnect within a
/// 2 s delay cancels the will.
#[test]
fn paho5_will_delay_publishes_late_or_never() {
    paho5("will_delay");
}

/// Will Delay 30 s with Session Expiry 0: the will goes out when the
/// session ends, at once. (Mosquitto 2.0.11 waits out the will delay.)
#[test]
fn paho5_will_is_published_when_the_session_ends_first() {
    paho5("will_at_session_end");
}

/// `$share/g/...` with two members: each message to exactly one, both get
/// some; a second group and a plain subscriber get all.
#[test]
fn paho5_shared_subscription_splits_messages_in_a_group() {
    paho5("shared_subscription");
}

/// Topic aliases from the publisher: set, use, re-map; the subscriber
/// gets full topics.
#[test]
fn paho5_topic_alias_from_the_client_is_resolved() {
    paho5("topic_alias_from_client");
}

/// User properties (order, duplicates), content type, response topic,
/// correlation data, payload format indicator: unchanged, live and
/// retained.
#[test]
fn paho5_message_properties_round_trip_unchanged() {
    paho5("message_properties");
}

/// SUBACK: granted QoS and 0x8F for invalid filters, per filter in order,
/// and the connection stays up. (Mosquitto 2.0.11 closes the connection.)
#[test]
fn paho5_suback_has_a_reason_code_per_filter() {
    paho5("suback_reason_codes");
}

/// UNSUBACK: 0x00 and 0x11 (no subscription existed), per filter in order.
#[test]
fn paho5_unsuback_reports_unknown_filters() {
    paho5("unsuback_reason_codes");
}

/// No Local, Retain Handling, Retain As Published, Subscription
/// Identifier.
#[test]
fn paho5_subscription_options_are_applied() {
    paho5("subscription_options");
}
