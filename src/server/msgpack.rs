//! The MessagePack inside list and map particles and CDT op arguments, as the server needs it:
//! where each element starts and ends, and the value of the scalars the CDT code compares or
//! computes with. Elements stay as their bytes (what a client wrote is kept as written); the
//! headers and scalars written back go through the `rmp` crate.

use std::cmp::Ordering;

use rmp::Marker;

/// One element's head: a scalar's value, or a container's length (its items follow).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Item<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    /// An unsigned 64-bit integer above `i64::MAX`: greater than every `Int`, as the server
    /// compares them.
    Uint(u64),
    Float(f64),
    /// A MessagePack str: Aerospike puts the particle type (3 for a string) in its first byte.
    Str(&'a [u8]),
    Bin(&'a [u8]),
    Ext(i8, &'a [u8]),
    Array(u32),
    Map(u32),
}

/// The bytes do not hold the MessagePack expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed MessagePack")]
pub struct Malformed;

/// Reads elements off a byte slice.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    pub fn at_end(&self) -> bool {
        self.pos == self.buf.len()
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or(Malformed)?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn uint(&mut self, n: usize) -> Result<u64, Malformed> {
        Ok(self.take(n)?.iter().fold(0u64, |acc, b| (acc << 8) | *b as u64))
    }

    /// The next element's head (a container's items are left to read).
    pub fn item(&mut self) -> Result<Item<'a>, Malformed> {
        let byte = self.take(1)?[0];
        Ok(match Marker::from_u8(byte) {
            Marker::FixPos(v) => Item::Int(v as i64),
            Marker::FixNeg(v) => Item::Int(v as i64),
            Marker::Null => Item::Nil,
            Marker::True => Item::Bool(true),
            Marker::False => Item::Bool(false),
            Marker::U8 => Item::Int(self.uint(1)? as i64),
            Marker::U16 => Item::Int(self.uint(2)? as i64),
            Marker::U32 => Item::Int(self.uint(4)? as i64),
            Marker::U64 => match self.uint(8)? {
                v if v > i64::MAX as u64 => Item::Uint(v),
                v => Item::Int(v as i64),
            },
            Marker::I8 => Item::Int(self.uint(1)? as u8 as i8 as i64),
            Marker::I16 => Item::Int(self.uint(2)? as u16 as i16 as i64),
            Marker::I32 => Item::Int(self.uint(4)? as u32 as i32 as i64),
            Marker::I64 => Item::Int(self.uint(8)? as i64),
            Marker::F32 => Item::Float(f32::from_bits(self.uint(4)? as u32) as f64),
            Marker::F64 => Item::Float(f64::from_bits(self.uint(8)?)),
            Marker::FixStr(n) => Item::Str(self.take(n as usize)?),
            Marker::Str8 => Item::Str(self.sized(1)?),
            Marker::Str16 => Item::Str(self.sized(2)?),
            Marker::Str32 => Item::Str(self.sized(4)?),
            Marker::Bin8 => Item::Bin(self.sized(1)?),
            Marker::Bin16 => Item::Bin(self.sized(2)?),
            Marker::Bin32 => Item::Bin(self.sized(4)?),
            Marker::FixArray(n) => Item::Array(n as u32),
            Marker::Array16 => Item::Array(self.uint(2)? as u32),
            Marker::Array32 => Item::Array(self.uint(4)? as u32),
            Marker::FixMap(n) => Item::Map(n as u32),
            Marker::Map16 => Item::Map(self.uint(2)? as u32),
            Marker::Map32 => Item::Map(self.uint(4)? as u32),
            Marker::FixExt1 => self.ext(1)?,
            Marker::FixExt2 => self.ext(2)?,
            Marker::FixExt4 => self.ext(4)?,
            Marker::FixExt8 => self.ext(8)?,
            Marker::FixExt16 => self.ext(16)?,
            Marker::Ext8 => {
                let n = self.uint(1)? as usize;
                self.ext(n)?
            }
            Marker::Ext16 => {
                let n = self.uint(2)? as usize;
                self.ext(n)?
            }
            Marker::Ext32 => {
                let n = self.uint(4)? as usize;
                self.ext(n)?
            }
            Marker::Reserved => return Err(Malformed),
        })
    }

    fn sized(&mut self, len_bytes: usize) -> Result<&'a [u8], Malformed> {
        let n = self.uint(len_bytes)? as usize;
        self.take(n)
    }

    fn ext(&mut self, n: usize) -> Result<Item<'a>, Malformed> {
        let kind = self.take(1)?[0] as i8;
        Ok(Item::Ext(kind, self.take(n)?))
    }

    /// The next whole element (a container with everything in it), as its bytes.
    pub fn element(&mut self) -> Result<&'a [u8], Malformed> {
        let start = self.pos;
        // Items still to read; a container adds its own (twice its length for a map).
        let mut pending: u64 = 1;
        while pending > 0 {
            pending -= 1;
            match self.item()? {
                Item::Array(n) => pending += n as u64,
                Item::Map(n) => pending += 2 * n as u64,
                _ => {}
            }
            // Each item takes at least a byte: a count beyond what is left cannot be honest.
            if pending > self.rest().len() as u64 {
                return Err(Malformed);
            }
        }
        Ok(&self.buf[start..self.pos])
    }
}

/// The single scalar or container head an element starts with.
pub fn head(element: &[u8]) -> Result<Item<'_>, Malformed> {
    Cursor::new(element).item()
}

/// Appends an array header for `n` items.
pub fn put_array_len(out: &mut Vec<u8>, n: u32) {
    rmp::encode::write_array_len(out, n).expect("writing to a Vec cannot fail");
}

/// Appends a map header for `n` pairs.
pub fn put_map_len(out: &mut Vec<u8>, n: u32) {
    rmp::encode::write_map_len(out, n).expect("writing to a Vec cannot fail");
}

/// Appends an integer in its shortest form.
pub fn put_int(out: &mut Vec<u8>, v: i64) {
    rmp::encode::write_sint(out, v).expect("writing to a Vec cannot fail");
}

/// Appends a double.
pub fn put_f64(out: &mut Vec<u8>, v: f64) {
    rmp::encode::write_f64(out, v).expect("writing to a Vec cannot fail");
}

/// Where a value's type stands in the server's order of values: nil, bool, int, string, list,
/// map, bytes, float (the order ordered maps keep their keys in).
fn rank(item: &Item<'_>) -> u8 {
    match item {
        Item::Nil => 1,
        Item::Bool(_) => 2,
        Item::Int(_) | Item::Uint(_) => 3,
        Item::Str(_) => 4,
        Item::Array(_) => 5,
        Item::Map(_) => 6,
        Item::Bin(_) => 7,
        Item::Float(_) => 8,
        Item::Ext(..) => 9,
    }
}

/// Orders two elements as the server orders values: by type, then numbers by value and
/// strings and bytes byte-wise; containers of the same type fall back to their bytes.
pub fn compare(a: &[u8], b: &[u8]) -> Result<Ordering, Malformed> {
    let (x, y) = (head(a)?, head(b)?);
    Ok(match (x, y) {
        (Item::Int(p), Item::Int(q)) => p.cmp(&q),
        (Item::Uint(p), Item::Uint(q)) => p.cmp(&q),
        (Item::Int(_), Item::Uint(_)) => Ordering::Less,
        (Item::Uint(_), Item::Int(_)) => Ordering::Greater,
        (Item::Float(p), Item::Float(q)) => p.total_cmp(&q),
        (Item::Bool(p), Item::Bool(q)) => p.cmp(&q),
        (Item::Str(p), Item::Str(q)) | (Item::Bin(p), Item::Bin(q)) => p.cmp(q),
        _ if rank(&x) != rank(&y) => rank(&x).cmp(&rank(&y)),
        _ => a.cmp(b),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_and_scalars_read_back() {
        let mut buf = Vec::new();
        put_array_len(&mut buf, 3);
        put_int(&mut buf, -5);
        put_int(&mut buf, 70_000);
        put_map_len(&mut buf, 1);
        buf.extend_from_slice(&[0xa2, 3, b'k']);
        put_f64(&mut buf, 1.5);
        buf.push(0xc0);
        let mut c = Cursor::new(&buf);
        assert_eq!(c.item().unwrap(), Item::Array(3));
        assert_eq!(c.item().unwrap(), Item::Int(-5));
        assert_eq!(c.item().unwrap(), Item::Int(70_000));
        let map = c.element().unwrap();
        assert_eq!(map.len(), 1 + 3 + 9);
        assert_eq!(c.item().unwrap(), Item::Nil);
        assert!(c.at_end());
        // The whole array is one element.
        assert_eq!(Cursor::new(&buf).element().unwrap().len(), buf.len() - 1);
        // Truncated or lying lengths are refused, not read past.
        assert_eq!(Cursor::new(&buf[..buf.len() - 3]).element(), Err(Malformed));
        assert_eq!(Cursor::new(&[0xdd, 0xff, 0xff, 0xff, 0xff]).element(), Err(Malformed));
        assert_eq!(Cursor::new(&[0xc1]).item(), Err(Malformed));
    }

    #[test]
    fn values_order_by_type_then_value() {
        let int = |v: i64| {
            let mut b = Vec::new();
            put_int(&mut b, v);
            b
        };
        assert_eq!(compare(&int(2), &int(10)).unwrap(), Ordering::Less);
        assert_eq!(compare(&int(-1), &int(-1)).unwrap(), Ordering::Equal);
        // Any int before any string; strings byte-wise.
        assert_eq!(compare(&int(1000), &[0xa2, 3, b'a']).unwrap(), Ordering::Less);
        assert_eq!(compare(&[0xa2, 3, b'b'], &[0xa3, 3, b'a', b'z']).unwrap(), Ordering::Greater);
        let mut f = Vec::new();
        put_f64(&mut f, 0.5);
        assert_eq!(compare(&f, &int(7)).unwrap(), Ordering::Greater, "floats rank after ints");
        // A uint64 above i64::MAX is the greatest integer, not a negative one.
        let big = [0xcf, 0x80, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(head(&big).unwrap(), Item::Uint((1 << 63) + 1));
        assert_eq!(compare(&big, &int(i64::MAX)).unwrap(), Ordering::Greater);
        assert_eq!(compare(&int(-1), &big).unwrap(), Ordering::Less);
        assert_eq!(compare(&big, &[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).unwrap(), Ordering::Less);
        assert_eq!(compare(&[0xcf, 0, 0, 0, 0, 0, 0, 0, 5], &int(5)).unwrap(), Ordering::Equal);
    }
}
