//! The engine: runs one phase (a client, an operation, a round) on a driver and hands back what
//! was measured. It decides warm-up, concurrency, deadlines and timing; drivers only say how to
//! make one call (or, for embedded async clients, run the calls the engine hands out). Which
//! phase runs when is the scheduler's business, not the engine's.

pub mod bystanders;
pub mod closed_loop;
pub mod cpu;
pub mod failure;
pub mod lane;
pub mod measured;
pub mod open_loop;
pub mod progress;
pub mod signals;
pub mod stats;
pub mod stop;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::model::results::Column;
use crate::workload::keys::KeyChooser;
use crate::workload::{Operation, Workload};

use closed_loop::PhaseState;
pub use measured::Measured;

/// A connected client, as one report column. Implemented by every driver; the engine runs
/// phases on it.
pub trait Driver {
    /// The column this driver fills: label, client version, concurrency model, policies.
    fn column(&self) -> &Column;

    /// Makes the phase's calls of `phase.op`, `phase.in_flight` at a time, recording each into
    /// `state` — through the closed loops in [`closed_loop`] wherever the client allows. `Err`
    /// means the client itself broke (not that calls failed: those are recorded as errors).
    fn run_phase(&mut self, phase: &Phase, state: Arc<PhaseState>) -> anyhow::Result<()>;

    /// Time spent in the client's garbage collector so far, for clients that have one (Python).
    fn gc_time(&self) -> Option<Duration> {
        None
    }

    /// Switches the client's own stage timers on or off (`--stages`) and returns its metrics
    /// text, read after switching them on or before switching them off; `None` when the client
    /// has no such timers.
    fn stage_timers(&mut self, _on: bool) -> anyhow::Result<Option<String>> {
        Ok(None)
    }
}

/// One phase: calls of `op`, `in_flight` at a time, until `calls` are done or `duration` is up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    pub op: Operation,
    /// Calls to make (the most, when `duration` is set).
    pub calls: u64,
    /// Distinct call indices (records, batches): call `k` uses index `k % space`.
    pub space: u64,
    /// Ends the phase after this long, whatever `calls` says.
    pub duration: Option<Duration>,
    pub in_flight: u32,
    /// How long the phase keeps going with errors and no success before it gives up.
    pub patience: Duration,
    /// How long the column had already gone without a success when this phase began (its
    /// earlier phases count toward `patience`).
    #[serde(default)]
    pub failing_before: Duration,
    /// Measured round, from 1; 0 is the warm-up, which is not recorded.
    pub round: u32,
    /// Calls per second the phase makes in an open loop (`--rate`); `None` for a closed loop.
    #[serde(default)]
    pub rate: Option<f64>,
    /// Which index (of `space`) each call uses: in order, or drawn from a seeded distribution.
    #[serde(default)]
    pub keys: KeyChooser,
    /// Share of the calls that are updates (puts) in a mixed get phase (`--workload
    /// read-update:P`); the drivers tell them by [`crate::workload::mix::UPDATE`] in the call index.
    #[serde(default)]
    pub updates: Option<f64>,
    /// How the phase is lengthened past its operation's own calls (`--min-phase-calls`,
    /// `--min-phase-time`); `None` makes exactly `calls`.
    #[serde(default)]
    pub lengthen: Option<Lengthen>,
}

/// A short phase lengthened, cycling over its indices: it makes `calls` (its own calls raised to
/// the minimum) and goes on until it has run `min_time` since its first call; but once it has
/// made its operation's `own_calls`, it stops at `cap` whatever is left (a few slow scans do not
/// stretch a run).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Lengthen {
    pub own_calls: u64,
    pub min_time: Duration,
    pub cap: Duration,
}

impl Phase {
    /// `calls` calls of `op`, indices 0..calls.
    pub fn counted(op: Operation, calls: u64, in_flight: u32, patience: Duration) -> Phase {
        Phase {
            op,
            calls,
            space: calls,
            duration: None,
            in_flight,
            patience,
            failing_before: Duration::ZERO,
            round: 1,
            rate: None,
            keys: KeyChooser::default(),
            updates: None,
            lengthen: None,
        }
    }

    /// The measured phase of `op` in `round` for `workload`: its calls, or `duration` of calls.
    pub fn measured(
        workload: &Workload,
        op: Operation,
        round: u32,
        duration: Option<Duration>,
        in_flight: u32,
        patience: Duration,
    ) -> Phase {
        let space = workload.calls(op);
        let calls = if duration.is_some() { u64::MAX } else { space };
        Phase {
            op,
            calls,
            space,
            duration,
            in_flight,
            patience,
            failing_before: Duration::ZERO,
            round,
            rate: None,
            keys: KeyChooser::default(),
            updates: None,
            lengthen: None,
        }
    }

    /// The warm-up before the first measured phase of `op` (round 0, not recorded).
    pub fn warmup(workload: &Workload, op: Operation, in_flight: u32, patience: Duration) -> Phase {
        Phase {
            op,
            calls: workload.warmup_calls(op),
            space: workload.calls(op),
            duration: None,
            in_flight,
            patience,
            failing_before: Duration::ZERO,
            round: 0,
            rate: None,
            keys: KeyChooser::default(),
            updates: None,
            lengthen: None,
        }
    }
}

/// Told when phases start and end (progress display, or a worker reporting to its parent).
pub trait PhaseObserver {
    fn phase_started(&mut self, column: &str, phase: &Phase, done: Arc<AtomicU64>);
    fn phase_finished(&mut self);
    /// The state of a phase running in this process, right after `phase_started` (live output
    /// reads interval snapshots from it).
    fn phase_state(&mut self, _state: &Arc<PhaseState>) {}
    /// Everything a phase running elsewhere (a worker process) has recorded so far.
    fn snapshot(&mut self, _so_far: &crate::engine::stats::Recorder) {}
}

/// An observer that shows nothing.
pub struct Silent;

impl PhaseObserver for Silent {
    fn phase_started(&mut self, _: &str, _: &Phase, _: Arc<AtomicU64>) {}
    fn phase_finished(&mut self) {}
}

/// Runs one phase on `driver` and returns what it measured. A driver that broke is reported in
/// [`Measured::driver_error`]; calls measured before that are kept.
pub fn measure(driver: &mut dyn Driver, phase: &Phase, observer: &mut dyn PhaseObserver) -> Measured {
    let state = PhaseState::new(phase);
    let label = driver.column().label.clone();
    observer.phase_started(&label, phase, state.done.clone());
    observer.phase_state(&state);
    let (usage_before, gc_before) = (cpu::process_usage(), driver.gc_time());
    let started = Instant::now();
    let finished = std::sync::atomic::AtomicBool::new(false);
    let result = std::thread::scope(|scope| {
        let monitor = scope.spawn(|| monitor(&state, &finished));
        let result = driver.run_phase(phase, state.clone());
        finished.store(true, std::sync::atomic::Ordering::Relaxed);
        monitor.thread().unpark();
        result
    });
    let wall = started.elapsed();
    let (usage_after, gc_after) = (cpu::process_usage(), driver.gc_time());
    observer.phase_finished();
    // The competing thread (`--cpu-competitor`) is not the client: its own CPU is left out.
    let competitor = state.bystanders.competitor();
    let competitor_cpu = competitor.map_or(0.0, |c| c.cpu_secs);
    let mut measured = Measured {
        cpu_secs: usage_before
            .zip(usage_after)
            .map(|(b, a)| (a.cpu.saturating_sub(b.cpu).as_secs_f64() - competitor_cpu).max(0.0)),
        peak_rss_bytes: usage_after.map(|u| u.peak_rss_bytes),
        gc_secs: gc_before.zip(gc_after).map(|(b, a)| a.saturating_sub(b).as_secs_f64()),
        op: phase.op,
        round: phase.round,
        recorder: state.merged(),
        wall_secs: wall.as_secs_f64(),
        stopped: state.watchdog.reason().map(|r| r.to_string()),
        server_unresponsive: matches!(
            state.watchdog.reason(),
            Some(stop::StopReason::ServerUnresponsive(_) | stop::StopReason::ServerGone(_))
        ),
        driver_error: result.err().map(|e| format!("{e:#}")),
        loop_gaps: state.bystanders.loop_gaps(),
        competitor,
        open_loop: state.open.as_ref().map(|o| o.measured()),
        updates: None,
        unsupported: state.unsupported().map(str::to_string),
    };
    if let (Some(updates), Some(share)) = (state.merged_updates(), phase.updates) {
        // A mixed phase: its updates are a cell of their own, and each kind's share of the rate
        // is its target. The CPU time of the phase is not split between reads and updates, so
        // neither claims it.
        measured.cpu_secs = None;
        // The calls of each kind were due at the rate times the share of the calls they were.
        let all = (measured.recorder.count() + updates.count()).max(1) as f64;
        let share = if all > 1.0 || updates.count() > 0 { updates.count() as f64 / all } else { share };
        if let Some(o) = measured.open_loop.as_mut() {
            o.rate *= 1.0 - share;
        }
        measured.updates = Some(Box::new(Measured {
            op: Operation::Put,
            recorder: updates,
            open_loop: state.open.as_ref().map(|o| {
                let mut m = o.measured_kind(1);
                m.rate *= share;
                m
            }),
            loop_gaps: None,
            competitor: None,
            updates: None,
            ..measured.clone()
        }));
    }
    measured
}

/// While a phase runs: when no call has succeeded for [`stop::CHECK_AFTER`], checks that the
/// server still accepts connections, and stops the phase as soon as it does not (calls stuck
/// inside a client would otherwise only end at their own timeouts).
fn monitor(state: &PhaseState, finished: &std::sync::atomic::AtomicBool) {
    let mut next_check = Instant::now();
    while !finished.load(std::sync::atomic::Ordering::Relaxed) && !state.watchdog.should_stop() {
        let now = Instant::now();
        if now >= next_check && state.watchdog.without_success(now) >= stop::CHECK_AFTER {
            if let Err(what) = stop::check_server(Duration::from_millis(500)) {
                state.watchdog.gone(&what);
                return;
            }
            next_check = Instant::now() + Duration::from_millis(250);
        }
        std::thread::park_timeout(Duration::from_millis(100));
    }
}

/// What a phase measured up to now, for a phase whose calls are stuck inside a client after the
/// watchdog stopped it: the calls still inside are counted abandoned and nothing after this is
/// recorded. No CPU or garbage-collection figures: the phase did not end.
pub fn abandoned(phase: &Phase, state: &PhaseState, wall: Duration) -> Measured {
    state.abandon_rest();
    let mut measured = Measured {
        cpu_secs: None,
        peak_rss_bytes: None,
        gc_secs: None,
        op: phase.op,
        round: phase.round,
        recorder: state.merged(),
        wall_secs: wall.as_secs_f64(),
        stopped: state.watchdog.reason().map(|r| r.to_string()),
        server_unresponsive: state.watchdog.tripped(),
        driver_error: None,
        loop_gaps: None,
        competitor: None,
        open_loop: state.open.as_ref().map(|o| o.measured()),
        updates: None,
        unsupported: state.unsupported().map(str::to_string),
    };
    if let Some(updates) = state.merged_updates() {
        let open_loop = state.open.as_ref().map(|o| o.measured_kind(1));
        measured.updates =
            Some(Box::new(Measured { op: Operation::Put, recorder: updates, open_loop, ..measured.clone() }));
    }
    measured
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::noop::NoopDriver;

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
            seed: 0,
            read_bins: None,
        }
    }

    #[test]
    fn measured_phases_count_their_calls_and_warm_up_is_its_own_phase() {
        let w = workload(50, 30);
        let mut d = NoopDriver::new(crate::drivers::kind("noop").unwrap(), 1, Some(w.clone()));
        let p = Duration::from_secs(5);
        let mut counts = Vec::new();
        for op in [Operation::Put, Operation::Get, Operation::BatchGet, Operation::Scan] {
            let warm = measure(&mut d, &Phase::warmup(&w, op, 1, p), &mut Silent);
            assert_eq!(warm.round, 0);
            let m = measure(&mut d, &Phase::measured(&w, op, 1, None, 1, p), &mut Silent);
            assert!(m.driver_error.is_none() && m.stopped.is_none());
            counts.push(m.recorder.count());
            if op == Operation::BatchGet {
                assert_eq!(m.recorder.records(), 50);
            }
        }
        assert_eq!(counts, vec![50, 50, 5, 2]);
        // The driver saw warm-up calls too: 30 + 50 puts, 30 + 50 gets, 3 + 5 batches, 1 + 2 scans.
        assert_eq!(d.calls_seen(), 30 + 50 + 30 + 50 + 3 + 5 + 1 + 2);
    }

    #[test]
    fn concurrent_noop_column_counts_every_call() {
        let w = workload(1000, 0);
        let mut d = NoopDriver::new(crate::drivers::kind("noop-async").unwrap(), 16, Some(w.clone()));
        let m = measure(&mut d, &Phase::measured(&w, Operation::Get, 1, None, 16, Duration::from_secs(5)), &mut Silent);
        assert_eq!(m.recorder.count(), 1000);
        assert_eq!(d.calls_seen(), 1000);
    }

    #[test]
    fn a_phase_makes_its_minimum_calls_and_runs_its_minimum_time() {
        let w = workload(10, 0);
        let mut d = NoopDriver::new(crate::drivers::kind("noop").unwrap(), 1, Some(w.clone()));
        let mut phase = Phase::measured(&w, Operation::BatchGet, 1, None, 1, Duration::from_secs(5));
        assert_eq!(phase.calls, 1, "10 records in batches of 10");
        phase.calls = 100;
        let m = measure(&mut d, &phase, &mut Silent);
        assert_eq!(m.recorder.count(), 100, "cycling over the one batch");
        assert_eq!(m.recorder.records(), 1_000);
        let lengthen = Lengthen { own_calls: 1, min_time: Duration::from_millis(60), cap: Duration::from_secs(5) };
        phase.lengthen = Some(lengthen);
        let m = measure(&mut d, &phase, &mut Silent);
        assert!(m.wall_secs >= 0.055 && m.wall_secs < 2.0, "{}", m.wall_secs);
        assert!(m.recorder.count() > 100, "instant calls go on until the minimum time: {}", m.recorder.count());
        // Calls of 5 ms: the cap (past the one own call) ends the phase short of its 100 calls.
        let mut slow = NoopDriver::new(crate::drivers::kind("noop").unwrap(), 1, Some(w.clone()))
            .with_delay(Duration::from_millis(5));
        phase.lengthen = Some(Lengthen { cap: Duration::from_millis(100), ..lengthen });
        let m = measure(&mut slow, &phase, &mut Silent);
        // At most 20 calls of 5 ms fit in 100 ms (a few more as a sleep's end and the cap's check
        // meet); a busy machine's late wake-ups make fewer, never the 100.
        assert!((1..=25).contains(&m.recorder.count()), "{} calls of 5 ms in 100 ms", m.recorder.count());
        // Without a minimum time and within the cap, the phase makes exactly its calls.
        phase.lengthen = Some(Lengthen { min_time: Duration::ZERO, ..lengthen });
        let m = measure(&mut d, &phase, &mut Silent);
        assert_eq!(m.recorder.count(), 100);
    }

    #[test]
    fn a_duration_phase_runs_until_its_deadline() {
        let w = workload(10, 0);
        let mut d = NoopDriver::new(crate::drivers::kind("noop").unwrap(), 1, Some(w.clone()));
        let phase = Phase::measured(&w, Operation::Get, 1, Some(Duration::from_millis(100)), 1, Duration::from_secs(5));
        let m = measure(&mut d, &phase, &mut Silent);
        assert!(m.wall_secs >= 0.095 && m.wall_secs < 1.0, "{}", m.wall_secs);
        // Instant calls for 100 ms: far more than the 10 distinct records, which wrap around.
        assert!(m.recorder.count() > 1_000, "{}", m.recorder.count());
    }
}
