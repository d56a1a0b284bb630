//! The persistence directives (see `config/persistence.rs`).

use std::time::Duration;

use super::Line;
use crate::config::persistence::{Autosave, PersistenceSync};
use crate::config::{Config, ConfigError};

/// Applies `line` if it is a persistence directive; `None` if it is not
/// one. `autosave_on_changes` and `autosave_interval` may come in either
/// order.
pub(super) fn directive(config: &mut Config, line: &Line<'_>) -> Option<Result<(), ConfigError>> {
    let p = &mut config.persistence;
    let result = match line.directive {
        "persistence" => line.bool().map(|v| p.enabled = v),
        "persistence_location" => line.path().map(|dir| p.location = dir),
        "persistence_file" => line.one().and_then(|name| {
            if name.contains('/') || name == "." || name == ".." {
                return Err(
                    line.invalid(name, "a file name (the directory is persistence_location)")
                );
            }
            p.file = name.to_string();
            Ok(())
        }),
        "persistence_sync" => line.one().and_then(|v| {
            p.sync = match v {
                "turn" => PersistenceSync::Turn,
                "never" => PersistenceSync::Never,
                other => return Err(line.invalid(other, "turn or never")),
            };
            Ok(())
        }),
        "autosave_interval" => line
            .int(0, i64::from(u32::MAX), "an integer from 0 to 4294967295")
            .map(|n| {
                p.autosave = match p.autosave {
                    Autosave::Changes(_) => Autosave::Changes(n as u64),
                    Autosave::Seconds(_) => Autosave::Seconds(Duration::from_secs(n as u64)),
                }
            }),
        "autosave_on_changes" => line.bool().map(|on| {
            let n = match p.autosave {
                Autosave::Changes(n) => n,
                Autosave::Seconds(d) => d.as_secs(),
            };
            p.autosave = if on {
                Autosave::Changes(n)
            } else {
                Autosave::Seconds(Duration::from_secs(n))
            };
        }),
        _ => return None,
    };
    Some(result)
}
