//! In-place updates (`--ops update`) and NumPy batch results (`--materialise numpy`) end to end:
//! the real binary, the real clients, the built-in server. An update's effect is read back
//! afterwards through the Rust crate; the NumPy mode's values are checked row by row with
//! `--verify` and counted against the dict path's.

mod common;

use std::process::Command;
use std::time::Duration;

use aerospike::{Bins, Client, ClientPolicy, Key, ReadPolicy, Value};
use serde_json::Value as Json;

use common::{COLUMNS, Server, assert_schema_valid, cache_dir, run_with_timeout};

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
    let doc = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.describe()));
    assert_schema_valid(&doc);
    doc
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

/// Every Python column, the Rust crate and the floor, reading records of 8 float bins.
const NUMPY_CLIENTS: &str = "wire,rust-sync,aerospike-py-sync,aerospike-py-async,official-c,official-c-executor,aerospike-native-sync,aerospike-native-async";

/// 8 float bins: the ML feature shape.
const FLOATS: &[&str] = &["--bins", "8", "--bin-type", "float"];
/// An int, a string, a float and another string: the array holds the int and the float, whose
/// values differ, so a row filled from the wrong bins shows.
const MIXED: &[&str] = &["--bins", "4", "--bin-type", "mixed"];
/// aerospike-py's ML-serving shape: 64 float bins, 8 of them read.
const FEATURES_SUBSET: &[&str] = &["--record", "feature-vector", "--read-bins", "8"];

fn batch_gets(port: Option<u16>, materialise: &str, clients: &str, extra: &[&str]) -> Json {
    let mut args = vec!["--ops", "batch_get", "--count", "200", "--warmup", "20", "--rounds", "1"];
    args.extend(["--materialise", materialise, "--clients", clients]);
    args.extend(extra);
    if !extra.contains(&"--bins") && !extra.contains(&"--record") {
        args.extend(FLOATS);
    }
    run(port, &args)
}

fn columns(doc: &Json) -> Vec<&Json> {
    doc["columns"].as_array().unwrap().iter().collect()
}

#[test]
fn numpy_arrays_hold_the_values_the_dicts_hold_in_every_column() {
    for layout in [FLOATS, MIXED, FEATURES_SUBSET] {
        numpy_and_dicts_agree(layout);
    }
}

fn numpy_and_dicts_agree(layout: &[&str]) {
    let dicts = batch_gets(None, "records", NUMPY_CLIENTS, layout);
    let arrays = batch_gets(None, "numpy", NUMPY_CLIENTS, layout);
    assert_eq!(
        (&dicts["workload"]["materialise"], &arrays["workload"]["materialise"]),
        (&"records".into(), &"numpy".into())
    );
    for column in NUMPY_CLIENTS.split(',') {
        let (d, a) = (cell(&dicts, column, "batch_get"), cell(&arrays, column, "batch_get"));
        // --verify on: each dict, and each array row by row (row k is record first + k), held
        // the values written; and both found every record.
        for c in [d, a] {
            assert_eq!(
                (c["count"].as_u64(), c["errors"].as_u64(), c["records"].as_u64()),
                (Some(10), Some(0), Some(200)),
                "{column}: {c:#}"
            );
        }
        let noted = a["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("--materialise numpy: not applicable"));
        assert_eq!(noted, matches!(column, "wire" | "rust-sync"), "{column}: {a:#}");
        if column.starts_with("aerospike-py") {
            let own = a["notes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n.as_str().unwrap().starts_with("--materialise numpy: the client's own API"));
            assert!(own, "{column}: the note says how: {a:#}");
        }
    }
    // How each column made its arrays, in its policies (shown in the header too).
    for c in columns(&arrays) {
        let how = c["policies"]["materialise"].as_str().unwrap_or("");
        let id = c["id"].as_str().unwrap();
        let want = match id {
            "aerospike-py-sync" | "aerospike-py-async" => {
                "the client's own API, batch_read(keys, policy=…).to_numpy(dtype)"
            }
            "wire" | "rust-sync" => "",
            _ => "records filled into a structured array by the application",
        };
        assert!(how.ends_with(want) && how.is_empty() == want.is_empty(), "{id}: {how:?}");
    }
    assert!(columns(&dicts).iter().all(|c| c["policies"].get("materialise").is_none()));
}

#[test]
fn aerospike_py_before_0_12_makes_its_arrays_with_batch_read_dtype() {
    let doc =
        batch_gets(None, "numpy", "aerospike-py-sync,aerospike-py-async", &["--client-version", "aerospike-py=0.9.0"]);
    for c in columns(&doc) {
        assert_eq!(c["client_version"], "0.9.0", "{c:#}");
        let how = c["policies"]["materialise"].as_str().unwrap();
        assert!(how.contains("_dtype=dtype"), "{how}");
        let id = c["id"].as_str().unwrap();
        let b = cell(&doc, id, "batch_get");
        assert_eq!((b["errors"].as_u64(), b["records"].as_u64()), (Some(0), Some(200)), "{id}: {b:#}");
    }
}

#[test]
fn numpy_verify_catches_values_the_server_changed() {
    // One value in 50 that the server returns has its last byte changed.
    let server = Server::start_with(&["--quiet", "--corrupt-one-in", "50"]);
    // Sync and async columns alike: each fills and checks its arrays on its own path.
    let clients = "aerospike-py-sync,aerospike-py-async,official-c,official-c-executor,aerospike-native-sync,aerospike-native-async";
    let doc = batch_gets(Some(server.port), "numpy", clients, &[]);
    for column in clients.split(',') {
        let c = cell(&doc, column, "batch_get");
        let reasons = c["errors_by_reason"].as_object().unwrap();
        assert!(c["errors"].as_u64().unwrap() > 0, "{column}: a changed value went unnoticed: {c:#}");
        assert!(reasons.keys().all(|r| r.contains("value mismatch")), "{column}: {reasons:?}");
    }
}

#[test]
fn numpy_without_int_or_float_bins_is_refused_before_anything_runs() {
    let out = Command::new(env!("CARGO_BIN_EXE_aerobench"))
        .args(["--builtin-server", "--quiet", "--bin-type", "string", "--materialise", "numpy"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--materialise numpy") && stderr.contains("--bin-type float"), "{stderr}");
}
