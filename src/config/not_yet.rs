//! The Mosquitto directives midge refuses for now, so that a config file
//! asking for one is an error naming it rather than a half-configured
//! broker.

/// Directives Mosquitto 2.0 knows and midge does not implement yet (besides
/// the `auth_opt_*` and `plugin_opt_*` families).
pub(super) const NOT_YET: &[&str] = &[
    "allow_duplicate_messages",
    "auth_plugin",
    "auth_plugin_deny_special_chars",
    "auto_id_prefix",
    "bind_interface",
    "clientid_prefixes",
    "connection_messages",
    "log_facility",
    "log_timestamp",
    "log_timestamp_format",
    "memory_limit",
    "plugin",
    "retained_persistence",
    "set_tcp_nodelay",
    "socket_domain",
    "use_username_as_clientid",
    "user",
];
