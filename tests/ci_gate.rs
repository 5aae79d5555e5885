//! `aerobench compare` as a CI gate, end to end with the real binary and the built-in server:
//! a new run with failed calls, with a column missing, or with a round in which no call
//! succeeded fails the gate (exit 3) with the reason named, unless loosened explicitly; a run
//! compared with itself or with a repeat of itself passes. Open-loop runs against a server that
//! stalls get verdicts on latency from when calls were due, which differ from service time's,
//! and a threshold on that latency gates them.

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
    // A repeat measures a little differently; no failure or missing rule may fire on it.
    let repeat = bench(server.port, &dir, "repeat", &args);
    let (code, text) = compare(&first, &repeat, &["--fail-if", "p99>+1000%"]);
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
