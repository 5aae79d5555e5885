//! Read/update mixes (`--workload`): which calls of a mixed phase are reads (gets) and which are
//! updates (puts). A mixed phase runs as a get phase whose update calls carry [`UPDATE`] in their
//! call index; drivers split it off with [`split`] and make a put, and the engine records the two
//! kinds into separate cells. Whether call `n` is an update is drawn from (`--seed`, n) alone, so
//! every client makes the same calls in the same order.

use rand::SeedableRng as _;
use rand::rngs::SmallRng;
use rand_distr::{Bernoulli, Distribution as _};

use crate::workload::Operation;

/// Marks an update in a mixed phase's call index (indices stay far below it).
pub const UPDATE: u64 = 1 << 62;

/// What `--workload` asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WorkloadMix {
    /// Gets only (the same as `--ops get`).
    ReadOnly,
    /// Puts only (the same as `--ops put`).
    WriteOnly,
    /// `reads` percent of the calls are gets, the rest puts, in one phase.
    ReadUpdate { reads: u8 },
    /// Each call reads a record and writes it back (a get then a put of the same key), timed as
    /// one call: YCSB's workload F.
    ReadModifyWrite,
}

impl WorkloadMix {
    /// Parses `read-only`, `write-only` or `read-update:P` (P% reads, 0 < P < 100).
    pub fn parse(text: &str) -> Result<WorkloadMix, String> {
        match text.trim() {
            "read-only" => Ok(WorkloadMix::ReadOnly),
            "write-only" => Ok(WorkloadMix::WriteOnly),
            "read-modify-write" => Ok(WorkloadMix::ReadModifyWrite),
            other => match other.strip_prefix("read-update:").map(|p| p.trim_end_matches('%').parse::<u8>()) {
                Some(Ok(reads)) if (1..=99).contains(&reads) => Ok(WorkloadMix::ReadUpdate { reads }),
                _ => Err(format!(
                    "unknown workload {text:?}; use read-only, write-only, read-modify-write or read-update:P (P% \
                     reads, 1 to 99), e.g. read-update:80"
                )),
            },
        }
    }

    /// The operations the run measures.
    pub fn ops(self) -> Vec<Operation> {
        match self {
            WorkloadMix::ReadOnly => vec![Operation::Get],
            WorkloadMix::WriteOnly => vec![Operation::Put],
            WorkloadMix::ReadUpdate { .. } => vec![Operation::Get],
            WorkloadMix::ReadModifyWrite => vec![Operation::ReadModifyWrite],
        }
    }

    /// Share of the calls of a mixed phase that are updates.
    pub fn update_share(self) -> Option<f64> {
        match self {
            WorkloadMix::ReadUpdate { reads } => Some(f64::from(100 - reads) / 100.0),
            _ => None,
        }
    }

    pub fn name(self) -> String {
        match self {
            WorkloadMix::ReadOnly => "read-only".into(),
            WorkloadMix::WriteOnly => "write-only".into(),
            WorkloadMix::ReadUpdate { reads } => format!("read-update:{reads}"),
            WorkloadMix::ReadModifyWrite => "read-modify-write".into(),
        }
    }
}

/// Whether call `n` of a mixed phase with `share` updates is an update.
pub fn is_update(share: f64, seed: u64, n: u64) -> bool {
    let mut rng = SmallRng::seed_from_u64(seed.rotate_left(17) ^ n.wrapping_mul(0xD1B5_4A32_D192_ED03) ^ 0x5EED);
    Bernoulli::new(share).is_ok_and(|b| b.sample(&mut rng))
}

/// The operation and record of a call index: a get phase's index marked [`UPDATE`] is a put.
pub fn split(op: Operation, index: u64) -> (Operation, u64) {
    if index & UPDATE != 0 { (Operation::Put, index & !UPDATE) } else { (op, index) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_mixes() {
        assert_eq!(WorkloadMix::parse("read-update:80"), Ok(WorkloadMix::ReadUpdate { reads: 80 }));
        assert_eq!(WorkloadMix::parse("read-modify-write"), Ok(WorkloadMix::ReadModifyWrite));
        assert_eq!(WorkloadMix::ReadModifyWrite.ops(), vec![Operation::ReadModifyWrite]);
        assert_eq!(WorkloadMix::ReadModifyWrite.update_share(), None);
        assert_eq!(WorkloadMix::parse("read-only").unwrap().ops(), [Operation::Get]);
        assert_eq!(WorkloadMix::parse("write-only").unwrap().ops(), [Operation::Put]);
        assert_eq!(WorkloadMix::parse("read-update:80").unwrap().update_share(), Some(0.2));
        for bad in ["", "read-update", "read-update:0", "read-update:100", "read-update:x", "rmw"] {
            assert!(WorkloadMix::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_80_20_mix_has_a_fifth_updates_the_same_for_every_seed_use() {
        let updates = (0..100_000).filter(|&n| is_update(0.2, 1, n)).count();
        assert!((19_500..=20_500).contains(&updates), "{updates}");
        let a: Vec<bool> = (0..100).map(|n| is_update(0.2, 1, n)).collect();
        let b: Vec<bool> = (0..100).map(|n| is_update(0.2, 1, n)).collect();
        let c: Vec<bool> = (0..100).map(|n| is_update(0.2, 2, n)).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(split(Operation::Get, 7 | UPDATE), (Operation::Put, 7));
        assert_eq!(split(Operation::Get, 7), (Operation::Get, 7));
    }
}
