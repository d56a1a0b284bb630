//! Interoperability tests: the real `midge` binary against real clients.
//!
//! # Layout
//! - `support.rs`: the broker as a child process on a free 127.0.0.1 port,
//!   client processes, where the installed tools are.
//! - `v311.rs`: MQTT 3.1.1 with `mosquitto_pub`/`mosquitto_sub` and
//!   paho-mqtt (`paho_check.py`).
//! - `mosquitto5.rs`: MQTT 5 with `mosquitto_pub`/`mosquitto_sub -V
//!   mqttv5` (properties, QoS, retained messages, session expiry, topic
//!   alias, will delay).
//! - `paho5.rs`: MQTT 5 with paho-mqtt (`paho5_check.py` on the connection
//!   kit `paho5_kit.py`), one test per check.
//! - `paho_tls.rs`: paho-mqtt's `tls_set` against a TLS listener, MQTT
//!   3.1.1 and 5.0 (`paho_tls_check.py`); with the `tls` feature.
//! - `mqttjs.rs`: MQTT 5 with MQTT.js under Node
//!   (`js/mqttjs_check.js`), one test per check.
//! - `websockets.rs`: MQTT over WebSockets with MQTT.js under Node and
//!   with headless Chromium running MQTT.js's browser bundle.
//!
//! Contract: every test starts its own broker, so tests run in parallel;
//! the broker and every client are child processes with bounded
//! lifetimes, killed on drop, so nothing hangs. The clients come from
//! `scripts/test.sh` (Debian's `mosquitto-clients`, `nodejs` and
//! `chromium`, paho-mqtt
//! in a virtualenv under `target/`, MQTT.js from
//! `js/package-lock.json`); a missing one fails the test with what
//! to run, nothing is skipped. `MIDGE_INTEROP_BROKER=mosquitto` runs the
//! same tests against Mosquitto, the reference the scripts were checked
//! against.

mod support;

mod mosquitto5;
mod mqttjs;
mod paho5;
#[cfg(feature = "tls")]
mod paho_tls;
mod v311;
#[cfg(feature = "websockets")]
mod websockets;
