//! The four comparison tables every human-readable format shows, as text: which metric each
//! table holds, which number every (column, operation) cell shows, what a missing or failed
//! cell shows, and the ratio columns. Exporters only lay this out (terminal, markdown).

use crate::results::{Cell, RunReport};

use super::numbers::{millis, per_sec, records_per_sec};
use super::relative_speed::{Better, RelativeSpeed};

/// Shown for a cell whose column failed, or whose operations all failed.
pub const ERROR: &str = "error";
/// Shown where there is nothing to show (no cell, no comparison).
pub const MISSING: &str = "-";

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

    pub fn better(self) -> Better {
        match self {
            Metric::Throughput => Better::Higher,
            _ => Better::Lower,
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

/// What kind of text an entry holds, so exporters can align and colour it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The operation name in the first column.
    Operation,
    /// A measured number.
    Value,
    /// A column, or every operation of a cell, failed.
    Error,
    /// Nothing measured or nothing to compare.
    Missing,
    /// A ratio where the column beats its baseline.
    Faster,
    /// A ratio where the column loses to its baseline.
    Slower,
    /// A ratio within 1%.
    Same,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub text: String,
    pub kind: Kind,
}

impl Entry {
    fn new(text: impl Into<String>, kind: Kind) -> Self {
        Entry { text: text.into(), kind }
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

/// Builds the table of one metric.
pub fn grid(report: &RunReport, metric: Metric) -> Grid {
    let header = std::iter::once("Operation".to_owned())
        .chain(report.columns.iter().map(|c| c.label.clone()))
        .chain(report.comparisons.iter().map(|c| c.label.clone()))
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
                });
            }
            for comparison in &report.comparisons {
                let value = |id: &str| match outcome(report, id, operation) {
                    Outcome::Measured(cell) => Some(metric.value(cell)),
                    _ => None,
                };
                let speed =
                    RelativeSpeed::compare(value(&comparison.column), value(&comparison.baseline), metric.better());
                row.push(match speed {
                    Some(s @ RelativeSpeed::Faster(_)) => Entry::new(s.to_string(), Kind::Faster),
                    Some(s @ RelativeSpeed::Slower(_)) => Entry::new(s.to_string(), Kind::Slower),
                    Some(s @ RelativeSpeed::Same) => Entry::new(s.to_string(), Kind::Same),
                    None => Entry::new(MISSING, Kind::Missing),
                });
            }
            row
        })
        .collect();

    Grid { metric, header, rows }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_support::{C, RUST, sample_report};

    fn texts(row: &[Entry]) -> Vec<&str> {
        row.iter().map(|e| e.text.as_str()).collect()
    }

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
    fn header_and_rows_follow_columns_comparisons_and_operations() {
        let report = sample_report();
        let g = grid(&report, Metric::AvgLatency);
        assert_eq!(
            g.header,
            [
                "Operation",
                "aerospike-py (Rust)",
                "official aerospike (C)",
                "aerospike-py async",
                "Rust crate (50 in flight)",
                "Rust vs C",
                "Async vs C",
                "Crate vs C",
            ]
        );
        let ops: Vec<&str> = g.rows.iter().map(|r| r[0].text.as_str()).collect();
        assert_eq!(ops, ["put", "get", "batch_get", "scan"]);
        assert!(g.rows.iter().all(|r| r.len() == g.header.len()));
        assert_eq!(
            texts(&g.rows[0]),
            ["put", "0.312 ms", "0.587 ms", "0.041 ms", "error", "1.9x faster", "14.3x faster", "-"]
        );
    }

    #[test]
    fn throughput_cells_and_records() {
        let g = grid(&sample_report(), Metric::Throughput);
        assert_eq!(texts(&g.rows[0])[1..4], ["3,205/s", "1,703/s", "24,390/s"]);
        assert_eq!(g.rows[2][1].text, "22,222/s (222,220 rec/s)");
        assert_eq!(g.rows[3][3].text, "100,000/s (1,000,000 rec/s)");
        assert_eq!(g.rows[0][5].text, "1.9x faster");
        assert_eq!(g.rows[0][5].kind, Kind::Faster);
    }

    #[test]
    fn slower_and_failed_cells() {
        let mut report = sample_report();
        // Swap the comparison: C against Rust is slower.
        report.comparisons[0].column = C.to_owned();
        report.comparisons[0].baseline = RUST.to_owned();
        // Every get of the Rust column failed.
        let cell = report.cells.iter_mut().find(|c| c.column == RUST && c.operation == "get");
        let cell = cell.expect("sample cell");
        cell.errors = cell.count;
        // No batch_get for the Rust column.
        report.cells.retain(|c| !(c.column == RUST && c.operation == "batch_get"));

        let g = grid(&report, Metric::AvgLatency);
        assert_eq!(g.rows[0][5].text, "1.9x slower");
        assert_eq!(g.rows[0][5].kind, Kind::Slower);
        assert_eq!(g.rows[1][1].text, ERROR);
        assert_eq!(g.rows[1][1].kind, Kind::Error);
        assert_eq!(g.rows[1][5].text, MISSING);
        assert_eq!(g.rows[2][1].text, MISSING);
        assert_eq!(g.rows[2][1].kind, Kind::Missing);
    }
}
