//! End-to-end tests of the `aerobench` command line: the real binary, run as a child process,
//! against its built-in server (or a server, a fake server or no server the test controls).
//! What a user sees: the tables, the JSON document and its schema, markdown files, exit codes
//! (0 ok, 1 some operation failed, 2 usage or unreachable server), messages, Ctrl-C, env vars.

mod common;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{FromRawFd as _, OwnedFd};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use serde_json::Value;

use common::{Server, TimedOutput, run_with_timeout};

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

fn schema_validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.json");
        let text = std::fs::read_to_string(path).expect("read schema.json");
        let schema: Value = serde_json::from_str(&text).expect("schema.json is JSON");
        jsonschema::validator_for(&schema).expect("schema.json is a valid JSON Schema")
    })
}

fn assert_schema_valid(doc: &Value) {
    let errors: Vec<String> =
        schema_validator().iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "report does not match schema.json:\n{}", errors.join("\n"));
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
            assert!(min >= 1.0, "{name}: latencies are whole microseconds, at least 1");
            // The histogram is the source of the summary (within HDR's 0.1 % precision).
            let hp50 = hist.value_at_quantile(0.5) as f64;
            assert!((hp50 - p50).abs() <= p50 * 0.002 + 1.0, "{name}: histogram p50 {hp50} vs reported {p50}");
            assert!(f(&c["wall_secs"]) > 0.0, "{name}: wall time");
            assert!(f(&c["ops_per_sec"]) > 0.0, "{name}: throughput");
        }
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
fn default_table_run_prints_the_four_tables_without_ansi() {
    let args = ["--builtin-server", "--count", "200", "--concurrency", "8", "--clients", RUST];
    let (out, _) = run(&args, Duration::from_secs(30));
    assert_eq!(code(&out), Some(0), "{}", out.describe());
    let stdout = &out.stdout;
    let labels = labels(&args);
    assert_eq!(labels.len(), 2, "{labels:?}");
    assert_ne!(labels[0], labels[1], "the two columns need distinct headers");
    for label in &labels {
        assert!(stdout.contains(&format!("│ {label} ")), "missing column {label:?}\n{stdout}");
    }
    for title in TABLE_TITLES {
        assert!(stdout.contains(title), "missing table {title:?}\n{stdout}");
    }
    // Titles appear in this order.
    let pos: Vec<usize> = TABLE_TITLES.iter().map(|t| stdout.find(t).unwrap()).collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "tables out of order: {pos:?}");
    assert!(stdout.contains("Async vs sync"), "missing the ratio column\n{stdout}");
    assert!(stdout.contains(BUILTIN_MARKER), "built-in server not flagged\n{stdout}");
    for op in ["put", "get", "batch_get", "scan"] {
        assert!(stdout.contains(&format!("│ {op} ")), "no {op} row\n{stdout}");
    }
    assert!(!has_ansi(stdout), "ANSI escapes in stdout that is not a terminal\n{stdout:?}");
    assert!(!has_ansi(&out.stderr), "ANSI escapes in stderr that is not a terminal\n{:?}", out.stderr);
    assert!(!stdout.contains("Errors"), "a clean run shows no error table\n{stdout}");
}

#[test]
fn json_is_one_schema_valid_document_with_consistent_counts() {
    // 250 records in batches of 100: batch_get needs ceil(250/100) = 3 calls, the last short.
    let (out, _) = run(
        &[
            "--builtin-server",
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
    assert_eq!(doc["comparisons"].as_array().unwrap().len(), 1);
    assert_eq!(doc["comparisons"][0]["label"], "Async vs sync");

    assert_eq!(cells(&doc).len(), 8, "one cell per column and operation");
    for id in &ids {
        assert_eq!(u(&cell(&doc, id, "put")["count"]), 250);
        assert_eq!(u(&cell(&doc, id, "get")["count"]), 250);
        let batch = cell(&doc, id, "batch_get");
        assert_eq!(u(&batch["count"]), 250u64.div_ceil(100));
        assert_eq!(u(&batch["records"]), 250, "every record found once");
        let scan = cell(&doc, id, "scan");
        assert_eq!(u(&scan["count"]), 3);
        assert_eq!(u(&scan["records"]), 3 * 250, "scans × count");
        assert!(f(&scan["records_per_sec"]) > 0.0);
        assert!(cell(&doc, id, "put")["records"].is_null());
    }
    for c in cells(&doc) {
        assert_eq!(u(&c["errors"]), 0, "{c}");
        assert!(c["notes"].as_array().unwrap().is_empty(), "{c}");
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
        "--clients",
        RUST,
        "--ops",
        "put,get",
        "--format",
        "json",
    ]);
    assert_eq!(ids, ["rust-sync", "rust-async"]);
    assert_eq!(cells(&doc).len(), 4);
    assert_eq!(doc["comparisons"].as_array().unwrap().len(), 1, "{}", doc["comparisons"]);
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
    let args = ["--builtin-server", "--count", "3000", "--concurrency", "8", "--clients", RUST, "--format", "json"];
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
    assert!(!has_ansi(&text));
}

#[test]
fn get_only_on_a_fresh_server_reports_the_errors_and_exits_1() {
    // Every run starts its own empty built-in server, so gets find nothing: the report is
    // still printed in full, and the exit code says something failed.
    let (out, _) = run(
        &["--builtin-server", "--ops", "get", "--count", "50", "--clients", "rust-sync", "--format", "json"],
        Duration::from_secs(30),
    );
    assert_eq!(code(&out), Some(1), "{}", out.describe());
    assert!(out.stderr.contains("no put"), "a note explains that reads expect earlier puts: {}", out.stderr);
    let doc = parse_json(&out.stdout, &out.describe());
    assert_schema_valid(&doc);
    assert_eq!(cells(&doc).len(), 1);
    let get = cell(&doc, "rust-sync", "get");
    assert_eq!(u(&get["count"]), 50);
    assert_eq!(u(&get["errors"]), 50, "{get}");
    let reasons = get["errors_by_reason"].as_object().unwrap();
    assert!(reasons.keys().any(|r| r.contains("KeyNotFound")), "{reasons:?}");
    assert_cells_consistent(&doc);

    // The table says so too.
    let table_args = ["--builtin-server", "--ops", "get", "--count", "50", "--clients", "rust-sync"];
    let (out, _) = run(&table_args, Duration::from_secs(30));
    assert_eq!(code(&out), Some(1), "{}", out.describe());
    assert!(out.stdout.contains("Errors") && out.stdout.contains("KeyNotFound"), "{}", out.stdout);
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
    assert!(took < Duration::from_secs(5), "took {took:?}");
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
    assert!(took < Duration::from_secs(8), "took {took:?}");
}

#[test]
fn server_dying_mid_run_exits_1_with_the_partial_report() {
    let server = Server::start();
    let port = server.port.to_string();
    let cmd = aerobench(&[
        "--port",
        &port,
        "--count",
        "200000",
        "--timeout-ms",
        "200",
        "--clients",
        "rust-sync",
        "--format",
        "json",
        "--quiet",
    ]);
    let started = Instant::now();
    let bench = std::thread::spawn(move || run_with_timeout(cmd, Duration::from_secs(30)));
    std::thread::sleep(Duration::from_secs(1));
    drop(server); // kills and reaps `aerobench serve`
    let killed_at = started.elapsed();
    let out = bench.join().unwrap();
    let took = started.elapsed();
    assert!(!out.timed_out, "aerobench hung after its server died\n{}", out.describe());
    assert_eq!(code(&out), Some(1), "{}", out.describe());
    assert!(took < Duration::from_secs(15), "took {took:?} (server killed at {killed_at:?})");

    let doc = parse_json(&out.stdout, &out.describe());
    assert_schema_valid(&doc);
    assert_eq!(doc["server"]["address"], format!("127.0.0.1:{port}"));
    let column = &doc["columns"][0];
    let put = cell(&doc, "rust-sync", "put");
    assert!(u(&put["count"]) > 0, "puts made before the kill are reported: {put}");
    let troubled = cells(&doc).iter().any(|c| u(&c["errors"]) > 0 || !c["notes"].as_array().unwrap().is_empty());
    assert!(
        column["error"].is_string() || troubled,
        "the report must say the run broke off: column {column}, cells {:#}",
        doc["cells"]
    );
    assert!(u(&put["count"]) < 200_000 || cells(&doc).len() < 4, "the run did not complete every phase");
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
        let (out, took) = run(&all, Duration::from_secs(10));
        assert_eq!(code(&out), Some(2), "{args:?}\n{}", out.describe());
        for word in *expected {
            assert!(out.stderr.contains(word), "{args:?}: stderr should mention {word:?}:\n{}", out.stderr);
        }
        assert_eq!(out.stdout, "", "{args:?}: nothing on stdout");
        assert!(took < Duration::from_secs(5), "{args:?} took {took:?}");
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

/// Starts a long run, sends SIGINT after a second (to aerobench alone, or to its whole process
/// group as a terminal's Ctrl-C does), and returns (status, stdout, stderr, seconds from the
/// signal to the exit).
fn interrupted_run(whole_group: bool) -> (ExitStatus, String, String, Duration) {
    let mut cmd = aerobench(&["--builtin-server", "--count", "2000000", "--clients", "rust-sync", "--format", "json"]);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    if whole_group {
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().expect("spawn aerobench");
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    std::thread::sleep(Duration::from_secs(1));
    assert!(child.try_wait().unwrap().is_none(), "the run ended before the signal");
    let pid = child.id() as libc::pid_t;
    let target = if whole_group { -pid } else { pid };
    // SAFETY: plain kill(2) on our own child (or its process group).
    assert_eq!(unsafe { libc::kill(target, libc::SIGINT) }, 0);
    let signalled = Instant::now();
    let status = wait_or_kill(&mut child, Duration::from_secs(10), "after SIGINT");
    let took = signalled.elapsed();
    (status, join_drain(stdout), join_drain(stderr), took)
}

fn assert_interrupted_report(status: ExitStatus, stdout: &str, stderr: &str, took: Duration) {
    let context = format!("status {status:?}\n--- stderr ---\n{stderr}");
    assert!(took < Duration::from_secs(5), "took {took:?} to stop after SIGINT\n{context}");
    assert!(!status.success(), "an interrupted run must not exit 0\n{context}");
    assert_eq!(status.code(), Some(1), "interrupted: exit code 1 with a report\n{context}");
    assert!(stderr.contains("interrupted"), "{context}");
    let doc = parse_json(stdout, &context);
    assert_schema_valid(&doc);
    let put = cell(&doc, "rust-sync", "put");
    let n = u(&put["count"]);
    assert!(n > 0 && n < 2_000_000, "partial put count {n}");
    assert!(
        put["notes"].as_array().unwrap().iter().any(|t| t.as_str().unwrap().contains("interrupted")),
        "the cell says it was cut short: {put}"
    );
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
