//! Embedded Python clients, inside a worker process: the shim adapts each client to put / get /
//! batch_get / scan. Sync clients are timed by the engine's blocking loop around each call into
//! the adapter (its arguments prepared before, its records counted after, both untimed); async
//! clients run as coroutines on one event loop and report each call to the Rust recorder, which
//! reads the Rust clock. With `--threads N`, N threads run the sync loop, each attached to the
//! interpreter on its own. With `--cpu-competitor`, a pure-Python thread competes with the calls
//! during measured phases (see `aerobench_competitor.py`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use serde::{Deserialize, Serialize};

use crate::drivers::embedded::recorder::PhaseRecorder;
use crate::drivers::embedded::{self, py_err};
use crate::engine::bystanders::CompetitorRun;
use crate::engine::closed_loop::{CallError, PhaseState, run_blocking_paced};
use crate::engine::{Driver, Phase};
use crate::model::results::Column;
use crate::workload::{Materialise, Policies, Workload};

/// Everything a worker process needs to run its Python column (sent by the parent as JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerSpec {
    /// The column id: the kind's `--clients` name, or `kind@version` when several versions run.
    pub kind: String,
    pub label: String,
    /// Distribution name, e.g. `aerospike-py`.
    pub client: String,
    /// Shim module adapting the client.
    pub module: String,
    pub asynchronous: bool,
    pub host: String,
    pub port: u16,
    pub workload: Workload,
    pub in_flight: u32,
    pub timeout_ms: u64,
    /// Folders put first on `sys.path`.
    pub dirs: Vec<PathBuf>,
    /// Where the package came from, for the report.
    pub origin: String,
    /// The command that installs the package where the worker looks for it; empty for a user's
    /// folder or virtualenv, which aerobench never installs into (a failed import is diagnosed).
    pub install_hint: String,
    /// The package is a local build (a folder or virtualenv of the user's): the column says
    /// which commit it was built from ([`crate::drivers::embedded::provenance`]).
    #[serde(default)]
    pub local_build: bool,
    /// `asyncio` or `uvloop`.
    pub event_loop: String,
    /// Microseconds each call of the shim's no-op client takes.
    #[serde(default)]
    pub stub_delay_us: u64,
    /// The Python no-op client spins for its delay instead of sleeping.
    #[serde(default)]
    pub stub_spin: bool,
    /// No-op calls spend known shares in named Python and native functions (profile tests).
    #[serde(default)]
    pub stub_known_shares: bool,
    /// Equal explicit timeouts, retries and pools for every client, or each client's defaults.
    #[serde(default)]
    pub policies: Policies,
    /// How much of a batch result the timed call reads.
    #[serde(default)]
    pub materialise: Materialise,
    /// Run a competing pure-Python thread during measured phases (`--cpu-competitor`).
    #[serde(default)]
    pub cpu_competitor: bool,
    /// The async no-op client blocks its loop with `time.sleep` (hidden `--stub-blocking`).
    #[serde(default)]
    pub stub_blocking: bool,
    /// Time to live of the records written, in seconds (`--ttl`).
    #[serde(default)]
    pub ttl: Option<u32>,
    /// Connect through the server's alternate addresses (`--services-alternate`).
    #[serde(default)]
    pub services_alternate: bool,
    /// Compare every value read with the value written (`--verify`).
    #[serde(default)]
    pub verify: bool,
    /// Log in as this user (the spec travels over the worker's stdin, never its command line).
    #[serde(default)]
    pub credentials: Option<crate::drivers::security::Credentials>,
    /// Connect with TLS when set.
    #[serde(default)]
    pub tls: Option<crate::drivers::security::Tls>,
}

/// The interpreter this worker embeds, asked at run time: its executable, version, whether it
/// is a free-threaded build and whether the GIL is on now (an extension module that does not
/// declare itself free-threading safe turns it back on when imported).
fn interpreter(py: Python<'_>) -> PyResult<crate::model::results::PythonInterpreter> {
    let sys = py.import("sys")?;
    let free_threaded = py
        .import("sysconfig")?
        .call_method1("get_config_var", ("Py_GIL_DISABLED",))?
        .extract::<Option<i64>>()
        .unwrap_or(None)
        .unwrap_or(0)
        == 1;
    let gil = match sys.getattr("_is_gil_enabled") {
        Ok(f) => f.call0()?.extract()?,
        Err(_) => true,
    };
    Ok(crate::model::results::PythonInterpreter {
        path: sys.getattr("executable")?.extract()?,
        version: py.import("platform")?.call_method0("python_version")?.extract()?,
        free_threaded,
        gil,
    })
}

/// The competing thread's solo speed is the fastest of this many runs alone at connect, each
/// [`COMPETITOR_SOLO`] long, so a neighbour taking the CPU for part of the time does not lower it.
const COMPETITOR_SOLO_RUNS: u32 = 3;
const COMPETITOR_SOLO: Duration = Duration::from_millis(100);

pub struct PythonDriver {
    column: Column,
    asynchronous: bool,
    /// The adapter (sync) or `AsyncRunner` (async) the shim returned.
    handle: Py<PyAny>,
    shim: Py<PyModule>,
    /// The competing thread and its solo speed (iterations/s), with `--cpu-competitor`.
    competitor: Option<(Py<PyAny>, f64)>,
}

impl PythonDriver {
    pub fn connect(spec: &WorkerSpec) -> anyhow::Result<PythonDriver> {
        Self::connect_unscrubbed(spec).map_err(|e| {
            anyhow::anyhow!("{}", crate::drivers::security::scrub(&format!("{e:#}"), spec.credentials.as_ref()))
        })
    }

    fn connect_unscrubbed(spec: &WorkerSpec) -> anyhow::Result<PythonDriver> {
        embedded::initialize();
        Python::attach(|py| {
            let dirs: Vec<&std::path::Path> = spec.dirs.iter().map(|d| d.as_path()).collect();
            let loaded = embedded::prepare(py, &dirs, &spec.module);
            let shim = py.import("aerobench_shim").map_err(|e| py_err(py, e))?;
            let module = loaded.and_then(|()| py.import(spec.module.as_str()).map_err(|e| py_err(py, e)));
            let module = match (module, crate::drivers::embedded::packages::by_name(&spec.client), spec.dirs.first()) {
                // A folder of the user's: say what is there and what fixes it.
                (Err(e), Some(package), Some(site)) if spec.install_hint.is_empty() => {
                    anyhow::bail!(
                        "{}",
                        crate::drivers::embedded::diagnose::import_failure(&package, site, &format!("{e:#}"))
                    )
                }
                (module, ..) => module.with_context(|| {
                    format!(
                        "cannot import {} from {}; to fix it run:\n  {}\nor choose another source with \
                     --client-version {}=VERSION or --client-path {}=FOLDER",
                        spec.client,
                        spec.dirs.first().map_or("sys.path".into(), |d| d.display().to_string()),
                        spec.install_hint,
                        spec.client,
                        spec.client
                    )
                })?,
            };
            let workload_json = serde_json::to_string(&spec.workload)?;
            let pyspec = PyDict::new(py);
            (|| -> PyResult<()> {
                pyspec.set_item("host", &spec.host)?;
                pyspec.set_item("port", spec.port)?;
                pyspec.set_item("timeout_ms", spec.timeout_ms)?;
                pyspec.set_item("in_flight", spec.in_flight)?;
                pyspec.set_item("asynchronous", spec.asynchronous)?;
                pyspec.set_item("event_loop", &spec.event_loop)?;
                pyspec.set_item("stub_delay_us", spec.stub_delay_us)?;
                pyspec.set_item("stub_spin", spec.stub_spin)?;
                pyspec.set_item("stub_known_shares", spec.stub_known_shares)?;
                pyspec.set_item("materialise", spec.materialise.name())?;
                pyspec.set_item("policies", spec.policies.name())?;
                pyspec.set_item("stub_blocking", spec.stub_blocking)?;
                pyspec.set_item("ttl", spec.ttl)?;
                pyspec.set_item("services_alternate", spec.services_alternate)?;
                pyspec.set_item("verify", spec.verify)?;
                if let Some(c) = &spec.credentials {
                    pyspec.set_item("user", &c.user)?;
                    pyspec.set_item("password", c.password.expose())?;
                }
                if let Some(t) = &spec.tls {
                    pyspec.set_item("tls_name", &t.name)?;
                    pyspec.set_item("tls_ca", t.ca.display().to_string())?;
                    pyspec.set_item("tls_cert", t.cert.as_ref().map(|p| p.display().to_string()))?;
                    pyspec.set_item("tls_key", t.key.as_ref().map(|p| p.display().to_string()))?;
                }
                pyspec.set_item("workload", py.import("json")?.call_method1("loads", (workload_json,))?)?;
                pyspec.set_item("record_values", super::python_values::values_callable(py, &spec.workload)?)?;
                pyspec.set_item("record_check", super::python_values::check_callable(py, &spec.workload)?)?;
                Ok(())
            })()
            .map_err(|e| py_err(py, e))?;
            let handle = shim
                .call_method1("open_column", (module, pyspec))
                .map_err(|e| py_err(py, e))
                .with_context(|| format!("{} could not connect to {}:{}", spec.client, spec.host, spec.port))?;
            let described = handle.call_method0("describe").map_err(|e| py_err(py, e))?;
            let version: String = described.get_item("version").and_then(|v| v.extract()).map_err(|e| py_err(py, e))?;
            let path: String = described.get_item("path").and_then(|v| v.extract()).map_err(|e| py_err(py, e))?;
            let policies: BTreeMap<String, String> =
                described.get_item("policies").and_then(|v| v.extract()).map_err(|e| py_err(py, e))?;
            let python_version: String = py
                .import("platform")
                .and_then(|p| p.call_method0("python_version"))
                .and_then(|v| v.extract())
                .map_err(|e| py_err(py, e))?;
            let build = local_build(spec, &path);
            let interpreter = interpreter(py).map_err(|e| py_err(py, e))?;
            let column = Column {
                id: spec.kind.clone(),
                label: match build.as_ref().and_then(|b| b.short_commit()) {
                    Some(commit) => format!("{} {commit}", spec.label),
                    None => spec.label.clone(),
                },
                client: spec.client.clone(),
                client_version: version,
                mode: if spec.asynchronous { "async" } else { "sync" }.into(),
                in_flight: spec.in_flight,
                source: format!("{} (module at {path})", spec.origin),
                python_version: Some(python_version),
                python: Some(interpreter),
                policies,
                error: None,
                build,
                crash: None,
            };
            let competitor = if spec.cpu_competitor { Some(solo_competitor(py)?) } else { None };
            Ok(PythonDriver {
                column,
                asynchronous: spec.asynchronous,
                handle: handle.unbind(),
                shim: shim.unbind(),
                competitor,
            })
        })
    }
}

/// What the local build imported from `path` is, when the column runs one.
fn local_build(spec: &WorkerSpec, path: &str) -> Option<Box<crate::model::results::LocalBuild>> {
    let package = crate::drivers::embedded::packages::by_name(&spec.client).filter(|_| spec.local_build)?;
    let extension = package.extension.unwrap_or(package.import_name);
    Some(Box::new(crate::drivers::embedded::provenance::inspect(std::path::Path::new(path), extension)))
}

/// One thread's closed loop over the adapter's sync calls: arguments prepared, the call timed,
/// the records counted after it.
fn blocking_loop(
    py: Python<'_>,
    handle: &Py<PyAny>,
    shim: &Py<PyModule>,
    op: &str,
    state: &PhaseState,
    worker: usize,
) -> anyhow::Result<()> {
    let handle = handle.bind(py);
    let prepare = handle.getattr(format!("args_{op}")).map_err(|e| py_err(py, e))?;
    let call = handle.getattr(op).map_err(|e| py_err(py, e))?;
    // A mixed phase's updates are puts (their index carries the mix's UPDATE mark).
    let (prepare_put, put) =
        (handle.getattr("args_put").map_err(|e| py_err(py, e))?, handle.getattr("put").map_err(|e| py_err(py, e))?);
    let shim = shim.bind(py);
    let count = shim.getattr("count").map_err(|e| py_err(py, e))?;
    let failed = |e: PyErr| {
        let reason = shim
            .call_method1("reason", (e.value(py),))
            .and_then(|r| r.extract::<String>())
            .unwrap_or_else(|_| "python exception".into());
        CallError::new(reason)
    };
    run_blocking_paced(
        state,
        worker,
        // An open loop's wait for the next call (its sleep and its spin) lets go of the GIL, so
        // other threads can call meanwhile.
        |wait| py.detach(wait),
        |i| {
            let (kind, i) = crate::workload::mix::split(crate::workload::Operation::Get, i);
            let update = kind == crate::workload::Operation::Put;
            let prepare = if update { &prepare_put } else { &prepare };
            let args =
                prepare.call1((i,)).and_then(|a| a.cast_into::<PyTuple>().map_err(Into::into)).map_err(failed)?;
            Ok((update, args))
        },
        |(update, args)| if update { put.call1(args) } else { call.call1(args) }.map_err(failed),
        // Untimed: under --verify with --materialise none, the unread batch is checked here.
        |result| count.call1((result,)).and_then(|n| n.extract::<u64>()).map_err(failed),
    );
    Ok(())
}

/// A competing thread, and its speed running alone (the fastest of [`COMPETITOR_SOLO_RUNS`];
/// this thread lets go of the GIL meanwhile). Its clock is Rust's; the count is the thread's.
fn solo_competitor(py: Python<'_>) -> anyhow::Result<(Py<PyAny>, f64)> {
    let competitor = py
        .import("aerobench_competitor")
        .and_then(|m| m.call_method0("Competitor"))
        .map_err(|e| py_err(py, e))
        .context("cannot start the competing thread")?;
    let mut fastest = 0.0f64;
    for _ in 0..COMPETITOR_SOLO_RUNS {
        competitor.call_method0("start").map_err(|e| py_err(py, e))?;
        let started = Instant::now();
        py.detach(|| std::thread::sleep(COMPETITOR_SOLO));
        let secs = started.elapsed().as_secs_f64();
        let (iterations, _cpu): (u64, f64) =
            competitor.call_method0("stop").and_then(|n| n.extract()).map_err(|e| py_err(py, e))?;
        fastest = fastest.max(iterations as f64 / secs);
    }
    Ok((competitor.unbind(), fastest))
}

impl Drop for PythonDriver {
    fn drop(&mut self) {
        Python::attach(|py| {
            let _ = self.handle.call_method0(py, "close");
        });
    }
}

impl Driver for PythonDriver {
    fn column(&self) -> &Column {
        &self.column
    }

    fn gc_time(&self) -> Option<std::time::Duration> {
        Some(crate::drivers::embedded::recorder::gc_total())
    }

    fn stage_timers(&mut self, on: bool) -> anyhow::Result<Option<String>> {
        Python::attach(|py| {
            let text = self.shim.call_method1(py, "stage_timers", (&self.handle, on)).map_err(|e| py_err(py, e))?;
            text.extract::<Option<String>>(py).map_err(|e| py_err(py, e))
        })
    }

    fn run_phase(&mut self, phase: &Phase, state: Arc<PhaseState>) -> anyhow::Result<()> {
        let op = phase.op.name();
        // The competitor runs during measured phases only, not during the warm-up; it stops when
        // `_competing` is dropped, however the phase ends.
        let _competing = match self.competitor.as_ref().filter(|_| phase.round > 0) {
            Some((thread, solo_per_sec)) => {
                Some(Python::attach(|py| Competing::start(py, thread, *solo_per_sec, state.clone()))?)
            }
            None => None,
        };
        if self.asynchronous {
            return Python::attach(|py| {
                let rec = Py::new(py, PhaseRecorder::new(state.clone())).map_err(|e| py_err(py, e))?;
                self.handle
                    .call_method1(py, "run_phase", (op, phase.calls, phase.in_flight, rec))
                    .map_err(|e| py_err(py, e))?;
                Ok(())
            });
        }
        let threads = phase.in_flight.max(1) as usize;
        let (handle, shim, state) = (&self.handle, &self.shim, &*state);
        if threads == 1 {
            return Python::attach(|py| blocking_loop(py, handle, shim, op, state, 0));
        }
        // One OS thread per call in flight, each attached to the interpreter on its own; the
        // clients let go of the GIL while they wait on the network.
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|worker| {
                    scope.spawn(move || Python::attach(|py| blocking_loop(py, handle, shim, op, state, worker)))
                })
                .collect();
            workers
                .into_iter()
                .try_for_each(|w| w.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a call thread panicked"))))
        })
    }
}

/// The competing thread while a phase runs: started on creation; on drop, stopped and its
/// progress recorded into the phase (so a phase that fails leaves no thread spinning).
struct Competing<'a> {
    thread: &'a Py<PyAny>,
    solo_per_sec: f64,
    state: Arc<PhaseState>,
    since: Instant,
}

impl<'a> Competing<'a> {
    fn start(py: Python<'_>, thread: &'a Py<PyAny>, solo_per_sec: f64, state: Arc<PhaseState>) -> anyhow::Result<Self> {
        thread.call_method0(py, "start").map_err(|e| py_err(py, e))?;
        Ok(Competing { thread, solo_per_sec, state, since: Instant::now() })
    }
}

impl Drop for Competing<'_> {
    fn drop(&mut self) {
        let secs = self.since.elapsed().as_secs_f64();
        let stopped =
            Python::attach(|py| self.thread.call_method0(py, "stop").and_then(|n| n.extract::<(u64, f64)>(py)));
        if let Ok((iterations, cpu_secs)) = stopped {
            let solo_per_sec = self.solo_per_sec;
            self.state.bystanders.set_competitor(CompetitorRun { iterations, secs, solo_per_sec, cpu_secs });
        }
    }
}
