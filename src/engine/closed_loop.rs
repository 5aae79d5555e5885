//! Closed-loop execution: `in_flight` workers each take the next call index, prepare the call
//! (key, bins: untimed), time the call from submission to completion, and record it; a new call
//! starts only when one finishes. The engine owns the timing here, whatever the driver. Async
//! for tokio drivers, blocking for drivers that can only make one call at a time. A phase ends
//! after its calls, at its deadline (`--duration`), on Ctrl-C, or when the server stops answering.
//! With a rate (`--rate`), the same loops become open: each call waits until it falls due on the
//! phase's [`Schedule`] and is measured from then as well (see [`super::open_loop`]).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::engine::stats::Recorder;

use super::Phase;
use super::bystanders::Bystanders;
use super::open_loop::{OpenLoop, Schedule, Ticket, Timed, wait_until};
use super::stop::Watchdog;
use crate::workload::keys::KeyChooser;

/// What one call did: records moved, or why it failed.
pub type CallResult = Result<u64, CallError>;

/// What a timed call hands back: how many records it moved, and whatever the client returned.
/// The loops read a call's end before they let go of what it returned, so freeing the records
/// is outside the timed region for every column kind (Python's objects are released after the
/// end is read too).
pub trait Returned {
    fn records(&self) -> u64;
}

impl Returned for u64 {
    fn records(&self) -> u64 {
        *self
    }
}

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
    /// How the phase is lengthened past its operation's own calls (`--min-phase-*`).
    lengthen: Option<super::Lengthen>,
    first_call: OnceLock<Instant>,
    /// Calls finished, for progress display.
    pub done: Arc<AtomicU64>,
    /// Calls begun (each is recorded once it ends, or counted abandoned).
    begun: AtomicU64,
    /// Set once the phase's remaining calls were counted abandoned: later results are ignored.
    sealed: std::sync::atomic::AtomicBool,
    pub watchdog: Watchdog,
    /// A failure reported as a timeout sooner than this was no timeout (see `failure::relabel`).
    fast_failure: std::time::Duration,
    /// `kind_shards` recorders per kind of call: reads (every call of a plain phase), then the
    /// updates of a mixed phase.
    shards: Vec<Mutex<Recorder>>,
    kind_shards: usize,
    /// Share of a mixed phase's calls that are updates (`--workload read-update:P`).
    updates: Option<f64>,
    /// Other work in the process, measured while the calls run.
    pub bystanders: Bystanders,
    /// The schedule and corrected latencies, when the phase runs at a rate.
    pub open: Option<OpenLoop>,
    /// Which index each call uses.
    keys: KeyChooser,
    /// Set by the first call whose client cannot make the operation at all: the phase ends, and
    /// such calls are not recorded (they are no measurement, and no failure).
    unsupported: OnceLock<String>,
}

impl PhaseState {
    pub fn new(phase: &Phase) -> Arc<PhaseState> {
        // A few shards keep workers from waiting on each other without one histogram each.
        let shards = (phase.in_flight as usize).clamp(1, 16);
        let kinds = if phase.updates.is_some() { 2 } else { 1 };
        Arc::new(PhaseState {
            next: AtomicU64::new(0),
            calls: phase.calls,
            space: phase.space.max(1),
            duration: phase.duration,
            lengthen: phase.lengthen,
            first_call: OnceLock::new(),
            done: Arc::new(AtomicU64::new(0)),
            begun: AtomicU64::new(0),
            sealed: std::sync::atomic::AtomicBool::new(false),
            watchdog: Watchdog::continuing(phase.patience, phase.failing_before),
            // The patience is at least two timeouts: a twentieth is under a tenth of one.
            fast_failure: phase.patience / 20,
            shards: (0..shards * kinds).map(|_| Mutex::new(Recorder::new())).collect(),
            kind_shards: shards,
            updates: phase.updates,
            bystanders: Bystanders::default(),
            open: phase.rate.map(|rate| OpenLoop::with_kinds(Schedule::new(rate), shards, kinds)),
            keys: phase.keys,
            unsupported: OnceLock::new(),
        })
    }

    /// Why the client cannot make this phase's operation, once a call said so.
    pub fn unsupported(&self) -> Option<&str> {
        self.unsupported.get().map(String::as_str)
    }

    /// True once the phase should end: stopped by the watchdog, or past its deadline.
    pub fn over(&self) -> bool {
        self.watchdog.should_stop() || self.unsupported.get().is_some() || self.past_deadline()
    }

    /// The next call index for a worker, or `None` when the phase is over.
    pub fn take(&self) -> Option<u64> {
        self.take_ticket().map(|t| t.index)
    }

    /// The next call for a worker, with when it is due in an open loop, or `None` when the phase
    /// is over (a call due after the deadline is not handed out).
    pub fn take_ticket(&self) -> Option<Ticket> {
        if self.over() {
            return None;
        }
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        match self.lengthen {
            Some(l) => {
                let elapsed = self.first_call.get_or_init(Instant::now).elapsed();
                if k >= l.own_calls && (elapsed >= l.cap || (k >= self.calls && elapsed >= l.min_time)) {
                    return None;
                }
            }
            None if k >= self.calls => return None,
            None => {}
        }
        let due = self.open.as_ref().map(|o| o.schedule.due(k));
        if let (Some(due), Some(d)) = (due, self.duration)
            && due >= *self.first_call.get_or_init(Instant::now) + d
        {
            return None;
        }
        let mut index = self.keys.pick(k, self.space);
        if self.updates.is_some_and(|share| crate::workload::mix::is_update(share, self.keys.seed, k)) {
            index |= crate::workload::mix::UPDATE;
        }
        // When the worker is ready for it is for whoever runs the call to say.
        Some(Ticket { index, due, ready: None })
    }

    /// Waits until `ticket` is due (sleeping, then spinning the last stretch: see
    /// [`wait_until`]); false when the phase ended meanwhile.
    pub fn wait_for(&self, ticket: &Ticket) -> bool {
        match (ticket.due, &self.open) {
            (Some(due), Some(open)) => wait_until(due, &open.pacer, std::thread::sleep, || self.watchdog.should_stop()),
            _ => true,
        }
    }

    /// Records one call of `ticket` that ran from `started` to `finished`: its service time,
    /// and in an open loop its latency from when it was due.
    pub fn record_ticket(
        &self,
        worker: usize,
        ticket: &Ticket,
        started: Instant,
        finished: Instant,
        result: &CallResult,
    ) {
        let kind = usize::from(ticket.index & crate::workload::mix::UPDATE != 0 && self.updates.is_some());
        if let (Some(open), Some(due)) = (&self.open, ticket.due) {
            let at = Timed { due, ready: ticket.ready, started, finished };
            open.record_kind(kind, worker, at, result.as_ref().err().map(|e| e.reason.as_str()));
        }
        self.record_kind(kind, worker, started, finished, result);
    }

    /// Whether the phase has run for its `--duration`, counted from its first call (not from
    /// when the state was made: a busy machine may take a while to start the workers).
    fn past_deadline(&self) -> bool {
        self.duration.is_some_and(|d| Instant::now() >= *self.first_call.get_or_init(Instant::now) + d)
    }

    /// A call begins: it will be recorded, or counted abandoned.
    pub fn begin(&self) {
        self.begun.fetch_add(1, Ordering::Relaxed);
    }

    /// A call counted by [`PhaseState::begin`] was not made after all (the phase ended first).
    pub fn not_begun(&self) {
        let _ = self.begun.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// Stops recording: every call begun and not yet recorded is counted failed as
    /// [`super::failure::ABANDONED`], and a result that comes in later is ignored. Returns how
    /// many were abandoned.
    pub fn abandon_rest(&self) -> u64 {
        if self.sealed.swap(true, Ordering::SeqCst) {
            return 0;
        }
        // Every shard lock taken once: no result is half recorded past this point.
        for shard in &self.shards {
            drop(shard.lock().unwrap_or_else(|e| e.into_inner()));
        }
        let left = self.begun.load(Ordering::SeqCst).saturating_sub(self.done.load(Ordering::SeqCst));
        let mut rec = self.shards[0].lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..left {
            rec.record_error(Duration::ZERO, super::failure::ABANDONED);
        }
        left
    }

    /// Records one call that finished now; `worker` picks the shard.
    pub fn record(&self, worker: usize, started: Instant, result: &CallResult) {
        self.record_at(worker, started, Instant::now(), result);
    }

    /// Records one call that ran from `started` to `finished`.
    pub fn record_at(&self, worker: usize, started: Instant, finished: Instant, result: &CallResult) {
        self.record_kind(0, worker, started, finished, result);
    }

    /// Records one call of kind `kind` (0 reads, 1 a mixed phase's updates).
    fn record_kind(&self, kind: usize, worker: usize, started: Instant, finished: Instant, result: &CallResult) {
        let latency = finished.saturating_duration_since(started);
        let shard = (kind * self.kind_shards + worker % self.kind_shards) % self.shards.len();
        let mut rec = self.shards[shard].lock().unwrap_or_else(|e| e.into_inner());
        if self.sealed.load(Ordering::Relaxed) {
            return; // counted abandoned already
        }
        self.done.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(records) => {
                rec.record_ok(latency);
                rec.add_records(*records);
                drop(rec);
                self.watchdog.ok(finished);
            }
            Err(e) if super::failure::Failure::classify(&e.reason) == super::failure::Failure::Unsupported => {
                let _ = self.unsupported.set(e.reason.clone());
            }
            Err(e) => {
                let reason = super::failure::relabel(&e.reason, latency, self.fast_failure);
                rec.record_error(latency, &reason);
                drop(rec);
                self.watchdog.failed(finished, &reason);
            }
        }
    }

    /// Everything the workers recorded, merged.
    pub fn merged(&self) -> Recorder {
        self.merged_kind(0)
    }

    /// What the workers recorded of a mixed phase's updates; `None` for a plain phase.
    pub fn merged_updates(&self) -> Option<Recorder> {
        self.updates.map(|_| self.merged_kind(1))
    }

    fn merged_kind(&self, kind: usize) -> Recorder {
        let mut all = Recorder::new();
        for s in self.shards.iter().skip(kind * self.kind_shards).take(self.kind_shards) {
            all.merge(&s.lock().unwrap_or_else(|e| e.into_inner()));
        }
        all
    }
}

/// Runs the phase's calls, `phase.in_flight` at a time, on the current tokio runtime:
/// `prepare(i)` outside the timed region, then `call` on what it made, timed; what the call
/// returned is dropped after its end was read.
pub async fn run_async<P, R, Prep, F, Fut>(phase: &Phase, state: Arc<PhaseState>, prepare: Prep, call: F)
where
    Prep: Fn(u64) -> Result<P, CallError> + Send + Sync + 'static,
    F: Fn(P) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, CallError>> + Send + 'static,
    P: Send + 'static,
    R: Returned + Send + 'static,
{
    let prepare = Arc::new(prepare);
    let call = Arc::new(call);
    let workers = (phase.in_flight as u64).min(phase.calls.max(1)) as usize;
    // Open loop: a pacer thread hands out each call when it falls due (a thread's sleep is
    // precise where tokio's timer rounds to the millisecond); calls due while every worker is
    // busy queue up and start, late, as soon as one is free. Waking a parked runtime thread takes
    // tens of microseconds, so each call is handed over that long before it is due (learnt from
    // the hand-overs that found a task waiting) and the task yields until the due time.
    let tickets = state.open.is_some().then(|| {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<(Ticket, Instant)>();
        let state = state.clone();
        std::thread::spawn(move || {
            while let Some(ticket) = state.take_ticket() {
                let early = state.open.as_ref().map_or(Duration::ZERO, |o| o.handoff.spin());
                let hand_over = Ticket { due: ticket.due.map(|d| d.checked_sub(early).unwrap_or(d)), ..ticket };
                if !state.wait_for(&hand_over) || tx.send((ticket, Instant::now())).is_err() {
                    break;
                }
            }
        });
        Arc::new(tokio::sync::Mutex::new(rx))
    });
    let mut handles = Vec::with_capacity(workers);
    for worker in 0..workers {
        let state = state.clone();
        let (prepare, call) = (prepare.clone(), call.clone());
        let tickets = tickets.clone();
        handles.push(tokio::spawn(async move {
            loop {
                let ticket = match &tickets {
                    Some(rx) => {
                        let waiting_since = Instant::now();
                        let handed = rx.lock().await.recv().await.filter(|_| !state.over());
                        handed.map(|(ticket, sent)| {
                            if let Some(open) = state.open.as_ref().filter(|_| sent > waiting_since) {
                                open.handoff.woke(sent, Instant::now());
                            }
                            // Ready since it began waiting for a call: a task that was free
                            // before the due time holds the wait answerable for any lag.
                            Ticket { ready: ticket.due.map(|_| waiting_since), ..ticket }
                        })
                    }
                    None => state.take_ticket(),
                };
                let Some(ticket) = ticket else { break };
                state.begin();
                let prepared = prepare(ticket.index);
                if let Some(due) = ticket.due {
                    while Instant::now() < due {
                        tokio::task::yield_now().await;
                    }
                }
                let started = Instant::now();
                let result = match prepared {
                    Ok(p) => call(p).await,
                    Err(e) => Err(e),
                };
                let finished = Instant::now();
                match result {
                    Ok(returned) => {
                        state.record_ticket(worker, &ticket, started, finished, &Ok(returned.records()));
                        drop(returned);
                    }
                    Err(e) => state.record_ticket(worker, &ticket, started, finished, &Err(e)),
                }
            }
        }));
    }
    // Once the watchdog trips (the server is gone or stopped answering), calls still inside the
    // client are abandoned: their tasks are dropped rather than waited for.
    let aborts: Vec<_> = handles.iter().map(|h| h.abort_handle()).collect();
    let watcher = {
        let state = state.clone();
        tokio::spawn(async move {
            while !state.watchdog.tripped() {
                tokio::time::sleep(ABANDON_POLL).await;
            }
            aborts.iter().for_each(tokio::task::AbortHandle::abort);
        })
    };
    for h in handles {
        // A panicking call is a bug in a driver: surface it rather than hide it.
        if let Err(e) = h.await
            && e.is_panic()
        {
            std::panic::resume_unwind(e.into_panic());
        }
    }
    watcher.abort();
    if state.watchdog.tripped() {
        state.abandon_rest();
    }
}

/// How often the async loop looks whether its calls are to be abandoned.
const ABANDON_POLL: Duration = Duration::from_millis(20);

/// Runs the phase's calls one after another on this thread: `prepare(i)` untimed, then `call`
/// on what it made, timed.
pub fn run_blocking<P>(
    state: &PhaseState,
    prepare: impl FnMut(u64) -> Result<P, CallError>,
    call: impl FnMut(P) -> CallResult,
) {
    run_blocking_counted(state, 0, prepare, call, Ok);
}

/// A wait for a call to fall due, handed to whoever runs the loop so it can let go of a lock
/// it holds meanwhile (Python's); true when the call is due, false when the phase ended.
pub type Wait<'a> = &'a (dyn Fn() -> bool + Sync);

/// Like [`run_blocking_counted`], running each wait for an open loop's call to fall due through
/// `waiting` (a caller holding a lock, such as Python's, lets go of it there).
pub fn run_blocking_paced<P, R>(
    state: &PhaseState,
    worker: usize,
    mut waiting: impl FnMut(Wait<'_>) -> bool,
    mut prepare: impl FnMut(u64) -> Result<P, CallError>,
    mut call: impl FnMut(P) -> Result<R, CallError>,
    mut count: impl FnMut(R) -> Result<u64, CallError>,
) {
    while let Some(ticket) = state.take_ticket() {
        let prepared = prepare(ticket.index);
        let ticket = Ticket { ready: ticket.due.map(|_| Instant::now()), ..ticket };
        if ticket.due.is_some() && !waiting(&|| state.wait_for(&ticket)) {
            break;
        }
        state.begin();
        let started = Instant::now();
        let result = match prepared {
            Ok(p) => call(p),
            Err(e) => Err(e),
        };
        let finished = Instant::now();
        // Counted (which may still find the result wrong: an unread batch checked by --verify),
        // and let go of, after the end was read.
        state.record_ticket(worker, &ticket, started, finished, &result.and_then(&mut count));
    }
}

/// Like [`run_blocking`], for a call whose result is counted after the timed region:
/// `count(result)` says how many records it moved, or fails the call after all. `worker` numbers
/// the thread when several run the same phase (one call in flight each).
pub fn run_blocking_counted<P, R>(
    state: &PhaseState,
    worker: usize,
    prepare: impl FnMut(u64) -> Result<P, CallError>,
    call: impl FnMut(P) -> Result<R, CallError>,
    count: impl FnMut(R) -> Result<u64, CallError>,
) {
    run_blocking_paced(state, worker, |wait| wait(), prepare, call, count);
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
        assert!(crate::engine::stats::summarize(rec.histogram()).min >= 200.0);
    }

    /// Returned records whose freeing takes 20 ms.
    struct SlowToFree;

    impl Returned for SlowToFree {
        fn records(&self) -> u64 {
            3
        }
    }

    impl Drop for SlowToFree {
        fn drop(&mut self) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn what_an_async_call_returned_is_freed_outside_the_timed_region() {
        let p = phase(5, 1);
        let state = PhaseState::new(&p);
        run_async(&p, state.clone(), Ok, |_| async { Ok(SlowToFree) }).await;
        let rec = state.merged();
        assert_eq!((rec.count(), rec.records()), (5, 15));
        assert!(rec.histogram().max() < 10_000_000, "the 20 ms free is outside the timing");
    }

    #[test]
    fn what_a_blocking_call_returned_is_freed_outside_the_timed_region() {
        let state = PhaseState::new(&phase(5, 1));
        run_blocking_counted(&state, 0, Ok, |_| Ok(SlowToFree), |r| Ok(r.records()));
        let rec = state.merged();
        assert_eq!((rec.count(), rec.records()), (5, 15));
        assert!(rec.histogram().max() < 10_000_000, "the 20 ms free is outside the timing");
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
    fn an_operation_the_client_lacks_ends_the_phase_at_its_first_call_and_records_nothing() {
        let state = PhaseState::new(&phase(1_000, 1));
        let mut calls = 0;
        run_blocking(&state, Ok, |_| {
            calls += 1;
            Err(CallError::new("not supported by the wire floor: it does not encode batch writes"))
        });
        assert_eq!(calls, 1, "one call says the client lacks the operation; no more are made");
        assert_eq!(state.unsupported(), Some("not supported by the wire floor: it does not encode batch writes"));
        assert_eq!((state.merged().count(), state.merged().errors()), (0, 0), "no measurement and no failure");
        // A call that failed for another reason is a failure, and the phase goes on.
        let state = PhaseState::new(&phase(3, 1));
        run_blocking(&state, Ok, |_| Err(CallError::new("AerospikeError (code 16): unsupported feature")));
        assert_eq!((state.merged().errors(), state.unsupported()), (3, None));
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
        // At least its 50 ms (the upper bound only catches a phase that ignores its deadline on
        // a loaded machine), and no more calls of at least 1 ms each than fit in that time.
        assert!(took >= Duration::from_millis(45) && took < Duration::from_secs(30), "{took:?}");
        let n = state.merged().count();
        assert!(n >= 1 && n as u128 <= took.as_millis() + 1, "{n} calls of 1 ms in {took:?}");
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
        // The other calls do not take the slow one's time: their median is well under it.
        assert!(rec.histogram().value_at_quantile(0.5) < rec.histogram().max() / 4);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn calls_stuck_when_the_watchdog_trips_are_abandoned_not_waited_for() {
        let p = phase(1_000, 4);
        let state = PhaseState::new(&p);
        let (s, started) = (state.clone(), Instant::now());
        run_async(&p, state.clone(), Ok, move |i| {
            let s = s.clone();
            async move {
                if i < 10 {
                    return Ok(1);
                }
                if i == 12 {
                    s.watchdog.gone("connection refused");
                }
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(1)
            }
        })
        .await;
        // Far less than the stuck calls' 30 s, on any machine.
        assert!(started.elapsed() < Duration::from_secs(15), "waited {:?} for stuck calls", started.elapsed());
        let rec = state.merged();
        // Calls 10, 11 and 12 are stuck when the watchdog trips; 13 may have begun too.
        assert_eq!(rec.successes(), 10);
        assert!((3..=4).contains(&rec.errors()), "the stuck calls are abandoned failures: {}", rec.errors());
        assert_eq!(rec.errors_by_reason().get(crate::engine::failure::ABANDONED), Some(&rec.errors()));
        assert_eq!(state.abandon_rest(), 0, "counted once");
        let late = Ok(1);
        state.record(0, Instant::now(), &late);
        assert_eq!(state.merged().count(), rec.count(), "a result after the abandon is ignored");
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
