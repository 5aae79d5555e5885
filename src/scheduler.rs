//! The schedule of a run, and nothing else: connects every column first (each where it belongs:
//! native and no-op columns in this process, each Python column in its own worker process, kept
//! for the whole run), writes the records every column reads (untimed), then runs the warm-up
//! and the measured rounds. Within a round each operation runs for every column in turn, in an
//! order rotated from round to round and operation to operation, so neither drift on the machine
//! nor the server's state can favour whoever runs first. A column that cannot start or breaks
//! becomes an error column; the others go on.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::cli::EventLoop;
use crate::drivers::native::{NativeConfig, NativeDriver};
use crate::drivers::noop::NoopDriver;
use crate::drivers::python::WorkerSpec;
use crate::drivers::python_worker::WorkerLane;
use crate::drivers::wire::WireDriver;
use crate::drivers::{self, Driver, Family};
use crate::engine::{self, Measured, Phase, stop};
use crate::lane::{InProcess, Lane};
use crate::plan::{Plan, PlannedColumn};
use crate::python::packages::{self, Package};
use crate::results::Column;
use crate::workload::{Operation, Policies};
use crate::{probe, progress};

/// Where the server is.
pub struct Target {
    pub host: String,
    pub port: u16,
    /// Who every column logs in as, when the server requires it.
    pub credentials: Option<crate::security::Credentials>,
    /// Connect with TLS when set.
    pub tls: Option<crate::security::Tls>,
}

/// Everything a run measured, in the order it was measured.
pub struct Outcome {
    /// Every column in plan order, with its error if it failed.
    pub columns: Vec<Column>,
    /// (column id, one measured phase) for every measured (not warm-up) phase.
    pub measured: Vec<(String, Measured)>,
    /// Measured rounds that ran to the end.
    pub rounds_completed: u32,
    /// What went wrong for the whole run (the records could not be written first).
    pub warnings: Vec<String>,
    /// Why the run stopped before its last phase (the server died or stalled), if it did.
    pub incomplete: Option<String>,
}

/// A column's place in the run: its lane while it is usable.
struct Slot {
    column: Column,
    lane: Option<Box<dyn Lane>>,
    /// When its phases began failing without a single success, if they have (the phase's
    /// watchdog counts that time toward its patience).
    failing_since: Option<std::time::Instant>,
}

/// The order in which `n` columns run `op_index` in `round`: rotated by one place per round and
/// per operation, so over `n` rounds each column runs in each position once.
pub fn rotation(n: usize, round: u32, op_index: usize) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    let shift = (round as usize + op_index) % n;
    (0..n).map(|j| (j + shift) % n).collect()
}

/// Runs the whole plan against `target`.
pub fn run(plan: &Plan, target: &Target, show: bool, live: Option<&crate::live::Live>) -> anyhow::Result<Outcome> {
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
            .enable_all()
            .build()
            .context("cannot start the tokio runtime")?,
    );
    // Phases tell a server that is gone from a slow one by connecting to it (engine::stop).
    stop::watch_server(&target.host, target.port);
    let mut slots: Vec<Slot> = Vec::new();
    for pc in &plan.columns {
        if stop::interrupted() {
            break;
        }
        let spin = progress::spinner(show, format!("connecting {}", pc.label));
        let lane = connect(plan, target, pc, &runtime, show);
        spin.finish_and_clear();
        slots.push(match lane {
            Ok(lane) => Slot { column: lane.column().clone(), lane: Some(lane), failing_since: None },
            Err(column) => Slot { column: *column, lane: None, failing_since: None },
        });
    }
    let mut warnings = Vec::new();
    // Clients that could not connect although the probe reached the server: say what the
    // server advertises and how to reach it.
    let unreachable: Vec<String> = slots
        .iter()
        .filter(|s| s.lane.is_none())
        .filter(|s| {
            s.column.error.as_deref().is_some_and(|e| {
                let f = engine::failure::Failure::classify(e);
                f.server_gone() || f == engine::failure::Failure::Timeout
            })
        })
        .map(|s| s.column.label.clone())
        .collect();
    if !unreachable.is_empty()
        && !stop::interrupted()
        && let Some(advice) =
            crate::connectivity::advice(&target.host, target.port, &unreachable, plan.services_alternate)
    {
        eprintln!("aerobench: {advice}");
        warnings.push(advice);
    }
    // No-op columns read nothing: a run of only those writes nothing either.
    let reads_records = plan.columns.iter().any(|pc| match pc.kind.family {
        Family::Noop => false,
        Family::Python { package, .. } => package.is_some(),
        _ => true,
    });
    if reads_records && !plan.prewrite {
        warnings.push(
            "--no-prewrite: the records were not written before measuring, so reads find only what an earlier \
             run left, and the first column's puts insert while the others overwrite"
                .to_string(),
        );
    } else if reads_records && let Err(e) = preload(plan, target, &runtime, show) {
        let why = format!("{e:#}");
        for slot in slots.iter_mut().filter(|s| s.lane.is_some()) {
            slot.column.error = Some(format!("not measured: {why}"));
            slot.lane = None;
        }
        warnings.push(why);
    }

    let mut measured = Vec::new();
    let mut rounds_completed = 0;
    let mut incomplete = None;
    let first_round = if plan.workload.warmup > 0 { 0 } else { 1 };
    let phases_per_round = plan.ops.len() * slots.iter().filter(|s| s.lane.is_some()).count();
    let mut observer =
        progress::RunProgress::new(show, phases_per_round as u64 * u64::from(plan.rounds + 1 - first_round));
    if let Some(live) = live {
        for lane in slots.iter_mut().filter_map(|s| s.lane.as_mut()) {
            lane.report_every(live.every());
        }
    }
    'rounds: for round in first_round..=plan.rounds {
        for (op_index, &op) in plan.ops.iter().enumerate() {
            for index in rotation(slots.len(), round, op_index) {
                if stop::interrupted() {
                    break 'rounds;
                }
                let slot = &mut slots[index];
                let Some(lane) = slot.lane.as_mut() else { continue };
                let in_flight = lane.column().in_flight.max(1);
                let mut phase = if round == 0 {
                    Phase::warmup(&plan.workload, op, in_flight, plan.patience)
                } else {
                    Phase::measured(&plan.workload, op, round, plan.duration, in_flight, plan.patience)
                };
                // Measured phases run at the rate asked for; the warm-up stays a closed loop.
                phase.rate = plan.rate.filter(|_| round > 0);
                // Single-record calls that leave the record in place follow the key distribution;
                // deletes go through the records in order, each once.
                if round > 0
                    && matches!(
                        op,
                        Operation::Put
                            | Operation::Get
                            | Operation::Exists
                            | Operation::Touch
                            | Operation::Operate
                            | Operation::ReadModifyWrite
                    )
                {
                    phase.keys = plan.keys;
                    phase.space = phase.space.min(plan.key_space);
                }
                if round > 0 && op == Operation::Get {
                    phase.updates = plan.updates();
                }
                // A record is deleted once: a delete phase stops when every record is gone, even
                // with --duration time left.
                if op == Operation::Delete {
                    phase.calls = phase.calls.min(phase.space);
                }
                phase.failing_before = slot.failing_since.map_or(Duration::ZERO, |since| since.elapsed());
                if phase.calls == 0 {
                    continue;
                }
                observer.set_round(round, plan.rounds);
                let started = std::time::Instant::now();
                let ran = match live {
                    Some(live) => lane.run(&phase, &mut crate::live::Tee::new(&mut observer, live, &slot.column.id)),
                    None => lane.run(&phase, &mut observer),
                };
                match ran {
                    Ok(m) => {
                        let broken = column_error(&m);
                        if m.recorder.successes() > 0 {
                            slot.failing_since = None;
                        } else if m.recorder.errors() > 0 {
                            slot.failing_since.get_or_insert(started);
                        }
                        let server_lost = m.server_unresponsive.then(|| m.stopped.clone()).flatten();
                        let what = if round == 0 {
                            format!("{} warm-up", op.name())
                        } else {
                            format!("{} round {round}", op.name())
                        };
                        if round > 0 && m.recorder.count() > 0 {
                            measured.push((slot.column.id.clone(), m));
                        }
                        if let Some(why) = broken {
                            slot.column.error = Some(why);
                            slot.lane = None;
                        }
                        // One column's calls failing can be its client; a server that no longer
                        // answers a plain info request is gone for every column.
                        if let Some(stopped) = server_lost
                            && let Err(e) =
                                probe::probe(&target.host, target.port, Duration::from_secs(1), target.tls.as_ref())
                        {
                            incomplete = Some(format!(
                                "the server stopped answering during {what} of {} ({stopped}; {e}): the remaining \
                                 phases were skipped",
                                slot.column.label
                            ));
                            break 'rounds;
                        }
                    }
                    Err(why) => {
                        slot.column.error = Some(format!("{} round {round}: {why}", op.name()));
                        slot.lane = None;
                    }
                }
                // A delete phase leaves records missing that later phases and rounds read: they
                // are written again, untimed, as before the first round.
                if op == Operation::Delete
                    && reads_records
                    && plan.prewrite
                    && let Err(e) = preload(plan, target, &runtime, false)
                {
                    warnings.push(format!("writing the records again after a delete phase failed: {e:#}"));
                }
            }
        }
        if slots.iter().all(|s| s.lane.is_none()) {
            break;
        }
        if round > 0 && !stop::interrupted() {
            rounds_completed = round;
        }
    }
    observer.finish();
    // Close every client (Python workers exit) before the report is written.
    let columns = slots.into_iter().map(|s| s.column).collect();
    if let Some(why) = &incomplete {
        warnings.push(why.clone());
    }
    Ok(Outcome { columns, measured, rounds_completed, warnings, incomplete })
}

/// Why a column cannot go on after a phase: its client broke, or the server stopped answering.
fn column_error(m: &Measured) -> Option<String> {
    let what = if m.round == 0 { format!("{} warm-up", m.op.name()) } else { m.op.name().to_string() };
    if let Some(e) = &m.driver_error {
        return Some(format!("{what} failed: {e}"));
    }
    if m.server_unresponsive {
        let why = m.stopped.as_deref().unwrap_or("stopped early");
        return Some(format!("{what} {why}; later phases skipped"));
    }
    None
}

/// Writes every record the reads expect, with the Rust crate, untimed, so every column meets
/// the same server state: a measured put overwrites, a read finds.
fn preload(plan: &Plan, target: &Target, runtime: &Arc<tokio::runtime::Runtime>, show: bool) -> anyhow::Result<()> {
    if stop::interrupted() {
        return Ok(());
    }
    let spin = progress::spinner(show, format!("writing the {} records every column reads", plan.workload.count));
    let kind = drivers::kind("rust-async").context("the rust-async column kind exists")?;
    let in_flight = 64;
    // Writing the records is not measured: always the explicit timeouts, whatever --policies says.
    let config = NativeConfig {
        host: target.host.clone(),
        port: target.port,
        timeout_ms: plan.timeout_ms,
        explicit_policies: true,
        ttl: plan.ttl,
        services_alternate: plan.services_alternate,
        verify: false,
        credentials: target.credentials.clone(),
        tls: target.tls.clone(),
    };
    let mut driver = NativeDriver::connect(runtime.clone(), &config, &plan.workload, kind, in_flight)
        .context("cannot connect to write the records the benchmark reads")?;
    let phase = Phase::counted(Operation::Put, plan.workload.count, in_flight, plan.patience);
    let m = engine::measure(&mut driver, &phase, &mut engine::Silent);
    spin.finish_and_clear();
    if let Some(e) = m.driver_error {
        anyhow::bail!("writing the records the benchmark reads failed: {e}");
    }
    if m.recorder.errors() > 0 && !stop::interrupted() {
        let reasons: Vec<String> = m.recorder.errors_by_reason().iter().map(|(r, n)| format!("{n} × {r}")).collect();
        anyhow::bail!(
            "writing the {} records the benchmark reads failed for {} of them ({}); check --namespace \
             and --set, and that the server accepts writes",
            plan.workload.count,
            m.recorder.errors(),
            reasons.join(", ")
        );
    }
    Ok(())
}

/// Connects one column: its lane, or the column with the reason it could not start.
fn connect(
    plan: &Plan,
    target: &Target,
    pc: &PlannedColumn,
    runtime: &Arc<tokio::runtime::Runtime>,
    show: bool,
) -> Result<Box<dyn Lane>, Box<Column>> {
    let kind = pc.kind;
    let in_flight = plan.in_flight(kind);
    match kind.family {
        Family::Python { package, module } => python_lane(plan, target, pc, package, module, show),
        Family::Native => {
            let config = NativeConfig {
                host: target.host.clone(),
                port: target.port,
                timeout_ms: plan.timeout_ms,
                explicit_policies: plan.policies == Policies::Explicit,
                ttl: plan.ttl,
                services_alternate: plan.services_alternate,
                verify: plan.verify,
                credentials: target.credentials.clone(),
                tls: target.tls.clone(),
            };
            NativeDriver::connect(runtime.clone(), &config, &plan.workload, kind, in_flight)
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
            plan.timeout_ms,
            &plan.workload,
            &plan.ops,
            kind,
            target.credentials.as_ref(),
        )
        .map(|d| d.with_record_ttl(plan.ttl, &plan.ops))
        .map(|d| Box::new(InProcess(Box::new(d) as Box<dyn Driver>)) as Box<dyn Lane>)
        .map_err(|e| Box::new(failed_column(pc, in_flight, scrubbed(&e, target), None))),
        Family::Noop => {
            let delay = Duration::from_micros(plan.stub_delay_us);
            let driver = NoopDriver::new(kind, in_flight, Some(plan.workload.clone()))
                .with_delay(delay)
                .spinning(plan.stub_spin);
            Ok(Box::new(InProcess(Box::new(driver))))
        }
    }
}

/// A connect error's message, with the password cut out should a client ever echo it.
fn scrubbed(e: &anyhow::Error, target: &Target) -> String {
    crate::security::scrub(&format!("{e:#}"), target.credentials.as_ref())
}

fn python_lane(
    plan: &Plan,
    target: &Target,
    pc: &PlannedColumn,
    package: Option<Package>,
    module: &str,
    show: bool,
) -> Result<Box<dyn Lane>, Box<Column>> {
    let kind = pc.kind;
    let in_flight = plan.in_flight(kind);
    let (dirs, origin) = python_dirs(plan, pc, package, show)
        .map_err(|e| Box::new(failed_column(pc, in_flight, format!("{e:#}"), None)))?;
    let spec = WorkerSpec {
        kind: pc.id.clone(),
        label: pc.label.clone(),
        client: package.map_or("none", |p| p.pip_name).to_string(),
        module: module.to_string(),
        asynchronous: kind.asynchronous,
        host: target.host.clone(),
        port: target.port,
        workload: plan.workload.clone(),
        in_flight,
        timeout_ms: plan.timeout_ms,
        install_hint: match (package, &pc.source) {
            (Some(p), Some(source)) => packages::install_hint(&p, source, dirs.first().map(|d| d.as_path())),
            _ => String::new(),
        },
        origin: origin.clone(),
        dirs,
        event_loop: plan.event_loop.name().to_string(),
        stub_delay_us: plan.stub_delay_us,
        stub_spin: plan.stub_spin,
        policies: plan.policies,
        materialise: plan.materialise,
        cpu_competitor: plan.cpu_competitor,
        stub_blocking: plan.stub_blocking,
        ttl: plan.ttl,
        services_alternate: plan.services_alternate,
        verify: plan.verify,
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
    let stall = Duration::from_millis(plan.timeout_ms.saturating_mul(4)).max(floor);
    WorkerLane::start(&spec, failed_column(pc, in_flight, String::new(), Some(origin)), stall)
        .map(|lane| Box::new(lane) as Box<dyn Lane>)
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
        policies: Default::default(),
        error: Some(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_puts_every_column_in_every_position_once_per_n_rounds() {
        let n = 7;
        for op_index in 0..4 {
            let mut seen = vec![vec![0u32; n]; n];
            for round in 1..=n as u32 {
                let order = rotation(n, round, op_index);
                let mut sorted = order.clone();
                sorted.sort_unstable();
                assert_eq!(sorted, (0..n).collect::<Vec<_>>(), "each column exactly once per round");
                for (position, &column) in order.iter().enumerate() {
                    seen[column][position] += 1;
                }
            }
            assert!(seen.iter().all(|row| row.iter().all(|&c| c == 1)), "{seen:?}");
        }
        assert_eq!(rotation(3, 1, 0), [1, 2, 0]);
        assert_eq!(rotation(3, 1, 1), [2, 0, 1]);
        assert!(rotation(0, 5, 2).is_empty());
    }
}
