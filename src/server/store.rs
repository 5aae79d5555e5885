//! The in-memory record store: namespaces of 4096 partitions, each a digest-ordered map behind
//! its own lock, so concurrent connections only meet when they touch the same partition and
//! scans walk records in digest order. Also void times (digests and partition ids are in
//! [`super::digest`]).

use std::collections::BTreeMap;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

pub use super::digest::{Digest, N_PARTITIONS, compute_digest, partition_id};

/// Seconds between the Unix epoch and the Aerospike epoch (2010-01-01 00:00:00 UTC).
pub const CITRUSLEAF_EPOCH: u64 = 1_262_304_000;

/// Seconds since the Aerospike epoch, the unit of void times.
pub fn now_void_secs() -> u32 {
    let unix = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    unix.saturating_sub(CITRUSLEAF_EPOCH).min(u32::MAX as u64) as u32
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bin {
    pub name: Bytes,
    pub particle: u8,
    pub value: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Set name; empty for records outside any set.
    pub set: Bytes,
    /// The user key field (particle type byte ‖ key bytes), kept when the client sent it.
    pub key: Option<Bytes>,
    pub bins: Vec<Bin>,
    pub generation: u32,
    /// Expiry in seconds since the Aerospike epoch; 0 never expires.
    pub void_time: u32,
}

impl Record {
    pub fn is_live(&self, now: u32) -> bool {
        self.void_time == 0 || self.void_time > now
    }
    pub fn bin(&self, name: &[u8]) -> Option<&Bin> {
        self.bins.iter().find(|b| b.name == name)
    }
}

pub type Partition = BTreeMap<Digest, Record>;

pub struct Namespace {
    pub name: String,
    partitions: Box<[RwLock<Partition>]>,
}

impl Namespace {
    pub fn new(name: &str) -> Namespace {
        Namespace {
            name: name.to_string(),
            partitions: (0..N_PARTITIONS).map(|_| RwLock::new(BTreeMap::new())).collect(),
        }
    }

    /// Read access to one partition. A lock poisoned by a panicking task is still usable:
    /// every mutation leaves the map consistent.
    pub fn read(&self, pid: usize) -> RwLockReadGuard<'_, Partition> {
        self.partitions[pid].read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn write(&self, pid: usize) -> RwLockWriteGuard<'_, Partition> {
        self.partitions[pid].write().unwrap_or_else(|e| e.into_inner())
    }

    /// Live records, optionally only those of one set.
    pub fn count(&self, set: Option<&[u8]>) -> u64 {
        let now = now_void_secs();
        (0..N_PARTITIONS)
            .map(|p| self.read(p).values().filter(|r| r.is_live(now) && set.is_none_or(|s| r.set == s)).count() as u64)
            .sum()
    }

    /// Names of the sets that hold live records, with their record counts.
    pub fn sets(&self) -> BTreeMap<Bytes, u64> {
        let now = now_void_secs();
        let mut sets = BTreeMap::new();
        for p in 0..N_PARTITIONS {
            for r in self.read(p).values().filter(|r| r.is_live(now) && !r.set.is_empty()) {
                *sets.entry(r.set.clone()).or_insert(0) += 1;
            }
        }
        sets
    }

    /// Removes every record (of one set, if given). Returns how many went.
    pub fn truncate(&self, set: Option<&[u8]>) -> u64 {
        let mut removed = 0;
        for p in 0..N_PARTITIONS {
            let mut part = self.write(p);
            let before = part.len();
            match set {
                None => part.clear(),
                Some(s) => part.retain(|_, r| r.set != s),
            }
            removed += (before - part.len()) as u64;
        }
        removed
    }
}

pub struct Store {
    namespaces: Vec<Namespace>,
    /// Reads per key, when `--count-key-reads` asked for them.
    pub key_reads: super::key_reads::KeyReads,
}

impl Store {
    pub fn new<S: AsRef<str>>(names: &[S]) -> Store {
        Store { namespaces: names.iter().map(|n| Namespace::new(n.as_ref())).collect(), key_reads: Default::default() }
    }

    /// The same store, counting the reads of each key (`--count-key-reads`).
    pub fn counting_key_reads(mut self) -> Store {
        self.key_reads = super::key_reads::KeyReads::counting();
        self
    }

    pub fn namespace(&self, name: &[u8]) -> Option<&Namespace> {
        self.namespaces.iter().find(|n| n.name.as_bytes() == name)
    }

    pub fn namespaces(&self) -> &[Namespace] {
        &self.namespaces
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key field a client sends for `value` (particle type ‖ bytes, integers 8 bytes
    /// big-endian).
    fn key_field(value: &aerospike::Value) -> Vec<u8> {
        match value {
            aerospike::Value::String(s) => [&[3u8][..], s.as_bytes()].concat(),
            aerospike::Value::Int(i) => [&[1u8][..], &i.to_be_bytes()].concat(),
            aerospike::Value::Blob(b) => [&[4u8][..], b].concat(),
            other => panic!("no key field for {other:?}"),
        }
    }

    #[test]
    fn digest_is_the_one_the_aerospike_client_computes() {
        // The digest the server files a record under, from a key sent with send_key, must be the
        // one a client computes itself and sends in the digest field; otherwise a record written
        // one way is not found the other.
        let keys = [
            aerospike::Value::from("1"),
            aerospike::Value::from("aerobench-0"),
            aerospike::Value::from(""),
            aerospike::Value::from("ключ-é"),
            aerospike::Value::from(1i64),
            aerospike::Value::from(-7i64),
            aerospike::Value::from(i64::MAX),
            aerospike::Value::from(vec![0u8, 1, 255]),
        ];
        for set in ["test", "aerobench", ""] {
            for value in &keys {
                let client = aerospike::Key::new("test", set, value.clone()).unwrap().digest();
                assert_eq!(compute_digest(set.as_bytes(), &key_field(value)), client, "set {set:?}, key {value:?}");
            }
        }
        // Integer and string keys of the "same" value hash differently.
        let (s, i) = (aerospike::Value::from("1"), aerospike::Value::from(1i64));
        assert_ne!(compute_digest(b"test", &key_field(&s)), compute_digest(b"test", &key_field(&i)));
    }

    #[test]
    fn partition_id_uses_low_12_bits_le() {
        let mut d = [0u8; 20];
        d[0] = 0x34;
        d[1] = 0xF2;
        assert_eq!(partition_id(&d), 0x234);
    }

    #[test]
    fn truncate_and_count_by_set() {
        let store = Store::new(&["test"]);
        let ns = store.namespace(b"test").unwrap();
        for i in 0..10u8 {
            let d = compute_digest(if i % 2 == 0 { b"a" } else { b"b" }, &[3, i]);
            let rec = Record {
                set: Bytes::from_static(if i % 2 == 0 { b"a" } else { b"b" }),
                key: None,
                bins: vec![],
                generation: 1,
                void_time: 0,
            };
            ns.write(partition_id(&d)).insert(d, rec);
        }
        assert_eq!(ns.count(None), 10);
        assert_eq!(ns.count(Some(b"a")), 5);
        assert_eq!(ns.sets().len(), 2);
        assert_eq!(ns.truncate(Some(b"a")), 5);
        assert_eq!(ns.count(None), 5);
        assert!(store.namespace(b"nope").is_none());
    }
}
