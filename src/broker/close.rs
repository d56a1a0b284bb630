//! Why a connection ends: the cause decides whether the will is published
//! and what the log line says.

use std::fmt;

/// Why a connection ended; chooses whether the will is published and what
/// the disconnect log line says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseCause {
    /// The client sent DISCONNECT: no will.
    ClientDisconnect,
    /// An MQTT 5 client sent DISCONNECT with reason 0x04: the will is
    /// published.
    DisconnectWithWill,
    /// The peer closed the socket.
    SocketClosed,
    /// A socket error.
    Io(String),
    /// Nothing received for 1.5 times the keep-alive.
    KeepAliveTimeout,
    /// No CONNECT in time.
    ConnectTimeout,
    /// Bad bytes or a broken protocol rule; the text says which.
    Protocol(String),
    /// Another connection took the client id over.
    TakenOver,
    /// CONNECT refused (the CONNACK said why).
    Refused(&'static str),
    /// The listener is at `max_connections`.
    TooManyConnections,
    /// The broker is stopping.
    Shutdown,
    /// An MQTT 5 client stopped reading and its queue overflowed.
    NotReading,
    /// The broker at the far end of a bridge sent DISCONNECT with this
    /// reason code.
    RemoteDisconnect(u8),
}

impl CloseCause {
    /// Does this ending publish the will?
    pub(super) fn publishes_will(&self) -> bool {
        !matches!(
            self,
            CloseCause::ClientDisconnect | CloseCause::Refused(_) | CloseCause::TooManyConnections
        )
    }
}

impl fmt::Display for CloseCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseCause::ClientDisconnect => f.write_str("client sent DISCONNECT"),
            CloseCause::DisconnectWithWill => {
                f.write_str("client sent DISCONNECT with will message (0x04)")
            }
            CloseCause::SocketClosed => f.write_str("connection closed by peer"),
            CloseCause::Io(e) => write!(f, "socket error: {e}"),
            CloseCause::KeepAliveTimeout => f.write_str("keep-alive timeout"),
            CloseCause::ConnectTimeout => f.write_str("no CONNECT received in time"),
            CloseCause::Protocol(e) => write!(f, "protocol error: {e}"),
            CloseCause::TakenOver => f.write_str("session taken over by a new connection"),
            CloseCause::Refused(why) => write!(f, "connection refused: {why}"),
            CloseCause::TooManyConnections => f.write_str("listener at max_connections"),
            CloseCause::Shutdown => f.write_str("broker shutting down"),
            CloseCause::NotReading => {
                f.write_str("queue full while the client is not reading (quota exceeded)")
            }
            CloseCause::RemoteDisconnect(code) => {
                write!(f, "the remote broker sent DISCONNECT (0x{code:02x})")
            }
        }
    }
}
