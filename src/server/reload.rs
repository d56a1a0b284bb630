//! SIGHUP: the config file is read again and what can change without a
//! restart is applied to the running broker: the password files, the ACL
//! files, `allow_anonymous`, and the TLS certificates, keys, CAs and CRLs
//! (for connections accepted from then on). Connections stay up and keep
//! their identity; new ACL rules apply to their next PUBLISH, SUBSCRIBE
//! and delivery.
//!
//! Each kind of file is all-or-nothing on its own: one that cannot be read
//! or parsed keeps the old files of its kind in force, with an error naming
//! the file and line. Any other directive that differs from the running
//! configuration is logged as needing a restart; so is any change to the
//! bridges (`connection` sections), as in Mosquitto, which does not
//! reload bridges either.

use log::{error, info, warn};

use super::Server;
use crate::config::{self, Config};

impl Server {
    /// Called on SIGHUP. Without a config file (`-c`) there is nothing to
    /// read again.
    pub(super) fn reload(&mut self) {
        let Some(path) = self.config.config_file.clone() else {
            info!("reload: no config file given (-c); nothing to reload");
            return;
        };
        let mut new = match config::load_file(&path) {
            Ok(c) => c,
            Err(e) => {
                error!("reload: {e}; the running configuration stays in force");
                return;
            }
        };
        // What the command line gave stays as it was.
        new.verbose = self.config.verbose;
        new.config_file = self.config.config_file.clone();
        if needs_restart(&self.config, &new) {
            warn!(
                "reload: {} changes settings other than password_file, acl_file, \
                 allow_anonymous and the TLS files; restart midge to apply them",
                path.display()
            );
        }
        let listeners = self.config.listeners.len().min(new.listeners.len());
        match crate::auth::load_acls(&new) {
            Ok(mut acls) => {
                acls.truncate(listeners);
                self.broker.set_acls(acls);
                self.config.acl_file = new.acl_file.clone();
                for i in 0..listeners {
                    self.config.listeners[i].acl_file = new.listeners[i].acl_file.clone();
                }
            }
            Err(e) => error!("reload: {e}; the ACL files in force stay"),
        }
        match crate::auth::load_passwords(&new) {
            Ok(mut files) => {
                files.truncate(listeners);
                self.broker.set_passwords(files);
                self.config.password_file = new.password_file.clone();
                for i in 0..listeners {
                    self.config.listeners[i].password_file = new.listeners[i].password_file.clone();
                }
                info!("reload: password files read");
            }
            Err(e) => error!("reload: {e}; the password files in force stay"),
        }
        let anonymous: Vec<bool> = (0..listeners).map(|i| new.anonymous_allowed(i)).collect();
        self.broker.set_anonymous(&anonymous);
        self.config.allow_anonymous = new.allow_anonymous;
        for i in 0..listeners {
            self.config.listeners[i].allow_anonymous = new.listeners[i].allow_anonymous;
        }
        #[cfg(feature = "tls")]
        self.reload_tls(&new, listeners);
    }

    /// New TLS set-ups for connections accepted from now on; a listener
    /// that was plain stays plain (and the other way round) until a
    /// restart.
    #[cfg(feature = "tls")]
    fn reload_tls(&mut self, new: &Config, listeners: usize) {
        match super::wrap::load_tls(new) {
            Ok(acceptors) => {
                for (i, acceptor) in acceptors.into_iter().enumerate().take(listeners) {
                    if self.transports.acceptors[i].is_some() && acceptor.is_some() {
                        self.transports.acceptors[i] = acceptor;
                        self.config.listeners[i].tls = new.listeners[i].tls.clone();
                    }
                }
            }
            Err(e) => error!("reload: {e}; the certificates in force stay"),
        }
    }
}

/// True when `new` differs from `old` in anything a reload does not apply.
fn needs_restart(old: &Config, new: &Config) -> bool {
    let fixed = |c: &Config| {
        let mut c = c.clone();
        c.password_file = None;
        c.acl_file = None;
        c.allow_anonymous = None;
        c.warnings.clear();
        let mut tls_on = Vec::new();
        for l in &mut c.listeners {
            l.password_file = None;
            l.acl_file = None;
            l.allow_anonymous = None;
            // The files may change; whether a listener speaks TLS and
            // takes user names from certificates may not.
            tls_on.push(l.tls.enabled());
            let cert_username = l.tls.cert_username;
            l.tls = Default::default();
            l.tls.cert_username = cert_username;
        }
        (c, tls_on)
    };
    fixed(old) != fixed(new)
}

#[cfg(test)]
mod tests {
    use super::needs_restart;
    use crate::config::{parse_str, Config};

    fn config(text: &str) -> Config {
        parse_str("r.conf", text).expect("a valid config")
    }

    const BRIDGE: &str = "listener 1883\nconnection b\naddress 10.0.0.1\ntopic a\n";

    #[test]
    fn a_bridge_config_change_needs_a_restart() {
        let old = config(BRIDGE);
        assert!(!needs_restart(&old, &config(BRIDGE)));
        // A section added, removed, or changed in any field.
        assert!(needs_restart(&config("listener 1883\n"), &old));
        assert!(needs_restart(&old, &config("listener 1883\n")));
        for extra in ["topic b in 1", "keepalive_interval 30", "remote_username u"] {
            assert!(
                needs_restart(&old, &config(&format!("{BRIDGE}{extra}\n"))),
                "{extra}"
            );
        }
        // What a reload applies still does not count.
        let reloadable = config(&format!("{BRIDGE}password_file /p\nallow_anonymous true\n"));
        assert!(!needs_restart(&old, &reloadable));
    }
}
