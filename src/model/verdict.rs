//! The words a comparison ends in, shared by the calls' ratios and a service run's verdicts.

use serde::{Deserialize, Serialize};

/// What the rounds say about a ratio.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The whole interval lies above 1: the column is faster than the baseline.
    Faster,
    /// The whole interval lies below 1.
    Slower,
    /// The interval spans 1.
    NoClearDifference,
    /// The whole interval lies within the minimum effect (`RunReport::min_effect`) either way.
    WithinMinEffect,
    /// One round only: a ratio, but no interval and so no verdict.
    SingleRound,
    /// No ratio: see `reason`.
    NotComparable,
}
