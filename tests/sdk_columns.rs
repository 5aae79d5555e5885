//! The aerospike-sdk columns end to end: the real binary, the built-in server and aerospike-sdk
//! from PyPI (installed on first use into the shared cache, with the aerospike-native it pins).
//! Every operation aerobench has runs through the SDK's sync and async sessions with `--verify`
//! and no error; records the SDK wrote read back through other clients, and the other way round;
//! a version without an operation gets a cell that says so.

mod common;

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use common::{Server, assert_schema_valid, cache_dir, column, digest_hex, run_with_timeout};

const SDK_COLUMNS: [&str; 2] = ["aerospike-sdk-sync", "aerospike-sdk-async"];

/// Every operation but read_modify_write, which is a workload of its own.
const OPS: [&str; 9] = ["put", "get", "batch_get", "scan", "exists", "touch", "operate", "delete", "batch_write"];

/// One JSON report of `aerobench` with `args` (after the common ones); panics unless it exits 0.
fn run(args: &[&str]) -> Value {
    run_exiting(args, 0)
}

/// Like [`run`], for a run that exits with `code` (1: some calls failed).
fn run_exiting(args: &[&str], code: i32) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    cmd.args(["--format", "json", "--quiet", "--min-phase-calls", "0", "--min-phase-time", "0"]).args(args);
    cmd.env("AEROBENCH_CACHE_DIR", cache_dir()).env_remove("VIRTUAL_ENV");
    cmd.env_remove("AEROSPIKE_HOST").env_remove("AEROSPIKE_PORT").env_remove("AEROSPIKE_USE_SERVICES_ALTERNATE");
    let out = run_with_timeout(cmd, Duration::from_secs(240));
    assert_eq!(out.status.and_then(|s| s.code()), Some(code), "{}", out.describe());
    let doc: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.describe()));
    assert_schema_valid(&doc);
    doc
}

fn cell<'a>(doc: &'a Value, column: &str, op: &str) -> &'a Value {
    doc["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == column && c["operation"] == op)
        .unwrap_or_else(|| panic!("no {column} {op} cell"))
}

/// (calls, errors) of a cell.
fn calls(c: &Value) -> (u64, u64) {
    (c["count"].as_u64().unwrap(), c["errors"].as_u64().unwrap())
}

#[test]
fn the_sdk_columns_run_every_operation_with_verify_and_no_error() {
    let doc = run(&[
        "--builtin-server",
        "--verify",
        "--rounds",
        "2",
        "--count",
        "120",
        "--batch-size",
        "40",
        "--scans",
        "2",
        "--concurrency",
        "4",
        "--warmup",
        "10",
        "--ops",
        &OPS.join(","),
        "--clients",
        "aerospike-native-sync,aerospike-sdk-sync,aerospike-sdk-async",
    ]);
    for id in SDK_COLUMNS {
        let c = column(&doc, id);
        assert!(c["error"].is_null(), "{id}: {}", c["error"]);
        // The header and JSON name the package and its version, and what it runs on.
        assert_eq!(
            (c["client"].as_str(), c["client_version"].as_str()),
            (Some("aerospike-sdk"), Some("1.0.0")),
            "{id}"
        );
        assert!(c["source"].as_str().unwrap().contains("aerospike-sdk==1.0.0"), "{id}: {}", c["source"]);
        let layered = c["policies"]["layered_on"].as_str().unwrap();
        assert!(layered.starts_with("aerospike-native 1.0.0 (module at "), "{id}: {layered}");
        assert!(
            layered.contains("aerospike-sdk-1.0.0"),
            "{id}: the pinned aerospike-native from the SDK's folder: {layered}"
        );
        assert_eq!(c["policies"]["put"], "session.put fast path", "{id}");
        assert_eq!(c["policies"]["max_retries"], "0", "{id}: the explicit policies reached the SDK");
        assert_eq!(c["in_flight"], if id.ends_with("async") { 4 } else { 1 }, "{id}");
        for op in OPS {
            let want = match op {
                "batch_get" | "batch_write" => 6,
                "scan" => 4,
                _ => 240,
            };
            // No call failed: --verify passed every read, each delete and exists found its record.
            assert_eq!(calls(cell(&doc, id, op)), (want, 0), "{id} {op}: {:#}", cell(&doc, id, op));
        }
        assert_eq!(cell(&doc, id, "batch_get")["records"], 240, "{id}: every record found by batch_get");
        assert_eq!(cell(&doc, id, "batch_write")["records"], 240, "{id}");
        assert_eq!(cell(&doc, id, "scan")["records"], 480, "{id}: each scan returns the 120 records");
    }
    // The async column runs on the event loop every async Python column runs on.
    let event_loop = column(&doc, "aerospike-sdk-async")["policies"]["event_loop"].as_str().unwrap().to_string();
    assert!(event_loop.starts_with("asyncio."), "{event_loop}");
}

#[test]
fn read_modify_write_with_a_ttl_and_uvloop() {
    // A time to live takes put off the fast path (which has none) onto the builder.
    let doc = run(&[
        "--builtin-server",
        "--verify",
        "--rounds",
        "1",
        "--count",
        "100",
        "--concurrency",
        "4",
        "--warmup",
        "10",
        "--ttl",
        "3600",
        "--event-loop",
        "uvloop",
        "--workload",
        "read-modify-write",
        "--clients",
        &SDK_COLUMNS.join(","),
    ]);
    for id in SDK_COLUMNS {
        let c = column(&doc, id);
        assert!(c["error"].is_null(), "{id}: {}", c["error"]);
        assert_eq!(c["policies"]["ttl_secs"], "3600", "{id}");
        assert_eq!(c["policies"]["put"], "upsert(key).put(bins) builder (--ttl)", "{id}");
        assert_eq!(calls(cell(&doc, id, "read_modify_write")), (100, 0), "{id}");
    }
    let event_loop = column(&doc, "aerospike-sdk-async")["policies"]["event_loop"].as_str().unwrap().to_string();
    assert!(event_loop.starts_with("uvloop"), "{event_loop}");
}

/// Writes the records with `writers` (put only, nothing written before), then reads them with
/// `readers` under --verify in a second run against the same server: every read finds the
/// values aerobench wrote, whoever wrote them, and every reader's get and batch read of every
/// record reached the server (the server counts reads per key).
fn written_by_then_read_by(writers: &str, readers: &str) {
    let server = Server::start_with(&["--count-key-reads"]);
    let port = server.port.to_string();
    let common = ["--host", "127.0.0.1", "--port", &port, "--no-prewrite", "--rounds", "1", "--count", "150"];
    let common = [&common[..], &["--batch-size", "50", "--scans", "2", "--warmup", "0", "--set", "crossed"]].concat();
    let wrote = run(&[&common[..], &["--ops", "put", "--clients", writers]].concat());
    for id in writers.split(',') {
        assert_eq!(calls(cell(&wrote, id, "put")), (150, 0), "{id} put");
    }
    assert_eq!(server.objects("crossed"), 150, "the writers wrote every record, and only those");
    server.take_key_reads();
    let read = run(&[&common[..], &["--verify", "--ops", "get,batch_get,scan", "--clients", readers]].concat());
    let reads = server.take_key_reads();
    let readers_count = readers.split(',').count() as u64;
    for i in 0..150 {
        let key = format!("aerobench-{i}");
        let n = reads.get(&digest_hex("crossed", &key)).copied().unwrap_or(0);
        // Each reader reads each record once by get and once in a batch (its rows are served as
        // single-record reads); scans are not counted.
        assert_eq!(n, 2 * readers_count, "{key}: reads the server served for {readers}");
    }
    for id in readers.split(',') {
        assert!(column(&read, id)["error"].is_null(), "{id}: {}", column(&read, id)["error"]);
        assert_eq!(calls(cell(&read, id, "get")), (150, 0), "{id} get of records {writers} wrote");
        assert_eq!(calls(cell(&read, id, "batch_get")), (3, 0), "{id} batch_get of records {writers} wrote");
        assert_eq!(cell(&read, id, "batch_get")["records"], 150, "{id}");
        assert_eq!(calls(cell(&read, id, "scan")), (2, 0), "{id} scan of records {writers} wrote");
        assert_eq!(cell(&read, id, "scan")["records"], 300, "{id}");
    }
}

#[test]
fn records_the_sdk_writes_read_back_through_other_clients() {
    written_by_then_read_by("aerospike-sdk-sync,aerospike-sdk-async", "aerospike-native-sync,rust-sync,official-c");
}

#[test]
fn records_other_clients_write_read_back_through_the_sdk() {
    written_by_then_read_by("aerospike-native-async", "aerospike-sdk-sync,aerospike-sdk-async");
    written_by_then_read_by("official-c", "aerospike-sdk-sync");
}

#[test]
fn a_version_without_the_tabular_write_says_so_in_its_batch_write_cell() {
    // 0.9.0a5, the last pre-release (on aerospike-async), has every operation but
    // upsert(dataset).bins(...).rows(...): a "not supported" cell, which does not fail the run.
    let doc = run_exiting(
        &[
            "--builtin-server",
            "--verify",
            "--rounds",
            "1",
            "--count",
            "60",
            "--batch-size",
            "20",
            "--warmup",
            "0",
            "--ops",
            "batch_write,get",
            "--clients",
            "aerospike-sdk-sync",
            "--client-version",
            "aerospike-sdk=0.9.0a5",
        ],
        0,
    );
    let c = column(&doc, "aerospike-sdk-sync");
    assert!(c["error"].is_null(), "{}", c["error"]);
    assert_eq!(c["client_version"], "0.9.0a5");
    assert!(c["policies"]["layered_on"].as_str().unwrap().starts_with("aerospike-async "), "{}", c["policies"]);
    let bw = cell(&doc, "aerospike-sdk-sync", "batch_write");
    assert_eq!((calls(bw), &bw["errors_by_reason"]), ((0, 0), &serde_json::json!({})), "no call counted: {bw:#}");
    let why = bw["not_supported"].as_str().unwrap_or_default();
    assert!(why.starts_with("not supported by aerospike-sdk 0.9.0a5: no tabular batch write"), "{bw:#}");
    assert_eq!(calls(cell(&doc, "aerospike-sdk-sync", "get")), (60, 0));
}

/// A CA and a server certificate it signed for `name`: server.pem, server.key, ca.pem in `dir`.
fn make_certs(dir: &std::path::Path, name: &str) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap().signed_by(&key, &ca, &ca_key).unwrap();
    std::fs::write(dir.join("server.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
}

#[test]
fn the_sdk_columns_log_in_over_tls() {
    let dir = common::scratch("sdk-tls");
    make_certs(&dir, "aerobench.test");
    let (cert, key) = (dir.join("server.pem").display().to_string(), dir.join("server.key").display().to_string());
    let password = "sdk-tls-password";
    let server = Server::start_with_env(
        &["--quiet", "--tls-cert", &cert, "--tls-key", &key, "--user", "bench"],
        &[("AEROBENCH_SERVE_PASSWORD", password)],
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    cmd.args(["--port", &server.port.to_string(), "--user", "bench", "--tls-name", "aerobench.test", "--tls-ca"])
        .arg(dir.join("ca.pem"))
        .args(["--format", "json", "--quiet", "--verify", "--rounds", "1", "--count", "100", "--warmup", "0"])
        .args(["--ops", "put,get,batch_get,scan", "--clients", &SDK_COLUMNS.join(",")])
        .env("AEROBENCH_CACHE_DIR", cache_dir())
        .env("AEROSPIKE_PASSWORD", password)
        .env_remove("VIRTUAL_ENV")
        .env_remove("AEROSPIKE_HOST")
        .stdin(std::process::Stdio::null());
    let out = run_with_timeout(cmd, Duration::from_secs(240));
    assert!(out.success(), "{}", out.describe());
    assert!(!out.stdout.contains(password) && !out.stderr.contains(password), "the password was printed");
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    for id in SDK_COLUMNS {
        assert!(column(&doc, id)["error"].is_null(), "{id}: {}", column(&doc, id)["error"]);
        for op in ["put", "get", "batch_get", "scan"] {
            assert_eq!(cell(&doc, id, op)["errors"], 0, "{id} {op}: {:#}", cell(&doc, id, op));
        }
    }
}

/// The time to live of record `name` of `set` in namespace `test`, read with the Rust crate.
fn ttl_of(port: u16, set: &str, name: &str) -> Option<Duration> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let client = aerospike::Client::new(&aerospike::ClientPolicy::default(), &format!("127.0.0.1:{port}"))
            .await
            .expect("connect");
        let key = aerospike::Key::new("test", set, aerospike::Value::from(name)).unwrap();
        let record = client.get(&aerospike::ReadPolicy::default(), &key, aerospike::Bins::All).await.unwrap();
        let _ = client.close().await;
        record.time_to_live()
    })
}

#[test]
fn the_ttl_reaches_what_every_sdk_write_wrote() {
    let server = Server::start();
    let port = server.port.to_string();
    for id in SDK_COLUMNS {
        // Each write alone on a set of its own, nothing written before it: the only writer.
        for op in ["put", "batch_write", "operate"] {
            let set = format!("ttl-{op}-{}", id.trim_start_matches("aerospike-sdk-"));
            let args = ["--host", "127.0.0.1", "--port", &port, "--set", &set, "--count", "5", "--batch-size", "5"];
            let more =
                ["--no-prewrite", "--rounds", "1", "--warmup", "0", "--ttl", "600", "--ops", op, "--clients", id];
            let doc = run(&[&args[..], &more[..]].concat());
            assert_eq!(cell(&doc, id, op)["errors"], 0, "{id} {op}");
            let ttl = ttl_of(server.port, &set, "aerobench-3").unwrap_or_else(|| panic!("{id} {op}: no ttl"));
            assert!(ttl > Duration::from_secs(500) && ttl <= Duration::from_secs(600), "{id} {op}: {ttl:?}");
        }
    }
}
