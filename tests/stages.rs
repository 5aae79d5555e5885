//! `--stages` end to end: the real binary against the built-in server, one extra phase per
//! column and operation with the client's own stage timers on. The no-op Python client given
//! known stage times (`AEROBENCH_STUB_STAGES`) must come back with exactly those times; the real
//! aerospike-py must come back with its own stage names; clients without timers get a note; two
//! builds of aerospike-py are compared stage by stage.

use std::process::{Command, Output};

use serde_json::Value;

mod common;
use common::{assert_schema_valid, cache_dir, report};

fn aerobench(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    cmd.args(["--builtin-server", "--format", "json", "--quiet", "--rounds", "1", "--stages"]).args(args);
    cmd.env("AEROBENCH_CACHE_DIR", cache_dir()).env_remove("VIRTUAL_ENV");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run aerobench")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The stage table of `column` and `operation`.
fn table<'a>(r: &'a Value, column: &str, operation: &str) -> &'a Value {
    r["stages"]["tables"]
        .as_array()
        .expect("a stages section with tables")
        .iter()
        .find(|t| t["column"] == column && t["operation"] == operation)
        .unwrap_or_else(|| panic!("no stage table of {column} {operation}: {}", r["stages"]))
}

fn stage<'a>(t: &'a Value, name: &str) -> &'a Value {
    t["stages"].as_array().unwrap().iter().find(|s| s["stage"] == name).unwrap_or_else(|| panic!("no {name} in {t}"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn notes(r: &Value) -> Vec<String> {
    r["stages"]["notes"].as_array().map_or(Vec::new(), |n| n.iter().map(|n| n.as_str().unwrap().to_string()).collect())
}

#[test]
fn the_stage_table_of_a_stub_equals_the_times_it_reports() {
    // Each call of the stub records key_parse 20 µs and io 1.2 ms, and sleeps 2 ms.
    let (key_parse, io) = (0.000_02, 0.001_2);
    let out = aerobench(
        &[
            "--clients",
            "py-noop,py-noop-async,noop",
            "--stub-delay-us",
            "2000",
            "--ops",
            "get,batch_get",
            "--count",
            "100",
            "--concurrency",
            "4",
            "--min-phase-calls",
            "0",
            "--min-phase-time",
            "0",
        ],
        &[("AEROBENCH_STUB_STAGES", &format!("key_parse={key_parse},io={io}"))],
    );
    assert!(out.status.success(), "stderr:\n{}", stderr(&out));
    let r = report(&out);
    assert_schema_valid(&r);
    for column in ["py-noop", "py-noop-async"] {
        for (operation, calls) in [("get", 100), ("batch_get", 1)] {
            let t = table(&r, column, operation);
            let what = format!("{column} {operation}");
            // The extra phase makes the measured phase's calls; the cell holds only the round's.
            assert_eq!(t["calls"], calls, "{what}");
            let cell =
                r["cells"].as_array().unwrap().iter().find(|c| c["column"] == column && c["operation"] == operation);
            assert_eq!(cell.unwrap()["count"], calls, "{what}: the extra phase is not in the cell");
            let names: Vec<&str> =
                t["stages"].as_array().unwrap().iter().map(|s| s["stage"].as_str().unwrap()).collect();
            assert_eq!(names, ["key_parse", "io"], "{what}: in the order a call passes them");
            for (name, secs, lower, upper) in [("key_parse", key_parse, 1e-5, 5e-5), ("io", io, 1e-3, 2e-3)] {
                let s = stage(t, name);
                // Every call recorded the stage once, with the time given.
                assert_eq!(s["count"], calls, "{what} {name}");
                assert!((f(&s["mean_secs"]) - secs).abs() < secs * 1e-9, "{what} {name}: {s}");
                // p50 and p99 are interpolated within the bucket that holds the time given.
                for q in ["p50_secs", "p99_secs"] {
                    assert!(f(&s[q]) > lower && f(&s[q]) <= upper, "{what} {name} {q}: {s}");
                }
                let share = f(&s["share"]);
                let expected = secs * calls as f64 / f(&t["call_secs_total"]);
                assert!((share - expected).abs() < 1e-9, "{what} {name}: share {share}, expected {expected}");
            }
            // Each call lasted at least its 2 ms sleep: io is at most 1.2 of its 2 ms, and the
            // shares keep the ratio of the times given.
            let (io_share, parse_share) = (f(&stage(t, "io")["share"]), f(&stage(t, "key_parse")["share"]));
            assert!(io_share > 0.0 && io_share <= 0.6 + 1e-9, "{what}: io share {io_share}");
            assert!((io_share / parse_share - io / key_parse).abs() < 1e-6, "{what}: {io_share} / {parse_share}");
            assert!(f(&t["timers_speed_ratio"]) > 0.0, "{what}: {t}");
            assert_eq!(t["bucket_bounds_secs"].as_array().unwrap().len(), 15, "{what}");
        }
    }
    // The Rust no-op column has no timers: a note, no table, no error.
    assert!(r["stages"]["tables"].as_array().unwrap().iter().all(|t| t["column"] != "noop"));
    assert!(notes(&r).contains(&"no-op: this client has no internal stage timers".to_string()), "{:?}", notes(&r));
    // Two kinds of column, not two builds: nothing compared.
    assert!(r["stages"]["comparisons"].is_null(), "{}", r["stages"]);
}

#[test]
fn a_stub_without_timers_gives_a_note_and_no_stage_section_without_the_option() {
    let out = aerobench(&["--clients", "py-noop", "--ops", "get", "--count", "50"], &[]);
    assert!(out.status.success(), "stderr:\n{}", stderr(&out));
    let r = report(&out);
    assert!(r["stages"]["tables"].as_array().unwrap().is_empty(), "{}", r["stages"]);
    assert_eq!(notes(&r), ["Python no-op: this client has no internal stage timers"]);
    // Without --stages, no section at all.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    cmd.args(["--builtin-server", "--format", "json", "--quiet", "--rounds", "1", "--clients", "py-noop"])
        .args(["--ops", "get", "--count", "50"])
        .env("AEROBENCH_CACHE_DIR", cache_dir())
        .env("AEROBENCH_STUB_STAGES", "io=0.001");
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "stderr:\n{}", stderr(&out));
    assert!(report(&out).get("stages").is_none());
}

#[test]
fn aerospike_py_async_batch_get_shows_its_own_stages_and_clients_without_them_a_note() {
    let out = aerobench(
        &[
            "--clients",
            "aerospike-py-async,aerospike-py-sync,official-c",
            "--ops",
            "batch_get",
            "--count",
            "300",
            "--batch-size",
            "50",
            "--concurrency",
            "4",
        ],
        &[],
    );
    assert!(out.status.success(), "stderr:\n{}", stderr(&out));
    let r = report(&out);
    assert_schema_valid(&r);
    let t = table(&r, "aerospike-py-async", "batch_get");
    // aerospike-py 0.14.4's stages of an AsyncClient.batch_read.
    for name in ["key_parse", "future_into_py_setup", "tokio_schedule_delay", "io", "spawn_blocking_delay"] {
        let s = stage(t, name);
        assert!(s["count"].as_u64().unwrap() > 0, "{name}: {s}");
        assert_eq!(s["client_operation"], "batch_read", "{name}");
        assert!(f(&s["p50_secs"]) <= f(&s["p99_secs"]), "{name}: {s}");
    }
    assert!(f(&stage(t, "io")["share"]) > 0.0);
    let notes = notes(&r);
    assert!(
        notes.iter().any(|n| n == "official aerospike (C): aerospike 19.3.0 has no internal stage timers"),
        "{notes:?}"
    );
    // The sync Client's batch_read records no stage: said, not an error.
    assert!(
        notes
            .iter()
            .any(|n| n == "aerospike-py (Rust): aerospike-py 0.14.4 recorded no stage during its batch_get phase"),
        "{notes:?}"
    );
    assert!(r["columns"].as_array().unwrap().iter().all(|c| c["error"].is_null()));
}

#[test]
fn two_builds_of_aerospike_py_are_compared_stage_by_stage() {
    let out = aerobench(
        &[
            "--clients",
            "aerospike-py-async",
            "--client-version",
            "aerospike-py=0.9.0,0.14.4",
            "--ops",
            "batch_get",
            "--count",
            "200",
            "--batch-size",
            "50",
            "--concurrency",
            "4",
        ],
        &[],
    );
    assert!(out.status.success(), "stderr:\n{}", stderr(&out));
    let r = report(&out);
    assert_schema_valid(&r);
    let comparisons = r["stages"]["comparisons"].as_array().expect("comparisons");
    assert_eq!(comparisons.len(), 1, "{comparisons:?}");
    let c = &comparisons[0];
    assert_eq!(
        (c["base"].as_str(), c["other"].as_str()),
        (Some("aerospike-py-async@0.9.0"), Some("aerospike-py-async@0.14.4"))
    );
    let io = c["stages"].as_array().unwrap().iter().find(|s| s["stage"] == "io").expect("io compared");
    let ratio = f(&io["other"]["p50_secs"]) / f(&io["base"]["p50_secs"]);
    assert!((f(&io["p50_ratio"]) - ratio).abs() < 1e-9, "{io}");
    // Both builds' tables are there, each with its own stages.
    for id in ["aerospike-py-async@0.9.0", "aerospike-py-async@0.14.4"] {
        assert!(stage(table(&r, id, "batch_get"), "io")["count"].as_u64().unwrap() > 0, "{id}");
    }
}

#[test]
fn stages_do_not_apply_to_a_service_run() {
    let out = Command::new(env!("CARGO_BIN_EXE_aerobench"))
        .args(["--builtin-server", "--stages", "--service", "get-json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "stderr:\n{}", stderr(&out));
    assert!(stderr(&out).contains("--stages") && stderr(&out).contains("--service"), "{}", stderr(&out));
}
