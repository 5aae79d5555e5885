//! A service run (`--service`), end to end once the server is found: the steps
//! (`run::service_steps`), the slices into cells, saturation points and verdicts
//! (`analysis::service`), and the report around them.

use std::collections::BTreeMap;

use crate::analysis::service as analysis;
use crate::drivers::start::Target;
use crate::model::results::{MachineInfo, RunReport, ServerInfo};
use crate::model::service::ServiceRun;
use crate::run::plan::Plan;
use crate::run::service_plan::{ServicePlan, Steps};

/// Runs the service steps and assembles the report (the caller writes it).
#[allow(clippy::too_many_arguments)]
pub fn run(
    plan: &Plan,
    svc: &ServicePlan,
    target: &Target,
    started_at: String,
    server: ServerInfo,
    machine: MachineInfo,
    min_effect: f64,
    show: bool,
) -> anyhow::Result<RunReport> {
    let outcome = crate::run::service_steps::run(plan, svc, target, show)?;
    let steps = svc.steps.values();
    let ids: Vec<String> = outcome.columns.iter().map(|c| c.id.clone()).collect();
    let floors: BTreeMap<String, String> = svc
        .apps
        .iter()
        .filter(|a| !a.is_floor())
        .map(|a| (a.id.clone(), a.floor_id()))
        .filter(|(_, floor)| ids.contains(floor))
        .collect();
    let floor_ids: Vec<String> = svc.apps.iter().filter(|a| a.is_floor()).map(|a| a.id.clone()).collect();
    let unit = match svc.steps {
        Steps::Closed(_) => "vus",
        Steps::Open { .. } => "req/s",
    };
    let cells = analysis::cells(&ids, &steps, &outcome.slices, &floors);
    let slo_us = svc.slo_p99.map(|d| d.as_secs_f64() * 1e6);
    let saturation = analysis::saturation(&ids, &steps, &cells, unit, slo_us);
    let verdicts = analysis::verdicts(&ids, &floor_ids, svc.baseline.as_deref(), &steps, &cells, min_effect);
    let mut apps = outcome.apps;
    for app in &mut apps {
        if app.over_floor_of.as_ref().is_some_and(|f| !ids.contains(f)) {
            app.over_floor_of = None;
        }
    }
    let service = ServiceRun {
        scenario: svc.scenario.name().to_string(),
        description: svc.scenario.describe(plan.workload.batch_size, svc.gather),
        gather: (svc.scenario == crate::workload::scenario::Scenario::BatchGather).then_some(svc.gather),
        work: svc.work.map(|w| w.name()),
        app_workers: svc.app_workers,
        load: if unit == "vus" { "closed" } else { "open" }.to_string(),
        steps: steps.clone(),
        step_unit: unit.to_string(),
        open_connections: match svc.steps {
            Steps::Open { connections, .. } => Some(connections),
            Steps::Closed(_) => None,
        },
        slice_secs: svc.slice.as_secs_f64(),
        warmup_secs: svc.warmup.as_secs_f64(),
        rounds: svc.rounds,
        timeout_ms: svc.timeout.as_millis() as u64,
        slo_p99_us: slo_us,
        load_generator: outcome.load_generator,
        baseline: svc.baseline.clone().filter(|b| ids.contains(b)),
        columns: apps,
        cells,
        saturation,
        verdicts,
    };
    let calls = crate::run::scheduler::Outcome {
        columns: outcome.columns,
        measured: Vec::new(),
        rounds_completed: outcome.rounds_completed,
        warnings: outcome.warnings,
        incomplete: outcome.incomplete,
        orders: Vec::new(),
        phases: Vec::new(),
        cluster: None,
        stages: None,
        profiles: outcome.profiles,
        settling: None,
    };
    let mut report = super::assemble::assemble(plan, started_at, server, machine, calls, min_effect, None);
    report.workload.operations = vec![svc.scenario.name().to_string()];
    report.workload.pacing = service.load.clone();
    report.workload.rate_per_column = None;
    report.workload.rounds = svc.rounds;
    report.workload.phase_duration_secs = Some(svc.slice.as_secs_f64());
    report.baseline = service.baseline.clone();
    report.floor = None;
    report.ratios.clear();
    report.schedule = None;
    report.service = Some(service);
    Ok(report)
}

/// True when the run failed: a column that did not serve, or a request that failed.
pub fn failed(report: &RunReport) -> bool {
    report.columns.iter().any(|c| c.error.is_some())
        || report.service.as_ref().is_some_and(|s| s.cells.iter().any(|c| c.errors > 0))
}
