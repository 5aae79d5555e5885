//! Plain data describing one benchmark run: what was measured, against which server, on which
//! machine, and every cell's metrics. Produced by the engine, consumed by every report format.
//! Serialized as-is into the JSON output (see `schema.json`), so field names are public API.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of the JSON document layout; bump on any incompatible change to these types.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunReport {
    pub schema_version: u32,
    pub aerobench_version: String,
    /// RFC 3339 UTC timestamp of the start of the run.
    pub started_at: String,
    pub server: ServerInfo,
    pub machine: MachineInfo,
    pub workload: Workload,
    /// One column per client and concurrency model, in display order.
    pub columns: Vec<Column>,
    /// One cell per (column, operation) that ran.
    pub cells: Vec<Cell>,
    /// Ratio columns to show: `column` compared with `baseline`.
    pub comparisons: Vec<Comparison>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServerInfo {
    /// `host:port` the benchmark connected to.
    pub address: String,
    /// Value of the `build` info command, e.g. `8.1.0.0`.
    pub build: String,
    /// Value of the `edition` info command, e.g. `Aerospike Community Edition`.
    pub edition: String,
    /// True when the server is aerobench's own in-memory server.
    pub builtin: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MachineInfo {
    pub os: String,
    pub arch: String,
    pub cpus: usize,
    pub cpu_model: Option<String>,
    pub memory_bytes: Option<u64>,
    pub hostname: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Workload {
    pub count: u64,
    pub concurrency: u32,
    pub batch_size: u32,
    pub namespace: String,
    pub set: String,
    pub key_prefix: String,
    /// Operations in the order they ran, e.g. `["put", "get", "batch_get", "scan"]`.
    pub operations: Vec<String>,
    /// Human description of each bin written, e.g. `i: int`, `s: string(32)`.
    pub bins: Vec<String>,
    /// Operations run before each measured phase and not counted.
    pub warmup_ops: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Column {
    /// Stable identifier, e.g. `rust-async-c50`.
    pub id: String,
    /// Header shown in tables, e.g. `Rust client (50 in flight)`.
    pub label: String,
    /// Client package or crate, e.g. `aerospike` (crate) or `aerospike-py`.
    pub client: String,
    pub client_version: String,
    /// `sync` (one call at a time) or `async` (several in flight).
    pub mode: String,
    /// Operations in flight at once.
    pub in_flight: u32,
    /// Where the client was loaded from (crate, site-packages folder, wheel...).
    pub source: String,
    /// Python version for embedded clients; absent for native ones.
    pub python_version: Option<String>,
    /// Policies that differ between clients, set explicitly (timeouts, retries, pools...).
    pub policies: BTreeMap<String, String>,
    /// Set when the whole column failed (worker crashed, client missing...).
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Cell {
    /// `Column::id` this cell belongs to.
    pub column: String,
    /// `put`, `get`, `batch_get` or `scan`.
    pub operation: String,
    /// Operations that completed (successfully or not) and were recorded.
    pub count: u64,
    /// Operations that failed.
    pub errors: u64,
    /// Failures by reason, e.g. `{"rc 2": 3, "timeout": 1}`.
    pub errors_by_reason: BTreeMap<String, u64>,
    /// Latency statistics in microseconds (successful operations only).
    pub latency_us: LatencyStats,
    /// Successful operations per second over the wall time of the phase (failures are counted in `errors`, not here).
    pub ops_per_sec: f64,
    /// Records read or written per second, for operations that move several records per call.
    pub records_per_sec: Option<f64>,
    /// Records moved in total (batch rows found, records scanned).
    pub records: Option<u64>,
    /// Wall time of the measured phase in seconds.
    pub wall_secs: f64,
    /// HDR histogram of latencies (µs), V2 deflate serialization, base64 (standard, padded).
    pub histogram: String,
    /// Anything a reader must know about this cell (e.g. a scan that returned fewer records).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct LatencyStats {
    pub min: f64,
    pub avg: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub stdev: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Comparison {
    /// Header of the ratio column, e.g. `Rust vs C`.
    pub label: String,
    /// `Column::id` being compared.
    pub column: String,
    /// `Column::id` it is compared with.
    pub baseline: String,
}

impl RunReport {
    pub fn column(&self, id: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.id == id)
    }

    pub fn cell(&self, column: &str, operation: &str) -> Option<&Cell> {
        self.cells.iter().find(|c| c.column == column && c.operation == operation)
    }
}
