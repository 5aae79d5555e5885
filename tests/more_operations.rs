//! More operations end to end (`--ops exists,touch,operate,delete,batch_write` and `--workload
//! read-modify-write`): every client that has an operation makes its calls against the built-in
//! server without an error, with `--verify` on, over two rounds (so a delete phase's records are
//! back for the phases and round after it); a client without one gets a "not supported" cell
//! that says why. Every column's touch is seen at the server: the generation of each record it
//! touched goes up by one and its time to live becomes the one asked for.

mod common;

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use common::{COLUMNS, cache_dir, run_with_timeout};

fn run(args: &[&str]) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    cmd.args(["--format", "json", "--quiet", "--builtin-server", "--verify", "--count", "120", "--batch-size", "40"])
        .args(["--concurrency", "4", "--warmup", "10", "--clients", &COLUMNS.join(",")])
        .args(["--min-phase-calls", "0", "--min-phase-time", "0"])
        .args(args);
    cmd.env("AEROBENCH_CACHE_DIR", cache_dir()).env_remove("VIRTUAL_ENV");
    cmd.env_remove("AEROSPIKE_HOST").env_remove("AEROSPIKE_PORT");
    let out = run_with_timeout(cmd, Duration::from_secs(180));
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.describe()))
}

fn cell<'a>(doc: &'a Value, column: &str, op: &str) -> &'a Value {
    doc["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == column && c["operation"] == op)
        .unwrap_or_else(|| panic!("no {column} {op} cell"))
}

#[test]
fn every_client_that_has_an_operation_makes_its_calls_and_the_others_say_why_not() {
    let ops = ["delete", "exists", "touch", "operate", "batch_write", "get"];
    let doc = run(&["--rounds", "2", "--ops", &ops.join(",")]);
    for column in COLUMNS {
        for op in ops {
            let c = cell(&doc, column, op);
            let calls = if op == "batch_write" { 6 } else { 240 };
            // Every client here has every operation but the floor, which encodes no batch write.
            if column == "wire" && op == "batch_write" {
                assert_eq!((c["count"].as_u64(), c["errors"].as_u64()), (Some(0), Some(0)), "{column} {op}: {c:#}");
                let why = c["not_supported"].as_str().unwrap_or_default();
                assert!(why.starts_with("not supported by the wire floor"), "{column} {op}: {c:#}");
                continue;
            }
            // No call failed: each delete found its record (written again after the warm-up's
            // and round 1's deletes), each exists found one, --verify passed every read.
            assert_eq!((c["count"].as_u64(), c["errors"].as_u64()), (Some(calls), Some(0)), "{column} {op}: {c:#}");
            if op == "batch_write" {
                assert_eq!(c["records"].as_u64(), Some(240), "{column} {op}: {c:#}");
            }
        }
    }
    assert_eq!(doc["workload"]["operations"], serde_json::json!(ops));
}

#[test]
fn read_modify_write_is_one_cell_per_client() {
    let doc = run(&["--rounds", "1", "--workload", "read-modify-write"]);
    assert_eq!(doc["workload"]["mix"], "read-modify-write");
    assert_eq!(doc["workload"]["operations"], serde_json::json!(["read_modify_write"]));
    for column in COLUMNS {
        let c = cell(&doc, column, "read_modify_write");
        assert_eq!((c["count"].as_u64(), c["errors"].as_u64()), (Some(120), Some(0)), "{column}: {c:#}");
    }
    assert_eq!(doc["cells"].as_array().unwrap().len(), COLUMNS.len(), "only read_modify_write cells");
}

/// Generation and time to live of records `{prefix}0..n` as the aerospike crate reads them (a
/// path of its own: a client in this test, not a column).
fn headers(port: u16, prefix: &str, n: u64) -> Vec<(u32, Option<Duration>)> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let policy = aerospike::ClientPolicy::default();
        let client = aerospike::Client::new(&policy, &format!("127.0.0.1:{port}")).await.expect("connect");
        let mut out = Vec::new();
        for i in 0..n {
            let key = aerospike::Key::new("test", "aerobench", aerospike::Value::from(format!("{prefix}{i}"))).unwrap();
            let record = client.get(&aerospike::ReadPolicy::default(), &key, aerospike::Bins::None).await.unwrap();
            out.push((record.generation, record.time_to_live()));
        }
        client.close().await.unwrap();
        out
    })
}

#[test]
fn every_columns_touch_bumps_the_generation_and_sets_the_ttl_at_the_server() {
    let server = common::Server::start();
    let port = server.port.to_string();
    let run = |column: &str, prefix: &str, extra: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
        cmd.args(["--format", "json", "--quiet", "--port", &port, "--clients", column, "--key-prefix", prefix])
            .args(["--count", "20", "--rounds", "1", "--warmup", "0", "--min-phase-calls", "0"])
            .args(["--min-phase-time", "0", "--no-prewrite", "--force"])
            .args(extra);
        cmd.env("AEROBENCH_CACHE_DIR", cache_dir()).env_remove("VIRTUAL_ENV");
        cmd.env_remove("AEROSPIKE_HOST").env_remove("AEROSPIKE_PORT");
        let out = run_with_timeout(cmd, Duration::from_secs(180));
        assert!(out.success(), "{column} {extra:?}: {}", out.describe());
        let doc: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.describe()));
        doc
    };
    // The aerospike-sdk columns too (not in COLUMNS: their package is installed on first use).
    for column in COLUMNS.into_iter().chain(["aerospike-sdk-sync", "aerospike-sdk-async"]) {
        // Written once by the crate (generation 1, no time to live: the namespace default is
        // never), then touched once each by the column, with a time to live.
        let prefix = format!("touch-{column}-");
        run("rust-sync", &prefix, &["--ops", "put"]);
        assert!(headers(server.port, &prefix, 20).iter().all(|h| *h == (1, None)), "{column}: written once");
        let doc = run(column, &prefix, &["--ops", "touch", "--ttl", "600"]);
        let c = cell(&doc, column, "touch");
        assert_eq!((c["count"].as_u64(), c["errors"].as_u64()), (Some(20), Some(0)), "{column}: {c:#}");
        // An exists or a read in its place would leave both as they were.
        for (i, (generation, ttl)) in headers(server.port, &prefix, 20).into_iter().enumerate() {
            assert_eq!(generation, 2, "{column}: record {i} touched once");
            let ttl = ttl.unwrap_or_else(|| panic!("{column}: record {i} has no time to live after its touch"));
            assert!(ttl > Duration::from_secs(500) && ttl <= Duration::from_secs(600), "{column}: {i}: {ttl:?}");
        }
    }
}
