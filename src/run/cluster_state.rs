//! The cluster's state as the run sees it between phases, outside their timing: which nodes
//! there are (the answering node's `node` and its peers), `cluster_size` and whether partitions
//! are migrating (`statistics`), read from the seed, or from any node it listed when the seed
//! does not answer. The scheduler reads it before the first phase and after every phase, so a
//! node that leaves or joins mid-run is seen, with the phases measured under each state; a run
//! against a cluster also keeps its interval lines, from which each column's failures and
//! recovery after a node left are read. Reading only: nothing here changes the server.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::analysis::node_loss::Interval;
use crate::drivers::probe;
use crate::drivers::start::Target;
use crate::model::results::{ClusterState, PhaseCluster, PhaseRef};

/// How long one read may take per node.
const READ_TIMEOUT: Duration = Duration::from_secs(1);

/// One read of the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub state: ClusterState,
    /// `migrate_partitions_remaining` from `statistics`, when given.
    pub migrate_partitions_remaining: Option<u64>,
    /// Where the listed peers listen: tried when the seed does not answer.
    pub peers: Vec<(String, u16)>,
}

/// The `k=v;k=v` value of `statistics`, as pairs.
fn fields(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.split(';').filter_map(|kv| kv.split_once('='))
}

/// A reading from one node's info reply to `node`, `peers-*-std` and `statistics`.
pub fn parse(reply: &[(String, String)], peers_command: &str) -> Result<Reading, String> {
    let value = |name: &str| reply.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let node = value("node").filter(|n| !n.is_empty()).ok_or("no node name in the info reply")?;
    let mut nodes = vec![node.to_string()];
    let mut peers = Vec::new();
    if let Some(text) = value(peers_command).filter(|t| !t.is_empty()) {
        let (_, listed) = crate::drivers::wire_cluster::parse_peers(text)?;
        for peer in listed {
            if !nodes.contains(&peer.name) {
                nodes.push(peer.name);
            }
            peers.extend(peer.addrs);
        }
    }
    nodes.sort();
    let statistics = value("statistics").unwrap_or_default();
    let number = |name: &str| fields(statistics).find(|(k, _)| *k == name).and_then(|(_, v)| v.parse::<u64>().ok());
    let remaining = number("migrate_partitions_remaining");
    Ok(Reading {
        state: ClusterState {
            nodes,
            cluster_size: number("cluster_size").and_then(|n| u32::try_from(n).ok()),
            migrating: remaining.is_some_and(|n| n > 0),
        },
        migrate_partitions_remaining: remaining,
        peers,
    })
}

/// Where the cluster is read from, and how to log in and speak TLS there: the run's target.
#[derive(Clone)]
pub struct Seed {
    pub host: String,
    pub port: u16,
    pub credentials: Option<crate::drivers::security::Credentials>,
    pub tls: Option<crate::drivers::security::Tls>,
}

impl Seed {
    pub fn of(target: &Target) -> Seed {
        Seed {
            host: target.host.clone(),
            port: target.port,
            credentials: target.credentials.clone(),
            tls: target.tls.clone(),
        }
    }
}

/// Reads the cluster from the seed, else from the first of `peers` that answers.
pub fn read(target: &Seed, peers: &[(String, u16)]) -> Result<Reading, String> {
    let peers_command = if target.tls.is_some() { "peers-tls-std" } else { "peers-clear-std" };
    let commands = ["node", peers_command, "statistics"];
    let mut last = String::new();
    let seed = std::iter::once((target.host.clone(), target.port));
    for (host, port) in seed.chain(peers.iter().cloned()) {
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        match probe::info(&host, port, READ_TIMEOUT, target.tls.as_ref(), target.credentials.as_ref(), &commands) {
            Ok(reply) => match parse(&reply, peers_command) {
                Ok(reading) => return Ok(reading),
                Err(e) => last = format!("{}: {e}", probe::address(&host, port)),
            },
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// A change seen between two reads, with the times the scheduler knows (seconds since the
/// run's interval clock started).
#[derive(Debug, Clone)]
pub struct SeenChange {
    pub from: u32,
    pub to: u32,
    pub last_seen_before: SystemTime,
    pub seen_at: SystemTime,
    /// The reads around it on the interval clock, and the phase before the one it was seen after.
    pub window: crate::analysis::cluster_change::Window,
    pub during: Option<PhaseRef>,
    pub migrate_partitions_remaining: Option<u64>,
}

/// Every state and change a run saw.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub states: Vec<ClusterState>,
    pub changes: Vec<SeenChange>,
    pub reads: u64,
    pub failed_reads: u64,
    /// The last read's error, when a read failed.
    pub last_error: Option<String>,
}

/// Reads the cluster between phases and keeps what it saw.
pub struct Tracker {
    target: Seed,
    /// The interval clock's start (the live output's), so change times line up with intervals.
    clock: Instant,
    history: History,
    /// The state of the last successful read, and when it was made.
    current: Option<(u32, SystemTime, Instant)>,
    /// When the successful read before that was made.
    earlier: Option<Instant>,
    /// The phase that ran up to the last successful read.
    last_phase: Option<PhaseRef>,
    peers: Vec<(String, u16)>,
}

impl Tracker {
    pub fn new(target: &Target, clock: Instant) -> Tracker {
        Tracker {
            target: Seed::of(target),
            clock,
            history: History::default(),
            current: None,
            earlier: None,
            last_phase: None,
            peers: Vec::new(),
        }
    }

    /// The state of the last successful read.
    pub fn current(&self) -> Option<u32> {
        self.current.map(|(i, _, _)| i)
    }

    /// Reads the cluster now; `during` is the phase that ran since the last read, if any.
    /// Returns the state now (the last known one when no node answered).
    pub fn read(&mut self, during: Option<PhaseRef>) -> Option<u32> {
        self.history.reads += 1;
        let reading = match read(&self.target, &self.peers) {
            Ok(r) => r,
            Err(e) => {
                self.history.failed_reads += 1;
                self.history.last_error = Some(e);
                return self.current();
            }
        };
        self.observe(reading, during, SystemTime::now(), Instant::now());
        self.current()
    }

    /// Takes a reading made at `at` (`instant` on the interval clock).
    fn observe(&mut self, reading: Reading, during: Option<PhaseRef>, at: SystemTime, instant: Instant) {
        // Peers named before stay worth trying: the seed itself may be the node that left.
        for peer in reading.peers {
            if !self.peers.contains(&peer) {
                self.peers.push(peer);
            }
        }
        let index = match self.history.states.iter().position(|s| *s == reading.state) {
            Some(i) => i as u32,
            None => {
                self.history.states.push(reading.state);
                self.history.states.len() as u32 - 1
            }
        };
        if let Some((before, then, then_instant)) = self.current
            && before != index
        {
            let secs = |i: Instant| i.saturating_duration_since(self.clock).as_secs_f64();
            self.history.changes.push(SeenChange {
                from: before,
                to: index,
                last_seen_before: then,
                seen_at: at,
                window: crate::analysis::cluster_change::Window {
                    from: secs(self.earlier.unwrap_or(then_instant)),
                    last_seen: secs(then_instant),
                    to: secs(instant),
                    previous_phase: self.last_phase.clone(),
                },
                during: during.clone(),
                migrate_partitions_remaining: reading.migrate_partitions_remaining,
            });
        }
        self.earlier = self.current.map(|(_, _, i)| i);
        self.last_phase = during;
        self.current = Some((index, at, instant));
    }

    /// The states a phase met, from the state before it and the read after it.
    pub fn span(before: Option<u32>, after: Option<u32>) -> Option<PhaseCluster> {
        Some(PhaseCluster { before: before?, after: after? })
    }

    pub fn finish(self) -> History {
        self.history
    }
}

/// The live output of a run against a cluster: every interval line is also kept (as the
/// column, times and failures [`crate::analysis::node_loss`] reads recovery from), and goes on
/// to the user's output if they asked for one.
pub struct KeptIntervals {
    intervals: Arc<Mutex<Vec<Interval>>>,
}

impl KeptIntervals {
    /// A writer for [`crate::report::live::Live`] that keeps its lines, and the handle to read them.
    pub fn new(user: Option<Box<dyn Write + Send>>) -> (KeptIntervals, Box<dyn Write + Send>) {
        let intervals = Arc::new(Mutex::new(Vec::new()));
        let writer = Keep { intervals: intervals.clone(), partial: Vec::new(), user };
        (KeptIntervals { intervals }, Box::new(writer))
    }

    pub fn intervals(&self) -> Vec<Interval> {
        self.intervals.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

struct Keep {
    intervals: Arc<Mutex<Vec<Interval>>>,
    /// The part of a line written so far.
    partial: Vec<u8>,
    user: Option<Box<dyn Write + Send>>,
}

impl Write for Keep {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.partial.extend_from_slice(buf);
        while let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            if let Ok(l) = serde_json::from_slice::<crate::report::live::IntervalLine>(&line)
                && l.kind == "interval"
            {
                let kept =
                    Interval { column: l.column, start_secs: l.start_secs, end_secs: l.end_secs, errors: l.errors };
                self.intervals.lock().unwrap_or_else(|e| e.into_inner()).push(kept);
            }
        }
        if let Some(user) = &mut self.user {
            // A reader of the user's output that went away must not stop the run.
            let _ = user.write_all(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if let Some(user) = &mut self.user {
            let _ = user.flush();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_reading_names_the_nodes_their_size_and_migrations() {
        let r = parse(
            &reply(&[
                ("node", "A1"),
                ("peers-clear-std", "4,3000,[[A3,,[127.0.0.1:3220]],[A2,,[127.0.0.1:3210]]]"),
                ("statistics", "objects=10;cluster_size=3;migrate_partitions_remaining=12;uptime=5"),
            ]),
            "peers-clear-std",
        )
        .unwrap();
        assert_eq!(r.state.nodes, ["A1", "A2", "A3"]);
        assert_eq!(
            (r.state.cluster_size, r.state.migrating, r.migrate_partitions_remaining),
            (Some(3), true, Some(12))
        );
        assert_eq!(r.peers, [("127.0.0.1".to_string(), 3220), ("127.0.0.1".to_string(), 3210)]);
        // The built-in server: no migrations in its statistics.
        let r = parse(
            &reply(&[("node", "BB9"), ("peers-clear-std", "1,3000,[]"), ("statistics", "cluster_size=1")]),
            "peers-clear-std",
        )
        .unwrap();
        assert_eq!((r.state.nodes.len(), r.state.migrating, r.migrate_partitions_remaining), (1, false, None));
        assert!(parse(&reply(&[("statistics", "cluster_size=1")]), "peers-clear-std").is_err());
    }

    #[test]
    fn a_change_is_kept_with_the_phase_that_ran_between_the_reads() {
        let target = Target { host: "127.0.0.1".into(), port: 1, credentials: None, tls: None };
        let clock = Instant::now();
        let mut tracker = Tracker::new(&target, clock);
        let state = |nodes: &[&str], remaining: u64| Reading {
            state: ClusterState {
                nodes: nodes.iter().map(|n| n.to_string()).collect(),
                cluster_size: Some(nodes.len() as u32),
                migrating: remaining > 0,
            },
            migrate_partitions_remaining: Some(remaining),
            peers: vec![("127.0.0.1".into(), 3210)],
        };
        let phase = |round| Some(PhaseRef { column: "a".into(), operation: "get".into(), round });
        let t = SystemTime::now();
        tracker.observe(state(&["A1", "A2", "A3"], 0), None, t, clock);
        tracker.observe(state(&["A1", "A2", "A3"], 0), phase(1), t, clock + Duration::from_secs(1));
        tracker.observe(state(&["A1", "A2"], 40), phase(2), t, clock + Duration::from_secs(2));
        tracker.observe(state(&["A1", "A2"], 0), phase(3), t, clock + Duration::from_secs(3));
        tracker.observe(state(&["A1", "A2", "A3"], 0), None, t, clock + Duration::from_secs(4));
        assert_eq!(tracker.current(), Some(0), "a state seen before keeps its index");
        let history = tracker.finish();
        assert_eq!(history.states.len(), 3);
        let moves: Vec<(u32, u32)> = history.changes.iter().map(|c| (c.from, c.to)).collect();
        assert_eq!(moves, [(0, 1), (1, 2), (2, 0)]);
        assert_eq!(history.changes[0].during, phase(2));
        // From the read before the last one showing three nodes: the loss may predate that read.
        let w = &history.changes[0].window;
        assert_eq!((w.from, w.last_seen, w.to), (0.0, 1.0, 2.0));
        assert_eq!(w.previous_phase, phase(1), "the phase before the one the change was seen after");
        assert_eq!(history.changes[0].migrate_partitions_remaining, Some(40));
    }

    #[test]
    fn kept_lines_are_read_whole_and_reach_the_users_output() {
        let user = Arc::new(Mutex::new(Vec::new()));
        struct Shared(Arc<Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let (kept, mut writer) = KeptIntervals::new(Some(Box::new(Shared(user.clone()))));
        let line = r#"{"type":"interval","column":"a","operation":"get","round":1,"start_secs":1.0,"end_secs":1.1,"ops":5,"errors":2,"ops_per_sec":30.0,"p50_us":1.0,"p99_us":1.0,"max_us":1.0,"histogram":""}"#;
        let (head, tail) = line.split_at(40);
        writer.write_all(head.as_bytes()).unwrap();
        assert!(kept.intervals().is_empty(), "half a line is not a line");
        writer.write_all(format!("{tail}\n").as_bytes()).unwrap();
        let got = kept.intervals();
        assert_eq!((got.len(), got[0].errors, got[0].column.as_str()), (1, 2, "a"));
        assert_eq!(user.lock().unwrap().len(), line.len() + 1);
    }
}
