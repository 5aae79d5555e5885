//! `serve --corrupt-one-in N`: one value in N that a read returns (get, batch, scan) has its
//! last byte altered, as a faulty disk, server or network would, so `aerobench --verify` can be
//! shown to catch it. Off unless asked for; writes are stored as sent.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};

/// The rate and the count of values read so far.
struct Corrupter {
    /// N of `--corrupt-one-in` (0: off).
    one_in: AtomicU64,
    /// Non-empty values read so far.
    read: AtomicU64,
}

impl Corrupter {
    const fn new() -> Corrupter {
        Corrupter { one_in: AtomicU64::new(0), read: AtomicU64::new(0) }
    }

    fn set(&self, one_in: Option<u64>) {
        self.one_in.store(one_in.unwrap_or(0), Ordering::Relaxed);
    }

    fn read_value<'v>(&self, value: &'v [u8]) -> Cow<'v, [u8]> {
        let n = self.one_in.load(Ordering::Relaxed);
        if n == 0 || value.is_empty() || self.read.fetch_add(1, Ordering::Relaxed) % n != n - 1 {
            return Cow::Borrowed(value);
        }
        let mut changed = value.to_vec();
        if let Some(last) = changed.last_mut() {
            *last ^= 1;
        }
        Cow::Owned(changed)
    }
}

/// The server's one setting: a server process serves one store. Unit tests never change it (they
/// use a [`Corrupter`] of their own), so the server tests running beside them read true values.
static SERVER: Corrupter = Corrupter::new();

pub fn set(one_in: Option<u64>) {
    SERVER.set(one_in);
}

/// The value to send for a bin read: `value`, or one in N times a copy with its last byte
/// changed (its lowest bit flipped: still valid UTF-8 in a string).
pub fn read_value(value: &[u8]) -> Cow<'_, [u8]> {
    SERVER.read_value(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_value_in_n_is_changed() {
        let c = Corrupter::new();
        c.set(Some(4));
        let changed: Vec<_> = (0..400).map(|_| c.read_value(b"abc")).filter(|v| v.as_ref() != b"abc").collect();
        assert_eq!(changed.len(), 100);
        assert!(changed.iter().all(|v| v.as_ref() == b"abb"), "the last byte's lowest bit flipped");
        assert_eq!(c.read_value(b""), Cow::Borrowed(b"" as &[u8]));
        c.set(None);
        assert!((0..100).all(|_| c.read_value(b"abc").as_ref() == b"abc"));
    }

    #[test]
    fn the_server_setting_is_off_unless_serve_sets_it() {
        assert!((0..100).all(|_| read_value(b"abc").as_ref() == b"abc"));
    }
}
