//! The workload every column runs: the operations, the keys (prefixed strings, so aerobench
//! never touches records it did not write), the bins written, how many calls and warm-up
//! calls each operation makes, and how every client makes them (which policies, how much of a
//! batch result a call reads).

pub mod digest;
pub mod keys;
pub mod mix;
pub mod records;
pub mod scenario;
pub mod shard;
pub mod verify;

use std::ops::Range;

/// An operation aerobench measures.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Write `count` records, one call each.
    Put,
    /// Read them back, one call each.
    Get,
    /// Read them in batches of `batch_size` keys, one call per batch.
    #[value(name = "batch_get")]
    BatchGet,
    /// Read the whole set, one call per scan.
    Scan,
    /// Ask whether each record exists (no bins read), one call each.
    Exists,
    /// Reset each record's time to live, one call each.
    Touch,
    /// One operate call per record: increment a counter bin (`ops`) and read it back.
    Operate,
    /// Delete each record, one call each (aerobench writes them again, untimed, after the phase).
    Delete,
    /// Write the records in batches of `batch_size`, one call per batch.
    #[value(name = "batch_write")]
    BatchWrite,
    /// A get then a put of the same record in one call (YCSB workload F); chosen with
    /// `--workload read-modify-write`.
    #[value(name = "read_modify_write")]
    ReadModifyWrite,
    /// One operate call per record updating part of it in place with list and map operations:
    /// append to a list bin, increment a map entry, read that entry back.
    Update,
}

/// The bin the operate phase increments (no record layout uses this name).
pub const OPERATE_BIN: &str = "ops";

/// The list bin the update phase appends to (no record layout uses this name).
pub const UPDATE_LIST_BIN: &str = "upd_list";
/// The map bin the update phase increments an entry of, and that entry's key.
pub const UPDATE_MAP_BIN: &str = "upd_map";
pub const UPDATE_MAP_KEY: &str = "updates";

impl Operation {
    pub fn name(self) -> &'static str {
        match self {
            Operation::Put => "put",
            Operation::Get => "get",
            Operation::BatchGet => "batch_get",
            Operation::Scan => "scan",
            Operation::Exists => "exists",
            Operation::Touch => "touch",
            Operation::Operate => "operate",
            Operation::Delete => "delete",
            Operation::BatchWrite => "batch_write",
            Operation::ReadModifyWrite => "read_modify_write",
            Operation::Update => "update",
        }
    }

    /// Operations whose calls move several records, reported with records/s too.
    pub fn moves_many_records(self) -> bool {
        matches!(self, Operation::BatchGet | Operation::Scan | Operation::BatchWrite)
    }
}

/// What the bins of the records hold (`--bin-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum BinType {
    /// An int, a string, a double, then more strings.
    #[default]
    Mixed,
    /// Every bin an int.
    Int,
    /// Every bin a double.
    Float,
    /// Every bin a string of --value-size bytes.
    String,
}

/// How much of a Python batch result the timed call reads (`--materialise`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Materialise {
    /// Every returned record is read inside the timed call.
    #[default]
    Records,
    /// The call stops at what the client returns.
    None,
    /// Each batch_get result becomes a NumPy structured array of the record's int and float
    /// bins: by the client's own API where it has one (aerospike-py), otherwise filled from the
    /// returned records as an application would.
    Numpy,
}

impl Materialise {
    pub fn name(self) -> &'static str {
        match self {
            Materialise::Records => "records",
            Materialise::None => "none",
            Materialise::Numpy => "numpy",
        }
    }
}

/// The policies the clients run with (`--policies`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policies {
    /// The same explicit timeouts (--timeout-ms), no retries and pools of at least 256
    /// connections per node for every client: a like-for-like comparison.
    #[default]
    Explicit,
    /// Each client's own defaults, as most users run them (timeouts and retries differ).
    Defaults,
}

impl Policies {
    pub fn name(self) -> &'static str {
        match self {
            Policies::Explicit => "explicit",
            Policies::Defaults => "defaults",
        }
    }
}

/// One bin of the records written.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum BinSpec {
    Int(String),
    Str(String, u32),
    Double(String),
    /// A bin of a record spec (`--record`): any type, nested lists and maps included.
    Value(String, crate::workload::records::ValueSpec),
}

impl BinSpec {
    pub fn name(&self) -> &str {
        match self {
            BinSpec::Int(n) | BinSpec::Str(n, _) | BinSpec::Double(n) | BinSpec::Value(n, _) => n,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            BinSpec::Int(n) => format!("{n}: int"),
            BinSpec::Str(n, size) => format!("{n}: string({size})"),
            BinSpec::Double(n) => format!("{n}: double"),
            BinSpec::Value(n, v) => format!("{n}: {}", v.describe()),
        }
    }
}

/// What a bin holds for record `i`: the same for every client, so they move the same bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum BinValue {
    Int(i64),
    Str(String),
    Double(f64),
    Bool(bool),
    Bytes(Vec<u8>),
    List(Vec<BinValue>),
    /// Entries in the order written (keys of one type, sorted, for generated maps).
    Map(Vec<(BinValue, BinValue)>),
}

/// The records and keys of a run, shared by every column.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Workload {
    pub namespace: String,
    pub set: String,
    pub key_prefix: String,
    pub count: u64,
    pub batch_size: u32,
    pub bins: Vec<BinSpec>,
    /// Whole-set scans per measured scan phase.
    pub scans: u64,
    /// Calls before each measured put/get phase (batch_get and scan derive theirs from it).
    pub warmup: u64,
    /// `--seed`: the values of spec bins derive from it and the record index.
    #[serde(default)]
    pub seed: u64,
    /// `--read-bins`: the bins get, batch_get and scan ask for, in order (`None`: every bin).
    #[serde(default)]
    pub read_bins: Option<Vec<String>>,
}

impl Workload {
    /// Default bins: an int, a string of `value_size` bytes, a double; more strings after that.
    pub fn bins_for(n: u32, value_size: u32) -> Vec<BinSpec> {
        Self::bins_of(BinType::Mixed, n, value_size)
    }

    /// `n` bins of `kind` (strings of `value_size` bytes).
    pub fn bins_of(kind: BinType, n: u32, value_size: u32) -> Vec<BinSpec> {
        (0..n)
            .map(|i| match (kind, i) {
                (BinType::Mixed, 0) => BinSpec::Int("i".into()),
                (BinType::Mixed, 1) => BinSpec::Str("s".into(), value_size),
                (BinType::Mixed, 2) => BinSpec::Double("d".into()),
                (BinType::Mixed, k) => BinSpec::Str(format!("s{k}"), value_size),
                (BinType::Int, k) => BinSpec::Int(format!("i{k}")),
                (BinType::Float, k) => BinSpec::Double(format!("d{k}")),
                (BinType::String, k) => BinSpec::Str(format!("s{k}"), value_size),
            })
            .collect()
    }

    pub fn key(&self, i: u64) -> String {
        format!("{}{i}", self.key_prefix)
    }

    pub fn values(&self, i: u64) -> Vec<(&str, BinValue)> {
        self.bins.iter().enumerate().map(|(k, b)| (b.name(), self.value(b, k, i))).collect()
    }

    /// What bin `b`, at position `k`, holds in record `i`.
    fn value(&self, b: &BinSpec, k: usize, i: u64) -> BinValue {
        match b {
            BinSpec::Int(_) => BinValue::Int(i as i64),
            BinSpec::Str(_, size) => BinValue::Str(string_value(i, *size as usize)),
            BinSpec::Double(_) => BinValue::Double(i as f64 * 0.5),
            BinSpec::Value(_, spec) => crate::workload::records::generate::value(spec, self.seed, i, k as u64 + 1),
        }
    }

    /// The bins a read asks for (`--read-bins`, else all) and their values in record `i`.
    pub fn read_values(&self, i: u64) -> Vec<(&str, BinValue)> {
        match &self.read_bins {
            None => self.values(i),
            Some(names) => names
                .iter()
                .filter_map(|n| {
                    let k = self.bins.iter().position(|b| b.name() == n)?;
                    Some((self.bins[k].name(), self.value(&self.bins[k], k, i)))
                })
                .collect(),
        }
    }

    /// The first bin a read returns, which tells a scanned record's index.
    pub fn first_read_bin(&self) -> Option<&BinSpec> {
        match &self.read_bins {
            None => self.bins.first(),
            Some(names) => self.bins.iter().find(|b| Some(b.name()) == names.first().map(String::as_str)),
        }
    }

    /// Calls in a measured phase of `op`.
    pub fn calls(&self, op: Operation) -> u64 {
        match op {
            Operation::BatchGet | Operation::BatchWrite => self.count.div_ceil(self.batch_size as u64),
            Operation::Scan => self.scans,
            _ => self.count,
        }
    }

    /// Calls in the warm-up before a measured phase of `op` (not recorded).
    pub fn warmup_calls(&self, op: Operation) -> u64 {
        if self.warmup == 0 {
            return 0;
        }
        match op {
            Operation::BatchGet | Operation::BatchWrite => {
                self.warmup.div_ceil(self.batch_size as u64).min(self.calls(op))
            }
            Operation::Scan => 1,
            _ => self.warmup.min(self.count),
        }
    }

    /// Record indices read by batch call `j`.
    pub fn batch_range(&self, j: u64) -> Range<u64> {
        let start = j * self.batch_size as u64;
        start..(start + self.batch_size as u64).min(self.count)
    }

    /// Whether the bins a read asks for (all, or `--read-bins`) include an int or float one: what
    /// a NumPy batch result holds (`--materialise numpy`). A record spec's scalar ints and floats
    /// count; lists, maps and other types do not.
    pub fn has_numeric_bins(&self) -> bool {
        use crate::workload::records::ValueSpec;
        self.bins.iter().any(|b| {
            let numeric = matches!(
                b,
                BinSpec::Int(_) | BinSpec::Double(_) | BinSpec::Value(_, ValueSpec::Int | ValueSpec::Float)
            );
            numeric && self.read_bins.as_ref().is_none_or(|asked| asked.iter().any(|n| n == b.name()))
        })
    }

    pub fn describe_bins(&self) -> Vec<String> {
        self.bins.iter().map(BinSpec::describe).collect()
    }
}

/// The bins of a record spec (`--record`).
pub fn spec_bins(record: &crate::workload::records::RecordSpec) -> Vec<BinSpec> {
    record.bins.iter().map(|(name, v)| BinSpec::Value(name.clone(), v.clone())).collect()
}

/// A string of exactly `size` ASCII bytes that differs between records.
fn string_value(i: u64, size: usize) -> String {
    let mut s = format!("{i:x}-");
    if s.len() > size {
        s.truncate(size);
    }
    while s.len() < size {
        s.push((b'a' + (s.len() % 26) as u8) as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(count: u64, batch: u32) -> Workload {
        Workload {
            namespace: "test".into(),
            set: "s".into(),
            key_prefix: "ab-".into(),
            count,
            batch_size: batch,
            bins: Workload::bins_for(3, 32),
            scans: 3,
            warmup: 100,
            seed: 0,
            read_bins: None,
        }
    }

    #[test]
    fn calls_and_batches_cover_every_record_once() {
        let w = workload(1005, 100);
        assert_eq!(w.calls(Operation::BatchGet), 11);
        let covered: u64 = (0..11).map(|j| w.batch_range(j).count() as u64).sum();
        assert_eq!(covered, 1005);
        assert_eq!(w.batch_range(10), 1000..1005);
        assert_eq!(w.calls(Operation::Scan), 3);
        assert_eq!(w.warmup_calls(Operation::Put), 100);
        assert_eq!(w.warmup_calls(Operation::BatchGet), 1);
        assert_eq!(workload(10, 100).warmup_calls(Operation::Get), 10);
        let mut none = workload(10, 100);
        none.warmup = 0;
        assert_eq!(none.warmup_calls(Operation::Scan), 0);
    }

    #[test]
    fn the_other_operations_call_once_per_record_or_per_batch() {
        let w = workload(1005, 100);
        for op in [
            Operation::Exists,
            Operation::Touch,
            Operation::Operate,
            Operation::Delete,
            Operation::ReadModifyWrite,
            Operation::Update,
        ] {
            assert_eq!((w.calls(op), w.warmup_calls(op)), (1005, 100), "{}", op.name());
            assert!(!op.moves_many_records());
        }
        assert_eq!((w.calls(Operation::BatchWrite), w.warmup_calls(Operation::BatchWrite)), (11, 1));
        assert!(Operation::BatchWrite.moves_many_records());
        // No record layout names the operate counter's bin.
        for kind in [BinType::Mixed, BinType::Int, BinType::Float, BinType::String] {
            let bins = Workload::bins_of(kind, 50, 8);
            assert!(bins.iter().all(|b| ![OPERATE_BIN, UPDATE_LIST_BIN, UPDATE_MAP_BIN].contains(&b.name())));
        }
    }

    #[test]
    fn values_have_the_requested_shape() {
        let w = workload(10, 10);
        assert_eq!(w.key(7), "ab-7");
        let v = w.values(7);
        assert_eq!(v[0], ("i", BinValue::Int(7)));
        assert_eq!(v[2], ("d", BinValue::Double(3.5)));
        match &v[1].1 {
            BinValue::Str(s) => assert_eq!(s.len(), 32),
            other => panic!("{other:?}"),
        }
        assert_eq!(string_value(u64::MAX, 4).len(), 4);
        assert_eq!(string_value(1, 0), "");
        assert_eq!(w.describe_bins(), vec!["i: int", "s: string(32)", "d: double"]);
        let floats = Workload::bins_of(BinType::Float, 8, 32);
        assert_eq!(floats.len(), 8);
        assert!(floats.iter().all(|b| matches!(b, BinSpec::Double(_))));
        assert_eq!(floats[7].name(), "d7");
        let strings = Workload::bins_of(BinType::String, 2, 5);
        assert_eq!(strings, vec![BinSpec::Str("s0".into(), 5), BinSpec::Str("s1".into(), 5)]);
        // What a NumPy batch result can hold: the int and float bins.
        assert!(w.has_numeric_bins());
        assert!(!Workload { bins: strings.clone(), ..w.clone() }.has_numeric_bins());
        // A record spec's floats count, and only those a read asks for.
        let spec = vec![
            BinSpec::Value("f0".into(), crate::workload::records::ValueSpec::Float),
            BinSpec::Value("l".into(), crate::workload::records::ValueSpec::Bool),
        ];
        assert!(Workload { bins: spec.clone(), ..w.clone() }.has_numeric_bins());
        assert!(!Workload { bins: spec, read_bins: Some(vec!["l".into()]), ..w.clone() }.has_numeric_bins());
        assert_eq!((Materialise::Numpy.name(), Operation::Update.name()), ("numpy", "update"));
    }
}
