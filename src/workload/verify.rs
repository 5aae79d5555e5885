//! `--verify`: every value a read returns (get, batch, scan) is compared with what aerobench
//! wrote for that record; a record that differs fails its call with [`MISMATCH`], so mismatches
//! are counted per cell like any failure. A scanned record carries no key: its index is read
//! back from its first bin (every bin of record `i` derives from `i`).

use crate::workload::{BinSpec, BinValue, Workload};

/// The reason a call fails with when a value read differs from the value written.
pub const MISMATCH: &str = "value mismatch (--verify): a value read differs from the value written";

/// The record index whose first bin holds `first`, when it can be told.
pub fn index_of(first: &BinValue) -> Option<u64> {
    match first {
        BinValue::Int(i) => u64::try_from(*i).ok(),
        BinValue::Double(d) if *d >= 0.0 && (d * 2.0).fract() == 0.0 => Some((d * 2.0) as u64),
        BinValue::Str(s) => u64::from_str_radix(s.split_once('-')?.0, 16).ok(),
        _ => None,
    }
}

/// Compares a record read with record `index` as written (`None`: a scanned record, whose index
/// is read from its first bin). `bin(name)` is the value read for that bin. Only the bins a read
/// asks for (`--read-bins`) are compared.
pub fn check(workload: &Workload, index: Option<u64>, bin: impl Fn(&str) -> Option<BinValue>) -> Result<(), String> {
    let index = match index {
        Some(i) => i,
        None => {
            let Some(spec) = workload.first_read_bin() else { return Err(MISMATCH.to_string()) };
            let Some(first) = bin(spec.name()) else {
                return Err(MISMATCH.to_string());
            };
            let told = match spec {
                BinSpec::Value(..) => crate::workload::records::generate::index_of(&first),
                _ => index_of(&first),
            };
            match told {
                Some(i) if i < workload.count => i,
                // A value too small to carry its index (a short string or blob, a bool): only
                // its presence is checked.
                None if !matches!(first, BinValue::Int(_) | BinValue::Double(_)) => return Ok(()),
                _ => return Err(MISMATCH.to_string()),
            }
        }
    };
    for (name, want) in workload.read_values(index) {
        if bin(name).as_ref() != Some(&want) {
            return Err(MISMATCH.to_string());
        }
    }
    Ok(())
}

/// With `--read-bins`, a record read must hold only the bins asked for: `count` is how many it
/// holds.
pub fn check_count(workload: &Workload, count: usize) -> Result<(), String> {
    match &workload.read_bins {
        Some(names) if names.len() != count => Err(MISMATCH.to_string()),
        _ => Ok(()),
    }
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
            seed: 0,
            read_bins: None,
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
    fn spec_records_and_bin_subsets_are_checked() {
        let mut w = workload();
        w.bins = crate::workload::spec_bins(
            &crate::workload::records::RecordSpec::parse("a=I,b={3*S2:[2*F]},c=B16").unwrap(),
        );
        w.seed = 5;
        let read = |w: &Workload, i: u64| w.values(i).into_iter().map(|(n, v)| (n.to_string(), v)).collect::<Vec<_>>();
        let lookup = |read: Vec<(String, BinValue)>| {
            move |name: &str| read.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
        };
        assert_eq!(check(&w, Some(9), lookup(read(&w, 9))), Ok(()));
        assert_eq!(check(&w, None, lookup(read(&w, 9))), Ok(()));
        let mut other_seed = w.clone();
        other_seed.seed = 6;
        assert!(check(&w, Some(9), lookup(read(&other_seed, 9))).is_err(), "another seed's values");
        // A map whose entries come back in another order differs.
        let mut swapped = read(&w, 9);
        if let BinValue::Map(m) = &mut swapped[1].1 {
            m.swap(0, 1);
        }
        assert!(check(&w, Some(9), lookup(swapped)).is_err());
        // --read-bins c,b: only those are compared, and found from the first one asked.
        w.read_bins = Some(vec!["c".into(), "b".into()]);
        let subset: Vec<_> = read(&w, 9).into_iter().filter(|(n, _)| n != "a").collect();
        assert_eq!(check(&w, None, lookup(subset.clone())), Ok(()));
        assert_eq!(check(&w, Some(9), lookup(subset)), Ok(()));
        assert_eq!(check_count(&w, 2), Ok(()));
        assert!(check_count(&w, 3).is_err(), "a bin not asked for came back");
        w.read_bins = None;
        assert_eq!(check_count(&w, 4), Ok(()), "without --read-bins the count is not checked");
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
