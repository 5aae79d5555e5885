//! One column's ASGI app as a service runs: uvicorn (from the column's interpreter's package
//! cache) serving `python_shim/aerobench_app.py` in processes of their own, started, watched
//! (CPU time, resident memory, workers lost) and always stopped.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use thiserror::Error;

use crate::drivers::embedded::interpreter::Interpreter;
use crate::drivers::embedded::packages::{self, Source};
use crate::drivers::embedded::{APP_MODULE, SHIM};
use crate::engine::signals;
use crate::workload::{BinSpec, BinValue, Workload};

/// What to start for one column.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// The column id, for messages.
    pub column: String,
    /// The column's interpreter.
    pub python: Interpreter,
    /// The client's install folder(s), resolved by the caller (empty for the app floor).
    pub package_dirs: Vec<PathBuf>,
    /// uvicorn worker processes sharing one listening socket.
    pub workers: u32,
    /// `None`: a free port on 127.0.0.1.
    pub port: Option<u16>,
    /// `asyncio` or `uvloop`.
    pub event_loop: String,
    /// What `aerobench_app` reads: `module` (the adapter module, null for the app floor),
    /// `asynchronous`, `adapter` (the embedded worker's spec, its `workload` included), `work`,
    /// `gather`, `scenario` (optional). `run_dir`, `host`, `port`, `workers`, `event_loop`,
    /// `parent_pid`, `package_dirs` and `records` are filled in here.
    pub spec: serde_json::Value,
    /// How long the app may take until every worker is ready.
    pub startup_timeout: Duration,
    /// Where uvicorn comes from (`None`: the pinned version from PyPI).
    pub uvicorn: Option<Source>,
    /// More environment for the app's processes (e.g. the no-op client's test hooks).
    pub env: Vec<(String, String)>,
}

/// The server software that serves a column's app.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServerSoftware {
    /// uvicorn's version.
    pub uvicorn: String,
    /// `httptools` where it installed for the interpreter, else `h11`.
    pub http: String,
    /// `asyncio` or `uvloop`.
    #[serde(rename = "loop")]
    pub event_loop: String,
    pub workers: u32,
}

/// What a worker's client said of itself when it was ready.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ClientDescription {
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub policies: BTreeMap<String, String>,
}

impl ServerSoftware {
    /// As the report names it: "uvicorn 0.54.0 (httptools, asyncio loop), 2 workers".
    pub fn describe(&self) -> String {
        format!(
            "uvicorn {} ({}, {} loop), {} worker{}",
            self.uvicorn,
            self.http,
            self.event_loop,
            self.workers,
            if self.workers == 1 { "" } else { "s" }
        )
    }
}

/// The app's processes (the launcher and its workers) at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppUsage {
    /// User + system CPU time so far, summed over every process the app ran (those that died
    /// count with their last figure).
    pub cpu: Duration,
    /// Resident memory now, summed over the live processes.
    pub rss_bytes: u64,
    /// Workers that said they were ready and are alive.
    pub workers_alive: u32,
}

#[derive(Debug, Error)]
pub enum AppError {
    #[error(
        "column {column}: port {port} on 127.0.0.1 is in use; free it or choose another port (or let aerobench pick a free one)"
    )]
    PortInUse { column: String, port: u16 },
    #[error("column {column}: uvicorn is not available for {python}: {detail}")]
    UvicornMissing { column: String, python: String, detail: String },
    #[error("column {column}: the app did not start: {reason}\n{stderr}")]
    StartupFailed { column: String, reason: String, stderr: String },
    #[error(
        "column {column}: the app was not ready within {timeout:?} ({ready} of {workers} workers ready); \
         raise the startup timeout or use fewer workers\n{stderr}"
    )]
    Timeout { column: String, timeout: Duration, ready: u32, workers: u32, stderr: String },
    #[error("column {column}: cannot prepare the app's run folder or process: {detail}")]
    Io { column: String, detail: String },
}

/// A started app: its address, its processes, its run folder. Stopped on `stop` or drop.
#[derive(Debug)]
pub struct RunningApp {
    column: String,
    launcher: Mutex<Child>,
    pid: u32,
    run_dir: PathBuf,
    addr: SocketAddr,
    server: ServerSoftware,
    /// Last CPU time seen per process (milliseconds), so a process that died still counts.
    cpu_seen: Mutex<BTreeMap<u32, u64>>,
    system: Mutex<sysinfo::System>,
    stopped: bool,
}

/// The log file the launcher and its workers write stdout and stderr to.
const LOG: &str = "app.log";
/// The spec file the launcher reads.
const SPEC: &str = "spec.json";
/// Written by the launcher: the server software (see `ServerSoftware`).
const SERVER: &str = "server.json";
/// How long `stop` lets the app end on SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(3);

impl RunningApp {
    /// Installs uvicorn for the column's interpreter if needed, writes the run folder, starts the
    /// launcher in a process group of its own and waits until every worker is ready.
    pub fn start(config: AppConfig, show: bool) -> Result<RunningApp, AppError> {
        let column = config.column.clone();
        let io = |detail: String| AppError::Io { column: column.clone(), detail };
        let uvicorn_source =
            config.uvicorn.clone().unwrap_or_else(|| Source::Version(packages::UVICORN.default_version.into()));
        let uvicorn = packages::resolve(&packages::UVICORN, &uvicorn_source, &config.python).map_err(|e| {
            AppError::UvicornMissing {
                column: column.clone(),
                python: config.python.executable.display().to_string(),
                detail: e.to_string(),
            }
        })?;
        let mut dirs = config.package_dirs.clone();
        dirs.push(uvicorn.dir);
        // httptools where it installs for this interpreter; h11 (installed with uvicorn) otherwise.
        let httptools = Source::Version(packages::HTTPTOOLS.default_version.into());
        if let Ok(r) = packages::resolve(&packages::HTTPTOOLS, &httptools, &config.python) {
            dirs.push(r.dir);
        }
        if config.event_loop == "uvloop" {
            let uvloop = Source::Version(packages::UVLOOP.default_version.into());
            let r = packages::resolve(&packages::UVLOOP, &uvloop, &config.python).map_err(|e| {
                AppError::StartupFailed { column: column.clone(), reason: e.to_string(), stderr: String::new() }
            })?;
            dirs.push(r.dir);
        }
        if needs_numpy(&config.spec) {
            let numpy = Source::Version(packages::NUMPY.default_version.into());
            let r = packages::resolve(&packages::NUMPY, &numpy, &config.python).map_err(|e| {
                AppError::StartupFailed { column: column.clone(), reason: e.to_string(), stderr: String::new() }
            })?;
            dirs.push(r.dir);
        }

        let port = match config.port {
            Some(p) => {
                check_port_free(p).map_err(|_| AppError::PortInUse { column: column.clone(), port: p })?;
                p
            }
            None => free_port().map_err(|e| io(format!("no free port on 127.0.0.1: {e}")))?,
        };

        let run_dir = std::env::temp_dir().join(format!("aerobench-app-{}-{}", std::process::id(), next_serial()));
        let _ = std::fs::remove_dir_all(&run_dir);
        std::fs::create_dir_all(&run_dir).map_err(|e| io(format!("cannot create {}: {e}", run_dir.display())))?;
        let prepared = (|| -> std::io::Result<()> {
            for (name, source) in SHIM.iter().chain(std::iter::once(&APP_MODULE)) {
                std::fs::write(run_dir.join(format!("{name}.py")), source)?;
            }
            let mut spec = config.spec.clone();
            if !spec.is_object() {
                spec = serde_json::json!({});
            }
            let workload: Option<Workload> =
                spec.pointer("/adapter/workload").and_then(|w| serde_json::from_value(w.clone()).ok());
            let floor = spec.get("module").is_none_or(|m| m.is_null());
            if let Some(w) = workload.as_ref().filter(|w| floor || has_spec_bins(w)) {
                let path = run_dir.join("records.json");
                write_records(w, &path)?;
                spec["records"] = serde_json::json!(path.display().to_string());
            }
            spec["run_dir"] = serde_json::json!(run_dir.display().to_string());
            // The launcher ends itself (and its process group) when this process is gone.
            spec["parent_pid"] = serde_json::json!(std::process::id());
            spec["host"] = serde_json::json!("127.0.0.1");
            spec["port"] = serde_json::json!(port);
            spec["workers"] = serde_json::json!(config.workers.max(1));
            spec["event_loop"] = serde_json::json!(config.event_loop);
            spec["package_dirs"] = serde_json::json!(dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>());
            std::fs::write(run_dir.join(SPEC), serde_json::to_vec_pretty(&spec)?)?;
            Ok(())
        })();
        if let Err(e) = prepared {
            let _ = std::fs::remove_dir_all(&run_dir);
            return Err(io(format!("cannot write the run folder {}: {e}", run_dir.display())));
        }

        let log = std::fs::File::create(run_dir.join(LOG)).map_err(|e| io(format!("cannot create the log: {e}")))?;
        let log_err = log.try_clone().map_err(|e| io(format!("cannot share the log: {e}")))?;
        let mut path_list = vec![run_dir.clone()];
        path_list.extend(dirs.iter().cloned());
        let pythonpath = std::env::join_paths(&path_list).map_err(|e| io(format!("bad PYTHONPATH: {e}")))?;
        let mut cmd = Command::new(&config.python.executable);
        cmd.arg("-m")
            .arg(APP_MODULE.0)
            .arg(run_dir.join(SPEC))
            .current_dir(&run_dir)
            .env("PYTHONPATH", pythonpath)
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .envs(config.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt as _;
            cmd.process_group(0);
        }
        let child = cmd.spawn().map_err(|e| {
            let _ = std::fs::remove_dir_all(&run_dir);
            io(format!("cannot run {}: {e}", config.python.executable.display()))
        })?;
        let pid = child.id();
        signals::register_child(pid);
        let mut app = RunningApp {
            column: column.clone(),
            launcher: Mutex::new(child),
            pid,
            run_dir,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            server: ServerSoftware {
                uvicorn: String::new(),
                http: String::new(),
                event_loop: config.event_loop.clone(),
                workers: config.workers.max(1),
            },
            cpu_seen: Mutex::new(BTreeMap::new()),
            system: Mutex::new(sysinfo::System::new()),
            stopped: false,
        };
        app.wait_ready(config.workers.max(1), config.startup_timeout, port)?;
        if let Ok(text) = std::fs::read_to_string(app.run_dir.join(SERVER)) {
            if let Ok(server) = serde_json::from_str::<ServerSoftware>(&text) {
                app.server = server;
            }
        }
        if show {
            eprintln!(
                "{column}: app on http://{} (uvicorn {}, {}, {}, {} worker{})",
                app.addr,
                app.server.uvicorn,
                app.server.http,
                app.server.event_loop,
                app.server.workers,
                if app.server.workers == 1 { "" } else { "s" }
            );
        }
        Ok(app)
    }

    /// Waits for `workers` ready files, the first failed one, the launcher's exit or the timeout.
    fn wait_ready(&mut self, workers: u32, timeout: Duration, port: u16) -> Result<(), AppError> {
        let began = Instant::now();
        loop {
            let (ready, failed) = self.markers();
            if let Some((_, reason)) = failed.into_iter().next() {
                return Err(AppError::StartupFailed {
                    column: self.column.clone(),
                    reason,
                    stderr: self.stderr_tail(20),
                });
            }
            // Every worker's lifespan startup is done; a single-process uvicorn binds its port only
            // after that, so the app is ready once /health answers on it.
            if ready.len() as u32 >= workers && answers_health(self.addr) {
                return Ok(());
            }
            let exited = self.launcher.lock().unwrap_or_else(|e| e.into_inner()).try_wait().ok().flatten();
            if let Some(status) = exited {
                let stderr = self.stderr_tail(20);
                if port_in_use_said(&stderr) {
                    return Err(AppError::PortInUse { column: self.column.clone(), port });
                }
                // A worker may have written its reason just before the launcher ended.
                let reason = self
                    .markers()
                    .1
                    .into_values()
                    .next()
                    .unwrap_or_else(|| format!("the app's launcher exited ({status}) before it was ready"));
                return Err(AppError::StartupFailed { column: self.column.clone(), reason, stderr });
            }
            if began.elapsed() >= timeout {
                return Err(AppError::Timeout {
                    column: self.column.clone(),
                    timeout,
                    ready: ready.len() as u32,
                    workers,
                    stderr: self.stderr_tail(20),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process ids of the app's ready workers (the processes that serve requests).
    pub fn worker_pids(&self) -> Vec<u32> {
        self.markers().0.into_iter().collect()
    }

    /// The pids of the ready workers, and the failed ones with their reasons, from the run folder.
    fn markers(&self) -> (BTreeSet<u32>, BTreeMap<u32, String>) {
        let mut ready = BTreeSet::new();
        let mut failed = BTreeMap::new();
        for entry in std::fs::read_dir(&self.run_dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("ready-").and_then(|p| p.parse().ok()) {
                ready.insert(pid);
            } else if let Some(pid) = name.strip_prefix("failed-").and_then(|p| p.parse().ok()) {
                let reason = std::fs::read_to_string(entry.path()).unwrap_or_default().trim().to_string();
                failed.insert(pid, if reason.is_empty() { "the app's startup failed".into() } else { reason });
            }
        }
        (ready, failed)
    }

    /// The client as the first ready worker described it (`version`, `path`, `policies`), if it did.
    pub fn client(&self) -> Option<ClientDescription> {
        let first = self.markers().0.into_iter().next()?;
        let text = std::fs::read_to_string(self.run_dir.join(format!("ready-{first}"))).ok()?;
        serde_json::from_str::<ClientDescription>(&text).ok().filter(|d| !d.version.is_empty())
    }

    /// The launcher has ended (the app is gone), with its exit status.
    pub fn gone(&self) -> Option<String> {
        match self.launcher.lock().unwrap_or_else(|e| e.into_inner()).try_wait() {
            Ok(Some(status)) => Some(format!("its process ended ({status})")),
            _ => None,
        }
    }

    /// Where the app listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// uvicorn's version, the HTTP implementation, the event loop and the workers.
    pub fn server(&self) -> &ServerSoftware {
        &self.server
    }

    /// The launcher's process id (its process group's, on Unix).
    #[cfg(test)]
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The processes of the app now: the launcher and every descendant, plus ready workers that
    /// were reparented.
    fn processes(&self, system: &mut sysinfo::System) -> Vec<u32> {
        use sysinfo::{Pid, ProcessRefreshKind, ProcessStatus, ProcessesToUpdate};
        system.refresh_processes_specifics(
            ProcessesToUpdate::All,
            true,
            ProcessRefreshKind::nothing().with_cpu().with_memory(),
        );
        let root = Pid::from_u32(self.pid);
        let known: BTreeSet<u32> = self.markers().0;
        let mut ours = Vec::new();
        for (pid, process) in system.processes() {
            if matches!(process.status(), ProcessStatus::Zombie | ProcessStatus::Dead) {
                continue;
            }
            let mut at = Some(*pid);
            let mut belongs = known.contains(&pid.as_u32());
            let mut hops = 0;
            while let (Some(p), false) = (at, belongs) {
                if p == root {
                    belongs = true;
                    break;
                }
                at = system.process(p).and_then(|q| q.parent());
                hops += 1;
                if hops > 64 {
                    break;
                }
            }
            if belongs {
                ours.push(pid.as_u32());
            }
        }
        ours
    }

    /// CPU time so far (user + system) and resident memory now, summed over the launcher and
    /// its workers; workers alive. `None` when no process of the app is left.
    pub fn usage(&self) -> Option<AppUsage> {
        let mut system = self.system.lock().unwrap_or_else(|e| e.into_inner());
        let ours = self.processes(&mut system);
        if ours.is_empty() {
            return None;
        }
        let ready = self.markers().0;
        let mut seen = self.cpu_seen.lock().unwrap_or_else(|e| e.into_inner());
        let mut rss = 0;
        let mut alive = 0;
        for pid in &ours {
            if let Some(p) = system.process(sysinfo::Pid::from_u32(*pid)) {
                let entry = seen.entry(*pid).or_insert(0);
                *entry = (*entry).max(p.accumulated_cpu_time());
                rss += p.memory();
                if ready.contains(pid) {
                    alive += 1;
                }
            }
        }
        Some(AppUsage { cpu: Duration::from_millis(seen.values().sum()), rss_bytes: rss, workers_alive: alive })
    }

    /// Workers that were ready and are gone ("worker 1234 died"), and the launcher if it ended.
    pub fn lost_workers(&self) -> Vec<String> {
        let mut system = self.system.lock().unwrap_or_else(|e| e.into_inner());
        let alive: BTreeSet<u32> = self.processes(&mut system).into_iter().collect();
        drop(system);
        let mut lost: Vec<String> = self
            .markers()
            .0
            .into_iter()
            .filter(|pid| *pid != self.pid && !alive.contains(pid))
            .map(|pid| format!("worker {pid} died"))
            .collect();
        if let Ok(Some(status)) = self.launcher.lock().unwrap_or_else(|e| e.into_inner()).try_wait() {
            lost.push(format!("app process {} ended ({status})", self.pid));
        }
        lost
    }

    /// The last `lines` lines the app wrote to stdout and stderr.
    pub fn stderr_tail(&self, lines: usize) -> String {
        tail(&self.run_dir.join(LOG), lines)
    }

    /// Stops the app: SIGTERM to its process group, up to STOP_GRACE for it to end, then SIGKILL;
    /// the run folder is removed.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let mut child = self.launcher.lock().unwrap_or_else(|e| e.into_inner());
        #[cfg(unix)]
        {
            let group = -(self.pid as libc::pid_t);
            // SAFETY: signals to the process group this app started; no memory is involved.
            unsafe { libc::kill(group, libc::SIGTERM) };
            let began = Instant::now();
            loop {
                let _ = child.try_wait();
                // SAFETY: as above; signal 0 only asks whether any process of the group is left.
                let left = unsafe { libc::kill(group, 0) } == 0;
                if !left {
                    break;
                }
                if began.elapsed() >= STOP_GRACE {
                    // SAFETY: as above.
                    unsafe { libc::kill(group, libc::SIGKILL) };
                    let _ = child.wait();
                    // Give the workers a moment to go, so none is seen after stop returns.
                    let until = Instant::now() + Duration::from_secs(1);
                    while unsafe { libc::kill(group, 0) } == 0 && Instant::now() < until {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        #[cfg(not(unix))]
        {
            // No process groups: the launcher goes, and its workers follow it (each watches its
            // parent and exits when it is gone).
            let _ = child.kill();
        }
        let _ = child.wait();
        drop(child);
        signals::forget_child(self.pid);
        let _ = std::fs::remove_dir_all(&self.run_dir);
    }
}

impl Drop for RunningApp {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// Whether the app's spec asks for NumPy: the batch-numpy scenario (or every scenario), or
/// matmul work.
fn needs_numpy(spec: &serde_json::Value) -> bool {
    let scenario = spec.get("scenario").and_then(|s| s.as_str());
    let matmul = spec.pointer("/work/kind").and_then(|k| k.as_str()) == Some("matmul");
    matmul || scenario.is_none_or(|s| s == "batch-numpy")
}

/// Whether the workload's bins come from a record spec (`--record`), which the Python side
/// cannot generate by itself.
fn has_spec_bins(w: &Workload) -> bool {
    w.bins.iter().any(|b| matches!(b, BinSpec::Value(..)))
}

/// A value for the records file: bytes tagged `{"$bytes": base64}`, map keys as strings.
fn value_json(v: &BinValue) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        BinValue::Int(i) => J::from(*i),
        BinValue::Double(d) => serde_json::Number::from_f64(*d).map_or(J::Null, J::Number),
        BinValue::Str(s) => J::from(s.as_str()),
        BinValue::Bool(b) => J::from(*b),
        BinValue::Bytes(b) => serde_json::json!({ "$bytes": base64::engine::general_purpose::STANDARD.encode(b) }),
        BinValue::List(items) => J::Array(items.iter().map(value_json).collect()),
        BinValue::Map(entries) => J::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        BinValue::Str(s) => s.clone(),
                        other => match value_json(other) {
                            J::String(s) => s,
                            j => j.to_string(),
                        },
                    };
                    (key, value_json(v))
                })
                .collect(),
        ),
    }
}

/// Writes every record's bins (list index = record number) to `path`, as the app floor reads them.
pub fn write_records(w: &Workload, path: &Path) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    out.write_all(b"[")?;
    for i in 0..w.count {
        if i > 0 {
            out.write_all(b",\n")?;
        }
        let bins: serde_json::Map<String, serde_json::Value> =
            w.values(i).into_iter().map(|(name, v)| (name.to_string(), value_json(&v))).collect();
        serde_json::to_writer(&mut out, &bins)?;
    }
    out.write_all(b"]")?;
    out.flush()
}

/// Whether the app at `addr` answers `GET /health` with 200 (a readiness probe, as an
/// orchestrator's; the load itself goes through the HTTP client of the load generator).
fn answers_health(addr: SocketAddr) -> bool {
    use std::io::{Read as _, Write as _};
    let probe = || -> std::io::Result<bool> {
        let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
        stream.set_read_timeout(Some(Duration::from_millis(500)))?;
        stream.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        Ok(head.starts_with(b"HTTP/1.1 200"))
    };
    probe().unwrap_or(false)
}

/// Fails when `port` on 127.0.0.1 cannot be bound now.
fn check_port_free(port: u16) -> std::io::Result<()> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).map(drop)
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

/// Whether the app's output says its port was taken (Linux and macOS wordings).
fn port_in_use_said(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("address already in use") || t.contains("errno 98") || t.contains("errno 48")
}

/// A number for each app this process starts, so run folders never collide.
fn next_serial() -> u64 {
    static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The last `lines` lines of the file at `path` (empty when it cannot be read).
fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    let kept: Vec<&str> = text.lines().rev().take(lines).collect();
    kept.into_iter().rev().collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};
    use std::net::TcpStream;

    use super::*;

    /// A small workload: 40 records of an int, a 16-byte string and a double; batches of 8.
    fn workload() -> Workload {
        Workload {
            namespace: "test".into(),
            set: "app".into(),
            key_prefix: "k".into(),
            count: 40,
            batch_size: 8,
            bins: Workload::bins_for(3, 16),
            scans: 1,
            warmup: 0,
            seed: 1,
            read_bins: None,
        }
    }

    /// An app of the no-op client (`module`), or the floor (`None`).
    fn config(module: Option<&str>, asynchronous: bool, delay_us: u64, workers: u32) -> AppConfig {
        AppConfig {
            column: "test-column".into(),
            python: Interpreter::linked(),
            package_dirs: Vec::new(),
            workers,
            port: None,
            event_loop: "asyncio".into(),
            spec: serde_json::json!({
                "module": module,
                "asynchronous": asynchronous,
                "gather": 3,
                "work": {"kind": "matmul", "n": 16},
                "adapter": {
                    "workload": workload(),
                    "asynchronous": asynchronous,
                    "stub_delay_us": delay_us,
                    "materialise": "records",
                },
            }),
            startup_timeout: Duration::from_secs(120),
            uvicorn: None,
            env: Vec::new(),
        }
    }

    struct Answer {
        status: u16,
        headers: String,
        body: String,
    }

    impl Answer {
        /// The Server-Timing entry `name`'s duration in milliseconds.
        fn timing(&self, name: &str) -> Option<f64> {
            let line = self.headers.lines().find(|l| l.to_ascii_lowercase().starts_with("server-timing:"))?;
            let value = line.split_once(':')?.1;
            value.split(',').find_map(|entry| {
                let (n, dur) = entry.trim().split_once(";dur=")?;
                (n == name).then(|| dur.parse().ok())?
            })
        }
    }

    /// One GET over a fresh connection (tests only; the load generator speaks HTTP through hyper).
    fn get(addr: SocketAddr, target: &str) -> Answer {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(stream, "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        Answer { status, headers: head.to_string(), body: body.to_string() }
    }

    const SCENARIOS: [&str; 5] = ["get-json", "batch-count", "batch-walk", "batch-numpy", "batch-gather"];

    /// Whether process `pid` still exists (and is no zombie).
    fn alive(pid: u32) -> bool {
        let mut system = sysinfo::System::new();
        let p = sysinfo::Pid::from_u32(pid);
        system.refresh_processes(sysinfo::ProcessesToUpdate::Some(&[p]), true);
        system.process(p).is_some_and(|q| !matches!(q.status(), sysinfo::ProcessStatus::Zombie))
    }

    #[test]
    fn every_scenario_answers_with_its_figures_and_the_client_call_inside_the_handler() {
        for asynchronous in [true, false] {
            let app = RunningApp::start(config(Some("aerobench_client_noop"), asynchronous, 3000, 1), false).unwrap();
            assert!(!app.server().uvicorn.is_empty(), "{:?}", app.server());
            assert!(["httptools", "h11"].contains(&app.server().http.as_str()), "{:?}", app.server());
            assert_eq!(get(app.addr(), "/health").status, 200);
            for scenario in SCENARIOS {
                let answer = get(app.addr(), &format!("/{scenario}?i=2"));
                assert_eq!(answer.status, 200, "{scenario}: {}", answer.body);
                let (handler, db) = (answer.timing("app").unwrap(), answer.timing("db").unwrap());
                assert!(answer.timing("loop").is_some(), "{}", answer.headers);
                // The no-op client sleeps 3 ms per call: the database step holds it, the handler
                // holds the database step.
                assert!(db >= 3.0, "{scenario}: db {db} ms");
                assert!(handler >= db, "{scenario}: handler {handler} ms < db {db} ms");
                let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
                if scenario.starts_with("batch") {
                    let want = if scenario == "batch-gather" { 3 * 8 } else { 8 };
                    assert_eq!(body["found"], want, "{scenario}: {body}");
                }
            }
            assert_eq!(get(app.addr(), "/no-such-scenario?i=1").status, 404);
            assert_eq!(get(app.addr(), "/get-json?i=40").status, 400);
            assert_eq!(get(app.addr(), "/batch-count?i=5").status, 400, "40 records make batches 0 to 4");
            assert_eq!(get(app.addr(), "/batch-count").status, 400);
            assert!(app.usage().is_some_and(|u| u.workers_alive == 1 && u.rss_bytes > 0));
            assert!(app.lost_workers().is_empty(), "{:?}", app.lost_workers());
            app.stop();
        }
    }

    #[test]
    fn a_client_that_blocks_the_event_loop_shows_as_loop_lag() {
        // The async no-op client holding the loop for 20 ms per call (as a client holding the GIL
        // would): the 5 ms sampler wakes at least 15 ms late, seen by this answer or the next.
        let mut cfg = config(Some("aerobench_client_noop"), true, 20_000, 1);
        cfg.spec["adapter"]["stub_blocking"] = serde_json::json!(true);
        let app = RunningApp::start(cfg, false).unwrap();
        let lags: Vec<f64> = (0..3).map(|_| get(app.addr(), "/get-json?i=1").timing("loop").unwrap()).collect();
        assert!(lags.iter().cloned().fold(0.0, f64::max) >= 15.0, "{lags:?}");
    }

    #[test]
    fn the_floor_answers_from_the_records_without_a_database_step() {
        let app = RunningApp::start(config(None, true, 0, 1), false).unwrap();
        let w = workload();
        let answer = get(app.addr(), "/get-json?i=7");
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.timing("db"), None, "the floor makes no database call: {}", answer.headers);
        assert!(answer.timing("app").is_some() && answer.timing("loop").is_some(), "{}", answer.headers);
        let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
        let want: serde_json::Map<String, serde_json::Value> =
            w.values(7).into_iter().map(|(n, v)| (n.to_string(), value_json(&v))).collect();
        assert_eq!(body, serde_json::Value::Object(want));
        // batch 1 holds records 8..16: ints i, doubles i/2, strings of 16 bytes.
        let walk: serde_json::Value = serde_json::from_str(&get(app.addr(), "/batch-walk?i=1").body).unwrap();
        let score: f64 = (8..16).map(|i| i as f64 + i as f64 * 0.5 + 16.0).sum();
        assert_eq!(walk["found"], 8);
        assert!((walk["score"].as_f64().unwrap() - score).abs() < 1e-9, "{walk} vs {score}");
        let numpy: serde_json::Value = serde_json::from_str(&get(app.addr(), "/batch-numpy?i=1").body).unwrap();
        assert_eq!(numpy["found"], 8);
        assert!(numpy["score"].as_f64().unwrap() > 0.0, "{numpy}");
        let gather: serde_json::Value = serde_json::from_str(&get(app.addr(), "/batch-gather?i=4").body).unwrap();
        assert_eq!(gather["found"], 3 * 8);
    }

    #[test]
    fn a_handler_that_raises_answers_500_with_the_reason() {
        let mut cfg = config(Some("aerobench_client_noop"), true, 0, 1);
        cfg.env.push(("AEROBENCH_STUB_UNSUPPORTED".into(), "batch_get".into()));
        let app = RunningApp::start(cfg, false).unwrap();
        assert_eq!(get(app.addr(), "/get-json?i=1").status, 200);
        let answer = get(app.addr(), "/batch-count?i=1");
        assert_eq!(answer.status, 500);
        assert!(answer.body.contains("not supported by the no-op client"), "{}", answer.body);
        assert!(app.stderr_tail(50).contains("Traceback"), "{}", app.stderr_tail(50));
    }

    #[test]
    fn two_workers_share_one_port_and_a_killed_one_is_reported_lost_and_none_outlives_stop() {
        let app = RunningApp::start(config(Some("aerobench_client_noop"), false, 0, 2), false).unwrap();
        let (ready, _) = app.markers();
        assert_eq!(ready.len(), 2, "{ready:?}");
        assert!(!ready.contains(&app.pid()), "the workers are processes of their own");
        assert_eq!(app.usage().map(|u| u.workers_alive), Some(2));
        for _ in 0..8 {
            assert_eq!(get(app.addr(), "/batch-count?i=0").status, 200);
        }
        let victim = *ready.iter().next().unwrap();
        assert!(signals::send(victim, signals::Kill::Now));
        let until = Instant::now() + Duration::from_secs(30);
        while app.lost_workers().is_empty() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(app.lost_workers(), vec![format!("worker {victim} died")]);
        let mut pids: Vec<u32> = app.markers().0.into_iter().collect();
        pids.push(app.pid());
        let run_dir = app.run_dir.clone();
        app.stop();
        for pid in pids {
            assert!(!alive(pid), "process {pid} outlived stop");
        }
        assert!(!run_dir.exists());
    }

    #[test]
    fn dropping_the_app_stops_every_process() {
        let app = RunningApp::start(config(None, false, 0, 2), false).unwrap();
        let mut pids: Vec<u32> = app.markers().0.into_iter().collect();
        pids.push(app.pid());
        drop(app);
        for pid in pids {
            assert!(!alive(pid), "process {pid} outlived drop");
        }
    }

    /// Waits up to 30 s for every process of `pids` to be gone; says which are left.
    fn gone(pids: &[u32]) -> Vec<u32> {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let left: Vec<u32> = pids.iter().copied().filter(|p| alive(*p)).collect();
            if left.is_empty() || Instant::now() >= until {
                return left;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    #[test]
    fn workers_end_when_their_launcher_is_killed() {
        let app = RunningApp::start(config(None, true, 0, 2), false).unwrap();
        let workers: Vec<u32> = app.markers().0.into_iter().collect();
        assert_eq!(workers.len(), 2);
        // SIGKILL to the launcher alone, as when aerobench itself is killed: uvicorn's supervisor
        // cannot stop its workers, each worker's watch of its parent must.
        assert!(signals::send(app.pid(), signals::Kill::Now));
        let _ = app.launcher.lock().unwrap().wait();
        assert_eq!(gone(&workers), Vec::<u32>::new(), "workers outlived their launcher");
    }

    #[test]
    fn a_launcher_whose_parent_is_gone_ends_itself() {
        // A launcher started by a shell that exits at once: its parent is gone from the start.
        let app = RunningApp::start(config(None, true, 0, 1), false).unwrap();
        let dir = std::env::temp_dir().join(format!("aerobench-app-orphan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&app.run_dir).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".py") || name == "records.json" {
                std::fs::copy(entry.path(), dir.join(&name)).unwrap();
            }
        }
        let mut spec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(app.run_dir.join(SPEC)).unwrap()).unwrap();
        spec["port"] = serde_json::json!(free_port().unwrap());
        spec["records"] = serde_json::json!(dir.join("records.json").display().to_string());
        std::fs::write(dir.join(SPEC), spec.to_string()).unwrap();
        let mut path = vec![dir.clone()];
        path.extend(spec["package_dirs"].as_array().unwrap().iter().map(|d| PathBuf::from(d.as_str().unwrap())));
        let out = Command::new("sh")
            .arg("-c")
            .arg("\"$0\" -m aerobench_app \"$1\" >\"$2\" 2>&1 & echo $!")
            .arg(&Interpreter::linked().executable)
            .arg(dir.join(SPEC))
            .arg(dir.join(LOG))
            .current_dir(&dir)
            .env("PYTHONPATH", std::env::join_paths(&path).unwrap())
            .output()
            .unwrap();
        let orphan: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        let left = gone(&[orphan]);
        if !left.is_empty() {
            signals::send(orphan, signals::Kill::Now);
        }
        let _ = std::fs::remove_dir_all(&dir);
        assert!(left.is_empty(), "the launcher {orphan} outlived its parent");
    }

    #[test]
    fn a_startup_that_fails_says_why() {
        let err = RunningApp::start(config(Some("aerobench_client_no_such_module"), true, 0, 1), false).unwrap_err();
        match err {
            AppError::StartupFailed { reason, column, .. } => {
                assert_eq!(column, "test-column");
                assert!(reason.contains("ModuleNotFoundError"), "{reason}");
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn a_taken_port_is_named() {
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let mut cfg = config(None, true, 0, 1);
        cfg.port = Some(taken.local_addr().unwrap().port());
        let err = RunningApp::start(cfg, false).unwrap_err();
        assert!(matches!(err, AppError::PortInUse { .. }), "{err}");
        assert!(err.to_string().contains("in use"), "{err}");
    }
}
