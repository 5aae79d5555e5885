//! A server that advertises an address clients cannot reach (a server in a container or behind
//! NAT), end to end with the real binary and the real client packages: the built-in server
//! advertises a closed loopback port as its access address and its real one as the alternate.
//! Without `--services-alternate` the clients that connect through the advertised address
//! (aerospike-py, which re-validates the node at what `service-clear-std` says even for a
//! loopback seed) fail, and aerobench names what the server advertises and the fix; with it,
//! every column runs.

use std::process::{Command, Output, Stdio};

mod common;

use common::{COLUMNS, Server, cache_dir, column, report};

/// Columns whose client connects through the address the server advertises, from a loopback seed.
const THROUGH_ADVERTISED: [&str; 2] = ["aerospike-py-sync", "aerospike-py-async"];

fn aerobench(port: u16, extra: &[&str]) -> Output {
    aerobench_as(port, extra, None)
}

/// As [`aerobench`], with `AEROSPIKE_PASSWORD` set to `password` when given.
fn aerobench_as(port: u16, extra: &[&str], password: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    if let Some(p) = password {
        cmd.env("AEROSPIKE_PASSWORD", p);
    }
    cmd.args(["--port", &port.to_string(), "--format", "json", "--quiet", "--rounds", "1", "--warmup", "0"])
        .args(["--count", "50", "--concurrency", "2", "--ops", "put"])
        .args(["--min-phase-calls", "0", "--min-phase-time", "0"])
        .args(["--clients", &COLUMNS.join(",")])
        .args(extra)
        .env("AEROBENCH_CACHE_DIR", cache_dir())
        .env_remove("VIRTUAL_ENV")
        .stdin(Stdio::null())
        .output()
        .expect("run aerobench")
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn an_unreachable_advertised_address_is_explained_and_services_alternate_fixes_it() {
    let unreachable = format!("127.0.0.1:{}", closed_port());
    let server =
        Server::start_with(&["--quiet", "--access-address", &unreachable, "--alternate-access-address", "127.0.0.1"]);
    let seed = server.addr();

    let out = aerobench(server.port, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "a column failed: exit 1\n{stderr}");
    let r = report(&out);
    for id in COLUMNS {
        let error = &column(&r, id)["error"];
        if THROUGH_ADVERTISED.contains(&id) {
            assert!(error.is_string(), "{id} connected through {unreachable}?\n{stderr}");
        } else {
            assert!(error.is_null(), "{id} uses the seed only: {error}");
        }
    }
    let advice = stderr.lines().find(|l| l.contains("could not connect although aerobench reached"));
    let advice = advice.unwrap_or_else(|| panic!("no connectivity advice\n{stderr}"));
    assert!(advice.contains(&format!("advertises {unreachable}, not {seed}")), "{advice}");
    assert!(advice.contains(&format!("--services-alternate to connect through {seed}")), "{advice}");
    assert!(advice.contains("aerospike-py (Rust)") && advice.contains("access-address"), "{advice}");
    let warnings = r["warnings"].as_array().unwrap();
    assert!(warnings.iter().any(|w| w.as_str().is_some_and(|w| w.contains("--services-alternate"))), "{warnings:?}");

    let out = aerobench(server.port, &["--services-alternate"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}\n{stderr}", out.status);
    let r = report(&out);
    for id in COLUMNS {
        assert!(column(&r, id)["error"].is_null(), "{id}: {}", column(&r, id)["error"]);
    }
    for cell in r["cells"].as_array().unwrap() {
        assert_eq!((cell["count"].as_u64(), cell["errors"].as_u64()), (Some(50), Some(0)), "{cell}");
    }
}

#[test]
fn the_advice_reads_what_a_server_that_requires_a_login_advertises() {
    // The advice asks the server what it advertises: a secured server answers only after a
    // login, so the advice logs in as the columns do.
    let unreachable = format!("127.0.0.1:{}", closed_port());
    let password = "advice-Pa55";
    let server = Server::start_with_env(
        &["--quiet", "--user", "bench", "--access-address", &unreachable, "--alternate-access-address", "127.0.0.1"],
        &[("AEROBENCH_SERVE_PASSWORD", password)],
    );
    let seed = server.addr();
    let clients = ["--clients", "aerospike-py-sync,rust-sync", "--user", "bench"];
    let out = aerobench_as(server.port, &clients, Some(password));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let advice = stderr.lines().find(|l| l.contains("could not connect although aerobench reached"));
    let advice = advice.unwrap_or_else(|| panic!("no connectivity advice\n{stderr}"));
    assert!(advice.contains(&format!("advertises {unreachable}, not {seed}")), "{advice}");
}
