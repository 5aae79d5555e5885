//! What one phase measured, as plain data that crosses the worker pipe unchanged: the phase's
//! recorder (latency histogram in ns, failures by reason, records moved), its wall time, the CPU
//! time and memory of the process that ran it, and why it ended early, if it did. The scheduler collects these; `aggregate` turns them into cells.

use serde::{Deserialize, Serialize};

use super::bystanders::{CompetitorRun, LoopGaps};
use super::open_loop::OpenLoopMeasured;
use crate::engine::stats::Recorder;
use crate::workload::Operation;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measured {
    pub op: Operation,
    /// 1-based measured round; 0 for a warm-up.
    pub round: u32,
    pub recorder: Recorder,
    /// Wall time of the phase, from its first call to its last completion.
    pub wall_secs: f64,
    /// Why the phase ended before all its calls ran (Ctrl-C, no success for the patience window).
    pub stopped: Option<String>,
    /// True when the phase stopped because nothing succeeded for the patience window.
    pub server_unresponsive: bool,
    /// The client broke (not a failed call): the column cannot go on.
    pub driver_error: Option<String>,
    /// CPU time (user + system) the process that ran the phase used during it, less the competing
    /// thread's own (`--cpu-competitor`).
    pub cpu_secs: Option<f64>,
    /// That process's peak resident memory at the end of the phase.
    pub peak_rss_bytes: Option<u64>,
    /// Time the client's garbage collector ran during the phase (Python clients).
    pub gc_secs: Option<f64>,
    /// Gaps of the column's event loop while the calls ran (async Python columns).
    #[serde(default)]
    pub loop_gaps: Option<LoopGaps>,
    /// The competing Python thread's progress during the phase (`--cpu-competitor`).
    #[serde(default)]
    pub competitor: Option<CompetitorRun>,
    /// Latencies from when each call was due, and how late calls started (open loop, `--rate`).
    #[serde(default)]
    pub open_loop: Option<OpenLoopMeasured>,
    /// A mixed phase's updates (`--workload read-update:P`), measured apart from its reads
    /// (`recorder`), with the same wall time.
    #[serde(default)]
    pub updates: Option<Box<Measured>>,
    /// The client cannot make this operation (the reason, `not supported by …`): the phase
    /// stopped at its first call, and recorded nothing.
    #[serde(default)]
    pub unsupported: Option<String>,
}

#[cfg(test)]
impl Measured {
    /// A phase that ran `recorder`'s calls in `wall_secs` to its end, nothing else known (for
    /// tests; set what a test needs beside it with `..`).
    pub fn plain(op: Operation, round: u32, recorder: Recorder, wall_secs: f64) -> Measured {
        Measured {
            op,
            round,
            recorder,
            wall_secs,
            stopped: None,
            server_unresponsive: false,
            driver_error: None,
            cpu_secs: None,
            peak_rss_bytes: None,
            gc_secs: None,
            loop_gaps: None,
            competitor: None,
            open_loop: None,
            updates: None,
            unsupported: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn round_trips_through_json_with_its_histogram() {
        let mut rec = Recorder::new();
        rec.record_ok(Duration::from_nanos(12_345));
        rec.record_ok(Duration::from_micros(80));
        rec.record_error(Duration::ZERO, "timeout");
        rec.add_records(7);
        let m = Measured {
            cpu_secs: Some(0.1),
            peak_rss_bytes: Some(1 << 20),
            ..Measured::plain(Operation::Get, 3, rec, 0.25)
        };
        let back: Measured = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back.recorder.histogram(), m.recorder.histogram());
        assert_eq!(back.recorder.errors_by_reason(), m.recorder.errors_by_reason());
        assert_eq!((back.recorder.records(), back.round, back.wall_secs), (7, 3, 0.25));
    }
}
