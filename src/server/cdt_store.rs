//! List and map particles (collection data types) as a real server keeps them: the value must
//! be one well-formed MessagePack value (otherwise the write fails with PARAMETER_ERROR), and
//! every map, nested ones too, is stored with its entries in the server's key order (integers,
//! then strings, then blobs), so a map comes back in key order whichever order a client wrote
//! it in. A map's leading ext header (its order flags, e.g. key-ordered) stays first, and list
//! order is never touched.

use std::borrow::Cow;

/// Particle types of a map and a list bin.
pub const MAP: u8 = 19;
pub const LIST: u8 = 20;

/// Why a list or map particle was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// The bytes to store for a bin of `particle` written as `value`.
pub fn stored(particle: u8, value: &[u8]) -> Result<Cow<'_, [u8]>, Malformed> {
    if particle != MAP && particle != LIST {
        return Ok(Cow::Borrowed(value));
    }
    let mut input = value;
    let mut out = Vec::with_capacity(value.len());
    canonical(&mut input, &mut out, 0)?;
    if !input.is_empty() {
        return Err(Malformed);
    }
    Ok(if out == value { Cow::Borrowed(value) } else { Cow::Owned(out) })
}

/// Deepest nesting accepted (a real server limits it too).
const MAX_DEPTH: usize = 64;

fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], Malformed> {
    if input.len() < n {
        return Err(Malformed);
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

fn count(input: &mut &[u8], n: usize) -> Result<usize, Malformed> {
    Ok(take(input, n)?.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b)))
}

/// Copies one value from `input` to `out`, maps' entries sorted by key.
fn canonical(input: &mut &[u8], out: &mut Vec<u8>, depth: usize) -> Result<(), Malformed> {
    if depth > MAX_DEPTH {
        return Err(Malformed);
    }
    let start = *input;
    let m = take(input, 1)?[0];
    let (entries, is_map) = match m {
        0x90..=0x9f => (usize::from(m & 0x0f), false),
        0xdc => (count(input, 2)?, false),
        0xdd => (count(input, 4)?, false),
        0x80..=0x8f => (usize::from(m & 0x0f), true),
        0xde => (count(input, 2)?, true),
        0xdf => (count(input, 4)?, true),
        _ => {
            let len = scalar_len(m, input)?;
            take(input, len)?;
            out.extend_from_slice(&start[..start.len() - input.len()]);
            return Ok(());
        }
    };
    out.extend_from_slice(&start[..start.len() - input.len()]);
    if !is_map {
        for _ in 0..entries {
            canonical(input, out, depth + 1)?;
        }
        return Ok(());
    }
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(entries.min(1 << 16));
    for k in 0..entries {
        let mut key = Vec::new();
        canonical(input, &mut key, depth + 1)?;
        let mut value = Vec::new();
        canonical(input, &mut value, depth + 1)?;
        if k == 0 && matches!(key.first(), Some(0xc7 | 0xd4)) {
            // The map's flags: kept first, not an entry.
            out.extend_from_slice(&key);
            out.extend_from_slice(&value);
            continue;
        }
        pairs.push((key, value));
    }
    pairs.sort_by(|a, b| key_order(&a.0).cmp(&key_order(&b.0)));
    for (key, value) in pairs {
        out.extend_from_slice(&key);
        out.extend_from_slice(&value);
    }
    Ok(())
}

/// Bytes after marker `m` of a value that is not a list or map (reading a length if it has one).
fn scalar_len(m: u8, input: &mut &[u8]) -> Result<usize, Malformed> {
    Ok(match m {
        0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => 0,
        0xa0..=0xbf => usize::from(m & 0x1f),
        0xcc | 0xd0 => 1,
        0xcd | 0xd1 => 2,
        0xce | 0xd2 | 0xca => 4,
        0xcf | 0xd3 | 0xcb => 8,
        0xd4 => 2,
        0xd5 => 3,
        0xd6 => 5,
        0xd7 => 9,
        0xd8 => 17,
        0xc4 | 0xd9 => count(input, 1)?,
        0xc5 | 0xda => count(input, 2)?,
        0xc6 | 0xdb => count(input, 4)?,
        0xc7 => count(input, 1)? + 1,
        0xc8 => count(input, 2)? + 1,
        0xc9 => count(input, 4)? + 1,
        _ => return Err(Malformed),
    })
}

/// Where a key sorts: integers by value, then strings, then blobs, each bytewise.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum KeyOrder<'a> {
    Int(i128),
    Str(&'a [u8]),
    Blob(&'a [u8]),
    Other(&'a [u8]),
}

fn key_order(key: &[u8]) -> KeyOrder<'_> {
    let be = |b: &[u8]| b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x));
    let Some((&m, rest)) = key.split_first() else { return KeyOrder::Other(key) };
    let raw = match m {
        0x00..=0x7f => return KeyOrder::Int(i128::from(m)),
        0xe0..=0xff => return KeyOrder::Int(i128::from(m as i8)),
        0xcc..=0xcf => return KeyOrder::Int(i128::from(be(rest))),
        0xd0 => return KeyOrder::Int(i128::from(rest[0] as i8)),
        0xd1 => return KeyOrder::Int(i128::from(be(rest) as u16 as i16)),
        0xd2 => return KeyOrder::Int(i128::from(be(rest) as u32 as i32)),
        0xd3 => return KeyOrder::Int(i128::from(be(rest) as i64)),
        0xa0..=0xbf => rest,
        0xd9 => &rest[1..],
        0xda => &rest[2..],
        0xdb => &rest[4..],
        _ => return KeyOrder::Other(key),
    };
    match raw.split_first() {
        Some((3, s)) => KeyOrder::Str(s),
        Some((4, b)) => KeyOrder::Blob(b),
        _ => KeyOrder::Other(key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Vec<u8> {
        let mut v = vec![0xa0 | (text.len() as u8 + 1), 3];
        v.extend_from_slice(text.as_bytes());
        v
    }

    fn map(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
        let mut v = vec![0x80 | entries.len() as u8];
        for (k, val) in entries {
            v.extend_from_slice(k);
            v.extend_from_slice(val);
        }
        v
    }

    #[test]
    fn maps_are_stored_in_key_order_at_every_depth() {
        let inner = map(&[(s("y"), vec![2]), (s("x"), vec![1])]);
        let written = map(&[(s("b"), vec![0x91, 7]), (s("a"), inner), (vec![5], vec![0xc3]), (vec![0xff], vec![0xc0])]);
        let want = map(&[
            (vec![0xff], vec![0xc0]),
            (vec![5], vec![0xc3]),
            (s("a"), map(&[(s("x"), vec![1]), (s("y"), vec![2])])),
            (s("b"), vec![0x91, 7]),
        ]);
        assert_eq!(stored(MAP, &written).unwrap().into_owned(), want);
        // Already in order (as aerobench's own maps are written): stored as sent.
        assert!(matches!(stored(MAP, &want).unwrap(), Cow::Borrowed(_)));
    }

    #[test]
    fn key_ordered_maps_keep_their_header_and_lists_their_order() {
        let ordered = [0x83, 0xc7, 0x00, 0x01, 0xc0, 0xa2, 3, b'b', 1, 0xa2, 3, b'a', 2];
        let want = [0x83, 0xc7, 0x00, 0x01, 0xc0, 0xa2, 3, b'a', 2, 0xa2, 3, b'b', 1];
        assert_eq!(stored(MAP, &ordered).unwrap().into_owned(), want);
        let list = [0x93, 3, 1, 2];
        assert_eq!(stored(LIST, &list).unwrap().into_owned(), list);
        assert_eq!(stored(3, b"\x93\x01").unwrap().into_owned(), b"\x93\x01", "other particles are not MessagePack");
    }

    #[test]
    fn malformed_values_are_refused() {
        for bad in [&[0x92, 1][..], &[0x81, 1][..], &[1, 2][..], &[0xc1][..], &[0xd9, 5, 3][..], &[][..]] {
            assert_eq!(stored(LIST, bad), Err(Malformed), "{bad:?}");
        }
        let deep: Vec<u8> = std::iter::repeat_n(0x91, 100).chain([1]).collect();
        assert_eq!(stored(LIST, &deep), Err(Malformed));
    }
}
