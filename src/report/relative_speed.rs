//! The ratio wording of comparison columns ("1.9x faster", "1.3x slower", "1.0x (same)"),
//! computed from two numbers and a direction, and nothing else.
//!
//! Rules:
//! - The factor is always the larger number divided by the smaller one, so it reads as
//!   "N times", never as a fraction; the direction decides between "faster" and "slower".
//! - Within 1% (larger / smaller ≤ 1.01) the two are called the same: `1.0x (same)`.
//! - The factor has one decimal (`{:.1}` rounding, to nearest) below 100 and none from 100 up
//!   (`140x faster`). A difference just above 1% therefore reads `1.0x faster`: the direction
//!   is real, the size rounds away.
//! - No wording (`None`, shown as `-`) when either number is missing, zero, negative or not
//!   finite: there is nothing honest to divide.

use std::fmt;

/// Which way a metric improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Latency: less time is better.
    Lower,
    /// Throughput: more operations per second is better.
    Higher,
}

/// How a value compares with its baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RelativeSpeed {
    /// Better than the baseline by this factor (> 1.01).
    Faster(f64),
    /// Worse than the baseline by this factor (> 1.01).
    Slower(f64),
    /// Within 1% of the baseline.
    Same,
}

/// Largest ratio still worded as "same".
const SAME_WITHIN: f64 = 1.01;

impl RelativeSpeed {
    /// Compares `value` with `baseline` for a metric that improves in direction `better`.
    pub fn compare(value: Option<f64>, baseline: Option<f64>, better: Better) -> Option<Self> {
        let usable = |x: Option<f64>| x.filter(|x| x.is_finite() && *x > 0.0);
        let (value, baseline) = (usable(value)?, usable(baseline)?);
        let factor = value.max(baseline) / value.min(baseline);
        if factor <= SAME_WITHIN {
            return Some(RelativeSpeed::Same);
        }
        let value_is_better = match better {
            Better::Lower => value < baseline,
            Better::Higher => value > baseline,
        };
        Some(if value_is_better { RelativeSpeed::Faster(factor) } else { RelativeSpeed::Slower(factor) })
    }
}

/// Writes a factor with one decimal, or none from 100 up.
fn factor_text(factor: f64) -> String {
    // Decide on the rounded value so 99.96 becomes "100x", not "100.0x".
    if (factor * 10.0).round() >= 1_000.0 { format!("{factor:.0}x") } else { format!("{factor:.1}x") }
}

impl fmt::Display for RelativeSpeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RelativeSpeed::Faster(factor) => write!(f, "{} faster", factor_text(*factor)),
            RelativeSpeed::Slower(factor) => write!(f, "{} slower", factor_text(*factor)),
            RelativeSpeed::Same => f.write_str("1.0x (same)"),
        }
    }
}

/// The wording for `value` compared with `baseline`, or `-` when they cannot be compared.
#[cfg(test)]
pub fn wording(value: Option<f64>, baseline: Option<f64>, better: Better) -> String {
    match RelativeSpeed::compare(value, baseline, better) {
        Some(speed) => speed.to_string(),
        None => "-".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_latency_is_faster() {
        // 0.312 ms against a baseline of 0.587 ms.
        assert_eq!(wording(Some(312.0), Some(587.0), Better::Lower), "1.9x faster");
        assert_eq!(wording(Some(587.0), Some(312.0), Better::Lower), "1.9x slower");
    }

    #[test]
    fn higher_throughput_is_faster() {
        assert_eq!(wording(Some(3_205.0), Some(1_703.0), Better::Higher), "1.9x faster");
        assert_eq!(wording(Some(1_703.0), Some(3_205.0), Better::Higher), "1.9x slower");
    }

    #[test]
    fn same_direction_for_the_same_run() {
        // A client twice as fast halves latency and doubles throughput: both say "faster".
        let latency = RelativeSpeed::compare(Some(100.0), Some(200.0), Better::Lower);
        let throughput = RelativeSpeed::compare(Some(10_000.0), Some(5_000.0), Better::Higher);
        assert_eq!(latency, Some(RelativeSpeed::Faster(2.0)));
        assert_eq!(throughput, Some(RelativeSpeed::Faster(2.0)));
    }

    #[test]
    fn slower_wording() {
        assert_eq!(wording(Some(130.0), Some(100.0), Better::Lower), "1.3x slower");
        assert_eq!(wording(Some(100.0), Some(130.0), Better::Higher), "1.3x slower");
    }

    #[test]
    fn within_one_percent_is_same() {
        assert_eq!(wording(Some(100.0), Some(100.0), Better::Lower), "1.0x (same)");
        assert_eq!(wording(Some(100.9), Some(100.0), Better::Lower), "1.0x (same)");
        assert_eq!(wording(Some(100.0), Some(100.9), Better::Higher), "1.0x (same)");
        // Just beyond 1%: the direction shows even though the factor rounds to 1.0.
        assert_eq!(wording(Some(100.0), Some(102.0), Better::Lower), "1.0x faster");
        assert_eq!(wording(Some(102.0), Some(100.0), Better::Lower), "1.0x slower");
    }

    #[test]
    fn one_decimal_below_100_none_from_100() {
        assert_eq!(wording(Some(1.0), Some(14.3), Better::Lower), "14.3x faster");
        assert_eq!(wording(Some(1.0), Some(99.94), Better::Lower), "99.9x faster");
        assert_eq!(wording(Some(1.0), Some(99.96), Better::Lower), "100x faster");
        assert_eq!(wording(Some(1.0), Some(140.4), Better::Higher), "140x slower");
        assert_eq!(wording(Some(2.0), Some(1.0), Better::Lower), "2.0x slower");
    }

    #[test]
    fn missing_or_zero_gives_no_wording() {
        assert_eq!(RelativeSpeed::compare(None, Some(1.0), Better::Lower), None);
        assert_eq!(RelativeSpeed::compare(Some(1.0), None, Better::Higher), None);
        assert_eq!(wording(Some(0.0), Some(1.0), Better::Lower), "-");
        assert_eq!(wording(Some(1.0), Some(0.0), Better::Higher), "-");
        assert_eq!(wording(Some(f64::NAN), Some(1.0), Better::Higher), "-");
        assert_eq!(wording(Some(-1.0), Some(1.0), Better::Higher), "-");
        assert_eq!(wording(Some(f64::INFINITY), Some(1.0), Better::Higher), "-");
    }
}
