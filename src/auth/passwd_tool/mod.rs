//! `midge passwd`: creates and edits password files, with the flags,
//! messages and exit codes of Mosquitto 2.0's `mosquitto_passwd`.
//!
//! ```text
//! midge passwd [-H HASH] [-I ITERATIONS] [-c | -D] FILE USER
//! midge passwd [-H HASH] [-I ITERATIONS] [-c] -b FILE USER PASSWORD
//! midge passwd [-H HASH] [-I ITERATIONS] -U FILE
//! ```
//!
//! Contract:
//! - `-c` writes a new file holding one user; otherwise the file must
//!   exist, and adding or changing a user (`-b`, or a password asked for
//!   twice on the terminal), deleting one (`-D`, exit 1 with a warning if
//!   absent) or hashing plain-text passwords (`-U`) keeps every other line
//!   as it was (see the `edit` module). A line the broker would refuse
//!   stops the edit with its line number, and nothing is written.
//! - `-H sha512-pbkdf2` (the default, `$7$` with `-I` iterations, 101 by
//!   default, as Mosquitto 2.0 writes and reads), `-H sha512` (`$6$`) or
//!   `-H argon2id` (Mosquitto 2.1's default, which Mosquitto 2.0 cannot
//!   read); salts come from `/dev/urandom`, of Mosquitto's lengths.
//! - The file is replaced atomically (a temporary file in the same
//!   directory, then a rename, through a symbolic link to its target): a
//!   broker reloading it sees the old or the new file, never half of one.
//!   A replaced file keeps its mode (and its owner, when run as root); a
//!   new one is readable by its owner only.
//! - Exit status 0 on success, 1 on an error (the message on stderr), 2
//!   when the two passwords typed differ.
//!
//! Where midge differs from `mosquitto_passwd` 2.0: it keeps comments and
//! blank lines (which `mosquitto_passwd` calls corrupt) and the CRLF line
//! endings of an edited file; `-U` leaves lines that are already hashed as
//! they are (`mosquitto_passwd` hashes the hash, locking the user out);
//! `-b` leaves one line for a user named on several (replacing the first,
//! dropping the others; `mosquitto_passwd` rewrites them all); a user name that is empty, starts with `#` or with a blank, or
//! ends with a blank is refused, since the broker could never match it;
//! `-I` is bounded by the broker's [`MAX_PBKDF2_ITERATIONS`]; `-h` prints
//! the usage; an unknown flag is an error, and `--` ends the flags.

pub(crate) mod edit;
mod terminal;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::auth::password::{NewHash, MAX_PBKDF2_ITERATIONS};
use edit::EditError;

/// `mosquitto_passwd` 2.0's PBKDF2 iterations, the default of `-I`.
const DEFAULT_ITERATIONS: u32 = 101;

/// The longest user name and password `mosquitto_passwd` accepts.
const MAX_LEN: usize = 65535;

/// Runs `midge passwd` with `args`, the arguments after `passwd`; called
/// by the binary's `main` when its first argument is `passwd`. Returns
/// the exit status.
pub fn main(args: &[String]) -> u8 {
    let request = match parse_args(args) {
        Ok(request) => request,
        Err(message) => {
            eprintln!("Error: {message}");
            return 1;
        }
    };
    match request {
        Request::Help => {
            print!("{}", usage());
            0
        }
        Request::Usage => {
            print!("{}", usage());
            1
        }
        Request::Edit { file, action, hash } => match edit_file(Path::new(&file), action, hash) {
            Ok(()) => 0,
            Err(Failure { message, status }) => {
                eprintln!("{message}");
                status
            }
        },
    }
}

/// The usage text of `midge passwd -h`.
fn usage() -> String {
    format!(
        "midge passwd creates and edits the password files of midge and Mosquitto.\n\n\
         Usage: midge passwd [-H HASH] [-I ITERATIONS] [-c | -D] FILE USER\n\
         \x20      midge passwd [-H HASH] [-I ITERATIONS] [-c] -b FILE USER PASSWORD\n\
         \x20      midge passwd [-H HASH] [-I ITERATIONS] -U FILE\n\n\
         \x20-b  batch mode: the password is the last argument instead of being\n\
         \x20    asked for twice on the terminal.\n\
         \x20-c  create FILE with this one user, replacing FILE if it exists.\n\
         \x20-D  delete USER from FILE.\n\
         \x20-H  the password hash: sha512-pbkdf2 (the default; Mosquitto 1.6 and\n\
         \x20    later read it), sha512 (Mosquitto 1.5 and earlier) or argon2id\n\
         \x20    (Mosquitto 2.1's default; Mosquitto 2.0 cannot read it).\n\
         \x20-I  PBKDF2 iterations for sha512-pbkdf2 ({DEFAULT_ITERATIONS} by default, at most {MAX_PBKDF2_ITERATIONS}).\n\
         \x20-U  hash the plain-text passwords in FILE; lines already hashed stay.\n\n\
         FILE is replaced atomically; a new FILE is readable by its owner only.\n"
    )
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    /// `-h`: print the usage and succeed.
    Help,
    /// Arguments that fit no form: print the usage and fail.
    Usage,
    /// Change `file` with `hash` for any new password.
    Edit {
        file: String,
        action: Action,
        hash: NewHash,
    },
}

/// The change to make; a password of `None` is asked for on the terminal.
#[derive(Debug, PartialEq, Eq)]
enum Action {
    Create {
        user: String,
        password: Option<String>,
    },
    Set {
        user: String,
        password: Option<String>,
    },
    Delete {
        user: String,
    },
    HashPlain,
}

/// Reads the flags and arguments, checking them as `mosquitto_passwd`
/// does. Returns the request, or the error message (after "Error: ").
fn parse_args(args: &[String]) -> Result<Request, String> {
    if args.is_empty() {
        return Ok(Request::Usage);
    }
    let (mut batch, mut create, mut delete, mut hash_plain) = (false, false, false, false);
    let mut kind = "sha512-pbkdf2";
    let mut iterations = None;
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        match arg.as_str() {
            "-H" | "-I" => {
                let Some(value) = args.get(i + 1) else {
                    return Err(format!(
                        "{arg} argument given but not enough other arguments."
                    ));
                };
                if arg == "-H" {
                    kind = value;
                } else {
                    iterations = Some(parse_iterations(value)?);
                }
                i += 1;
            }
            "-b" => batch = true,
            "-c" => create = true,
            "-D" => delete = true,
            "-U" => hash_plain = true,
            "-h" | "--help" => return Ok(Request::Help),
            "--" => {
                i += 1;
                break;
            }
            flag if flag.len() > 1 && flag.starts_with('-') => {
                return Err(format!("Unknown option '{flag}' (try -h)."));
            }
            _ => break,
        }
        i += 1;
    }
    let hash = match (kind, iterations) {
        ("sha512-pbkdf2", iterations) => NewHash::Pbkdf2 {
            iterations: iterations.unwrap_or(DEFAULT_ITERATIONS),
        },
        ("sha512" | "argon2id", Some(_)) => {
            return Err("-I applies to -H sha512-pbkdf2 only.".to_string())
        }
        ("sha512", None) => NewHash::Sha512,
        ("argon2id", None) => NewHash::Argon2id,
        (other, _) => return Err(format!("Unknown hash type '{other}'")),
    };
    for (a, b, flags) in [
        (create, delete, "-c and -D"),
        (create, hash_plain, "-c and -U"),
        (delete, hash_plain, "-D and -U"),
        (delete, batch, "-b and -D"),
    ] {
        if a && b {
            return Err(format!("{flags} cannot be used together."));
        }
    }
    let rest = &args[i..];
    let action = match rest {
        [_] if hash_plain => Action::HashPlain,
        _ if hash_plain => return Err("-U argument given but password file missing.".to_string()),
        [_, user, password] if create && batch => Action::Create {
            user: user.clone(),
            password: Some(password.clone()),
        },
        [_, user] if create && !batch => Action::Create {
            user: user.clone(),
            password: None,
        },
        _ if create && batch && rest.len() < 3 => {
            return Err(
                "-c argument given but password file, username, or password missing.".to_string(),
            )
        }
        _ if create && rest.len() < 2 => {
            return Err("-c argument given but password file or username missing.".to_string())
        }
        [_, user] if delete => Action::Delete { user: user.clone() },
        _ if delete && rest.len() < 2 => {
            return Err("-D argument given but password file or username missing.".to_string())
        }
        [_, user, password] if batch && !create => Action::Set {
            user: user.clone(),
            password: Some(password.clone()),
        },
        [_, user] if !batch && !create && !delete => Action::Set {
            user: user.clone(),
            password: None,
        },
        _ => return Ok(Request::Usage),
    };
    match &action {
        Action::Create { user, password } | Action::Set { user, password } => {
            check_username(user)?;
            if password.as_ref().is_some_and(|p| p.len() > MAX_LEN) {
                return Err("Password must be less than 65536 characters long.".to_string());
            }
        }
        Action::Delete { user } => check_username(user)?,
        Action::HashPlain => {}
    }
    Ok(Request::Edit {
        file: rest[0].clone(),
        action,
        hash,
    })
}

/// `-I`'s value: a number from 1 to the broker's bound.
fn parse_iterations(value: &str) -> Result<u32, String> {
    let n = value.parse::<u64>().ok().filter(|&n| n > 0);
    match n {
        None => Err("Number of iterations must be > 0.".to_string()),
        Some(n) if n > u64::from(MAX_PBKDF2_ITERATIONS) => Err(format!(
            "Number of iterations must be at most {MAX_PBKDF2_ITERATIONS}."
        )),
        Some(n) => Ok(n as u32),
    }
}

/// Refuses a user name the password file cannot hold or the broker could
/// never match. Returns the error message.
fn check_username(user: &str) -> Result<(), String> {
    let blank = |c: char| matches!(c, ' ' | '\t');
    if user.is_empty() {
        Err("Username must not be empty.".to_string())
    } else if user.len() > MAX_LEN {
        Err("Username must be less than 65536 characters long.".to_string())
    } else if user.chars().any(char::is_control) {
        Err("Username must not contain control characters.".to_string())
    } else if user.contains(':') {
        Err("Username must not contain the ':' character.".to_string())
    } else if user.starts_with('#') {
        Err("Username must not start with '#' (the line would be a comment).".to_string())
    } else if user.starts_with(blank) || user.ends_with(blank) {
        Err("Username must not start or end with a space.".to_string())
    } else {
        Ok(())
    }
}

/// Why an edit failed: the message for stderr and the exit status.
struct Failure {
    message: String,
    status: u8,
}

impl Failure {
    fn new(message: String) -> Failure {
        Failure { message, status: 1 }
    }
}

impl From<EditError> for Failure {
    fn from(e: EditError) -> Failure {
        Failure::new(format!("Error: {e}"))
    }
}

/// Carries out `action` on `file`. Returns a failure to report, or `Ok`
/// once the file is written.
fn edit_file(file: &Path, action: Action, hash: NewHash) -> Result<(), Failure> {
    let text = match action {
        Action::Create { user, password } => {
            let password = password_or_ask(password)?;
            format!("{}\n", entry(&user, &password, hash)?)
        }
        Action::Set { user, password } => {
            let text = read_file(file)?;
            edit::check(&text)?;
            let password = password_or_ask(password)?;
            edit::set_user(&text, &user, &entry(&user, &password, hash)?)?
        }
        Action::Delete { user } => {
            let text = read_file(file)?;
            edit::delete_user(&text, &user)?.ok_or_else(|| {
                Failure::new(format!("Warning: User {user} not found in password file."))
            })?
        }
        Action::HashPlain => {
            let text = read_file(file)?;
            edit::hash_plain(&text, |password| {
                Ok(hash.encode(password.as_bytes(), &random_salt(hash)?))
            })?
        }
    };
    write_atomic(file, &text).map_err(|e| {
        Failure::new(format!(
            "Error: Unable to write password file {}. {e}.",
            file.display()
        ))
    })
}

/// The password given with `-b`, or one asked for twice on the terminal.
fn password_or_ask(password: Option<String>) -> Result<Vec<u8>, Failure> {
    if let Some(password) = password {
        return Ok(password.into_bytes());
    }
    let read = |prompt: &str| {
        let password = terminal::read_password(prompt)
            .map_err(|e| Failure::new(format!("Error: Unable to read the password: {e}.")))?;
        if password.is_empty() {
            return Err(Failure::new("Error: Empty password.".to_string()));
        }
        if password.len() > MAX_LEN {
            return Err(Failure::new(
                "Error: Password must be less than 65536 characters long.".to_string(),
            ));
        }
        Ok(password)
    };
    let first = read("Password: ")?;
    if read("Reenter password: ")? != first {
        return Err(Failure {
            message: "Error: Passwords do not match.".to_string(),
            status: 2,
        });
    }
    Ok(first)
}

/// The line `USER:HASH` for `user` with `password` hashed as `hash`.
fn entry(user: &str, password: &[u8], hash: NewHash) -> Result<String, Failure> {
    let salt = random_salt(hash)
        .map_err(|e| Failure::new(format!("Error: Unable to hash password: {e}.")))?;
    Ok(format!("{user}:{}", hash.encode(password, &salt)))
}

/// A salt of `hash`'s length from the OS random source.
fn random_salt(hash: NewHash) -> io::Result<Vec<u8>> {
    let mut salt = vec![0; hash.salt_len()];
    File::open("/dev/urandom")?.read_exact(&mut salt)?;
    Ok(salt)
}

/// The text of the existing password file.
fn read_file(file: &Path) -> Result<String, Failure> {
    let bytes = fs::read(file).map_err(|e| {
        Failure::new(format!(
            "Error: Unable to open password file {}. {e}.",
            file.display()
        ))
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = 1 + good.iter().filter(|&&b| b == b'\n').count();
        Failure::new(format!(
            "Error: Corrupt password file at line {line}: not valid UTF-8."
        ))
    })
}

/// Replaces `path` with `text` atomically (see the module doc). Returns
/// the first I/O error; the file is then as it was.
fn write_atomic(path: &Path, text: &str) -> io::Result<()> {
    let target = match fs::canonicalize(path) {
        Ok(target) => target,
        Err(e) if e.kind() == io::ErrorKind::NotFound => path.to_path_buf(),
        Err(e) => return Err(e),
    };
    let old = fs::metadata(&target).ok();
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Some(name) = target.file_name() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a file name",
        ));
    };
    let temp = dir.join(format!(
        ".{}.midge-passwd-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(text.as_bytes())?;
        if let Some(old) = &old {
            // Only root may give a file away; anyone else keeps the
            // file's new owner, themselves.
            let _ = std::os::unix::fs::fchown(&file, Some(old.uid()), Some(old.gid()));
            file.set_permissions(old.permissions())?;
        }
        file.sync_all()?;
        fs::rename(&temp, &target)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written?;
    // The rename is durable once the directory is; failing that, the
    // file is still replaced.
    if let Ok(dir) = File::open(&dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests;
