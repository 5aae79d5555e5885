//! `serve --corrupt-one-in N`: one value in N that a read returns (get, batch, scan) has its
//! last byte altered, as a faulty disk, server or network would, so `aerobench --verify` can be
//! shown to catch it. Off unless asked for; writes are stored as sent.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};

/// N of `--corrupt-one-in` (0: off).
static ONE_IN: AtomicU64 = AtomicU64::new(0);
/// Non-empty values read so far.
static READ: AtomicU64 = AtomicU64::new(0);

pub fn set(one_in: Option<u64>) {
    ONE_IN.store(one_in.unwrap_or(0), Ordering::Relaxed);
}

/// The value to send for a bin read: `value`, or one in N times a copy with its last byte
/// changed (its lowest bit flipped: still valid UTF-8 in a string).
pub fn read_value(value: &[u8]) -> Cow<'_, [u8]> {
    let n = ONE_IN.load(Ordering::Relaxed);
    if n == 0 || value.is_empty() || READ.fetch_add(1, Ordering::Relaxed) % n != n - 1 {
        return Cow::Borrowed(value);
    }
    let mut changed = value.to_vec();
    if let Some(last) = changed.last_mut() {
        *last ^= 1;
    }
    Cow::Owned(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_value_in_n_is_changed() {
        set(Some(4));
        let changed = (0..400).filter(|_| read_value(b"abc").as_ref() != b"abc").count();
        assert_eq!(changed, 100);
        assert_eq!(read_value(b""), Cow::Borrowed(b"" as &[u8]));
        set(None);
        assert!((0..100).all(|_| read_value(b"abc").as_ref() == b"abc"));
    }
}
