//! A record's digest and partition: RIPEMD-160 of set name and key, as clients compute it, and
//! the partition (of 4096) it falls in. The store, the request handlers and the per-key read
//! counts all key records this way.

use ripemd::{Digest as _, Ripemd160};

pub const N_PARTITIONS: usize = 4096;

pub type Digest = [u8; 20];

/// Partition of a digest: the low 12 bits of its first two bytes read little-endian.
pub fn partition_id(d: &Digest) -> usize {
    (u16::from_le_bytes([d[0], d[1]]) as usize) & (N_PARTITIONS - 1)
}

/// RIPEMD-160 of set name ‖ key field (particle type byte ‖ key bytes), as clients compute it.
pub fn compute_digest(set: &[u8], key_field: &[u8]) -> Digest {
    let mut h = Ripemd160::new();
    h.update(set);
    h.update(key_field);
    h.finalize().into()
}
