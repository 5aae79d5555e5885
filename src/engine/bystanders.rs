//! What a phase did to other work in the same process, measured beside its latency: the gaps an
//! async column's event loop left between the turns of a task that only yields (starvation), and
//! how far a competing pure-Python thread got (`--cpu-competitor`). Plain data that crosses the
//! worker pipe in [`super::Measured`]; `aggregate` merges the rounds into the cell's figures.

use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::engine::stats::{add_histogram, duration_to_ns, encode_histogram, histogram_from_text, new_histogram};
use crate::model::results::{CompetitorFigures, LoopGapStats};

/// Gaps between asking the event loop to resume a yielding task and its resuming, in ns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct LoopGaps {
    gaps: Histogram<u64>,
}

impl Default for LoopGaps {
    fn default() -> Self {
        LoopGaps { gaps: new_histogram() }
    }
}

impl LoopGaps {
    pub fn record(&mut self, gap: Duration) {
        self.gaps.saturating_record(duration_to_ns(gap).0);
    }

    /// Adds `other`'s gaps (every round of a cell).
    pub fn merge(&mut self, other: &LoopGaps) {
        add_histogram(&mut self.gaps, &other.gaps);
    }

    /// p50, p99 and max in microseconds; `None` when nothing was sampled.
    pub fn summary(&self) -> Option<LoopGapStats> {
        if self.gaps.is_empty() {
            return None;
        }
        let us = |ns: u64| ns as f64 / 1_000.0;
        Some(LoopGapStats {
            p50: us(self.gaps.value_at_quantile(0.5)),
            p99: us(self.gaps.value_at_quantile(0.99)),
            max: us(self.gaps.max()),
            samples: self.gaps.len(),
        })
    }
}

impl From<LoopGaps> for String {
    fn from(g: LoopGaps) -> String {
        encode_histogram(&g.gaps)
    }
}

impl TryFrom<String> for LoopGaps {
    type Error = anyhow::Error;

    fn try_from(text: String) -> anyhow::Result<LoopGaps> {
        Ok(LoopGaps { gaps: histogram_from_text(&text)? })
    }
}

/// How far the competing thread got in one phase: `iterations` over `secs` of the Rust clock,
/// the same thread's speed alone in the worker before the first phase, and the CPU time the
/// thread itself used (its own thread clock), which the phase leaves out of the client's CPU.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CompetitorRun {
    pub iterations: u64,
    pub secs: f64,
    pub solo_per_sec: f64,
    #[serde(default)]
    pub cpu_secs: f64,
}

/// The competitor's speed over every round of a cell against its solo speed; `None` when it
/// did not run.
pub fn competitor_figures(runs: &[CompetitorRun]) -> Option<CompetitorFigures> {
    let secs: f64 = runs.iter().map(|r| r.secs).sum();
    if runs.is_empty() || secs <= 0.0 {
        return None;
    }
    let loaded_per_sec = runs.iter().map(|r| r.iterations).sum::<u64>() as f64 / secs;
    let solo_per_sec = runs.iter().map(|r| r.solo_per_sec).sum::<f64>() / runs.len() as f64;
    let fraction = if solo_per_sec > 0.0 { loaded_per_sec / solo_per_sec } else { 0.0 };
    let cpu_secs = runs.iter().map(|r| r.cpu_secs).sum();
    Some(CompetitorFigures { solo_per_sec, loaded_per_sec, fraction, cpu_secs })
}

/// Filled by the drivers that have bystanders while a phase runs.
#[derive(Default)]
pub struct Bystanders {
    loop_gaps: Mutex<Option<LoopGaps>>,
    competitor: Mutex<Option<CompetitorRun>>,
}

impl Bystanders {
    /// One gap of the phase's event loop.
    pub fn gap(&self, gap: Duration) {
        self.loop_gaps.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(LoopGaps::default).record(gap);
    }

    pub fn set_competitor(&self, run: CompetitorRun) {
        *self.competitor.lock().unwrap_or_else(|e| e.into_inner()) = Some(run);
    }

    pub fn loop_gaps(&self) -> Option<LoopGaps> {
        self.loop_gaps.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn competitor(&self) -> Option<CompetitorRun> {
        *self.competitor.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaps(us: &[u64]) -> LoopGaps {
        let mut g = LoopGaps::default();
        for &u in us {
            g.record(Duration::from_micros(u));
        }
        g
    }

    #[test]
    fn gaps_of_all_rounds_merge_into_one_summary() {
        // Round 1: 98 short gaps; round 2: one long gap among short ones.
        let mut all = gaps(&[10; 98]);
        let round2 = gaps(&[20, 5_000]);
        let back: LoopGaps = serde_json::from_str(&serde_json::to_string(&round2).unwrap()).unwrap();
        assert_eq!(back, round2, "crosses the worker pipe unchanged");
        all.merge(&back);
        let s = all.summary().unwrap();
        assert_eq!(s.samples, 100);
        assert!((s.p50 - 10.0).abs() < 0.02, "{s:?}");
        assert!((s.p99 - 20.0).abs() < 0.05, "the 99th of 100 gaps is the 20 µs one: {s:?}");
        assert!((s.max - 5_000.0).abs() < 5.0, "{s:?}");
        assert_eq!(LoopGaps::default().summary(), None, "no samples, no figures");
    }

    #[test]
    fn competitor_speed_is_over_the_summed_time_of_the_rounds() {
        let runs = [
            CompetitorRun { iterations: 400, secs: 1.0, solo_per_sec: 1_000.0, cpu_secs: 0.5 },
            CompetitorRun { iterations: 200, secs: 1.0, solo_per_sec: 1_000.0, cpu_secs: 0.25 },
        ];
        let f = competitor_figures(&runs).unwrap();
        assert!((f.loaded_per_sec - 300.0).abs() < 1e-9 && (f.fraction - 0.3).abs() < 1e-9, "{f:?}");
        assert!((f.cpu_secs - 0.75).abs() < 1e-9, "{f:?}");
        assert_eq!(competitor_figures(&[]), None);
    }
}
