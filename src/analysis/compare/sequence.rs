//! The interval that stays valid however many rounds are looked at: the normal-mixture t
//! confidence sequence of Lai (1976, "On confidence sequences", Ann. Statist.), i.e. the
//! fixed-g Bayes factor of Rouder et al. (2009) with the right-Haar prior on σ, which
//! Pérez-Ortiz, Lardy, de Heide & Grünwald (2024, "E-statistics, group invariance and
//! anytime-valid testing", Ann. Statist.) show is an e-process for every σ. By Ville's
//! inequality the chance that the factor of the true mean ever reaches 1/α is at most α, so the
//! set of means whose factor stays below 1/α covers the true mean at every round at once, and
//! hence at a round chosen by looking at the data (the rounds of `--stop settled`).

/// The prior variance of the standardized effect (δ = μ/σ ~ N(0, g)): chosen by simulation
/// (docs/verdicts.md) so that clear differences settle in three to six rounds; half-width
/// factors 10.3 at 3 rounds, 5.7 at 5, 4.4 at 10, 3.9 at 30 (Student's t: 4.3, 2.8, 2.3, 2.0).
pub const PRIOR_G: f64 = 20.0;

/// Rounds before the first look (fewer give no interval or one too wide to settle anything).
pub const MIN_ROUNDS: u32 = 3;

/// The level the sequence keeps at every round at once: 1 − 95%, the confidence of every interval
/// aerobench reports (`interval::CONFIDENCE`, held equal by a test there).
pub const ALPHA: f64 = 0.05;

/// [`ALPHA`], as the formulas below use it.
pub fn alpha() -> f64 {
    ALPHA
}

/// The Bayes factor of `xs` against the mean `mu0`, from its t statistic (n ≥ 2 values,
/// ν = n − 1): (1+ng)^(−1/2) · [(1 + t²/ν) / (1 + t²/((1+ng)ν))]^((ν+1)/2). None with fewer
/// than two values or no spread. (The interval is its solution; tests check one against the other.)
#[cfg(test)]
pub fn bayes_factor(xs: &[f64], mu0: f64) -> Option<f64> {
    let (mean, sd) = mean_and_sd(xs)?;
    if sd <= 0.0 {
        return None;
    }
    let n = xs.len() as f64;
    let nu = n - 1.0;
    let t = (mean - mu0) / (sd / n.sqrt());
    let spread = 1.0 + n * PRIOR_G;
    Some(spread.powf(-0.5) * ((1.0 + t * t / nu) / (1.0 + t * t / (spread * nu))).powf((nu + 1.0) / 2.0))
}

/// The half-width of the sequence at `n` values in units of the standard error s/√n: solving
/// BF = 1/α for t, with q = ((1+ng)^(1/2)/α)^(2/(ν+1)), t = √(ν(q−1)/(1 − q/(1+ng))); infinite
/// while q ≥ 1+ng (no mean is excluded yet: at two values, whatever they are).
pub fn half_width_factor(n: usize) -> f64 {
    if n < 2 {
        return f64::INFINITY;
    }
    let nf = n as f64;
    let nu = nf - 1.0;
    let spread = 1.0 + nf * PRIOR_G;
    let q = (spread.sqrt() / alpha()).powf(2.0 / (nu + 1.0));
    if q >= spread {
        return f64::INFINITY;
    }
    (nu * (q - 1.0) / (1.0 - q / spread)).sqrt()
}

/// The mean and standard deviation of `xs` (two values at least), for the factor above.
#[cfg(test)]
fn mean_and_sd(xs: &[f64]) -> Option<(f64, f64)> {
    if xs.len() < 2 {
        return None;
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let variance = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    Some((mean, variance.sqrt()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt as _, SeedableRng as _};

    /// The mean of `xs` and the half-width of its confidence sequence, as the verdicts get it.
    fn mean_and_half_width(xs: &[f64]) -> Option<(f64, Option<f64>)> {
        crate::analysis::compare::interval::Method::ConfidenceSequence.mean_and_half_width(xs)
    }

    #[test]
    fn the_bound_is_where_the_factor_reaches_one_over_alpha() {
        let xs = [0.11, 0.02, 0.07, 0.15, 0.04, 0.09];
        let (mean, half) = mean_and_half_width(&xs).unwrap();
        let half = half.unwrap();
        for mu0 in [mean - half, mean + half] {
            let bf = bayes_factor(&xs, mu0).unwrap();
            assert!((bf - 1.0 / alpha()).abs() < 1e-6 * (1.0 / alpha()), "BF {bf} at the bound {mu0}");
        }
        // Inside the interval the factor stays below 1/α, outside it passes it.
        assert!(bayes_factor(&xs, mean).unwrap() < 1.0 / alpha());
        assert!(bayes_factor(&xs, mean + 0.9 * half).unwrap() < 1.0 / alpha());
        assert!(bayes_factor(&xs, mean + 1.1 * half).unwrap() > 1.0 / alpha());
    }

    #[test]
    fn factors_as_documented_and_wider_than_student_t() {
        for (n, factor) in [(3, 10.33), (5, 5.66), (10, 4.38), (30, 3.86)] {
            assert!((half_width_factor(n) - factor).abs() < 0.01, "n {n}: {}", half_width_factor(n));
            assert!(half_width_factor(n) > crate::analysis::compare::interval::t_975(n - 1));
        }
        assert!(half_width_factor(2).is_infinite() && half_width_factor(1).is_infinite());
        // Narrowing as rounds come, to 3.79 at 71 rounds; from there the factor grows slowly
        // (as √log n: the price of looking at every round), 4.0 at 1,000 rounds.
        assert!((3..71).all(|n| half_width_factor(n + 1) < half_width_factor(n)));
        assert!((half_width_factor(1000) - 4.0).abs() < 0.01);
        assert_eq!(mean_and_half_width(&[1.0]), Some((1.0, None)));
        assert_eq!(mean_and_half_width(&[1.0, f64::NAN]), None);
    }

    /// How a sequence of log-ratios ends when stopped by the rule of `--stop settled` (looks from
    /// round 3, at most `cap` rounds, minimum effect `m`): +1 faster, −1 slower, 0 within, None
    /// open at the cap; with the round it stopped at.
    fn stopped(logs: &[f64], m: f64) -> (Option<i8>, usize) {
        let edge = (1.0 + m).ln();
        for n in MIN_ROUNDS as usize..=logs.len() {
            let (mean, half) = mean_and_half_width(&logs[..n]).unwrap();
            let (lo, hi) = (mean - half.unwrap(), mean + half.unwrap());
            // As the verdicts' wording: beyond the edge, or beyond 1 with no minimum effect.
            if lo >= edge && lo > 0.0 {
                return (Some(1), n);
            }
            if hi <= -edge && hi < 0.0 {
                return (Some(-1), n);
            }
            if m > 0.0 && lo >= -edge && hi <= edge {
                return (Some(0), n);
            }
        }
        (None, logs.len())
    }

    /// A round's log-ratio: Gaussian noise of `sd`, and one round in twenty an outlier from a
    /// heavy-tailed (Student t, 2 degrees of freedom) component three times as wide.
    fn noisy(rng: &mut rand::rngs::SmallRng, effect: f64, sd: f64) -> f64 {
        use rand_distr::Distribution as _;
        let normal = rand_distr::Normal::new(effect.ln(), sd).unwrap();
        let mut x = normal.sample(rng);
        if rng.random::<f64>() < 0.05 {
            x += rand_distr::StudentT::new(2.0).unwrap().sample(rng) * sd * 3.0;
        }
        x
    }

    #[test]
    fn a_a_sequences_stopped_by_the_rule_rarely_call_a_direction() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(29);
        const CAP: usize = 30;
        // With the default minimum effect, and with none (--min-effect 0: any interval off 1
        // calls a direction, where peeking with a t-interval calls one in about a quarter).
        for (sd, m) in [(0.02, 0.03), (0.05, 0.03), (0.08, 0.03), (0.05, 0.0)] {
            let runs = 2000;
            let mut wrong = 0;
            // Stops per round, and how many of those called a direction.
            let mut at = [(0u32, 0u32); CAP + 1];
            for _ in 0..runs {
                let logs: Vec<f64> = (0..CAP).map(|_| noisy(&mut rng, 1.0, sd)).collect();
                let (end, n) = stopped(&logs, m);
                let direction = matches!(end, Some(1 | -1));
                wrong += u32::from(direction);
                at[n].0 += 1;
                at[n].1 += u32::from(direction);
            }
            let share = f64::from(wrong) / runs as f64;
            assert!(share <= 0.05, "sd {sd}, minimum effect {m}: a direction in {share} of A/A sequences");
            for (n, &(stops, wrong)) in at.iter().enumerate() {
                // Rounds at which enough sequences stopped to say anything.
                if stops >= 100 {
                    let share = f64::from(wrong) / f64::from(stops);
                    assert!(
                        share <= 0.05,
                        "sd {sd}, m {m}: {wrong} of {stops} stopped at round {n} called a direction"
                    );
                }
            }
        }
    }

    #[test]
    fn a_known_ten_percent_effect_settles_on_its_side() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(28);
        for (effect, side) in [(1.10, 1), (1.0 / 1.10, -1)] {
            let runs = 1000;
            let (mut right, mut wrong) = (0, 0);
            for _ in 0..runs {
                let logs: Vec<f64> = (0..30).map(|_| noisy(&mut rng, effect, 0.05)).collect();
                match stopped(&logs, 0.03).0 {
                    Some(s) if s == side => right += 1,
                    Some(1 | -1) | Some(0) => wrong += 1,
                    _ => {}
                }
            }
            assert_eq!(wrong, 0, "effect {effect}: settled on the wrong side or within 3%");
            assert!(right >= runs * 8 / 10, "effect {effect}: only {right} of {runs} settled");
        }
        // A clear difference (2x, 5% noise) settles at the first look.
        let logs: Vec<f64> = (0..30).map(|_| noisy(&mut rng, 2.0, 0.05)).collect();
        assert_eq!(stopped(&logs, 0.03), (Some(1), 3));
    }
}
