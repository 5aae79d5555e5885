//! A cluster on one machine, end to end: `aerobench serve --nodes 3` with every column (the
//! Rust crate, the wire floor and the Python clients, the real packages) running every
//! operation with zero errors, requests counted at all three nodes by the server itself, batches
//! split into per-node sub-batches, and the floor's requests landing on the nodes that own them.

mod common;
use common::assert_schema_valid;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use common::{COLUMNS, Server, TimedOutput, cache_dir, run_with_timeout};

fn aerobench(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    // Exactly the operation's own calls: the tests count requests at the nodes.
    cmd.args(["--rounds", "1", "--format", "json", "--quiet", "--min-phase-calls", "0", "--min-phase-time", "0"]);
    cmd.args(args);
    cmd.env("AEROBENCH_CACHE_DIR", cache_dir())
        .env_remove("VIRTUAL_ENV")
        .env_remove("AEROSPIKE_HOST")
        .env_remove("AEROSPIKE_PORT");
    cmd
}

fn json(out: &TimedOutput) -> Value {
    assert!(out.success(), "{}", out.describe());
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("stdout is not JSON: {e}\n{}", out.describe()))
}

/// Asks one info command of the server at `port`; returns its value.
fn info(port: u16, command: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the server");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let body = format!("{command}\n");
    let mut frame = vec![2u8, 1];
    frame.extend_from_slice(&(body.len() as u64).to_be_bytes()[2..]);
    frame.extend_from_slice(body.as_bytes());
    s.write_all(&frame).unwrap();
    let mut h = [0u8; 8];
    s.read_exact(&mut h).unwrap();
    let len = u64::from_be_bytes([0, 0, h[2], h[3], h[4], h[5], h[6], h[7]]);
    let mut reply = vec![0; len as usize];
    s.read_exact(&mut reply).unwrap();
    let text = String::from_utf8(reply).unwrap();
    let (name, value) = text.trim_end_matches('\n').split_once('\t').expect("command\tvalue");
    assert_eq!(name, command);
    value.to_string()
}

/// One node's counters from `aerobench-cluster-stats`.
#[derive(Debug)]
struct NodeStats {
    port: u16,
    counts: BTreeMap<String, u64>,
}

impl NodeStats {
    fn get(&self, name: &str) -> u64 {
        *self.counts.get(name).unwrap_or_else(|| panic!("no {name} in {self:?}"))
    }
}

fn cluster_stats(port: u16) -> Vec<NodeStats> {
    info(port, "aerobench-cluster-stats")
        .split(';')
        .map(|node| {
            let parts: Vec<&str> = node.splitn(4, ':').collect();
            assert_eq!(parts.len(), 4, "{node}");
            assert_eq!(parts[2], "up", "{node}");
            let counts = parts[3]
                .split(',')
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap();
                    (k.to_string(), v.parse().unwrap())
                })
                .collect();
            NodeStats { port: parts[1].parse().unwrap(), counts }
        })
        .collect()
}

/// Held by the tests whose properties hang on the machine keeping up (a node's loss met while
/// it lasts, a state polled while it holds) and by the heaviest one (every column at once): they
/// run one after the other, not beside each other on a machine of two cores.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn cells<'a>(doc: &'a Value, op: &str) -> Vec<&'a Value> {
    doc["cells"].as_array().unwrap().iter().filter(|c| c["operation"] == op).collect()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

#[test]
fn the_nodes_of_one_process_form_a_cluster_the_clients_can_read() {
    let server = Server::start_with(&["--nodes", "3", "--quiet"]);
    let stats = cluster_stats(server.port);
    assert_eq!(stats.len(), 3);
    assert_eq!(stats[0].port, server.port, "the seed is the first node");
    // The seed lists the other two as peers, at their own ports.
    let peers = info(server.port, "peers-clear-std");
    for node in &stats[1..] {
        assert!(peers.contains(&format!("[127.0.0.1:{}]", node.port)), "{peers}");
    }
    assert!(!peers.contains(&format!(":{}]", server.port)), "a node is not its own peer: {peers}");
    // Every other node answers as its own node, with its own partitions: 4096 masters in all.
    let mut masters = 0;
    let mut names = Vec::new();
    for node in &stats {
        names.push(info(node.port, "node"));
        let replicas = info(node.port, "replicas");
        let (ns, rest) = replicas.split_once(':').unwrap();
        assert_eq!(ns, "test");
        let fields: Vec<&str> = rest.split(',').collect();
        assert_eq!(&fields[..2], &["0", "2"], "regime 0, replication factor 2");
        assert_eq!(fields.len(), 4, "a master and a replica bitmap");
        use base64::Engine as _;
        let bits = base64::engine::general_purpose::STANDARD.decode(fields[2]).unwrap();
        let mine: u32 = bits.iter().map(|b| b.count_ones()).sum();
        assert!((1300..1400).contains(&mine), "node {} is master of {mine} partitions", node.port);
        masters += mine;
    }
    assert_eq!(masters, 4096);
    names.dedup();
    assert_eq!(names.len(), 3, "three node names: {names:?}");
    assert!(info(server.port, "statistics").contains("cluster_size=3"));
}

#[test]
fn every_column_runs_every_operation_across_three_nodes() {
    let _alone = one_at_a_time();
    let server = Server::start_with(&["--nodes", "3", "--quiet"]);
    let port = server.port.to_string();
    let columns = COLUMNS.join(",");
    let out = run_with_timeout(
        aerobench(&[
            "--port",
            &port,
            "--clients",
            &columns,
            "--count",
            "300",
            "--concurrency",
            "8",
            "--batch-size",
            "60",
            "--scans",
            "2",
        ]),
        Duration::from_secs(900),
    );
    let doc = json(&out);
    assert_schema_valid(&doc);
    assert_eq!(doc["server"]["nodes"].as_array().map(Vec::len), Some(3), "{}", doc["server"]);
    for id in COLUMNS {
        let column = doc["columns"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap();
        assert!(column["error"].is_null(), "{id}: {}", column["error"]);
    }
    let mut batch_calls = 0;
    for (op, calls, records) in [("put", 300, 0), ("get", 300, 0), ("batch_get", 5, 300), ("scan", 2, 600)] {
        let cs = cells(&doc, op);
        assert_eq!(cs.len(), COLUMNS.len(), "{op}");
        for c in cs {
            assert_eq!((u(&c["count"]), u(&c["errors"])), (calls, 0), "{} {op}: {c}", c["column"]);
            if op == "batch_get" || op == "scan" {
                assert_eq!(u(&c["records"]), records, "{} {op}: every record found", c["column"]);
            }
        }
        if op == "batch_get" {
            batch_calls = calls * COLUMNS.len() as u64;
        }
    }
    let stats = cluster_stats(server.port);
    for node in &stats {
        // Every node was asked for records, batches and scans.
        assert!(node.get("records") > 300, "{node:?}");
        // Each batch of 60 keys reaches every node as a sub-batch of that node's keys.
        assert!(node.get("batches") >= batch_calls, "{node:?}: fewer sub-batches than batches ({batch_calls})");
        assert!(node.get("scans") >= 2 * COLUMNS.len() as u64, "{node:?}");
        // Nobody sent a node a key or scan partition it does not own.
        assert_eq!((node.get("proxied"), node.get("refused_partitions")), (0, 0), "{node:?}");
    }
    let (batches, keys): (u64, u64) =
        stats.iter().fold((0, 0), |(b, k), n| (b + n.get("batches"), k + n.get("batch_keys")));
    assert!(
        keys / batches <= 30,
        "sub-batches of about a third of 60 keys, not whole batches: {keys} keys / {batches}"
    );
}

#[test]
fn the_floor_sends_each_request_to_the_node_that_owns_it() {
    let server = Server::start_with(&["--nodes", "3", "--quiet"]);
    let port = server.port.to_string();
    let out = run_with_timeout(
        aerobench(&[
            "--port",
            &port,
            "--clients",
            "wire",
            "--count",
            "900",
            "--batch-size",
            "90",
            "--warmup",
            "0",
            "--ops",
            "put,get,batch_get,scan,exists,touch,operate,delete",
        ]),
        Duration::from_secs(300),
    );
    let doc = json(&out);
    let column = &doc["columns"][0];
    assert!(column["source"].as_str().unwrap().contains("routed by the partition map of 3 nodes"), "{column}");
    assert_eq!(column["policies"]["connections"], "1 per node, 3 nodes");
    for c in doc["cells"].as_array().unwrap() {
        assert_eq!(u(&c["errors"]), 0, "{c}");
    }
    let stats = cluster_stats(server.port);
    let total: u64 = stats.iter().map(|n| n.get("records")).sum();
    // put, get, exists, touch, operate, delete: 900 each, with the records aerobench writes first.
    assert!(total >= 6 * 900, "{stats:?}");
    for node in &stats {
        assert_eq!(node.get("proxied"), 0, "every key went to its master: {node:?}");
        assert_eq!(node.get("refused_partitions"), 0, "every scan named the node's own partitions: {node:?}");
        let share = node.get("records") as f64 / total as f64;
        assert!((0.25..0.42).contains(&share), "a third of the records each: {stats:?}");
        // 10 batches, each split in three; 5 scans, each split in three (and aerobench's own
        // look at the set before writing, also one scan per node).
        assert_eq!(node.get("batches"), 10, "{node:?}");
        assert!(node.get("scans") >= 5, "{node:?}");
        assert_eq!(node.get("scans"), stats[0].get("scans"), "every scan reached every node: {stats:?}");
    }
    assert_eq!(stats.iter().map(|n| n.get("batch_keys")).sum::<u64>(), 900);
}

#[test]
fn builtin_server_runs_as_a_cluster_and_the_header_says_so() {
    let out = run_with_timeout(
        aerobench(&["--builtin-server", "--nodes", "3", "--clients", "wire,rust-sync", "--count", "200"]),
        Duration::from_secs(300),
    );
    let doc = json(&out);
    assert_schema_valid(&doc);
    assert_eq!(doc["server"]["builtin"], true);
    assert_eq!(doc["server"]["nodes"].as_array().map(Vec::len), Some(3));
    for c in doc["cells"].as_array().unwrap() {
        assert_eq!(u(&c["errors"]), 0, "{c}");
    }
    // The server's own counts, per column and operation: every call reached the nodes that own
    // its keys, each batch as three sub-batches, each scan as three scans.
    let spread = &doc["node_spread"];
    assert_eq!(spread["nodes"], doc["server"]["nodes"], "{spread}");
    for column in ["wire", "rust-sync"] {
        for (op, field, per_call) in [("get", "records", 1), ("batch_get", "batches", 3), ("scan", "scans", 3)] {
            let cell = spread["cells"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["column"] == column && c["operation"] == op)
                .unwrap_or_else(|| panic!("no {column} {op} in {spread}"));
            let nodes = cell["nodes"].as_array().unwrap();
            assert_eq!(nodes.len(), 3);
            let calls = u(&cells(&doc, op).iter().find(|c| c["column"] == column).unwrap()["count"]);
            assert_eq!(nodes.iter().map(|n| u(&n[field])).sum::<u64>(), per_call * calls, "{column} {op}: {cell}");
            assert!(nodes.iter().all(|n| u(&n[field]) > 0), "{column} {op} reached every node: {cell}");
            assert!(nodes.iter().all(|n| u(&n["proxied"]) == 0), "{column} {op}: {cell}");
        }
    }
    let mut table = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    table.args(["--builtin-server", "--nodes", "2", "--clients", "wire", "--count", "50", "--rounds", "1", "--quiet"]);
    let out = run_with_timeout(table, Duration::from_secs(120));
    assert!(out.success(), "{}", out.describe());
    assert!(out.stdout.contains("build 8.1.0.0, 2 nodes"), "{}", out.stdout);
    assert!(out.stdout.contains("Requests per node — 2 built-in nodes"), "{}", out.stdout);
    assert!(out.stdout.contains("wire floor / get: "), "{}", out.stdout);
}

#[test]
fn cluster_options_that_cannot_work_are_refused_with_the_fix() {
    let run = |args: &[&str]| {
        let out = run_with_timeout(
            {
                let mut c = Command::new(env!("CARGO_BIN_EXE_aerobench"));
                c.args(args);
                c
            },
            Duration::from_secs(30),
        );
        assert!(!out.success(), "{args:?} succeeded\n{}", out.describe());
        out.stderr
    };
    let err = run(&["serve", "--port", "0", "--nodes", "2", "--replication-factor", "3"]);
    assert!(err.contains("--replication-factor 3 needs at least 3 nodes"), "{err}");
    let err = run(&["serve", "--port", "0", "--nodes", "3", "--fail-node", "4"]);
    assert!(err.contains("--fail-node 4 must name one of the nodes 1..=3"), "{err}");
    let err = run(&["serve", "--port", "65535", "--nodes", "3"]);
    assert!(err.contains("use a lower --port or --port 0"), "{err}");
    let err = run(&["serve", "--nodes", "0"]);
    assert!(err.contains("--nodes"), "{err}");
    let err = run(&["--nodes", "3", "--count", "10"]);
    assert!(err.contains("--builtin-server"), "{err}");
}

/// The node-loss summary of `column` in a report.
fn recovery<'a>(doc: &'a Value, column: &str) -> &'a Value {
    doc["node_loss"]["columns"]
        .as_array()
        .unwrap_or_else(|| panic!("no node_loss in the report: {}", doc["node_loss"]))
        .iter()
        .find(|c| c["column"] == column)
        .unwrap_or_else(|| panic!("no {column} in {}", doc["node_loss"]))
}

#[test]
fn the_floor_routes_around_a_lost_node_and_back() {
    let _alone = one_at_a_time();
    // Node 2 is out from 2 s to 4 s into the floor's 6-second phase of gets: the loss and the
    // return fall in the middle of it.
    let out = run_with_timeout(
        aerobench(&[
            "--builtin-server",
            "--nodes",
            "3",
            "--fail-node",
            "2",
            "--fail-at",
            "2s",
            "--fail-for",
            "2s",
            "--clients",
            "wire",
            "--ops",
            "get",
            "--duration",
            "6s",
            "--count",
            "3000",
        ]),
        Duration::from_secs(120),
    );
    assert!(!out.timed_out, "the run must end by itself\n{}", out.describe());
    assert_eq!(out.status.and_then(|s| s.code()), Some(1), "failed calls fail the run\n{}", out.describe());
    let doc: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.describe()));
    assert_schema_valid(&doc);
    let loss = &doc["node_loss"];
    assert_eq!((loss["node"].as_u64(), loss["for_secs"].as_f64()), (Some(2), Some(2.0)), "{loss}");
    assert_eq!(loss["resolution_secs"], 0.1);
    let wire = recovery(&doc, "wire");
    assert_eq!((wire["ran_during_loss"].as_bool(), wire["ran_after_return"].as_bool()), (Some(true), Some(true)));
    assert!(u(&wire["failures"]) > 0, "calls on the lost node's connection fail: {wire}");
    // It routed around: its failures stopped while the node was still out (the floor tends
    // soon after a failure), at least one interval before the node came back.
    let (recovered, out_for) = (wire["recovery_secs"].as_f64().unwrap(), loss["for_secs"].as_f64().unwrap());
    assert!(recovered + 0.1 <= out_for, "failures went on until the node came back ({out_for} s): {wire}");
    assert_eq!(u(&wire["failures_after_return"]), 0, "the survivors answer until the floor moves back: {wire}");
    // The failures are in the cells, by reason.
    let failed: u64 = cells(&doc, "get").iter().map(|c| u(&c["errors"])).sum();
    assert_eq!(failed, u(&wire["failures"]), "{wire}");
    let reasons: Vec<String> = cells(&doc, "get")
        .iter()
        .flat_map(|c| c["errors_by_reason"].as_object().unwrap().keys().cloned().collect::<Vec<_>>())
        .collect();
    assert!(reasons.iter().all(|r| r.contains("network:")), "{reasons:?}");
}

#[test]
fn every_column_meets_the_same_node_loss_mid_phase_and_the_run_ends() {
    let _alone = one_at_a_time();
    let columns = ["wire", "rust-sync", "aerospike-py-sync"];
    let out = run_with_timeout(
        aerobench(&[
            "--builtin-server",
            "--nodes",
            "3",
            "--fail-node",
            "3",
            "--fail-at",
            "1s",
            "--fail-for",
            "1s",
            "--clients",
            &columns.join(","),
            "--ops",
            "get",
            "--duration",
            "3s",
            "--count",
            "1000",
        ]),
        Duration::from_secs(300),
    );
    assert!(!out.timed_out, "the run must end by itself\n{}", out.describe());
    let doc: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.describe()));
    assert_schema_valid(&doc);
    let losses = doc["node_loss"]["losses"].as_array().unwrap();
    assert_eq!(losses.len(), columns.len(), "one loss in each column's measured phase: {losses:?}");
    let mut met: Vec<&str> = losses.iter().map(|l| l["column"].as_str().unwrap()).collect();
    met.sort_unstable();
    assert_eq!(met, ["aerospike-py-sync", "rust-sync", "wire"], "{losses:?}");
    assert!(losses.iter().all(|l| l["error"].is_null()), "{losses:?}");
    for column in columns {
        let r = recovery(&doc, column);
        assert_eq!(u(&r["losses"]), 1, "{r}");
        assert_eq!((r["ran_during_loss"].as_bool(), r["ran_after_return"].as_bool()), (Some(true), Some(true)), "{r}");
        // Whatever failed is counted, and it stopped: a recovery time for each failing column.
        assert_eq!(r["recovery_secs"].is_null(), u(&r["failures"]) == 0, "{r}");
        let cell = cells(&doc, "get").into_iter().find(|c| c["column"] == column).unwrap();
        assert!(u(&cell["errors"]) >= u(&r["failures"]) + u(&r["failures_after_return"]), "{r} / {cell}");
    }
    let wire = recovery(&doc, "wire");
    assert!(u(&wire["failures"]) > 0, "the floor's connection to the lost node breaks: {wire}");
    // Its failures stopped while the node was still out: it routed around the loss.
    let out_for = doc["node_loss"]["for_secs"].as_f64().unwrap();
    assert!(wire["recovery_secs"].as_f64().unwrap() < out_for, "failures until the node came back: {wire}");
}

#[test]
fn serve_takes_a_node_out_on_schedule_or_when_asked_and_brings_it_back() {
    let _alone = one_at_a_time();
    // Each state is polled for, and each outage lasts seconds, so that a loaded machine's stall
    // of a few hundred milliseconds cannot make a poll miss it; a generation seen jumping past
    // the one awaited says that happened.
    let wait_for = |port: u16, generation: u32| {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let now: u32 = info(port, "partition-generation").parse().unwrap();
            assert!(now <= generation, "partition-generation went past {generation} to {now} before it was seen");
            if now == generation {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "partition-generation never reached {generation}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let server =
        Server::start_with(&["--nodes", "3", "--quiet", "--fail-node", "2", "--fail-at", "300ms", "--fail-for", "4s"]);
    let second = cluster_stats(server.port)[1].port;
    assert_eq!(info(server.port, "partition-generation"), "1");
    wait_for(server.port, 2);
    assert!(info(server.port, "statistics").contains("cluster_size=2"));
    let peers = info(server.port, "peers-clear-std");
    assert!(peers.starts_with("2,") && !peers.contains(&format!(":{second}]")), "{peers}");
    assert!(info(server.port, "aerobench-cluster-stats").contains(&format!(":{second}:down:")));
    wait_for(server.port, 3);
    assert!(info(server.port, "statistics").contains("cluster_size=3"));
    assert!(info(server.port, "peers-clear-std").contains(&format!(":{second}]")));
    // The run's own control: the same loss, on request.
    assert_eq!(info(server.port, "aerobench-fail-node:node=3;for_ms=3000"), "ok");
    wait_for(server.port, 4);
    assert!(info(server.port, "statistics").contains("cluster_size=2"));
    wait_for(server.port, 5);
    assert!(info(server.port, "statistics").contains("cluster_size=3"));
    assert!(info(server.port, "aerobench-fail-node:node=4;for_ms=200").starts_with("ERROR"));
    assert!(info(server.port, "aerobench-fail-node:node=1").starts_with("ERROR"));
}

#[test]
fn a_node_loss_that_would_outlast_its_phase_is_refused() {
    let refused = |extra: &[&str]| {
        let base = ["--builtin-server", "--nodes", "3", "--fail-node", "2", "--clients", "wire", "--ops", "get"];
        let out =
            run_with_timeout(aerobench(&[&base[..], &["--count", "200"], extra].concat()), Duration::from_secs(120));
        assert_eq!(out.status.and_then(|s| s.code()), Some(2), "a usage error\n{}", out.describe());
        assert!(out.stdout.is_empty(), "refused before anything ran\n{}", out.describe());
        out.stderr
    };
    // Out from 2 s to 7 s into a 6-second phase: the next column's phase would start without it.
    let err = refused(&["--fail-at", "2s", "--fail-for", "5s", "--duration", "6s"]);
    assert!(err.contains("--fail-at 2s + --fail-for 5s = 7s does not end inside a phase of --duration 6s"), "{err}");
    assert!(err.contains("e.g. --duration 12s"), "{err}");
    // Exactly as long as the phase: the node is not back before the phase ends.
    let err = refused(&["--fail-at", "1s", "--fail-for", "2s", "--duration", "3s"]);
    assert!(err.contains("does not end inside a phase of --duration 3s"), "{err}");
    // A phase of a number of calls has no length known in advance.
    let err = refused(&["--fail-at", "1s", "--fail-for", "1s"]);
    assert!(err.contains("needs phases of a known length: add --duration longer than 2s"), "{err}");
}
