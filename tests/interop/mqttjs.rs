//! MQTT 5 interop with MQTT.js (npm `mqtt` 5.x, pinned by
//! `js/package-lock.json`) under Debian's Node: each test runs one check
//! of `js/mqttjs_check.js` against its own broker. The script's comments
//! name the normative statements each check covers.

use std::process::Command;

use crate::support::{node_dir, run_script, script_dir, Broker};

const INSTALL_NODE: &str =
    "install Node.js (Debian/Ubuntu: `apt-get install nodejs npm`, or run scripts/test.sh)";

/// Runs `node mqttjs_check.js PORT CHECK` against a fresh broker, with
/// `NODE_PATH` pointing at the installed MQTT.js; `midge_only_flags` are
/// passed only when the broker is midge.
fn mqttjs(check: &str, midge_only_flags: &[&str]) {
    let broker = Broker::start(&format!("mqttjs-{check}"));
    let mut command = Command::new("node");
    command
        .env("NODE_PATH", node_dir().join("node_modules"))
        .arg(script_dir().join("js/mqttjs_check.js"))
        .arg(broker.port.to_string());
    if broker.is_midge() {
        command.args(midge_only_flags);
    }
    run_script(command.arg(check), INSTALL_NODE);
}

/// QoS 0/1/2 to wildcard subscribers at min(published, granted) QoS, in
/// order.
#[test]
fn mqttjs_qos_0_1_2_round_trips() {
    mqttjs("qos_round_trips", &[]);
}

/// Clean Start 0 + Session Expiry Interval 30: Session Present and the
/// messages queued while away.
#[test]
fn mqttjs_session_resumes_with_expiry_interval() {
    mqttjs("session_resume", &[]);
}

/// Will Delay Interval 1 s: the will after the delay; a reconnect within a
/// 2 s delay cancels the will.
#[test]
fn mqttjs_will_delay_publishes_late_or_never() {
    mqttjs("will_delay", &[]);
}

/// `$share/grp/...` with two members: each message to exactly one, both
/// get some.
#[test]
fn mqttjs_shared_subscription_splits_messages_in_a_group() {
    mqttjs("shared_subscription", &[]);
}

/// Topic aliases from MQTT.js are resolved; towards a subscriber with
/// Topic Alias Maximum 5, midge must use aliases (topic + alias, then
/// alias only), which Mosquitto 2.0 never does, so the reference broker
/// runs the check without that requirement.
#[test]
fn mqttjs_topic_aliases_in_both_directions() {
    mqttjs("topic_alias", &["--expect-broker-aliases"]);
}

/// User properties and the other message properties arrive unchanged.
#[test]
fn mqttjs_user_properties_round_trip_unchanged() {
    mqttjs("user_properties", &[]);
}
