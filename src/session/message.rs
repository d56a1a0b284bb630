//! What a session holds of a message: the message itself, shared by every
//! session that has it, its place in the store, and the Subscription
//! Identifiers one delivery of it carries.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

use bytes::Bytes;

use crate::codec::{ByteStr, PublishProperties, QoS};

/// One published message as the broker holds it: shared (by reference
/// count, single-threaded) between every subscriber that has it queued or
/// in flight. Its payload is itself a shared slice of the bytes received.
#[derive(Debug)]
pub struct Message {
    pub topic: ByteStr,
    pub payload: Bytes,
    /// The QoS it was published with.
    pub qos: QoS,
    /// The RETAIN flag it was published with.
    pub retain: bool,
    /// MQTT 5 properties to forward (no topic alias, no subscription ids).
    pub properties: PublishProperties,
    /// When its Message Expiry Interval runs out; `None` if it never does.
    pub expires_at: Option<Instant>,
    /// Where the store has its body (see `broker::persist`).
    pub stored: Cell<StoreRef>,
}

/// A message's body in the store: its id, and the log generation that
/// last had it written (0: never stored).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreRef {
    pub mid: u64,
    pub generation: u32,
}

impl Message {
    /// True once the message's expiry has passed: it is never sent again
    /// [MQTT-3.3.2-5].
    pub fn expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }

    /// The Message Expiry Interval to forward at `now`: what is left of
    /// the received one, rounded up to whole seconds [MQTT-3.3.2-6].
    pub fn expiry_left(&self, now: Instant) -> Option<u32> {
        self.expires_at.map(|at| {
            let left = at.saturating_duration_since(now);
            let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            u32::try_from(secs).unwrap_or(u32::MAX)
        })
    }
}

pub type SharedMessage = Rc<Message>;

/// The Subscription Identifiers a delivery carries: most carry none, some
/// one, rarely several (overlapping subscriptions of one session, each with
/// its identifier).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum SubIds {
    #[default]
    None,
    One(u32),
    Many(Box<[u32]>),
}

impl SubIds {
    pub fn as_slice(&self) -> &[u32] {
        match self {
            SubIds::None => &[],
            SubIds::One(id) => std::slice::from_ref(id),
            SubIds::Many(ids) => ids,
        }
    }
}
