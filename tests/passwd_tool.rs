//! `midge passwd` as a user runs it: the real binary creating, updating
//! and deleting users, hashing a plain-text file and asking for a
//! password on stdin, each result read back with [`PasswordFile`]. Where
//! Mosquitto is installed (the `mosquitto` broker and `mosquitto_pub` for
//! the cross-check, `mosquitto_passwd` for the other direction), files
//! are also checked against it; without it those checks print a skip line.
//!
//! Every child process has a deadline, and the broker listens on
//! 127.0.0.1 only.

use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use midge::auth::password::{PasswordFile, Verdict};

/// Hard bound on one child process.
const DEADLINE: Duration = Duration::from_secs(20);

/// What a finished child printed, and how it exited.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `command` with `stdin` as its input, killing it at the deadline.
fn run(command: &mut Command, stdin: &str) -> Run {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
    // A child that exits without reading its input closes the pipe.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let status = wait(&mut child, DEADLINE).unwrap_or_else(|| panic!("{command:?} timed out"));
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    Run {
        code: status,
        stdout,
        stderr,
    }
}

/// Waits for `child` up to `limit`; `None` (after killing it) if it is
/// still running then, else its exit code (`Some(None)` if killed).
fn wait(child: &mut Child, limit: Duration) -> Option<Option<i32>> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status.code());
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// `midge passwd ARGS` with `stdin`.
fn passwd(args: &[&str], stdin: &str) -> Run {
    run(
        Command::new(env!("CARGO_BIN_EXE_midge"))
            .arg("passwd")
            .args(args),
        stdin,
    )
}

/// `midge passwd ARGS`, which must succeed silently on stderr.
fn passwd_ok(args: &[&str]) {
    let r = passwd(args, "");
    assert_eq!(r.code, Some(0), "midge passwd {args:?}: {}", r.stderr);
    assert_eq!(r.stderr, "", "midge passwd {args:?}");
}

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("passwd-{name}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn load(file: &Path) -> PasswordFile {
    PasswordFile::load(file).unwrap_or_else(|e| panic!("{e}"))
}

fn accepts(file: &Path, user: &str, password: &str) -> bool {
    load(file).check(user, Some(password.as_bytes())) == Verdict::Accepted
}

#[test]
fn create_update_delete_users() {
    let dir = scratch("edit");
    let file = dir.join("passwd");
    let f = file.to_str().unwrap();

    passwd_ok(&["-c", "-b", f, "alice", "one"]);
    let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(fs::read_to_string(&file)
        .unwrap()
        .starts_with("alice:$7$101$"));
    assert!(accepts(&file, "alice", "one"));

    passwd_ok(&["-b", f, "bob", "two"]);
    passwd_ok(&["-b", f, "alice", "three"]);
    passwd_ok(&["-H", "sha512", "-b", f, "carol", "four"]);
    passwd_ok(&["-I", "2000", "-b", f, "José Smith", "fünf five"]);
    passwd_ok(&["-H", "argon2id", "-b", f, "dave", "six"]);
    let text = fs::read_to_string(&file).unwrap();
    let kinds: Vec<(&str, &str)> = text
        .lines()
        .map(|line| {
            let (user, hash) = line.split_once(':').unwrap();
            (user, hash.split('$').nth(1).unwrap())
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("alice", "7"),
            ("bob", "7"),
            ("carol", "6"),
            ("José Smith", "7"),
            ("dave", "argon2id")
        ]
    );
    assert!(text.contains("José Smith:$7$2000$"));
    assert!(text.contains("dave:$argon2id$v=19$m=47104,t=1,p=1$"));
    let users = [
        ("alice", "three"),
        ("bob", "two"),
        ("carol", "four"),
        ("José Smith", "fünf five"),
        ("dave", "six"),
    ];
    for (user, password) in users {
        assert!(accepts(&file, user, password), "{user}");
    }
    assert!(!accepts(&file, "alice", "one"));

    passwd_ok(&["-D", f, "bob"]);
    assert_eq!(load(&file).check("bob", Some(b"two")), Verdict::UnknownUser);
    assert_eq!(load(&file).len(), 4);
    let r = passwd(&["-D", f, "bob"], "");
    assert_eq!(r.code, Some(1));
    assert_eq!(r.stderr, "Warning: User bob not found in password file.\n");

    // -c starts over.
    passwd_ok(&["-c", "-b", f, "erin", "seven"]);
    assert_eq!(load(&file).len(), 1);
    assert!(accepts(&file, "erin", "seven"));
}

#[test]
fn hash_plain_text_file_in_place() {
    let dir = scratch("hash-plain");
    let file = dir.join("passwd");
    let f = file.to_str().unwrap();
    passwd_ok(&["-c", "-b", f, "hashed", "already"]);
    let hashed = fs::read_to_string(&file).unwrap();
    fs::write(
        &file,
        format!("# plain\r\nu1:secret1\r\n\r\nu2 : secret two \r\n{hashed}"),
    )
    .unwrap();
    passwd_ok(&["-U", f]);
    let text = fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("# plain\r\nu1:$7$101$"), "{text}");
    assert!(text.ends_with(&hashed), "{text}");
    assert!(accepts(&file, "u1", "secret1"));
    assert!(accepts(&file, "u2", "secret two"));
    assert!(accepts(&file, "hashed", "already"));
    passwd_ok(&["-U", f]);
    assert_eq!(
        fs::read_to_string(&file).unwrap(),
        text,
        "a second -U changes nothing"
    );
}

#[test]
fn passwords_are_read_twice_from_stdin() {
    let dir = scratch("prompt");
    let file = dir.join("passwd");
    let f = file.to_str().unwrap();
    let r = passwd(&["-c", f, "frank"], "typed pw\ntyped pw\n");
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout, "Password: \nReenter password: \n");
    assert!(accepts(&file, "frank", "typed pw"));

    let before = fs::read_to_string(&file).unwrap();
    let r = passwd(&[f, "frank"], "one\r\ntwo\r\n");
    assert_eq!(r.code, Some(2));
    assert_eq!(r.stderr, "Error: Passwords do not match.\n");
    let r = passwd(&[f, "grace"], "\n");
    assert_eq!(r.code, Some(1));
    assert_eq!(r.stderr, "Error: Empty password.\n");
    let r = passwd(&[f, "grace"], "");
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (Some(1), "Error: Empty password.\n")
    );
    assert_eq!(fs::read_to_string(&file).unwrap(), before);

    let r = passwd(&[f, "grace"], "crlf\r\ncrlf\r\n");
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(accepts(&file, "grace", "crlf"));
}

#[test]
fn errors_leave_the_file_as_it_was() {
    let dir = scratch("errors");
    let missing = dir.join("missing");
    let r = passwd(&["-b", missing.to_str().unwrap(), "u", "p"], "");
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr.starts_with(&format!(
            "Error: Unable to open password file {}. ",
            missing.display()
        )),
        "{}",
        r.stderr
    );
    assert!(!missing.exists());

    let file = dir.join("corrupt");
    let text = "alice:$6$a$b\nno colon\n";
    fs::write(&file, text).unwrap();
    for args in [
        &["-b", "F", "u", "p"][..],
        &["-D", "F", "alice"],
        &["-U", "F"],
    ] {
        let args: Vec<&str> = args
            .iter()
            .map(|&a| if a == "F" { file.to_str().unwrap() } else { a })
            .collect();
        let r = passwd(&args, "");
        assert_eq!(r.code, Some(1), "{args:?}");
        assert_eq!(
            r.stderr,
            "Error: Corrupt password file at line 2: expected USER:HASH, found no ':'.\n"
        );
        assert_eq!(fs::read_to_string(&file).unwrap(), text);
    }
    let names: Vec<_> = fs::read_dir(&dir).unwrap().collect();
    assert_eq!(names.len(), 1, "no temporary file left behind");
}

#[test]
fn usage_is_printed_for_help_and_for_bad_arguments() {
    let r = passwd(&["-h"], "");
    assert_eq!(r.code, Some(0));
    assert!(r.stdout.contains("Usage: midge passwd"), "{}", r.stdout);
    let r = passwd(&[], "");
    assert_eq!(r.code, Some(1));
    assert!(r.stdout.contains("Usage: midge passwd"), "{}", r.stdout);
    let r = passwd(&["-H", "md5", "f", "u"], "");
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (Some(1), "Error: Unknown hash type 'md5'\n")
    );

    let help = run(Command::new(env!("CARGO_BIN_EXE_midge")).arg("--help"), "");
    assert_eq!(help.code, Some(0));
    assert!(help.stdout.contains("midge passwd"), "{}", help.stdout);
}

/// The path of `program` on PATH or in the usual sbin folders, if any.
fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

#[test]
fn files_of_mosquitto_passwd_are_read() {
    let Some(mosquitto_passwd) = find("mosquitto_passwd") else {
        println!("skipped: mosquitto_passwd not installed (Debian: apt-get install mosquitto)");
        return;
    };
    let dir = scratch("from-mosquitto");
    let file = dir.join("passwd");
    let users = [
        (&["-c", "-b"][..], "alice", "a:b$c"),
        (&["-H", "sha512", "-b"], "bob", "bob pw"),
        (&["-b"], "Zoë Müller", "ü"),
    ];
    for (flags, user, password) in users {
        let r = run(
            Command::new(&mosquitto_passwd)
                .args(flags)
                .arg(&file)
                .args([user, password]),
            "",
        );
        assert_eq!(r.code, Some(0), "{}", r.stderr);
    }
    for (_, user, password) in users {
        assert!(accepts(&file, user, password), "{user}");
    }
}

/// Mosquitto running with a password file, killed on drop.
struct Mosquitto {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Mosquitto {
    /// Starts `program` on a free 127.0.0.1 port with `password_file`
    /// and no anonymous access; `None` if it never accepted connections.
    fn start(program: &Path, dir: &Path, password_file: &Path) -> Option<Mosquitto> {
        for attempt in 0..3 {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let conf = dir.join(format!("mosquitto-{attempt}.conf"));
            let log = dir.join(format!("mosquitto-{attempt}.log"));
            // `user root` keeps a broker started by root from switching to
            // the `mosquitto` user, who could not read the 0600 file.
            fs::write(
                &conf,
                format!(
                    "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\n\
                     user root\nlog_dest stderr\nlog_type all\n",
                    password_file.display()
                ),
            )
            .unwrap();
            let child = Command::new(program)
                .arg("-c")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::from(fs::File::create(&log).unwrap()))
                .spawn()
                .unwrap();
            let mut broker = Mosquitto { child, port, log };
            if broker.wait_ready() {
                return Some(broker);
            }
            eprintln!("mosquitto did not start:\n{}", broker.log_text());
        }
        None
    }

    fn wait_ready(&mut self) -> bool {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return true;
            }
            thread::sleep(Duration::from_millis(20));
        }
        false
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            eprintln!("---- mosquitto log ----\n{}", self.log_text());
        }
    }
}

#[test]
fn mosquitto_accepts_the_files_midge_passwd_writes() {
    let (Some(mosquitto), Some(publish)) = (find("mosquitto"), find("mosquitto_pub")) else {
        println!(
            "skipped: mosquitto or mosquitto_pub not installed \
             (Debian: apt-get install mosquitto mosquitto-clients)"
        );
        return;
    };
    let dir = scratch("to-mosquitto");
    let file = dir.join("passwd");
    let f = file.to_str().unwrap();
    passwd_ok(&["-c", "-b", f, "alice", "alice pw"]);
    passwd_ok(&["-H", "sha512", "-b", f, "bob", "bøb"]);
    passwd_ok(&["-I", "1500", "-b", f, "carol", "c:$"]);
    fs::write(
        &file,
        format!(
            "# made by midge passwd\n{}",
            fs::read_to_string(&file).unwrap()
        ),
    )
    .unwrap();
    let broker = Mosquitto::start(&mosquitto, &dir, &file).expect("mosquitto starts");
    let port = broker.port.to_string();
    let publish = |user: &str, password: &str| {
        run(
            Command::new(&publish).args([
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-u",
                user,
                "-P",
                password,
                "-t",
                "t",
                "-m",
                "m",
                "-q",
                "1",
            ]),
            "",
        )
    };
    for (user, password) in [("alice", "alice pw"), ("bob", "bøb"), ("carol", "c:$")] {
        let r = publish(user, password);
        assert_eq!(r.code, Some(0), "{user}: {}", r.stderr);
        let r = publish(user, "wrong");
        assert_ne!(r.code, Some(0), "{user} with a wrong password");
        assert!(r.stderr.contains("not authorised"), "{user}: {}", r.stderr);
    }
}
