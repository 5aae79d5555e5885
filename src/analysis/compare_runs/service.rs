//! Two service runs (`--service`) compared cell by cell: each column at each step, on
//! requests/s, p99 and (where both runs measured the app's CPU) requests per CPU-core of its
//! rounds, with the interval of `change::estimate` and the gate's checks of calls (more failed
//! requests, a round without a successful request, a cell or round missing). A service cell
//! worse beyond the rounds' interval and beyond `--min-effect` fails the gate even without a
//! `--fail-if`: each figure has that default limit, which a `--fail-if` threshold on the same
//! figure (`ops/s`, `p99`, `requests/core`) replaces. A limit the cell has no figure for (too
//! few requests for a p99) fails it too, as for calls.

use crate::analysis::compare::MIN_CALLS_FOR_P99;
use crate::analysis::numbers;
use crate::model::service::{ServiceCell, ServiceRound, ServiceRun};

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
            let (direction, limit) = if m.higher_is_better() {
                (Direction::Below, -gate.min_effect)
            } else {
                (Direction::Above, gate.min_effect)
            };
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
        let lost: Vec<u32> =
            b.per_round.iter().map(|r| r.round).filter(|k| !n.per_round.iter().any(|r| r.round == *k)).collect();
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

#[cfg(test)]
mod tests {
    use super::super::{Comparison, compare, render_markdown, render_text, threshold};
    use super::*;
    use crate::model::results::RunReport;
    use crate::test_support::{APP_FLOOR, SVC_ASYNC, SVC_BROKEN, SVC_C, sample_report, sample_service_report};

    fn gate(thresholds: &[&str]) -> Gate {
        Gate {
            thresholds: thresholds.iter().map(|t| threshold::parse(t).unwrap()).collect(),
            min_effect: 0.03,
            ..Gate::default()
        }
    }

    fn service(r: &mut RunReport) -> &mut ServiceRun {
        r.service.as_mut().unwrap()
    }

    fn cell<'a>(r: &'a mut RunReport, column: &str, step: f64) -> &'a mut ServiceCell {
        service(r).cells.iter_mut().find(|c| c.column == column && c.step == step).unwrap()
    }

    /// The sample with `column`'s cell at `step` `factor` times slower: its p99 up, its
    /// requests/s and requests per core down.
    fn slower(factor: f64, column: &str, step: f64) -> RunReport {
        let mut r = sample_service_report();
        let c = cell(&mut r, column, step);
        c.latency_us.p99 *= factor;
        c.requests_per_sec /= factor;
        c.requests_per_core = c.requests_per_core.map(|x| x / factor);
        for round in &mut c.per_round {
            round.p99_us *= factor;
            round.requests_per_sec /= factor;
            round.requests_per_core = round.requests_per_core.map(|x| x / factor);
        }
        r
    }

    fn failing(c: &Comparison) -> Vec<(String, String, Rule)> {
        c.cells
            .iter()
            .flat_map(|x| {
                x.checks.iter().filter(|k| !k.passed).map(|k| (x.column.clone(), x.operation.clone(), k.rule))
            })
            .collect()
    }

    fn rule(text: &str, default: bool) -> Rule {
        let t = threshold::parse(text).unwrap();
        if default { Rule::Regression(t) } else { Rule::Threshold(t) }
    }

    #[test]
    fn a_service_run_compared_with_itself_passes_cell_by_cell() {
        let base = sample_service_report();
        for thresholds in [&[][..], &["p99>+10%", "ops/s<-5%", "requests/core<-5%"][..]] {
            let c = compare(&base, &base, &gate(thresholds));
            assert!(!c.crossed(), "{thresholds:?}: {}", render_text(&c));
            // Three columns served two steps; the app that never started has no cell.
            assert_eq!(c.cells.len(), 6, "{}", render_text(&c));
            for x in &c.cells {
                let metrics: Vec<Metric> = x.changes.iter().map(|c| c.metric).collect();
                assert_eq!(metrics, Metric::SERVICE, "{} {}", x.column, x.operation);
            }
        }
        let text = render_text(&compare(&base, &base, &gate(&[])));
        assert!(text.starts_with("column") && text.lines().next().unwrap().contains("step"), "{text}");
        assert!(text.contains("requests/s") && text.contains("requests/core") && text.contains("50 vus"), "{text}");
        assert!(text.contains("passed: no cell crossed requests/s worse beyond 3% (the default limit)"), "{text}");
        assert!(text.contains("no rise in failed requests, no round without a successful request"), "{text}");
        let md = render_markdown(&compare(&base, &base, &gate(&[])));
        assert!(md.contains("| column | step | metric |"), "{md}");
    }

    #[test]
    fn a_slower_cell_fails_the_gate_by_default_and_names_the_cell() {
        let base = sample_service_report();
        let new = slower(10.0, SVC_ASYNC, 50.0);
        let c = compare(&base, &new, &gate(&[]));
        assert!(c.crossed(), "{}", render_text(&c));
        let step = "50 vus".to_string();
        assert_eq!(
            failing(&c),
            [
                (SVC_ASYNC.to_string(), step.clone(), rule("ops/s<-3%", true)),
                (SVC_ASYNC.to_string(), step.clone(), rule("p99>+3%", true)),
                (SVC_ASYNC.to_string(), step.clone(), rule("requests/core<-3%", true)),
            ]
        );
        let text = render_text(&c);
        assert!(
            text.contains(&format!("FAIL {SVC_ASYNC} 50 vus: requests/s worse beyond 3% (the default limit) crossed")),
            "{text}"
        );
        assert!(text.contains("p99 worse beyond 3% (the default limit) crossed: p99 +900.0%"), "{text}");
        assert!(text.contains("FAIL p99 worse") && text.contains("FAILED: 1 of 6 cells"), "{text}");
        assert!(text.contains("1 worse beyond the noise and the minimum effect"), "{text}");
        // A threshold on a figure replaces its default limit; the others keep theirs.
        let p99_loose = compare(&base, &new, &gate(&["p99>+2000%"]));
        let rules: Vec<Rule> = failing(&p99_loose).into_iter().map(|x| x.2).collect();
        assert_eq!(rules, [rule("ops/s<-3%", true), rule("requests/core<-3%", true)]);
        let loose = gate(&["p99>+2000%", "requests/s<-95%", "requests/core<-95%"]);
        assert!(!compare(&base, &new, &loose).crossed(), "{}", render_text(&compare(&base, &new, &loose)));
        let strict = compare(&base, &new, &gate(&["p99>+100%"]));
        assert!(failing(&strict).iter().any(|x| x.2 == rule("p99>+100%", false)), "{}", render_text(&strict));
        assert!(render_text(&strict).contains("'p99>+100%' crossed: p99 +900.0%"), "{}", render_text(&strict));
        // A change within the minimum effect is no regression.
        assert!(!compare(&base, &slower(1.02, SVC_ASYNC, 50.0), &gate(&[])).crossed());
        // Faster is no regression either.
        assert!(!compare(&base, &slower(0.5, SVC_ASYNC, 50.0), &gate(&[])).crossed());
    }

    #[test]
    fn more_failed_requests_or_a_round_without_success_fail_the_gate() {
        let base = sample_service_report();
        // Faster, with failed requests.
        let mut new = slower(0.8, SVC_ASYNC, 10.0);
        cell(&mut new, SVC_ASYNC, 10.0).errors = 690;
        let c = compare(&base, &new, &gate(&[]));
        assert_eq!(failing(&c), [(SVC_ASYNC.to_string(), "10 vus".to_string(), Rule::FailedCalls)]);
        let text = render_text(&c);
        assert!(
            text.contains("failed requests 0 of 69,000 (0.00%) → 690 of 69,690 (0.99%): more requests fail"),
            "{text}"
        );
        assert!(
            text.contains("better only with more failed requests") && text.contains("1 more failed requests"),
            "{text}"
        );
        assert!(!compare(&base, &new, &gate(&["errors>1%"])).crossed());
        // The sample's official client failed 7 requests at 50 vus: as many is no change.
        assert!(!compare(&base, &base, &gate(&[])).crossed());

        let mut new = sample_service_report();
        let c10 = cell(&mut new, SVC_C, 10.0);
        c10.per_round[1].errors = c10.per_round[1].requests;
        c10.per_round[1].requests = 0;
        c10.per_round[1].p99_us = 0.0;
        c10.errors = c10.per_round[1].errors;
        let c = compare(&base, &new, &gate(&["errors>100%"]));
        let rules: Vec<Rule> = failing(&c).into_iter().map(|x| x.2).collect();
        assert!(rules.contains(&Rule::NoSuccessfulRound), "{}", render_text(&c));
        assert!(render_text(&c).contains("no successful request in round 2 of the new run"), "{}", render_text(&c));
    }

    #[test]
    fn missing_cells_rounds_and_columns_fail_unless_allowed() {
        let base = sample_service_report();
        let mut new = sample_service_report();
        service(&mut new).cells.retain(|c| c.column != SVC_C);
        let col = service(&mut new).columns.iter_mut().find(|c| c.id == SVC_C).unwrap();
        col.error = Some("port 8000 in use".into());
        cell(&mut new, SVC_ASYNC, 50.0).per_round.pop();
        let c = compare(&base, &new, &gate(&[]));
        let failed: Vec<(String, String, Rule)> = failing(&c);
        assert_eq!(
            failed,
            [
                (SVC_C.to_string(), "10 vus".to_string(), Rule::Missing),
                (SVC_ASYNC.to_string(), "50 vus".to_string(), Rule::Missing),
                (SVC_C.to_string(), "50 vus".to_string(), Rule::Missing),
            ],
            "{}",
            render_text(&c)
        );
        let text = render_text(&c);
        assert!(
            text.contains(&format!(
                "FAIL {SVC_C} 10 vus: missing from the new run: the column's app failed (port 8000 in use)"
            )),
            "{text}"
        );
        assert!(text.contains("round 3 of the base run missing from the new run"), "{text}");
        let loose = Gate { allow_missing: true, ..gate(&[]) };
        assert!(!compare(&base, &new, &loose).crossed(), "{}", render_text(&compare(&base, &new, &loose)));
        // A column gone altogether, and cells only in the new run, are notes.
        let mut gone = sample_service_report();
        service(&mut gone).cells.retain(|c| c.column != APP_FLOOR);
        service(&mut gone).columns.retain(|c| c.id != APP_FLOOR);
        let c = compare(&base, &gone, &gate(&[]));
        assert!(
            render_text(&c)
                .contains(&format!("FAIL {APP_FLOOR} 10 vus: missing from the new run: its column did not run"))
        );
        assert!(c.remarks.contains(&format!("column {APP_FLOOR} is not in the new run")), "{:?}", c.remarks);
        let c = compare(&gone, &base, &gate(&[]));
        assert!(
            !c.crossed() && c.remarks.contains(&format!("{APP_FLOOR} 50 vus: only in the new run")),
            "{:?}",
            c.remarks
        );
        // The app that never started in the base run is not a missing column.
        assert!(!c.remarks.iter().any(|r| r.contains(SVC_BROKEN)), "{:?}", c.remarks);
    }

    #[test]
    fn a_cell_too_small_for_its_p99_fails_unless_allowed() {
        let small = |factor: f64| {
            let mut r = slower(factor, SVC_ASYNC, 10.0);
            let c = cell(&mut r, SVC_ASYNC, 10.0);
            c.requests = 60;
            for round in &mut c.per_round {
                round.requests = 20;
            }
            r
        };
        // p99 1,000 times higher, yet requests/s held: only p99 could see it.
        let mut new = small(1.0);
        let c = cell(&mut new, SVC_ASYNC, 10.0);
        c.latency_us.p99 *= 1000.0;
        c.per_round.iter_mut().for_each(|r| r.p99_us *= 1000.0);
        let c = compare(&small(1.0), &new, &gate(&[]));
        assert_eq!(
            failing(&c),
            [(SVC_ASYNC.to_string(), "10 vus".to_string(), Rule::Unjudged(threshold::parse("p99>+3%").unwrap()))],
            "{}",
            render_text(&c)
        );
        let text = render_text(&c);
        assert!(text.contains("p99 worse beyond 3% (the default limit) cannot be judged: 60 successful requests in each run: too few for p99"), "{text}");
        let loose = Gate { allow_few_calls: true, ..gate(&[]) };
        assert!(!compare(&small(1.0), &new, &loose).crossed());
        // An explicit threshold is held to it alike.
        assert!(compare(&small(1.0), &new, &gate(&["p99>+10%"])).crossed());
    }

    #[test]
    fn requests_per_core_is_compared_where_both_runs_measured_it() {
        let base = sample_service_report();
        let mut new = slower(2.0, SVC_ASYNC, 10.0);
        let c = cell(&mut new, SVC_ASYNC, 10.0);
        // The new run's app CPU unmeasured: its requests/s and p99 still judged.
        c.requests_per_core = None;
        c.per_round.iter_mut().for_each(|r| r.requests_per_core = None);
        let c = compare(&base, &new, &gate(&[]));
        let rules: Vec<Rule> = failing(&c).into_iter().map(|x| x.2).collect();
        assert_eq!(rules, [rule("ops/s<-3%", true), rule("p99>+3%", true)], "{}", render_text(&c));
        let note = format!("{SVC_ASYNC} 10 vus: requests/core not compared, the new run did not measure the app's CPU");
        assert!(c.remarks.contains(&note), "{:?}", c.remarks);
        // Asked for explicitly, it cannot be judged.
        let c = compare(&base, &new, &gate(&["requests/core<-5%", "p99>+1000%", "ops/s<-90%"]));
        let rules: Vec<Rule> = failing(&c).into_iter().map(|x| x.2).collect();
        assert_eq!(rules, [Rule::Unjudged(threshold::parse("requests/core<-5%").unwrap())], "{}", render_text(&c));
        // Only requests per core worse: the app costs twice the CPU for the same answers.
        let mut costly = sample_service_report();
        let c = cell(&mut costly, SVC_C, 50.0);
        c.requests_per_core = c.requests_per_core.map(|x| x / 2.0);
        c.per_round.iter_mut().for_each(|r| r.requests_per_core = r.requests_per_core.map(|x| x / 2.0));
        let c = compare(&base, &costly, &gate(&[]));
        assert_eq!(failing(&c), [(SVC_C.to_string(), "50 vus".to_string(), rule("requests/core<-3%", true))]);
        assert!(render_text(&c).contains("requests/core -50.0%"), "{}", render_text(&c));
    }

    #[test]
    fn runs_of_different_kinds_or_services_are_not_comparable() {
        let (calls, svc) = (sample_report(), sample_service_report());
        for (b, n, why) in [
            (
                &svc,
                &calls,
                "the base run is a service run (batch-count, stepping vus), the new run is a run of calls: nothing comparable",
            ),
            (
                &calls,
                &svc,
                "the base run is a run of calls, the new run is a service run (batch-count, stepping vus): nothing comparable",
            ),
        ] {
            let everything = Gate {
                allow_missing: true,
                allow_few_calls: true,
                allow_incomplete: true,
                allow_different: vec![
                    super::super::Difference::Server,
                    super::super::Difference::Nodes,
                    super::super::Difference::Workload,
                ],
                allow_unknown_schema: true,
                ..gate(&[])
            };
            let c = compare(b, n, &everything);
            assert!(c.crossed() && c.cells.is_empty(), "{}", render_text(&c));
            let text = render_text(&c);
            assert!(text.contains(&format!("FAIL {why}")), "{text}");
            assert!(
                text.contains("FAILED: the runs cannot be compared (they measured different things); no cell compared"),
                "{text}"
            );
        }
        let mut open = sample_service_report();
        service(&mut open).step_unit = "req/s".into();
        service(&mut open).load = "open".into();
        let c = compare(&svc, &open, &gate(&[]));
        assert!(c.crossed() && c.cells.is_empty());
        assert!(
            render_text(&c).contains("a closed loop's virtual users are not an open loop's request rates"),
            "{}",
            render_text(&c)
        );
    }

    #[test]
    fn another_scenario_or_steps_fail_unless_another_workload_is_allowed() {
        let base = sample_service_report();
        let workload = Gate { allow_different: vec![super::super::Difference::Workload], ..gate(&[]) };
        let mut other = sample_service_report();
        service(&mut other).scenario = "get-json".into();
        other.workload.operations = vec!["get-json".into()];
        service(&mut other).app_workers = 4;
        let c = compare(&base, &other, &gate(&[]));
        assert!(c.crossed());
        let text = render_text(&c);
        assert!(text.contains("FAIL another workload (scenario batch-count → get-json, app workers 2 → 4)"), "{text}");
        assert!(!text.contains("workload.operations"), "the scenario is named once: {text}");
        assert!(!compare(&base, &other, &workload).crossed());
        // Other steps: listed, and the steps the new run lacks are missing cells.
        let mut steps = sample_service_report();
        service(&mut steps).steps = vec![10.0, 100.0];
        service(&mut steps).cells.iter_mut().filter(|c| c.step == 50.0).for_each(|c| c.step = 100.0);
        let c = compare(&base, &steps, &gate(&[]));
        assert!(render_text(&c).contains("steps 10 vus, 50 vus → 10 vus, 100 vus"), "{}", render_text(&c));
        let c = compare(&base, &steps, &workload);
        assert!(c.crossed() && c.cells.iter().filter(|x| x.failed()).all(|x| x.operation == "50 vus"));
        assert!(!compare(&base, &steps, &Gate { allow_missing: true, ..workload }).crossed());
    }
}
