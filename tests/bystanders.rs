//! End-to-end checks of what a column does to other work in its process, with the hidden async
//! Python no-op column: one that blocks its event loop for 5 ms per call (as a client holding
//! the GIL would) must show event-loop gaps of at least 5 ms, one that awaits its 5 ms typical
//! gaps a fraction of those;
//! and `--cpu-competitor` must report the competing thread's solo and loaded speeds, and keep its
//! CPU out of the client's.

mod common;

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use common::run_with_timeout;

/// The get cell of `py-noop-async`, each call taking 5 ms, run with `extra` flags.
fn noop_async_cell(extra: &[&str]) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    cmd.args([
        "--builtin-server",
        "--clients",
        "py-noop-async",
        "--stub-delay-us",
        "5000",
        "--count",
        "80",
        "--rounds",
        "2",
        "--concurrency",
        "4",
        "--warmup",
        "0",
        "--ops",
        "get",
        "--format",
        "json",
        "--quiet",
    ])
    .args(extra)
    .env_remove("AEROSPIKE_HOST")
    .env_remove("AEROSPIKE_PORT");
    let out = run_with_timeout(cmd, Duration::from_secs(120));
    assert!(out.success(), "{}", out.describe());
    let doc: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.describe()));
    let cells = doc["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 1, "{cells:#?}");
    cells[0].clone()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn a_client_that_blocks_its_loop_starves_it_and_one_that_awaits_does_not() {
    let blocking = noop_async_cell(&["--stub-blocking"]);
    let gaps = &blocking["loop_starvation_us"];
    assert!(f(&gaps["p99"]) >= 5_000.0, "blocking 5 ms per call: {gaps}");
    assert!(gaps["samples"].as_u64().unwrap() >= 10, "{gaps}");
    assert!(blocking["competitor"].is_null(), "no competitor without the flag");

    let blocked_p50 = f(&gaps["p50"]);
    let awaiting = noop_async_cell(&[]);
    let gaps = &awaiting["loop_starvation_us"];
    // Awaiting leaves the loop free: its typical gap is a scheduling delay, far below the 5 ms
    // block (its size depends on the machine, so it is compared with the blocking run's, with a
    // wide margin, and not with a fixed bound; benches/bystander_crosscheck.rs prints figures).
    assert!(f(&gaps["p50"]) * 4.0 < blocked_p50, "awaiting {gaps} vs blocking p50 {blocked_p50} µs");
    assert!(gaps["samples"].as_u64().unwrap() >= 30, "{gaps}");
    let note = awaiting["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().starts_with("event loop"));
    assert!(note, "the gaps are shown in the notes: {awaiting}");
}

#[test]
fn the_competing_thread_is_measured_alone_and_under_load() {
    let cell = noop_async_cell(&["--cpu-competitor"]);
    let c = &cell["competitor"];
    let (solo, loaded, fraction) = (f(&c["solo_per_sec"]), f(&c["loaded_per_sec"]), f(&c["fraction"]));
    assert!(solo > 0.0 && loaded > 0.0, "{c}");
    // No upper bound: on a busy machine the solo runs (100 ms each) can lose their core and read
    // slower than the loaded phases; the speeds are what the report must carry.
    assert!(fraction > 0.0 && fraction.is_finite(), "{c}");
    assert!((fraction - loaded / solo).abs() < 1e-9, "{c}");
    let note = cell["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().contains("of its solo speed"));
    assert!(note, "the competitor is shown in the notes: {cell}");
    // The competitor keeps about a core busy for as long as the calls (5 ms each, 4 in flight)
    // run: some 1,250 µs of CPU per call. That CPU is its own, not the client's, which only
    // awaits a timer: the client's CPU per call stays far below.
    let competitor_cpu = f(&c["cpu_secs"]);
    assert!(competitor_cpu > 0.02, "the competitor's own CPU is measured: {c}");
    let per_op = f(&cell["cpu"]["cpu_us_per_op"]);
    let competitor_per_op = competitor_cpu * 1e6 / f(&cell["count"]);
    assert!(
        per_op < competitor_per_op / 2.0,
        "client CPU {per_op} µs/call must leave out the competitor's {competitor_per_op} µs/call: {cell}"
    );
}
