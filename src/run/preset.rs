//! Record shapes by name (`--preset`): how many bins a record has and how large its string bins
//! are, from a small record to a large one, so users need not work the numbers out.

/// A named record shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// 3 bins (an int, a 10-byte string, a double).
    Small,
    /// 10 bins: an int, a double and eight strings of 100 bytes.
    Medium,
    /// 50 bins: an int, a double and 48 strings of 1 KiB (about 48 KiB a record).
    Large,
}

impl Preset {
    /// Bins per record and bytes per string bin.
    pub fn shape(self) -> (u32, u32) {
        match self {
            Preset::Small => (3, 10),
            Preset::Medium => (10, 100),
            Preset::Large => (50, 1024),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{BinSpec, BinType, Workload};

    #[test]
    fn presets_run_from_three_small_bins_to_fifty_large_ones() {
        let bins = |p: Preset| {
            let (n, size) = p.shape();
            Workload::bins_of(BinType::Mixed, n, size)
        };
        let small = bins(Preset::Small);
        assert_eq!(small.len(), 3);
        assert!(small.contains(&BinSpec::Str("s".into(), 10)));
        let large = bins(Preset::Large);
        assert_eq!(large.len(), 50);
        let bytes: u32 = large.iter().map(|b| if let BinSpec::Str(_, n) = b { *n } else { 8 }).sum();
        assert_eq!(bytes, 48 * 1024 + 16);
        assert_eq!(bins(Preset::Medium).len(), 10);
    }
}
