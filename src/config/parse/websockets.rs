//! The WebSocket directives: `protocol` (per listener, like Mosquitto's),
//! the global `websockets_headers_size`, and the two Mosquitto directives
//! midge takes its own way: `websockets_log_level` (libwebsockets' debug
//! mask, ignored with a warning) and `http_dir` (refused: midge serves no
//! files). Whether the build has WebSockets is checked when the server
//! binds, as for TLS.

use super::{Line, Parser};
use crate::config::{ConfigError, ListenerProtocol, DEFAULT_WEBSOCKETS_HEADERS_SIZE};

/// Applies `line` if it is one of these directives; `None` if it is not.
pub(super) fn directive(
    parser: &mut Parser<'_>,
    line: &Line<'_>,
) -> Option<Result<(), ConfigError>> {
    let done = match line.directive {
        "protocol" => protocol(parser, line),
        "websockets_headers_size" => line
            .int(0, 65535, "an integer from 0 to 65535 (0: 8192)")
            .map(|value| {
                parser.config.websockets_headers_size = match usize::try_from(value) {
                    Ok(0) | Err(_) => DEFAULT_WEBSOCKETS_HEADERS_SIZE,
                    Ok(n) => n,
                };
            }),
        "websockets_log_level" => line
            .int(0, i64::from(i32::MAX), "a libwebsockets log level mask")
            .map(|_| {
                parser.config.warnings.push(format!(
                    "{}:{}: websockets_log_level is ignored (midge has no libwebsockets)",
                    line.file, line.number
                ));
            }),
        "http_dir" => Err(line
            .error("midge serves no files: a websockets listener answers only the MQTT upgrade")),
        _ => return None,
    };
    Some(done)
}

/// `protocol mqtt|websockets`, for the current listener.
fn protocol(parser: &mut Parser<'_>, line: &Line<'_>) -> Result<(), ConfigError> {
    let protocol = match line.one()? {
        "mqtt" => ListenerProtocol::Mqtt,
        "websockets" => ListenerProtocol::Websockets,
        other => return Err(line.invalid(other, "mqtt or websockets")),
    };
    parser.current_listener(line).protocol = protocol;
    Ok(())
}
