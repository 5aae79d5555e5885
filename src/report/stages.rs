//! The stage tables of `--stages`, as text for the table and markdown exporters: one table per
//! column and operation (each stage's count, p50, p99, mean and share of the call), one per pair
//! of builds of one client (the stages side by side, with the ratio of their p50), and the
//! section's lines: what the figures are and the notes of columns without timers.

use crate::model::results::RunReport;
use crate::model::stages::{StageComparison, StageFigures, StageTable};

use super::by_operation::{OpTable, label};
use super::entry::{Entry, Kind, MISSING};
use crate::analysis::numbers::{latency, per_sec, thousands};

/// The stage tables, in the order they ran, then the comparisons of builds.
pub fn tables(report: &RunReport) -> Vec<OpTable> {
    let Some(stages) = &report.stages else { return Vec::new() };
    let mut out: Vec<OpTable> = stages.tables.iter().map(|t| table(report, t)).collect();
    out.extend(stages.comparisons.iter().map(|c| comparison(report, c)));
    out
}

/// What the stage tables show, then the notes; empty without `--stages`.
pub fn lines(report: &RunReport) -> Vec<String> {
    let Some(stages) = &report.stages else { return Vec::new() };
    let mut out = vec![
        "Stages — the clients' own timers, one extra phase per column and operation (--stages)".to_string(),
        format!(
            "Not in any cell or verdict: the timers cost time. p50 and p99 are interpolated within the client's \
             histogram buckets{}, so they are only as fine as the bucket they fall in; the mean is exact. A stage's \
             share is its summed time over the summed time of the phase's calls as aerobench timed them: stages that \
             overlap (a wait for the event loop while another call's I/O runs) or run outside the timed call can add \
             up to more or less than 100%.",
            bounds(stages)
        ),
    ];
    out.extend(stages.tables.iter().map(|t| cost(report, t)));
    out.extend(stages.notes.iter().cloned());
    out
}

/// What the timers cost one column's operation: its extra phase's ops/s against its last
/// measured round's.
fn cost(report: &RunReport, t: &StageTable) -> String {
    let what = format!("{} {}: {} with the timers on", label(report, &t.column), t.operation, per_sec(t.ops_per_sec));
    match (t.measured_ops_per_sec, t.timers_speed_ratio) {
        (Some(measured), Some(ratio)) => {
            format!("{what}, {ratio:.2}x the {} of its last measured round", per_sec(measured))
        }
        _ => format!("{what} (no measured round to set it against, or paced by --rate)"),
    }
}

/// ` (bounds: 1.00 µs, 5.00 µs, …)`: the buckets of the first table, as the client exported them.
fn bounds(stages: &crate::model::stages::StagesRun) -> String {
    match stages.tables.first() {
        Some(t) if !t.bucket_bounds_secs.is_empty() => {
            format!(" (bounds: {})", t.bucket_bounds_secs.iter().map(|b| secs(*b)).collect::<Vec<_>>().join(", "))
        }
        _ => String::new(),
    }
}

fn value(text: String) -> Entry {
    Entry::new(text, Kind::Value)
}

fn secs(s: f64) -> String {
    latency(s * 1e6)
}

fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// One column's extra phase of one operation.
fn table(report: &RunReport, t: &StageTable) -> OpTable {
    let title = format!("{} stages — {}, {} calls", t.operation, label(report, &t.column), thousands(t.calls));
    let rows = t
        .stages
        .iter()
        .map(|r| {
            vec![
                Entry::new(r.stage.clone(), Kind::Operation),
                value(thousands(r.count)),
                value(secs(r.p50_secs)),
                value(secs(r.p99_secs)),
                value(secs(r.mean_secs)),
                value(percent(r.share)),
            ]
        })
        .collect();
    OpTable {
        operation: t.operation.clone(),
        title,
        header: ["Stage", "Count", "p50", "p99", "mean", "share of call"].map(String::from).to_vec(),
        rows,
    }
}

/// Two builds of one client, stage by stage.
fn comparison(report: &RunReport, c: &StageComparison) -> OpTable {
    let (base, other) = (label(report, &c.base), label(report, &c.other));
    let pick = |f: Option<&StageFigures>, get: fn(&StageFigures) -> String| match f {
        Some(f) => value(get(f)),
        None => Entry::new(MISSING, Kind::Missing),
    };
    let rows = c
        .stages
        .iter()
        .map(|p| {
            vec![
                Entry::new(p.stage.clone(), Kind::Operation),
                pick(p.base.as_ref(), |f| secs(f.p50_secs)),
                pick(p.other.as_ref(), |f| secs(f.p50_secs)),
                pick(p.base.as_ref(), |f| secs(f.p99_secs)),
                pick(p.other.as_ref(), |f| secs(f.p99_secs)),
                pick(p.base.as_ref(), |f| percent(f.share)),
                pick(p.other.as_ref(), |f| percent(f.share)),
                match p.p50_ratio {
                    Some(r) => value(format!("{r:.2}x")),
                    None => Entry::new(MISSING, Kind::Missing),
                },
            ]
        })
        .collect();
    let (a, b) = ("A", "B");
    OpTable {
        operation: c.operation.clone(),
        title: format!("{} stages — A: {base}, B: {other}", c.operation),
        header: vec![
            "Stage".into(),
            format!("p50 {a}"),
            format!("p50 {b}"),
            format!("p99 {a}"),
            format!("p99 {b}"),
            format!("share {a}"),
            format!("share {b}"),
            format!("p50 {b}/{a}"),
        ],
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> RunReport {
        crate::test_support::sample_stages_report()
    }

    #[test]
    fn a_table_per_column_and_operation_then_the_builds_compared() {
        let r = report();
        let t = tables(&r);
        assert_eq!(t.len(), 2);
        assert!(t[0].title.starts_with("batch_get stages — "), "{}", t[0].title);
        assert!(t[0].title.ends_with(", 1,200 calls"), "{}", t[0].title);
        let texts: Vec<&str> = t[0].rows[0].iter().map(|e| e.text.as_str()).collect();
        assert_eq!(texts, ["io", "1,200", "420.0 µs", "1.26 ms", "462.0 µs", "41.0%"]);
        assert_eq!(t[1].header.len(), 8);
        let texts: Vec<&str> = t[1].rows[0].iter().map(|e| e.text.as_str()).collect();
        assert_eq!(texts, ["io", "400.0 µs", "600.0 µs", "1.00 ms", "2.00 ms", "40.0%", "50.0%", "1.50x"]);
        assert_eq!(t[1].rows[1][1].kind, Kind::Missing);
        assert!(t[1].title.contains("B: gone"), "{}", t[1].title);
    }

    #[test]
    fn lines_say_what_the_figures_are_and_carry_the_notes() {
        let l = lines(&report());
        assert!(l[0].starts_with("Stages"));
        assert!(l[1].contains("interpolated") && l[1].contains("Not in any cell or verdict"));
        assert!(l[1].contains("(bounds: 1.00 ms)"), "{}", l[1]);
        assert!(l[2].contains("batch_get: 2,000/s with the timers on, 0.67x the 3,000/s of its last measured round"));
        assert!(l[3].contains("has no internal stage timers"));
        let mut r = report();
        r.stages = None;
        assert!(lines(&r).is_empty() && tables(&r).is_empty());
    }

    #[test]
    fn both_exporters_show_the_tables_after_the_runs_and_the_section_before_the_notes() {
        use crate::report::{Exporter as _, Layout, Style};
        let r = report();
        let table = crate::report::TableExporter {
            style: Style { color: false, width: 100, layout: Layout::Clients, verbose: false },
        }
        .render(&r);
        let markdown = crate::report::MarkdownExporter { layout: Layout::Clients, verbose: false }.render(&r);
        for (out, stage_table, section) in [
            (&table, "batch_get stages — ", "Stages — the clients' own timers"),
            (&markdown, "### batch_get stages — ", "### Stages — the clients' own timers"),
        ] {
            let at = |text: &str| out.find(text).unwrap_or_else(|| panic!("{text:?} missing from:\n{out}"));
            assert!(at("get — ") < at(stage_table), "{out}");
            assert!(at(stage_table) < at("batch_get stages — A: "), "{out}");
            assert!(at(section) < at("has no internal stage timers"), "{out}");
            assert!(out.contains("420.0 µs"), "{out}");
        }
        assert!(table.lines().all(|l| l.chars().count() <= 100), "{table}");
    }
}
