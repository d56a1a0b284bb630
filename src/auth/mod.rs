//! Who may connect, publish and subscribe: Mosquitto-format password files
//! ([`password`]) and ACL files ([`acl`]).
//!
//! Contract: everything here is pure and sans-I/O apart from the `load`
//! functions that read a file; the broker asks at CONNECT (password), at
//! SUBSCRIBE (what a filter may ever read) and at PUBLISH / delivery (one
//! topic). A file that cannot be parsed is an [`AuthFileError`] naming the
//! file and line, so the broker does not start (or, on reload, keeps the old
//! file in force).
//!
//! [`passwd_tool`] is the `midge passwd` command, which writes password
//! files: it does its own I/O and is no part of the broker.

pub mod acl;
pub mod passwd_tool;
pub mod password;

use std::fmt;
use std::path::Path;
use std::rc::Rc;

use crate::config::Config;

/// Why a password or ACL file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFileError {
    /// The file, as named in the config.
    pub file: String,
    /// The 1-based line, `None` when the file could not be read at all.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for AuthFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for AuthFileError {}

/// Reads the files that `read` reads for each of `config`'s listeners, as
/// `file_of` names them; a file shared by several listeners is read once
/// and shared. Called at start and on SIGHUP.
fn load_per_listener<F>(
    config: &Config,
    file_of: impl Fn(&Config, usize) -> Option<&Path>,
    read: impl Fn(&Path) -> Result<F, AuthFileError>,
) -> Result<Vec<Option<Rc<F>>>, AuthFileError> {
    let mut read_so_far: Vec<(&Path, Rc<F>)> = Vec::new();
    let mut out = Vec::with_capacity(config.listeners.len());
    for i in 0..config.listeners.len() {
        let Some(path) = file_of(config, i) else {
            out.push(None);
            continue;
        };
        if let Some((_, f)) = read_so_far.iter().find(|(p, _)| *p == path) {
            out.push(Some(f.clone()));
            continue;
        }
        let f = Rc::new(read(path)?);
        read_so_far.push((path, f.clone()));
        out.push(Some(f));
    }
    Ok(out)
}

/// Each listener's ACL file, parsed (`None`: none applies), in listener
/// order. The first file that cannot be read or parsed is the error.
pub fn load_acls(config: &Config) -> Result<Vec<Option<Rc<acl::Acl>>>, AuthFileError> {
    load_per_listener(config, Config::acl_file, acl::Acl::load)
}

/// Each listener's password file, parsed (`None`: none applies), in
/// listener order; the lines of users who cannot log in (a hash midge
/// cannot check, a user named twice) are logged as warnings, and so is a
/// file with no user at all (as a packaged install starts: every client
/// giving a user name is refused until `midge passwd` adds one). The first
/// file that cannot be read or parsed is the error.
pub fn load_passwords(
    config: &Config,
) -> Result<Vec<Option<Rc<password::PasswordFile>>>, AuthFileError> {
    load_per_listener(config, Config::password_file, |path| {
        let file = password::PasswordFile::load(path)?;
        for w in file.warnings() {
            log::warn!("{w}");
        }
        if file.is_empty() {
            log::warn!(
                "{}: no users yet, so every client giving a user name is refused; \
                 add one with `midge passwd {} USER`, then reload",
                path.display(),
                path.display()
            );
        }
        Ok(file)
    })
}
