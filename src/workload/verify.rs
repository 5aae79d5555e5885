//! `--verify`: every value a read returns (get, batch, scan) is compared with what aerobench
//! wrote for that record; a record that differs fails its call with [`MISMATCH`], so mismatches
//! are counted per cell like any failure. A record read by key is compared with the record of
//! that key (a get's index, a batch row's position); a scanned record, which carries no key, is
//! tied to its record by its digest ([`DigestIndex`]), or where a client hands back no digest, by
//! the first of its bins that carries its index. A record that cannot be tied to one of the
//! run's records is a mismatch, never a pass.

use std::sync::OnceLock;

use crate::workload::digest::DigestIndex;
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

/// `v` with every map's entries in the order the server keeps keys (integers, then strings, then
/// blobs): a client that hands a map back as a hash map or a dict is compared by content.
pub fn maps_by_key(v: BinValue) -> BinValue {
    match v {
        BinValue::List(items) => BinValue::List(items.into_iter().map(maps_by_key).collect()),
        BinValue::Map(entries) => {
            let mut entries: Vec<_> = entries.into_iter().map(|(k, v)| (maps_by_key(k), maps_by_key(v))).collect();
            entries.sort_by(|a, b| key_rank(&a.0).cmp(&key_rank(&b.0)));
            BinValue::Map(entries)
        }
        other => other,
    }
}

/// Where a map key sorts, as the server orders keys: integers, then strings, then bytes.
fn key_rank(k: &BinValue) -> (u8, i64, &[u8]) {
    match k {
        BinValue::Int(i) => (0, *i, &[]),
        BinValue::Str(s) => (1, 0, s.as_bytes()),
        BinValue::Bytes(b) => (2, 0, b),
        _ => (3, 0, &[]),
    }
}

/// What reads are compared with: the run's records, and the digests of their keys (hashed on the
/// first scanned record, so runs that scan nothing pay nothing).
#[derive(Debug)]
pub struct Verifier {
    workload: Workload,
    digests: OnceLock<DigestIndex>,
}

impl Verifier {
    pub fn new(workload: Workload) -> Verifier {
        Verifier { workload, digests: OnceLock::new() }
    }

    /// A record read by its key: `bins` bins came back, `bin(name)` is the value read for a bin.
    /// Compared with record `index` as written, only the bins a read asks for (`--read-bins`).
    pub fn record(&self, index: u64, bins: usize, bin: impl Fn(&str) -> Option<BinValue>) -> Result<(), String> {
        let w = &self.workload;
        if index >= w.count {
            return Err(MISMATCH.to_string());
        }
        if let Some(names) = &w.read_bins
            && names.len() != bins
        {
            return Err(MISMATCH.to_string());
        }
        for (name, want) in w.read_values(index) {
            if bin(name).as_ref() != Some(&want) {
                return Err(MISMATCH.to_string());
            }
        }
        Ok(())
    }

    /// A scanned record, with the digest it came back with (`None`: the client hands none back):
    /// tied to the record written under that digest, then compared as [`Verifier::record`].
    /// Returns the record's index.
    pub fn scanned(
        &self,
        digest: Option<&[u8]>,
        bins: usize,
        bin: impl Fn(&str) -> Option<BinValue>,
    ) -> Result<u64, String> {
        let by_digest = digest.and_then(|d| self.digests.get_or_init(|| DigestIndex::new(&self.workload)).index_of(d));
        let index = match by_digest {
            Some(i) => i,
            // A digest this run did not write under, or none: the bins must tell the record.
            None => self.told_by_bins(&bin).ok_or_else(|| MISMATCH.to_string())?,
        };
        self.record(index, bins, bin).map(|()| index)
    }

    /// The index the first read bin that can carry one holds.
    fn told_by_bins(&self, bin: &impl Fn(&str) -> Option<BinValue>) -> Option<u64> {
        let w = &self.workload;
        let names: Vec<&str> = match &w.read_bins {
            Some(names) => names.iter().map(String::as_str).collect(),
            None => w.bins.iter().map(BinSpec::name).collect(),
        };
        names.into_iter().find_map(|name| {
            let spec = w.bins.iter().find(|b| b.name() == name)?;
            let value = bin(name)?;
            match spec {
                BinSpec::Value(..) => crate::workload::records::generate::index_of(&value),
                _ => index_of(&value),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::digest::digest;

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

    type Read = Vec<(String, BinValue)>;

    fn read(w: &Workload, i: u64) -> Read {
        w.read_values(i).into_iter().map(|(n, v)| (n.to_string(), v)).collect()
    }

    fn lookup(read: &Read) -> impl Fn(&str) -> Option<BinValue> + '_ {
        move |name: &str| read.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }

    fn by_key(v: &Verifier, i: u64, r: &Read) -> Result<(), String> {
        v.record(i, r.len(), lookup(r))
    }

    fn scanned(v: &Verifier, key: Option<&str>, r: &Read) -> Result<u64, String> {
        let d = key.map(|k| digest(&v.workload.set, k));
        v.scanned(d.as_ref().map(|d| &d[..]), r.len(), lookup(r))
    }

    #[test]
    fn a_record_as_written_passes_and_any_changed_value_fails() {
        let v = Verifier::new(workload());
        let r = read(&v.workload, 42);
        assert_eq!(by_key(&v, 42, &r), Ok(()));
        assert_eq!(scanned(&v, Some("k-42"), &r), Ok(42), "a scanned record is found by its digest");
        assert_eq!(scanned(&v, None, &r), Ok(42), "or, without one, by its first bin");
        assert!(by_key(&v, 41, &r).is_err(), "another record's values");
        assert!(scanned(&v, Some("k-41"), &r).is_err(), "another key's digest");
        assert!(by_key(&v, 100, &r).is_err(), "an index past the run's records");
        let mut changed = r.clone();
        if let BinValue::Str(s) = &mut changed[1].1 {
            s.pop();
            s.push('#');
        }
        assert!(by_key(&v, 42, &changed).is_err());
        assert!(scanned(&v, Some("k-42"), &changed).is_err());
        assert!(scanned(&v, None, &changed).is_err());
        let mut missing = r;
        missing.pop();
        assert!(by_key(&v, 42, &missing).is_err());
    }

    #[test]
    fn a_first_bin_that_carries_no_index_is_still_tied_to_its_key() {
        // --record 'flag=BOOL,payload=B64': nothing in the first bin names the record.
        let mut w = workload();
        w.bins =
            crate::workload::spec_bins(&crate::workload::records::RecordSpec::parse("flag=BOOL,payload=B64").unwrap());
        let v = Verifier::new(w);
        let r = read(&v.workload, 7);
        assert_eq!(by_key(&v, 7, &r), Ok(()));
        assert_eq!(scanned(&v, Some("k-7"), &r), Ok(7));
        // The blob's last byte flipped, as `serve --corrupt-one-in` does.
        let mut corrupted = r.clone();
        if let BinValue::Bytes(b) = &mut corrupted[1].1 {
            *b.last_mut().unwrap() ^= 1;
        }
        assert!(by_key(&v, 7, &corrupted).is_err(), "a get of key 7");
        assert!(scanned(&v, Some("k-7"), &corrupted).is_err(), "a scanned record with key 7's digest");
        // The flag flipped: a bool carries no index, yet the record is key 7's.
        let mut flipped = r.clone();
        if let BinValue::Bool(b) = &mut flipped[0].1 {
            *b = !*b;
        }
        assert!(by_key(&v, 7, &flipped).is_err());
        assert!(scanned(&v, Some("k-7"), &flipped).is_err());
        // Without a digest, the blob's first eight bytes tell the record.
        assert_eq!(scanned(&v, None, &r), Ok(7));
        assert!(scanned(&v, None, &corrupted).is_err());
        // A record no key of this run has, whose bins tell nothing: a mismatch, not a pass.
        let mut w = v.workload.clone();
        w.bins = crate::workload::spec_bins(&crate::workload::records::RecordSpec::parse("flag=BOOL,tag=S2").unwrap());
        let v = Verifier::new(w);
        // (Record 77's two-character string is "4d": too short for the index and its dash.)
        let r = read(&v.workload, 77);
        assert_eq!(scanned(&v, Some("k-77"), &r), Ok(77));
        assert!(scanned(&v, None, &r).is_err(), "nothing ties it to a record");
        assert!(scanned(&v, Some("someone-77"), &r).is_err());
    }

    #[test]
    fn spec_records_and_bin_subsets_are_checked() {
        let mut w = workload();
        w.bins = crate::workload::spec_bins(
            &crate::workload::records::RecordSpec::parse("a=I,b={3*S2:[2*F]},c=B16").unwrap(),
        );
        w.seed = 5;
        let v = Verifier::new(w.clone());
        assert_eq!(by_key(&v, 9, &read(&w, 9)), Ok(()));
        assert_eq!(scanned(&v, None, &read(&w, 9)), Ok(9));
        let mut other_seed = w.clone();
        other_seed.seed = 6;
        assert!(by_key(&v, 9, &read(&other_seed, 9)).is_err(), "another seed's values");
        // A map whose entries come back in another order differs.
        let mut swapped = read(&w, 9);
        if let BinValue::Map(m) = &mut swapped[1].1 {
            m.swap(0, 1);
        }
        assert!(by_key(&v, 9, &swapped).is_err());
        // --read-bins c,b: only those are compared, and the record found from the first one.
        w.read_bins = Some(vec!["c".into(), "b".into()]);
        let v = Verifier::new(w.clone());
        let subset = read(&w, 9);
        assert_eq!(subset.len(), 2);
        assert_eq!(scanned(&v, None, &subset), Ok(9));
        assert_eq!(by_key(&v, 9, &subset), Ok(()));
        let mut extra = subset.clone();
        extra.push(("a".into(), BinValue::Int(0)));
        assert!(by_key(&v, 9, &extra).is_err(), "a bin not asked for came back");
        w.read_bins = None;
        let v = Verifier::new(w.clone());
        let mut all = read(&w, 9);
        all.push(("zz".into(), BinValue::Int(1)));
        assert_eq!(by_key(&v, 9, &all), Ok(()), "without --read-bins the count is not checked");
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
