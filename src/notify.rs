//! systemd's readiness protocol, for a `Type=notify` unit.
//!
//! Contract: when the service manager starts midge with `NOTIFY_SOCKET`
//! set, midge sends one datagram to that socket per change of state:
//! - `READY=1` once every listener is bound and the store restored, just
//!   before the event loop first polls (a client can connect from then on);
//! - `RELOADING=1` (with `MONOTONIC_USEC`) when SIGHUP's reload begins and
//!   `READY=1` when it is done;
//! - `STOPPING=1` when SIGINT or SIGTERM arrives.
//!
//! Each carries a `STATUS=` line for `systemctl status`. Without the
//! variable, or with an empty one, no socket is opened and nothing is sent.
//! A name starting with `/` is a socket file, one starting with `@` an
//! abstract socket; any other form is logged and ignored. A datagram that
//! cannot be sent is logged (once) and the broker runs on: readiness is a
//! courtesy to the service manager, never a reason to stop serving.

use std::ffi::OsStr;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

use log::warn;

/// The variable systemd sets for a `Type=notify` service.
pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// An open line to the service manager.
pub struct Notifier {
    socket: UnixDatagram,
    addr: SocketAddr,
    /// A failed send was already logged.
    warned: bool,
}

impl Notifier {
    /// Called once at start: the notifier `NOTIFY_SOCKET` asks for, if any.
    pub fn from_env() -> Option<Notifier> {
        Notifier::from_var(std::env::var_os(NOTIFY_SOCKET).as_deref())
    }

    /// The notifier for a value of `NOTIFY_SOCKET` (`None`: unset). An
    /// unset or empty value gives none, silently; an address midge cannot
    /// use gives none with a warning.
    pub fn from_var(value: Option<&OsStr>) -> Option<Notifier> {
        let value = value?.as_bytes();
        if value.is_empty() {
            return None;
        }
        let addr = match parse_addr(value) {
            Ok(addr) => addr,
            Err(e) => {
                warn!(
                    "{NOTIFY_SOCKET}={}: {e}; not telling the service manager when ready",
                    String::from_utf8_lossy(value)
                );
                return None;
            }
        };
        let socket = match UnixDatagram::unbound().and_then(|s| {
            s.set_nonblocking(true)?;
            Ok(s)
        }) {
            Ok(s) => s,
            Err(e) => {
                warn!("cannot open a socket for {NOTIFY_SOCKET}: {e}");
                return None;
            }
        };
        Some(Notifier {
            socket,
            addr,
            warned: false,
        })
    }

    /// Called when the listeners are bound and the loop is about to
    /// serve, and again after each reload.
    pub fn ready(&mut self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={status}"));
    }

    /// Called when SIGHUP's reload begins.
    pub fn reloading(&mut self) {
        self.send(&format!(
            "RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=reloading",
            monotonic_usec()
        ));
    }

    /// Called when a stop signal arrives, before the clients are closed.
    pub fn stopping(&mut self) {
        self.send("STOPPING=1\nSTATUS=stopping");
    }

    fn send(&mut self, message: &str) {
        if let Err(e) = self.socket.send_to_addr(message.as_bytes(), &self.addr) {
            if !self.warned {
                warn!("cannot notify the service manager through {NOTIFY_SOCKET}: {e}");
                self.warned = true;
            }
        }
    }
}

/// `/path` or `@abstract-name`.
fn parse_addr(value: &[u8]) -> io::Result<SocketAddr> {
    match value {
        [b'@', name @ ..] => SocketAddr::from_abstract_name(name),
        [b'/', ..] => SocketAddr::from_pathname(OsStr::from_bytes(value)),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a socket path or an abstract socket name",
        )),
    }
}

/// CLOCK_MONOTONIC in microseconds, the clock systemd compares a reload's
/// start against.
fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) } != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1_000
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn unset_or_empty_means_no_notifier() {
        assert!(Notifier::from_var(None).is_none());
        assert!(Notifier::from_var(Some(OsStr::new(""))).is_none());
    }

    #[test]
    fn other_address_forms_are_refused() {
        assert!(Notifier::from_var(Some(OsStr::new("vsock:2:1234"))).is_none());
        assert!(Notifier::from_var(Some(OsStr::new("relative/path"))).is_none());
    }

    #[test]
    fn abstract_name_reaches_a_bound_socket() {
        let name = format!("midge-notify-unit-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let manager = UnixDatagram::bind_addr(&addr).unwrap();
        manager
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let value = format!("@{name}");
        let mut n = Notifier::from_var(Some(OsStr::new(&value))).expect("a notifier");
        n.reloading();
        n.ready("serving");
        n.stopping();
        let mut buf = [0u8; 256];
        let mut next = || {
            let len = manager.recv(&mut buf).unwrap();
            String::from_utf8(buf[..len].to_vec()).unwrap()
        };
        let reloading = next();
        assert!(reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="));
        let usec: u64 = reloading.lines().nth(1).unwrap()["MONOTONIC_USEC=".len()..]
            .parse()
            .unwrap();
        assert!(usec > 0);
        assert_eq!(next(), "READY=1\nSTATUS=serving");
        assert_eq!(next(), "STOPPING=1\nSTATUS=stopping");
    }

    #[test]
    fn a_missing_manager_does_not_panic_and_warns_once() {
        let path = std::env::temp_dir().join(format!("midge-notify-gone-{}", std::process::id()));
        let value = path.into_os_string();
        let mut n = Notifier::from_var(Some(&value)).expect("a notifier");
        n.ready("serving");
        assert!(n.warned);
        n.stopping();
        assert!(n.warned);
    }
}
