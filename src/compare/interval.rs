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

/// Two-sided 97.5% quantile of Student's t with `df` degrees of freedom (for 95% intervals).
pub fn t_975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => TABLE[df - 1],
        31..=40 => 2.021,
        41..=60 => 2.000,
        61..=120 => 1.980,
        _ => 1.960,
    }
}

/// The geometric mean of `ratios` and its 95% t-interval; `None` when there is no usable ratio
/// (every ratio must be finite and positive).
pub fn estimate(ratios: &[f64]) -> Option<Estimate> {
    if ratios.is_empty() || ratios.iter().any(|r| !(r.is_finite() && *r > 0.0)) {
        return None;
    }
    let logs: Vec<f64> = ratios.iter().map(|r| r.ln()).collect();
    let n = logs.len();
    let mean = logs.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return Some(Estimate { ratio: mean.exp(), bounds: None });
    }
    let variance = logs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let half = t_975(n - 1) * (variance / n as f64).sqrt();
    Some(Estimate { ratio: mean.exp(), bounds: Some(((mean - half).exp(), (mean + half).exp())) })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        // Two rounds: sd of logs = sqrt(2) * ln 1.1, half-width = 12.706 * sd / sqrt(2) = 12.706 * ln 1.1.
        let half = 12.706 * 1.1f64.ln();
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
    fn t_quantiles() {
        assert_eq!(t_975(1), 12.706);
        assert_eq!(t_975(9), 2.262);
        assert_eq!(t_975(1000), 1.960);
        assert!(t_975(0).is_infinite());
    }
}
