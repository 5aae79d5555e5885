//! Pacing under `--rate`, end to end: every column kind reports how late its calls started
//! against when they were due (p50 / p99 / max, and the histogram every call went into), in the
//! JSON and in the text table; and a run whose async Python calls wait for a far due time ends
//! soon after the server dies, rather than at that due time (the waker's own stop is pinned by
//! its unit tests). How precise the pacing is on this machine is the `pacing` benchmark's
//! business, not these tests'.

mod common;
use common::assert_schema_valid;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hdrhistogram::serialization::Deserializer;
use serde_json::Value;

use common::{COLUMNS, Server, cache_dir, run_with_timeout};

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn aerobench() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    cmd.env("AEROBENCH_CACHE_DIR", cache_dir()).env_remove("VIRTUAL_ENV");
    cmd.env_remove("AEROSPIKE_HOST").env_remove("AEROSPIKE_PORT");
    cmd
}

/// Calls recorded in an encoded histogram of the report.
fn histogram_count(text: &str) -> u64 {
    let bytes = base64::engine::general_purpose::STANDARD.decode(text).expect("base64");
    let h: hdrhistogram::Histogram<u64> = Deserializer::new().deserialize(&mut bytes.as_slice()).expect("V2 histogram");
    h.len()
}

#[test]
fn every_column_kind_reports_the_start_lag_of_every_call() {
    let server = Server::start_with(&["--quiet"]);
    let port = server.port.to_string();
    // Every default column, and the aerospike-sdk columns (their async one waits through the
    // same loop waker).
    let columns: Vec<&str> = COLUMNS.iter().copied().chain(["aerospike-sdk-sync", "aerospike-sdk-async"]).collect();
    let mut cmd = aerobench();
    cmd.args(["--port", &port, "--clients", &columns.join(","), "--ops", "get", "--count", "300"])
        .args(["--rate", "1000", "--concurrency", "4", "--warmup", "20", "--rounds", "2"])
        .args(["--format", "json", "--quiet"]);
    let out = run_with_timeout(cmd, Duration::from_secs(600));
    assert!(out.success(), "{}", out.describe());
    let doc: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.describe()));
    assert_schema_valid(&doc);
    for id in columns {
        let c = doc["cells"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["column"] == id && c["operation"] == "get")
            .unwrap_or_else(|| panic!("no {id} get cell\n{}", out.describe()));
        let open = &c["open_loop"];
        let lag = &open["start_lag_us"];
        let (p50, p99, max) = (f(&lag["p50"]), f(&lag["p99"]), f(&lag["max"]));
        assert!(0.0 <= p50 && p50 <= p99 && p99 <= max, "{id}: {lag}");
        // Every call of both rounds went into the histogram, failed ones too.
        let calls = c["count"].as_u64().unwrap();
        assert_eq!(calls, 600, "{id}: {c:#}");
        assert_eq!(histogram_count(open["start_lag_histogram"].as_str().unwrap()), calls, "{id}");
        // The histogram's maximum is the longest lag, within its 0.1% precision.
        let longest = f(&open["max_start_lag_us"]);
        assert!((max - longest).abs() <= longest * 0.002 + 0.01, "{id}: max {max} µs, longest {longest} µs");
        // The waits' own share of each call's lag never exceeds the lag itself, and every call
        // has one.
        let pacing = &open["pacing_lag_us"];
        for q in ["p50", "p99", "max"] {
            assert!(f(&pacing[q]) <= f(&lag[q]) * 1.002 + 0.01, "{id}: pacing {pacing} over start lag {lag}");
        }
        assert_eq!(histogram_count(open["pacing_lag_histogram"].as_str().unwrap()), calls, "{id}");
        assert!(open["queued_calls"].as_u64().unwrap() <= calls, "{id}");
    }

    // The text table shows the start lags beside the service time.
    let mut cmd = aerobench();
    cmd.args(["--port", &port, "--clients", "wire,aerospike-py-async", "--ops", "get", "--count", "100"])
        .args(["--rate", "1000", "--warmup", "10", "--rounds", "1", "--quiet"])
        .env("COLUMNS", "250"); // wide enough that no cell wraps
    let out = run_with_timeout(cmd, Duration::from_secs(300));
    assert!(out.success(), "{}", out.describe());
    assert!(out.stdout.contains("start lag p50/p99/max"), "{}", out.stdout);
    // An entry such as `2/14/310 µs`: three numbers and a unit.
    let entry = |l: &str| {
        let tokens: Vec<&str> = l.split_whitespace().collect();
        tokens.windows(2).any(|w| {
            let parts: Vec<&str> = w[0].split('/').collect();
            parts.len() == 3 && parts.iter().all(|p| p.parse::<f64>().is_ok()) && ["µs", "ms"].contains(&w[1])
        })
    };
    let rows: Vec<&str> = out.stdout.lines().filter(|l| entry(l)).collect();
    assert_eq!(rows.len(), 2, "a start-lag entry per column\n{}", out.stdout);
}

/// Against a server that stalls 100 ms of every second, a column with one call in flight at
/// 1,000 calls/s holds back the ~100 calls due during each stall: they are counted as queued, a
/// note says their lag is the column's own, and the pacing lag (from when each call could start)
/// leaves them out. Both kinds of column whose readiness is tracked differently: the floor
/// (a blocking loop) and the Rust crate's sync column (tickets handed to a task).
#[test]
fn calls_held_back_by_a_stalled_call_are_queued_not_blamed_on_the_wait() {
    let server = Server::start_with(&["--quiet", "--stall", "100ms/1s"]);
    let port = server.port.to_string();
    let mut cmd = aerobench();
    cmd.args(["--port", &port, "--clients", "wire,rust-sync", "--ops", "get", "--count", "200"])
        .args(["--rate", "1000", "--duration", "2500ms", "--warmup", "20", "--rounds", "1"])
        .args(["--format", "json", "--quiet"]);
    let out = run_with_timeout(cmd, Duration::from_secs(300));
    assert!(out.success(), "{}", out.describe());
    let doc: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.describe()));
    assert_schema_valid(&doc);
    for id in ["wire", "rust-sync"] {
        let c = doc["cells"].as_array().unwrap().iter().find(|c| c["column"] == id && c["operation"] == "get").unwrap();
        let open = &c["open_loop"];
        let queued = open["queued_calls"].as_u64().unwrap();
        assert!(queued >= 100, "{id}: two stalls hold back about 200 calls, counted {queued}\n{c:#}");
        let (lag, pacing) = (f(&open["start_lag_us"]["p99"]), f(&open["pacing_lag_us"]["p99"]));
        assert!(lag >= 20_000.0, "{id}: start lag p99 {lag} µs");
        assert!(pacing < lag / 4.0, "{id}: pacing lag p99 {pacing} µs is the queued calls' again ({lag} µs)");
        let notes: Vec<&str> = c["notes"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert!(
            notes.iter().any(|n| n.contains("fell due while the call before it was still running")),
            "{id}: {notes:?}"
        );
    }
}

#[test]
fn async_python_calls_waiting_for_a_far_due_time_end_when_the_server_dies() {
    // One call every 50 s: after the first, the column's coroutines wait on the loop waker for
    // calls due far ahead. The server dies; the run ends long before the next call would have
    // been due, with the report of what was measured.
    let server = Server::start_with(&["--quiet"]);
    let mut child = aerobench()
        .args(["--port", &server.port.to_string(), "--clients", "aerospike-py-async", "--ops", "get"])
        .args(["--rate", "0.02", "--duration", "600s", "--concurrency", "2", "--warmup", "5", "--rounds", "1"])
        .args(["--interval", "100ms", "--format", "json", "--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start aerobench");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The first interval line: the measured phase has made its first call.
    let first = lines.next().expect("a live line").expect("read a live line");
    let line: Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {first}"));
    assert_eq!(line["type"], "interval", "{first}");
    std::thread::sleep(Duration::from_millis(300));
    let killed = Instant::now();
    drop(server);
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let mut waited = false;
    for _ in 0..600 {
        if child.try_wait().unwrap().is_some() {
            waited = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if !waited {
        let _ = child.kill();
        let _ = child.wait();
    }
    let took = killed.elapsed();
    assert!(waited, "aerobench still ran a minute after the server died");
    // The next call was due 50 s after the first; the run ended well before that.
    assert!(took < Duration::from_secs(40), "ended {took:?} after the server died");
    let report =
        rest.iter().rev().find_map(|l| serde_json::from_str::<Value>(l).ok().filter(|v| v["type"] == "report"));
    let report = report.unwrap_or_else(|| panic!("no report line: {rest:?}"));
    let cell = &report["report"]["cells"][0];
    assert_eq!(cell["column"], "aerospike-py-async", "{report:#}");
    assert!(cell["open_loop"]["start_lag_us"].is_object(), "{cell:#}");
}
