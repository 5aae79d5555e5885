//! Two service runs (`--service`) compared cell by cell: each column at each step, on
//! requests/s, p99 and (where both runs measured the app's CPU) requests per CPU-core of its
//! rounds, with the interval of `change::estimate` and the gate's checks of calls (more failed
//! requests, a round without a successful request, a cell or round missing). A service cell
//! worse beyond the rounds' interval and beyond `--min-effect` fails the gate even without a
//! `--fail-if`: each figure has that default limit, which a `--fail-if` threshold on the same
//! figure (`ops/s`, `p99`, `requests/core`) replaces. A limit the cell has no figure for (too
//! few requests for a p99) fails it too, as for calls.

use crate::analysis::compare::MIN_CALLS_FOR_P99;
use crate::model::service::{ServiceCell, ServiceRound, ServiceRun};
use crate::report::numbers;

use super::change::{self, Change, Metric};
use super::threshold::{Direction, Measure, Threshold};
use super::{CellChanges, Check, Gate, Rule, Subject};

/// A limit a service cell is held to: a `--fail-if` threshold, or the default one (worse beyond
/// `--min-effect`) of a figure no threshold names.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub threshold: Threshold,
    /// True for the default limit.
    pub default: bool,
}

impl Limit {
    fn rule(self) -> Rule {
        if self.default { Rule::Regression(self.threshold) } else { Rule::Threshold(self.threshold) }
    }

    /// `'p99>+10%'`, or `p99 worse beyond 3% (the default limit)`.
    pub fn name(self, min_effect: f64) -> String {
        let Measure::Change(m) = self.threshold.measure else { unreachable!("limits are on changes") };
        if self.default {
            format!("{} worse beyond {} (the default limit)", m.service_name(), percent(min_effect))
        } else {
            format!("'{}'", self.threshold)
        }
    }
}

fn percent(fraction: f64) -> String {
    crate::analysis::compare::wording::percent(fraction)
}

/// The limits of a service comparison: the `--fail-if` thresholds on its figures, and the
/// default limit of each figure none names.
pub fn limits(gate: &Gate) -> Vec<Limit> {
    let mut out: Vec<Limit> = gate
        .change_thresholds()
        .filter(|t| matches!(t.measure, Measure::Change(m) if Metric::SERVICE.contains(&m)))
        .map(|&threshold| Limit { threshold, default: false })
        .collect();
    for m in Metric::SERVICE {
        if !out.iter().any(|l| l.threshold.measure == Measure::Change(m)) {
            let (direction, limit) =
                if m.higher_is_better() { (Direction::Below, -gate.min_effect) } else { (Direction::Above, gate.min_effect) };
            out.push(Limit { threshold: Threshold { measure: Measure::Change(m), direction, limit }, default: true });
        }
    }
    out
}

/// Requests answered and failed: the cell's total.
fn total(c: &ServiceCell) -> u64 {
    c.requests + c.errors
}

/// True when every round of the cell measured the app's CPU.
fn has_cores(c: &ServiceCell) -> bool {
    c.requests_per_core.is_some() && c.per_round.iter().all(|r| r.requests_per_core.is_some())
}

fn round_figure(metric: Metric, r: &ServiceRound) -> f64 {
    match metric {
        Metric::OpsPerSec => r.requests_per_sec,
        Metric::P99 => r.p99_us,
        Metric::RequestsPerCore => r.requests_per_core.unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

fn cell_figure(metric: Metric, c: &ServiceCell) -> f64 {
    match metric {
        Metric::OpsPerSec => c.requests_per_sec,
        Metric::P99 => c.latency_us.p99,
        Metric::RequestsPerCore => c.requests_per_core.unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

/// The change of `metric` from service cell `base` to `new`, from their rounds; no ratio for a
/// p99 of under `MIN_CALLS_FOR_P99` successful requests on a side.
pub fn change(metric: Metric, base: &ServiceCell, new: &ServiceCell) -> Change {
    let mut out =
        Change { metric, base: cell_figure(metric, base), new: cell_figure(metric, new), ratio: None, bounds: None };
    if metric == Metric::P99 && base.requests.min(new.requests) < MIN_CALLS_FOR_P99 {
        return out;
    }
    let figures = |c: &ServiceCell| c.per_round.iter().map(|r| round_figure(metric, r)).collect::<Vec<f64>>();
    if let Some((ratio, bounds)) = change::estimate(&figures(base), &figures(new)) {
        out.ratio = Some(ratio);
        out.bounds = bounds;
    }
    out
}

/// Rounds of a cell with no successful request.
fn rounds_without_success(c: &ServiceCell) -> Vec<u32> {
    c.per_round.iter().filter(|r| r.requests == 0).map(|r| r.round).collect()
}

/// Every cell of the base service run compared with the new one's; notes on columns and cells
/// only one run has, and on requests per core only one run measured.
pub fn cells(base: &ServiceRun, new: &ServiceRun, gate: &Gate, remarks: &mut Vec<String>) -> Vec<CellChanges> {
    let noun = Subject::Service.noun();
    let limits = limits(gate);
    let mut out = Vec::new();
    for b in &base.cells {
        let step = base.step_label(b.step);
        let Some(n) = new.cell(&b.column, b.step).filter(|n| total(n) > 0) else {
            let why = match new.column(&b.column).and_then(|c| c.error.as_ref()) {
                Some(e) => format!("missing from the new run: the column's app failed ({e})"),
                None if new.column(&b.column).is_none() => "missing from the new run: its column did not run".into(),
                None => "missing from the new run".into(),
            };
            out.push(CellChanges {
                column: b.column.clone(),
                operation: step,
                changes: Vec::new(),
                calls: (total(b), 0),
                errors: (b.errors, 0),
                checks: vec![Check { rule: Rule::Missing, passed: gate.allow_missing, why }],
            });
            continue;
        };
        let cores = has_cores(b) && has_cores(n);
        if !cores && has_cores(b) != has_cores(n) {
            let which = if has_cores(b) { "new" } else { "base" };
            remarks.push(format!(
                "{} {step}: requests/core not compared, the {which} run did not measure the app's CPU",
                b.column
            ));
        }
        let changes: Vec<Change> = Metric::SERVICE
            .iter()
            .filter(|&&m| m != Metric::RequestsPerCore || cores)
            .map(|&m| change(m, b, n))
            .collect();
        let mut checks = vec![
            super::failed_check(noun, (b.errors, total(b)), (n.errors, total(n)), gate),
            super::rounds_check(noun, &rounds_without_success(b), &rounds_without_success(n), gate),
        ];
        let lost: Vec<u32> = b
            .per_round
            .iter()
            .map(|r| r.round)
            .filter(|k| !n.per_round.iter().any(|r| r.round == *k))
            .collect();
        checks.push(super::missing_rounds_check(&lost, gate));
        for limit in &limits {
            let Measure::Change(m) = limit.threshold.measure else { continue };
            if m == Metric::RequestsPerCore && limit.default && !cores {
                continue;
            }
            let Some(c) = changes.iter().find(|c| c.metric == m && c.ratio.is_some()) else {
                checks.push(unjudged(*limit, b, n, gate));
                continue;
            };
            let crossed = limit.threshold.crossed_by(c);
            let verb = if crossed { "crossed" } else { "not crossed" };
            checks.push(Check {
                rule: limit.rule(),
                passed: !crossed,
                why: format!(
                    "{} {verb}: {} {}",
                    limit.name(gate.min_effect),
                    m.service_name(),
                    super::describe(c, gate.min_effect)
                ),
            });
        }
        out.push(CellChanges {
            column: b.column.clone(),
            operation: step,
            changes,
            calls: (total(b), total(n)),
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
        if base.cell(&n.column, n.step).is_none() {
            remarks.push(format!("{} {}: only in the new run", n.column, new.step_label(n.step)));
        }
    }
    out
}

/// The check of a limit on a service cell without a change of its figure: failed, saying why,
/// unless the reason is one an option lets pass.
fn unjudged(limit: Limit, b: &ServiceCell, n: &ServiceCell, gate: &Gate) -> Check {
    let Measure::Change(m) = limit.threshold.measure else { unreachable!("limits are on changes") };
    let rule = Rule::Unjudged(limit.threshold);
    let (why, allowed, option) = if m == Metric::P99 && b.requests.min(n.requests) < MIN_CALLS_FOR_P99 {
        let which = match (b.requests < MIN_CALLS_FOR_P99, n.requests < MIN_CALLS_FOR_P99) {
            (true, true) if b.requests == n.requests => "in each run".to_string(),
            (true, true) => format!("in one run, {} in the other", numbers::thousands(b.requests.max(n.requests))),
            (true, false) => "in the base run".to_string(),
            _ => "in the new run".to_string(),
        };
        (
            format!(
                "{} successful requests {which}: too few for p99 (it takes {MIN_CALLS_FOR_P99} in each run; lengthen \
                 the slices with --duration)",
                numbers::thousands(b.requests.min(n.requests))
            ),
            gate.allow_few_calls,
            "--allow-few-calls",
        )
    } else if m == Metric::RequestsPerCore && !(has_cores(b) && has_cores(n)) {
        let which = if has_cores(b) { "new" } else { "base" };
        (format!("no requests/core: the {which} run did not measure the app's CPU"), false, "")
    } else if !Metric::SERVICE.contains(&m) {
        (format!("a service run's rounds record requests/s, p99 and requests/core, not {}", m.name()), false, "")
    } else {
        (
            format!("no {} in some round of one run (a round without a successful request)", m.service_name()),
            gate.allow_missing,
            "--allow-missing",
        )
    };
    let name = limit.name(gate.min_effect);
    if allowed {
        return Check { rule, passed: true, why: format!("{name} not judged: {why} (allowed: {option})") };
    }
    let loosen = if option.is_empty() { String::new() } else { format!("; {option} lets it pass unjudged") };
    Check { rule, passed: false, why: format!("{name} cannot be judged: {why}{loosen}") }
}
