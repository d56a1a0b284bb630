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
