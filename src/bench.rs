//! The benchmark run, end to end: check what the user asked, find the server (or start the
//! built-in one), run each column through the engine, and hand the results to the report.
//! Results gathered before a failure or Ctrl-C are always reported.

use std::io::{IsTerminal as _, Write as _};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::builtin_server::BuiltinServer;
use crate::cli::BenchArgs;
use std::collections::BTreeMap;

use crate::cli::EventLoop;
use crate::drivers::native::{NativeConfig, NativeDriver};
use crate::drivers::noop::NoopDriver;
use crate::drivers::{self, ColumnKind, Driver, Family, python_worker};
use crate::engine::{self, stop};
use crate::progress::TerminalProgress;
use crate::python::packages::{self, Package, Source};
use crate::results::{Column, Comparison, RunReport, SCHEMA_VERSION, Workload as WorkloadInfo};
use crate::worker::WorkerSpec;
use crate::workload::Workload;
use crate::{machine, probe, progress, report};

/// Exit code when the run finished but some operation failed.
pub const EXIT_OPS_FAILED: i32 = 1;
/// Exit code for bad usage or a server that cannot be reached.
pub const EXIT_USAGE: i32 = 2;

/// Ratio columns, shown when both sides ran: (header, column, baseline).
const COMPARISONS: &[(&str, &str, &str)] = &[
    ("Rust vs C", "aerospike-py-sync", "official-c"),
    ("Async vs C", "aerospike-py-async", "official-c"),
    ("Async vs sync", "rust-async", "rust-sync"),
];

fn validate(args: &BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(!args.ops.is_empty(), "--ops names no operation; use e.g. --ops put,get,batch_get,scan");
    anyhow::ensure!(!args.namespace.is_empty(), "--namespace must not be empty");
    anyhow::ensure!(
        args.set.len() <= 63 && !args.set.is_empty(),
        "--set must be 1 to 63 characters (got {:?})",
        args.set
    );
    anyhow::ensure!(
        !args.key_prefix.is_empty(),
        "--key-prefix must not be empty: aerobench only touches keys it prefixed"
    );
    anyhow::ensure!(args.scans >= 1, "--scans must be at least 1");
    for (i, op) in args.ops.iter().enumerate() {
        anyhow::ensure!(!args.ops[..i].contains(op), "--ops names {} twice; name each operation once", op.name());
    }
    let needs_put = args.ops.iter().any(|o| *o != crate::workload::Operation::Put);
    if needs_put && !args.ops.contains(&crate::workload::Operation::Put) {
        eprintln!(
            "aerobench: note: --ops has no put, so reads expect records written by an earlier run \
             with the same --count, --set and --key-prefix"
        );
    }
    Ok(())
}

fn comparisons(columns: &[Column]) -> Vec<Comparison> {
    let usable = |id: &str| columns.iter().any(|c| c.id == id && c.error.is_none());
    COMPARISONS
        .iter()
        .filter(|(_, col, base)| usable(col) && usable(base))
        .map(|(label, col, base)| Comparison {
            label: label.to_string(),
            column: col.to_string(),
            baseline: base.to_string(),
        })
        .collect()
}

/// Folders to put on the worker's `sys.path` for `package` (and uvloop when asked for), and
/// where the package came from.
fn python_dirs(
    package: Option<Package>,
    sources: &BTreeMap<&'static str, Source>,
    args: &BenchArgs,
    kind: &ColumnKind,
    show: bool,
) -> anyhow::Result<(Vec<std::path::PathBuf>, String)> {
    let mut dirs = Vec::new();
    let mut origin = "aerobench shim (no client)".to_string();
    let mut wanted: Vec<Package> = package.into_iter().collect();
    if kind.asynchronous && args.event_loop == EventLoop::Uvloop {
        wanted.push(packages::UVLOOP);
    }
    for (i, p) in wanted.iter().enumerate() {
        let source = &sources[p.pip_name];
        let spin = progress::spinner(show, format!("preparing {} ({:?})", p.pip_name, source));
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
fn failed_column(kind: &ColumnKind, in_flight: u32, error: String) -> Column {
    Column {
        id: kind.name.to_string(),
        label: kind.label.to_string(),
        client: match kind.family {
            Family::Python { package: Some(p), .. } => p.pip_name.to_string(),
            Family::Native => "aerospike (crate)".to_string(),
            _ => "none".to_string(),
        },
        client_version: "unknown".into(),
        mode: if in_flight > 1 { "async" } else { "sync" }.into(),
        in_flight,
        source: "-".into(),
        python_version: None,
        policies: Default::default(),
        error: Some(error),
    }
}

fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Where each Python package comes from: `--client-path` over `--client-version` over the
/// pinned default.
fn python_sources(args: &BenchArgs) -> anyhow::Result<BTreeMap<&'static str, Source>> {
    let split = |opt: &str, value: &str| -> anyhow::Result<(Package, String)> {
        let (name, rest) = value
            .split_once('=')
            .filter(|(_, r)| !r.is_empty())
            .ok_or_else(|| anyhow::anyhow!("{opt} takes PACKAGE=VALUE, e.g. {opt} aerospike-py=…; got {value:?}"))?;
        let package = packages::by_name(name.trim()).ok_or_else(|| {
            let names: Vec<&str> = packages::PACKAGES.iter().map(|p| p.pip_name).collect();
            anyhow::anyhow!("{opt}: unknown package {name:?}; known packages: {}", names.join(", "))
        })?;
        Ok((package, rest.trim().to_string()))
    };
    let mut sources: BTreeMap<&'static str, Source> =
        packages::PACKAGES.iter().map(|p| (p.pip_name, Source::Version(p.default_version.to_string()))).collect();
    for v in &args.client_version {
        let (p, version) = split("--client-version", v)?;
        anyhow::ensure!(
            version.chars().all(|c| c.is_ascii_alphanumeric() || ".-+!".contains(c)),
            "--client-version {}: {version:?} is not a version number",
            p.pip_name
        );
        sources.insert(p.pip_name, Source::Version(version));
    }
    for v in &args.client_path {
        let (p, path) = split("--client-path", v)?;
        sources.insert(p.pip_name, packages::parse_path_source(&path));
    }
    Ok(sources)
}

pub fn run(args: BenchArgs) -> anyhow::Result<i32> {
    validate(&args)?;
    let kinds = drivers::parse_columns(&args.clients)?;
    let sources = python_sources(&args)?;
    // Fail before measuring anything, not after, when the report could not be written.
    if let Some(path) = &args.output {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("cannot write the report to {}", path.display()))?;
    }
    let show = progress::enabled(args.quiet);
    stop::install_ctrlc();

    let builtin = if args.builtin_server {
        let spin = progress::spinner(show, "starting the built-in server".into());
        let server = BuiltinServer::start(&args.namespace)?;
        spin.finish_and_clear();
        Some(server)
    } else {
        None
    };
    let (host, port) = match &builtin {
        Some(s) => ("127.0.0.1".to_string(), s.port),
        None => (args.host.clone(), args.port),
    };
    let server = match probe::probe(&host, port, Duration::from_secs(3)) {
        Ok(info) => info,
        Err(e) => {
            eprintln!(
                "Error: {e}\n\nStart a server there, point aerobench at yours with --host/--port (or \
                 AEROSPIKE_HOST/AEROSPIKE_PORT), or run against aerobench's in-memory server with \
                 --builtin-server."
            );
            return Ok(EXIT_USAGE);
        }
    };

    let workload = Workload {
        namespace: args.namespace.clone(),
        set: args.set.clone(),
        key_prefix: args.key_prefix.clone(),
        count: args.count,
        batch_size: args.batch_size,
        bins: Workload::bins_for(args.bins, args.value_size),
        scans: args.scans,
        warmup: args.warmup,
    };
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
            .enable_all()
            .build()
            .context("cannot start the tokio runtime")?,
    );
    let native = NativeConfig { host: host.clone(), port, timeout_ms: args.timeout_ms };
    // A phase gives up when nothing succeeded for two timeouts in a row (at least 1 s).
    let patience = Duration::from_millis(args.timeout_ms.saturating_mul(2)).max(Duration::from_secs(1));

    let mut progress = TerminalProgress::new(show);
    let mut columns = Vec::new();
    let mut cells = Vec::new();
    for kind in &kinds {
        if stop::interrupted() {
            break;
        }
        let in_flight = if kind.asynchronous { args.concurrency } else { 1 };
        let (column, outcome) = match kind.family {
            Family::Python { package, module } => {
                let dirs = match python_dirs(package, &sources, &args, kind, show) {
                    Ok(d) => d,
                    Err(e) => {
                        columns.push(failed_column(kind, in_flight, format!("{e:#}")));
                        continue;
                    }
                };
                let spec = WorkerSpec {
                    kind: kind.name.to_string(),
                    label: kind.label.to_string(),
                    client: package.map_or("none", |p| p.pip_name).to_string(),
                    module: module.to_string(),
                    asynchronous: kind.asynchronous,
                    host: host.clone(),
                    port,
                    workload: workload.clone(),
                    ops: args.ops.clone(),
                    in_flight,
                    timeout_ms: args.timeout_ms,
                    patience_ms: patience.as_millis() as u64,
                    install_hint: package.map_or_else(String::new, |p| {
                        packages::install_hint(&p, &sources[p.pip_name], dirs.0.first().map(|d| d.as_path()))
                    }),
                    origin: dirs.1,
                    dirs: dirs.0,
                    event_loop: args.event_loop.name().to_string(),
                };
                // A worker that shows no progress for this long is killed.
                let stall = Duration::from_millis(args.timeout_ms.saturating_mul(4)).max(Duration::from_secs(60));
                python_worker::run_column(&spec, failed_column(kind, in_flight, String::new()), &mut progress, stall)
            }
            Family::Native | Family::Noop => {
                let driver: anyhow::Result<Box<dyn Driver>> = match kind.family {
                    Family::Native => NativeDriver::connect(runtime.clone(), &native, &workload, kind, in_flight)
                        .map(|d| Box::new(d) as Box<dyn Driver>),
                    _ => Ok(Box::new(NoopDriver::new(kind, in_flight, Some(workload.clone())))),
                };
                let mut driver = match driver {
                    Ok(d) => d,
                    Err(e) => {
                        columns.push(failed_column(kind, in_flight, format!("{e:#}")));
                        continue;
                    }
                };
                let outcome = engine::run_column(driver.as_mut(), &workload, &args.ops, patience, &mut progress);
                let mut column = driver.column().clone();
                column.error = outcome.error.clone();
                (column, outcome)
            }
        };
        columns.push(column);
        cells.extend(outcome.cells);
    }
    if stop::interrupted() {
        eprintln!("aerobench: run interrupted; the report covers what was measured");
    }

    let report = RunReport {
        schema_version: SCHEMA_VERSION,
        aerobench_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: now_rfc3339(),
        server,
        machine: machine::describe(),
        workload: WorkloadInfo {
            count: args.count,
            concurrency: args.concurrency,
            batch_size: args.batch_size,
            namespace: args.namespace.clone(),
            set: args.set.clone(),
            key_prefix: args.key_prefix.clone(),
            operations: args.ops.iter().map(|o| o.name().to_string()).collect(),
            bins: workload.describe_bins(),
            warmup_ops: args.warmup,
        },
        comparisons: comparisons(&columns),
        columns,
        cells,
    };
    let color = args.output.is_none()
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let text = report::render(&report, args.format, color);
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("cannot write the report to {}", path.display()))?;
            eprintln!("aerobench: report written to {}", path.display());
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).context("cannot write the report to stdout")?;
            out.flush()?;
        }
    }
    drop(builtin);
    let failed = report.columns.iter().any(|c| c.error.is_some())
        || report.cells.iter().any(|c| c.errors > 0)
        || stop::interrupted();
    Ok(if failed { EXIT_OPS_FAILED } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_timestamp_shape() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z') && &t[10..11] == "T");
    }

    #[test]
    fn comparisons_need_both_sides_healthy() {
        let kinds = drivers::parse_columns(&["rust-sync".into(), "rust-async".into()]).unwrap();
        let mut cols: Vec<Column> = kinds.iter().map(|k| failed_column(k, 1, String::new())).collect();
        for c in &mut cols {
            c.error = None;
        }
        assert_eq!(comparisons(&cols).len(), 1);
        assert_eq!(comparisons(&cols)[0].label, "Async vs sync");
        cols[0].error = Some("down".into());
        assert!(comparisons(&cols).is_empty());
    }
}
