//! The recorder an embedded async client reports through: `next()` hands out call indices (the
//! engine decides when a phase is over), `start()` reads the Rust clock, and `done()`/`fail()`
//! record the latency measured by that clock into the phase's histograms. Python measures
//! nothing itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pyo3::prelude::*;

use crate::engine::closed_loop::{CallError, PhaseState};

#[pyclass(module = "aerobench_native", frozen)]
pub struct PhaseRecorder {
    state: Arc<PhaseState>,
    calls: u64,
    epoch: Instant,
}

impl PhaseRecorder {
    pub fn new(state: Arc<PhaseState>, calls: u64) -> PhaseRecorder {
        PhaseRecorder { state, calls, epoch: Instant::now() }
    }

    fn started(&self, token: u64) -> Instant {
        self.epoch + Duration::from_nanos(token)
    }
}

#[pymethods]
impl PhaseRecorder {
    /// The next call index, or None when the phase is over.
    fn next(&self) -> Option<u64> {
        self.state.take(self.calls)
    }

    /// A start token from the Rust monotonic clock.
    fn start(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// The call that started at `token` succeeded, moving `records` records.
    fn done(&self, worker: usize, token: u64, records: u64) {
        self.state.record(worker, self.started(token), &Ok(records));
    }

    /// The call that started at `token` failed for `reason`.
    fn fail(&self, worker: usize, token: u64, reason: &str) {
        self.state.record(worker, self.started(token), &Err(CallError::new(reason)));
    }
}
