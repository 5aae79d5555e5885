//! `--verify` cannot be fooled, end to end with the real binary, the real clients and the
//! built-in server: against a server that changes every value it returns
//! (`serve --corrupt-one-in 1`), every column (the `wire` floor too) counts value mismatches in every read it
//! makes (get, batch_get, scan), for every record shape, a first bin that carries no record index
//! included (a boolean), and under every `--materialise` mode; against a sound server the same
//! runs count none.

use serde_json::Value;

mod common;

use common::{Server, assert_schema_valid, cache_dir, report};

/// Every column, the `wire` floor included (it decodes the records it reads under --verify).
const READERS: &str = "wire,rust-sync,rust-async,aerospike-py-sync,aerospike-py-async,official-c,official-c-executor,\
aerospike-native-sync,aerospike-native-async,aerospike-sdk-sync,aerospike-sdk-async";

fn run(port: u16, args: &[&str]) -> (Value, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aerobench"))
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--format", "json", "--quiet"])
        .args(["--rounds", "1", "--warmup", "0", "--force", "--count", "60", "--batch-size", "20"])
        .args(["--clients", READERS, "--verify"])
        .args(args)
        .env("AEROBENCH_CACHE_DIR", cache_dir())
        .env_remove("VIRTUAL_ENV")
        .output()
        .expect("run aerobench");
    let context =
        format!("{args:?}: status {:?}\n--- stderr ---\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    let doc = report(&out);
    assert_schema_valid(&doc);
    (doc, context)
}

/// The reads of a run: (column, operation, calls, errors, value mismatches).
fn reads(doc: &Value) -> Vec<(String, String, u64, u64, u64)> {
    doc["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["operation"] != "put")
        .map(|c| {
            let mismatches = c["failures"]["value mismatch"].as_u64().unwrap_or(0);
            (
                c["column"].as_str().unwrap().to_string(),
                c["operation"].as_str().unwrap().to_string(),
                c["count"].as_u64().unwrap(),
                c["errors"].as_u64().unwrap(),
                mismatches,
            )
        })
        .collect()
}

/// The shapes and materialise modes checked: every named shape and the default bins under
/// `records`; a boolean-first record and the default bins under `none` (the batch is read after
/// the timed call); records with int and float bins under `numpy`.
const CASES: &[(&[&str], &str, &str)] = &[
    (&[], "records", "put,get,batch_get,scan"),
    (&["--record", "flag=BOOL,payload=B64"], "records", "put,get,batch_get,scan"),
    (&["--record", "flag=BOOL,tag=S2"], "records", "put,get,batch_get,scan"),
    (&["--record", "profile"], "records", "put,get,batch_get,scan"),
    (&["--record", "feature-vector"], "records", "put,get,batch_get,scan"),
    (&["--record", "blob"], "records", "put,get,batch_get,scan"),
    (&["--record", "wide"], "records", "put,get,batch_get,scan"),
    (&["--record", "flag=BOOL,payload=B64"], "none", "put,batch_get"),
    (&[], "none", "put,batch_get"),
    (&["--record", "flag=BOOL,n=I,x=F"], "numpy", "put,batch_get"),
    (&["--record", "feature-vector", "--read-bins", "8"], "numpy", "put,batch_get"),
];

#[test]
fn a_corrupting_server_makes_every_column_count_mismatches_in_every_shape_and_mode() {
    let server = Server::start_with(&["--quiet", "--corrupt-one-in", "1"]);
    for (record, mode, ops) in CASES {
        let (doc, context) = run(server.port, &[&record[..], &["--materialise", mode, "--ops", ops]].concat());
        let cells = reads(&doc);
        assert_eq!(cells.len(), READERS.split(',').count() * (ops.split(',').count() - 1), "{context}");
        for (column, op, calls, errors, mismatches) in cells {
            let what = format!("{column} {op} ({record:?}, --materialise {mode}): {calls} calls, {errors} errors");
            assert!(calls > 0, "{what}\n{context}");
            // Every value is changed: every read fails, and for a value mismatch only.
            assert_eq!((errors, mismatches), (calls, calls), "{what}\n{context}");
        }
    }
}

#[test]
fn a_sound_server_gives_no_mismatch_in_the_same_runs() {
    let server = Server::start_with(&["--quiet"]);
    // Every named shape under `records` runs clean in tests/records.rs; here the rest.
    for (record, mode, ops) in
        CASES.iter().filter(|(record, mode, _)| *mode != "records" || record.len() == 2 && record[1].contains('='))
    {
        let (doc, context) = run(server.port, &[&record[..], &["--materialise", mode, "--ops", ops]].concat());
        for (column, op, calls, errors, _) in reads(&doc) {
            assert!(
                calls > 0 && errors == 0,
                "{column} {op} ({record:?}, --materialise {mode}): {errors} errors\n{context}"
            );
        }
    }
}
