//! Single-record commands — write, read (all bins, named bins, header only), exists, delete,
//! touch and operate (list and map ops run in `cdt`) — executed against the store. Batch rows run through the same
//! `execute`, so a record behaves the same whichever way it is reached.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};

use super::message::{
    MAX_BIN_NAME, Message, Op, ReplyHeader, field, info1, info2, info3, op, particle, put_op, put_reply_header, rc,
};
use super::store::{Bin, Digest, Record, Store, compute_digest, now_void_secs, partition_id};

const PARTICLE_DOUBLE: u8 = 2;
const RECORD_TOO_BIG: u8 = 13;

/// Most bins a record may hold, and most ops a request may carry (replies count ops in a u16).
pub const MAX_BINS: usize = 32_767;

/// Above this many bins, lookups by name go through a hash index instead of a linear search,
/// so a request with thousands of bins costs linear, not quadratic, time.
const INDEX_FROM: usize = 32;

/// The bins of a record being written.
struct BinList {
    bins: Vec<Bin>,
    index: Option<HashMap<Bytes, usize>>,
}

impl BinList {
    fn new(bins: Vec<Bin>) -> BinList {
        let mut list = BinList { bins, index: None };
        list.index_if_large();
        list
    }

    fn index_if_large(&mut self) {
        if self.index.is_none() && self.bins.len() > INDEX_FROM {
            self.index = Some(self.bins.iter().enumerate().map(|(i, b)| (b.name.clone(), i)).collect());
        }
    }

    fn position(&self, name: &[u8]) -> Option<usize> {
        match &self.index {
            Some(ix) => ix.get(name).copied(),
            None => self.bins.iter().position(|b| b.name == name),
        }
    }

    fn get(&self, name: &[u8]) -> Option<&Bin> {
        self.position(name).map(|i| &self.bins[i])
    }

    /// Sets a bin; a NULL value removes it.
    fn set(&mut self, name: &[u8], particle_type: u8, value: &[u8]) {
        let pos = self.position(name);
        if particle_type == particle::NULL {
            if let Some(i) = pos {
                self.bins.swap_remove(i);
                if let Some(ix) = &mut self.index {
                    ix.remove(name);
                    if let Some(moved) = self.bins.get(i) {
                        ix.insert(moved.name.clone(), i);
                    }
                }
            }
            return;
        }
        let bin =
            Bin { name: Bytes::copy_from_slice(name), particle: particle_type, value: Bytes::copy_from_slice(value) };
        match pos {
            Some(i) => self.bins[i] = bin,
            None => {
                if let Some(ix) = &mut self.index {
                    ix.insert(bin.name.clone(), self.bins.len());
                }
                self.bins.push(bin);
                self.index_if_large();
            }
        }
    }
}

/// One record command, from a single-record message or a batch row.
pub struct RecordRequest<'a> {
    pub namespace: &'a [u8],
    pub set: &'a [u8],
    pub digest: Digest,
    /// User key field (particle type ‖ bytes), when the client sent it.
    pub key: Option<&'a [u8]>,
    pub info1: u8,
    pub info2: u8,
    pub info3: u8,
    pub generation: u32,
    pub ttl: u32,
    pub ops: &'a [Op<'a>],
    /// A filter expression came with the command; not supported.
    pub has_filter: bool,
}

impl<'a> RecordRequest<'a> {
    /// Builds a request from a single-record message; `Err` carries the result code to send.
    pub fn from_message(msg: &'a Message<'a>) -> Result<RecordRequest<'a>, u8> {
        let f = &msg.fields;
        let namespace = f.get(field::NAMESPACE).ok_or(rc::PARAMETER_ERROR)?;
        let set = f.get(field::SET).unwrap_or(&[]);
        let key = f.get(field::KEY);
        let digest = digest_of(f.get(field::DIGEST), set, key)?;
        let h = &msg.header;
        Ok(RecordRequest {
            namespace,
            set,
            digest,
            key,
            info1: h.info1,
            info2: h.info2,
            info3: h.info3,
            generation: h.generation,
            ttl: h.record_ttl,
            ops: &msg.ops,
            has_filter: f.has(field::FILTER_EXP),
        })
    }
}

/// The digest a request names: the digest field, or one computed from the user key.
pub fn digest_of(digest: Option<&[u8]>, set: &[u8], key: Option<&[u8]>) -> Result<Digest, u8> {
    match (digest, key) {
        (Some(d), _) => d.try_into().map_err(|_| rc::PARAMETER_ERROR),
        (None, Some(k)) if !k.is_empty() => Ok(compute_digest(set, k)),
        _ => Err(rc::PARAMETER_ERROR),
    }
}

/// Runs one record command and appends its reply message (header and result ops) to `out`.
/// `index` goes into the reply's transaction-ttl slot (the row index of a batch row).
/// Returns the result code sent.
pub fn execute(store: &Store, req: &RecordRequest<'_>, index: u32, out: &mut BytesMut) -> u8 {
    let start = out.len();
    let code = match run(store, req, index, out) {
        Ok(()) => return rc::OK,
        Err(code) => code,
    };
    out.truncate(start);
    put_reply_header(out, &ReplyHeader { result_code: code, index, ..Default::default() });
    code
}

fn run(store: &Store, req: &RecordRequest<'_>, index: u32, out: &mut BytesMut) -> Result<(), u8> {
    let ns = store.namespace(req.namespace).ok_or(rc::NAMESPACE_NOT_FOUND)?;
    if req.has_filter {
        return Err(rc::UNSUPPORTED_FEATURE);
    }
    let pid = partition_id(&req.digest);
    let now = now_void_secs();
    if req.info2 & info2::WRITE != 0 {
        let mut part = ns.write(pid);
        let existing = part.get(&req.digest).filter(|r| r.is_live(now));
        match write(existing, req, now)? {
            WriteOutcome::Deleted => {
                part.remove(&req.digest);
                put_reply_header(out, &ReplyHeader { index, ..Default::default() });
            }
            WriteOutcome::Stored(record, results) => {
                reply_with_ops(out, index, &record, &results);
                part.insert(req.digest, record);
            }
        }
        Ok(())
    } else if req.info1 & info1::READ != 0 {
        store.key_reads.note(&req.digest);
        let part = ns.read(pid);
        let record = part.get(&req.digest).filter(|r| r.is_live(now)).ok_or(rc::KEY_NOT_FOUND)?;
        read(record, req, index, out)
    } else {
        Err(rc::UNSUPPORTED_FEATURE)
    }
}

/// Bins a read returns: all of them, the named ones, or none (header only).
fn read(record: &Record, req: &RecordRequest<'_>, index: u32, out: &mut BytesMut) -> Result<(), u8> {
    let header =
        ReplyHeader { generation: record.generation, void_time: record.void_time, index, ..Default::default() };
    if req.info1 & info1::NOBINDATA != 0 {
        put_reply_header(out, &header);
        return Ok(());
    }
    if req.ops.iter().any(|o| o.op == op::CDT_READ) {
        return read_with_cdt(record, req, header, out);
    }
    if req.ops.iter().any(|o| o.op != op::READ) {
        return Err(rc::UNSUPPORTED_FEATURE);
    }
    let named: Vec<&Op<'_>> = req.ops.iter().filter(|o| !o.name.is_empty()).collect();
    if req.info1 & info1::GET_ALL != 0 || named.is_empty() {
        put_reply_header(out, &ReplyHeader { n_ops: record.bins.len() as u16, ..header });
        for b in &record.bins {
            put_op(out, op::READ, b.particle, &b.name, &super::corrupt::read_value(&b.value));
        }
    } else {
        let bins: Vec<&Bin> = if named.len() > INDEX_FROM && record.bins.len() > INDEX_FROM {
            let by_name: HashMap<&[u8], &Bin> = record.bins.iter().map(|b| (&b.name[..], b)).collect();
            named.iter().filter_map(|o| by_name.get(o.name).copied()).collect()
        } else {
            named.iter().filter_map(|o| record.bin(o.name)).collect()
        };
        put_reply_header(out, &ReplyHeader { n_ops: bins.len() as u16, ..header });
        for b in bins {
            put_op(out, op::READ, b.particle, &b.name, &super::corrupt::read_value(&b.value));
        }
    }
    Ok(())
}

/// A read carrying list or map reads: one result per op, in order (named bins and CDT results).
fn read_with_cdt(record: &Record, req: &RecordRequest<'_>, header: ReplyHeader, out: &mut BytesMut) -> Result<(), u8> {
    let mut results = Vec::new();
    for o in req.ops {
        let current = record.bin(o.name).map(|b| (b.particle, &b.value[..]));
        match o.op {
            op::READ if !o.name.is_empty() => results.extend(record.bin(o.name).cloned()),
            op::CDT_READ => {
                results.extend(super::cdt::read(current, o.value)?.map(|p| cdt_bin(o.name, p)));
            }
            _ => return Err(rc::UNSUPPORTED_FEATURE),
        }
    }
    put_reply_header(out, &ReplyHeader { n_ops: results.len() as u16, ..header });
    for b in &results {
        put_op(out, op::READ, b.particle, &b.name, &b.value);
    }
    Ok(())
}

fn cdt_bin(name: &[u8], p: super::cdt::Particle) -> Bin {
    Bin { name: Bytes::copy_from_slice(name), particle: p.particle, value: Bytes::from(p.value) }
}

enum WriteOutcome {
    Deleted,
    /// The new record, and the result ops to send back.
    Stored(Record, Vec<Bin>),
}

fn write(existing: Option<&Record>, req: &RecordRequest<'_>, now: u32) -> Result<WriteOutcome, u8> {
    let current_gen = existing.map_or(0, |r| r.generation);
    if req.info2 & info2::GENERATION != 0 && req.generation != current_gen {
        return Err(rc::GENERATION_ERROR);
    }
    if req.info2 & info2::GENERATION_GT != 0 && req.generation <= current_gen {
        return Err(rc::GENERATION_ERROR);
    }
    if req.info2 & info2::DELETE != 0 {
        return existing.map(|_| WriteOutcome::Deleted).ok_or(rc::KEY_NOT_FOUND);
    }
    if req.ops.len() > MAX_BINS {
        return Err(rc::PARAMETER_ERROR);
    }
    if req.info2 & info2::CREATE_ONLY != 0 && existing.is_some() {
        return Err(rc::KEY_EXISTS);
    }
    if req.info3 & (info3::UPDATE_ONLY | info3::REPLACE_ONLY) != 0 && existing.is_none() {
        return Err(rc::KEY_NOT_FOUND);
    }
    let replace = req.info3 & (info3::CREATE_OR_REPLACE | info3::REPLACE_ONLY) != 0;
    let mut bins = BinList::new(match existing {
        Some(r) if !replace => r.bins.clone(),
        _ => Vec::new(),
    });
    let respond_all = req.info2 & info2::RESPOND_ALL_OPS != 0;
    let mut results = Vec::new();
    for o in req.ops {
        if o.name.len() > MAX_BIN_NAME {
            return Err(rc::BIN_NAME_TOO_LONG);
        }
        match o.op {
            op::WRITE => {
                let value = super::cdt_store::stored(o.particle, o.value).map_err(|_| rc::SERVER_ERROR)?;
                bins.set(o.name, o.particle, &value)
            }
            op::INCR => incr(&mut bins, o)?,
            op::APPEND | op::PREPEND => concat(&mut bins, o)?,
            op::TOUCH => {}
            op::CDT_MODIFY | op::CDT_READ => {
                let current = bins.get(o.name).map(|b| (b.particle, b.value.clone()));
                let current = current.as_ref().map(|(p, v)| (*p, &v[..]));
                let result = if o.op == op::CDT_MODIFY {
                    let done = super::cdt::modify(current, o.value)?;
                    if let Some(bin) = done.bin {
                        // Kept as every written list or map is: maps in key order.
                        let value = super::cdt_store::stored(bin.particle, &bin.value).map_err(|_| rc::SERVER_ERROR)?;
                        bins.set(o.name, bin.particle, &value);
                    }
                    done.result
                } else {
                    super::cdt::read(current, o.value)?
                };
                match result {
                    Some(p) => results.push(cdt_bin(o.name, p)),
                    None if respond_all => results.push(null_bin(o.name)),
                    None => {}
                }
                continue;
            }
            op::DELETE => return existing.map(|_| WriteOutcome::Deleted).ok_or(rc::KEY_NOT_FOUND),
            op::READ => {
                if o.name.is_empty() {
                    if req.info1 & info1::GET_ALL != 0 {
                        if results.len() + bins.bins.len() > u16::MAX as usize {
                            return Err(rc::PARAMETER_ERROR);
                        }
                        results.extend(bins.bins.iter().cloned());
                    }
                } else if let Some(b) = bins.get(o.name) {
                    results.push(b.clone());
                } else if respond_all {
                    results.push(null_bin(o.name));
                }
                continue;
            }
            _ => return Err(rc::UNSUPPORTED_FEATURE),
        }
        if respond_all {
            results.push(null_bin(o.name));
        }
    }
    if bins.bins.len() > MAX_BINS {
        return Err(RECORD_TOO_BIG);
    }
    let bins = bins.bins;
    if bins.is_empty() {
        // Writing only NULLs (or nothing) leaves no record, as on a real server.
        return match existing {
            Some(_) => Ok(WriteOutcome::Deleted),
            None if req.ops.iter().all(|o| o.op == op::TOUCH) && !req.ops.is_empty() => Err(rc::KEY_NOT_FOUND),
            None => Err(rc::PARAMETER_ERROR),
        };
    }
    let generation = if current_gen >= 0xFFFF { 1 } else { current_gen + 1 };
    let void_time = void_time(req.ttl, existing.map(|r| r.void_time), now);
    let key = req.key.map(Bytes::copy_from_slice).or_else(|| existing.and_then(|r| r.key.clone()));
    let set = match existing {
        Some(r) if req.set.is_empty() => r.set.clone(),
        _ => Bytes::copy_from_slice(req.set),
    };
    Ok(WriteOutcome::Stored(Record { set, key, bins, generation, void_time }, results))
}

fn null_bin(name: &[u8]) -> Bin {
    Bin { name: Bytes::copy_from_slice(name), particle: particle::NULL, value: Bytes::new() }
}

/// Void time for a write's TTL: 0 and -1 never expire (the namespace default is "never"),
/// -2 keeps the record's current expiry, anything else is seconds from now.
pub fn void_time(ttl: u32, current: Option<u32>, now: u32) -> u32 {
    match ttl {
        0 | u32::MAX => 0,
        0xFFFF_FFFE => current.unwrap_or(0),
        secs => now.saturating_add(secs),
    }
}

fn int_of(bytes: &[u8]) -> Result<i64, u8> {
    if bytes.is_empty() || bytes.len() > 8 {
        return Err(rc::PARAMETER_ERROR);
    }
    let fill = if bytes[0] & 0x80 != 0 { 0xFF } else { 0 };
    let mut b = [fill; 8];
    b[8 - bytes.len()..].copy_from_slice(bytes);
    Ok(i64::from_be_bytes(b))
}

fn incr(bins: &mut BinList, o: &Op<'_>) -> Result<(), u8> {
    let current = bins.get(o.name);
    let value: Vec<u8> = match (o.particle, current) {
        (particle::INTEGER, None) => int_of(o.value)?.to_be_bytes().to_vec(),
        (particle::INTEGER, Some(b)) if b.particle == particle::INTEGER => {
            int_of(&b.value)?.wrapping_add(int_of(o.value)?).to_be_bytes().to_vec()
        }
        (PARTICLE_DOUBLE, None) => o.value.to_vec(),
        (PARTICLE_DOUBLE, Some(b)) if b.particle == PARTICLE_DOUBLE => {
            let f = |v: &[u8]| v.try_into().map(f64::from_be_bytes).map_err(|_| rc::PARAMETER_ERROR);
            (f(&b.value)? + f(o.value)?).to_be_bytes().to_vec()
        }
        _ => return Err(rc::BIN_TYPE_ERROR),
    };
    bins.set(o.name, o.particle, &value);
    Ok(())
}

fn concat(bins: &mut BinList, o: &Op<'_>) -> Result<(), u8> {
    if o.particle != particle::STRING && o.particle != particle::BLOB {
        return Err(rc::BIN_TYPE_ERROR);
    }
    let value = match bins.get(o.name) {
        None => o.value.to_vec(),
        Some(b) if b.particle != o.particle => return Err(rc::BIN_TYPE_ERROR),
        Some(b) if o.op == op::APPEND => [&b.value[..], o.value].concat(),
        Some(b) => [o.value, &b.value[..]].concat(),
    };
    bins.set(o.name, o.particle, &value);
    Ok(())
}

fn reply_with_ops(out: &mut BytesMut, index: u32, record: &Record, results: &[Bin]) {
    put_reply_header(
        out,
        &ReplyHeader {
            generation: record.generation,
            void_time: record.void_time,
            index,
            n_ops: results.len() as u16,
            ..Default::default()
        },
    );
    for b in results {
        put_op(out, op::READ, b.particle, &b.name, &b.value);
    }
}

/// A reply carrying only a result code (nothing found, or an error).
pub fn put_rc_only(out: &mut BytesMut, code: u8) {
    put_reply_header(out, &ReplyHeader { result_code: code, ..Default::default() });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::message::{Message, MsgHeader, tests::request};

    fn run_cmd(store: &Store, body: &[u8]) -> (u8, Vec<u8>) {
        let msg = Message::parse(body).unwrap();
        let req = RecordRequest::from_message(&msg).unwrap();
        let mut out = BytesMut::new();
        let code = execute(store, &req, 0, &mut out);
        (code, out.to_vec())
    }

    fn fields(d: &[u8; 20]) -> Vec<(u8, &[u8])> {
        vec![(field::NAMESPACE, b"test"), (field::SET, b"s"), (field::DIGEST, d)]
    }

    fn put(store: &Store, d: &[u8; 20], ops: &[Op<'_>], info2_bits: u8, info3_bits: u8, gen_: u32) -> u8 {
        let h =
            MsgHeader { info2: info2::WRITE | info2_bits, info3: info3_bits, generation: gen_, ..Default::default() };
        run_cmd(store, &request(h, &fields(d), ops)).0
    }

    fn w<'a>(name: &'a [u8], p: u8, v: &'a [u8]) -> Op<'a> {
        Op { op: op::WRITE, particle: p, name, value: v }
    }

    fn get(store: &Store, d: &[u8; 20], info1_bits: u8, ops: &[Op<'_>]) -> (u8, Message<'static>) {
        let h = MsgHeader { info1: info1_bits, ..Default::default() };
        let (code, out) = run_cmd(store, &request(h, &fields(d), ops));
        let leaked: &'static [u8] = Box::leak(out.into_boxed_slice());
        (code, Message::parse(leaked).unwrap())
    }

    #[test]
    fn put_get_generation_and_policies() {
        let store = Store::new(&["test"]);
        let d = [7u8; 20];
        assert_eq!(
            put(&store, &d, &[w(b"i", particle::INTEGER, &5i64.to_be_bytes()), w(b"s", 3, b"x")], 0, 0, 0),
            rc::OK
        );
        let (code, m) = get(&store, &d, info1::READ | info1::GET_ALL, &[]);
        assert_eq!(code, rc::OK);
        assert_eq!(m.header.generation, 1);
        assert_eq!(m.ops.len(), 2);
        assert_eq!(m.ops[1].value, b"x");
        // Named bins.
        let (_, m) = get(&store, &d, info1::READ, &[Op { op: op::READ, particle: 0, name: b"s", value: b"" }]);
        assert_eq!(m.ops.len(), 1);
        assert_eq!(m.ops[0].name, b"s");
        // Header only.
        let (_, m) =
            get(&store, &d, info1::READ | info1::NOBINDATA, &[Op { op: op::READ, particle: 0, name: b"", value: b"" }]);
        assert_eq!((m.ops.len(), m.header.generation), (0, 1));
        // Generation and create-only policies.
        assert_eq!(put(&store, &d, &[w(b"i", 1, &[0; 8])], info2::GENERATION, 0, 9), rc::GENERATION_ERROR);
        assert_eq!(put(&store, &d, &[w(b"i", 1, &[0; 8])], info2::GENERATION, 0, 1), rc::OK);
        assert_eq!(put(&store, &d, &[w(b"i", 1, &[0; 8])], info2::CREATE_ONLY, 0, 0), rc::KEY_EXISTS);
        assert_eq!(put(&store, &[8u8; 20], &[w(b"i", 1, &[0; 8])], 0, info3::UPDATE_ONLY, 0), rc::KEY_NOT_FOUND);
        // Replace clears old bins.
        assert_eq!(put(&store, &d, &[w(b"n", 1, &[0; 8])], 0, info3::REPLACE_ONLY, 0), rc::OK);
        let (_, m) = get(&store, &d, info1::READ | info1::GET_ALL, &[]);
        assert_eq!(m.ops.iter().map(|o| o.name).collect::<Vec<_>>(), vec![b"n"]);
        assert_eq!(m.header.generation, 3);
    }

    #[test]
    fn missing_delete_incr_append() {
        let store = Store::new(&["test"]);
        let d = [9u8; 20];
        assert_eq!(get(&store, &d, info1::READ | info1::GET_ALL, &[]).0, rc::KEY_NOT_FOUND);
        assert_eq!(put(&store, &d, &[w(b"s", particle::STRING, b"b")], 0, 0, 0), rc::OK);
        let inc = Op { op: op::INCR, particle: particle::INTEGER, name: b"i", value: &3i64.to_be_bytes() };
        assert_eq!(put(&store, &d, &[inc, inc], 0, 0, 0), rc::OK);
        let app = Op { op: op::APPEND, particle: particle::STRING, name: b"s", value: b"c" };
        let pre = Op { op: op::PREPEND, particle: particle::STRING, name: b"s", value: b"a" };
        assert_eq!(put(&store, &d, &[app, pre], 0, 0, 0), rc::OK);
        let bad = Op { op: op::INCR, particle: particle::INTEGER, name: b"s", value: &[1] };
        assert_eq!(put(&store, &d, &[bad], 0, 0, 0), rc::BIN_TYPE_ERROR);
        let (_, m) = get(&store, &d, info1::READ | info1::GET_ALL, &[]);
        assert_eq!(m.ops[0].value, b"abc");
        assert_eq!(m.ops[1].value, 6i64.to_be_bytes());
        // A NULL write removes the bin; removing the last bin removes the record.
        assert_eq!(put(&store, &d, &[w(b"s", particle::NULL, b"")], 0, 0, 0), rc::OK);
        assert_eq!(put(&store, &d, &[w(b"i", particle::NULL, b"")], 0, 0, 0), rc::OK);
        assert_eq!(get(&store, &d, info1::READ | info1::GET_ALL, &[]).0, rc::KEY_NOT_FOUND);
        assert_eq!(put(&store, &d, &[w(b"s", 3, b"x")], 0, 0, 0), rc::OK);
        assert_eq!(put(&store, &d, &[], info2::DELETE, 0, 0), rc::OK);
        assert_eq!(put(&store, &d, &[], info2::DELETE, 0, 0), rc::KEY_NOT_FOUND);
        assert_eq!(put(&store, &d, &[w(b"a_very_long_bin_name", 3, b"x")], 0, 0, 0), rc::BIN_NAME_TOO_LONG);
    }

    #[test]
    fn lists_and_maps_aerospike_refuses_fail_with_code_1_and_leave_the_record() {
        let store = Store::new(&["test"]);
        let d = [10u8; 20];
        assert_eq!(put(&store, &d, &[w(b"m", 19, &[0x81, 0xa2, 3, b'a', 1])], 0, 0, 0), rc::OK);
        // Cut short, the same key twice, a key-ordered map out of order: code 1, as Aerospike 8.1.
        let refused: [&[u8]; 3] = [
            &[0x82, 0xa2, 3, b'a', 1],
            &[0x82, 0xa2, 3, b'a', 1, 0xa2, 3, b'a', 2],
            &[0x83, 0xc7, 0, 1, 0xc0, 0xa2, 3, b'b', 1, 0xa2, 3, b'a', 2],
        ];
        for bad in refused {
            assert_eq!(put(&store, &d, &[w(b"m", 19, bad)], 0, 0, 0), rc::SERVER_ERROR, "{bad:?}");
        }
        assert_eq!(put(&store, &d, &[w(b"l", 20, &[0x92, 1])], 0, 0, 0), rc::SERVER_ERROR);
        let (_, m) = get(&store, &d, info1::READ | info1::GET_ALL, &[]);
        assert_eq!((m.ops.len(), m.ops[0].value), (1, &[0x81, 0xa2, 3, b'a', 1][..]), "the record as it was");
    }

    #[test]
    fn thousands_of_bins_stay_consistent_and_the_cap_holds() {
        let store = Store::new(&["test"]);
        let d = [4u8; 20];
        let names: Vec<Vec<u8>> = (0..5000).map(|i| format!("b{i}").into_bytes()).collect();
        let ops: Vec<Op<'_>> = names.iter().map(|n| w(n, particle::STRING, n)).collect();
        assert_eq!(put(&store, &d, &ops, 0, 0, 0), rc::OK);
        // Remove every third bin and overwrite every fifth, in one request.
        let mut edits = vec![];
        for (i, n) in names.iter().enumerate() {
            if i % 3 == 0 {
                edits.push(w(n, particle::NULL, b""));
            } else if i % 5 == 0 {
                edits.push(w(n, particle::STRING, b"new"));
            }
        }
        assert_eq!(put(&store, &d, &edits, 0, 0, 0), rc::OK);
        let (_, m) = get(&store, &d, info1::READ | info1::GET_ALL, &[]);
        let got: std::collections::HashMap<Vec<u8>, Vec<u8>> =
            m.ops.iter().map(|o| (o.name.to_vec(), o.value.to_vec())).collect();
        assert_eq!(got.len(), 5000 - 1667);
        for (i, n) in names.iter().enumerate() {
            let want: Option<&[u8]> = if i % 3 == 0 {
                None
            } else if i % 5 == 0 {
                Some(b"new")
            } else {
                Some(n)
            };
            assert_eq!(got.get(n).map(Vec::as_slice), want, "bin {i}");
        }
        // Named reads of many bins.
        let reads: Vec<Op<'_>> = names.iter().map(|n| Op { op: op::READ, particle: 0, name: n, value: b"" }).collect();
        let (_, m) = get(&store, &d, info1::READ, &reads);
        assert_eq!(m.ops.len(), 5000 - 1667);
        // More bins than a record may hold.
        let many: Vec<Vec<u8>> = (0..MAX_BINS + 1).map(|i| format!("{i}").into_bytes()).collect();
        let ops: Vec<Op<'_>> = many.iter().map(|n| w(n, particle::INTEGER, &[0; 8])).collect();
        assert_eq!(put(&store, &[5u8; 20], &ops, 0, 0, 0), rc::PARAMETER_ERROR);
    }

    #[test]
    fn operate_runs_list_and_map_ops_and_answers_each() {
        use crate::server::cdt::{PARTICLE_LIST, PARTICLE_MAP, list_op, map_op};
        use crate::server::msgpack::{put_array_len, put_int};
        let cdt = |code: i64, args: &[&[u8]]| {
            let mut b = Vec::new();
            put_array_len(&mut b, args.len() as u32 + 1);
            put_int(&mut b, code);
            args.iter().for_each(|a| b.extend_from_slice(a));
            b
        };
        let key: &[u8] = &[0xa2, particle::STRING, b'n'];
        let (append, incr) = (cdt(list_op::APPEND, &[&[0x07]]), cdt(map_op::INCREMENT, &[key, &[0x01]]));
        let get_value = cdt(map_op::GET_BY_KEY, &[&[0x07], key]);
        let store = Store::new(&["test"]);
        let d = [6u8; 20];
        let ops = [
            Op { op: op::CDT_MODIFY, particle: particle::BLOB, name: b"l", value: &append },
            Op { op: op::CDT_MODIFY, particle: particle::BLOB, name: b"m", value: &incr },
            Op { op: op::CDT_READ, particle: particle::BLOB, name: b"m", value: &get_value },
        ];
        let h = MsgHeader { info1: info1::READ, info2: info2::WRITE | info2::RESPOND_ALL_OPS, ..Default::default() };
        for round in 1..=3i64 {
            let (code, out) = run_cmd(&store, &request(h, &fields(&d), &ops));
            assert_eq!(code, rc::OK);
            let m = Message::parse(&out).unwrap();
            let got: Vec<(&[u8], u8, &[u8])> = m.ops.iter().map(|o| (o.name, o.particle, o.value)).collect();
            let n = round.to_be_bytes();
            assert_eq!(
                got,
                vec![
                    (&b"l"[..], particle::INTEGER, &n[..]),
                    (b"m", particle::INTEGER, &n),
                    (b"m", particle::INTEGER, &n)
                ]
            );
        }
        // Stored as a list and a map particle, read back whole by a plain get.
        let (_, m) = get(&store, &d, info1::READ | info1::GET_ALL, &[]);
        let particles: Vec<u8> = m.ops.iter().map(|o| o.particle).collect();
        assert_eq!(particles, vec![PARTICLE_LIST, PARTICLE_MAP]);
        assert_eq!(m.ops[0].value, [0x93, 7, 7, 7]);
        // A read-only operate (no write bit) runs the map read too.
        let (code, m) = get(&store, &d, info1::READ, &ops[2..]);
        assert_eq!((code, m.ops[0].value), (rc::OK, &3i64.to_be_bytes()[..]));
        // A list op on the map bin is a bin type error, and nothing is written.
        let wrong = [Op { op: op::CDT_MODIFY, particle: particle::BLOB, name: b"m", value: &append }];
        assert_eq!(run_cmd(&store, &request(h, &fields(&d), &wrong)).0, rc::BIN_TYPE_ERROR);
        assert_eq!(get(&store, &d, info1::READ | info1::GET_ALL, &[]).1.header.generation, 3);
    }

    #[test]
    fn ttl_to_void_time() {
        assert_eq!(void_time(0, Some(5), 100), 0);
        assert_eq!(void_time(u32::MAX, Some(5), 100), 0);
        assert_eq!(void_time(0xFFFF_FFFE, Some(5), 100), 5);
        assert_eq!(void_time(60, None, 100), 160);
    }

    #[test]
    fn expired_records_read_as_missing() {
        let store = Store::new(&["test"]);
        let d = [3u8; 20];
        let ns = store.namespace(b"test").unwrap();
        ns.write(partition_id(&d)).insert(
            d,
            Record { set: Bytes::new(), key: None, bins: vec![null_bin(b"x")], generation: 1, void_time: 1 },
        );
        assert_eq!(get(&store, &d, info1::READ | info1::GET_ALL, &[]).0, rc::KEY_NOT_FOUND);
    }

    #[test]
    fn unknown_namespace_and_filters() {
        let store = Store::new(&["other"]);
        let d = [1u8; 20];
        assert_eq!(get(&store, &d, info1::READ, &[]).0, rc::NAMESPACE_NOT_FOUND);
    }
}
