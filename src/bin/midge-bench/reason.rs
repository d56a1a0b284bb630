//! Names of the codes a broker answers with, for the tool's messages:
//! MQTT 3.1.1 CONNACK return codes and MQTT 5 reason codes.

/// The name of a 3.1.1 CONNACK return code.
pub fn connack_311(code: u8) -> &'static str {
    match code {
        0 => "accepted",
        1 => "unacceptable protocol version",
        2 => "identifier rejected",
        3 => "server unavailable",
        4 => "bad user name or password",
        5 => "not authorized",
        _ => "not a 3.1.1 return code",
    }
}

/// The name of an MQTT 5 reason code as the specification spells it.
/// Codes below 0x80 are successes; their meaning depends on the packet,
/// so the name lists the usual one.
pub fn name(code: u8) -> &'static str {
    match code {
        0x00 => "Success",
        0x01 => "Granted QoS 1",
        0x02 => "Granted QoS 2",
        0x04 => "Disconnect with Will Message",
        0x10 => "No matching subscribers",
        0x11 => "No subscription existed",
        0x18 => "Continue authentication",
        0x19 => "Re-authenticate",
        0x80 => "Unspecified error",
        0x81 => "Malformed Packet",
        0x82 => "Protocol Error",
        0x83 => "Implementation specific error",
        0x84 => "Unsupported Protocol Version",
        0x85 => "Client Identifier not valid",
        0x86 => "Bad User Name or Password",
        0x87 => "Not authorized",
        0x88 => "Server unavailable",
        0x89 => "Server busy",
        0x8A => "Banned",
        0x8B => "Server shutting down",
        0x8C => "Bad authentication method",
        0x8D => "Keep Alive timeout",
        0x8E => "Session taken over",
        0x8F => "Topic Filter invalid",
        0x90 => "Topic Name invalid",
        0x91 => "Packet Identifier in use",
        0x92 => "Packet Identifier not found",
        0x93 => "Receive Maximum exceeded",
        0x94 => "Topic Alias invalid",
        0x95 => "Packet too large",
        0x96 => "Message rate too high",
        0x97 => "Quota exceeded",
        0x98 => "Administrative action",
        0x99 => "Payload format invalid",
        0x9A => "Retain not supported",
        0x9B => "QoS not supported",
        0x9C => "Use another server",
        0x9D => "Server moved",
        0x9E => "Shared Subscriptions not supported",
        0x9F => "Connection rate exceeded",
        0xA0 => "Maximum connect time",
        0xA1 => "Subscription Identifiers not supported",
        0xA2 => "Wildcard Subscriptions not supported",
        _ => "unknown reason code",
    }
}

/// "0x8b Server shutting down", followed by the broker's Reason String
/// when it sent one.
pub fn describe(code: u8, reason: Option<&[u8]>) -> String {
    let mut s = format!("{code:#04x} {}", name(code));
    if let Some(r) = reason {
        s.push_str(": \"");
        s.push_str(&String::from_utf8_lossy(r));
        s.push('"');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_carry_code_name_and_reason_string() {
        assert_eq!(describe(0x8B, None), "0x8b Server shutting down");
        assert_eq!(
            describe(0x97, Some(b"slow down")),
            "0x97 Quota exceeded: \"slow down\""
        );
        assert_eq!(name(0x7F), "unknown reason code");
        assert_eq!(connack_311(1), "unacceptable protocol version");
    }
}
