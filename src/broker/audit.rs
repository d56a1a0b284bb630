//! Consistency checks over the broker's whole state, for tests and the
//! fuzzer (compiled only for them: they scan every session, which nothing
//! in the broker itself may do).
//!
//! [`Broker::audit`] states the invariants the rest of the broker keeps;
//! the accessors below let a driver outside the module ask about one link's
//! session without reaching into private fields.

use std::collections::HashSet;

use super::{Broker, LinkState};
use crate::codec::Protocol;

/// What a driver may know about the session a link is connected to.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub client_id: String,
    pub protocol: Protocol,
    /// The filters it subscribes to now, as the client wrote them
    /// (`$share/group/filter` for a shared subscription).
    pub filters: Vec<String>,
    /// The user name its client connected with.
    pub username: Option<String>,
}

impl<T> Broker<T> {
    /// Checks every invariant that holds between packets; returns the
    /// first one broken, described.
    ///
    /// - a connected link and its session point at each other;
    /// - the client id index maps exactly the live sessions;
    /// - outstanding on the connection at most the window, distinct packet
    ///   ids in flight; the queue
    ///   within `max_queued` (count) and `max_queued_bytes`;
    /// - inbound QoS 2 held at most `max_inflight` for MQTT 5 (the
    ///   Receive Maximum midge announces) and distinct.
    pub fn audit(&self) -> Result<(), String> {
        for (lid, link) in self.links.iter() {
            if link.state != LinkState::Connected {
                continue;
            }
            let sid = link.sid();
            match self.sessions.get(sid) {
                Some(s) if s.link == Some(lid as u32) => {}
                Some(s) => {
                    return Err(format!(
                        "link {lid} names session {sid} ({}), which names link {:?}",
                        s.client_id, s.link
                    ))
                }
                None => return Err(format!("link {lid} names missing session {sid}")),
            }
        }
        if self.by_client_id.len() != self.sessions.len() {
            return Err(format!(
                "{} client ids indexed for {} sessions",
                self.by_client_id.len(),
                self.sessions.len()
            ));
        }
        let limits = self.settings.limits;
        for (sid, s) in self.sessions.iter() {
            if self.by_client_id.get(&s.client_id) != Some(&sid) {
                return Err(format!("session {sid} ({}) not indexed", s.client_id));
            }
            if let Some(lid) = s.link {
                let ok = self
                    .links
                    .get(lid as usize)
                    .is_some_and(|l| l.state == LinkState::Connected && l.sid() == sid);
                if !ok {
                    return Err(format!(
                        "session {} names link {lid}, not connected to it",
                        s.client_id
                    ));
                }
            }
            // Sent on the current connection and not yet acknowledged (a
            // session resumed with a smaller window may hold more, unsent).
            let outstanding = s.inflight().filter(|f| f.sent_at.is_some()).count();
            if outstanding > usize::from(s.window) {
                return Err(format!(
                    "session {}: {outstanding} in flight on its connection, window {}",
                    s.client_id, s.window
                ));
            }
            let mut ids = HashSet::new();
            if let Some(dup) = s.inflight().find(|m| !ids.insert(m.packet_id)) {
                return Err(format!(
                    "session {}: packet id {} twice in flight",
                    s.client_id, dup.packet_id
                ));
            }
            let queued = s.queued().count();
            if limits.max_queued != 0 && queued > limits.max_queued {
                return Err(format!(
                    "session {}: {queued} queued, bound {}",
                    s.client_id, limits.max_queued
                ));
            }
            let bytes: usize = s.queued().map(|q| q.msg.payload.len()).sum();
            if bytes != s.queued_bytes() {
                return Err(format!(
                    "session {}: queued bytes {bytes}, counted {}",
                    s.client_id,
                    s.queued_bytes()
                ));
            }
            if limits.max_queued_bytes != 0 && bytes > limits.max_queued_bytes {
                return Err(format!(
                    "session {}: {bytes} bytes queued, bound {}",
                    s.client_id, limits.max_queued_bytes
                ));
            }
            if s.protocol.is_v5() && s.incoming_qos2() > usize::from(limits.max_inflight) {
                return Err(format!(
                    "session {}: {} inbound QoS 2 held, Receive Maximum {}",
                    s.client_id,
                    s.incoming_qos2(),
                    limits.max_inflight
                ));
            }
        }
        Ok(())
    }

    /// The session link `id` is connected to, if it is.
    pub fn session_view(&self, id: usize) -> Option<SessionView> {
        let link = self.links.get(id)?;
        if link.state != LinkState::Connected {
            return None;
        }
        let s = self.sessions.get(link.sid())?;
        Some(SessionView {
            client_id: s.client_id.to_string(),
            protocol: s.protocol,
            filters: s.filters().map(str::to_string).collect(),
            username: s.username().map(str::to_string),
        })
    }

    /// The protocol link `id` speaks (3.1.1 until its CONNECT says).
    pub fn link_protocol(&self, id: usize) -> Option<Protocol> {
        self.links.get(id).map(|l| l.protocol)
    }

    /// Does link `id`'s session hold inbound QoS 2 packet id `packet_id`
    /// unreleased?
    pub fn link_holds_qos2(&self, id: usize, packet_id: u16) -> bool {
        self.links
            .get(id)
            .filter(|l| l.state == LinkState::Connected)
            .and_then(|l| self.sessions.get(l.sid()))
            .is_some_and(|s| s.holds_qos2(packet_id))
    }
}

/// The durable part of a broker's state, in a form two brokers can be
/// compared by: what a restart from the store must bring back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurableView {
    /// Per stored session, by client id: user name, protocol level, filters (sorted),
    /// outbound QoS 1/2 entries in order as (topic, payload, qos, packet
    /// id if in flight, PUBREL owed), inbound QoS 2 ids (sorted), will
    /// topic.
    pub sessions: Vec<SessionDurable>,
    /// Retained (topic, payload), sorted; `$SYS` and expired ones left out.
    pub retained: Vec<(String, Vec<u8>)>,
}

/// An outbound entry: (topic, payload, qos, packet id if in flight, PUBREL
/// owed).
pub type OutDurable = (String, Vec<u8>, u8, Option<u16>, bool);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDurable {
    pub client_id: String,
    pub username: Option<String>,
    pub level: u8,
    pub filters: Vec<String>,
    pub out: Vec<OutDurable>,
    pub incoming: Vec<u16>,
    pub will: Option<String>,
}

impl<T> Broker<T> {
    /// The durable state now (see [`DurableView`]).
    pub fn durable_view(&self, now: std::time::Instant) -> DurableView {
        use crate::codec::QoS;
        use crate::session::OutState;
        let mut sessions: Vec<SessionDurable> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.store_id != 0)
            .map(|(_, s)| {
                let mut filters: Vec<String> = s.filters().map(str::to_string).collect();
                filters.sort();
                let mut out: Vec<_> = s
                    .inflight()
                    .filter(|f| f.qos != QoS::AtMostOnce)
                    .map(|f| {
                        (
                            f.msg.topic.to_string(),
                            f.msg.payload.to_vec(),
                            f.qos as u8,
                            Some(f.packet_id),
                            f.state == OutState::Released,
                        )
                    })
                    .collect();
                out.extend(s.queued().filter(|q| q.qos != QoS::AtMostOnce).map(|q| {
                    (
                        q.msg.topic.to_string(),
                        q.msg.payload.to_vec(),
                        q.qos as u8,
                        None,
                        false,
                    )
                }));
                let mut incoming: Vec<u16> = s.incoming_ids().collect();
                incoming.sort_unstable();
                SessionDurable {
                    client_id: s.client_id.to_string(),
                    username: s.username().map(str::to_string),
                    level: s.protocol.level(),
                    filters,
                    out,
                    incoming,
                    will: s.will.as_ref().map(|w| w.topic.to_string()),
                }
            })
            .collect();
        sessions.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        let mut retained = Vec::new();
        self.retained.for_each(|m| {
            if !m.topic.starts_with("$SYS") && !m.expired(now) {
                retained.push((m.topic.to_string(), m.payload.to_vec()));
            }
        });
        retained.sort();
        DurableView { sessions, retained }
    }
}
