//! The verdict wording, in one place: a speedup and its interval become "1.9x faster (1.7–2.1)",
//! "1.3x slower (1.2–1.4)", "no clear difference (0.93–1.08)" or, when the whole interval lies
//! within the minimum effect (`--min-effect`, 3% unless given), "within 3% (0.98–1.02)": a
//! difference no user would act on is not called a direction. A direction is only ever written
//! when the whole interval lies beyond the minimum effect on that side: an interval off 1 that
//! still reaches into it ("1.01–1.05") reads "no clear difference beyond 3%". Such intervals
//! are the ones that flip between runs: five runs in a row of the everyday call, on the built-in
//! server and on a real one, called the same pair faster in one run and slower in another only
//! where one of the two intervals reached into the minimum effect. A single round gets a ratio
//! but no verdict.

use crate::model::results::Verdict;

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

/// Parses `--min-effect`: a percentage such as `3%`, `2.5%` or `0` (no minimum), from 0 to 50%.
pub fn parse_min_effect(text: &str) -> Result<f64, String> {
    let usage = || format!("{text:?} is not a minimum effect; give a percentage from 0% to 50%, e.g. 3% or 0");
    let number = text.trim().trim_end_matches('%').trim();
    let percent: f64 = number.parse().map_err(|_| usage())?;
    if !(0.0..=50.0).contains(&percent) {
        return Err(usage());
    }
    Ok(percent / 100.0)
}

/// A minimum effect as the verdicts write it: `3%`, `2.5%`.
pub fn percent(min_effect: f64) -> String {
    let p = (min_effect * 1e4).round() / 1e2;
    format!("{p}%")
}

/// True when the whole interval `(low, high)` of a ratio lies within `min_effect` of 1 either
/// way (from 1/(1+m) to 1+m, so that "faster" and "slower" are treated alike).
pub fn within_min_effect(bounds: (f64, f64), min_effect: f64) -> bool {
    min_effect > 0.0 && bounds.0 >= 1.0 / (1.0 + min_effect) && bounds.1 <= 1.0 + min_effect
}

/// True when the whole interval lies beyond the minimum effect on the faster side (its low
/// bound at or above 1+m; above 1 when there is no minimum effect).
fn clearly_faster(low: f64, min_effect: f64) -> bool {
    if min_effect > 0.0 { low >= 1.0 + min_effect } else { low > 1.0 }
}

/// True when the whole interval lies beyond the minimum effect on the slower side (its high
/// bound at or below 1/(1+m); below 1 when there is no minimum effect).
fn clearly_slower(high: f64, min_effect: f64) -> bool {
    if min_effect > 0.0 { high <= 1.0 / (1.0 + min_effect) } else { high < 1.0 }
}

/// The verdict and its text for a speedup (> 1: the column is faster), its interval bounds and
/// the minimum effect (a fraction: 0.03 is 3%).
pub fn verdict(speedup: f64, bounds: Option<(f64, f64)>, min_effect: f64) -> (Verdict, String) {
    match bounds {
        None => (Verdict::SingleRound, format!("no verdict, 1 round ({})", factor(speedup))),
        // A confidence sequence excludes nothing at two rounds.
        Some((_, high)) if high.is_infinite() => {
            (Verdict::NoClearDifference, format!("no clear difference, too few rounds ({})", factor(speedup)))
        }
        Some((low, high)) if within_min_effect((low, high), min_effect) => {
            (Verdict::WithinMinEffect, format!("within {} ({low:.2}–{high:.2})", percent(min_effect)))
        }
        Some((low, high)) if clearly_faster(low, min_effect) => {
            (Verdict::Faster, with_interval(speedup, low, high).replacen("x (", "x faster (", 1))
        }
        Some((low, high)) if clearly_slower(high, min_effect) => {
            (Verdict::Slower, with_interval(1.0 / speedup, 1.0 / high, 1.0 / low).replacen("x (", "x slower (", 1))
        }
        // Off 1 but reaching into the minimum effect: a difference, not one to act on yet.
        Some((low, high)) if low > 1.0 || high < 1.0 => (
            Verdict::NoClearDifference,
            format!("no clear difference beyond {} ({low:.2}–{high:.2})", percent(min_effect)),
        ),
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
        assert_eq!(verdict(1.9, Some((1.7, 2.1)), 0.03), (Verdict::Faster, "1.90x faster (1.70–2.10)".into()));
        assert_eq!(verdict(0.5, Some((0.4, 0.625)), 0.03), (Verdict::Slower, "2.0x slower (1.6–2.5)".into()));
        assert_eq!(verdict(14.34, Some((12.0, 17.0)), 0.03).1, "14.3x faster (12.0–17.0)");
        assert_eq!(
            verdict(1.02, Some((0.93, 1.08)), 0.03),
            (Verdict::NoClearDifference, "no clear difference (0.93–1.08)".into())
        );
        // A big estimate whose interval still touches 1 gets no direction.
        assert_eq!(
            verdict(3.0, Some((0.99, 9.0)), 0.03),
            (Verdict::NoClearDifference, "no clear difference (0.99–9.0)".into())
        );
        assert_eq!(verdict(2.0, Some((0.0123, 2628.09)), 0.03).1, "no clear difference (0.01–2628)");
        assert_eq!(verdict(1.9, None, 0.03), (Verdict::SingleRound, "no verdict, 1 round (1.90)".into()));
        assert_eq!(
            verdict(1.9, Some((0.0, f64::INFINITY)), 0.03),
            (Verdict::NoClearDifference, "no clear difference, too few rounds (1.90)".into())
        );
    }

    #[test]
    fn an_interval_within_the_minimum_effect_reads_so() {
        assert_eq!(verdict(1.02, Some((1.01, 1.03)), 0.03), (Verdict::WithinMinEffect, "within 3% (1.01–1.03)".into()));
        assert_eq!(verdict(0.98, Some((0.975, 0.99)), 0.03).1, "within 3% (0.97–0.99)");
        // Symmetric: 1/1.03 = 0.9709 is the edge on the slower side.
        assert_eq!(verdict(0.98, Some((0.9709, 0.99)), 0.03).0, Verdict::WithinMinEffect);
        assert_eq!(
            verdict(0.98, Some((0.9700, 0.99)), 0.03),
            (Verdict::NoClearDifference, "no clear difference beyond 3% (0.97–0.99)".into())
        );
        // Partly beyond it: off 1, but no direction until the whole interval clears it.
        assert_eq!(
            verdict(1.03, Some((1.01, 1.05)), 0.03),
            (Verdict::NoClearDifference, "no clear difference beyond 3% (1.01–1.05)".into())
        );
        assert_eq!(verdict(1.2, Some((1.03, 1.4)), 0.03).0, Verdict::Faster);
        assert_eq!(verdict(1.2, Some((1.029, 1.4)), 0.03).0, Verdict::NoClearDifference);
        assert_eq!(verdict(0.8, Some((0.7, 1.0 / 1.03)), 0.03).0, Verdict::Slower);
        assert_eq!(verdict(0.8, Some((0.7, 0.98)), 0.03).0, Verdict::NoClearDifference);
        // Spanning 1 but inside the minimum effect: within it, not "no clear difference".
        assert_eq!(verdict(1.0, Some((0.99, 1.01)), 0.03).1, "within 3% (0.99–1.01)");
        assert_eq!(verdict(1.0, Some((0.99, 1.01)), 0.05).1, "within 5% (0.99–1.01)");
        // No minimum effect: every interval off 1 has a direction.
        assert_eq!(verdict(1.02, Some((1.01, 1.03)), 0.0).0, Verdict::Faster);
        assert_eq!(verdict(1.0, Some((0.99, 1.01)), 0.0).0, Verdict::NoClearDifference);
        // Wide intervals are never "within".
        assert_eq!(verdict(1.0, Some((0.9, 1.1)), 0.03).0, Verdict::NoClearDifference);
    }

    #[test]
    fn minimum_effects_parse_as_percentages() {
        assert_eq!(parse_min_effect("3%"), Ok(0.03));
        assert_eq!(parse_min_effect("2.5"), Ok(0.025));
        assert_eq!(parse_min_effect("0"), Ok(0.0));
        for bad in ["", "x", "-1%", "60%", "NaN"] {
            assert!(parse_min_effect(bad).unwrap_err().contains("e.g. 3%"), "{bad}");
        }
        assert_eq!(percent(0.03), "3%");
        assert_eq!(percent(0.025), "2.5%");
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
        let (_, faster) = verdict(2.0, Some((1.6, 2.5)), 0.03);
        let (_, slower) = verdict(0.5, Some((0.4, 0.625)), 0.03);
        assert_eq!(faster, "2.0x faster (1.6–2.5)");
        assert_eq!(slower, "2.0x slower (1.6–2.5)");
        assert_eq!(not_comparable("50 vs 1 in flight"), "— (50 vs 1 in flight)");
    }
}
