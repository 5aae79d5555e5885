//! The client's own stage timers as a report holds them (`--stages`): one table per column and
//! operation from an extra phase run with the timers on after the measured rounds (never counted
//! in the cells or verdicts), two builds of one client side by side, and a note for every column
//! whose client has no such timers.

use serde::{Deserialize, Serialize};

/// Everything `--stages` found.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StagesRun {
    /// One per column and operation whose client recorded stages during its extra phase.
    pub tables: Vec<StageTable>,
    /// Two builds of one client (same kind of column), stage by stage, per operation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub comparisons: Vec<StageComparison>,
    /// Columns without stage timers, phases that recorded none, readings that failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One column's extra phase of one operation, with its client's stage timers on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StageTable {
    pub column: String,
    pub operation: String,
    /// Calls aerobench made in the extra phase, and their summed latency (its own clock).
    pub calls: u64,
    pub call_secs_total: f64,
    /// The extra phase's ops/s, and the column's last measured round of the operation's (timers
    /// off): what the timers cost shows in their ratio.
    pub ops_per_sec: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_ops_per_sec: Option<f64>,
    /// `ops_per_sec / measured_ops_per_sec`: below 1 when the timers slowed the calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timers_speed_ratio: Option<f64>,
    /// The client's own upper bounds of its histogram buckets, in seconds (the p50 and p99 are
    /// interpolated within them).
    pub bucket_bounds_secs: Vec<f64>,
    pub stages: Vec<StageRow>,
}

/// One stage's figures in an extra phase.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StageRow {
    pub stage: String,
    /// The client's own name of the operation it recorded the stage under (e.g. `batch_read`).
    pub client_operation: String,
    /// Times the stage ran.
    pub count: u64,
    pub p50_secs: f64,
    pub p99_secs: f64,
    pub mean_secs: f64,
    /// The stage's summed time over the calls' summed time: how much of a call it is, on
    /// average. Stages that overlap, or run outside the call aerobench times, can add up to more
    /// or less than 1.
    pub share: f64,
}

/// Two builds of one client, one operation: each stage of `base` against `other`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StageComparison {
    pub operation: String,
    /// Column ids of the two builds.
    pub base: String,
    pub other: String,
    pub stages: Vec<StagePair>,
}

/// One stage in two builds; a side is absent when that build did not record the stage.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StagePair {
    pub stage: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<StageFigures>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other: Option<StageFigures>,
    /// `other.p50_secs / base.p50_secs`, when both recorded it and the base's is above zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_ratio: Option<f64>,
}

/// A stage's p50, p99 and share in one build.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StageFigures {
    pub p50_secs: f64,
    pub p99_secs: f64,
    pub share: f64,
}
