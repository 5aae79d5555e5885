//! Pacing precision under `--rate`: how long after it was due each call starts, for every column
//! kind, at 2,000 calls/s of gets against one built-in server. Two figures per column: the start
//! lag (actual start minus due time, every call) and the pacing lag, which counts each call from
//! when it could start: a call due while the column's one call in flight was still running (the
//! server or the client was slow) starts late however precise the wait, and is counted as
//! queued instead. Targets, on the pacing lag at p99: within 50 µs for the Rust, wire and sync
//! Python columns, within 200 µs for the async Python columns (their event loop is woken by a
//! Rust thread at the due time). Exits 1 when one is missed.
//!
//! The machine's own figures come first and last: a bare thread waiting the same way (sleep,
//! then spin the last 200 µs) for 2,000 deadlines a second, with no client and no server, before
//! the run; and, during the run, a thread that only sleeps (1 ms at a time, no spin) and records
//! how late each sleep ends. On a VM whose idle cores wake slowly those tails are the floor under
//! every column's p99: when they are long, the columns' misses say more about the host than
//! about the pacing.
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
    let at = |q: f64| quantile(&bare, q);
    println!(
        "machine: a bare thread waiting for 2,000 deadlines/s starts p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs late{}",
        at(0.5),
        at(0.99),
        at(1.0),
        if at(0.99) > 50.0 { " — too busy for the targets below to mean much" } else { "" }
    );

    let (mut server, port) = serve::start(Command::new(EXE));

    // A sleeping thread beside the run: how late the machine wakes a thread that asked to be
    // woken, meanwhile.
    let running = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let probe = {
        let running = running.clone();
        std::thread::spawn(move || {
            let mut late = Vec::new();
            while running.load(std::sync::atomic::Ordering::Relaxed) {
                let asked = std::time::Instant::now() + std::time::Duration::from_millis(1);
                std::thread::sleep(std::time::Duration::from_millis(1));
                late.push(std::time::Instant::now().saturating_duration_since(asked).as_secs_f64() * 1e6);
            }
            late.sort_by(f64::total_cmp);
            late
        })
    };

    let clients: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
    let began = std::time::Instant::now();
    let out = Command::new(EXE)
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--clients", &clients.join(",")])
        .args(["--ops", "get", "--rate", RATE, "--duration", duration, "--rounds", rounds])
        .args(["--format", "json", "--quiet"])
        .output()
        .expect("run aerobench");
    let (wall, cpu) = (began.elapsed().as_secs_f64(), children_cpu_secs());
    let _ = server.kill();
    let _ = server.wait();
    running.store(false, std::sync::atomic::Ordering::Relaxed);
    let woke = probe.join().expect("probe thread");
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));

    println!(
        "At --rate {RATE}, get, {rounds} rounds of {duration} per column, built-in server. start lag: actual start \
         minus due time; queued: calls due while the call before was still running; pacing lag: start lag counted \
         from when each call could start (the target applies to it)"
    );
    println!(
        "{:<24} {:>7} {:>24} {:>7} {:>24} {:>7}",
        "column", "calls", "start lag p50/p99/max", "queued", "pacing lag p50/p99/max", "target"
    );
    let mut missed = Vec::new();
    for (column, target) in &columns {
        let cell =
            report["cells"].as_array().unwrap().iter().find(|c| c["column"] == *column && c["operation"] == "get");
        let Some(open) = cell.map(|c| &c["open_loop"]).filter(|o| o["pacing_lag_us"].is_object()) else {
            println!("{column:<24} no open-loop figures (did the column connect?)");
            missed.push(format!("{column}: no figures"));
            continue;
        };
        let three = |k: &str| {
            let f = |q: &str| open[k][q].as_f64().unwrap_or(f64::NAN);
            (format!("{:.1}/{:.1}/{:.1} µs", f("p50"), f("p99"), f("max")), f("p99"))
        };
        let calls = cell.and_then(|c| c["count"].as_u64()).unwrap_or(0);
        let ((start, _), (pacing, p99)) = (three("start_lag_us"), three("pacing_lag_us"));
        let queued = open["queued_calls"].as_u64().unwrap_or(0);
        let ok = p99 <= *target;
        println!(
            "{column:<24} {calls:>7} {start:>24} {queued:>7} {pacing:>24} {:>4.0} µs {}",
            target,
            if ok { "ok" } else { "MISSED" }
        );
        if !ok {
            missed.push(format!("{column}: pacing lag p99 {p99:.1} µs over {target:.0} µs"));
        }
    }
    let at = |q: f64| quantile(&woke, q);
    println!(
        "machine during the run: {} sleeps of 1 ms ended p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, max {:.1} µs late",
        woke.len(),
        at(0.5),
        at(0.99),
        at(0.999),
        at(1.0)
    );
    if let Some(cpu) = cpu {
        println!(
            "aerobench and its Python workers used {cpu:.1} CPU-seconds in {wall:.1} s ({:.2} cores on average, \
             warm-up and set-up included)",
            cpu / wall
        );
    }
    if !missed.is_empty() {
        eprintln!("pacing lag over target: {}", missed.join("; "));
        std::process::exit(1);
    }
}

/// The `q` quantile of `sorted` (NaN when it is empty).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted.get(((sorted.len().max(1) - 1) as f64 * q).round() as usize).copied().unwrap_or(f64::NAN)
}

/// CPU time (user and system) of the children waited for so far: the aerobench run.
fn children_cpu_secs() -> Option<f64> {
    #[cfg(unix)]
    {
        // SAFETY: getrusage fills the struct it is given and reads nothing else.
        let usage = unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            (libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) == 0).then_some(usage)
        }?;
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        Some(secs(usage.ru_utime) + secs(usage.ru_stime))
    }
    #[cfg(not(unix))]
    None
}
