//! List and map particles (collection data types) as a real server keeps them: the value must
//! be one well-formed MessagePack value whose map keys are integers, strings or blobs, with no
//! key twice in one map, no key-ordered map out of key order and no ordered list out of order
//! (otherwise the write fails with code 1, as Aerospike 8.1 answers it); every map, nested ones
//! too, is stored with its entries in the server's key order (integers, then strings, then
//! blobs), so a map comes back in key order whichever order a client wrote it in. A map's
//! leading ext header (its order flags, e.g. key-ordered) stays first, and list order is never
//! touched.
//!
//! The memory a write takes is a small multiple of its size: the value is copied once, a map
//! out of order is sorted through one index of two offsets per entry and one copy of its bytes.

use std::borrow::Cow;
use std::cmp::Ordering;

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

/// Whether `element` (one MessagePack value) may be a map key: an integer, a string or a blob.
pub fn is_key(element: &[u8]) -> bool {
    !matches!(key_order(element), KeyOrder::Other)
}

/// Deepest nesting accepted (a real server limits it too).
const MAX_DEPTH: usize = 64;

/// The order flag of a list's or map's ext header: an ordered list, a key-ordered map.
const ORDERED: u8 = 1;

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

/// The flags of an ext header (`c7 00 FLAGS`, `d4 FLAGS x`, …): its ext type.
fn ext_flags(element: &[u8]) -> Option<u8> {
    match element.first()? {
        0xc7 => element.get(2).copied(),
        0xc8 => element.get(3).copied(),
        0xc9 => element.get(5).copied(),
        0xd4..=0xd8 => element.get(1).copied(),
        _ => None,
    }
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
    // Each item takes at least a byte: a count beyond what is left cannot be honest.
    if entries.saturating_mul(1 + usize::from(is_map)) > input.len() {
        return Err(Malformed);
    }
    out.extend_from_slice(&start[..start.len() - input.len()]);
    if is_map { map_entries(input, out, entries, depth) } else { list_items(input, out, entries, depth) }
}

/// A list's items, copied; an ordered list's must be in order.
fn list_items(input: &mut &[u8], out: &mut Vec<u8>, items: usize, depth: usize) -> Result<(), Malformed> {
    let mut ordered = false;
    let mut previous: Option<(usize, usize)> = None;
    for k in 0..items {
        let at = out.len();
        canonical(input, out, depth + 1)?;
        if k == 0 && ext_flags(&out[at..]).is_some() {
            ordered = ext_flags(&out[at..]).is_some_and(|f| f & ORDERED != 0);
            continue;
        }
        if ordered {
            if let Some((p, q)) = previous {
                let order = super::msgpack::compare(&out[p..q], &out[at..]).map_err(|_| Malformed)?;
                if order == Ordering::Greater {
                    return Err(Malformed);
                }
            }
            previous = Some((at, out.len()));
        }
    }
    Ok(())
}

/// A map's entries, copied and then sorted by key when they were not in key order; a header
/// pair (the map's flags) stays first. Duplicate keys, keys that are not integers, strings or
/// blobs, and a key-ordered map out of order are refused.
fn map_entries(input: &mut &[u8], out: &mut Vec<u8>, entries: usize, depth: usize) -> Result<(), Malformed> {
    let mut key_ordered = false;
    let mut region = out.len();
    // Each entry's key start and entry end, relative to `region`.
    let mut spans: Vec<(u32, u32)> = Vec::new();
    let mut sorted = true;
    for k in 0..entries {
        let key_at = out.len();
        canonical(input, out, depth + 1)?;
        let key_end = out.len();
        canonical(input, out, depth + 1)?;
        if k == 0 && ext_flags(&out[key_at..key_end]).is_some() {
            key_ordered = ext_flags(&out[key_at..key_end]).is_some_and(|f| f & ORDERED != 0);
            region = out.len();
            continue;
        }
        if !is_key(&out[key_at..key_end]) {
            return Err(Malformed);
        }
        if let Some(&(p, _)) = spans.last() {
            let previous = key_of(&out[region + p as usize..]);
            match key_order(previous).cmp(&key_order(&out[key_at..key_end])) {
                Ordering::Less => {}
                Ordering::Equal => return Err(Malformed),
                Ordering::Greater if key_ordered => return Err(Malformed),
                Ordering::Greater => sorted = false,
            }
        }
        let offset = |at: usize| u32::try_from(at - region).map_err(|_| Malformed);
        spans.push((offset(key_at)?, offset(out.len())?));
    }
    if sorted {
        return Ok(());
    }
    let written = out.split_off(region);
    spans.sort_unstable_by(|a, b| {
        key_order(key_of(&written[a.0 as usize..])).cmp(&key_order(key_of(&written[b.0 as usize..])))
    });
    if spans
        .windows(2)
        .any(|w| key_order(key_of(&written[w[0].0 as usize..])) == key_order(key_of(&written[w[1].0 as usize..])))
    {
        return Err(Malformed);
    }
    for (from, to) in spans {
        out.extend_from_slice(&written[from as usize..to as usize]);
    }
    Ok(())
}

/// The key at the start of `entry` (a key checked by [`is_key`], then its value).
fn key_of(entry: &[u8]) -> &[u8] {
    let mut rest = &entry[1..];
    let len = scalar_len(entry[0], &mut rest).unwrap_or(0);
    let header = entry.len() - rest.len();
    &entry[..(header + len).min(entry.len())]
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
    /// Not a key a map may have.
    Other,
}

fn key_order(key: &[u8]) -> KeyOrder<'_> {
    let be = |b: &[u8]| b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x));
    let Some((&m, rest)) = key.split_first() else { return KeyOrder::Other };
    let sized = |n: usize| rest.get(n..).unwrap_or_default();
    let raw = match m {
        0x00..=0x7f => return KeyOrder::Int(i128::from(m)),
        0xe0..=0xff => return KeyOrder::Int(i128::from(m as i8)),
        0xcc..=0xcf => return KeyOrder::Int(i128::from(be(rest))),
        0xd0 => return KeyOrder::Int(i128::from(be(rest) as u8 as i8)),
        0xd1 => return KeyOrder::Int(i128::from(be(rest) as u16 as i16)),
        0xd2 => return KeyOrder::Int(i128::from(be(rest) as u32 as i32)),
        0xd3 => return KeyOrder::Int(i128::from(be(rest) as i64)),
        0xa0..=0xbf => rest,
        0xd9 => sized(1),
        0xda => sized(2),
        0xdb => sized(4),
        _ => return KeyOrder::Other,
    };
    match raw.split_first() {
        Some((3, s)) => KeyOrder::Str(s),
        Some((4, b)) => KeyOrder::Blob(b),
        _ => KeyOrder::Other,
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
        let ordered = [0x83, 0xc7, 0x00, 0x01, 0xc0, 0xa2, 3, b'a', 2, 0xa2, 3, b'b', 1];
        assert!(matches!(stored(MAP, &ordered).unwrap(), Cow::Borrowed(_)));
        let flagged = [0x83, 0xc7, 0x00, 0x00, 0xc0, 0xa2, 3, b'b', 1, 0xa2, 3, b'a', 2];
        let want = [0x83, 0xc7, 0x00, 0x00, 0xc0, 0xa2, 3, b'a', 2, 0xa2, 3, b'b', 1];
        assert_eq!(stored(MAP, &flagged).unwrap().into_owned(), want, "the header stays first");
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
        // A count larger than the bytes left is refused before anything is read.
        assert_eq!(stored(MAP, &[0xdf, 0xff, 0xff, 0xff, 0xff, 1, 2]), Err(Malformed));
    }

    #[test]
    fn maps_that_aerospike_refuses_are_refused() {
        // The same key twice, in order or not, at the top or nested.
        assert_eq!(stored(MAP, &map(&[(s("a"), vec![1]), (s("a"), vec![2])])), Err(Malformed));
        assert_eq!(stored(MAP, &map(&[(s("b"), vec![1]), (s("a"), vec![2]), (s("b"), vec![3])])), Err(Malformed));
        assert_eq!(stored(MAP, &map(&[(vec![5], vec![1]), (vec![0xcc, 5], vec![2])])), Err(Malformed), "5 twice");
        let nested = map(&[(s("x"), map(&[(vec![1], vec![1]), (vec![1], vec![2])]))]);
        assert_eq!(stored(LIST, &[&[0x91u8][..], &nested].concat()), Err(Malformed));
        // A map marked key-ordered must come in key order; an unmarked one is sorted.
        let ordered = [0x83, 0xc7, 0x00, 0x01, 0xc0, 0xa2, 3, b'b', 1, 0xa2, 3, b'a', 2];
        let unordered = [0x83, 0xc7, 0x00, 0x00, 0xc0, 0xa2, 3, b'b', 1, 0xa2, 3, b'a', 2];
        assert_eq!(stored(MAP, &ordered), Err(Malformed));
        assert_eq!(
            stored(MAP, &unordered).unwrap().into_owned(),
            [0x83, 0xc7, 0, 0, 0xc0, 0xa2, 3, b'a', 2, 0xa2, 3, b'b', 1]
        );
        // Keys are integers, strings or blobs: not floats, nils, lists or maps.
        for key in [vec![0xcb, 0, 0, 0, 0, 0, 0, 0, 0], vec![0xc0], vec![0x90], vec![0x80], vec![0xc3]] {
            assert_eq!(stored(MAP, &map(&[(key.clone(), vec![1])])), Err(Malformed), "{key:?}");
        }
        assert!(stored(MAP, &map(&[(vec![0xa1, 4], vec![1])])).is_ok(), "an empty blob is a key");
        // An ordered list out of order is refused; an unordered one is kept as written.
        assert_eq!(stored(LIST, &[0x93, 0xc7, 0x00, 0x01, 2, 1]), Err(Malformed));
        assert!(stored(LIST, &[0x93, 0xc7, 0x00, 0x01, 1, 2]).is_ok());
        assert!(stored(LIST, &[0x93, 0xc7, 0x00, 0x00, 2, 1]).is_ok());
    }

    #[test]
    fn a_uint64_key_above_i64_max_sorts_after_every_other_integer() {
        let big = vec![0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0];
        let max = vec![0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        let written = map(&[(big.clone(), vec![1]), (max.clone(), vec![2]), (vec![0xff], vec![3])]);
        let want = map(&[(vec![0xff], vec![3]), (max.clone(), vec![2]), (big.clone(), vec![1])]);
        assert_eq!(stored(MAP, &written).unwrap().into_owned(), want);
        let ordered = [&[0x83u8, 0xc7, 0, 1, 0xc0][..], &max, &[2], &big, &[1]].concat();
        assert!(stored(MAP, &ordered).is_ok(), "in order when compared unsigned");
    }
}
