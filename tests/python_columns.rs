//! The embedded Python columns end to end: the real binary against the built-in server with the
//! real client packages (installed on first use into a cache under target/), plus the ways a
//! Python column can fail without taking the rest of the report with it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod common;

use common::{cache_dir, column, report, scratch};

fn aerobench(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    // One round: these tests are about the Python clients, not about verdicts.
    cmd.args(["--builtin-server", "--format", "json", "--quiet", "--rounds", "1"]).args(args);
    cmd.env("AEROBENCH_CACHE_DIR", cache_dir()).env_remove("VIRTUAL_ENV");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run aerobench")
}

fn cells<'a>(r: &'a Value, id: &str) -> Vec<&'a Value> {
    r["cells"].as_array().unwrap().iter().filter(|c| c["column"] == id).collect()
}

const PYTHON_COLUMNS: [&str; 6] = [
    "aerospike-py-sync",
    "official-c",
    "aerospike-py-async",
    "aerospike-native-sync",
    "aerospike-native-async",
    "official-c-executor",
];

#[test]
fn every_python_column_runs_with_zero_errors() {
    let out = aerobench(
        &[
            "--min-phase-calls",
            "0",
            "--min-phase-time",
            "0",
            "--count",
            "300",
            "--concurrency",
            "8",
            "--batch-size",
            "50",
            "--scans",
            "2",
            "--clients",
            &PYTHON_COLUMNS.join(","),
        ],
        &[],
    );
    let r = report(&out);
    assert!(out.status.success(), "exit {:?}; stderr:\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    let versions = [("aerospike-py", "0.14.4"), ("aerospike", "19.3.0"), ("aerospike-native", "1.0.0")];
    for id in PYTHON_COLUMNS {
        let c = column(&r, id);
        assert!(c["error"].is_null(), "{id}: {}", c["error"]);
        let client = c["client"].as_str().unwrap();
        let want = versions.iter().find(|(n, _)| *n == client).map(|(_, v)| *v).unwrap();
        assert_eq!(c["client_version"], want, "{id}");
        assert!(c["python_version"].as_str().unwrap().starts_with("3."), "{id}");
        assert!(c["source"].as_str().unwrap().contains(&format!("{client}=={want}")), "{id}: {}", c["source"]);
        let expected_in_flight = if id.ends_with("async") || id.ends_with("executor") { 8 } else { 1 };
        assert_eq!(c["in_flight"], expected_in_flight, "{id}");
        let cs = cells(&r, id);
        let counts: Vec<(String, u64, u64)> = cs
            .iter()
            .map(|c| {
                (
                    c["operation"].as_str().unwrap().to_string(),
                    c["count"].as_u64().unwrap(),
                    c["errors"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            counts,
            vec![("put".into(), 300, 0), ("get".into(), 300, 0), ("batch_get".into(), 6, 0), ("scan".into(), 2, 0)],
            "{id}"
        );
        let batch = cs.iter().find(|c| c["operation"] == "batch_get").unwrap();
        assert_eq!(batch["records"], 300, "{id}: every record found by batch_get");
        let scan = cs.iter().find(|c| c["operation"] == "scan").unwrap();
        assert_eq!(scan["records"], 600, "{id}: each scan returns the 300 records written");
        assert!(cs.iter().all(|c| c["latency_us"]["p50"].as_f64().unwrap() > 0.0), "{id}");
    }
    // The official client under asyncio: through run_in_executor, a thread per call in flight.
    let executor = column(&r, "official-c-executor")["policies"]["executor"].as_str().unwrap().to_string();
    assert_eq!(executor, "loop.run_in_executor, ThreadPoolExecutor(8)");
    // The async columns ran on the loop they were told to, and said so.
    for id in ["aerospike-py-async", "aerospike-native-async"] {
        let event_loop = column(&r, id)["policies"]["event_loop"].as_str().unwrap().to_string();
        assert!(event_loop.starts_with("asyncio."), "{id}: {event_loop}");
    }
    // Every other column against the official client: ops/s always, latency only at one in flight.
    assert_eq!(r["baseline"], "official-c");
    let ratio = |column: &str, metric: &str| {
        r["ratios"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| {
                x["column"] == column
                    && x["baseline"] == "official-c"
                    && x["metric"] == metric
                    && x["operation"] == "get"
            })
            .unwrap_or_else(|| panic!("no {metric} ratio for {column}"))
            .clone()
    };
    assert_eq!(ratio("aerospike-py-async", "avg_latency")["verdict"], "not_comparable");
    assert_eq!(ratio("aerospike-py-async", "ops_per_sec")["verdict"], "single_round", "one round: no verdict");
    assert_eq!(ratio("aerospike-py-sync", "avg_latency")["verdict"], "single_round");
}

#[test]
fn uvloop_is_used_when_asked_for() {
    let out = aerobench(
        &[
            "--count",
            "50",
            "--ops",
            "put,get",
            "--warmup",
            "0",
            "--clients",
            "aerospike-native-async",
            "--event-loop",
            "uvloop",
        ],
        &[],
    );
    let r = report(&out);
    assert!(out.status.success(), "stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    let event_loop = column(&r, "aerospike-native-async")["policies"]["event_loop"].as_str().unwrap().to_string();
    assert!(event_loop.starts_with("uvloop"), "{event_loop}");
}

/// Installs the pinned aerospike-py into the shared cache (by running a tiny benchmark).
fn cached_aerospike_py() -> PathBuf {
    if common::cached_package("aerospike-py-0.14.4").is_none() {
        let out = aerobench(&["--count", "5", "--ops", "put", "--warmup", "0", "--clients", "aerospike-py-sync"], &[]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let dir = common::cached_package("aerospike-py-0.14.4")
        .unwrap_or_else(|| panic!("aerospike-py 0.14.4 not in {}", common::python_cache_dir().display()));
    assert!(dir.join("aerospike_py").is_dir(), "aerospike-py not in {}", dir.display());
    dir
}

#[test]
fn local_folder_and_virtualenv_clients_are_picked_up() {
    let site = cached_aerospike_py();
    let arg = format!("aerospike-py={}", site.display());
    let out =
        aerobench(&["--count", "50", "--ops", "put,get", "--clients", "aerospike-py-sync", "--client-path", &arg], &[]);
    let r = report(&out);
    assert!(out.status.success(), "stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    let source = column(&r, "aerospike-py-sync")["source"].as_str().unwrap().to_string();
    assert!(source.starts_with(&format!("local folder {}", site.display())), "{source}");

    // A virtualenv layout, found through VIRTUAL_ENV.
    let venv = scratch("venv");
    let sp = venv.join("lib").join("python3.11").join("site-packages");
    std::fs::create_dir_all(&sp).unwrap();
    std::fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
    std::os::unix::fs::symlink(site.join("aerospike_py"), sp.join("aerospike_py")).unwrap();
    let out = aerobench(
        &["--count", "20", "--ops", "put", "--clients", "aerospike-py-sync", "--client-path", "aerospike-py=venv"],
        &[("VIRTUAL_ENV", venv.to_str().unwrap())],
    );
    let r = report(&out);
    assert!(out.status.success(), "stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    let source = column(&r, "aerospike-py-sync")["source"].as_str().unwrap().to_string();
    assert!(source.contains("active virtualenv") && source.contains("site-packages"), "{source}");
}

#[test]
fn a_client_that_aborts_the_process_becomes_an_error_cell() {
    let dir = scratch("aborting-client");
    std::fs::create_dir_all(dir.join("aerospike_py")).unwrap();
    std::fs::write(
        dir.join("aerospike_py").join("__init__.py"),
        "import os\n__version__ = '0.0.0+abort'\n\
         class _Client:\n    def connect(self, *a, **k):\n        return self\n\
         \x20   def put(self, *a, **k):\n        os.abort()\n\
         \x20   def close(self):\n        pass\n\
         def client(config):\n    return _Client()\n",
    )
    .unwrap();
    let arg = format!("aerospike-py={}", dir.display());
    let out = aerobench(
        &["--count", "100", "--clients", "rust-sync,aerospike-py-sync,official-c", "--client-path", &arg],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "a failed column makes the run fail");
    let r = report(&out);
    let broken = column(&r, "aerospike-py-sync");
    let error = broken["error"].as_str().unwrap();
    assert!(error.contains("signal 6") && error.contains("SIGABRT"), "{error}");
    for id in ["rust-sync", "official-c"] {
        assert!(column(&r, id)["error"].is_null(), "{id} is untouched");
        assert_eq!(cells(&r, id).len(), 4, "{id} ran every operation");
        assert!(cells(&r, id).iter().all(|c| c["errors"] == 0));
    }
}

#[test]
fn a_missing_package_names_the_package_folder_and_fix() {
    let empty = scratch("no-client-here");
    let arg = format!("aerospike-py={}", empty.display());
    let out = aerobench(
        &["--count", "30", "--ops", "put,get", "--clients", "aerospike-py-sync,rust-sync", "--client-path", &arg],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let r = report(&out);
    let error = column(&r, "aerospike-py-sync")["error"].as_str().unwrap();
    assert!(error.contains(&format!("cannot import aerospike_py (aerospike-py) from {}", empty.display())), "{error}");
    assert!(error.contains(&format!("no aerospike_py in {}", empty.display())), "{error}");
    assert!(error.contains("no .pth file there names a folder that holds it"), "{error}");
    assert!(error.contains("--client-version aerospike-py=VERSION"), "{error}");
    assert!(!error.contains("--target"), "a user's folder is not aerobench's to install into: {error}");
    assert_eq!(column(&r, "aerospike-py-sync")["source"], format!("local folder {}", empty.display()));
    assert_eq!(cells(&r, "rust-sync").len(), 2, "the other column still ran");
    // Before the exit, stderr names the column that did not run and why, in one line.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("aerobench: column aerospike-py-sync did not run: "))
        .unwrap_or_else(|| panic!("no reason on stderr:\n{stderr}"));
    assert!(line.contains("cannot import aerospike_py (aerospike-py)"), "{line}");

    // No package index reachable and nothing cached: the install error says what to run.
    let cache = scratch("empty-cache");
    let out = Command::new(env!("CARGO_BIN_EXE_aerobench"))
        .args(["--builtin-server", "--format", "json", "--quiet", "--count", "10", "--ops", "put"])
        .args(["--clients", "official-c,rust-sync"])
        .env("AEROBENCH_CACHE_DIR", &cache)
        .env("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
        .env("PIP_RETRIES", "0")
        .env("PIP_TIMEOUT", "2")
        .env("PIP_NO_CACHE_DIR", "1")
        .env("PIP_FIND_LINKS", "")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let r = report(&out);
    let failed = column(&r, "official-c");
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("cannot install aerospike==19.3.0 into"), "{error}");
    assert_eq!(failed["client_version"], "19.3.0", "the version that was tried");
    assert_eq!(failed["source"], "PyPI aerospike==19.3.0 (tried)");
    assert!(error.contains("-m pip install") && error.contains("--client-path aerospike=FOLDER"), "{error}");
    assert_eq!(cells(&r, "rust-sync").len(), 1);
}

#[test]
fn python_noop_columns_measure_only_the_embedding() {
    let out = aerobench(
        &[
            "--count",
            "2000",
            "--ops",
            "put,get",
            "--concurrency",
            "16",
            "--clients",
            "py-noop,py-noop-async",
            "--min-phase-calls",
            "0",
            "--min-phase-time",
            "0",
        ],
        &[],
    );
    let r = report(&out);
    assert!(out.status.success(), "stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    for id in ["py-noop", "py-noop-async"] {
        let cs = cells(&r, id);
        assert_eq!(cs.len(), 2);
        assert!(cs.iter().all(|c| c["count"] == 2000 && c["errors"] == 0), "{id}");
    }
}

/// Reads records `0..n` as the Rust client sees them: (key, bins sorted by name).
fn read_back(port: u16, n: u64) -> Vec<(String, Vec<(String, String)>)> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client =
            aerospike::Client::new(&aerospike::ClientPolicy::default(), &format!("127.0.0.1:{port}")).await.unwrap();
        let mut out = vec![];
        for i in 0..n {
            let key = format!("aerobench-{i}");
            let k = aerospike::Key::new("test", "aerobench", aerospike::Value::from(key.as_str())).unwrap();
            let rec = client.get(&aerospike::ReadPolicy::default(), &k, aerospike::Bins::All).await.unwrap();
            let mut bins: Vec<(String, String)> = rec.bins.iter().map(|(k, v)| (k.clone(), format!("{v:?}"))).collect();
            bins.sort();
            out.push((key, bins));
        }
        client.close().await.unwrap();
        out
    })
}

/// Runs `column` with `--ops OPS` on the server at `port` over 40 records of 4 bins, without the
/// pre-write (its puts are the only writes) and with every value read checked (--verify).
fn run_on(port: &str, column: &str, ops: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_aerobench"))
        .args(["--port", port, "--clients", column, "--ops", ops, "--count", "40", "--bins", "4"])
        .args(["--value-size", "40", "--warmup", "0", "--no-prewrite", "--verify", "--format", "json", "--quiet"])
        .env("AEROBENCH_CACHE_DIR", cache_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{column} {ops}: {}", String::from_utf8_lossy(&out.stderr));
    for c in report(&out)["cells"].as_array().unwrap() {
        assert_eq!(c["errors"], 0, "{column} {ops}: {c}");
    }
}

#[test]
fn python_and_rust_columns_write_identical_records() {
    let server = common::Server::start();
    let port = server.port.to_string();
    let mut seen = vec![];
    for column in ["official-c", "aerospike-py-sync", "aerospike-native-sync", "rust-sync"] {
        // An empty set, and no pre-write: every record read back is one this column's puts wrote.
        assert_eq!(server.info("truncate:namespace=test;set=aerobench"), "ok");
        assert_eq!(server.objects("aerobench"), 0);
        run_on(&port, column, "put");
        assert_eq!(server.objects("aerobench"), 40, "{column}: one record per put");
        seen.push((column, read_back(server.port, 40)));
        // Read back through a column of another family, values checked, and through the floor
        // (which finds every record but decodes no values).
        let other = if column == "rust-sync" { "aerospike-py-sync" } else { "rust-sync" };
        run_on(&port, &format!("wire,{other}"), "get,batch_get");
    }
    let (first, reference) = &seen[0];
    assert_eq!(reference[0].1.len(), 4);
    for (column, records) in &seen[1..] {
        assert_eq!(records, reference, "{column} wrote different records than {first}");
    }
}

#[test]
fn embedded_interpreter_is_the_linked_one_whatever_path_says() {
    // A stand-in aerospike_py that reports the interpreter it runs in as its version.
    let dir = scratch("interpreter-probe");
    std::fs::create_dir_all(dir.join("aerospike_py")).unwrap();
    std::fs::write(
        dir.join("aerospike_py").join("__init__.py"),
        "import sys\n__version__ = sys.executable + '|' + sys.prefix\n\
         class _Client:\n    def connect(self, *a, **k):\n        return self\n\
         \x20   def put(self, *a, **k):\n        return None\n\
         \x20   def close(self):\n        pass\n\
         def client(config):\n    return _Client()\n",
    )
    .unwrap();
    let arg = format!("aerospike-py={}", dir.display());
    let out = Command::new(env!("CARGO_BIN_EXE_aerobench"))
        .args(["--builtin-server", "--format", "json", "--quiet", "--count", "10", "--ops", "put"])
        .args(["--clients", "aerospike-py-sync", "--client-path", &arg])
        .env("PATH", "")
        .env("AEROBENCH_CACHE_DIR", cache_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "with an empty PATH: {}", String::from_utf8_lossy(&out.stderr));
    let r = report(&out);
    let version = column(&r, "aerospike-py-sync")["client_version"].as_str().unwrap().to_string();
    let (executable, prefix) = version.split_once('|').unwrap();
    assert!(Path::new(executable).is_file(), "sys.executable {executable:?} is a real file");
    // That interpreter agrees about its own prefix: the embedded one was configured as it.
    let own = Command::new(executable).args(["-c", "import sys; print(sys.prefix)"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&own.stdout).trim(), prefix);
}

/// Needs an IPv6 loopback, which some machines and containers lack: where the build found none
/// (build.rs), the test is listed as ignored with its reason instead of passing.
#[test]
#[cfg_attr(no_ipv6_loopback, ignore = "this machine has no IPv6 loopback (::1)")]
fn every_client_reaches_an_ipv6_server() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        panic!("this machine has no IPv6 loopback (::1) any more; rebuild (build.rs probes for it)");
    }
    let server = common::Server::start_with(&["--bind", "::1"]);
    let port = server.port.to_string();
    let all = format!("rust-sync,{}", PYTHON_COLUMNS.join(","));
    let out = Command::new(env!("CARGO_BIN_EXE_aerobench"))
        .args(["--host", "[::1]", "--port", &port, "--clients", &all, "--count", "50", "--ops", "put,get"])
        .args(["--concurrency", "4", "--rounds", "2", "--format", "json", "--quiet"])
        .env("AEROBENCH_CACHE_DIR", cache_dir())
        .output()
        .unwrap();
    let r = report(&out);
    assert!(out.status.success(), "stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(r["server"]["address"], format!("[::1]:{port}"));
    // Two operations for the Rust column and each Python column.
    assert_eq!(r["cells"].as_array().unwrap().len(), 2 * (1 + PYTHON_COLUMNS.len()));
}

#[test]
fn several_aerospike_py_versions_run_side_by_side() {
    // 0.9.0 returns batch_read results as a dict, 0.12.0 and 0.14.4 as an object.
    let versions = ["0.9.0", "0.12.0", "0.14.4"];
    let out = aerobench(
        &[
            "--min-phase-calls",
            "0",
            "--min-phase-time",
            "0",
            "--count",
            "60",
            "--warmup",
            "0",
            "--concurrency",
            "4",
            "--batch-size",
            "30",
            "--scans",
            "1",
            "--clients",
            "aerospike-py-sync,aerospike-py-async",
            "--client-version",
            &format!("aerospike-py={}", versions.join(",")),
        ],
        &[],
    );
    let r = report(&out);
    assert!(out.status.success(), "stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    let mut labels = vec![];
    for (kind, label) in
        [("aerospike-py-sync", "aerospike-py (Rust)"), ("aerospike-py-async", "aerospike-py async (Rust)")]
    {
        for v in versions {
            let id = format!("{kind}@{v}");
            let c = column(&r, &id);
            assert!(c["error"].is_null(), "{id}: {}", c["error"]);
            assert_eq!(c["client_version"], v, "{id}");
            assert_eq!(c["label"], format!("{label} {v}"), "{id}");
            assert!(
                c["source"].as_str().unwrap().contains(&format!("aerospike-py-{v}/aerospike_py")),
                "{id}: {}",
                c["source"]
            );
            labels.push(c["label"].as_str().unwrap().to_string());
            let cs = cells(&r, &id);
            let ops: Vec<(&str, u64)> =
                cs.iter().map(|c| (c["operation"].as_str().unwrap(), c["errors"].as_u64().unwrap())).collect();
            assert_eq!(ops, vec![("put", 0), ("get", 0), ("batch_get", 0), ("scan", 0)], "{id}");
            let batch = cs.iter().find(|c| c["operation"] == "batch_get").unwrap();
            assert_eq!(batch["records"], 60, "{id}: batch_get found every record");
        }
    }
    labels.sort();
    labels.dedup();
    assert_eq!(labels.len(), 6, "distinct labels");
}

#[test]
fn a_failed_calls_message_reaches_the_json() {
    // A namespace the server does not have: every call fails the same way, at every client.
    let server = common::Server::start();
    let out = Command::new(env!("CARGO_BIN_EXE_aerobench"))
        .args(["--port", &server.port.to_string(), "--namespace", "nope", "--timeout-ms", "300"])
        .args(["--clients", "rust-sync,aerospike-py-sync", "--ops", "put", "--count", "3", "--warmup", "0"])
        .args(["--no-prewrite", "--rounds", "1"])
        .args(["--format", "json", "--quiet"])
        .env("AEROBENCH_CACHE_DIR", cache_dir())
        .output()
        .unwrap();
    let r = report(&out);
    let reasons = |id: &str| -> Vec<String> {
        let cell = cells(&r, id).into_iter().next().unwrap_or_else(|| panic!("{id} has no put cell"));
        cell["errors_by_reason"].as_object().unwrap().keys().cloned().collect()
    };
    assert_eq!(
        reasons("rust-sync"),
        vec!["InvalidNamespace (code 20): Invalid namespace: Namespace not found in partition map: nope"]
    );
    // The client's own words, whichever way it timed out: a call that failed long before the
    // timeout is the same reason with aerobench's note on it (on a busy machine, some are).
    let py = reasons("aerospike-py-sync");
    assert!(!py.is_empty() && py.iter().all(|r| r.starts_with("AerospikeTimeoutError: ") && r.len() > 30), "{py:?}");
}

#[test]
fn each_clients_default_policies_and_four_calls_in_flight_everywhere() {
    let clients = "rust-sync,aerospike-py-sync,official-c,aerospike-py-async,aerospike-native-sync,official-c-executor";
    let out = aerobench(
        &["--policies", "defaults", "--count", "100", "--concurrency", "4", "--threads", "4", "--clients", clients],
        &[],
    );
    let r = report(&out);
    assert!(out.status.success(), "stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(r["workload"]["policies"], "defaults");
    for id in clients.split(',') {
        let c = column(&r, id);
        assert_eq!(c["policies"]["policies"], "client defaults", "{id}: {c}");
        assert!(c["policies"].get("max_retries").is_none(), "{id}: no explicit policy set: {c}");
        // --threads 4 for the sync columns, --concurrency 4 for the async ones: 4 in flight each.
        assert_eq!(c["in_flight"], 4, "{id}: {c}");
    }
    for c in r["cells"].as_array().unwrap() {
        assert_eq!(c["errors"], 0, "{c}");
    }
}

#[test]
fn batch_records_are_read_unless_asked_not_to() {
    let clients = "aerospike-py-sync,official-c,aerospike-native-async";
    for (materialise, noted) in [("records", false), ("none", true)] {
        let out = aerobench(
            &[
                "--materialise",
                materialise,
                "--ops",
                "batch_get",
                "--min-phase-calls",
                "0",
                "--min-phase-time",
                "0",
                "--count",
                "300",
                "--concurrency",
                "4",
                "--clients",
                clients,
            ],
            &[],
        );
        let r = report(&out);
        assert!(out.status.success(), "stderr:\n{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(r["workload"]["materialise"], materialise);
        for id in clients.split(',') {
            let cell = cells(&r, id)[0];
            assert_eq!(cell["errors"], 0, "{cell}");
            // Every record was written first, so found (read) and asked (not read) agree.
            assert_eq!(cell["records"], 300, "{materialise} {id}: {cell}");
            let notes = cell["notes"].as_array().unwrap();
            assert_eq!(notes.iter().any(|n| n.as_str().unwrap().contains("--materialise none")), noted, "{cell}");
        }
    }
}
