//! What aerobench itself costs, measured on the release binary that `cargo bench` builds:
//!
//! 1. Cost per call: the hidden no-op columns (`noop`, blocking loop, 1 in flight; `noop-async`,
//!    tokio loop, --concurrency in flight) make calls that return at once, so the wall time of a
//!    phase divided by its calls is the harness's own cost per call (scheduling, timing,
//!    recording). The Python no-op columns (`py-noop`, `py-noop-async`) do the same through the
//!    embedded interpreter and the shim: a worker process, the blocking loop calling into Python
//!    or coroutines reporting to the Rust recorder. Requirement: under 1 µs per call.
//!    These runs use `--builtin-server` (the no-op columns never talk to it).
//! 2. Memory flatness: aerobench's peak RSS must not grow with --count (no per-operation
//!    storage): 10,000 vs 10,000,000 calls per operation, target ≤ 20 MB apart. These runs use a
//!    server started here, so that only aerobench's own peak is measured (see
//!    `children_max_rss`).
//!
//! Prints a small table with the machine; exits 1 when a requirement is not met.
//! Run with `cargo bench --bench harness_overhead`.

#[path = "shared/serve.rs"]
mod serve;

use std::process::{Child, Command, Stdio};
use std::time::Instant;

use serde_json::Value;

const EXE: &str = env!("CARGO_BIN_EXE_aerobench");
const COUNT: u64 = 2_000_000;
const COST_LIMIT_NS: f64 = 1_000.0;
const MEMORY_SMALL: u64 = 10_000;
const MEMORY_LARGE: u64 = 10_000_000;
const MEMORY_LIMIT_MB: f64 = 20.0;

/// Runs aerobench with `args` (JSON on stdout) to completion and returns the parsed report.
fn aerobench(args: &[&str]) -> Value {
    let out = Command::new(EXE)
        .args(args)
        .env_remove("AEROSPIKE_HOST")
        .env_remove("AEROSPIKE_PORT")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {EXE}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "aerobench {args:?} failed: {:?}\n{text}", out.status);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("aerobench {args:?}: stdout is not JSON: {e}"))
}

/// Peak RSS in bytes of the largest child (or reaped descendant) waited for so far.
///
/// `RUSAGE_CHILDREN`'s `ru_maxrss` is a high-water mark — the largest single process, not a
/// sum — kept across every child this process has reaped, which is why the memory runs come
/// first (before the bigger throughput runs) and the small one before the large one.
///
/// About the server: with `--builtin-server`, `aerobench serve` is a child of aerobench, a
/// grandchild of this process. It is not true that a grandchild never counts: aerobench kills
/// and *reaps* its built-in server at the end of the run, and Linux folds a reaped child's peak
/// into the parent's child high-water mark, so when we reap aerobench the figure becomes
/// max(aerobench, its server). (Checked: a `--builtin-server` put run that makes the server hold
/// ~200 MB reports ~270 MB here.) To measure aerobench alone, the memory runs use a server this
/// process starts itself and reaps only after the last reading, so it never enters the figure.
fn children_max_rss() -> u64 {
    // SAFETY: getrusage only writes into the zeroed struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0, "getrusage: {}", std::io::Error::last_os_error());
    usage.ru_maxrss as u64 * 1024 // kilobytes on Linux
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `aerobench serve --port 0` started by this process (a direct child), killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start() -> Server {
        let (child, port) = serve::start(Command::new(EXE));
        Server { child, port }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn machine() -> (String, usize) {
    let system = sysinfo::System::new_with_specifics(
        sysinfo::RefreshKind::nothing().with_cpu(sysinfo::CpuRefreshKind::nothing()),
    );
    let model = system.cpus().first().map_or_else(|| "unknown CPU".into(), |c| c.brand().trim().to_string());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (model, cores)
}

struct Row {
    run: String,
    column: &'static str,
    label: String,
    op: String,
    calls: u64,
    wall_secs: f64,
    p50_us: f64,
}

impl Row {
    fn ns_per_call(&self) -> f64 {
        self.wall_secs * 1e9 / self.calls as f64
    }
}

/// The no-op cells of one run, matched to the columns asked for. Cells follow the columns'
/// order; two columns may share an id (at --concurrency 1 both no-op columns run 1 in flight),
/// so each column takes the next unused cell with its id and operation.
fn rows(doc: &Value, run: &str, requested: &[&'static str], ops: &[&str]) -> Vec<Row> {
    let columns = doc["columns"].as_array().expect("columns");
    let cells = doc["cells"].as_array().expect("cells");
    assert_eq!(columns.len(), requested.len(), "one column per --clients entry");
    let mut used = vec![false; cells.len()];
    let mut out = Vec::new();
    for (col, &name) in columns.iter().zip(requested) {
        assert!(col["error"].is_null(), "column {name} failed: {}", col["error"]);
        for &op in ops {
            let (i, cell) = cells
                .iter()
                .enumerate()
                .find(|(i, c)| !used[*i] && c["column"] == col["id"] && c["operation"] == op)
                .unwrap_or_else(|| panic!("no {op} cell for column {name}"));
            used[i] = true;
            let count = cell["count"].as_u64().unwrap();
            assert_eq!(count, doc["workload"]["count"].as_u64().unwrap(), "{name}/{op} ran every call");
            assert_eq!(cell["errors"].as_u64(), Some(0), "{name}/{op} had errors");
            out.push(Row {
                run: run.to_string(),
                column: name,
                label: col["label"].as_str().unwrap_or_default().to_string(),
                op: op.to_string(),
                calls: count,
                wall_secs: cell["wall_secs"].as_f64().unwrap(),
                p50_us: cell["latency_us"]["p50"].as_f64().unwrap(),
            });
        }
    }
    out
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument (other than flags) skips nothing here.
    let (model, cores) = machine();
    let mut ok = true;

    // --- Memory flatness (first: see `children_max_rss`). -----------------------------------
    let before = children_max_rss();
    let server = Server::start();
    let port = server.port.to_string();
    let memory_run = |count: u64| -> Value {
        let count = count.to_string();
        aerobench(&[
            "--port",
            &port,
            "--clients",
            "noop",
            "--ops",
            "put,get",
            "--warmup",
            "0",
            "--rounds",
            "1",
            "--format",
            "json",
            "--quiet",
            "--count",
            &count,
        ])
    };
    let small_doc = memory_run(MEMORY_SMALL);
    let small_rss = children_max_rss();
    let started = Instant::now();
    let large_doc = memory_run(MEMORY_LARGE);
    let large_secs = started.elapsed().as_secs_f64();
    let large_rss = children_max_rss();
    drop(server); // reaped only now, after both readings
    for (doc, count) in [(&small_doc, MEMORY_SMALL), (&large_doc, MEMORY_LARGE)] {
        rows(doc, "memory", &["noop"], &["put", "get"]).iter().for_each(|r| assert_eq!(r.calls, count));
    }
    let growth = large_rss.saturating_sub(small_rss);

    // --- Cost per call. ------------------------------------------------------------------------
    let ops = ["put", "get"];
    let mut table = Vec::new();
    for concurrency in [1u32, 50] {
        let c = concurrency.to_string();
        let n = COUNT.to_string();
        let doc = aerobench(&[
            "--builtin-server",
            "--clients",
            "noop,noop-async,py-noop,py-noop-async",
            "--ops",
            "put,get",
            "--warmup",
            "0",
            "--rounds",
            "1",
            "--format",
            "json",
            "--quiet",
            "--count",
            &n,
            "--concurrency",
            &c,
        ]);
        let columns = ["noop", "noop-async", "py-noop", "py-noop-async"];
        table.extend(rows(&doc, &format!("--concurrency {concurrency}"), &columns, &ops));
    }

    println!();
    println!("aerobench harness overhead (release binary, no-op columns, --warmup 0)");
    println!("  machine: {model}, {cores} cores, {} {}", std::env::consts::OS, std::env::consts::ARCH);
    println!();
    println!(
        "  {:<17} {:<14} {:<21} {:<4} {:>11} {:>9} {:>9} {:>7}  < 1 µs/call",
        "run", "column", "label", "op", "calls", "wall s", "ns/call", "p50 µs"
    );
    for r in &table {
        let ns = r.ns_per_call();
        let pass = ns < COST_LIMIT_NS;
        ok &= pass;
        println!(
            "  {:<17} {:<14} {:<21} {:<4} {:>11} {:>9.3} {:>9.1} {:>7.0}  {}",
            r.run,
            r.column,
            r.label,
            r.op,
            thousands(r.calls),
            r.wall_secs,
            ns,
            r.p50_us,
            if pass { "yes" } else { "NO" }
        );
    }
    println!("  ns/call = wall_secs / count of the measured phase, for all calls in flight together.");
    println!("  p50 is the per-call latency histogram (whole µs, rounded, floor 1 µs): 1 means < 1.5 µs.");
    println!();
    let mem_pass = mb(growth) <= MEMORY_LIMIT_MB;
    ok &= mem_pass;
    println!("  memory flatness: --clients noop --ops put,get --warmup 0 against a separate `aerobench serve`");
    println!("  (peak RSS of aerobench alone: getrusage(RUSAGE_CHILDREN).ru_maxrss after each run)");
    println!("  {:<12} {:>12}", "--count", "peak RSS");
    println!("  {:<12} {:>9.1} MB", thousands(MEMORY_SMALL), mb(small_rss));
    println!("  {:<12} {:>9.1} MB   ({large_secs:.1} s)", thousands(MEMORY_LARGE), mb(large_rss));
    println!(
        "  {:<12} {:>+9.1} MB   target ≤ {MEMORY_LIMIT_MB} MB: {}",
        "difference",
        mb(growth),
        if mem_pass { "yes" } else { "NO" }
    );
    if before > 0 {
        println!("  (children reaped before the memory runs peaked at {:.1} MB)", mb(before));
    }
    println!();
    println!("  requirements: {}", if ok { "met" } else { "NOT met" });
    if !ok {
        std::process::exit(1);
    }
}
