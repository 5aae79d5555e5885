//! Plain data of a service run (`--service`): each Python column's client inside an ASGI app
//! under HTTP load, step by step (virtual users or request rates), the columns interleaved over
//! rounds at every step. Serialized as-is under `service` in the JSON report (see `schema.json`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::verdict::Verdict;

/// What was served, how it was loaded, and what every column measured.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServiceRun {
    /// The endpoint's scenario: `get-json`, `batch-count`, `batch-walk`, `batch-numpy` or
    /// `batch-gather`.
    pub scenario: String,
    /// What one request does, in words (e.g. "a batch of 100 keys → JSON count").
    pub description: String,
    /// Batches gathered at once per request (`batch-gather`), else absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gather: Option<u32>,
    /// CPU-bound work after the database step (`--app-work`: `matmul:N` or `python:DURATION`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work: Option<String>,
    /// Worker processes of every app, sharing one listening socket (`--app-workers`).
    pub app_workers: u32,
    /// `closed` (`--vus`: keep-alive connections, each sending its next request when the last
    /// answered) or `open` (`--rate`: requests due at a fixed rate, latency from when each was due).
    pub load: String,
    /// The steps, in order: virtual users (closed) or requests per second (open).
    pub steps: Vec<f64>,
    /// `vus` or `req/s`.
    pub step_unit: String,
    /// Connections the open loop may use at most (absent in a closed loop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_connections: Option<u32>,
    /// Length of each measured slice (one column, one step, one round), in seconds.
    pub slice_secs: f64,
    /// Unmeasured load each column got before each step's first round, in seconds.
    pub warmup_secs: f64,
    /// Measured rounds asked for at every step.
    pub rounds: u32,
    /// A request with no answer after this long failed as `timeout`, in milliseconds.
    pub timeout_ms: u64,
    /// `--slo-p99`: a step whose p99 is above it is past saturation, in microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo_p99_us: Option<f64>,
    /// The load generator: aerobench's own (hyper), and its threads.
    pub load_generator: String,
    /// `Column::id` the verdicts compare every other column with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// One entry per column of the report (same ids as `RunReport::columns`).
    pub columns: Vec<ServiceColumn>,
    /// One cell per column and step that was measured.
    pub cells: Vec<ServiceCell>,
    /// Per column: the step where it saturated.
    pub saturation: Vec<Saturation>,
    /// Each column against the baseline at each step, on requests per CPU-core and p99.
    pub verdicts: Vec<ServiceVerdict>,
}

/// How one column's app was served.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServiceColumn {
    pub id: String,
    /// True for an app floor: the same endpoint and work without any database call.
    pub floor: bool,
    /// The floor this column is measured over (the app floor of its interpreter), if it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over_floor_of: Option<String>,
    /// The ASGI server, e.g. "uvicorn 0.38.0 (httptools, asyncio loop), 2 workers".
    pub app: String,
    /// How the handler calls the client: awaited, through `run_in_executor`, or none (floor).
    pub call: String,
    /// Why the app could not start or stopped serving (absent when it served every step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The app's last lines on stderr when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    /// App workers that died during the run ("worker 1234 died"), in the order seen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lost_workers: Vec<String>,
}

/// End-to-end or in-app timings of one cell, in microseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Timings {
    pub avg: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

/// One column at one step, over its measured rounds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServiceCell {
    pub column: String,
    /// The step's virtual users or rate (as in `ServiceRun::steps`).
    pub step: f64,
    /// Rounds measured.
    pub rounds: u32,
    /// Requests answered 2xx.
    pub requests: u64,
    /// Requests that failed, all reasons.
    pub errors: u64,
    /// Failed requests by reason: `HTTP 500`, `connection reset`, `connection refused`,
    /// `timeout`, `app worker died`.
    pub errors_by_reason: BTreeMap<String, u64>,
    /// A few distinct first lines of failed answers' bodies (a handler's exception).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_samples: Vec<String>,
    /// Successful requests per second: the mean over rounds, with its 95% interval.
    pub requests_per_sec: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_sec_low: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_sec_high: Option<f64>,
    /// End-to-end HTTP latency of successful requests (open loop: from when each was due).
    pub latency_us: Timings,
    /// The handler's own time (`Server-Timing: app`), when the app reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler_us: Option<Timings>,
    /// The client call's time inside the handler (`Server-Timing: db`); absent for a floor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_us: Option<Timings>,
    /// The client call's share of the handler's time (mean over mean).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_share: Option<f64>,
    /// The app's event-loop lag: the largest lag a worker's sampler saw between two answers,
    /// over the answers (`Server-Timing: loop`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loop_lag_us: Option<Timings>,
    /// CPU time (user + system) of the app's processes per successful request, in microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_us_per_request: Option<f64>,
    /// Successful requests per CPU-second of the app's processes (requests/s per core busy):
    /// the mean over rounds, with its 95% interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_core: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_core_low: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_core_high: Option<f64>,
    /// CPU cores the app kept busy on average (CPU seconds per second).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cores_busy: Option<f64>,
    /// Largest resident memory of the app's processes together, sampled during the slices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_bytes: Option<u64>,
    /// CPU per request above the floor's at the same step, in microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over_floor_cpu_us: Option<f64>,
    /// Median latency above the floor's at the same step, in microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over_floor_p50_us: Option<f64>,
    /// Open loop: requests sent more than 1 ms after they were due (every connection was busy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late: Option<u64>,
    /// Each measured round, in order.
    pub per_round: Vec<ServiceRound>,
    /// The end-to-end latency histogram (ns) over every round, as `Cell::histogram` encodes one.
    pub histogram: String,
}

/// One measured slice: one column, one step, one round.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServiceRound {
    pub round: u32,
    pub requests: u64,
    pub errors: u64,
    pub secs: f64,
    pub requests_per_sec: f64,
    pub p99_us: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_secs: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_core: Option<f64>,
}

/// Where one column stopped gaining.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Saturation {
    pub column: String,
    /// The saturation step (virtual users or rate); absent when requests/s still rose at the last
    /// step (or no step ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<f64>,
    /// Requests/s, requests per CPU-core and p99 at that step (or at the last step when not reached).
    pub requests_per_sec: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_core: Option<f64>,
    pub p99_us: f64,
    /// Why, in words ("requests/s rose 2% from 50 to 100 vus", "p99 above the SLO at 100 vus").
    pub reason: String,
}

/// What a service verdict compares.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ServiceMetric {
    /// Successful requests per CPU-second of the app (higher is better).
    RequestsPerCore,
    /// p99 of the end-to-end latency (lower is better).
    P99Latency,
    /// Successful requests per second (higher is better).
    RequestsPerSec,
}

/// A column against the baseline at one step, from the rounds' paired ratios.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServiceVerdict {
    pub step: f64,
    pub column: String,
    pub baseline: String,
    pub metric: ServiceMetric,
    /// How many times better the column is (> 1 better): geometric mean over rounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speedup: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high: Option<f64>,
    pub per_round: Vec<f64>,
    pub verdict: Verdict,
    /// As the tables show it, e.g. `1.9x faster (1.7–2.1)`.
    pub text: String,
}

impl ServiceRun {
    pub fn cell(&self, column: &str, step: f64) -> Option<&ServiceCell> {
        self.cells.iter().find(|c| c.column == column && c.step == step)
    }

    pub fn column(&self, id: &str) -> Option<&ServiceColumn> {
        self.columns.iter().find(|c| c.id == id)
    }

    /// A step as the tables show it: "50 vus", "2000 req/s".
    pub fn step_label(&self, step: f64) -> String {
        let n = if step.fract() == 0.0 { format!("{step:.0}") } else { format!("{step}") };
        format!("{n} {}", self.step_unit)
    }
}
