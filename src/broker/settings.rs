//! What the broker enforces, built from the configuration: global limits
//! and the policy of each listener.

use std::rc::Rc;
use std::time::Duration;

use crate::auth::acl::Acl;
use crate::auth::password::PasswordFile;
use crate::codec::QoS;
use crate::session::QueueLimits;

/// The largest packet MQTT can express (fixed header included).
pub const MQTT_MAX_PACKET: usize = 268_435_455 + 5;

/// What the broker enforces; built from the configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Largest packet accepted, fixed header included.
    pub max_packet_size: usize,
    /// Largest PUBLISH payload accepted; 0 means no limit.
    pub message_size_limit: usize,
    pub limits: QueueLimits,
    /// Queue QoS 0 messages for offline persistent sessions.
    pub queue_qos0: bool,
    /// Largest keep-alive a client may ask for (seconds).
    pub max_keepalive: u16,
    pub retain_available: bool,
    /// `$SYS` publication interval; `None` disables it.
    pub sys_interval: Option<Duration>,
    /// Removes persistent sessions whose client has been away this long.
    pub persistent_client_expiration: Option<Duration>,
    /// Re-send unacknowledged QoS 1/2 messages on a live connection after
    /// this long; `None` (the default) re-sends only on reconnect.
    pub retry_interval: Option<Duration>,
    /// How long a socket may stay open without sending CONNECT.
    pub connect_timeout: Duration,
    /// `max_inflight_bytes`: payload bytes of outbound QoS 1/2 messages in
    /// flight per client; 0 means no limit.
    pub max_inflight_bytes: usize,
    /// `upgrade_outgoing_qos`: deliver at the subscription's granted QoS
    /// even when the message was published at a lower one.
    pub upgrade_outgoing_qos: bool,
    /// `check_retain_source`: before a retained message is sent, check that
    /// its publisher may still publish to its topic (with an ACL file).
    pub check_retain_source: bool,
    /// Per-listener policy, indexed by the listener number given to
    /// [`Broker::open_link`].
    pub listeners: Vec<ListenerPolicy>,
}

/// What a listener allows.
#[derive(Clone, Debug)]
pub struct ListenerPolicy {
    pub allow_anonymous: bool,
    /// Connections at once; `None` means no limit.
    pub max_connections: Option<usize>,
    /// An empty client id with clean session gets a generated one.
    pub allow_zero_length_clientid: bool,
    /// `max_topic_alias`: the Topic Alias Maximum told to MQTT 5 clients
    /// (inbound aliases they may use); 0 disables inbound aliases.
    pub max_topic_alias: u16,
    /// `max_qos`: the highest QoS clients of this listener may publish or be
    /// granted.
    pub max_qos: QoS,
    /// `mount_point`: a prefix added to every topic of this listener's
    /// clients on the way in and removed on the way out.
    pub mount_point: Option<Rc<str>>,
    /// `acl_file`, parsed: with one, a client may publish and receive only
    /// what it grants.
    pub acl: Option<Rc<Acl>>,
    /// `password_file`, parsed: a client giving a user name must be in it.
    pub passwords: Option<Rc<PasswordFile>>,
    /// `use_identity_as_username` / `use_subject_as_username`: the client
    /// certificate's name is the username, and a client without one is
    /// refused.
    pub username_from_cert: bool,
}

impl Default for ListenerPolicy {
    /// Anonymous access, no connection limit, generated client ids.
    fn default() -> ListenerPolicy {
        ListenerPolicy {
            allow_anonymous: true,
            max_connections: None,
            allow_zero_length_clientid: true,
            max_topic_alias: 10,
            max_qos: QoS::ExactlyOnce,
            mount_point: None,
            acl: None,
            passwords: None,
            username_from_cert: false,
        }
    }
}

impl Settings {
    /// The policy of listener `listener` (the first one for an unknown
    /// index, which only tests produce). `Broker::new` makes sure there is
    /// at least one.
    #[inline]
    pub fn listener(&self, listener: u16) -> &ListenerPolicy {
        let i = usize::from(listener);
        self.listeners.get(i).unwrap_or(&self.listeners[0])
    }

    /// The mount point of listener `listener`, "" for none.
    #[inline]
    pub fn mount(&self, listener: u16) -> &str {
        self.listener(listener).mount_point.as_deref().unwrap_or("")
    }
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            max_packet_size: MQTT_MAX_PACKET,
            message_size_limit: 0,
            limits: QueueLimits {
                max_inflight: 20,
                max_queued: 1000,
                max_queued_bytes: 0,
            },
            queue_qos0: false,
            max_keepalive: 65535,
            retain_available: true,
            sys_interval: Some(Duration::from_secs(10)),
            persistent_client_expiration: None,
            retry_interval: None,
            connect_timeout: Duration::from_secs(10),
            max_inflight_bytes: 0,
            upgrade_outgoing_qos: false,
            check_retain_source: false,
            listeners: vec![ListenerPolicy::default()],
        }
    }
}
