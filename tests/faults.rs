//! Faults end to end with the real binary: Ctrl-C and SIGTERM in the middle of a run with a
//! Python worker and the built-in server (exit code, partial JSON, no process left behind),
//! and a server killed in the middle of a run (time to finish, exit code, partial JSON, reasons,
//! calls stuck in a client abandoned).

mod common;

use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use common::{Server, cache_dir, scratch, wait_until};

fn aerobench() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    cmd.env("AEROBENCH_CACHE_DIR", cache_dir()).env_remove("VIRTUAL_ENV");
    cmd
}

fn drain(mut r: impl std::io::Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = r.read_to_string(&mut s);
        s
    })
}

/// Starts `cmd` with no stdin and its stdout and stderr read in the background (a full pipe never
/// stalls it): the child and what it will have printed on each.
fn spawn_drained(cmd: &mut Command) -> (Child, JoinHandle<String>, JoinHandle<String>) {
    let mut child =
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn aerobench");
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    (child, stdout, stderr)
}

/// Waits for `child` at most `limit`; kills it (and fails) when it does not end.
fn wait_or_kill(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    wait_polling(child, limit, what, |_| {})
}

/// Waits for `child` at most `limit`, calling `each` with its pid every 10 ms while it runs;
/// kills it (and fails) when it does not end.
fn wait_polling(child: &mut Child, limit: Duration, what: &str, mut each: impl FnMut(u32)) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        each(child.id());
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("aerobench did not end within {limit:?} {what}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The processes whose parent is `pid` (`pgrep -P`, on Linux and macOS).
fn children_of(pid: u32) -> Vec<u32> {
    let out = Command::new("pgrep").args(["-P", &pid.to_string()]).output().expect("run pgrep");
    String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.trim().parse().ok()).collect()
}

/// True while process `pid` exists (a zombie counts: nobody reaped it yet).
fn alive(pid: u32) -> bool {
    // SAFETY: kill(2) with signal 0 only checks that the process exists.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

/// Waits for `child` at most `limit` like [`wait_or_kill`], adding to `seen` every process whose
/// parent it is while it runs: the pids to check once it is gone (after its exit, its orphans
/// belong to init and no longer show as its children).
fn wait_watching_children(child: &mut Child, limit: Duration, what: &str, seen: &mut Vec<u32>) -> ExitStatus {
    wait_polling(child, limit, what, |pid| note_children(pid, seen))
}

/// Adds the children of `pid` not yet in `seen` to it.
fn note_children(pid: u32, seen: &mut Vec<u32>) {
    for c in children_of(pid) {
        if !seen.contains(&c) {
            seen.push(c);
        }
    }
}

/// Of `pids`, those still alive a few seconds after aerobench ended (a zombie counts: its
/// parent, aerobench, never reaped it).
fn outliving(pids: &[u32]) -> Vec<u32> {
    pids.iter().copied().filter(|&c| !wait_until(Duration::from_secs(5), || !alive(c))).collect()
}

/// True once the live file has a line of `column` with a call counted.
fn measuring(live: &std::path::Path, column: &str) -> bool {
    std::fs::read_to_string(live)
        .unwrap_or_default()
        .lines()
        .any(|l| serde_json::from_str::<Value>(l).is_ok_and(|v| v["column"] == column && v["ops"].as_u64() > Some(0)))
}

fn read_json(path: &std::path::Path, context: &str) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("no report at {}: {e}\n{context}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("report is not JSON: {e}\n{context}"))
}

/// Runs a long benchmark with a Rust and a Python column on the built-in server, sends `signal`
/// once the worker and the server are up and measuring, and checks the exit code, the partial
/// report and that no child process is left.
fn signalled_run(signal: libc::c_int, name: &str, expected_code: i32) {
    let dir = scratch(&format!("faults-{name}"));
    let (out, live) = (dir.join("report.json"), dir.join("live.ndjson"));
    let mut cmd = aerobench();
    cmd.args([
        "--builtin-server",
        "--count",
        "1000",
        "--warmup",
        "0",
        "--stop",
        "fixed",
        "--rounds",
        "1000",
        "--ops",
        "put,get",
    ])
    .args(["--clients", "rust-sync,aerospike-py-sync", "--format", "json", "--interval", "100ms", "--live"])
    .arg(&live)
    .arg("--output")
    .arg(&out);
    let (mut child, stdout, stderr) = spawn_drained(&mut cmd);
    let pid = child.id();
    // The server and the worker are children; wait until the Python column's calls are measured.
    let mut children = Vec::new();
    let started = wait_until(Duration::from_secs(90), || {
        note_children(pid, &mut children);
        children.len() >= 2 && measuring(&live, "aerospike-py-sync")
    });
    assert!(started, "no measured Python calls; children {children:?}");
    assert!(child.try_wait().unwrap().is_none(), "the run ended before the signal");
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, signal) }, 0);
    let status = wait_watching_children(&mut child, Duration::from_secs(60), &format!("after {name}"), &mut children);
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    let context = format!("status {status:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}");
    assert_eq!(status.code(), Some(expected_code), "{name}: exit code\n{context}");
    assert!(stderr.contains(if name == "SIGTERM" { "SIGTERM" } else { "Ctrl-C" }), "{context}");
    let doc = read_json(&out, &context);
    assert_eq!(doc["interrupted"], true, "{context}");
    let measured: u64 = doc["cells"].as_array().unwrap().iter().map(|c| c["count"].as_u64().unwrap()).sum();
    assert!(measured > 0, "the partial report keeps what was measured\n{context}");
    assert!(doc["workload"]["rounds_completed"].as_u64().unwrap() < 1000);
    let left = outliving(&children);
    assert!(left.is_empty(), "{name}: processes {left:?} outlived aerobench\n{context}");
}

#[test]
fn sigterm_ends_with_the_partial_report_exit_143_and_no_process_left() {
    signalled_run(libc::SIGTERM, "SIGTERM", 143);
}

#[test]
fn sigint_ends_with_the_partial_report_exit_130_and_no_process_left() {
    signalled_run(libc::SIGINT, "SIGINT", 130);
}

#[test]
fn a_server_killed_mid_run_ends_the_run_quickly_with_the_partial_report_and_reasons() {
    let (doc, context) = kill_the_server_mid_run("wire,rust-async,aerospike-py-sync");
    let cells = doc["cells"].as_array().unwrap();
    let ok: u64 = cells.iter().map(|c| c["count"].as_u64().unwrap() - c["errors"].as_u64().unwrap()).sum();
    assert!(ok > 0, "what was measured before the server died is kept\n{context}");
    // Nothing measured before the kill is lost: every phase of the rounds completed has its
    // successes in the report.
    let rounds = doc["workload"]["rounds_completed"].as_u64().unwrap();
    for column in ["wire", "rust-async", "aerospike-py-sync"] {
        for op in ["put", "get"] {
            let cell = cells.iter().find(|c| c["column"] == column && c["operation"] == op);
            if rounds > 0 {
                let cell = cell.unwrap_or_else(|| panic!("no {column} {op} cell after {rounds} rounds\n{context}"));
                assert!(cell["count"].as_u64() > cell["errors"].as_u64(), "{cell}");
            }
        }
    }
    let labels: Vec<&str> =
        cells.iter().filter_map(|c| c["failures"].as_object()).flat_map(|f| f.keys().map(String::as_str)).collect();
    assert!(
        labels.iter().any(|l| ["connection refused", "connection lost", "no nodes"].contains(l)),
        "failures are labelled by what happened: {labels:?}\n{context}"
    );
}

#[test]
fn calls_stuck_in_a_python_worker_on_a_dead_server_are_abandoned_and_the_worker_killed() {
    // aerospike-native's calls wait for a node until their timeout once the server is gone: the
    // worker reports what it measured without them, and is killed.
    let (doc, context) = kill_the_server_mid_run("aerospike-native-async");
    let cells = doc["cells"].as_array().unwrap();
    let ok: u64 = cells.iter().map(|c| c["count"].as_u64().unwrap() - c["errors"].as_u64().unwrap()).sum();
    assert!(ok > 0, "what was measured before the server died is kept\n{context}");
    let abandoned: u64 = cells.iter().filter_map(|c| c["failures"]["abandoned"].as_u64()).sum();
    assert!(abandoned > 0, "stuck calls are counted abandoned\n{context}");
}

#[test]
fn the_sdk_columns_on_a_server_killed_mid_run_end_quickly_with_what_they_measured() {
    // The aerospike-sdk columns (not in the default set) meet a dead server like every other:
    // no hang, the partial report, failures labelled, no worker left.
    let (doc, context) = kill_the_server_mid_run("aerospike-sdk-sync,aerospike-sdk-async");
    let cells = doc["cells"].as_array().unwrap();
    for column in ["aerospike-sdk-sync", "aerospike-sdk-async"] {
        let ok: u64 = cells
            .iter()
            .filter(|c| c["column"] == column)
            .map(|c| c["count"].as_u64().unwrap() - c["errors"].as_u64().unwrap())
            .sum();
        assert!(ok > 0, "{column}: what was measured before the server died is kept\n{context}");
    }
}

/// Runs `clients` in rounds of 1 s phases against a built-in server, kills the server once every
/// column's calls are being measured, and checks what every such run must do: end long before the calls'
/// own 30 s timeout with exit 1, the report written and marked incomplete, every failure
/// labelled (abandoned calls as failures, never successes), no worker left. Returns the report
/// and a description.
fn kill_the_server_mid_run(clients: &str) -> (Value, String) {
    let server = Server::start_with(&["--quiet"]);
    let dir = scratch(&format!("faults-server-killed-{}", clients.len()));
    let (out, live) = (dir.join("report.json"), dir.join("live.ndjson"));
    let port = server.port.to_string();
    let mut cmd = aerobench();
    cmd.args([
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--count",
        "500",
        "--warmup",
        "0",
        "--stop",
        "fixed",
        "--rounds",
        "1000",
    ])
    .args(["--duration", "1s", "--ops", "put,get", "--clients", clients, "--timeout-ms", "30000"])
    .args(["--quiet", "--format", "json", "--interval", "100ms", "--live"])
    .arg(&live)
    .arg("--output")
    .arg(&out);
    let (mut child, stdout, stderr) = spawn_drained(&mut cmd);
    let pid = child.id();
    let mut workers = Vec::new();
    let measured = wait_until(Duration::from_secs(90), || {
        note_children(pid, &mut workers);
        !workers.is_empty() && clients.split(',').all(|c| measuring(&live, c))
    });
    assert!(measured, "not every column measured calls; workers {workers:?}");
    assert!(child.try_wait().unwrap().is_none(), "the run ended before the server was killed");
    drop(server);
    let killed = Instant::now();
    let status =
        wait_watching_children(&mut child, Duration::from_secs(90), "after the server was killed", &mut workers);
    let took = killed.elapsed();
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    let context = format!("status {status:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}");
    assert_eq!(status.code(), Some(1), "{context}");
    // Calls stuck inside a client are abandoned once the server is known gone (about a second
    // without a success, or a refused connection), not waited for until their own 30 s
    // timeouts: ending in under half of that holds on any machine that runs the test at all.
    assert!(took < Duration::from_secs(15), "took {took:?} to end after the server died\n{context}");
    eprintln!("{clients}: ended {took:?} after the server was killed");
    assert!(stderr.contains("run incomplete"), "{context}");
    let doc = read_json(&out, &context);
    let incomplete = doc["incomplete"].as_str().unwrap_or_else(|| panic!("no `incomplete`\n{context}"));
    assert!(incomplete.contains("remaining phases were skipped"), "{incomplete}");
    assert!(incomplete.contains("unreachable") || incomplete.contains("no operation succeeded"), "{incomplete}");
    let cells = doc["cells"].as_array().unwrap();
    for cell in cells {
        let failures: u64 = cell["failures"].as_object().map_or(0, |f| f.values().map(|n| n.as_u64().unwrap()).sum());
        assert_eq!(Some(failures), cell["errors"].as_u64(), "every failure labelled, abandoned ones too: {cell}");
    }
    assert!(!workers.is_empty(), "no worker was seen\n{context}");
    let left = outliving(&workers);
    assert!(left.is_empty(), "workers {left:?} outlived aerobench\n{context}");
    (doc, context)
}

/// Runs the Python no-op column with calls of `delay_ms` each and a stall limit of 1 s.
fn slow_python_calls(op: &str, delay_ms: u64) -> (std::process::Output, Value) {
    let delay_us = (delay_ms * 1000).to_string();
    let out = aerobench()
        .args(["--builtin-server", "--clients", "py-noop", "--ops", op, "--count", "2", "--scans", "1"])
        .args(["--warmup", "0", "--rounds", "1", "--timeout-ms", "100", "--stub-delay-us", &delay_us])
        .args(["--quiet", "--format", "json"])
        .env("AEROBENCH_WORKER_STALL_MS", "1000")
        .output()
        .expect("run aerobench");
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}); stderr:\n{}", String::from_utf8_lossy(&out.stderr)));
    (out, doc)
}

#[test]
fn the_stall_limit_follows_the_calls_own_timeout() {
    // A scan has no total timeout: one call of 3 s, longer than the 1 s stall limit, is
    // legitimate while the worker keeps reporting.
    let (out, doc) = slow_python_calls("scan", 3_000);
    let column = &doc["columns"][0];
    assert!(column["error"].is_null(), "a long scan is not a stuck worker: {}", column["error"]);
    assert_eq!(doc["cells"][0]["count"], 1, "{}", String::from_utf8_lossy(&out.stderr));
    // A put has a 100 ms total timeout: a put that takes 3 s means the worker is stuck.
    let (_, doc) = slow_python_calls("put", 3_000);
    let error = doc["columns"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("stopped responding"), "{error}");
}

// ---------------------------------------------------------------------------
// Data safety: foreign records, --force, --cleanup, --ttl.
// ---------------------------------------------------------------------------

/// The aerospike crate, straight to the server: an independent view of the set.
struct Direct {
    runtime: tokio::runtime::Runtime,
    client: aerospike::Client,
}

impl Direct {
    fn connect(port: u16) -> Direct {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let client = runtime
            .block_on(aerospike::Client::new(&aerospike::ClientPolicy::default(), &format!("127.0.0.1:{port}")))
            .expect("connect");
        Direct { runtime, client }
    }

    fn key(set: &str, name: &str) -> aerospike::Key {
        aerospike::Key::new("test", set, aerospike::Value::from(name)).unwrap()
    }

    fn put(&self, set: &str, name: &str) {
        let bins = [aerospike::Bin::new("owner", aerospike::Value::from("someone else"))];
        self.runtime
            .block_on(self.client.put(&aerospike::WritePolicy::default(), &Self::key(set, name), &bins))
            .unwrap();
    }

    /// Records in `set`, by a whole-set scan.
    fn count(&self, set: &str) -> u64 {
        self.runtime.block_on(async {
            let statement = aerospike::Statement::new("test", set, aerospike::Bins::None);
            let rs = self
                .client
                .query(&aerospike::QueryPolicy::default(), aerospike::PartitionFilter::all(), statement)
                .await
                .unwrap();
            let mut stream = rs.into_stream();
            let mut n = 0;
            while let Some(r) = futures::StreamExt::next(&mut stream).await {
                r.unwrap();
                n += 1;
            }
            n
        })
    }

    fn ttl(&self, set: &str, name: &str) -> Option<Duration> {
        let policy = aerospike::ReadPolicy::default();
        let record =
            self.runtime.block_on(self.client.get(&policy, &Self::key(set, name), aerospike::Bins::All)).unwrap();
        record.time_to_live()
    }
}

fn run_on(port: u16, args: &[&str]) -> (std::process::Output, String) {
    let out = aerobench()
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--quiet", "--format", "json"])
        .args(["--rounds", "1", "--warmup", "0", "--set", "shared"])
        .args(args)
        .output()
        .expect("run aerobench");
    let context = format!("status {:?}\n--- stderr ---\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    (out, context)
}

#[test]
fn foreign_records_are_refused_without_force_and_cleanup_deletes_exactly_its_own() {
    let server = Server::start_with(&["--quiet"]);
    let direct = Direct::connect(server.port);
    for i in 0..10 {
        direct.put("shared", &format!("someone-{i}"));
    }
    let columns = "rust-async,aerospike-py-sync,wire";
    let base = ["--count", "200", "--clients", columns, "--ops", "put,get"];

    let (out, context) = run_on(server.port, &base);
    assert_eq!(out.status.code(), Some(2), "refused\n{context}");
    assert!(context.contains("10 records aerobench did not write") && context.contains("--force"), "{context}");
    assert_eq!(direct.count("shared"), 10, "nothing written when refused");

    let mut args = base.to_vec();
    args.extend(["--force", "--cleanup", "--ttl", "600"]);
    let (out, context) = run_on(server.port, &args);
    assert_eq!(out.status.code(), Some(0), "{context}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["records_deleted"], 200, "{context}");
    assert!(doc["warnings"].to_string().contains("--force"), "{}", doc["warnings"]);
    assert_eq!(direct.count("shared"), 10, "only the foreign records are left");

    // --ttl reaches the records, whichever column wrote them last.
    for column in ["rust-async", "aerospike-py-sync", "wire", "official-c", "aerospike-native-sync"] {
        let (out, context) = run_on(
            server.port,
            &["--count", "5", "--clients", column, "--ops", "put", "--no-prewrite", "--force", "--ttl", "600"],
        );
        assert_eq!(out.status.code(), Some(0), "{context}");
        let ttl = direct.ttl("shared", "aerobench-3").expect("a ttl");
        assert!(ttl > Duration::from_secs(500) && ttl <= Duration::from_secs(600), "{column}: {ttl:?}");
    }
    // A run of the same prefix finds only its own records (and the foreign ones, with --force).
    let (out, context) =
        run_on(server.port, &["--count", "3", "--clients", "rust-sync", "--ops", "get", "--force", "--cleanup"]);
    assert_eq!(out.status.code(), Some(0), "{context}");
    assert_eq!(direct.count("shared"), 10 + 2, "records 3 and 4 of the earlier run are not this run's to delete");
}

#[test]
fn cleanup_runs_after_ctrl_c() {
    let server = Server::start_with(&["--quiet"]);
    let direct = Direct::connect(server.port);
    let port = server.port.to_string();
    let (mut child, stdout, stderr) = spawn_drained(
        aerobench()
            .args(["--host", "127.0.0.1", "--port", &port, "--set", "interrupted", "--count", "300", "--warmup", "0"])
            .args([
                "--stop",
                "fixed",
                "--rounds",
                "1000",
                "--clients",
                "rust-sync,aerospike-py-sync",
                "--ops",
                "put,get",
                "--cleanup",
            ])
            .args(["--quiet", "--format", "json"]),
    );
    assert!(wait_until(Duration::from_secs(60), || direct.count("interrupted") == 300), "the records were written");
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) }, 0);
    let status = wait_or_kill(&mut child, Duration::from_secs(20), "after SIGINT");
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    let context = format!("status {status:?}\n--- stderr ---\n{stderr}");
    assert_eq!(status.code(), Some(130), "{context}");
    let doc: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}\n{context}"));
    assert_eq!(doc["records_deleted"], 300, "{context}");
    assert_eq!(direct.count("interrupted"), 0, "{context}");
}

// ---------------------------------------------------------------------------
// --verify against a server that corrupts values.
// ---------------------------------------------------------------------------

#[test]
fn verify_catches_values_a_corrupting_server_changed_and_passes_a_sound_one() {
    let columns = "rust-async,aerospike-py-sync,official-c,aerospike-native-async";
    for (corrupt, expect_mismatches) in [(true, true), (false, false)] {
        let server = if corrupt {
            Server::start_with(&["--quiet", "--corrupt-one-in", "100"])
        } else {
            Server::start_with(&["--quiet"])
        };
        let (out, context) = run_on(
            server.port,
            &["--count", "300", "--clients", columns, "--ops", "put,get,batch_get,scan", "--scans", "1", "--verify"],
        );
        assert_eq!(out.status.code(), Some(if corrupt { 1 } else { 0 }), "{context}");
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        for cell in doc["cells"].as_array().unwrap().iter().filter(|c| c["operation"] != "put") {
            let mismatches = cell["failures"]["value mismatch"].as_u64().unwrap_or(0);
            let what = format!("{} {}: {}", cell["column"], cell["operation"], cell["failures"]);
            if expect_mismatches {
                assert!(mismatches > 0, "corrupted values caught: {what}");
                assert_eq!(mismatches, cell["errors"].as_u64().unwrap(), "{what}");
            } else {
                assert_eq!(cell["errors"], 0, "{what}");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Keys of other runs under the same prefix, and a server lost before measuring.
// ---------------------------------------------------------------------------

#[test]
fn sharded_and_unsharded_runs_on_one_set_recognise_each_others_keys() {
    let server = Server::start_with(&["--quiet"]);
    let direct = Direct::connect(server.port);
    let base = ["--count", "200", "--clients", "rust-sync", "--ops", "put,get"];
    let (out, context) = run_on(server.port, &base);
    assert_eq!(out.status.code(), Some(0), "unsharded\n{context}");
    // Shard 0 of 2 after the unsharded run: its keys are aerobench's own, under the same prefix.
    let mut sharded = base.to_vec();
    sharded.extend(["--shard", "0/2", "--cleanup"]);
    let (out, context) = run_on(server.port, &sharded);
    assert_eq!(out.status.code(), Some(0), "a sharded run after an unsharded one starts\n{context}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["records_deleted"], 200, "--cleanup deletes this shard's records\n{context}");
    assert_eq!(direct.count("shared"), 200, "and only those: the unsharded run's are left");
    // Shard 1 of 4 leaves its records; then an unsharded run finds the shard's keys its own too.
    let (out, context) = run_on(server.port, &[&base[..], &["--shard", "1/4"]].concat());
    assert_eq!(out.status.code(), Some(0), "{context}");
    let (out, context) = run_on(server.port, &base);
    assert_eq!(out.status.code(), Some(0), "an unsharded run after a sharded one starts\n{context}");
    // Someone else's record is still refused, and named with the prefix family.
    direct.put("shared", "someone-1");
    let (out, context) = run_on(server.port, &[&base[..], &["--shard", "0/2"]].concat());
    assert_eq!(out.status.code(), Some(2), "{context}");
    assert!(context.contains("holds 1 record aerobench did not write"), "{context}");
}

#[test]
fn a_server_lost_during_the_prewrite_says_so_on_stderr() {
    let server = Server::start_with(&["--quiet"]);
    let dir = scratch("faults-prewrite-lost");
    let out = dir.join("report.json");
    let port = server.port.to_string();
    let mut cmd = aerobench();
    cmd.args(["--host", "127.0.0.1", "--port", &port, "--count", "2000000", "--clients", "rust-async"])
        .args(["--quiet", "--format", "json", "--output"])
        .arg(&out);
    let (mut child, _stdout, stderr) = spawn_drained(&mut cmd);
    // Kill the server once the untimed pre-write is under way (far from its 2,000,000 records).
    assert!(wait_until(Duration::from_secs(60), || server.objects("aerobench") >= 5000), "the pre-write started");
    assert!(child.try_wait().unwrap().is_none(), "the run ended before the server was killed");
    drop(server);
    let status = wait_or_kill(&mut child, Duration::from_secs(60), "after the server was killed in the pre-write");
    let stderr = stderr.join().unwrap();
    let context = format!("status {status:?}\n--- stderr ---\n{stderr}");
    assert_eq!(status.code(), Some(1), "{context}");
    // Before the exit, stderr says what happened, in words that name the cause.
    let why = stderr
        .lines()
        .find(|l| l.starts_with("aerobench: run incomplete:"))
        .unwrap_or_else(|| panic!("no reason on stderr\n{context}"));
    eprintln!("stderr said: {why}");
    assert!(why.contains("writing the 2000000 records"), "{why}");
    assert!(why.contains("before measuring"), "{why}");
    assert!(why.contains("the server stopped answering"), "{why}");
    assert!(why.contains("connection lost") || why.contains("connection refused"), "{why}");
    assert!(!stderr.contains("--namespace"), "a lost server is not a namespace to check\n{context}");
    let doc = read_json(&out, &context);
    common::assert_schema_valid(&doc);
    let incomplete = doc["incomplete"].as_str().unwrap_or_else(|| panic!("no `incomplete`\n{context}"));
    assert!(incomplete.contains("the server stopped answering"), "{incomplete}");
    assert!(!doc.to_string().contains("check --namespace"), "the JSON hint names the real cause too");
}
