//! End-to-end tests of the `aerobench` command line: the real binary, run as a child process,
//! against its built-in server (or a server, a fake server or no server the test controls).
//! What a user sees: the tables, the JSON document and its schema, markdown files, exit codes
//! (0 ok, 1 some operation failed, 2 usage or unreachable server), messages, Ctrl-C, env vars.

mod common;
use common::assert_schema_valid;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{FromRawFd as _, OwnedFd};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use serde_json::Value;

use common::{Server, TimedOutput, run_with_timeout};

/// The seed layout's tables (`--layout seed`).
const TABLE_TITLES: [&str; 4] = [
    "Avg Latency (ms) — lower is better",
    "Throughput (ops/sec) — higher is better",
    "p50 Latency (ms) — lower is better",
    "p99 Latency (ms) — lower is better",
];
const BUILTIN_MARKER: &str = "aerobench built-in in-memory server";

// ---------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------

/// `aerobench` with `args`, a clean environment as far as aerobench cares (no
/// AEROSPIKE_HOST/PORT leaking in from the developer's shell, no NO_COLOR).
fn aerobench(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    cmd.args(args).env_remove("AEROSPIKE_HOST").env_remove("AEROSPIKE_PORT").env_remove("NO_COLOR");
    cmd
}

/// Runs aerobench to completion (killed after `limit`), stdout and stderr captured (not terminals).
fn run(args: &[&str], limit: Duration) -> (TimedOutput, Duration) {
    let started = Instant::now();
    let out = run_with_timeout(aerobench(args), limit);
    let took = started.elapsed();
    assert!(!out.timed_out, "aerobench {args:?} still running after {limit:?}\n{}", out.describe());
    (out, took)
}

fn code(out: &TimedOutput) -> Option<i32> {
    out.status.and_then(|s| s.code())
}

/// The whole of stdout as exactly one JSON document (serde_json rejects anything after it
/// except whitespace).
fn parse_json(stdout: &str, context: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("stdout is not one JSON document: {e}\n{context}"))
}

fn cells(doc: &Value) -> &Vec<Value> {
    doc["cells"].as_array().expect("cells is an array")
}

fn cell<'a>(doc: &'a Value, column: &str, op: &str) -> &'a Value {
    cells(doc)
        .iter()
        .find(|c| c["column"] == column && c["operation"] == op)
        .unwrap_or_else(|| panic!("no cell {column}/{op} in {:#}", doc["cells"]))
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an unsigned integer: {v}"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn decode_histogram(text: &str) -> Histogram<u64> {
    let bytes = STANDARD.decode(text).unwrap_or_else(|e| panic!("histogram is not padded standard base64: {e}"));
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .unwrap_or_else(|e| panic!("histogram is not an HDR V2 histogram: {e:?}"))
}

fn has_ansi(s: &str) -> bool {
    s.contains('\u{1b}')
}

/// A port nothing listens on (bound, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A fresh path in the temp directory for this test.
fn temp_path(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    std::env::temp_dir().join(format!("aerobench-cli-{}-{nanos}-{name}", std::process::id()))
}

fn drain(mut r: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Waits for `child` up to `limit`; kills it and panics (with `what`) if it is still running.
fn wait_or_kill(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: aerobench still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Joins a drain thread, giving up after a few seconds (a killed grandchild may hold the pipe).
fn join_drain(h: JoinHandle<String>) -> String {
    let until = Instant::now() + Duration::from_secs(5);
    while !h.is_finished() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    if h.is_finished() { h.join().unwrap_or_default() } else { "<output not closed>".into() }
}

/// Checks what every successful JSON report must hold, cell by cell: histogram decodes and
/// counts the successful operations, percentiles are ordered, errors add up.
fn assert_cells_consistent(doc: &Value) {
    for c in cells(doc) {
        let name = format!("{}/{}", c["column"], c["operation"]);
        let count = u(&c["count"]);
        let errors = u(&c["errors"]);
        assert!(errors <= count, "{name}: errors {errors} > count {count}");
        let by_reason: u64 = c["errors_by_reason"].as_object().unwrap().values().map(u).sum();
        assert_eq!(by_reason, errors, "{name}: errors_by_reason does not add up to errors");
        let hist = decode_histogram(c["histogram"].as_str().unwrap());
        assert_eq!(hist.len(), count - errors, "{name}: histogram holds the successful operations");
        let lat = &c["latency_us"];
        let (min, p50, p99, max) = (f(&lat["min"]), f(&lat["p50"]), f(&lat["p99"]), f(&lat["max"]));
        assert!(min <= p50 && p50 <= p99 && p99 <= max, "{name}: min {min} p50 {p50} p99 {p99} max {max}");
        if count > errors {
            assert!(min > 0.0, "{name}: latencies are positive");
            // The histogram (ns) is the source of the summary (µs), within HDR's 0.1 % precision.
            let hp50 = hist.value_at_quantile(0.5) as f64 / 1_000.0;
            assert!((hp50 - p50).abs() <= p50 * 0.002 + 0.01, "{name}: histogram p50 {hp50} vs reported {p50}");
            let wall = f(&c["wall_secs"]);
            assert!(wall > 0.0, "{name}: wall time");
            // Throughput is successful calls over the summed wall time of the rounds.
            let ops = f(&c["ops_per_sec"]);
            let expected = (count - errors) as f64 / wall;
            assert!((ops - expected).abs() <= expected * 0.001, "{name}: ops/s {ops} vs {expected}");
            // Closed loops: the time spent in calls cannot exceed wall time × calls in flight.
            let column = doc["columns"].as_array().unwrap().iter().find(|k| k["id"] == c["column"]).unwrap();
            let in_flight = f(&column["in_flight"]);
            let busy = f(&lat["avg"]) / 1e6 * (count - errors) as f64;
            assert!(busy <= wall * in_flight * 1.02 + 0.001, "{name}: {busy} s of calls in {wall} s × {in_flight}");
        }
        // Every measured cell says what its calls cost (getrusage exists on every Unix).
        if count > errors && cfg!(unix) {
            let cpu = &c["cpu"];
            assert!(cpu["cpu_us_per_op"].as_f64().is_some_and(|x| x >= 0.0), "{name}: {cpu}");
        }
        // The rounds add up to the cell.
        let rounds = c["rounds"].as_array().unwrap();
        assert_eq!(rounds.iter().map(|r| u(&r["count"])).sum::<u64>(), count, "{name}: rounds add up");
        let walls: f64 = rounds.iter().map(|r| f(&r["wall_secs"])).sum();
        assert!((walls - f(&c["wall_secs"])).abs() < 1e-6, "{name}: round walls add up");
    }
}

// ---------------------------------------------------------------------------
// Normal runs against the built-in server.
// ---------------------------------------------------------------------------

/// The native Rust columns: no Python needed, fast, always available.
const RUST: &str = "rust-sync,rust-async";

/// Column labels of a run with `args` (taken from its JSON report, so the tests follow the
/// wording the report code chooses).
fn labels(args: &[&str]) -> Vec<String> {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let (out, _) = run(&all, Duration::from_secs(30));
    assert_eq!(code(&out), Some(0), "{}", out.describe());
    let doc = parse_json(&out.stdout, &out.describe());
    doc["columns"].as_array().unwrap().iter().map(|c| c["label"].as_str().unwrap().to_string()).collect()
}

#[test]
fn default_table_run_prints_one_table_per_operation_that_fits_100_columns() {
    let args = ["--builtin-server", "--count", "200", "--concurrency", "8", "--rounds", "3", "--clients", RUST];
    let mut cmd = aerobench(&args);
    cmd.env("COLUMNS", "100");
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    assert_eq!(code(&out), Some(0), "{}", out.describe());
    let stdout = &out.stdout;
    let labels = labels(&args);
    assert_eq!(labels.len(), 2, "{labels:?}");
    assert_ne!(labels[0], labels[1], "the two columns need distinct rows");
    let titles: Vec<String> = ["put", "get", "batch_get", "scan"].iter().map(|op| format!("{op} — ")).collect();
    let pos: Vec<usize> =
        titles.iter().map(|t| stdout.find(t.as_str()).unwrap_or_else(|| panic!("{t}\n{stdout}"))).collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "tables out of order: {pos:?}");
    assert!(stdout.contains("× 3 rounds per client"), "{stdout}");
    for label in &labels {
        // A row: the label, then its calls in flight.
        let rows = stdout
            .lines()
            .filter(|l| {
                l.strip_prefix(label.as_str())
                    .is_some_and(|rest| rest.trim_start().starts_with(|c: char| c.is_ascii_digit()))
            })
            .count();
        assert_eq!(rows, 8, "a row for {label:?} in each table and each CPU cost table\n{stdout}");
    }
    // The baseline (the first column, as the official client does not run) and what is compared.
    assert!(stdout.contains("ops/s vs Rust crate"), "missing the ratio column\n{stdout}");
    assert!(stdout.contains("baseline"), "{stdout}");
    // The rounds went on until the verdicts settled (at most 3): each table says how many ran.
    assert!(stdout.contains("against Rust crate in the rounds both ran"), "{stdout}");
    assert!(stdout.contains("confidence sequence"), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("Client") && l.trim_end().ends_with("rounds")), "{stdout}");
    assert!(stdout.contains(BUILTIN_MARKER), "built-in server not flagged\n{stdout}");
    let widest = stdout.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(widest <= 100, "a line of {widest} characters with COLUMNS=100\n{stdout}");
    assert!(!has_ansi(stdout), "ANSI escapes in stdout that is not a terminal\n{stdout:?}");
    assert!(!has_ansi(&out.stderr), "ANSI escapes in stderr that is not a terminal\n{:?}", out.stderr);
    assert!(!stdout.contains("Errors"), "a clean run shows no error table\n{stdout}");
}

#[test]
fn json_is_one_schema_valid_document_with_consistent_counts() {
    // 250 records in batches of 100: batch_get needs ceil(250/100) = 3 calls, the last short;
    // three rounds of each.
    let (out, _) = run(
        &[
            "--builtin-server",
            "--min-phase-calls",
            "0",
            "--min-phase-time",
            "0",
            "--rounds",
            "3",
            "--count",
            "250",
            "--concurrency",
            "8",
            "--batch-size",
            "100",
            "--scans",
            "3",
            "--clients",
            RUST,
            "--format",
            "json",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(code(&out), Some(0), "{}", out.describe());
    let doc = parse_json(&out.stdout, &out.describe());
    assert_schema_valid(&doc);
    assert!(!out.stdout.contains('\u{1b}'));

    assert_eq!(doc["server"]["builtin"], true);
    assert!(doc["server"]["address"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert_eq!(doc["workload"]["count"], 250);
    assert_eq!(doc["workload"]["concurrency"], 8);
    assert_eq!(doc["workload"]["operations"], serde_json::json!(["put", "get", "batch_get", "scan"]));
    let ids: Vec<&str> = doc["columns"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["rust-sync", "rust-async"]);
    for c in doc["columns"].as_array().unwrap() {
        assert!(c["error"].is_null(), "column failed: {c}");
    }
    let in_flight: Vec<u64> = doc["columns"].as_array().unwrap().iter().map(|c| u(&c["in_flight"])).collect();
    assert_eq!(in_flight, [1, 8]);
    assert_eq!(doc["baseline"], "rust-sync");
    assert_eq!(doc["workload"]["rounds"], 3);
    assert_eq!(doc["workload"]["rounds_completed"], 3);
    assert_eq!(doc["workload"]["histogram_unit"], "ns");

    // One ratio per operation and metric: rust-async against the baseline, with three rounds.
    let ratios = doc["ratios"].as_array().unwrap();
    assert_eq!(ratios.len(), 4 * 5, "{ratios:#?}");
    for r in ratios {
        assert_eq!((r["column"].as_str(), r["baseline"].as_str()), (Some("rust-async"), Some("rust-sync")));
        let verdict = r["verdict"].as_str().unwrap();
        if r["metric"] == "ops_per_sec" || r["metric"] == "ops_per_cpu_sec" {
            assert_eq!(r["per_round"].as_array().unwrap().len(), 3, "{r}");
            let (low, high, speedup) = (f(&r["low"]), f(&r["high"]), f(&r["speedup"]));
            assert!(low <= speedup && speedup <= high, "{r}");
            let m = f(&doc["min_effect"]);
            let expected = if m > 0.0 && low >= 1.0 / (1.0 + m) && high <= 1.0 + m {
                "within_min_effect"
            } else if low >= 1.0 + m && low > 1.0 {
                "faster"
            } else if high <= 1.0 / (1.0 + m) && high < 1.0 {
                "slower"
            } else {
                "no_clear_difference"
            };
            assert_eq!(verdict, expected, "{r}");
            assert!(r["text"].as_str().unwrap().contains('('), "{r}");
        } else {
            // 8 against 1 call in flight: latency is not compared.
            assert_eq!(verdict, "not_comparable", "{r}");
            assert!(r["reason"].as_str().unwrap().contains("in flight"), "{r}");
        }
    }

    assert_eq!(cells(&doc).len(), 8, "one cell per column and operation");
    for id in &ids {
        assert_eq!(u(&cell(&doc, id, "put")["count"]), 3 * 250);
        assert_eq!(u(&cell(&doc, id, "get")["count"]), 3 * 250);
        let batch = cell(&doc, id, "batch_get");
        assert_eq!(u(&batch["count"]), 3 * 250u64.div_ceil(100));
        assert_eq!(u(&batch["records"]), 3 * 250, "every record found once per round");
        let scan = cell(&doc, id, "scan");
        assert_eq!(u(&scan["count"]), 3 * 3);
        assert_eq!(u(&scan["records"]), 3 * 3 * 250, "rounds × scans × count");
        for c in [cell(&doc, id, "put"), cell(&doc, id, "get"), batch, scan] {
            let rounds: Vec<u64> = c["rounds"].as_array().unwrap().iter().map(|r| u(&r["round"])).collect();
            assert_eq!(rounds, [1, 2, 3], "{c}");
        }
        assert!(f(&scan["records_per_sec"]) > 0.0);
        assert!(cell(&doc, id, "put")["records"].is_null());
    }
    for c in cells(&doc) {
        assert_eq!(u(&c["errors"]), 0, "{c}");
        // Batches and scans make too few calls here for a p99, and say so; nothing else.
        for note in c["notes"].as_array().unwrap() {
            let note = note.as_str().unwrap();
            assert!(note.contains("too few for a p99") || note.contains("rounds disagree"), "{c}");
        }
    }
    assert_cells_consistent(&doc);
}

/// Opens a pseudo-terminal of 120 columns; returns (master, slave).
fn open_pty() -> (OwnedFd, OwnedFd) {
    let (mut master, mut slave) = (-1, -1);
    let size = libc::winsize { ws_row: 40, ws_col: 120, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: openpty writes two fds into the out-pointers; name and termios may be null.
    let rc = unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), &size) };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both fds were just opened and are owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

/// Column ids of a JSON run with `args`, in order, checking that cells belong to a column.
fn column_ids(args: &[&str]) -> (Value, Vec<String>) {
    let (out, _) = run(args, Duration::from_secs(30));
    assert_eq!(code(&out), Some(0), "{}", out.describe());
    let doc = parse_json(&out.stdout, &out.describe());
    assert_schema_valid(&doc);
    let columns = doc["columns"].as_array().unwrap();
    let ids: Vec<String> = columns.iter().map(|c| c["id"].as_str().unwrap().into()).collect();
    (doc, ids)
}

#[test]
fn concurrency_1_keeps_the_two_rust_columns_apart() {
    // With --concurrency 1 the async column has one call in flight, like the sync one; it must
    // still be its own column (ids are what cells and comparisons refer to).
    let (doc, ids) = column_ids(&[
        "--builtin-server",
        "--count",
        "100",
        "--concurrency",
        "1",
        "--rounds",
        "2",
        "--clients",
        RUST,
        "--ops",
        "put,get",
        "--format",
        "json",
    ]);
    assert_eq!(ids, ["rust-sync", "rust-async"]);
    assert_eq!(cells(&doc).len(), 4);
    // Same calls in flight: latency ratios are computed too.
    let avg =
        doc["ratios"].as_array().unwrap().iter().find(|r| r["metric"] == "avg_latency" && r["operation"] == "get");
    let avg = avg.expect("an avg latency ratio");
    assert_ne!(avg["verdict"], "not_comparable", "{avg}");
}

#[test]
fn concurrency_1_keeps_the_two_noop_columns_apart() {
    let (doc, ids) = column_ids(&[
        "--builtin-server",
        "--count",
        "100",
        "--concurrency",
        "1",
        "--clients",
        "noop,noop-async",
        "--ops",
        "put",
        "--format",
        "json",
    ]);
    assert_ne!(ids[0], ids[1], "duplicate column ids: {ids:?}");
    assert_eq!(cells(&doc).len(), 2);
}

#[test]
fn progress_on_a_terminal_stderr_never_reaches_json_stdout() {
    // stderr is a terminal, so progress bars are drawn; stdout is a pipe and must still hold
    // only the JSON document.
    let (master, slave) = open_pty();
    let args = [
        "--builtin-server",
        "--count",
        "1000",
        "--rounds",
        "2",
        "--concurrency",
        "8",
        "--clients",
        RUST,
        "--format",
        "json",
    ];
    let mut cmd = aerobench(&args);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::from(slave));
    let mut child = cmd.spawn().expect("spawn aerobench");
    drop(cmd); // closes our copy of the pty slave
    let stdout = drain(child.stdout.take().unwrap());
    // Reading the master ends with EIO once every slave fd is closed.
    let terminal = drain(std::fs::File::from(master));
    let status = wait_or_kill(&mut child, Duration::from_secs(30), "progress run");
    let stdout = join_drain(stdout);
    let terminal = join_drain(terminal);
    assert_eq!(status.code(), Some(0), "stderr (terminal):\n{terminal}");
    let doc = parse_json(&stdout, &terminal);
    assert_schema_valid(&doc);
    assert!(!has_ansi(&stdout), "no colour or cursor control in piped stdout");
    assert!(
        terminal.contains("put") && terminal.contains('\u{1b}'),
        "progress bars were expected on the terminal stderr, got {terminal:?}"
    );
}

#[test]
fn markdown_to_a_file_leaves_stdout_empty() {
    let path = temp_path("bench.md");
    let (out, _) = run(
        &[
            "--builtin-server",
            "--count",
            "100",
            "--concurrency",
            "4",
            "--rounds",
            "2",
            "--layout",
            "seed",
            "--clients",
            RUST,
            "--format",
            "markdown",
            "--output",
            path.to_str().unwrap(),
        ],
        Duration::from_secs(30),
    );
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::remove_file(&path);
    assert_eq!(code(&out), Some(0), "{}", out.describe());
    assert_eq!(out.stdout, "", "the report goes to the file only");
    assert!(out.stderr.contains(&path.display().to_string()), "stderr says where the report went: {}", out.stderr);
    assert!(text.contains("| --- | ---: |"), "right-aligned pipe tables\n{text}");
    for title in TABLE_TITLES {
        assert!(text.contains(&format!("### {title}")), "missing {title:?}\n{text}");
    }
    let rows = text.lines().filter(|l| l.starts_with("| put |")).count();
    assert_eq!(rows, 4, "a put row in each of the four tables\n{text}");
    // The seed's own ratio column, comparing like with like and saying so.
    assert!(text.contains("Rust crate async vs sync (ops/s)"), "{text}");
    assert!(!has_ansi(&text));
}

#[test]
fn reads_alone_find_the_records_written_before_measuring() {
    // Every run starts its own empty built-in server; the records are written (untimed) before
    // anything is measured, so a get-only run finds every one.
    let (out, _) = run(
        &[
            "--builtin-server",
            "--min-phase-calls",
            "0",
            "--min-phase-time",
            "0",
            "--ops",
            "get",
            "--count",
            "50",
            "--rounds",
            "2",
            "--clients",
            "rust-sync",
            "--format",
            "json",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(code(&out), Some(0), "{}", out.describe());
    let doc = parse_json(&out.stdout, &out.describe());
    assert_schema_valid(&doc);
    assert_eq!(cells(&doc).len(), 1);
    let get = cell(&doc, "rust-sync", "get");
    assert_eq!(u(&get["count"]), 100);
    assert_eq!(u(&get["errors"]), 0, "{get}");
    assert_cells_consistent(&doc);
}

#[test]
fn a_set_the_server_refuses_is_reported_not_hidden() {
    // The built-in server knows only its namespaces: writing the records fails, the report says
    // why and the run exits 1 without measuring.
    let (out, _) = run(
        &["--builtin-server", "--namespace", "test", "--count", "20", "--clients", "rust-sync", "--format", "json"],
        Duration::from_secs(30),
    );
    assert_eq!(code(&out), Some(0), "{}", out.describe());
    let server = Server::start();
    let port = server.port.to_string();
    let (out, _) = run(
        &["--port", &port, "--namespace", "nosuch", "--count", "20", "--clients", "rust-sync", "--format", "json"],
        Duration::from_secs(30),
    );
    assert_eq!(code(&out), Some(1), "{}", out.describe());
    let doc = parse_json(&out.stdout, &out.describe());
    assert_schema_valid(&doc);
    let warnings = doc["warnings"].as_array().unwrap();
    assert!(warnings.iter().any(|w| w.as_str().unwrap().contains("writing the 20 records")), "{warnings:?}");
    assert!(doc["columns"][0]["error"].as_str().unwrap().contains("not measured"), "{}", doc["columns"][0]);
}

// ---------------------------------------------------------------------------
// Servers that are missing, wrong, or die.
// ---------------------------------------------------------------------------

#[test]
fn unreachable_server_exits_2_naming_the_address() {
    let port = free_port();
    let (out, took) =
        run(&["--host", "127.0.0.1", "--port", &port.to_string(), "--clients", RUST], Duration::from_secs(20));
    assert_eq!(code(&out), Some(2), "{}", out.describe());
    assert!(out.stderr.contains(&format!("127.0.0.1:{port}")), "{}", out.stderr);
    assert!(out.stderr.contains("--builtin-server"), "{}", out.stderr);
    assert_eq!(out.stdout, "", "no report without a server");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

/// A TCP server in this test process; each accepted connection goes to `serve` and is kept open
/// afterwards (no EOF), so aerobench cannot rely on the peer closing.
fn fake_server(serve: fn(TcpStream)) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s.try_clone().unwrap());
            std::thread::spawn(move || serve(s));
        }
    });
    port
}

#[test]
fn http_server_answering_garbage_exits_2_quickly() {
    let port = fake_server(|mut s| {
        use std::io::Write as _;
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    let (out, took) = run(&["--port", &port.to_string(), "--count", "10", "--clients", RUST], Duration::from_secs(20));
    assert_eq!(code(&out), Some(2), "{}", out.describe());
    assert!(out.stderr.contains(&format!("127.0.0.1:{port}")), "{}", out.stderr);
    assert!(out.stderr.contains("did not answer like an Aerospike server"), "{}", out.stderr);
    assert!(out.stderr.contains("--builtin-server"), "{}", out.stderr);
    assert_eq!(out.stdout, "");
    // Quickly: long before the run's 20 s limit (a hang), whatever the machine's load.
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

#[test]
fn silent_server_exits_2_without_hanging() {
    // Accepts, reads, never answers (the connection is held open by the fake server).
    let port = fake_server(|mut s| {
        let mut buf = [0u8; 1024];
        while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
    });
    let (out, took) = run(&["--port", &port.to_string(), "--count", "10", "--clients", RUST], Duration::from_secs(20));
    assert_eq!(code(&out), Some(2), "{}", out.describe());
    assert!(out.stderr.contains(&format!("127.0.0.1:{port}")), "{}", out.stderr);
    assert!(out.stderr.contains("did not answer like an Aerospike server"), "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

#[test]
fn server_dying_mid_run_exits_1_with_the_partial_report() {
    let server = Server::start();
    let port = server.port.to_string();
    let cmd = aerobench(&[
        "--port",
        &port,
        "--count",
        "2000",
        // Until the server goes: fixed rounds, which no settled verdict ends.
        "--stop",
        "fixed",
        "--rounds",
        "1000",
        "--timeout-ms",
        "200",
        "--clients",
        "rust-sync",
        "--no-prewrite",
        "--format",
        "json",
        "--quiet",
    ]);
    let started = Instant::now();
    let bench = std::thread::spawn(move || run_with_timeout(cmd, Duration::from_secs(60)));
    // Without a pre-write the measured puts make the records: once some are there, the run is
    // measuring, far from its 1,000 rounds.
    assert!(common::wait_until(Duration::from_secs(30), || server.objects("aerobench") >= 200), "no puts");
    drop(server); // kills and reaps `aerobench serve`
    let killed_at = started.elapsed();
    let out = bench.join().unwrap();
    let took = started.elapsed();
    assert!(!out.timed_out, "aerobench hung after its server died\n{}", out.describe());
    assert_eq!(code(&out), Some(1), "{}", out.describe());
    assert!(took < Duration::from_secs(40), "took {took:?} (server killed at {killed_at:?})");

    let doc = parse_json(&out.stdout, &out.describe());
    assert_schema_valid(&doc);
    assert_eq!(doc["server"]["address"], format!("127.0.0.1:{port}"));
    let column = &doc["columns"][0];
    // The run stops when the server is gone, with what was measured before (the kill may land
    // before the first measured phase on a busy machine: then there is nothing to report).
    let before_measuring = column["error"].as_str().is_some_and(|e| e.contains("not measured"));
    assert!(
        before_measuring || doc["incomplete"].as_str().is_some_and(|i| i.contains("skipped")),
        "{} / {}",
        doc["incomplete"],
        column["error"]
    );
    if let Some(put) = cells(&doc).iter().find(|c| c["column"] == "rust-sync" && c["operation"] == "put") {
        assert!(u(&put["count"]) > 0, "puts made before the kill are reported: {put}");
    }
    let troubled = cells(&doc).iter().any(|c| u(&c["errors"]) > 0 || !c["notes"].as_array().unwrap().is_empty());
    assert!(
        column["error"].is_string() || troubled,
        "the report must say the run broke off: column {column}, cells {:#}",
        doc["cells"]
    );
    assert!(u(&doc["workload"]["rounds_completed"]) < 1000, "the run did not complete every round");
    assert_cells_consistent(&doc);
}

// ---------------------------------------------------------------------------
// Usage, help, completions, environment.
// ---------------------------------------------------------------------------

#[test]
fn usage_errors_exit_2_with_a_helpful_message() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["--clients", "java"], &["java", "rust-sync", "rust-async"]),
        (&["--count", "0"], &["--count", "0"]),
        (&["--ops", ""], &["--ops", "put", "get", "batch_get", "scan"]),
        (&["--format", "xml"], &["xml", "table", "json", "markdown"]),
        (&["--concurrency", "0"], &["--concurrency"]),
        (&["--clients", ""], &["--clients", "rust-sync"]),
        (&["--ops", "put,put"], &["--ops", "put", "twice"]),
        (&["--output", "/nonexistent-dir/report.md"], &["cannot write the report", "/nonexistent-dir/report.md"]),
        (&["--client-version", "nosuch=1.0"], &["unknown package", "aerospike-py"]),
        (&["--client-path", "aerospike-py"], &["--client-path", "PACKAGE="]),
    ];
    for (args, expected) in cases {
        let mut all = vec!["--builtin-server"];
        all.extend_from_slice(args);
        let (out, took) = run(&all, Duration::from_secs(30));
        assert_eq!(code(&out), Some(2), "{args:?}\n{}", out.describe());
        for word in *expected {
            assert!(out.stderr.contains(word), "{args:?}: stderr should mention {word:?}:\n{}", out.stderr);
        }
        assert_eq!(out.stdout, "", "{args:?}: nothing on stdout");
        // No server contacted, no client loaded: an immediate exit, on any machine well under this.
        assert!(took < Duration::from_secs(15), "{args:?} took {took:?}");
    }
    // Hidden harness columns stay out of the list of valid columns.
    let (out, _) = run(&["--builtin-server", "--clients", "java"], Duration::from_secs(10));
    assert!(!out.stderr.contains("noop"), "{}", out.stderr);
}

#[test]
fn completions_and_help() {
    let (out, _) = run(&["completions", "bash"], Duration::from_secs(10));
    assert_eq!(code(&out), Some(0), "{}", out.describe());
    assert!(out.stdout.contains("_aerobench()") && out.stdout.contains("complete -F"), "{}", out.stdout);
    assert!(out.stdout.contains("--builtin-server"), "options are completed");

    let (out, _) = run(&["--help"], Duration::from_secs(10));
    assert_eq!(code(&out), Some(0), "{}", out.describe());
    assert!(out.stdout.contains("Examples:"), "{}", out.stdout);
    assert!(out.stdout.contains("aerobench --builtin-server --count 1000 --concurrency 50"), "{}", out.stdout);
    assert!(out.stdout.contains("AEROSPIKE_HOST"), "{}", out.stdout);
    assert!(out.stdout.contains("--format"), "{}", out.stdout);

    // -h: one line an option, under headings, within 100 lines (clap wraps at 100 off a terminal).
    let (out, _) = run(&["-h"], Duration::from_secs(10));
    assert_eq!(code(&out), Some(0), "{}", out.describe());
    assert!(out.stdout.lines().count() < 100, "-h is {} lines:\n{}", out.stdout.lines().count(), out.stdout);
    assert!(out.stdout.contains("\nServer, security and safety:\n"), "{}", out.stdout);

    let (out, _) = run(&["man"], Duration::from_secs(10));
    assert_eq!(code(&out), Some(0), "{}", out.describe());
    assert!(out.stdout.contains(".TH aerobench") && out.stdout.contains(".SH \"LOAD SHAPE\""), "{}", out.stdout);

    // `aerobench man | head`: stdout's reader is gone (here before anything is written, so every
    // write fails with a broken pipe), and that is no error.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = aerobench(&["man"]).stdout(writer).stderr(Stdio::piped()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!((out.status.code(), stderr.as_ref()), (Some(0), ""), "man into a closed pipe");
}

#[test]
fn aerospike_host_and_port_env_are_honoured() {
    let server = Server::start();
    let args = ["--count", "100", "--clients", "rust-sync", "--ops", "put,get", "--format", "json"];
    let mut cmd = aerobench(&args);
    cmd.env("AEROSPIKE_HOST", "127.0.0.1").env("AEROSPIKE_PORT", server.port.to_string());
    let out = run_with_timeout(cmd, Duration::from_secs(30));
    assert_eq!(code(&out), Some(0), "{}", out.describe());
    let doc = parse_json(&out.stdout, &out.describe());
    assert_eq!(doc["server"]["address"], format!("127.0.0.1:{}", server.port));
    assert_eq!(u(&cell(&doc, "rust-sync", "get")["errors"]), 0);

    // --port on the command line wins over AEROSPIKE_PORT.
    let mut all = args.to_vec();
    let port = server.port.to_string();
    all.extend(["--port", &port]);
    let mut cmd = aerobench(&all);
    cmd.env("AEROSPIKE_PORT", free_port().to_string());
    let out = run_with_timeout(cmd, Duration::from_secs(30));
    assert_eq!(code(&out), Some(0), "{}", out.describe());
    let doc = parse_json(&out.stdout, &out.describe());
    assert_eq!(doc["server"]["address"], format!("127.0.0.1:{}", server.port));
}

// ---------------------------------------------------------------------------
// Ctrl-C.
// ---------------------------------------------------------------------------

/// Starts a long run, sends SIGINT once its puts are measured (to aerobench alone, or to its
/// whole process group as a terminal's Ctrl-C does), and returns (status, stdout, stderr,
/// seconds from the signal to the exit).
fn interrupted_run(whole_group: bool) -> (ExitStatus, String, String, Duration) {
    let live = temp_path("interrupted-live.ndjson");
    let mut cmd = aerobench(&[
        "--interval",
        "100ms",
        "--live",
        live.to_str().unwrap(),
        "--builtin-server",
        "--count",
        "2000",
        // Until interrupted: fixed rounds, which no settled verdict ends.
        "--stop",
        "fixed",
        "--rounds",
        "1000",
        "--ops",
        "put",
        "--clients",
        "rust-sync",
        "--format",
        "json",
    ]);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    if whole_group {
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().expect("spawn aerobench");
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let measuring = || {
        std::fs::read_to_string(&live).unwrap_or_default().lines().any(|l| {
            serde_json::from_str::<Value>(l).is_ok_and(|v| v["column"] == "rust-sync" && v["ops"].as_u64() > Some(0))
        })
    };
    assert!(common::wait_until(Duration::from_secs(60), measuring), "no measured puts in {}", live.display());
    let _ = std::fs::remove_file(&live);
    assert!(child.try_wait().unwrap().is_none(), "the run ended before the signal");
    let pid = child.id() as libc::pid_t;
    let target = if whole_group { -pid } else { pid };
    // SAFETY: plain kill(2) on our own child (or its process group).
    assert_eq!(unsafe { libc::kill(target, libc::SIGINT) }, 0);
    let signalled = Instant::now();
    let status = wait_or_kill(&mut child, Duration::from_secs(30), "after SIGINT");
    let took = signalled.elapsed();
    (status, join_drain(stdout), join_drain(stderr), took)
}

fn assert_interrupted_report(status: ExitStatus, stdout: &str, stderr: &str, took: Duration) {
    let context = format!("status {status:?}\n--- stderr ---\n{stderr}");
    // Promptly: the 1,000 rounds left would take many minutes; the bound leaves room for a
    // loaded machine.
    assert!(took < Duration::from_secs(20), "took {took:?} to stop after SIGINT\n{context}");
    assert!(!status.success(), "an interrupted run must not exit 0\n{context}");
    assert_eq!(status.code(), Some(130), "interrupted by Ctrl-C: exit code 130 with a report\n{context}");
    assert!(stderr.contains("interrupted"), "{context}");
    let doc = parse_json(stdout, &context);
    assert_schema_valid(&doc);
    assert_eq!(doc["interrupted"], true);
    let put = cell(&doc, "rust-sync", "put");
    let n = u(&put["count"]);
    assert!(n > 0 && n < 2_000 * 1000, "partial put count {n}");
    assert!(u(&doc["workload"]["rounds_completed"]) < 1000);
    assert!(doc["title"].is_null());
    assert_eq!(cells(&doc).len(), 1, "no phase runs after Ctrl-C");
    assert_cells_consistent(&doc);
}

#[test]
fn sigint_prints_the_partial_report_and_exits_non_zero() {
    let (status, stdout, stderr, took) = interrupted_run(false);
    assert_interrupted_report(status, &stdout, &stderr, took);
}

#[test]
fn terminal_ctrl_c_to_the_process_group_still_prints_the_report() {
    // A terminal's Ctrl-C reaches the built-in server child too (same process group).
    let (status, stdout, stderr, took) = interrupted_run(true);
    assert_interrupted_report(status, &stdout, &stderr, took);
}

// ---------------------------------------------------------------------------
// Rounds by time, and the baseline.
// ---------------------------------------------------------------------------

#[test]
fn duration_rounds_run_for_their_time_and_the_baseline_is_the_one_asked_for() {
    let (out, _) = run(
        &[
            "--builtin-server",
            "--duration",
            "300ms",
            "--rounds",
            "2",
            "--count",
            "50",
            "--clients",
            RUST,
            "--baseline",
            "rust-async",
            "--ops",
            "get",
            "--format",
            "json",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(code(&out), Some(0), "{}", out.describe());
    let doc = parse_json(&out.stdout, &out.describe());
    assert_schema_valid(&doc);
    assert_eq!(f(&doc["workload"]["phase_duration_secs"]), 0.3);
    assert_eq!(doc["baseline"], "rust-async");
    for id in ["rust-sync", "rust-async"] {
        let get = cell(&doc, id, "get");
        for r in get["rounds"].as_array().unwrap() {
            let wall = f(&r["wall_secs"]);
            // At least its 300 ms; the upper bound only catches a phase that ignores its time.
            assert!((0.29..10.0).contains(&wall), "{id}: a 300 ms phase took {wall} s");
            // Far more calls than the 50 records: indices wrap around them.
            assert!(u(&r["count"]) > 50, "{id}: {r}");
        }
        assert_eq!(u(&get["errors"]), 0);
    }
    let ratios = doc["ratios"].as_array().unwrap();
    // rust-sync against the baseline (the seed's own pair, async against sync, comes too).
    let of_sync: Vec<&Value> = ratios.iter().filter(|r| r["column"] == "rust-sync").collect();
    assert!(!of_sync.is_empty() && of_sync.iter().all(|r| r["baseline"] == "rust-async"), "{ratios:?}");
    assert_cells_consistent(&doc);
}

/// Runs `clients` with `--ops OPS` on the server at `port` over 100 records of eight float
/// bins under `prefix`, without the pre-write, values checked (--verify); returns the report.
fn float_bins(port: &str, clients: &str, ops: &str, prefix: &str) -> Value {
    let args = ["--port", port, "--bins", "8", "--bin-type", "float", "--count", "100", "--clients", clients];
    let mut cmd = aerobench(&args);
    cmd.args(["--ops", ops, "--key-prefix", prefix, "--no-prewrite", "--verify", "--force", "--rounds", "2"]).args([
        "--format",
        "json",
        "--min-phase-calls",
        "0",
        "--min-phase-time",
        "0",
    ]);
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    assert_eq!(code(&out), Some(0), "{clients} {ops}: {}", out.describe());
    let doc = parse_json(&out.stdout, &out.describe());
    let bins: Vec<&str> = doc["workload"]["bins"].as_array().unwrap().iter().map(|b| b.as_str().unwrap()).collect();
    assert_eq!(bins, (0..8).map(|k| format!("d{k}: double")).collect::<Vec<_>>());
    for c in cells(&doc) {
        assert_eq!(u(&c["errors"]), 0, "{c}");
    }
    assert_cells_consistent(&doc);
    doc
}

#[test]
fn bins_of_one_type_are_written_and_read_by_every_column() {
    // Each column writes its own records (no pre-write), and another reads them back with
    // every value checked: a put that wrote other types, other values or to other digests fails.
    // The floor decodes no values, so its reads of the crate's records only find them; a Python
    // column beside it checks their values.
    let server = Server::start();
    let port = server.port.to_string();
    float_bins(&port, "wire", "put", "by-wire-");
    float_bins(&port, "rust-sync", "put", "by-rust-");
    assert_eq!(server.objects("aerobench"), 200, "one record per key and column");
    for (readers, prefix) in [("rust-sync", "by-wire-"), ("wire,aerospike-py-sync", "by-rust-")] {
        let doc = float_bins(&port, readers, "get,batch_get,scan", prefix);
        for reader in readers.split(',') {
            assert_eq!(u(&cell(&doc, reader, "batch_get")["records"]), 2 * 100, "{reader} over {prefix}");
        }
    }
}
