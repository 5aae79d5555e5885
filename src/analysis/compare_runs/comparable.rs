//! Whether two runs can be compared at all, before any cell is: a new run that is incomplete or
//! interrupted, that ran against another kind of server or another number of nodes, with
//! another workload, or a report whose `schema_version` this aerobench does not know cannot be
//! judged, so the gate fails it (each loosened on purpose with `--allow-incomplete`,
//! `--allow-different server|nodes|workload`, `--allow-unknown-schema`). What differs without
//! making the figures incomparable (the server's build, a base run cut short) is a note. A run
//! of calls and a service run, or service runs stepped in different units (virtual users, request
//! rates), measured different things: nothing lets those pass. Two service runs must also agree
//! on the service: scenario, gathered batches, app work, app workers, steps... (`--allow-different
//! workload`).

use crate::model::results::{RunReport, SCHEMA_VERSION};
use crate::model::service::ServiceRun;

use super::{Check, Gate, Rule};

/// A difference between the runs that `--allow-different` can let pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Difference {
    /// One run against aerobench's built-in server, the other against a real one.
    Server,
    /// Another number of nodes in the cluster.
    Nodes,
    /// Another workload: operations, record, count, concurrency, pacing, keys...
    Workload,
}

impl Difference {
    pub fn name(self) -> &'static str {
        match self {
            Difference::Server => "server",
            Difference::Nodes => "nodes",
            Difference::Workload => "workload",
        }
    }
}

/// The run-wide checks of the gate, and notes on what differs without failing it.
pub fn run_checks(base: &RunReport, new: &RunReport, gate: &Gate) -> (Vec<Check>, Vec<String>) {
    let mut checks = Vec::new();
    let mut notes = Vec::new();
    let kind = kind_check(base, new);
    let same_kind = kind.passed;
    checks.push(kind);
    checks.push(schema_check(base, new, gate));
    checks.push(completeness_check(new, gate));
    if let Some(why) = incomplete(base) {
        notes.push(format!("the base run {why}: only what it measured is compared"));
    }
    checks.push(server_check(base, new, gate));
    let (nodes, note) = nodes_check(base, new, gate);
    checks.push(nodes);
    notes.extend(note);
    if same_kind {
        checks.push(workload_check(base, new, gate));
    }
    if base.server.build != new.server.build || base.server.edition != new.server.edition {
        notes.push(format!(
            "the server differs: {} {} in the base run, {} {} in the new one",
            base.server.edition, base.server.build, new.server.edition, new.server.build
        ));
    }
    (checks, notes)
}

/// What a run measured, in words: `a run of calls`, `a service run (batch-count, stepping vus)`.
fn kind(r: &RunReport) -> String {
    match &r.service {
        None => "a run of calls".to_string(),
        Some(s) => format!("a service run ({}, stepping {})", s.scenario, s.step_unit),
    }
}

/// Passes when both runs measured calls, or both a service stepped in the same unit.
fn kind_check(base: &RunReport, new: &RunReport) -> Check {
    let rule = Rule::Kind;
    let unit = |r: &RunReport| r.service.as_ref().map(|s| s.step_unit.clone());
    if unit(base) == unit(new) {
        let both = match &base.service {
            None => "both runs of calls".to_string(),
            Some(s) => format!("both service runs stepping {}", s.step_unit),
        };
        return Check { rule, passed: true, why: both };
    }
    let why = match (&base.service, &new.service) {
        (Some(_), Some(_)) => " (a closed loop's virtual users are not an open loop's request rates)",
        _ => "",
    };
    Check {
        rule,
        passed: false,
        why: format!("the base run is {}, the new run is {}: nothing comparable{why}", kind(base), kind(new)),
    }
}

/// Passes when allowed, saying so; fails otherwise, saying how to allow it.
fn allowable(rule: Rule, allowed: bool, what: String, option: &str) -> Check {
    if allowed {
        Check { rule, passed: true, why: format!("{what} (allowed: {option})") }
    } else {
        Check { rule, passed: false, why: format!("{what}: the figures cannot be compared ({option} lets it pass)") }
    }
}

fn schema_check(base: &RunReport, new: &RunReport, gate: &Gate) -> Check {
    let rule = Rule::UnknownSchema;
    let unknown: Vec<String> = [("base", base), ("new", new)]
        .iter()
        .filter(|(_, r)| r.schema_version != SCHEMA_VERSION)
        .map(|(which, r)| format!("the {which} run has schema_version {}", r.schema_version))
        .collect();
    if unknown.is_empty() {
        return Check { rule, passed: true, why: format!("schema_version {SCHEMA_VERSION} in both runs") };
    }
    let what = format!(
        "{}, which this aerobench ({}) does not know (it writes and reads {SCHEMA_VERSION}): its fields may mean \
         something else; compare with the aerobench that wrote it",
        unknown.join(" and "),
        env!("CARGO_PKG_VERSION")
    );
    allowable(rule, gate.allow_unknown_schema, what, "--allow-unknown-schema")
}

/// Why a run did not measure all it was asked to, if it did not.
fn incomplete(r: &RunReport) -> Option<String> {
    let mut why = Vec::new();
    if let Some(reason) = &r.incomplete {
        why.push(format!("is incomplete ({reason})"));
    }
    if r.interrupted {
        why.push("was interrupted (Ctrl-C)".to_string());
    }
    // A run of --stop settled ends when its verdicts settle or its budget is spent: short of its
    // cap of rounds, but complete unless it was stopped early.
    let stopped_early = r.workload.stopping.as_ref().and_then(|s| s.ended.as_deref()) == Some("stopped_early")
        || r.interrupted
        || r.incomplete.is_some();
    if r.workload.rounds_completed < r.workload.rounds && (!r.workload.until_settled() || stopped_early) {
        why.push(format!("completed {} of {} rounds", r.workload.rounds_completed, r.workload.rounds));
    }
    (!why.is_empty()).then(|| why.join(", "))
}

fn completeness_check(new: &RunReport, gate: &Gate) -> Check {
    let rule = Rule::Incomplete;
    match incomplete(new) {
        None => Check { rule, passed: true, why: "the new run completed every round".into() },
        Some(why) => allowable(rule, gate.allow_incomplete, format!("the new run {why}"), "--allow-incomplete"),
    }
}

fn server_kind(r: &RunReport) -> &'static str {
    if r.server.builtin { "aerobench's built-in server" } else { "a real server" }
}

fn server_check(base: &RunReport, new: &RunReport, gate: &Gate) -> Check {
    let rule = Rule::Different(Difference::Server);
    if base.server.builtin == new.server.builtin {
        return Check { rule, passed: true, why: format!("both runs against {}", server_kind(base)) };
    }
    let what = format!("the base run ran against {}, the new one against {}", server_kind(base), server_kind(new));
    allowable(rule, gate.allows(Difference::Server), what, "--allow-different server")
}

fn nodes_check(base: &RunReport, new: &RunReport, gate: &Gate) -> (Check, Option<String>) {
    let rule = Rule::Different(Difference::Nodes);
    let (a, b) = (base.server.nodes.len(), new.server.nodes.len());
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    if a == 0 || b == 0 {
        let which = if a == 0 { "base" } else { "new" };
        let why = format!("node count not compared: the {which} run's report does not record the cluster's nodes");
        return (Check { rule, passed: true, why: why.clone() }, Some(why));
    }
    if a == b {
        return (Check { rule, passed: true, why: format!("{a} node{} in both runs", plural(a)) }, None);
    }
    let what = format!("the base run's cluster had {a} node{}, the new one's {b}", plural(a));
    (allowable(rule, gate.allows(Difference::Nodes), what, "--allow-different nodes"), None)
}

/// The workload fields the runs must agree on: all of `merge`'s but the rounds asked for and how
/// they were chosen (`stopping`: rounds the new run lacks fail as missing; more rounds measure
/// the same thing more often; a settled run's cells each stop at their own round). Service
/// runs: the service's own fields too, their scenario and load named once, as the service's.
fn workload_differences(base: &RunReport, new: &RunReport) -> Vec<String> {
    let (mut wa, mut wb) = (
        crate::analysis::merge::comparable_workload(&base.workload),
        crate::analysis::merge::comparable_workload(&new.workload),
    );
    let mut out = Vec::new();
    if let (Some(a), Some(b)) = (&base.service, &new.service) {
        out.extend(service_differences(a, b));
        for field in ["operations", "pacing"] {
            wa.remove(field);
            wb.remove(field);
        }
    }
    for field in ["rounds", "stopping"] {
        wa.remove(field);
        wb.remove(field);
    }
    for (field, a) in wa.iter() {
        let b = wb.get(field).cloned().unwrap_or(serde_json::Value::Null);
        if *a != b {
            out.push(format!("workload.{field} {a} → {b}"));
        }
    }
    for (field, b) in wb.iter().filter(|(f, _)| !wa.contains_key(f.as_str())) {
        out.push(format!("workload.{field} null → {b}"));
    }
    out
}

/// What two service runs served and how they were loaded, where it differs (the step unit is
/// `kind_check`'s; the rounds may differ, as for calls).
fn service_differences(a: &ServiceRun, b: &ServiceRun) -> Vec<String> {
    let steps = |s: &ServiceRun| {
        let steps: Vec<String> = s.steps.iter().map(|x| s.step_label(*x)).collect();
        steps.join(", ")
    };
    let optional = |x: Option<String>| x.unwrap_or_else(|| "none".into());
    let fields = [
        ("scenario", a.scenario.clone(), b.scenario.clone()),
        ("gathered batches", optional(a.gather.map(|g| g.to_string())), optional(b.gather.map(|g| g.to_string()))),
        ("app work", optional(a.work.clone()), optional(b.work.clone())),
        ("app workers", a.app_workers.to_string(), b.app_workers.to_string()),
        ("steps", steps(a), steps(b)),
        (
            "open-loop connections",
            optional(a.open_connections.map(|c| c.to_string())),
            optional(b.open_connections.map(|c| c.to_string())),
        ),
        ("warm-up", format!("{} s", a.warmup_secs), format!("{} s", b.warmup_secs)),
        ("request timeout", format!("{} ms", a.timeout_ms), format!("{} ms", b.timeout_ms)),
    ];
    fields.into_iter().filter(|(_, x, y)| x != y).map(|(field, x, y)| format!("{field} {x} → {y}")).collect()
}

fn workload_check(base: &RunReport, new: &RunReport, gate: &Gate) -> Check {
    let rule = Rule::Different(Difference::Workload);
    let differences = workload_differences(base, new);
    if differences.is_empty() {
        return Check { rule, passed: true, why: "the same workload".into() };
    }
    let what = format!("another workload ({})", differences.join(", "));
    allowable(rule, gate.allows(Difference::Workload), what, "--allow-different workload")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_report;

    fn failing(base: &RunReport, new: &RunReport, gate: &Gate) -> Vec<Rule> {
        run_checks(base, new, gate).0.into_iter().filter(|c| !c.passed).map(|c| c.rule).collect()
    }

    #[test]
    fn a_run_against_itself_is_comparable() {
        let r = sample_report();
        assert!(failing(&r, &r, &Gate::default()).is_empty());
    }

    #[test]
    fn each_incomparable_run_fails_and_its_option_lets_it_pass() {
        let base = sample_report();
        type Case = (fn(&mut RunReport), Rule, Gate);
        let cases: [Case; 6] = [
            (
                |r| r.incomplete = Some("the server died".into()),
                Rule::Incomplete,
                Gate { allow_incomplete: true, ..Gate::default() },
            ),
            (|r| r.interrupted = true, Rule::Incomplete, Gate { allow_incomplete: true, ..Gate::default() }),
            (
                |r| r.server.builtin = false,
                Rule::Different(Difference::Server),
                Gate { allow_different: vec![Difference::Server], ..Gate::default() },
            ),
            (
                |r| r.workload.concurrency += 1,
                Rule::Different(Difference::Workload),
                Gate { allow_different: vec![Difference::Workload], ..Gate::default() },
            ),
            (
                |r| r.schema_version = SCHEMA_VERSION + 1,
                Rule::UnknownSchema,
                Gate { allow_unknown_schema: true, ..Gate::default() },
            ),
            (
                |r| r.workload.rounds_completed = r.workload.rounds - 1,
                Rule::Incomplete,
                Gate { allow_incomplete: true, ..Gate::default() },
            ),
        ];
        for (edit, rule, loose) in cases {
            let mut new = sample_report();
            edit(&mut new);
            assert_eq!(failing(&base, &new, &Gate::default()), [rule]);
            assert!(failing(&base, &new, &loose).is_empty(), "{rule:?}");
        }
        // Nodes: compared when both reports record them.
        let (mut one, mut three) = (sample_report(), sample_report());
        one.server.nodes = vec!["A".into()];
        three.server.nodes = vec!["A".into(), "B".into(), "C".into()];
        assert_eq!(failing(&one, &three, &Gate::default()), [Rule::Different(Difference::Nodes)]);
        let (checks, notes) = run_checks(&base, &three, &Gate::default());
        assert!(checks.iter().all(|c| c.passed) && notes[0].contains("node count not compared"), "{notes:?}");
        // More rounds measure the same workload.
        let mut more = sample_report();
        more.workload.rounds += 2;
        more.workload.rounds_completed += 2;
        assert!(failing(&base, &more, &Gate::default()).is_empty());
    }

    #[test]
    fn a_settled_run_short_of_its_cap_is_complete_unless_it_was_stopped_early() {
        let base = sample_report();
        let settled = |ended: &str| {
            let mut r = sample_report();
            r.workload.rounds = 30;
            r.workload.stopping = Some(crate::model::results::Stopping {
                mode: "settled".into(),
                interval: "confidence-sequence".into(),
                method: None,
                prior_g: Some(20.0),
                first_look: Some(3),
                budget_secs: Some(20.0),
                spent_secs: Some(4.2),
                ended: Some(ended.into()),
                cells: Vec::new(),
            });
            r
        };
        for ended in ["settled", "budget"] {
            assert!(failing(&base, &settled(ended), &Gate::default()).is_empty(), "{ended}");
        }
        assert_eq!(failing(&base, &settled("stopped_early"), &Gate::default()), [Rule::Incomplete]);
    }
}
