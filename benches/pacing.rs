//! Pacing precision under `--rate`: how long after it was due each call starts (its start lag),
//! for every column kind, at 2,000 calls/s of gets against one built-in server. Targets at p99:
//! within 50 µs for the Rust, wire and sync Python columns, within 200 µs for the async Python
//! columns (their event loop is woken by a Rust thread at the due time). Prints p50, p99 and max
//! per column and exits 1 when a p99 misses its target. First it prints the machine's own
//! figure: a bare thread waiting the same way (sleep, then spin the last 200 µs) for 2,000
//! deadlines a second, with no client and no server; when that misses 50 µs at p99, the machine
//! is too busy for the targets to mean anything (the columns' figures are printed all the same).
//!
//! `cargo bench --bench pacing` (set AEROBENCH_BENCH_QUICK=1, or pass --quick, for 1 s phases;
//! AEROBENCH_PACING_CLIENTS=a,b to run only some columns).

#[path = "shared/serve.rs"]
mod serve;

use std::process::Command;

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

/// Start lags (µs, sorted) of a bare thread that waits for 2,000 deadlines a second for `secs`:
/// sleep until 200 µs before each, then spin.
fn bare_thread_lags(secs: f64) -> Vec<f64> {
    use std::time::{Duration, Instant};
    let interval = Duration::from_micros(500);
    let start = Instant::now() + interval;
    let n = (secs * 2000.0) as u32;
    let mut lags = Vec::with_capacity(n as usize);
    for k in 0..n {
        let due = start + interval * k;
        let wake = due - Duration::from_micros(200);
        let now = Instant::now();
        if wake > now {
            std::thread::sleep(wake - now);
        }
        while Instant::now() < due {
            std::hint::spin_loop();
        }
        lags.push(Instant::now().duration_since(due).as_secs_f64() * 1e6);
    }
    lags.sort_by(f64::total_cmp);
    lags
}

fn main() {
    let quick = std::env::var_os("AEROBENCH_BENCH_QUICK").is_some() || std::env::args().any(|a| a == "--quick");
    let (duration, rounds) = if quick { ("1s", "2") } else { ("4s", "2") };
    let only: Option<Vec<String>> =
        std::env::var("AEROBENCH_PACING_CLIENTS").ok().map(|s| s.split(',').map(str::to_owned).collect());
    let columns: Vec<(&str, f64)> =
        COLUMNS.into_iter().filter(|(c, _)| only.as_ref().is_none_or(|o| o.iter().any(|x| x == c))).collect();

    let bare = bare_thread_lags(if quick { 1.0 } else { 2.0 });
    let at = |q: f64| bare[((bare.len() - 1) as f64 * q).round() as usize];
    println!(
        "machine: a bare thread waiting for 2,000 deadlines/s starts p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs late{}",
        at(0.5),
        at(0.99),
        at(1.0),
        if at(0.99) > 50.0 { " — too busy for the targets below to mean much" } else { "" }
    );

    let (mut server, port) = serve::start(Command::new(EXE));

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
