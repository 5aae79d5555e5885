//! End to end: results that travel between runs and hosts. Two shards of one workload against one
//! built-in server, merged into one report whose counts add up and whose p99 is the union's;
//! `aerobench compare` failing (exit 3) on a planted regression and passing on no change.

mod common;
use common::assert_schema_valid;

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use common::{Server, run_with_timeout, scratch};

fn aerobench() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    cmd.env_remove("AEROSPIKE_HOST").env_remove("AEROSPIKE_PORT");
    cmd
}

fn histogram(cell: &Value) -> hdrhistogram::Histogram<u64> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(cell["histogram"].as_str().unwrap()).unwrap();
    hdrhistogram::serialization::Deserializer::new().deserialize(&mut bytes.as_slice()).unwrap()
}

fn read(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn two_shards_against_one_server_merge_into_one_report() {
    let server = Server::start();
    let dir = scratch("shards");
    // One schedule for both hosts: a shared start a few seconds away and fixed phase lengths.
    let start = std::time::SystemTime::now() + Duration::from_secs(6);
    let start_at = format!("{:.3}", start.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64());
    let shard = |i: u32| {
        let path = dir.join(format!("shard-{i}.json"));
        let mut cmd = aerobench();
        cmd.args(["--port", &server.port.to_string(), "--clients", "rust-async", "--ops", "put,get,scan"])
            .args(["--count", "300", "--rounds", "2", "--concurrency", "8", "--warmup", "20", "--scans", "2"])
            .args(["--shard", &format!("{i}/2"), "--format", "json", "--quiet", "--output"])
            .arg(&path)
            .args(["--start-at", &start_at, "--duration", "300ms"]);
        (cmd, path)
    };
    // Both shards at once, as two load hosts would.
    let (a, b) = (shard(0), shard(1));
    let ta = std::thread::spawn(move || run_with_timeout(a.0, Duration::from_secs(120)));
    let out_b = run_with_timeout(b.0, Duration::from_secs(120));
    let out_a = ta.join().unwrap();
    assert!(out_a.success(), "{}", out_a.describe());
    assert!(out_b.success(), "{}", out_b.describe());
    let (ra, rb) = (read(&a.1), read(&b.1));
    assert_eq!(ra["workload"]["shard"], serde_json::json!({"index": 0, "count": 2}));
    assert_eq!(rb["workload"]["key_prefix"], "aerobench-");
    // Each shard wrote its own keys: a scan sees both shards' records.
    let scan = ra["cells"].as_array().unwrap().iter().find(|c| c["operation"] == "scan").unwrap();
    assert_eq!(scan["records"].as_u64().unwrap() / scan["count"].as_u64().unwrap(), 600, "{scan}");

    let merged_path = dir.join("merged.json");
    let mut cmd = aerobench();
    cmd.arg("merge").arg(&a.1).arg(&b.1).arg("-o").arg(&merged_path);
    let out = run_with_timeout(cmd, Duration::from_secs(30));
    assert!(out.success(), "{}", out.describe());
    let merged = read(&merged_path);
    assert_eq!(merged["merged_from"].as_array().unwrap().len(), 2);
    assert_schema_valid(&ra);
    assert_schema_valid(&merged);
    for cell in merged["cells"].as_array().unwrap() {
        let find = |r: &Value| {
            r["cells"].as_array().unwrap().iter().find(|c| c["operation"] == cell["operation"]).unwrap().clone()
        };
        let (ca, cb) = (find(&ra), find(&rb));
        let n = |c: &Value, f: &str| c[f].as_u64().unwrap();
        assert_eq!(n(cell, "count"), n(&ca, "count") + n(&cb, "count"), "{cell}");
        assert_eq!(n(cell, "errors"), 0);
        let ops = |c: &Value| c["ops_per_sec"].as_f64().unwrap();
        assert!((ops(cell) - ops(&ca) - ops(&cb)).abs() < 1e-6 * ops(cell));
        // The union of the raw histograms, computed here independently.
        let mut union = histogram(&ca);
        union.add(histogram(&cb)).unwrap();
        let p99_us = union.value_at_quantile(0.99) as f64 / 1000.0;
        assert_eq!(cell["latency_us"]["p99"].as_f64().unwrap(), p99_us, "{}", cell["operation"]);
        assert_eq!(histogram(cell), union);
    }

    // The merged histograms as an HdrHistogram interval log, read back by the hdrhistogram crate,
    // and as CSV.
    let hlog = dir.join("merged.hlog");
    let mut cmd = aerobench();
    cmd.arg("merge").arg(&a.1).arg(&b.1).args(["--format", "hlog", "-o"]).arg(&hlog);
    let out = run_with_timeout(cmd, Duration::from_secs(30));
    assert!(out.success(), "{}", out.describe());
    let bytes = std::fs::read(&hlog).unwrap();
    let mut tags = Vec::new();
    for entry in hdrhistogram::serialization::interval_log::IntervalLogIterator::new(&bytes) {
        use hdrhistogram::serialization::interval_log::LogEntry;
        let LogEntry::Interval(i) = entry.expect("the .hlog parses") else { continue };
        let tag = i.tag().unwrap().as_str().to_string();
        let op = tag.strip_prefix("rust-async/").unwrap();
        let cell = merged["cells"].as_array().unwrap().iter().find(|c| c["operation"] == op).unwrap();
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD.decode(i.encoded_histogram()).unwrap();
        let h: hdrhistogram::Histogram<u64> =
            hdrhistogram::serialization::Deserializer::new().deserialize(&mut raw.as_slice()).unwrap();
        assert_eq!(h, histogram(cell), "{tag}");
        tags.push(tag);
    }
    assert_eq!(tags, ["rust-async/put", "rust-async/get", "rust-async/scan"]);
    let mut cmd = aerobench();
    cmd.arg("merge").arg(&a.1).arg(&b.1).args(["--format", "csv"]);
    let out = run_with_timeout(cmd, Duration::from_secs(30));
    assert!(out.success(), "{}", out.describe());
    let rows: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(rows.len(), 4, "{}", out.stdout);
    assert!(rows[0].starts_with("column,label,") && rows[2].starts_with("rust-async,"), "{}", out.stdout);

    // Runs of different workloads are refused, naming the field.
    let other = dir.join("other.json");
    let mut doc = rb.clone();
    doc["workload"]["count"] = 301.into();
    std::fs::write(&other, doc.to_string()).unwrap();
    let mut cmd = aerobench();
    cmd.arg("merge").arg(&a.1).arg(&other);
    let out = run_with_timeout(cmd, Duration::from_secs(30));
    assert_eq!(out.status.and_then(|s| s.code()), Some(2), "{}", out.describe());
    assert!(out.stderr.contains("workload.count differs"), "{}", out.describe());
}

#[test]
fn compare_fails_on_a_planted_regression() {
    let dir = scratch("compare");
    let run = |name: &str, delay_us: &str| {
        let path = dir.join(name);
        let mut cmd = aerobench();
        cmd.arg("--plot").arg(path.with_extension("svg"));
        cmd.args(["--builtin-server", "--clients", "noop", "--ops", "get", "--count", "200", "--rounds", "3"])
            .args(["--warmup", "10", "--stub-delay-us", delay_us, "--format", "json", "--quiet", "--output"])
            .arg(&path);
        let out = run_with_timeout(cmd, Duration::from_secs(60));
        assert!(out.success(), "{}", out.describe());
        path
    };
    let base = run("base.json", "200");
    let slow = run("slow.json", "1500");
    // The picture of a run is an SVG document with its operation's two charts.
    let svg = std::fs::read_to_string(base.with_extension("svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the plot parses as XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).map(str::trim).collect();
    for want in ["get: latency by percentile", "get: throughput per round", "99.99%"] {
        assert!(texts.contains(&want), "{want} in {texts:?}");
    }
    let compare = |new: &std::path::Path, format: &str| {
        let mut cmd = aerobench();
        cmd.arg("compare").arg(&base).arg(new);
        // p50, not p99: 200 calls a round give a p99 that a busy machine moves a lot (the
        // interval then rightly says "within noise").
        cmd.args(["--fail-if", "p50>+10%", "--fail-if", "ops/s<-5%", "--format", format]);
        run_with_timeout(cmd, Duration::from_secs(30))
    };
    let out = compare(&slow, "markdown");
    assert_eq!(out.status.and_then(|s| s.code()), Some(3), "{}", out.describe());
    assert!(out.stdout.contains("**FAIL p50>+10%**"), "{}", out.describe());
    assert!(out.stdout.contains("**FAIL ops/s<-5%**"), "{}", out.describe());
    let out = compare(&base, "text");
    assert_eq!(out.status.and_then(|s| s.code()), Some(0), "{}", out.describe());
    assert!(out.stdout.contains("passed: no cell crossed"), "{}", out.describe());
    let mut cmd = aerobench();
    cmd.args(["compare", "a.json", "b.json", "--fail-if", "p99 > ten"]);
    let out = run_with_timeout(cmd, Duration::from_secs(30));
    assert_eq!(out.status.and_then(|s| s.code()), Some(2), "{}", out.describe());
    assert!(out.stderr.contains("METRIC>+N%"), "{}", out.describe());
}
