//! `midge-bench --tls` against the in-process broker's TLS listener: its
//! messages arrive checked and complete, the handshakes scenario counts
//! every connection, and a CA that did not sign the server's certificate
//! fails the run with the reason.

use std::process::{Command, Output};

use crate::kit::{Pki, TlsBroker};
use crate::process::run_to_end;

/// Runs the bench binary with `args` (space separated) to the end.
fn bench(args: &str) -> Output {
    run_to_end(
        Command::new(env!("CARGO_BIN_EXE_midge-bench")).args(args.split_whitespace()),
        "cargo builds midge-bench with the tests",
    )
}

/// The JSON line the bench printed, with its exit status checked.
fn report(out: &Output, success: bool) -> String {
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(
        out.status.success(),
        success,
        "{line}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    line
}

#[test]
fn qos1_pairs_over_tls_lose_nothing() {
    let pki = Pki::new("bench-pairs");
    let broker = TlsBroker::start(pki.server_settings(|_| {}));
    let ca = pki.path("ca.pem");
    let args = format!(
        "pairs --qos 1 --pairs 2 --count 400 --duration 5 --tls {} --port {}",
        ca.display(),
        broker.tls_addr.port()
    );
    let line = report(&bench(&args), true);
    for field in [
        "\"received\":400",
        "\"lost\":0",
        "\"errors\":0",
        "\"tls\":\"TLSv1_3 ",
    ] {
        assert!(line.contains(field), "{field} missing in {line}");
    }
    let v5 = format!("{args} --mqtt5");
    let line = report(&bench(&v5), true);
    assert!(line.contains("\"received\":400"), "{line}");
}

#[test]
fn handshakes_complete_every_connection() {
    let pki = Pki::new("bench-churn");
    let broker = TlsBroker::start(pki.server_settings(|_| {}));
    let args = format!(
        "handshakes --connections 30 --connect-window 4 --duration 5 --tls {} --port {}",
        pki.path("ca.pem").display(),
        broker.tls_addr.port()
    );
    let line = report(&bench(&args), true);
    assert!(line.contains("\"connections\":30"), "{line}");
    assert!(line.contains("\"errors\":0"), "{line}");
}

#[test]
fn a_wrong_ca_fails_the_run_with_the_reason() {
    let pki = Pki::new("bench-wrong-ca");
    let broker = TlsBroker::start(pki.server_settings(|_| {}));
    let args = format!(
        "handshakes --connections 3 --duration 5 --tls {} --port {}",
        pki.path("other-ca.pem").display(),
        broker.tls_addr.port()
    );
    let out = bench(&args);
    report(&out, false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("TLS handshake failed") && err.contains("UnknownIssuer"),
        "{err}"
    );
    // The plain listener does not speak TLS: a clear error, not a hang.
    let plain = format!(
        "handshakes --connections 1 --duration 5 --tls {} --port {}",
        pki.path("ca.pem").display(),
        broker.plain_addr.port()
    );
    let out = bench(&plain);
    report(&out, false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("TLS"), "{err}");
}
