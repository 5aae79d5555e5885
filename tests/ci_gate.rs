//! `aerobench compare` as a CI gate, end to end with the real binary and the built-in server:
//! a new run with failed calls, with a column missing, or with a round in which no call
//! succeeded fails the gate (exit 3) with the reason named, unless loosened explicitly; a run
//! compared with itself or with a repeat of itself passes. Open-loop runs against a server that
//! stalls get verdicts on latency from when calls were due, which differ from service time's,
//! and a threshold on that latency gates them. What the gate cannot judge fails it too: a cell
//! too small for the threshold asked, a new run that is incomplete or interrupted, runs against
//! another server, node count or workload, and a report of an unknown schema_version.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use common::{Server, cache_dir, run_with_timeout, scratch};

/// Exit code of `compare` when the gate fails.
const GATE_FAILED: i32 = 3;

/// The runs here time things: one at a time, so that they do not take each other's CPU.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs the benchmark against `port` and writes its JSON report to `dir/name.json`.
fn bench(port: u16, dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let path = dir.join(format!("{name}.json"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    cmd.args(["--host", "127.0.0.1", "--port", &port.to_string(), "--quiet", "--format", "json", "--output"])
        .arg(&path)
        .args(["--warmup", "20"])
        .args(args)
        .env("AEROBENCH_CACHE_DIR", cache_dir())
        .env_remove("VIRTUAL_ENV")
        .env_remove("AEROSPIKE_HOST")
        .env_remove("AEROSPIKE_PORT");
    let out = run_with_timeout(cmd, Duration::from_secs(180));
    // 0, or 1 when calls failed: the report is written either way.
    assert!(matches!(out.status.and_then(|s| s.code()), Some(0 | 1)), "{name}: {}", out.describe());
    assert!(path.is_file(), "{name}: no report\n{}", out.describe());
    path
}

/// The report at `path`, held to `schema.json`.
fn read(path: &Path) -> Value {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let errors = common::schema_errors(&doc);
    assert!(errors.is_empty(), "{} does not match schema.json:\n{}", path.display(), errors.join("\n"));
    doc
}

/// `aerobench compare BASE NEW extra…`: exit code and the text written.
fn compare(base: &Path, new: &Path, extra: &[&str]) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    cmd.arg("compare").arg(base).arg(new).args(extra);
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    let code = out.status.and_then(|s| s.code()).unwrap_or_else(|| panic!("compare: {}", out.describe()));
    (code, format!("{}{}", out.stdout, out.stderr))
}

/// A verifying run of the Rust client's put and get: 3 rounds of 300 calls.
const VERIFIED: [&str; 11] = [
    "--clients",
    "rust-async",
    "--concurrency",
    "4",
    "--ops",
    "put,get",
    "--count",
    "300",
    "--rounds",
    "3",
    "--verify",
];

#[test]
fn failed_calls_fail_the_gate_unless_tolerated() {
    let dir = scratch("ci-gate-failed-calls");
    let sound = Server::start_with(&["--quiet"]);
    let base = bench(sound.port, &dir, "base", &VERIFIED);
    // One read in 50 comes back altered: those gets fail as value mismatches, while the latency
    // of the others is that of a sound server.
    let corrupting = Server::start_with(&["--quiet", "--corrupt-one-in", "50"]);
    let new = bench(corrupting.port, &dir, "new", &VERIFIED);
    let doc = read(&new);
    let get = doc["cells"].as_array().unwrap().iter().find(|c| c["operation"] == "get").unwrap();
    assert!(get["errors"].as_u64().unwrap() > 0, "the corrupting server failed no call: {get}");

    let (code, text) = compare(&base, &new, &[]);
    assert_eq!(code, GATE_FAILED, "{text}");
    assert!(text.contains("FAIL rust-async get: failed calls 0 of"), "{text}");
    assert!(text.contains("more calls fail"), "{text}");
    assert!(text.contains("FAILED: 1 of 2 cells failed the gate (1 more failed calls)"), "{text}");
    assert!(text.contains("pass rust-async put: no failed calls"), "every cell says why: {text}");
    // A latency threshold is no way around it.
    let (code, text) = compare(&base, &new, &["--fail-if", "p99>+1000%"]);
    assert_eq!(code, GATE_FAILED, "{text}");
    // Markdown says it too.
    let (code, md) = compare(&base, &new, &["--format", "markdown"]);
    assert_eq!(code, GATE_FAILED, "{md}");
    assert!(md.contains("**FAIL failed calls**") && md.contains("- **FAIL** rust-async get"), "{md}");
    // Loosened explicitly: a rise of up to 50 points passes, and says so.
    let (code, text) = compare(&base, &new, &["--fail-if", "errors>50%"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("tolerated by 'errors>50.00%'"), "{text}");
}

#[test]
fn a_column_missing_from_the_new_run_fails_the_gate_unless_allowed() {
    let dir = scratch("ci-gate-missing");
    let server = Server::start_with(&["--quiet"]);
    let common = ["--ops", "get", "--count", "200", "--rounds", "2"];
    let base = bench(server.port, &dir, "base", &[&["--clients", "wire,rust-sync"][..], &common].concat());
    let new = bench(server.port, &dir, "new", &[&["--clients", "wire"][..], &common].concat());
    let (code, text) = compare(&base, &new, &[]);
    assert_eq!(code, GATE_FAILED, "{text}");
    assert!(text.contains("FAIL rust-sync get: missing from the new run: its column did not run"), "{text}");
    assert!(text.contains("column rust-sync is not in the new run"), "{text}");
    assert!(text.contains("1 missing from the new run"), "{text}");
    let (code, text) = compare(&base, &new, &["--allow-missing"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("pass missing (allowed)"), "{text}");
}

#[test]
fn a_round_without_a_successful_call_fails_the_gate_even_when_failures_are_tolerated() {
    let dir = scratch("ci-gate-no-success");
    let sound = Server::start_with(&["--quiet"]);
    let base = bench(sound.port, &dir, "base", &VERIFIED);
    // Every read comes back altered: no get succeeds in any round.
    let broken = Server::start_with(&["--quiet", "--corrupt-one-in", "1"]);
    let new = bench(broken.port, &dir, "new", &VERIFIED);
    let doc = read(&new);
    let get = doc["cells"].as_array().unwrap().iter().find(|c| c["operation"] == "get").unwrap();
    assert_eq!(get["errors"], get["count"], "{get}");
    // Even with every failed call tolerated, a round in which nothing succeeded fails.
    let (code, text) = compare(&base, &new, &["--fail-if", "errors>100%"]);
    assert_eq!(code, GATE_FAILED, "{text}");
    assert!(text.contains("FAIL rust-async get: no successful call in rounds 1–3 of the new run"), "{text}");
    assert!(text.contains("1 a round without a successful call"), "{text}");
    // By default the failed calls fail it too.
    let (code, text) = compare(&base, &new, &[]);
    assert_eq!(code, GATE_FAILED, "{text}");
    assert!(text.contains("more calls fail"), "{text}");
    let (code, text) = compare(&base, &new, &["--fail-if", "errors>100%", "--allow-missing"]);
    assert_eq!(code, 0, "{text}");
}

#[test]
fn a_run_compared_with_itself_or_a_repeat_passes() {
    let dir = scratch("ci-gate-repeat");
    let server = Server::start_with(&["--quiet"]);
    let args = ["--clients", "wire,rust-sync", "--ops", "put,get", "--count", "300", "--rounds", "3"];
    let first = bench(server.port, &dir, "first", &args);
    let (code, text) = compare(&first, &first, &["--fail-if", "p99>+10%", "--fail-if", "ops/s<-5%"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("passed: no cell crossed 'p99>+10%' or 'ops/s<-5%'; in 4 cells, no rise"), "{text}");
    // A repeat measures a little differently; no failure or missing rule may fire on it. (A
    // threshold on p50: a p99 of 300 calls is their third slowest, which one scheduling stall
    // of a loaded machine moves by thousands of percent.)
    let repeat = bench(server.port, &dir, "repeat", &args);
    let (code, text) = compare(&first, &repeat, &["--fail-if", "p50>+1000%"]);
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("FAIL"), "{text}");
}

#[test]
fn open_loop_verdicts_and_thresholds_use_latency_from_when_calls_were_due() {
    let dir = scratch("ci-gate-open-loop");
    // The Rust client against a server that answers nothing 1 s of every 2 s, beside a no-op
    // column whose calls take 1 ms each and never stall: the Rust client's service time is
    // shorter, but the ~200 calls due during each stall wait for it (a phase of 2 s holds 1 s of
    // stall), while only the one call in flight when a stall starts takes longer. The stall
    // dwarfs what a busy machine's scheduling adds to the no-op column's waits (up to a few
    // hundred ms on a shared 2-core machine), so every round agrees on the direction.
    let args = [
        "--clients",
        "noop,rust-sync",
        "--baseline",
        "noop",
        "--stub-delay-us",
        "1000",
        "--ops",
        "get",
        "--count",
        "400",
        "--rate",
        "200",
        "--rounds",
        "5",
    ];
    let stalling = Server::start_with(&["--quiet", "--stall", "1s/2s"]);
    let stalled = bench(stalling.port, &dir, "stalled", &args);
    let doc = read(&stalled);
    let ratio = |metric: &str| {
        doc["ratios"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["column"] == "rust-sync" && r["operation"] == "get" && r["metric"] == metric)
            .unwrap_or_else(|| panic!("no {metric} ratio in {:#}", doc["ratios"]))
            .clone()
    };
    let (service, corrected) = (ratio("p99_latency"), ratio("corrected_p99_latency"));
    assert_eq!(corrected["verdict"], "slower", "corrected p99: {corrected:#}");
    assert_ne!(service["verdict"], "slower", "service p99: {service:#}");
    assert_ne!(service["verdict"], corrected["verdict"]);
    assert_eq!(doc["min_effect"], 0.03);
    let rust = doc["cells"].as_array().unwrap().iter().find(|c| c["column"] == "rust-sync").unwrap();
    assert!(rust["rounds"].as_array().unwrap().iter().all(|r| r["corrected"]["p99_us"].as_f64().is_some()), "{rust}");

    let sound = Server::start_with(&["--quiet"]);

    // A threshold on corrected latency gates the stalled run against a sound one.
    let calm = bench(sound.port, &dir, "calm", &args);
    let (code, text) = compare(&calm, &stalled, &["--fail-if", "corrected-p99>+10%"]);
    assert_eq!(code, GATE_FAILED, "{text}");
    assert!(text.contains("FAIL rust-sync get: 'corrected-p99>+10%' crossed"), "{text}");
    assert!(text.contains("noop get:"), "{text}");
    // On closed-loop runs such a threshold is refused, not silently passed.
    let closed = bench(sound.port, &dir, "closed", &["--clients", "wire", "--ops", "get", "--count", "200"]);
    let (code, text) = compare(&closed, &closed, &["--fail-if", "corrected-p99>+10%"]);
    assert_eq!(code, 2, "an error, not a gate verdict: {text}");
    assert!(text.contains("needs open-loop runs"), "{text}");
}

/// A copy of the report at `path` as `dir/name.json`, changed by `edit`.
fn edited(path: &Path, dir: &Path, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut doc);
    let out = dir.join(format!("{name}.json"));
    std::fs::write(&out, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    out
}

/// Every latency of every cell multiplied by `factor`, its throughput divided by it.
fn slower(doc: &mut Value, factor: f64) {
    let scale = |v: &mut Value, by: f64| {
        if let Some(x) = v.as_f64() {
            *v = serde_json::json!(x * by);
        }
    };
    for cell in doc["cells"].as_array_mut().unwrap() {
        for (_, v) in cell["latency_us"].as_object_mut().unwrap() {
            scale(v, factor);
        }
        scale(&mut cell["ops_per_sec"], 1.0 / factor);
        for round in cell["rounds"].as_array_mut().unwrap() {
            for key in ["avg_us", "p50_us", "p99_us"] {
                scale(&mut round[key], factor);
            }
            scale(&mut round["ops_per_sec"], 1.0 / factor);
        }
    }
}

/// Exactly 90 gets in one round: under the 100 calls a p99 takes.
const NINETY_GETS: [&str; 12] = [
    "--clients",
    "rust-sync",
    "--ops",
    "get",
    "--count",
    "90",
    "--rounds",
    "1",
    "--min-phase-calls",
    "0",
    "--min-phase-time",
    "0",
];

#[test]
fn a_cell_too_small_for_its_threshold_fails_the_gate_unless_allowed() {
    let dir = scratch("ci-gate-few-calls");
    let server = Server::start_with(&["--quiet"]);
    let base = bench(server.port, &dir, "base", &NINETY_GETS);
    let doc = read(&base);
    assert_eq!(doc["cells"][0]["count"], 90, "{}", doc["cells"][0]);
    // The same report made 1,000 times slower: a p99 threshold cannot see it, so it must fail.
    let new = edited(&base, &dir, "new", |d| slower(d, 1000.0));
    let (code, text) = compare(&base, &new, &["--fail-if", "p99>+10%"]);
    assert_eq!(code, GATE_FAILED, "{text}");
    assert!(
        text.contains("FAIL rust-sync get: 'p99>+10%' cannot be judged: 90 calls in each run: too few for p99"),
        "{text}"
    );
    assert!(text.contains("FAIL p99>+10% (not judged)"), "{text}");
    assert!(text.contains("1 could not be judged on a threshold"), "{text}");
    let (code, md) = compare(&base, &new, &["--fail-if", "p99>+10%", "--format", "markdown"]);
    assert_eq!(code, GATE_FAILED, "{md}");
    assert!(md.contains("**FAIL p99>+10% (not judged)**") && md.contains("too few for p99"), "{md}");
    // Allowed on purpose it passes, and says it was not judged.
    let (code, text) = compare(&base, &new, &["--fail-if", "p99>+10%", "--allow-few-calls"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("'p99>+10%' not judged: 90 calls in each run: too few for p99"), "{text}");
    // A threshold on a figure the cell has still judges it: the average is 1,000 times worse.
    let (code, text) = compare(&base, &new, &["--fail-if", "avg>+10%", "--allow-few-calls"]);
    assert_eq!(code, GATE_FAILED, "{text}");
    assert!(text.contains("'avg>+10%' crossed"), "{text}");
}

#[test]
fn an_incomplete_or_interrupted_new_run_fails_the_gate_unless_allowed() {
    let dir = scratch("ci-gate-incomplete");
    let server = Server::start_with(&["--quiet"]);
    let args = ["--clients", "wire", "--ops", "get", "--count", "200", "--rounds", "2"];
    let base = bench(server.port, &dir, "base", &args);
    let incomplete = edited(&base, &dir, "incomplete", |d| {
        d["incomplete"] = Value::from("the server stopped answering in round 2");
    });
    let (code, text) = compare(&base, &incomplete, &[]);
    assert_eq!(code, GATE_FAILED, "{text}");
    assert!(text.contains("FAIL the new run is incomplete (the server stopped answering in round 2)"), "{text}");
    assert!(text.contains("FAILED: the runs cannot be compared (the new run incomplete)"), "{text}");
    let (code, md) = compare(&base, &incomplete, &["--format", "markdown"]);
    assert_eq!(code, GATE_FAILED, "{md}");
    assert!(md.contains("- **FAIL** the new run is incomplete"), "{md}");
    let interrupted = edited(&base, &dir, "interrupted", |d| {
        d["interrupted"] = Value::from(true);
        d["workload"]["rounds_completed"] = Value::from(1);
    });
    let (code, text) = compare(&base, &interrupted, &["--allow-missing"]);
    assert_eq!(code, GATE_FAILED, "{text}");
    assert!(text.contains("was interrupted (Ctrl-C), completed 1 of 2 rounds"), "{text}");
    let (code, text) = compare(&base, &interrupted, &["--allow-incomplete"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("(allowed: --allow-incomplete)"), "{text}");
    // An incomplete base run is a note: only what it measured is compared.
    let (code, text) = compare(&incomplete, &base, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("note: the base run is incomplete"), "{text}");
}

#[test]
fn runs_against_another_server_nodes_or_workload_fail_the_gate_unless_allowed() {
    let dir = scratch("ci-gate-another-server");
    let args = ["--clients", "rust-sync", "--ops", "get", "--count", "200", "--rounds", "2"];
    let one = Server::start_with(&["--quiet"]);
    let base = bench(one.port, &dir, "base", &args);
    assert_eq!(read(&base)["server"]["nodes"].as_array().map(Vec::len), Some(1));
    // The same workload against a cluster of three built-in nodes.
    let three = Server::start_with(&["--nodes", "3", "--quiet"]);
    let cluster = bench(three.port, &dir, "cluster", &args);
    let (code, text) = compare(&base, &cluster, &[]);
    assert_eq!(code, GATE_FAILED, "{text}");
    assert!(text.contains("FAIL the base run's cluster had 1 node, the new one's 3"), "{text}");
    assert!(text.contains("(another node count)"), "{text}");
    let (code, text) = compare(&base, &cluster, &["--allow-different", "nodes"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("1 run-wide difference allowed on purpose"), "{text}");
    // The same run as if made against a real server.
    let real = edited(&base, &dir, "real", |d| d["server"]["builtin"] = Value::from(false));
    let (code, text) = compare(&base, &real, &[]);
    assert_eq!(code, GATE_FAILED, "{text}");
    assert!(
        text.contains("FAIL the base run ran against aerobench's built-in server, the new one against a real server"),
        "{text}"
    );
    assert!(text.contains("--allow-different server lets it pass"), "{text}");
    let (code, text) = compare(&base, &real, &["--allow-different", "server"]);
    assert_eq!(code, 0, "{text}");
    // Another workload: twice the records.
    let other_args = ["--clients", "rust-sync", "--ops", "get", "--count", "400", "--rounds", "2"];
    let other = bench(one.port, &dir, "other", &other_args);
    let (code, text) = compare(&base, &other, &[]);
    assert_eq!(code, GATE_FAILED, "{text}");
    assert!(text.contains("FAIL another workload (workload.count 200 → 400"), "{text}");
    let (code, text) = compare(&base, &other, &["--allow-different", "workload,server"]);
    assert_eq!(code, 0, "{text}");
    // A report of a schema this aerobench does not know.
    let future = edited(&base, &dir, "future", |d| d["schema_version"] = Value::from(99));
    let (code, text) = compare(&base, &future, &[]);
    assert_eq!(code, GATE_FAILED, "{text}");
    assert!(text.contains("FAIL the new run has schema_version 99, which this aerobench"), "{text}");
    let (code, text) = compare(&base, &future, &["--allow-unknown-schema"]);
    assert_eq!(code, 0, "{text}");
}

/// A service run's report made from a run of calls `calls` (its machine, server and workload):
/// a closed loop of `batch-count` at 10 and 50 virtual users, two columns, three rounds each,
/// every figure known. Held to `schema.json`.
fn service_report(calls: &Value) -> Value {
    let mut doc = calls.clone();
    let histogram = doc["cells"][0]["histogram"].clone();
    let template = doc["columns"][0].clone();
    let column = |id: &str| {
        let mut c = template.clone();
        c["id"] = serde_json::json!(id);
        c["label"] = serde_json::json!(id);
        c
    };
    doc["columns"] = serde_json::json!([column("svc-aerospike-py-async"), column("svc-official-c")]);
    doc["cells"] = serde_json::json!([]);
    doc["ratios"] = serde_json::json!([]);
    doc["workload"]["operations"] = serde_json::json!(["batch-count"]);
    doc["workload"]["pacing"] = serde_json::json!("closed");
    doc["workload"]["rounds"] = serde_json::json!(3);
    doc["workload"]["rounds_completed"] = serde_json::json!(3);
    doc["baseline"] = Value::Null;
    doc["floor"] = Value::Null;
    doc.as_object_mut().unwrap().remove("schedule");
    let timings = |p50: f64| serde_json::json!({"avg": p50 * 1.1, "p50": p50, "p95": p50 * 1.5, "p99": p50 * 2.0, "max": p50 * 4.0});
    let mut cells = Vec::new();
    for (step, p50) in [(10.0, 4_000.0), (50.0, 20_000.0)] {
        for (column, rps, cpu) in [("svc-aerospike-py-async", 2_400.0, 400.0), ("svc-official-c", 1_900.0, 500.0)] {
            let rounds: Vec<Value> = (1..=3)
                .map(|round| {
                    let jitter = 0.97 + 0.015 * f64::from(round);
                    serde_json::json!({
                        "round": round, "requests": (rps * 10.0) as u64, "errors": 0, "secs": 10.0,
                        "requests_per_sec": rps * jitter, "p99_us": p50 * 2.0 / jitter,
                        "cpu_secs": rps * 10.0 * cpu / 1e6, "requests_per_core": 1e6 / cpu * jitter,
                    })
                })
                .collect();
            cells.push(serde_json::json!({
                "column": column, "step": step, "rounds": 3, "requests": (rps * 30.0) as u64, "errors": 0,
                "errors_by_reason": {}, "requests_per_sec": rps, "latency_us": timings(p50),
                "cpu_us_per_request": cpu, "requests_per_core": 1e6 / cpu,
                "per_round": rounds, "histogram": histogram,
            }));
        }
    }
    let service_column = |id: &str, call: &str| serde_json::json!({"id": id, "floor": false, "app": "uvicorn 0.38.0 (httptools, asyncio loop), 2 workers", "call": call});
    doc["service"] = serde_json::json!({
        "scenario": "batch-count", "description": "a batch of 100 keys → JSON count", "app_workers": 2,
        "load": "closed", "steps": [10.0, 50.0], "step_unit": "vus", "slice_secs": 10.0, "warmup_secs": 2.0,
        "rounds": 3, "timeout_ms": 5000, "load_generator": "aerobench (hyper), 2 threads",
        "columns": [service_column("svc-aerospike-py-async", "awaited"), service_column("svc-official-c", "run_in_executor")],
        "cells": cells, "saturation": [], "verdicts": [],
    });
    let errors = common::schema_errors(&doc);
    assert!(errors.is_empty(), "the service report does not match schema.json:\n{}", errors.join("\n"));
    doc
}

#[test]
fn service_runs_are_compared_cell_by_cell_and_never_with_a_run_of_calls() {
    let dir = scratch("ci-gate-service");
    let server = Server::start_with(&["--quiet"]);
    let calls =
        bench(server.port, &dir, "calls", &["--clients", "wire", "--ops", "get", "--count", "200", "--rounds", "2"]);
    let service = service_report(&read(&calls));
    let base = dir.join("service.json");
    std::fs::write(&base, serde_json::to_string_pretty(&service).unwrap()).unwrap();

    let (code, text) = compare(&base, &base, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("passed: ") && text.contains("in 4 cells, no rise in failed requests"), "{text}");
    assert!(text.contains("pass svc-official-c 50 vus: no failed requests"), "every cell says why: {text}");

    // aerospike-py's app 10 times slower at 50 virtual users.
    let slow = edited(&base, &dir, "service-slow", |d| {
        let cell = d["service"]["cells"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|c| c["column"] == "svc-aerospike-py-async" && c["step"] == 50.0)
            .unwrap();
        let scale = |v: &mut Value, by: f64| *v = serde_json::json!(v.as_f64().unwrap() * by);
        scale(&mut cell["latency_us"]["p99"], 10.0);
        scale(&mut cell["requests_per_sec"], 0.1);
        for round in cell["per_round"].as_array_mut().unwrap() {
            scale(&mut round["p99_us"], 10.0);
            scale(&mut round["requests_per_sec"], 0.1);
        }
    });
    let (code, text) = compare(&base, &slow, &[]);
    assert_eq!(code, GATE_FAILED, "{text}");
    assert!(
        text.contains("FAIL svc-aerospike-py-async 50 vus: requests/s worse beyond 3% (the default limit) crossed"),
        "{text}"
    );
    assert!(text.contains("p99 worse beyond 3% (the default limit) crossed: p99 +900.0%"), "{text}");
    assert!(text.contains("FAILED: 1 of 4 cells failed the gate"), "{text}");
    let (code, text) = compare(&base, &slow, &["--fail-if", "p99>+50%", "--format", "markdown"]);
    assert_eq!(code, GATE_FAILED, "{text}");
    assert!(text.contains("| column | step |") && text.contains("**FAIL p99>+50%**"), "{text}");
    // Limits set above the change let it pass.
    let (code, text) = compare(&base, &slow, &["--fail-if", "p99>+2000%", "--fail-if", "requests/s<-95%"]);
    assert_eq!(code, 0, "{text}");

    // A run of calls against a service run, either way: nothing comparable, whatever is allowed.
    let everything = ["--allow-different", "server,nodes,workload", "--allow-missing", "--allow-incomplete"];
    for (b, n, why) in [
        (&calls, &base, "the base run is a run of calls, the new run is a service run (batch-count, stepping vus)"),
        (&base, &calls, "the base run is a service run (batch-count, stepping vus), the new run is a run of calls"),
    ] {
        let (code, text) = compare(b, n, &everything);
        assert_eq!(code, GATE_FAILED, "{text}");
        assert!(text.contains(&format!("FAIL {why}: nothing comparable")), "{text}");
        assert!(
            text.contains("FAILED: the runs cannot be compared (they measured different things); no cell compared"),
            "{text}"
        );
    }

    // A threshold on a figure a service run does not record is bad input.
    let (code, text) = compare(&base, &base, &["--fail-if", "avg>+10%"]);
    assert_eq!(code, 2, "an error, not a gate verdict: {text}");
    assert!(text.contains("give ops/s (requests/s), p99 or requests/core"), "{text}");
}
