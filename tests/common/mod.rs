//! Helpers shared by the end-to-end tests: a built-in server in a child process.
#![allow(dead_code)]

pub mod request;

/// Every column kind a user can name in --clients.
pub const COLUMNS: [&str; 9] = [
    "wire",
    "rust-sync",
    "rust-async",
    "aerospike-py-sync",
    "aerospike-py-async",
    "official-c",
    "official-c-executor",
    "aerospike-native-sync",
    "aerospike-native-async",
];

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// `aerobench serve --port 0` running as a child process; killed on drop.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> Server {
        Server::start_with_env(extra, &[])
    }

    /// Starts the server with extra arguments and environment variables.
    pub fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aerobench"))
            .args(["serve", "--port", "0"])
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn aerobench serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read listening line");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from serve: {line:?}"));
        let port = addr.rsplit(':').next().unwrap().parse().expect("port");
        Server { child, port }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The server's answer to one info command (`name` or `name:k=v;...`), over a fresh
    /// connection: the value after the tab, without the newline.
    pub fn info(&self, command: &str) -> String {
        use std::io::{Read, Write};
        let mut s =
            std::net::TcpStream::connect(self.addr()).unwrap_or_else(|e| panic!("connect {}: {e}", self.addr()));
        s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        s.write_all(&request::frame(request::T_INFO, format!("{command}\n").as_bytes())).unwrap();
        let mut h = [0u8; 8];
        s.read_exact(&mut h).unwrap_or_else(|e| panic!("info {command}: {e}"));
        let len = u64::from_be_bytes([0, 0, h[2], h[3], h[4], h[5], h[6], h[7]]) as usize;
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).unwrap_or_else(|e| panic!("info {command}: {e}"));
        let text = String::from_utf8(body).unwrap();
        let (_, value) = text.trim_end_matches('\n').split_once('\t').unwrap_or_else(|| panic!("{text:?}"));
        value.to_string()
    }

    /// Live records in a set of namespace `test`, as the server counts them.
    pub fn objects(&self, set: &str) -> u64 {
        // `ns=test:set=NAME:objects=N;` per set.
        let text = self.info("sets/test");
        text.split(';')
            .find_map(|entry| {
                let mut parts = entry.split(':');
                (parts.nth(1)? == format!("set={set}")).then_some(())?;
                parts.next()?.strip_prefix("objects=")?.parse().ok()
            })
            .unwrap_or(0)
    }

    /// Reads per key since the last call (a server started with `--count-key-reads`), by the
    /// digest's hex.
    pub fn take_key_reads(&self) -> std::collections::HashMap<String, u64> {
        let text = self.info("aerobench-key-reads:reset=true");
        assert!(!text.starts_with("ERROR"), "{text}");
        text.split(';')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (d, n) = kv.split_once('=').unwrap_or_else(|| panic!("{kv:?}"));
                (d.to_string(), n.parse().unwrap())
            })
            .collect()
    }

    /// True while the server process is still running.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Hex of the digest the Aerospike Rust client computes for string key `key` of `set` in
/// namespace `test`: how a test names a record the way [`Server::take_key_reads`] does.
pub fn digest_hex(set: &str, key: &str) -> String {
    let k = aerospike::Key::new("test", set, aerospike::Value::from(key)).unwrap();
    k.digest().iter().map(|b| format!("{b:02x}")).collect()
}

/// Polls `ok` every 50 ms until it holds or `limit` passes; the last answer.
pub fn wait_until(limit: std::time::Duration, mut ok: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if ok() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    ok()
}

// ---------------------------------------------------------------------------
// Folders under target/ the end-to-end tests share.
// ---------------------------------------------------------------------------

/// `$CARGO_TARGET_DIR`, or `target/` in the checkout.
pub fn target_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// The package cache the Python tests share (`AEROBENCH_CACHE_DIR`), so each client package is
/// installed once per checkout.
pub fn cache_dir() -> std::path::PathBuf {
    target_dir().join("aerobench-cache")
}

/// An empty scratch folder for one test process.
pub fn scratch(name: &str) -> std::path::PathBuf {
    let dir = target_dir().join("test-scratch").join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The package cache's folder for the Python aerobench embeds (`py3.11`, `py3.12`, ...; the
/// build script names the version).
pub fn python_cache_dir() -> std::path::PathBuf {
    cache_dir().join(concat!("py", env!("AEROBENCH_PYTHON_VERSION")))
}

/// The install folder of `package` (`name-version`, e.g. `aerospike-py-0.14.4`) in the package
/// cache, if it is installed.
pub fn cached_package(package: &str) -> Option<std::path::PathBuf> {
    Some(python_cache_dir().join(package)).filter(|dir| dir.join(".aerobench-complete").exists())
}

/// The JSON report a run printed on stdout.
pub fn report(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("stdout is not one JSON document ({e}); stderr:\n{}", String::from_utf8_lossy(&out.stderr))
    })
}

/// The column `id` of a JSON report.
pub fn column<'a>(r: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    r["columns"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("no column {id}"))
}

// ---------------------------------------------------------------------------
// Python client packages for the end-to-end client tests (tests/python_clients.rs).
// ---------------------------------------------------------------------------

/// The Python interpreter used for client tests: `$AEROBENCH_PYTHON`, else `python3`.
pub fn python_exe() -> String {
    std::env::var("AEROBENCH_PYTHON").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "python3".to_string())
}

/// Output of a child process run by [`run_with_timeout`].
pub struct TimedOutput {
    pub status: Option<std::process::ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

impl TimedOutput {
    pub fn success(&self) -> bool {
        !self.timed_out && self.status.is_some_and(|s| s.success())
    }

    /// Human-readable dump of the run, for panic messages.
    pub fn describe(&self) -> String {
        let status = if self.timed_out { "killed after timeout".to_string() } else { format!("{:?}", self.status) };
        format!("status: {status}\n--- stdout ---\n{}\n--- stderr ---\n{}", self.stdout, self.stderr)
    }
}

/// Runs `cmd` (stdin closed, stdout/stderr captured) and kills it if it is still
/// running after `timeout`, so a hung child never blocks the test run.
pub fn run_with_timeout(mut cmd: std::process::Command, timeout: std::time::Duration) -> TimedOutput {
    use std::io::Read;
    use std::time::Instant;

    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    fn drain(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    }
    let out = drain(child.stdout.take().expect("stdout"));
    let err = drain(child.stderr.take().expect("stderr"));
    let deadline = Instant::now() + timeout;
    let (status, timed_out) = loop {
        match child.try_wait() {
            Ok(Some(status)) => break (Some(status), false),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break (None, true);
            }
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(50)),
            Err(e) => panic!("wait for {cmd:?}: {e}"),
        }
    };
    // A grandchild may keep the pipes open after a kill; don't wait for it forever.
    let join = |h: std::thread::JoinHandle<String>| {
        let until = Instant::now() + std::time::Duration::from_secs(5);
        while !h.is_finished() && Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        if h.is_finished() { h.join().unwrap_or_default() } else { String::from("<output not closed>") }
    };
    TimedOutput { status, stdout: join(out), stderr: join(err), timed_out }
}

/// Installs the PyPI package `spec` (`name==version`) with
/// `pip install --target` into `<target>/py-clients/<name>-<version>/` and returns
/// that folder (to be used as PYTHONPATH). `<target>` is `$CARGO_TARGET_DIR` or
/// `<crate>/target`.
///
/// Nothing happens when the folder already holds a finished install (marked by
/// `.aerobench-installed`). Otherwise pip installs into a private temporary
/// sibling, which is then renamed into place, so a concurrent test process never
/// sees a half-installed folder; if two processes race, the first rename wins and
/// the loser discards its copy.
pub fn python_package(spec: &str) -> std::path::PathBuf {
    use std::path::{Path, PathBuf};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    const MARKER: &str = ".aerobench-installed";
    let (name, version) =
        spec.split_once("==").unwrap_or_else(|| panic!("python_package: expected name==version, got {spec:?}"));
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => manifest.join(PathBuf::from(dir)),
        _ => manifest.join("target"),
    };
    let root = target.join("py-clients");
    let dest = root.join(format!("{}-{}", name.trim(), version.trim()));
    let done = |dir: &Path| dir.join(MARKER).is_file();
    if done(&dest) {
        return dest;
    }
    std::fs::create_dir_all(&root).unwrap_or_else(|e| panic!("create {}: {e}", root.display()));
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let tmp = root.join(format!(".tmp-{}-{}-{}-{nanos}", name.trim(), version.trim(), std::process::id()));
    let mut cmd = Command::new(python_exe());
    cmd.args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target"]).arg(&tmp).arg(spec);
    let out = run_with_timeout(cmd, Duration::from_secs(900));
    if !out.success() {
        let _ = std::fs::remove_dir_all(&tmp);
        panic!("`{} -m pip install --target {} {spec}` failed\n{}", python_exe(), tmp.display(), out.describe());
    }
    std::fs::write(tmp.join(MARKER), format!("{spec}\n"))
        .unwrap_or_else(|e| panic!("write marker in {}: {e}", tmp.display()));
    for _ in 0..2 {
        match std::fs::rename(&tmp, &dest) {
            Ok(()) => return dest,
            Err(_) if done(&dest) => {
                // Another process finished first: use its copy.
                let _ = std::fs::remove_dir_all(&tmp);
                return dest;
            }
            Err(_) if dest.exists() => {
                // A leftover without the marker (e.g. made by hand): move it aside
                // atomically, then delete it.
                let trash = root.join(format!(".trash-{}-{nanos}", std::process::id()));
                if std::fs::rename(&dest, &trash).is_ok() {
                    let _ = std::fs::remove_dir_all(&trash);
                }
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                panic!("rename {} -> {}: {e}", tmp.display(), dest.display());
            }
        }
    }
    if done(&dest) {
        let _ = std::fs::remove_dir_all(&tmp);
        return dest;
    }
    panic!("could not move {} into place at {}", tmp.display(), dest.display());
}

// ---------------------------------------------------------------------------
// Process helpers for tests/hostile_frames.rs.
// ---------------------------------------------------------------------------

impl Server {
    /// Process id of the server child.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `timeout` for the server to exit; `None` if it is still running.
    pub fn wait_exit(&mut self, timeout: std::time::Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if std::time::Instant::now() >= deadline => return None,
                Ok(None) => std::thread::sleep(std::time::Duration::from_millis(20)),
                Err(e) => panic!("wait for server: {e}"),
            }
        }
    }
}

/// A `kB` line (`VmRSS`, `VmHWM`, ...) of /proc/<pid>/status, in bytes.
pub fn proc_status_bytes(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
}

/// `schema.json`, compiled once per test binary.
fn schema_validator() -> &'static jsonschema::Validator {
    static V: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    V.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.json");
        let text = std::fs::read_to_string(path).expect("read schema.json");
        let schema: serde_json::Value = serde_json::from_str(&text).expect("schema.json is JSON");
        jsonschema::validator_for(&schema).expect("schema.json is a valid JSON Schema")
    })
}

/// The ways `doc` breaks `schema.json`, each with where it is.
pub fn schema_errors(doc: &serde_json::Value) -> Vec<String> {
    schema_validator().iter_errors(doc).map(|e| format!("{e} at {}", e.instance_path())).collect()
}

/// Panics unless `doc` matches `schema.json`, naming every mismatch.
pub fn assert_schema_valid(doc: &serde_json::Value) {
    let errors = schema_errors(doc);
    assert!(errors.is_empty(), "report does not match schema.json:\n{}", errors.join("\n"));
}
