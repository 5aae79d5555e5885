//! An operation a column's client cannot do, end to end with the real binary and the built-in
//! server: the wire floor's batch write and a Python client raising `Unsupported` (the no-op
//! client told to lack one operation) each give a "not supported" cell that says why, counts no
//! calls and no errors, is compared by no verdict, shows as "not supported" in the tables, and
//! leaves the exit code alone; the columns' other operations run as usual.

use std::process::{Command, Output};

use serde_json::Value;

mod common;

use common::{assert_schema_valid, cache_dir, report};

const COLUMNS: [&str; 3] = ["wire", "py-noop", "py-noop-async"];

/// batch_write, which the floor does not encode and the no-op clients are told to lack, between
/// two operations every column has; a warm-up and two rounds.
fn run(format: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aerobench"))
        .args(["--builtin-server", "--clients", &COLUMNS.join(","), "--ops", "put,batch_write,get"])
        .args(["--count", "50", "--batch-size", "10", "--warmup", "10", "--rounds", "2", "--force", "--quiet"])
        .args(["--min-phase-calls", "0", "--min-phase-time", "0", "--format", format])
        .env("AEROBENCH_STUB_UNSUPPORTED", "batch_write")
        .env("AEROBENCH_CACHE_DIR", cache_dir())
        .env_remove("AEROSPIKE_HOST")
        .env_remove("AEROSPIKE_PORT")
        .output()
        .expect("run aerobench")
}

#[test]
fn an_operation_a_client_lacks_is_a_not_supported_cell_that_does_not_fail_the_run() {
    let out = run("json");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let doc = report(&out);
    assert_schema_valid(&doc);
    assert_eq!(out.status.code(), Some(0), "no call failed: {stderr}");
    let cells = doc["cells"].as_array().unwrap();
    let cell = |column: &str, op: &str| -> &Value {
        cells.iter().find(|c| c["column"] == column && c["operation"] == op).unwrap_or_else(|| panic!("{column} {op}"))
    };
    for column in COLUMNS {
        let lacking = cell(column, "batch_write");
        let why = lacking["not_supported"].as_str().unwrap_or_else(|| panic!("{lacking:#}"));
        let expected =
            if column == "wire" { "not supported by the wire floor" } else { "not supported by the no-op client" };
        assert!(why.starts_with(expected), "{column}: {why}");
        assert_eq!((&lacking["count"], &lacking["errors"]), (&Value::from(0), &Value::from(0)), "{lacking:#}");
        assert_eq!(lacking["errors_by_reason"], serde_json::json!({}), "{lacking:#}");
        assert_eq!(lacking["rounds"], serde_json::json!([]), "no round measured: {lacking:#}");
        assert_eq!(lacking["notes"], serde_json::json!([why]), "the notes say why: {lacking:#}");
        for op in ["put", "get"] {
            let c = cell(column, op);
            assert!(c.get("not_supported").is_none(), "{c:#}");
            assert_eq!(c["errors"], 0, "{c:#}");
            assert_eq!(c["count"], 100, "two rounds of 50: {c:#}");
        }
    }
    for col in doc["columns"].as_array().unwrap() {
        assert!(col["error"].is_null(), "{col}");
    }
    // Told once, in the warm-up: no measured round runs batch_write again; put and get run both.
    let windows = doc["schedule"]["phases"].as_array().unwrap_or_else(|| panic!("{}", doc["schedule"]));
    let ran = |op: &str| windows.iter().filter(|w| w["operation"] == op).count();
    assert_eq!((ran("batch_write"), ran("put"), ran("get")), (0, 6, 6), "{windows:#?}");
    // No verdict compares a cell that measured nothing; the other operations are compared.
    let ratios = doc["ratios"].as_array().unwrap();
    assert!(ratios.iter().all(|r| r["operation"] != "batch_write"), "{ratios:#?}");
    assert!(ratios.iter().any(|r| r["operation"] == "get"), "{ratios:#?}");
}

#[test]
fn the_tables_show_not_supported_where_the_operation_is_lacking() {
    let out = run("markdown");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let md = String::from_utf8_lossy(&out.stdout);
    let batch = &md[md.find("batch_write").unwrap_or_else(|| panic!("{md}"))..];
    let rows: Vec<&str> = batch.lines().filter(|l| l.contains("not supported |")).collect();
    assert!(rows.len() >= COLUMNS.len(), "a not supported row per column:\n{md}");
    assert!(
        md.contains("not supported by the wire floor: it does not encode batch writes"),
        "the reason, in the notes:\n{md}"
    );
    assert!(!md.contains("| error"), "nothing failed:\n{md}");
}
