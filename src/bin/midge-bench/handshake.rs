//! The start of every bench connection, shared by all scenarios: the
//! CONNECT it sends for its role and version, and the checks that turn
//! the broker's CONNACK, SUBACK or DISCONNECT into a go-ahead or a clear
//! message.

use crate::decode::ConnAck;
use crate::opts::Opts;
use crate::reason;
use crate::wire::{self, ConnectProps, Version};
use std::time::Duration;

/// Keep-alive sent in CONNECT; a PINGREQ goes out at half of it.
pub const KEEP_ALIVE: u16 = 60;

/// What a connection does in the run; it decides its CONNECT properties.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// Only publishes.
    Publisher,
    /// Subscribes and receives.
    Subscriber,
    /// Connects and stays idle.
    Idle,
}

/// Appends the CONNECT of a `client` connection to `tx`. MQTT 5
/// connections ask for a Receive Maximum equal to the QoS 1/2 window,
/// and subscribers offer `--topic-alias-max` aliases.
pub fn connect(tx: &mut Vec<u8>, client_id: &[u8], o: &Opts, client: Client) {
    let props = ConnectProps {
        receive_max: (o.qos > 0 && client != Client::Idle).then_some(o.window as u16),
        topic_alias_max: if client == Client::Subscriber {
            o.topic_alias_max
        } else {
            0
        },
        persistent: o.persistent && client == Client::Subscriber,
    };
    wire::connect(tx, client_id, KEEP_ALIVE, o.version, props);
}

/// What an accepted CONNACK allows the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Granted {
    /// QoS 1/2 publishes the broker takes in flight (65,535 unless an
    /// MQTT 5 broker said less).
    pub receive_max: u16,
    /// How often to send a PINGREQ: half the keep-alive in force.
    pub ping_every: Duration,
}

/// Checks a CONNACK for a connection at `version` that will publish at
/// `qos` with PUBLISH packets of up to `largest` bytes (0 when it does not
/// publish). `Err` says why the run cannot go on.
pub fn accept_connack(
    ack: &ConnAck<'_>,
    version: Version,
    qos: u8,
    largest: usize,
) -> Result<Granted, String> {
    let code = ack.code;
    match version {
        Version::V311 if code != 0 => {
            return Err(format!(
                "CONNACK return code {code} ({})",
                reason::connack_311(code)
            ));
        }
        Version::V5 if code == 1 => {
            return Err("CONNACK return code 1 (unacceptable protocol version): \
                        the broker does not speak MQTT 5; drop --mqtt5"
                .into());
        }
        Version::V5 if code == 0x84 => {
            return Err(format!(
                "CONNACK reason {}: the broker does not speak MQTT 5; drop --mqtt5",
                reason::describe(code, ack.reason)
            ));
        }
        Version::V5 if code != 0 => {
            return Err(format!(
                "CONNACK reason {}",
                reason::describe(code, ack.reason)
            ));
        }
        _ => {}
    }
    if let Some(max) = ack.max_qos.filter(|&m| m < qos && largest > 0) {
        return Err(format!(
            "the broker's CONNACK allows QoS up to {max}; this run publishes at QoS {qos}"
        ));
    }
    if let Some(max) = ack.max_packet_size.filter(|&m| (m as usize) < largest) {
        return Err(format!(
            "the broker's Maximum Packet Size is {max} bytes; this run's PUBLISH is {largest} (lower --size)"
        ));
    }
    let keep_alive = ack.keep_alive.filter(|&k| k > 0).unwrap_or(KEEP_ALIVE);
    Ok(Granted {
        receive_max: ack.receive_max.unwrap_or(u16::MAX),
        ping_every: Duration::from_millis(u64::from(keep_alive) * 500),
    })
}

/// Checks the SUBACK of a subscription at `qos`.
pub fn accept_suback(code: u8, why: Option<&[u8]>, qos: u8) -> Result<(), String> {
    if code == qos {
        return Ok(());
    }
    if code >= 0x80 {
        return Err(format!(
            "SUBACK refused the subscription: {}",
            reason::describe(code, why)
        ));
    }
    Err(format!("SUBACK granted QoS {code} for QoS {qos}"))
}

/// The error for a DISCONNECT the broker sent.
pub fn disconnected(code: u8, why: Option<&[u8]>) -> String {
    format!(
        "DISCONNECT from the broker: reason {}",
        reason::describe(code, why)
    )
}

/// Checks the reason code of an acknowledgement (`kind` names it):
/// 0x80 and above means the broker refused the message.
pub fn accept_ack(kind: &str, id: u16, code: u8) -> Result<(), String> {
    if code < 0x80 {
        return Ok(());
    }
    Err(format!(
        "{kind} for packet id {id}: reason {}",
        reason::describe(code, None)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(code: u8) -> ConnAck<'static> {
        ConnAck {
            code,
            ..ConnAck::default()
        }
    }

    #[test]
    fn refusals_say_why() {
        let e = accept_connack(&ack(0x84), Version::V5, 0, 0).unwrap_err();
        assert!(
            e.contains("0x84 Unsupported Protocol Version") && e.contains("--mqtt5"),
            "{e}"
        );
        let e = accept_connack(&ack(1), Version::V5, 0, 0).unwrap_err();
        assert!(e.contains("does not speak MQTT 5"), "{e}");
        let e = accept_connack(&ack(5), Version::V311, 0, 0).unwrap_err();
        assert_eq!(e, "CONNACK return code 5 (not authorized)");
        let e = accept_connack(&ack(0x87), Version::V5, 0, 0).unwrap_err();
        assert_eq!(e, "CONNACK reason 0x87 Not authorized");
    }

    #[test]
    fn limits_of_an_accepted_connack() {
        let g = accept_connack(&ack(0), Version::V311, 1, 90).unwrap();
        assert_eq!(g.receive_max, u16::MAX);
        assert_eq!(g.ping_every, Duration::from_secs(30));
        let limited = ConnAck {
            receive_max: Some(10),
            keep_alive: Some(4),
            max_qos: Some(1),
            max_packet_size: Some(100),
            ..ack(0)
        };
        let g = accept_connack(&limited, Version::V5, 1, 100).unwrap();
        assert_eq!((g.receive_max, g.ping_every), (10, Duration::from_secs(2)));
        assert!(accept_connack(&limited, Version::V5, 2, 90).is_err());
        assert!(
            accept_connack(&limited, Version::V5, 2, 0).is_ok(),
            "subscribers do not publish"
        );
        assert!(accept_connack(&limited, Version::V5, 1, 101).is_err());
    }

    #[test]
    fn suback_and_ack_codes() {
        assert!(accept_suback(1, None, 1).is_ok());
        let e = accept_suback(0xA2, None, 0).unwrap_err();
        assert!(e.contains("Wildcard Subscriptions not supported"), "{e}");
        assert!(accept_suback(0, None, 1).is_err());
        assert!(accept_ack("PUBACK", 1, 0x10).is_ok());
        assert!(accept_ack("PUBACK", 1, 0x97).is_err());
        assert_eq!(
            disconnected(0x8B, Some(b"bye")),
            "DISCONNECT from the broker: reason 0x8b Server shutting down: \"bye\""
        );
    }
}
