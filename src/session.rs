//! Per-client state that outlives a connection: subscriptions, the
//! outbound in-flight window indexed by packet id, the queue of messages
//! waiting for the window (or for the client to come back), inbound QoS 2
//! packet ids awaiting PUBREL, and the will.
//!
//! Pure state: no I/O, no clock reads, no logging. The broker decides what to
//! send; the session only keeps the books and enforces its bounds.

use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Instant;

use crate::auth::acl::ClientAcl;
use crate::codec::{Protocol, QoS, Will};

mod message;

pub use message::{Message, SharedMessage, StoreRef, SubIds};

/// Where an outbound QoS 1/2 message stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutState {
    /// PUBLISH sent; waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
    Published,
    /// PUBREL sent; waiting for PUBCOMP.
    Released,
}

/// An outbound message holding a packet id.
#[derive(Clone, Debug)]
pub struct Inflight {
    pub packet_id: u16,
    pub msg: SharedMessage,
    pub qos: QoS,
    pub retain: bool,
    pub sub_ids: SubIds,
    pub state: OutState,
    /// When it (or its PUBREL) was last sent; `None` while the client is
    /// away, so the resend on reconnect is the first send of this link.
    pub sent_at: Option<Instant>,
    /// Its key in the store (0 when not stored).
    pub seq: u64,
}

/// A message waiting for a free in-flight slot or for the client.
#[derive(Clone, Debug)]
pub struct Queued {
    pub msg: SharedMessage,
    pub qos: QoS,
    /// The RETAIN flag it goes out with.
    pub retain: bool,
    pub sub_ids: SubIds,
    /// Its key in the store (0 when not stored).
    pub seq: u64,
}

/// What [`Session::enqueue`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enqueued {
    /// Queued.
    Yes,
    /// Queued after evicting the oldest QoS 0 message to make room.
    EvictedQos0,
    /// Refused: the queue is full (count or bytes).
    Dropped,
}

/// Bounds on what a session may hold.
#[derive(Clone, Copy, Debug)]
pub struct QueueLimits {
    /// Messages in flight at once (1..=65535).
    pub max_inflight: u16,
    /// Messages queued beyond the in-flight window; 0 means no limit.
    pub max_queued: usize,
    /// Payload bytes queued; 0 means no limit.
    pub max_queued_bytes: usize,
}

/// The message books of a session: allocated on first use and freed when
/// empty again, so an idle session carries one pointer instead of them.
#[derive(Debug, Default)]
struct Books {
    inflight: VecDeque<Inflight>,
    /// Payload bytes of `inflight` (for `max_inflight_bytes`).
    inflight_bytes: usize,
    queue: VecDeque<Queued>,
    queued_bytes: usize,
    queued_qos0: usize,
    /// Inbound QoS 2 packet ids received and not yet released.
    incoming: Vec<u16>,
}

impl Books {
    fn is_empty(&self) -> bool {
        self.inflight.is_empty() && self.queue.is_empty() && self.incoming.is_empty()
    }
}

#[derive(Debug)]
pub struct Session {
    /// One allocation, shared with the broker's index by client id.
    pub client_id: Rc<str>,
    /// The link index of the connection using this session, if any.
    pub link: Option<u32>,
    pub protocol: Protocol,
    /// Seconds the session outlives its connection: 0 for a 3.x clean
    /// session or an MQTT 5 Session Expiry Interval of 0 (state is dropped
    /// when the connection ends), `u32::MAX` for never (a 3.x persistent
    /// session, which `persistent_client_expiration` may still end).
    pub expiry_interval: u32,
    /// Outbound QoS 1/2 messages in flight at once: `max_inflight_messages`,
    /// or the client's Receive Maximum when lower.
    pub window: u16,
    /// A retry timer is pending for this session.
    pub retry_armed: bool,
    pub route_qos: QoS,
    /// Routing scratch: a matching subscription has Retain As Published.
    pub route_rap: bool,
    /// Routing scratch: more than one subscription of this session matched.
    pub route_multi: bool,
    next_packet_id: u16,
    /// Distinguishes this session from a later one in the same slab slot
    /// (timer keys carry it).
    pub generation: u32,
    /// Messages dropped because the queue was full (for the log).
    pub dropped: u32,
    /// Filters this session subscribes to (the topic tree holds the options),
    /// kept to unsubscribe them all when the session ends. Plain boxed
    /// strings, grown one at a time at first: most clients hold one filter.
    filters: Vec<Box<str>>,
    /// In flight, queued and inbound QoS 2 state; `None` while all empty.
    books: Option<Box<Books>>,
    /// Boxed: most clients set none, and an idle session stays small.
    /// While the session has no connection, a will here is one held back
    /// by its Will Delay Interval.
    pub will: Option<Box<Will>>,
    /// When the last connection ended (for expiry); `None` while connected.
    pub disconnected_at: Option<Instant>,
    /// Routing scratch: the message being routed and (in `route_qos`) the
    /// highest QoS of this session's matching subscriptions (see
    /// `Broker::route`).
    pub route_stamp: u64,
    /// The session's id in the store; 0 while it is not stored (see
    /// `broker::persist`).
    pub store_id: u32,
    /// Who its client is, when that matters: a user name, or ACL rules to
    /// check (see [`ClientAuth`]); `None` for an anonymous client with no
    /// ACL file, so such a session costs a pointer.
    pub auth: Option<Box<ClientAuth>>,
}

/// The identity a session was authenticated with.
#[derive(Debug, Default)]
pub struct ClientAuth {
    /// The user name of its last CONNECT (or the one its certificate gave).
    pub username: Option<Rc<str>>,
    /// The rules of the ACL file that apply to it; `None` without one.
    pub acl: Option<ClientAcl>,
}

impl Session {
    /// The user name of the session's client, if it gave one.
    pub fn username(&self) -> Option<&str> {
        self.auth.as_ref()?.username.as_deref()
    }

    /// The ACL rules of the session's client; `None` without an ACL file.
    #[inline]
    pub fn acl(&self) -> Option<&ClientAcl> {
        self.auth.as_ref()?.acl.as_ref()
    }
}

impl Session {
    pub fn new(
        client_id: Rc<str>,
        protocol: Protocol,
        expiry_interval: u32,
        generation: u32,
    ) -> Session {
        Session {
            client_id,
            link: None,
            protocol,
            expiry_interval,
            window: u16::MAX,
            retry_armed: false,
            route_qos: QoS::AtMostOnce,
            route_rap: false,
            route_multi: false,
            next_packet_id: 0,
            generation,
            dropped: 0,
            filters: Vec::new(),
            books: None,
            will: None,
            disconnected_at: None,
            route_stamp: 0,
            store_id: 0,
            auth: None,
        }
    }

    /// Called when the topic tree took a new subscription of this session.
    pub fn add_filter(&mut self, filter: &str) {
        if self.filters.capacity() == 0 {
            self.filters.reserve_exact(1);
        }
        self.filters.push(filter.into());
    }

    /// Called when the topic tree dropped a subscription of this session.
    pub fn remove_filter(&mut self, filter: &str) {
        if let Some(i) = self.filters.iter().position(|f| **f == *filter) {
            self.filters.swap_remove(i);
        }
    }

    /// The filters this session subscribes to, for removing them all when
    /// the session ends.
    pub fn filters(&self) -> impl Iterator<Item = &str> {
        self.filters.iter().map(|f| &**f)
    }

    /// The books, allocated on first use.
    fn books_mut(&mut self) -> &mut Books {
        self.books.get_or_insert_with(Box::default)
    }

    /// Frees the books once nothing is in them.
    fn release_if_empty(&mut self) {
        if self.books.as_ref().is_some_and(|b| b.is_empty()) {
            self.books = None;
        }
    }

    /// Messages in flight, oldest first.
    pub fn inflight(&self) -> impl Iterator<Item = &Inflight> {
        self.books.iter().flat_map(|b| b.inflight.iter())
    }

    /// Messages in flight, oldest first, for the broker to re-send them.
    pub fn inflight_mut(&mut self) -> impl Iterator<Item = &mut Inflight> {
        self.books.iter_mut().flat_map(|b| b.inflight.iter_mut())
    }

    /// Is the newest in-flight message still to be sent on the current
    /// connection?
    pub fn newest_inflight_unsent(&self) -> bool {
        self.books
            .as_ref()
            .and_then(|b| b.inflight.back())
            .is_some_and(|f| f.sent_at.is_none())
    }

    /// Number of messages in flight.
    pub fn inflight_len(&self) -> usize {
        self.books.as_ref().map_or(0, |b| b.inflight.len())
    }

    /// Messages queued behind the window, oldest first.
    pub fn queued(&self) -> impl Iterator<Item = &Queued> {
        self.books.iter().flat_map(|b| b.queue.iter())
    }

    /// Messages queued behind the window, for the store to key them.
    pub fn queued_mut(&mut self) -> impl Iterator<Item = &mut Queued> {
        self.books.iter_mut().flat_map(|b| b.queue.iter_mut())
    }

    /// Inbound QoS 2 packet ids held.
    pub fn incoming_ids(&self) -> impl Iterator<Item = u16> + '_ {
        self.books.iter().flat_map(|b| b.incoming.iter().copied())
    }

    /// How many messages are queued behind the window.
    pub fn queued_len(&self) -> usize {
        self.books.as_ref().map_or(0, |b| b.queue.len())
    }

    /// True when no message is queued behind the window.
    pub fn queue_is_empty(&self) -> bool {
        self.books.as_ref().is_none_or(|b| b.queue.is_empty())
    }

    /// True when the session's state ends with its connection.
    pub fn ends_with_connection(&self) -> bool {
        self.expiry_interval == 0
    }

    /// Is there room for one more message in flight? `max_bytes` is
    /// `max_inflight_bytes` (0: no limit): while fewer payload bytes than
    /// that are in flight, one more message may go.
    pub fn window_open(&self, max_bytes: usize) -> bool {
        self.inflight_len() < usize::from(self.window)
            && (max_bytes == 0 || self.inflight_bytes() < max_bytes)
    }

    /// Payload bytes of the messages in flight.
    pub fn inflight_bytes(&self) -> usize {
        self.books.as_ref().map_or(0, |b| b.inflight_bytes)
    }

    /// Allocates the next free packet id (1..=65535, skipping ids in use).
    /// Called only when the window is open, so a free id exists.
    pub fn next_packet_id(&mut self) -> u16 {
        loop {
            self.next_packet_id = self.next_packet_id.wrapping_add(1);
            if self.next_packet_id == 0 {
                self.next_packet_id = 1;
            }
            let id = self.next_packet_id;
            if !self.inflight().any(|f| f.packet_id == id) {
                return id;
            }
        }
    }

    /// Records a message sent with a fresh packet id.
    pub fn push_inflight(&mut self, packet_id: u16, q: Queued, now: Option<Instant>) {
        let books = self.books_mut();
        books.inflight_bytes += q.msg.payload.len();
        books.inflight.push_back(Inflight {
            packet_id,
            msg: q.msg,
            qos: q.qos,
            retain: q.retain,
            sub_ids: q.sub_ids,
            state: OutState::Published,
            sent_at: now,
            seq: q.seq,
        });
    }

    /// Index of the in-flight entry with `packet_id` in `state`. Acks mostly
    /// arrive in order, so the front is looked at first.
    fn find_inflight(&self, packet_id: u16, state: OutState, qos: QoS) -> Option<usize> {
        self.inflight()
            .position(|f| f.packet_id == packet_id && f.state == state && f.qos == qos)
    }

    /// Removes in-flight entry `i` (from `find_inflight`), freeing the books
    /// when they are left empty. Returns its store key.
    fn complete_inflight(&mut self, i: usize) -> u64 {
        let mut seq = 0;
        if let Some(b) = self.books.as_mut() {
            if let Some(f) = b.inflight.remove(i) {
                b.inflight_bytes -= f.msg.payload.len();
                seq = f.seq;
            }
        }
        self.release_if_empty();
        seq
    }

    /// PUBACK: completes a QoS 1 message. Returns its store key, `None`
    /// when no such message.
    pub fn puback(&mut self, packet_id: u16) -> Option<u64> {
        let i = self.find_inflight(packet_id, OutState::Published, QoS::AtLeastOnce)?;
        Some(self.complete_inflight(i))
    }

    /// PUBREC: a QoS 2 message moves to Released (PUBREL to be sent).
    /// Returns `Some` when the id is (or already was) awaiting PUBCOMP, so
    /// the caller answers with PUBREL either way: the store key when it
    /// moved now, 0 when it had already.
    pub fn pubrec(&mut self, packet_id: u16, now: Instant) -> Option<u64> {
        if let Some(i) = self.find_inflight(packet_id, OutState::Published, QoS::ExactlyOnce) {
            let f = self.books.as_mut().and_then(|b| b.inflight.get_mut(i))?;
            f.state = OutState::Released;
            f.sent_at = Some(now);
            return Some(f.seq);
        }
        self.find_inflight(packet_id, OutState::Released, QoS::ExactlyOnce)
            .map(|_| 0)
    }

    /// A restored in-flight QoS 2 message whose PUBREC had come: PUBREL is
    /// what it waits on.
    pub fn mark_released(&mut self, packet_id: u16) {
        if let Some(i) = self.find_inflight(packet_id, OutState::Published, QoS::ExactlyOnce) {
            if let Some(f) = self.books.as_mut().and_then(|b| b.inflight.get_mut(i)) {
                f.state = OutState::Released;
            }
        }
    }

    /// An MQTT 5 PUBREC with a failure reason code: the receiver refused the
    /// QoS 2 message, so it is complete without PUBREL [MQTT-4.3.3-4].
    /// Returns its store key, `None` when no such message.
    pub fn pubrec_refused(&mut self, packet_id: u16) -> Option<u64> {
        let i = self.find_inflight(packet_id, OutState::Published, QoS::ExactlyOnce)?;
        Some(self.complete_inflight(i))
    }

    /// Called before re-sending the window on resume: drops in-flight
    /// PUBLISHes whose message expired while the client was away (a PUBREL
    /// still completes). Returns how many were dropped; `gone` gets the
    /// store key of each.
    pub fn drop_expired_inflight(&mut self, now: Instant, mut gone: impl FnMut(u64)) -> usize {
        let Some(b) = self.books.as_mut() else {
            return 0;
        };
        let before = b.inflight.len();
        b.inflight.retain(|f| {
            let keep = !(f.state == OutState::Published && f.msg.expired(now));
            if !keep {
                gone(f.seq);
            }
            keep
        });
        b.inflight_bytes = b.inflight.iter().map(|f| f.msg.payload.len()).sum();
        let dropped = before - b.inflight.len();
        self.release_if_empty();
        dropped
    }

    /// PUBCOMP: completes a QoS 2 message. Returns its store key, `None`
    /// when no such message.
    pub fn pubcomp(&mut self, packet_id: u16) -> Option<u64> {
        let i = self.find_inflight(packet_id, OutState::Released, QoS::ExactlyOnce)?;
        Some(self.complete_inflight(i))
    }

    /// Queues a message behind the in-flight window, within the limits.
    /// When full, the oldest queued QoS 0 message makes room for a QoS 1/2
    /// one; otherwise the new message is dropped.
    pub fn enqueue(&mut self, q: Queued, limits: &QueueLimits) -> Enqueued {
        let outcome = self.books_mut().enqueue(q, limits);
        if outcome == Enqueued::Dropped {
            self.release_if_empty();
        }
        outcome
    }

    /// Gives the message just queued its store key.
    pub fn set_newest_queued_seq(&mut self, seq: u64) {
        if let Some(q) = self.books.as_mut().and_then(|b| b.queue.back_mut()) {
            q.seq = seq;
        }
    }

    /// Takes the oldest queued message.
    pub fn dequeue(&mut self) -> Option<Queued> {
        let b = self.books.as_mut()?;
        let q = b.queue.pop_front()?;
        b.account_removed(&q);
        self.release_if_empty();
        Some(q)
    }

    /// Is the oldest queued message one that needs a window slot?
    pub fn front_needs_window(&self) -> Option<bool> {
        self.queued().next().map(|q| q.qos != QoS::AtMostOnce)
    }

    /// Payload bytes queued.
    pub fn queued_bytes(&self) -> usize {
        self.books.as_ref().map_or(0, |b| b.queued_bytes)
    }

    /// Is inbound QoS 2 packet id `packet_id` received and not yet
    /// released (so a PUBLISH with it is a re-send)?
    pub fn holds_qos2(&self, packet_id: u16) -> bool {
        self.books
            .as_ref()
            .is_some_and(|b| b.incoming.contains(&packet_id))
    }

    /// Inbound QoS 2 messages received and not yet released.
    pub fn incoming_qos2(&self) -> usize {
        self.books.as_ref().map_or(0, |b| b.incoming.len())
    }

    /// Records an inbound QoS 2 packet id; false if it was already held (a
    /// re-sent PUBLISH that must not be delivered again).
    pub fn receive_qos2(&mut self, packet_id: u16) -> bool {
        let incoming = &mut self.books_mut().incoming;
        if incoming.contains(&packet_id) {
            return false;
        }
        incoming.push(packet_id);
        true
    }

    /// PUBREL: forgets an inbound QoS 2 packet id. False if unknown.
    pub fn release_qos2(&mut self, packet_id: u16) -> bool {
        let Some(b) = self.books.as_mut() else {
            return false;
        };
        match b.incoming.iter().position(|&p| p == packet_id) {
            Some(i) => {
                b.incoming.swap_remove(i);
                self.release_if_empty();
                true
            }
            None => false,
        }
    }

    /// Drops everything queued or in flight (clean start, expiry).
    pub fn clear_messages(&mut self) {
        self.books = None;
    }
}

impl Books {
    /// See [`Session::enqueue`].
    fn enqueue(&mut self, q: Queued, limits: &QueueLimits) -> Enqueued {
        let size = q.msg.payload.len();
        let full = |b: &Books| {
            (limits.max_queued != 0 && b.queue.len() >= limits.max_queued)
                || (limits.max_queued_bytes != 0 && b.queued_bytes + size > limits.max_queued_bytes)
        };
        let mut outcome = Enqueued::Yes;
        if full(self) {
            if q.qos == QoS::AtMostOnce || self.queued_qos0 == 0 {
                return Enqueued::Dropped;
            }
            while full(self) && self.queued_qos0 > 0 {
                let pos = self.queue.iter().position(|m| m.qos == QoS::AtMostOnce);
                match pos.and_then(|i| self.queue.remove(i)) {
                    Some(old) => self.account_removed(&old),
                    None => break,
                }
            }
            if full(self) {
                return Enqueued::Dropped;
            }
            outcome = Enqueued::EvictedQos0;
        }
        if q.qos == QoS::AtMostOnce {
            self.queued_qos0 += 1;
        }
        self.queued_bytes += size;
        self.queue.push_back(q);
        outcome
    }

    fn account_removed(&mut self, q: &Queued) {
        self.queued_bytes -= q.msg.payload.len();
        if q.qos == QoS::AtMostOnce {
            self.queued_qos0 -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{ByteStr, PublishProperties};
    use bytes::Bytes;

    fn msg(qos: QoS, len: usize) -> Queued {
        Queued {
            msg: Rc::new(Message {
                topic: ByteStr::from("t"),
                payload: Bytes::from(vec![0u8; len]),
                qos,
                retain: false,
                properties: PublishProperties::default(),
                expires_at: None,
                stored: Default::default(),
            }),
            qos,
            retain: false,
            sub_ids: SubIds::None,
            seq: 0,
        }
    }

    fn limits(max_queued: usize, max_queued_bytes: usize) -> QueueLimits {
        QueueLimits {
            max_inflight: 2,
            max_queued,
            max_queued_bytes,
        }
    }

    #[test]
    fn packet_ids_skip_zero_and_ids_in_use() {
        let mut s = Session::new(Rc::from("c"), Protocol::V311, u32::MAX, 0);
        s.next_packet_id = 65534;
        let a = s.next_packet_id();
        s.push_inflight(a, msg(QoS::AtLeastOnce, 1), None);
        assert_eq!(a, 65535);
        let b = s.next_packet_id();
        assert_eq!(b, 1, "packet id 0 is never used [MQTT-2.3.1-1]");
        s.push_inflight(b, msg(QoS::AtLeastOnce, 1), None);
        s.next_packet_id = 0;
        assert_eq!(s.next_packet_id(), 2, "ids in flight are skipped");
    }

    #[test]
    fn qos2_outbound_flow() {
        let mut s = Session::new(Rc::from("c"), Protocol::V311, u32::MAX, 0);
        let t = Instant::now();
        s.push_inflight(7, msg(QoS::ExactlyOnce, 1), Some(t));
        assert!(
            s.puback(7).is_none(),
            "PUBACK does not complete a QoS 2 message"
        );
        assert!(s.pubrec(7, t).is_some());
        assert!(
            s.pubrec(7, t).is_some(),
            "a repeated PUBREC is answered again"
        );
        assert_eq!(
            s.inflight().next().map(|f| f.state),
            Some(OutState::Released)
        );
        assert!(s.pubcomp(7).is_some());
        assert_eq!(s.inflight_len(), 0);
        assert!(s.books.is_none(), "empty books are freed");
        assert!(s.pubcomp(7).is_none());
    }

    #[test]
    fn queue_full_drops_new_qos0_and_evicts_old_qos0_for_qos1() {
        let mut s = Session::new(Rc::from("c"), Protocol::V311, u32::MAX, 0);
        let l = limits(2, 0);
        assert_eq!(s.enqueue(msg(QoS::AtMostOnce, 1), &l), Enqueued::Yes);
        assert_eq!(s.enqueue(msg(QoS::AtLeastOnce, 1), &l), Enqueued::Yes);
        assert_eq!(s.enqueue(msg(QoS::AtMostOnce, 1), &l), Enqueued::Dropped);
        assert_eq!(
            s.enqueue(msg(QoS::ExactlyOnce, 1), &l),
            Enqueued::EvictedQos0
        );
        let qos: Vec<_> = s.queued().map(|q| q.qos).collect();
        assert_eq!(qos, vec![QoS::AtLeastOnce, QoS::ExactlyOnce]);
        assert_eq!(s.enqueue(msg(QoS::AtLeastOnce, 1), &l), Enqueued::Dropped);
    }

    #[test]
    fn queue_byte_limit() {
        let mut s = Session::new(Rc::from("c"), Protocol::V311, u32::MAX, 0);
        let l = limits(0, 10);
        assert_eq!(s.enqueue(msg(QoS::AtLeastOnce, 6), &l), Enqueued::Yes);
        assert_eq!(s.enqueue(msg(QoS::AtLeastOnce, 6), &l), Enqueued::Dropped);
        assert_eq!(s.enqueue(msg(QoS::AtLeastOnce, 4), &l), Enqueued::Yes);
        assert_eq!(s.queued_bytes(), 10);
        s.dequeue();
        assert_eq!(s.queued_bytes(), 4);
    }

    #[test]
    fn inbound_qos2_ids_are_exactly_once() {
        let mut s = Session::new(Rc::from("c"), Protocol::V311, u32::MAX, 0);
        assert!(s.receive_qos2(5));
        assert!(
            !s.receive_qos2(5),
            "a re-sent PUBLISH is not delivered twice"
        );
        assert!(s.release_qos2(5));
        assert!(!s.release_qos2(5));
        assert!(s.receive_qos2(5), "after PUBREL the id is free again");
    }
}
