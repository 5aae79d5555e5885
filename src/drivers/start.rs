//! From a planned column to a running lane, the one entry point the scheduler calls to start a
//! column: the Rust crate, the wire floor and no-op columns run in aerobench's own process; each
//! Python column runs in a worker process of its own, its packages resolved first (installed into
//! the cache on first use) and, for an interpreter other than the linked one, a worker built for
//! it. A column that cannot start comes back as a column with the reason, so the report still
//! names it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::embedded::interpreter::Interpreter;
use super::embedded::packages::{self, Package, Source};
use super::native::{NativeConfig, NativeDriver};
use super::noop::NoopDriver;
use super::python::WorkerSpec;
use super::python_worker::WorkerLane;
use super::wire::WireDriver;
use super::{Driver, Family, PlannedColumn};
use crate::engine::lane::{InProcess, Lane};
use crate::model::results::Column;
use crate::workload::{Materialise, Operation, Policies, Workload};

/// Where the server is.
pub struct Target {
    pub host: String,
    pub port: u16,
    /// Who every column logs in as, when the server requires it.
    pub credentials: Option<crate::drivers::security::Credentials>,
    /// Connect with TLS when set.
    pub tls: Option<crate::drivers::security::Tls>,
}

impl Target {
    /// Whether the server still answers a plain info request within a second: how a server that
    /// is gone is told from a client whose calls fail.
    pub fn answers(&self) -> Result<(), crate::drivers::probe::ProbeError> {
        let wait = std::time::Duration::from_secs(1);
        crate::drivers::probe::probe(&self.host, self.port, wait, self.tls.as_ref(), self.credentials.as_ref())
            .map(drop)
    }
}

/// What every column of a run starts with, as the settings resolved it: the workload and the
/// settings each client is given (a plain view, so the drivers need not know the settings).
pub struct LaneSettings<'a> {
    pub workload: &'a Workload,
    pub ops: &'a [Operation],
    pub timeout_ms: u64,
    pub policies: Policies,
    pub materialise: Materialise,
    pub ttl: Option<u32>,
    pub services_alternate: bool,
    pub verify: bool,
    /// The Python async columns' event loop, by name (`asyncio`, `uvloop`).
    pub event_loop: &'static str,
    /// uvloop is installed for the async Python columns.
    pub uvloop: bool,
    pub cpu_competitor: bool,
    pub stub_blocking: bool,
    pub stub_delay_us: u64,
    pub stub_spin: bool,
    pub stub_known_shares: bool,
    /// Where each Python package comes from (helper packages such as uvloop and NumPy are taken
    /// from here).
    pub sources: &'a BTreeMap<&'static str, Source>,
}

/// Connects one column: its lane, or the column with the reason it could not start.
pub fn start(
    settings: &LaneSettings<'_>,
    target: &Target,
    pc: &PlannedColumn,
    in_flight: u32,
    runtime: &Arc<tokio::runtime::Runtime>,
    show: bool,
) -> Result<Box<dyn Lane>, Box<Column>> {
    let kind = pc.kind;
    match kind.family {
        Family::Python { package, module } => python_lane(settings, target, pc, in_flight, package, module, show),
        Family::Native => {
            let config = NativeConfig {
                host: target.host.clone(),
                port: target.port,
                timeout_ms: settings.timeout_ms,
                explicit_policies: settings.policies == Policies::Explicit,
                ttl: settings.ttl,
                services_alternate: settings.services_alternate,
                verify: settings.verify,
                credentials: target.credentials.clone(),
                tls: target.tls.clone(),
            };
            NativeDriver::connect(runtime.clone(), &config, settings.workload, kind, in_flight)
                .map(|d| Box::new(InProcess(Box::new(d) as Box<dyn Driver>)) as Box<dyn Lane>)
                .map_err(|e| Box::new(failed_column(pc, in_flight, scrubbed(&e, target), None)))
        }
        Family::Wire if target.tls.is_some() => Err(Box::new(failed_column(
            pc,
            in_flight,
            "the wire column speaks plain TCP only: it cannot run against a TLS server".into(),
            None,
        ))),
        Family::Wire => WireDriver::connect(
            &target.host,
            target.port,
            settings.timeout_ms,
            settings.workload,
            settings.ops,
            kind,
            target.credentials.as_ref(),
            settings.services_alternate,
        )
        .map(|d| d.with_record_ttl(settings.ttl, settings.ops).with_verify(settings.verify))
        .map(|d| Box::new(InProcess(Box::new(d) as Box<dyn Driver>)) as Box<dyn Lane>)
        .map_err(|e| Box::new(failed_column(pc, in_flight, scrubbed(&e, target), None))),
        Family::Noop => {
            let delay = Duration::from_micros(settings.stub_delay_us);
            let driver = NoopDriver::new(kind, in_flight, Some(settings.workload.clone()))
                .with_delay(delay)
                .spinning(settings.stub_spin);
            Ok(Box::new(InProcess(Box::new(driver))))
        }
    }
}

/// A connect error's message, with the password cut out should a client ever echo it.
fn scrubbed(e: &anyhow::Error, target: &Target) -> String {
    super::security::scrub(&format!("{e:#}"), target.credentials.as_ref())
}

fn python_lane(
    settings: &LaneSettings<'_>,
    target: &Target,
    pc: &PlannedColumn,
    in_flight: u32,
    package: Option<Package>,
    module: &str,
    show: bool,
) -> Result<Box<dyn Lane>, Box<Column>> {
    let kind = pc.kind;
    let python = pc.python.clone().unwrap_or_else(Interpreter::linked);
    let (dirs, origin) = python_dirs(settings, pc, package, &python, show)
        .map_err(|e| Box::new(failed_column(pc, in_flight, format!("{e:#}"), None)))?;
    let worker = super::embedded::worker_build::worker_for(&python, show)
        .map_err(|e| Box::new(failed_column(pc, in_flight, e.to_string(), Some(origin.clone()))))?;
    let spec = WorkerSpec {
        kind: pc.id.clone(),
        label: pc.label.clone(),
        client: package.map_or("none", |p| p.pip_name).to_string(),
        module: module.to_string(),
        asynchronous: kind.asynchronous,
        host: target.host.clone(),
        port: target.port,
        workload: settings.workload.clone(),
        in_flight,
        timeout_ms: settings.timeout_ms,
        install_hint: match (package, &pc.source) {
            (Some(p), Some(source)) => packages::install_hint(&p, source, dirs.first().map(|d| d.as_path()), &python),
            _ => String::new(),
        },
        origin: origin.clone(),
        dirs,
        local_build: matches!(pc.source, Some(packages::Source::Folder(_) | packages::Source::ActiveVirtualEnv)),
        event_loop: settings.event_loop.to_string(),
        stub_delay_us: settings.stub_delay_us,
        stub_spin: settings.stub_spin,
        stub_known_shares: settings.stub_known_shares,
        policies: settings.policies,
        materialise: settings.materialise,
        cpu_competitor: settings.cpu_competitor,
        stub_blocking: settings.stub_blocking,
        ttl: settings.ttl,
        services_alternate: settings.services_alternate,
        verify: settings.verify,
        credentials: target.credentials.clone(),
        tls: target.tls.clone(),
    };
    // A worker that shows no progress for this long is killed: several times the calls' own
    // timeout, so a legitimate slow call is never taken for a stuck worker (tests shorten the
    // floor with AEROBENCH_WORKER_STALL_MS).
    let floor = std::env::var("AEROBENCH_WORKER_STALL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(60), Duration::from_millis);
    let stall = Duration::from_millis(settings.timeout_ms.saturating_mul(4)).max(floor);
    WorkerLane::start(&spec, &worker, failed_column(pc, in_flight, String::new(), Some(origin)), stall)
        .map(|lane| Box::new(lane) as Box<dyn Lane>)
}

/// Folders to put on the worker's `sys.path` for `package` (and uvloop when asked for), and
/// where the package came from.
fn python_dirs(
    settings: &LaneSettings<'_>,
    pc: &PlannedColumn,
    package: Option<Package>,
    python: &Interpreter,
    show: bool,
) -> anyhow::Result<(Vec<PathBuf>, String)> {
    let kind = pc.kind;
    let mut dirs = Vec::new();
    let mut origin = "aerobench shim (no client)".to_string();
    let mut wanted: Vec<Package> = package.into_iter().collect();
    if kind.asynchronous && settings.uvloop {
        wanted.push(packages::UVLOOP);
    }
    if settings.materialise == crate::workload::Materialise::Numpy && package.is_some() {
        wanted.push(packages::NUMPY);
    }
    for (i, p) in wanted.iter().enumerate() {
        let source = if i == 0 { pc.source.as_ref() } else { None }.unwrap_or(&settings.sources[p.pip_name]);
        let spin = crate::engine::progress::spinner(show, format!("preparing {} {}", p.pip_name, source.tag()));
        let resolved = packages::resolve(p, source, python);
        spin.finish_and_clear();
        let resolved = resolved?;
        if i == 0 {
            origin = resolved.origin;
        }
        dirs.push(resolved.dir);
    }
    Ok((dirs, origin))
}

/// A column that could not even start, so the report can still say why and, in `source`, what
/// was tried (the planned source when `None`).
pub fn failed_column(pc: &PlannedColumn, in_flight: u32, error: String, source: Option<String>) -> Column {
    let kind = pc.kind;
    let package = match kind.family {
        Family::Python { package, .. } => package,
        _ => None,
    };
    let planned = pc.source.as_ref().zip(package).map(|(s, p)| s.planned(&p));
    Column {
        id: pc.id.clone(),
        label: pc.label.clone(),
        client: match kind.family {
            Family::Python { package: Some(p), .. } => p.pip_name.to_string(),
            Family::Native => "aerospike (crate)".to_string(),
            Family::Wire => "aerospike wire protocol (raw socket)".to_string(),
            _ => "none".to_string(),
        },
        client_version: match &pc.source {
            Some(packages::Source::Version(v)) => v.clone(),
            _ => "unknown".into(),
        },
        mode: if kind.asynchronous { "async" } else { "sync" }.into(),
        in_flight,
        source: source.or(planned).unwrap_or_else(|| "-".into()),
        python_version: None,
        python: None,
        policies: Default::default(),
        error: Some(error),
        build: None,
        crash: None,
    }
}
