//! `aerobench compare BASE.json NEW.json`: how every cell moved between two runs, with the
//! rounds' intervals (a change inside the noise is called so, never a regression), as a text or
//! markdown table (for a pull-request comment), and `--fail-if` thresholds that make the exit
//! code 3 when crossed, to gate CI on p99 or throughput.

pub mod change;
pub mod threshold;

use std::path::PathBuf;

use anyhow::Context as _;

use crate::report::numbers;
use crate::results::RunReport;
use change::{Change, Metric, Verdict};
use threshold::Threshold;

/// Exit code when a `--fail-if` threshold is crossed.
pub const EXIT_THRESHOLD_CROSSED: i32 = 3;

/// How the comparison is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompareFormat {
    /// Plain text table.
    Text,
    /// GitHub-flavoured markdown, for a pull-request comment.
    Markdown,
}

/// `aerobench compare` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct CompareArgs {
    /// The reference run (JSON report).
    #[arg(value_name = "BASE.json")]
    pub base: PathBuf,
    /// The run to judge against it.
    #[arg(value_name = "NEW.json")]
    pub new: PathBuf,
    /// Exit with code 3 when a cell's change crosses this, beyond the rounds' noise: METRIC>+N%
    /// or METRIC<-N% with METRIC one of ops/s, avg, p50, p99, e.g. 'p99>+10%', 'ops/s<-5%'.
    /// Repeat for several.
    #[arg(long, value_name = "CONDITION", value_parser = threshold::parse)]
    pub fail_if: Vec<Threshold>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: CompareFormat,
    /// Write the comparison to this file instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// One cell of both runs and how its figures moved.
#[derive(Debug, Clone)]
pub struct CellChanges {
    pub column: String,
    pub operation: String,
    pub changes: Vec<Change>,
    /// Failed calls in each run.
    pub errors: (u64, u64),
    /// Thresholds this cell crossed.
    pub crossed: Vec<Threshold>,
}

/// The whole comparison.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub cells: Vec<CellChanges>,
    /// Cells only one run has, and workload differences.
    pub remarks: Vec<String>,
}

impl Comparison {
    pub fn crossed(&self) -> bool {
        self.cells.iter().any(|c| !c.crossed.is_empty())
    }
}

pub fn run(args: CompareArgs) -> anyhow::Result<i32> {
    let base = crate::merge::read_report(&args.base)?;
    let new = crate::merge::read_report(&args.new)?;
    let comparison = compare(&base, &new, &args.fail_if);
    let text = match args.format {
        CompareFormat::Text => render_text(&comparison, &args.fail_if),
        CompareFormat::Markdown => render_markdown(&comparison, &args.fail_if),
    };
    match &args.output {
        Some(path) => std::fs::write(path, &text).with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            use std::io::Write as _;
            std::io::stdout().lock().write_all(text.as_bytes()).context("cannot write to stdout")?;
        }
    }
    Ok(if comparison.crossed() { EXIT_THRESHOLD_CROSSED } else { 0 })
}

/// Every cell both runs have, compared on every metric, and the thresholds each crosses.
pub fn compare(base: &RunReport, new: &RunReport, thresholds: &[Threshold]) -> Comparison {
    let mut remarks = Vec::new();
    let (wa, wb) =
        (crate::merge::comparable_workload(&base.workload), crate::merge::comparable_workload(&new.workload));
    for (field, a) in &wa {
        let b = wb.get(field).cloned().unwrap_or(serde_json::Value::Null);
        if *a != b {
            remarks.push(format!("workload.{field} differs: {a} in the base run, {b} in the new one"));
        }
    }
    let mut cells = Vec::new();
    for b in &base.cells {
        let Some(n) = new.cell(&b.column, &b.operation) else {
            remarks.push(format!("{} {}: only in the base run", b.column, b.operation));
            continue;
        };
        let changes: Vec<Change> = Metric::ALL.iter().map(|&m| change::change(m, b, n)).collect();
        let crossed =
            thresholds.iter().filter(|t| changes.iter().any(|c| t.crossed_by(c))).copied().collect::<Vec<_>>();
        cells.push(CellChanges {
            column: b.column.clone(),
            operation: b.operation.clone(),
            changes,
            errors: (b.errors, n.errors),
            crossed,
        });
    }
    for n in &new.cells {
        if base.cell(&n.column, &n.operation).is_none() {
            remarks.push(format!("{} {}: only in the new run", n.column, n.operation));
        }
    }
    Comparison { cells, remarks }
}

fn figure(metric: Metric, x: f64) -> String {
    match metric {
        Metric::OpsPerSec => numbers::per_sec(x),
        _ => numbers::latency(x),
    }
}

/// `+12.3% (+4.1% … +21.0%)`, with the verdict.
fn describe(c: &Change) -> String {
    let pct = |r: f64| format!("{:+.1}%", (r - 1.0) * 100.0);
    let Some(ratio) = c.ratio else { return "not comparable".to_string() };
    let interval = c.bounds.map_or(String::new(), |(lo, hi)| format!(" ({} … {})", pct(lo), pct(hi)));
    let verdict = match c.verdict() {
        Verdict::Better => "better",
        Verdict::Worse => "worse",
        Verdict::WithinNoise => "within noise",
        Verdict::NoInterval => "1 round: no interval",
        Verdict::NotComparable => "not comparable",
    };
    format!("{}{interval} {verdict}", pct(ratio))
}

fn rows(comparison: &Comparison) -> Vec<[String; 6]> {
    let mut out = Vec::new();
    for cell in &comparison.cells {
        for c in &cell.changes {
            let crossed: Vec<String> =
                cell.crossed.iter().filter(|t| t.metric == c.metric).map(|t| t.to_string()).collect();
            let mut status = if crossed.is_empty() { String::new() } else { format!("FAIL {}", crossed.join(", ")) };
            if c.metric == Metric::OpsPerSec && cell.errors.1 > cell.errors.0 {
                status = format!("{status} errors {} → {}", cell.errors.0, cell.errors.1).trim().to_string();
            }
            out.push([
                cell.column.clone(),
                cell.operation.clone(),
                c.metric.name().to_string(),
                format!("{} → {}", figure(c.metric, c.base), figure(c.metric, c.new)),
                describe(c),
                status,
            ]);
        }
    }
    out
}

const HEADERS: [&str; 6] = ["column", "operation", "metric", "base → new", "change (95% interval)", "threshold"];

fn summary(comparison: &Comparison, thresholds: &[Threshold]) -> String {
    let failed: usize = comparison.cells.iter().filter(|c| !c.crossed.is_empty()).count();
    if thresholds.is_empty() {
        "no --fail-if thresholds given".to_string()
    } else if failed == 0 {
        format!(
            "passed: no cell crossed {}",
            thresholds.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(" or ")
        )
    } else {
        format!("FAILED: {failed} cell{} crossed a threshold", if failed == 1 { "" } else { "s" })
    }
}

pub fn render_text(comparison: &Comparison, thresholds: &[Threshold]) -> String {
    let rows = rows(comparison);
    let mut widths = HEADERS.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        let parts: Vec<String> =
            cells.iter().zip(widths).map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count()))).collect();
        parts.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(&HEADERS.map(String::from));
    for row in &rows {
        out += &line(row);
    }
    for r in &comparison.remarks {
        out += &format!("note: {r}\n");
    }
    out + &summary(comparison, thresholds) + "\n"
}

pub fn render_markdown(comparison: &Comparison, thresholds: &[Threshold]) -> String {
    let mut out = String::from("### aerobench: changes against the base run\n\n");
    out += &format!("| {} |\n", HEADERS.join(" | "));
    out += &format!("|{}\n", "---|".repeat(HEADERS.len()));
    for row in rows(comparison) {
        let row = row.map(|c| if c.starts_with("FAIL") { format!("**{c}**") } else { c.replace('|', "\\|") });
        out += &format!("| {} |\n", row.join(" | "));
    }
    out += "\n";
    for r in &comparison.remarks {
        out += &format!("- {r}\n");
    }
    out + &format!("\n**{}**\n", summary(comparison, thresholds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_support::sample_report;

    /// The sample with every round's latency of `column`'s get scaled by `factor`.
    fn slower(factor: f64, column: &str) -> RunReport {
        let mut r = sample_report();
        let cell = r.cells.iter_mut().find(|c| c.column == column && c.operation == "get").unwrap();
        for round in &mut cell.rounds {
            round.p99_us *= factor;
            round.avg_us *= factor;
            round.p50_us *= factor;
        }
        cell.latency_us.p99 *= factor;
        r
    }

    #[test]
    fn a_planted_regression_crosses_its_threshold_and_nothing_else_does() {
        let base = sample_report();
        let column = base.cells.iter().find(|c| c.operation == "get" && c.rounds.len() >= 2).unwrap().column.clone();
        let t = [threshold::parse("p99>+10%").unwrap(), threshold::parse("ops/s<-5%").unwrap()];
        let same = compare(&base, &base, &t);
        assert!(!same.crossed());
        assert!(same.cells.iter().all(|c| c.changes.iter().all(|x| x.verdict() != Verdict::Worse)));
        let worse = compare(&base, &slower(1.5, &column), &t);
        assert!(worse.crossed());
        let failing: Vec<&CellChanges> = worse.cells.iter().filter(|c| !c.crossed.is_empty()).collect();
        assert_eq!(failing.len(), 1);
        assert_eq!((failing[0].column.as_str(), failing[0].operation.as_str()), (column.as_str(), "get"));
        assert_eq!(failing[0].crossed, vec![t[0]]);
        let text = render_text(&worse, &t);
        assert!(text.contains("FAIL p99>+10%") && text.contains("FAILED: 1 cell"), "{text}");
        let md = render_markdown(&worse, &t);
        assert!(md.contains("| column | operation |") && md.contains("**FAIL p99>+10%**"), "{md}");
        // A small rise stays under the limit.
        assert!(!compare(&base, &slower(1.05, &column), &t).crossed());
    }

    #[test]
    fn cells_on_one_side_and_workload_differences_are_remarked() {
        let base = sample_report();
        let mut new = sample_report();
        new.cells.pop();
        new.workload.count = 5;
        let c = compare(&base, &new, &[]);
        assert!(c.remarks.iter().any(|r| r.contains("only in the base run")), "{:?}", c.remarks);
        assert!(c.remarks.iter().any(|r| r.starts_with("workload.count differs")), "{:?}", c.remarks);
    }
}
