//! The engine: runs one column (a client and concurrency model) through every operation of the
//! workload — warm-up first, not recorded, then the measured phase — and turns what was
//! recorded into report cells. It decides order, warm-up, concurrency and timing; drivers only
//! say how to make one call (or, for embedded async clients, run the calls the engine asks for).

pub mod closed_loop;
pub mod stop;

use std::time::{Duration, Instant};

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use crate::drivers::Driver;
use crate::results::Cell;
use crate::stats;
use crate::workload::{Operation, Workload};

use closed_loop::PhaseState;

/// One phase: `calls` calls of `op`, `in_flight` at a time.
#[derive(Debug, Clone)]
pub struct Phase {
    pub op: Operation,
    pub calls: u64,
    pub in_flight: u32,
    /// How long the phase keeps going with errors and no success before it gives up.
    pub patience: Duration,
}

/// Told when measured phases start and end, and when a cell is complete (progress bars, or a
/// worker process reporting to its parent).
pub trait PhaseObserver {
    fn phase_started(&mut self, column: &str, op: Operation, calls: u64, done: Arc<AtomicU64>);
    fn phase_finished(&mut self);
    fn cell_finished(&mut self, _cell: &Cell) {}
}

/// What running one column produced.
#[derive(Debug, Default)]
pub struct ColumnOutcome {
    pub cells: Vec<Cell>,
    /// Set when the column could not go on (its driver failed); cells measured before stay.
    pub error: Option<String>,
}

/// Runs every operation of `workload` on `driver`, in order.
pub fn run_column(
    driver: &mut dyn Driver,
    workload: &Workload,
    ops: &[Operation],
    patience: Duration,
    observer: &mut dyn PhaseObserver,
) -> ColumnOutcome {
    let column = driver.column().clone();
    let mut outcome = ColumnOutcome::default();
    for &op in ops {
        if stop::interrupted() {
            break;
        }
        let in_flight = column.in_flight.max(1);
        let warmup = Phase { op, calls: workload.warmup_calls(op), in_flight, patience };
        if warmup.calls > 0
            && let Err(e) = driver.run_phase(&warmup, PhaseState::new(&warmup))
        {
            outcome.error = Some(format!("{} warm-up failed: {e:#}", op.name()));
            break;
        }
        let phase = Phase { op, calls: workload.calls(op), in_flight, patience };
        let state = PhaseState::new(&phase);
        observer.phase_started(&column.label, op, phase.calls, state.done.clone());
        let started = Instant::now();
        let result = driver.run_phase(&phase, state.clone());
        let wall = started.elapsed();
        observer.phase_finished();
        let rec = state.merged();
        let mut cell = stats::to_cell(&column.id, op.name(), &rec, wall, op.moves_many_records());
        cell.notes = notes(workload, &phase, &rec, &state);
        if rec.count() > 0 || result.is_ok() {
            observer.cell_finished(&cell);
            outcome.cells.push(cell);
        }
        if let Err(e) = result {
            outcome.error = Some(format!("{} failed: {e:#}", op.name()));
            break;
        }
        if let Some(reason @ stop::StopReason::ServerUnresponsive(_)) = state.watchdog.reason() {
            outcome.error = Some(format!("{} {reason}; later operations skipped", op.name()));
            break;
        }
    }
    outcome
}

/// What a reader must know about a measured phase beyond its numbers.
fn notes(workload: &Workload, phase: &Phase, rec: &stats::Recorder, state: &PhaseState) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(reason) = state.watchdog.reason() {
        notes.push(format!("{reason}: {} of {} calls ran", rec.count(), phase.calls));
    }
    let ok = rec.successes();
    match phase.op {
        Operation::BatchGet if ok > 0 => {
            let asked: u64 = if ok == phase.calls { workload.count } else { ok * workload.batch_size as u64 };
            if rec.records() < asked {
                notes.push(format!("batch_get found {} of {} records asked for", rec.records(), asked));
            }
        }
        Operation::Scan if ok > 0 => {
            let per_scan = rec.records() as f64 / ok as f64;
            if per_scan != workload.count as f64 {
                notes.push(format!(
                    "each scan should return the {} records written; scans returned {per_scan:.0} on average{}",
                    workload.count,
                    if per_scan > workload.count as f64 { " (the set holds other records too)" } else { "" }
                ));
            }
        }
        _ => {}
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::noop::NoopDriver;
    use crate::workload::Workload;

    /// An observer that shows nothing.
    struct Silent;

    impl PhaseObserver for Silent {
        fn phase_started(&mut self, _: &str, _: Operation, _: u64, _: Arc<AtomicU64>) {}
        fn phase_finished(&mut self) {}
    }

    fn workload(count: u64, warmup: u64) -> Workload {
        Workload {
            namespace: "test".into(),
            set: "s".into(),
            key_prefix: "t-".into(),
            count,
            batch_size: 10,
            bins: Workload::bins_for(3, 8),
            scans: 2,
            warmup,
        }
    }

    #[test]
    fn warm_up_is_not_counted() {
        let w = workload(50, 30);
        let mut d = NoopDriver::new(crate::drivers::kind("noop").unwrap(), 1, Some(w.clone()));
        let out = run_column(
            &mut d,
            &w,
            &[Operation::Put, Operation::Get, Operation::BatchGet, Operation::Scan],
            Duration::from_secs(5),
            &mut Silent,
        );
        assert!(out.error.is_none());
        let counts: Vec<u64> = out.cells.iter().map(|c| c.count).collect();
        assert_eq!(counts, vec![50, 50, 5, 2]);
        // The driver saw warm-up calls too: 30 + 50 puts, 30 + 50 gets, 3 + 5 batches, 1 + 2 scans.
        assert_eq!(d.calls_seen(), 30 + 50 + 30 + 50 + 3 + 5 + 1 + 2);
        assert!(out.cells.iter().all(|c| c.notes.is_empty()), "{:?}", out.cells);
        assert_eq!(out.cells[2].records, Some(50));
        assert_eq!(out.cells[3].records, Some(100));
    }

    #[test]
    fn concurrent_noop_column_counts_every_call() {
        let w = workload(1000, 0);
        let mut d = NoopDriver::new(crate::drivers::kind("noop-async").unwrap(), 16, Some(w.clone()));
        let out = run_column(&mut d, &w, &[Operation::Get], Duration::from_secs(5), &mut Silent);
        assert_eq!(out.cells[0].count, 1000);
        assert_eq!(d.calls_seen(), 1000);
    }

    #[test]
    fn short_scans_and_batches_are_noted() {
        let w = workload(50, 0);
        let mut short = w.clone();
        short.count = 40;
        let mut d = NoopDriver::new(crate::drivers::kind("noop").unwrap(), 1, Some(short));
        let out = run_column(&mut d, &w, &[Operation::BatchGet, Operation::Scan], Duration::from_secs(5), &mut Silent);
        assert!(out.cells[0].notes[0].contains("found 40 of 50"), "{:?}", out.cells[0].notes);
        assert!(out.cells[1].notes[0].contains("returned 40 on average"), "{:?}", out.cells[1].notes);
    }
}
