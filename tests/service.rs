//! End-to-end checks of `--service`: each Python column's client inside a real ASGI app (real
//! uvicorn, the real client packages) against the built-in server, loaded over HTTP by aerobench
//! itself. The no-op client with a known delay checks the figures; a handler that raises and a
//! worker that is killed show as errors by reason; no app process outlives the run.

mod common;

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use common::run_with_timeout;

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// The tests here time things or count processes: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn aerobench(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    cmd.args(["--builtin-server", "--format", "json", "--quiet"]).args(args);
    cmd.env_remove("AEROSPIKE_HOST").env_remove("AEROSPIKE_PORT");
    cmd.env("AEROBENCH_CACHE_DIR", common::cache_dir());
    cmd
}

fn cells<'a>(doc: &'a Value, column: &str) -> Vec<&'a Value> {
    doc["service"]["cells"].as_array().unwrap().iter().filter(|c| c["column"] == column).collect()
}

/// Every process, as (pid, ppid, command line).
fn processes() -> Vec<(u32, u32, String)> {
    let out = Command::new("ps").args(["-eo", "pid=,ppid=,args="]).output().expect("ps runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let pid = parts.next()?.parse().ok()?;
            let ppid = parts.next()?.parse().ok()?;
            Some((pid, ppid, parts.collect::<Vec<_>>().join(" ")))
        })
        .collect()
}

fn alive(pid: u32) -> bool {
    processes().iter().any(|(p, _, _)| *p == pid)
}

/// The ready workers of each app whose run folder is under `scratch` (the run's TMPDIR).
fn ready_workers(scratch: &std::path::Path) -> Vec<Vec<u32>> {
    std::fs::read_dir(scratch)
        .into_iter()
        .flatten()
        .flatten()
        .map(|dir| {
            std::fs::read_dir(dir.path())
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|f| f.file_name().to_str()?.strip_prefix("ready-")?.parse().ok())
                .collect()
        })
        .collect()
}

/// Adds to `seen` the launchers of the apps whose run folders are under `scratch` (their command
/// lines name their spec there) and every child of theirs.
fn add_app_processes(scratch: &std::path::Path, seen: &mut Vec<u32>) {
    let needle = scratch.display().to_string();
    let ps = processes();
    let launchers: Vec<u32> = ps.iter().filter(|(_, _, a)| a.contains(&needle)).map(|(p, _, _)| *p).collect();
    for (pid, ppid, _) in &ps {
        if (launchers.contains(pid) || launchers.contains(ppid)) && !seen.contains(pid) {
            seen.push(*pid);
        }
    }
}

/// Waits (at most 2 minutes) until `apps` apps have `workers` ready workers each; returns them.
fn wait_ready(scratch: &std::path::Path, apps: usize, workers: usize, seen: &mut Vec<u32>) -> Vec<Vec<u32>> {
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        add_app_processes(scratch, seen);
        let ready = ready_workers(scratch);
        if ready.len() == apps && ready.iter().all(|r| r.len() == workers) {
            return ready;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the apps did not start with {workers} workers each: {:?}", ready_workers(scratch));
}

#[test]
fn every_python_column_serves_every_scenario() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let columns = "aerospike-py-sync,aerospike-py-async,official-c,official-c-executor,\
                   aerospike-native-sync,aerospike-native-async,aerospike-sdk-sync,aerospike-sdk-async";
    for scenario in ["get-json", "batch-count", "batch-walk", "batch-numpy", "batch-gather"] {
        let cmd = aerobench(&[
            "--service",
            scenario,
            "--clients",
            columns,
            "--bin-type",
            "mixed",
            "--count",
            "60",
            "--batch-size",
            "6",
            "--gather",
            "3",
            "--vus",
            "2",
            "--rounds",
            "1",
            "--duration",
            "300ms",
        ]);
        let out = run_with_timeout(cmd, Duration::from_secs(400));
        assert!(out.success(), "{scenario}: {}", out.describe());
        let doc: Value = serde_json::from_str(&out.stdout).unwrap();
        common::assert_schema_valid(&doc);
        let service = &doc["service"];
        assert_eq!(service["scenario"], scenario);
        let ids: Vec<&str> = doc["columns"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
        assert_eq!(ids[0], "app-floor", "{ids:?}");
        assert_eq!(ids.len(), 9, "{ids:?}");
        for id in ids {
            let c = cells(&doc, id);
            assert_eq!(c.len(), 1, "{scenario}/{id}: {c:?}");
            let cell = c[0];
            assert!(cell["requests"].as_u64().unwrap() > 0, "{scenario}/{id}: {cell}");
            assert_eq!(cell["errors"], 0, "{scenario}/{id}: {cell}");
            assert!(f(&cell["latency_us"]["p50"]) >= f(&cell["handler_us"]["p50"]), "{scenario}/{id}: {cell}");
            if id != "app-floor" {
                assert!(f(&cell["handler_us"]["p50"]) >= f(&cell["client_us"]["p50"]), "{scenario}/{id}: {cell}");
                assert!(cell["over_floor_cpu_us"].is_number(), "{scenario}/{id}: {cell}");
            } else {
                assert!(cell.get("client_us").is_none(), "{cell}");
            }
            assert!(cell["requests_per_core"].as_f64().unwrap() > 0.0, "{scenario}/{id}: {cell}");
            assert!(cell["peak_rss_bytes"].as_u64().unwrap() > 1 << 20, "{scenario}/{id}: {cell}");
        }
    }
}

#[test]
fn a_client_with_a_known_delay_gives_consistent_figures() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // 20 ms per call: at 4 and 8 VUs, requests/s ≈ VUs / latency (Little's law), and latency ≥
    // handler ≥ client ≥ 20 ms.
    let cmd = aerobench(&[
        "--service",
        "batch-count",
        "--clients",
        "py-noop-async",
        "--stub-delay-us",
        "20000",
        "--vus",
        "4,8",
        "--rounds",
        "2",
        "--duration",
        "1s",
    ]);
    let out = run_with_timeout(cmd, Duration::from_secs(300));
    assert!(out.success(), "{}", out.describe());
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    common::assert_schema_valid(&doc);
    for cell in cells(&doc, "py-noop-async") {
        let vus = f(&cell["step"]);
        let latency_s = f(&cell["latency_us"]["avg"]) / 1e6;
        let rps = f(&cell["requests_per_sec"]);
        let little = vus / latency_s;
        assert!((rps / little - 1.0).abs() < 0.25, "Little's law: {rps} req/s against {little} ({cell})");
        let (p50, handler, client) =
            (f(&cell["latency_us"]["p50"]), f(&cell["handler_us"]["p50"]), f(&cell["client_us"]["p50"]));
        assert!(p50 >= handler && handler >= client && client >= 20_000.0, "{cell}");
        assert!(f(&cell["client_share"]) > 0.5, "{cell}");
        assert!(rps < vus / 0.020 * 1.05, "faster than the delay allows: {cell}");
    }
    // An open loop never goes above its rate.
    let cmd = aerobench(&[
        "--service",
        "get-json",
        "--clients",
        "py-noop-async",
        "--stub-delay-us",
        "2000",
        "--rate",
        "50,100",
        "--rounds",
        "1",
        "--duration",
        "1s",
    ]);
    let out = run_with_timeout(cmd, Duration::from_secs(300));
    assert!(out.success(), "{}", out.describe());
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["service"]["load"], "open");
    for cell in cells(&doc, "py-noop-async") {
        let rate = f(&cell["step"]);
        let sent = cell["requests"].as_u64().unwrap() + cell["errors"].as_u64().unwrap();
        assert!(sent as f64 <= rate * 1.0 + 1.0, "{sent} requests in 1 s at {rate}/s: {cell}");
        assert!(f(&cell["requests_per_sec"]) <= rate * 1.05, "{cell}");
    }
}

#[test]
fn a_handler_that_raises_is_an_error_by_reason_and_fails_the_run() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut cmd = aerobench(&[
        "--service",
        "batch-count",
        "--clients",
        "py-noop-async",
        "--vus",
        "2",
        "--rounds",
        "1",
        "--duration",
        "300ms",
    ]);
    cmd.env("AEROBENCH_STUB_UNSUPPORTED", "batch_get");
    let out = run_with_timeout(cmd, Duration::from_secs(120));
    assert_eq!(out.status.and_then(|s| s.code()), Some(1), "{}", out.describe());
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    let cell = cells(&doc, "py-noop-async")[0];
    assert_eq!(cell["requests"], 0, "{cell}");
    assert!(cell["errors_by_reason"]["HTTP 500"].as_u64().unwrap() > 0, "{cell}");
    let samples = cell["error_samples"].to_string();
    assert!(samples.contains("not supported"), "{samples}");
    // The floor makes no database call: it still serves.
    let floor = cells(&doc, "app-floor")[0];
    assert_eq!(floor["errors"], 0, "{floor}");
}

#[test]
fn a_killed_worker_shows_as_errors_and_no_process_outlives_the_run() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = common::scratch("service-kill");
    let mut cmd = aerobench(&[
        "--service",
        "get-json",
        "--clients",
        "py-noop-async",
        "--stub-delay-us",
        "1000",
        "--app-workers",
        "2",
        "--vus",
        "4",
        "--rounds",
        "3",
        "--duration",
        "1s",
    ]);
    // The apps' run folders (and so their launchers' command lines) under this test's scratch.
    cmd.env("TMPDIR", &scratch);
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let mut seen: Vec<u32> = Vec::new();
    let ready = wait_ready(&scratch, 2, 2, &mut seen);
    let killed = ready[1][0];
    // SAFETY: kill(2) on a process this test found; no memory involved.
    unsafe { libc::kill(killed as i32, libc::SIGKILL) };
    // The processes seen, once more after the kill (the replacement worker included).
    std::thread::sleep(Duration::from_millis(500));
    add_app_processes(&scratch, &mut seen);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let doc: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    // The app the worker belonged to (the floor's or the column's) names it, and its cells count
    // the death as an error by reason.
    let apps = doc["service"]["columns"].as_array().unwrap();
    let app = apps
        .iter()
        .find(|c| c["lost_workers"].to_string().contains(&format!("worker {killed} died")))
        .unwrap_or_else(|| panic!("no app names worker {killed}: {apps:?}"));
    let id = app["id"].as_str().unwrap();
    let errors: u64 =
        cells(&doc, id).iter().map(|c| c["errors_by_reason"]["app worker died"].as_u64().unwrap_or(0)).sum();
    assert!(errors >= 1, "{}", doc["service"]["cells"]);
    // Two workers answer as fast as one does: no answer waits for the client's delayed ACK (about
    // 40 ms on Linux), which it would without TCP_NODELAY on uvicorn's shared socket.
    for cell in doc["service"]["cells"].as_array().unwrap() {
        assert!(f(&cell["latency_us"]["p50"]) < 20_000.0, "{cell}");
    }
    // Every process of both apps is gone.
    let left: Vec<u32> = seen.iter().copied().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "still running after the run: {left:?} of {seen:?}");
}

#[test]
fn bad_service_options_say_what_to_do() {
    for (args, expected) in [
        (&["--service", "get-json", "--clients", "rust-async"][..], "drop it from --clients"),
        (&["--service", "get-json", "--vus", "50,10"][..], "must rise"),
        (&["--service", "get-json", "--verify"][..], "drop --verify"),
        (&["--service", "get-json", "--app-work", "gpu:1"][..], "matmul:N"),
        (&["--vus", "10"][..], "--service"),
        (&["--rate", "10,20", "--clients", "noop"][..], "is for --service"),
    ] {
        let out = aerobench(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn ctrl_c_stops_every_app_and_keeps_what_was_measured() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = common::scratch("service-interrupt");
    let mut cmd = aerobench(&[
        "--service",
        "get-json",
        "--clients",
        "py-noop-async",
        "--stub-delay-us",
        "1000",
        "--vus",
        "2,4,8",
        "--rounds",
        "3",
        "--duration",
        "1s",
    ]);
    cmd.env("TMPDIR", &scratch);
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let mut seen: Vec<u32> = Vec::new();
    wait_ready(&scratch, 2, 1, &mut seen);
    // Into the measured rounds of the first step, then Ctrl-C.
    std::thread::sleep(Duration::from_secs(3));
    add_app_processes(&scratch, &mut seen);
    // SAFETY: kill(2) on the child this test started; no memory involved.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert_eq!(doc["interrupted"], true);
    assert!(!doc["service"]["cells"].as_array().unwrap().is_empty(), "nothing kept: {}", doc["service"]);
    let left: Vec<u32> = seen.iter().copied().filter(|p| alive(*p)).collect();
    assert!(!seen.is_empty() && left.is_empty(), "still running after Ctrl-C: {left:?} of {seen:?}");
}

/// `--profile` in a service run: after the last step, one sampled slice per app column with every
/// worker of the app sampled by py-spy and their samples merged into one profile; the app floor
/// is not profiled.
#[test]
fn profile_samples_every_app_worker_and_merges_them() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = common::scratch("service-profile");
    let mut cmd = aerobench(&[
        "--service",
        "get-json",
        "--clients",
        "py-noop-async",
        "--app-workers",
        "2",
        "--vus",
        "4",
        "--rounds",
        "1",
        "--duration",
        "500ms",
        "--profile",
        "--profile-time",
        "2s",
    ]);
    cmd.arg("--profile-dir").arg(&dir);
    let out = run_with_timeout(cmd, Duration::from_secs(300));
    assert!(out.success(), "{}", out.describe());
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    common::assert_schema_valid(&doc);
    let profiles = &doc["profiles"];
    assert!(profiles["notes"].as_array().unwrap().is_empty(), "{profiles}");
    let all = profiles["profiles"].as_array().unwrap();
    let columns: Vec<&str> = all.iter().map(|p| p["column"].as_str().unwrap()).collect();
    assert_eq!(columns, ["py-noop-async"], "one profile per app column, the floor left out: {profiles}");
    let p = &all[0];
    assert_eq!(p["operation"], "get-json", "{p}");
    assert_eq!(p["workers"], 2, "both app workers' samples merged: {p}");
    assert!(p["samples"].as_u64().unwrap() > 0, "{p}");
    let shares = p["shares"].as_object().unwrap();
    let sum: f64 = shares.values().map(f).sum();
    assert!((sum - 1.0).abs() < 1e-6, "shares add up to {sum}: {shares:?}");
    let folded = std::fs::read_to_string(dir.join(p["folded"].as_str().unwrap())).unwrap();
    let in_folded: u64 = folded.lines().map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap()).sum();
    assert_eq!(in_folded, p["samples"].as_u64().unwrap(), "the folded stacks hold the profile's samples");
    assert!(folded.contains("uvicorn"), "the app workers' stacks: {folded}");
    let svg = std::fs::read_to_string(dir.join(p["flamegraph"].as_str().unwrap())).unwrap();
    assert!(svg.contains("<svg"), "a flame graph");
    let o = &p["overhead"];
    assert!(f(&o["unprofiled_ops_per_sec"]) > 0.0 && f(&o["profiled_ops_per_sec"]) > 0.0, "{o}");
    // The measured cells are the rounds' only: one cell per column, one round each.
    for id in ["app-floor", "py-noop-async"] {
        assert_eq!(cells(&doc, id).len(), 1, "{id}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
