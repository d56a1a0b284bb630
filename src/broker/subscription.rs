//! A subscription as the topic tree and the shared groups hold it: its
//! options, its Subscription Identifier and the per-topic ACL bit, packed
//! into 8 bytes.

use crate::codec::SubOptions;
use crate::session::SubIds;

/// A subscription as the topic tree holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Subscription {
    pub options: SubOptions,
    /// The MQTT 5 Subscription Identifier (at most 2^28 - 1) in the low
    /// bits, and [`PER_TOPIC`]: see [`Subscription::id`].
    id_bits: u32,
}

/// `Subscription::id_bits` flag: the session's ACL must be asked about
/// each topic this subscription delivers (a Subscription Identifier never
/// reaches this bit, so the tree entry stays 8 bytes).
const PER_TOPIC: u32 = 1 << 31;

impl Subscription {
    /// A subscription with these options and Subscription Identifier (0
    /// for none), with no ACL check per topic.
    pub fn new(options: SubOptions, id: u32) -> Subscription {
        Subscription {
            options,
            id_bits: id & !PER_TOPIC,
        }
    }

    /// The MQTT 5 Subscription Identifier; 0 for none.
    pub fn id(&self) -> u32 {
        self.id_bits & !PER_TOPIC
    }

    /// Must the session's ACL be asked about each topic delivered?
    #[inline]
    pub fn per_topic(&self) -> bool {
        self.id_bits & PER_TOPIC != 0
    }

    /// This subscription with the per-topic ACL check on or off.
    pub fn with_per_topic(self, on: bool) -> Subscription {
        Subscription {
            options: self.options,
            id_bits: if on {
                self.id_bits | PER_TOPIC
            } else {
                self.id_bits & !PER_TOPIC
            },
        }
    }

    /// The identifiers a message delivered through this subscription
    /// carries.
    pub(super) fn ids(&self) -> SubIds {
        match self.id() {
            0 => SubIds::None,
            id => SubIds::One(id),
        }
    }
}
