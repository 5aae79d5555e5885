//! `--profile` end to end: the real binary, the built-in server, py-spy from PyPI (installed into
//! the tests' package cache on first use) sampling real worker processes. A no-op column that
//! spends known shares in a named Python function and in zlib's C code shows those frames with
//! about those shares; two builds of aerospike-py that differ in one function have that function
//! first among the frames that grew; a worker py-spy cannot attach to gets a note, and the run
//! exits 0. Shares are checked with wide margins, never durations.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod common;

use common::{assert_schema_valid, cache_dir, report, scratch};

/// A JSON run of one round of `count` calls, then the profile pass writing into `dir`.
fn aerobench(dir: &Path, count: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    cmd.args(["--builtin-server", "--format", "json", "--quiet", "--rounds", "1", "--warmup", "0"])
        .args(["--count", count, "--min-phase-calls", "0", "--min-phase-time", "0"])
        .args(["--profile", "--profile-time", "2s", "--profile-dir"])
        .arg(dir)
        .args(args)
        .env("AEROBENCH_CACHE_DIR", cache_dir())
        .env_remove("VIRTUAL_ENV");
    cmd.output().expect("run aerobench")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The profile of `column` and `op` in the report.
fn profile<'a>(r: &'a Value, column: &str, op: &str) -> &'a Value {
    r["profiles"]["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["column"] == column && p["operation"] == op)
        .unwrap_or_else(|| panic!("no profile of {column} {op}: {}", r["profiles"]))
}

/// The largest total share among the frames of `p` whose label `matches`.
fn total_share(p: &Value, matches: impl Fn(&str) -> bool) -> f64 {
    p["frames"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| matches(f["frame"].as_str().unwrap()))
        .map(|f| f["total_share"].as_f64().unwrap())
        .fold(0.0, f64::max)
}

#[test]
fn known_shares_of_a_no_op_column_show_in_its_profile() {
    let dir = scratch("profile-shares");
    // 10 ms a call: about 60% in stub_python_work, 30% in zlib's C code, 10% asleep (long
    // calls, so a sleep that overshoots on a busy machine moves the shares little).
    let out = aerobench(
        &dir,
        "40",
        &["--clients", "py-noop,py-noop-async", "--ops", "get", "--stub-delay-us", "10000", "--stub-known-shares"],
    );
    assert!(out.status.success(), "exit {:?}; stderr:\n{}", out.status, stderr(&out));
    let r = report(&out);
    assert_schema_valid(&r);
    let profiles = &r["profiles"];
    assert_eq!(profiles["rate_hz"], 200);
    assert_eq!(profiles["dir"], dir.display().to_string());
    assert!(profiles["notes"].as_array().unwrap().is_empty(), "{}", profiles["notes"]);
    for id in ["py-noop", "py-noop-async"] {
        let p = profile(&r, id, "get");
        let samples = p["samples"].as_u64().unwrap();
        // 2 s at 200 a second, on a machine that may be busy.
        assert!(samples >= 100, "{id}: {samples} samples: {p}");
        let python = total_share(p, |f| f.starts_with("stub_python_work (python_shim/aerobench_client_noop.py)"));
        let native = total_share(p, |f| f.contains("zlib") || f.contains("libz"));
        assert!((0.35..=0.85).contains(&python), "{id}: stub_python_work has {python:.2} of the samples: {p}");
        assert!((0.12..=0.5).contains(&native), "{id}: zlib's C code has {native:.2} of the samples: {p}");
        assert!(python > native, "{id}: {python:.2} in Python, {native:.2} in zlib: {p}");
        // Every sample has one owner; the no-op client's code is aerobench's shim.
        let shares = p["shares"].as_object().unwrap();
        let sum: f64 = shares.values().map(|v| v.as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-6, "{id}: shares add up to {sum}: {shares:?}");
        assert!(shares["shim"].as_f64().unwrap() >= 0.6, "{id}: {shares:?}");
        assert_eq!(shares["client_extension"], 0.0, "{id}: the no-op client has no extension: {shares:?}");
        // The files: folded stacks naming the function, and a flame graph.
        let folded = std::fs::read_to_string(dir.join(p["folded"].as_str().unwrap())).unwrap();
        assert!(folded.lines().all(|l| l.rsplit_once(' ').is_some_and(|(_, n)| n.parse::<u64>().is_ok())), "{folded}");
        let in_folded: u64 = folded.lines().map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap()).sum();
        assert_eq!(in_folded, samples, "{id}: the folded stacks hold the profile's samples");
        let svg = std::fs::read_to_string(dir.join(p["flamegraph"].as_str().unwrap())).unwrap();
        assert!(svg.contains("<svg") && svg.contains("stub_python_work"), "{id}");
        // What the sampling cost: both phases made calls.
        let o = &p["overhead"];
        assert!(
            o["unprofiled_ops_per_sec"].as_f64().unwrap() > 0.0 && o["profiled_ops_per_sec"].as_f64().unwrap() > 0.0,
            "{o}"
        );
        // The sampled phases count in no cell: the cell holds the round's 40 calls only.
        let cell = r["cells"].as_array().unwrap().iter().find(|c| c["column"] == id).unwrap();
        assert_eq!(cell["count"], 40, "{id}: {cell}");
    }
}

/// `src` copied to `dst` as hard links, compiled files left out.
fn link_tree(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap().flatten() {
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        let kind = entry.file_type().unwrap();
        if kind.is_dir() && entry.file_name() != "__pycache__" {
            link_tree(&from, &to);
        } else if kind.is_file() {
            std::fs::hard_link(&from, &to).unwrap();
        }
    }
}

/// The pinned aerospike-py's install folder, installed into the shared cache on first use.
fn pinned_aerospike_py() -> PathBuf {
    let dir = common::python_cache_dir().join("aerospike-py-0.14.4");
    if !dir.join(".aerobench-complete").exists() {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
        cmd.args(["--builtin-server", "--quiet", "--rounds", "1", "--count", "10", "--ops", "put"])
            .args(["--clients", "aerospike-py-sync"])
            .env("AEROBENCH_CACHE_DIR", cache_dir());
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    dir
}

#[test]
fn the_function_a_later_build_added_comes_first_among_the_frames_that_grew() {
    let root = scratch("profile-builds");
    let (a, b) = (root.join("a"), root.join("b"));
    link_tree(&pinned_aerospike_py(), &a);
    link_tree(&pinned_aerospike_py(), &b);
    // Build b: every get also runs a Python function of its own.
    let client = b.join("aerospike_py").join("_client.py");
    let source = std::fs::read_to_string(&client).unwrap();
    let call = "return _wrap_record(super().get(key, policy))";
    assert!(source.contains(call), "aerospike-py 0.14.4's Client.get changed");
    std::fs::remove_file(&client).unwrap();
    std::fs::write(
        &client,
        source.replace(call, "return _wrap_record(checked_twice(super().get(key, policy)))")
            + "\n\ndef checked_twice(record):\n    x = 0\n    for i in range(40000):\n        x += i\n    return record\n",
    )
    .unwrap();
    let out = aerobench(
        &root.join("profiles"),
        "100",
        &[
            "--clients",
            "aerospike-py-sync",
            "--ops",
            "get",
            "--client-path",
            &format!("aerospike-py@a={}", a.display()),
            "--client-path",
            &format!("aerospike-py@b={}", b.display()),
        ],
    );
    assert!(out.status.success(), "exit {:?}; stderr:\n{}", out.status, stderr(&out));
    let r = report(&out);
    assert_schema_valid(&r);
    let diffs = r["profiles"]["differentials"].as_array().unwrap();
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    let d = &diffs[0];
    assert_eq!((d["before"].as_str(), d["after"].as_str()), (Some("aerospike-py-sync@a"), Some("aerospike-py-sync@b")));
    assert_eq!(d["operation"], "get");
    let grew = d["grew"].as_array().unwrap();
    assert_eq!(grew[0]["frame"], "checked_twice (aerospike_py/_client.py)", "{d}");
    assert_eq!(grew[0]["before"], 0.0, "{d}");
    assert!(grew[0]["change"].as_f64().unwrap() > 0.1, "{d}");
    // Own shares: its caller's total grew as much, its own did not.
    assert!(!grew.iter().any(|g| g["frame"].as_str().unwrap().starts_with("Client.get (")), "{d}");
    let svg = std::fs::read_to_string(root.join("profiles").join(d["flamegraph"].as_str().unwrap())).unwrap();
    assert!(svg.contains("checked_twice"));
    // The added function is the client's Python code.
    let python = |id: &str| profile(&r, id, "get")["shares"]["client_python"].as_f64().unwrap();
    assert!(python("aerospike-py-sync@b") > python("aerospike-py-sync@a") + 0.1, "{}", r["profiles"]);
}

#[test]
#[cfg_attr(
    no_free_threaded_python,
    ignore = "no free-threaded CPython found (pyenv's 3.13t/3.14t, python3.14t on PATH, or AEROBENCH_FREE_THREADED_PYTHON at build time)"
)]
fn a_worker_py_spy_cannot_attach_to_gets_a_note_and_the_run_exits_0() {
    let dir = scratch("profile-no-attach");
    // py-spy 0.4.3 cannot read a free-threaded interpreter's state.
    let python = env!("AEROBENCH_FREE_THREADED_PYTHON");
    let out = aerobench(&dir, "40", &["--clients", "py-noop", "--ops", "get,put", "--python", python]);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", stderr(&out));
    let r = report(&out);
    assert_schema_valid(&r);
    let id = r["columns"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(r["columns"][0]["python"]["free_threaded"], true, "{}", r["columns"][0]);
    let notes = r["profiles"]["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "one note for the column, not one per operation: {notes:?}");
    let note = notes[0].as_str().unwrap();
    assert!(note.contains("py-spy could not attach to the worker of") && note.contains("it has no profile"), "{note}");
    for op in ["get", "put"] {
        let p = profile(&r, &id, op);
        assert_eq!(p["samples"], 0, "{p}");
        assert!(p["note"].as_str().is_some_and(|n| !n.is_empty()), "{p}");
        assert!(p["flamegraph"].is_null(), "{p}");
    }
    // The measured rounds are all there.
    assert_eq!(r["cells"].as_array().unwrap().len(), 2);
}
