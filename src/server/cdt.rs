//! List and map operations (CDT_READ and CDT_MODIFY ops) on a bin's MessagePack list or map
//! particle, as a real server executes them: a write creates the bin when it is absent (with
//! the order the op's policy asks for), keeps an ordered list or map ordered, and answers with
//! the value a real server returns (a list's new size for an append, a map entry's new value for
//! an increment, the value found for a get by key), sent as the particle of that value.
//!
//! Supported: list append, append_items, size and get (by index); map put, increment, size and
//! get_by_key. Ops nested in a context, and the others, answer UNSUPPORTED_FEATURE.

use super::message::{particle, rc};
use super::msgpack::{self, Cursor, Item, Malformed};

pub const PARTICLE_DOUBLE: u8 = 2;
pub const PARTICLE_BOOL: u8 = 17;
pub const PARTICLE_MAP: u8 = 19;
pub const PARTICLE_LIST: u8 = 20;

const ELEMENT_NOT_FOUND: u8 = 23;
const ELEMENT_EXISTS: u8 = 24;
const OP_NOT_APPLICABLE: u8 = 26;

/// List op codes (as in the clients' list operations).
pub mod list_op {
    pub const APPEND: i64 = 1;
    pub const APPEND_ITEMS: i64 = 2;
    pub const SIZE: i64 = 16;
    pub const GET: i64 = 17;
}

/// Map op codes (as in the clients' map operations).
pub mod map_op {
    pub const PUT: i64 = 67;
    pub const INCREMENT: i64 = 73;
    pub const SIZE: i64 = 96;
    pub const GET_BY_KEY: i64 = 97;
}

/// What a map get returns (the clients' map return types).
mod map_return {
    pub const NONE: i64 = 0;
    pub const COUNT: i64 = 5;
    pub const KEY: i64 = 6;
    pub const VALUE: i64 = 7;
    pub const KEY_VALUE: i64 = 8;
    pub const EXISTS: i64 = 13;
}

/// List write flags.
const ADD_UNIQUE: i64 = 1;
/// Map write flags.
const CREATE_ONLY: i64 = 1;
const UPDATE_ONLY: i64 = 2;
/// Either: a flag's failure is no error (the op does nothing).
const NO_FAIL: i64 = 4;

/// Ordered list, or key-ordered map, in an order attribute or a header's flags.
const ORDERED: u8 = 1;

/// A particle: its type and its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Particle {
    pub particle: u8,
    pub value: Vec<u8>,
}

/// What a modify op did: the bin's new value (`None`: unchanged) and its result (`None`: nil).
#[derive(Debug, Clone, PartialEq)]
pub struct Modified {
    pub bin: Option<Particle>,
    pub result: Option<Particle>,
}

impl From<Malformed> for Failure {
    fn from(_: Malformed) -> Self {
        Failure(rc::PARAMETER_ERROR)
    }
}

/// A result code to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure(pub u8);

/// Runs a CDT_MODIFY op (`op`: its MessagePack) on a bin's current value.
pub fn modify(current: Option<(u8, &[u8])>, op: &[u8]) -> Result<Modified, u8> {
    let op = CdtOp::parse(op)?;
    match op.code {
        list_op::APPEND | list_op::APPEND_ITEMS => list_append(current, &op).map_err(|f| f.0),
        map_op::PUT | map_op::INCREMENT => map_write(current, &op).map_err(|f| f.0),
        _ => Err(rc::UNSUPPORTED_FEATURE),
    }
}

/// Runs a CDT_READ op on a bin's current value; a missing bin reads as nil.
pub fn read(current: Option<(u8, &[u8])>, op: &[u8]) -> Result<Option<Particle>, u8> {
    let op = CdtOp::parse(op)?;
    let Some((kind, bytes)) = current else {
        return match op.code {
            list_op::SIZE | list_op::GET | map_op::SIZE | map_op::GET_BY_KEY => Ok(None),
            _ => Err(rc::UNSUPPORTED_FEATURE),
        };
    };
    let read = || -> Result<Option<Particle>, Failure> {
        match op.code {
            list_op::SIZE | list_op::GET => {
                let list = List::of(kind, bytes)?;
                if op.code == list_op::SIZE {
                    return Ok(Some(int_particle(list.items.len() as i64)));
                }
                let index = op.int_arg(0)?;
                let at = if index < 0 { list.items.len() as i64 + index } else { index };
                let item =
                    usize::try_from(at).ok().and_then(|i| list.items.get(i)).ok_or(Failure(OP_NOT_APPLICABLE))?;
                Ok(Some(particle_of(item)?))
            }
            map_op::SIZE => Ok(Some(int_particle(Map::of(kind, bytes)?.entries.len() as i64))),
            map_op::GET_BY_KEY => {
                let map = Map::of(kind, bytes)?;
                let (return_type, key) = (op.int_arg(0)?, op.arg(1)?);
                let found = map.find(key)?.map(|i| map.entries[i]);
                get_result(return_type, key, found)
            }
            _ => Err(Failure(rc::UNSUPPORTED_FEATURE)),
        }
    };
    read().map_err(|f| f.0)
}

/// An op's code and arguments (each argument as its MessagePack bytes).
struct CdtOp<'a> {
    code: i64,
    args: Vec<&'a [u8]>,
}

impl<'a> CdtOp<'a> {
    fn parse(op: &'a [u8]) -> Result<CdtOp<'a>, u8> {
        let parse = || -> Result<Result<CdtOp<'a>, u8>, Malformed> {
            let mut c = Cursor::new(op);
            let Item::Array(n @ 1..) = c.item()? else { return Err(Malformed) };
            let Item::Int(code) = c.item()? else { return Err(Malformed) };
            if code == 0xff {
                // [0xff, [context...], [op, args...]]: an op on a nested list or map.
                return Ok(Err(rc::UNSUPPORTED_FEATURE));
            }
            let args = (1..n).map(|_| c.element()).collect::<Result<Vec<_>, _>>()?;
            if !c.at_end() {
                return Err(Malformed);
            }
            Ok(Ok(CdtOp { code, args }))
        };
        parse().map_err(|_| rc::PARAMETER_ERROR)?
    }

    fn arg(&self, i: usize) -> Result<&'a [u8], Failure> {
        self.args.get(i).copied().ok_or(Failure(rc::PARAMETER_ERROR))
    }

    fn int_arg(&self, i: usize) -> Result<i64, Failure> {
        match msgpack::head(self.arg(i)?)? {
            Item::Int(v) => Ok(v),
            _ => Err(Failure(rc::PARAMETER_ERROR)),
        }
    }

    /// An optional integer argument (attributes, flags), 0 when absent.
    fn int_or_zero(&self, i: usize) -> Result<i64, Failure> {
        if i < self.args.len() { self.int_arg(i) } else { Ok(0) }
    }
}

/// A list particle: its header element (order flags) when it has one, and its items.
struct List<'a> {
    header: Option<&'a [u8]>,
    items: Vec<&'a [u8]>,
}

/// The flags an ext header element carries (its ext type).
fn header_flags(element: &[u8]) -> Result<Option<u8>, Malformed> {
    Ok(match msgpack::head(element)? {
        Item::Ext(kind, _) => Some(kind as u8),
        _ => None,
    })
}

/// The header element for `flags`: an empty ext whose type is the flags, as the server writes it.
fn header_for(flags: u8) -> Vec<u8> {
    vec![0xc7, 0x00, flags]
}

impl<'a> List<'a> {
    fn of(kind: u8, bytes: &'a [u8]) -> Result<List<'a>, Failure> {
        if kind != PARTICLE_LIST {
            return Err(Failure(rc::BIN_TYPE_ERROR));
        }
        let mut c = Cursor::new(bytes);
        let Item::Array(n) = c.item()? else { return Err(Malformed.into()) };
        let mut items = (0..n).map(|_| c.element()).collect::<Result<Vec<_>, _>>()?;
        let header = match items.first() {
            Some(first) if header_flags(first)?.is_some() => Some(items.remove(0)),
            _ => None,
        };
        Ok(List { header, items })
    }

    fn ordered(&self) -> Result<bool, Malformed> {
        Ok(self.header.map(header_flags).transpose()?.flatten().is_some_and(|f| f & ORDERED != 0))
    }

    fn encode(&self, extra_header: Option<&[u8]>) -> Vec<u8> {
        let header = extra_header.or(self.header);
        let mut out = Vec::new();
        msgpack::put_array_len(&mut out, (self.items.len() + header.is_some() as usize) as u32);
        if let Some(h) = header {
            out.extend_from_slice(h);
        }
        for item in &self.items {
            out.extend_from_slice(item);
        }
        out
    }
}

/// list append / append_items: `[value | items, order attributes?, write flags?]`; returns the
/// list's size.
fn list_append(current: Option<(u8, &[u8])>, op: &CdtOp<'_>) -> Result<Modified, Failure> {
    let values: Vec<&[u8]> = if op.code == list_op::APPEND {
        vec![op.arg(0)?]
    } else {
        let mut c = Cursor::new(op.arg(0)?);
        let Item::Array(n @ 1..) = c.item()? else { return Err(Failure(rc::PARAMETER_ERROR)) };
        (0..n).map(|_| c.element()).collect::<Result<_, _>>()?
    };
    let (attributes, flags) = (op.int_or_zero(1)?, op.int_or_zero(2)?);
    let mut created = None;
    let mut list = match current {
        Some((kind, bytes)) => List::of(kind, bytes)?,
        None => {
            if attributes as u8 & ORDERED != 0 {
                created = Some(header_for(ORDERED));
            }
            List { header: None, items: Vec::new() }
        }
    };
    let ordered = created.is_some() || list.ordered()?;
    let mut changed = false;
    for value in values {
        // Unique by value (an int is equal however it was encoded), as the server compares.
        let mut exists = false;
        if flags & ADD_UNIQUE != 0 {
            for item in &list.items {
                exists |= msgpack::compare(item, value)?.is_eq();
            }
        }
        if exists {
            if flags & NO_FAIL != 0 {
                continue;
            }
            return Err(Failure(ELEMENT_EXISTS));
        }
        let at = if ordered {
            let mut at = list.items.len();
            for (i, item) in list.items.iter().enumerate() {
                if msgpack::compare(value, item)?.is_lt() {
                    at = i;
                    break;
                }
            }
            at
        } else {
            list.items.len()
        };
        list.items.insert(at, value);
        changed = true;
    }
    let size = list.items.len() as i64;
    let bin = (changed || current.is_none())
        .then(|| Particle { particle: PARTICLE_LIST, value: list.encode(created.as_deref()) });
    Ok(Modified { bin, result: Some(int_particle(size)) })
}

/// A map particle: its header pair (order flags) when it has one, and its entries.
struct Map<'a> {
    header: Option<(&'a [u8], &'a [u8])>,
    entries: Vec<(&'a [u8], &'a [u8])>,
}

impl<'a> Map<'a> {
    fn of(kind: u8, bytes: &'a [u8]) -> Result<Map<'a>, Failure> {
        if kind != PARTICLE_MAP {
            return Err(Failure(rc::BIN_TYPE_ERROR));
        }
        let mut c = Cursor::new(bytes);
        let Item::Map(n) = c.item()? else { return Err(Malformed.into()) };
        let mut entries = (0..n).map(|_| Ok((c.element()?, c.element()?))).collect::<Result<Vec<_>, Malformed>>()?;
        let header = match entries.first() {
            Some((k, _)) if header_flags(k)?.is_some() => Some(entries.remove(0)),
            _ => None,
        };
        Ok(Map { header, entries })
    }

    fn flags(&self) -> Result<u8, Malformed> {
        Ok(self.header.map(|(k, _)| header_flags(k)).transpose()?.flatten().unwrap_or(0))
    }

    /// The entry whose key equals `key` (numbers by value, strings and bytes by content).
    fn find(&self, key: &[u8]) -> Result<Option<usize>, Malformed> {
        for (i, (k, _)) in self.entries.iter().enumerate() {
            if msgpack::compare(k, key)?.is_eq() {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }

    fn encode(&self, header: Option<&[u8]>) -> Vec<u8> {
        let mut out = Vec::new();
        let has_header = header.is_some() || self.header.is_some();
        msgpack::put_map_len(&mut out, (self.entries.len() + has_header as usize) as u32);
        if let Some(h) = header {
            out.extend_from_slice(h);
            out.push(0xc0);
        } else if let Some((k, v)) = self.header {
            out.extend_from_slice(k);
            out.extend_from_slice(v);
        }
        for (k, v) in &self.entries {
            out.extend_from_slice(k);
            out.extend_from_slice(v);
        }
        out
    }
}

/// map put `[key, value, attributes?, flags?]` (returns the map's size) and increment
/// `[key, delta?, attributes?]` (returns the entry's new value; a missing entry starts at 0).
fn map_write(current: Option<(u8, &[u8])>, op: &CdtOp<'_>) -> Result<Modified, Failure> {
    let key = op.arg(0)?;
    // Integers, strings and blobs only, as a real server's map keys.
    if !super::cdt_store::is_key(key) {
        return Err(Failure(rc::PARAMETER_ERROR));
    }
    let attributes = op.int_or_zero(2)? as u8;
    let new_value;
    let mut created = None;
    let mut map = match current {
        Some((kind, bytes)) => Map::of(kind, bytes)?,
        None => {
            if attributes & ORDERED != 0 {
                created = Some(header_for(attributes & 0x03));
            }
            Map { header: None, entries: Vec::new() }
        }
    };
    let key_ordered = created.is_some() || map.flags()? & ORDERED != 0;
    let found = map.find(key)?;
    let result = if op.code == map_op::PUT {
        let flags = op.int_or_zero(3)?;
        let refused = match found {
            Some(_) if flags & CREATE_ONLY != 0 => Some(ELEMENT_EXISTS),
            None if flags & UPDATE_ONLY != 0 => Some(ELEMENT_NOT_FOUND),
            _ => None,
        };
        if let Some(code) = refused {
            if flags & NO_FAIL == 0 {
                return Err(Failure(code));
            }
            return Ok(Modified { bin: None, result: Some(int_particle(map.entries.len() as i64)) });
        }
        new_value = op.arg(1)?.to_vec();
        None
    } else {
        let delta = match op.args.get(1) {
            Some(d) => msgpack::head(d)?,
            None => Item::Int(1),
        };
        let old = found.map(|i| msgpack::head(map.entries[i].1)).transpose()?;
        // A uint64 above i64::MAX adds as the 64-bit integer it is stored as.
        fn signed(item: Item<'_>) -> Item<'_> {
            match item {
                Item::Uint(v) => Item::Int(v as i64),
                other => other,
            }
        }
        let mut out = Vec::new();
        match (old.map(signed), signed(delta)) {
            (None, Item::Int(d)) => msgpack::put_int(&mut out, d),
            (None, Item::Float(d)) => msgpack::put_f64(&mut out, d),
            // The entry keeps its type: a float delta on an int is truncated, an int on a float widened.
            (Some(Item::Int(v)), Item::Int(d)) => msgpack::put_int(&mut out, v.wrapping_add(d)),
            (Some(Item::Int(v)), Item::Float(d)) => msgpack::put_int(&mut out, v.wrapping_add(d as i64)),
            (Some(Item::Float(v)), Item::Int(d)) => msgpack::put_f64(&mut out, v + d as f64),
            (Some(Item::Float(v)), Item::Float(d)) => msgpack::put_f64(&mut out, v + d),
            // Incrementing a value that is not a number: PARAMETER_ERROR, as Aerospike 8.1 answers.
            _ => return Err(Failure(rc::PARAMETER_ERROR)),
        }
        new_value = out;
        Some(())
    };
    match found {
        Some(i) => map.entries[i].1 = &new_value,
        None => {
            let at = if key_ordered {
                let mut at = map.entries.len();
                for (i, (k, _)) in map.entries.iter().enumerate() {
                    if msgpack::compare(key, k)?.is_lt() {
                        at = i;
                        break;
                    }
                }
                at
            } else {
                map.entries.len()
            };
            map.entries.insert(at, (key, &new_value));
        }
    }
    let result = match result {
        None => int_particle(map.entries.len() as i64),
        Some(()) => particle_of(&new_value)?,
    };
    Ok(Modified {
        bin: Some(Particle { particle: PARTICLE_MAP, value: map.encode(created.as_deref()) }),
        result: Some(result),
    })
}

/// What get_by_key returns for `return_type`, the entry being `found` or not.
fn get_result(return_type: i64, key: &[u8], found: Option<(&[u8], &[u8])>) -> Result<Option<Particle>, Failure> {
    Ok(match return_type {
        map_return::NONE => None,
        map_return::VALUE => found.map(|(_, v)| particle_of(v)).transpose()?,
        map_return::KEY => found.map(|_| particle_of(key)).transpose()?,
        map_return::COUNT => Some(int_particle(found.is_some() as i64)),
        map_return::EXISTS => Some(Particle { particle: PARTICLE_BOOL, value: vec![found.is_some() as u8] }),
        map_return::KEY_VALUE => {
            let mut out = Vec::new();
            msgpack::put_map_len(&mut out, found.is_some() as u32);
            if let Some((k, v)) = found {
                out.extend_from_slice(k);
                out.extend_from_slice(v);
            }
            Some(Particle { particle: PARTICLE_MAP, value: out })
        }
        _ => return Err(Failure(rc::UNSUPPORTED_FEATURE)),
    })
}

fn int_particle(v: i64) -> Particle {
    Particle { particle: particle::INTEGER, value: v.to_be_bytes().to_vec() }
}

/// A result value as the particle a real server sends it as: integers and floats as 8-byte
/// numbers, strings and bytes by the particle type in their first byte, lists and maps as their
/// MessagePack.
fn particle_of(element: &[u8]) -> Result<Particle, Malformed> {
    let (particle, value) = match msgpack::head(element)? {
        Item::Nil => (particle::NULL, Vec::new()),
        Item::Bool(b) => (PARTICLE_BOOL, vec![b as u8]),
        Item::Int(v) => (particle::INTEGER, v.to_be_bytes().to_vec()),
        Item::Uint(v) => (particle::INTEGER, v.to_be_bytes().to_vec()),
        Item::Float(v) => (PARTICLE_DOUBLE, v.to_be_bytes().to_vec()),
        Item::Str([kind, rest @ ..]) => (*kind, rest.to_vec()),
        Item::Str([]) => (particle::STRING, Vec::new()),
        Item::Bin(b) => (particle::BLOB, b.to_vec()),
        Item::Array(_) => (PARTICLE_LIST, element.to_vec()),
        Item::Map(_) => (PARTICLE_MAP, element.to_vec()),
        Item::Ext(..) => return Err(Malformed),
    };
    Ok(Particle { particle, value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(code: i64, args: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        msgpack::put_array_len(&mut out, args.len() as u32 + 1);
        msgpack::put_int(&mut out, code);
        for a in args {
            out.extend_from_slice(a);
        }
        out
    }

    fn int(v: i64) -> Vec<u8> {
        let mut out = Vec::new();
        msgpack::put_int(&mut out, v);
        out
    }

    fn s(text: &str) -> Vec<u8> {
        let mut out = vec![0xa0 | (text.len() as u8 + 1), particle::STRING];
        out.extend_from_slice(text.as_bytes());
        out
    }

    /// Applies modify ops in turn to one bin, returning each op's result and the final bin.
    fn apply(ops: &[Vec<u8>]) -> (Vec<Option<Particle>>, Option<Particle>) {
        let mut bin: Option<Particle> = None;
        let mut results = Vec::new();
        for o in ops {
            let m = modify(bin.as_ref().map(|b| (b.particle, &b.value[..])), o).unwrap();
            if m.bin.is_some() {
                bin = m.bin;
            }
            results.push(m.result);
        }
        (results, bin)
    }

    #[test]
    fn list_append_creates_the_list_and_answers_its_size() {
        let (results, bin) =
            apply(&[op(list_op::APPEND, &[&int(7)]), op(list_op::APPEND, &[&s("x"), &int(0), &int(0)])]);
        assert_eq!(results, vec![Some(int_particle(1)), Some(int_particle(2))]);
        let bin = bin.unwrap();
        assert_eq!(bin.particle, PARTICLE_LIST);
        assert_eq!(bin.value, [&[0x92u8][..], &int(7), &s("x")].concat(), "items in the order appended");
        let current = Some((bin.particle, &bin.value[..]));
        assert_eq!(read(current, &op(list_op::SIZE, &[])).unwrap(), Some(int_particle(2)));
        let last = read(current, &op(list_op::GET, &[&int(-1)])).unwrap().unwrap();
        assert_eq!((last.particle, last.value), (particle::STRING, b"x".to_vec()));
        assert_eq!(read(current, &op(list_op::GET, &[&int(5)])), Err(OP_NOT_APPLICABLE));
        // append_items, and an ordered list keeps its order (created with the ordered attribute).
        let items = [&[0x93u8][..], &int(5), &int(1), &int(3)].concat();
        let (results, bin) =
            apply(&[op(list_op::APPEND_ITEMS, &[&items, &int(1)]), op(list_op::APPEND, &[&int(2), &int(1)])]);
        assert_eq!(results.last().unwrap(), &Some(int_particle(4)));
        assert_eq!(bin.unwrap().value, [&[0x95u8, 0xc7, 0, 1][..], &int(1), &int(2), &int(3), &int(5)].concat());
        // Unique items only, with and without NO_FAIL.
        let (_, bin) = apply(&[op(list_op::APPEND, &[&int(9)])]);
        let current = bin.as_ref().map(|b| (b.particle, &b.value[..]));
        assert_eq!(modify(current, &op(list_op::APPEND, &[&int(9), &int(0), &int(ADD_UNIQUE)])), Err(ELEMENT_EXISTS));
        let wide_nine = [0xd3, 0, 0, 0, 0, 0, 0, 0, 9];
        assert_eq!(
            modify(current, &op(list_op::APPEND, &[&wide_nine, &int(0), &int(ADD_UNIQUE)])),
            Err(ELEMENT_EXISTS)
        );
        let quiet = modify(current, &op(list_op::APPEND, &[&int(9), &int(0), &int(ADD_UNIQUE | NO_FAIL)])).unwrap();
        assert_eq!((quiet.bin, quiet.result), (None, Some(int_particle(1))));
    }

    #[test]
    fn map_increment_creates_the_entry_and_answers_its_new_value() {
        let incr = op(map_op::INCREMENT, &[&s("n"), &int(1), &int(0)]);
        let (results, bin) = apply(&[incr.clone(), incr.clone(), incr, op(map_op::PUT, &[&s("a"), &s("v")])]);
        assert_eq!(
            results,
            vec![Some(int_particle(1)), Some(int_particle(2)), Some(int_particle(3)), Some(int_particle(2))]
        );
        let bin = bin.unwrap();
        assert_eq!(bin.particle, PARTICLE_MAP);
        assert_eq!(bin.value, [&[0x82u8][..], &s("n"), &int(3), &s("a"), &s("v")].concat());
        let current = Some((bin.particle, &bin.value[..]));
        let get = |rt: i64, key: &[u8]| read(current, &op(map_op::GET_BY_KEY, &[&int(rt), key])).unwrap();
        assert_eq!(get(map_return::VALUE, &s("n")), Some(int_particle(3)));
        assert_eq!(get(map_return::VALUE, &s("missing")), None);
        assert_eq!(get(map_return::COUNT, &s("a")), Some(int_particle(1)));
        assert_eq!(get(map_return::EXISTS, &s("zz")), Some(Particle { particle: PARTICLE_BOOL, value: vec![0] }));
        let value = get(map_return::VALUE, &s("a")).unwrap();
        assert_eq!((value.particle, value.value), (particle::STRING, b"v".to_vec()));
        assert_eq!(read(current, &op(map_op::SIZE, &[])).unwrap(), Some(int_particle(2)));
        // A missing bin reads as nil; a float delta on a new entry makes a float.
        assert_eq!(read(None, &op(map_op::GET_BY_KEY, &[&int(map_return::VALUE), &s("n")])).unwrap(), None);
        let mut half = Vec::new();
        msgpack::put_f64(&mut half, 0.5);
        let (results, _) = apply(&[op(map_op::INCREMENT, &[&int(4), &half]), op(map_op::INCREMENT, &[&int(4), &half])]);
        assert_eq!(results[1], Some(Particle { particle: PARTICLE_DOUBLE, value: 1.0f64.to_be_bytes().to_vec() }));
    }

    #[test]
    fn key_ordered_maps_stay_ordered_and_put_flags_hold() {
        let put = |k: i64, flags: i64| op(map_op::PUT, &[&int(k), &int(k * 10), &int(1), &int(flags)]);
        let (_, bin) = apply(&[put(30, 0), put(10, 0), put(20, 0)]);
        let bin = bin.unwrap();
        let want =
            [&[0x84u8, 0xc7, 0, 1, 0xc0][..], &int(10), &int(100), &int(20), &int(200), &int(30), &int(300)].concat();
        assert_eq!(bin.value, want, "header pair first, then keys in order");
        let current = Some((bin.particle, &bin.value[..]));
        assert_eq!(read(current, &op(map_op::SIZE, &[])).unwrap(), Some(int_particle(3)), "the header is no entry");
        assert_eq!(modify(current, &put(10, CREATE_ONLY)), Err(ELEMENT_EXISTS));
        assert_eq!(modify(current, &put(40, UPDATE_ONLY)), Err(ELEMENT_NOT_FOUND));
        assert_eq!(modify(current, &put(40, UPDATE_ONLY | NO_FAIL)).unwrap().bin, None);
    }

    #[test]
    fn wrong_types_contexts_and_garbage_are_refused() {
        let list = [0x91u8, 0x01];
        assert_eq!(
            modify(Some((particle::INTEGER, &[0; 8])), &op(list_op::APPEND, &[&int(1)])),
            Err(rc::BIN_TYPE_ERROR)
        );
        assert_eq!(modify(Some((PARTICLE_LIST, &list)), &op(map_op::INCREMENT, &[&s("n")])), Err(rc::BIN_TYPE_ERROR));
        let map = [&[0x81u8][..], &s("n"), &s("text")].concat();
        // Incrementing a string is a parameter error, as on Aerospike 8.1 (not OP_NOT_APPLICABLE).
        assert_eq!(modify(Some((PARTICLE_MAP, &map)), &op(map_op::INCREMENT, &[&s("n")])), Err(rc::PARAMETER_ERROR));
        // Keys are integers, strings or blobs.
        let mut float_key = Vec::new();
        msgpack::put_f64(&mut float_key, 1.5);
        assert_eq!(modify(None, &op(map_op::PUT, &[&float_key, &int(1)])), Err(rc::PARAMETER_ERROR));
        let nested = [&[0x93u8, 0xcc, 0xff, 0x92, 0x10, 0x00][..], &op(list_op::APPEND, &[&int(1)])].concat();
        assert_eq!(modify(None, &nested), Err(rc::UNSUPPORTED_FEATURE));
        assert_eq!(modify(None, &op(list_op::APPEND, &[])), Err(rc::PARAMETER_ERROR));
        assert_eq!(modify(None, &[0x92, 0x01]), Err(rc::PARAMETER_ERROR), "truncated");
        assert_eq!(modify(None, &op(99, &[])), Err(rc::UNSUPPORTED_FEATURE));
        assert_eq!(
            modify(Some((PARTICLE_LIST, &[0x93, 0x01])), &op(list_op::APPEND, &[&int(1)])),
            Err(rc::PARAMETER_ERROR)
        );
    }
}
