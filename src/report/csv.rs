//! CSV output: one row per cell (column × operation) with its counts, throughput and latency
//! percentiles in microseconds, for spreadsheets and plotting scripts; a service run has its own
//! header and one row per column and step ([`SERVICE_HEADER`]). RFC 4180 quoting.

use crate::model::results::RunReport;
use crate::model::service::{ServiceRun, Timings};

use super::Exporter;

pub struct CsvExporter;

/// The header row, in column order.
pub const HEADER: [&str; 28] = [
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
    "settled_after_rounds",
    "settled_after_secs",
    "open_at_budget",
];

/// A field quoted when it holds a comma, a quote or a line break.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

fn opt(x: Option<f64>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

/// The header row of a service run: every figure of a cell (column × step), timings in µs;
/// `errors_by_reason` is `reason=n;reason=n`, an absent figure an empty field.
pub const SERVICE_HEADER: [&str; 47] = [
    "column",
    "label",
    "client",
    "client_version",
    "python",
    "floor",
    "step",
    "step_unit",
    "rounds",
    "requests",
    "errors",
    "errors_by_reason",
    "requests_per_sec",
    "requests_per_sec_low",
    "requests_per_sec_high",
    "avg_us",
    "p50_us",
    "p95_us",
    "p99_us",
    "max_us",
    "handler_avg_us",
    "handler_p50_us",
    "handler_p95_us",
    "handler_p99_us",
    "handler_max_us",
    "client_avg_us",
    "client_p50_us",
    "client_p95_us",
    "client_p99_us",
    "client_max_us",
    "client_share",
    "loop_lag_avg_us",
    "loop_lag_p50_us",
    "loop_lag_p95_us",
    "loop_lag_p99_us",
    "loop_lag_max_us",
    "cpu_us_per_request",
    "requests_per_core",
    "requests_per_core_low",
    "requests_per_core_high",
    "cores_busy",
    "peak_rss_bytes",
    "over_floor_cpu_us",
    "over_floor_p50_us",
    "late",
    "scenario",
    "load",
];

/// The five fields of timings: avg, p50, p95, p99, max (empty when absent).
fn timings(t: Option<&Timings>) -> [String; 5] {
    match t {
        Some(t) => [t.avg, t.p50, t.p95, t.p99, t.max].map(|x| x.to_string()),
        None => Default::default(),
    }
}

fn service_rows(report: &RunReport, service: &ServiceRun) -> String {
    let mut out = SERVICE_HEADER.join(",") + "\n";
    for cell in &service.cells {
        let column = report.column(&cell.column);
        let floor = service.column(&cell.column).is_some_and(|c| c.floor);
        let reasons: Vec<String> = cell.errors_by_reason.iter().map(|(r, n)| format!("{r}={n}")).collect();
        let mut row = vec![
            cell.column.clone(),
            column.map(|c| c.label.clone()).unwrap_or_default(),
            column.map(|c| c.client.clone()).unwrap_or_default(),
            column.map(|c| c.client_version.clone()).unwrap_or_default(),
            column.and_then(|c| c.python_version.clone()).unwrap_or_default(),
            floor.to_string(),
            cell.step.to_string(),
            service.step_unit.clone(),
            cell.rounds.to_string(),
            cell.requests.to_string(),
            cell.errors.to_string(),
            reasons.join(";"),
            cell.requests_per_sec.to_string(),
            opt(cell.requests_per_sec_low),
            opt(cell.requests_per_sec_high),
        ];
        row.extend(timings(Some(&cell.latency_us)));
        row.extend(timings(cell.handler_us.as_ref()));
        row.extend(timings(cell.client_us.as_ref()));
        row.push(opt(cell.client_share));
        row.extend(timings(cell.loop_lag_us.as_ref()));
        row.extend([
            opt(cell.cpu_us_per_request),
            opt(cell.requests_per_core),
            opt(cell.requests_per_core_low),
            opt(cell.requests_per_core_high),
            opt(cell.cores_busy),
            cell.peak_rss_bytes.map(|b| b.to_string()).unwrap_or_default(),
            opt(cell.over_floor_cpu_us),
            opt(cell.over_floor_p50_us),
            cell.late.map(|n| n.to_string()).unwrap_or_default(),
            service.scenario.clone(),
            service.load.clone(),
        ]);
        out += &row.iter().map(|f| field(f)).collect::<Vec<_>>().join(",");
        out.push('\n');
    }
    out
}

impl Exporter for CsvExporter {
    fn render(&self, report: &RunReport) -> String {
        if let Some(service) = &report.service {
            return service_rows(report, service);
        }
        let mut out = HEADER.join(",") + "\n";
        for cell in &report.cells {
            let column = report.column(&cell.column);
            let l = &cell.latency_us;
            let stop = report.workload.cell_stop(&cell.column, &cell.operation);
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
                // With --stop settled: when the cell's verdicts settled, or that one was open.
                stop.and_then(|s| s.settled_after_rounds).map(|n| n.to_string()).unwrap_or_default(),
                opt(stop.and_then(|s| s.settled_after_secs)),
                stop.map(|s| s.open_at_budget.to_string()).unwrap_or_default(),
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
    use crate::test_support::sample_report;

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
    fn a_service_run_has_one_row_per_column_and_step_with_every_figure() {
        let report = crate::test_support::sample_service_report();
        let service = report.service.as_ref().expect("a service run");
        let text = CsvExporter.render(&report);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1 + service.cells.len());
        // The header is an interface: scripts read these names.
        assert_eq!(
            lines[0],
            "column,label,client,client_version,python,floor,step,step_unit,rounds,requests,errors,\
             errors_by_reason,requests_per_sec,requests_per_sec_low,requests_per_sec_high,avg_us,p50_us,p95_us,\
             p99_us,max_us,handler_avg_us,handler_p50_us,handler_p95_us,handler_p99_us,handler_max_us,\
             client_avg_us,client_p50_us,client_p95_us,client_p99_us,client_max_us,client_share,\
             loop_lag_avg_us,loop_lag_p50_us,loop_lag_p95_us,loop_lag_p99_us,loop_lag_max_us,\
             cpu_us_per_request,requests_per_core,requests_per_core_low,requests_per_core_high,cores_busy,\
             peak_rss_bytes,over_floor_cpu_us,over_floor_p50_us,late,scenario,load"
        );
        let at = |name: &str| SERVICE_HEADER.iter().position(|h| *h == name).expect("a header field");
        let rows: Vec<Vec<&str>> = lines[1..].iter().map(|l| l.split(',').collect()).collect();
        assert!(rows.iter().all(|r| r.len() == SERVICE_HEADER.len()), "{text}");
        for (row, cell) in rows.iter().zip(&service.cells) {
            assert_eq!(row[at("column")], cell.column);
            assert_eq!(row[at("step")].parse::<f64>().unwrap(), cell.step);
            assert_eq!(row[at("requests")].parse::<u64>().unwrap(), cell.requests);
            assert_eq!(row[at("requests_per_sec")].parse::<f64>().unwrap(), cell.requests_per_sec);
            assert_eq!(row[at("p99_us")].parse::<f64>().unwrap(), cell.latency_us.p99);
            assert_eq!(row[at("max_us")].parse::<f64>().unwrap(), cell.latency_us.max);
            assert_eq!(row[at("handler_p50_us")].parse::<f64>().ok(), cell.handler_us.map(|t| t.p50));
            assert_eq!(row[at("client_p99_us")].parse::<f64>().ok(), cell.client_us.map(|t| t.p99));
            assert_eq!(row[at("loop_lag_p99_us")].parse::<f64>().ok(), cell.loop_lag_us.map(|t| t.p99));
            assert_eq!(row[at("cpu_us_per_request")].parse::<f64>().ok(), cell.cpu_us_per_request);
            assert_eq!(row[at("requests_per_core_high")].parse::<f64>().ok(), cell.requests_per_core_high);
            assert_eq!(row[at("peak_rss_bytes")].parse::<u64>().ok(), cell.peak_rss_bytes);
            assert_eq!(row[at("over_floor_p50_us")].parse::<f64>().ok(), cell.over_floor_p50_us);
            assert_eq!(row[at("floor")], if cell.column == crate::test_support::APP_FLOOR { "true" } else { "false" });
        }
        let errored = rows.iter().find(|r| r[at("errors")] != "0").expect("an errored cell");
        assert_eq!(errored[at("errors")], "7");
        assert_eq!(errored[at("errors_by_reason")], "HTTP 500=5;app worker died=2");
        assert_eq!(errored[at("step_unit")], "vus");
    }

    #[test]
    fn fields_with_commas_or_quotes_are_quoted() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
