//! Cross-check of aerobench's HTTP load generator (the one `--service` drives the apps with)
//! against an independent one, wrk, on the same app: the app floor of `--service batch-count`
//! (uvicorn, one worker, answering from records precomputed at startup, no database), started
//! once by `aerobench serve-app`. At each VU count, pairs of 5 s closed-loop runs alternate, wrk
//! first (`wrk -t1 -c<VUs> -d5s --latency URL`), then `aerobench http-load URL --vus <VUs>
//! --duration 5s`, both on one thread with keep-alive connections asking for the same URL.
//!
//! Each generator's CPU time is the RUSAGE_CHILDREN delta around its process (start-up
//! included, the same yardstick for both); aerobench's own report of its CPU over the slice is
//! printed beside it. Prints requests/s, p50 and CPU µs per request for both, their ratios, and
//! the median over pairs; warns (does not fail: the machine is shared and noisy) when the medians
//! of requests/s or p50 differ by more than 10%, or aerobench's CPU per request is above wrk's.
//!
//! `cargo bench --bench http_crosscheck` (AEROBENCH_BENCH_QUICK=1: one 2 s pair per VU count).
//! Needs wrk (`apt-get install wrk`, `brew install wrk`); without it, says so and exits 0.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

const EXE: &str = env!("CARGO_BIN_EXE_aerobench");
/// The VU counts compared, each with its own pairs.
const VUS: [u32; 2] = [10, 50];
/// Pairs (wrk, aerobench) per VU count, and each run's length.
const PAIRS: usize = 3;
const SLICE: Duration = Duration::from_secs(5);
/// How far (percent) requests/s and p50 may be from wrk's before a warning.
const BOUND_PCT: f64 = 10.0;

/// What one run of a generator gave.
#[derive(Debug, Clone, Copy)]
struct Run {
    requests: u64,
    errors: u64,
    requests_per_s: f64,
    p50_us: f64,
    /// CPU time of the generator's process (RUSAGE_CHILDREN delta), µs.
    cpu_us: f64,
    /// aerobench only: its own report of its CPU time over the slice, µs.
    own_cpu_us: Option<f64>,
}

impl Run {
    fn cpu_per_request(&self) -> f64 {
        self.cpu_us / self.requests.max(1) as f64
    }
}

/// CPU time (user + system) of every child process waited for so far.
fn children_cpu_us() -> f64 {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole rusage into the pointer it is given and reads nothing.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, ru.as_mut_ptr()) };
    assert_eq!(rc, 0, "getrusage(RUSAGE_CHILDREN) failed");
    // SAFETY: getrusage succeeded, so the struct is initialised.
    let ru = unsafe { ru.assume_init() };
    let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    us(ru.ru_utime) + us(ru.ru_stime)
}

/// Runs `cmd` to its end; its stdout and the CPU time it took.
fn measured(mut cmd: Command) -> (String, f64) {
    let before = children_cpu_us();
    let out = cmd.stdin(Stdio::null()).stderr(Stdio::inherit()).output().expect("run the load generator");
    let cpu = children_cpu_us() - before;
    (String::from_utf8_lossy(&out.stdout).into_owned(), cpu)
}

/// A wrk latency (`838.00us`, `1.02ms`, `2.00s`, `1.00m`) in µs.
fn wrk_latency_us(text: &str) -> Option<f64> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        "h" => 3600e6,
        _ => return None,
    };
    Some(number.parse::<f64>().ok()? * scale)
}

fn wrk(url: &str, vus: u32, slice: Duration) -> Run {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t1", &format!("-c{vus}"), &format!("-d{}s", slice.as_secs()), "--latency", url]);
    let (out, cpu_us) = measured(cmd);
    let bad = |what: &str| -> ! { panic!("cannot read wrk's {what} from its output:\n{out}") };
    let mut requests = None;
    let mut requests_per_s = None;
    let mut p50 = None;
    let mut errors = 0;
    for line in out.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.get(1..3) == Some(&["requests", "in"]) {
            requests = words[0].parse::<u64>().ok();
        } else if let Some(rest) = line.strip_prefix("Requests/sec:") {
            requests_per_s = rest.trim().parse::<f64>().ok();
        } else if words.first() == Some(&"50%") {
            p50 = words.get(1).and_then(|w| wrk_latency_us(w));
        } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            errors += rest.trim().parse::<u64>().unwrap_or_else(|_| bad("non-2xx count"));
        } else if let Some(rest) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            errors += rest.split(',').filter_map(|kv| kv.split_whitespace().nth(1)?.parse::<u64>().ok()).sum::<u64>();
        }
    }
    Run {
        requests: requests.unwrap_or_else(|| bad("request count")),
        errors,
        requests_per_s: requests_per_s.unwrap_or_else(|| bad("Requests/sec")),
        p50_us: p50.unwrap_or_else(|| bad("50% latency")),
        cpu_us,
        own_cpu_us: None,
    }
}

fn aerobench(url: &str, vus: u32, slice: Duration) -> Run {
    let mut cmd = Command::new(EXE);
    cmd.args(["http-load", url, "--vus", &vus.to_string(), "--duration", &format!("{}s", slice.as_secs())]);
    let (out, cpu_us) = measured(cmd);
    let doc: Value =
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("http-load printed no JSON ({e}):\n{out}"));
    let num = |k: &str| doc[k].as_f64().unwrap_or_else(|| panic!("no {k} in {doc}"));
    Run {
        requests: doc["requests"].as_u64().unwrap_or_else(|| panic!("no requests in {doc}")),
        errors: doc["errors"].as_u64().unwrap_or_else(|| panic!("no errors in {doc}")),
        requests_per_s: num("requests_per_s"),
        p50_us: num("p50_us"),
        cpu_us,
        own_cpu_us: doc["cpu_us"].as_f64(),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

fn main() {
    if let Err(e) = Command::new("wrk").arg("-v").stdout(Stdio::null()).stderr(Stdio::null()).status()
        && e.kind() == std::io::ErrorKind::NotFound
    {
        println!(
            "http_crosscheck: wrk is not installed, nothing compared. Install it (Debian/Ubuntu: \
             `apt-get install wrk`; macOS: `brew install wrk`) and run again."
        );
        return;
    }
    let quick = std::env::var_os("AEROBENCH_BENCH_QUICK").is_some();
    let (pairs, slice) = if quick { (1, Duration::from_secs(2)) } else { (PAIRS, SLICE) };

    let mut app = Command::new(EXE)
        .args(["serve-app", "--service", "batch-count", "--count", "1000", "--batch-size", "10", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start aerobench serve-app");
    let mut line = String::new();
    BufReader::new(app.stdout.take().expect("stdout")).read_line(&mut line).expect("read serve-app's first line");
    let Some(addr) = line.trim().strip_prefix("listening on ") else {
        let _ = app.kill();
        panic!("serve-app did not start (first line {line:?})");
    };
    let url = format!("http://{addr}/batch-count?i=0");

    println!(
        "HTTP cross-check: the app floor of --service batch-count (uvicorn, 1 worker, batch of 10 precomputed \
         records → JSON count) at {url}; {pairs} pair(s) of {}s runs per VU count, wrk then aerobench, both 1 \
         thread, keep-alive; CPU = the generator process's RUSAGE_CHILDREN delta (aerobench's own report of its \
         slice in brackets)",
        slice.as_secs()
    );
    // Warm the app (and its connections' paths) before the first figure.
    let _ = aerobench(&url, VUS[0], Duration::from_secs(1));

    let mut warnings = Vec::new();
    for vus in VUS {
        let mut runs: Vec<(Run, Run)> = Vec::new();
        for _ in 0..pairs {
            let w = wrk(&url, vus, slice);
            let a = aerobench(&url, vus, slice);
            runs.push((w, a));
        }
        println!("\n{vus} VUs");
        println!(
            "{:<7} {:>10} {:>10} {:>6}   {:>9} {:>9} {:>6}   {:>8} {:>17} {:>6}   {:>6} {:>6}",
            "pair",
            "wrk req/s",
            "ab req/s",
            "ratio",
            "wrk p50",
            "ab p50",
            "ratio",
            "wrk CPU",
            "ab CPU (own)",
            "ratio",
            "wrk er",
            "ab er"
        );
        let row = |name: &str, w: &Run, a: &Run| {
            let own = a.own_cpu_us.map_or("-".to_string(), |c| format!("{:.1}", c / a.requests.max(1) as f64));
            println!(
                "{:<7} {:>10.0} {:>10.0} {:>6.3}   {:>7.0}µs {:>7.0}µs {:>6.3}   {:>6.1}µs {:>8.1}µs ({:>5}) {:>6.3}   {:>6} {:>6}",
                name,
                w.requests_per_s,
                a.requests_per_s,
                a.requests_per_s / w.requests_per_s,
                w.p50_us,
                a.p50_us,
                a.p50_us / w.p50_us,
                w.cpu_per_request(),
                a.cpu_per_request(),
                own,
                a.cpu_per_request() / w.cpu_per_request(),
                w.errors,
                a.errors,
            );
        };
        for (i, (w, a)) in runs.iter().enumerate() {
            row(&(i + 1).to_string(), w, a);
        }
        let med =
            |pick: fn(&Run) -> f64, side: fn(&(Run, Run)) -> &Run| median(runs.iter().map(|r| pick(side(r))).collect());
        let wrk_side: fn(&(Run, Run)) -> &Run = |r| &r.0;
        let ab_side: fn(&(Run, Run)) -> &Run = |r| &r.1;
        let (w_rps, a_rps) = (med(|r| r.requests_per_s, wrk_side), med(|r| r.requests_per_s, ab_side));
        let (w_p50, a_p50) = (med(|r| r.p50_us, wrk_side), med(|r| r.p50_us, ab_side));
        let (w_cpu, a_cpu) = (med(Run::cpu_per_request, wrk_side), med(Run::cpu_per_request, ab_side));
        let ratios = |pick: fn(&Run) -> f64| median(runs.iter().map(|(w, a)| pick(a) / pick(w)).collect());
        println!(
            "{:<7} {:>10.0} {:>10.0} {:>6.3}   {:>7.0}µs {:>7.0}µs {:>6.3}   {:>6.1}µs {:>8.1}µs {:>7} {:>6.3}",
            "median",
            w_rps,
            a_rps,
            ratios(|r| r.requests_per_s),
            w_p50,
            a_p50,
            ratios(|r| r.p50_us),
            w_cpu,
            a_cpu,
            "",
            ratios(Run::cpu_per_request),
        );
        let off = |a: f64, w: f64| ((a / w) - 1.0) * 100.0;
        if off(a_rps, w_rps).abs() > BOUND_PCT {
            warnings.push(format!("{vus} VUs: requests/s {:+.1}% from wrk's (bound ±{BOUND_PCT}%)", off(a_rps, w_rps)));
        }
        if off(a_p50, w_p50).abs() > BOUND_PCT {
            warnings.push(format!("{vus} VUs: p50 {:+.1}% from wrk's (bound ±{BOUND_PCT}%)", off(a_p50, w_p50)));
        }
        if a_cpu > w_cpu {
            warnings.push(format!(
                "{vus} VUs: aerobench's CPU per request {a_cpu:.1} µs is above wrk's {w_cpu:.1} µs ({:+.1}%)",
                off(a_cpu, w_cpu)
            ));
        }
        if runs.iter().any(|(w, a)| w.errors + a.errors > 0) {
            warnings.push(format!("{vus} VUs: requests failed (see the error columns)"));
        }
    }

    // Closing serve-app's stdin stops it and its app.
    drop(app.stdin.take());
    let _ = app.wait();

    println!();
    if warnings.is_empty() {
        println!("within bounds: requests/s and p50 within {BOUND_PCT}% of wrk's, CPU per request at most wrk's");
    }
    for w in &warnings {
        println!("WARNING: {w}");
    }
}
