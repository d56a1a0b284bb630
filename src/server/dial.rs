//! Opening bridges' connections without blocking the loop: a host name is
//! resolved with the loop's own resolver (`crate::dns`: one UDP socket per
//! lookup, `/etc/hosts` first; no libc resolver, which a static build
//! cannot use and which would block), then each address it gave is tried
//! with a non-blocking connect until one answers. The connected socket,
//! wrapped in TLS when the bridge has `bridge_cafile`/`bridge_capath`,
//! goes to the broker ([`Broker::bridge_connected`]); a failure goes there
//! too, with its cause ([`Broker::bridge_dial_failed`]), and the broker
//! decides what comes next. A dial the broker gave up on (its timeout
//! passed) is dropped at the end of the turn.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use log::{debug, warn};
use mio::net::{TcpStream, UdpSocket};
use mio::{Interest, Registry, Token};
use slab::Slab;

use crate::broker::{Broker, Dial, Settings};
use crate::config::Config;
use crate::dns::{Lookup, ResolvConf};
use crate::transport::Stream;

/// Dial `i` has token `DIAL_BASE + i` (below the listeners' tokens).
pub(super) const DIAL_BASE: usize = usize::MAX - 4096;
/// Most dials at once (one per bridge is the most the broker asks for).
const MAX_DIALS: usize = 1024;

/// Where a dial is.
enum Stage {
    /// Waiting for the name server.
    Resolving {
        lookup: Box<Lookup>,
        sock: UdpSocket,
    },
    /// Connecting to `addrs[next - 1]`.
    Connecting {
        sock: TcpStream,
        addrs: Vec<SocketAddr>,
        next: usize,
    },
}

struct Pending {
    dial: Dial,
    stage: Stage,
}

/// The dials under way, and how each bridge's connections are wrapped.
pub(super) struct Dialer {
    pending: Slab<Pending>,
    scratch: Vec<Dial>,
    /// Per bridge: its TLS client set-up, `None` for plain TCP.
    #[cfg(feature = "tls")]
    connectors: Vec<Option<crate::tls::Connector>>,
    /// Per bridge: `bridge_bind_address`.
    bind: Vec<Option<IpAddr>>,
    conf: ResolvConf,
    hosts: String,
    seed: u16,
}

impl Dialer {
    /// Called when the server binds: loads every bridge's TLS files (an
    /// error names the connection and the file) and reads the resolver's
    /// files once.
    pub(super) fn load(config: &Config) -> io::Result<Dialer> {
        #[cfg(not(feature = "tls"))]
        if let Some(b) = config.bridges.iter().find(|b| b.tls.enabled()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "bridge {}: midge was built without TLS (the tls feature)",
                    b.name
                ),
            ));
        }
        #[cfg(feature = "tls")]
        let connectors = config
            .bridges
            .iter()
            .map(|b| {
                if !b.tls.enabled() {
                    return Ok(None);
                }
                crate::tls::Connector::load(&b.tls).map(Some).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("bridge {} ({}): {e}", b.name, b.origin),
                    )
                })
            })
            .collect::<io::Result<Vec<_>>>()?;
        let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        Ok(Dialer {
            pending: Slab::new(),
            scratch: Vec::new(),
            #[cfg(feature = "tls")]
            connectors,
            bind: config.bridges.iter().map(|b| b.bind_address).collect(),
            conf: ResolvConf::parse(&text),
            hosts: std::fs::read_to_string("/etc/hosts").unwrap_or_default(),
            seed: (crate::broker::random_seed() & 0xFFFF) as u16,
        })
    }

    /// Is there a dial under way (the loop then polls with a deadline)?
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.pending
            .iter()
            .filter_map(|(_, p)| match &p.stage {
                Stage::Resolving { lookup, .. } => lookup.deadline(),
                Stage::Connecting { .. } => None,
            })
            .min()
    }

    /// Once a turn: starts the dials the broker asked for, moves lookups
    /// whose time ran out on, and drops the dials the broker gave up on.
    pub(super) fn turn(&mut self, broker: &mut Broker<Stream>, registry: &Registry, now: Instant) {
        let mut dials = std::mem::take(&mut self.scratch);
        broker.take_dials(&mut dials);
        for d in dials.drain(..) {
            self.start(d, broker, registry, now);
        }
        self.scratch = dials;
        let due: Vec<usize> = self
            .pending
            .iter()
            .filter(|(_, p)| match &p.stage {
                Stage::Resolving { lookup, .. } => lookup.deadline().is_some_and(|d| d <= now),
                Stage::Connecting { .. } => false,
            })
            .map(|(i, _)| i)
            .collect();
        for i in due {
            if let Some(Stage::Resolving { lookup, .. }) =
                self.pending.get_mut(i).map(|p| &mut p.stage)
            {
                lookup.timeout(now);
            }
            self.advance_lookup(i, broker, registry, now);
        }
        let stale: Vec<usize> = self
            .pending
            .iter()
            .filter(|(_, p)| !broker.dial_live(p.dial.bridge, p.dial.generation))
            .map(|(i, _)| i)
            .collect();
        for i in stale {
            let p = self.pending.remove(i);
            debug!("bridge dial to {} dropped", p.dial.host);
            drop_stage(p.stage, registry);
        }
    }

    fn start(
        &mut self,
        dial: Dial,
        broker: &mut Broker<Stream>,
        registry: &Registry,
        now: Instant,
    ) {
        if self.pending.len() >= MAX_DIALS {
            broker.bridge_dial_failed(dial.bridge, dial.generation, "too many dials", now);
            return;
        }
        let lookup = Lookup::new(
            &dial.host,
            dial.port,
            &self.conf,
            &self.hosts,
            self.seed,
            now,
        );
        self.seed = self.seed.wrapping_add(0x9E37);
        let sock = match UdpSocket::bind(unspecified_for(&self.conf)) {
            Ok(s) => s,
            Err(e) => {
                let why = format!("cannot open a socket for DNS: {e}");
                broker.bridge_dial_failed(dial.bridge, dial.generation, &why, now);
                return;
            }
        };
        let entry = self.pending.vacant_entry();
        let i = entry.key();
        let mut p = Pending {
            dial,
            stage: Stage::Resolving {
                lookup: Box::new(lookup),
                sock,
            },
        };
        if let Stage::Resolving { sock, .. } = &mut p.stage {
            if let Err(e) = registry.register(sock, Token(DIAL_BASE + i), Interest::READABLE) {
                let why = format!("cannot register the DNS socket: {e}");
                broker.bridge_dial_failed(p.dial.bridge, p.dial.generation, &why, now);
                return;
            }
        }
        entry.insert(p);
        self.advance_lookup(i, broker, registry, now);
    }

    /// Sends what the lookup of dial `i` has to send; once it has its
    /// answer, starts connecting (or reports the failure).
    fn advance_lookup(
        &mut self,
        i: usize,
        broker: &mut Broker<Stream>,
        registry: &Registry,
        now: Instant,
    ) {
        let Some(p) = self.pending.get_mut(i) else {
            return;
        };
        let Stage::Resolving { lookup, sock } = &mut p.stage else {
            return;
        };
        while let Some((to, msg)) = lookup.transmit() {
            if let Err(e) = sock.send_to(&msg, to) {
                debug!("DNS query to {to}: {e}");
            }
        }
        let Some(result) = lookup.result().cloned() else {
            return;
        };
        let p = self.pending.remove(i);
        drop_stage(p.stage, registry);
        match result {
            Ok(addrs) if !addrs.is_empty() => {
                self.connect(p.dial, addrs, 0, broker, registry, now);
            }
            Ok(_) => broker.bridge_dial_failed(
                p.dial.bridge,
                p.dial.generation,
                "the name has no address",
                now,
            ),
            Err(why) => broker.bridge_dial_failed(p.dial.bridge, p.dial.generation, &why, now),
        }
    }

    /// Starts a non-blocking connect to `addrs[next]` (or the ones after
    /// it that fail at once).
    fn connect(
        &mut self,
        dial: Dial,
        addrs: Vec<SocketAddr>,
        mut next: usize,
        broker: &mut Broker<Stream>,
        registry: &Registry,
        now: Instant,
    ) {
        let mut last_error = String::from("no address");
        while next < addrs.len() {
            let addr = addrs[next];
            next += 1;
            let bind = self.bind.get(dial.bridge).copied().flatten();
            let sock = match connect_from(bind, addr) {
                Ok(s) => s,
                Err(e) => {
                    last_error = format!("{addr}: {e}");
                    continue;
                }
            };
            let i = self.pending.insert(Pending {
                dial,
                stage: Stage::Connecting { sock, addrs, next },
            });
            let p = &mut self.pending[i];
            if let Stage::Connecting { sock, .. } = &mut p.stage {
                let interest = Interest::READABLE | Interest::WRITABLE;
                if let Err(e) = registry.register(sock, Token(DIAL_BASE + i), interest) {
                    let p = self.pending.remove(i);
                    let why = format!("cannot register the socket: {e}");
                    broker.bridge_dial_failed(p.dial.bridge, p.dial.generation, &why, now);
                }
            }
            return;
        }
        broker.bridge_dial_failed(dial.bridge, dial.generation, &last_error, now);
    }

    /// A readiness event on dial token `i`: a DNS reply, or the connect's
    /// outcome.
    pub(super) fn event(
        &mut self,
        i: usize,
        broker: &mut Broker<Stream>,
        registry: &Registry,
        now: Instant,
    ) {
        let Some(p) = self.pending.get_mut(i) else {
            return;
        };
        match &mut p.stage {
            Stage::Resolving { lookup, sock } => {
                let mut buf = [0u8; 1500];
                loop {
                    match sock.recv_from(&mut buf) {
                        Ok((n, from)) => lookup.datagram(from, &buf[..n], now),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            // An ICMP error from the name server: its
                            // timeout moves on to the next one.
                            debug!("DNS socket: {e}");
                            break;
                        }
                    }
                }
                self.advance_lookup(i, broker, registry, now);
            }
            Stage::Connecting { sock, .. } => {
                let outcome = match sock.take_error() {
                    Ok(Some(e)) | Err(e) => Err(e),
                    Ok(None) => match sock.peer_addr() {
                        Ok(peer) => Ok(peer),
                        Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                        Err(e) => Err(e),
                    },
                };
                let p = self.pending.remove(i);
                let Stage::Connecting {
                    mut sock,
                    addrs,
                    next,
                } = p.stage
                else {
                    return;
                };
                let _ = registry.deregister(&mut sock);
                match outcome {
                    Ok(peer) => self.connected(p.dial, sock, peer, broker, registry, now),
                    Err(e) => {
                        let addr = addrs[next - 1];
                        if next < addrs.len() {
                            debug!("bridge: {addr}: {e}; trying the next address");
                            self.connect(p.dial, addrs, next, broker, registry, now);
                        } else {
                            let why = format!("{addr}: {e}");
                            broker.bridge_dial_failed(p.dial.bridge, p.dial.generation, &why, now);
                        }
                    }
                }
            }
        }
    }

    /// The TCP connection is up: wrapped (TLS) and handed to the broker,
    /// then registered under its link's token.
    fn connected(
        &mut self,
        dial: Dial,
        sock: TcpStream,
        peer: SocketAddr,
        broker: &mut Broker<Stream>,
        registry: &Registry,
        now: Instant,
    ) {
        if let Err(e) = sock.set_nodelay(true) {
            warn!("TCP_NODELAY to {peer}: {e}");
        }
        let stream = match self.wrap(dial.bridge, sock, &dial.host) {
            Ok(s) => s,
            Err(e) => {
                let why = format!("TLS set-up: {e}");
                broker.bridge_dial_failed(dial.bridge, dial.generation, &why, now);
                return;
            }
        };
        let Ok(id) = broker.bridge_connected(dial.bridge, dial.generation, stream, peer, now)
        else {
            return; // stale: the socket closes
        };
        let link = broker.link_mut(id).expect("link just opened");
        let interest = Interest::READABLE | Interest::WRITABLE;
        match registry.register(&mut link.io, Token(id), interest) {
            Ok(()) => link.write_interest = true,
            Err(e) => broker.link_lost(id, crate::broker::CloseCause::Io(e.to_string()), now),
        }
    }

    /// The bridge's transport over `sock`.
    fn wrap(&self, bridge: usize, sock: TcpStream, host: &str) -> io::Result<Stream> {
        #[cfg(feature = "tls")]
        if let Some(Some(c)) = self.connectors.get(bridge) {
            let t = crate::tls::TlsStream::client(sock, c, host)?;
            return Ok(Stream::Tls(Box::new(t)));
        }
        let _ = (bridge, host);
        Ok(Stream::Plain(sock))
    }
}

/// Deregisters a dial's socket.
fn drop_stage(stage: Stage, registry: &Registry) {
    match stage {
        Stage::Resolving { mut sock, .. } => {
            let _ = registry.deregister(&mut sock);
        }
        Stage::Connecting { mut sock, .. } => {
            let _ = registry.deregister(&mut sock);
        }
    }
}

/// The local address a DNS socket binds: of the first name server's
/// family.
fn unspecified_for(conf: &ResolvConf) -> SocketAddr {
    match conf.nameservers.first() {
        Some(IpAddr::V6(_)) => "[::]:0".parse().expect("address"),
        _ => "0.0.0.0:0".parse().expect("address"),
    }
}

/// A non-blocking connect to `addr`, from `bind` when given
/// (`bridge_bind_address`).
fn connect_from(bind: Option<IpAddr>, addr: SocketAddr) -> io::Result<TcpStream> {
    let Some(local) = bind else {
        return TcpStream::connect(addr);
    };
    // std has no bind-then-connect: a socket of our own, then mio's.
    bound_socket(SocketAddr::new(local, 0), addr)
}

/// A socket bound to `local`, connecting (without blocking) to `addr`.
fn bound_socket(local: SocketAddr, addr: SocketAddr) -> io::Result<TcpStream> {
    use std::os::fd::FromRawFd;
    let family = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: plain socket calls on a descriptor this function owns; it
    // is closed on every error path and handed to mio on success.
    unsafe {
        let fd = libc::socket(
            family,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let fail = |fd: i32| {
            let e = io::Error::last_os_error();
            libc::close(fd);
            Err(e)
        };
        let (l, l_len) = sockaddr(local);
        if libc::bind(fd, &l as *const _ as *const libc::sockaddr, l_len) != 0 {
            return fail(fd);
        }
        let (r, r_len) = sockaddr(addr);
        if libc::connect(fd, &r as *const _ as *const libc::sockaddr, r_len) != 0
            && io::Error::last_os_error().raw_os_error() != Some(libc::EINPROGRESS)
        {
            return fail(fd);
        }
        Ok(TcpStream::from_std(std::net::TcpStream::from_raw_fd(fd)))
    }
}

/// `addr` as a C socket address and its length.
fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_in fits in sockaddr_storage.
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in, sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_in6 fits in sockaddr_storage.
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in6, sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// A bridge's `local_username` with `local_password` must be a user of
/// the password file (the first listener's), as for a client connecting
/// with them: the error names the connection.
pub(super) fn check_local_passwords(config: &Config, settings: &Settings) -> io::Result<()> {
    use crate::auth::password::Verdict;
    let Some(file) = settings
        .listeners
        .first()
        .and_then(|l| l.passwords.as_ref())
    else {
        return Ok(());
    };
    for b in &config.bridges {
        let (Some(user), Some(password)) = (&b.local_username, &b.local_password) else {
            continue;
        };
        let why = match file.check(user, Some(password.as_bytes())) {
            Verdict::Accepted => continue,
            Verdict::WrongPassword => "local_password is not its password",
            Verdict::UnknownUser => "not a user of the password file",
            Verdict::UnsupportedHash { .. } => "its password file entry cannot be checked",
        };
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "bridge {} ({}): local_username {user:?}: {why}",
                b.name, b.origin
            ),
        ));
    }
    Ok(())
}

/// This machine's host name (for bridges' default client ids), or
/// `localhost` when it has none.
pub(super) fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into `buf`.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..end]) {
        Ok(name) if rc == 0 && !name.is_empty() => name.to_string(),
        _ => "localhost".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;
    use crate::auth::password::PasswordFile;
    use crate::config::BridgeConfig;

    fn with_password(user: &str, password: &str) -> (Config, Settings) {
        let file = PasswordFile::parse(
            "pw",
            include_str!("../auth/fixtures/password-mosquitto.txt"),
        )
        .expect("fixture parses");
        let mut settings = Settings::default();
        settings.listeners[0].passwords = Some(Rc::new(file));
        let mut b = BridgeConfig::new("up", "m.conf:3".into());
        b.local_username = Some(user.into());
        b.local_password = Some(password.into());
        let config = Config {
            bridges: vec![b],
            ..Config::default()
        };
        (config, settings)
    }

    #[test]
    fn a_bridges_local_user_must_pass_the_password_file() {
        let (config, settings) = with_password("bob", "hunter2");
        assert!(check_local_passwords(&config, &settings).is_ok());
        for (user, password, why) in [
            ("bob", "wrong", "local_password is not its password"),
            ("nobody", "x", "not a user of the password file"),
        ] {
            let (config, settings) = with_password(user, password);
            let e = check_local_passwords(&config, &settings).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("bridge up (m.conf:3): local_username {user:?}: {why}")
            );
        }
        // No password file: nothing to check against.
        let (config, _) = with_password("bob", "wrong");
        assert!(check_local_passwords(&config, &Settings::default()).is_ok());
    }

    #[test]
    fn the_host_name_is_never_empty() {
        assert!(!hostname().is_empty());
    }
}
