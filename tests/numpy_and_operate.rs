//! In-place updates (`--ops update`) and NumPy batch results (`--materialise numpy`) end to end:
//! the real binary, the real clients, the built-in server. An update's effect is read back
//! afterwards through the Rust crate; the NumPy mode's values are checked row by row with
//! `--verify` and counted against the dict path's.

mod common;

use std::process::Command;
use std::time::Duration;

use aerospike::{Bins, Client, ClientPolicy, Key, ReadPolicy, Value};
use serde_json::Value as Json;

use common::{COLUMNS, Server, cache_dir, run_with_timeout};

/// aerobench against `port` (or its own built-in server when `None`), JSON out.
fn run(port: Option<u16>, args: &[&str]) -> Json {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    cmd.args(["--format", "json", "--quiet", "--verify", "--batch-size", "20", "--concurrency", "4"]).args([
        "--min-phase-calls",
        "0",
        "--min-phase-time",
        "0",
    ]);
    match port {
        Some(p) => cmd.args(["--host", "127.0.0.1", "--port", &p.to_string()]),
        None => cmd.arg("--builtin-server"),
    };
    cmd.args(args);
    cmd.env("AEROBENCH_CACHE_DIR", cache_dir()).env_remove("VIRTUAL_ENV");
    cmd.env_remove("AEROSPIKE_HOST").env_remove("AEROSPIKE_PORT");
    let out = run_with_timeout(cmd, Duration::from_secs(240));
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.describe()))
}

fn cell<'a>(doc: &'a Json, column: &str, op: &str) -> &'a Json {
    doc["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == column && c["operation"] == op)
        .unwrap_or_else(|| panic!("no {column} {op} cell in {doc:#}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn updates_run_in_every_column_and_every_one_is_in_the_record() {
    let server = Server::start();
    let (count, warmup) = (40u64, 5u64);
    let doc = run(
        Some(server.port),
        &[
            "--ops",
            "update",
            "--count",
            &count.to_string(),
            "--warmup",
            &warmup.to_string(),
            "--rounds",
            "2",
            "--set",
            "upd",
            "--clients",
            &COLUMNS.join(","),
        ],
    );
    assert_eq!(doc["workload"]["operations"], serde_json::json!(["update"]));
    let mut calls = 0;
    for column in COLUMNS {
        let c = cell(&doc, column, "update");
        // --verify on: each call's list size equalled the counter it read back.
        assert_eq!((c["count"].as_u64(), c["errors"].as_u64()), (Some(2 * count), Some(0)), "{column}: {c:#}");
        calls += 2 * count + warmup;
    }
    // Read every record back through the Rust crate: record i's list holds only i, as many
    // times as its map counter says, and the counters add up to every update call made.
    let client = Client::new(&ClientPolicy::default(), &server.addr()).await.expect("connect");
    let mut total = 0;
    for i in 0..count {
        let key = Key::new("test", "upd", Value::from(format!("aerobench-{i}"))).unwrap();
        let record = client.get(&ReadPolicy::default(), &key, Bins::All).await.expect("record");
        let Some(Value::List(list)) = record.bins.get("upd_list") else { panic!("record {i}: {:?}", record.bins) };
        // Key-ordered when the client that created it asked for that (as a real server keeps it).
        let counter = match record.bins.get("upd_map") {
            Some(Value::HashMap(map)) => map.get(&Value::from("updates")).cloned(),
            Some(Value::OrderedMap(map)) => map.get(&Value::from("updates")).cloned(),
            other => panic!("record {i}: {other:?}"),
        };
        let Some(Value::Int(counter)) = counter else { panic!("record {i}: {:?}", record.bins) };
        assert_eq!(list.len() as i64, counter, "record {i}");
        assert!(list.iter().all(|v| *v == Value::Int(i as i64)), "record {i}: {list:?}");
        total += counter as u64;
    }
    assert_eq!(total, calls, "every update call appended once and counted once");
}
