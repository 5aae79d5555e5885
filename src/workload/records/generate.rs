//! The values of spec bins: made from the record index, the bin's position and `--seed` alone,
//! so every column writes the same record and can check what it reads. Each value carries its
//! record index where its type allows (ints in the high bits, floats in the whole part,
//! strings in a hex prefix, blobs of 8 bytes or more in their first 8), so a scanned record,
//! which comes back without its key, tells which record it is from its first bin.

use super::spec::{KeySpec, ValueSpec};
use crate::workload::BinValue;

/// Low bits of a generated int that vary by seed and position (the record index sits above).
const INT_NOISE_BITS: u32 = 20;

/// SplitMix64's finaliser: a well-spread 64-bit hash.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Where a value sits: bin `k` is path `k + 1`; element `j` of path `p` is its own path.
fn child(path: u64, j: u64) -> u64 {
    mix(path ^ 0xA076_1D64_78BD_642F).wrapping_add(j)
}

/// The value at `path` of record `index`, for `spec`, under `seed`.
pub fn value(spec: &ValueSpec, seed: u64, index: u64, path: u64) -> BinValue {
    let h = mix(seed ^ mix(index ^ mix(path)));
    match spec {
        ValueSpec::Int => BinValue::Int(((index as i64) << INT_NOISE_BITS) | (h & ((1 << INT_NOISE_BITS) - 1)) as i64),
        ValueSpec::Float => BinValue::Double(index as f64 + (h % 1024) as f64 / 1024.0),
        ValueSpec::Bool => BinValue::Bool(h & 1 == 1),
        ValueSpec::Str(len) => BinValue::Str(string(index, h, *len as usize)),
        ValueSpec::Bytes(len) => BinValue::Bytes(bytes(index, h, *len as usize)),
        ValueSpec::List(n, element) => {
            BinValue::List((0..u64::from(*n)).map(|j| value(element, seed, index, child(path, j))).collect())
        }
        ValueSpec::Tuple(elements) => BinValue::List(
            elements.iter().enumerate().map(|(j, e)| value(e, seed, index, child(path, j as u64))).collect(),
        ),
        ValueSpec::Map(n, key, v) => BinValue::Map(
            (0..u64::from(*n)).map(|j| (map_key(*key, j), value(v, seed, index, child(path, j)))).collect(),
        ),
    }
}

/// Entry `j`'s key: the same in every record, so keys sort in entry order.
fn map_key(key: KeySpec, j: u64) -> BinValue {
    match key {
        KeySpec::Int => BinValue::Int(j as i64),
        KeySpec::Str(len) => BinValue::Str(format!("{j:0len$}", len = len as usize)),
    }
}

/// `len` ASCII bytes: the index in hex and a dash, then letters drawn from `h`.
fn string(index: u64, h: u64, len: usize) -> String {
    let mut s = format!("{index:x}-");
    s.truncate(len);
    let mut block = 0u64;
    while s.len() < len {
        let word = mix(h.wrapping_add(block));
        for b in word.to_le_bytes() {
            if s.len() < len {
                s.push((b'a' + b % 26) as char);
            }
        }
        block += 1;
    }
    s
}

/// `len` bytes: the index big-endian in the first 8 when there is room, then bytes from `h`.
fn bytes(index: u64, h: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    if len >= 8 {
        out.extend_from_slice(&index.to_be_bytes());
    }
    let mut block = 0u64;
    while out.len() < len {
        let word = mix(h.wrapping_add(block)).to_le_bytes();
        let take = (len - out.len()).min(8);
        out.extend_from_slice(&word[..take]);
        block += 1;
    }
    out
}

/// The record index a generated value carries, when its type carries one.
pub fn index_of(v: &BinValue) -> Option<u64> {
    match v {
        BinValue::Int(i) if *i >= 0 => Some((*i >> INT_NOISE_BITS) as u64),
        BinValue::Double(d) if *d >= 0.0 && d.is_finite() => Some(d.trunc() as u64),
        BinValue::Str(s) => u64::from_str_radix(s.split_once('-')?.0, 16).ok(),
        BinValue::Bytes(b) if b.len() >= 8 => Some(u64::from_be_bytes(b[..8].try_into().ok()?)),
        BinValue::List(items) => index_of(items.first()?),
        BinValue::Map(entries) => index_of(&entries.first()?.1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::records::RecordSpec;

    fn record(spec: &str, seed: u64, index: u64) -> Vec<BinValue> {
        let bins = RecordSpec::parse(spec).unwrap().bins;
        bins.iter().enumerate().map(|(k, (_, v))| value(v, seed, index, k as u64 + 1)).collect()
    }

    #[test]
    fn values_have_the_asked_shape_and_sizes() {
        let r = record("I,F,BOOL,S10,B128,[16*F],{20*S8:I},[I,S3],S0,B3", 7, 42);
        assert!(matches!(r[0], BinValue::Int(_)));
        assert!(matches!(r[1], BinValue::Double(_)));
        assert!(matches!(r[2], BinValue::Bool(_)));
        assert!(matches!(&r[3], BinValue::Str(s) if s.len() == 10 && s.starts_with("2a-")));
        assert!(matches!(&r[4], BinValue::Bytes(b) if b.len() == 128));
        assert!(matches!(&r[5], BinValue::List(l) if l.len() == 16 && matches!(l[0], BinValue::Double(_))));
        let BinValue::Map(m) = &r[6] else { panic!("{:?}", r[6]) };
        assert_eq!(m.len(), 20);
        assert_eq!(m[0].0, BinValue::Str("00000000".into()));
        assert_eq!(m[19].0, BinValue::Str("00000019".into()));
        assert!(
            m.windows(2).all(|w| matches!((&w[0].0, &w[1].0), (BinValue::Str(a), BinValue::Str(b)) if a < b)),
            "keys in sorted order"
        );
        assert!(matches!(&r[7], BinValue::List(l) if matches!(&l[1], BinValue::Str(s) if s.len() == 3)));
        assert_eq!(r[8], BinValue::Str(String::new()));
        assert!(matches!(&r[9], BinValue::Bytes(b) if b.len() == 3));
    }

    #[test]
    fn the_same_index_and_seed_give_the_same_values_and_others_differ() {
        let spec = "I,F,S12,B32,[8*I],{4*I:F}";
        assert_eq!(record(spec, 1, 5), record(spec, 1, 5));
        let (a, b, c) = (record(spec, 1, 5), record(spec, 2, 5), record(spec, 1, 6));
        for k in 0..a.len() {
            assert_ne!(a[k], b[k], "bin {k} changes with the seed");
            assert_ne!(a[k], c[k], "bin {k} changes with the record");
        }
        // Floats, bools and list elements vary between positions, not only records.
        let floats = record("64*F", 3, 9);
        let distinct: std::collections::HashSet<u64> =
            floats.iter().map(|v| if let BinValue::Double(d) = v { d.to_bits() } else { 0 }).collect();
        assert!(distinct.len() > 50, "{distinct:?}");
        let bools = record("64*BOOL", 3, 9);
        assert!(bools.contains(&BinValue::Bool(true)) && bools.contains(&BinValue::Bool(false)));
    }

    #[test]
    fn every_indexed_type_gives_its_record_back() {
        for index in [0, 1, 77, 1 << 30] {
            for spec in ["I", "F", "S12", "B8", "[3*I]", "{2*S2:F}", "[[2*B9]]"] {
                let v = &record(spec, 99, index)[0];
                assert_eq!(index_of(v), Some(index), "{spec} {v:?}");
            }
        }
        assert_eq!(index_of(&record("BOOL", 1, 5)[0]), None);
        assert_eq!(index_of(&record("B7", 1, 5)[0]), None);
        assert_eq!(index_of(&record("S1", 1, 5)[0]), None);
    }
}
