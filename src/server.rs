//! The event loop: one mio `Poll` owns the listeners and every connection
//! (held in the broker's link slab) and moves bytes between sockets and the
//! broker.
//!
//! One turn:
//! 1. poll, with the timeout of the broker's next timer (zero when work was
//!    left over from the last turn);
//! 2. accept until `WouldBlock`; read each readable connection until
//!    `WouldBlock` or its read budget, handing the bytes to the broker after
//!    each read;
//! 3. run due timers;
//! 4. flush every connection with output: one vectored write at a time,
//!    up to a write budget; WRITABLE interest is requested only after a
//!    short write and dropped once the queue is empty;
//! 5. close the connections the broker ended, after a last flush.
//!
//! Reads and writes are capped per connection per turn so that one busy
//! client cannot starve the others; a connection that hit a cap is served
//! again next turn.
//!
//! A TLS listener's connections are [`Stream::Tls`]: the handshake runs
//! inside their reads and writes (so the CONNECT timeout covers it), a
//! read that leaves TLS records unsent marks the link for the flush, and
//! the flush counts records the transport still holds as output
//! (`Stream::wants_write`), keeping WRITABLE interest until they are out.
//! A `protocol websockets` listener's connections are `Stream::Ws` over
//! either: the same holds for the upgrade handshake and the frames the
//! WebSocket layer sends of its own.

mod dial;
mod reload;
mod wrap;

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{error, info, warn};
use mio::net::{TcpListener, UnixStream};
use mio::{Events, Interest, Poll, Registry, Token, Waker};

use crate::broker::{Broker, CloseCause, ListenerPolicy, Settings, MQTT_MAX_PACKET};
use crate::config::{CertUsername, Config};
use crate::notify::Notifier;
use crate::persistence::Durable;
use crate::session::QueueLimits;
use crate::transport::Stream;

const WAKER: Token = Token(usize::MAX);
const SIGNALS: Token = Token(usize::MAX - 1);
const RELOAD: Token = Token(usize::MAX - 2);
/// Listener `i` has token `LISTENER_BASE + i`.
const LISTENER_BASE: usize = usize::MAX - 1024;

/// Bytes read from one connection per turn before others get their turn.
const READ_BUDGET: usize = 256 * 1024;
/// Bytes written to one connection per turn.
const WRITE_BUDGET: usize = 512 * 1024;
/// Size of the loop's one read buffer.
const READ_CHUNK: usize = 64 * 1024;
/// Readiness events handled per poll.
const EVENTS: usize = 1024;

/// Stops a running [`Server`] from another thread.
#[derive(Clone)]
pub struct StopHandle {
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl StopHandle {
    /// Asks the loop to close every connection and return from `run`.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Err(e) = self.waker.wake() {
            warn!("could not wake the event loop: {e}");
        }
    }
}

pub struct Server {
    poll: Poll,
    listeners: Vec<TcpListener>,
    /// Per listener: its TLS and WebSocket set-up.
    transports: wrap::Transports,
    broker: Broker<Stream>,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    signals: Option<UnixStream>,
    /// SIGHUP's pipe: re-read the config's password, ACL and TLS files.
    reload_signal: Option<UnixStream>,
    /// The configuration in force (reloads compare against it).
    config: Config,
    /// Connections whose read budget ran out: read again next turn.
    backlog: Vec<usize>,
    scratch: Vec<usize>,
    pressed_scratch: Vec<usize>,
    rx_scratch: Box<[u8]>,
    /// The store, with `persistence true`.
    durable: Option<Durable>,
    /// Links whose output waits for the store (see `persistence.rs`).
    held: Vec<usize>,
    /// The service manager to tell about readiness, reloads and stopping.
    notifier: Option<Notifier>,
    /// Bridges' connections being opened.
    dialer: dial::Dialer,
}

/// Empties a signal pipe (each signal wrote a byte).
fn drain(pipe: Option<&mut UnixStream>) {
    if let Some(s) = pipe {
        let mut buf = [0u8; 64];
        while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
    }
}

/// The broker's settings from the configuration.
pub fn settings_from(config: &Config) -> Settings {
    let listeners = config
        .listeners
        .iter()
        .enumerate()
        .map(|(i, l)| ListenerPolicy {
            allow_anonymous: config.anonymous_allowed(i),
            max_connections: l.max_connections,
            allow_zero_length_clientid: config.zero_length_clientid_allowed(i),
            max_topic_alias: l.max_topic_alias,
            max_qos: l.max_qos,
            mount_point: l.mount_point.as_deref().map(Rc::from),
            acl: None,
            passwords: None,
            username_from_cert: l.tls.cert_username != CertUsername::None,
        })
        .collect();
    Settings {
        max_packet_size: match config.max_packet_size {
            0 => MQTT_MAX_PACKET,
            n => n as usize,
        },
        message_size_limit: config.message_size_limit as usize,
        limits: QueueLimits {
            max_inflight: config.inflight_window(),
            max_queued: config.max_queued_messages,
            max_queued_bytes: config.max_queued_bytes,
        },
        max_inflight_bytes: config.max_inflight_bytes,
        upgrade_outgoing_qos: config.upgrade_outgoing_qos,
        check_retain_source: config.check_retain_source,
        queue_qos0: config.queue_qos0_messages,
        max_keepalive: config.max_keepalive,
        retain_available: config.retain_available,
        sys_interval: config.sys_interval,
        persistent_client_expiration: config.persistent_client_expiration,
        retry_interval: config.retry_interval,
        listeners,
        ..Settings::default()
    }
}

impl Server {
    /// Binds every listener of `config` (an error names the address) and
    /// prepares the loop; nothing is accepted until [`Server::run`]. The
    /// TLS files of every listener are loaded first: an error names the
    /// listener and the file, and nothing is bound.
    pub fn bind(config: &Config) -> io::Result<Server> {
        let transports = wrap::Transports::load(config)?;
        let poll = Poll::new()?;
        let mut listeners = Vec::with_capacity(config.listeners.len());
        for (i, l) in config.listeners.iter().enumerate() {
            let ip = l.bind.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into());
            let addr = SocketAddr::new(ip, l.port);
            let mut listener = TcpListener::bind(addr)
                .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
            poll.registry().register(
                &mut listener,
                Token(LISTENER_BASE + i),
                Interest::READABLE,
            )?;
            listeners.push(listener);
        }
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let now = Instant::now();
        let mut settings = settings_from(config);
        let invalid = |e: crate::auth::AuthFileError| {
            io::Error::new(io::ErrorKind::InvalidData, e.to_string())
        };
        let acls = crate::auth::load_acls(config).map_err(invalid)?;
        let passwords = crate::auth::load_passwords(config).map_err(invalid)?;
        for ((policy, acl), passwords) in settings.listeners.iter_mut().zip(acls).zip(passwords) {
            policy.acl = acl;
            policy.passwords = passwords;
        }
        let mut broker = Broker::new(settings, now);
        let durable = if config.persistence.enabled {
            // Fixed, not from max_packet_size: it must not shrink between
            // runs, and no record is larger than a packet.
            let max_record = MQTT_MAX_PACKET + (1 << 16);
            Some(Durable::open(
                &config.persistence,
                max_record,
                &mut broker,
                now,
            )?)
        } else {
            None
        };
        // After the store: a bridge's local session may be a restored one.
        let dialer = dial::Dialer::load(config)?;
        dial::check_local_passwords(config, broker.settings())?;
        let host = dial::hostname();
        for b in &config.bridges {
            broker.add_bridge(b.clone(), &host, now);
        }
        Ok(Server {
            poll,
            listeners,
            transports,
            broker,
            stop: Arc::new(AtomicBool::new(false)),
            waker,
            signals: None,
            reload_signal: None,
            config: config.clone(),
            backlog: Vec::new(),
            scratch: Vec::new(),
            pressed_scratch: Vec::new(),
            rx_scratch: vec![0; READ_CHUNK].into_boxed_slice(),
            durable,
            held: Vec::new(),
            notifier: None,
            dialer,
        })
    }

    /// The addresses actually bound (port 0 resolved), in listener order.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// A handle that stops the loop from another thread.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle {
            stop: self.stop.clone(),
            waker: self.waker.clone(),
        }
    }

    /// Makes SIGINT and SIGTERM stop the loop (the process exits 0 after),
    /// and SIGHUP reload the password, ACL and TLS files (see
    /// [`Server::reload`]).
    pub fn stop_on_signals(&mut self) -> io::Result<()> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let pipe = |poll: &Poll, signals: &[i32], token: Token| -> io::Result<UnixStream> {
            let (read, write) = StdUnixStream::pair()?;
            read.set_nonblocking(true)?;
            write.set_nonblocking(true)?;
            for &signal in signals {
                signal_hook::low_level::pipe::register(signal, write.try_clone()?)?;
            }
            let mut read = UnixStream::from_std(read);
            poll.registry()
                .register(&mut read, token, Interest::READABLE)?;
            Ok(read)
        };
        self.signals = Some(pipe(&self.poll, &[SIGINT, SIGTERM], SIGNALS)?);
        self.reload_signal = Some(pipe(&self.poll, &[SIGHUP], RELOAD)?);
        Ok(())
    }

    /// Called before [`Server::run`] when systemd asked for notifications
    /// (see [`crate::notify`]): `run` sends READY=1 before its first poll,
    /// RELOADING=1 and READY=1 around each SIGHUP reload and STOPPING=1
    /// on a stop signal.
    pub fn set_notifier(&mut self, notifier: Notifier) {
        self.notifier = Some(notifier);
    }

    /// Tells the service manager, if any, that clients are being served.
    fn notify_ready(&mut self) {
        if let Some(n) = self.notifier.as_mut() {
            let addrs: Vec<String> = self
                .listeners
                .iter()
                .filter_map(|l| l.local_addr().ok())
                .map(|a| a.to_string())
                .collect();
            n.ready(&format!("listening on {}", addrs.join(", ")));
        }
    }

    /// Serves until stopped; then closes every connection and returns.
    pub fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(EVENTS);
        self.notify_ready();
        loop {
            self.dialer
                .turn(&mut self.broker, self.poll.registry(), Instant::now());
            // While the store cannot write, output waits for the retry.
            let retry = self.durable.as_ref().and_then(Durable::retry_at);
            // A compaction under way goes on a part per turn.
            let compacting = self.durable.as_ref().is_some_and(Durable::busy);
            let work = !self.backlog.is_empty() || self.broker.has_dirty() || compacting;
            let timeout = if retry.is_none() && work {
                Some(Duration::ZERO)
            } else {
                let next = [self.broker.next_deadline(), retry, self.dialer.deadline()]
                    .into_iter()
                    .flatten()
                    .min();
                next.map(|d| d.saturating_duration_since(Instant::now()))
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let now = Instant::now();
            let mut stopping = self.stop.load(Ordering::SeqCst);
            for ev in events.iter() {
                match ev.token() {
                    WAKER => {}
                    SIGNALS => {
                        drain(self.signals.as_mut());
                        info!("signal received: stopping");
                        if !stopping {
                            if let Some(n) = self.notifier.as_mut() {
                                n.stopping();
                            }
                        }
                        stopping = true;
                    }
                    RELOAD => {
                        drain(self.reload_signal.as_mut());
                        info!("SIGHUP received: reloading");
                        if let Some(n) = self.notifier.as_mut() {
                            n.reloading();
                        }
                        self.reload();
                        self.notify_ready();
                    }
                    Token(t) if t >= LISTENER_BASE => self.accept(t - LISTENER_BASE, now),
                    Token(t) if t >= dial::DIAL_BASE => {
                        let registry = self.poll.registry();
                        self.dialer
                            .event(t - dial::DIAL_BASE, &mut self.broker, registry, now);
                    }
                    Token(id) => {
                        if ev.is_writable() {
                            self.broker.mark_dirty(id);
                        }
                        let closed = ev.is_read_closed() || ev.is_error();
                        if ev.is_readable() || closed {
                            self.read(id, now, closed);
                        }
                    }
                }
            }
            let backlog = std::mem::take(&mut self.backlog);
            for id in backlog {
                self.read(id, now, true);
            }
            self.broker.tick(now);
            if stopping {
                self.broker.shutdown(now);
            }
            // Group commit: this turn's records are durable before any of
            // its output (acknowledgements among it) is written.
            if let Some(d) = self.durable.as_mut() {
                let durable = d.commit(&mut self.broker, now);
                if !durable {
                    self.hold_dirty();
                } else if !d.failing() && !self.held.is_empty() {
                    self.release_held();
                }
            }
            self.flush(now);
            self.close_ended();
            if stopping {
                if let Some(d) = &self.durable {
                    let st = d.stats();
                    info!(
                        "store: {} commits, {} syncs, {} bytes written, {} compactions, {} errors",
                        st.commits, st.syncs, st.bytes_written, st.compactions, st.errors
                    );
                }
                info!("stopped");
                return Ok(());
            }
        }
    }

    /// Accepts every pending connection on listener `index`.
    fn accept(&mut self, index: usize, now: Instant) {
        loop {
            let (stream, peer) = match self.listeners[index].accept() {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of file descriptors, most likely: the pending
                    // connection stays queued until one is freed.
                    error!("accept on listener {index} failed: {e}");
                    return;
                }
            };
            if let Err(e) = stream.set_nodelay(true) {
                warn!("TCP_NODELAY on {peer}: {e}");
            }
            let Some(stream) = self.transports.wrap(index, stream, peer) else {
                continue;
            };
            let Ok(id) = self.broker.open_link(stream, peer, index, now) else {
                continue; // refused and dropped: the socket closes
            };
            let registry = self.poll.registry();
            let link = self.broker.link_mut(id).expect("link just opened");
            if let Err(e) = registry.register(&mut link.io, Token(id), Interest::READABLE) {
                warn!("cannot register connection from {peer}: {e}");
                self.broker
                    .link_lost(id, CloseCause::Io(e.to_string()), now);
            }
        }
    }

    /// Reads link `id` (see [`Server::read_link`]); then, if the transport
    /// was left holding output (TLS handshake records the socket did not
    /// take), puts the link on the flush list so that it gets WRITABLE
    /// interest.
    fn read(&mut self, id: usize, now: Instant, until_would_block: bool) {
        self.read_link(id, now, until_would_block);
        if self.broker.link(id).is_some_and(|l| l.io.wants_write()) {
            self.broker.mark_dirty(id);
        }
    }

    /// Reads link `id` until `WouldBlock` or the read budget, handing the
    /// bytes to the broker after every read.
    ///
    /// Each read lands in the loop's one scratch buffer and only the bytes
    /// received are copied into the connection's own buffer: a connection
    /// never holds more receive memory than the packets it has pending, and
    /// no buffer is zero-filled ahead of a read.
    ///
    /// A read that fills less than the scratch buffer means the socket was
    /// drained at that moment; with edge-triggered readiness, bytes that
    /// arrive later raise a new event, so the loop stops there and saves
    /// the `read` that would only say `WouldBlock` (one syscall per message
    /// on a quiet connection). When the event also reported the peer's
    /// close, or the link is being served again from the backlog, it reads
    /// on to `WouldBlock` (or end of stream) as before: `until_would_block`.
    fn read_link(&mut self, id: usize, now: Instant, until_would_block: bool) {
        let mut total = 0;
        loop {
            let Some(link) = self.broker.link_mut(id) else {
                return;
            };
            if link.is_closing() {
                return;
            }
            match link.io.read(&mut self.rx_scratch) {
                Ok(0) => {
                    self.broker.link_lost(id, CloseCause::SocketClosed, now);
                    return;
                }
                Ok(n) => {
                    link.rx.extend_from_slice(&self.rx_scratch[..n]);
                    total += n;
                    if let Some(name) = link.io.take_cert_name() {
                        self.broker.set_cert_name(id, name);
                    }
                    self.broker.process_input(id, now);
                    if self.broker.has_pressed() {
                        self.flush_pressed(now);
                    }
                    if total >= READ_BUDGET {
                        self.backlog.push(id);
                        return;
                    }
                    if n < self.rx_scratch.len() && !until_would_block {
                        return;
                    }
                }
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock => return,
                    io::ErrorKind::Interrupted => continue,
                    _ => {
                        self.broker
                            .link_lost(id, CloseCause::Io(e.to_string()), now);
                        return;
                    }
                },
            }
        }
    }

    /// Writes out every link with pending output (but the held ones).
    fn flush(&mut self, now: Instant) {
        let mut dirty = std::mem::take(&mut self.scratch);
        self.broker.take_dirty(&mut dirty);
        for &id in &dirty {
            if self.held.contains(&id) {
                continue;
            }
            self.flush_link(id, now);
        }
        self.scratch = dirty;
    }

    /// Writes out, in the middle of the read phase, the links whose output
    /// passed the high-water mark, so that their queued messages move on
    /// this turn (fan-in: one subscriber, many publishers read in one
    /// turn). Only when no output of this turn waits for the store: with
    /// records journaled this turn, or links held, everything waits for
    /// the end-of-turn commit as usual.
    fn flush_pressed(&mut self, now: Instant) {
        let mut pressed = std::mem::take(&mut self.pressed_scratch);
        self.broker.take_pressed(&mut pressed);
        let store_idle = match &self.durable {
            None => true,
            Some(d) => !self.broker.has_journal() && !d.failing() && self.held.is_empty(),
        };
        if store_idle {
            for &id in &pressed {
                self.flush_link(id, now);
            }
        }
        self.pressed_scratch = pressed;
    }

    /// The store could not make this turn's records durable: every link
    /// with output from it is held until a commit succeeds.
    fn hold_dirty(&mut self) {
        let mut dirty = std::mem::take(&mut self.scratch);
        self.broker.take_dirty(&mut dirty);
        for &id in &dirty {
            if !self.held.contains(&id) {
                self.held.push(id);
            }
        }
        self.scratch = dirty;
    }

    /// A commit succeeded: the held links are written again.
    fn release_held(&mut self) {
        for id in std::mem::take(&mut self.held) {
            self.broker.mark_dirty(id);
        }
    }

    fn flush_link(&mut self, id: usize, now: Instant) {
        let registry = self.poll.registry();
        let Some(link) = self.broker.link_mut(id) else {
            return;
        };
        let mut written = 0;
        let mut failed = None;
        let mut over_budget = false;
        while !link.tx.is_empty() {
            if written >= WRITE_BUDGET {
                over_budget = true;
                break;
            }
            // One slice needs no list (an allocation per write).
            let result = match link.tx.only_staged() {
                Some(staged) => link.io.write_vectored(&[io::IoSlice::new(staged)]),
                None => link.io.write_vectored(&link.tx.io_slices()),
            };
            match result {
                Ok(0) => {
                    failed = Some(CloseCause::Io("write returned zero".into()));
                    break;
                }
                Ok(n) => {
                    link.tx.advance(n);
                    written += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    failed = Some(CloseCause::Io(e.to_string()));
                    break;
                }
            }
        }
        if failed.is_none() && link.tx.is_empty() && link.io.wants_write() {
            // TLS records from an earlier write or the handshake.
            match link.io.flush() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => failed = Some(CloseCause::Io(e.to_string())),
            }
        }
        let drained = link.tx.is_empty() && !link.io.wants_write();
        let want_writable = !drained && !over_budget;
        if want_writable != link.write_interest && !link.is_closing() {
            let interest = if want_writable {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            if let Err(e) = set_interest(registry, link, id, interest) {
                failed = Some(CloseCause::Io(e.to_string()));
            }
        }
        self.broker.wrote(id, written);
        if let Some(cause) = failed {
            self.broker.link_lost(id, cause, now);
        } else if over_budget {
            self.broker.mark_dirty(id);
        } else if drained {
            self.broker.output_drained(id, now);
        }
    }

    /// Removes the links the broker ended, after one last write attempt.
    /// A held link is closed without that write (its output waits for a
    /// store that could not write).
    fn close_ended(&mut self) {
        let mut ended = std::mem::take(&mut self.scratch);
        self.broker.take_closing(&mut ended);
        for &id in &ended {
            if let Some(pos) = self.held.iter().position(|&h| h == id) {
                self.held.swap_remove(pos);
                if let Some(mut io) = self.broker.remove_link(id) {
                    let _ = self.poll.registry().deregister(&mut io);
                }
                continue;
            }
            if let Some(link) = self.broker.link_mut(id) {
                let slices = link.tx.io_slices();
                let _ = link.io.write_vectored(&slices);
                drop(slices);
                link.io.close_notify();
            }
            if let Some(mut io) = self.broker.remove_link(id) {
                let _ = self.poll.registry().deregister(&mut io);
            }
        }
        self.scratch = ended;
    }
}

fn set_interest(
    registry: &Registry,
    link: &mut crate::broker::Link<Stream>,
    id: usize,
    interest: Interest,
) -> io::Result<()> {
    registry.reregister(&mut link.io, Token(id), interest)?;
    link.write_interest = interest.is_writable();
    Ok(())
}
