//! Which record each call of a put or get phase uses (`--keys`, `--seed`, `--key-space`): in
//! order (the default), or drawn from a distribution — uniform, zipfian (a few keys take most
//! calls) or a hot spot (x% of calls to y% of keys). Call `n` of a phase draws from a generator
//! seeded with (`--seed`, n) alone, so every client, sync or async, Rust or Python, and every run
//! with the same seed uses the same key for the same call, whichever worker makes it.

use rand::SeedableRng as _;
use rand::rngs::SmallRng;
use rand_distr::{Distribution as _, Uniform, Zipf};
use serde::{Deserialize, Serialize};

/// How keys are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyDistribution {
    /// Call `n` uses record `n` (wrapping around the key space).
    #[default]
    Sequential,
    /// Every record equally likely.
    Uniform,
    /// Record of rank `r` (from 1) drawn with probability ∝ 1 / r^θ: record 0 is the hottest.
    Zipfian { theta: f64 },
    /// `calls` of the calls (a fraction) go to the first `keys` of the records, uniformly; the
    /// rest to the others.
    Hotspot { calls: f64, keys: f64 },
}

/// θ when `--keys zipfian` gives none: YCSB's default.
pub const DEFAULT_THETA: f64 = 0.99;

impl KeyDistribution {
    /// Parses `sequential`, `uniform`, `zipfian`, `zipfian:0.8` or `hotspot:90/10`.
    pub fn parse(text: &str) -> Result<KeyDistribution, String> {
        let t = text.trim();
        let (name, arg) = t.split_once(':').map_or((t, None), |(n, a)| (n, Some(a)));
        match (name, arg) {
            ("sequential", None) => Ok(KeyDistribution::Sequential),
            ("uniform", None) => Ok(KeyDistribution::Uniform),
            ("zipfian", None) => Ok(KeyDistribution::Zipfian { theta: DEFAULT_THETA }),
            ("zipfian", Some(theta)) => match theta.parse::<f64>() {
                Ok(theta) if theta.is_finite() && theta > 0.0 && theta <= 10.0 => {
                    Ok(KeyDistribution::Zipfian { theta })
                }
                _ => Err(format!("θ in {text:?} must be a number above 0 and at most 10, e.g. zipfian:0.99")),
            },
            ("hotspot", Some(shares)) => {
                let percent =
                    |p: &str| p.trim().trim_end_matches('%').parse::<f64>().ok().filter(|p| *p > 0.0 && *p < 100.0);
                match shares.split_once('/').map(|(c, k)| (percent(c), percent(k))) {
                    Some((Some(calls), Some(keys))) => {
                        Ok(KeyDistribution::Hotspot { calls: calls / 100.0, keys: keys / 100.0 })
                    }
                    _ => Err(format!(
                        "{text:?} is not a hot spot; use hotspot:X/Y for X% of calls to Y% of keys, both between 0 and 100, e.g. hotspot:90/10"
                    )),
                }
            }
            _ => Err(format!(
                "unknown key distribution {text:?}; use sequential, uniform, zipfian, zipfian:THETA or hotspot:X/Y"
            )),
        }
    }

    /// The distribution as the report names it, e.g. `zipfian:0.99`, `hotspot:90/10`.
    pub fn name(&self) -> String {
        match self {
            KeyDistribution::Sequential => "sequential".into(),
            KeyDistribution::Uniform => "uniform".into(),
            KeyDistribution::Zipfian { theta } => format!("zipfian:{theta}"),
            KeyDistribution::Hotspot { calls, keys } => format!("hotspot:{}/{}", calls * 100.0, keys * 100.0),
        }
    }
}

/// Chooses the record of each call: a distribution over `space` records with a seed.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct KeyChooser {
    pub distribution: KeyDistribution,
    pub seed: u64,
}

impl KeyChooser {
    /// The record (0..space) call `n` uses.
    pub fn pick(&self, n: u64, space: u64) -> u64 {
        let space = space.max(1);
        if self.distribution == KeyDistribution::Sequential {
            return n % space;
        }
        let mut rng = SmallRng::seed_from_u64(mix(self.seed, n));
        let pick = match self.distribution {
            KeyDistribution::Sequential => n,
            KeyDistribution::Uniform => uniform(&mut rng, 0, space),
            KeyDistribution::Zipfian { theta } => match Zipf::new(space as f64, theta) {
                Ok(z) => (z.sample(&mut rng) as u64).saturating_sub(1),
                Err(_) => uniform(&mut rng, 0, space),
            },
            KeyDistribution::Hotspot { calls, keys } => {
                let hot = ((space as f64 * keys).round() as u64).clamp(1, space);
                let to_hot = Uniform::new(0.0f64, 1.0).map(|u| u.sample(&mut rng) < calls).unwrap_or(true);
                if to_hot || hot == space { uniform(&mut rng, 0, hot) } else { uniform(&mut rng, hot, space) }
            }
        };
        pick.min(space - 1)
    }
}

fn uniform(rng: &mut SmallRng, low: u64, high: u64) -> u64 {
    Uniform::new(low, high.max(low + 1)).map_or(low, |u| u.sample(rng))
}

/// One seed per (run seed, call): SplitMix64's finaliser over both, so neighbouring calls get
/// unrelated streams.
fn mix(seed: u64, n: u64) -> u64 {
    let mut z = seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(chooser: KeyChooser, calls: u64, space: u64) -> Vec<u64> {
        let mut counts = vec![0u64; space as usize];
        for n in 0..calls {
            counts[chooser.pick(n, space) as usize] += 1;
        }
        counts
    }

    fn chooser(text: &str) -> KeyChooser {
        KeyChooser { distribution: KeyDistribution::parse(text).unwrap(), seed: 42 }
    }

    #[test]
    fn parses_every_distribution_and_refuses_nonsense() {
        assert_eq!(KeyDistribution::parse("uniform"), Ok(KeyDistribution::Uniform));
        assert_eq!(KeyDistribution::parse("zipfian"), Ok(KeyDistribution::Zipfian { theta: 0.99 }));
        assert_eq!(KeyDistribution::parse("zipfian:1.2"), Ok(KeyDistribution::Zipfian { theta: 1.2 }));
        assert_eq!(KeyDistribution::parse("hotspot:90/10"), Ok(KeyDistribution::Hotspot { calls: 0.9, keys: 0.1 }));
        assert_eq!(KeyDistribution::parse("hotspot:90/10").unwrap().name(), "hotspot:90/10");
        assert_eq!(KeyDistribution::parse("zipfian:0.5").unwrap().name(), "zipfian:0.5");
        for bad in [
            "",
            "zipf",
            "zipfian:0",
            "zipfian:x",
            "hotspot",
            "hotspot:90",
            "hotspot:0/10",
            "hotspot:90/100",
            "uniform:3",
        ] {
            assert!(KeyDistribution::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_keys_and_another_seed_others() {
        let a: Vec<u64> = (0..1000).map(|n| chooser("zipfian").pick(n, 1000)).collect();
        let b: Vec<u64> = (0..1000).rev().map(|n| chooser("zipfian").pick(n, 1000)).rev().collect();
        assert_eq!(a, b, "call n's key does not depend on the order calls are made in");
        let other = KeyChooser { seed: 43, ..chooser("zipfian") };
        let c: Vec<u64> = (0..1000).map(|n| other.pick(n, 1000)).collect();
        assert_ne!(a, c);
        let sequential = KeyChooser::default();
        assert_eq!((0..5).map(|n| sequential.pick(n, 3)).collect::<Vec<_>>(), [0, 1, 2, 0, 1]);
    }

    #[test]
    fn uniform_keys_are_equally_frequent() {
        let c = counts(chooser("uniform"), 100_000, 10);
        assert!(c.iter().all(|&n| (9_500..=10_500).contains(&n)), "{c:?}");
    }

    #[test]
    fn zipfian_keys_follow_the_power_law() {
        let (calls, space, theta) = (200_000u64, 1000u64, 0.99f64);
        let c = counts(chooser("zipfian"), calls, space);
        let norm: f64 = (1..=space).map(|r| 1.0 / (r as f64).powf(theta)).sum();
        for rank in [1u64, 2, 3, 10] {
            let expected = calls as f64 / (rank as f64).powf(theta) / norm;
            let got = c[(rank - 1) as usize] as f64;
            assert!((got - expected).abs() / expected < 0.05, "rank {rank}: {got} vs {expected}");
        }
        let top_tenth: u64 = c[..100].iter().sum();
        let expected_top: f64 = (1..=100).map(|r| 1.0 / (r as f64).powf(theta)).sum::<f64>() / norm;
        assert!((top_tenth as f64 / calls as f64 - expected_top).abs() < 0.01, "{top_tenth}");
    }

    #[test]
    fn a_hot_spot_takes_its_share_of_calls() {
        let c = counts(chooser("hotspot:90/10"), 100_000, 1000);
        let hot: u64 = c[..100].iter().sum();
        assert!((89_000..=91_000).contains(&hot), "{hot} calls to the hot 10%");
        assert!(c[..100].iter().all(|&n| n > 700) && c[100..].iter().all(|&n| n < 30), "uniform within each part");
    }
}
