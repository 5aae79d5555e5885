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

#[test]
fn stub_columns_report_the_latency_they_were_given() {
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
        "--concurrency",
        &IN_FLIGHT.to_string(),
        "--warmup",
        "0",
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

        // A sleep never ends early and overshoots a little (more on a busy 2-core VM).
        assert!((1.99..=2.8).contains(&p50_ms), "p50 should be about 2 ms; {context}");
        // N calls in flight, each 2 ms: N / 2 ms per second — never more, and less only by what
        // the machine adds (up to a quarter on a busy 2-core VM).
        let expected = in_flight as f64 / (DELAY_MS / 1000.0);
        assert!((0.75..=1.02).contains(&(ops / expected)), "ops/s should be about {expected:.0}; {context}");
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
