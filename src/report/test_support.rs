//! A small, fully known `RunReport` shared by the exporters' tests: three Python-client columns
//! and one failed native column, four operations, two ratio columns plus one against the failed
//! column, one cell with errors and one with a note.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::results::{
    Cell, Column, Comparison, LatencyStats, MachineInfo, RunReport, SCHEMA_VERSION, ServerInfo, Workload,
};
use crate::stats::{Recorder, encode_histogram};

pub const RUST: &str = "py-rust-sync";
pub const C: &str = "py-c-sync";
pub const ASYNC: &str = "py-rust-async";
pub const CRATE: &str = "rust-async";

fn policies() -> BTreeMap<String, String> {
    [("timeout_ms", "1000"), ("retries", "0")].into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

fn column(id: &str, label: &str, client: &str, version: &str, mode: &str, in_flight: u32) -> Column {
    Column {
        id: id.to_owned(),
        label: label.to_owned(),
        client: client.to_owned(),
        client_version: version.to_owned(),
        mode: mode.to_owned(),
        in_flight,
        source: "site-packages".to_owned(),
        python_version: Some("3.12.3".to_owned()),
        policies: policies(),
        error: None,
    }
}

/// A cell with the given average latency (µs) and throughput; other statistics follow from them.
fn cell(column: &str, operation: &str, avg_us: f64, ops_per_sec: f64) -> Cell {
    let mut rec = Recorder::new();
    rec.record_ok(Duration::from_micros(avg_us as u64));
    let multi_record = operation == "batch_get" || operation == "scan";
    Cell {
        column: column.to_owned(),
        operation: operation.to_owned(),
        count: 1_000,
        errors: 0,
        errors_by_reason: BTreeMap::new(),
        latency_us: LatencyStats {
            min: avg_us / 2.0,
            avg: avg_us,
            p50: avg_us * 0.9,
            p90: avg_us * 1.5,
            p99: avg_us * 3.0,
            p999: avg_us * 5.0,
            max: avg_us * 10.0,
            stdev: avg_us / 4.0,
        },
        ops_per_sec,
        records_per_sec: multi_record.then_some(ops_per_sec * 10.0),
        records: multi_record.then_some(10_000),
        wall_secs: 1_000.0 / ops_per_sec,
        histogram: encode_histogram(rec.histogram()),
        notes: Vec::new(),
    }
}

pub fn sample_report() -> RunReport {
    let mut crate_column = column(CRATE, "Rust crate (50 in flight)", "aerospike", "3.0.0", "async", 50);
    crate_column.source = "crate".to_owned();
    crate_column.python_version = None;
    crate_column.policies = BTreeMap::new();
    crate_column.error = Some("worker exited: connection refused".to_owned());

    let mut cells = Vec::new();
    for (op, rust, c, asy) in [
        ("put", (312.0, 3_205.0), (587.0, 1_703.0), (41.0, 24_390.0)),
        ("get", (198.0, 5_050.0), (401.0, 2_493.0), (29.0, 34_482.0)),
        ("batch_get", (45.0, 22_222.0), (89.0, 11_235.0), (32.0, 31_250.0)),
        ("scan", (12.0, 83_333.0), (31.0, 32_258.0), (10.0, 100_000.0)),
    ] {
        cells.push(cell(RUST, op, rust.0, rust.1));
        cells.push(cell(C, op, c.0, c.1));
        cells.push(cell(ASYNC, op, asy.0, asy.1));
    }
    let c_get = cells.iter_mut().find(|x| x.column == C && x.operation == "get").expect("sample has a C get cell");
    c_get.errors = 3;
    c_get.errors_by_reason = [("timeout".to_owned(), 2), ("rc 2".to_owned(), 1)].into();
    let async_scan =
        cells.iter_mut().find(|x| x.column == ASYNC && x.operation == "scan").expect("sample has an async scan cell");
    async_scan.notes.push("scan returned 9,990 of 10,000 records".to_owned());

    RunReport {
        schema_version: SCHEMA_VERSION,
        aerobench_version: "0.1.0".to_owned(),
        started_at: "2026-01-02T03:04:05Z".to_owned(),
        server: ServerInfo {
            address: "127.0.0.1:3000".to_owned(),
            build: "8.1.0.0".to_owned(),
            edition: "Aerospike Community Edition".to_owned(),
            builtin: true,
        },
        machine: MachineInfo {
            os: "linux".to_owned(),
            arch: "x86_64".to_owned(),
            cpus: 2,
            cpu_model: Some("Test CPU @ 3.0GHz".to_owned()),
            memory_bytes: Some(8 << 30),
            hostname: None,
        },
        workload: Workload {
            count: 1_000,
            concurrency: 50,
            batch_size: 10,
            namespace: "test".to_owned(),
            set: "bench".to_owned(),
            key_prefix: "aerobench-".to_owned(),
            operations: ["put", "get", "batch_get", "scan"].map(str::to_owned).to_vec(),
            bins: vec!["i: int".to_owned(), "s: string(32)".to_owned()],
            warmup_ops: 100,
        },
        columns: vec![
            column(RUST, "aerospike-py (Rust)", "aerospike-py", "0.5.0", "sync", 1),
            column(C, "official aerospike (C)", "aerospike", "15.0.0", "sync", 1),
            column(ASYNC, "aerospike-py async", "aerospike-py", "0.5.0", "async", 50),
            crate_column,
        ],
        cells,
        comparisons: vec![
            Comparison { label: "Rust vs C".to_owned(), column: RUST.to_owned(), baseline: C.to_owned() },
            Comparison { label: "Async vs C".to_owned(), column: ASYNC.to_owned(), baseline: C.to_owned() },
            Comparison { label: "Crate vs C".to_owned(), column: CRATE.to_owned(), baseline: C.to_owned() },
        ],
    }
}

/// True when `text` contains an ANSI escape sequence.
pub fn has_ansi(text: &str) -> bool {
    text.contains('\u{1b}')
}
