//! Cross-check: aerobench's average latency and CPU time per call for each sync Python client must
//! agree with a plain Python loop around the same client (same server, keys, bins and policies)
//! that times each call and reads its own CPU time: latency within 5%, CPU within 10%.
//! Runs both alternately, several rounds, against one built-in server and compares the medians
//! of the round averages. Where `taskset` exists, the server and the clients all run on CPU 0:
//! on a virtual machine a wake-up that crosses CPUs costs tens of microseconds, and whether a
//! call pays it depends on where the scheduler put each thread, so unpinned one-at-a-time
//! latencies flip between two levels from phase to phase — noise that would swamp a 5%
//! comparison. On one CPU they repeat within about 1%.
//!
//! Exits 1 when a figure is outside its bound (the last line says which), so a run can gate.
//!
//! `cargo bench --bench python_crosscheck` (set AEROBENCH_BENCH_QUICK=1 for a short run).

#[path = "shared/serve.rs"]
mod serve;

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

#[path = "shared/python_env.rs"]
mod python_env;

use python_env::{cache_dir, python};

const EXE: &str = env!("CARGO_BIN_EXE_aerobench");

/// `taskset -c CPU` in front of a command, when taskset exists.
fn pinned(cpu: &str, program: &str) -> Command {
    let can_pin = Command::new("taskset").arg("-V").output().is_ok_and(|o| o.status.success());
    if can_pin {
        let mut c = Command::new("taskset");
        c.args(["-c", cpu, program]);
        c
    } else {
        Command::new(program)
    }
}

/// (put avg µs, get avg µs, put CPU µs/call, get CPU µs/call).
type Figures = (f64, f64, f64, f64);

/// A figure's name, how to pick it out of [`Figures`], and whether it is a CPU figure.
type Pick = (&'static str, fn(&Figures) -> f64, bool);

fn aerobench_avgs(port: u16, column: &str, count: u64) -> Figures {
    let out = pinned("0", EXE)
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--clients", column])
        .args(["--ops", "put,get", "--count", &count.to_string(), "--rounds", "1", "--format", "json", "--quiet"])
        .output()
        .expect("run aerobench");
    let r: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let cell = |op: &str| r["cells"].as_array().unwrap().iter().find(|c| c["operation"] == op).unwrap().clone();
    let avg = |op: &str| cell(op)["latency_us"]["avg"].as_f64().unwrap();
    let cpu = |op: &str| cell(op)["cpu"]["cpu_us_per_op"].as_f64().unwrap();
    (avg("put"), avg("get"), cpu("put"), cpu("get"))
}

fn plain_avgs(port: u16, client: &str, package_dir: &PathBuf, count: u64) -> Figures {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python/plain_timing_loop.py");
    let out = pinned("0", &python())
        .args([script, client, "127.0.0.1", &port.to_string(), &count.to_string()])
        .env("PYTHONPATH", package_dir)
        .env("AEROSPIKE_NO_UVLOOP", "1")
        .output()
        .expect("run the plain timing loop");
    let r: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let f = |k: &str| r[k].as_f64().unwrap();
    (f("put"), f("get"), f("put_cpu"), f("get_cpu"))
}

fn main() {
    let quick = std::env::var_os("AEROBENCH_BENCH_QUICK").is_some() || std::env::args().any(|a| a == "--quick");
    let (count, rounds) = if quick { (2_000, 3) } else { (3_000, 9) };
    let (mut server, port) = serve::start(pinned("0", EXE));

    println!(
        "Cross-check: aerobench vs a plain Python timing loop; median over {rounds} alternating rounds of the \
         avg latency (µs) of {count} calls"
    );
    println!("{:<24} {:>8} {:>12} {:>12} {:>8}", "client", "figure", "aerobench", "plain loop", "diff");
    let clients = [
        ("official-c", "official", "aerospike-19.3.0"),
        ("aerospike-py-sync", "aerospike-py", "aerospike-py-0.14.4"),
        ("aerospike-native-sync", "aerospike-native", "aerospike-native-1.0.0"),
    ];
    let mut worst: f64 = 0.0;
    let mut worst_cpu: f64 = 0.0;
    let mut outside = Vec::new();
    for (column, client, folder) in clients {
        // The first aerobench run also installs the package into the cache the plain loop uses.
        let mut ab = Vec::new();
        let mut plain = Vec::new();
        for _ in 0..rounds {
            ab.push(aerobench_avgs(port, column, count));
            plain.push(plain_avgs(port, client, &cache_dir().join(folder), count));
        }
        let median = |v: &[Figures], pick: fn(&Figures) -> f64| {
            let mut x: Vec<f64> = v.iter().map(pick).collect();
            x.sort_by(f64::total_cmp);
            x[x.len() / 2]
        };
        let figures: [Pick; 4] =
            [("put", |f| f.0, false), ("get", |f| f.1, false), ("put CPU", |f| f.2, true), ("get CPU", |f| f.3, true)];
        for (name, pick, is_cpu) in figures {
            let (a, p) = (median(&ab, pick), median(&plain, pick));
            let diff = (a - p) / p * 100.0;
            let bound = if is_cpu { CPU_BOUND_PCT } else { LATENCY_BOUND_PCT };
            if is_cpu {
                worst_cpu = worst_cpu.max(diff.abs());
            } else {
                worst = worst.max(diff.abs());
            }
            let mark = if diff.abs() > bound { "  OUTSIDE" } else { "" };
            if diff.abs() > bound || !diff.is_finite() {
                outside.push(format!("{column} {name} {diff:+.1}%"));
            }
            println!("{column:<24} {name:>8} {a:>12.1} {p:>12.1} {diff:>+7.1}%{mark}");
        }
    }
    println!(
        "largest difference: latency {worst:.1}% (bound: within {LATENCY_BOUND_PCT}%), CPU per call {worst_cpu:.1}% \
         (bound: within {CPU_BOUND_PCT}%)"
    );
    let _ = server.kill();
    let _ = server.wait();
    if !outside.is_empty() {
        println!("FAILED: {} figure(s) outside their bound: {}", outside.len(), outside.join(", "));
        std::process::exit(1);
    }
    println!("passed: every figure within its bound");
}

/// How far aerobench's average latency may be from the plain loop's, in percent.
const LATENCY_BOUND_PCT: f64 = 5.0;
/// How far aerobench's CPU per call may be from the plain loop's, in percent.
const CPU_BOUND_PCT: f64 = 10.0;
