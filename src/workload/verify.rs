//! `--verify`: every value a read returns (get, batch, scan) is compared with what aerobench
//! wrote for that record; a record that differs fails its call with [`MISMATCH`], so mismatches
//! are counted per cell like any failure. A scanned record carries no key: its index is read
//! back from its first bin (every bin of record `i` derives from `i`).

use crate::workload::{BinValue, Workload};

/// The reason a call fails with when a value read differs from the value written.
pub const MISMATCH: &str = "value mismatch (--verify): a value read differs from the value written";

/// The record index whose first bin holds `first`, when it can be told.
pub fn index_of(first: &BinValue) -> Option<u64> {
    match first {
        BinValue::Int(i) => u64::try_from(*i).ok(),
        BinValue::Double(d) if *d >= 0.0 && (d * 2.0).fract() == 0.0 => Some((d * 2.0) as u64),
        BinValue::Str(s) => u64::from_str_radix(s.split_once('-')?.0, 16).ok(),
        BinValue::Double(_) => None,
    }
}

/// Compares a record read with record `index` as written (`None`: a scanned record, whose index
/// is read from its first bin). `bin(name)` is the value read for that bin.
pub fn check(workload: &Workload, index: Option<u64>, bin: impl Fn(&str) -> Option<BinValue>) -> Result<(), String> {
    let index = match index {
        Some(i) => i,
        None => {
            let Some(first) = workload.bins.first().and_then(|b| bin(b.name())) else {
                return Err(MISMATCH.to_string());
            };
            match index_of(&first) {
                Some(i) if i < workload.count => i,
                // Too short a string to carry its index: only its presence is checked.
                None if matches!(first, BinValue::Str(_)) => return Ok(()),
                _ => return Err(MISMATCH.to_string()),
            }
        }
    };
    for (name, want) in workload.values(index) {
        if bin(name).as_ref() != Some(&want) {
            return Err(MISMATCH.to_string());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload() -> Workload {
        Workload {
            namespace: "test".into(),
            set: "s".into(),
            key_prefix: "k-".into(),
            count: 100,
            batch_size: 10,
            bins: Workload::bins_for(3, 16),
            scans: 1,
            warmup: 0,
        }
    }

    #[test]
    fn a_record_as_written_passes_and_any_changed_value_fails() {
        let w = workload();
        let values = |i: u64| w.values(i).into_iter().map(|(n, v)| (n.to_string(), v)).collect::<Vec<_>>();
        let read = values(42);
        let lookup = |read: &Vec<(String, BinValue)>| {
            let read = read.clone();
            move |name: &str| read.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
        };
        assert_eq!(check(&w, Some(42), lookup(&read)), Ok(()));
        assert_eq!(check(&w, None, lookup(&read)), Ok(()), "a scanned record finds its index");
        assert!(check(&w, Some(41), lookup(&read)).is_err(), "another record's values");
        let mut changed = read.clone();
        if let BinValue::Str(s) = &mut changed[1].1 {
            s.pop();
            s.push('#');
        }
        assert!(check(&w, Some(42), lookup(&changed)).is_err());
        assert!(check(&w, None, lookup(&changed)).is_err());
        let mut missing = read;
        missing.pop();
        assert!(check(&w, Some(42), lookup(&missing)).is_err());
    }

    #[test]
    fn indices_come_back_from_every_first_bin_type() {
        assert_eq!(index_of(&BinValue::Int(7)), Some(7));
        assert_eq!(index_of(&BinValue::Double(3.5)), Some(7));
        assert_eq!(index_of(&BinValue::Str("1f-abc".into())), Some(31));
        assert_eq!(index_of(&BinValue::Str("1f".into())), None);
        assert_eq!(index_of(&BinValue::Double(0.25)), None);
    }
}
