//! The `wire` column: the floor. When the column connects it reads the cluster's partition map
//! (`wire_cluster`) and encodes every request the measured calls will send, each addressed to
//! the node that is master of its partition (untimed, by `wire_encode`); each timed call then
//! writes its bytes on blocking sockets, one per node, and reads the whole reply — one call in
//! flight, no client library — so its latency is the least any client can reach on this machine
//! and server. A batch is one sub-batch per node and a scan one scan per node covering that
//! node's partitions; all of a call's requests are sent before any reply is read, so the nodes
//! work on them at once.

use std::collections::BTreeMap;
use std::io::{BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use thiserror::Error;

use crate::engine::Phase;
use crate::engine::closed_loop::{CallError, CallResult, PhaseState, run_blocking};
use crate::model::results::Column;
use crate::workload::{Operation, Workload};

use super::wire_cluster::{PartitionMap, PeerAddresses};
use super::wire_encode::{Encoder, digest};
use super::{ColumnKind, Driver};

/// Replies longer than this are refused, as the C client refuses them.
const MAX_FRAME: u64 = 128 << 20;
/// Socket reads go through a buffer this big (frames beyond it are read straight into place).
const READ_BUFFER: usize = 64 * 1024;
const INFO3_LAST: u8 = 0x01;
const INFO3_PARTITION_DONE: u8 = 0x04;
const RC_OK: u8 = 0;
const RC_KEY_NOT_FOUND: u8 = 2;
const RC_FILTERED_OUT: u8 = 27;

/// Why a call failed.
#[derive(Debug, Error)]
enum Failure {
    /// The socket broke or timed out: the connection is dropped and made again for the next call.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The reply is not what the protocol allows: the connection is out of step, so dropped too.
    #[error("protocol: {0}")]
    Protocol(&'static str),
    /// The server answered with a result code; the connection stays good.
    #[error("server: {0:?}")]
    Server(aerospike::ResultCode),
    /// A record read differs from the record written for its key (`--verify`); the reply was
    /// read whole, so the connection stays good.
    #[error("{}", crate::workload::verify::MISMATCH)]
    Mismatch,
}

impl Failure {
    fn reason(&self) -> String {
        match self {
            Failure::Io(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => "timeout".into(),
            Failure::Io(e) if e.kind() == ErrorKind::UnexpectedEof => "network: closed by the server".into(),
            Failure::Io(e) => format!("network: {}", e.kind()),
            other => other.to_string(),
        }
    }

    fn server(rc: u8) -> Failure {
        Failure::Server(aerospike::ResultCode::from(rc))
    }
}

/// One operation's encoded requests back to back, found by call index.
#[derive(Default)]
struct Requests {
    bytes: Vec<u8>,
    /// Where each request ends in `bytes`.
    ends: Vec<usize>,
    /// The node each request goes to, by index in the partition map.
    nodes: Vec<u16>,
    /// Where each call's requests end in `ends`: call `i` sends requests `calls[i-1]..calls[i]`.
    calls: Vec<usize>,
    /// Where each scan request's task id sits in `bytes`, to give each scan its own.
    task_at: Vec<usize>,
    /// The partition of each single-record request, to route it again when the map changes.
    pids: Vec<u16>,
    /// The record index of each row of each batch request, by row (`--verify` finds a row's
    /// record by the row index the reply gives).
    rows: Vec<Vec<u64>>,
}

/// Where `op`'s requests sit in [`WireDriver::requests`] (the operations the floor encodes).
fn slot(op: Operation) -> usize {
    match op {
        Operation::Put => 0,
        Operation::Get => 1,
        Operation::BatchGet => 2,
        Operation::Exists => 4,
        Operation::Touch => 5,
        Operation::Delete => 6,
        Operation::Operate => 7,
        Operation::Update => 8,
        _ => 3,
    }
}

/// Whether the floor has pre-encoded requests for `op` (a read-modify-write sends the get's
/// request, then the put's); batch_write's cells say the floor lacks it.
fn encodes(op: Operation) -> bool {
    op != Operation::BatchWrite
}

/// Why a call of an operation the floor does not encode fails.
const NOT_ENCODED: &str = "not supported by the wire floor: it does not encode batch writes";

impl Requests {
    /// Request `r`'s bytes.
    fn request(&self, r: usize) -> &[u8] {
        let start = if r == 0 { 0 } else { self.ends[r - 1] };
        &self.bytes[start..self.ends[r]]
    }

    /// The requests call `i` sends (the last call's for an index past the end).
    fn of_call(&self, i: u64) -> std::ops::Range<usize> {
        let i = (i as usize).min(self.calls.len() - 1);
        let start = if i == 0 { 0 } else { self.calls[i - 1] };
        start..self.calls[i]
    }

    /// Ends the request being encoded, bound for `node`, for partition `pid` (0 for a batch or
    /// a scan, which are encoded again when the map changes).
    fn push(&mut self, node: usize, pid: usize) {
        self.ends.push(self.bytes.len());
        self.nodes.push(node as u16);
        self.pids.push(pid as u16);
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
        self.nodes.clear();
        self.calls.clear();
        self.task_at.clear();
        self.pids.clear();
        self.rows.clear();
    }
}

/// One socket per node, opened when first needed (and again after it broke).
type Conn = Option<BufReader<TcpStream>>;

pub struct WireDriver {
    column: Column,
    /// The nodes and who is master of each partition.
    map: PartitionMap,
    timeout: Duration,
    /// The LOGIN frame every new connection sends first, for a server that requires a login.
    login: Option<Vec<u8>>,
    /// By node, as in `map`. Replies are read through a buffer, so a small reply costs one
    /// `read` call, not two.
    conns: Vec<Conn>,
    encoder: Encoder,
    workload: Workload,
    /// By operation, at [`slot`].
    requests: [Requests; 9],
    /// Reply bodies are read into this, reused from call to call.
    body: Vec<u8>,
    next_task_id: u64,
    /// Where the cluster was first read, to read it again from if every known node is gone.
    seed: Vec<SocketAddr>,
    /// Which addresses of the peers it dials (`--services-alternate`).
    peer_addresses: PeerAddresses,
    /// Whether the seed named peers: only then is the map tended during the run.
    clustered: bool,
    /// When the column connected: its tends fall every second from then, on its own clock (as a
    /// client's tend thread does), not on the phases' clock.
    connected: Instant,
    next_tend: Instant,
    last_tend: Instant,
    /// A call failed on the network since the last tend: the map may be out of date.
    suspect: bool,
    /// `--verify`: the records read are decoded and compared with the records written.
    verify: Option<crate::workload::verify::Verifier>,
}

/// How often the floor checks the partition map, as the clients tend theirs.
const TEND_INTERVAL: Duration = Duration::from_secs(1);
/// How soon after a failed call it checks again.
const TEND_AFTER_FAILURE: Duration = Duration::from_millis(100);

impl WireDriver {
    /// Reads the partition map from the seed `host:port` (`host` without brackets), connects
    /// one socket to every node and encodes the requests of every measured call of `ops`: about
    /// 250 bytes a record with the default bins, held for the whole run, so that no phase (and
    /// no phase's wall time) pays for encoding. A seed that gives no usable partition map (no
    /// peers or replicas answer) is used alone, and the column's policies say why. With
    /// `services_alternate`, the other nodes are dialled at their alternate addresses, as the
    /// clients do with `--services-alternate`.
    #[allow(clippy::too_many_arguments)]
    pub fn connect(
        host: &str,
        port: u16,
        timeout_ms: u64,
        workload: &Workload,
        ops: &[Operation],
        kind: &ColumnKind,
        credentials: Option<&crate::drivers::security::Credentials>,
        services_alternate: bool,
    ) -> anyhow::Result<WireDriver> {
        let address = crate::drivers::probe::address(host, port);
        let addrs: Vec<SocketAddr> =
            (host, port).to_socket_addrs().with_context(|| format!("cannot resolve {address}"))?.collect();
        let timeout = Duration::from_millis(timeout_ms);
        let login = credentials.map(super::wire_login::login_frame).transpose()?;
        let log_in = |s: &mut TcpStream| match &login {
            Some(frame) => log_in(s, frame),
            None => Ok(()),
        };
        let peer_addresses = if services_alternate { PeerAddresses::Alternate } else { PeerAddresses::Advertised };
        let discovered = super::wire_cluster::discover(&addrs, timeout, &log_in, &workload.namespace, peer_addresses);
        let mut policies = BTreeMap::new();
        policies.insert("timeout_ms".into(), timeout_ms.to_string());
        policies.insert("max_retries".into(), "0".into());
        if services_alternate {
            policies.insert("use_services_alternate".into(), "true".into());
        }
        let map = match discovered {
            Ok(map) => map,
            Err(why) => {
                policies.insert("routing".into(), format!("seed node only: no partition map ({why})"));
                PartitionMap::seed_only(addrs.clone())
            }
        };
        let nodes = map.nodes.len();
        let mut conns = Vec::with_capacity(nodes);
        for node in &map.nodes {
            let at = node.addrs.first().map_or_else(|| address.clone(), ToString::to_string);
            let name = if node.name.is_empty() { String::new() } else { format!(" (node {})", node.name) };
            let stream = open(&node.addrs, timeout, login.as_deref())
                .with_context(|| format!("the wire column could not connect to {at}{name}"))?;
            conns.push(Some(BufReader::with_capacity(READ_BUFFER, stream)));
        }
        let source = if nodes > 1 {
            policies.insert("connections".into(), format!("1 per node, {nodes} nodes"));
            policies.entry("routing".into()).or_insert_with(|| {
                format!(
                    "by partition map: {nodes} nodes{}; a batch is one sub-batch per node and a scan one \
                     scan per node, sent together; the map is checked between calls every second and \
                     after a network failure",
                    if map.unowned > 0 {
                        format!(", {} partitions with no master sent to the seed", map.unowned)
                    } else {
                        String::new()
                    }
                )
            });
            format!("pre-encoded requests, aerobench (routed by the partition map of {nodes} nodes)")
        } else {
            policies.insert("connections".into(), "1, to the seed node only".into());
            policies.entry("routing".into()).or_insert_with(|| "seed node only: a single-node cluster".into());
            "pre-encoded requests, aerobench (seed node only)".into()
        };
        let column = Column {
            id: kind.name.into(),
            label: kind.label.into(),
            client: "aerospike wire protocol (raw socket)".into(),
            client_version: env!("CARGO_PKG_VERSION").into(),
            mode: "sync".into(),
            in_flight: 1,
            source,
            python_version: None,
            python: None,
            policies,
            error: None,
            build: None,
            crash: None,
        };
        let encoder = Encoder {
            namespace: workload.namespace.clone(),
            set: workload.set.clone(),
            timeout_ms: u32::try_from(timeout_ms).unwrap_or(u32::MAX),
            record_ttl: 0,
        };
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let mut driver = WireDriver {
            column,
            map,
            timeout,
            login,
            conns,
            encoder,
            workload: workload.clone(),
            requests: Default::default(),
            body: Vec::new(),
            next_task_id: (seed as u64) ^ (u64::from(std::process::id()) << 32),
            seed: addrs,
            peer_addresses,
            clustered: nodes > 1,
            connected: Instant::now(),
            next_tend: Instant::now() + TEND_INTERVAL,
            last_tend: Instant::now(),
            suspect: false,
            verify: None,
        };
        for &op in ops.iter().filter(|op| encodes(**op) && **op != Operation::ReadModifyWrite) {
            driver.prepare(op, workload.calls(op));
        }
        Ok(driver)
    }

    /// Decodes the records its gets, batch reads and scans read and compares them with the
    /// records written for their keys (`--verify`), as every client column does.
    pub fn with_verify(mut self, verify: bool) -> WireDriver {
        self.verify = verify.then(|| crate::workload::verify::Verifier::new(self.workload.clone()));
        if verify {
            self.column.policies.insert("verify".into(), "records decoded and compared (--verify)".into());
        }
        self
    }

    /// Writes records with this time to live (`--ttl`, seconds): the puts are encoded again.
    pub fn with_record_ttl(mut self, ttl: Option<u32>, ops: &[Operation]) -> WireDriver {
        let Some(ttl) = ttl else { return self };
        self.encoder.record_ttl = ttl;
        self.column.policies.insert("ttl_secs".into(), ttl.to_string());
        // Puts, touches and updates carry the time to live: encoded again.
        for op in [Operation::Put, Operation::Touch, Operation::Update] {
            self.requests[slot(op)].clear();
            if ops.contains(&op) {
                self.prepare(op, self.workload.calls(op));
            }
        }
        self
    }

    /// Encodes the requests of `calls` calls of `op`, unless they already are.
    fn prepare(&mut self, op: Operation, calls: u64) {
        let r = &mut self.requests[slot(op)];
        let have = if op == Operation::Scan { 1 } else { calls.max(1) };
        if r.calls.len() as u64 >= have {
            return;
        }
        r.clear();
        let (e, w, map) = (&self.encoder, &self.workload, &self.map);
        let node = |key: &str| map.node_of(&digest(&e.set, key));
        for i in 0..have {
            match op {
                Operation::BatchGet => {
                    // One sub-batch per node, keys in batch order within each.
                    let mut by_node: BTreeMap<usize, (Vec<String>, Vec<u64>)> = BTreeMap::new();
                    for k in w.batch_range(i) {
                        let key = w.key(k);
                        let (keys, rows) = by_node.entry(node(&key)).or_default();
                        keys.push(key);
                        rows.push(k);
                    }
                    for (n, (keys, rows)) in by_node {
                        e.batch_read(&mut r.bytes, keys.iter().map(String::as_str), w.read_bins.as_deref());
                        r.push(n, 0);
                        r.rows.push(rows);
                    }
                }
                Operation::Scan => {
                    for n in 0..map.nodes.len() {
                        let pids = map.partitions_of(n);
                        if !pids.is_empty() {
                            r.task_at.push(e.scan(&mut r.bytes, 0, &pids, w.read_bins.as_deref()));
                            r.push(n, 0);
                        }
                    }
                }
                _ => {
                    let key = w.key(i);
                    match op {
                        Operation::Put => e.write(&mut r.bytes, &key, &w.values(i)),
                        Operation::Get => e.read(&mut r.bytes, &key, w.read_bins.as_deref()),
                        Operation::Exists => e.exists(&mut r.bytes, &key),
                        Operation::Touch => e.touch(&mut r.bytes, &key),
                        Operation::Delete => e.delete(&mut r.bytes, &key),
                        Operation::Operate => e.increment_and_read(&mut r.bytes, &key, crate::workload::OPERATE_BIN),
                        Operation::Update => e.update(&mut r.bytes, &key, i as i64),
                        _ => unreachable!("the floor encodes no request of its own for {}", op.name()),
                    }
                    let pid = super::wire_cluster::partition(&digest(&e.set, &key));
                    r.push(usize::from(map.master[pid]), pid);
                }
            }
            r.calls.push(r.ends.len());
        }
    }

    /// One timed call: send call `i`'s requests, each to its node, then read every reply.
    fn call(&mut self, op: Operation, i: u64) -> CallResult {
        let requests = &mut self.requests[slot(op)];
        let range = requests.of_call(i);
        if op == Operation::Scan {
            // One task id for the scan, whichever nodes it covers, as the clients do.
            self.next_task_id = self.next_task_id.wrapping_add(1);
            for &at in &requests.task_at[range.clone()] {
                requests.bytes[at..at + 8].copy_from_slice(&self.next_task_id.to_be_bytes());
            }
        }
        let mut failure = None;
        let mut sent = range.start;
        for r in range.clone() {
            let node = usize::from(requests.nodes[r]);
            let addrs = &self.map.nodes[node].addrs;
            if let Err(f) = send(&mut self.conns[node], addrs, self.timeout, self.login.as_deref(), requests.request(r))
            {
                failure = Some(f);
                break;
            }
            sent = r + 1;
        }
        let mut records = 0;
        let requests = &self.requests[slot(op)];
        // --verify: each record read against the record of its key (a get's, a batch row's by
        // its row index) or, scanned, of its digest.
        let verify =
            self.verify.as_ref().filter(|_| matches!(op, Operation::Get | Operation::BatchGet | Operation::Scan));
        for r in range.start..sent {
            let node = usize::from(requests.nodes[r]);
            let stream = self.conns[node].as_mut().expect("sent on it above");
            let check = verify.map(|v| {
                move |msg: &[u8]| {
                    let index = match op {
                        Operation::Get => Some(i),
                        Operation::BatchGet => {
                            let row = u32::from_be_bytes([msg[14], msg[15], msg[16], msg[17]]) as usize;
                            Some(requests.rows.get(r).and_then(|rows| rows.get(row)).copied().unwrap_or(u64::MAX))
                        }
                        _ => None,
                    };
                    super::wire_verify::check(v, index, msg).is_ok()
                }
            });
            let result = receive(stream, op, &mut self.body, check.as_ref().map(|c| c as &dyn Fn(&[u8]) -> bool))
                .and_then(|n| {
                    // One request, one reply: anything more is a server out of step.
                    if stream.buffer().is_empty() { Ok(n) } else { Err(Failure::Protocol("bytes after the reply")) }
                });
            match result {
                Ok(n) => records += n,
                Err(f) => {
                    if !matches!(f, Failure::Server(_) | Failure::Mismatch) {
                        self.conns[node] = None;
                    }
                    failure.get_or_insert(f);
                }
            }
        }
        match failure {
            None => Ok(records),
            Some(f) => {
                self.suspect |= !matches!(f, Failure::Server(_) | Failure::Mismatch);
                Err(CallError::new(f.reason()))
            }
        }
    }

    /// Between calls (untimed), as the clients tend: every second, and soon after a call failed
    /// on the network, asks every node its partition generation; when one changed or a node is
    /// gone, reads the map again (from the seed, else any node that answers) and routes by it.
    fn tend(&mut self) {
        if !self.clustered {
            return;
        }
        let now = Instant::now();
        let quick = self.suspect && now.duration_since(self.last_tend) >= TEND_AFTER_FAILURE;
        if now < self.next_tend && !quick {
            return;
        }
        self.last_tend = now;
        let ticks = now.duration_since(self.connected).as_secs_f64() / TEND_INTERVAL.as_secs_f64();
        self.next_tend = self.connected + TEND_INTERVAL.mul_f64(ticks.floor() + 1.0);
        let login = self.login.clone();
        let log_in = |s: &mut TcpStream| match &login {
            Some(frame) => log_in(s, frame),
            None => Ok(()),
        };
        let now = super::wire_cluster::generations(&self.map, self.timeout, &log_in);
        if now.iter().zip(&self.map.generations).all(|(n, was)| n.as_ref() == Some(was)) {
            self.suspect = false;
            return;
        }
        let mut candidates = vec![self.seed.clone()];
        candidates.extend(self.map.nodes.iter().map(|n| n.addrs.clone()));
        for addrs in candidates {
            let ns = &self.workload.namespace;
            if let Ok(map) = super::wire_cluster::discover(&addrs, self.timeout, &log_in, ns, self.peer_addresses) {
                self.reroute(map);
                self.suspect = false;
                return;
            }
        }
    }

    /// Routes every request by `map`: single-record requests to their partition's new master,
    /// batches and scans encoded again for the new set of nodes; connections to nodes still in
    /// the map are kept.
    fn reroute(&mut self, map: PartitionMap) {
        let mut old: Vec<(String, Conn)> =
            self.map.nodes.iter().map(|n| n.name.clone()).zip(std::mem::take(&mut self.conns)).collect();
        self.conns = map
            .nodes
            .iter()
            .map(|n| old.iter_mut().find(|(name, _)| *name == n.name).and_then(|(_, c)| c.take()))
            .collect();
        self.map = map;
        for op in [
            Operation::Put,
            Operation::Get,
            Operation::Exists,
            Operation::Touch,
            Operation::Delete,
            Operation::Operate,
            Operation::Update,
        ] {
            let r = &mut self.requests[slot(op)];
            for (node, &pid) in r.nodes.iter_mut().zip(&r.pids) {
                *node = self.map.master[usize::from(pid)];
            }
        }
        for op in [Operation::BatchGet, Operation::Scan] {
            let calls = self.requests[slot(op)].calls.len() as u64;
            if calls > 0 {
                self.requests[slot(op)].clear();
                self.prepare(op, calls);
            }
        }
    }
}

/// Logs in on a new info or data socket with the LOGIN `frame`.
fn log_in(s: &mut TcpStream, frame: &[u8]) -> std::io::Result<()> {
    super::wire_login::login(s, frame).map_err(|e| match e {
        super::wire_login::LoginError::Io(e) => e,
        refused => std::io::Error::new(ErrorKind::PermissionDenied, refused.to_string()),
    })
}

/// Writes `request` on `conn`, connecting it first if the last call broke it; a failed write
/// drops the connection.
fn send(
    conn: &mut Conn,
    addrs: &[SocketAddr],
    timeout: Duration,
    login: Option<&[u8]>,
    request: &[u8],
) -> Result<(), Failure> {
    if conn.is_none() {
        *conn = Some(BufReader::with_capacity(READ_BUFFER, open(addrs, timeout, login)?));
    }
    let stream = conn.as_mut().expect("connected above");
    stream.get_mut().write_all(request).map_err(|e| {
        *conn = None;
        Failure::Io(e)
    })
}

/// Opens a socket to the first of `addrs` that answers, with `TCP_NODELAY` and `timeout` on
/// connecting, reading and writing, and sends `login` on it first when given.
fn open(addrs: &[SocketAddr], timeout: Duration, login: Option<&[u8]>) -> std::io::Result<TcpStream> {
    let mut s = super::wire_cluster::dial(addrs, timeout)?;
    if let Some(frame) = login {
        log_in(&mut s, frame)?;
    }
    Ok(s)
}

/// A check of one record's reply message (`--verify`): whether it holds the record it must.
type Check<'a> = Option<&'a dyn Fn(&[u8]) -> bool>;

/// Reads the reply to a request sent on `stream`; returns the records it carried. With `check`,
/// every record read is checked (after the whole reply is read, so the connection stays in
/// step).
fn receive(stream: &mut BufReader<TcpStream>, op: Operation, body: &mut Vec<u8>, check: Check) -> Result<u64, Failure> {
    match op {
        Operation::BatchGet | Operation::Scan => read_stream(stream, op, body, check),
        _ => {
            read_frame(stream, body)?;
            if body.len() < 22 || body[0] != 22 {
                return Err(Failure::Protocol("reply shorter than its 22-byte message header"));
            }
            match body[5] {
                RC_OK if check.is_some_and(|c| !c(body)) => Err(Failure::Mismatch),
                RC_OK => Ok(1),
                rc => Err(Failure::server(rc)),
            }
        }
    }
}

/// Reads one type-3 frame's body into `body`.
fn read_frame(stream: &mut impl Read, body: &mut Vec<u8>) -> Result<(), Failure> {
    let mut h = [0u8; 8];
    stream.read_exact(&mut h)?;
    if h[0] != 2 || h[1] != 3 {
        return Err(Failure::Protocol("reply is not a version 2, type 3 frame"));
    }
    let len = u64::from_be_bytes([0, 0, h[2], h[3], h[4], h[5], h[6], h[7]]);
    if len > MAX_FRAME {
        return Err(Failure::Protocol("reply frame over 128 MiB"));
    }
    body.resize(len as usize, 0);
    stream.read_exact(body)?;
    Ok(())
}

/// What a batch or scan reply stream held.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    records: u64,
    /// The first result code that makes the call a failure.
    error: Option<u8>,
    last: bool,
    /// A record that failed its `--verify` check.
    mismatch: bool,
}

/// Reads frames until the one holding the LAST marker; counts the records (rows with result
/// 0). The whole stream is always read, so the connection stays in step even when rows fail.
fn read_stream(stream: &mut impl Read, op: Operation, body: &mut Vec<u8>, check: Check) -> Result<u64, Failure> {
    let mut tally = Tally::default();
    while !tally.last {
        read_frame(stream, body)?;
        tally_messages(body, op, &mut tally, check)?;
    }
    match tally.error {
        None if tally.mismatch => Err(Failure::Mismatch),
        None => Ok(tally.records),
        Some(rc) => Err(Failure::server(rc)),
    }
}

/// Walks the messages of one frame body: 22-byte header, fields, ops.
fn tally_messages(body: &[u8], op: Operation, tally: &mut Tally, check: Check) -> Result<(), Failure> {
    let u16_at = |at: usize| u16::from_be_bytes([body[at], body[at + 1]]);
    let u32_at = |at: usize| u32::from_be_bytes([body[at], body[at + 1], body[at + 2], body[at + 3]]) as usize;
    let mut at = 0;
    while at < body.len() {
        if tally.last {
            return Err(Failure::Protocol("data after the LAST marker"));
        }
        if body.len() - at < 22 || body[at] != 22 {
            return Err(Failure::Protocol("message cut short or header_sz not 22"));
        }
        let (info3, rc) = (body[at + 3], body[at + 5]);
        let (n_fields, n_ops) = (u16_at(at + 18), u16_at(at + 20));
        let message = at;
        at += 22;
        for _ in 0..u32::from(n_fields) + u32::from(n_ops) {
            if body.len() - at < 4 || body.len() - at - 4 < u32_at(at) {
                return Err(Failure::Protocol("field or op overruns the frame"));
            }
            at += 4 + u32_at(at);
        }
        let failed = if info3 & INFO3_LAST != 0 {
            tally.last = true;
            // Rust clients end a scan quietly on these; anything else fails the call.
            let quiet = op == Operation::Scan && matches!(rc, RC_KEY_NOT_FOUND | RC_FILTERED_OUT);
            rc != RC_OK && !quiet
        } else if info3 & INFO3_PARTITION_DONE != 0 {
            rc != RC_OK
        } else if rc == RC_OK {
            tally.records += 1;
            if let Some(check) = check
                && !tally.mismatch
            {
                tally.mismatch = !check(&body[message..at]);
            }
            false
        } else {
            !(op == Operation::BatchGet && rc == RC_KEY_NOT_FOUND)
        };
        if failed {
            tally.error.get_or_insert(rc);
        }
    }
    Ok(())
}

impl Driver for WireDriver {
    fn column(&self) -> &Column {
        &self.column
    }

    fn run_phase(&mut self, phase: &Phase, state: Arc<PhaseState>) -> anyhow::Result<()> {
        let op = phase.op;
        if !encodes(op) {
            run_blocking(&state, Ok, |_| Err(CallError::new(NOT_ENCODED)));
            return Ok(());
        }
        // Already done at connect, unless a phase uses more distinct indices than measured ones.
        if op != Operation::ReadModifyWrite {
            self.prepare(op, phase.space);
        }
        if phase.updates.is_some() || op == Operation::ReadModifyWrite {
            self.prepare(Operation::Put, phase.space);
        }
        // The map is tended before each call, outside its timing.
        let me = std::cell::RefCell::new(self);
        let tend = |i| {
            me.borrow_mut().tend();
            Ok(i)
        };
        if op == Operation::ReadModifyWrite {
            me.borrow_mut().prepare(Operation::Get, phase.space);
            run_blocking(&state, tend, |i| {
                let mut d = me.borrow_mut();
                d.call(Operation::Get, i)?;
                d.call(Operation::Put, i)
            });
            return Ok(());
        }
        run_blocking(&state, tend, |i| {
            let (op, i) = crate::workload::mix::split(op, i);
            me.borrow_mut().call(op, i)
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::message::Message;
    use crate::server::record::{RecordRequest, execute};
    use crate::server::store::Store;
    use bytes::BytesMut;

    fn workload(count: u64) -> Workload {
        Workload {
            namespace: "test".into(),
            set: "s".into(),
            key_prefix: "w-".into(),
            count,
            batch_size: 4,
            bins: Workload::bins_for(3, 8),
            scans: 1,
            warmup: 0,
            seed: 0,
            read_bins: None,
        }
    }

    /// Runs one encoded single-record request through the server's own code; returns the reply
    /// body.
    fn serve(store: &Store, frame: &[u8]) -> Vec<u8> {
        let msg = Message::parse(&frame[8..]).unwrap();
        let req = RecordRequest::from_message(&msg).unwrap();
        let mut out = BytesMut::new();
        execute(store, &req, 0, &mut out);
        out.to_vec()
    }

    fn tally(reply: &[u8], op: Operation) -> Result<Tally, Failure> {
        let mut t = Tally::default();
        let mut wire = reply;
        while !wire.is_empty() {
            let len = u64::from_be_bytes([0, 0, wire[2], wire[3], wire[4], wire[5], wire[6], wire[7]]) as usize;
            tally_messages(&wire[8..8 + len], op, &mut t, None)?;
            wire = &wire[8 + len..];
        }
        Ok(t)
    }

    #[test]
    fn writes_then_reads_and_batches_through_the_servers_own_code() {
        let w = workload(10);
        let e = Encoder { namespace: "test".into(), set: "s".into(), timeout_ms: 100, record_ttl: 0 };
        let store = Store::new(&["test"]);
        let mut frame = Vec::new();
        e.read(&mut frame, &w.key(3), None);
        assert_eq!(serve(&store, &frame)[5], RC_KEY_NOT_FOUND, "nothing written yet");
        for i in 0..8 {
            frame.clear();
            e.write(&mut frame, &w.key(i), &w.values(i));
            assert_eq!(serve(&store, &frame)[5], RC_OK);
        }
        frame.clear();
        e.read(&mut frame, &w.key(3), None);
        let reply = serve(&store, &frame);
        let m = Message::parse(&reply).unwrap();
        assert_eq!((m.header.result_code, m.ops.len()), (0, 3), "the three bins come back");
        assert_eq!(m.ops[0].value, 3i64.to_be_bytes());

        // A batch of keys 6..10: 6 and 7 were written, 8 and 9 were not.
        frame.clear();
        let keys: Vec<String> = (6..10).map(|i| w.key(i)).collect();
        e.batch_read(&mut frame, keys.iter().map(String::as_str), None);
        let msg = Message::parse(&frame[8..]).unwrap();
        let mut out = BytesMut::new();
        crate::server::batch::execute_batch(&store, &msg, &mut out).unwrap();
        let t = tally(&out, Operation::BatchGet).unwrap();
        assert_eq!(t, Tally { records: 2, error: None, last: true, mismatch: false });
    }

    #[tokio::test]
    async fn scan_counts_records_and_skips_partition_markers() {
        let w = workload(30);
        let e = Encoder { namespace: "test".into(), set: "s".into(), timeout_ms: 100, record_ttl: 0 };
        let store = Store::new(&["test"]);
        let mut frame = Vec::new();
        for i in 0..30 {
            frame.clear();
            e.write(&mut frame, &w.key(i), &w.values(i));
            serve(&store, &frame);
        }
        frame.clear();
        e.scan(&mut frame, 1, &(0..crate::drivers::wire_encode::PARTITIONS).collect::<Vec<_>>(), None);
        let msg = Message::parse(&frame[8..]).unwrap();
        let mut wire = Vec::new();
        crate::server::scan::stream_scan(&store, &msg, &mut BytesMut::new(), &mut wire).await.unwrap();
        assert_eq!(
            tally(&wire, Operation::Scan).unwrap(),
            Tally { records: 30, error: None, last: true, mismatch: false }
        );
    }

    #[test]
    fn row_errors_fail_the_call_and_garbage_is_a_protocol_error() {
        let row = |info3: u8, rc: u8| {
            let mut m = vec![22, 0, 0, info3, 0, rc];
            m.resize(22, 0);
            m
        };
        let mut t = Tally::default();
        let body = [row(0, 0), row(0, RC_KEY_NOT_FOUND), row(0, 0), row(INFO3_LAST, 0)].concat();
        tally_messages(&body, Operation::BatchGet, &mut t, None).unwrap();
        assert_eq!(t, Tally { records: 2, error: None, last: true, mismatch: false });
        let mut t = Tally::default();
        tally_messages(&[row(0, 9), row(INFO3_LAST, 0)].concat(), Operation::BatchGet, &mut t, None).unwrap();
        assert_eq!(t.error, Some(9));
        let mut t = Tally::default();
        tally_messages(&row(INFO3_LAST, RC_KEY_NOT_FOUND), Operation::Scan, &mut t, None).unwrap();
        assert_eq!(t.error, None, "a scan ends quietly on rc 2, as the Rust clients take it");
        let mut t = Tally::default();
        let err = tally_messages(&[22, 0, 0], Operation::Scan, &mut t, None).unwrap_err();
        assert!(err.reason().starts_with("protocol:"), "{}", err.reason());
        let mut t = Tally::default();
        let mut long = row(0, 0);
        long[19] = 1; // one field that is not there
        assert!(tally_messages(&long, Operation::Scan, &mut t, None).is_err());
        assert_eq!(Failure::server(RC_KEY_NOT_FOUND).reason(), "server: KeyNotFoundError");
    }

    /// A server on `listener` that drops its first two connections (the floor's look for a
    /// partition map, then its first data connection) after reading a request, then answers
    /// every request on its third connection with an empty rc-0 reply.
    fn flaky_server(listener: std::net::TcpListener) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            let read_request = |s: &mut TcpStream| {
                let mut h = [0u8; 8];
                s.read_exact(&mut h)?;
                let len = u64::from_be_bytes([0, 0, h[2], h[3], h[4], h[5], h[6], h[7]]);
                s.read_exact(&mut vec![0; len as usize])
            };
            for _ in 0..2 {
                let (mut first, _) = listener.accept().unwrap();
                read_request(&mut first).unwrap();
                drop(first);
            }
            let (mut second, _) = listener.accept().unwrap();
            let mut reply = vec![2, 3, 0, 0, 0, 0, 0, 22, 22];
            reply.resize(30, 0);
            while read_request(&mut second).is_ok() {
                second.write_all(&reply).unwrap();
            }
        })
    }

    #[test]
    fn a_broken_connection_fails_one_call_and_the_next_reconnects() {
        // IPv6 loopback when the machine has it (as a user would write it, unbracketed).
        let (listener, host) = match std::net::TcpListener::bind("[::1]:0") {
            Ok(l) => (l, "::1"),
            Err(_) => (std::net::TcpListener::bind("127.0.0.1:0").unwrap(), "127.0.0.1"),
        };
        let port = listener.local_addr().unwrap().port();
        let server = flaky_server(listener);
        let kind = crate::drivers::kind("wire").unwrap();
        let mut d = WireDriver::connect(host, port, 2_000, &workload(5), &[Operation::Get], kind, None, false).unwrap();
        let err = d.call(Operation::Get, 0).unwrap_err();
        assert!(err.reason.starts_with("network:"), "{}", err.reason);
        assert_eq!(d.call(Operation::Get, 1), Ok(1), "a new connection for the next call");
        assert_eq!(d.call(Operation::Get, 2), Ok(1));
        drop(d);
        server.join().unwrap();
    }

    #[test]
    fn a_silent_server_times_the_call_out() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let kind = crate::drivers::kind("wire").unwrap();
        let mut d =
            WireDriver::connect("127.0.0.1", port, 100, &workload(5), &[Operation::Put], kind, None, false).unwrap();
        let started = std::time::Instant::now();
        assert_eq!(d.call(Operation::Put, 0).unwrap_err().reason, "timeout");
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        drop(listener);
    }

    /// A driver with no sockets, routing by `map`, with `op`'s requests for `calls` calls.
    fn offline(w: &Workload, map: PartitionMap, op: Operation, calls: u64) -> WireDriver {
        let e = Encoder { namespace: "test".into(), set: "s".into(), timeout_ms: 100, record_ttl: 0 };
        let conns = map.nodes.iter().map(|_| None).collect();
        let mut d = WireDriver {
            column: crate::drivers::start::failed_column(
                &(&crate::drivers::kind("wire").unwrap()).into(),
                1,
                String::new(),
                None,
            ),
            map,
            timeout: Duration::from_millis(10),
            login: None,
            conns,
            encoder: e,
            workload: w.clone(),
            requests: Default::default(),
            body: vec![],
            next_task_id: 0,
            seed: vec![],
            peer_addresses: PeerAddresses::Advertised,
            clustered: false,
            connected: Instant::now(),
            next_tend: Instant::now(),
            last_tend: Instant::now(),
            suspect: false,
            verify: None,
        };
        d.prepare(op, calls);
        d
    }

    #[test]
    fn requests_are_found_by_index_and_scans_get_fresh_task_ids() {
        let w = workload(10);
        let requests = |op, calls| offline(&w, PartitionMap::seed_only(vec![]), op, calls);
        let d = requests(Operation::Get, 10);
        let get = &d.requests[slot(Operation::Get)];
        assert_eq!((get.ends.len(), get.calls.len()), (10, 10));
        let m = Message::parse(&get.request(get.of_call(7).start)[8..]).unwrap();
        let digest = crate::drivers::wire_encode::digest("s", "w-7");
        assert_eq!(m.fields.get(crate::server::message::field::DIGEST), Some(&digest[..]));
        let d = requests(Operation::BatchGet, 3);
        let batches = &d.requests[slot(Operation::BatchGet)];
        let m = Message::parse(&batches.request(batches.of_call(2).start)[8..]).unwrap();
        let rows = m.fields.get(crate::server::message::field::BATCH_INDEX).unwrap();
        assert_eq!(u32::from_be_bytes(rows[..4].try_into().unwrap()), 2, "batch 2 holds keys 8 and 9");
        // With no server, a call fails as a network error instead of hanging.
        let mut d = requests(Operation::Scan, 5);
        let scan = |d: &WireDriver| d.requests[slot(Operation::Scan)].request(0).to_vec();
        let before = scan(&d);
        let err = d.call(Operation::Scan, 0).unwrap_err();
        assert!(err.reason.starts_with("network:"), "{}", err.reason);
        assert_ne!(scan(&d), before, "each scan carries its own task id");
    }

    #[test]
    fn requests_go_to_the_master_of_their_partition() {
        use crate::drivers::wire_cluster::{Node, partition};
        use crate::server::message::field;
        let mut map = PartitionMap::seed_only(vec![]);
        for name in ["B", "C"] {
            map.nodes.push(Node { name: name.into(), addrs: vec![] });
        }
        for (p, m) in map.master.iter_mut().enumerate() {
            *m = (p % 3) as u16;
        }
        let mut w = workload(400);
        w.batch_size = 40;
        let owner = |key: &str| partition(&digest("s", key)) % 3;
        // Every single-record request names a digest its node is master of.
        let d = offline(&w, map.clone(), Operation::Put, 400);
        let puts = &d.requests[slot(Operation::Put)];
        let mut per_node = [0; 3];
        for i in 0..400 {
            let r = puts.of_call(i);
            assert_eq!(r.len(), 1);
            let node = usize::from(puts.nodes[r.start]);
            assert_eq!(node, owner(&w.key(i)), "put {i}");
            per_node[node] += 1;
        }
        assert!(per_node.iter().all(|&n| n > 80), "keys spread over the nodes: {per_node:?}");
        // A batch is one sub-batch per node, each holding exactly the keys that node owns.
        let d = offline(&w, map.clone(), Operation::BatchGet, 10);
        let batches = &d.requests[slot(Operation::BatchGet)];
        for i in 0..10 {
            let r = batches.of_call(i);
            assert_eq!(r.len(), 3, "40 keys reach all three nodes");
            let mut seen = 0;
            for q in r {
                let m = Message::parse(&batches.request(q)[8..]).unwrap();
                let rows = m.fields.get(field::BATCH_INDEX).unwrap();
                let n = u32::from_be_bytes(rows[..4].try_into().unwrap()) as usize;
                let digests: Vec<[u8; 20]> = w
                    .batch_range(i)
                    .map(|k| digest("s", &w.key(k)))
                    .filter(|dg| partition(dg) % 3 == usize::from(batches.nodes[q]))
                    .collect();
                assert_eq!(n, digests.len());
                // Each row: 4-byte index, then the digest.
                assert_eq!(&rows[9..29], &digests[0][..], "the sub-batch starts with its node's first key");
                seen += n;
            }
            assert_eq!(seen, 40, "every key of the batch is asked once");
        }
        // A scan is one scan per node over the partitions it owns.
        let d = offline(&w, map, Operation::Scan, 1);
        let scans = &d.requests[slot(Operation::Scan)];
        assert_eq!(scans.of_call(0), 0..3);
        for q in 0..3 {
            let m = Message::parse(&scans.request(q)[8..]).unwrap();
            let pids = m.fields.get(field::PID_ARRAY).unwrap();
            assert_eq!(pids.len(), 2 * 1366 - 2 * usize::from(q > 0), "node {q}");
            for p in pids.chunks(2) {
                assert_eq!(usize::from(u16::from_le_bytes([p[0], p[1]])) % 3, usize::from(scans.nodes[q]));
            }
        }
    }

    #[test]
    fn a_changed_map_routes_every_request_again() {
        use crate::drivers::wire_cluster::{Node, partition};
        let three = |down: Option<usize>| {
            let mut map = PartitionMap::seed_only(vec![]);
            map.nodes[0].name = "A".into();
            for name in ["B", "C"] {
                map.nodes.push(Node { name: name.into(), addrs: vec![] });
            }
            for (p, m) in map.master.iter_mut().enumerate() {
                *m = (p % 3) as u16;
            }
            if let Some(gone) = down {
                // The survivors take the lost node's partitions; indices after it shift down.
                map.nodes.remove(gone);
                for (p, m) in map.master.iter_mut().enumerate() {
                    let was = p % 3;
                    let now = if was == gone { (was + 1) % 3 } else { was };
                    *m = (if now > gone { now - 1 } else { now }) as u16;
                }
            }
            map
        };
        let mut w = workload(300);
        w.batch_size = 30;
        let mut d = offline(&w, three(None), Operation::Get, 300);
        d.prepare(Operation::BatchGet, 10);
        d.prepare(Operation::Scan, 1);
        d.reroute(three(Some(1)));
        assert_eq!(d.conns.len(), 2);
        let names: Vec<&str> = d.map.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["A", "C"]);
        let gets = &d.requests[slot(Operation::Get)];
        for i in 0..300 {
            let q = gets.of_call(i).start;
            let p = partition(&digest("s", &w.key(i)));
            assert_eq!(usize::from(gets.nodes[q]), usize::from(d.map.master[p]), "get {i}");
        }
        let batches = &d.requests[slot(Operation::BatchGet)];
        assert_eq!(batches.calls.len(), 10, "every batch encoded again");
        for i in 0..10 {
            assert_eq!(batches.of_call(i).len(), 2, "two nodes left, two sub-batches");
        }
        let scans = &d.requests[slot(Operation::Scan)];
        assert_eq!(scans.of_call(0).len(), 2);
        let mut pids = 0;
        for q in scans.of_call(0) {
            let m = Message::parse(&scans.request(q)[8..]).unwrap();
            pids += m.fields.get(crate::server::message::field::PID_ARRAY).unwrap().len() / 2;
        }
        assert_eq!(pids, 4096, "the scan still covers every partition");
    }
}
