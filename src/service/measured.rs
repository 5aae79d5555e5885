//! What one measured slice gave: one column at one step in one round — the load generator's
//! figures, and what the app's processes cost meanwhile.

use std::time::Duration;

use super::http_load::SliceMeasure;

/// One column, one step, one round.
pub struct SliceRecord {
    pub column: String,
    /// Index of the step in the plan's steps.
    pub step: usize,
    /// 1-based.
    pub round: u32,
    pub measure: SliceMeasure,
    /// CPU time (user + system) the app's processes used during the slice, when known.
    pub cpu: Option<Duration>,
    /// Largest resident memory of the app's processes together, sampled during the slice.
    pub peak_rss_bytes: Option<u64>,
    /// App workers that were found gone after the slice ("worker 1234 died").
    pub lost_workers: Vec<String>,
}
