//! MQTT over WebSockets with real clients: MQTT.js under Node over ws://
//! (3.1.1 and 5.0, `js/mqttjs_ws_check.js`), and headless Chromium
//! running MQTT.js's browser bundle from a page this test serves on
//! 127.0.0.1 (`js/browser_page.html`), each exchanging messages with a
//! plain TCP client.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{assert_received, node_dir, run_script, script_dir, Broker, Client, V311};

const INSTALL_NODE: &str =
    "install Node.js (Debian/Ubuntu: `apt-get install nodejs npm`, or run scripts/test.sh)";
const INSTALL_CHROMIUM: &str =
    "install Chromium (Debian/Ubuntu: `apt-get install chromium`, or run scripts/test.sh)";

/// How long the page may take, Chromium's start included.
const BROWSER_DEADLINE: Duration = Duration::from_secs(40);
/// How long the page's held image waits for the outcome.
const HOLD: Duration = Duration::from_secs(15);

#[test]
fn mqttjs_over_websockets_exchanges_messages_with_a_tcp_client() {
    let broker = Broker::start_websockets("mqttjs-ws");
    let ws_port = broker.ws_port.expect("a WebSocket listener");
    let mut command = Command::new("node");
    command
        .env("NODE_PATH", node_dir().join("node_modules"))
        .arg(script_dir().join("js/mqttjs_ws_check.js"))
        .arg(ws_port.to_string())
        .arg(broker.port.to_string());
    run_script(&mut command, INSTALL_NODE);
}

#[test]
fn chromium_runs_mqttjs_over_websockets_against_a_tcp_client() {
    let broker = Broker::start_websockets("browser");
    let ws_port = broker.ws_port.expect("a WebSocket listener");
    let clients = broker.clients(V311).format("%p");
    clients.publish(
        &["-t", "browser/in", "-q", "1", "-r", "-m", "hello from tcp"],
        None,
    );
    let sub = clients.subscribed(&["-t", "browser/out", "-q", "1", "-C", "1"]);

    let page = std::fs::read_to_string(script_dir().join("js/browser_page.html"))
        .expect("the test page")
        .replace("WS_PORT", &ws_port.to_string());
    let bundle = std::fs::read(node_dir().join("node_modules/mqtt/dist/mqtt.min.js"))
        .expect("MQTT.js's browser bundle (run scripts/test.sh)");
    let http = serve(page, bundle);

    let profile = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("chromium-profile-{}", std::process::id()));
    let mut command = Command::new("chromium");
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("http://127.0.0.1:{http}/"));
    let done = Client::spawn(&mut command, None, INSTALL_CHROMIUM).finish(BROWSER_DEADLINE);
    let _ = std::fs::remove_dir_all(&profile);
    let dom = done.stdout.join("\n");
    assert!(
        dom.contains(r#"<pre id="result">ok: received hello from tcp</pre>"#),
        "the page did not report success: {}",
        done.transcript()
    );
    assert_received(sub, &["hello from chromium, got: hello from tcp"]);
}

/// Serves the page at `/`, the bundle at `/mqtt.min.js`, and holds
/// `/hold` until `/done` was fetched (or [`HOLD`] passed), on an
/// ephemeral 127.0.0.1 port for [`BROWSER_DEADLINE`]. Returns the port.
fn serve(page: String, bundle: Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the page server");
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let page = Arc::new(page);
    let bundle = Arc::new(bundle);
    let done = Arc::new((Mutex::new(false), Condvar::new()));
    thread::spawn(move || {
        let end = Instant::now() + BROWSER_DEADLINE;
        while Instant::now() < end {
            match listener.accept() {
                Ok((stream, _)) => {
                    let (page, bundle, done) = (page.clone(), bundle.clone(), done.clone());
                    thread::spawn(move || answer(stream, &page, &bundle, &done));
                }
                Err(_) => thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    port
}

/// Answers one HTTP request (then closes the connection).
fn answer(mut stream: TcpStream, page: &str, bundle: &[u8], done: &(Mutex<bool>, Condvar)) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let path = request_line.split(' ').nth(1).unwrap_or("");
    let (status, kind, body): (&str, &str, &[u8]) = match path {
        "/" => ("200 OK", "text/html; charset=utf-8", page.as_bytes()),
        "/mqtt.min.js" => ("200 OK", "text/javascript", bundle),
        "/done" => {
            let (flag, cond) = done;
            *flag.lock().unwrap() = true;
            cond.notify_all();
            ("204 No Content", "text/plain", b"")
        }
        "/hold" => {
            let (flag, cond) = done;
            let guard = flag.lock().unwrap();
            let _ = cond.wait_timeout_while(guard, HOLD, |d| !*d).unwrap();
            ("404 Not Found", "text/plain", b"")
        }
        _ => ("404 Not Found", "text/plain", b""),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}
