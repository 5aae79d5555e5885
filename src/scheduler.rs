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
use crate::drivers::wire::WireDriver;
use crate::drivers::{ColumnKind, Driver, Family, python_worker};
use crate::engine::{self, ColumnOutcome, PhaseObserver, stop};
use crate::plan::Plan;
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
    for &kind in &plan.columns {
        if stop::interrupted() {
            break;
        }
        let (column, outcome) = match kind.family {
            Family::Python { package, module } => {
                python_column(plan, target, kind, package, module, show, &mut observer)
            }
            Family::Native | Family::Noop | Family::Wire => {
                in_process_column(plan, target, kind, &runtime, &mut observer)
            }
        };
        columns.push(column);
        cells.extend(outcome.cells);
    }
    Ok((columns, cells))
}

fn in_process_column(
    plan: &Plan,
    target: &Target,
    kind: &ColumnKind,
    runtime: &Arc<tokio::runtime::Runtime>,
    observer: &mut dyn PhaseObserver,
) -> (Column, ColumnOutcome) {
    let in_flight = plan.in_flight(kind);
    let driver: anyhow::Result<Box<dyn Driver>> = match kind.family {
        Family::Native => {
            let config = NativeConfig { host: target.host.clone(), port: target.port, timeout_ms: plan.timeout_ms };
            NativeDriver::connect(runtime.clone(), &config, &plan.workload, kind, in_flight)
                .map(|d| Box::new(d) as Box<dyn Driver>)
        }
        Family::Wire => {
            WireDriver::connect(&target.host, target.port, plan.timeout_ms, &plan.workload, &plan.ops, kind)
                .map(|d| Box::new(d) as Box<dyn Driver>)
        }
        _ => {
            let delay = Duration::from_micros(plan.stub_delay_us);
            Ok(Box::new(NoopDriver::new(kind, in_flight, Some(plan.workload.clone())).with_delay(delay)))
        }
    };
    let mut driver = match driver {
        Ok(d) => d,
        Err(e) => return (failed_column(kind, in_flight, format!("{e:#}")), ColumnOutcome::default()),
    };
    let outcome = engine::run_column(driver.as_mut(), &plan.workload, &plan.ops, plan.patience, observer);
    let column = Column { error: outcome.error.clone(), ..driver.column().clone() };
    (column, outcome)
}

fn python_column(
    plan: &Plan,
    target: &Target,
    kind: &ColumnKind,
    package: Option<Package>,
    module: &str,
    show: bool,
    observer: &mut dyn PhaseObserver,
) -> (Column, ColumnOutcome) {
    let in_flight = plan.in_flight(kind);
    let (dirs, origin) = match python_dirs(plan, kind, package, show) {
        Ok(d) => d,
        Err(e) => return (failed_column(kind, in_flight, format!("{e:#}")), ColumnOutcome::default()),
    };
    let spec = WorkerSpec {
        kind: kind.name.to_string(),
        label: kind.label.to_string(),
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
        install_hint: package.map_or_else(String::new, |p| {
            packages::install_hint(&p, &plan.sources[p.pip_name], dirs.first().map(|d| d.as_path()))
        }),
        origin,
        dirs,
        event_loop: plan.event_loop.name().to_string(),
        stub_delay_us: plan.stub_delay_us,
    };
    // A worker that shows no progress for this long is killed.
    let stall = Duration::from_millis(plan.timeout_ms.saturating_mul(4)).max(Duration::from_secs(60));
    python_worker::run_column(&spec, failed_column(kind, in_flight, String::new()), observer, stall)
}

/// Folders to put on the worker's `sys.path` for `package` (and uvloop when asked for), and
/// where the package came from.
fn python_dirs(
    plan: &Plan,
    kind: &ColumnKind,
    package: Option<Package>,
    show: bool,
) -> anyhow::Result<(Vec<PathBuf>, String)> {
    let mut dirs = Vec::new();
    let mut origin = "aerobench shim (no client)".to_string();
    let mut wanted: Vec<Package> = package.into_iter().collect();
    if kind.asynchronous && plan.event_loop == EventLoop::Uvloop {
        wanted.push(packages::UVLOOP);
    }
    for (i, p) in wanted.iter().enumerate() {
        let source = &plan.sources[p.pip_name];
        let spin = progress::spinner(show, format!("preparing {} ({source:?})", p.pip_name));
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

/// A column that could not even start, so the report can still say why.
pub fn failed_column(kind: &ColumnKind, in_flight: u32, error: String) -> Column {
    Column {
        id: kind.name.to_string(),
        label: kind.label.to_string(),
        client: match kind.family {
            Family::Python { package: Some(p), .. } => p.pip_name.to_string(),
            Family::Native => "aerospike (crate)".to_string(),
            Family::Wire => "aerospike wire protocol (raw socket)".to_string(),
            _ => "none".to_string(),
        },
        client_version: "unknown".into(),
        mode: if kind.asynchronous { "async" } else { "sync" }.into(),
        in_flight,
        source: "-".into(),
        python_version: None,
        policies: Default::default(),
        error: Some(error),
    }
}
