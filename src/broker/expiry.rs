//! How connections and sessions end, and everything that expires on the
//! timer wheel: sessions (Session Expiry Interval, or
//! `persistent_client_expiration` for 3.x), delayed wills (Will Delay
//! Interval) and retained messages (Message Expiry Interval). Messages
//! queued or in flight for a session expire lazily: they are checked
//! whenever they would be sent, so no timer is kept per queued copy.

use std::rc::Rc;
use std::time::{Duration, Instant};

use log::info;

use super::connect::NEVER_EXPIRES;
use super::link::LinkState;
use super::{Broker, CloseCause, Timer};
use crate::session::{Message, SharedMessage};
use crate::topic::parse_shared;

impl<T> Broker<T> {
    /// Ends link `id`: publishes the will when `cause` calls for it (or
    /// holds it for its Will Delay Interval), detaches the session
    /// (dropping it if it ends with its connection), logs, and lists the
    /// link for the event loop to flush and remove. Idempotent.
    pub(super) fn close_link(&mut self, id: usize, cause: CloseCause, now: Instant) {
        let Some(link) = self.links.get_mut(id) else {
            return;
        };
        let was = link.state;
        if was == LinkState::Closing {
            return;
        }
        link.state = LinkState::Closing;
        link.rx.clear();
        link.v5 = None;
        let peer = link.peer;
        self.closing.push(id);
        if link.listener >= self.bridge_base {
            self.bridge_link_closed(id, was, &cause, now);
            return;
        }
        if was != LinkState::Connected {
            info!("connection from {peer} closed before CONNECT: {cause}");
            return;
        }
        let sid = link.sid();
        self.stats.connected = self.stats.connected.saturating_sub(1);
        let session = &mut self.sessions[sid];
        info!(
            "client {} from {peer} disconnected: {cause}",
            session.client_id
        );
        session.link = None;
        session.disconnected_at = Some(now);
        for f in session.inflight_mut() {
            f.sent_at = None;
        }
        let had_will = session.will.is_some();
        if let Some(will) = session.will.take() {
            if cause.publishes_will() {
                let delay = will.delay_interval;
                if delay > 0 && !session.ends_with_connection() {
                    // Held back; published when the delay or the session
                    // ends, whichever comes first [MQTT-3.1.3-9].
                    let at = now + Duration::from_secs(u64::from(delay));
                    session.will = Some(will);
                    let generation = session.generation;
                    self.timers.schedule(
                        at,
                        Timer::WillDelay {
                            session: sid as u32,
                            generation,
                        },
                    );
                } else {
                    self.publish_will(sid, *will, now);
                }
            }
        }
        if had_will && self.sessions[sid].will.is_none() {
            self.persist_will(sid);
        }
        self.persist_offline(sid, now);
        self.session_detached(sid, now);
    }

    /// How long session `sid` outlives its connection; `None` for ever.
    fn session_lifetime(&self, sid: usize) -> Option<Duration> {
        let s = &self.sessions[sid];
        if !s.protocol.is_v5() {
            if s.ends_with_connection() {
                return Some(Duration::ZERO);
            }
            return self.settings.persistent_client_expiration;
        }
        (s.expiry_interval != NEVER_EXPIRES)
            .then(|| Duration::from_secs(u64::from(s.expiry_interval)))
    }

    /// After the connection of session `sid` ended: drop a session that
    /// ends with it, or start its expiry clock.
    fn session_detached(&mut self, sid: usize, now: Instant) {
        self.session_detached_at(sid, now, now);
    }

    /// Session `sid` has had no connection since `at` (before `now` for a
    /// session restored from the store): removed if it ends with its
    /// connection or its lifetime has passed, else its expiry is armed.
    pub(super) fn session_detached_at(&mut self, sid: usize, at: Instant, now: Instant) {
        if self.sessions[sid].ends_with_connection() {
            self.remove_session(sid, now);
            return;
        }
        if let Some(after) = self.session_lifetime(sid) {
            let generation = self.sessions[sid].generation;
            self.timers.schedule(
                (at + after).max(now),
                Timer::SessionExpiry {
                    session: sid as u32,
                    generation,
                },
            );
        }
    }

    /// Arms the will delay timer of session `sid` for `at`.
    pub(super) fn schedule_will_delay(&mut self, sid: usize, at: Instant) {
        let generation = self.sessions[sid].generation;
        self.timers.schedule(
            at,
            Timer::WillDelay {
                session: sid as u32,
                generation,
            },
        );
    }

    /// Forgets session `sid`: its subscriptions, queue and in-flight state.
    /// A will still held back by its delay is published now, as the session
    /// ends [MQTT-3.1.3-9].
    pub(super) fn remove_session(&mut self, sid: usize, now: Instant) {
        self.persist_session_end(sid);
        let s = &mut self.sessions[sid];
        if s.link.is_none() {
            if let Some(will) = s.will.take() {
                self.publish_will(sid, *will, now);
            }
        }
        let session = self.sessions.remove(sid);
        for filter in session.filters() {
            if parse_shared(filter).is_some() {
                self.shared.leave(filter, sid as u32);
            } else {
                self.tree.unsubscribe(filter, sid as u32);
            }
        }
        self.by_client_id.remove(&*session.client_id);
    }

    /// A session expiry timer: removes the session if it is still the
    /// same one, still disconnected, and its lifetime has run out (a
    /// reconnection in between moved or cancelled it).
    pub(super) fn session_expiry_due(&mut self, sid: usize, generation: u32, now: Instant) {
        let Some(s) = self.sessions.get(sid) else {
            return;
        };
        if s.generation != generation || s.link.is_some() {
            return;
        }
        let Some(at) = s.disconnected_at else {
            return;
        };
        match self.session_lifetime(sid) {
            Some(after) if now >= at + after => {
                info!("session of client {} expired", self.sessions[sid].client_id);
                self.remove_session(sid, now);
            }
            // DISCONNECT may have lengthened the interval after this timer
            // was set; the timer of the new value is pending.
            _ => {}
        }
    }

    /// A will delay timer: publishes the held will once its time has come
    /// and the client has not come back.
    pub(super) fn will_delay_due(&mut self, sid: usize, generation: u32, now: Instant) {
        let Some(s) = self.sessions.get_mut(sid) else {
            return;
        };
        if s.generation != generation || s.link.is_some() {
            return;
        }
        // A later disconnection may have set a later deadline.
        let due = match (&s.will, s.disconnected_at) {
            (Some(will), Some(at)) => {
                now >= at + Duration::from_secs(u64::from(will.delay_interval))
            }
            _ => false,
        };
        if due {
            if let Some(will) = s.will.take() {
                self.publish_will(sid, *will, now);
                self.persist_will(sid);
            }
        }
    }

    /// Arms the expiry of retained message `msg` at `at`.
    pub(super) fn schedule_retained_expiry(&mut self, msg: &SharedMessage, at: Instant) {
        let slot = self.retained_expiry.insert(Rc::downgrade(msg)) as u32;
        self.timers.schedule(at, Timer::RetainedExpiry { slot });
    }

    /// A retained message's expiry: removed from the store unless it was
    /// replaced or cleared meanwhile [MQTT-3.3.2-5].
    pub(super) fn retained_expiry_due(&mut self, slot: u32) {
        let Some(weak) = self.retained_expiry.try_remove(slot as usize) else {
            return;
        };
        let Some(msg) = weak.upgrade() else {
            return;
        };
        let current = self
            .retained
            .get(&msg.topic)
            .is_some_and(|m: &Rc<Message>| Rc::ptr_eq(m, &msg));
        if current {
            self.retain_sources.remove(&*msg.topic);
            self.retained.remove(&msg.topic);
            self.persist_unretain(&msg.topic);
            self.stats.expired += 1;
        }
    }
}
