//! Runs the plan's columns one after another, each where it belongs: native and no-op columns in
//! this process, each Python column in its own worker process. A column that cannot start
//! becomes an error column; the others still run.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::cli::EventLoop;
use crate::drivers::native::{NativeConfig, NativeDriver};
use crate::drivers::noop::NoopDriver;
use crate::drivers::{Driver, Family, python_worker};
use crate::engine::{self, ColumnOutcome, PhaseObserver, stop};
use crate::plan::{Plan, PlannedColumn};
use crate::progress;
use crate::python::packages::{self, Package};
use crate::results::{Cell, Column};
use crate::worker::WorkerSpec;

/// Where the server is.
pub struct Target {
    pub host: String,
    pub port: u16,
}

/// Runs every column of `plan` against `target`. Returns the columns and their cells.
pub fn run(plan: &Plan, target: &Target, show: bool) -> anyhow::Result<(Vec<Column>, Vec<Cell>)> {
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
            .enable_all()
            .build()
            .context("cannot start the tokio runtime")?,
    );
    let mut observer = progress::TerminalProgress::new(show);
    let mut columns = Vec::new();
    let mut cells = Vec::new();
    for pc in &plan.columns {
        if stop::interrupted() {
            break;
        }
        let (column, outcome) = match pc.kind.family {
            Family::Python { package, module } => python_column(plan, target, pc, package, module, show, &mut observer),
            Family::Native | Family::Noop => in_process_column(plan, target, pc, &runtime, &mut observer),
        };
        columns.push(column);
        cells.extend(outcome.cells);
    }
    Ok((columns, cells))
}

fn in_process_column(
    plan: &Plan,
    target: &Target,
    pc: &PlannedColumn,
    runtime: &Arc<tokio::runtime::Runtime>,
    observer: &mut dyn PhaseObserver,
) -> (Column, ColumnOutcome) {
    let kind = pc.kind;
    let in_flight = plan.in_flight(kind);
    let driver: anyhow::Result<Box<dyn Driver>> = match kind.family {
        Family::Native => {
            let config = NativeConfig { host: target.host.clone(), port: target.port, timeout_ms: plan.timeout_ms };
            NativeDriver::connect(runtime.clone(), &config, &plan.workload, kind, in_flight)
                .map(|d| Box::new(d) as Box<dyn Driver>)
        }
        _ => Ok(Box::new(NoopDriver::new(kind, in_flight, Some(plan.workload.clone())))),
    };
    let mut driver = match driver {
        Ok(d) => d,
        Err(e) => return (failed_column(pc, in_flight, format!("{e:#}"), None), ColumnOutcome::default()),
    };
    let outcome = engine::run_column(driver.as_mut(), &plan.workload, &plan.ops, plan.patience, observer);
    let column = Column { error: outcome.error.clone(), ..driver.column().clone() };
    (column, outcome)
}

fn python_column(
    plan: &Plan,
    target: &Target,
    pc: &PlannedColumn,
    package: Option<Package>,
    module: &str,
    show: bool,
    observer: &mut dyn PhaseObserver,
) -> (Column, ColumnOutcome) {
    let kind = pc.kind;
    let in_flight = plan.in_flight(kind);
    let (dirs, origin) = match python_dirs(plan, pc, package, show) {
        Ok(d) => d,
        Err(e) => return (failed_column(pc, in_flight, format!("{e:#}"), None), ColumnOutcome::default()),
    };
    let spec = WorkerSpec {
        kind: pc.id.clone(),
        label: pc.label.clone(),
        client: package.map_or("none", |p| p.pip_name).to_string(),
        module: module.to_string(),
        asynchronous: kind.asynchronous,
        host: target.host.clone(),
        port: target.port,
        workload: plan.workload.clone(),
        ops: plan.ops.clone(),
        in_flight,
        timeout_ms: plan.timeout_ms,
        patience_ms: plan.patience.as_millis() as u64,
        install_hint: match (package, &pc.source) {
            (Some(p), Some(source)) => packages::install_hint(&p, source, dirs.first().map(|d| d.as_path())),
            _ => String::new(),
        },
        origin: origin.clone(),
        dirs,
        event_loop: plan.event_loop.name().to_string(),
    };
    // A worker that shows no progress for this long is killed.
    let stall = Duration::from_millis(plan.timeout_ms.saturating_mul(4)).max(Duration::from_secs(60));
    python_worker::run_column(&spec, failed_column(pc, in_flight, String::new(), Some(origin)), observer, stall)
}

/// Folders to put on the worker's `sys.path` for `package` (and uvloop when asked for), and
/// where the package came from.
fn python_dirs(
    plan: &Plan,
    pc: &PlannedColumn,
    package: Option<Package>,
    show: bool,
) -> anyhow::Result<(Vec<PathBuf>, String)> {
    let kind = pc.kind;
    let mut dirs = Vec::new();
    let mut origin = "aerobench shim (no client)".to_string();
    let mut wanted: Vec<Package> = package.into_iter().collect();
    if kind.asynchronous && plan.event_loop == EventLoop::Uvloop {
        wanted.push(packages::UVLOOP);
    }
    for (i, p) in wanted.iter().enumerate() {
        let source = if i == 0 { pc.source.as_ref() } else { None }.unwrap_or(&plan.sources[p.pip_name]);
        let spin = progress::spinner(show, format!("preparing {} {}", p.pip_name, source.tag()));
        let resolved = packages::resolve(p, source);
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
        policies: Default::default(),
        error: Some(error),
    }
}
