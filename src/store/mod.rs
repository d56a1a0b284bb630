//! Crash-safe persistence (being built): the records' MQTT meaning and
//! their replay.

pub mod model;
#[cfg(test)]
mod model_tests;
pub mod record;
