//! Plain data describing one benchmark run: what was measured, against which server, on which
//! machine, and every cell's metrics. Produced by the engine, consumed by every report format.
//! Serialized as-is into the JSON output (see `schema.json`), so field names are public API.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use super::verdict::Verdict;

/// Version of the JSON document layout; bump on any incompatible change to these types.
pub const SCHEMA_VERSION: u32 = 2;

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
    /// `Column::id` every other column is compared with.
    pub baseline: Option<String>,
    /// `Column::id` of the `wire` floor column, when it ran.
    pub floor: Option<String>,
    /// Every ratio between two cells of one operation, with its interval and verdict.
    pub ratios: Vec<Ratio>,
    /// What makes this run's figures less reliable (shared CPUs, the built-in server...).
    pub warnings: Vec<String>,
    /// True when Ctrl-C ended the run early.
    pub interrupted: bool,
    /// RFC 3339 UTC timestamp of the end of the measured rounds (absent in older documents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// The runs `aerobench merge` combined into this document, in the order given; empty for a
    /// single run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<MergedRun>,
    /// Why the run ended before its last phase when the server died or stalled (absent when
    /// every phase ran or Ctrl-C ended it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
    /// Records `--cleanup` deleted when the run ended (absent without `--cleanup`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_deleted: Option<u64>,
    /// The minimum effect of the verdicts (`--min-effect`), as a fraction: a ratio whose whole
    /// interval lies within it either way (from 1/(1+m) to 1+m) reads `within_min_effect`, and
    /// `faster`/`slower` need the whole interval beyond it.
    #[serde(default = "default_min_effect")]
    pub min_effect: f64,
    /// The order the columns ran in, round by round, how balanced it is, and when each phase ran
    /// (absent in older documents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// A node taken out on purpose during the run (`--fail-node`) and how each column fared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_loss: Option<NodeLoss>,
    /// How each column spread its requests over the built-in cluster's nodes (`--nodes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_spread: Option<NodeSpread>,
    /// The cluster's state as read between phases (nodes, cluster size, migrations), and every
    /// change seen: absent when the state was never read (older documents, merged runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterHistory>,
    /// A service run (`--service`): the clients inside an ASGI app under HTTP load. Its
    /// `cells` and `ratios` are then empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<super::service::ServiceRun>,
    /// The clients' own stage timers, from an extra phase per column and operation after the
    /// measured rounds (`--stages`); never part of the cells or ratios.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stages: Option<super::stages::StagesRun>,
    /// What `--profile` found: where each Python column's time went, per operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiles: Option<super::profile::Profiles>,
}

/// The minimum effect unless `--min-effect` says otherwise (3%), and that of a report written
/// before it existed.
pub const DEFAULT_MIN_EFFECT: f64 = 0.03;

fn default_min_effect() -> f64 {
    DEFAULT_MIN_EFFECT
}

/// The order and timing of a run's measured phases.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Schedule {
    /// How the order was made: `williams` (a Williams design: every column in every position,
    /// and right after every other column, equally often over each cycle).
    pub design: String,
    /// Rounds in one balanced cycle: the number of columns when it is even, twice it when odd.
    pub cycle_rounds: u32,
    /// Seed that assigns the columns to the design and orders its rows (`--seed`).
    pub seed: u64,
    /// How rounds after the last whole cycle are ordered.
    pub remainder: String,
    /// When the first measured phase was to start (`--start-at`, RFC 3339); null when the run
    /// kept its own clock.
    pub start_at: Option<String>,
    /// Seconds between the starts of consecutive phases with `--start-at` (the phase's
    /// `--duration` and a settling gap); null without it.
    pub slot_secs: Option<f64>,
    /// The order of the columns (every planned column, ids) in each round and operation.
    pub orders: Vec<RoundOrder>,
    /// How evenly each operation's orders spread the columns over positions and predecessors.
    pub balance: Vec<OrderBalance>,
    /// When each measured phase ran, in the order they ran.
    pub phases: Vec<PhaseWindow>,
}

/// The order of one round of one operation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RoundOrder {
    pub round: u32,
    pub operation: String,
    /// Column ids, first to run first.
    pub columns: Vec<String>,
}

/// The balance of one operation's orders over the run's rounds: a perfectly balanced design has
/// min = max for both counts (as rounds allow: when the rounds are not a multiple of the columns,
/// counts differ by one at best).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrderBalance {
    pub operation: String,
    /// Fewest and most rounds a column ran in one position.
    pub position_min: u32,
    pub position_max: u32,
    /// Fewest and most rounds a column ran right after one other column.
    pub predecessor_min: u32,
    pub predecessor_max: u32,
}

/// When one measured phase ran, from when aerobench handed it to the column until it had its
/// results (wall clock, RFC 3339 with microseconds).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PhaseWindow {
    pub round: u32,
    pub operation: String,
    pub column: String,
    pub started_at: String,
    pub finished_at: String,
    /// The cluster states (indices into `cluster.states`) read just before and just after the
    /// phase; different when the cluster changed while it ran. Absent when not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<PhaseCluster>,
}

/// The cluster states a phase met: read before it started and after it ended.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct PhaseCluster {
    pub before: u32,
    pub after: u32,
}

impl PhaseCluster {
    /// True when the phase ran under one state throughout (as far as reads between phases tell).
    pub fn steady(&self) -> bool {
        self.before == self.after
    }
}

/// What the run saw of the cluster, read between phases (outside their timing) from the seed,
/// or from any node that answered when the seed did not.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClusterHistory {
    /// Every distinct state seen, in the order first seen; the first is the state before the
    /// first measured phase.
    pub states: Vec<ClusterState>,
    /// Every change from one read to the next, in order.
    pub changes: Vec<ClusterChange>,
    /// Reads made, and those no node answered (the state is then unknown until the next read).
    pub reads: u64,
    pub failed_reads: u64,
    /// Length of the interval lines failures and recovery are read from (seconds); null when the
    /// run kept none (a single-node server).
    pub resolution_secs: Option<f64>,
}

/// One state of the cluster: two reads are the same state when these are equal.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClusterState {
    /// Node names, sorted: the node that answered and the peers it listed.
    pub nodes: Vec<String>,
    /// `cluster_size` from `statistics`, when the server gave it.
    pub cluster_size: Option<u32>,
    /// True when `statistics` said partitions were still migrating
    /// (`migrate_partitions_remaining` above 0).
    pub migrating: bool,
}

/// The cluster changed between two reads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClusterChange {
    /// States before and after (indices into `states`).
    pub from: u32,
    pub to: u32,
    /// When the last read showing the old state and the first showing the new one were made
    /// (RFC 3339): the change happened between them.
    pub last_seen_before: String,
    pub seen_at: String,
    /// The measured phase that ran between those reads, if one did (else the change came
    /// between phases, or before the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub during: Option<PhaseRef>,
    /// When calls began failing before the last read of the old state (a cluster notices a killed
    /// node only after its heartbeat timeout): the phase that ran before that read, which met the
    /// loss too (its `cluster.after` is the new state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures_began_during: Option<PhaseRef>,
    /// Nodes gone from the list, and nodes new in it.
    pub left: Vec<String>,
    pub joined: Vec<String>,
    /// Partitions still to migrate at the read that saw the new state, when the server said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrate_partitions_remaining: Option<u64>,
    /// When nodes left: seconds since the run started at which the first failed call after the
    /// last read of the old state came (else that read), the time per-column recovery counts
    /// from; null when the run kept no interval lines.
    pub at_secs: Option<f64>,
    /// When nodes left: per column, its failures and recovery from then on (as a node taken out
    /// with `--fail-node`, until the node is seen again); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<ColumnRecovery>,
}

/// One measured phase: its column, operation and round.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PhaseRef {
    pub column: String,
    pub operation: String,
    pub round: u32,
}

/// One run combined by `aerobench merge`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MergedRun {
    /// File the run was read from.
    pub file: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub hostname: Option<String>,
    pub shard: Option<Shard>,
}

/// This run's share of a key space split between load hosts (`--shard INDEX/COUNT`): its keys
/// are `{key_prefix}{index}-{i}`, disjoint from every other shard's.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Shard {
    /// 0-based shard number.
    pub index: u32,
    /// Shards in all.
    pub count: u32,
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
    /// The cluster's nodes as the seed sees them (its `node`, then its `peers-clear-std`), the
    /// seed first; empty in reports from before aerobench read them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
}

/// A built-in node taken out of the cluster in every measured phase (`--fail-node`), and per
/// column what that cost: failures, and how long until calls stopped failing. Times come from
/// the run's interval lines, so they are known to within `resolution_secs`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NodeLoss {
    /// The node taken out, from 1 (the seed).
    pub node: u16,
    /// When it left, in seconds into each measured phase, and for how long.
    pub at_secs: f64,
    pub for_secs: f64,
    /// Length of the intervals the times are read from.
    pub resolution_secs: f64,
    /// Every loss made (or attempted), in order.
    pub losses: Vec<Loss>,
    pub columns: Vec<ColumnRecovery>,
}

/// One loss: in which phase, and when, in seconds since the run started.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Loss {
    pub column: String,
    pub operation: String,
    pub round: u32,
    pub at_secs: f64,
    /// Why the server could not be asked to take the node out (then no loss happened).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Requests each node of the built-in cluster received, per column and operation, in the
/// measured rounds (counted by the server itself).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NodeSpread {
    /// Node names, in the order of every cell's `nodes`; the seed first.
    pub nodes: Vec<String>,
    pub cells: Vec<SpreadCell>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SpreadCell {
    pub column: String,
    pub operation: String,
    /// Per node, as in `NodeSpread::nodes`.
    pub nodes: Vec<NodeCounts>,
}

/// What one node was asked.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct NodeCounts {
    /// Single-record requests.
    pub records: u64,
    /// Batch requests (a client's sub-batches) and the keys they carried.
    pub batches: u64,
    pub batch_keys: u64,
    /// Scan requests.
    pub scans: u64,
    /// Keys sent to a node that does not hold their partition (a real node would proxy them).
    pub proxied: u64,
}

/// One column through a node loss.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ColumnRecovery {
    /// `Column::id`.
    pub column: String,
    /// Losses made during this column's phases.
    pub losses: u32,
    /// Whether the column was making calls while the node was out.
    pub ran_during_loss: bool,
    /// Failed calls while the node was out, over its losses.
    pub failures: u64,
    /// From a loss to the end of the last interval with a failed call while the node was out
    /// (after it, the column's calls succeeded again), the worst over its losses. Null with no
    /// failures.
    pub recovery_secs: Option<f64>,
    /// Whether the column was making calls after the node returned (before the next loss).
    pub ran_after_return: bool,
    /// Failed calls after the node returned (before the next loss), and from its return to the
    /// end of the last interval with one, the worst over its losses. Null with no failures.
    pub failures_after_return: u64,
    pub recovery_after_return_secs: Option<f64>,
}

impl ColumnRecovery {
    /// Column `column` before any loss is counted: no loss met, no failure.
    pub fn none(column: &str) -> ColumnRecovery {
        ColumnRecovery {
            column: column.to_string(),
            losses: 0,
            ran_during_loss: false,
            failures: 0,
            recovery_secs: None,
            ran_after_return: false,
            failures_after_return: 0,
            recovery_after_return_secs: None,
        }
    }
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

/// A record described by a spec (`--record`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RecordShape {
    /// The named shape (`feature-vector`, `profile`, `blob`, `wide`), if one was named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The spec, e.g. `f=64*F`.
    pub spec: String,
    /// Bins per record.
    pub bin_count: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Workload {
    pub count: u64,
    pub concurrency: u32,
    pub batch_size: u32,
    pub namespace: String,
    pub set: String,
    pub key_prefix: String,
    /// Operations in the order they ran, e.g. `["put", "get", "batch_get", "scan"]` (also
    /// `exists`, `touch`, `operate`, `delete`, `batch_write`, `read_modify_write`).
    pub operations: Vec<String>,
    /// Human description of each bin written, e.g. `i: int`, `s: string(32)`.
    pub bins: Vec<String>,
    /// The record spec the bins came from (`--record`); absent for `--bins`/`--preset` records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<RecordShape>,
    /// The bins get, batch_get and scan asked for (`--read-bins`); absent: every bin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_bins: Option<Vec<String>>,
    /// Whole-set scans per measured scan phase.
    pub scans: u64,
    /// Calls of put/get each column made before the first round, not recorded.
    pub warmup_ops: u64,
    /// Measured rounds asked for.
    pub rounds: u32,
    /// Measured rounds that ran to the end (fewer when interrupted).
    pub rounds_completed: u32,
    /// Length of each measured phase, when set with --duration (else each phase makes its calls).
    pub phase_duration_secs: Option<f64>,
    /// Without --duration, every measured phase (but delete) made at least this many calls,
    /// cycling over the records (`--min-phase-calls`).
    #[serde(default)]
    pub min_phase_calls: u64,
    /// Without --duration, every measured phase (but delete) went on, cycling over the records,
    /// until it had run at least this long (`--min-phase-time`).
    #[serde(default)]
    pub min_phase_secs: f64,
    /// A phase lengthened to its minimum stopped at this many seconds once it had made its
    /// operation's own calls, even short of `min_phase_calls` (`min_phase_secs`, at least
    /// 0.05).
    #[serde(default)]
    pub lengthen_cap_secs: f64,
    /// Unit of the values in every cell's `histogram`.
    pub histogram_unit: String,
    /// `explicit` (the same timeouts, retries and pools for every client) or `defaults` (each
    /// client's own).
    pub policies: String,
    /// `records` (a Python batch call's records are read inside the timed call) or `none` (the
    /// call stops at what the client returns; batch record counts are then keys asked).
    pub materialise: String,
    /// This run's share of the key space with `--shard` (`key_prefix` is then the prefix given,
    /// and keys are `{key_prefix}{index}-{i}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// `closed` (a call starts when one ends) or `open` (calls start at `rate_per_column`,
    /// whether or not earlier ones ended: `--rate`).
    #[serde(default = "closed_loop")]
    pub pacing: String,
    /// Calls per second each column was asked to make in an open loop; null in a closed loop.
    #[serde(default)]
    pub rate_per_column: Option<f64>,
    /// How put, get (and exists, touch, operate, read_modify_write) calls chose their records:
    /// `sequential`, `uniform`, `zipfian:THETA` or `hotspot:X/Y` (X% of calls to Y% of the
    /// records).
    #[serde(default = "sequential")]
    pub keys: String,
    /// Seed the key distribution was drawn with.
    #[serde(default)]
    pub seed: u64,
    /// Records put, get (and exists, touch, operate, read_modify_write) calls drew from (the
    /// first `key_space` of `count`).
    #[serde(default)]
    pub key_space: u64,
    /// The read/update mix asked for (`--workload`): `read-only`, `write-only` or `read-update:P`
    /// (P% of a get phase's calls were gets, the rest puts, reported as the get and put cells)
    /// or `read-modify-write` (the read_modify_write cells); null when none was.
    #[serde(default)]
    pub mix: Option<String>,
    /// How the run chose its rounds and the interval its verdicts got; absent in documents
    /// from before `--stop` (fixed rounds, Student-t intervals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopping: Option<Stopping>,
}

/// How a run chose its rounds (`--stop`), and what came of it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Stopping {
    /// `settled` (rounds until every ops/s verdict settles, or the budget or cap runs out) or
    /// `fixed` (exactly `rounds`).
    pub mode: String,
    /// The interval every ratio and over-floor figure got: `student-t` (fixed rounds) or
    /// `confidence-sequence` (valid however the rounds stopped).
    pub interval: String,
    /// The confidence sequence, named: Lai (1976)'s normal-mixture t, with its prior `g`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The prior variance of the standardized effect the sequence mixes over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior_g: Option<f64>,
    /// Settled mode: the rounds looked at the verdicts from this round on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_look: Option<u32>,
    /// Settled mode: the time the measured rounds could take (`--budget`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_secs: Option<f64>,
    /// Settled mode: the time they took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spent_secs: Option<f64>,
    /// Settled mode: why the rounds ended: `settled` (every verdict), `budget`, `max_rounds`
    /// (`rounds` ran) or `stopped_early` (interrupted, or the server or every column gone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
    /// Settled mode: each measured cell, and when its verdicts settled or that they had not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cells: Vec<CellStop>,
}

/// When one cell (column × operation) of a settled run stopped being measured.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CellStop {
    pub column: String,
    pub operation: String,
    /// The rounds it ran before every ops/s verdict it takes part in settled (a baseline's:
    /// every verdict compared with it); null while one was open.
    pub settled_after_rounds: Option<u32>,
    /// The measured rounds' time (of the whole run, every column) by the end of the round it
    /// settled in: how long its answer took; null while one was open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_after_secs: Option<f64>,
    /// A verdict of this cell was still open when the budget or the cap ended the rounds: its
    /// interval is as it stood then.
    pub open_at_budget: bool,
}

impl Workload {
    /// How the cell of `column` and `operation` stopped in a settled run, if it was one.
    pub fn cell_stop(&self, column: &str, operation: &str) -> Option<&CellStop> {
        self.stopping.as_ref()?.cells.iter().find(|c| c.column == column && c.operation == operation)
    }

    /// True when the rounds ran until the verdicts settled (`--stop settled`).
    pub fn until_settled(&self) -> bool {
        self.stopping.as_ref().is_some_and(|s| s.mode == "settled")
    }
}

fn sequential() -> String {
    "sequential".into()
}

fn closed_loop() -> String {
    "closed".into()
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
    /// The interpreter an embedded client ran under, as its worker saw it; absent for native ones.
    #[serde(default)]
    pub python: Option<PythonInterpreter>,
    /// Policies that differ between clients, set explicitly (timeouts, retries, pools...).
    pub policies: BTreeMap<String, String>,
    /// Set when the whole column failed (worker crashed, client missing...).
    pub error: Option<String>,
    /// What a client from a local folder or virtualenv is (`--client-path`): where it was
    /// imported from, its source tree's commit, its extension module's time; null otherwise.
    #[serde(default)]
    pub build: Option<Box<LocalBuild>>,
    /// What the column's worker process left behind when it died of a signal: the Python stack
    /// of every thread and the native backtrace at the crash; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash: Option<Box<WorkerCrash>>,
}

/// A worker process that died of a signal (a client's C code crashing, say), as it reported
/// itself from its fatal-signal handlers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct WorkerCrash {
    /// How it ended, e.g. `killed by signal 11 (SIGSEGV)`.
    pub ended: String,
    /// Python's `faulthandler` output: the error, then each thread's stack, most recent call
    /// first. Empty when the worker died before it was armed.
    pub python_stacks: String,
    /// The crashing thread's native frames (library and symbol or offset, one a line), where the
    /// platform's C library can give them; null otherwise.
    pub native_backtrace: Option<String>,
}

/// A local build of a Python client, as found when its worker imported it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LocalBuild {
    /// The package folder (or module file) the client was imported from.
    pub path: String,
    /// The git commit of the source tree holding that folder; null when it is in none (or git
    /// is not installed).
    pub commit: Option<String>,
    /// The source tree had uncommitted changes to files git tracks (untracked files are no
    /// part of a build's provenance); null without a commit.
    pub dirty: Option<bool>,
    /// The compiled extension module imported with it, if it has one.
    pub extension: Option<String>,
    /// When the extension module's file was last written (RFC 3339, UTC): when it was built.
    pub extension_modified: Option<String>,
    /// When the commit was made (committer time, RFC 3339, UTC); null without a commit.
    #[serde(default)]
    pub commit_time: Option<String>,
    /// The extension module was written before the commit was made: it was built from an
    /// earlier state of the tree than the commit says; null without both times.
    #[serde(default)]
    pub built_before_head: Option<bool>,
}

impl LocalBuild {
    /// `3f2a9c1e4b` or `3f2a9c1e4b-dirty` (as `git describe --dirty` marks it), or `built
    /// before HEAD 3f2a9c1e4b` when the extension predates the commit; `None` without a commit.
    pub fn short_commit(&self) -> Option<String> {
        let commit = self.commit.as_deref()?;
        let short: String = commit.chars().take(10).collect();
        let short = if self.dirty == Some(true) { format!("{short}-dirty") } else { short };
        Some(if self.built_before_head == Some(true) { format!("built before HEAD {short}") } else { short })
    }
}

/// The interpreter a Python column ran under, as its worker process saw it at run time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PythonInterpreter {
    /// Its executable (`sys.executable`).
    pub path: String,
    /// Its full version, e.g. `3.14.0`.
    pub version: String,
    /// A free-threaded build (`3.13t`, `3.14t`).
    pub free_threaded: bool,
    /// Whether the GIL was on once the client was imported and connected
    /// (`sys._is_gil_enabled()`; always on before 3.13).
    pub gil: bool,
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
    /// Failures by what happened: `connection refused`, `connection lost`, `no nodes`,
    /// `timeout`, `server result code N`, `value mismatch`, `abandoned` (still inside the client
    /// when the phase stopped on a server gone or unresponsive), `client error`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failures: BTreeMap<String, u64>,
    /// Latency statistics in microseconds (successful operations only).
    pub latency_us: LatencyStats,
    /// Successful operations per second over the wall time of the phase (failures are counted in `errors`, not here).
    pub ops_per_sec: f64,
    /// Records read or written per second, for operations that move several records per call.
    pub records_per_sec: Option<f64>,
    /// Records moved in total (batch rows found, records scanned).
    pub records: Option<u64>,
    /// Wall time of the measured phases in seconds, summed over the rounds.
    pub wall_secs: f64,
    /// HDR histogram of latencies over every round, in `workload.histogram_unit` (ns), V2
    /// deflate serialization, base64 (standard, padded).
    pub histogram: String,
    /// Successful calls slower than the histogram's range (60 s), counted there as 60 s.
    pub latency_beyond_range: u64,
    /// Average latency above the `wire` floor's, in µs (mean of the rounds' differences: each
    /// round's average minus the floor's in the same round), for columns with as many calls in
    /// flight as the floor (one).
    pub over_floor_us: Option<f64>,
    /// The 95% interval of `over_floor_us` from the rounds' differences, `[low, high]` in µs;
    /// null with one round. An interval that spans 0 is within the noise; one below 0 means the
    /// column was faster than the floor.
    #[serde(default)]
    pub over_floor_interval_us: Option<[f64; 2]>,
    /// The figures of each measured round, in round order.
    pub rounds: Vec<RoundFigures>,
    /// What the calls cost the process that made them; null where the platform does not tell.
    pub cpu: Option<CpuCost>,
    /// Anything a reader must know about this cell (e.g. a scan that returned fewer records,
    /// too few calls for a p99, rounds that disagree).
    pub notes: Vec<String>,
    /// Gaps between asking the column's event loop to resume a task that yields once every 2 ms
    /// and its resuming, while the calls ran, over every round; `None` without an event loop.
    #[serde(default)]
    pub loop_starvation_us: Option<LoopGapStats>,
    /// Speed of the competing pure-Python thread (`--cpu-competitor`) while the calls ran,
    /// against its speed alone; `None` when it did not run.
    #[serde(default)]
    pub competitor: Option<CompetitorFigures>,
    /// In an open loop (`--rate`): latency from when each call was due, beside `latency_us` (then
    /// service time, from when it started), and whether the column kept to its schedule; null
    /// in a closed loop.
    #[serde(default)]
    pub open_loop: Option<OpenLoopFigures>,
    /// The column's client cannot make this operation (its reason, `not supported by …`): no
    /// calls were made, the cell is no measurement and no failure, and no verdict compares it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_supported: Option<String>,
}

/// What an open loop measured in one cell, over every round.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct OpenLoopFigures {
    /// Calls per second the column was asked to make (`--rate`).
    pub target_ops_per_sec: f64,
    /// Calls (successful or not) per second it made: over the time from each phase's first call
    /// to its last call's start (plus one interval), summed over the rounds.
    pub achieved_ops_per_sec: f64,
    /// Latency of successful calls from when each was due (corrected for coordinated omission),
    /// in microseconds.
    pub corrected_latency_us: LatencyStats,
    /// HDR histogram of the corrected latencies, encoded as `histogram` is.
    pub corrected_histogram: String,
    /// Calls that started more than 2 ms after they were due.
    pub late_calls: u64,
    /// Longest a call waited past when it was due before it started, in microseconds.
    pub max_start_lag_us: f64,
    /// True when the column made at least 95% of the target rate (calls over the wall time).
    pub kept_up: bool,
    /// How long after they were due calls started (actual start minus due time), in
    /// microseconds: how precisely the column kept to its schedule.
    #[serde(default)]
    pub start_lag_us: StartLagStats,
    /// HDR histogram of the start lags, encoded as `histogram` is.
    #[serde(default)]
    pub start_lag_histogram: String,
    /// The part of the start lag the waits are answerable for, in microseconds: how long after
    /// it was due each call started, or after its worker was ready when that was later.
    #[serde(default)]
    pub pacing_lag_us: StartLagStats,
    /// HDR histogram of the pacing lags, encoded as `histogram` is.
    #[serde(default)]
    pub pacing_lag_histogram: String,
    /// Calls that fell due while their worker was still busy (every call in flight taken): they
    /// start late however precisely the waits keep time.
    #[serde(default)]
    pub queued_calls: u64,
}

/// How long after they were due an open loop's calls started, in microseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct StartLagStats {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// Event-loop gaps in microseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct LoopGapStats {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    /// Gaps measured.
    pub samples: u64,
}

/// The competing thread's progress in iterations per second.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct CompetitorFigures {
    /// Alone in the worker after connecting (the fastest of three 100 ms runs).
    pub solo_per_sec: f64,
    /// While the column's calls ran (iterations over the summed time of the rounds).
    pub loaded_per_sec: f64,
    /// `loaded_per_sec / solo_per_sec`.
    pub fraction: f64,
    /// CPU seconds the competing thread itself used over the rounds; left out of the cell's `cpu`.
    pub cpu_secs: f64,
}

/// One round of one cell.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct RoundFigures {
    pub round: u32,
    pub count: u64,
    pub errors: u64,
    pub avg_us: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub ops_per_sec: f64,
    pub wall_secs: f64,
    /// CPU time of the process that ran the round's phase, during it.
    pub cpu_secs: Option<f64>,
    /// In an open loop (`--rate`): the round's latency from when each call was due; absent in a
    /// closed loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrected: Option<RoundLatency>,
}

/// One round's latency of successful calls, in microseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct RoundLatency {
    pub avg_us: f64,
    pub p50_us: f64,
    pub p99_us: f64,
}

impl RoundLatency {
    /// One round of several hosts as one, as `merge` does with service time: the mean weighted
    /// by successful calls, p50 and p99 the highest host's; `None` unless every host has one.
    pub fn of_hosts(rounds: &[&RoundFigures]) -> Option<RoundLatency> {
        let all: Vec<(RoundLatency, f64)> = rounds
            .iter()
            .map(|r| r.corrected.map(|c| (c, r.count.saturating_sub(r.errors) as f64)))
            .collect::<Option<_>>()?;
        let ok: f64 = all.iter().map(|(_, n)| n).sum();
        Some(RoundLatency {
            avg_us: if ok > 0.0 { all.iter().map(|(c, n)| c.avg_us * n).sum::<f64>() / ok } else { 0.0 },
            p50_us: all.iter().map(|(c, _)| c.p50_us).fold(0.0, f64::max),
            p99_us: all.iter().map(|(c, _)| c.p99_us).fold(0.0, f64::max),
        })
    }
}

/// CPU time and memory one cell's calls cost, over every round.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct CpuCost {
    /// CPU time (user + system, every thread) of the process that ran the phases, during them.
    pub cpu_secs: f64,
    /// CPU time per successful call, in µs.
    pub cpu_us_per_op: f64,
    /// Successful calls per CPU-second.
    pub ops_per_cpu_sec: f64,
    /// CPU seconds over wall seconds: 1.0 is one core busy the whole time.
    pub utilisation: f64,
    /// Peak resident memory of the worker process that ran the column (Python columns; null for
    /// columns that share aerobench's own process).
    pub peak_rss_bytes: Option<u64>,
    /// Time the client's garbage collector ran during the phases (Python columns).
    pub gc_secs: Option<f64>,
}

impl CpuCost {
    /// The cost of `successes` calls that took `cpu_secs` of CPU over `wall_secs`, with the
    /// per-call, per-CPU-second and utilisation figures derived from them (0 where a divisor is).
    pub fn from_totals(
        cpu_secs: f64,
        successes: u64,
        wall_secs: f64,
        peak_rss_bytes: Option<u64>,
        gc_secs: Option<f64>,
    ) -> CpuCost {
        let per = |num: f64, den: f64| if den > 0.0 { num / den } else { 0.0 };
        CpuCost {
            cpu_secs,
            cpu_us_per_op: per(cpu_secs * 1e6, successes as f64),
            ops_per_cpu_sec: per(successes as f64, cpu_secs),
            utilisation: per(cpu_secs, wall_secs),
            peak_rss_bytes,
            gc_secs,
        }
    }
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

/// A metric two cells are compared on.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum RatioMetric {
    OpsPerSec,
    /// Successful calls per CPU-second of the process that made them.
    OpsPerCpuSec,
    AvgLatency,
    P50Latency,
    P99Latency,
    /// In an open loop: median latency from when each call was due.
    CorrectedP50Latency,
    /// In an open loop: p99 latency from when each call was due.
    CorrectedP99Latency,
}

impl RatioMetric {
    /// True for the metrics of latency (service time or corrected), compared only between
    /// columns with the same calls in flight.
    pub fn is_latency(self) -> bool {
        !matches!(self, RatioMetric::OpsPerSec | RatioMetric::OpsPerCpuSec)
    }
}

/// `column` against `baseline` on one operation and metric.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Ratio {
    pub operation: String,
    /// `Column::id` being compared.
    pub column: String,
    /// `Column::id` it is compared with.
    pub baseline: String,
    pub metric: RatioMetric,
    /// How many times faster the column is (> 1 faster, < 1 slower): baseline latency over the
    /// column's, or the column's ops/s over the baseline's. Geometric mean over the rounds.
    pub speedup: Option<f64>,
    /// Bounds of the `confidence` interval of `speedup` (t-interval on the rounds' log ratios).
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub confidence: f64,
    /// The speedup of each round both cells ran, in round order.
    pub per_round: Vec<f64>,
    pub verdict: Verdict,
    /// Why there is no ratio (different calls in flight, failed calls...).
    pub reason: Option<String>,
    /// The ratio as the tables show it, e.g. `1.9x faster (1.7–2.1)`.
    pub text: String,
}

impl RunReport {
    /// The ratio of `column` against `baseline` on `operation` and `metric`, if computed.
    pub fn ratio(&self, operation: &str, column: &str, baseline: &str, metric: RatioMetric) -> Option<&Ratio> {
        self.ratios
            .iter()
            .find(|r| r.operation == operation && r.column == column && r.baseline == baseline && r.metric == metric)
    }

    pub fn column(&self, id: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.id == id)
    }

    pub fn cell(&self, column: &str, operation: &str) -> Option<&Cell> {
        self.cells.iter().find(|c| c.column == column && c.operation == operation)
    }
}
