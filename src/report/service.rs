//! A service run's tables, as text (`--service`): per step, one table of requests and latency
//! (requests/s with its interval, p50/p95/p99/max of the end-to-end HTTP latency, errors, p99
//! against the baseline) and one of what each request cost the app (the client call's share of
//! the handler, CPU per request, requests per CPU-core, what the column costs over the app floor,
//! peak RSS, event-loop lag, requests per core against the baseline), the floor's row first; then
//! where each column saturated; and the header's words about the service. Exporters only lay this
//! out, as they do the calls' tables.

use crate::model::results::RunReport;
use crate::model::service::{ServiceCell, ServiceColumn, ServiceMetric, ServiceRun};

use super::by_operation::{OpTable, label};
use super::entry::{ERROR, Entry, Kind, MISSING, service_verdict_entry};
use super::line::Line;
use crate::analysis::numbers::{latency, signed_latency, thousands};

/// Shown in the verdict columns of the column every other is compared with.
pub const BASELINE: &str = "baseline";

/// The columns in table order: the app floors first, then the rest as the run listed them.
pub fn ordered(service: &ServiceRun) -> Vec<&ServiceColumn> {
    let (floors, rest): (Vec<_>, Vec<_>) = service.columns.iter().partition(|c| c.floor);
    floors.into_iter().chain(rest).collect()
}

/// Every table of a service run: per step requests and cost, then the saturation table.
pub fn tables(report: &RunReport, service: &ServiceRun) -> Vec<OpTable> {
    let mut out = Vec::new();
    for &step in &service.steps {
        out.push(requests_table(report, service, step));
        out.push(cost_table(report, service, step));
    }
    out.push(saturation_table(report, service));
    out
}

/// A non-negative amount as a whole number with thousands separators: `1234.4` → `1,234`.
fn count(x: f64) -> String {
    thousands(x.round().max(0.0) as u64)
}

/// `2,300/s (2,231–2,369)`, or without the interval when there is none.
fn with_interval(value: f64, low: Option<f64>, high: Option<f64>, unit: &str) -> String {
    match (low, high) {
        (Some(lo), Some(hi)) => format!("{}{unit} ({}–{})", count(value), count(lo), count(hi)),
        _ => format!("{}{unit}", count(value)),
    }
}

fn missing() -> Entry {
    Entry::new(MISSING, Kind::Missing)
}

fn value(text: impl Into<String>) -> Entry {
    Entry::new(text, Kind::Value)
}

fn or_missing<T>(x: Option<T>, show: impl FnOnce(T) -> String) -> Entry {
    x.map_or_else(missing, |v| value(show(v)))
}

/// The verdict of `column` on `metric` at `step`, `baseline` for the baseline itself.
fn verdict(service: &ServiceRun, step: f64, column: &str, metric: ServiceMetric) -> Entry {
    if service.baseline.as_deref() == Some(column) {
        return Entry::new(BASELINE, Kind::Missing);
    }
    service_verdict_entry(service.verdicts.iter().find(|v| v.step == step && v.column == column && v.metric == metric))
}

/// The row of a column without a cell at this step: `error` when its app failed, else `-`.
fn empty_row(report: &RunReport, column: &ServiceColumn, width: usize) -> Vec<Entry> {
    let mut row = vec![Entry::new(label(report, &column.id), Kind::Operation)];
    row.push(if column.error.is_some() { Entry::new(ERROR, Kind::Error) } else { missing() });
    row.extend((2..width).map(|_| missing()));
    row
}

fn rows(
    report: &RunReport,
    service: &ServiceRun,
    step: f64,
    width: usize,
    fill: impl Fn(&ServiceCell) -> Vec<Entry>,
) -> Vec<Vec<Entry>> {
    ordered(service)
        .into_iter()
        .map(|column| match service.cell(&column.id, step) {
            Some(cell) => {
                let mut row = vec![Entry::new(label(report, &column.id), Kind::Operation)];
                row.extend(fill(cell));
                row
            }
            None => empty_row(report, column, width),
        })
        .collect()
}

/// Requests/s, latency and errors of every column at `step`.
pub fn requests_table(report: &RunReport, service: &ServiceRun, step: f64) -> OpTable {
    let mut header: Vec<String> =
        ["Column", "req/s (95% CI)", "p50", "p95", "p99", "max", "errors"].map(str::to_owned).to_vec();
    let base = service.baseline.as_deref();
    if base.is_some() {
        header.push("p99 vs baseline".to_owned());
    }
    let width = header.len();
    let rows = rows(report, service, step, width, |cell| {
        let l = &cell.latency_us;
        let mut row = vec![
            value(with_interval(cell.requests_per_sec, cell.requests_per_sec_low, cell.requests_per_sec_high, "/s")),
            value(latency(l.p50)),
            value(latency(l.p95)),
            value(latency(l.p99)),
            value(latency(l.max)),
            if cell.errors > 0 { Entry::new(thousands(cell.errors), Kind::Error) } else { value("0") },
        ];
        if base.is_some() {
            row.push(verdict(service, step, &cell.column, ServiceMetric::P99Latency));
        }
        row
    });
    let rounds = service.cells.iter().filter(|c| c.step == step).map(|c| c.rounds).max().unwrap_or(0);
    let load = if service.load == "open" { "open loop" } else { "closed loop" };
    OpTable {
        operation: service.step_label(step),
        title: format!(
            "{} — requests and HTTP latency, {load}, {rounds} rounds × {} s per column",
            service.step_label(step),
            service.slice_secs
        ),
        header,
        rows,
    }
}

/// What a request cost each column's app at `step`.
pub fn cost_table(report: &RunReport, service: &ServiceRun, step: f64) -> OpTable {
    let mut header: Vec<String> =
        ["Column", "client share", "CPU/req", "req/core", "over floor (CPU/req, p50)", "peak RSS", "loop lag p99"]
            .map(str::to_owned)
            .to_vec();
    let base = service.baseline.as_deref();
    if base.is_some() {
        header.push("req/core vs baseline".to_owned());
    }
    let width = header.len();
    let rows = rows(report, service, step, width, |cell| {
        let floor = service.column(&cell.column).is_some_and(|c| c.floor);
        let over = match (cell.over_floor_cpu_us, cell.over_floor_p50_us) {
            (Some(cpu), Some(p50)) => value(format!("{}, {}", signed_latency(cpu), signed_latency(p50))),
            (Some(cpu), None) => value(signed_latency(cpu)),
            (None, Some(p50)) => value(format!("-, {}", signed_latency(p50))),
            (None, None) if floor => Entry::new("floor", Kind::Missing),
            (None, None) => missing(),
        };
        let mut row = vec![
            or_missing(cell.client_share, |s| format!("{:.0}%", s * 100.0)),
            or_missing(cell.cpu_us_per_request, latency),
            or_missing(cell.requests_per_core, |r| {
                with_interval(r, cell.requests_per_core_low, cell.requests_per_core_high, "")
            }),
            over,
            or_missing(cell.peak_rss_bytes, |b| format!("{:.0} MiB", b as f64 / (1u64 << 20) as f64)),
            or_missing(cell.loop_lag_us, |l| latency(l.p99)),
        ];
        if base.is_some() {
            row.push(verdict(service, step, &cell.column, ServiceMetric::RequestsPerCore));
        }
        row
    });
    OpTable {
        operation: service.step_label(step),
        title: format!("{} — what a request cost the app", service.step_label(step)),
        header,
        rows,
    }
}

/// Where every column stopped gaining.
pub fn saturation_table(report: &RunReport, service: &ServiceRun) -> OpTable {
    let header: Vec<String> =
        ["Column", "saturates at", "req/s", "req/core", "p99 there", "why"].map(str::to_owned).to_vec();
    let rows = ordered(service)
        .into_iter()
        .map(|column| {
            let name = Entry::new(label(report, &column.id), Kind::Operation);
            match service.saturation.iter().find(|s| s.column == column.id) {
                Some(s) => vec![
                    name,
                    match s.step {
                        Some(step) => value(service.step_label(step)),
                        None => Entry::new("not reached", Kind::Missing),
                    },
                    value(format!("{}/s", count(s.requests_per_sec))),
                    or_missing(s.requests_per_core, count),
                    value(latency(s.p99_us)),
                    value(s.reason.clone()),
                ],
                None => {
                    let mut row = empty_row(report, column, 6);
                    row[0] = name;
                    row
                }
            }
        })
        .collect();
    let slo = service.slo_p99_us.map_or(String::new(), |us| format!(" or p99 above {}", latency(us)));
    OpTable {
        operation: "saturation".to_owned(),
        title: format!("Saturation — the step where requests/s stopped rising{slo}"),
        header,
        rows,
    }
}

/// The title of a service run.
pub fn title(report: &RunReport, service: &ServiceRun) -> String {
    let steps: Vec<String> = service.steps.iter().map(|s| service.step_label(*s)).collect();
    format!(
        "aerobench service — {}, {} rounds per step at {}{}",
        service.scenario,
        service.rounds,
        steps.join(", "),
        if report.interrupted { " (interrupted)" } else { "" }
    )
}

/// The header's lines about the service: what was served, the load, and how to read the tables.
pub fn header_lines(report: &RunReport, service: &ServiceRun) -> Vec<Line> {
    let steps: Vec<String> = service.steps.iter().map(|s| service.step_label(*s)).collect();
    let mut what = format!("{} — {}", service.scenario, service.description);
    if let Some(g) = service.gather {
        what.push_str(&format!(", {g} batches gathered at once"));
    }
    if let Some(work) = &service.work {
        what.push_str(&format!(", then {work} of work per request"));
    }
    what.push_str(&format!(", {} app worker{}", service.app_workers, if service.app_workers == 1 { "" } else { "s" }));
    let load = if service.load == "open" {
        let conns = service.open_connections.map_or(String::new(), |c| format!(" over at most {c} connections"));
        format!(
            "open loop at {} (requests due at a fixed rate{conns}; latency from when each was due)",
            steps.join(", ")
        )
    } else {
        format!(
            "closed loop at {} (keep-alive connections, each sending its next request when answered)",
            steps.join(", ")
        )
    };
    let mut lines = vec![
        Line::new("Service", what),
        Line::new(
            "Load",
            format!(
                "{load}; by {}; per step {} s of warm-up per column, then {} rounds of {} s per column, \
                 interleaved; a request unanswered after {} ms is a timeout",
                service.load_generator,
                service.warmup_secs,
                service.rounds,
                service.slice_secs,
                thousands(service.timeout_ms)
            ),
        ),
    ];
    lines.push(Line::new("Apps", apps(report, service)));
    if service.columns.iter().any(|c| c.floor) {
        lines.push(Line::new(
            "Floor",
            "the app floor serves the same endpoint and work without any database call (its records \
             precomputed at startup); \"over floor\" is a column's CPU per request and p50 above it at the same step",
        ));
    }
    if let Some(b) = service.baseline.as_deref() {
        lines.push(Line::new(
            "Verdicts",
            format!(
                "each column's requests per CPU-core and p99 against {} (the baseline) at the same step: geometric mean and \
                 95% interval of the rounds' paired ratios; \"no clear difference\" when the interval spans 1",
                label(report, b)
            ),
        ));
    }
    lines.push(Line::new(
        "CPU",
        "CPU time (user + system) of each app's processes per successful request; req/core is requests \
         per CPU-second of the app; the load generator's own CPU is not counted",
    ));
    lines
}

/// The ASGI server of every column (once when they all ran the same), and how each handler
/// called its client.
fn apps(report: &RunReport, service: &ServiceRun) -> String {
    let columns = ordered(service);
    let call = |c: &ServiceColumn| if c.floor { "no database call (floor)".to_owned() } else { c.call.clone() };
    match columns.first() {
        Some(first) if columns.iter().all(|c| c.app == first.app) => {
            let calls: Vec<String> = columns.iter().map(|c| format!("{} {}", label(report, &c.id), call(c))).collect();
            format!("{} for every column; the handler calls the client: {}", first.app, calls.join(", "))
        }
        _ => columns
            .iter()
            .map(|c| format!("{}: {}, {}", label(report, &c.id), c.app, call(c)))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{APP_FLOOR, SVC_ASYNC, sample_service_report};

    fn texts(t: &OpTable) -> Vec<Vec<String>> {
        t.rows.iter().map(|r| r.iter().map(|e| e.text.clone()).collect()).collect()
    }

    #[test]
    fn two_tables_per_step_then_saturation_the_floor_first() {
        let report = sample_service_report();
        let service = report.service.as_ref().expect("a service run");
        let tables = tables(&report, service);
        assert_eq!(tables.len(), 2 * 2 + 1);
        for t in &tables {
            assert_eq!(t.rows[0][0].text, "app floor", "{}", t.title);
            assert!(t.rows.iter().all(|r| r.len() == t.header.len()), "{}", t.title);
        }
        assert_eq!(tables[0].title, "10 vus — requests and HTTP latency, closed loop, 3 rounds × 10 s per column");
        assert!(tables[2].title.starts_with("50 vus — "));
        assert_eq!(ordered(service)[0].id, APP_FLOOR);
        assert_eq!(ordered(service)[1].id, SVC_ASYNC);
    }

    #[test]
    fn requests_table_has_every_figure() {
        let report = sample_service_report();
        let service = report.service.as_ref().expect("a service run");
        let t = requests_table(&report, service, 50.0);
        assert_eq!(t.header.last().map(String::as_str), Some("p99 vs baseline"));
        let rows = texts(&t);
        // aerospike-py async at 50 vus: 2,450/s ±3%, p50 20.4 ms, p95 ×1.5, p99 ×2, max ×4.
        assert_eq!(
            rows[1],
            [
                "aerospike-py async",
                "2,450/s (2,377–2,524)",
                "20.4 ms",
                "30.6 ms",
                "40.8 ms",
                "81.6 ms",
                "0",
                "no clear difference"
            ]
        );
        assert_eq!(rows[2][6], "7");
        assert_eq!(rows[2][7], BASELINE);
        assert_eq!(rows[3], ["aerospike-sdk", "error", "-", "-", "-", "-", "-", "-"]);
    }

    #[test]
    fn cost_table_has_every_figure() {
        let report = sample_service_report();
        let service = report.service.as_ref().expect("a service run");
        let rows = texts(&cost_table(&report, service, 10.0));
        assert_eq!(rows[0][4], "floor");
        assert_eq!(rows[0][1], "-", "a floor makes no client call");
        assert_eq!(
            rows[1],
            [
                "aerospike-py async",
                "62%",
                "410.0 µs",
                "2,439 (2,317–2,561)",
                "+170.0 µs, +1.90 ms",
                "96 MiB",
                "860.0 µs",
                "1.23x more (1.11–1.35)"
            ]
        );
    }

    #[test]
    fn saturation_table_says_where_and_why() {
        let report = sample_service_report();
        let service = report.service.as_ref().expect("a service run");
        let t = saturation_table(&report, service);
        assert!(t.title.ends_with("or p99 above 50.0 ms"), "{}", t.title);
        let rows = texts(&t);
        assert_eq!(rows[0][1], "not reached");
        assert_eq!(
            rows[1],
            ["aerospike-py async", "10 vus", "2,300/s", "2,439", "8.60 ms", "requests/s rose 6% from 10 to 50 vus"]
        );
        assert_eq!(rows[3][1], "error");
    }

    #[test]
    fn header_says_what_was_served_and_how() {
        let report = sample_service_report();
        let service = report.service.as_ref().expect("a service run");
        assert_eq!(title(&report, service), "aerobench service — batch-count, 3 rounds per step at 10 vus, 50 vus");
        let lines = header_lines(&report, service);
        assert_eq!(
            lines[0].text,
            "batch-count — a batch of 100 keys → JSON count, then matmul:64 of work per request, 2 app workers"
        );
        assert!(lines[1].text.starts_with("closed loop at 10 vus, 50 vus"), "{}", lines[1].text);
        assert!(lines[1].text.contains("5,000 ms"));
        assert!(lines.iter().any(|l| l.label == "Verdicts" && l.text.contains("against official aerospike (C)")));
        assert_eq!(
            lines[2].text,
            "uvicorn 0.38.0 (httptools, asyncio loop), 2 workers for every column; the handler calls the client: \
             app floor no database call (floor), aerospike-py async awaited, official aerospike (C) run_in_executor, \
             aerospike-sdk awaited"
        );
        let mut mixed = report.clone();
        mixed.service.as_mut().expect("a service run").columns[0].app = "uvicorn 0.38.0, 1 worker".to_owned();
        let text = &header_lines(&mixed, mixed.service.as_ref().expect("a service run"))[2].text;
        assert!(text.contains("aerospike-py async: uvicorn 0.38.0, 1 worker, awaited; "), "{text}");
    }
}
