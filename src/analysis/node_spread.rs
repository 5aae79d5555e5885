//! How each column spread its requests over the built-in cluster's nodes (`--builtin-server
//! --nodes N`): the server counts what each node is asked (`aerobench-cluster-stats`); these
//! counters are read at the start and end of every phase, and each measured phase's difference
//! is that column's, per operation.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::model::results::{NodeCounts, NodeSpread, SpreadCell};
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

fn minus(a: &NodeCounts, b: &NodeCounts) -> NodeCounts {
    NodeCounts {
        records: a.records.saturating_sub(b.records),
        batches: a.batches.saturating_sub(b.batches),
        batch_keys: a.batch_keys.saturating_sub(b.batch_keys),
        scans: a.scans.saturating_sub(b.scans),
        proxied: a.proxied.saturating_sub(b.proxied),
    }
}

fn add(a: &mut NodeCounts, b: &NodeCounts) {
    a.records += b.records;
    a.batches += b.batches;
    a.batch_keys += b.batch_keys;
    a.scans += b.scans;
    a.proxied += b.proxied;
}

/// Counters per node, by name.
type Reading = Vec<(String, NodeCounts)>;

#[derive(Default)]
struct State {
    nodes: Vec<String>,
    /// The phase running: column, operation, round, and the counters at its start.
    running: Option<(String, String, u32, Reading)>,
    /// The counters when the last phase ended: the next phase's start, so that a worker's
    /// first calls, made before its start is reported here, still count as its own.
    last: Option<Reading>,
    /// Per column and operation, in the order first seen: per node, summed over measured rounds.
    cells: Vec<(String, String, Vec<NodeCounts>)>,
}

/// The phase hook that reads the counters.
pub struct Spread {
    port: u16,
    /// The LOGIN frame for a cluster that requires one.
    login: Option<Vec<u8>>,
    state: Mutex<State>,
}

impl Spread {
    pub fn new(port: u16, login: Option<Vec<u8>>) -> Spread {
        Spread { port, login, state: Mutex::new(State::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The measured phases' requests per node, or `None` if the counters could never be read.
    pub fn summary(&self) -> Option<NodeSpread> {
        let state = self.lock();
        if state.nodes.is_empty() {
            return None;
        }
        let cells = state
            .cells
            .iter()
            .map(|(column, operation, nodes)| SpreadCell {
                column: column.clone(),
                operation: operation.clone(),
                nodes: nodes.clone(),
            })
            .collect();
        Some(NodeSpread { nodes: state.nodes.clone(), cells })
    }
}

impl PhaseHook for Spread {
    fn started(&self, column: &str, operation: &str, round: u32) {
        let last = self.lock().last.take();
        let now = last.or_else(|| read(self.port, self.login.as_deref()));
        let mut state = self.lock();
        state.running = now.map(|counts| (column.to_string(), operation.to_string(), round, counts));
    }

    fn finished(&self) {
        let running = self.lock().running.take();
        let after = read(self.port, self.login.as_deref());
        let mut state = self.lock();
        state.last.clone_from(&after);
        let (Some((column, operation, round, before)), Some(after)) = (running, after) else { return };
        if round == 0 {
            return; // a warm-up
        }
        if state.nodes.is_empty() {
            state.nodes = after.iter().map(|(n, _)| n.clone()).collect();
        }
        let delta: Vec<NodeCounts> = after
            .iter()
            .map(|(name, a)| before.iter().find(|(n, _)| n == name).map_or_else(|| a.clone(), |(_, b)| minus(a, b)))
            .collect();
        match state.cells.iter_mut().find(|(c, o, _)| *c == column && *o == operation) {
            Some((_, _, sums)) => sums.iter_mut().zip(&delta).for_each(|(s, d)| add(s, d)),
            None => state.cells.push((column, operation, delta)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_parse_and_subtract() {
        let before = parse("A:1:up:records=10,batches=1,batch_keys=5,scans=0,proxied=0,refused_partitions=0;B:2:down:records=3,batches=0,batch_keys=0,scans=0,proxied=0,refused_partitions=0").unwrap();
        assert_eq!(before.len(), 2);
        assert_eq!(before[0].0, "A");
        assert_eq!((before[0].1.records, before[0].1.batch_keys), (10, 5));
        let after = parse("A:1:up:records=25,batches=3,batch_keys=9,scans=1,proxied=2,refused_partitions=0").unwrap();
        let d = minus(&after[0].1, &before[0].1);
        assert_eq!((d.records, d.batches, d.batch_keys, d.scans, d.proxied), (15, 2, 4, 1, 2));
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
