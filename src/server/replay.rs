//! Raw bytes through one whole server connection, in memory: framing, inflating, message,
//! batch, scan, info and admin parsing, and the handlers, exactly as a socket would drive them.
//! The fuzz target (`fuzz/`) and the corpus replay test both enter here.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::budget::Budget;
use super::framing::FrameLimits;
use super::info::NodeIdentity;
use super::store::Store;
use super::{Shared, admin, connection};

/// Largest frame the replayed connection accepts (small, so inputs stay cheap).
pub const MAX_FRAME: usize = 1 << 20;
/// The replayed server's memory budget.
pub const BUDGET: usize = 4 << 20;
/// Reply bytes kept; the rest is read and dropped.
const KEEP: usize = 1 << 20;

/// What one replay produced.
pub struct Replayed {
    /// The first [`KEEP`] bytes the server sent.
    pub reply: Vec<u8>,
    pub reply_len: usize,
    /// Most request bytes the budget ever had charged.
    pub peak_charged: usize,
}

/// Serves `input` as one connection's bytes, then end of stream, on a fresh server (`secured`:
/// one that requires a login), and collects what it answered.
pub fn serve_bytes(input: &[u8], secured: bool) -> Replayed {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a tokio runtime");
    let budget = Budget::new(BUDGET);
    let shared = Arc::new(Shared {
        store: Arc::new(Store::new(&["test"])),
        identity: NodeIdentity {
            node: "BB9000000000001".into(),
            build: "8.1.0.0".into(),
            cluster_name: None,
            access: None,
            alternate: None,
            cluster: Arc::new(super::cluster::Cluster::single("BB9000000000001", 3000)),
            index: 0,
        },
        limits: FrameLimits { max_frame: MAX_FRAME, stall: Some(Duration::from_secs(1)) },
        budget: budget.clone(),
        security: secured.then(|| admin::Security::new("fuzz".into(), "fuzz".into())),
        delay: super::delay::Delay::new(None, None),
        quiet: true,
    });
    let addr = "127.0.0.1:3000".parse().expect("an address");
    let (mut client, server) = tokio::io::duplex(64 * 1024);
    let (reply, reply_len) = rt.block_on(async {
        let serving = tokio::spawn(connection::serve_connection(server, addr, addr, shared));
        let (mut rx, mut tx) = tokio::io::split(&mut client);
        let send = async {
            let _ = tx.write_all(input).await;
            let _ = tx.shutdown().await;
        };
        let receive = async {
            let (mut kept, mut total, mut buf) = (Vec::new(), 0usize, vec![0u8; 16 * 1024]);
            while let Ok(n) = rx.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                total += n;
                let room = KEEP.saturating_sub(kept.len()).min(n);
                kept.extend_from_slice(&buf[..room]);
            }
            (kept, total)
        };
        let ((), received) = tokio::join!(send, receive);
        let _ = serving.await;
        received
    });
    Replayed { reply, reply_len, peak_charged: budget.peak() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file of the committed fuzz corpus, through a plain and a secured server: no panic,
    /// well-formed replies, nothing charged beyond the budget.
    #[test]
    fn fuzz_corpus_replays_cleanly() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/connection");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(files.len() >= 10, "only {} corpus files in {}", files.len(), dir.display());
        for path in files {
            let input = std::fs::read(&path).unwrap();
            for secured in [false, true] {
                let r = serve_bytes(&input, secured);
                assert!(r.peak_charged <= BUDGET, "{}: charged {}", path.display(), r.peak_charged);
                // Every reply is whole frames of version 2.
                let mut at = 0;
                while at + 8 <= r.reply.len() {
                    assert_eq!(r.reply[at], 2, "{}: reply at {at} is not a version 2 frame", path.display());
                    let h = &r.reply[at..at + 8];
                    at += 8 + u64::from_be_bytes([0, 0, h[2], h[3], h[4], h[5], h[6], h[7]]) as usize;
                }
                assert!(
                    at >= r.reply.len() || r.reply_len > r.reply.len(),
                    "{}: reply ends mid-header",
                    path.display()
                );
            }
        }
    }
}
