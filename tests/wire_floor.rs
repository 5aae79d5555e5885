//! End-to-end tests of the `wire` column (pre-encoded requests on a raw socket): every call of
//! every operation succeeds against the built-in server, the records it writes are the records
//! the Rust crate writes, and a server that dies mid-run ends the column with errors, not a hang.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use aerospike::{Bins, Client, ClientPolicy, Key, ReadPolicy, Value};
use serde_json::Value as Json;

use common::{Server, TimedOutput, run_with_timeout};

fn aerobench(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    // One round unless a test asks for more.
    if !args.contains(&"--rounds") {
        cmd.args(["--rounds", "1"]);
    }
    cmd.args(args).env_remove("AEROSPIKE_HOST").env_remove("AEROSPIKE_PORT");
    cmd
}

fn json(out: &TimedOutput) -> Json {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document: {e}\n{}", out.describe()))
}

fn cell<'a>(doc: &'a Json, column: &str, op: &str) -> &'a Json {
    doc["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == column && c["operation"] == op)
        .unwrap_or_else(|| panic!("no {column} {op} cell in {:#}", doc["cells"]))
}

fn u(v: &Json) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

fn assert_schema_valid(doc: &Json) {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.json")).expect("schema.json");
    let schema: Json = serde_json::from_str(&text).expect("schema.json is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let errors: Vec<String> = validator.iter_errors(doc).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "report does not match schema.json:\n{}", errors.join("\n"));
}

#[test]
fn wire_column_runs_every_operation_without_errors() {
    let out = run_with_timeout(
        aerobench(&[
            "--builtin-server",
            "--min-phase-calls",
            "0",
            "--min-phase-time",
            "0",
            "--clients",
            "wire,rust-sync",
            "--count",
            "300",
            "--format",
            "json",
            "--quiet",
        ]),
        Duration::from_secs(120),
    );
    assert!(out.success(), "{}", out.describe());
    let doc = json(&out);
    assert_schema_valid(&doc);
    let column = &doc["columns"][0];
    assert_eq!(column["id"], "wire", "the floor comes first");
    assert_eq!(column["in_flight"], 1);
    assert_eq!(column["mode"], "sync");
    assert_eq!(column["client"], "aerospike wire protocol (raw socket)");
    assert!(column["source"].as_str().unwrap().contains("seed node only"), "{column}");
    assert!(column["error"].is_null(), "{column}");
    // count = calls, no errors: 300 puts and gets, 3 batches of 100, 5 scans.
    for (op, calls) in [("put", 300), ("get", 300), ("batch_get", 3), ("scan", 5)] {
        let c = cell(&doc, "wire", op);
        assert_eq!((u(&c["count"]), u(&c["errors"])), (calls, 0), "wire {op}: {c}");
        let notes = c["notes"].as_array().unwrap();
        assert!(notes.iter().all(|n| n.as_str().unwrap().contains("too few for a p99")), "wire {op}: {c}");
        assert_eq!(notes.is_empty(), calls >= 100, "a p99 needs 100 calls: {c}");
        let (p50, avg) = (c["latency_us"]["p50"].as_f64().unwrap(), c["latency_us"]["avg"].as_f64().unwrap());
        assert!((1.0..1_000_000.0).contains(&p50), "wire {op}: p50 {p50} µs");
        // One call in flight: ops/s is calls over wall time, and the calls fill at most that time.
        let (ops, wall) = (c["ops_per_sec"].as_f64().unwrap(), c["wall_secs"].as_f64().unwrap());
        assert!((ops * wall / calls as f64 - 1.0).abs() < 0.02, "wire {op}: {ops} ops/s over {wall} s");
        assert!(avg * calls as f64 / 1e6 <= wall * 1.02, "wire {op}: avg {avg} µs × {calls} > {wall} s");
    }
    assert_eq!(u(&cell(&doc, "wire", "batch_get")["records"]), 300, "every record found");
    assert_eq!(u(&cell(&doc, "wire", "scan")["records"]), 5 * 300, "each scan returns every record");
    // The floor is below the Rust crate's get latency (one run, same server; generous margin).
    let wire_get = cell(&doc, "wire", "get")["latency_us"]["p50"].as_f64().unwrap();
    let rust_get = cell(&doc, "rust-sync", "get")["latency_us"]["p50"].as_f64().unwrap();
    assert!(wire_get < rust_get * 1.5, "wire get p50 {wire_get} µs vs rust-sync {rust_get} µs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_written_by_the_wire_column_are_the_rust_crates() {
    let server = Server::start();
    let port = server.port.to_string();
    let put = |clients: &str, prefix: &str| {
        let args =
            ["--port", &port, "--clients", clients, "--ops", "put", "--count", "40", "--bins", "5", "--warmup", "0"];
        let mut cmd = aerobench(&args);
        // Both runs write into one set: the second beside the first's keys.
        cmd.args(["--key-prefix", prefix, "--force", "--format", "json", "--quiet"]);
        cmd.args(["--min-phase-calls", "0", "--min-phase-time", "0"]);
        let out = run_with_timeout(cmd, Duration::from_secs(60));
        assert!(out.success(), "{clients}: {}", out.describe());
        out
    };
    let wire = json(&put("wire", "by-wire-"));
    assert_eq!((u(&cell(&wire, "wire", "put")["count"]), u(&cell(&wire, "wire", "put")["errors"])), (40, 0));
    put("rust-sync", "by-crate-");

    // The crate finds every record the wire column wrote (so the digests agree) and reads the
    // same bins, of the same types, as in the record the crate itself wrote.
    let client = Client::new(&ClientPolicy::default(), &format!("127.0.0.1:{port}")).await.expect("connect");
    let key = |prefix: &str, i: u32| Key::new("test", "aerobench", Value::from(format!("{prefix}{i}"))).unwrap();
    for i in 0..40 {
        let by_wire = client.get(&ReadPolicy::default(), &key("by-wire-", i), Bins::All).await.expect("wire record");
        let by_crate = client.get(&ReadPolicy::default(), &key("by-crate-", i), Bins::All).await.expect("crate record");
        assert_eq!(by_wire.bins.len(), 5, "{:?}", by_wire.bins);
        assert_eq!(by_wire.bins, by_crate.bins, "record {i}");
        assert_eq!(by_wire.bins["i"], Value::Int(i as i64));
    }
    client.close().await.unwrap();

    // And the other way round: rust-sync reads back, through its own gets, what wire wrote.
    let mut cmd = aerobench(&["--port", &port, "--clients", "rust-sync", "--ops", "get", "--count", "40"]);
    cmd.args(["--key-prefix", "by-wire-", "--bins", "5", "--warmup", "0", "--force", "--format", "json", "--quiet"]);
    cmd.args(["--min-phase-calls", "0", "--min-phase-time", "0"]);
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    assert!(out.success(), "{}", out.describe());
    let get = json(&out);
    assert_eq!((u(&cell(&get, "rust-sync", "get")["count"]), u(&cell(&get, "rust-sync", "get")["errors"])), (40, 0));
}

#[test]
fn wire_column_against_a_dying_server_ends_with_errors_not_a_hang() {
    let server = Server::start();
    let port = server.port.to_string();
    let cmd = aerobench(&[
        "--port",
        &port,
        "--clients",
        "wire",
        "--ops",
        "put",
        "--count",
        "5000",
        "--rounds",
        "1000",
        "--timeout-ms",
        "200",
        "--format",
        "json",
        "--quiet",
    ]);
    let started = Instant::now();
    let bench = std::thread::spawn(move || run_with_timeout(cmd, Duration::from_secs(60)));
    // Writing and encoding the 5,000 records takes well under the 3 s before the kill; the
    // 1,000 rounds of puts would take far longer.
    std::thread::sleep(Duration::from_secs(3));
    drop(server); // kills and reaps `aerobench serve`
    let out = bench.join().unwrap();
    let took = started.elapsed();
    assert!(!out.timed_out, "aerobench hung after its server died\n{}", out.describe());
    assert_eq!(out.status.and_then(|s| s.code()), Some(1), "{}", out.describe());
    assert!(took < Duration::from_secs(20), "took {took:?}");
    let doc = json(&out);
    let put = cell(&doc, "wire", "put");
    let (count, errors) = (u(&put["count"]), u(&put["errors"]));
    assert!(count > errors && errors > 0, "puts before the kill succeed, then fail: {put}");
    assert!(u(&doc["workload"]["rounds_completed"]) < 1000, "the run stopped early: {put}");
    let reasons = put["errors_by_reason"].as_object().unwrap();
    assert!(reasons.keys().all(|r| r.starts_with("network:") || r == "timeout"), "{reasons:?}");
    assert!(
        doc["columns"][0]["error"].is_string() || !put["notes"].as_array().unwrap().is_empty(),
        "the report says the run broke off: {:#}",
        doc
    );
}
