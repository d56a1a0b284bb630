//! When a bridge connects: the dials it asks for, what a failed attempt
//! or a lost link leads to (the next address, the restart delay, nothing
//! for `once`, the threshold for `lazy`), its timer, and a lazy bridge's
//! idle timeout.

use std::time::Instant;

use log::{info, warn};

use super::Phase;
use super::MAIN_RETRY;
use crate::broker::link::LinkState;
use crate::broker::{Broker, CloseCause, Dial, Timer, DIAL_TIMEOUT};
use crate::config::bridge::StartType;

impl<T> Broker<T> {
    /// Asks the event loop for a connection to the current address.
    pub(super) fn dial(&mut self, b: usize, now: Instant) {
        let generation = self.generation();
        let bridge = &mut self.bridges[b];
        bridge.phase = Phase::Dialing;
        bridge.generation = generation;
        let address = bridge.address;
        self.ask_dial(b, address, generation, "connecting to");
        self.timers.schedule(
            now + DIAL_TIMEOUT,
            Timer::Bridge {
                bridge: b as u32,
                generation,
            },
        );
    }

    /// The event loop could not open dial `generation` of bridge `bridge`
    /// (the name did not resolve, the connection was refused, the TLS set-up
    /// failed): the next address is tried, or the restart timer armed.
    pub fn bridge_dial_failed(&mut self, bridge: usize, generation: u32, why: &str, now: Instant) {
        if !self.dial_live(bridge, generation) {
            return;
        }
        if self.bridges[bridge].phase == Phase::Up {
            // The probe of the main address: still down.
            self.arm_probe(bridge, now);
            return;
        }
        let b = &self.bridges[bridge];
        let addr = &b.conf.addresses[b.address];
        warn!(
            "bridge {}: cannot connect to {}:{}: {why}",
            b.conf.name, addr.host, addr.port
        );
        self.attempt_failed(bridge, now);
    }

    /// A bridge's link ended (`was` is the state it had): the session is
    /// left offline (emptied when the local session is clean), the local
    /// state topic says `0` if it was up, and the next attempt is planned.
    pub(in crate::broker) fn bridge_link_closed(
        &mut self,
        id: usize,
        was: LinkState,
        cause: &CloseCause,
        now: Instant,
    ) {
        let Some(b) = self.bridge_of(id) else {
            return;
        };
        if self.bridges[b].link != Some(id) {
            return;
        }
        self.bridges[b].link = None;
        let sid = self.bridges[b].sid;
        let name = self.bridges[b].conf.name.clone();
        let peer = self.links[id].peer;
        if was == LinkState::Connected {
            self.stats.connected = self.stats.connected.saturating_sub(1);
            info!("bridge {name}: link to {peer} lost: {cause}");
            let s = &mut self.sessions[sid];
            s.link = None;
            s.disconnected_at = Some(now);
            for f in s.inflight_mut() {
                f.sent_at = None;
            }
            if s.ends_with_connection() {
                s.clear_messages();
            }
            self.persist_offline(sid, now);
            self.notify_local(b, false, now);
            let bridge = &mut self.bridges[b];
            if !bridge.conf.round_robin {
                // The main address first again.
                bridge.address = 0;
            } else {
                bridge.address = (bridge.address + 1) % bridge.conf.addresses.len();
            }
            bridge.probe_generation = 0;
            let at_once = std::mem::take(&mut bridge.back_to_main);
            self.plan_restart(b, now, at_once);
        } else {
            if !matches!(cause, CloseCause::Refused(_)) {
                // A refusal was logged with its CONNACK.
                info!("bridge {name}: connection to {peer} ended before CONNACK: {cause}");
            }
            self.attempt_failed(b, now);
        }
    }

    /// An attempt failed: the next address at once, unless that is the
    /// first one again (then after the restart delay).
    pub(super) fn attempt_failed(&mut self, b: usize, now: Instant) {
        let bridge = &mut self.bridges[b];
        if std::mem::take(&mut bridge.redial_same) {
            // Refused only for the bridge bit: the same address, without it.
            self.plan_restart(b, now, true);
            return;
        }
        let n = bridge.conf.addresses.len();
        bridge.address = (bridge.address + 1) % n;
        let wrapped = bridge.address == 0;
        self.plan_restart(b, now, !wrapped);
    }

    /// After a loss or a failed attempt: `once` stops, `lazy` waits for its
    /// threshold, `automatic` dials again (now when `at_once`, else after
    /// the restart delay).
    pub(super) fn plan_restart(&mut self, b: usize, now: Instant, at_once: bool) {
        let generation = self.generation();
        let bridge = &mut self.bridges[b];
        bridge.generation = generation;
        match bridge.conf.start_type {
            StartType::Once => {
                bridge.phase = Phase::Idle;
                info!(
                    "bridge {}: not restarted (start_type once)",
                    bridge.conf.name
                );
                return;
            }
            StartType::Lazy => {
                bridge.phase = Phase::Idle;
                return;
            }
            StartType::Automatic => {}
        }
        if at_once {
            self.dial(b, now);
            return;
        }
        let delay = bridge.next_delay();
        bridge.phase = Phase::Waiting;
        info!(
            "bridge {}: reconnecting in {} ms",
            bridge.conf.name,
            delay.as_millis()
        );
        self.timers.schedule(
            now + delay,
            Timer::Bridge {
                bridge: b as u32,
                generation,
            },
        );
    }

    /// The bridge timer: the restart delay ended (dial), a dial took too
    /// long (failed), or a lazy bridge's idle check is due.
    pub(in crate::broker) fn bridge_timer(&mut self, b: usize, generation: u32, now: Instant) {
        let Some(bridge) = self.bridges.get(b) else {
            return;
        };
        if generation != 0 && bridge.probe_generation == generation && bridge.phase == Phase::Up {
            self.probe_main(b, generation);
            return;
        }
        if bridge.generation != generation {
            return;
        }
        match bridge.phase {
            Phase::Waiting => self.dial(b, now),
            Phase::Dialing => {
                let addr = &bridge.conf.addresses[bridge.address];
                warn!(
                    "bridge {}: connecting to {}:{} timed out",
                    bridge.conf.name, addr.host, addr.port
                );
                self.attempt_failed(b, now);
            }
            Phase::Up if bridge.conf.start_type == StartType::Lazy => self.idle_check(b, now),
            Phase::Up => {}
            Phase::Idle | Phase::Connecting => {}
        }
    }

    /// Connected to a secondary address with `round_robin false`: the main
    /// one is tried again after [`MAIN_RETRY`].
    pub(super) fn arm_probe(&mut self, b: usize, now: Instant) {
        let generation = self.generation();
        let bridge = &mut self.bridges[b];
        if bridge.conf.round_robin || bridge.address == 0 || bridge.phase != Phase::Up {
            bridge.probe_generation = 0;
            return;
        }
        bridge.probe_generation = generation;
        self.timers.schedule(
            now + MAIN_RETRY,
            Timer::Bridge {
                bridge: b as u32,
                generation,
            },
        );
    }

    /// The probe timer: a dial of the main address, the link staying up.
    fn probe_main(&mut self, b: usize, generation: u32) {
        self.ask_dial(b, 0, generation, "trying the main address again:");
    }

    /// Lists a dial of bridge `b`'s address `address` for the event loop,
    /// logged as `what` that address.
    fn ask_dial(&mut self, b: usize, address: usize, generation: u32, what: &str) {
        let bridge = &self.bridges[b];
        let addr = &bridge.conf.addresses[address];
        info!(
            "bridge {}: {what} {}:{}",
            bridge.conf.name, addr.host, addr.port
        );
        self.dials.push(Dial {
            bridge: b,
            generation,
            host: addr.host.clone(),
            port: addr.port,
        });
    }

    /// The probe connected: the link to the secondary address ends, and
    /// the main one is dialled at once.
    pub(super) fn main_answers(&mut self, b: usize, now: Instant) {
        let bridge = &mut self.bridges[b];
        bridge.probe_generation = 0;
        let Some(id) = bridge.link else {
            return;
        };
        info!(
            "bridge {}: the main address answers again: moving back to it",
            bridge.conf.name
        );
        bridge.back_to_main = true;
        self.send_normal_disconnect(id);
        self.close_link(id, CloseCause::ClientDisconnect, now);
    }

    /// A lazy bridge: after `idle_timeout` with nothing received, nothing
    /// queued and nothing in flight, the link is closed.
    pub(super) fn arm_idle(&mut self, b: usize, now: Instant) {
        let generation = self.generation();
        let bridge = &mut self.bridges[b];
        bridge.generation = generation;
        bridge.received_mark = bridge.received;
        self.timers.schedule(
            now + bridge.conf.idle_timeout,
            Timer::Bridge {
                bridge: b as u32,
                generation,
            },
        );
    }

    pub(super) fn idle_check(&mut self, b: usize, now: Instant) {
        let bridge = &self.bridges[b];
        let s = &self.sessions[bridge.sid];
        let idle =
            bridge.received == bridge.received_mark && s.queue_is_empty() && s.inflight_len() == 0;
        let Some(id) = bridge.link.filter(|_| idle) else {
            self.arm_idle(b, now);
            return;
        };
        info!(
            "bridge {}: idle for {} s: disconnecting (start_type lazy)",
            bridge.conf.name,
            bridge.conf.idle_timeout.as_secs()
        );
        self.send_normal_disconnect(id);
        self.close_link(id, CloseCause::ClientDisconnect, now);
    }

    /// Called when a message waits in session `sid`'s queue: a lazy
    /// bridge whose queue reached `threshold` connects.
    pub(in crate::broker) fn queued_for_bridge(&mut self, sid: usize, now: Instant) {
        let Some(b) = self.bridges.iter().position(|b| b.sid == sid) else {
            return;
        };
        let bridge = &self.bridges[b];
        if bridge.phase == Phase::Idle
            && bridge.conf.start_type == StartType::Lazy
            && self.sessions[sid].queued_len() >= bridge.conf.threshold
        {
            self.dial(b, now);
        }
    }
}
