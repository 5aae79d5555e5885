//! The extra phases of `--stages`, after the measured rounds: for every column whose client has
//! its own stage timers, each operation once more with them switched on, the client's metrics
//! read before and after (they count from the process's start, so the pass is the difference).
//! What these phases measure counts in no cell and no verdict (the timers cost time); their ops/s
//! is set against the column's last measured round to say how much. A column without timers,
//! or whose lane breaks here, gets a note: what the rounds measured stays as it was.

use crate::analysis::stage_histogram;
use crate::analysis::stages::{self, PassCalls};
use crate::engine::lane::Lane;
use crate::engine::progress;
use crate::engine::{self, Measured, Phase, stop};
use crate::model::results::Column;
use crate::model::stages::StagesRun;
use crate::run::plan::Plan;
use crate::workload::Operation;

/// Runs the extra phases on every lane still up (`lanes`: each column with its lane) and builds
/// the stage tables; `measured` is what the rounds measured (for the timers' cost).
pub fn run<'a>(
    plan: &Plan,
    lanes: impl Iterator<Item = (&'a Column, &'a mut Box<dyn Lane>)>,
    measured: &[(String, Measured)],
    show: bool,
) -> StagesRun {
    let mut run = StagesRun::default();
    for (column, lane) in lanes {
        if stop::interrupted() {
            break;
        }
        if let Err(why) = column_pass(plan, column, lane.as_mut(), measured, show, &mut run) {
            run.notes.push(format!("{}: the stage timers could not be read: {why}", column.label));
        }
    }
    let kind = |id: &str| plan.columns.iter().find(|pc| pc.id == id).map(|pc| pc.kind.name);
    run.comparisons = stages::comparisons(&run.tables, |a, b| kind(a).is_some() && kind(a) == kind(b));
    run
}

/// One column's extra phases: a note when its client has no timers, else a table per operation.
fn column_pass(
    plan: &Plan,
    column: &Column,
    lane: &mut dyn Lane,
    measured: &[(String, Measured)],
    show: bool,
    run: &mut StagesRun,
) -> Result<(), String> {
    // Asking to switch them on is also how a client says it has none.
    if lane.stage_timers(true)?.is_none() {
        run.notes.push(format!("{}: {} has no internal stage timers", column.label, client(column)));
        return Ok(());
    }
    // Off between phases, so each phase's reading holds its own calls only.
    lane.stage_timers(false)?;
    for &op in &plan.ops {
        if stop::interrupted() {
            break;
        }
        let last = last_round(measured, &column.id, op);
        // A delete deletes each record once; an operation the client lacks was run once already.
        if op == Operation::Delete || last.is_some_and(|m| m.unsupported.is_some()) {
            continue;
        }
        let phase = phase(plan, op, column.in_flight.max(1));
        let spin = progress::spinner(show, format!("{} {}: stage timers on", column.label, op.name()));
        let before = lane.stage_timers(true)?.unwrap_or_default();
        let ran = lane.run(&phase, &mut engine::Silent);
        let after = lane.stage_timers(false);
        spin.finish_and_clear();
        let m = ran?;
        let after = after?.unwrap_or_default();
        let recorded = stage_histogram::parse(&before)
            .and_then(|before| stage_histogram::since(&stage_histogram::parse(&after)?, &before))
            .map_err(|e| e.to_string())?;
        if recorded.is_empty() {
            run.notes.push(format!(
                "{}: {} recorded no stage during its {} phase",
                column.label,
                client(column),
                op.name()
            ));
            continue;
        }
        let hist = m.recorder.histogram();
        let pass = PassCalls {
            calls: m.recorder.successes(),
            call_secs_total: hist.mean() * hist.len() as f64 / 1e9,
            ops_per_sec: if m.wall_secs > 0.0 { m.recorder.successes() as f64 / m.wall_secs } else { 0.0 },
        };
        // Paced rounds (--rate) make the rate asked for, timers or not: no cost to read there.
        let measured_ops = last
            .filter(|m| m.wall_secs > 0.0 && plan.rate.is_none())
            .map(|m| m.recorder.successes() as f64 / m.wall_secs);
        run.tables.push(stages::table(&column.id, op.name(), pass, measured_ops, &recorded));
    }
    Ok(())
}

/// The client and its version, as a note names them (a Python package's name and version; the
/// column's own name for the others).
fn client(column: &Column) -> String {
    match column.python_version {
        Some(_) if !column.client_version.is_empty() && column.client_version != "-" => {
            format!("{} {}", column.client, column.client_version)
        }
        _ => "this client".to_string(),
    }
}

/// The column's last measured round of `op`, if it ran.
fn last_round<'a>(measured: &'a [(String, Measured)], column: &str, op: Operation) -> Option<&'a Measured> {
    measured.iter().filter(|(id, m)| id == column && m.op == op).map(|(_, m)| m).max_by_key(|m| m.round)
}

/// An extra phase of `op`, as long as a measured one: the same calls, lengthened the same way,
/// at the same rate and over the same keys.
fn phase(plan: &Plan, op: Operation, in_flight: u32) -> Phase {
    let mut phase = Phase::measured(&plan.workload, op, plan.rounds + 1, plan.duration, in_flight, plan.patience);
    phase.rate = plan.rate;
    if matches!(
        op,
        Operation::Put
            | Operation::Get
            | Operation::Exists
            | Operation::Touch
            | Operation::Operate
            | Operation::ReadModifyWrite
            | Operation::Update
    ) {
        phase.keys = plan.keys;
        phase.space = phase.space.min(plan.key_space);
    }
    if op == Operation::Get {
        phase.updates = plan.updates();
    }
    if plan.duration.is_none() {
        phase.lengthen =
            Some(engine::Lengthen { own_calls: phase.calls, min_time: plan.min_phase_time, cap: plan.lengthen_cap() });
        phase.in_flight = phase.in_flight.min(u32::try_from(phase.calls).unwrap_or(u32::MAX).max(1));
        phase.calls = phase.calls.max(plan.min_phase_calls);
    }
    phase
}
