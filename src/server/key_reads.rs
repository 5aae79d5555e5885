//! `serve --count-key-reads`: how many times each record was asked for by a read (get, exists,
//! batch row), by digest, answered to the info command `aerobench-key-reads`. A test facility:
//! it lets an end-to-end test see at the server which keys a client's reads named (a key
//! distribution, `--keys`, `--key-space`), whatever the client reports. Off unless asked for.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use super::digest::Digest;

/// Reads per digest, when counting.
#[derive(Debug, Default)]
pub struct KeyReads(Option<Mutex<HashMap<Digest, u64>>>);

impl KeyReads {
    /// Counting on.
    pub fn counting() -> KeyReads {
        KeyReads(Some(Mutex::new(HashMap::new())))
    }

    /// One read of the record `digest` names (found or not).
    pub fn note(&self, digest: &Digest) {
        if let Some(counts) = &self.0 {
            *counts.lock().unwrap_or_else(|e| e.into_inner()).entry(*digest).or_insert(0) += 1;
        }
    }

    /// The info answer: `DIGEST_HEX=READS` pairs joined by `;`, in digest order, or an error
    /// naming the option when counting is off. `reset` empties the counts after answering.
    pub fn answer(&self, reset: bool) -> String {
        let Some(counts) = &self.0 else {
            return "ERROR::start the server with --count-key-reads to count reads per key".into();
        };
        let mut counts = counts.lock().unwrap_or_else(|e| e.into_inner());
        let mut sorted: Vec<_> = counts.iter().collect();
        sorted.sort();
        let mut out = String::new();
        for (digest, n) in sorted {
            if !out.is_empty() {
                out.push(';');
            }
            for b in digest {
                let _ = write!(out, "{b:02x}");
            }
            let _ = write!(out, "={n}");
        }
        if reset {
            counts.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_reads_per_digest_in_digest_order_and_resets() {
        let reads = KeyReads::counting();
        let (a, b) = ([1u8; 20], [0u8; 20]);
        reads.note(&a);
        reads.note(&b);
        reads.note(&a);
        let hex = |d: &Digest| d.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(reads.answer(true), format!("{}=1;{}=2", hex(&b), hex(&a)));
        assert_eq!(reads.answer(false), "");
    }

    #[test]
    fn off_unless_asked_for() {
        let reads = KeyReads::default();
        reads.note(&[0; 20]);
        assert!(reads.answer(false).contains("--count-key-reads"));
    }
}
