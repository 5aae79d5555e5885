//! End-to-end checks of the figures aerobench reports, against stub clients whose latency is
//! known in advance: the hidden no-op columns with `--stub-delay-us 2000` take 2 ms per call,
//! through the Rust blocking and async loops and the sync and async Python paths. A report
//! that says p50 ≈ 2 ms and ops/s ≈ in-flight / 2 ms measures what happened; the invariants
//! below hold for any column.

mod common;

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use common::run_with_timeout;

const DELAY_MS: f64 = 2.0;
const IN_FLIGHT: u64 = 8;

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// The tests here time things: one at a time, so one's spinning cannot slow the other's calls.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn stub_columns_report_the_latency_they_were_given() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    cmd.args([
        "--builtin-server",
        "--clients",
        "noop,noop-async,py-noop,py-noop-async",
        "--stub-delay-us",
        "2000",
        "--count",
        "100",
        "--rounds",
        "2",
        "--min-phase-calls",
        "0",
        "--min-phase-time",
        "0",
        "--concurrency",
        &IN_FLIGHT.to_string(),
        // A warm-up starts the async stub's blocking threads before anything is timed.
        "--warmup",
        "50",
        "--ops",
        "get",
        "--format",
        "json",
        "--quiet",
    ])
    .env_remove("AEROSPIKE_HOST")
    .env_remove("AEROSPIKE_PORT");
    let out = run_with_timeout(cmd, Duration::from_secs(120));
    assert!(out.success(), "{}", out.describe());
    let doc: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.describe()));
    let columns = doc["columns"].as_array().unwrap();
    let cells = doc["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 4, "one get cell per column: {cells:#?}");
    for cell in cells {
        let id = cell["column"].as_str().unwrap();
        let column = columns.iter().find(|c| c["id"] == id).unwrap();
        let in_flight = column["in_flight"].as_u64().unwrap();
        assert_eq!(in_flight, if id.ends_with("async") { IN_FLIGHT } else { 1 }, "{id}");
        let count = cell["count"].as_u64().unwrap();
        let errors = cell["errors"].as_u64().unwrap();
        assert_eq!((count, errors), (2 * 100, 0), "{id}: {cell}");
        let p50_ms = f(&cell["latency_us"]["p50"]) / 1000.0;
        let avg_ms = f(&cell["latency_us"]["avg"]) / 1000.0;
        let ops = f(&cell["ops_per_sec"]);
        let wall = f(&cell["wall_secs"]);
        let context = format!("{id}: p50 {p50_ms} ms, avg {avg_ms} ms, {ops:.0} ops/s, wall {wall} s");

        // A sleep never ends early; how much it overshoots is the machine's (a bound far above
        // only catches a wrong unit).
        assert!((1.99..20.0).contains(&p50_ms), "p50 should be about 2 ms; {context}");
        // N calls of 2 ms in flight: never more than N / 2 ms per second.
        let ceiling = in_flight as f64 / (DELAY_MS / 1000.0);
        assert!(ops <= ceiling * 1.02, "ops/s at most {ceiling:.0}; {context}");
        // Little's law, within this run: ops/s is about the calls in flight over the latency of
        // a call, however slow the machine made the calls (a wrong concurrency is off by 8x).
        let little = in_flight as f64 / (avg_ms / 1000.0);
        assert!((0.5..=1.02).contains(&(ops / little)), "ops/s should be about {little:.0}; {context}");
        // ops/s is successful calls over the wall time of the phase.
        let direct = (count - errors) as f64 / wall;
        assert!((ops / direct - 1.0).abs() <= 0.02, "ops/s should be {direct:.0} (calls / wall); {context}");
        // Calls overlap at most in_flight at a time, so their summed latency fits in the wall time.
        let summed = avg_ms / 1000.0 * count as f64;
        assert!(
            summed <= wall * in_flight as f64 * 1.02,
            "summed latency {summed:.4} s exceeds wall × in-flight {:.4} s; {context}",
            wall * in_flight as f64
        );
    }
}

/// The sync no-op columns with a 2 ms delay, spent sleeping or spinning, as JSON.
fn cpu_run(spin: bool) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    cmd.args(["--builtin-server", "--clients", "noop,py-noop", "--stub-delay-us", "2000", "--count", "100"])
        .args(["--rounds", "2", "--warmup", "0", "--ops", "get", "--format", "json", "--quiet"])
        .args(if spin { &["--stub-spin"][..] } else { &[][..] })
        .env_remove("AEROSPIKE_HOST")
        .env_remove("AEROSPIKE_PORT");
    let out = run_with_timeout(cmd, Duration::from_secs(120));
    assert!(out.success(), "{}", out.describe());
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.describe()))
}

#[test]
fn cpu_per_call_is_what_a_call_burns_and_nothing_while_it_sleeps() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let spinning = cpu_run(true);
    let sleeping = cpu_run(false);
    let cell_of = |doc: &Value, id: &str| -> Value {
        doc["cells"].as_array().unwrap().iter().find(|c| c["column"] == id).unwrap().clone()
    };
    for cell in spinning["cells"].as_array().unwrap() {
        let id = cell["column"].as_str().unwrap();
        let cpu = &cell["cpu"];
        let slept = cell_of(&sleeping, id);
        // A spinning call burns CPU for its 2 ms, a sleeping one next to none: how much CPU a
        // spinner gets depends on the machine, so the two are compared, with a wide margin.
        let (per_op, slept_per_op) = (f(&cpu["cpu_us_per_op"]), f(&slept["cpu"]["cpu_us_per_op"]));
        assert!(per_op > 5.0 * slept_per_op, "{id}: {per_op} µs of CPU per spinning call, {slept_per_op} sleeping");
        // No more CPU than the calls' own time: one thread, at most one core.
        assert!(per_op <= f(&cell["latency_us"]["avg"]) * 1.1 + 50.0, "{id}: {per_op} µs per call: {cell}");
        let (busy, slept_busy) = (f(&cpu["utilisation"]), f(&slept["cpu"]["utilisation"]));
        assert!(busy <= 1.1 && busy > 3.0 * slept_busy, "{id}: utilisation {busy} spinning, {slept_busy} sleeping");
        // The per-round CPU times add up to the cell's.
        let rounds: f64 = cell["rounds"].as_array().unwrap().iter().map(|r| f(&r["cpu_secs"])).sum();
        assert!((rounds - f(&cpu["cpu_secs"])).abs() < 1e-9, "{id}: {cpu}");
    }
    for cell in sleeping["cells"].as_array().unwrap() {
        let id = cell["column"].as_str().unwrap();
        let cpu = &cell["cpu"];
        if id == "py-noop" {
            // A worker process of its own: its memory is reported; the in-process column's is not.
            assert!(cpu["peak_rss_bytes"].as_u64().unwrap() > 1 << 20, "{cpu}");
            assert!(cpu["gc_secs"].as_f64().is_some(), "{cpu}");
        } else {
            assert!(cpu["peak_rss_bytes"].is_null(), "{cpu}");
        }
    }
}

#[test]
fn threads_give_the_sync_columns_that_many_calls_in_flight() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    cmd.args(["--builtin-server", "--clients", "noop,py-noop", "--stub-delay-us", "2000", "--threads", "4"])
        .args(["--count", "200", "--rounds", "2", "--warmup", "8", "--ops", "get", "--format", "json", "--quiet"])
        .args(["--min-phase-calls", "0", "--min-phase-time", "0"])
        .env_remove("AEROSPIKE_HOST")
        .env_remove("AEROSPIKE_PORT");
    let out = run_with_timeout(cmd, Duration::from_secs(120));
    assert!(out.success(), "{}", out.describe());
    let doc: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.describe()));
    for column in doc["columns"].as_array().unwrap() {
        assert_eq!(column["in_flight"], 4, "{column}");
    }
    for cell in doc["cells"].as_array().unwrap() {
        let id = cell["column"].as_str().unwrap();
        assert_eq!((cell["count"].as_u64(), cell["errors"].as_u64()), (Some(400), Some(0)), "{id}: {cell}");
        // Four threads, each one 2 ms call at a time: about 2,000 calls a second, never more;
        // with the latency this run measured, four calls in flight all along (Little's law).
        let ops = f(&cell["ops_per_sec"]);
        assert!(ops <= 1.02 * 4.0 / (DELAY_MS / 1000.0), "{id}: {ops} ops/s: {cell}");
        let ratio = ops / (4.0 / (f(&cell["latency_us"]["avg"]) / 1e6));
        assert!((0.5..=1.02).contains(&ratio), "{id}: {ratio} of 4 / latency: {cell}");
        let p50_ms = f(&cell["latency_us"]["p50"]) / 1000.0;
        assert!((1.99..20.0).contains(&p50_ms), "{id}: p50 {p50_ms} ms");
    }
}
