//! Several nodes in one process (`serve --nodes N`): who they are, which partitions each holds
//! as master and as replica, the generations clients tend by, which nodes are down, and what
//! each node was asked (the counters tests read). Partition `p`'s succession list is the nodes
//! `p, p+1, …` (mod N); the first live one is master, the next live ones its replicas, up to the
//! replication factor — so a lost node's partitions move to the survivors and come back when
//! it returns, with nothing else moving. The store is shared, so nothing migrates.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use base64::Engine as _;

use super::store::{N_PARTITIONS, Store};

/// What one node was asked, counted as requests arrive.
#[derive(Debug, Default)]
pub struct Counters {
    /// Single-record requests.
    pub records: AtomicU64,
    /// Batch requests, and the keys they carried.
    pub batches: AtomicU64,
    pub batch_keys: AtomicU64,
    /// Scan requests.
    pub scans: AtomicU64,
    /// Keys (single or in batches) for partitions this node does not hold: a real node proxies
    /// them to the owner; this one serves them from the shared store, and counts them here.
    pub proxied: AtomicU64,
    /// Scan partitions refused as not this node's (partition-done with rc 11).
    pub refused_partitions: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn record(&self, proxied: bool) {
        Self::add(&self.records, 1);
        Self::add(&self.proxied, u64::from(proxied));
    }

    pub fn batch(&self, keys: u64, proxied: u64) {
        Self::add(&self.batches, 1);
        Self::add(&self.batch_keys, keys);
        Self::add(&self.proxied, proxied);
    }

    pub fn scan(&self, refused: u64) {
        Self::add(&self.scans, 1);
        Self::add(&self.refused_partitions, refused);
    }

    /// `records=…;batches=…;batch_keys=…;scans=…;proxied=…;refused_partitions=…`.
    pub fn value(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "records={};batches={};batch_keys={};scans={};proxied={};refused_partitions={}",
            get(&self.records),
            get(&self.batches),
            get(&self.batch_keys),
            get(&self.scans),
            get(&self.proxied),
            get(&self.refused_partitions)
        )
    }
}

/// One node: its name and the port it listens on.
#[derive(Debug, Clone)]
pub struct NodeSlot {
    pub name: String,
    pub port: u16,
}

/// The nodes of the process and how partitions fall on them.
#[derive(Debug)]
pub struct Cluster {
    pub nodes: Vec<NodeSlot>,
    pub replication: usize,
    down: Vec<AtomicBool>,
    partition_generation: AtomicU32,
    peers_generation: AtomicU32,
    counters: Vec<Counters>,
    /// Each node's `replicas` value at a partition generation: built once per map change, not
    /// on every request (a tend asks for it, and so may a flood of info requests).
    replicas_cache: Vec<std::sync::Mutex<Option<(u32, String)>>>,
}

impl Cluster {
    pub fn new(nodes: Vec<NodeSlot>, replication: usize) -> Cluster {
        let n = nodes.len();
        Cluster {
            nodes,
            replication: replication.clamp(1, n.max(1)),
            down: (0..n).map(|_| AtomicBool::new(false)).collect(),
            partition_generation: AtomicU32::new(1),
            peers_generation: AtomicU32::new(1),
            counters: (0..n).map(|_| Counters::default()).collect(),
            replicas_cache: (0..n).map(|_| std::sync::Mutex::new(None)).collect(),
        }
    }

    /// A single node owning everything, as `serve` without `--nodes` is.
    #[cfg(any(test, fuzzing))]
    pub fn single(name: &str, port: u16) -> Cluster {
        Cluster::new(vec![NodeSlot { name: name.into(), port }], 1)
    }

    pub fn size(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_down(&self, node: usize) -> bool {
        self.down[node].load(Ordering::Relaxed)
    }

    /// Live nodes.
    pub fn live(&self) -> usize {
        (0..self.size()).filter(|&n| !self.is_down(n)).count()
    }

    /// Takes `node` out of the cluster or brings it back; the partition map and peers change,
    /// and so do both generations, as a real cluster's do after it rebalances.
    pub fn set_down(&self, node: usize, down: bool) {
        if self.down[node].swap(down, Ordering::SeqCst) != down {
            self.partition_generation.fetch_add(1, Ordering::SeqCst);
            self.peers_generation.fetch_add(1, Ordering::SeqCst);
        }
    }

    pub fn partition_generation(&self) -> u32 {
        self.partition_generation.load(Ordering::SeqCst)
    }

    pub fn peers_generation(&self) -> u32 {
        self.peers_generation.load(Ordering::SeqCst)
    }

    pub fn counters(&self, node: usize) -> &Counters {
        &self.counters[node]
    }

    /// The live nodes holding partition `p`, master first, at most the replication factor.
    fn holders(&self, p: usize) -> impl Iterator<Item = usize> + '_ {
        let n = self.size();
        (0..n).map(move |k| (p + k) % n).filter(|&node| !self.is_down(node)).take(self.replication)
    }

    /// The master of partition `p` (the seed when every node is down, which cannot happen in use).
    pub fn master(&self, p: usize) -> usize {
        self.holders(p).next().unwrap_or(0)
    }

    /// Whether `node` serves partition `p` itself: writes only as master, reads as any replica.
    pub fn serves(&self, node: usize, p: usize, write: bool) -> bool {
        if write { self.master(p) == node } else { self.holders(p).any(|h| h == node) }
    }

    /// This node's `replicas` value: per namespace, regime 0, the replication factor, and one
    /// bitmap per replica position (master first) of the partitions it holds there.
    pub fn replicas(&self, node: usize, store: &Store) -> String {
        let generation = self.partition_generation();
        let mut cache = self.replicas_cache[node].lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, value)) = cache.as_ref().filter(|(at, _)| *at == generation) {
            return value.clone();
        }
        let value = self.build_replicas(node, store);
        *cache = Some((generation, value.clone()));
        value
    }

    fn build_replicas(&self, node: usize, store: &Store) -> String {
        let mut maps = vec![[0u8; N_PARTITIONS / 8]; self.replication];
        if !self.is_down(node) {
            for p in 0..N_PARTITIONS {
                for (position, holder) in self.holders(p).enumerate() {
                    if holder == node {
                        maps[position][p >> 3] |= 0x80 >> (p & 7);
                    }
                }
            }
        }
        let b64: Vec<String> = maps.iter().map(|m| base64::engine::general_purpose::STANDARD.encode(m)).collect();
        let b64 = b64.join(",");
        store
            .namespaces()
            .iter()
            .map(|ns| format!("{}:0,{},{b64}", ns.name, self.replication))
            .collect::<Vec<_>>()
            .join(";")
    }

    /// This node's `peers-*` value: the generation, the default port, and every other live
    /// node at `host` and its own port.
    pub fn peers(&self, node: usize, host: &str) -> String {
        let mut out = format!("{},{},[", self.peers_generation(), self.nodes[node].port);
        let mut first = true;
        for (n, slot) in self.nodes.iter().enumerate() {
            if n == node || self.is_down(n) {
                continue;
            }
            if !first {
                out.push(',');
            }
            first = false;
            let _ = write!(out, "[{},,[{host}:{}]]", slot.name, slot.port);
        }
        out.push(']');
        out
    }

    /// Every node's counters, `NAME:PORT:up|down:records=…,…;…`, for `aerobench-cluster-stats`.
    pub fn stats(&self) -> String {
        self.nodes
            .iter()
            .enumerate()
            .map(|(n, s)| {
                let state = if self.is_down(n) { "down" } else { "up" };
                format!("{}:{}:{state}:{}", s.name, s.port, self.counters[n].value().replace(';', ","))
            })
            .collect::<Vec<_>>()
            .join(";")
    }
}

/// Parses a time such as `500ms`, `10s` or `2m` (up to a day), for `--fail-at`/`--fail-for`.
pub fn parse_time(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number.parse().map_err(|_| format!("{text:?} is not a time; use e.g. 500ms, 10s or 2m"))?;
    let secs = match unit {
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("{text:?} needs a unit: ms, s or m (e.g. 10s)")),
    };
    if !(secs > 0.0 && secs <= 86_400.0) {
        return Err(format!("{text:?} is out of range; use more than 0 and at most a day"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(n: usize, rf: usize) -> Cluster {
        let nodes = (0..n).map(|i| NodeSlot { name: format!("N{i}"), port: 4000 + i as u16 }).collect();
        Cluster::new(nodes, rf)
    }

    /// The partitions of each replica position `node` holds, from its `replicas` value.
    fn owned(c: &Cluster, node: usize) -> Vec<Vec<usize>> {
        let store = Store::new(&["test"]);
        let value = c.replicas(node, &store);
        let (_, rest) = value.split_once(':').unwrap();
        let parts: Vec<&str> = rest.split(',').collect();
        assert_eq!(parts[0], "0");
        assert_eq!(parts[1].parse::<usize>().unwrap(), c.replication);
        parts[2..]
            .iter()
            .map(|b| {
                let bytes = base64::engine::general_purpose::STANDARD.decode(b).unwrap();
                (0..N_PARTITIONS).filter(|p| bytes[p >> 3] & (0x80 >> (p & 7)) != 0).collect()
            })
            .collect()
    }

    #[test]
    fn every_partition_has_one_master_and_replicas_on_other_nodes() {
        let c = cluster(3, 2);
        let maps: Vec<_> = (0..3).map(|n| owned(&c, n)).collect();
        for p in 0..N_PARTITIONS {
            let masters: Vec<usize> = (0..3).filter(|&n| maps[n][0].contains(&p)).collect();
            let replicas: Vec<usize> = (0..3).filter(|&n| maps[n][1].contains(&p)).collect();
            assert_eq!(masters.len(), 1, "partition {p}");
            assert_eq!(replicas.len(), 1, "partition {p}");
            assert_ne!(masters, replicas);
            assert_eq!(masters[0], c.master(p));
        }
        assert!(maps.iter().all(|m| m[0].len() >= 1365), "masters are spread evenly");
        assert!(c.serves(1, 1, true) && c.serves(2, 1, false) && !c.serves(2, 1, true) && !c.serves(0, 1, false));
    }

    #[test]
    fn a_lost_node_hands_its_partitions_to_the_survivors_and_takes_them_back() {
        let c = cluster(3, 2);
        let before: Vec<usize> = (0..N_PARTITIONS).map(|p| c.master(p)).collect();
        assert_eq!((c.partition_generation(), c.peers_generation()), (1, 1));
        assert!(c.peers(0, "127.0.0.1").contains("[N1,,[127.0.0.1:4001]]"));
        c.set_down(1, true);
        assert_eq!((c.partition_generation(), c.peers_generation()), (2, 2));
        assert_eq!(c.live(), 2);
        for (p, &was) in before.iter().enumerate() {
            let now = c.master(p);
            assert_ne!(now, 1);
            if was != 1 {
                assert_eq!(now, was, "partition {p} of a survivor stays put");
            }
        }
        assert!(owned(&c, 1).iter().all(Vec::is_empty), "a lost node claims nothing");
        assert_eq!(c.peers(0, "h"), "2,4000,[[N2,,[h:4002]]]");
        c.set_down(1, true);
        assert_eq!(c.partition_generation(), 2, "no change, no new generation");
        c.set_down(1, false);
        assert_eq!(c.partition_generation(), 3);
        assert_eq!((0..N_PARTITIONS).map(|p| c.master(p)).collect::<Vec<_>>(), before);
        let stats = c.stats();
        assert!(stats.starts_with("N0:4000:up:records=0,batches=0"), "{stats}");
    }

    #[test]
    fn times_parse_with_units() {
        assert_eq!(parse_time("10s"), Ok(std::time::Duration::from_secs(10)));
        assert_eq!(parse_time("1.5m"), Ok(std::time::Duration::from_secs(90)));
        assert_eq!(parse_time("250ms"), Ok(std::time::Duration::from_millis(250)));
        for bad in ["", "10", "0s", "x s", "2d", "100000s"] {
            assert!(parse_time(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn one_node_owns_everything_as_before() {
        let c = cluster(1, 2);
        assert_eq!(c.replication, 1);
        assert_eq!(owned(&c, 0)[0].len(), N_PARTITIONS);
        assert_eq!(c.peers(0, "127.0.0.1"), "1,4000,[]");
    }
}
