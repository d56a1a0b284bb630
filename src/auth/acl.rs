//! Mosquitto-format ACL files (`acl_file`).
