//! The steps of a service run: write the records, start every column's app, then at each step a
//! warm-up slice per column and the measured rounds, the columns in a balanced (Williams) order
//! within each round so every app meets the same server and machine load; then stop every app.
//! An app that cannot start, or dies, leaves its column with the reason and its stderr, and the
//! run goes on with the others.

use std::sync::Arc;
use std::time::Duration;

use crate::drivers::asgi_app::{AppConfig, AppError, RunningApp};
use crate::drivers::embedded::packages::{self, Package};
use crate::drivers::start::Target;
use crate::drivers::{Family, PlannedColumn};
use crate::engine::{progress, stop};
use crate::model::results::Column;
use crate::model::service::ServiceColumn;
use crate::run::plan::Plan;

use super::service_plan::{AppColumn, ServicePlan, Steps};
use crate::service::http_load::{self, Shape, Slice};
use crate::service::measured::SliceRecord;
use crate::workload::scenario::Scenario;

/// What the steps gave.
pub struct Outcome {
    /// Every column in the plan's order (floors first), with its error if it failed.
    pub columns: Vec<Column>,
    pub apps: Vec<ServiceColumn>,
    pub slices: Vec<SliceRecord>,
    /// Rounds every step ran to the end (fewer when interrupted).
    pub rounds_completed: u32,
    pub warnings: Vec<String>,
    /// Why the run stopped before its last slice (the records could not be written), if it did.
    pub incomplete: Option<String>,
    /// The load generator, as the report names it.
    pub load_generator: String,
    /// What `--profile` found in the apps' workers, after the last step.
    pub profiles: Option<crate::model::profile::Profiles>,
}

/// A column's app while it serves.
struct Served {
    column: Column,
    app: ServiceColumn,
    running: Option<RunningApp>,
}

/// Runs every step; never leaves an app running (each is stopped on the way out, also when the
/// run is interrupted).
pub fn run(plan: &Plan, svc: &ServicePlan, target: &Target, show: bool) -> anyhow::Result<Outcome> {
    let mut warnings = Vec::new();
    let runtime = Arc::new(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?);
    let reads = svc.apps.iter().any(|a| a.client.as_ref().is_some_and(reads_records));
    let mut incomplete = None;
    if reads && plan.prewrite {
        if let Err(e) = crate::run::scheduler::preload(plan, target, &runtime, show) {
            incomplete = Some(format!("{e:#}"));
        }
    } else if reads {
        warnings.push(
            "--no-prewrite: the records were not written before measuring, so reads find only what an earlier run left"
                .to_string(),
        );
    }
    drop(runtime);
    let mut served: Vec<Served> = Vec::new();
    for app in &svc.apps {
        if stop::interrupted() || incomplete.is_some() {
            break;
        }
        served.push(start(plan, svc, target, app, show));
    }
    let load = load_runtime()?;
    let load_generator = LOAD_GENERATOR.to_string();
    let mut slices = Vec::new();
    let mut rounds_completed = svc.rounds;
    let steps = svc.steps.values();
    'steps: for (k, _) in steps.iter().enumerate() {
        for s in served.iter_mut() {
            if stop::interrupted() {
                break 'steps;
            }
            warm_up(svc, k, s, &load, show);
        }
        let orders = crate::run::order::sequence(served.len(), svc.rounds as usize, 0x5e_41ce, k as u64);
        for (r, order) in orders.iter().enumerate() {
            for &i in order {
                if stop::interrupted() {
                    rounds_completed = rounds_completed.min(r as u32);
                    break 'steps;
                }
                if let Some(slice) = measure(svc, k, r as u32 + 1, &mut served[i], &load, show) {
                    slices.push(slice);
                }
            }
        }
    }
    let profiles = plan
        .profile
        .as_ref()
        .filter(|_| incomplete.is_none() && !stop::interrupted() && rounds_completed == svc.rounds)
        .map(|settings| profile(svc, settings, &served, &slices, &load, show));
    let mut columns = Vec::new();
    let mut apps = Vec::new();
    for s in served {
        if let Some(running) = s.running {
            running.stop();
        }
        columns.push(s.column);
        apps.push(s.app);
    }
    // Columns that never started (interrupted, or the records could not be written) still show.
    for app in svc.apps.iter().skip(columns.len()) {
        let why = incomplete
            .clone()
            .map_or("not started: the run was interrupted".to_string(), |e| format!("not started: {e}"));
        let (mut column, service) = describe(app, svc);
        column.error = Some(why.clone());
        columns.push(column);
        apps.push(ServiceColumn { error: Some(why), ..service });
    }
    Ok(Outcome { columns, apps, slices, rounds_completed, warnings, incomplete, load_generator, profiles })
}

/// `--profile`: one sampled slice per app column (floors left out) at the last step's load.
fn profile(
    svc: &ServicePlan,
    settings: &crate::run::profile_settings::Settings,
    served: &[Served],
    slices: &[SliceRecord],
    load: &tokio::runtime::Runtime,
    show: bool,
) -> crate::model::profile::Profiles {
    let last = svc.steps.values().len().saturating_sub(1);
    let targets = served
        .iter()
        .filter(|s| !s.app.floor && s.column.error.is_none())
        .filter_map(|s| {
            let app = s.running.as_ref()?;
            let slice = slice(svc, last, app.addr(), settings.phase, svc.indexes);
            Some(super::service_profile::Target { column: &s.column, app, slice })
        })
        .collect();
    super::service_profile::run(settings, svc.scenario.name(), targets, slices, load, show)
}

/// The load generator, as the report names it.
pub(crate) const LOAD_GENERATOR: &str = "aerobench (hyper, HTTP/1.1 keep-alive), 1 thread";

/// The load generator's own runtime: one thread, so it takes one core at most from the apps and
/// the server it measures.
pub(crate) fn load_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}

/// Whether a column's client reads records from the server (the no-op client reads none).
fn reads_records(pc: &PlannedColumn) -> bool {
    matches!(pc.kind.family, Family::Python { package: Some(_), .. })
}

/// The slice of step `k` for `app` at `addr`, `duration` long.
fn slice(svc: &ServicePlan, k: usize, addr: std::net::SocketAddr, duration: Duration, indexes: u64) -> Slice {
    let scenario = svc.scenario;
    let shape = match &svc.steps {
        Steps::Closed(vus) => Shape::Closed { vus: vus[k] },
        Steps::Open { rates, connections } => Shape::Open { rate: rates[k], connections: *connections },
    };
    Slice { addr, shape, duration, timeout: svc.timeout, path: Arc::new(move |n| scenario.path(n, indexes)) }
}

fn warm_up(svc: &ServicePlan, k: usize, s: &mut Served, load: &tokio::runtime::Runtime, show: bool) {
    let Some(running) = &s.running else { return };
    let spin = progress::spinner(show, format!("warming up {} at step {}", s.column.label, k + 1));
    let slice = slice(svc, k, running.addr(), svc.warmup, svc.indexes);
    load.block_on(http_load::run_slice(&slice));
    spin.finish_and_clear();
}

/// One measured slice of `s` at step `k`, round `round`: the load, the app's CPU time and its
/// peak memory meanwhile, and the workers it lost. An app whose launcher is gone is stopped and
/// its column keeps the reason.
fn measure(
    svc: &ServicePlan,
    k: usize,
    round: u32,
    s: &mut Served,
    load: &tokio::runtime::Runtime,
    show: bool,
) -> Option<SliceRecord> {
    let running = s.running.as_ref()?;
    let spin = progress::spinner(
        show,
        format!("{}: step {} of {}, round {round} of {}", s.column.label, k + 1, svc.steps.values().len(), svc.rounds),
    );
    let slice = slice(svc, k, running.addr(), svc.slice, svc.indexes);
    let before = running.usage();
    let done = std::sync::atomic::AtomicBool::new(false);
    let (measure, peak) = std::thread::scope(|scope| {
        // Resident memory, sampled while the slice runs.
        let sampler = scope.spawn(|| {
            let mut peak: Option<u64> = None;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(u) = running.usage() {
                    peak = Some(peak.map_or(u.rss_bytes, |p| p.max(u.rss_bytes)));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            peak
        });
        let measure = load.block_on(http_load::run_slice(&slice));
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        (measure, sampler.join().ok().flatten())
    });
    let after = running.usage();
    spin.finish_and_clear();
    let lost: Vec<String> = running.lost_workers().into_iter().filter(|w| !s.app.lost_workers.contains(w)).collect();
    s.app.lost_workers.extend(lost.iter().cloned());
    let cpu = before.zip(after).map(|(b, a)| a.cpu.saturating_sub(b.cpu));
    if let Some(why) = running.gone() {
        s.app.stderr = Some(running.stderr_tail(20));
        s.app.error = Some(format!("the app stopped serving: {why}"));
        s.column.error = s.app.error.clone();
        if let Some(r) = s.running.take() {
            r.stop();
        }
    }
    Some(SliceRecord {
        column: s.column.id.clone(),
        step: k,
        round,
        measure,
        cpu,
        peak_rss_bytes: peak,
        lost_workers: lost,
    })
}

/// Starts one column's app; a column that cannot start keeps the reason and the app's stderr.
fn start(plan: &Plan, svc: &ServicePlan, target: &Target, app: &AppColumn, show: bool) -> Served {
    let (mut column, mut service) = describe(app, svc);
    let spin = progress::spinner(show, format!("starting the app of {}", app.label));
    let result = config(plan, svc, target, app, show).and_then(|(config, origin)| {
        if let Some(origin) = origin {
            column.source = origin;
        }
        RunningApp::start(config, show).map_err(anyhow::Error::from)
    });
    spin.finish_and_clear();
    match result {
        Ok(running) => {
            service.app = running.server().describe();
            if let Some(described) = running.client() {
                column.client_version = described.version.clone();
                column.policies = described.policies.clone();
            }
            Served { column, app: service, running: Some(running) }
        }
        Err(e) => {
            let why = format!("{e:#}");
            if let Some(AppError::StartupFailed { stderr, .. } | AppError::Timeout { stderr, .. }) = e.downcast_ref() {
                service.stderr = Some(stderr.clone()).filter(|s| !s.trim().is_empty());
            }
            column.error = Some(why.clone());
            service.error = Some(why);
            Served { column, app: service, running: None }
        }
    }
}

/// The report's column for `app` before it starts, and its service entry.
fn describe(app: &AppColumn, svc: &ServicePlan) -> (Column, ServiceColumn) {
    let in_flight = svc.steps.most_connections();
    let column = match &app.client {
        Some(pc) => crate::drivers::start::failed_column(pc, in_flight, String::new(), None),
        None => Column {
            id: app.id.clone(),
            label: app.label.clone(),
            client: "none (app floor)".into(),
            client_version: "-".into(),
            mode: "async".into(),
            in_flight,
            source: "aerobench app floor: the records precomputed at startup, no database call".into(),
            python_version: None,
            python: None,
            policies: Default::default(),
            error: None,
            build: None,
            crash: None,
        },
    };
    let mut column = Column { error: None, ..column };
    column.python_version = Some(app.python.version.clone());
    let call = match &app.client {
        None => "none: the records it would have read, precomputed at startup".to_string(),
        Some(pc) if pc.kind.asynchronous => "awaited in the handler".to_string(),
        Some(_) => "loop.run_in_executor (40 threads, as FastAPI runs def endpoints)".to_string(),
    };
    let service = ServiceColumn {
        id: app.id.clone(),
        floor: app.is_floor(),
        over_floor_of: (!app.is_floor()).then(|| app.floor_id()),
        app: String::new(),
        call,
        error: None,
        stderr: None,
        lost_workers: Vec::new(),
    };
    (column, service)
}

/// What the app is started with: its packages resolved (installed into the cache on first use)
/// and the spec the app reads; with the client's origin for the report.
pub(crate) fn config(
    plan: &Plan,
    svc: &ServicePlan,
    target: &Target,
    app: &AppColumn,
    show: bool,
) -> anyhow::Result<(AppConfig, Option<String>)> {
    let mut wanted: Vec<(Package, Option<&packages::Source>)> = Vec::new();
    let (module, asynchronous) = match &app.client {
        Some(pc) => match pc.kind.family {
            Family::Python { package, module } => {
                if let Some(p) = package {
                    wanted.push((p, pc.source.as_ref()));
                }
                (Some(module), pc.kind.asynchronous)
            }
            _ => anyhow::bail!("{} is not a Python column", pc.id),
        },
        None => (None, true),
    };
    // The column's own package comes first, when it has one (the no-op client has none).
    let client_package = !wanted.is_empty();
    let numpy = svc.scenario == Scenario::BatchNumpy || svc.work.is_some_and(|w| w.needs_numpy());
    if numpy {
        wanted.push((packages::NUMPY, None));
    }
    if plan.event_loop.name() == "uvloop" {
        wanted.push((packages::UVLOOP, None));
    }
    let mut dirs = Vec::new();
    let mut origin = None;
    for (i, (p, source)) in wanted.iter().enumerate() {
        let source = source.unwrap_or(&plan.sources[p.pip_name]);
        let spin = progress::spinner(show, format!("preparing {} {} for {}", p.pip_name, source.tag(), app.id));
        let resolved = packages::resolve(p, source, &app.python);
        spin.finish_and_clear();
        let resolved = resolved?;
        if i == 0 && client_package {
            origin = Some(resolved.origin.clone());
        }
        dirs.push(resolved.dir);
    }
    let in_flight = svc.steps.most_connections();
    let materialise = if svc.scenario == Scenario::BatchNumpy { "numpy" } else { "records" };
    let mut adapter = serde_json::json!({
        "host": target.host,
        "port": target.port,
        "timeout_ms": plan.timeout_ms,
        "in_flight": in_flight,
        "asynchronous": asynchronous,
        "event_loop": plan.event_loop.name(),
        "stub_delay_us": plan.stub_delay_us,
        "stub_spin": plan.stub_spin,
        "stub_blocking": plan.stub_blocking,
        "materialise": materialise,
        "policies": plan.policies.name(),
        "ttl": plan.ttl,
        "services_alternate": plan.services_alternate,
        "verify": false,
        "workload": serde_json::to_value(&plan.workload)?,
    });
    if let Some(c) = &target.credentials {
        adapter["user"] = c.user.clone().into();
        adapter["password"] = c.password.expose().to_string().into();
    }
    if let Some(t) = &target.tls {
        adapter["tls_name"] = t.name.clone().into();
        adapter["tls_ca"] = t.ca.display().to_string().into();
        adapter["tls_cert"] = t.cert.as_ref().map(|p| p.display().to_string()).into();
        adapter["tls_key"] = t.key.as_ref().map(|p| p.display().to_string()).into();
    }
    let spec = serde_json::json!({
        "module": module,
        "asynchronous": asynchronous,
        "scenario": svc.scenario.name(),
        "gather": svc.gather,
        "work": svc.work.map(|w| w.spec()),
        "adapter": adapter,
    });
    let config = AppConfig {
        column: app.id.clone(),
        python: app.python.clone(),
        package_dirs: dirs,
        workers: svc.app_workers,
        port: None,
        event_loop: plan.event_loop.name().to_string(),
        spec,
        startup_timeout: svc.startup_timeout,
        uvicorn: None,
        env: Vec::new(),
    };
    Ok((config, origin))
}
