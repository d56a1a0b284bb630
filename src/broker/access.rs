//! Access control at the broker: which ACL rules a session carries, what a
//! PUBLISH, a will and a delivery may do, and what a SUBSCRIBE filter can
//! ever receive.
//!
//! The ACL file itself is `auth::acl`; this module applies it. The cost on
//! the hot path: a subscription whose every matching topic is readable (or
//! any subscription without an ACL file) is never checked per message; one
//! that may deliver some topics and not others carries the
//! [`Subscription::per_topic`] bit and its session's rules are asked about
//! each topic it delivers. A filter that can deliver nothing is refused at
//! SUBSCRIBE (0x80, or 0x87 for MQTT 5), which Mosquitto 2.0 does not do
//! (it grants, then filters every message).
//!
//! With or without an ACL file, no client publishes to `$SYS` (the
//! broker's) or to `$share/...` (see `auth::acl::reserved_topic`), as in
//! Mosquitto.

use std::rc::Rc;

use log::info;

use super::{Broker, Subscription};
use crate::auth::acl::{reserved_topic, Acl, FilterAccess};
use crate::auth::password::PasswordFile;
use crate::session::ClientAuth;
use crate::topic::parse_shared;

/// The publisher of a retained message, for `check_retain_source`.
#[derive(Debug)]
pub(super) struct RetainSource {
    username: Option<Rc<str>>,
    client_id: Rc<str>,
    listener: u16,
}

impl<T> Broker<T> {
    /// Called for every retained PUBLISH (`cleared`: an empty payload that
    /// removes the topic's retained message), from session `from` (`None`:
    /// the broker's own). Keeps the publisher where `check_retain_source`
    /// will ask about it, forgets it otherwise.
    pub(super) fn note_retain_source(&mut self, topic: &str, from: Option<usize>, cleared: bool) {
        if !self.settings.check_retain_source {
            return;
        }
        let source = from.filter(|_| !cleared).and_then(|sid| {
            let listener = self.session_listener(sid);
            self.settings.listener(listener).acl.as_ref()?;
            let s = self.sessions.get(sid)?;
            Some(RetainSource {
                username: s.username().map(Rc::from),
                client_id: s.client_id.clone(),
                listener,
            })
        });
        match source {
            Some(source) => {
                self.retain_sources.insert(topic.into(), source);
            }
            None => {
                self.retain_sources.remove(topic);
            }
        }
    }

    /// Called for each retained message about to be sent on SUBSCRIBE.
    /// Returns false when `check_retain_source` is on and the message's
    /// publisher may no longer publish to `topic` (its rules as the ACL
    /// file reads now). A message whose publisher is not known (the
    /// broker's own, one restored from the store, or one kept without an
    /// ACL file) is sent, as Mosquitto does.
    pub(super) fn retain_source_allows(&self, topic: &str) -> bool {
        let Some(src) = self.retain_sources.get(topic) else {
            return true;
        };
        let Some(acl) = self.settings.listener(src.listener).acl.as_deref() else {
            return true;
        };
        let allowed = acl
            .for_client(src.username.as_deref(), &src.client_id)
            .can_write(topic);
        if !allowed {
            info!(
                "retained message on {topic} not sent: its publisher {} may no longer publish there \
                 (check_retain_source)",
                src.client_id
            );
        }
        allowed
    }

    /// Called at CONNECT once the client id is settled (and for a session
    /// restored from the store). Returns what the session keeps of its
    /// client's identity: `None` for an anonymous client where no ACL file
    /// applies.
    pub(super) fn client_auth(
        &self,
        listener: u16,
        username: Option<&str>,
        client_id: &str,
    ) -> Option<Box<ClientAuth>> {
        let acl = self.settings.listener(listener).acl.as_deref();
        if username.is_none() && acl.is_none() {
            return None;
        }
        Some(Box::new(ClientAuth {
            username: username.map(Rc::from),
            acl: acl.map(|a| a.for_client(username, client_id)),
        }))
    }

    /// Called per PUBLISH and for a will. Returns true when session `sid`'s
    /// client may publish to `topic` (already under its mount point).
    pub(super) fn may_publish(&self, sid: usize, topic: &str) -> bool {
        if reserved_topic(topic) {
            return false;
        }
        self.sessions
            .get(sid)
            .and_then(|s| s.acl())
            .is_none_or(|acl| acl.can_write(topic))
    }

    /// Called per PUBLISH with the topic as the client wrote it (before the
    /// mount point of its `listener`). Returns [`Broker::may_publish`] of
    /// the topic the broker will route.
    #[inline(always)]
    pub(super) fn may_publish_to(&self, sid: usize, listener: u16, topic: &str) -> bool {
        let no_acl = self.sessions.get(sid).is_none_or(|s| s.acl().is_none());
        if no_acl && !topic.starts_with('$') && !self.settings.mount(listener).starts_with('$') {
            // The 3.x and 5.0 hot path: nothing to check.
            return true;
        }
        self.may_publish_mounted(sid, listener, topic)
    }

    /// [`Broker::may_publish_to`] off the hot path: an ACL, or a `$` topic
    /// or mount point.
    #[inline(never)]
    fn may_publish_mounted(&self, sid: usize, listener: u16, topic: &str) -> bool {
        let mount = self.settings.mount(listener);
        if mount.is_empty() {
            self.may_publish(sid, topic)
        } else {
            self.may_publish(sid, &format!("{mount}{topic}"))
        }
    }

    /// Called per delivery through a [`Subscription::per_topic`]
    /// subscription, and per retained message sent on SUBSCRIBE. Returns
    /// true when session `sid` may receive a message on `topic`.
    #[inline]
    pub(super) fn may_receive(&self, sid: usize, topic: &str) -> bool {
        self.sessions
            .get(sid)
            .and_then(|s| s.acl())
            .is_none_or(|acl| acl.can_read(topic))
    }

    /// Called per SUBSCRIBE filter (already under the mount point; for a
    /// shared subscription, the filter after `$share/GROUP/`). Returns what
    /// session `sid` may ever receive through it.
    pub(super) fn filter_access(&self, sid: usize, filter: &str) -> FilterAccess {
        match self.sessions.get(sid).and_then(|s| s.acl()) {
            None => FilterAccess::All,
            Some(acl) => acl.subscription(filter),
        }
    }

    /// Called when a session's rules changed (a client resumed its session,
    /// possibly as another user; the ACL file was reloaded): sets the
    /// per-topic bit of each of its subscriptions afresh. A subscription
    /// that can no longer deliver anything stays, checked per topic, so
    /// that a later reload granting it again needs no new SUBSCRIBE.
    pub(super) fn reclassify(&mut self, sid: usize) {
        let Some(session) = self.sessions.get(sid) else {
            return;
        };
        let filters: Vec<Box<str>> = session.filters().map(Box::from).collect();
        for name in filters {
            let (filter, shared) = match parse_shared(&name) {
                Some((_, inner)) => (inner, true),
                None => (&*name, false),
            };
            let per_topic = self.filter_access(sid, filter) != FilterAccess::All;
            if shared {
                if let Some(sub) = self.shared.get(&name, sid as u32) {
                    let sub = sub.with_per_topic(per_topic);
                    self.shared.join(&name, filter, sid as u32, sub);
                }
            } else if let Some(&sub) = self.tree.get(filter, sid as u32) {
                self.tree
                    .subscribe(filter, sid as u32, sub.with_per_topic(per_topic));
            }
        }
    }

    /// Called on SIGHUP with each listener's newly read ACL file (`None`:
    /// none), in listener order. Every session gets its rules afresh,
    /// connected or not (its user name and client id stay), and its
    /// subscriptions are reclassified; new rules apply from the next
    /// PUBLISH, SUBSCRIBE and delivery.
    pub fn set_acls(&mut self, acls: Vec<Option<Rc<Acl>>>) {
        for (policy, acl) in self.settings.listeners.iter_mut().zip(acls) {
            policy.acl = acl;
        }
        // Bridges obey the first listener's (see `Broker::add_bridge`).
        let first = self.settings.listeners[0].acl.clone();
        let base = usize::from(self.bridge_base);
        for policy in self.settings.listeners.iter_mut().skip(base) {
            policy.acl = first.clone();
        }
        let sids: Vec<usize> = self.sessions.iter().map(|(sid, _)| sid).collect();
        for sid in sids {
            let listener = self.session_listener(sid);
            let s = &self.sessions[sid];
            let username = s.username().map(Rc::from);
            let client_id = s.client_id.clone();
            let auth = self.client_auth(listener, username.as_deref(), &client_id);
            self.sessions[sid].auth = auth;
            self.reclassify(sid);
        }
        info!("ACL rules reloaded for {} sessions", self.sessions.len());
    }

    /// Called on SIGHUP with each listener's newly read password file
    /// (`None`: none), in listener order; applies to the next CONNECT
    /// (connected clients keep their identity).
    pub fn set_passwords(&mut self, files: Vec<Option<Rc<PasswordFile>>>) {
        for (policy, file) in self.settings.listeners.iter_mut().zip(files) {
            policy.passwords = file;
        }
    }

    /// Called on SIGHUP with each listener's `allow_anonymous`, in listener
    /// order; applies to the next CONNECT.
    pub fn set_anonymous(&mut self, allowed: &[bool]) {
        for (policy, &a) in self.settings.listeners.iter_mut().zip(allowed) {
            policy.allow_anonymous = a;
        }
    }

    /// The listener whose rules apply to session `sid`: its connection's,
    /// or the first listener's for a session with none (restored from the
    /// store and not yet back; without `per_listener_settings` every
    /// listener shares one ACL file anyway).
    pub(super) fn session_listener(&self, sid: usize) -> u16 {
        self.sessions
            .get(sid)
            .and_then(|s| s.link)
            .and_then(|l| self.links.get(l as usize))
            .map_or(0, |l| l.listener)
    }
}

impl Subscription {
    /// This subscription, flagged for a per-topic ACL check unless `access`
    /// says every topic is readable.
    pub(super) fn with_access(self, access: FilterAccess) -> Subscription {
        self.with_per_topic(access != FilterAccess::All)
    }
}
