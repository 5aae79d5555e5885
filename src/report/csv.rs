//! CSV output: one row per cell (column × operation) with its counts, throughput and latency
//! percentiles in microseconds, for spreadsheets and plotting scripts. RFC 4180 quoting.

use crate::model::results::RunReport;

use super::Exporter;

pub struct CsvExporter;

/// The header row, in column order.
pub const HEADER: [&str; 25] = [
    "column",
    "label",
    "client",
    "client_version",
    "mode",
    "in_flight",
    "operation",
    "count",
    "errors",
    "ops_per_sec",
    "records_per_sec",
    "wall_secs",
    "min_us",
    "avg_us",
    "p50_us",
    "p90_us",
    "p99_us",
    "p999_us",
    "max_us",
    "stdev_us",
    "over_floor_us",
    "cpu_us_per_op",
    "rounds",
    "over_floor_low_us",
    "over_floor_high_us",
];

/// A field quoted when it holds a comma, a quote or a line break.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

fn opt(x: Option<f64>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

impl Exporter for CsvExporter {
    fn render(&self, report: &RunReport) -> String {
        let mut out = HEADER.join(",") + "\n";
        for cell in &report.cells {
            let column = report.column(&cell.column);
            let l = &cell.latency_us;
            let row = [
                cell.column.clone(),
                column.map(|c| c.label.clone()).unwrap_or_default(),
                column.map(|c| c.client.clone()).unwrap_or_default(),
                column.map(|c| c.client_version.clone()).unwrap_or_default(),
                column.map(|c| c.mode.clone()).unwrap_or_default(),
                column.map(|c| c.in_flight.to_string()).unwrap_or_default(),
                cell.operation.clone(),
                cell.count.to_string(),
                cell.errors.to_string(),
                cell.ops_per_sec.to_string(),
                opt(cell.records_per_sec),
                cell.wall_secs.to_string(),
                l.min.to_string(),
                l.avg.to_string(),
                l.p50.to_string(),
                l.p90.to_string(),
                l.p99.to_string(),
                l.p999.to_string(),
                l.max.to_string(),
                l.stdev.to_string(),
                opt(cell.over_floor_us),
                opt(cell.cpu.map(|c| c.cpu_us_per_op)),
                cell.rounds.len().to_string(),
                opt(cell.over_floor_interval_us.map(|i| i[0])),
                opt(cell.over_floor_interval_us.map(|i| i[1])),
            ];
            out += &row.iter().map(|f| field(f)).collect::<Vec<_>>().join(",");
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_support::sample_report;

    #[test]
    fn one_row_per_cell_with_the_header() {
        let report = sample_report();
        let text = CsvExporter.render(&report);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1 + report.cells.len());
        assert_eq!(lines[0], HEADER.join(","));
        let cell = &report.cells[0];
        let row: Vec<&str> = lines[1].split(',').collect();
        assert_eq!(row.len(), HEADER.len(), "{}", lines[1]);
        assert_eq!(row[0], cell.column);
        assert_eq!(row[6], cell.operation);
        assert_eq!(row[7].parse::<u64>().unwrap(), cell.count);
        assert_eq!(row[16].parse::<f64>().unwrap(), cell.latency_us.p99);
    }

    #[test]
    fn fields_with_commas_or_quotes_are_quoted() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
