//! Python columns under interpreters other than the one aerobench was built with, end to end:
//! the real binary, the built-in server, aerospike-py from PyPI installed per interpreter, and a
//! worker built for the other interpreter on first use (cached under target/ for later runs).
//! These tests need pyenv's CPython 3.11 and 3.13 with a shared libpython, as CI has them; where
//! one is missing they fail and say what to install.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod common;

use common::{assert_schema_valid, cache_dir, column, report, scratch};

fn aerobench(args: &[&str], cache: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    cmd.args(["--builtin-server", "--format", "json", "--rounds", "1", "--count", "200", "--min-phase-time", "0"])
        .args(args);
    cmd.env("AEROBENCH_CACHE_DIR", cache).env_remove("VIRTUAL_ENV");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run aerobench")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Checks a column ran under CPython `minor` with the GIL on and every call succeeded.
fn ran_under(r: &Value, id: &str, minor: &str) {
    let c = column(r, id);
    assert!(c["error"].is_null(), "{id}: {}", c["error"]);
    let python = &c["python"];
    let version = python["version"].as_str().unwrap_or_default();
    assert!(version.starts_with(&format!("{minor}.")), "{id} ran under {python}, not {minor}");
    assert_eq!(c["python_version"], version, "{id}");
    let path = PathBuf::from(python["path"].as_str().unwrap());
    assert!(path.is_file(), "{id}: {}", path.display());
    assert_eq!(python["gil"], true, "{id}: {python}");
    assert_eq!(python["free_threaded"], false, "{id}: {python}");
    // Its package came from that interpreter's own cache (its wheel tag).
    let source = c["source"].as_str().unwrap();
    assert!(source.contains(&format!("py{minor}/aerospike-py-0.14.4")), "{id}: {source}");
    let cells: Vec<&Value> = r["cells"].as_array().unwrap().iter().filter(|x| x["column"] == id).collect();
    assert_eq!(cells.len(), 4, "{id}");
    for cell in cells {
        assert!(cell["count"].as_u64().unwrap() > 0, "{id}: {cell}");
        assert_eq!(cell["errors"], 0, "{id} {}: {}", cell["operation"], cell["errors_by_reason"]);
    }
}

fn ids(r: &Value) -> Vec<String> {
    r["columns"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn one_client_under_3_11_and_3_13_side_by_side() {
    let cache = cache_dir();
    // The whole run under both: one column per interpreter, compared with each other.
    let out = aerobench(&["--python", "3.11,3.13", "--clients", "aerospike-py-sync"], &cache, &[]);
    assert_ne!(
        out.status.code(),
        Some(2),
        "this test needs CPython 3.11 and 3.13 with a shared libpython (e.g. `env \
         PYTHON_CONFIGURE_OPTS=--enable-shared pyenv install 3.13`); stderr:\n{}",
        stderr(&out)
    );
    let r = report(&out);
    let errors: Vec<&Value> = r["columns"].as_array().unwrap().iter().map(|c| &c["error"]).collect();
    assert!(out.status.success(), "exit {:?}; column errors {errors:?}; stderr:\n{}", out.status, stderr(&out));
    assert_schema_valid(&r);
    assert_eq!(ids(&r), ["aerospike-py-sync:py3.11", "aerospike-py-sync:py3.13"]);
    ran_under(&r, "aerospike-py-sync:py3.11", "3.11");
    ran_under(&r, "aerospike-py-sync:py3.13", "3.13");
    let paths: Vec<&Value> = r["columns"].as_array().unwrap().iter().map(|c| &c["python"]["path"]).collect();
    assert_ne!(paths[0], paths[1]);
    assert_eq!(r["baseline"], "aerospike-py-sync:py3.11");
    let ratios = r["ratios"].as_array().unwrap();
    assert!(
        ratios.iter().any(|x| x["column"] == "aerospike-py-sync:py3.13" && x["baseline"] == "aerospike-py-sync:py3.11"),
        "the 3.13 column is compared with the 3.11 one: {ratios:?}"
    );

    // One column by suffix, beside another under the default interpreter: the worker built
    // above is reused.
    let out = aerobench(&["--clients", "aerospike-py-sync,aerospike-py-async:py3.13"], &cache, &[]);
    assert!(out.status.success(), "exit {:?}; stderr:\n{}", out.status, stderr(&out));
    let r = report(&out);
    let default = column(&r, ids(&r)[0].as_str())["python"]["version"].as_str().unwrap().to_string();
    let minor: String = default.split('.').take(2).collect::<Vec<_>>().join(".");
    assert_eq!(ids(&r), [format!("aerospike-py-sync:py{minor}"), "aerospike-py-async:py3.13".to_string()]);
    assert!(!stderr(&out).contains("building an aerobench worker"), "{}", stderr(&out));
    ran_under(&r, "aerospike-py-async:py3.13", "3.13");
}

#[test]
fn a_missing_interpreter_is_a_usage_error_that_says_what_to_install() {
    let cache = scratch("interp-missing");
    for args in [&["--python", "3.99"][..], &["--clients", "aerospike-py-sync:py3.99"][..]] {
        let out = aerobench(args, &cache, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let text = stderr(&out);
        assert!(text.contains("3.99: no such interpreter"), "{text}");
        assert!(text.contains("pyenv install 3.99") && text.contains("--enable-shared"), "{text}");
        assert!(out.stdout.is_empty(), "no report for a run that cannot start");
    }
    let out = aerobench(&["--clients", "rust-sync:py3.13"], &cache, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("only Python columns run under an interpreter"), "{}", stderr(&out));
}

/// A script that answers aerobench's probe as a CPython would.
fn fake_python(dir: &Path, minor: u32, shared: bool) -> PathBuf {
    let path = dir.join(format!("python3.{minor}"));
    let answer = format!(
        r#"{{"executable": "{}", "version": "3.{minor}.1", "major": 3, "minor": {minor}, "free_threaded": false, "shared": {shared}, "implementation": "cpython"}}"#,
        path.display()
    );
    std::fs::write(&path, format!("#!/bin/sh\necho '{answer}'\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    path
}

#[cfg(unix)]
#[test]
fn an_interpreter_aerobench_cannot_embed_is_refused_with_the_fix() {
    let dir = scratch("interp-fake");
    let old = fake_python(&dir, 10, true);
    let out = aerobench(&["--python", old.to_str().unwrap()], &dir, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is Python 3.10.1; aerobench runs clients under CPython 3.11 or newer"),
        "{}",
        stderr(&out)
    );

    let static_only = fake_python(&dir, 12, false);
    let out = aerobench(&["--clients", &format!("py-noop:py{}", static_only.display())], &dir, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(text.contains("built without a shared libpython") && text.contains("--enable-shared"), "{text}");
}

#[cfg(unix)]
#[test]
fn without_cargo_the_column_says_a_worker_needs_it() {
    let dir = scratch("interp-no-cargo");
    let python = fake_python(&dir, 12, true);
    let empty = dir.join("bin");
    std::fs::create_dir_all(&empty).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    cmd.args(["--builtin-server", "--format", "json", "--rounds", "1", "--count", "50", "--clients"])
        .arg(format!("rust-sync,py-noop:py{}", python.display()))
        .env("AEROBENCH_CACHE_DIR", &dir)
        .env("PATH", &empty)
        .env("HOME", &dir)
        .env_remove("CARGO");
    let out = cmd.output().unwrap();
    let r = report(&out);
    let error = column(&r, "py-noop:py3.12")["error"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("needs cargo") && error.contains("https://rustup.rs"), "{error}");
    assert!(column(&r, "rust-sync")["error"].is_null(), "other columns run");
}
