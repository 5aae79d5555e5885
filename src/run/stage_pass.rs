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
    plan.aim_keys(&mut phase, op);
    if plan.duration.is_none() {
        phase.lengthen =
            Some(engine::Lengthen { own_calls: phase.calls, min_time: plan.min_phase_time, cap: plan.lengthen_cap() });
        phase.in_flight = phase.in_flight.min(u32::try_from(phase.calls).unwrap_or(u32::MAX).max(1));
        phase.calls = phase.calls.max(plan.min_phase_calls);
    }
    phase
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::noop::NoopDriver;
    use crate::engine::PhaseObserver;
    use crate::engine::lane::InProcess;

    /// What a scripted client's stage timers answer.
    #[derive(Clone, Copy, PartialEq)]
    enum Timers {
        /// None at all.
        Absent,
        /// `io`, 1 ms each call made while they were on.
        Counting,
        /// Text that is no Prometheus sample.
        Garbage,
        /// Breaks after the first switch, as a worker that died.
        Breaking,
    }

    /// What the test sees of a scripted lane once the pass is over.
    #[derive(Default)]
    struct Seen {
        on: bool,
        /// Calls made while the timers were on.
        timed: u64,
        switches: u32,
        /// Operations run, in order.
        ran: Vec<Operation>,
    }

    /// A no-op column whose client has the timers `timers`.
    struct Scripted {
        inner: InProcess,
        timers: Timers,
        seen: std::rc::Rc<std::cell::RefCell<Seen>>,
    }

    impl Scripted {
        fn text(&self) -> String {
            let n = self.seen.borrow().timed;
            let m = stage_histogram::STAGE_METRIC;
            let labels = "stage=\"io\",db_operation_name=\"batch_read\"";
            format!(
                "{m}_sum{{{labels}}} {}\n{m}_count{{{labels}}} {n}\n{m}_bucket{{le=\"0.001\",{labels}}} {n}\n\
                 {m}_bucket{{le=\"+Inf\",{labels}}} {n}\n",
                n as f64 * 0.001
            )
        }
    }

    impl Lane for Scripted {
        fn column(&self) -> &Column {
            self.inner.column()
        }

        fn run(&mut self, phase: &Phase, observer: &mut dyn PhaseObserver) -> Result<Measured, String> {
            self.seen.borrow_mut().ran.push(phase.op);
            let m = self.inner.run(phase, observer)?;
            let mut seen = self.seen.borrow_mut();
            if seen.on {
                seen.timed += m.recorder.successes();
            }
            Ok(m)
        }

        fn stage_timers(&mut self, on: bool) -> Result<Option<String>, String> {
            let switches = {
                let mut seen = self.seen.borrow_mut();
                seen.switches += 1;
                seen.switches
            };
            let text = match self.timers {
                Timers::Absent => return Ok(None),
                Timers::Breaking if switches > 1 => return Err("worker killed by signal 9 (SIGKILL)".into()),
                Timers::Garbage => "db_client_internal_stage_seconds_count{stage=\"io\" 3\n".to_string(),
                Timers::Counting | Timers::Breaking => self.text(),
            };
            self.seen.borrow_mut().on = on;
            Ok(Some(text))
        }
    }

    fn plan(ops: &str) -> Plan {
        use clap::Parser as _;
        let args = ["aerobench", "--ops", ops, "--count", "20", "--min-phase-calls", "0", "--min-phase-time", "0"];
        Plan::from_args(&crate::run::cli::Cli::try_parse_from(args).unwrap().bench).unwrap()
    }

    /// Runs the pass on one scripted no-op column; what the lane saw comes back beside it.
    fn pass(plan: &Plan, timers: Timers, measured: &[(String, Measured)]) -> (StagesRun, Seen) {
        let kind = crate::drivers::kind("noop").unwrap();
        let driver = NoopDriver::new(kind, 1, Some(plan.workload.clone()));
        let seen = std::rc::Rc::new(std::cell::RefCell::new(Seen::default()));
        let mut lane: Box<dyn Lane> =
            Box::new(Scripted { inner: InProcess(Box::new(driver)), timers, seen: seen.clone() });
        let column = lane.column().clone();
        let run = run(plan, std::iter::once((&column, &mut lane)), measured, false);
        drop(lane);
        let seen = std::rc::Rc::try_unwrap(seen).ok().expect("the lane is gone").into_inner();
        (run, seen)
    }

    #[test]
    fn each_operation_but_delete_runs_once_more_and_its_own_calls_are_its_table() {
        let plan = plan("get,batch_get,delete");
        let (run, lane) = pass(&plan, Timers::Counting, &[]);
        assert_eq!(lane.ran, [Operation::Get, Operation::BatchGet], "no delete phase");
        let tables: Vec<(&str, u64)> = run.tables.iter().map(|t| (t.operation.as_str(), t.stages[0].count)).collect();
        // Each table holds its own phase's calls only: 20 gets, then 1 batch of 20 keys.
        assert_eq!(tables, [("get", 20), ("batch_get", 1)]);
        assert!(run.notes.is_empty(), "{:?}", run.notes);
        assert!(!lane.on, "the timers are left off");
    }

    #[test]
    fn a_client_without_timers_is_a_note_and_runs_nothing_more() {
        let plan = plan("get");
        let (run, lane) = pass(&plan, Timers::Absent, &[]);
        assert!(lane.ran.is_empty());
        assert!(run.tables.is_empty());
        assert_eq!(run.notes, ["no-op: this client has no internal stage timers"]);
    }

    #[test]
    fn garbage_or_a_broken_lane_is_a_note_not_an_error() {
        let plan = plan("get");
        let (run, _) = pass(&plan, Timers::Garbage, &[]);
        assert!(run.tables.is_empty());
        assert_eq!(run.notes.len(), 1);
        assert!(
            run.notes[0].starts_with("no-op: the stage timers could not be read: line 1 of the client's metrics"),
            "{:?}",
            run.notes
        );
        let (run, _) = pass(&plan, Timers::Breaking, &[]);
        assert!(run.tables.is_empty());
        assert!(run.notes[0].ends_with("could not be read: worker killed by signal 9 (SIGKILL)"), "{:?}", run.notes);
    }

    #[test]
    fn the_timers_cost_is_set_against_the_last_measured_round_and_unsupported_operations_are_skipped() {
        let plan = plan("get,scan");
        let round = |op: Operation, round: u32, successes: u64, unsupported: bool| {
            let mut recorder = crate::engine::stats::Recorder::new();
            for _ in 0..successes {
                recorder.record_ok(std::time::Duration::from_micros(100));
            }
            let m = Measured {
                unsupported: unsupported.then(|| "not supported by the client".to_string()),
                ..Measured::plain(op, round, recorder, 1.0)
            };
            ("noop".to_string(), m)
        };
        let measured = [
            round(Operation::Get, 1, 500, false),
            round(Operation::Get, 2, 800, false),
            round(Operation::Scan, 1, 0, true),
        ];
        let (run, lane) = pass(&plan, Timers::Counting, &measured);
        assert_eq!(lane.ran, [Operation::Get], "the scan the client lacks is not run again");
        let t = &run.tables[0];
        assert_eq!(t.measured_ops_per_sec, Some(800.0), "round 2, the last");
        assert!((t.timers_speed_ratio.unwrap() - t.ops_per_sec / 800.0).abs() < 1e-9);
    }
}
