//! Small, fully known `RunReport`s shared by the unit tests of analysis and of the reports: the
//! `wire` floor, three Python-client columns and one failed native column, four operations over
//! three rounds, one cell with errors and one with a note; and a seven-client report for width
//! checks.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::engine::stats::{Recorder, encode_histogram};
use crate::model::results::{
    Cell, Column, CpuCost, LatencyStats, MachineInfo, RoundFigures, RunReport, SCHEMA_VERSION, ServerInfo, Workload,
};

pub const RUST: &str = "aerospike-py-sync";
pub const C: &str = "official-c";
pub const ASYNC: &str = "aerospike-py-async";
pub const CRATE: &str = "rust-async";
pub const FLOOR: &str = "wire";

fn policies() -> BTreeMap<String, String> {
    [("timeout_ms", "1000"), ("retries", "0")].into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

pub fn column(id: &str, label: &str, client: &str, version: &str, mode: &str, in_flight: u32) -> Column {
    Column {
        id: id.to_owned(),
        label: label.to_owned(),
        client: client.to_owned(),
        client_version: version.to_owned(),
        mode: mode.to_owned(),
        in_flight,
        source: "site-packages".to_owned(),
        python_version: Some("3.12.3".to_owned()),
        python: Some(crate::model::results::PythonInterpreter {
            path: "/usr/bin/python3.12".to_owned(),
            version: "3.12.3".to_owned(),
            free_threaded: false,
            gil: true,
        }),
        policies: policies(),
        error: None,
        build: None,
        crash: None,
    }
}

/// A cell with the given average latency (µs) and throughput; other statistics follow from them.
pub fn cell(column: &str, operation: &str, avg_us: f64, ops_per_sec: f64) -> Cell {
    let mut rec = Recorder::new();
    rec.record_ok(Duration::from_micros(avg_us as u64));
    let multi_record = operation == "batch_get" || operation == "scan";
    Cell {
        column: column.to_owned(),
        operation: operation.to_owned(),
        count: 1_000,
        errors: 0,
        errors_by_reason: BTreeMap::new(),
        failures: Default::default(),
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
        latency_beyond_range: 0,
        over_floor_us: None,
        over_floor_interval_us: None,
        // Three rounds around the averages: -5%, exact, +5%.
        rounds: [0.95, 1.0, 1.05]
            .iter()
            .enumerate()
            .map(|(i, &f)| RoundFigures {
                round: i as u32 + 1,
                count: 1_000 / 3,
                errors: 0,
                avg_us: avg_us * f,
                p50_us: avg_us * 0.9 * f,
                p99_us: avg_us * 3.0 * f,
                ops_per_sec: ops_per_sec / f,
                wall_secs: 1_000.0 / 3.0 / ops_per_sec * f,
                // Six tenths of a core busy, whatever the round.
                cpu_secs: Some(0.6 * 1_000.0 / 3.0 / ops_per_sec * f),
                corrected: None,
            })
            .collect(),
        cpu: Some(CpuCost {
            cpu_secs: 0.6 * 1_000.0 / ops_per_sec,
            cpu_us_per_op: 0.6 * 1e6 / ops_per_sec,
            ops_per_cpu_sec: ops_per_sec / 0.6,
            utilisation: 0.6,
            peak_rss_bytes: Some(48 << 20),
            gc_secs: Some(0.01 * 1_000.0 / ops_per_sec),
        }),
        notes: Vec::new(),
        loop_starvation_us: None,
        competitor: None,
        open_loop: None,
        not_supported: None,
    }
}

/// Fills the floor, ratios and warnings of `report` the way a run does.
fn finish(mut report: RunReport) -> RunReport {
    report.floor = crate::analysis::compare::set_over_floor(&report.columns, &mut report.cells);
    let pairs = crate::analysis::compare::pairs(&report.columns, report.baseline.as_deref());
    report.ratios = crate::analysis::compare::ratios(
        &report.columns,
        &report.cells,
        &report.workload.operations,
        &pairs,
        report.min_effect,
    );
    report
}

/// A run of the seven default client columns and the floor, for layout width checks.
pub fn seven_column_report() -> RunReport {
    let mut report = sample_report();
    let kinds = crate::drivers::parse_columns(
        &crate::drivers::DEFAULT_CLIENTS.split(',').map(str::to_owned).collect::<Vec<_>>(),
    )
    .expect("default columns");
    report.columns = std::iter::once(column(FLOOR, "wire floor", "aerospike wire protocol", "0.1.0", "sync", 1))
        .chain(kinds.iter().map(|k| {
            let in_flight = if k.asynchronous { 50 } else { 1 };
            column(k.name, k.label, "client", "1.2.3", if k.asynchronous { "async" } else { "sync" }, in_flight)
        }))
        .collect();
    report.baseline = Some("official-c".into());
    report.cells.clear();
    for (i, c) in report.columns.clone().iter().enumerate() {
        for (j, op) in ["put", "get", "batch_get", "scan"].iter().enumerate() {
            let avg = 9.0 + (i * 37 + j * 11) as f64 * 13.7;
            report.cells.push(cell(&c.id, op, avg, 1e6 / avg * f64::from(c.in_flight) / 2.0));
        }
    }
    finish(report)
}

pub fn sample_report() -> RunReport {
    finish(sample_without_ratios())
}

fn sample_without_ratios() -> RunReport {
    let mut crate_column = column(CRATE, "Rust crate (50 in flight)", "aerospike", "3.0.0", "async", 50);
    crate_column.source = "crate".to_owned();
    crate_column.python_version = None;
    crate_column.python = None;
    crate_column.policies = BTreeMap::new();
    crate_column.error = Some("worker exited: connection refused".to_owned());

    let mut cells = Vec::new();
    for (op, floor) in [("put", 300.0), ("get", 190.0), ("batch_get", 40.0), ("scan", 11.0)] {
        cells.push(cell(FLOOR, op, floor, 1e6 / floor));
    }
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
            nodes: vec![],
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
            record: None,
            read_bins: None,
            warmup_ops: 100,
            scans: 5,
            rounds: 3,
            rounds_completed: 3,
            phase_duration_secs: None,
            histogram_unit: "ns".to_owned(),
            min_phase_calls: 0,
            min_phase_secs: 0.0,
            lengthen_cap_secs: 0.0,
            policies: "explicit".to_owned(),
            materialise: "records".to_owned(),
            shard: None,
            pacing: "closed".to_owned(),
            rate_per_column: None,
            keys: "sequential".to_owned(),
            seed: 1,
            key_space: 1_000,
            mix: None,
            stopping: None,
        },
        columns: vec![
            column(FLOOR, "wire floor", "aerospike wire protocol", "0.1.0", "sync", 1),
            column(RUST, "aerospike-py (Rust)", "aerospike-py", "0.5.0", "sync", 1),
            column(C, "official aerospike (C)", "aerospike", "15.0.0", "sync", 1),
            column(ASYNC, "aerospike-py async", "aerospike-py", "0.5.0", "async", 50),
            crate_column,
        ],
        cells,
        baseline: Some(C.to_owned()),
        floor: None,
        ratios: Vec::new(),
        warnings: vec!["the built-in in-memory server answers far faster than a real Aerospike server".to_owned()],
        interrupted: false,
        finished_at: None,
        merged_from: Vec::new(),
        incomplete: None,
        records_deleted: None,
        node_loss: None,
        node_spread: None,
        cluster: None,
        service: None,
        stages: None,
        profiles: None,
        min_effect: crate::model::results::DEFAULT_MIN_EFFECT,
        schedule: None,
    }
}

/// True when `text` contains an ANSI escape sequence.
pub fn has_ansi(text: &str) -> bool {
    text.contains('\u{1b}')
}

pub const APP_FLOOR: &str = "app-floor";
pub const SVC_ASYNC: &str = "svc-aerospike-py-async";
pub const SVC_C: &str = "svc-official-c";
pub const SVC_BROKEN: &str = "svc-aerospike-sdk";

/// Service timings from a median: p95 1.5x, p99 2x, max 4x, avg 1.1x.
fn service_timings(p50: f64) -> crate::model::service::Timings {
    crate::model::service::Timings { avg: p50 * 1.1, p50, p95: p50 * 1.5, p99: p50 * 2.0, max: p50 * 4.0 }
}

/// One service cell: `rps` requests/s, median `p50` µs, `cpu` µs of app CPU per request.
pub fn service_cell(column: &str, step: f64, rps: f64, p50: f64, cpu: f64) -> crate::model::service::ServiceCell {
    use crate::model::service::{ServiceCell, ServiceRound};
    let mut rec = Recorder::new();
    rec.record_ok(Duration::from_micros(p50 as u64));
    let floor = column == APP_FLOOR;
    ServiceCell {
        column: column.to_owned(),
        step,
        rounds: 3,
        requests: (rps * 30.0) as u64,
        errors: 0,
        errors_by_reason: BTreeMap::new(),
        error_samples: Vec::new(),
        requests_per_sec: rps,
        requests_per_sec_low: Some(rps * 0.97),
        requests_per_sec_high: Some(rps * 1.03),
        latency_us: service_timings(p50),
        handler_us: Some(service_timings(p50 * 0.8)),
        client_us: (!floor).then(|| service_timings(p50 * 0.5)),
        client_share: (!floor).then_some(0.625),
        loop_lag_us: Some(service_timings(p50 / 10.0)),
        cpu_us_per_request: Some(cpu),
        requests_per_core: Some(1e6 / cpu),
        requests_per_core_low: Some(1e6 / cpu * 0.95),
        requests_per_core_high: Some(1e6 / cpu * 1.05),
        cores_busy: Some(rps * cpu / 1e6),
        peak_rss_bytes: Some(96 << 20),
        over_floor_cpu_us: None,
        over_floor_p50_us: None,
        late: None,
        per_round: (1..=3)
            .map(|round| ServiceRound {
                round,
                requests: (rps * 10.0) as u64,
                errors: 0,
                secs: 10.0,
                requests_per_sec: rps * (0.97 + 0.015 * f64::from(round)),
                p99_us: p50 * 2.0,
                cpu_secs: Some(rps * 10.0 * cpu / 1e6),
                requests_per_core: Some(1e6 / cpu),
            })
            .collect(),
        histogram: encode_histogram(rec.histogram()),
    }
}

/// A service run of the sample report's machine and server: the app floor, aerospike-py async
/// and the official client via the executor at 10 and 50 virtual users (the official client's
/// app answering some requests with HTTP 500 at 50 and losing a worker), and an aerospike-sdk
/// app that never started (its stderr kept).
pub fn sample_service_report() -> RunReport {
    use crate::model::results::Verdict;
    use crate::model::service::{Saturation, ServiceColumn, ServiceMetric, ServiceRun, ServiceVerdict};
    let mut report = sample_report();
    report.columns = vec![
        column(SVC_ASYNC, "aerospike-py async", "aerospike-py", "0.5.0", "async", 1),
        column(SVC_C, "official aerospike (C)", "aerospike", "15.0.0", "sync", 1),
        column(APP_FLOOR, "app floor", "none", "", "async", 1),
        column(SVC_BROKEN, "aerospike-sdk", "aerospike-sdk", "0.9.0", "async", 1),
    ];
    report.cells = Vec::new();
    report.ratios = Vec::new();
    report.baseline = None;
    report.floor = None;
    let app = "uvicorn 0.38.0 (httptools, asyncio loop), 2 workers";
    let service_column = |id: &str, floor: bool, call: &str| ServiceColumn {
        id: id.to_owned(),
        floor,
        over_floor_of: (!floor).then(|| APP_FLOOR.to_owned()),
        app: app.to_owned(),
        call: call.to_owned(),
        error: None,
        stderr: None,
        lost_workers: Vec::new(),
    };
    let mut broken = service_column(SVC_BROKEN, false, "awaited");
    broken.error = Some("the app did not start within 30 s".to_owned());
    broken.stderr =
        Some("Traceback (most recent call last):\n  File \"app.py\", line 3\nImportError: no sdk".to_owned());
    let mut c = service_column(SVC_C, false, "run_in_executor");
    c.lost_workers.push("worker 4242 died".to_owned());

    let mut cells = Vec::new();
    for (step, floor, fast, slow) in [
        (10.0, (4_100.0, 2_400.0, 240.0), (2_300.0, 4_300.0, 410.0), (1_900.0, 5_200.0, 505.0)),
        (50.0, (4_600.0, 10_800.0, 215.0), (2_450.0, 20_400.0, 400.0), (1_950.0, 25_600.0, 500.0)),
    ] {
        cells.push(service_cell(APP_FLOOR, step, floor.0, floor.1, floor.2));
        for (id, (rps, p50, cpu)) in [(SVC_ASYNC, fast), (SVC_C, slow)] {
            let mut cell = service_cell(id, step, rps, p50, cpu);
            cell.over_floor_cpu_us = Some(cpu - floor.2);
            cell.over_floor_p50_us = Some(p50 - floor.1);
            cells.push(cell);
        }
    }
    let c50 = cells.iter_mut().find(|x| x.column == SVC_C && x.step == 50.0).expect("sample has C at 50");
    c50.errors = 7;
    c50.errors_by_reason = [("HTTP 500".to_owned(), 5), ("app worker died".to_owned(), 2)].into();
    c50.error_samples.push("ValueError: batch result has no records".to_owned());

    let verdict =
        |step: f64, column: &str, metric: ServiceMetric, speedup: f64, v: Verdict, text: &str| ServiceVerdict {
            step,
            column: column.to_owned(),
            baseline: SVC_C.to_owned(),
            metric,
            speedup: Some(speedup),
            low: Some(speedup * 0.9),
            high: Some(speedup * 1.1),
            per_round: vec![speedup; 3],
            verdict: v,
            text: text.to_owned(),
        };
    let verdicts = vec![
        verdict(10.0, SVC_ASYNC, ServiceMetric::RequestsPerCore, 1.23, Verdict::Faster, "1.23x more (1.11–1.35)"),
        verdict(10.0, SVC_ASYNC, ServiceMetric::P99Latency, 1.21, Verdict::Faster, "1.21x lower (1.09–1.33)"),
        verdict(50.0, SVC_ASYNC, ServiceMetric::RequestsPerCore, 1.25, Verdict::Faster, "1.25x more (1.12–1.38)"),
        verdict(50.0, SVC_ASYNC, ServiceMetric::P99Latency, 1.02, Verdict::NoClearDifference, "no clear difference"),
    ];
    report.service = Some(ServiceRun {
        scenario: "batch-count".to_owned(),
        description: "a batch of 100 keys → JSON count".to_owned(),
        gather: None,
        work: Some("matmul:64".to_owned()),
        app_workers: 2,
        load: "closed".to_owned(),
        steps: vec![10.0, 50.0],
        step_unit: "vus".to_owned(),
        open_connections: None,
        slice_secs: 10.0,
        warmup_secs: 2.0,
        rounds: 3,
        timeout_ms: 5_000,
        slo_p99_us: Some(50_000.0),
        load_generator: "aerobench (hyper), 2 threads".to_owned(),
        baseline: Some(SVC_C.to_owned()),
        columns: vec![service_column(SVC_ASYNC, false, "awaited"), c, service_column(APP_FLOOR, true, "none"), broken],
        cells,
        saturation: vec![
            Saturation {
                column: APP_FLOOR.to_owned(),
                step: None,
                requests_per_sec: 4_600.0,
                requests_per_core: Some(4_651.0),
                p99_us: 21_600.0,
                reason: "requests/s still rose 12% from 10 to 50 vus".to_owned(),
            },
            Saturation {
                column: SVC_ASYNC.to_owned(),
                step: Some(10.0),
                requests_per_sec: 2_300.0,
                requests_per_core: Some(2_439.0),
                p99_us: 8_600.0,
                reason: "requests/s rose 6% from 10 to 50 vus".to_owned(),
            },
            Saturation {
                column: SVC_C.to_owned(),
                step: Some(10.0),
                requests_per_sec: 1_900.0,
                requests_per_core: Some(1_980.0),
                p99_us: 10_400.0,
                reason: "requests/s rose 3% from 10 to 50 vus".to_owned(),
            },
        ],
        verdicts,
    });
    report
}

/// The sample report with a stage table of its first column (two stages), a comparison of two
/// builds (one stage only the second has) and a note.
pub fn sample_stages_report() -> RunReport {
    use crate::model::stages::{StageComparison, StageFigures, StagePair, StageRow, StageTable, StagesRun};
    let mut r = sample_report();
    let row = |stage: &str, p50: f64, share: f64| StageRow {
        stage: stage.into(),
        client_operation: "batch_read".into(),
        count: 1200,
        p50_secs: p50,
        p99_secs: p50 * 3.0,
        mean_secs: p50 * 1.1,
        share,
    };
    r.stages = Some(StagesRun {
        tables: vec![StageTable {
            column: r.columns[0].id.clone(),
            operation: "batch_get".into(),
            calls: 1200,
            call_secs_total: 1.2,
            ops_per_sec: 2000.0,
            measured_ops_per_sec: Some(3000.0),
            timers_speed_ratio: Some(2.0 / 3.0),
            bucket_bounds_secs: vec![0.001],
            stages: vec![row("io", 0.00042, 0.41), row("key_parse", 0.000031, 0.03)],
        }],
        comparisons: vec![StageComparison {
            operation: "batch_get".into(),
            base: r.columns[0].id.clone(),
            other: "gone".into(),
            stages: vec![
                StagePair {
                    stage: "io".into(),
                    base: Some(StageFigures { p50_secs: 0.0004, p99_secs: 0.001, share: 0.4 }),
                    other: Some(StageFigures { p50_secs: 0.0006, p99_secs: 0.002, share: 0.5 }),
                    p50_ratio: Some(1.5),
                },
                StagePair {
                    stage: "as_dict".into(),
                    base: None,
                    other: Some(StageFigures { p50_secs: 0.00001, p99_secs: 0.00002, share: 0.01 }),
                    p50_ratio: None,
                },
            ],
        }],
        notes: vec!["official aerospike (C): aerospike 19.3.0 has no internal stage timers".into()],
    });
    r
}
