//! A Python column whose worker dies of a signal, end to end with the real binary and the
//! built-in server: the report says where (the Python stack of every thread, the native
//! backtrace where the C library has one) in the column's error, the markdown and the JSON, and
//! the run goes on with the other columns.

use std::process::{Command, Output};

use serde_json::Value;

mod common;

use common::{assert_schema_valid, cache_dir, report};

/// The Python no-op column, whose batch_get calls die of SIGSEGV, beside the Rust crate.
fn crashing_run(format: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aerobench"))
        .args(["--builtin-server", "--clients", "py-noop,rust-sync", "--count", "40", "--force"])
        .args(["--rounds", "1", "--warmup", "0", "--quiet", "--format", format])
        .env("AEROBENCH_STUB_SEGFAULT", "batch_get")
        .env("AEROBENCH_CACHE_DIR", cache_dir())
        .env_remove("AEROSPIKE_HOST")
        .env_remove("AEROSPIKE_PORT")
        .output()
        .expect("run aerobench")
}

#[test]
fn a_worker_killed_by_sigsegv_reports_its_python_stack_and_the_run_goes_on() {
    let out = crashing_run("json");
    let doc = report(&out);
    assert_schema_valid(&doc);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let columns = doc["columns"].as_array().unwrap();
    let crashed = columns.iter().find(|c| c["id"] == "py-noop").expect("the py-noop column");
    let error = crashed["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("batch_get round 1: worker killed by signal 11 (SIGSEGV)"), "{error}\n{stderr}");
    assert!(error.contains("segfault_on_purpose (aerobench_client_noop.py:"), "the crashing frame named: {error}");
    let crash: &Value = &crashed["crash"];
    assert_eq!(crash["ended"], "killed by signal 11 (SIGSEGV)");
    let stacks = crash["python_stacks"].as_str().unwrap();
    assert!(stacks.contains("Segmentation fault") && stacks.contains("Current thread"), "{stacks}");
    assert!(stacks.contains("in segfault_on_purpose"), "{stacks}");
    if cfg!(any(all(target_os = "linux", target_env = "gnu"), target_os = "macos")) {
        let native = crash["native_backtrace"].as_str().unwrap_or_default();
        assert!(native.contains("_ctypes"), "the native frames reach ctypes' C code: {native}");
    }
    // What the column measured before the crash is kept; the other column runs every operation.
    let cells = doc["cells"].as_array().unwrap();
    let ops = |id: &str| -> Vec<&str> {
        cells.iter().filter(|c| c["column"] == id).map(|c| c["operation"].as_str().unwrap()).collect()
    };
    assert_eq!(ops("py-noop"), ["put", "get"]);
    assert_eq!(ops("rust-sync"), ["put", "get", "batch_get", "scan"]);
    for cell in cells.iter().filter(|c| c["column"] == "rust-sync") {
        assert!(cell["count"].as_u64().unwrap() > 0 && cell["errors"] == 0, "{cell}");
    }
    // The column that ran is unharmed; the crashed one has no crash report of the other's.
    assert!(columns.iter().find(|c| c["id"] == "rust-sync").unwrap().get("crash").is_none());
    assert_ne!(out.status.code(), Some(0), "a crashed column fails the run");
}

#[test]
fn the_markdown_report_shows_the_crashed_worker_s_python_stacks() {
    let out = crashing_run("markdown");
    let md = String::from_utf8_lossy(&out.stdout);
    let at = md.find("worker killed by signal 11 (SIGSEGV)").unwrap_or_else(|| panic!("{md}"));
    let after = &md[at..];
    assert!(after.contains("```text") && after.contains("Fatal Python error: Segmentation fault"), "{md}");
    assert!(after.contains("in segfault_on_purpose"), "{md}");
}
