//! Soak: a long mixed load (put, get, batch_get and scan, every column in turn, several rounds)
//! from the aerobench binary against the built-in server, each in its own process, sampling
//! both processes' resident memory once a second. Prints aerobench's and the server's RSS at
//! the start and at the end (and the server's peak), so a leak on either side shows as growth.
//!
//! `cargo bench --bench soak` runs 10 minutes; `AEROBENCH_SOAK_SECS=60 cargo bench --bench soak`
//! a shorter one. `AEROBENCH_SOAK_CLIENTS` picks the columns (default: wire, both Rust columns,
//! aerospike-py async, official C).

#[path = "shared/serve.rs"]
mod serve;

use std::process::Command;
use std::time::{Duration, Instant};

const OPERATIONS: u64 = 4;
const ROUNDS: u64 = 3;

/// Resident set size of `pid` and of its child processes (aerobench's Python workers), in
/// bytes, from `ps` (Linux and macOS alike); `None` once it is gone or a zombie.
fn rss(pid: u32) -> Option<(u64, u64)> {
    let out = Command::new("ps").args(["-eo", "pid=,ppid=,rss="]).output().ok()?;
    let (mut own, mut children) = (0u64, 0u64);
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<u64> = line.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        if let [p, parent, kb] = f[..] {
            if p == u64::from(pid) {
                own = kb * 1024;
            } else if parent == u64::from(pid) {
                children += kb * 1024;
            }
        }
    }
    (own > 0).then_some((own, children))
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1 << 20) as f64)
}

fn main() {
    let secs: u64 = std::env::var("AEROBENCH_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(600);
    let clients = std::env::var("AEROBENCH_SOAK_CLIENTS")
        .unwrap_or_else(|_| "wire,rust-sync,rust-async,aerospike-py-async,official-c".to_string());
    let columns = clients.split(',').count() as u64;
    // Warm-up round plus measured rounds, every column, every operation.
    let phases = columns * OPERATIONS * (ROUNDS + 1);
    let phase_ms = (secs * 1000 / phases).max(100);
    let exe = env!("CARGO_BIN_EXE_aerobench");
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");

    let (mut server, port) = serve::start(Command::new(exe));
    let port = port.to_string();
    let server_pid = server.id();
    let server_start = rss(server_pid).map_or(0, |r| r.0);

    println!(
        "soak: {secs} s of put/get/batch_get/scan, {ROUNDS} rounds + warm-up, columns {clients}, \
         {phase_ms} ms a phase, against the built-in server on port {port}"
    );
    let started = Instant::now();
    // Files, not pipes: the report is larger than a pipe holds, and nobody reads it until the end.
    let report_path = target.join(format!("soak-report-{}.json", std::process::id()));
    let stderr_path = target.join(format!("soak-stderr-{}.txt", std::process::id()));
    let mut bench = Command::new(exe)
        .args(["--host", "127.0.0.1", "--port", &port, "--quiet", "--format", "json", "--count", "2000"])
        .args(["--concurrency", "32", "--rounds", &ROUNDS.to_string(), "--scans", "2"])
        .args(["--duration", &format!("{phase_ms}ms"), "--clients", &clients])
        .env("AEROBENCH_CACHE_DIR", target.join("aerobench-cache"))
        .stdout(std::fs::File::create(&report_path).expect("create the report file"))
        .stderr(std::fs::File::create(&stderr_path).expect("create the stderr file"))
        .spawn()
        .expect("start aerobench");
    let bench_pid = bench.id();
    // The first sample after the connections are up; the last before the process ends.
    let (mut bench_first, mut bench_last, mut server_peak, mut server_last) =
        (None, (0u64, 0u64), server_start, server_start);
    let status = loop {
        if let Some(status) = bench.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_secs(1));
        if let Some(r) = rss(bench_pid) {
            if started.elapsed() >= Duration::from_secs(5) && bench_first.is_none() {
                bench_first = Some(r);
            }
            // Workers end before aerobench does: keep their last figure while they ran.
            bench_last = (r.0, if r.1 > 0 { r.1 } else { bench_last.1 });
        }
        if let Some((r, _)) = rss(server_pid) {
            server_peak = server_peak.max(r);
            server_last = r;
        }
    };
    let elapsed = started.elapsed();
    let stdout = std::fs::read(&report_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let _ = std::fs::remove_file(&report_path);
    let _ = std::fs::remove_file(&stderr_path);
    let report: serde_json::Value = serde_json::from_slice(&stdout).unwrap_or(serde_json::Value::Null);
    let calls: u64 = report["cells"].as_array().map_or(0, |c| c.iter().filter_map(|c| c["count"].as_u64()).sum());
    let errors: u64 = report["cells"].as_array().map_or(0, |c| c.iter().filter_map(|c| c["errors"].as_u64()).sum());
    let _ = server.kill();
    let _ = server.wait();

    println!("ran {:.0} s, exit {:?}: {calls} measured calls, {errors} errors", elapsed.as_secs_f64(), status.code());
    println!("| process | RSS at start | RSS at end | peak |");
    println!("|---|---|---|---|");
    let first = bench_first.unwrap_or(bench_last);
    println!("| aerobench (client) | {} | {} | |", mib(first.0), mib(bench_last.0));
    println!("| aerobench's Python workers | {} | {} | |", mib(first.1), mib(bench_last.1));
    println!("| aerobench serve | {} | {} | {} |", mib(server_start), mib(server_last), mib(server_peak));
    if !status.success() {
        eprintln!("aerobench stderr:\n{stderr}");
        std::process::exit(1);
    }
}
