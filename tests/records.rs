//! Records as applications store them, end to end with the real binary, the real clients and
//! the built-in server: every named shape runs every operation in every column with every value
//! checked (--verify); a value of every type written by each column's own put (no pre-write)
//! reads back equal through every other (so the server and the wire floor encode them exactly
//! as the clients do);
//! --read-bins returns only the bins asked for; a record spec with a mistake exits 2 pointing
//! at it; a record, or a run, too large is refused with its size before anything is made.

use std::process::{Command, Output};

use serde_json::Value;

mod common;

use common::{COLUMNS, assert_schema_valid, cache_dir, report};

/// Every operation aerobench measures.
const ALL_OPS: &str = "put,get,batch_get,scan,exists,touch,operate,delete,batch_write,read_modify_write";

/// A spec with a bin of every value type, nested lists and maps included.
const EVERY_TYPE: &str =
    "a=I,b=F,c=BOOL,d=S20,e=B40,f=S0,l=[4*F],t=[I,S3,BOOL,B9],m={5*S4:[2*I]},n={3*I:{2*S2:B12}},o={12*S2:BOOL}";

fn aerobench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aerobench"))
        .args(["--format", "json", "--quiet", "--rounds", "1", "--warmup", "0", "--force"])
        .args(args)
        .env("AEROBENCH_CACHE_DIR", cache_dir())
        .env_remove("VIRTUAL_ENV")
        .env_remove("AEROSPIKE_HOST")
        .env_remove("AEROSPIKE_PORT")
        .output()
        .expect("run aerobench")
}

/// Runs and checks that every cell made its calls without one error (the wire floor has no
/// batch write: its cell must say "not supported" and why, and not fail the run).
fn run_clean(args: &[&str]) -> Value {
    let out = aerobench(args);
    let doc = report(&out);
    assert_schema_valid(&doc);
    for c in doc["cells"].as_array().unwrap() {
        if c["column"] == "wire" && c["operation"] == "batch_write" {
            assert!(c["not_supported"].as_str().unwrap_or_default().contains("does not encode batch writes"), "{c}");
            assert_eq!((&c["count"], &c["errors"]), (&Value::from(0), &Value::from(0)), "{c}");
            continue;
        }
        assert!(c.get("not_supported").is_none(), "{args:?}: {c}");
        assert!(c["count"].as_u64().unwrap() > 0, "{args:?}: {c}");
        assert_eq!(c["errors"], 0, "{args:?}: {c}");
    }
    for col in doc["columns"].as_array().unwrap() {
        assert!(col["error"].is_null(), "{args:?}: {col}");
    }
    // Exit 1 would say some calls failed: none did (an operation not supported is no failure).
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    doc
}

#[test]
fn every_named_shape_runs_every_operation_in_every_column_with_values_checked() {
    let clients = COLUMNS.join(",");
    for (shape, bins) in [("feature-vector", 64), ("profile", 6), ("blob", 1), ("wide", 100)] {
        let args = ["--builtin-server", "--record", shape, "--verify", "--count", "60", "--batch-size", "25"];
        let doc = run_clean(&[&args[..], &["--clients", &clients, "--ops", ALL_OPS]].concat());
        assert_eq!(doc["cells"].as_array().unwrap().len(), COLUMNS.len() * 10, "{shape}");
        let record = &doc["workload"]["record"];
        assert_eq!(record["name"], shape);
        assert_eq!(record["bin_count"], bins, "{shape}: {record}");
        assert_eq!(doc["workload"]["bins"].as_array().unwrap().len(), bins);
        assert!(doc["workload"].get("read_bins").is_none());
    }
}

/// Records as read back: per record, (bin name, value debug-printed) sorted by name.
type ReadBack = Vec<Vec<(String, String)>>;

/// Records `0..n` of `prefix` as the aerospike crate reads them: each bin's value, debug-printed
/// (maps in the order the server sent their entries), by bin name.
fn read_back(port: u16, prefix: &str, n: u64) -> ReadBack {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client =
            aerospike::Client::new(&aerospike::ClientPolicy::default(), &format!("127.0.0.1:{port}")).await.unwrap();
        let mut out = vec![];
        for i in 0..n {
            let k = aerospike::Key::new("test", "aerobench", aerospike::Value::from(format!("{prefix}{i}"))).unwrap();
            let rec = client.get(&aerospike::ReadPolicy::default(), &k, aerospike::Bins::All).await.unwrap();
            let mut bins: Vec<(String, String)> = rec.bins.iter().map(|(k, v)| (k.clone(), format!("{v:?}"))).collect();
            bins.sort();
            out.push(bins);
        }
        client.close().await.unwrap();
        out
    })
}

#[test]
fn a_value_of_every_type_written_by_one_column_reads_back_equal_through_every_other() {
    let server = common::Server::start();
    let port = server.port.to_string();
    // Every column writes, each through its own put (the async ones included: with no
    // pre-write, nothing else writes their records); every column reads. The floor decodes no
    // values (--verify cannot check its reads), so the others' checks and the crate's read-back
    // below are what say its records and the records it reads are right.
    let writers = COLUMNS;
    let readers = COLUMNS.join(",");
    let mut seen: Vec<(&str, ReadBack)> = vec![];
    for writer in writers {
        // Each writer its own keys and no pre-write: every record read is one its puts wrote.
        let prefix = format!("rec-{writer}-");
        let base = ["--port", &port, "--record", EVERY_TYPE, "--key-prefix", &prefix, "--count", "30", "--no-prewrite"];
        run_clean(&[&base[..], &["--clients", writer, "--ops", "put"]].concat());
        assert_eq!(server.objects("aerobench") % 30, 0);
        // Every other column reads them back, each value compared with what was written.
        run_clean(&[&base[..], &["--clients", &readers, "--ops", "get,batch_get,scan", "--verify"]].concat());
        seen.push((writer, read_back(server.port, &prefix, 30)));
    }
    let (first, reference) = &seen[0];
    assert_eq!(reference[0].len(), 11, "{:?}", reference[0]);
    // The map with 12 entries comes back in key order (the server keeps maps key-ordered).
    let o = &reference[0].iter().find(|(n, _)| n == "o").unwrap().1;
    let keys: Vec<usize> = (0..12).map(|k| o.find(&format!("\"{k:02}\"")).unwrap()).collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "{o}");
    for (writer, records) in &seen[1..] {
        assert_eq!(records, reference, "{writer} wrote other values than {first}");
    }
}

#[test]
fn read_bins_return_only_the_bins_asked_for_in_every_column() {
    let clients = COLUMNS.join(",");
    for read in ["8", "f63,f1"] {
        let args = ["--builtin-server", "--record", "feature-vector", "--read-bins", read, "--verify"];
        let doc = run_clean(
            &[&args[..], &["--count", "60", "--clients", &clients, "--ops", "put,get,batch_get,scan"]].concat(),
        );
        let asked: Vec<&str> =
            doc["workload"]["read_bins"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        let want: Vec<String> = match read {
            "8" => (0..8).map(|k| format!("f{k}")).collect(),
            names => names.split(',').map(String::from).collect(),
        };
        assert_eq!(asked, want);
    }
    // --verify fails a read that returns a bin it did not ask for, so the zero errors above say
    // every column asked for the subset. Names the record has not are refused before anything runs.
    let server = common::Server::start();
    let port = server.port.to_string();
    let out =
        aerobench(&["--port", &port, "--record", "feature-vector", "--read-bins", "f1,g2", "--clients", "rust-sync"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"g2\"") && err.contains("f0, f1"), "{err}");
    let out = aerobench(&["--port", &port, "--record", "blob", "--read-bins", "2", "--clients", "rust-sync"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("at most 1"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_record_spec_with_a_mistake_exits_2_pointing_at_it() {
    for (spec, column, message) in [
        ("id=I,tags=[3*S8,x", 16, "expected ']' to close the list"),
        ("i,s:32", 4, "a string needs a number"),
        ("a=I,a=F", 5, "bin \"a\" is named twice"),
        ("m={20*S1:I}", 7, "S1 keys tell at most 10 entries apart"),
    ] {
        let out = aerobench(&["--builtin-server", "--record", spec]);
        assert_eq!(out.status.code(), Some(2), "{spec}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message) && err.contains(&format!("at character {column} ")), "{spec}: {err}");
        // The spec, then a caret under the character named.
        let lines: Vec<&str> = err.lines().collect();
        let at = lines.iter().position(|l| l.trim_end() == format!("  {spec}")).unwrap_or_else(|| panic!("{err}"));
        assert_eq!(lines[at + 1], format!("  {}^", " ".repeat(column - 1)), "{err}");
        assert!(out.stdout.is_empty());
    }
    // --record takes the place of --bins and --preset: asking for both is a mistake too.
    let out = aerobench(&["--builtin-server", "--record", "blob", "--preset", "small"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn records_too_large_are_refused_with_their_size_before_anything_is_made() {
    // Each part within its own cap, the product 90 GB and 32 GiB a record: the old binary
    // parsed these and died making the first value (exit 134).
    for (spec, size) in [("[100000*[100000*I]]", "83.8 GiB"), ("32767*B1048576", "32.0 GiB")] {
        let out = aerobench(&["--builtin-server", "--record", spec]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{spec}: {err}");
        assert!(err.contains(size) && err.contains("more than the 8.0 MiB"), "{spec}: {err}");
        assert!(err.contains("make its strings, blobs, lists or maps smaller"), "{spec}: {err}");
        assert!(out.stdout.is_empty());
    }
    // Records within the cap whose run would write 98 GiB: refused before the server starts.
    let out = aerobench(&["--builtin-server", "--record", "B1048576", "--count", "100000"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("come to 97.7 GiB") && err.contains("more than the 16.0 GiB"), "{err}");
    assert!(err.contains("lower --count (at most 16,383 records"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn the_built_in_server_returns_maps_in_key_order_and_keeps_key_ordered_maps_marked() {
    use aerospike::Value as V;
    let server = common::Server::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let addr = format!("127.0.0.1:{}", server.port);
        let client = aerospike::Client::new(&aerospike::ClientPolicy::default(), &addr).await.unwrap();
        let key = aerospike::Key::new("test", "maps", V::from("m1")).unwrap();
        // A key-ordered map, and an unordered one written in hash order (as aerospike-py writes a dict).
        let sorted: std::collections::BTreeMap<V, V> =
            [("b", 1), ("a", 2)].map(|(k, v)| (V::from(k), V::from(v))).into();
        let hashed: std::collections::HashMap<V, V> =
            (0..12).map(|k| (V::from(format!("k{k:02}")), V::from(k))).collect();
        let bins =
            [aerospike::Bin::new("sorted", V::SortedMap(sorted)), aerospike::Bin::new("hashed", V::HashMap(hashed))];
        client.put(&aerospike::WritePolicy::default(), &key, &bins).await.unwrap();
        let rec = client.get(&aerospike::ReadPolicy::default(), &key, aerospike::Bins::All).await.unwrap();
        match &rec.bins["sorted"] {
            V::SortedMap(m) => assert_eq!(m.keys().cloned().collect::<Vec<_>>(), [V::from("a"), V::from("b")]),
            other => panic!("a key-ordered map comes back marked key-ordered: {other:?}"),
        }
        match &rec.bins["hashed"] {
            V::OrderedMap(m) => {
                let keys: Vec<String> = m.keys().map(|k| k.to_string()).collect();
                let want: Vec<String> = (0..12).map(|k| format!("k{k:02}")).collect();
                assert_eq!(keys, want, "entries in key order, whatever order they were written in");
            }
            other => panic!("an unordered map comes back unordered: {other:?}"),
        }
        client.close().await.unwrap();
    });
}

#[test]
fn a_record_naming_the_update_bins_is_refused_with_ops_update() {
    for (record, op, says) in [
        ("a=I,upd_list=[4*I]", "update", "--record names the bin upd_list, which --ops update writes itself"),
        ("upd_map=S8,upd_list=I", "update", "--record names the bins upd_map and upd_list, which --ops update writes"),
        ("ops=S4,b=I", "operate", "the record names a bin \"ops\", which the operate phase uses as its counter"),
    ] {
        let ops = format!("put,{op}");
        let out =
            aerobench(&["--builtin-server", "--record", record, "--clients", "wire", "--ops", &ops, "--count", "20"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "a usage error: {err}");
        assert!(out.stdout.is_empty(), "refused before anything ran: {err}");
        assert!(err.contains(says), "{err}");
    }
    // Without update those names are the record's own.
    let doc = run_clean(&[
        "--builtin-server",
        "--record",
        "a=I,upd_list=[4*I]",
        "--clients",
        "wire",
        "--ops",
        "put,get",
        "--count",
        "20",
    ]);
    assert_eq!(doc["workload"]["operations"], serde_json::json!(["put", "get"]));
}
