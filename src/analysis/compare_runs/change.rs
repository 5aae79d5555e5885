//! How a cell's figure moved between two runs: the geometric mean of the new run's rounds over
//! the base run's, with a 95% interval. The two runs' rounds are independent samples (not paired
//! as columns within one run are), so the interval is Welch's t-interval on the logarithms, with
//! the exact t quantiles of `compare::interval`. Open-loop runs are also compared on latency from
//! when each call was due (`corrected-p50`, `corrected-p99`); a change whose whole interval lies
//! within the minimum effect reads "within 3%". Service runs (`--service`) are compared on
//! requests/s (the throughput metric), p99 and requests per CPU-core of their rounds.

use crate::analysis::compare::MIN_CALLS_FOR_P99;
use crate::analysis::compare::interval::t_975_real;
use crate::analysis::compare::wording::within_min_effect;
use crate::model::results::{Cell, RoundFigures};

/// A figure compared between runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    OpsPerSec,
    Avg,
    P50,
    P99,
    /// Open loop: median latency from when each call was due.
    CorrectedP50,
    /// Open loop: p99 latency from when each call was due.
    CorrectedP99,
    /// A service run's successful requests per CPU-second of its app.
    RequestsPerCore,
}

impl Metric {
    /// Every metric a threshold may name.
    pub const ALL: [Metric; 7] = [
        Metric::OpsPerSec,
        Metric::Avg,
        Metric::P50,
        Metric::P99,
        Metric::CorrectedP50,
        Metric::CorrectedP99,
        Metric::RequestsPerCore,
    ];
    /// The metrics of a run of calls.
    pub const CALLS: [Metric; 6] =
        [Metric::OpsPerSec, Metric::Avg, Metric::P50, Metric::P99, Metric::CorrectedP50, Metric::CorrectedP99];
    /// The metrics of a service run: what its rounds record.
    pub const SERVICE: [Metric; 3] = [Metric::OpsPerSec, Metric::P99, Metric::RequestsPerCore];

    pub fn name(self) -> &'static str {
        match self {
            Metric::OpsPerSec => "ops/s",
            Metric::Avg => "avg",
            Metric::P50 => "p50",
            Metric::P99 => "p99",
            Metric::CorrectedP50 => "corrected-p50",
            Metric::CorrectedP99 => "corrected-p99",
            Metric::RequestsPerCore => "requests/core",
        }
    }

    /// The name in a service run's rows: throughput is requests/s there.
    pub fn service_name(self) -> &'static str {
        match self {
            Metric::OpsPerSec => "requests/s",
            other => other.name(),
        }
    }

    pub fn parse(text: &str) -> Option<Metric> {
        match text.to_ascii_lowercase().replace('_', "-").as_str() {
            "ops/s" | "ops" | "throughput" | "requests/s" | "req/s" | "rps" => Some(Metric::OpsPerSec),
            "avg" | "mean" => Some(Metric::Avg),
            "p50" | "median" => Some(Metric::P50),
            "p99" => Some(Metric::P99),
            "corrected-p50" => Some(Metric::CorrectedP50),
            "corrected-p99" => Some(Metric::CorrectedP99),
            "requests/core" | "req/core" | "requests-per-core" => Some(Metric::RequestsPerCore),
            _ => None,
        }
    }

    /// True for latency from when calls were due, which only open-loop runs measure.
    pub fn is_corrected(self) -> bool {
        matches!(self, Metric::CorrectedP50 | Metric::CorrectedP99)
    }

    /// True when the metric can be compared between these two cells of calls (corrected latency
    /// needs an open loop on both sides; requests per core is a service run's).
    pub fn applies(self, base: &Cell, new: &Cell) -> bool {
        match self {
            Metric::RequestsPerCore => false,
            m if m.is_corrected() => base.open_loop.is_some() && new.open_loop.is_some(),
            _ => true,
        }
    }

    /// True when a larger figure is better (throughput, requests per core); latencies are better
    /// smaller.
    pub fn higher_is_better(self) -> bool {
        matches!(self, Metric::OpsPerSec | Metric::RequestsPerCore)
    }

    fn round(self, r: &RoundFigures) -> f64 {
        match self {
            Metric::OpsPerSec => r.ops_per_sec,
            Metric::Avg => r.avg_us,
            Metric::P50 => r.p50_us,
            Metric::P99 => r.p99_us,
            Metric::CorrectedP50 => r.corrected.map_or(f64::NAN, |c| c.p50_us),
            Metric::CorrectedP99 => r.corrected.map_or(f64::NAN, |c| c.p99_us),
            Metric::RequestsPerCore => f64::NAN,
        }
    }

    /// The cell's figure over all its rounds (µs for latencies; NaN where not measured).
    pub fn cell(self, c: &Cell) -> f64 {
        let corrected = |f: fn(&crate::model::results::LatencyStats) -> f64| {
            c.open_loop.as_ref().map_or(f64::NAN, |o| f(&o.corrected_latency_us))
        };
        match self {
            Metric::OpsPerSec => c.ops_per_sec,
            Metric::Avg => c.latency_us.avg,
            Metric::P50 => c.latency_us.p50,
            Metric::P99 => c.latency_us.p99,
            Metric::CorrectedP50 => corrected(|l| l.p50),
            Metric::CorrectedP99 => corrected(|l| l.p99),
            Metric::RequestsPerCore => f64::NAN,
        }
    }
}

/// What happened to one metric of one cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    pub metric: Metric,
    /// The whole cell's figure in each run.
    pub base: f64,
    pub new: f64,
    /// New over base (geometric means of the rounds); `None` when not comparable.
    pub ratio: Option<f64>,
    /// 95% interval of `ratio`; `None` with a single round on a side.
    pub bounds: Option<(f64, f64)>,
}

/// What the interval says about a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Better,
    Worse,
    /// The interval contains "no change".
    WithinNoise,
    /// The whole interval lies within the minimum effect either way: no change worth acting on.
    WithinMinEffect,
    /// One round on a side: a change, but no interval.
    NoInterval,
    NotComparable,
}

impl Change {
    /// What the interval says, a change wholly within `min_effect` (a fraction) being no change.
    pub fn verdict(&self, min_effect: f64) -> Verdict {
        let Some(_) = self.ratio else { return Verdict::NotComparable };
        let Some((low, high)) = self.bounds else { return Verdict::NoInterval };
        if within_min_effect((low, high), min_effect) {
            return Verdict::WithinMinEffect;
        }
        let up = low > 1.0;
        let down = high < 1.0;
        match (up || down, up == self.metric.higher_is_better()) {
            (false, _) => Verdict::WithinNoise,
            (true, true) => Verdict::Better,
            (true, false) => Verdict::Worse,
        }
    }
}

/// Welch's interval for the ratio of geometric means `new / base`; `None` when a side has no
/// usable (positive, finite) figure.
pub fn estimate(base: &[f64], new: &[f64]) -> Option<(f64, Option<(f64, f64)>)> {
    let logs = |xs: &[f64]| -> Option<Vec<f64>> {
        if xs.is_empty() || xs.iter().any(|x| !(x.is_finite() && *x > 0.0)) {
            return None;
        }
        Some(xs.iter().map(|x| x.ln()).collect())
    };
    let (a, b) = (logs(base)?, logs(new)?);
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    let (ma, mb) = (mean(&a), mean(&b));
    let ratio = (mb - ma).exp();
    if a.len() < 2 || b.len() < 2 {
        return Some((ratio, None));
    }
    let var = |xs: &[f64], m: f64| xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64;
    let (va, vb) = (var(&a, ma) / a.len() as f64, var(&b, mb) / b.len() as f64);
    let se = (va + vb).sqrt();
    // Welch–Satterthwaite degrees of freedom (identical rounds on both sides: no spread at all).
    let df = if se > 0.0 {
        (va + vb).powi(2) / (va * va / (a.len() - 1) as f64 + vb * vb / (b.len() - 1) as f64)
    } else {
        (a.len() + b.len() - 2) as f64
    };
    let half = t_975_real(df.max(1.0)) * se;
    Some((ratio, Some(((mb - ma - half).exp(), (mb - ma + half).exp()))))
}

/// The change of `metric` from cell `base` to cell `new`.
pub fn change(metric: Metric, base: &Cell, new: &Cell) -> Change {
    let mut out = Change { metric, base: metric.cell(base), new: metric.cell(new), ratio: None, bounds: None };
    if matches!(metric, Metric::P99 | Metric::CorrectedP99) && base.count.min(new.count) < MIN_CALLS_FOR_P99 {
        return out;
    }
    if !metric.applies(base, new) {
        return out;
    }
    let figures = |c: &Cell| c.rounds.iter().map(|r| metric.round(r)).collect::<Vec<f64>>();
    if let Some((ratio, bounds)) = estimate(&figures(base), &figures(new)) {
        out.ratio = Some(ratio);
        out.bounds = bounds;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welch_interval() {
        let (r, b) = estimate(&[100.0, 100.0, 100.0], &[120.0, 120.0, 120.0]).unwrap();
        assert!((r - 1.2).abs() < 1e-12);
        let (lo, hi) = b.unwrap();
        assert!((lo - 1.2).abs() < 1e-12 && (hi - 1.2).abs() < 1e-12);
        // Noisy rounds: the interval widens and spans 1.
        let (r, b) = estimate(&[80.0, 120.0, 100.0], &[90.0, 140.0, 110.0]).unwrap();
        let (lo, hi) = b.unwrap();
        assert!(lo < 1.0 && hi > 1.0 && r > 1.0, "{lo} {r} {hi}");
        // One round: a ratio without an interval.
        assert_eq!(estimate(&[100.0], &[150.0, 150.0]).unwrap().1, None);
        assert_eq!(estimate(&[], &[1.0]), None);
        assert_eq!(estimate(&[1.0, 0.0], &[1.0]), None);
        // Symmetric: swapping the runs inverts the ratio and its interval.
        let x = [10.0, 12.0, 11.0, 13.0];
        let y = [15.0, 14.0, 17.0];
        let (r1, b1) = estimate(&x, &y).unwrap();
        let (r2, b2) = estimate(&y, &x).unwrap();
        assert!((r1 * r2 - 1.0).abs() < 1e-12);
        assert!((b1.unwrap().0 * b2.unwrap().1 - 1.0).abs() < 1e-12);
    }

    #[test]
    fn verdicts_follow_the_metric_direction() {
        let c = |metric, bounds| Change { metric, base: 1.0, new: 1.0, ratio: Some(1.0), bounds };
        assert_eq!(c(Metric::P99, Some((1.1, 1.3))).verdict(0.03), Verdict::Worse);
        assert_eq!(c(Metric::P99, Some((0.7, 0.9))).verdict(0.03), Verdict::Better);
        assert_eq!(c(Metric::OpsPerSec, Some((1.1, 1.3))).verdict(0.03), Verdict::Better);
        assert_eq!(c(Metric::OpsPerSec, Some((0.7, 0.9))).verdict(0.03), Verdict::Worse);
        assert_eq!(c(Metric::Avg, Some((0.9, 1.1))).verdict(0.03), Verdict::WithinNoise);
        assert_eq!(c(Metric::Avg, None).verdict(0.03), Verdict::NoInterval);
        assert_eq!(Change { ratio: None, ..c(Metric::Avg, None) }.verdict(0.03), Verdict::NotComparable);
        // A real but tiny change is within the minimum effect; without one it is a direction.
        assert_eq!(c(Metric::P99, Some((1.005, 1.02))).verdict(0.03), Verdict::WithinMinEffect);
        assert_eq!(c(Metric::P99, Some((1.005, 1.02))).verdict(0.0), Verdict::Worse);
        assert_eq!(c(Metric::P99, Some((1.005, 1.04))).verdict(0.03), Verdict::Worse);
        assert_eq!(c(Metric::CorrectedP99, Some((1.2, 1.4))).verdict(0.03), Verdict::Worse);
        assert_eq!(Metric::parse("corrected-p99"), Some(Metric::CorrectedP99));
        assert_eq!(Metric::parse("corrected_p50"), Some(Metric::CorrectedP50));
    }
}
