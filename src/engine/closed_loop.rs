//! Closed-loop execution: `in_flight` workers each take the next call index, prepare the call
//! (key, bins: untimed), time the call from submission to completion, and record it; a new call
//! starts only when one finishes. The engine owns the timing here, whatever the driver. Async
//! for tokio drivers, blocking for drivers that can only make one call at a time. A phase ends
//! after its calls, at its deadline (`--duration`), on Ctrl-C, or when the server stops answering.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::stats::Recorder;

use super::Phase;
use super::bystanders::Bystanders;
use super::stop::Watchdog;

/// What one call did: records moved, or why it failed.
pub type CallResult = Result<u64, CallError>;

/// A failed call. `reason` groups errors in the report, so keep it short and stable
/// (a result code or an error kind, not a message with addresses or ids in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    pub reason: String,
}

impl CallError {
    pub fn new(reason: impl Into<String>) -> CallError {
        CallError { reason: reason.into() }
    }
}

/// Shared state of one phase's workers.
pub struct PhaseState {
    next: AtomicU64,
    /// Calls in the phase (the most, with a deadline).
    calls: u64,
    /// Distinct call indices: call `k` uses index `k % space`.
    space: u64,
    /// `--duration`: the phase ends this long after its first call was taken.
    duration: Option<Duration>,
    first_call: OnceLock<Instant>,
    /// Calls finished, for progress display.
    pub done: Arc<AtomicU64>,
    pub watchdog: Watchdog,
    /// A failure reported as a timeout sooner than this was no timeout (see `failure::relabel`).
    fast_failure: std::time::Duration,
    shards: Vec<Mutex<Recorder>>,
    /// Other work in the process, measured while the calls run.
    pub bystanders: Bystanders,
}

impl PhaseState {
    pub fn new(phase: &Phase) -> Arc<PhaseState> {
        // A few shards keep workers from waiting on each other without one histogram each.
        let shards = (phase.in_flight as usize).clamp(1, 16);
        Arc::new(PhaseState {
            next: AtomicU64::new(0),
            calls: phase.calls,
            space: phase.space.max(1),
            duration: phase.duration,
            first_call: OnceLock::new(),
            done: Arc::new(AtomicU64::new(0)),
            watchdog: Watchdog::continuing(phase.patience, phase.failing_before),
            // The patience is at least two timeouts: a twentieth is under a tenth of one.
            fast_failure: phase.patience / 20,
            shards: (0..shards).map(|_| Mutex::new(Recorder::new())).collect(),
            bystanders: Bystanders::default(),
        })
    }

    /// The next call index for a worker, or `None` when the phase is over.
    pub fn take(&self) -> Option<u64> {
        if self.watchdog.should_stop() || self.past_deadline() {
            return None;
        }
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        (k < self.calls).then_some(k % self.space)
    }

    /// Whether the phase has run for its `--duration`, counted from its first call (not from
    /// when the state was made: a busy machine may take a while to start the workers).
    fn past_deadline(&self) -> bool {
        self.duration.is_some_and(|d| Instant::now() >= *self.first_call.get_or_init(Instant::now) + d)
    }

    /// Records one call that finished now; `worker` picks the shard.
    pub fn record(&self, worker: usize, started: Instant, result: &CallResult) {
        self.record_at(worker, started, Instant::now(), result);
    }

    /// Records one call that ran from `started` to `finished`.
    pub fn record_at(&self, worker: usize, started: Instant, finished: Instant, result: &CallResult) {
        let latency = finished.saturating_duration_since(started);
        let mut rec = self.shards[worker % self.shards.len()].lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(records) => {
                rec.record_ok(latency);
                rec.add_records(*records);
                drop(rec);
                self.watchdog.ok(finished);
            }
            Err(e) => {
                let reason = super::failure::relabel(&e.reason, latency, self.fast_failure);
                rec.record_error(latency, &reason);
                drop(rec);
                self.watchdog.failed(finished, &reason);
            }
        }
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    /// Everything the workers recorded, merged.
    pub fn merged(&self) -> Recorder {
        let mut all = Recorder::new();
        for s in &self.shards {
            all.merge(&s.lock().unwrap_or_else(|e| e.into_inner()));
        }
        all
    }
}

/// Runs the phase's calls, `phase.in_flight` at a time, on the current tokio runtime:
/// `prepare(i)` outside the timed region, then `call` on what it made, timed.
pub async fn run_async<P, Prep, F, Fut>(phase: &Phase, state: Arc<PhaseState>, prepare: Prep, call: F)
where
    Prep: Fn(u64) -> Result<P, CallError> + Send + Sync + 'static,
    F: Fn(P) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = CallResult> + Send + 'static,
    P: Send + 'static,
{
    let prepare = Arc::new(prepare);
    let call = Arc::new(call);
    let workers = (phase.in_flight as u64).min(phase.calls.max(1)) as usize;
    let mut handles = Vec::with_capacity(workers);
    for worker in 0..workers {
        let state = state.clone();
        let (prepare, call) = (prepare.clone(), call.clone());
        handles.push(tokio::spawn(async move {
            while let Some(i) = state.take() {
                let prepared = prepare(i);
                let started = Instant::now();
                let result = match prepared {
                    Ok(p) => call(p).await,
                    Err(e) => Err(e),
                };
                state.record(worker, started, &result);
            }
        }));
    }
    for h in handles {
        // A panicking call is a bug in a driver: surface it rather than hide it.
        if let Err(e) = h.await
            && e.is_panic()
        {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

/// Runs the phase's calls one after another on this thread: `prepare(i)` untimed, then `call`
/// on what it made, timed.
pub fn run_blocking<P>(
    state: &PhaseState,
    prepare: impl FnMut(u64) -> Result<P, CallError>,
    call: impl FnMut(P) -> CallResult,
) {
    run_blocking_counted(state, 0, prepare, call, |n| n);
}

/// Like [`run_blocking`], for a call whose result is counted after the timed region:
/// `count(result)` says how many records it moved. `worker` numbers the thread when several run
/// the same phase (one call in flight each).
pub fn run_blocking_counted<P, R>(
    state: &PhaseState,
    worker: usize,
    mut prepare: impl FnMut(u64) -> Result<P, CallError>,
    mut call: impl FnMut(P) -> Result<R, CallError>,
    mut count: impl FnMut(R) -> u64,
) {
    while let Some(i) = state.take() {
        let prepared = prepare(i);
        let started = Instant::now();
        let result = match prepared {
            Ok(p) => call(p),
            Err(e) => Err(e),
        };
        let finished = Instant::now();
        state.record_at(worker, started, finished, &result.map(&mut count));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Operation;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    fn phase(calls: u64, in_flight: u32) -> Phase {
        Phase::counted(Operation::Get, calls, in_flight, Duration::from_secs(10))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn async_loop_runs_every_call_once_with_bounded_concurrency() {
        let p = phase(500, 8);
        let state = PhaseState::new(&p);
        let current = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(vec![0u8; 500]));
        let (c, pk, s) = (current.clone(), peak.clone(), seen.clone());
        run_async(&p, state.clone(), Ok, move |i| {
            let (c, pk, s) = (c.clone(), pk.clone(), s.clone());
            async move {
                let now = c.fetch_add(1, Ordering::SeqCst) + 1;
                pk.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_micros(200)).await;
                s.lock().unwrap()[i as usize] += 1;
                c.fetch_sub(1, Ordering::SeqCst);
                if i % 100 == 0 { Err(CallError::new("rc 2")) } else { Ok(1) }
            }
        })
        .await;
        assert!(seen.lock().unwrap().iter().all(|&n| n == 1));
        assert_eq!(peak.load(Ordering::SeqCst), 8, "exactly in_flight calls overlap");
        let rec = state.merged();
        assert_eq!((rec.count(), rec.errors(), rec.records()), (500, 5, 495));
        assert_eq!(rec.errors_by_reason().get("rc 2"), Some(&5));
        // Latency is per call (≥ the 200 µs sleep), not wall time divided by count.
        assert!(crate::stats::summarize(rec.histogram()).min >= 200.0);
    }

    #[test]
    fn preparation_is_not_timed_and_indices_wrap() {
        let mut p = phase(6, 1);
        p.space = 4;
        let state = PhaseState::new(&p);
        let mut seen = Vec::new();
        run_blocking(
            &state,
            |i| {
                seen.push(i);
                std::thread::sleep(Duration::from_millis(20));
                Ok(i)
            },
            |_| Ok(1),
        );
        assert_eq!(seen, [0, 1, 2, 3, 0, 1]);
        assert!(state.merged().histogram().max() < 10_000_000, "the 20 ms preparation is outside the timing");
    }

    #[test]
    fn a_deadline_ends_the_phase() {
        let mut p = phase(u64::MAX, 1);
        p.duration = Some(Duration::from_millis(50));
        let state = PhaseState::new(&p);
        let started = Instant::now();
        run_blocking(&state, Ok, |_| {
            std::thread::sleep(Duration::from_millis(1));
            Ok(1)
        });
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(45) && took < Duration::from_secs(2), "{took:?}");
        let n = state.merged().count();
        assert!((10..=60).contains(&n), "{n} calls of 1 ms in 50 ms");
    }

    #[test]
    fn blocking_loop_times_each_call() {
        let p = phase(20, 1);
        let state = PhaseState::new(&p);
        run_blocking(&state, Ok, |i| {
            std::thread::sleep(Duration::from_millis(if i == 0 { 20 } else { 0 }));
            Ok(2)
        });
        let rec = state.merged();
        assert_eq!((rec.count(), rec.records()), (20, 40));
        assert!(rec.histogram().max() >= 20_000_000, "the slow call is visible in the max");
        assert!(rec.histogram().value_at_quantile(0.5) < 5_000_000);
    }

    #[test]
    fn unresponsive_server_stops_the_phase() {
        let mut p = phase(1_000_000, 1);
        p.patience = Duration::from_millis(20);
        let state = PhaseState::new(&p);
        run_blocking(&state, Ok, |_| {
            std::thread::sleep(Duration::from_millis(5));
            Err(CallError::new("timeout"))
        });
        let rec = state.merged();
        assert!(rec.count() < 100, "stopped after {} calls", rec.count());
        assert!(state.watchdog.reason().is_some());
    }
}
