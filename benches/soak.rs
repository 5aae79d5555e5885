//! Soak: a long mixed load (put, get, batch_get and scan, every column in turn, several rounds)
//! from the aerobench binary against the built-in server, each in its own process, sampling
//! both processes' resident memory once a second. Prints aerobench's and the server's RSS at
//! the start and at the end (and the server's peak), so a leak on either side shows as growth.
//!
//! `cargo bench --bench soak` runs 10 minutes; `AEROBENCH_SOAK_SECS=60 cargo bench --bench soak`
//! a shorter one. `AEROBENCH_SOAK_CLIENTS` picks the columns (default: wire, both Rust columns,
//! aerospike-py async, official C).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const OPERATIONS: u64 = 4;
const ROUNDS: u64 = 3;

/// Resident set size of `pid` in bytes, from `ps` (Linux and macOS alike); `None` once it is gone.
fn rss(pid: u32) -> Option<u64> {
    let out = Command::new("ps").args(["-o", "rss=", "-p", &pid.to_string()]).output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse::<u64>().ok().map(|kb| kb * 1024)
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

    let mut server = Command::new(exe)
        .args(["serve", "--port", "0", "--quiet"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start aerobench serve");
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = line.trim().rsplit(':').next().unwrap().to_string();
    let server_pid = server.id();
    let server_start = rss(server_pid).unwrap_or(0);

    println!(
        "soak: {secs} s of put/get/batch_get/scan, {ROUNDS} rounds + warm-up, columns {clients}, \
         {phase_ms} ms a phase, against the built-in server on port {port}"
    );
    let started = Instant::now();
    let mut bench = Command::new(exe)
        .args(["--host", "127.0.0.1", "--port", &port, "--quiet", "--format", "json", "--count", "2000"])
        .args(["--concurrency", "32", "--rounds", &ROUNDS.to_string(), "--scans", "2"])
        .args(["--duration", &format!("{phase_ms}ms"), "--clients", &clients])
        .env("AEROBENCH_CACHE_DIR", target.join("aerobench-cache"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start aerobench");
    let bench_pid = bench.id();
    // The first sample after the connections are up; the last before the process ends.
    let (mut bench_first, mut bench_last, mut server_peak, mut server_last) = (None, 0u64, server_start, server_start);
    while bench.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_secs(1));
        if let Some(r) = rss(bench_pid) {
            if started.elapsed() >= Duration::from_secs(5) && bench_first.is_none() {
                bench_first = Some(r);
            }
            bench_last = r;
        }
        if let Some(r) = rss(server_pid) {
            server_peak = server_peak.max(r);
            server_last = r;
        }
    }
    let out = bench.wait_with_output().unwrap();
    let elapsed = started.elapsed();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    let calls: u64 = report["cells"].as_array().map_or(0, |c| c.iter().filter_map(|c| c["count"].as_u64()).sum());
    let errors: u64 = report["cells"].as_array().map_or(0, |c| c.iter().filter_map(|c| c["errors"].as_u64()).sum());
    let _ = server.kill();
    let _ = server.wait();

    println!("ran {:.0} s, exit {:?}: {calls} measured calls, {errors} errors", elapsed.as_secs_f64(), out.status.code());
    println!("| process | RSS at start | RSS at end | peak |");
    println!("|---|---|---|---|");
    println!("| aerobench (client) | {} | {} | |", mib(bench_first.unwrap_or(bench_last)), mib(bench_last));
    println!("| aerobench serve | {} | {} | {} |", mib(server_start), mib(server_last), mib(server_peak));
    if !out.status.success() {
        eprintln!("aerobench stderr:\n{}", String::from_utf8_lossy(&out.stderr));
        std::process::exit(1);
    }
}
