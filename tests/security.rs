//! Servers that require a login, end to end with the real binary and the real client packages:
//! every column logs in with `--user` and the password from AEROSPIKE_PASSWORD; a wrong
//! password fails every column with a message that names the refusal; the password appears in
//! no output, report or process command line.

use std::process::{Command, Output, Stdio};

mod common;

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

    // Without --user, the data requests are refused: the run fails, it does not hang.
    let out = aerobench(&["--port", &port, "--clients", "rust-async", "--force"], None);
    assert!(!out.status.success());
    let r = report(&out);
    let error = column(&r, "rust-async")["error"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("code 80"), "{error}");
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
