//! Pacing precision under `--rate`: how long after it was due each call starts (its start lag),
//! for every column kind, at 2,000 calls/s of gets against one built-in server. Targets at p99:
//! within 50 µs for the Rust, wire and sync Python columns, within 200 µs for the async Python
//! columns (their event loop is woken by a Rust thread at the due time). Prints p50, p99 and max
//! per column and exits 1 when a p99 misses its target.
//!
//! `cargo bench --bench pacing` (set AEROBENCH_BENCH_QUICK=1, or pass --quick, for 1 s phases;
//! AEROBENCH_PACING_CLIENTS=a,b to run only some columns).

use std::process::{Command, Stdio};

use serde_json::Value;

const EXE: &str = env!("CARGO_BIN_EXE_aerobench");

/// Every column kind, and its start-lag target at p99 in microseconds.
const COLUMNS: [(&str, f64); 9] = [
    ("wire", 50.0),
    ("rust-sync", 50.0),
    ("rust-async", 50.0),
    ("official-c", 50.0),
    ("aerospike-py-sync", 50.0),
    ("aerospike-native-sync", 50.0),
    ("aerospike-py-async", 200.0),
    ("aerospike-native-async", 200.0),
    ("official-c-executor", 200.0),
];

const RATE: &str = "2000";

fn main() {
    let quick = std::env::var_os("AEROBENCH_BENCH_QUICK").is_some() || std::env::args().any(|a| a == "--quick");
    let (duration, rounds) = if quick { ("1s", "2") } else { ("4s", "2") };
    let only: Option<Vec<String>> =
        std::env::var("AEROBENCH_PACING_CLIENTS").ok().map(|s| s.split(',').map(str::to_owned).collect());
    let columns: Vec<(&str, f64)> =
        COLUMNS.into_iter().filter(|(c, _)| only.as_ref().is_none_or(|o| o.iter().any(|x| x == c))).collect();

    let mut server = Command::new(EXE)
        .args(["serve", "--port", "0", "--quiet"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start aerobench serve");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(server.stdout.take().unwrap()), &mut line).unwrap();
    let port: u16 = line.trim().rsplit(':').next().unwrap().parse().unwrap();

    let clients: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
    let out = Command::new(EXE)
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--clients", &clients.join(",")])
        .args(["--ops", "get", "--rate", RATE, "--duration", duration, "--rounds", rounds])
        .args(["--format", "json", "--quiet"])
        .output()
        .expect("run aerobench");
    let _ = server.kill();
    let _ = server.wait();
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));

    println!(
        "Start lag (actual start minus due time) at --rate {RATE}, get, {rounds} rounds of {duration} per column, \
         built-in server"
    );
    println!(
        "{:<24} {:>8} {:>10} {:>10} {:>10} {:>10} {:>8}",
        "column", "calls", "lag p50", "lag p99", "lag max", "target", ""
    );
    let mut missed = Vec::new();
    for (column, target) in &columns {
        let cell =
            report["cells"].as_array().unwrap().iter().find(|c| c["column"] == *column && c["operation"] == "get");
        let Some(lag) = cell.and_then(|c| c["open_loop"]["start_lag_us"].as_object()) else {
            println!("{column:<24} no open-loop figures (did the column connect?)");
            missed.push(format!("{column}: no figures"));
            continue;
        };
        let f = |k: &str| lag[k].as_f64().unwrap_or(f64::NAN);
        let calls = cell.and_then(|c| c["count"].as_u64()).unwrap_or(0);
        let ok = f("p99") <= *target;
        println!(
            "{column:<24} {calls:>8} {:>7.1} µs {:>7.1} µs {:>7.1} µs {:>7.0} µs {:>8}",
            f("p50"),
            f("p99"),
            f("max"),
            target,
            if ok { "ok" } else { "MISSED" }
        );
        if !ok {
            missed.push(format!("{column}: p99 {:.1} µs over {target:.0} µs", f("p99")));
        }
    }
    if !missed.is_empty() {
        eprintln!("start lag over target: {}", missed.join("; "));
        std::process::exit(1);
    }
}
