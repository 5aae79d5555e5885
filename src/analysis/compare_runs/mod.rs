//! `aerobench compare BASE.json NEW.json`: how every cell moved between two runs, with the
//! rounds' intervals (a change inside the noise is called so, never a regression), as a text or
//! markdown table (for a pull-request comment), and a gate for CI: the exit code is 3 when the
//! new run is broken or worse. Failed calls are a change in their own right, whatever the
//! latency did (a build that times out its slowest calls has a lower p99): a cell whose share of
//! failed calls rose, a round of a cell with no successful call, and a cell, round or column
//! missing from the new run all fail the gate on every comparison, unless loosened explicitly
//! (`--fail-if 'errors>1%'`, `--allow-missing`). `--fail-if` thresholds add limits on p99,
//! throughput or (open loop) latency from when calls were due. What the gate cannot judge fails
//! it too: a threshold on a cell without that figure (too few calls for a p99), and runs that
//! cannot be compared (`comparable`). Every cell, and the runs as a whole, say why they passed
//! or failed. Two service runs are compared column by column and step by step (`service`); a
//! run of calls and a service run are nothing comparable.

pub mod change;
pub mod comparable;
pub mod service;
pub mod threshold;

use std::path::PathBuf;

use anyhow::Context as _;

use crate::analysis::compare::{MIN_CALLS_FOR_P99, wording};
use crate::analysis::numbers;
use crate::model::results::{Cell, RunReport, SCHEMA_VERSION};
use change::{Change, Metric, Verdict};
use comparable::Difference;
use threshold::{Measure, Threshold};

/// Exit code when the gate fails: a threshold crossed, failed calls, something missing, or
/// something the gate cannot judge.
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
    /// or METRIC<-N% with METRIC one of ops/s, avg, p50, p99, corrected-p50, corrected-p99 (the
    /// last two: latency from when calls were due, for open-loop runs made with --rate), e.g.
    /// 'p99>+10%', 'ops/s<-5%'. 'errors>N%' tolerates a rise in the share of failed calls of up to
    /// N points (without it any rise fails). Repeat for several. Even with none given, a cell with
    /// more failed calls, a round with no successful call or a missing cell fails the gate. A
    /// threshold a cell cannot be judged on (under 100 calls: no p99) fails it too. Service runs
    /// (--service) take ops/s (their requests/s), p99 and requests/core; each of those worse
    /// beyond the noise and --min-effect fails them unless a threshold on it sets another limit.
    #[arg(long, value_name = "CONDITION", value_parser = threshold::parse)]
    pub fail_if: Vec<Threshold>,
    /// Let cells, rounds and columns that the base run has and the new one lacks (or whose every
    /// call in a round failed) pass the gate; they are still listed.
    #[arg(long)]
    pub allow_missing: bool,
    /// Let a cell with too few calls for a --fail-if metric (a p99 needs 100 calls in each run)
    /// pass that threshold unjudged instead of failing the gate; it is still listed.
    #[arg(long)]
    pub allow_few_calls: bool,
    /// Let a new run that is incomplete (the server died or stalled), was interrupted or completed
    /// fewer rounds than asked pass the gate; its cells and rounds are still judged.
    #[arg(long)]
    pub allow_incomplete: bool,
    /// Let runs that differ in this pass the gate: server (one against the built-in server, one
    /// against a real one), nodes (another node count), workload (operations, record, count,
    /// concurrency, pacing, keys...). Comma-separated or repeated; the difference is still listed.
    #[arg(long, value_enum, value_name = "WHAT", value_delimiter = ',')]
    pub allow_different: Vec<Difference>,
    /// Compare reports whose schema_version this aerobench does not know (written by another
    /// version) instead of failing the gate; their fields may mean something else.
    #[arg(long)]
    pub allow_unknown_schema: bool,
    /// Changes whose whole interval lies within this either way read "within 3%" rather than
    /// better or worse (0 turns it off). Thresholds are applied as given.
    #[arg(long, value_name = "PERCENT", default_value = "3%", value_parser = wording::parse_min_effect)]
    pub min_effect: f64,
    #[arg(long, value_enum, default_value = "text")]
    pub format: CompareFormat,
    /// Write the comparison to this file instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// What the runs measured: calls, or a service under HTTP load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Subject {
    #[default]
    Calls,
    Service,
}

impl Subject {
    pub fn of(report: &RunReport) -> Subject {
        if report.service.is_some() { Subject::Service } else { Subject::Calls }
    }

    /// What the cells count: `calls` or `requests`.
    pub fn noun(self) -> &'static str {
        match self {
            Subject::Calls => "calls",
            Subject::Service => "requests",
        }
    }

    /// What a cell is besides its column: an operation or a step.
    fn key(self) -> &'static str {
        match self {
            Subject::Calls => "operation",
            Subject::Service => "step",
        }
    }

    fn metric_name(self, metric: Metric) -> &'static str {
        match self {
            Subject::Calls => metric.name(),
            Subject::Service => metric.service_name(),
        }
    }
}

/// What the gate holds the new run to.
#[derive(Debug, Clone, Default)]
pub struct Gate {
    pub thresholds: Vec<Threshold>,
    pub allow_missing: bool,
    pub allow_few_calls: bool,
    pub allow_incomplete: bool,
    pub allow_different: Vec<Difference>,
    pub allow_unknown_schema: bool,
    /// A fraction: 0.03 is 3%.
    pub min_effect: f64,
}

impl Gate {
    /// True when `--allow-different` names this difference.
    pub fn allows(&self, d: Difference) -> bool {
        self.allow_different.contains(&d)
    }

    /// The rise in the share of failed calls tolerated, as a fraction (0 unless `errors>N%`).
    pub fn errors_tolerated(&self) -> f64 {
        self.thresholds.iter().filter(|t| t.measure == Measure::Errors).map(|t| t.limit).fold(0.0, f64::max)
    }

    fn change_thresholds(&self) -> impl Iterator<Item = &Threshold> {
        self.thresholds.iter().filter(|t| matches!(t.measure, Measure::Change(_)))
    }
}

/// A rule of the gate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// The share of failed calls rose beyond what `errors>N%` tolerates.
    FailedCalls,
    /// A round of the new run had no successful call (more such rounds than the base run).
    NoSuccessfulRound,
    /// The cell, some of its rounds or its column are missing from the new run.
    Missing,
    /// A `--fail-if` threshold on a change.
    Threshold(Threshold),
    /// A `--fail-if` threshold the cell has no figure for (too few calls for a p99...).
    Unjudged(Threshold),
    /// The new run is incomplete, interrupted, or completed fewer rounds than asked.
    Incomplete,
    /// The runs differ in server kind, node count or workload.
    Different(Difference),
    /// A service cell's figure worse beyond the noise and the minimum effect (the default limit of
    /// a figure no `--fail-if` names).
    Regression(Threshold),
    /// The runs measured different things: calls and a service, or services stepped in different
    /// units (virtual users, request rates). No option lets it pass.
    Kind,
    /// A report's `schema_version` is not this aerobench's.
    UnknownSchema,
}

/// One rule applied to one cell: whether it passed, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub rule: Rule,
    pub passed: bool,
    pub why: String,
}

/// One cell of both runs and how its figures moved.
#[derive(Debug, Clone)]
pub struct CellChanges {
    pub column: String,
    /// The operation, or a service run's step (`10 vus`).
    pub operation: String,
    /// Empty when the new run lacks the cell.
    pub changes: Vec<Change>,
    /// Calls (requests) and failed ones in each run.
    pub calls: (u64, u64),
    pub errors: (u64, u64),
    /// Every rule applied, passed or not.
    pub checks: Vec<Check>,
}

impl CellChanges {
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| !c.passed)
    }

    /// Thresholds this cell crossed.
    #[cfg(test)]
    pub fn crossed(&self) -> Vec<Threshold> {
        self.checks
            .iter()
            .filter(|c| !c.passed)
            .filter_map(|c| match c.rule {
                Rule::Threshold(t) => Some(t),
                _ => None,
            })
            .collect()
    }

    /// True when the share of failed calls rose at all (whether or not tolerated).
    fn more_failures(&self) -> bool {
        share(self.errors.1, self.calls.1) > share(self.errors.0, self.calls.0)
    }
}

/// The whole comparison.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub cells: Vec<CellChanges>,
    /// Whether the runs can be compared at all (schema, completeness, server, nodes, workload).
    pub run_checks: Vec<Check>,
    /// Cells only the new run has, columns missing, what differs without failing the gate.
    pub remarks: Vec<String>,
    pub gate: Gate,
    /// What the base run measured.
    pub subject: Subject,
}

impl Comparison {
    /// True when the gate fails.
    pub fn crossed(&self) -> bool {
        self.run_checks.iter().any(|c| !c.passed) || self.cells.iter().any(CellChanges::failed)
    }
}

pub fn run(args: CompareArgs) -> anyhow::Result<i32> {
    let base = read_report(&args.base)?;
    let new = read_report(&args.new)?;
    let gate = Gate {
        thresholds: args.fail_if.clone(),
        allow_missing: args.allow_missing,
        allow_few_calls: args.allow_few_calls,
        allow_incomplete: args.allow_incomplete,
        allow_different: args.allow_different.clone(),
        allow_unknown_schema: args.allow_unknown_schema,
        min_effect: args.min_effect,
    };
    thresholds_fit(&gate, [("base", &args.base, &base), ("new", &args.new, &new)])?;
    let comparison = compare(&base, &new, &gate);
    let text = match args.format {
        CompareFormat::Text => render_text(&comparison),
        CompareFormat::Markdown => render_markdown(&comparison),
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

/// Refuses a `--fail-if` threshold on a figure the runs do not have: corrected latency of
/// closed-loop runs, a latency other than p99 or corrected latency of service runs, requests per
/// core of runs of calls. Runs of different kinds are left to the gate, which fails them.
fn thresholds_fit(gate: &Gate, runs: [(&str, &std::path::Path, &RunReport); 2]) -> anyhow::Result<()> {
    if Subject::of(runs[0].2) != Subject::of(runs[1].2) {
        return Ok(());
    }
    let open = |r: &RunReport| r.cells.iter().any(|c| c.open_loop.is_some());
    for t in gate.change_thresholds() {
        let Measure::Change(m) = t.measure else { continue };
        for (which, path, r) in runs {
            let path = path.display();
            match Subject::of(r) {
                Subject::Service => anyhow::ensure!(
                    Metric::SERVICE.contains(&m),
                    "--fail-if '{t}': the {which} run {path} is a service run, whose rounds record requests/s, p99 \
                     and requests per core{}: give ops/s (requests/s), p99 or requests/core",
                    if m.is_corrected() {
                        " (an open-loop service run's p99 already counts from when each request was due)"
                    } else {
                        ""
                    }
                ),
                Subject::Calls => {
                    anyhow::ensure!(
                        m != Metric::RequestsPerCore,
                        "--fail-if '{t}': requests/core is a service run's figure, and the {which} run {path} is a \
                         run of calls: use ops/s there"
                    );
                    anyhow::ensure!(
                        !m.is_corrected() || open(r),
                        "--fail-if '{t}' needs open-loop runs (made with --rate), and the {which} run {path} was a \
                         closed loop: use p99 (service time) there, or measure both runs with --rate"
                    );
                }
            }
        }
    }
    Ok(())
}

/// The report at `path`; one this aerobench cannot read says so, naming its `schema_version` when
/// it is not this aerobench's.
fn read_report(path: &std::path::Path) -> anyhow::Result<RunReport> {
    crate::analysis::merge::read_report(path).map_err(|e| {
        let version = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.get("schema_version").and_then(serde_json::Value::as_u64));
        match version {
            Some(v) if v != u64::from(SCHEMA_VERSION) => e.context(format!(
                "{} has schema_version {v}, which this aerobench ({}) does not know (it reads {SCHEMA_VERSION}): \
                 compare it with the aerobench that wrote it",
                path.display(),
                env!("CARGO_PKG_VERSION")
            )),
            _ => e,
        }
    })
}

/// Failed calls over calls, 0 without calls.
fn share(errors: u64, calls: u64) -> f64 {
    if calls == 0 { 0.0 } else { errors as f64 / calls as f64 }
}

fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

/// Rounds of a cell with no successful call.
fn rounds_without_success(c: &Cell) -> Vec<u32> {
    c.rounds.iter().filter(|r| r.count <= r.errors).map(|r| r.round).collect()
}

/// `3, 4, 5` as `3–5`, `1, 4` as `1, 4`.
fn round_list(rounds: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < rounds.len() {
        let mut j = i;
        while j + 1 < rounds.len() && rounds[j + 1] == rounds[j] + 1 {
            j += 1;
        }
        parts.push(if j > i { format!("{}–{}", rounds[i], rounds[j]) } else { rounds[i].to_string() });
        i = j + 1;
    }
    parts.join(", ")
}

/// The failed-call check of a cell both runs have, from its (failed, all) calls, or requests as
/// `noun` says, in each run.
fn failed_check(noun: &str, b: (u64, u64), n: (u64, u64), gate: &Gate) -> Check {
    let (sb, sn) = (share(b.0, b.1), share(n.0, n.1));
    let tolerated = gate.errors_tolerated();
    let figures =
        |e: u64, c: u64, s: f64| format!("{} of {} ({})", numbers::thousands(e), numbers::thousands(c), pct(s));
    if b.0 == 0 && n.0 == 0 {
        return Check { rule: Rule::FailedCalls, passed: true, why: format!("no failed {noun}") };
    }
    let moved = format!("failed {noun} {} → {}", figures(b.0, b.1, sb), figures(n.0, n.1, sn));
    let rise = sn - sb;
    // A rounding margin, so that equal shares never count as a rise.
    let passed = rise <= tolerated + 1e-12;
    let why = if rise <= 1e-12 {
        format!("{moved}: no rise")
    } else if passed {
        format!("{moved}: a rise of {:.2} points, tolerated by 'errors>{}'", rise * 100.0, pct(tolerated))
    } else if tolerated > 0.0 {
        format!("{moved}: a rise of {:.2} points, beyond the {} tolerated", rise * 100.0, pct(tolerated))
    } else {
        format!("{moved}: more {noun} fail (--fail-if 'errors>N%' tolerates a rise of N points)")
    };
    Check { rule: Rule::FailedCalls, passed, why }
}

/// The check that every round of the new cell had a successful call (as many rounds without
/// one as the base run is no change; `--allow-missing` lets such rounds pass, as rounds with no
/// figures), from the rounds without one in each run.
fn rounds_check(noun: &str, none_b: &[u32], none_n: &[u32], gate: &Gate) -> Check {
    let rule = Rule::NoSuccessfulRound;
    if none_n.is_empty() {
        return Check { rule, passed: true, why: format!("every round had successful {noun}") };
    }
    let one = noun.strip_suffix('s').unwrap_or(noun);
    let which = format!(
        "no successful {one} in round{} {} of the new run",
        if none_n.len() == 1 { "" } else { "s" },
        round_list(none_n)
    );
    if none_n.len() <= none_b.len() {
        return Check { rule, passed: true, why: format!("{which}, as in the base run ({})", round_list(none_b)) };
    }
    if gate.allow_missing {
        return Check { rule, passed: true, why: format!("{which} (allowed: --allow-missing)") };
    }
    Check { rule, passed: false, why: format!("{which}: nothing to measure there, which no threshold can see") }
}

/// Rounds the base cell has and the new one lacks. A new run of `--stop settled` stops a cell
/// once its verdicts settle: the rounds after its last are not lost, only holes before it.
fn missing_rounds(b: &Cell, n: &Cell, new_until_settled: bool) -> Vec<u32> {
    let last = n.rounds.iter().map(|r| r.round).max().unwrap_or(0);
    b.rounds
        .iter()
        .map(|r| r.round)
        .filter(|k| !n.rounds.iter().any(|r| r.round == *k))
        .filter(|k| !new_until_settled || *k <= last)
        .collect()
}

/// The check that every round of the base run's cell is in the new run, from those it lacks.
fn missing_rounds_check(lost: &[u32], gate: &Gate) -> Check {
    if lost.is_empty() {
        return Check { rule: Rule::Missing, passed: true, why: "every round of the base run is there".into() };
    }
    Check {
        rule: Rule::Missing,
        passed: gate.allow_missing,
        why: format!(
            "round{} {} of the base run missing from the new run",
            if lost.len() == 1 { "" } else { "s" },
            round_list(lost)
        ),
    }
}

/// Every cell both runs have, compared on every metric, with the gate's checks; the base run's
/// cells the new run lacks, with theirs.
pub fn compare(base: &RunReport, new: &RunReport, gate: &Gate) -> Comparison {
    let (run_checks, mut remarks) = comparable::run_checks(base, new, gate);
    let subject = Subject::of(base);
    let cells = if run_checks.iter().any(|c| c.rule == Rule::Kind && !c.passed) {
        Vec::new()
    } else if let (Some(b), Some(n)) = (&base.service, &new.service) {
        service::cells(b, n, gate, &mut remarks)
    } else {
        call_cells(base, new, gate, &mut remarks)
    };
    Comparison { cells, run_checks, remarks, gate: gate.clone(), subject }
}

/// The cells of two runs of calls, compared.
fn call_cells(base: &RunReport, new: &RunReport, gate: &Gate, remarks: &mut Vec<String>) -> Vec<CellChanges> {
    let missing_allowed = |why: String| Check { rule: Rule::Missing, passed: gate.allow_missing, why };
    let mut cells = Vec::new();
    for b in &base.cells {
        let column = new.column(&b.column);
        let Some(n) = new.cell(&b.column, &b.operation).filter(|n| n.count > 0) else {
            let why = match column {
                None => "missing from the new run: its column did not run".to_string(),
                Some(c) => match &c.error {
                    Some(e) => format!("missing from the new run: the column failed ({e})"),
                    None => "missing from the new run".to_string(),
                },
            };
            cells.push(CellChanges {
                column: b.column.clone(),
                operation: b.operation.clone(),
                changes: Vec::new(),
                calls: (b.count, 0),
                errors: (b.errors, 0),
                checks: vec![missing_allowed(why)],
            });
            continue;
        };
        let changes: Vec<Change> =
            Metric::CALLS.iter().filter(|m| m.applies(b, n)).map(|&m| change::change(m, b, n)).collect();
        let mut checks = vec![
            failed_check("calls", (b.errors, b.count), (n.errors, n.count), gate),
            rounds_check("calls", &rounds_without_success(b), &rounds_without_success(n), gate),
            missing_rounds_check(&missing_rounds(b, n, new.workload.until_settled()), gate),
        ];
        for t in gate.change_thresholds() {
            let Measure::Change(m) = t.measure else { continue };
            let Some(c) = changes.iter().find(|c| c.metric == m && c.ratio.is_some()) else {
                checks.push(unjudged(*t, b, n, gate));
                continue;
            };
            let crossed = t.crossed_by(c);
            let verb = if crossed { "crossed" } else { "not crossed" };
            checks.push(Check {
                rule: Rule::Threshold(*t),
                passed: !crossed,
                why: format!("'{t}' {verb}: {} {}", m.name(), describe(c, gate.min_effect)),
            });
        }
        cells.push(CellChanges {
            column: b.column.clone(),
            operation: b.operation.clone(),
            changes,
            calls: (b.count, n.count),
            errors: (b.errors, n.errors),
            checks,
        });
    }
    for c in &base.columns {
        if c.error.is_none() && new.column(&c.id).is_none() {
            remarks.push(format!("column {} is not in the new run", c.id));
        }
    }
    for n in &new.cells {
        if base.cell(&n.column, &n.operation).is_none() {
            remarks.push(format!("{} {}: only in the new run", n.column, n.operation));
        }
    }
    cells
}

/// The check of threshold `t` on a cell that has no change of its metric: failed, saying why
/// the cell cannot be judged, unless the reason is one an option lets pass.
fn unjudged(t: Threshold, b: &Cell, n: &Cell, gate: &Gate) -> Check {
    let Measure::Change(m) = t.measure else { unreachable!("only change thresholds are judged on cells") };
    let rule = Rule::Unjudged(t);
    let p99 = matches!(m, Metric::P99 | Metric::CorrectedP99);
    let calls = b.count.min(n.count);
    let (why, allowed, option) = if p99 && calls < MIN_CALLS_FOR_P99 {
        let which = match (b.count < MIN_CALLS_FOR_P99, n.count < MIN_CALLS_FOR_P99) {
            (true, true) if b.count == n.count => "in each run".to_string(),
            (true, true) => format!("in one run, {} in the other", numbers::thousands(b.count.max(n.count))),
            (true, false) => "in the base run".to_string(),
            _ => "in the new run".to_string(),
        };
        (
            format!(
                "{} calls {which}: too few for {} (it takes {MIN_CALLS_FOR_P99} calls in each run; raise --count or \
                 --min-phase-calls)",
                numbers::thousands(calls),
                m.name()
            ),
            gate.allow_few_calls,
            "--allow-few-calls",
        )
    } else if m == Metric::RequestsPerCore {
        ("requests/core is a service run's figure, and these are runs of calls".to_string(), false, "")
    } else if !m.applies(b, n) {
        let which = if b.open_loop.is_none() { "base" } else { "new" };
        (format!("no {}: the {which} run's cell was a closed loop", m.name()), false, "")
    } else {
        (
            format!("no {} in some round of one run (a round without a successful call)", m.name()),
            gate.allow_missing,
            "--allow-missing",
        )
    };
    if allowed {
        return Check { rule, passed: true, why: format!("'{t}' not judged: {why} (allowed: {option})") };
    }
    let loosen = if option.is_empty() { String::new() } else { format!("; {option} lets it pass unjudged") };
    Check { rule, passed: false, why: format!("'{t}' cannot be judged: {why}{loosen}") }
}

fn figure(metric: Metric, x: f64) -> String {
    if x.is_nan() {
        return "-".into();
    }
    match metric {
        Metric::OpsPerSec | Metric::RequestsPerCore => numbers::per_sec(x),
        _ => numbers::latency(x),
    }
}

/// `+12.3% (+4.1% … +21.0%) worse`.
fn describe(c: &Change, min_effect: f64) -> String {
    let pct = |r: f64| format!("{:+.1}%", (r - 1.0) * 100.0);
    let Some(ratio) = c.ratio else { return "not comparable".to_string() };
    let interval = c.bounds.map_or(String::new(), |(lo, hi)| format!(" ({} … {})", pct(lo), pct(hi)));
    let verdict = match c.verdict(min_effect) {
        Verdict::Better => "better".to_string(),
        Verdict::Worse => "worse".to_string(),
        Verdict::WithinNoise => "within noise".to_string(),
        Verdict::WithinMinEffect => format!("within {}", wording::percent(min_effect)),
        Verdict::NoInterval => "1 round: no interval".to_string(),
        Verdict::NotComparable => "not comparable".to_string(),
    };
    format!("{}{interval} {verdict}", pct(ratio))
}

fn rows(comparison: &Comparison) -> Vec<[String; 6]> {
    let min_effect = comparison.gate.min_effect;
    let subject = comparison.subject;
    let mut out = Vec::new();
    for cell in &comparison.cells {
        let id = || [cell.column.clone(), cell.operation.clone()];
        if cell.changes.is_empty() {
            let [column, operation] = id();
            let status = cell.checks.iter().map(status).collect::<Vec<_>>().join("; ");
            out.push([column, operation, "-".into(), "-".into(), "missing".into(), status]);
            continue;
        }
        if cell.errors != (0, 0) {
            let [column, operation] = id();
            let check = cell.checks.iter().find(|c| c.rule == Rule::FailedCalls);
            let (sb, sn) = (share(cell.errors.0, cell.calls.0), share(cell.errors.1, cell.calls.1));
            out.push([
                column,
                operation,
                "errors".into(),
                format!("{} → {}", numbers::thousands(cell.errors.0), numbers::thousands(cell.errors.1)),
                format!("{} → {} of {} ({:+.2} points)", pct(sb), pct(sn), subject.noun(), (sn - sb) * 100.0),
                check.map_or(String::new(), status),
            ]);
        }
        for c in &cell.changes {
            let [column, operation] = id();
            let mut notes: Vec<String> = cell
                .checks
                .iter()
                .filter(|k| {
                    matches!(k.rule, Rule::Threshold(t) | Rule::Regression(t) | Rule::Unjudged(t)
                        if t.measure == Measure::Change(c.metric))
                })
                .map(status)
                .collect();
            if c.verdict(min_effect) == Verdict::Better && cell.more_failures() {
                notes.push(format!("better only with more failed {}", subject.noun()));
            }
            out.push([
                column,
                operation,
                subject.metric_name(c.metric).to_string(),
                format!("{} → {}", figure(c.metric, c.base), figure(c.metric, c.new)),
                describe(c, min_effect),
                notes.join("; "),
            ]);
        }
    }
    out
}

/// A check as the table's last column shows it: `FAIL p99>+10%`, `pass errors>+1%`, or `FAIL
/// missing`.
fn status(c: &Check) -> String {
    let word = if c.passed { "pass" } else { "FAIL" };
    match c.rule {
        Rule::Threshold(t) => format!("{word} {t}"),
        Rule::Unjudged(t) => format!("{word} {t} (not judged)"),
        Rule::Regression(t) => match t.measure {
            Measure::Change(m) => {
                format!("{word} {} {}", m.service_name(), if c.passed { "not worse" } else { "worse" })
            }
            Measure::Errors => format!("{word} {t}"),
        },
        Rule::Kind => format!("{word} same kind of run"),
        Rule::Incomplete => format!("{word} complete run"),
        Rule::Different(d) => format!("{word} same {}", d.name()),
        Rule::UnknownSchema => format!("{word} schema_version"),
        Rule::FailedCalls => format!("{word} failed calls"),
        Rule::NoSuccessfulRound => format!("{word} rounds"),
        Rule::Missing if c.passed && !c.why.contains("missing") => format!("{word} complete"),
        Rule::Missing => format!("{word} missing{}", if c.passed { " (allowed)" } else { "" }),
    }
}

/// The table's headers: the second names an operation, or a service run's step.
fn headers(subject: Subject) -> [&'static str; 6] {
    ["column", subject.key(), "metric", "base → new", "change (95% interval)", "gate"]
}

/// One line per cell: PASS or FAIL and every reason.
fn verdict_lines(comparison: &Comparison) -> Vec<(bool, String)> {
    comparison
        .cells
        .iter()
        .map(|cell| {
            let failed: Vec<&Check> = cell.checks.iter().filter(|c| !c.passed).collect();
            let shown: Vec<String> = if failed.is_empty() {
                cell.checks.iter().map(|c| c.why.clone()).collect()
            } else {
                failed.iter().map(|c| c.why.clone()).collect()
            };
            (!failed.is_empty(), format!("{} {}: {}", cell.column, cell.operation, shown.join("; ")))
        })
        .collect()
}

/// One line per run-wide check: PASS or FAIL and why.
fn run_lines(comparison: &Comparison) -> Vec<(bool, String)> {
    comparison.run_checks.iter().map(|c| (!c.passed, c.why.clone())).collect()
}

/// What made the runs incomparable, shortly: `another server kind, the new run incomplete`.
fn run_failures(comparison: &Comparison) -> Vec<&'static str> {
    comparison
        .run_checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| match c.rule {
            Rule::Incomplete => "the new run incomplete",
            Rule::Different(Difference::Server) => "another server kind",
            Rule::Different(Difference::Nodes) => "another node count",
            Rule::Different(Difference::Workload) => "another workload",
            Rule::UnknownSchema => "an unknown schema_version",
            Rule::Kind => "they measured different things",
            _ => "not comparable",
        })
        .collect()
}

/// Run-wide checks that passed only because an option allowed them.
fn run_allowed(comparison: &Comparison) -> usize {
    comparison.run_checks.iter().filter(|c| c.passed && c.why.contains("(allowed: ")).count()
}

fn summary(comparison: &Comparison) -> String {
    let cells = cell_summary(comparison);
    let incomparable = run_failures(comparison);
    if comparison.run_checks.iter().any(|c| c.rule == Rule::Kind && !c.passed) {
        return format!("FAILED: the runs cannot be compared ({}); no cell compared", incomparable.join(", "));
    }
    if !incomparable.is_empty() {
        let cells = match cells.strip_prefix("passed: ") {
            Some(rest) => format!("cell by cell nothing failed ({rest})"),
            None => cells.strip_prefix("FAILED: ").unwrap_or(&cells).to_string(),
        };
        return format!("FAILED: the runs cannot be compared ({}); {cells}", incomparable.join(", "));
    }
    if cells.starts_with("passed") {
        let allowed = run_allowed(comparison);
        let runs = if allowed == 0 {
            "the runs comparable and the new run complete".to_string()
        } else {
            format!("{allowed} run-wide difference{} allowed on purpose", if allowed == 1 { "" } else { "s" })
        };
        return format!("{cells}; {runs}");
    }
    cells
}

fn cell_summary(comparison: &Comparison) -> String {
    let failed = comparison.cells.iter().filter(|c| c.failed()).count();
    let count = |rule: fn(&Rule) -> bool| {
        comparison.cells.iter().filter(|c| c.checks.iter().any(|k| !k.passed && rule(&k.rule))).count()
    };
    let (noun, one) = match comparison.subject {
        Subject::Calls => ("calls", "call"),
        Subject::Service => ("requests", "request"),
    };
    if failed == 0 {
        let limits = match comparison.subject {
            Subject::Calls => {
                let thresholds: Vec<String> = comparison.gate.change_thresholds().map(|t| format!("'{t}'")).collect();
                if thresholds.is_empty() {
                    "no --fail-if threshold given".to_string()
                } else {
                    format!("no cell crossed {}", thresholds.join(" or "))
                }
            }
            Subject::Service => {
                let limits: Vec<String> =
                    service::limits(&comparison.gate).iter().map(|l| l.name(comparison.gate.min_effect)).collect();
                format!("no cell crossed {}", limits.join(" or "))
            }
        };
        return format!(
            "passed: {limits}; in {} cell{}, no rise in failed {noun}, no round without a successful {one}, nothing \
             missing",
            comparison.cells.len(),
            if comparison.cells.len() == 1 { "" } else { "s" }
        );
    }
    let mut reasons = Vec::new();
    for (n, what) in [
        (count(|r| *r == Rule::FailedCalls), format!("more failed {noun}")),
        (count(|r| *r == Rule::NoSuccessfulRound), format!("a round without a successful {one}")),
        (count(|r| *r == Rule::Missing), "missing from the new run".into()),
        (count(|r| matches!(r, Rule::Regression(_))), "worse beyond the noise and the minimum effect".into()),
        (count(|r| matches!(r, Rule::Threshold(_))), "crossed a threshold".into()),
        (count(|r| matches!(r, Rule::Unjudged(_))), "could not be judged on a threshold".into()),
    ] {
        if n > 0 {
            reasons.push(format!("{n} {what}"));
        }
    }
    format!(
        "FAILED: {failed} of {} cell{} failed the gate ({})",
        comparison.cells.len(),
        if comparison.cells.len() == 1 { "" } else { "s" },
        reasons.join(", ")
    )
}

pub fn render_text(comparison: &Comparison) -> String {
    let rows = rows(comparison);
    let headers = headers(comparison.subject);
    let mut widths = headers.map(|h| h.chars().count());
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
    let mut out = line(&headers.map(String::from));
    for row in &rows {
        out += &line(row);
    }
    for r in &comparison.remarks {
        out += &format!("note: {r}\n");
    }
    out += "\ngate, the runs as a whole:\n";
    for (failed, text) in run_lines(comparison) {
        out += &format!("  {} {text}\n", if failed { "FAIL" } else { "pass" });
    }
    out += "\ngate, cell by cell:\n";
    for (failed, text) in verdict_lines(comparison) {
        out += &format!("  {} {text}\n", if failed { "FAIL" } else { "pass" });
    }
    out + &summary(comparison) + "\n"
}

pub fn render_markdown(comparison: &Comparison) -> String {
    let mut out = String::from("### aerobench: changes against the base run\n\n");
    let headers = headers(comparison.subject);
    out += &format!("| {} |\n", headers.join(" | "));
    out += &format!("|{}\n", "---|".repeat(headers.len()));
    for row in rows(comparison) {
        let row = row.map(|c| {
            let c = c.replace('|', "\\|");
            if c.contains("FAIL") { format!("**{c}**") } else { c }
        });
        out += &format!("| {} |\n", row.join(" | "));
    }
    out += "\n";
    for r in &comparison.remarks {
        out += &format!("- {r}\n");
    }
    // What makes the runs incomparable is shown outside the folded details.
    for (_, text) in run_lines(comparison).into_iter().filter(|(failed, _)| *failed) {
        out += &format!("- **FAIL** {}\n", text.replace('|', "\\|"));
    }
    out += "\n<details><summary>gate, the runs as a whole</summary>\n\n";
    for (failed, text) in run_lines(comparison) {
        let text = text.replace('|', "\\|");
        out += &if failed { format!("- **FAIL** {text}\n") } else { format!("- pass {text}\n") };
    }
    out += "\n</details>\n";
    out += "\n<details><summary>gate, cell by cell</summary>\n\n";
    for (failed, text) in verdict_lines(comparison) {
        let text = text.replace('|', "\\|");
        out += &if failed { format!("- **FAIL** {text}\n") } else { format!("- pass {text}\n") };
    }
    out += "\n</details>\n";
    out + &format!("\n**{}**\n", summary(comparison))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_report;

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

    fn gate(thresholds: &[&str]) -> Gate {
        Gate {
            thresholds: thresholds.iter().map(|t| threshold::parse(t).unwrap()).collect(),
            min_effect: 0.03,
            ..Gate::default()
        }
    }

    /// A column whose get has at least two rounds.
    fn get_column(r: &RunReport) -> String {
        r.cells.iter().find(|c| c.operation == "get" && c.rounds.len() >= 2 && c.errors == 0).unwrap().column.clone()
    }

    fn get_cell<'a>(r: &'a mut RunReport, column: &str) -> &'a mut Cell {
        r.cells.iter_mut().find(|c| c.column == column && c.operation == "get").unwrap()
    }

    fn failing(c: &CellChanges) -> Vec<Rule> {
        c.checks.iter().filter(|k| !k.passed).map(|k| k.rule).collect()
    }

    #[test]
    fn a_planted_regression_crosses_its_threshold_and_nothing_else_does() {
        let base = sample_report();
        let column = get_column(&base);
        let g = gate(&["p99>+10%", "ops/s<-5%"]);
        let same = compare(&base, &base, &g);
        assert!(!same.crossed(), "{}", render_text(&same));
        assert!(same.cells.iter().all(|c| c.changes.iter().all(|x| x.verdict(0.03) != Verdict::Worse)));
        let worse = compare(&base, &slower(1.5, &column), &g);
        assert!(worse.crossed());
        let failed: Vec<&CellChanges> = worse.cells.iter().filter(|c| c.failed()).collect();
        assert_eq!(failed.len(), 1);
        assert_eq!((failed[0].column.as_str(), failed[0].operation.as_str()), (column.as_str(), "get"));
        assert_eq!(failed[0].crossed(), vec![g.thresholds[0]]);
        let text = render_text(&worse);
        assert!(text.contains("FAIL p99>+10%") && text.contains("FAILED: 1 of"), "{text}");
        assert!(text.contains(&format!("FAIL {column} get: 'p99>+10%' crossed: p99 +50.0%")), "{text}");
        assert!(text.contains("pass ") && text.contains("'p99>+10%' not crossed"), "every cell says why: {text}");
        let md = render_markdown(&worse);
        assert!(md.contains("| column | operation |") && md.contains("**FAIL p99>+10%**"), "{md}");
        assert!(md.contains("- **FAIL** ") && md.contains("**FAILED: 1 of"), "{md}");
        // A small rise stays under the limit.
        assert!(!compare(&base, &slower(1.05, &column), &g).crossed());
    }

    #[test]
    fn more_failed_calls_fail_the_gate_even_with_a_lower_p99() {
        // The new build times out its slowest 2% of gets: its p99 is lower, its calls fail.
        let base = sample_report();
        let column = get_column(&base);
        let mut new = slower(0.7, &column);
        let cell = get_cell(&mut new, &column);
        cell.errors = cell.count / 50;
        for r in &mut cell.rounds {
            r.errors = r.count / 50;
        }
        for thresholds in [&[][..], &["p99>+10%"][..]] {
            let c = compare(&base, &new, &gate(thresholds));
            assert!(c.crossed(), "{thresholds:?}: {}", render_text(&c));
            let cell = c.cells.iter().find(|x| x.column == column && x.operation == "get").unwrap();
            assert_eq!(failing(cell), [Rule::FailedCalls], "{:?}", cell.checks);
            let text = render_text(&c);
            assert!(text.contains("failed calls 0 of 1,000 (0.00%) → 20 of 1,000 (2.00%): more calls fail"), "{text}");
            assert!(text.contains("better only with more failed calls"), "{text}");
            assert!(text.contains("FAILED: 1 of") && text.contains("1 more failed calls"), "{text}");
        }
        // Tolerated explicitly: up to 3 points pass, 1 point does not.
        assert!(!compare(&base, &new, &gate(&["errors>3%"])).crossed());
        let strict = compare(&base, &new, &gate(&["errors>1%"]));
        assert!(render_text(&strict).contains("a rise of 2.00 points, beyond the 1.00% tolerated"));
        // As many failed calls as the base run is no change.
        assert!(!compare(&new, &new, &gate(&[])).crossed());
    }

    #[test]
    fn a_round_without_a_successful_call_fails_the_gate() {
        let base = sample_report();
        let column = get_column(&base);
        let mut new = sample_report();
        let cell = get_cell(&mut new, &column);
        let r = &mut cell.rounds[1];
        r.errors = r.count;
        cell.errors = r.count;
        // Tolerating every failed call still leaves a round with nothing measured.
        let c = compare(&base, &new, &gate(&["errors>100%"]));
        assert!(c.crossed());
        let cell = c.cells.iter().find(|x| x.column == column && x.operation == "get").unwrap();
        assert_eq!(failing(cell), [Rule::NoSuccessfulRound]);
        assert!(render_text(&c).contains("no successful call in round 2 of the new run"), "{}", render_text(&c));
        let loose = Gate { allow_missing: true, ..gate(&["errors>100%"]) };
        assert!(!compare(&base, &new, &loose).crossed(), "--allow-missing lets a round with nothing pass");
        // The same round failing in the base run is no change.
        assert!(!compare(&new, &new, &gate(&[])).crossed());
    }

    #[test]
    fn cells_rounds_and_columns_missing_from_the_new_run_fail_unless_allowed() {
        let base = sample_report();
        let column = get_column(&base);
        let mut new = sample_report();
        new.cells.retain(|c| c.column != column);
        new.columns.retain(|c| c.id != column);
        let c = compare(&base, &new, &gate(&[]));
        assert!(c.crossed());
        let missing: Vec<&CellChanges> = c.cells.iter().filter(|x| x.failed()).collect();
        let expected = base.cells.iter().filter(|x| x.column == column).count();
        assert_eq!(missing.len(), expected);
        assert!(missing.iter().all(|m| failing(m) == [Rule::Missing]));
        let text = render_text(&c);
        assert!(text.contains("missing from the new run: its column did not run"), "{text}");
        assert!(text.contains(&format!("column {column} is not in the new run")), "{text}");
        assert!(text.contains("FAIL missing"), "{text}");
        let loose = Gate { allow_missing: true, ..gate(&[]) };
        let allowed = compare(&base, &new, &loose);
        assert!(!allowed.crossed());
        assert!(render_text(&allowed).contains("pass missing (allowed)"), "{}", render_text(&allowed));
        // A round gone.
        let mut short = sample_report();
        get_cell(&mut short, &column).rounds.pop();
        let c = compare(&base, &short, &gate(&[]));
        assert!(render_text(&c).contains("round 3 of the base run missing from the new run"), "{}", render_text(&c));
        assert!(c.crossed());
        // A settled run stopped measuring the cell after its second round: not missing; a gap
        // before its last round still is.
        short.workload.stopping = Some(crate::model::results::Stopping {
            mode: "settled".into(),
            interval: "confidence-sequence".into(),
            method: None,
            prior_g: Some(20.0),
            first_look: Some(3),
            budget_secs: Some(20.0),
            spent_secs: Some(3.0),
            ended: Some("settled".into()),
            cells: Vec::new(),
        });
        let c = compare(&base, &short, &gate(&[]));
        assert!(!render_text(&c).contains("missing from the new run"), "{}", render_text(&c));
        get_cell(&mut short, &column).rounds.remove(0);
        let c = compare(&base, &short, &gate(&[]));
        assert!(render_text(&c).contains("round 1 of the base run missing from the new run"), "{}", render_text(&c));
        // A failed column's cells say why.
        let mut failed = sample_report();
        failed.cells.retain(|c| c.column != column);
        failed.columns.iter_mut().find(|c| c.id == column).unwrap().error = Some("could not connect".into());
        let text = render_text(&compare(&base, &failed, &gate(&[])));
        assert!(text.contains("the column failed (could not connect)"), "{text}");
    }

    #[test]
    fn a_threshold_a_cell_has_no_figure_for_fails_unless_allowed() {
        // 90 calls: no p99 change, however much slower the new run is.
        let small = |factor: f64| {
            let mut r = slower(factor, &get_column(&sample_report()));
            let column = get_column(&r);
            get_cell(&mut r, &column).count = 90;
            r
        };
        let (base, new) = (small(1.0), small(1000.0));
        let c = compare(&base, &new, &gate(&["p99>+10%"]));
        assert!(c.crossed(), "{}", render_text(&c));
        let cell = c.cells.iter().find(|x| x.failed()).unwrap();
        assert_eq!(failing(cell), [Rule::Unjudged(threshold::parse("p99>+10%").unwrap())]);
        assert!(render_text(&c).contains("90 calls in each run: too few for p99"), "{}", render_text(&c));
        let loose = Gate { allow_few_calls: true, ..gate(&["p99>+10%"]) };
        assert!(!compare(&base, &new, &loose).crossed());
        // Only the new run small: said so.
        let c = compare(&sample_report(), &new, &gate(&["p99>+10%"]));
        assert!(render_text(&c).contains("90 calls in the new run: too few for p99"), "{}", render_text(&c));
    }

    #[test]
    fn a_run_compared_with_itself_passes() {
        let base = sample_report();
        let c = compare(&base, &base, &gate(&["p99>+10%", "ops/s<-5%", "avg>+0%"]));
        assert!(!c.crossed(), "{}", render_text(&c));
        assert!(render_text(&c).contains("passed: "), "{}", render_text(&c));
        for x in c.cells.iter().flat_map(|x| &x.changes) {
            assert!(!matches!(x.verdict(0.03), Verdict::Better | Verdict::Worse), "{x:?}");
        }
    }

    #[test]
    fn open_loop_runs_are_gated_on_latency_from_when_calls_were_due() {
        let open = |factor: f64| {
            let mut r = sample_report();
            for c in &mut r.cells {
                c.open_loop = Some(crate::model::results::OpenLoopFigures {
                    corrected_latency_us: crate::model::results::LatencyStats { p99: 900.0 * factor, ..c.latency_us },
                    kept_up: true,
                    ..Default::default()
                });
                for (i, round) in c.rounds.iter_mut().enumerate() {
                    round.corrected = Some(crate::model::results::RoundLatency {
                        avg_us: round.avg_us * 2.0,
                        p50_us: round.p50_us * 1.5,
                        p99_us: 900.0 * factor * (1.0 + 0.02 * i as f64),
                    });
                }
            }
            r
        };
        let (base, stalls) = (open(1.0), open(4.0));
        let g = gate(&["corrected-p99>+10%", "p99>+10%"]);
        let c = compare(&base, &stalls, &g);
        assert!(c.crossed());
        let cell = &c.cells[0];
        assert_eq!(cell.crossed(), vec![g.thresholds[0]], "service time did not move: {:?}", cell.checks);
        let text = render_text(&c);
        assert!(text.contains("corrected-p99") && text.contains("FAIL corrected-p99>+10%"), "{text}");
        // Closed-loop runs have no corrected rows.
        let closed = compare(&sample_report(), &sample_report(), &gate(&[]));
        assert!(closed.cells.iter().flat_map(|c| &c.changes).all(|c| !c.metric.is_corrected()));
    }
}
