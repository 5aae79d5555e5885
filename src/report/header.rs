//! What was measured, written above the tables: the title, the server, the machine, the
//! workload, whether a competing thread ran, and one line per column (client version, mode, in flight, source, Python, policies).
//! Exporters decide the layout; this file decides the words.

use crate::model::results::{Column, RunReport};

pub use super::line::Line;
use crate::analysis::numbers::{gib, thousands};

/// Said of every run against the built-in server, so nobody mistakes its numbers for a real
/// Aerospike server's.
pub const BUILTIN_MARKER: &str = "(aerobench built-in in-memory server — not a real Aerospike server)";

/// `aerobench — 1,000 records, 10 rounds, 50 in flight for async columns`.
pub fn title(report: &RunReport) -> String {
    if let Some(service) = &report.service {
        return super::service::title(report, service);
    }
    let w = &report.workload;
    let rounds = if let Some(s) = w.stopping.as_ref().filter(|_| w.until_settled()) {
        settled_rounds(w.rounds_completed, w.rounds, s)
    } else if w.rounds_completed < w.rounds {
        format!("{} of {} rounds", w.rounds_completed, w.rounds)
    } else {
        format!("{} rounds", w.rounds)
    };
    format!(
        "aerobench — {} records, {rounds}, {} in flight for async columns{}",
        thousands(w.count),
        w.concurrency,
        if report.interrupted { " (interrupted)" } else { "" }
    )
}

/// The rounds of a `--stop settled` run and why they ended, short enough for the title:
/// `5 rounds until settled`, `12 rounds, 3 cells open at the 20 s budget`.
fn settled_rounds(ran: u32, cap: u32, s: &crate::model::results::Stopping) -> String {
    let open = s.cells.iter().filter(|c| c.open_at_budget).count();
    let open = if open == 1 { "1 cell open".to_string() } else { format!("{open} cells open") };
    let rounds = if ran == 1 { "1 round".to_string() } else { format!("{ran} rounds") };
    match s.ended.as_deref() {
        Some("settled") => format!("{rounds} until settled"),
        Some("budget") => format!("{rounds}, {open} at the {} s budget", s.budget_secs.unwrap_or_default()),
        Some("max_rounds") => format!("{rounds}, {open} at --rounds"),
        _ => format!("{ran} of at most {cap} rounds"),
    }
}

/// Server, machine, workload, run, clients and how to read the ratios.
pub fn run_lines(report: &RunReport) -> Vec<Line> {
    let mut lines = vec![
        Line::new("Server", server(report)),
        Line::new("Machine", machine(report)),
        Line::new("Workload", workload(report)),
        Line::new("Run", format!("started {}, aerobench {}", report.started_at, report.aerobench_version)),
        Line::new("Clients", clients(report)),
    ];
    lines.extend(super::builds::local_build_lines(report));
    lines.extend(super::builds::verdict_lines(report));
    if let Some(merged) = merged(report) {
        lines.insert(4, Line::new("Merged", merged));
    }
    if let Some(service) = &report.service {
        // The calls' ratios, CPU, floor and pacing lines describe cells a service run has not.
        lines.extend(super::service::header_lines(report, service));
        return lines;
    }
    if let Some(s) = report.workload.shard {
        lines.insert(
            3,
            Line::new("Shard", format!("{}/{}: keys {}{}-…", s.index, s.count, report.workload.key_prefix, s.index)),
        );
    }
    if let Some(base) = report.baseline.as_deref().and_then(|b| report.column(b)) {
        let what = if report.workload.rate_per_column.is_some() {
            "p50 and p99 latency from when calls were due"
        } else {
            "ops/s"
        };
        let within = if report.min_effect > 0.0 {
            format!(
                "\"within {}\" when it lies within the minimum effect (--min-effect), ",
                crate::analysis::compare::wording::percent(report.min_effect)
            )
        } else {
            String::new()
        };
        let text = if report.workload.until_settled() {
            format!(
                "each client's {what} against {} in the rounds both ran: geometric mean and 95% confidence \
                 sequence (valid however the rounds stopped, docs/verdicts.md), the rounds going on until each \
                 lay beyond the minimum effect on one side or wholly within it, or the budget ran out; \
                 {within}\"no clear difference\" when it spans 1",
                base.label
            )
        } else {
            format!(
                "each client's {what} against {} in the same rounds: geometric mean and 95% interval over {} \
                 rounds; {within}\"no clear difference\" when the interval spans 1",
                base.label, report.workload.rounds_completed
            )
        };
        lines.push(Line::new("Ratios", text));
    }
    if report.cells.iter().any(|c| c.cpu.is_some()) {
        lines.push(Line::new(
            "CPU",
            "CPU time (user + system, all threads) of the process making the calls: each Python column \
             runs alone in its worker; the Rust columns share aerobench's own process",
        ));
    }
    if let Some(floor) = report.floor.as_deref().and_then(|f| report.column(f)) {
        lines.push(Line::new(
            "Floor",
            format!(
                "{}: pre-encoded requests on a raw socket, one in flight; \"over floor\" is a client's avg \
                 latency above it, round by round, with its 95% interval (clients with one call in flight)",
                floor.label
            ),
        ));
    }
    if let Some(line) = pacing(report) {
        lines.push(line);
    }
    if report.cells.iter().any(|c| c.competitor.is_some()) {
        lines.push(Line::new(
            "Competitor",
            "a pure-Python busy thread ran in each Python worker during the measured phases              (--cpu-competitor), so those columns' figures are under load; the notes say how fast it ran",
        ));
    }
    lines
}

/// How calls were paced and which records they used, when not the defaults (closed loop, keys
/// in order over every record).
fn pacing(report: &RunReport) -> Option<Line> {
    let w = &report.workload;
    let mut parts = Vec::new();
    if let Some(rate) = w.rate_per_column {
        parts.push(format!(
            "open loop at {}/s per client (--rate): in the per-client tables avg, p50 and p99 from when \
             each call was due, svc p50 and svc p99 service time from when it started; ops/s marked \
             \"behind\" where a client could not keep up",
            thousands(rate.round() as u64)
        ));
    }
    if w.keys != "sequential" || (w.key_space > 0 && w.key_space < w.count) {
        parts.push(format!(
            "put and get keys {} over {} records, seed {}",
            w.keys,
            thousands(if w.key_space > 0 { w.key_space } else { w.count }),
            w.seed
        ));
    }
    (!parts.is_empty()).then(|| Line::new("Load", parts.join("; ")))
}

/// `Rust crate 3.0.0, aerospike-py (Rust) 0.14.4, …` — versions only; `--verbose` has the rest.
/// What a merged report combines (`aerobench merge`).
fn merged(report: &RunReport) -> Option<String> {
    let runs = &report.merged_from;
    if runs.is_empty() {
        return None;
    }
    let shards: Vec<String> = runs.iter().filter_map(|r| r.shard.map(|s| format!("{}/{}", s.index, s.count))).collect();
    Some(format!(
        "{} runs{} taken as one load made at once: calls, histograms and throughput summed; every percentile from the summed \
         histograms",
        runs.len(),
        if shards.is_empty() { String::new() } else { format!(" (shards {})", shards.join(", ")) }
    ))
}

fn clients(report: &RunReport) -> String {
    let names: Vec<String> = report
        .columns
        .iter()
        .map(|c| {
            let version = if c.client_version.is_empty() { "unknown" } else { &c.client_version };
            // Columns of several versions carry theirs in the label already.
            if c.label.ends_with(version) { c.label.clone() } else { format!("{} {version}", c.label) }
        })
        .collect();
    format!("{} (--verbose for sources and policies)", names.join(", "))
}

/// One line per column, labelled with the column's header.
pub fn column_lines(report: &RunReport) -> Vec<Line> {
    report.columns.iter().map(|c| Line::new(c.label.clone(), column(c))).collect()
}

fn or_unknown(s: &str) -> &str {
    if s.trim().is_empty() { "unknown" } else { s }
}

fn server(report: &RunReport) -> String {
    let s = &report.server;
    let nodes = match s.nodes.len() {
        0 | 1 => String::new(),
        // The built-in server's node names are made up; a real cluster's say which nodes ran.
        n if s.builtin => format!(", {n} nodes"),
        n => format!(", {n} nodes ({})", s.nodes.join(", ")),
    };
    // A cluster that changed under the run says so after the nodes it started with.
    let nodes = format!("{nodes}{}", super::cluster_change::header_words(report));
    if s.builtin {
        // The edition is the built-in server's own name; the marker says it plainly.
        return format!("{} — build {}{nodes} {BUILTIN_MARKER}", s.address, or_unknown(&s.build));
    }
    format!("{} — {}, build {}{nodes}", s.address, or_unknown(&s.edition), or_unknown(&s.build))
}

fn machine(report: &RunReport) -> String {
    let m = &report.machine;
    let mut parts =
        vec![format!("{}/{}", m.os, m.arch), format!("{} CPU{}", m.cpus, if m.cpus == 1 { "" } else { "s" })];
    if let Some(model) = &m.cpu_model {
        parts.push(model.clone());
    }
    if let Some(bytes) = m.memory_bytes {
        parts.push(format!("{} memory", gib(bytes)));
    }
    if let Some(host) = &m.hostname {
        parts.push(format!("host {host}"));
    }
    parts.join(", ")
}

fn workload(report: &RunReport) -> String {
    let w = &report.workload;
    let mut bins = if w.bins.is_empty() { "none".to_owned() } else { w.bins.join(", ") };
    if let Some(r) = &w.record {
        // A spec record is named by its spec (long records would fill the screen bin by bin).
        let name = r.name.as_ref().map_or(String::new(), |n| format!("{n}: "));
        bins = format!("record {name}{}, {} bins", r.spec, r.bin_count);
    }
    if let Some(read) = &w.read_bins {
        bins.push_str(&format!("; reads ask for {} of them ({})", read.len(), read.join(", ")));
    }
    format!(
        "{}.{}, bins [{}], batch size {}{}{}; records written before measuring; {}",
        w.namespace,
        w.set,
        bins,
        w.batch_size,
        if report.service.is_some() { String::new() } else { format!(", warm-up {} calls", thousands(w.warmup_ops)) },
        // A service run's slices and warm-up are on its Load line.
        w.phase_duration_secs
            .filter(|_| report.service.is_none())
            .map_or(String::new(), |s| format!(", {s} s per phase")),
        if w.policies == "defaults" {
            "each client's default policies"
        } else {
            "the same explicit policies for every client"
        }
    ) + match w.materialise.as_str() {
        "none" => "; Python batch records not read (--materialise none)",
        "numpy" => {
            "; Python batch results as NumPy structured arrays of the int and float bins (--materialise numpy; how, per column: policies materialise)"
        }
        _ => "",
    }
}

fn column(c: &Column) -> String {
    let mut parts = vec![
        format!("{} {}", c.client, c.client_version),
        c.mode.clone(),
        format!("{} in flight", c.in_flight),
        format!("source {}", c.source),
    ];
    match (&c.python, &c.python_version) {
        (Some(p), _) => parts.push(interpreter(p)),
        (None, Some(python)) => parts.push(format!("Python {python}")),
        (None, None) => {}
    }
    if let Some(build) = &c.build {
        parts.push(format!("local build {}", super::builds::describe(build)));
    }
    if !c.policies.is_empty() {
        let policies: Vec<String> = c.policies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        parts.push(format!("policies {}", policies.join(" ")));
    }
    parts.join(", ")
}

/// `Python 3.14.0 free-threaded (GIL off) at /path/python3.14t`.
fn interpreter(p: &crate::model::results::PythonInterpreter) -> String {
    let build = if p.free_threaded { " free-threaded" } else { "" };
    let gil = if p.gil { "GIL on" } else { "GIL off" };
    format!("Python {}{build} ({gil}) at {}", p.version, p.path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_report;

    #[test]
    fn title_has_records_rounds_and_concurrency() {
        assert_eq!(title(&sample_report()), "aerobench — 1,000 records, 3 rounds, 50 in flight for async columns");
        let mut r = sample_report();
        r.workload.rounds_completed = 2;
        r.interrupted = true;
        assert_eq!(title(&r), "aerobench — 1,000 records, 2 of 3 rounds, 50 in flight for async columns (interrupted)");
    }

    #[test]
    fn a_settled_run_says_how_many_rounds_and_why_they_ended() {
        use crate::model::results::{CellStop, Stopping};
        let mut r = sample_report();
        r.workload.rounds = 30;
        r.workload.rounds_completed = 5;
        let open = |column: &str, open: bool| CellStop {
            column: column.into(),
            operation: "get".into(),
            settled_after_rounds: (!open).then_some(4),
            settled_after_secs: (!open).then_some(6.5),
            open_at_budget: open,
        };
        let stopping = |ended: &str, cells: Vec<CellStop>| Stopping {
            mode: "settled".into(),
            interval: "confidence-sequence".into(),
            method: None,
            prior_g: Some(20.0),
            first_look: Some(3),
            budget_secs: Some(20.0),
            spent_secs: Some(19.0),
            ended: Some(ended.into()),
            cells,
        };
        let rounds = |r: &RunReport| {
            title(r).split(", ").skip(1).take_while(|p| !p.contains("in flight")).collect::<Vec<_>>().join(", ")
        };
        r.workload.stopping = Some(stopping("settled", vec![open("a", false)]));
        assert_eq!(rounds(&r), "5 rounds until settled");
        r.workload.stopping = Some(stopping("budget", vec![open("a", true), open("b", true), open("c", false)]));
        assert_eq!(rounds(&r), "5 rounds, 2 cells open at the 20 s budget");
        r.workload.stopping = Some(stopping("max_rounds", vec![open("a", true)]));
        assert_eq!(rounds(&r), "5 rounds, 1 cell open at --rounds");
        r.workload.stopping = Some(stopping("stopped_early", Vec::new()));
        assert_eq!(rounds(&r), "5 of at most 30 rounds");
        let ratios = run_lines(&r).into_iter().find(|l| l.label == "Ratios").unwrap();
        assert!(ratios.text.contains("95% confidence sequence (valid however the rounds stopped"), "{}", ratios.text);
        // A fixed run reads as before.
        r.workload.stopping.as_mut().unwrap().mode = "fixed".into();
        assert_eq!(rounds(&r), "5 of 30 rounds");
    }

    #[test]
    fn builtin_server_is_marked() {
        let mut report = sample_report();
        let server = &run_lines(&report)[0];
        assert_eq!(server.label, "Server");
        assert!(server.text.contains("127.0.0.1:3000"));
        assert!(server.text.contains("8.1.0.0"));
        assert!(server.text.contains(BUILTIN_MARKER));

        report.server.nodes = vec!["BB9A".into(), "BB9B".into(), "BB9C".into()];
        assert!(run_lines(&report)[0].text.contains("build 8.1.0.0, 3 nodes (aerobench built-in"));
        report.server.builtin = false;
        let text = run_lines(&report)[0].text.clone();
        assert!(text.ends_with(", 3 nodes (BB9A, BB9B, BB9C)"), "{text}");
        report.server.nodes.clear();
        assert!(!run_lines(&report)[0].text.contains(BUILTIN_MARKER));
    }

    #[test]
    fn machine_workload_clients_and_ratios() {
        let lines = run_lines(&sample_report());
        assert_eq!(lines[1].text, "linux/x86_64, 2 CPUs, Test CPU @ 3.0GHz, 8.0 GiB memory");
        assert_eq!(
            lines[2].text,
            "test.bench, bins [i: int, s: string(32)], batch size 10, warm-up 100 calls; records written before \
             measuring; the same explicit policies for every client"
        );
        assert!(lines[4].text.starts_with("wire floor 0.1.0, aerospike-py (Rust) 0.5.0"), "{}", lines[4].text);
        let mut versioned = sample_report();
        versioned.columns[1].label = "aerospike-py (Rust) 0.5.0".into();
        assert!(run_lines(&versioned)[4].text.contains("aerospike-py (Rust) 0.5.0, "), "the version once");
        assert!(lines[5].text.contains("against official aerospike (C)") && lines[5].text.contains("3 rounds"));
        assert!(lines[5].text.starts_with("each client's ops/s") && lines[5].text.contains("\"within 3%\""));
        let mut open = sample_report();
        open.workload.rate_per_column = Some(1000.0);
        assert!(run_lines(&open)[5].text.starts_with("each client's p50 and p99 latency from when calls were due"));
        assert_eq!(lines[6].label, "CPU");
        assert_eq!(lines[7].label, "Floor");
        let mut arrays = sample_report();
        arrays.workload.materialise = "numpy".into();
        assert!(run_lines(&arrays)[2].text.ends_with("NumPy structured arrays of the int and float bins (--materialise numpy; how, per column: policies materialise)"));
    }

    #[test]
    fn a_record_spec_and_a_bin_subset_are_said() {
        let mut report = sample_report();
        report.workload.record = Some(crate::model::results::RecordShape {
            name: Some("feature-vector".into()),
            spec: "f=64*F".into(),
            bin_count: 64,
        });
        report.workload.read_bins = Some(vec!["f0".into(), "f1".into()]);
        let text = &run_lines(&report)[2].text;
        assert!(
            text.starts_with(
                "test.bench, bins [record feature-vector: f=64*F, 64 bins; reads ask for 2 of them (f0, f1)]"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_competitor_is_said_once_in_the_header() {
        let mut report = sample_report();
        assert!(run_lines(&report).iter().all(|l| l.label != "Competitor"));
        report.cells[1].competitor = Some(crate::model::results::CompetitorFigures {
            solo_per_sec: 10.0,
            loaded_per_sec: 4.1,
            fraction: 0.41,
            cpu_secs: 0.2,
        });
        let competitor: Vec<Line> = run_lines(&report).into_iter().filter(|l| l.label == "Competitor").collect();
        assert_eq!(competitor.len(), 1);
        assert!(competitor[0].text.contains("--cpu-competitor"));
    }

    #[test]
    fn shards_and_merged_runs_are_said() {
        let mut report = sample_report();
        report.workload.shard = Some(crate::model::results::Shard { index: 1, count: 2 });
        let text: Vec<String> = run_lines(&report).iter().map(|l| format!("{} {}", l.label, l.text)).collect();
        assert!(text.iter().any(|l| l == "Shard 1/2: keys aerobench-1-…"), "{text:?}");
        report.workload.shard = None;
        report.merged_from = (0..2)
            .map(|i| crate::model::results::MergedRun {
                file: format!("{i}.json"),
                started_at: report.started_at.clone(),
                finished_at: None,
                hostname: None,
                shard: Some(crate::model::results::Shard { index: i, count: 2 }),
            })
            .collect();
        let text: Vec<String> = run_lines(&report).iter().map(|l| format!("{} {}", l.label, l.text)).collect();
        assert!(text.iter().any(|l| l.starts_with("Merged 2 runs (shards 0/2, 1/2)")), "{text:?}");
    }

    #[test]
    fn one_line_per_column_in_verbose() {
        let report = sample_report();
        let lines = column_lines(&report);
        assert_eq!(lines.len(), report.columns.len());
        assert_eq!(lines[1].label, "aerospike-py (Rust)");
        assert_eq!(
            lines[1].text,
            "aerospike-py 0.5.0, sync, 1 in flight, source site-packages, Python 3.12.3 (GIL on) at /usr/bin/python3.12, \
             policies retries=0 timeout_ms=1000"
        );
    }
}
