//! `--fail-if` thresholds: `p99>+10%` (fail when p99 rose by more than 10%), `ops/s<-5%` (fail
//! when throughput fell by more than 5%), `corrected-p99>+10%` (open loop: latency from when
//! calls were due). A threshold is crossed only when the change is beyond it and the rounds'
//! interval says the change is real, never inside the noise. `errors>N%` is of another kind: it
//! loosens the failed-call check of the gate, tolerating a rise in the share of failed calls of
//! up to N points (without it, any rise fails).

use super::change::{Change, Metric};

/// What a threshold looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// How a figure moved between the runs.
    Change(Metric),
    /// The share of failed calls, in points of percent.
    Errors,
}

/// Which way a threshold looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `>`: fail when the change is above the limit.
    Above,
    /// `<`: fail when the change is below the limit.
    Below,
}

/// One `--fail-if` condition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    pub measure: Measure,
    pub direction: Direction,
    /// Limit as a fraction: +10% is 0.10, -5% is -0.05.
    pub limit: f64,
}

impl std::fmt::Display for Threshold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = match self.direction {
            Direction::Above => '>',
            Direction::Below => '<',
        };
        let name = match self.measure {
            Measure::Change(m) => m.name(),
            Measure::Errors => "errors",
        };
        write!(f, "{name}{op}{:+}%", (self.limit * 1e4).round() / 1e2)
    }
}

/// Parses `METRIC>+N%` or `METRIC<-N%` (metrics: ops/s, avg, p50, p99, corrected-p50,
/// corrected-p99), or `errors>N%`.
pub fn parse(text: &str) -> Result<Threshold, String> {
    let usage = || {
        format!(
            "{text:?} is not a threshold; write METRIC>+N% or METRIC<-N% with METRIC one of {}, e.g. 'p99>+10%' \
             or 'ops/s<-5%', or errors>N% to tolerate a rise in failed calls of up to N points",
            Metric::ALL.iter().map(|m| m.name()).collect::<Vec<_>>().join(", ")
        )
    };
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let at = compact.find(['>', '<']).ok_or_else(usage)?;
    let (name, rest) = compact.split_at(at);
    let measure = match name.to_ascii_lowercase().as_str() {
        "errors" | "failures" => Measure::Errors,
        _ => Measure::Change(Metric::parse(name).ok_or_else(usage)?),
    };
    let direction = if rest.starts_with('>') { Direction::Above } else { Direction::Below };
    let number = rest[1..].strip_suffix('%').ok_or_else(usage)?;
    let percent: f64 = number.parse().map_err(|_| usage())?;
    if !percent.is_finite() || percent <= -100.0 {
        return Err(usage());
    }
    if measure == Measure::Errors && (direction == Direction::Below || !(0.0..=100.0).contains(&percent)) {
        return Err(format!(
            "{text:?}: errors takes errors>N% with N from 0 to 100, the rise in the share of failed calls (in \
             points) to tolerate, e.g. 'errors>1%'"
        ));
    }
    Ok(Threshold { measure, direction, limit: percent / 100.0 })
}

impl Threshold {
    /// True when `change` (of this threshold's metric) crosses it: its estimate is beyond the
    /// limit and its interval excludes "no change" on that side. Without an interval (one round
    /// on a side) the estimate alone decides.
    pub fn crossed_by(&self, change: &Change) -> bool {
        if self.measure != Measure::Change(change.metric) {
            return false;
        }
        let Some(ratio) = change.ratio else { return false };
        let delta = ratio - 1.0;
        match (self.direction, change.bounds) {
            (Direction::Above, Some((low, _))) => delta > self.limit && low > 1.0,
            (Direction::Below, Some((_, high))) => delta < self.limit && high < 1.0,
            (Direction::Above, None) => delta > self.limit,
            (Direction::Below, None) => delta < self.limit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_metric_direction_and_percent() {
        let on = |m| Measure::Change(m);
        assert_eq!(
            parse("p99>+10%"),
            Ok(Threshold { measure: on(Metric::P99), direction: Direction::Above, limit: 0.10 })
        );
        assert_eq!(
            parse("ops/s<-5%"),
            Ok(Threshold { measure: on(Metric::OpsPerSec), direction: Direction::Below, limit: -0.05 })
        );
        assert_eq!(parse(" p50 > 2.5% ").unwrap().limit, 0.025);
        assert_eq!(parse("avg>0%").unwrap().measure, on(Metric::Avg));
        assert_eq!(parse("ops<-5%").unwrap().measure, on(Metric::OpsPerSec));
        assert_eq!(parse("corrected-p99>+10%").unwrap().measure, on(Metric::CorrectedP99));
        assert_eq!(parse("corrected-p99>+10%").unwrap().to_string(), "corrected-p99>+10%");
        assert_eq!(
            parse("errors>1%"),
            Ok(Threshold { measure: Measure::Errors, direction: Direction::Above, limit: 0.01 })
        );
        assert_eq!(parse("errors>+0.5%").unwrap().to_string(), "errors>+0.5%");
        for bad in ["errors<1%", "errors>101%", "errors>-1%"] {
            assert!(parse(bad).unwrap_err().contains("errors>N%"), "{bad}");
        }
        assert_eq!(parse("p99>+10%").unwrap().to_string(), "p99>+10%");
        assert_eq!(parse("ops/s<-5%").unwrap().to_string(), "ops/s<-5%");
        for bad in ["", "p99", "p99>10", "p98>+10%", "p99=+10%", "p99>+x%", "ops/s<-100%", ">5%"] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains("METRIC>+N%"), "{bad}: {err}");
        }
    }

    fn change(metric: Metric, ratio: f64, bounds: Option<(f64, f64)>) -> Change {
        Change { metric, base: 100.0, new: 100.0 * ratio, ratio: Some(ratio), bounds }
    }

    #[test]
    fn crossed_only_beyond_the_limit_and_outside_the_noise() {
        let t = parse("p99>+10%").unwrap();
        assert!(t.crossed_by(&change(Metric::P99, 1.25, Some((1.15, 1.35)))));
        assert!(t.crossed_by(&change(Metric::P99, 1.25, Some((1.02, 1.5)))), "real rise, estimate beyond");
        assert!(!t.crossed_by(&change(Metric::P99, 1.25, Some((0.9, 1.7)))), "inside the noise");
        assert!(!t.crossed_by(&change(Metric::P99, 1.05, Some((1.03, 1.07)))), "real but under the limit");
        assert!(!t.crossed_by(&change(Metric::P50, 1.5, Some((1.4, 1.6)))), "another metric");
        assert!(!t.crossed_by(&change(Metric::P99, 0.5, Some((0.4, 0.6)))), "an improvement");
        assert!(t.crossed_by(&change(Metric::P99, 1.2, None)), "one round: the estimate decides");
        let t = parse("ops/s<-5%").unwrap();
        assert!(t.crossed_by(&change(Metric::OpsPerSec, 0.8, Some((0.75, 0.85)))));
        assert!(!t.crossed_by(&change(Metric::OpsPerSec, 0.8, Some((0.6, 1.1)))));
        assert!(!t.crossed_by(&change(Metric::OpsPerSec, 1.3, Some((1.2, 1.4)))));
        let none = Change { ratio: None, bounds: None, ..change(Metric::OpsPerSec, 1.0, None) };
        assert!(!t.crossed_by(&none), "no figure, no verdict");
    }
}
