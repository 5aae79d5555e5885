//! Cross-check of what a client costs the process around it, for the scenario users ask about:
//! batch reads of 720 keys × 8 float bins, 8 calls in flight under asyncio (aerospike-py's
//! AsyncClient, and the official client through run_in_executor), with a pure-Python thread
//! competing. aerobench's CPU per call (alone and beside the competitor, whose own CPU both
//! leave out), loop-gap p99 and competitor speed against an independent
//! script (`benches/python/bystander_check.py`) that measures the same quantities without
//! aerobench's shim. Alternating runs against one built-in server; medians are compared.
//!
//! Each figure has a bound it must agree within ([`BOUNDS_PCT`], printed beside it); the run
//! exits 1 when one is outside (the last line says which), so it can gate.
//!
//! `cargo bench --bench bystander_crosscheck` (set AEROBENCH_BENCH_QUICK=1 for a short run).

#[path = "shared/serve.rs"]
mod serve;

use std::process::{Command, Stdio};

use serde_json::Value;

#[path = "shared/python_env.rs"]
mod python_env;

use python_env::{cache_dir, python};

const EXE: &str = env!("CARGO_BIN_EXE_aerobench");
const BATCH: u64 = 720;
const IN_FLIGHT: u32 = 8;

/// Measured rounds in aerobench, passes of each kind in the script.
const ROUNDS: u32 = 3;

/// (CPU µs per call alone, CPU µs per call beside the competitor, loop-gap p99 µs, competitor
/// speed over solo).
type Figures = (f64, f64, f64, f64);

/// A figure's name, how to pick it out of [`Figures`], and how far (percent) aerobench's figure
/// may be from the script's.
type Pick = (&'static str, fn(&Figures) -> f64, f64);

/// The bounds, in percent, of CPU per call (alone, beside the competitor), loop-gap p99 and the
/// competitor's speed. The competitor's speed is set by which thread the OS hands the GIL to next
/// and varies by half from run to run on either side, hence its wide bound.
const BOUNDS_PCT: [f64; 4] = [20.0, 20.0, 20.0, 60.0];

fn aerobench(port: u16, column: &str, count: u64, compete: bool) -> Value {
    let mut cmd = Command::new(EXE);
    cmd.args(["--host", "127.0.0.1", "--port", &port.to_string(), "--clients", column, "--ops", "batch_get"])
        .args(["--count", &count.to_string(), "--batch-size", &BATCH.to_string(), "--bins", "8"])
        .args(["--bin-type", "float", "--concurrency", &IN_FLIGHT.to_string(), "--rounds", &ROUNDS.to_string()])
        .args(["--no-prewrite", "--format", "json", "--quiet"]);
    if compete {
        cmd.arg("--cpu-competitor");
    }
    let out = cmd.output().expect("run aerobench");
    let r: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    r["cells"][0].clone()
}

fn aerobench_figures(port: u16, column: &str, count: u64) -> Figures {
    let alone = aerobench(port, column, count, false);
    let loaded = aerobench(port, column, count, true);
    (
        alone["cpu"]["cpu_us_per_op"].as_f64().unwrap(),
        loaded["cpu"]["cpu_us_per_op"].as_f64().unwrap(),
        loaded["loop_starvation_us"]["p99"].as_f64().unwrap_or(f64::NAN),
        loaded["competitor"]["fraction"].as_f64().unwrap_or(f64::NAN),
    )
}

fn script_figures(port: u16, client: &str, folder: &str, count: u64) -> Figures {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python/bystander_check.py");
    let out = Command::new(python())
        .args([script, client, "127.0.0.1", &port.to_string(), &count.to_string(), &BATCH.to_string()])
        .args([IN_FLIGHT.to_string(), ROUNDS.to_string()])
        .env("PYTHONPATH", cache_dir().join(folder))
        .env("AEROSPIKE_NO_UVLOOP", "1")
        .output()
        .expect("run the independent script");
    let r: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
    (f("cpu_us_per_op"), f("cpu_us_per_op_loaded"), f("gap_p99_us"), f("competitor"))
}

fn main() {
    let quick = std::env::var_os("AEROBENCH_BENCH_QUICK").is_some() || std::env::args().any(|a| a == "--quick");
    // 80 batch calls a phase (40 quick): a few hundred loop-gap samples over the rounds, enough
    // for a p99 rather than the largest of a handful.
    let (count, runs) = if quick { (28_800, 3) } else { (57_600, 5) };
    let (mut server, port) = serve::start(Command::new(EXE));
    // The records both sides read: 8 float bins, written once.
    let status = Command::new(EXE)
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--clients", "rust-sync", "--ops", "put"])
        .args(["--count", &count.to_string(), "--bins", "8", "--bin-type", "float", "--rounds", "1", "--quiet"])
        .args(["--format", "json"])
        .stdout(Stdio::null())
        .status()
        .expect("write the records");
    assert!(status.success(), "writing the records failed");

    println!(
        "Cross-check: batch_get of {BATCH} keys × 8 float bins, {IN_FLIGHT} in flight; median of {runs} alternating \
         runs, aerobench against an independent script"
    );
    println!("{:<22} {:>18} {:>12} {:>12} {:>8} {:>7}", "column", "figure", "aerobench", "script", "diff", "bound");
    let mut outside = Vec::new();
    for (column, client, folder) in [
        ("aerospike-py-async", "aerospike-py", "aerospike-py-0.14.4"),
        ("official-c-executor", "official", "aerospike-19.3.0"),
    ] {
        let (mut ab, mut sc) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            ab.push(aerobench_figures(port, column, count));
            sc.push(script_figures(port, client, folder, count));
        }
        let median = |v: &[Figures], pick: fn(&Figures) -> f64| {
            let mut x: Vec<f64> = v.iter().map(pick).collect();
            x.sort_by(f64::total_cmp);
            x[x.len() / 2]
        };
        let picks: [Pick; 4] = [
            ("CPU µs / call", |f| f.0, BOUNDS_PCT[0]),
            ("… beside competitor", |f| f.1, BOUNDS_PCT[1]),
            ("loop gap p99 µs", |f| f.2, BOUNDS_PCT[2]),
            ("competitor speed", |f| f.3, BOUNDS_PCT[3]),
        ];
        for (name, pick, bound) in picks {
            let (a, s) = (median(&ab, pick), median(&sc, pick));
            let diff = (a - s) / s * 100.0;
            // NaN (a figure missing on one side) is outside too.
            let ok = diff.abs() <= bound;
            if !ok {
                outside.push(format!("{column} {name} {diff:+.1}%"));
            }
            let mark = if ok { "" } else { "  OUTSIDE" };
            println!("{column:<22} {name:>18} {a:>12.2} {s:>12.2} {diff:>+7.1}% {:>6}%{mark}", format!("±{bound}"));
        }
    }
    let _ = server.kill();
    let _ = server.wait();
    if !outside.is_empty() {
        println!("FAILED: {} figure(s) outside their bound: {}", outside.len(), outside.join(", "));
        std::process::exit(1);
    }
    println!("passed: every figure within its bound");
}
