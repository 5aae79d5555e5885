//! The recorder an embedded async client reports through: `next()` hands out call indices (the
//! engine decides when a phase is over), `ticket()` the same with when the call falls due in an
//! open loop, `now()` reads the Rust clock, and `done()`/`fail()` record the latency measured by
//! that clock into the phase's histograms, `gap()` the event loop's gaps between a yielding
//! task's turns. In an open loop, `waker_fd()`/`wake_at()` wake the event loop from a Rust
//! thread when a call falls due (see [`super::loop_waker`]). Python measures nothing itself.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

use crate::engine::closed_loop::{CallError, PhaseState};
use crate::engine::open_loop::Ticket;
use crate::workload::Operation;

use super::loop_waker::LoopWaker;

#[pyclass(module = "aerobench_native", frozen)]
pub struct PhaseRecorder {
    state: Arc<PhaseState>,
    epoch: Instant,
    waker: Mutex<Waker>,
    /// In an open loop, when each worker (coroutine) became ready for the call it holds: when
    /// it took its ticket, or when it began waiting for the due time after preparing the call.
    ready: Mutex<HashMap<usize, Instant>>,
}

/// The phase's loop waker: started on first use, ended by `close_waker()` or with the recorder.
enum Waker {
    NotStarted,
    Running(LoopWaker),
    /// Not available here (no Unix sockets, or it could not start): the loop's timers serve.
    Unavailable,
    Closed,
}

impl PhaseRecorder {
    pub fn new(state: Arc<PhaseState>) -> PhaseRecorder {
        PhaseRecorder { state, epoch: Instant::now(), waker: Mutex::new(Waker::NotStarted), ready: Mutex::default() }
    }

    fn instant(&self, token: u64) -> Instant {
        self.epoch + Duration::from_nanos(token)
    }

    /// The ticket worker `worker`'s call reported back was made for: when it was due, when the
    /// worker was ready for it, and whether it was a mixed phase's update (`op` `"put"`).
    fn ticket_of(&self, worker: usize, due: Option<u64>, op: Option<&str>) -> Ticket {
        let index = if op == Some("put") { crate::workload::mix::UPDATE } else { 0 };
        let ready = self.ready.lock().unwrap_or_else(|e| e.into_inner()).remove(&worker);
        Ticket { index, due: due.map(|d| self.instant(d)), ready: due.and(ready) }
    }

    fn mark_ready(&self, worker: usize) {
        self.ready.lock().unwrap_or_else(|e| e.into_inner()).insert(worker, Instant::now());
    }
}

#[pymethods]
impl PhaseRecorder {
    /// The next call index, or None when the phase is over.
    fn next(&self) -> Option<u64> {
        let index = self.state.take()?;
        self.state.begin();
        Some(index)
    }

    /// The next call for worker `worker` as `(index, due, wait, op)`: `due` is the token of
    /// when it falls due in an open loop (None in a closed loop), `wait` the seconds until then
    /// (0 when due already), `op` `"put"` for an update of a mixed phase (None for the phase's
    /// own operation). None when the phase is over.
    #[pyo3(signature = (worker=None))]
    fn ticket(&self, worker: Option<usize>) -> Option<(u64, Option<u64>, f64, Option<&'static str>)> {
        let ticket = self.state.take_ticket()?;
        if let (Some(w), Some(_)) = (worker, ticket.due) {
            self.mark_ready(w);
        }
        // Begun now; a worker that waits for it and finds the phase over gives it back (`over`).
        self.state.begin();
        let due = ticket.due.map(|d| d.saturating_duration_since(self.epoch).as_nanos() as u64);
        let wait = ticket.due.map_or(0.0, |d| d.saturating_duration_since(Instant::now()).as_secs_f64());
        let (kind, index) = crate::workload::mix::split(Operation::Get, ticket.index);
        Some((index, due, wait, (kind == Operation::Put).then_some("put")))
    }

    /// True once the phase should end (a worker that waited for its call asks before making it,
    /// and drops that call when told yes).
    fn over(&self) -> bool {
        let over = self.state.over();
        if over {
            self.state.not_begun();
        }
        over
    }

    /// The descriptor the event loop watches for wake-ups (each a waiter's number as 4 bytes
    /// in the machine's byte order), starting the waker; None where there is none (the loop's timers serve).
    fn waker_fd(&self) -> Option<i64> {
        let mut waker = self.waker.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(*waker, Waker::NotStarted) {
            *waker = match LoopWaker::start(self.state.clone()) {
                Ok(Some(w)) => Waker::Running(w),
                _ => Waker::Unavailable,
            };
        }
        match &*waker {
            #[cfg(unix)]
            Waker::Running(w) => Some(w.fd()),
            _ => None,
        }
    }

    /// Writes `waiter` to the waker's descriptor shortly before token `due` (at once when the
    /// phase stops); the waiter yields to its loop for the rest.
    fn wake_at(&self, waiter: u32, due: u64) {
        // Prepared and waiting: ready from now.
        self.mark_ready(waiter as usize);
        if let Waker::Running(w) = &*self.waker.lock().unwrap_or_else(|e| e.into_inner()) {
            w.wake_at(waiter, self.instant(due));
        }
    }

    /// Waiter `waiter` resumed after its wake-up (the waker learns how long that takes).
    fn arrived(&self, waiter: u32) {
        if let Waker::Running(w) = &*self.waker.lock().unwrap_or_else(|e| e.into_inner()) {
            w.arrived(waiter);
        }
    }

    /// Ends the waker's thread and closes its descriptor (the loop has stopped watching it).
    fn close_waker(&self) {
        let old = std::mem::replace(&mut *self.waker.lock().unwrap_or_else(|e| e.into_inner()), Waker::Closed);
        drop(old);
    }

    /// True once the phase should end; unlike `over()`, gives nothing back (for a loop that
    /// waits for its call to fall due).
    fn stopping(&self) -> bool {
        self.state.over()
    }

    /// A token for this moment, from the Rust monotonic clock.
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// The call that ran from token `started` to token `finished` succeeded, moving `records`;
    /// `due` is the ticket's, in an open loop.
    #[pyo3(signature = (worker, started, finished, records, due=None, op=None))]
    fn done(&self, worker: usize, started: u64, finished: u64, records: u64, due: Option<u64>, op: Option<&str>) {
        let ticket = self.ticket_of(worker, due, op);
        self.state.record_ticket(worker, &ticket, self.instant(started), self.instant(finished), &Ok(records));
    }

    /// A task that yielded to the event loop at token `asked` was resumed at token `resumed`.
    fn gap(&self, asked: u64, resumed: u64) {
        self.state.bystanders.gap(self.instant(resumed).saturating_duration_since(self.instant(asked)));
    }

    /// The call that started at token `started` failed (now) for `reason`; `due` is the
    /// ticket's, in an open loop.
    #[pyo3(signature = (worker, started, reason, due=None, op=None))]
    fn fail(&self, worker: usize, started: u64, reason: &str, due: Option<u64>, op: Option<&str>) {
        let ticket = self.ticket_of(worker, due, op);
        let failed = Err(CallError::new(reason));
        self.state.record_ticket(worker, &ticket, self.instant(started), Instant::now(), &failed);
    }
}

/// Start of the process's clock for garbage-collection timing.
static GC_EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);
/// When the collection now running started (ns since `GC_EPOCH`), or 0.
static GC_STARTED: AtomicU64 = AtomicU64::new(0);
/// Time spent in collections so far, in ns.
static GC_TOTAL: AtomicU64 = AtomicU64::new(0);

/// Told by a `gc.callbacks` hook when a collection starts (`"start"`) and stops (`"stop"`); the
/// time in between is read from the Rust clock.
#[pyfunction]
pub fn gc_event(phase: &str) {
    let now = GC_EPOCH.elapsed().as_nanos() as u64;
    match phase {
        "start" => GC_STARTED.store(now.max(1), Ordering::Relaxed),
        _ => {
            let started = GC_STARTED.swap(0, Ordering::Relaxed);
            if started > 0 {
                GC_TOTAL.fetch_add(now.saturating_sub(started), Ordering::Relaxed);
            }
        }
    }
}

/// Time the embedded interpreter has spent collecting garbage so far.
pub fn gc_total() -> Duration {
    Duration::from_nanos(GC_TOTAL.load(Ordering::Relaxed))
}
