//! Servers that require a login, end to end with the real binary and the real client packages:
//! every column logs in with `--user` and the password from AEROSPIKE_PASSWORD; a wrong
//! password fails every column with a message that names the refusal; the password appears in
//! no output, report or process command line; a socket that has not logged in gets nothing but
//! "not authenticated" (no info value, no record, no node taken down).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output, Stdio};

mod common;

use common::request::*;
use common::{COLUMNS, Server, cache_dir, column, report};

const PASSWORD: &str = "Pa55-word-never-shown";
fn aerobench(args: &[&str], password: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    cmd.args(["--format", "json", "--quiet", "--rounds", "1", "--count", "100", "--concurrency", "4"])
        .args(["--clients", &COLUMNS.join(",")])
        .args(args)
        .env("AEROBENCH_CACHE_DIR", cache_dir())
        .env_remove("VIRTUAL_ENV")
        .env_remove("AEROSPIKE_PASSWORD")
        .env_remove("AEROSPIKE_USER")
        .stdin(Stdio::null());
    if let Some(p) = password {
        cmd.env("AEROSPIKE_PASSWORD", p);
    }
    cmd.output().expect("run aerobench")
}

fn assert_not_leaked(out: &Output, secret: &str) {
    for (name, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(!String::from_utf8_lossy(text).contains(secret), "the password appears on {name}");
    }
}

#[test]
fn every_column_logs_in_to_a_server_that_requires_it() {
    let out = aerobench(&["--builtin-server", "--user", "bench"], Some(PASSWORD));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}; stderr:\n{stderr}", out.status);
    let r = report(&out);
    // aerobench's own probe logged in too: it read the server's build.
    assert_eq!((r["server"]["build"].as_str(), r["server"]["builtin"].as_bool()), (Some("8.1.0.0"), Some(true)));
    for id in COLUMNS {
        assert!(column(&r, id)["error"].is_null(), "{id}: {}", column(&r, id)["error"]);
    }
    for cell in r["cells"].as_array().unwrap() {
        assert_eq!(cell["errors"], 0, "{cell}");
        assert!(cell["count"].as_u64().unwrap() > 0, "{cell}");
    }
    assert_not_leaked(&out, PASSWORD);
}

#[test]
fn wrong_password_fails_every_column_clearly_and_leaks_nothing() {
    let server = Server::start_with_env(&["--user", "bench", "--quiet"], &[("AEROBENCH_SERVE_PASSWORD", PASSWORD)]);
    let wrong = "Wr0ng-but-secret-too";
    let port = server.port.to_string();
    // aerobench logs in to check the set before writing: a wrong password stops it there, with
    // the server's refusal in the message.
    let out = aerobench(&["--port", &port, "--user", "bench"], Some(wrong));
    assert!(!out.status.success(), "a run with a wrong password succeeded");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nvalid credential") && stderr.contains("check the set"), "{stderr}");
    // The hint names the cause the server gave, not a way around the check.
    assert!(stderr.contains("the server refused the login: check --user"), "{stderr}");
    assert!(!stderr.contains("--force skips"), "--force would not help a refused login:\n{stderr}");
    assert_not_leaked(&out, wrong);

    // With --force (no set check), every column tries, and says why it cannot.
    let out = aerobench(&["--port", &port, "--user", "bench", "--force"], Some(wrong));
    assert!(!out.status.success(), "a run with a wrong password succeeded");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("the server refused the login"), "{stderr}");
    assert!(!stderr.contains("advertised address"), "a refused login is not an address to fix:\n{stderr}");
    let r = report(&out);
    for id in COLUMNS {
        let error = column(&r, id)["error"].as_str().unwrap_or_else(|| panic!("{id} has no error")).to_string();
        // aerospike-py says only that it could not connect; the others name the refusal.
        let named = error.contains("nvalid credential")
            || error.contains("InvalidCredential")
            || error.contains("wrong password")
            || (id.starts_with("aerospike-py") && error.contains("Failed to connect"));
        assert!(named, "{id}: {error}");
        assert!(!error.contains(wrong), "{id}: the password is in the error");
    }
    assert_not_leaked(&out, wrong);

    // Without --user, the server answers nothing but "not authenticated", the tend's info
    // requests included: the run fails, it does not hang, and the report says the server
    // requires a login.
    let out = aerobench(&["--port", &port, "--clients", "rust-async", "--force"], None);
    assert!(!out.status.success());
    let r = report(&out);
    let error = column(&r, "rust-async")["error"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("could not connect"), "{error}");
    let build = r["server"]["build"].as_str().unwrap_or_default();
    assert!(build.contains("the server requires a login: give --user"), "{}", r["server"]);
}

#[test]
fn user_without_a_password_is_a_clear_error() {
    let out = aerobench(&["--builtin-server", "--user", "bench"], None);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("AEROSPIKE_PASSWORD"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn the_password_is_on_no_command_line() {
    // A slow run (a stub delay on every call) whose processes are inspected while it runs.
    let mut child = Command::new(env!("CARGO_BIN_EXE_aerobench"))
        .args(["--builtin-server", "--user", "bench", "--format", "json", "--quiet", "--rounds", "1"])
        .args(["--count", "100", "--clients", "official-c,rust-async"])
        .env("AEROBENCH_CACHE_DIR", cache_dir())
        .env("AEROSPIKE_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
        let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
        let text = String::from_utf8_lossy(&ps.stdout);
        assert!(!text.contains(PASSWORD), "the password is on a command line:\n{text}");
        seen += text.lines().filter(|l| l.contains("aerobench")).count();
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(seen > 0, "no aerobench process was seen running");
}

/// Sends one frame of `kind` and reads the reply: (its type, its body).
fn exchange(s: &mut TcpStream, kind: u8, body: &[u8]) -> (u8, Vec<u8>) {
    s.write_all(&frame(kind, body)).unwrap();
    let mut h = [0u8; 8];
    s.read_exact(&mut h).unwrap_or_else(|e| panic!("no reply to a type-{kind} request: {e}"));
    let len = u64::from_be_bytes([0, 0, h[2], h[3], h[4], h[5], h[6], h[7]]) as usize;
    let mut reply = vec![0u8; len];
    s.read_exact(&mut reply).unwrap();
    (h[1], reply)
}

fn info_text(s: &mut TcpStream, commands: &str) -> String {
    let (kind, body) = exchange(s, T_INFO, commands.as_bytes());
    assert_eq!(kind, T_INFO);
    String::from_utf8(body).unwrap()
}

/// An admin LOGIN body for `user` with the bcrypt `credential`.
fn login(user: &str, credential: &str) -> Vec<u8> {
    let mut b = vec![0u8, 0, 20, 2];
    b.resize(16, 0);
    for (id, data) in [(0u8, user.as_bytes()), (3, credential.as_bytes())] {
        b.extend_from_slice(&(data.len() as u32 + 1).to_be_bytes());
        b.push(id);
        b.extend_from_slice(data);
    }
    b
}

#[test]
fn a_socket_that_has_not_logged_in_cannot_fail_a_node_read_or_write() {
    let server = Server::start_with_env(
        &["--user", "bench", "--nodes", "2", "--quiet"],
        &[("AEROBENCH_SERVE_PASSWORD", PASSWORD)],
    );
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    // Info requests, state-changing or not, get one line and nothing else; the connection stays.
    for request in
        ["aerobench-fail-node:node=1;for_ms=600000\n", "build\nnode\nreplicas\n", "aerobench-cluster-stats\n"]
    {
        assert_eq!(info_text(&mut s, request), "ERROR:80:not authenticated\n", "{request:?}");
    }
    // Writes and reads: result code 80, nothing stored.
    let keyfields = [fld(F_NAMESPACE, b"test"), fld(F_SET, b"auth"), fld(F_DIGEST, &[0x33; 20])];
    let put = msg([0, I2_WRITE, 0], &keyfields, &[op(OP_WRITE, 3, b"b", b"forged")]);
    let get = msg([I1_READ | I1_GET_ALL, 0, 0], &keyfields, &[]);
    for (what, request) in [("write", &put), ("read", &get)] {
        let (kind, reply) = exchange(&mut s, T_MSG, request);
        assert_eq!((kind, reply[5]), (T_MSG, 80), "{what} before a login");
    }
    // A wrong password changes nothing; the right one opens this same connection.
    let wrong = bcrypt::hash("not-the-password", 4).unwrap();
    let (_, reply) = exchange(&mut s, 2, &login("bench", &wrong));
    assert_eq!(reply[1], 65, "invalid credential");
    assert_eq!(info_text(&mut s, "aerobench-cluster-stats\n"), "ERROR:80:not authenticated\n");
    let right = bcrypt::hash(PASSWORD, 4).unwrap();
    let (_, reply) = exchange(&mut s, 2, &login("bench", &right));
    assert_eq!(reply[1], 0, "the login succeeds");
    let stats = info_text(&mut s, "aerobench-cluster-stats\n");
    let states: Vec<&str> =
        stats.trim_end().split('\t').nth(1).unwrap().split(';').map(|n| n.split(':').nth(2).unwrap()).collect();
    assert_eq!(states, ["up", "up"], "no node was taken down: {stats}");
    let (_, reply) = exchange(&mut s, T_MSG, &get);
    assert_eq!(reply[5], 2, "the forged write stored nothing (KEY_NOT_FOUND)");
    let (_, reply) = exchange(&mut s, T_MSG, &put);
    assert_eq!(reply[5], 0, "a write after the login succeeds");
}

#[test]
fn a_built_in_cluster_that_requires_a_login_still_loses_a_node_and_counts_requests() {
    // aerobench's own info commands to the cluster (take a node out, read the per-node
    // counters) log in like the columns: without that the server refuses them.
    let args = [
        "--builtin-server",
        "--user",
        "bench",
        "--nodes",
        "2",
        "--fail-node",
        "2",
        "--fail-at",
        "1s",
        "--fail-for",
        "1s",
        "--clients",
        "wire",
        "--ops",
        "get",
        "--duration",
        "3s",
    ];
    let out = aerobench(&args, Some(PASSWORD));
    let r = report(&out);
    let wire = r["node_loss"]["columns"].as_array().and_then(|all| all.iter().find(|c| c["column"] == "wire"));
    let wire = wire.unwrap_or_else(|| panic!("no recovery of the wire column: {}", r["node_loss"]));
    assert_eq!(wire["ran_during_loss"], true, "{wire}");
    assert!(wire["failures"].as_u64().unwrap_or(0) > 0, "the node was taken out: {wire}");
    let spread = r["node_spread"]["cells"].as_array().unwrap_or_else(|| panic!("no node spread: {r}"));
    assert!(!spread.is_empty(), "{}", r["node_spread"]);
    assert_not_leaked(&out, PASSWORD);
}
