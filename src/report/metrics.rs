//! The seed layout's four tables (`--layout seed`), as text: which metric each table holds,
//! which number every (column, operation) cell shows, what a missing or failed cell shows, and
//! the seed's ratio columns with their meaning spelled out — latency ratios only between
//! columns with the same calls in flight, ops/s ratios otherwise, labelled so. Also the entry
//! types every table shares. Exporters only lay this out (terminal, markdown).

use crate::analysis::compare::SEED_PAIRS;
use crate::model::results::{Cell, RatioMetric, RunReport};

use super::entry::{ERROR, Entry, Kind, MISSING, NOT_SUPPORTED, ratio_entry};
use crate::analysis::numbers::{millis, per_sec, records_per_sec};

/// One of the four tables, in display order (see [`METRICS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    AvgLatency,
    Throughput,
    P50Latency,
    P99Latency,
}

/// The tables, in the order they are shown.
pub const METRICS: [Metric; 4] = [Metric::AvgLatency, Metric::Throughput, Metric::P50Latency, Metric::P99Latency];

impl Metric {
    pub fn title(self) -> &'static str {
        match self {
            Metric::AvgLatency => "Avg Latency (ms) — lower is better",
            Metric::Throughput => "Throughput (ops/sec) — higher is better",
            Metric::P50Latency => "p50 Latency (ms) — lower is better",
            Metric::P99Latency => "p99 Latency (ms) — lower is better",
        }
    }

    /// The ratio metric of this table.
    fn ratio_metric(self) -> RatioMetric {
        match self {
            Metric::AvgLatency => RatioMetric::AvgLatency,
            Metric::Throughput => RatioMetric::OpsPerSec,
            Metric::P50Latency => RatioMetric::P50Latency,
            Metric::P99Latency => RatioMetric::P99Latency,
        }
    }

    /// The number compared between columns (µs for latencies, ops/s for throughput).
    fn value(self, cell: &Cell) -> f64 {
        match self {
            Metric::AvgLatency => cell.latency_us.avg,
            Metric::Throughput => cell.ops_per_sec,
            Metric::P50Latency => cell.latency_us.p50,
            Metric::P99Latency => cell.latency_us.p99,
        }
    }

    /// The text of a measured cell: `0.312 ms`, `3,205/s` or `312/s (31,200 rec/s)`.
    fn text(self, cell: &Cell) -> String {
        match self {
            Metric::Throughput => match cell.records_per_sec {
                Some(records) => {
                    format!("{} ({})", per_sec(cell.ops_per_sec), records_per_sec(records))
                }
                None => per_sec(cell.ops_per_sec),
            },
            _ => millis(self.value(cell)),
        }
    }
}

/// One table: `header[0]` is `Operation`, then one header per column, then one per comparison;
/// every row has the same length as the header.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub metric: Metric,
    pub header: Vec<String>,
    pub rows: Vec<Vec<Entry>>,
}

/// What a (column, operation) pair has to show.
enum Outcome<'a> {
    Measured(&'a Cell),
    NotSupported,
    Failed,
    Missing,
}

fn outcome<'a>(report: &'a RunReport, column: &str, operation: &str) -> Outcome<'a> {
    let Some(col) = report.column(column) else {
        return Outcome::Missing;
    };
    if col.error.is_some() {
        return Outcome::Failed;
    }
    match report.cell(column, operation) {
        None => Outcome::Missing,
        Some(cell) if cell.not_supported.is_some() => Outcome::NotSupported,
        Some(cell) if cell.count == 0 => Outcome::Missing,
        // Every operation failed: there is no latency, and the rate is a rate of failures.
        Some(cell) if cell.errors >= cell.count => Outcome::Failed,
        Some(cell) => Outcome::Measured(cell),
    }
}

/// Builds the four tables of `report`, in display order.
pub fn grids(report: &RunReport) -> Vec<Grid> {
    METRICS.iter().map(|&metric| grid(report, metric)).collect()
}

/// The seed's ratio columns that ran: (column, baseline, header).
fn seed_comparisons(report: &RunReport) -> Vec<(&'static str, &'static str, &'static str)> {
    let labels = ["aerospike-py vs C", "aerospike-py async vs C", "Rust crate async vs sync"];
    SEED_PAIRS
        .iter()
        .zip(labels)
        .filter(|((c, b), _)| report.column(c).is_some() && report.column(b).is_some())
        .map(|(&(c, b), l)| (c, b, l))
        .collect()
}

/// The metric a seed ratio column compares in a table of `metric`: the table's own when both
/// columns have the same calls in flight, else ops/s.
fn compared_on(report: &RunReport, column: &str, baseline: &str, metric: Metric) -> RatioMetric {
    let in_flight = |id: &str| report.column(id).map(|c| c.in_flight);
    if in_flight(column) == in_flight(baseline) { metric.ratio_metric() } else { RatioMetric::OpsPerSec }
}

/// Builds the table of one metric.
pub fn grid(report: &RunReport, metric: Metric) -> Grid {
    let comparisons = seed_comparisons(report);
    let header = std::iter::once("Operation".to_owned())
        .chain(report.columns.iter().map(|c| c.label.clone()))
        .chain(comparisons.iter().map(|&(c, b, label)| {
            if compared_on(report, c, b, metric) == metric.ratio_metric() {
                label.to_owned()
            } else {
                format!("{label} (ops/s)")
            }
        }))
        .collect();

    let rows = report
        .workload
        .operations
        .iter()
        .map(|operation| {
            let mut row = vec![Entry::new(operation.clone(), Kind::Operation)];
            for column in &report.columns {
                row.push(match outcome(report, &column.id, operation) {
                    Outcome::Measured(cell) => Entry::new(metric.text(cell), Kind::Value),
                    Outcome::Failed => Entry::new(ERROR, Kind::Error),
                    Outcome::Missing => Entry::new(MISSING, Kind::Missing),
                    Outcome::NotSupported => Entry::new(NOT_SUPPORTED, Kind::Missing),
                });
            }
            for &(column, baseline, _) in &comparisons {
                let on = compared_on(report, column, baseline, metric);
                row.push(ratio_entry(report.ratio(operation, column, baseline, on)));
            }
            row
        })
        .collect();

    Grid { metric, header, rows }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_report;

    #[test]
    fn four_tables_in_order() {
        let grids = grids(&sample_report());
        let titles: Vec<&str> = grids.iter().map(|g| g.metric.title()).collect();
        assert_eq!(
            titles,
            [
                "Avg Latency (ms) — lower is better",
                "Throughput (ops/sec) — higher is better",
                "p50 Latency (ms) — lower is better",
                "p99 Latency (ms) — lower is better",
            ]
        );
    }

    #[test]
    fn seed_columns_say_what_they_compare() {
        let report = sample_report();
        let g = grid(&report, Metric::AvgLatency);
        let n = report.columns.len();
        assert_eq!(g.header[0], "Operation");
        assert_eq!(g.header[n + 1..], ["aerospike-py vs C", "aerospike-py async vs C (ops/s)"]);
        let t = grid(&report, Metric::Throughput);
        assert_eq!(t.header[n + 1..], ["aerospike-py vs C", "aerospike-py async vs C"]);
        let ops: Vec<&str> = g.rows.iter().map(|r| r[0].text.as_str()).collect();
        assert_eq!(ops, ["put", "get", "batch_get", "scan"]);
        assert!(g.rows.iter().all(|r| r.len() == g.header.len()));
        let put = &g.rows[0];
        assert!(put[n + 1].text.contains("faster ("), "{}", put[n + 1].text);
        assert_eq!(put[n + 1].kind, Kind::Faster);
        // The C column's get had failed calls: no ratio for it.
        assert!(g.rows[1][n + 1].text.contains("failed calls"), "{}", g.rows[1][n + 1].text);
    }

    #[test]
    fn values_and_failed_cells() {
        let report = sample_report();
        let g = grid(&report, Metric::Throughput);
        let label_index = |label: &str| g.header.iter().position(|h| h == label).unwrap();
        assert_eq!(g.rows[0][label_index("aerospike-py (Rust)")].text, "3,205/s");
        assert_eq!(g.rows[2][label_index("aerospike-py (Rust)")].text, "22,222/s (222,220 rec/s)");
        assert_eq!(g.rows[0][label_index("Rust crate (50 in flight)")].text, ERROR);
    }
}
