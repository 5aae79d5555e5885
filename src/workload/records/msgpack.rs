//! List and map bins as the server stores them and the clients send them: MessagePack, with
//! strings and blobs as MessagePack strings whose first byte is the particle type (3 string,
//! 4 blob), integers in their shortest form, floats as float 64, and maps as plain
//! (unordered) maps whose entries keep the order given. A key-ordered map starts with one
//! extra entry, an ext header (`c7 00 01 c0`), which the decoder (the floor's `--verify`) accepts and reports.

use crate::workload::BinValue;

const PARTICLE_STRING: u8 = 3;
const PARTICLE_BLOB: u8 = 4;

/// Appends `v` in its MessagePack form.
pub fn encode(v: &BinValue, out: &mut Vec<u8>) {
    match v {
        BinValue::Int(i) => int(*i, out),
        BinValue::Double(d) => {
            out.push(0xcb);
            out.extend_from_slice(&d.to_bits().to_be_bytes());
        }
        BinValue::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        BinValue::Str(s) => raw(PARTICLE_STRING, s.as_bytes(), out),
        BinValue::Bytes(b) => raw(PARTICLE_BLOB, b, out),
        BinValue::List(items) => {
            header(items.len(), 0x90, 0xdc, out);
            for item in items {
                encode(item, out);
            }
        }
        BinValue::Map(entries) => {
            header(entries.len(), 0x80, 0xde, out);
            for (k, v) in entries {
                encode(k, out);
                encode(v, out);
            }
        }
    }
}

/// A list or map header: fix form under 16 entries, then 16- or 32-bit counts.
fn header(n: usize, fix: u8, wide: u8, out: &mut Vec<u8>) {
    if n < 16 {
        out.push(fix | n as u8);
    } else if n < 1 << 16 {
        out.push(wide);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(wide + 1);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn raw(particle: u8, bytes: &[u8], out: &mut Vec<u8>) {
    let n = bytes.len() + 1;
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else if n < 256 {
        out.extend_from_slice(&[0xd9, n as u8]);
    } else if n < 1 << 16 {
        out.push(0xda);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.push(particle);
    out.extend_from_slice(bytes);
}

fn int(i: i64, out: &mut Vec<u8>) {
    if i >= 0 {
        let u = i as u64;
        if u < 128 {
            out.push(u as u8);
        } else if u < 1 << 8 {
            out.extend_from_slice(&[0xcc, u as u8]);
        } else if u < 1 << 16 {
            out.push(0xcd);
            out.extend_from_slice(&(u as u16).to_be_bytes());
        } else if u < 1 << 32 {
            out.push(0xce);
            out.extend_from_slice(&(u as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&u.to_be_bytes());
        }
    } else if i >= -32 {
        out.push(i as u8);
    } else if i >= i64::from(i8::MIN) {
        out.extend_from_slice(&[0xd0, i as u8]);
    } else if i >= i64::from(i16::MIN) {
        out.push(0xd1);
        out.extend_from_slice(&(i as i16).to_be_bytes());
    } else if i >= i64::from(i32::MIN) {
        out.push(0xd2);
        out.extend_from_slice(&(i as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&i.to_be_bytes());
    }
}

/// Why bytes are not a MessagePack value aerobench writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("MessagePack value cut short")]
    Short,
    #[error("MessagePack marker {0:#04x} is not one aerobench reads")]
    Marker(u8),
    #[error("MessagePack string of particle type {0} is not a string or blob")]
    Particle(u8),
    #[error("{0} bytes after the MessagePack value")]
    Trailing(usize),
}

/// A decoded list or map value, and whether a map was marked key-ordered.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub value: BinValue,
    pub key_ordered: bool,
}

/// Decodes exactly one value from `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let mut r = Reader { bytes, at: 0, key_ordered: false };
    let value = r.value()?;
    if r.at != bytes.len() {
        return Err(DecodeError::Trailing(bytes.len() - r.at));
    }
    Ok(Decoded { value, key_ordered: r.key_ordered })
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    key_ordered: bool,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len()).ok_or(DecodeError::Short)?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn uint(&mut self, n: usize) -> Result<u64, DecodeError> {
        Ok(self.take(n)?.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn value(&mut self) -> Result<BinValue, DecodeError> {
        let m = self.take(1)?[0];
        Ok(match m {
            0x00..=0x7f => BinValue::Int(i64::from(m)),
            0xe0..=0xff => BinValue::Int(i64::from(m as i8)),
            0xcc => BinValue::Int(self.uint(1)? as i64),
            0xcd => BinValue::Int(self.uint(2)? as i64),
            0xce => BinValue::Int(self.uint(4)? as i64),
            0xcf => BinValue::Int(self.uint(8)? as i64),
            0xd0 => BinValue::Int(i64::from(self.uint(1)? as u8 as i8)),
            0xd1 => BinValue::Int(i64::from(self.uint(2)? as u16 as i16)),
            0xd2 => BinValue::Int(i64::from(self.uint(4)? as u32 as i32)),
            0xd3 => BinValue::Int(self.uint(8)? as i64),
            0xca => BinValue::Double(f64::from(f32::from_bits(self.uint(4)? as u32))),
            0xcb => BinValue::Double(f64::from_bits(self.uint(8)?)),
            0xc2 => BinValue::Bool(false),
            0xc3 => BinValue::Bool(true),
            0xa0..=0xbf => self.raw(usize::from(m & 0x1f))?,
            0xd9 => {
                let n = self.uint(1)? as usize;
                self.raw(n)?
            }
            0xda => {
                let n = self.uint(2)? as usize;
                self.raw(n)?
            }
            0xdb => {
                let n = self.uint(4)? as usize;
                self.raw(n)?
            }
            0x90..=0x9f => self.list(usize::from(m & 0x0f))?,
            0xdc => {
                let n = self.uint(2)? as usize;
                self.list(n)?
            }
            0xdd => {
                let n = self.uint(4)? as usize;
                self.list(n)?
            }
            0x80..=0x8f => self.map(usize::from(m & 0x0f))?,
            0xde => {
                let n = self.uint(2)? as usize;
                self.map(n)?
            }
            0xdf => {
                let n = self.uint(4)? as usize;
                self.map(n)?
            }
            other => return Err(DecodeError::Marker(other)),
        })
    }

    fn raw(&mut self, n: usize) -> Result<BinValue, DecodeError> {
        let s = self.take(n)?;
        let Some((&particle, rest)) = s.split_first() else { return Ok(BinValue::Str(String::new())) };
        match particle {
            PARTICLE_STRING => Ok(BinValue::Str(String::from_utf8_lossy(rest).into_owned())),
            PARTICLE_BLOB => Ok(BinValue::Bytes(rest.to_vec())),
            other => Err(DecodeError::Particle(other)),
        }
    }

    fn list(&mut self, n: usize) -> Result<BinValue, DecodeError> {
        // A list's own ext header (list flags) is skipped, as the clients do.
        let mut items = Vec::with_capacity(n.min(1 << 16));
        for k in 0..n {
            if k == 0 && self.ext_header()? {
                continue;
            }
            items.push(self.value()?);
        }
        Ok(BinValue::List(items))
    }

    fn map(&mut self, n: usize) -> Result<BinValue, DecodeError> {
        let mut entries = Vec::with_capacity(n.min(1 << 16));
        for k in 0..n {
            if k == 0 && self.ext_header()? {
                // The map's flags and a nil value: bit 0 set marks it key-ordered.
                if self.take(1)? != [0xc0] {
                    return Err(DecodeError::Marker(self.bytes[self.at - 1]));
                }
                continue;
            }
            let key = self.value()?;
            entries.push((key, self.value()?));
        }
        Ok(BinValue::Map(entries))
    }

    /// An ext header (`c7 00 FLAGS` or a fixext 1 `d4 00 FLAGS`) at the start of a list or map.
    fn ext_header(&mut self) -> Result<bool, DecodeError> {
        match self.bytes.get(self.at) {
            Some(0xc7) => {
                let h = self.take(3)?;
                self.key_ordered |= h[2] & 1 == 1;
                Ok(true)
            }
            Some(0xd4) => {
                let h = self.take(3)?;
                self.key_ordered |= h[2] & 1 == 1;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(v: &BinValue) -> Vec<u8> {
        let mut out = Vec::new();
        encode(v, &mut out);
        out
    }

    #[test]
    fn scalars_use_the_forms_the_clients_write() {
        assert_eq!(bytes(&BinValue::Int(5)), [0x05]);
        assert_eq!(bytes(&BinValue::Int(200)), [0xcc, 200]);
        assert_eq!(bytes(&BinValue::Int(-3)), [0xfd]);
        assert_eq!(bytes(&BinValue::Int(-200)), [0xd1, 0xff, 0x38]);
        assert_eq!(bytes(&BinValue::Int(1 << 40)), [0xcf, 0, 0, 1, 0, 0, 0, 0, 0]);
        assert_eq!(bytes(&BinValue::Double(1.5)), [0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
        assert_eq!(bytes(&BinValue::Bool(true)), [0xc3]);
        assert_eq!(bytes(&BinValue::Str("ab".into())), [0xa3, 3, b'a', b'b']);
        assert_eq!(bytes(&BinValue::Bytes(vec![9])), [0xa2, 4, 9]);
        let long = bytes(&BinValue::Str("x".repeat(40)));
        assert_eq!(&long[..3], &[0xd9, 41, 3]);
        assert_eq!(&bytes(&BinValue::Bytes(vec![0; 300]))[..4], &[0xda, 1, 45, 4]);
    }

    #[test]
    fn lists_and_maps_round_trip_in_their_order() {
        let v = BinValue::Map(vec![
            (BinValue::Str("b".into()), BinValue::List((0..20).map(BinValue::Int).collect())),
            (BinValue::Str("a".into()), BinValue::Bytes(vec![1, 2, 3])),
            (BinValue::Int(7), BinValue::Map(vec![])),
        ]);
        let b = bytes(&v);
        assert_eq!(b[0], 0x83);
        assert_eq!(decode(&b), Ok(Decoded { value: v, key_ordered: false }));
        let many = BinValue::Map((0..20).map(|k| (BinValue::Int(k), BinValue::Double(k as f64))).collect());
        assert_eq!(&bytes(&many)[..3], &[0xde, 0, 20]);
        assert_eq!(decode(&bytes(&many)).unwrap().value, many);
        for v in [i64::MIN, -33, -32, -1, 0, 127, 128, 65_535, 65_536, i64::MAX] {
            assert_eq!(decode(&bytes(&BinValue::Int(v))).unwrap().value, BinValue::Int(v));
        }
    }

    #[test]
    fn key_ordered_maps_are_recognised_and_bad_bytes_refused() {
        // A key-ordered map of one entry as the clients write it: count 2, the ext header, then the entry.
        let ordered = [0x82, 0xc7, 0x00, 0x01, 0xc0, 0xa2, 3, b'k', 0x01];
        let d = decode(&ordered).unwrap();
        assert!(d.key_ordered);
        assert_eq!(d.value, BinValue::Map(vec![(BinValue::Str("k".into()), BinValue::Int(1))]));
        assert_eq!(decode(&[0x92, 0x01]), Err(DecodeError::Short));
        assert_eq!(decode(&[0x01, 0x02]), Err(DecodeError::Trailing(1)));
        assert_eq!(decode(&[0xc1]), Err(DecodeError::Marker(0xc1)));
        assert_eq!(decode(&[0xa2, 9, 0]), Err(DecodeError::Particle(9)));
    }
}
