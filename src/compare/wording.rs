//! The verdict wording, in one place: a speedup and its interval become "1.9x faster (1.7–2.1)",
//! "1.3x slower (1.2–1.4)" or "no clear difference (0.93–1.08)". A direction is only ever written
//! when the whole interval supports it; a single round gets a ratio but no verdict.

use crate::results::Verdict;

/// Decimals for a factor: two below 2, one below 100, none from there on.
fn decimals(x: f64) -> usize {
    if x < 1.995 {
        2
    } else if x < 99.95 {
        1
    } else {
        0
    }
}

/// A factor with as many decimals as [`decimals`] gives it.
pub fn factor(x: f64) -> String {
    format!("{x:.*}", decimals(x))
}

/// An estimate and its interval, all three with the estimate's decimals: `1.90 (1.70–2.10)`.
fn with_interval(estimate: f64, low: f64, high: f64) -> String {
    let d = decimals(estimate);
    format!("{estimate:.d$}x", d = d) + &format!(" ({low:.d$}–{high:.d$})", d = d)
}

/// The verdict and its text for a speedup (> 1: the column is faster) and its interval bounds.
pub fn verdict(speedup: f64, bounds: Option<(f64, f64)>) -> (Verdict, String) {
    match bounds {
        None => (Verdict::SingleRound, format!("no verdict, 1 round ({})", factor(speedup))),
        Some((low, high)) if low > 1.0 => {
            (Verdict::Faster, with_interval(speedup, low, high).replacen("x (", "x faster (", 1))
        }
        Some((low, high)) if high < 1.0 => {
            (Verdict::Slower, with_interval(1.0 / speedup, 1.0 / high, 1.0 / low).replacen("x (", "x slower (", 1))
        }
        // Each bound with its own precision: rounds that disagree wildly give a wide interval,
        // read better as "(0.01–2628)" than with two decimals on a four-digit bound.
        Some((low, high)) => {
            (Verdict::NoClearDifference, format!("no clear difference ({}–{})", factor(low), factor(high)))
        }
    }
}

/// Text of a ratio that could not be computed.
pub fn not_comparable(reason: &str) -> String {
    format!("— ({reason})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_only_when_the_interval_supports_them() {
        assert_eq!(verdict(1.9, Some((1.7, 2.1))), (Verdict::Faster, "1.90x faster (1.70–2.10)".into()));
        assert_eq!(verdict(0.5, Some((0.4, 0.625))), (Verdict::Slower, "2.0x slower (1.6–2.5)".into()));
        assert_eq!(verdict(14.34, Some((12.0, 17.0))).1, "14.3x faster (12.0–17.0)");
        assert_eq!(
            verdict(1.02, Some((0.93, 1.08))),
            (Verdict::NoClearDifference, "no clear difference (0.93–1.08)".into())
        );
        // A big estimate whose interval still touches 1 gets no direction.
        assert_eq!(
            verdict(3.0, Some((0.99, 9.0))),
            (Verdict::NoClearDifference, "no clear difference (0.99–9.0)".into())
        );
        assert_eq!(verdict(2.0, Some((0.0123, 2628.09))).1, "no clear difference (0.01–2628)");
        assert_eq!(verdict(1.9, None), (Verdict::SingleRound, "no verdict, 1 round (1.90)".into()));
    }

    #[test]
    fn factor_precision() {
        assert_eq!(factor(1.234), "1.23");
        assert_eq!(factor(1.996), "2.0");
        assert_eq!(factor(14.34), "14.3");
        assert_eq!(factor(99.94), "99.9");
        assert_eq!(factor(99.96), "100");
        assert_eq!(factor(140.4), "140");
    }

    #[test]
    fn slower_reads_as_the_inverse_of_faster() {
        let (_, faster) = verdict(2.0, Some((1.6, 2.5)));
        let (_, slower) = verdict(0.5, Some((0.4, 0.625)));
        assert_eq!(faster, "2.0x faster (1.6–2.5)");
        assert_eq!(slower, "2.0x slower (1.6–2.5)");
        assert_eq!(not_comparable("50 vs 1 in flight"), "— (50 vs 1 in flight)");
    }
}
