//! The recorder an embedded async client reports through: `next()` hands out call indices (the
//! engine decides when a phase is over), `now()` reads the Rust clock, and `done()`/`fail()`
//! record the latency measured by that clock into the phase's histograms, `gap()` the event
//! loop's gaps between a yielding task's turns. Python measures nothing itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pyo3::prelude::*;

use crate::engine::closed_loop::{CallError, PhaseState};

#[pyclass(module = "aerobench_native", frozen)]
pub struct PhaseRecorder {
    state: Arc<PhaseState>,
    epoch: Instant,
}

impl PhaseRecorder {
    pub fn new(state: Arc<PhaseState>) -> PhaseRecorder {
        PhaseRecorder { state, epoch: Instant::now() }
    }

    fn instant(&self, token: u64) -> Instant {
        self.epoch + Duration::from_nanos(token)
    }
}

#[pymethods]
impl PhaseRecorder {
    /// The next call index, or None when the phase is over.
    fn next(&self) -> Option<u64> {
        self.state.take()
    }

    /// A token for this moment, from the Rust monotonic clock.
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// The call that ran from token `started` to token `finished` succeeded, moving `records`.
    fn done(&self, worker: usize, started: u64, finished: u64, records: u64) {
        self.state.record_at(worker, self.instant(started), self.instant(finished), &Ok(records));
    }

    /// A task that yielded to the event loop at token `asked` was resumed at token `resumed`.
    fn gap(&self, asked: u64, resumed: u64) {
        self.state.bystanders.gap(self.instant(resumed).saturating_duration_since(self.instant(asked)));
    }

    /// The call that started at token `started` failed (now) for `reason`.
    fn fail(&self, worker: usize, started: u64, reason: &str) {
        self.state.record(worker, self.instant(started), &Err(CallError::new(reason)));
    }
}
