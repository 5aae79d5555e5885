//! Throughput and latency of the built-in server (`aerobench serve`, release build) as seen by the
//! `aerospike` crate 3.0.0, with 1 and with 64 operations in flight: put (3 small bins), get,
//! batch read of 100 keys, and scan of a 5,000-record set. Every operation's latency goes into
//! an HDR histogram; the table reports ops/s, average, p50 and p99.
//!
//! `cargo bench --bench server` (about 30 s on 2 cores); `cargo bench --bench server -- --quick`
//! or `AEROBENCH_BENCH_QUICK=1` for a smoke run of a few seconds.

#[path = "shared/serve.rs"]
mod serve;

use std::future::Future;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aerospike::{
    BatchOperation, BatchPolicy, BatchReadPolicy, Bin, Bins, Client, ClientPolicy, Key, PartitionFilter, QueryPolicy,
    ReadPolicy, Statement, Value, WritePolicy,
};
use futures::StreamExt as _;
use hdrhistogram::Histogram;

const NAMESPACE: &str = "test";
/// Distinct keys written by the put cells and read back by get and batch.
const KV_KEYS: u64 = 10_000;
const KV_SET: &str = "kv";
const SCAN_SET: &str = "scan";
const SCAN_RECORDS: u64 = 5_000;
const BATCH_KEYS: u64 = 100;

/// How many operations each cell runs.
struct Plan {
    put: u64,
    get: u64,
    batch: u64,
    scan_1: u64,
    scan_64: u64,
    warmup: u64,
}

const FULL: Plan = Plan { put: 20_000, get: 20_000, batch: 2_000, scan_1: 50, scan_64: 128, warmup: 1_000 };
const QUICK: Plan = Plan { put: 2_000, get: 2_000, batch: 200, scan_1: 10, scan_64: 64, warmup: 200 };

/// One row of the table.
struct Cell {
    operation: String,
    in_flight: usize,
    ops: u64,
    elapsed: Duration,
    hist: Histogram<u64>,
}

fn new_hist() -> Histogram<u64> {
    // Nanoseconds, from 1 ns to 1 minute, 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("histogram bounds")
}

/// Runs `total` calls of `op(i)` (i = 0..total) with `in_flight` of them outstanding at once,
/// timing each call.
async fn run_cell<F, Fut>(operation: &str, in_flight: usize, total: u64, op: F) -> Cell
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..in_flight)
        .map(|_| {
            let (op, next) = (op.clone(), next.clone());
            tokio::spawn(async move {
                let mut hist = new_hist();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        return hist;
                    }
                    let t = Instant::now();
                    op(i).await;
                    hist.saturating_record(t.elapsed().as_nanos() as u64);
                }
            })
        })
        .collect();
    let mut hist = new_hist();
    for w in workers {
        hist.add(w.await.expect("worker task")).expect("merge histograms");
    }
    Cell { operation: operation.to_string(), in_flight, ops: total, elapsed: start.elapsed(), hist }
}

fn kv_key(i: u64) -> Key {
    Key::new(NAMESPACE, KV_SET, Value::from((i % KV_KEYS) as i64)).expect("key")
}

/// Three small bins: an integer, a 32-byte string and a double.
fn small_bins(i: u64) -> Vec<Bin> {
    vec![
        Bin::new("i", Value::Int(i as i64)),
        Bin::new("s", Value::from(format!("{:032}", i))),
        Bin::new("d", Value::from(i as f64 * 0.5)),
    ]
}

async fn put_op(client: Arc<Client>, i: u64) {
    client.put(&WritePolicy::default(), &kv_key(i), &small_bins(i)).await.expect("put");
}

async fn get_op(client: Arc<Client>, i: u64) {
    let rec = client.get(&ReadPolicy::default(), &kv_key(i), Bins::All).await.expect("get");
    assert_eq!(rec.bins.len(), 3, "get returned {:?}", rec.bins);
}

async fn batch_op(client: Arc<Client>, i: u64) {
    let brp = BatchReadPolicy::default();
    let first = i * BATCH_KEYS;
    let mut ops: Vec<BatchOperation> =
        (first..first + BATCH_KEYS).map(|k| BatchOperation::read(&brp, kv_key(k), Bins::All)).collect();
    client.batch(&BatchPolicy::default(), &mut ops).await.expect("batch");
    assert!(ops.iter().all(|o| o.record().is_some_and(|r| r.bins.len() == 3)), "batch: a key is missing");
}

async fn scan_op(client: Arc<Client>) {
    let rs = client
        .query(&QueryPolicy::default(), PartitionFilter::all(), Statement::new(NAMESPACE, SCAN_SET, Bins::All))
        .await
        .expect("scan");
    let mut stream = rs.into_stream();
    let mut n = 0u64;
    while let Some(r) = stream.next().await {
        r.expect("scan record");
        n += 1;
    }
    assert_eq!(n, SCAN_RECORDS, "scan returned {n} records");
}

fn us(ns: f64) -> String {
    format!("{:.1}", ns / 1000.0)
}

fn print_table(cells: &[Cell]) {
    println!(
        "{:<28} {:>9} {:>8} {:>10} {:>10} {:>10} {:>10}",
        "operation", "in-flight", "ops", "ops/s", "avg µs", "p50 µs", "p99 µs"
    );
    println!("{}", "-".repeat(28 + 9 + 8 + 10 * 4 + 6));
    for c in cells {
        let h = &c.hist;
        println!(
            "{:<28} {:>9} {:>8} {:>10.0} {:>10} {:>10} {:>10}",
            c.operation,
            c.in_flight,
            c.ops,
            c.ops as f64 / c.elapsed.as_secs_f64(),
            us(h.mean()),
            us(h.value_at_quantile(0.50) as f64),
            us(h.value_at_quantile(0.99) as f64),
        );
    }
}

fn print_machine() {
    let system = sysinfo::System::new_with_specifics(
        sysinfo::RefreshKind::nothing().with_cpu(sysinfo::CpuRefreshKind::nothing()),
    );
    let model = system.cpus().first().map_or_else(|| "unknown".into(), |c| c.brand().trim().to_string());
    let listed = system.cpus().len();
    let usable = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("machine: {model}; {listed} logical CPUs, {usable} usable by this process");
    println!("client and server run on this same machine and share those cores");
}

/// The floor this machine puts under any one-at-a-time round trip: a 1-byte TCP ping-pong over
/// loopback between two threads. On a VM whose idle vCPUs halt, waking one up dominates it.
fn print_loopback_floor(rounds: u32) {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let echo = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        s.set_nodelay(true).expect("nodelay");
        let mut b = [0u8; 1];
        while s.read_exact(&mut b).is_ok() {
            if s.write_all(&b).is_err() {
                break;
            }
        }
    });
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    let mut hist = new_hist();
    let mut b = [7u8; 1];
    for _ in 0..rounds {
        let t = Instant::now();
        s.write_all(&b).expect("ping");
        s.read_exact(&mut b).expect("pong");
        hist.saturating_record(t.elapsed().as_nanos() as u64);
    }
    drop(s);
    let _ = echo.join();
    println!(
        "loopback floor (1-byte TCP ping-pong between two threads, {rounds} rounds): avg {} µs, p50 {} µs, p99 {} µs",
        us(hist.mean()),
        us(hist.value_at_quantile(0.5) as f64),
        us(hist.value_at_quantile(0.99) as f64)
    );
}

/// `aerobench serve --port 0 --quiet` as a child process.
struct ServerProcess {
    child: Child,
    port: u16,
}

impl ServerProcess {
    fn start() -> ServerProcess {
        let (child, port) = serve::start(Command::new(env!("CARGO_BIN_EXE_aerobench")));
        ServerProcess { child, port }
    }

    fn stop(mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

async fn bench(port: u16, plan: &Plan) -> Vec<Cell> {
    let client = Arc::new(Client::new(&ClientPolicy::default(), &format!("127.0.0.1:{port}")).await.expect("connect"));

    // Data for the scans: a set of exactly 5,000 records, in the same namespace as the
    // 10,000 kv records (the server walks all 15,000 to find them, as a server without a set
    // index would).
    let c = client.clone();
    run_cell("load scan set", 64, SCAN_RECORDS, move |i| {
        let c = c.clone();
        async move {
            let key = Key::new(NAMESPACE, SCAN_SET, Value::from(i as i64)).expect("key");
            c.put(&WritePolicy::default(), &key, &small_bins(i)).await.expect("load");
        }
    })
    .await;
    // Every kv key exists before the first measured cell, so get and batch never miss.
    let c = client.clone();
    run_cell("load kv", 64, KV_KEYS, move |i| put_op(c.clone(), i)).await;

    let mut cells = vec![];
    for in_flight in [1usize, 64] {
        // Warm-up: opens the pool's connections and pages in both processes; not recorded.
        let c = client.clone();
        run_cell("warm-up", in_flight, plan.warmup, move |i| get_op(c.clone(), i)).await;

        let c = client.clone();
        cells.push(run_cell("put (3 bins)", in_flight, plan.put, move |i| put_op(c.clone(), i)).await);
        let c = client.clone();
        cells.push(run_cell("get (3 bins)", in_flight, plan.get, move |i| get_op(c.clone(), i)).await);
        let c = client.clone();
        let batches = KV_KEYS / BATCH_KEYS;
        cells.push(
            run_cell("batch read (100 keys)", in_flight, plan.batch, move |i| batch_op(c.clone(), i % batches)).await,
        );
        let c = client.clone();
        let scans = if in_flight == 1 { plan.scan_1 } else { plan.scan_64 };
        cells.push(run_cell("scan (5,000 records)", in_flight, scans, move |_| scan_op(c.clone())).await);
    }
    client.close().await.expect("close");
    cells
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick")
        || std::env::var("AEROBENCH_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    let plan = if quick { &QUICK } else { &FULL };

    println!("aerobench server benchmark{}", if quick { " (quick smoke run)" } else { "" });
    print_machine();
    print_loopback_floor(if quick { 2_000 } else { 10_000 });
    let server = ServerProcess::start();
    println!(
        "server: {} serve (built-in in-memory server), port {}; client: aerospike crate 3.0.0 on tokio, {} worker threads",
        env!("CARGO_BIN_EXE_aerobench").rsplit('/').next().unwrap_or("aerobench"),
        server.port,
        std::thread::available_parallelism().map_or(2, |n| n.get())
    );
    println!();

    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let cells = runtime.block_on(bench(server.port, plan));
    drop(runtime);
    server.stop();

    print_table(&cells);
    println!();
    println!(
        "Reference, NOT measured here: real Aerospike CE 8.1, measured elsewhere with the official Python client,"
    );
    println!("one operation at a time, 3 small bins: put avg 72 µs; get avg 71 µs, p99 106 µs;");
    println!("batch read of 100 keys 632 µs; scan of 5,000 records 24 ms (24,000 µs).");
    println!();
    println!("total run time {:.1} s", started.elapsed().as_secs_f64());
}
