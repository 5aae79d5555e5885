//! The interval maths behind every verdict: rounds give paired ratios (both cells ran in the same
//! round, interleaved), and a two-sided Student-t interval on their logarithms gives the
//! geometric-mean ratio and its confidence interval. Logarithms make "2x faster" and "2x slower"
//! symmetric and keep the bounds positive.

/// Confidence level of every interval aerobench reports.
pub const CONFIDENCE: f64 = 0.95;

/// A ratio estimated from rounds: geometric mean and interval bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub ratio: f64,
    /// `None` with a single round: no spread, so no interval.
    pub bounds: Option<(f64, f64)>,
}

/// The 97.5% quantile of Student's t with `df` degrees of freedom (the half-width factor of a
/// two-sided 95% interval), exact from `statrs`; infinite with no degree of freedom.
pub fn t_975(df: usize) -> f64 {
    t_975_real(df as f64)
}

/// [`t_975`] for a real number of degrees of freedom (Welch–Satterthwaite gives fractions).
pub fn t_975_real(df: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF as _, StudentsT};
    if df.is_nan() || df <= 0.0 {
        return f64::INFINITY;
    }
    match StudentsT::new(0.0, 1.0, df) {
        Ok(t) => t.inverse_cdf(0.5 + CONFIDENCE / 2.0),
        Err(_) => f64::INFINITY,
    }
}

/// The mean of `xs` and the half-width of its 95% t-interval; no half-width with one value.
pub fn mean_and_half_width(xs: &[f64]) -> Option<(f64, Option<f64>)> {
    Method::StudentT.mean_and_half_width(xs)
}

/// Which interval a verdict gets: the Student-t interval of a fixed number of rounds, or the
/// confidence sequence ([`super::sequence`]) that stays valid when the rounds stop once the
/// verdicts settle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    #[default]
    StudentT,
    ConfidenceSequence,
}

impl Method {
    /// The mean of `xs` and the half-width of its 95% interval by this method (infinite while a
    /// confidence sequence excludes nothing yet); no half-width with one value, nothing when a
    /// value is not finite.
    pub fn mean_and_half_width(self, xs: &[f64]) -> Option<(f64, Option<f64>)> {
        if xs.is_empty() || xs.iter().any(|x| !x.is_finite()) {
            return None;
        }
        let n = xs.len();
        let mean = xs.iter().sum::<f64>() / n as f64;
        if n == 1 {
            return Some((mean, None));
        }
        let variance = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        Some((mean, Some(self.factor(n) * (variance / n as f64).sqrt())))
    }

    /// The half-width of the interval of `n` values, in standard errors of their mean.
    fn factor(self, n: usize) -> f64 {
        match self {
            Method::StudentT => t_975(n - 1),
            Method::ConfidenceSequence => super::sequence::half_width_factor(n),
        }
    }

    /// The name the JSON and the tables give it.
    pub fn name(self) -> &'static str {
        match self {
            Method::StudentT => "student-t",
            Method::ConfidenceSequence => "confidence-sequence",
        }
    }
}

/// The geometric mean of `ratios` and its 95% t-interval; `None` when there is no usable ratio
/// (every ratio must be finite and positive).
pub fn estimate(ratios: &[f64]) -> Option<Estimate> {
    estimate_by(Method::StudentT, ratios)
}

/// [`estimate`] with the interval of `method` (bounds 0 to ∞ while a confidence sequence
/// excludes nothing yet).
pub fn estimate_by(method: Method, ratios: &[f64]) -> Option<Estimate> {
    if ratios.is_empty() || ratios.iter().any(|r| !(r.is_finite() && *r > 0.0)) {
        return None;
    }
    let logs: Vec<f64> = ratios.iter().map(|r| r.ln()).collect();
    let (mean, half) = method.mean_and_half_width(&logs)?;
    Some(Estimate { ratio: mean.exp(), bounds: half.map(|h| ((mean - h).exp(), (mean + h).exp())) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_confidence_sequence_keeps_the_same_level_as_every_interval() {
        assert!((1.0 - super::super::sequence::ALPHA - CONFIDENCE).abs() < 1e-12);
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn identical_rounds_give_a_point_interval() {
        let e = estimate(&[2.0, 2.0, 2.0]).unwrap();
        assert!(close(e.ratio, 2.0, 1e-12));
        let (lo, hi) = e.bounds.unwrap();
        assert!(close(lo, 2.0, 1e-12) && close(hi, 2.0, 1e-12));
    }

    #[test]
    fn known_values() {
        // logs: ln 2 ± ln 1.1 → mean ln 2, sd = ln 1.1 * sqrt(2/1) / ... computed by hand below.
        let r = [2.0 * 1.1, 2.0 / 1.1];
        let e = estimate(&r).unwrap();
        assert!(close(e.ratio, 2.0, 1e-12), "{e:?}");
        // Two rounds: sd of logs = sqrt(2) * ln 1.1, half-width = t(1) * sd / sqrt(2) = t(1) * ln 1.1.
        let half = 12.706_204_736 * 1.1f64.ln();
        let (lo, hi) = e.bounds.unwrap();
        assert!(close(lo, 2.0 * (-half).exp(), 1e-9) && close(hi, 2.0 * half.exp(), 1e-9), "{lo} {hi}");

        // Ten rounds alternating 1.9 / 2.1 (in log space around sqrt(1.9 * 2.1)).
        let r: Vec<f64> = (0..10).map(|i| if i % 2 == 0 { 1.9 } else { 2.1 }).collect();
        let e = estimate(&r).unwrap();
        assert!(close(e.ratio, (1.9f64 * 2.1).sqrt(), 1e-12));
        let (lo, hi) = e.bounds.unwrap();
        assert!(lo > 1.9 && lo < 2.0 && hi > 2.0 && hi < 2.1, "{lo} {hi}");
        // Symmetric in log space.
        assert!(close((hi / e.ratio).ln(), (e.ratio / lo).ln(), 1e-12));
    }

    #[test]
    fn inverse_ratios_give_inverse_intervals() {
        let a = estimate(&[1.2, 1.5, 1.1, 1.4]).unwrap();
        let b = estimate(&[1.0 / 1.2, 1.0 / 1.5, 1.0 / 1.1, 1.0 / 1.4]).unwrap();
        assert!(close(a.ratio * b.ratio, 1.0, 1e-12));
        let ((alo, ahi), (blo, bhi)) = (a.bounds.unwrap(), b.bounds.unwrap());
        assert!(close(alo * bhi, 1.0, 1e-12) && close(ahi * blo, 1.0, 1e-12));
    }

    #[test]
    fn one_round_has_no_interval_and_bad_input_no_estimate() {
        let one = estimate(&[3.0]).unwrap();
        assert!(close(one.ratio, 3.0, 1e-12) && one.bounds.is_none());
        assert_eq!(estimate(&[]), None);
        assert_eq!(estimate(&[1.0, 0.0]), None);
        assert_eq!(estimate(&[1.0, f64::NAN]), None);
        assert_eq!(estimate(&[1.0, f64::INFINITY]), None);
    }

    #[test]
    fn t_quantiles_are_exact() {
        // Reference values (R: qt(0.975, df)), to 7 significant digits and more.
        for (df, t) in [
            (1, 12.706_204_736),
            (2, 4.302_652_730),
            (9, 2.262_157_163),
            (30, 2.042_272_456),
            (31, 2.039_513_446),
            (40, 2.021_075_390),
            (100, 1.983_971_519),
            (1000, 1.962_339_081),
        ] {
            assert!(close(t_975(df), t, 1e-6), "df {df}: {} against {t}", t_975(df));
        }
        assert!(t_975_real(5.5) < t_975(5) && t_975_real(5.5) > t_975(6));
        assert!(t_975(0).is_infinite() && t_975_real(-1.0).is_infinite() && t_975_real(f64::NAN).is_infinite());
        // Towards the normal quantile as the degrees of freedom grow (rounds are at most 1,000).
        assert!(t_975(1999) > 1.959_96 && t_975(1999) < t_975(1000));
    }

    #[test]
    fn mean_and_half_width_of_differences() {
        let (m, h) = mean_and_half_width(&[1.0, 3.0]).unwrap();
        assert!(close(m, 2.0, 1e-12) && close(h.unwrap(), 12.706_204_736, 1e-6), "{m} {h:?}");
        assert_eq!(mean_and_half_width(&[-4.0]), Some((-4.0, None)));
        assert_eq!(mean_and_half_width(&[]), None);
        assert_eq!(mean_and_half_width(&[1.0, f64::NAN]), None);
    }
}
