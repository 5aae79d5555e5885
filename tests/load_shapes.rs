//! Load shapes end to end. Open-loop runs (`--rate`): against a built-in server that stalls now
//! and then, the latency measured from when each call was due shows the stalls that service time
//! hides, for an in-process column and the Python sync and async paths; a rate a column's calls
//! in flight cannot reach is reported as such, never hidden. Key distributions over a key space
//! and record presets reach every client kind, as the server counts the keys read.

mod common;

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use common::{Server, cache_dir, run_with_timeout};

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// The tests here time things: one at a time, so that they do not take each other's CPU.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run(args: &[&str]) -> Value {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    cmd.args(["--format", "json", "--quiet", "--rounds", "1"]).args(args);
    if !args.contains(&"--ops") && !args.contains(&"--workload") {
        cmd.args(["--ops", "get"]);
    }
    cmd.env("AEROBENCH_CACHE_DIR", cache_dir()).env_remove("VIRTUAL_ENV");
    cmd.env_remove("AEROSPIKE_HOST").env_remove("AEROSPIKE_PORT");
    let out = run_with_timeout(cmd, Duration::from_secs(180));
    assert!(out.success(), "{}", out.describe());
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.describe()))
}

fn cell<'a>(doc: &'a Value, column: &str) -> &'a Value {
    doc["cells"].as_array().unwrap().iter().find(|c| c["column"] == column).unwrap_or_else(|| panic!("no {column}"))
}

#[test]
fn corrected_latency_shows_the_stalls_that_service_time_hides() {
    // 50 ms of every 500 ms the server answers nothing; 1,500 calls at 1,000/s span three stalls.
    let server = Server::start_with(&["--stall", "50ms/500ms", "--quiet"]);
    let port = server.port.to_string();
    let columns = ["wire", "aerospike-py-sync", "aerospike-py-async"];
    let doc = run(&[
        "--port",
        &port,
        "--clients",
        &columns.join(","),
        "--count",
        "1500",
        "--rate",
        "1000",
        "--concurrency",
        "2",
        "--warmup",
        "20",
    ]);
    assert_eq!(doc["workload"]["pacing"], "open");
    assert_eq!(f(&doc["workload"]["rate_per_column"]), 1000.0);
    for id in columns {
        let c = cell(&doc, id);
        assert_eq!(c["errors"], 0, "{id}: {c:#}");
        let open = &c["open_loop"];
        let (service_p99, corrected_p99) = (f(&c["latency_us"]["p99"]), f(&open["corrected_latency_us"]["p99"]));
        // A stall holds back ~50 calls each time: ~10% of the calls wait up to 50 ms, while the
        // one or two calls in flight when it starts are under 1% of service times.
        assert!(corrected_p99 > 15_000.0, "{id}: corrected p99 {corrected_p99} µs");
        assert!(corrected_p99 > 3.0 * service_p99, "{id}: corrected p99 {corrected_p99} µs, service {service_p99} µs");
        assert!(f(&open["late_calls"]) > 30.0, "{id}: {open:#}");
        assert!(f(&open["max_start_lag_us"]) > 20_000.0, "{id}: {open:#}");
        assert_eq!(f(&open["target_ops_per_sec"]), 1000.0);
        assert!(!open["corrected_histogram"].as_str().unwrap().is_empty());
    }
}

#[test]
fn a_rate_the_calls_in_flight_cannot_reach_is_reported() {
    // Stub calls of 4 ms: one in flight makes at most 250/s, eight make 2,000/s.
    let doc = run(&[
        "--builtin-server",
        "--clients",
        "noop,noop-async,py-noop,py-noop-async",
        "--stub-delay-us",
        "4000",
        "--count",
        "200",
        "--rate",
        "500",
        "--concurrency",
        "8",
        "--warmup",
        "20",
    ]);
    for (id, keeps_up) in [("noop", false), ("noop-async", true), ("py-noop", false), ("py-noop-async", true)] {
        let c = cell(&doc, id);
        let open = &c["open_loop"];
        let achieved = f(&open["achieved_ops_per_sec"]);
        let notes: Vec<&str> = c["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
        let behind = notes.iter().find(|n| n.starts_with("could not keep up with 500/s"));
        if keeps_up {
            assert_eq!(open["kept_up"], true, "{id}: {open:#} {notes:?}");
            assert!(behind.is_none(), "{id}: {notes:?}");
            // Never above the target; below it only by what a loaded machine takes.
            assert!(achieved > 400.0 && achieved < 525.0, "{id}: {achieved}/s");
            // Calls start when due: measured from then, latency is about the service time
            // measured in the same run (not a nominal 4 ms: the machine's load adds to both).
            let (corrected, service) = (f(&open["corrected_latency_us"]["p50"]), f(&c["latency_us"]["p50"]));
            assert!(corrected < 2.0 * service, "{id}: corrected p50 {corrected} µs, service {service} µs: {open:#}");
        } else {
            assert_eq!(open["kept_up"], false, "{id}: {open:#}");
            assert!(achieved < 300.0, "{id}: {achieved}/s");
            let note = behind.unwrap_or_else(|| panic!("{id}: no note saying so: {notes:?}"));
            assert!(note.contains("1 in flight") && note.contains("at most about"), "{id}: {note}");
            // The 200th call was due at 0.4 s and started near 0.8 s: its wait is in the latency.
            let corrected_max = f(&open["corrected_latency_us"]["max"]);
            assert!(corrected_max > 300_000.0, "{id}: {open:#}");
            // The wait is in the corrected latency, not in the service time of the calls.
            assert!(f(&c["latency_us"]["max"]) * 3.0 < corrected_max, "{id}: service time stays short: {c:#}");
        }
    }
}

#[test]
fn zipfian_keys_over_a_key_space_and_a_preset_reach_every_client_kind() {
    // The server counts which keys each column's reads named: a client that ignored --keys or
    // --key-space would be seen there, whatever it reported.
    let server = Server::start_with(&["--quiet", "--count-key-reads"]);
    let port = server.port.to_string();
    let digests: Vec<String> = (0..300).map(|i| common::digest_hex("aerobench", &format!("aerobench-{i}"))).collect();
    let columns = ["wire", "rust-async", "aerospike-py-sync", "aerospike-native-async"];
    let mut per_column = Vec::new();
    for id in columns {
        // No pre-write: the puts, drawn like the gets, write the records the gets then find.
        assert_eq!(server.info("truncate:namespace=test;set=aerobench"), "ok");
        server.take_key_reads();
        let doc = run(&[
            "--port",
            &port,
            "--clients",
            id,
            "--ops",
            "put,get",
            "--count",
            "300",
            "--key-space",
            "50",
            "--keys",
            "zipfian:1.1",
            "--seed",
            "7",
            "--preset",
            "medium",
            "--rate",
            "2000",
            "--concurrency",
            "4",
            "--warmup",
            "10",
            "--no-prewrite",
            "--verify",
            "--min-phase-calls",
            "0",
            "--min-phase-time",
            "0",
        ]);
        let w = &doc["workload"];
        assert_eq!(
            (w["keys"].as_str(), w["seed"].as_u64(), w["key_space"].as_u64()),
            (Some("zipfian:1.1"), Some(7), Some(50))
        );
        assert_eq!(w["bins"].as_array().unwrap().len(), 10);
        assert!(w["bins"][1].as_str().unwrap().contains("string(100)"), "{}", w["bins"]);
        let mut gets = 0;
        for op in ["put", "get"] {
            let c =
                doc["cells"].as_array().unwrap().iter().find(|c| c["column"] == id && c["operation"] == op).unwrap();
            // Every key a get draws was written by a put before it: no read misses a record.
            assert_eq!(c["errors"].as_u64(), Some(0), "{id} {op}: {c:#}");
            assert!(c["count"].as_u64() >= Some(300), "{id} {op}: {c:#}");
            assert!(c["open_loop"]["target_ops_per_sec"].as_f64() == Some(2000.0), "{id} {op}");
            if op == "get" {
                gets = c["count"].as_u64().unwrap();
            }
        }
        // At the server: every read named one of the first 50 records, record 0 (rank 1 of a
        // Zipf law with θ 1.1: about 28% of draws) far more often than record 25 (under 1%).
        let reads = server.take_key_reads();
        let by_record: Vec<u64> = digests.iter().map(|d| reads.get(d).copied().unwrap_or(0)).collect();
        let total: u64 = reads.values().sum();
        assert!(total >= gets, "{id}: the server saw {total} reads for {gets} gets");
        assert_eq!(by_record[..50].iter().sum::<u64>(), total, "{id}: reads outside the key space: {reads:?}");
        assert!(by_record[0] * 5 > total, "{id}: record 0 read {} times of {total}", by_record[0]);
        assert!(by_record[0] > 5 * by_record[25].max(1), "{id}: {:?}", &by_record[..50]);
        assert!(server.objects("aerobench") >= by_record[..50].iter().filter(|&&n| n > 0).count() as u64);
        per_column.push(by_record);
    }
    // The keys are drawn with the seed: every client read the same records as many times.
    assert!(per_column.windows(2).all(|w| w[0] == w[1]), "{per_column:?}");
}

#[test]
fn a_key_space_beyond_the_records_written_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_aerobench"))
        .args(["--builtin-server", "--count", "100", "--key-space", "200", "--quiet"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--key-space 200") && err.contains("--count"), "{err}");
    for bad in [["--keys", "zipfian:-1"], ["--rate", "0"], ["--keys", "hotspot:90"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_aerobench")).args(bad).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(bad[0]), "{bad:?}");
    }
}

#[test]
fn an_80_20_mix_reports_reads_and_updates_as_two_cells_in_proportion() {
    let columns =
        ["wire", "rust-async", "aerospike-py-sync", "aerospike-py-async", "official-c", "aerospike-native-async"];
    let doc = run(&[
        "--builtin-server",
        "--clients",
        &columns.join(","),
        "--workload",
        "read-update:80",
        "--keys",
        "zipfian",
        "--count",
        "2000",
        "--concurrency",
        "4",
        "--warmup",
        "10",
    ]);
    assert_eq!(doc["workload"]["mix"], "read-update:80");
    assert_eq!(doc["workload"]["operations"], serde_json::json!(["get", "put"]));
    let mut per_column = Vec::new();
    for id in columns {
        let count = |op: &str| {
            let c =
                doc["cells"].as_array().unwrap().iter().find(|c| c["column"] == id && c["operation"] == op).unwrap();
            assert_eq!(c["errors"], 0, "{id} {op}: {c:#}");
            assert!(f(&c["latency_us"]["p50"]) > 0.0, "{id} {op}");
            c["count"].as_u64().unwrap()
        };
        let (reads, updates) = (count("get"), count("put"));
        assert_eq!(reads + updates, 2000, "{id}: one phase of 2,000 calls");
        assert!((1540..=1660).contains(&reads), "{id}: {reads} reads of 2,000 (80% ± 3%)");
        per_column.push((reads, updates));
    }
    // The mix is drawn with the seed: every client made the same reads and updates.
    assert!(per_column.windows(2).all(|w| w[0] == w[1]), "{per_column:?}");
}
