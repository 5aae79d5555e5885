//! The default layout's tables, as text: one table per operation, a row per client with its
//! calls in flight, avg, p50 and p99 latency, latency above the `wire` floor (with its interval,
//! and "within noise" or "below floor" where it is not above it), ops/s, and its ops/s against
//! the baseline with the interval from the rounds; then, where CPU time was
//! measured, what each client's calls cost: CPU per call, cores busy, operations per
//! CPU-second against the baseline, garbage collection and memory, and, where they ran, how long
//! the event loop kept a yielding task waiting and how fast competing Python work went. In an
//! open loop (`--rate`) avg, p50 and p99 are measured from when each call was due, with the
//! service time's p50 and p99 beside them, how late calls started against when they were due
//! (p50 / p99 / max), and the rate each client made against the rate asked for; the verdicts
//! against the baseline then compare that latency (p50 and p99) instead of ops/s, which every
//! column that kept to the rate made alike. Exporters only lay this out.

use crate::model::results::{Cell, Column, RatioMetric, RunReport};

use super::entry::{ERROR, Entry, Kind, MISSING, NOT_SUPPORTED, ratio_entry};
use crate::analysis::numbers::{latency, signed_latency, thousands};

/// One operation's table.
#[derive(Debug, Clone, PartialEq)]
pub struct OpTable {
    pub operation: String,
    /// What each row measured, e.g. `get — 1,000 calls × 10 rounds per client`.
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<Entry>>,
}

/// Index of the first right-aligned column (everything after the client's name).
pub const FIRST_NUMBER: usize = 1;

/// The short name of a column in headers and sentences.
pub fn label(report: &RunReport, id: &str) -> String {
    report.column(id).map_or_else(|| id.to_owned(), |c| c.label.clone())
}

/// The tables of `report`, in operation order.
pub fn tables(report: &RunReport) -> Vec<OpTable> {
    report.workload.operations.iter().map(|op| table(report, op)).collect()
}

fn title(report: &RunReport, op: &str) -> String {
    let w = &report.workload;
    let (own, calls) = match op {
        "batch_get" | "batch_write" => {
            let batches = w.count.div_ceil(u64::from(w.batch_size.max(1)));
            (batches, format!("{} calls of {} keys", thousands(batches), w.batch_size))
        }
        "scan" => (w.scans, format!("{} scans of the {} records", thousands(w.scans), thousands(w.count))),
        _ => (w.count, format!("{} calls", thousands(w.count))),
    };
    // Phases too short to be throughput were lengthened, cycling over the records.
    let calls = if op != "delete" && own < w.min_phase_calls {
        format!(
            "{calls}, repeated to {} calls or {} ms",
            thousands(w.min_phase_calls),
            (w.min_phase_secs.max(w.lengthen_cap_secs) * 1e3).round()
        )
    } else {
        calls
    };
    let per_round = match w.phase_duration_secs {
        Some(secs) => format!("{secs} s of calls"),
        None => calls,
    };
    // In a read/update mix, gets and puts share one phase of calls.
    let per_round = match w.mix.as_deref().filter(|m| m.starts_with("read-update") && matches!(op, "get" | "put")) {
        Some(mix) => format!("the {} of {per_round} of {mix}", if op == "get" { "reads" } else { "updates" }),
        None => per_round,
    };
    let pacing = match w.rate_per_column {
        Some(rate) => format!(", open loop at {}/s", thousands(rate.round() as u64)),
        None => String::new(),
    };
    if w.until_settled() {
        // Each cell ran until its verdicts settled (its "rounds" column): from the fewest to the most.
        let ran: Vec<usize> = report.cells.iter().filter(|c| c.operation == op).map(|c| c.rounds.len()).collect();
        let (fewest, most) = (ran.iter().min().copied().unwrap_or(0), ran.iter().max().copied().unwrap_or(0));
        let rounds = if fewest == most { format!("{most}") } else { format!("{fewest}–{most}") };
        return format!("{op} — {per_round} × {rounds} rounds per client{pacing}");
    }
    format!("{op} — {per_round} × {} rounds per client{pacing}", w.rounds_completed.max(1))
}

/// True when the run paced its calls at a rate (`--rate`).
fn open(report: &RunReport) -> bool {
    report.workload.rate_per_column.is_some()
}

fn table(report: &RunReport, op: &str) -> OpTable {
    let floor = report.floor.as_deref();
    let baseline = report.baseline.as_deref();
    let mut header: Vec<String> = ["Client", "In flight", "avg", "p50", "p99"].map(str::to_owned).to_vec();
    if open(report) {
        header.extend(["svc p50", "svc p99", "start lag p50/p99/max"].map(str::to_owned));
    }
    if floor.is_some() {
        header.push("over floor".into());
    }
    header.push("ops/s".into());
    if let Some(b) = baseline {
        for metric in verdict_metrics(report) {
            header.push(format!("{} vs {}", metric_name(metric), label(report, b)));
        }
    }
    if report.workload.until_settled() {
        header.push("rounds".into());
    }
    let rows = report.columns.iter().map(|column| row(report, op, column, floor, baseline)).collect();
    OpTable { operation: op.to_owned(), title: title(report, op), header, rows }
}

fn row(report: &RunReport, op: &str, column: &Column, floor: Option<&str>, baseline: Option<&str>) -> Vec<Entry> {
    let mut row =
        vec![Entry::new(column.label.clone(), Kind::Operation), Entry::new(column.in_flight.to_string(), Kind::Value)];
    let cell = report.cell(&column.id, op).filter(|c| c.count > c.errors);
    let columns_after = 3
        + 3 * usize::from(open(report))
        + usize::from(floor.is_some())
        + 1
        + usize::from(baseline.is_some()) * verdict_metrics(report).len()
        + usize::from(report.workload.until_settled());
    let Some(cell) = cell else {
        let failed = column.error.is_some() || report.cell(&column.id, op).is_some_and(|c| c.errors > 0);
        let lacking = report.cell(&column.id, op).is_some_and(|c| c.not_supported.is_some());
        let first = if lacking {
            Entry::new(NOT_SUPPORTED, Kind::Missing)
        } else if failed {
            Entry::new(ERROR, Kind::Error)
        } else {
            Entry::new(MISSING, Kind::Missing)
        };
        row.push(first);
        row.extend((1..columns_after).map(|_| Entry::new(MISSING, Kind::Missing)));
        return row;
    };
    let p99 = |us: f64| {
        if successes(cell) < crate::analysis::compare::MIN_CALLS_FOR_P99 {
            Entry::new("n<100", Kind::Missing)
        } else {
            Entry::new(latency(us), Kind::Value)
        }
    };
    match (&cell.open_loop, open(report)) {
        (Some(o), true) => {
            let due = &o.corrected_latency_us;
            row.push(Entry::new(latency(due.avg), Kind::Value));
            row.push(Entry::new(latency(due.p50), Kind::Value));
            row.push(p99(due.p99));
        }
        _ => {
            row.push(Entry::new(latency(cell.latency_us.avg), Kind::Value));
            row.push(Entry::new(latency(cell.latency_us.p50), Kind::Value));
            row.push(p99(cell.latency_us.p99));
        }
    }
    if open(report) {
        row.push(Entry::new(latency(cell.latency_us.p50), Kind::Value));
        row.push(p99(cell.latency_us.p99));
        row.push(match &cell.open_loop {
            Some(o) => Entry::new(start_lag(&o.start_lag_us), Kind::Value),
            None => Entry::new(MISSING, Kind::Missing),
        });
    }
    if let Some(floor) = floor {
        row.push(match cell.over_floor_us {
            _ if column.id == floor => Entry::new("floor", Kind::Same),
            Some(us) => over_floor(us, cell.over_floor_interval_us),
            None => Entry::new(MISSING, Kind::Missing),
        });
    }
    let ops = thousands(cell.ops_per_sec.round().max(0.0) as u64);
    let ops = if cell.errors > 0 { format!("{ops} *") } else { ops };
    row.push(match &cell.open_loop {
        // A column that fell behind its rate says so where its rate is shown.
        Some(o) if !o.kept_up => Entry::new(format!("{ops} behind"), Kind::Error),
        _ => Entry::new(ops, Kind::Value),
    });
    if let Some(base) = baseline {
        for metric in verdict_metrics(report) {
            row.push(verdict(report, op, &column.id, base, metric));
        }
    }
    if report.workload.until_settled() {
        row.push(rounds(report, cell));
    }
    row
}

/// With `--stop settled`, the rounds a cell ran and whether its verdicts settled: `4, settled
/// 6.5s` (the run's measured rounds' time by then), or `12, open` when the budget or the cap
/// ended the rounds first.
fn rounds(report: &RunReport, cell: &Cell) -> Entry {
    let ran = cell.rounds.len();
    match report.workload.cell_stop(&cell.column, &cell.operation) {
        Some(s) if s.open_at_budget => Entry::new(format!("{ran}, open"), Kind::Value),
        Some(s) if s.settled_after_rounds.is_some() => match s.settled_after_secs {
            Some(secs) => Entry::new(format!("{ran}, settled {secs:.1}s"), Kind::Value),
            None => Entry::new(format!("{ran}, settled"), Kind::Value),
        },
        _ => Entry::new(ran.to_string(), Kind::Value),
    }
}

/// What the verdict columns compare: ops/s in a closed loop; in an open loop, where every column
/// that kept to the rate made the same ops/s, p50 and p99 latency from when calls were due.
fn verdict_metrics(report: &RunReport) -> Vec<RatioMetric> {
    if open(report) {
        vec![RatioMetric::CorrectedP50Latency, RatioMetric::CorrectedP99Latency]
    } else {
        vec![RatioMetric::OpsPerSec]
    }
}

fn metric_name(metric: RatioMetric) -> &'static str {
    match metric {
        RatioMetric::OpsPerSec => "ops/s",
        RatioMetric::OpsPerCpuSec => "ops/CPU-s",
        RatioMetric::AvgLatency => "avg",
        RatioMetric::P50Latency => "svc p50",
        RatioMetric::P99Latency => "svc p99",
        RatioMetric::CorrectedP50Latency => "p50",
        RatioMetric::CorrectedP99Latency => "p99",
    }
}

/// Latency above the floor with the half-width of its interval: `+12.0 µs ±0.70 µs`. Never a
/// bare negative figure: an interval that spans 0 reads `within noise (…)`, one wholly below 0
/// `below floor (…)`, and a single round's negative difference `below floor (…, 1 round)`.
pub fn over_floor(mean_us: f64, interval: Option<[f64; 2]>) -> Entry {
    match interval {
        Some([low, high]) => {
            let figure = format!("{} ±{}", signed_latency(mean_us), latency((high - low) / 2.0));
            if low > 0.0 {
                Entry::new(figure, Kind::Value)
            } else if high < 0.0 {
                Entry::new(format!("below floor ({figure})"), Kind::Same)
            } else {
                Entry::new(format!("within noise ({figure})"), Kind::Same)
            }
        }
        None if mean_us < 0.0 => Entry::new(format!("below floor ({}, 1 round)", signed_latency(mean_us)), Kind::Same),
        None => Entry::new(format!("{} (1 round)", signed_latency(mean_us)), Kind::Value),
    }
}

/// A cell's start lags, p50/p99/max, in the maximum's unit: `2/14/310 µs`, `0.0/0.2/41.5 ms`.
fn start_lag(lag: &crate::model::results::StartLagStats) -> String {
    let [p50, p99, max] = [lag.p50, lag.p99, lag.max].map(|us| if us.is_finite() { us.max(0.0) } else { 0.0 });
    if max < 999.5 {
        format!("{p50:.0}/{p99:.0}/{max:.0} µs")
    } else {
        format!("{:.1}/{:.1}/{:.1} ms", p50 / 1e3, p99 / 1e3, max / 1e3)
    }
}

/// The CPU cost table of `op`, when any column's CPU time was measured.
pub fn cost_table(report: &RunReport, op: &str) -> Option<OpTable> {
    let measured: Vec<(&Column, &Cell)> = report
        .columns
        .iter()
        .filter_map(|c| report.cell(&c.id, op).filter(|cell| cell.cpu.is_some()).map(|cell| (c, cell)))
        .collect();
    if measured.is_empty() {
        return None;
    }
    let baseline = report.baseline.as_deref();
    let mut header: Vec<String> =
        ["Client", "CPU/op", "cores busy", "ops/CPU-s", "in GC", "peak RSS"].map(str::to_owned).to_vec();
    let loop_waits = measured.iter().any(|(_, cell)| cell.loop_starvation_us.is_some());
    let competing = measured.iter().any(|(_, cell)| cell.competitor.is_some());
    if loop_waits {
        header.push("loop wait p99".to_owned());
    }
    if competing {
        header.push("competing work".to_owned());
    }
    if let Some(b) = baseline {
        header.push(format!("ops/CPU-s vs {}", label(report, b)));
    }
    let rows = measured
        .iter()
        .map(|(column, cell)| {
            let cpu = cell.cpu.unwrap_or_default();
            let mut row = vec![
                Entry::new(column.label.clone(), Kind::Operation),
                Entry::new(latency(cpu.cpu_us_per_op), Kind::Value),
                Entry::new(format!("{:.2}", cpu.utilisation), Kind::Value),
                Entry::new(thousands(cpu.ops_per_cpu_sec.round().max(0.0) as u64), Kind::Value),
                match cpu.gc_secs {
                    Some(gc) if cpu.cpu_secs > 0.0 => {
                        Entry::new(format!("{:.1}%", 100.0 * gc / cpu.cpu_secs), Kind::Value)
                    }
                    _ => Entry::new(MISSING, Kind::Missing),
                },
                match cpu.peak_rss_bytes {
                    Some(bytes) => Entry::new(format!("{:.0} MiB", bytes as f64 / (1u64 << 20) as f64), Kind::Value),
                    None => Entry::new("shared", Kind::Missing),
                },
            ];
            if loop_waits {
                row.push(loop_wait(cell));
            }
            if competing {
                row.push(match cell.competitor {
                    Some(c) => Entry::new(format!("{:.0}% of solo", c.fraction * 100.0), Kind::Value),
                    None => Entry::new(MISSING, Kind::Missing),
                });
            }
            if let Some(base) = baseline {
                row.push(verdict(report, op, &column.id, base, RatioMetric::OpsPerCpuSec));
            }
            row
        })
        .collect();
    Some(OpTable { operation: op.to_owned(), title: format!("{op} — CPU cost"), header, rows })
}

/// Fewest event-loop samples whose 99th percentile is worth showing; below, the longest wait.
pub const MIN_LOOP_SAMPLES_FOR_P99: u64 = 100;

/// The p99 of the waits a yielding task had on the cell's event loop, or the longest wait when
/// there were too few samples for a p99 (the notes give every figure).
fn loop_wait(cell: &Cell) -> Entry {
    match cell.loop_starvation_us {
        Some(s) if s.samples >= MIN_LOOP_SAMPLES_FOR_P99 => Entry::new(latency(s.p99), Kind::Value),
        Some(s) => Entry::new(format!("max {}", latency(s.max)), Kind::Value),
        None => Entry::new(MISSING, Kind::Missing),
    }
}

/// The verdict of `column` against `base` on `metric`, or "baseline" on the baseline's own row.
fn verdict(report: &RunReport, op: &str, column: &str, base: &str, metric: RatioMetric) -> Entry {
    if column == base {
        return Entry::new("baseline", Kind::Same);
    }
    ratio_entry(report.ratio(op, column, base, metric))
}

fn successes(cell: &Cell) -> u64 {
    cell.count.saturating_sub(cell.errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{ASYNC, C, RUST, sample_report};

    fn texts(row: &[Entry]) -> Vec<&str> {
        row.iter().map(|e| e.text.as_str()).collect()
    }

    #[test]
    fn one_table_per_operation_with_a_row_per_client() {
        let report = sample_report();
        let t = tables(&report);
        assert_eq!(t.iter().map(|t| t.operation.as_str()).collect::<Vec<_>>(), ["put", "get", "batch_get", "scan"]);
        assert_eq!(t[0].title, "put — 1,000 calls × 3 rounds per client");
        assert_eq!(t[2].title, "batch_get — 100 calls of 10 keys × 3 rounds per client");
        let mut lengthened = sample_report();
        (lengthened.workload.min_phase_calls, lengthened.workload.min_phase_secs) = (200, 0.05);
        lengthened.workload.lengthen_cap_secs = 0.05;
        let t = tables(&lengthened);
        assert_eq!(
            t[2].title,
            "batch_get — 100 calls of 10 keys, repeated to 200 calls or 50 ms × 3 rounds per client"
        );
        assert!(!t[0].title.contains("repeated"), "{}", t[0].title);
        assert_eq!(
            t[0].header,
            ["Client", "In flight", "avg", "p50", "p99", "over floor", "ops/s", "ops/s vs official aerospike (C)"]
        );
        assert_eq!(t[0].rows.len(), report.columns.len());
        assert!(t.iter().all(|t| t.rows.iter().all(|r| r.len() == t.header.len())));
    }

    #[test]
    fn rows_show_latency_floor_throughput_and_verdict() {
        let report = sample_report();
        let put = &tables(&report)[0];
        let find = |id: &str| {
            let label = report.column(id).unwrap().label.clone();
            put.rows.iter().find(|r| r[0].text == label).unwrap().clone()
        };
        let rust = find(RUST);
        assert_eq!(
            texts(&rust)[..7],
            ["aerospike-py (Rust)", "1", "312.0 µs", "280.8 µs", "936.0 µs", "+12.0 µs ±1.49 µs", "3,205"]
        );
        assert!(rust[7].text.starts_with("1.88x faster ("), "{}", rust[7].text);
        assert_eq!(rust[7].kind, Kind::Faster);
        assert_eq!(find(C)[7].text, "baseline");
        let asy = find(ASYNC);
        assert_eq!(asy[5].text, MISSING, "no floor comparison at 50 in flight");
        assert!(asy[7].text.contains("faster"), "{}", asy[7].text);
        let failed = put.rows.iter().find(|r| r[0].text.starts_with("Rust crate")).unwrap();
        assert_eq!(failed[2].text, ERROR);
    }

    #[test]
    fn the_cost_table_shows_loop_waits_and_competing_work_only_where_measured() {
        let mut report = sample_report();
        let plain = cost_table(&report, "get").unwrap();
        assert!(!plain.header.iter().any(|h| h == "loop wait p99" || h == "competing work"), "{:?}", plain.header);

        let gaps = |samples, p99, max| crate::model::results::LoopGapStats { p50: 40.0, p99, max, samples };
        for cell in report.cells.iter_mut().filter(|c| c.operation == "get") {
            if cell.column == ASYNC {
                cell.loop_starvation_us = Some(gaps(500, 5_200.0, 9_000.0));
                cell.competitor = Some(crate::model::results::CompetitorFigures {
                    solo_per_sec: 100.0,
                    loaded_per_sec: 41.0,
                    fraction: 0.41,
                    cpu_secs: 1.0,
                });
            } else if cell.column == RUST {
                cell.loop_starvation_us = Some(gaps(12, 700.0, 700.0));
            }
        }
        let t = cost_table(&report, "get").unwrap();
        let at = |name: &str| t.header.iter().position(|h| h == name).unwrap();
        let (wait, work) = (at("loop wait p99"), at("competing work"));
        assert!(wait < work && work < t.header.len() - 1, "the verdict stays last: {:?}", t.header);
        let row = |id: &str| {
            let label = report.column(id).unwrap().label.clone();
            t.rows.iter().find(|r| r[0].text == label).unwrap().clone()
        };
        assert_eq!(row(ASYNC)[wait].text, "5.20 ms");
        assert_eq!(row(ASYNC)[work].text, "41% of solo");
        assert_eq!(row(RUST)[wait].text, "max 700.0 µs", "too few samples for a p99");
        assert_eq!((row(C)[wait].kind, row(C)[work].kind), (Kind::Missing, Kind::Missing));
        assert!(t.rows.iter().all(|r| r.len() == t.header.len()));
    }

    #[test]
    fn an_open_loop_shows_latency_from_due_time_with_service_time_beside_it() {
        let mut report = sample_report();
        report.workload.rate_per_column = Some(5000.0);
        let due = crate::model::results::LatencyStats { avg: 900.0, p50: 500.0, p99: 40_000.0, ..Default::default() };
        let cell = report.cells.iter_mut().find(|c| c.column == RUST && c.operation == "put").unwrap();
        cell.open_loop = Some(crate::model::results::OpenLoopFigures {
            target_ops_per_sec: 5000.0,
            achieved_ops_per_sec: 3205.0,
            corrected_latency_us: due,
            corrected_histogram: String::new(),
            late_calls: 10,
            max_start_lag_us: 1e5,
            kept_up: false,
            start_lag_us: crate::model::results::StartLagStats { p50: 3.2, p99: 41.0, max: 1e5 },
            ..Default::default()
        });
        let put = &tables(&report)[0];
        assert!(put.title.ends_with("per client, open loop at 5,000/s"), "{}", put.title);
        assert_eq!(put.header[2..8], ["avg", "p50", "p99", "svc p50", "svc p99", "start lag p50/p99/max"]);
        let label = report.column(RUST).unwrap().label.clone();
        let row = put.rows.iter().find(|r| r[0].text == label).unwrap();
        assert_eq!(
            texts(row)[2..9],
            ["900.0 µs", "500.0 µs", "40.0 ms", "280.8 µs", "936.0 µs", "0.0/0.0/100.0 ms", "+12.0 µs ±1.49 µs"]
        );
        assert_eq!((row[9].text.as_str(), row[9].kind), ("3,205 behind", Kind::Error));
        let other = put.rows.iter().find(|r| r[0].text != label).unwrap();
        assert_eq!(other[7].kind, Kind::Missing, "a cell without open-loop figures has no start lag");
        let quiet = crate::model::results::StartLagStats { p50: 3.2, p99: 41.0, max: 310.0 };
        assert_eq!(start_lag(&quiet), "3/41/310 µs");
        assert!(put.rows.iter().all(|r| r.len() == put.header.len()));
        // The verdicts compare latency from when calls were due, not the ops/s every column
        // that kept to the rate made alike.
        assert_eq!(put.header[10..], ["p50 vs official aerospike (C)", "p99 vs official aerospike (C)"]);
    }

    #[test]
    fn latency_over_the_floor_is_never_a_bare_negative() {
        let e = over_floor(12.0, Some([10.5, 13.5]));
        assert_eq!((e.text.as_str(), e.kind), ("+12.0 µs ±1.50 µs", Kind::Value));
        assert_eq!(over_floor(-2.0, Some([-6.0, 2.0])).text, "within noise (−2.00 µs ±4.00 µs)");
        assert_eq!(over_floor(3.0, Some([-1.0, 7.0])).text, "within noise (+3.00 µs ±4.00 µs)");
        assert_eq!(over_floor(-12.7, Some([-15.0, -10.4])).text, "below floor (−12.7 µs ±2.30 µs)");
        assert_eq!(over_floor(-3.0, None).text, "below floor (−3.00 µs, 1 round)");
        assert_eq!(over_floor(3.0, None).text, "+3.00 µs (1 round)");
    }
}
