//! Record digests: the RIPEMD-160 every client and server computes from a record's set and key,
//! and the way back from a digest to the index of the record aerobench wrote under it, so a
//! scanned record (which carries its digest, not its key) is tied to the record it must equal.

use std::collections::HashMap;

use ripemd::{Digest as _, Ripemd160};

use crate::workload::Workload;

/// The particle type of a string key, hashed between the set name and the key's bytes.
const PARTICLE_STRING: u8 = 3;

/// A record's digest: RIPEMD-160 over the set name, the key's particle type and the key bytes,
/// here for the string keys aerobench writes.
pub fn digest(set: &str, key: &str) -> [u8; 20] {
    let mut h = Ripemd160::new();
    h.update(set.as_bytes());
    h.update([PARTICLE_STRING]);
    h.update(key.as_bytes());
    h.finalize().into()
}

/// The digest of every record of a workload, mapped back to its index.
#[derive(Debug)]
pub struct DigestIndex {
    by_digest: HashMap<[u8; 20], u64>,
}

impl DigestIndex {
    /// Hashes the keys of records `0..count` (a million keys take well under a second).
    pub fn new(workload: &Workload) -> DigestIndex {
        let by_digest = (0..workload.count).map(|i| (digest(&workload.set, &workload.key(i)), i)).collect();
        DigestIndex { by_digest }
    }

    /// The index of the record written under `digest`, if this run wrote one.
    pub fn index_of(&self, digest: &[u8]) -> Option<u64> {
        let digest: [u8; 20] = digest.try_into().ok()?;
        self.by_digest.get(&digest).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_digest_and_the_way_back_to_its_index() {
        // The digest of set "demo", key "key1" as the Aerospike clients compute it.
        let d = digest("demo", "key1");
        assert_eq!(d.len(), 20);
        assert_ne!(d, digest("demo", "key2"));
        assert_ne!(d, digest("demo2", "key1"));
        let w = Workload {
            namespace: "test".into(),
            set: "s".into(),
            key_prefix: "k-".into(),
            count: 50,
            batch_size: 10,
            bins: Workload::bins_for(1, 8),
            scans: 1,
            warmup: 0,
            seed: 0,
            read_bins: None,
        };
        let index = DigestIndex::new(&w);
        assert_eq!(index.index_of(&digest("s", "k-37")), Some(37));
        assert_eq!(index.index_of(&digest("s", "k-50")), None, "past the run's records");
        assert_eq!(index.index_of(&digest("other", "k-37")), None, "another set");
        assert_eq!(index.index_of(&[0u8; 3]), None, "not a digest");
    }
}
