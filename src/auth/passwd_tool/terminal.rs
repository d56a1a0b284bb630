//! Reading a password typed at the terminal, for `midge passwd` without
//! `-b`: the prompt goes to stdout, the password is read from stdin up to
//! the end of the line with echo off, and a newline is printed after it,
//! as `mosquitto_passwd` does. When stdin is not a terminal (a pipe in a
//! script) the line is read as it comes.
//!
//! Once a prompt has switched echo off, SIGINT and SIGTERM make the
//! process exit with 128 plus the signal number, restoring the terminal
//! first if echo is off, so an interrupted prompt never leaves the shell
//! without echo.

use std::io::{self, BufRead, Write};
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use signal_hook::low_level;

/// Prints `prompt` and reads one line from stdin without echo. Returns the
/// line without its `\n` (or `\r\n`); empty at end of input.
pub(super) fn read_password(prompt: &str) -> io::Result<Vec<u8>> {
    let mut stdout = io::stdout();
    stdout.write_all(prompt.as_bytes())?;
    stdout.flush()?;
    let mut line = Vec::new();
    {
        let _quiet = EchoOff::start();
        io::stdin().lock().read_until(b'\n', &mut line)?;
    }
    writeln!(stdout)?;
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
    Ok(line)
}

/// Echo switched off on stdin until dropped.
struct EchoOff {
    saved: libc::termios,
}

/// True while an [`EchoOff`] is alive: the signal handlers then restore
/// the terminal before exiting.
static ECHO_OFF: AtomicBool = AtomicBool::new(false);

/// Installs the SIGINT and SIGTERM handlers, once per process; they stay
/// (signal-hook cannot give the default action back) and exit with 128
/// plus the signal number, as the default action would have the shell
/// report.
static HANDLERS: Once = Once::new();

impl EchoOff {
    /// Switches echo off when stdin is a terminal; `None` when it is not
    /// (or its settings cannot be read).
    fn start() -> Option<EchoOff> {
        let fd = libc::STDIN_FILENO;
        let mut saved = MaybeUninit::<libc::termios>::uninit();
        // SAFETY: tcgetattr only writes the termios it is given, and says
        // with 0 that it filled it in.
        if unsafe { libc::tcgetattr(fd, saved.as_mut_ptr()) } != 0 {
            return None;
        }
        // SAFETY: tcgetattr succeeded, so `saved` is initialised.
        let saved = unsafe { saved.assume_init() };
        HANDLERS.call_once(|| {
            for signal in [libc::SIGINT, libc::SIGTERM] {
                let restore = move || {
                    if ECHO_OFF.load(Ordering::SeqCst) {
                        // SAFETY: tcsetattr and write are async-signal-safe
                        // and `saved` is this handler's own copy.
                        unsafe {
                            libc::tcsetattr(fd, libc::TCSANOW, &saved);
                            libc::write(libc::STDOUT_FILENO, b"\n".as_ptr().cast(), 1);
                        }
                    }
                    low_level::exit(128 + signal);
                };
                // SAFETY: the handler calls only async-signal-safe
                // functions (an atomic load, the two above, and `exit`,
                // which is `_exit`). Without it a signal kills the process
                // with echo still off, which is all that is lost.
                let _ = unsafe { low_level::register(signal, restore) };
            }
        });
        let mut quiet = saved;
        quiet.c_lflag &= !libc::ECHO;
        ECHO_OFF.store(true, Ordering::SeqCst);
        // SAFETY: `quiet` is a valid termios read from this terminal.
        unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &quiet) };
        Some(EchoOff { saved })
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        // SAFETY: `saved` is the termios read from this terminal.
        unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &self.saved) };
        ECHO_OFF.store(false, Ordering::SeqCst);
    }
}
