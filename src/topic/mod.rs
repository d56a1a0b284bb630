//! Topics and filters: validation, the subscription tree and the retained
//! store.
//!
//! - [`valid_topic_name`], [`valid_topic_filter`], [`parse_shared`] and
//!   [`filter_matches`]: the MQTT section 4.7 rules as pure functions.
//! - [`TopicTree`]: subscriptions by filter in an arena tree; a PUBLISH topic
//!   is matched by walking only the branches that can match it, without
//!   allocating.
//! - [`RetainedStore`]: retained messages by topic in the same kind of tree; a
//!   new subscription's filter walks only the matching part.
//!
//! Neither tree checks its inputs: the broker validates every topic and filter
//! first, and decides access and delivery itself.

mod cache;
mod children;
mod level;
mod retained;
mod tree;
mod validate;

#[cfg(test)]
mod tests;

pub use cache::{MatchCache, MAX_MATCHES as MATCH_CACHE_MAX};
pub use retained::RetainedStore;
pub use tree::TopicTree;
pub use validate::{
    filter_matches, parse_shared, valid_topic_filter, valid_topic_name, MAX_TOPIC_LEN,
};
