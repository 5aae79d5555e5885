//! End-to-end tests of the `wire` column (pre-encoded requests on a raw socket): every call of
//! every operation succeeds against the built-in server, the requests it sends for every
//! operation are the ones the Rust crate sends (captured between client and server; the
//! differences between clients named where they are normalised), the records it writes (no
//! pre-write) are the ones the crate writes and read back through other columns with --verify
//! (the floor itself decodes no values), and a server that dies mid-run ends the column with
//! errors, not a hang.

mod common;
use common::assert_schema_valid;

use std::process::Command;
use std::time::{Duration, Instant};

use aerospike::{Bins, Client, ClientPolicy, Key, ReadPolicy, Value};
use serde_json::Value as Json;

use common::{Server, TimedOutput, run_with_timeout};

fn aerobench(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    // One round unless a test asks for more.
    if !args.contains(&"--rounds") {
        cmd.args(["--rounds", "1"]);
    }
    cmd.args(args).env_remove("AEROSPIKE_HOST").env_remove("AEROSPIKE_PORT");
    cmd
}

fn json(out: &TimedOutput) -> Json {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document: {e}\n{}", out.describe()))
}

fn cell<'a>(doc: &'a Json, column: &str, op: &str) -> &'a Json {
    doc["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == column && c["operation"] == op)
        .unwrap_or_else(|| panic!("no {column} {op} cell in {:#}", doc["cells"]))
}

fn u(v: &Json) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

#[test]
fn wire_column_runs_every_operation_without_errors() {
    let out = run_with_timeout(
        aerobench(&[
            "--builtin-server",
            "--min-phase-calls",
            "0",
            "--min-phase-time",
            "0",
            "--clients",
            "wire,rust-sync",
            "--count",
            "300",
            "--format",
            "json",
            "--quiet",
        ]),
        Duration::from_secs(120),
    );
    assert!(out.success(), "{}", out.describe());
    let doc = json(&out);
    assert_schema_valid(&doc);
    let column = &doc["columns"][0];
    assert_eq!(column["id"], "wire", "the floor comes first");
    assert_eq!(column["in_flight"], 1);
    assert_eq!(column["mode"], "sync");
    assert_eq!(column["client"], "aerospike wire protocol (raw socket)");
    assert!(column["source"].as_str().unwrap().contains("seed node only"), "{column}");
    assert!(column["error"].is_null(), "{column}");
    // count = calls, no errors: 300 puts and gets, 3 batches of 100, 5 scans.
    for (op, calls) in [("put", 300), ("get", 300), ("batch_get", 3), ("scan", 5)] {
        let c = cell(&doc, "wire", op);
        assert_eq!((u(&c["count"]), u(&c["errors"])), (calls, 0), "wire {op}: {c}");
        let notes = c["notes"].as_array().unwrap();
        assert!(notes.iter().all(|n| n.as_str().unwrap().contains("too few for a p99")), "wire {op}: {c}");
        assert_eq!(notes.is_empty(), calls >= 100, "a p99 needs 100 calls: {c}");
        let (p50, avg) = (c["latency_us"]["p50"].as_f64().unwrap(), c["latency_us"]["avg"].as_f64().unwrap());
        assert!((1.0..1_000_000.0).contains(&p50), "wire {op}: p50 {p50} µs");
        // One call in flight: ops/s is calls over wall time, and the calls fill at most that time.
        let (ops, wall) = (c["ops_per_sec"].as_f64().unwrap(), c["wall_secs"].as_f64().unwrap());
        assert!((ops * wall / calls as f64 - 1.0).abs() < 0.02, "wire {op}: {ops} ops/s over {wall} s");
        assert!(avg * calls as f64 / 1e6 <= wall * 1.02, "wire {op}: avg {avg} µs × {calls} > {wall} s");
    }
    assert_eq!(u(&cell(&doc, "wire", "batch_get")["records"]), 300, "every record found");
    assert_eq!(u(&cell(&doc, "wire", "scan")["records"]), 5 * 300, "each scan returns every record");
    // How the floor's latency compares with the clients' is a speed figure: benches/ prints it.
}

/// Runs `clients` with `--ops OPS` on the server at `port` over records `{prefix}0..` (five
/// bins each, no pre-write: every record is the one this run's puts wrote), values checked with
/// --verify; returns the report after checking every call of every cell succeeded.
fn run_ops(port: &str, clients: &str, ops: &str, prefix: &str) -> Json {
    let args = ["--port", port, "--clients", clients, "--ops", ops, "--count", "40", "--bins", "5", "--warmup", "0"];
    let mut cmd = aerobench(&args);
    cmd.args(["--key-prefix", prefix, "--no-prewrite", "--verify", "--force", "--format", "json", "--quiet"]);
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    assert!(out.success(), "{clients} {ops}: {}", out.describe());
    let doc = json(&out);
    for c in doc["cells"].as_array().unwrap() {
        let calls = if c["operation"] == "batch_get" { 1 } else { 40 };
        assert!(u(&c["count"]) >= calls && u(&c["errors"]) == 0, "{clients} {ops} over {prefix}: {c}");
        if c["operation"] == "batch_get" {
            assert_eq!(u(&c["records"]), 40 * u(&c["count"]), "every record found: {c}");
        }
    }
    doc
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_written_by_the_wire_column_are_the_rust_crates() {
    let server = Server::start();
    let port = server.port.to_string();
    // No pre-write: the only puts are the measured ones, wire's into one key range and the
    // crate's beside it.
    run_ops(&port, "wire", "put", "by-wire-");
    run_ops(&port, "rust-sync", "put", "by-crate-");
    assert_eq!(server.objects("aerobench"), 80, "each put made its own record");

    // The crate finds every record the wire column wrote (so the digests agree) and reads the
    // same bins, of the same types, as in the record the crate itself wrote.
    let client = Client::new(&ClientPolicy::default(), &format!("127.0.0.1:{port}")).await.expect("connect");
    let key = |prefix: &str, i: u32| Key::new("test", "aerobench", Value::from(format!("{prefix}{i}"))).unwrap();
    for i in 0..40 {
        let by_wire = client.get(&ReadPolicy::default(), &key("by-wire-", i), Bins::All).await.expect("wire record");
        let by_crate = client.get(&ReadPolicy::default(), &key("by-crate-", i), Bins::All).await.expect("crate record");
        assert_eq!(by_wire.bins.len(), 5, "{:?}", by_wire.bins);
        assert_eq!(by_wire.bins, by_crate.bins, "record {i}");
        assert_eq!(by_wire.bins["i"], Value::Int(i as i64));
    }
    client.close().await.unwrap();

    // And other columns read back, through their own gets with every value checked, what the
    // floor wrote: a Python client too, as a third opinion.
    run_ops(&port, "rust-sync,aerospike-py-sync", "get,batch_get", "by-wire-");
    // The floor reads every record the crate wrote with every value checked (--verify decodes
    // its gets' and batch reads' records); what its operate reads back it does not decode, and
    // that cell says so.
    let doc = run_ops(&port, "wire", "get,batch_get,operate", "by-crate-");
    for op in ["get", "batch_get"] {
        let c = cell(&doc, "wire", op);
        assert_eq!(c["errors"], 0, "{op}: {c}");
        assert!(!c["notes"].to_string().contains("--verify"), "{op}: {c}");
    }
    let notes = cell(&doc, "wire", "operate")["notes"].to_string();
    assert!(notes.contains("the wire floor does not decode what operate reads back"), "{notes}");
}

/// A TCP relay in front of a server that keeps every AS_MSG request (proto type 3) that passes
/// through it, so a test sees the bytes a client sent.
struct Capture {
    port: u16,
    requests: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
}

impl Capture {
    /// Listens on a free port; connections are relayed to `127.0.0.1:{to}` once it is set.
    fn listen() -> (Capture, std::sync::mpsc::Sender<u16>) {
        use std::io::{Read, Write};
        use std::net::{Shutdown, TcpListener, TcpStream};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel::<u16>();
        let kept = requests.clone();
        std::thread::spawn(move || {
            let to = rx.recv().unwrap();
            for client in listener.incoming() {
                let Ok(mut client) = client else { continue };
                let Ok(mut server) = TcpStream::connect(("127.0.0.1", to)) else { continue };
                let (mut client_w, mut server_r) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut server_r, &mut client_w);
                    let _ = client_w.shutdown(Shutdown::Write);
                });
                let kept = kept.clone();
                std::thread::spawn(move || {
                    let mut h = [0u8; 8];
                    while client.read_exact(&mut h).is_ok() {
                        let len = u64::from_be_bytes([0, 0, h[2], h[3], h[4], h[5], h[6], h[7]]) as usize;
                        let mut body = vec![0u8; len];
                        if client.read_exact(&mut body).is_err() {
                            break;
                        }
                        if h[1] == 3 {
                            kept.lock().unwrap().push(body.clone());
                        }
                        if server.write_all(&h).and_then(|_| server.write_all(&body)).is_err() {
                            break;
                        }
                    }
                    let _ = server.shutdown(Shutdown::Write);
                });
            }
        });
        (Capture { port, requests }, tx)
    }

    /// The requests kept since the last call.
    fn take(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}

/// An AS_MSG request, decoded field by field: what a test compares between two clients.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Request {
    info: [u8; 4],
    generation: u32,
    record_ttl: u32,
    transaction_ttl: u32,
    /// (type, data)
    fields: Vec<(u8, Vec<u8>)>,
    /// (op, particle, name, value)
    ops: Vec<(u8, u8, String, Vec<u8>)>,
}

fn decode(body: &[u8]) -> Request {
    let be32 = |b: &[u8]| u32::from_be_bytes(b[..4].try_into().unwrap());
    let be16 = |b: &[u8]| u16::from_be_bytes(b[..2].try_into().unwrap());
    assert_eq!(body[0], 22, "a 22-byte message header");
    let (n_fields, n_ops) = (be16(&body[18..]), be16(&body[20..]));
    let mut at = 22;
    let mut fields = Vec::new();
    for _ in 0..n_fields {
        let size = be32(&body[at..]) as usize;
        fields.push((body[at + 4], body[at + 5..at + 4 + size].to_vec()));
        at += 4 + size;
    }
    let mut ops = Vec::new();
    for _ in 0..n_ops {
        let size = be32(&body[at..]) as usize;
        let name_len = body[at + 7] as usize;
        let name = String::from_utf8(body[at + 8..at + 8 + name_len].to_vec()).unwrap();
        ops.push((body[at + 4], body[at + 5], name, body[at + 8 + name_len..at + 4 + size].to_vec()));
        at += 4 + size;
    }
    assert_eq!(at, body.len(), "nothing after the ops");
    Request {
        info: [body[1], body[2], body[3], body[4]],
        generation: be32(&body[6..]),
        record_ttl: be32(&body[10..]),
        transaction_ttl: be32(&body[14..]),
        fields,
        ops,
    }
}

/// The first single-record request of each digest whose info bytes `pick` accepts, by digest.
fn by_digest(requests: &[Vec<u8>], pick: impl Fn(&[u8; 4]) -> bool) -> std::collections::BTreeMap<Vec<u8>, Request> {
    let mut out = std::collections::BTreeMap::new();
    for r in requests.iter().map(|b| decode(b)).filter(|r| pick(&r.info)) {
        if let Some((_, digest)) = r.fields.iter().find(|(kind, _)| *kind == 4) {
            out.entry(digest.clone()).or_insert(r);
        }
    }
    out
}

type ByDigest = std::collections::BTreeMap<Vec<u8>, Request>;

/// Runs the wire column, then the Rust crate, with `args` (20 records, puts then gets) through a
/// relay that captures every request, checks that each sent one put and one get per record and
/// that the crate sent the same requests for the same records (digests), byte for byte once
/// decoded, and returns the wire column's puts and gets.
fn wire_and_crate_send_the_same(args: &[&str]) -> (ByDigest, ByDigest) {
    // The relay is the address the server advertises, so the crate, which connects to the
    // advertised address after the seed, sends every request through it.
    let (capture, to) = Capture::listen();
    let server = Server::start_with(&["--quiet", "--access-address", &format!("127.0.0.1:{}", capture.port)]);
    to.send(server.port).unwrap();
    let port = capture.port.to_string();
    let mut sent = Vec::new();
    for clients in ["wire", "rust-sync"] {
        let mut cmd = aerobench(&["--port", &port, "--clients", clients, "--ops", "put,get", "--count", "20"]);
        cmd.args(args);
        cmd.args(["--warmup", "0", "--no-prewrite", "--force", "--timeout-ms", "750", "--format", "json", "--quiet"]);
        let out = run_with_timeout(cmd, Duration::from_secs(60));
        assert!(out.success(), "{clients}: {}", out.describe());
        sent.push(capture.take());
    }
    let writes = |r: &[Vec<u8>]| by_digest(r, |info| info[1] & 1 != 0);
    let reads = |r: &[Vec<u8>]| by_digest(r, |info| info[1] == 0 && info[0] & 1 != 0);
    for (what, wire, crate_) in [("put", writes(&sent[0]), writes(&sent[1])), ("get", reads(&sent[0]), reads(&sent[1]))]
    {
        assert_eq!(wire.len(), 20, "one {what} per record from wire");
        assert_eq!(wire.keys().collect::<Vec<_>>(), crate_.keys().collect::<Vec<_>>(), "{what}: digests");
        for (digest, request) in &wire {
            assert_eq!(Some(request), crate_.get(digest), "{what} of digest {digest:02x?}");
        }
    }
    (writes(&sent[0]), reads(&sent[0]))
}

#[test]
fn the_wire_columns_requests_are_the_ones_the_rust_crate_sends() {
    wire_and_crate_send_the_same(&["--bins", "4"]);
}

/// Field type of a scan's task id.
const FIELD_TASK_ID: u8 = 7;
/// The info2 bit that asks for a result of every op of an operate.
const INFO2_RESPOND_ALL_OPS: u8 = 0x80;

/// What `column` sends for `--ops op` over 20 records, the records written first by the same
/// column (`--ops put`, not captured): every AS_MSG request, decoded, in the order sent, after
/// checking there is one per call the report counts (one node: a batch or a scan is one request). The one difference two clients may legitimately have is
/// normalised here, by name: a scan's task id, which each client draws itself (zeroed).
fn requests_for(capture: &Capture, port: &str, column: &str, op: &str) -> Vec<Request> {
    let run = |ops: &str| {
        let mut cmd = aerobench(&["--port", port, "--clients", column, "--ops", ops, "--count", "20"]);
        cmd.args(["--bins", "3", "--min-phase-calls", "0", "--min-phase-time", "0", "--warmup", "0"]);
        cmd.args(["--no-prewrite", "--force", "--timeout-ms", "750", "--format", "json", "--quiet"]);
        let out = run_with_timeout(cmd, Duration::from_secs(60));
        assert!(out.success(), "{column} {ops}: {}", out.describe());
        u(&cell(&json(&out), column, ops)["count"])
    };
    run("put");
    capture.take();
    let calls = run(op);
    let mut requests: Vec<Request> = capture.take().iter().map(|b| decode(b)).collect();
    assert_eq!(requests.len() as u64, calls, "{column} {op}: a request per call: {:?}", summary(&requests));
    for r in &mut requests {
        for (kind, data) in &mut r.fields {
            if *kind == FIELD_TASK_ID {
                data.iter_mut().for_each(|b| *b = 0);
            }
        }
    }
    requests
}

/// Requests in short: info bytes, field types and op types, for a message that names them.
fn summary(requests: &[Request]) -> Vec<String> {
    let kinds = |r: &Request| r.fields.iter().map(|(k, _)| *k).collect::<Vec<_>>();
    let ops = |r: &Request| r.ops.iter().map(|(op, ..)| *op).collect::<Vec<_>>();
    requests.iter().map(|r| format!("info {:?} fields {:?} ops {:?}", r.info, kinds(r), ops(r))).collect()
}

#[test]
fn the_wire_columns_batch_scan_exists_touch_delete_operate_and_update_requests_are_the_crates() {
    let (capture, to) = Capture::listen();
    let server = Server::start_with(&["--quiet", "--access-address", &format!("127.0.0.1:{}", capture.port)]);
    to.send(server.port).unwrap();
    let port = capture.port.to_string();
    // Delete last: the records are the same for every operation before it.
    for op in ["batch_get", "scan", "exists", "touch", "operate", "update", "delete"] {
        let mut wire = requests_for(&capture, &port, "wire", op);
        let mut crate_ = requests_for(&capture, &port, "rust-sync", op);
        if op == "operate" {
            // The one difference between clients: the crate (3.0.0) asks for every op's result
            // (info2 RESPOND_ALL_OPS) on any operate with a write in it; the C client and
            // aerospike-py do not for an increment and a read, and the floor lays its operate
            // out as they do. So: equal to the C client's, and to the crate's but for that bit.
            // The C column's operates carry --timeout-ms like every other call (its config sets
            // the operate policy too), so they are compared as sent.
            let mut official = requests_for(&capture, &port, "official-c", op);
            assert_same("operate, against the C client", wire.as_mut_slice(), &mut official);
            for r in &mut crate_ {
                assert_eq!(r.info[1] & INFO2_RESPOND_ALL_OPS, INFO2_RESPOND_ALL_OPS, "{:?}", summary(&crate_));
                r.info[1] &= !INFO2_RESPOND_ALL_OPS;
            }
        }
        assert_same(op, &mut wire, &mut crate_);
    }
}

/// Checks that the wire floor's requests (`wire`) and another client's (`other`) are the same
/// ones, in whatever order they were sent; a difference shows as the first unequal pair.
fn assert_same(what: &str, wire: &mut [Request], other: &mut [Request]) {
    assert_eq!(wire.len(), other.len(), "{what}: as many requests");
    assert!(!wire.is_empty(), "{what}: calls made");
    wire.sort();
    other.sort();
    for (w, o) in wire.iter().zip(other.iter()) {
        assert_eq!(w, o, "{what}: the wire floor's request (left) against the other client's (right)");
    }
}

#[test]
fn the_wire_columns_list_map_and_subset_requests_are_the_ones_the_rust_crate_sends() {
    // As above, for a record of every value type (lists and maps nested in each other, blobs,
    // booleans) and gets that ask for a subset of the bins (--read-bins).
    let record = "a=I,b=F,c=BOOL,d=S40,e=B300,l=[20*I],t=[S3,B2,BOOL],m={17*S3:[2*F]},n={3*I:{2*S2:B9}}";
    let (writes, reads) = wire_and_crate_send_the_same(&["--record", record, "--read-bins", "n,b"]);
    // The gets name the two bins asked for, in order, and nothing else.
    let get = reads.into_values().next().unwrap();
    let names: Vec<&str> = get.ops.iter().map(|(_, _, name, _)| name.as_str()).collect();
    assert_eq!(names, ["n", "b"]);
    let put = writes.into_values().next().unwrap();
    let particles: Vec<u8> = put.ops.iter().map(|(_, particle, _, _)| *particle).collect();
    assert_eq!(particles, [1, 2, 17, 3, 4, 20, 20, 19, 19], "int, float, bool, string, blob, lists, maps");
}

#[test]
fn wire_column_against_a_dying_server_ends_with_errors_not_a_hang() {
    let server = Server::start();
    let port = server.port.to_string();
    let cmd = aerobench(&[
        "--port",
        &port,
        "--clients",
        "wire",
        "--ops",
        "put",
        "--count",
        "5000",
        // Until the server goes: fixed rounds, which no settled verdict ends.
        "--stop",
        "fixed",
        "--rounds",
        "1000",
        "--timeout-ms",
        "200",
        "--no-prewrite",
        "--format",
        "json",
        "--quiet",
    ]);
    let bench = std::thread::spawn(move || run_with_timeout(cmd, Duration::from_secs(60)));
    // Without a pre-write the measured puts make the records: once some are there, puts have
    // succeeded, and the 1,000 rounds are far from done.
    assert!(common::wait_until(Duration::from_secs(30), || server.objects("aerobench") >= 500), "no puts");
    drop(server); // kills and reaps `aerobench serve`
    let killed = Instant::now();
    let out = bench.join().unwrap();
    let took = killed.elapsed();
    assert!(!out.timed_out, "aerobench hung after its server died\n{}", out.describe());
    assert_eq!(out.status.and_then(|s| s.code()), Some(1), "{}", out.describe());
    assert!(took < Duration::from_secs(20), "took {took:?}");
    let doc = json(&out);
    let put = cell(&doc, "wire", "put");
    let (count, errors) = (u(&put["count"]), u(&put["errors"]));
    assert!(count > errors && errors > 0, "puts before the kill succeed, then fail: {put}");
    assert!(u(&doc["workload"]["rounds_completed"]) < 1000, "the run stopped early: {put}");
    let reasons = put["errors_by_reason"].as_object().unwrap();
    assert!(reasons.keys().all(|r| r.starts_with("network:") || r == "timeout"), "{reasons:?}");
    assert!(
        doc["columns"][0]["error"].is_string() || !put["notes"].as_array().unwrap().is_empty(),
        "the report says the run broke off: {:#}",
        doc
    );
}
