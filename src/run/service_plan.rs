//! What a service run (`--service`) was asked for, checked and resolved: the scenario, the steps
//! (virtual users or rates), the slices and rounds, and the apps to serve — one per Python
//! column, and an app floor per interpreter the columns run under.

use std::time::Duration;

use crate::drivers::embedded::interpreter::Interpreter;
use crate::drivers::{Family, PlannedColumn};
use crate::run::cli::BenchArgs;
use crate::run::plan::Plan;

use crate::workload::scenario::{AppWork, Scenario};

/// The columns a service run serves when `--clients` is not given: the comparison services ask
/// about (aerospike-py awaited, the official client through an executor).
pub const DEFAULT_CLIENTS: &[&str] = &["aerospike-py-async", "official-c-executor"];

/// Virtual users per step when neither `--vus` nor `--rate` is given.
pub const DEFAULT_VUS: &[u32] = &[10, 50];

/// Each measured slice's length when `--duration` is not given.
pub const DEFAULT_SLICE: Duration = Duration::from_secs(2);

/// How the load is applied at each step.
#[derive(Debug, Clone, PartialEq)]
pub enum Steps {
    /// Keep-alive connections, each sending its next request when the last answered.
    Closed(Vec<u32>),
    /// Requests due at these rates, over at most `connections` connections.
    Open { rates: Vec<f64>, connections: u32 },
}

impl Steps {
    /// The steps as numbers (the report's `steps`).
    pub fn values(&self) -> Vec<f64> {
        match self {
            Steps::Closed(vus) => vus.iter().map(|&v| f64::from(v)).collect(),
            Steps::Open { rates, .. } => rates.clone(),
        }
    }

    /// Most connections one slice opens: the apps' clients are sized for it.
    pub fn most_connections(&self) -> u32 {
        match self {
            Steps::Closed(vus) => vus.iter().copied().max().unwrap_or(1),
            Steps::Open { connections, .. } => *connections,
        }
    }
}

/// One app to serve: a Python column's client, or the floor (no client) of an interpreter.
#[derive(Debug, Clone)]
pub struct AppColumn {
    pub id: String,
    pub label: String,
    pub python: Interpreter,
    /// The planned column whose client the app uses; `None` for an app floor.
    pub client: Option<PlannedColumn>,
}

impl AppColumn {
    pub fn is_floor(&self) -> bool {
        self.client.is_none()
    }

    /// The floor this column is measured over: the app floor of its interpreter.
    pub fn floor_id(&self) -> String {
        floor_id(&self.python)
    }
}

/// Everything a service run does, resolved.
#[derive(Debug, Clone)]
pub struct ServicePlan {
    pub scenario: Scenario,
    pub steps: Steps,
    pub slice: Duration,
    pub warmup: Duration,
    pub rounds: u32,
    pub timeout: Duration,
    pub app_workers: u32,
    pub work: Option<AppWork>,
    pub gather: u32,
    pub slo_p99: Option<Duration>,
    pub startup_timeout: Duration,
    /// The floors first (one per interpreter, in the order the columns name them), then the
    /// Python columns in plan order.
    pub apps: Vec<AppColumn>,
    /// The column the verdicts compare every other with.
    pub baseline: Option<String>,
    /// Records (a get) or batches the requests cycle over.
    pub indexes: u64,
}

impl ServicePlan {
    /// Checks `args` for a service run and resolves `plan`'s columns into apps. Errors say what to
    /// change.
    pub fn from_args(args: &BenchArgs, plan: &Plan) -> anyhow::Result<ServicePlan> {
        let scenario = args.service.ok_or_else(|| anyhow::anyhow!("not a service run"))?;
        let refused = [
            (args.verify, "--verify"),
            (args.shard.is_some(), "--shard"),
            (args.start_at.is_some(), "--start-at"),
            (args.fail_node.is_some(), "--fail-node"),
            (args.workload.is_some(), "--workload"),
            (args.cpu_competitor, "--cpu-competitor"),
            (args.live.is_some(), "--live"),
        ];
        if let Some((_, what)) = refused.iter().find(|(on, _)| *on) {
            anyhow::bail!(
                "{what} is for the bare calls, not for --service (the app's requests are what is measured): \
                 drop {what}, or drop --service"
            );
        }
        let not_python: Vec<&str> = plan
            .columns
            .iter()
            .filter(|pc| !matches!(pc.kind.family, Family::Python { .. }))
            .map(|pc| pc.id.as_str())
            .collect();
        anyhow::ensure!(
            not_python.is_empty(),
            "--service serves Python clients inside an ASGI app; {} call{} the server from Rust, with no app \
             between: drop {} from --clients",
            not_python.join(", "),
            if not_python.len() == 1 { "s" } else { "" },
            if not_python.len() == 1 { "it" } else { "them" },
        );
        if scenario == Scenario::BatchNumpy {
            anyhow::ensure!(
                plan.workload.has_numeric_bins(),
                "--service batch-numpy makes an array of the records' int and float bins, and the bins read have \
                 none: add some (e.g. --bin-type float, --bin-type mixed or --record feature-vector) or name them \
                 in --read-bins"
            );
        }
        let steps = if args.rate.is_empty() {
            let vus = if args.vus.is_empty() { DEFAULT_VUS.to_vec() } else { args.vus.clone() };
            Steps::Closed(vus)
        } else {
            Steps::Open { rates: args.rate.clone(), connections: args.concurrency }
        };
        let values = steps.values();
        anyhow::ensure!(
            values.windows(2).all(|w| w[0] < w[1]),
            "the steps of --vus/--rate must rise (e.g. 10,50,100): a saturation curve goes up one step at a time"
        );
        let slice = args.duration.unwrap_or(DEFAULT_SLICE);
        anyhow::ensure!(
            slice >= Duration::from_millis(200),
            "--duration {} is too short for a service slice: give 200ms or more (2s or more for steady figures)",
            humantime::format_duration(slice)
        );
        let mut apps: Vec<AppColumn> = Vec::new();
        let mut floors: Vec<AppColumn> = Vec::new();
        for pc in &plan.columns {
            let python = pc.python.clone().unwrap_or_else(Interpreter::linked);
            let floor = floor_id(&python);
            if !floors.iter().any(|f| f.id == floor) {
                let label =
                    if python.is_linked() { "app floor".to_string() } else { format!("app floor (py{})", python.tag) };
                floors.push(AppColumn { id: floor, label, python: python.clone(), client: None });
            }
            apps.push(AppColumn { id: pc.id.clone(), label: pc.label.clone(), python, client: Some(pc.clone()) });
        }
        floors.extend(apps);
        let apps = floors;
        let asked = args.baseline.as_ref().and(plan.baseline.clone());
        let baseline = asked.filter(|b| apps.iter().any(|a| !a.is_floor() && a.id == *b)).or_else(|| {
            apps.iter()
                .filter(|a| !a.is_floor())
                .find(|a| a.id.starts_with("official-c-executor"))
                .or_else(|| apps.iter().find(|a| !a.is_floor()))
                .map(|a| a.id.clone())
        });
        Ok(ServicePlan {
            scenario,
            steps,
            // Enough to open the connections and warm the app's and client's paths.
            warmup: (slice / 2).min(Duration::from_secs(1)),
            slice,
            rounds: plan.rounds,
            timeout: Duration::from_millis(plan.timeout_ms),
            app_workers: args.app_workers,
            work: args.app_work,
            gather: args.gather,
            slo_p99: args.slo_p99,
            startup_timeout: args.app_startup_timeout,
            apps,
            baseline,
            indexes: scenario.indexes(&plan.workload),
        })
    }
}

/// The id of the app floor of `python`: `app-floor`, or `app-floor:py3.14t` for another
/// interpreter than the one aerobench embeds.
pub fn floor_id(python: &Interpreter) -> String {
    if python.is_linked() { "app-floor".to_string() } else { format!("app-floor:py{}", python.tag) }
}
