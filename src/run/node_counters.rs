//! Reads what each node of the built-in cluster was asked (`--builtin-server --nodes N`): the
//! server counts it per node (info `aerobench-cluster-stats`), and this phase hook reads those
//! counters at the start and end of every phase and hands them to `analysis/node_spread.rs`,
//! which sums each measured phase's difference per column and operation.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::analysis::node_spread::{Reading, Tally};
use crate::model::results::{NodeCounts, NodeSpread};
use crate::report::live::PhaseHook;

/// Reads the counters from the seed at `port`, after the `login` frame when it requires one.
fn read(port: u16, login: Option<&[u8]>) -> Option<Reading> {
    let addrs = [std::net::SocketAddr::from(([127, 0, 0, 1], port))];
    let mut s = crate::drivers::wire_cluster::dial(&addrs, Duration::from_secs(2)).ok()?;
    if let Some(frame) = login {
        crate::drivers::wire_login::login(&mut s, frame).ok()?;
    }
    let reply = crate::drivers::wire_cluster::info(&mut s, &["aerobench-cluster-stats"]).ok()?;
    let (_, value) = reply.into_iter().next()?;
    parse(&value)
}

/// Parses `NAME:PORT:STATE:k=v,k=v;…`.
fn parse(value: &str) -> Option<Reading> {
    value
        .split(';')
        .map(|node| {
            let mut parts = node.splitn(4, ':');
            let name = parts.next()?.to_string();
            let counts: BTreeMap<&str, u64> = parts
                .nth(2)?
                .split(',')
                .filter_map(|kv| kv.split_once('=').and_then(|(k, v)| Some((k, v.parse().ok()?))))
                .collect();
            let get = |k: &str| counts.get(k).copied().unwrap_or(0);
            Some((
                name,
                NodeCounts {
                    records: get("records"),
                    batches: get("batches"),
                    batch_keys: get("batch_keys"),
                    scans: get("scans"),
                    proxied: get("proxied"),
                },
            ))
        })
        .collect()
}

/// The phase hook that reads the counters.
pub struct Spread {
    port: u16,
    /// The LOGIN frame for a cluster that requires one.
    login: Option<Vec<u8>>,
    tally: Mutex<Tally>,
}

impl Spread {
    pub fn new(port: u16, login: Option<Vec<u8>>) -> Spread {
        Spread { port, login, tally: Mutex::new(Tally::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The measured phases' requests per node, or `None` if the counters could never be read.
    pub fn summary(&self) -> Option<NodeSpread> {
        self.lock().summary()
    }
}

impl PhaseHook for Spread {
    fn started(&self, column: &str, operation: &str, round: u32) {
        // The server is read without holding the lock.
        let last = self.lock().take_last();
        let now = last.or_else(|| read(self.port, self.login.as_deref()));
        self.lock().started(column, operation, round, now);
    }

    fn finished(&self) {
        let after = read(self.port, self.login.as_deref());
        self.lock().finished(after);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_parse() {
        let before = parse("A:1:up:records=10,batches=1,batch_keys=5,scans=0,proxied=0,refused_partitions=0;B:2:down:records=3,batches=0,batch_keys=0,scans=0,proxied=0,refused_partitions=0").unwrap();
        assert_eq!(before.len(), 2);
        assert_eq!(before[0].0, "A");
        assert_eq!((before[0].1.records, before[0].1.batch_keys), (10, 5));
        let after = parse("A:1:up:records=25,batches=3,batch_keys=9,scans=1,proxied=2,refused_partitions=0").unwrap();
        let a = &after[0].1;
        assert_eq!((a.records, a.batches, a.batch_keys, a.scans, a.proxied), (25, 3, 9, 1, 2));
        assert!(parse("garbage").is_none());
    }

    #[test]
    fn a_server_that_cannot_be_read_leaves_no_spread() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let spread = Spread::new(port, None);
        spread.started("wire", "get", 1);
        spread.finished();
        assert!(spread.summary().is_none());
    }
}
