//! `--verify` in the `wire` floor: the bins of a reply message (a get's reply, a batch or scan
//! row) decoded from their particles — scalars in their own types, lists and maps from their
//! MessagePack — and handed to the run's [`Verifier`], so the floor checks each record against
//! its key as every client column does. Only under `--verify`: without it the floor reads its
//! replies and decodes nothing.

use crate::workload::BinValue;
use crate::workload::verify::{MISMATCH, Verifier};

const FIELD_DIGEST: u8 = 4;
const PARTICLE_INTEGER: u8 = 1;
const PARTICLE_DOUBLE: u8 = 2;
const PARTICLE_STRING: u8 = 3;
const PARTICLE_BLOB: u8 = 4;
const PARTICLE_BOOL: u8 = 17;
const PARTICLE_MAP: u8 = 19;
const PARTICLE_LIST: u8 = 20;

/// What one reply message carries: its digest field, if any, and its bins in order (a value
/// the floor cannot decode is `None`, which no record equals).
struct Message<'a> {
    digest: Option<&'a [u8]>,
    bins: Vec<(&'a [u8], Option<BinValue>)>,
}

/// Splits the message at the start of `msg` (its 22-byte header, fields and ops; the caller has
/// checked that they lie within it).
fn message(msg: &[u8]) -> Option<Message<'_>> {
    let u16_at = |at: usize| Some(u16::from_be_bytes(msg.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_be_bytes(msg.get(at..at + 4)?.try_into().ok()?) as usize);
    let (n_fields, n_ops) = (u16_at(18)?, u16_at(20)?);
    let mut at = 22;
    let mut digest = None;
    for _ in 0..n_fields {
        let size = u32_at(at)?;
        let field = msg.get(at + 4..at + 4 + size)?;
        if field.first() == Some(&FIELD_DIGEST) {
            digest = Some(&field[1..]);
        }
        at += 4 + size;
    }
    let mut bins = Vec::with_capacity(usize::from(n_ops));
    for _ in 0..n_ops {
        let size = u32_at(at)?;
        let op = msg.get(at + 4..at + 4 + size)?;
        // Op type, particle type, version, name length, name, value.
        let (particle, name_len) = (*op.get(1)?, usize::from(*op.get(3)?));
        let name = op.get(4..4 + name_len)?;
        bins.push((name, value(particle, &op[4 + name_len..])));
        at += 4 + size;
    }
    Some(Message { digest, bins })
}

/// A bin's value from its particle type and bytes.
fn value(particle: u8, bytes: &[u8]) -> Option<BinValue> {
    Some(match particle {
        PARTICLE_INTEGER => BinValue::Int(i64::from_be_bytes(bytes.try_into().ok()?)),
        PARTICLE_DOUBLE => BinValue::Double(f64::from_bits(u64::from_be_bytes(bytes.try_into().ok()?))),
        PARTICLE_STRING => BinValue::Str(String::from_utf8(bytes.to_vec()).ok()?),
        PARTICLE_BLOB => BinValue::Bytes(bytes.to_vec()),
        PARTICLE_BOOL => BinValue::Bool(*bytes.first()? != 0),
        PARTICLE_LIST | PARTICLE_MAP => {
            crate::workload::verify::maps_by_key(crate::workload::records::msgpack::decode(bytes).ok()?.value)
        }
        _ => return None,
    })
}

/// Checks the record in reply message `msg` against record `index` as written (`None`: a
/// scanned row, found by its digest).
pub fn check(verifier: &Verifier, index: Option<u64>, msg: &[u8]) -> Result<(), String> {
    let m = message(msg).ok_or_else(|| MISMATCH.to_string())?;
    let bin = |name: &str| m.bins.iter().find(|(n, _)| *n == name.as_bytes()).and_then(|(_, v)| v.clone());
    match index {
        Some(i) => verifier.record(i, m.bins.len(), bin),
        None => verifier.scanned(m.digest, m.bins.len(), bin).map(drop),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::wire_encode::Encoder;
    use crate::workload::Workload;
    use crate::workload::records::RecordSpec;

    fn workload() -> Workload {
        let mut w = Workload {
            namespace: "test".into(),
            set: "s".into(),
            key_prefix: "k-".into(),
            count: 20,
            batch_size: 5,
            bins: Vec::new(),
            scans: 1,
            warmup: 0,
            seed: 3,
            read_bins: None,
        };
        let spec = "a=I,b=F,c=BOOL,d=S12,e=B16,l=[3*I],m={4*S3:[2*F]}";
        w.bins = crate::workload::spec_bins(&RecordSpec::parse(spec).unwrap());
        w
    }

    /// A reply as the server sends it for record `i`: the put request's message, whose ops are
    /// laid out as a reply's (op, particle, version, name, value), with the digest field.
    fn reply(w: &Workload, i: u64) -> Vec<u8> {
        let e = Encoder { namespace: w.namespace.clone(), set: w.set.clone(), timeout_ms: 0, record_ttl: 0 };
        let mut out = Vec::new();
        e.write(&mut out, &w.key(i), &w.values(i));
        out.split_off(8)
    }

    #[test]
    fn a_reply_is_checked_against_its_key_and_found_by_its_digest() {
        let w = workload();
        let v = Verifier::new(w.clone());
        let r = reply(&w, 7);
        assert_eq!(check(&v, Some(7), &r), Ok(()));
        assert_eq!(check(&v, None, &r), Ok(()), "a scanned row found by its digest");
        assert!(check(&v, Some(8), &r).is_err(), "another key's record");
        // Each value's last byte changed in turn, as `serve --corrupt-one-in` changes it: each
        // is caught. (The fields: namespace, set and digest, 9 + 6 + 25 bytes after the header.)
        let mut at = 22 + 9 + 6 + 25;
        let mut ops = 0;
        while at < r.len() {
            let end = at + 4 + u32::from_be_bytes(r[at..at + 4].try_into().unwrap()) as usize;
            let mut changed = r.clone();
            changed[end - 1] ^= 1;
            assert!(check(&v, Some(7), &changed).is_err(), "op {ops}'s last byte changed and passed");
            assert!(check(&v, None, &changed).is_err(), "op {ops}, scanned");
            (at, ops) = (end, ops + 1);
        }
        assert_eq!(ops, 7, "every bin was changed once");
        assert!(check(&v, Some(7), &r[..30]).is_err(), "a message cut short");
    }
}
