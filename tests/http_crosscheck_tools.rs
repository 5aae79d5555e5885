//! End-to-end checks of the two hidden subcommands the HTTP cross-check benchmark
//! (`benches/http_crosscheck.rs`) drives: `serve-app` serves the app floor (real uvicorn) until
//! its stdin closes, and `http-load` loads it with aerobench's own generator and prints its
//! figures as one JSON line.

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::run_with_timeout;

/// `serve-app`, killed if a test ends before it does.
struct ServedApp {
    child: Child,
    addr: SocketAddr,
}

impl Drop for ServedApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_app(args: &[&str]) -> ServedApp {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aerobench"))
        .arg("serve-app")
        .args(args)
        .env("AEROBENCH_CACHE_DIR", common::cache_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn aerobench serve-app");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    // uvicorn may be installed into the package cache on first use.
    let line = match rx.recv_timeout(Duration::from_secs(300)) {
        Ok(line) => line,
        Err(_) => {
            let _ = child.kill();
            panic!("serve-app printed no line within 300 s");
        }
    };
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line from serve-app: {line:?}"));
    ServedApp { child, addr }
}

/// One GET with `Connection: close`: the whole answer.
fn get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect to the app");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read the answer");
    answer
}

#[test]
fn serve_app_answers_and_http_load_reports_its_figures() {
    let mut app = serve_app(&["--service", "batch-count", "--count", "200", "--batch-size", "10", "--quiet"]);
    let answer = get(app.addr, "/batch-count?i=0");
    assert!(answer.starts_with("HTTP/1.1 200"), "the floor did not answer 200:\n{answer}");
    assert!(answer.contains("\"found\": 10"), "a batch of 10 precomputed records:\n{answer}");

    let url = format!("http://{}/batch-count?i=1", app.addr);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    cmd.args(["http-load", &url, "--vus", "4", "--duration", "1s"]);
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    assert!(out.success(), "http-load failed\n{}", out.describe());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one JSON line\n{}", out.describe());
    let doc: Value = serde_json::from_str(lines[0]).expect("the line is JSON");
    let requests = doc["requests"].as_u64().unwrap();
    assert!(requests > 0, "{doc}");
    assert_eq!(doc["errors"], 0, "{doc}");
    assert_eq!(doc["ok"].as_u64(), Some(requests), "{doc}");
    assert_eq!(doc["vus"], 4);
    assert!(doc["requests_per_s"].as_f64().unwrap() > 0.0, "{doc}");
    let (p50, p99) = (doc["p50_us"].as_f64().unwrap(), doc["p99_us"].as_f64().unwrap());
    assert!(p50 > 0.0 && p99 >= p50, "{doc}");
    if cfg!(unix) {
        assert!(doc["cpu_us"].as_f64().unwrap() > 0.0, "{doc}");
        assert!(doc["cpu_us_per_request"].as_f64().unwrap() > 0.0, "{doc}");
    }

    // Closing stdin stops serve-app and its app: nothing answers at the address afterwards.
    drop(app.child.stdin.take());
    let until = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = app.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < until, "serve-app still runs 30 s after its stdin closed");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "serve-app ended with {status}");
    assert!(
        TcpStream::connect_timeout(&app.addr, Duration::from_secs(1)).is_err(),
        "the app still accepts connections at {} after serve-app ended",
        app.addr
    );
}

#[test]
fn http_load_without_an_app_says_what_to_start() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    cmd.args(["http-load", &format!("http://127.0.0.1:{port}/batch-count"), "--duration", "1s"]);
    let out = run_with_timeout(cmd, Duration::from_secs(30));
    assert_eq!(out.status.and_then(|s| s.code()), Some(2), "{}", out.describe());
    assert!(out.stderr.contains("serve-app"), "{}", out.describe());
    assert!(out.stdout.is_empty(), "{}", out.describe());
}
