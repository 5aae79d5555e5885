//! A server that changes under the run is seen, end to end: `aerobench serve --nodes 3`, a run of
//! several columns against it, and one node taken out (for good) by an info command once the
//! run's first phases have gone by. The report names the change with its time and phase, the
//! phases measured under each state, withholds the verdicts between cells that met different
//! states, and gives each column its failures and recovery; a server with `--user` is read with
//! a login.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::{Server, assert_schema_valid, cache_dir, scratch, wait_until};

fn aerobench(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    cmd.args(["--format", "json", "--quiet"]);
    cmd.args(args);
    cmd.env("AEROBENCH_CACHE_DIR", cache_dir())
        .env_remove("VIRTUAL_ENV")
        .env_remove("AEROSPIKE_HOST")
        .env_remove("AEROSPIKE_PORT");
    cmd
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
    text.trim_end_matches('\n').split_once('\t').map(|(_, v)| v.to_string()).unwrap_or_default()
}

/// Columns that have live interval lines of round 1 so far.
fn columns_in_round_one(live: &std::path::Path) -> usize {
    let text = std::fs::read_to_string(live).unwrap_or_default();
    let mut seen: Vec<String> = Vec::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else { continue };
        if v["type"] == "interval" && v["round"] == 1 {
            let column = v["column"].as_str().unwrap_or_default().to_string();
            if !seen.contains(&column) {
                seen.push(column);
            }
        }
    }
    seen.len()
}

/// The (before, after) states of one cell's phases, by round.
fn spans(doc: &Value, column: &str, operation: &str) -> Vec<(u64, (u64, u64))> {
    doc["schedule"]["phases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["column"] == column && p["operation"] == operation)
        .map(|p| {
            let c = &p["cluster"];
            (p["round"].as_u64().unwrap(), (c["before"].as_u64().unwrap(), c["after"].as_u64().unwrap()))
        })
        .collect()
}

#[test]
fn a_node_that_leaves_mid_run_is_named_and_the_cells_after_it_are_not_compared_with_those_before() {
    let server = Server::start_with(&["--nodes", "3", "--quiet"]);
    // The third node's name, as the cluster's counters list the nodes in order.
    let stats = info(server.port, "aerobench-cluster-stats");
    let third = stats.split(';').nth(2).and_then(|n| n.split(':').next()).expect("a third node").to_string();
    let dir = scratch("cluster_change");
    let (live, output) = (dir.join("live.ndjson"), dir.join("report.json"));
    let columns = ["wire", "rust-sync", "rust-async", "aerospike-py-sync"];
    let mut child = aerobench(&[
        "--port",
        &server.port.to_string(),
        "--clients",
        &columns.join(","),
        "--ops",
        "get",
        "--rounds",
        "2",
        "--duration",
        "1s",
        "--count",
        "1000",
        "--interval",
        "100ms",
        "--live",
        live.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ])
    .stderr(Stdio::piped())
    .stdout(Stdio::null())
    .spawn()
    .expect("spawn aerobench");
    // Once two columns have measured in round 1, the first phase ran on three nodes throughout.
    let going = wait_until(Duration::from_secs(180), || {
        columns_in_round_one(&live) >= 2 || child.try_wait().ok().flatten().is_some()
    });
    assert!(going && child.try_wait().unwrap().is_none(), "the run never got going (or ended first)");
    assert_eq!(info(server.port, "aerobench-fail-node:node=3;for_ms=600000"), "ok");
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the run must end by itself");
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_ne!(status.code(), Some(2), "{stderr}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&output).unwrap()).unwrap();
    assert_schema_valid(&doc);

    // The change: the third node left, from three nodes to two, during a measured phase.
    let cluster = &doc["cluster"];
    let states = cluster["states"].as_array().unwrap();
    let changes = cluster["changes"].as_array().unwrap();
    assert!(!changes.is_empty(), "no change seen: {cluster}");
    let change = &changes[0];
    assert_eq!(change["left"], serde_json::json!([third]), "{change}");
    let nodes = |i: &Value| states[i.as_u64().unwrap() as usize]["nodes"].as_array().unwrap().len();
    assert_eq!((nodes(&change["from"]), nodes(&change["to"])), (3, 2), "{cluster}");
    assert!(change["during"]["round"].as_u64().is_some_and(|r| r >= 1), "{change}");
    assert!(change["seen_at"].as_str().unwrap() >= change["last_seen_before"].as_str().unwrap(), "{change}");
    assert!(
        stderr.contains(&format!("the cluster changed during the run, by {}", change["seen_at"].as_str().unwrap())),
        "{stderr}"
    );

    // The phases under each state: some on three nodes before, some on two after.
    let (from, to) = (change["from"].as_u64().unwrap(), change["to"].as_u64().unwrap());
    let all: Vec<(u64, u64)> = columns.iter().flat_map(|c| spans(&doc, c, "get")).map(|(_, s)| s).collect();
    assert!(all.contains(&(from, from)) && all.contains(&(to, to)), "{all:?}");

    // Every ratio between cells that met different states, or a change, has no verdict.
    let mut withheld = 0;
    for r in doc["ratios"].as_array().unwrap() {
        let (a, b) =
            (spans(&doc, r["column"].as_str().unwrap(), "get"), spans(&doc, r["baseline"].as_str().unwrap(), "get"));
        let differs = a
            .iter()
            .any(|(round, sa)| b.iter().any(|(rb, sb)| rb == round && (sa != sb || sa.0 != sa.1 || sb.0 != sb.1)));
        if differs {
            withheld += 1;
            assert_eq!(r["verdict"], "not_comparable", "{r}");
            assert!(r["reason"].as_str().unwrap().contains("cluster"), "{r}");
            assert!(r["speedup"].is_null(), "{r}");
        }
    }
    assert!(withheld > 0, "some pair of cells met different states");
    // The cells say which rounds ran under which state.
    let noted = doc["cells"].as_array().unwrap().iter().filter(|c| {
        c["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().starts_with("the cluster changed during the run"))
    });
    assert!(noted.count() >= 1, "no cell says the cluster changed");

    // Failures and recovery per column, as for an injected loss.
    let recovery = change["columns"].as_array().unwrap();
    assert_eq!(recovery.len(), columns.len(), "{change}");
    assert!(change["at_secs"].as_f64().is_some(), "{change}");
    for r in recovery {
        let column = r["column"].as_str().unwrap();
        assert_eq!(r["losses"], 1, "every column measured after the node left: {r}");
        assert_eq!(r["recovery_secs"].is_null(), r["failures"] == 0, "{r}");
        let cell = doc["cells"].as_array().unwrap().iter().find(|c| c["column"] == column).unwrap();
        assert!(cell["errors"].as_u64().unwrap() >= r["failures"].as_u64().unwrap(), "{r} / {cell}");
    }
}

#[test]
fn a_server_that_requires_a_login_is_read_with_one() {
    const PASSWORD: &str = "Cluster-read-secret-1";
    let server = Server::start_with_env(
        &["--nodes", "3", "--user", "bench", "--quiet"],
        &[("AEROBENCH_SERVE_PASSWORD", PASSWORD)],
    );
    let out = aerobench(&[
        "--port",
        &server.port.to_string(),
        "--user",
        "bench",
        "--clients",
        "rust-sync",
        "--ops",
        "get",
        "--rounds",
        "1",
        "--count",
        "200",
    ])
    .env("AEROSPIKE_PASSWORD", PASSWORD)
    .output()
    .expect("run aerobench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cluster = &doc["cluster"];
    assert!(cluster["reads"].as_u64().unwrap() >= 2, "{cluster}");
    assert_eq!(cluster["failed_reads"], 0, "{cluster}");
    assert_eq!(cluster["states"][0]["nodes"].as_array().unwrap().len(), 3, "{cluster}");
    assert!(cluster["changes"].as_array().unwrap().is_empty(), "{cluster}");
}
