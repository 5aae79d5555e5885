//! A lane: one connected column the scheduler runs phases on, one at a time, for the whole run —
//! a driver in this process, or a worker process holding an embedded-Python client. A lane that
//! breaks says why; what it measured before stays measured.

use crate::engine::{self, Driver, Measured, Phase, PhaseObserver};
use crate::model::results::Column;

pub trait Lane {
    /// The column this lane fills (as its client described itself once connected).
    fn column(&self) -> &Column;

    /// Runs `phase` and returns what it measured, or why the lane cannot run anything any more
    /// (a worker that crashed or stopped answering).
    fn run(&mut self, phase: &Phase, observer: &mut dyn PhaseObserver) -> Result<Measured, String>;

    /// Asks for what the phases recorded so far every `every` while they run (`--interval`), told
    /// to the observer's `snapshot`; lanes in this process need nothing (the observer reads the
    /// phase state).
    fn report_every(&mut self, _every: std::time::Duration) {}

    /// What the lane's process left behind when it died of a signal (after `run` said it
    /// broke); `None` for a lane in this process.
    fn crash(&self) -> Option<crate::model::results::WorkerCrash> {
        None
    }

    /// Switches the client's own stage timers (see [`Driver::stage_timers`]); `Err` when the
    /// lane cannot answer any more.
    fn stage_timers(&mut self, _on: bool) -> Result<Option<String>, String> {
        Ok(None)
    }

    /// The process running the column's client, when it has one of its own (a worker), for a
    /// sampler to attach to; `None` for a lane in this process.
    fn pid(&self) -> Option<u32> {
        None
    }
}

/// A driver in this process.
pub struct InProcess(pub Box<dyn Driver>);

impl Lane for InProcess {
    fn column(&self) -> &Column {
        self.0.column()
    }

    fn run(&mut self, phase: &Phase, observer: &mut dyn PhaseObserver) -> Result<Measured, String> {
        let mut m = engine::measure(self.0.as_mut(), phase, observer);
        // aerobench's own memory, not this column's: the process is shared.
        m.peak_rss_bytes = None;
        Ok(m)
    }

    fn stage_timers(&mut self, on: bool) -> Result<Option<String>, String> {
        self.0.stage_timers(on).map_err(|e| format!("{e:#}"))
    }
}
