//! The plan: what the user asked for, checked and resolved — which columns (one per client kind,
//! or one per version when several versions of a Python package run side by side), the workload,
//! where each Python client comes from, and the limits that stop a phase — before anything
//! connects.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::drivers::embedded::interpreter::{self, Interpreter};
use crate::drivers::embedded::packages::{self, Package, Source};
use crate::drivers::{self, ColumnKind, Family};
use crate::run::builds::{self, Build};
use crate::run::cli::{BenchArgs, EventLoop};
use crate::workload::{Materialise, Operation, Policies, Workload};

pub use crate::drivers::PlannedColumn;

#[derive(Debug)]
pub struct Plan {
    pub columns: Vec<PlannedColumn>,
    pub workload: Workload,
    /// The record spec the bins came from (`--record`), if any.
    pub record: Option<crate::workload::records::RecordSpec>,
    pub ops: Vec<Operation>,
    /// Calls in flight for the async columns.
    pub concurrency: u32,
    /// Threads (one call in flight each) for the sync columns.
    pub threads: u32,
    /// Measured rounds (with `--stop settled`, at most this many).
    pub rounds: u32,
    /// Whether the rounds run until the verdicts settle, or a fixed number of them.
    pub stop: crate::run::stop_rule::Stop,
    /// The smallest ratio a verdict calls a direction (`--min-effect`, a fraction).
    pub min_effect: f64,
    /// Write every record, untimed, before anything is measured.
    pub prewrite: bool,
    /// Length of each measured phase, instead of a number of calls.
    pub duration: Option<Duration>,
    /// The column every other is compared with (an id in `columns`), if any column runs.
    pub baseline: Option<String>,
    pub timeout_ms: u64,
    /// A phase gives up when nothing succeeds for this long.
    pub patience: Duration,
    /// Where each Python package comes from, by PyPI name: the first of its sources when several
    /// versions run (helper packages such as uvloop are taken from here).
    pub sources: BTreeMap<&'static str, Source>,
    pub event_loop: EventLoop,
    /// Microseconds each call of a no-op column takes (hidden `--stub-delay-us`).
    pub stub_delay_us: u64,
    /// No-op columns spin for their delay instead of sleeping (hidden `--stub-spin`).
    pub stub_spin: bool,
    /// Python no-op calls spend known shares in named functions (hidden `--stub-known-shares`).
    pub stub_known_shares: bool,
    /// `--profile`: where its files go and how long its phases run.
    pub profile: Option<crate::run::profile_settings::Settings>,
    /// Which policies every client runs with.
    pub policies: Policies,
    /// How much of a Python batch result the timed call reads.
    pub materialise: Materialise,
    /// A competing Python thread runs in each Python worker during measured phases.
    pub cpu_competitor: bool,
    /// The async Python no-op column blocks its loop (hidden `--stub-blocking`).
    pub stub_blocking: bool,
    /// This run's share of the key space (`--shard`); the workload's key prefix is the shard's.
    pub shard: Option<crate::model::results::Shard>,
    /// Time to live of the records written, in seconds (`--ttl`).
    pub ttl: Option<u32>,
    /// Clients connect through the server's alternate addresses (`--services-alternate`).
    pub services_alternate: bool,
    /// Reads compare every value with the value written (`--verify`).
    pub verify: bool,
    /// One more phase per column and operation with the client's own stage timers on (`--stages`).
    pub stages: bool,
    /// Calls per second per column in an open loop (`--rate`); `None` for a closed loop.
    pub rate: Option<f64>,
    /// How put and get calls choose their records (`--keys`, `--seed`).
    pub keys: crate::workload::keys::KeyChooser,
    /// Records put and get calls draw from (`--key-space`, at most `--count`).
    pub key_space: u64,
    /// The read/update mix asked for (`--workload`), if any.
    pub mix: Option<crate::workload::mix::WorkloadMix>,
    /// Calls a measured phase makes at least, cycling over the records (`--min-phase-calls`).
    pub min_phase_calls: u64,
    /// Time a measured phase runs at least, cycling over the records (`--min-phase-time`).
    pub min_phase_time: Duration,
    /// When the first measured phase starts, shared by the hosts of a sharded run (`--start-at`).
    pub start_at: Option<std::time::SystemTime>,
}

impl Plan {
    pub fn from_args(args: &BenchArgs) -> anyhow::Result<Plan> {
        validate(args)?;
        let sources = python_sources(args)?;
        let names = args.clients.clone().unwrap_or_else(|| drivers::default_clients(args.cpu_competitor));
        let columns = planned_columns(&column_interpreters(&names, &args.python)?, &sources);
        let baseline = baseline(args.baseline.as_deref(), &columns)?;
        let stop = stop(args)?;
        let mut plan = Plan {
            columns,
            rounds: args.rounds.unwrap_or(match stop {
                crate::run::stop_rule::Stop::Settled { .. } => crate::run::stop_rule::DEFAULT_MAX_ROUNDS,
                crate::run::stop_rule::Stop::Fixed if args.service.is_some() => 3,
                crate::run::stop_rule::Stop::Fixed => 10,
            }),
            stop,
            min_effect: args.min_effect,
            prewrite: !args.no_prewrite,
            duration: args.duration,
            baseline,
            workload: Workload {
                namespace: args.namespace.clone(),
                set: args.set.clone(),
                key_prefix: crate::workload::shard::key_prefix(&args.key_prefix, args.shard),
                count: args.count,
                batch_size: args.batch_size,
                bins: match &args.record {
                    Some(record) => crate::workload::spec_bins(record),
                    None => {
                        let (bins, size) = args.preset.map_or((args.bins, args.value_size), |p| p.shape());
                        Workload::bins_of(args.bin_type, bins, size)
                    }
                },
                scans: args.scans,
                warmup: args.warmup,
                seed: args.seed,
                read_bins: None,
            },
            record: args.record.clone(),
            ops: args.workload.map_or_else(|| args.ops.clone(), |mix| mix.ops()),
            concurrency: args.concurrency,
            threads: args.threads,
            timeout_ms: args.timeout_ms,
            // Two timeouts in a row without a success (at least 1 s).
            patience: Duration::from_millis(args.timeout_ms.saturating_mul(2)).max(Duration::from_secs(1)),
            sources: sources.iter().map(|(name, all)| (*name, all[0].source.clone())).collect(),
            event_loop: args.event_loop,
            stub_delay_us: args.stub_delay_us,
            stub_spin: args.stub_spin,
            stub_known_shares: args.stub_known_shares,
            profile: args.profile.then(|| {
                crate::run::profile_settings::Settings::new(
                    args.profile_dir.clone(),
                    args.output.as_deref(),
                    args.profile_time,
                )
            }),
            policies: args.policies,
            materialise: args.materialise,
            cpu_competitor: args.cpu_competitor,
            stub_blocking: args.stub_blocking,
            shard: args.shard,
            ttl: args.ttl,
            services_alternate: args.services_alternate,
            verify: args.verify,
            stages: args.stages || args.profile,
            rate: match args.rate.as_slice() {
                [] => None,
                [rate] => Some(*rate),
                // A list is a service run's steps (the service plan reads it).
                _ if args.service.is_some() => None,
                _ => anyhow::bail!(
                    "--rate takes one rate for the calls; a list of rates (a saturation curve) is for --service"
                ),
            },
            keys: crate::workload::keys::KeyChooser { distribution: args.keys, seed: args.seed },
            key_space: args.key_space.unwrap_or(args.count),
            mix: args.workload,
            min_phase_calls: args.min_phase_calls,
            min_phase_time: args.min_phase_time,
            start_at: args.start_at,
        };
        if plan.ops.contains(&Operation::Operate) {
            let taken = plan.workload.bins.iter().any(|b| b.name() == crate::workload::OPERATE_BIN);
            anyhow::ensure!(
                !taken,
                "the record names a bin {:?}, which the operate phase uses as its counter; rename that bin",
                crate::workload::OPERATE_BIN
            );
        }
        // Before any value is made: a record, and the run's records in all, within their caps.
        let record_bytes =
            crate::workload::records::size::check_record(&plan.workload.bins).map_err(anyhow::Error::msg)?;
        crate::workload::records::size::check_run(record_bytes, plan.workload.count).map_err(anyhow::Error::msg)?;
        if let Some(read) = &args.read_bins {
            let names: Vec<&str> = plan.workload.bins.iter().map(|b| b.name()).collect();
            plan.workload.read_bins = Some(read.resolve(&names)?);
        }
        Ok(plan)
    }

    /// How long a phase may run to reach `--min-phase-calls` once it has made its operation's
    /// own calls: `--min-phase-time`, at least 50 ms, so that slow operations (a few scans of a
    /// slow client) add at most that to a round.
    pub fn lengthen_cap(&self) -> Duration {
        self.min_phase_time.max(Duration::from_millis(50))
    }

    /// With `--start-at`, the time from one phase's start to the next one's: the phase's
    /// `--duration` and a settling gap (a tenth of it, at least 200 ms) for the calls still in
    /// flight at the deadline, the results' way back from a worker and the next phase's set-up.
    pub fn slot(&self) -> Option<Duration> {
        let duration = self.duration.filter(|_| self.start_at.is_some())?;
        Some(duration + (duration / 10).max(Duration::from_millis(200)))
    }

    /// Points a measured phase of `op` at the records as asked: single-record calls that leave
    /// the record in place follow the key distribution (deletes go through the records in order,
    /// each once), and a get phase makes the mix's updates.
    pub fn aim_keys(&self, phase: &mut crate::engine::Phase, op: Operation) {
        if matches!(
            op,
            Operation::Put
                | Operation::Get
                | Operation::Exists
                | Operation::Touch
                | Operation::Operate
                | Operation::ReadModifyWrite
                | Operation::Update
        ) {
            phase.keys = self.keys;
            phase.space = phase.space.min(self.key_space);
        }
        if op == Operation::Get {
            phase.updates = self.updates();
        }
    }

    /// Share of a get phase's calls that are updates, in a read/update mix.
    pub fn updates(&self) -> Option<f64> {
        self.mix.and_then(|m| m.update_share())
    }

    /// The operations the report has cells for: those run, and a mix's updates (puts).
    pub fn reported_ops(&self) -> Vec<Operation> {
        let mut ops = self.ops.clone();
        if self.updates().is_some() && !ops.contains(&Operation::Put) {
            ops.push(Operation::Put);
        }
        ops
    }

    /// Calls in flight for a column of `kind`.
    /// What every column starts with: the workload and the settings its client is given.
    pub fn lane_settings(&self) -> crate::drivers::start::LaneSettings<'_> {
        crate::drivers::start::LaneSettings {
            workload: &self.workload,
            ops: &self.ops,
            timeout_ms: self.timeout_ms,
            policies: self.policies,
            materialise: self.materialise,
            ttl: self.ttl,
            services_alternate: self.services_alternate,
            verify: self.verify,
            event_loop: self.event_loop.name(),
            uvloop: self.event_loop == EventLoop::Uvloop,
            cpu_competitor: self.cpu_competitor,
            stub_blocking: self.stub_blocking,
            stub_delay_us: self.stub_delay_us,
            stub_spin: self.stub_spin,
            stub_known_shares: self.stub_known_shares,
            sources: &self.sources,
        }
    }

    pub fn in_flight(&self, kind: &ColumnKind) -> u32 {
        match kind.family {
            // The floor is one call on one socket, always.
            Family::Wire => 1,
            _ if kind.asynchronous => self.concurrency,
            _ => self.threads,
        }
    }
}

/// The baseline column: the one asked for (a column id, or a kind name, which picks its first
/// version); else, when several builds of a client run, its first build (the first published
/// version, which comes before local builds); else `official-c` when it runs; else the first
/// column.
fn baseline(asked: Option<&str>, columns: &[PlannedColumn]) -> anyhow::Result<Option<String>> {
    let pick =
        |name: &str| columns.iter().find(|c| c.id == name).or_else(|| columns.iter().find(|c| c.kind.name == name));
    match asked {
        Some(name) => {
            let name = name.trim();
            let found = pick(name).ok_or_else(|| {
                anyhow::anyhow!(
                    "--baseline {name:?} is not among the columns that run ({}); name one of them, or add it to \
                     --clients",
                    columns.iter().map(|c| c.id.as_str()).collect::<Vec<_>>().join(", ")
                )
            })?;
            Ok(Some(found.id.clone()))
        }
        // Several versions of one client: the run is a release comparison, against the first.
        None => Ok(columns
            .iter()
            .find(|c| c.id.contains('@'))
            .or_else(|| pick("official-c"))
            .or_else(|| columns.first())
            .map(|c| c.id.clone())),
    }
}

/// How the rounds end: until the verdicts settle unless `--stop fixed`, or an option that needs
/// fixed rounds, says otherwise.
fn stop(args: &BenchArgs) -> anyhow::Result<crate::run::stop_rule::Stop> {
    use crate::run::stop_rule::{DEFAULT_BUDGET, Stop, StopMode};
    let fixed_by = if args.service.is_some() {
        Some(("--service", "a service run reads its steps as a curve, every step over the same rounds"))
    } else if !args.rate.is_empty() {
        Some(("--rate", "at a fixed rate the columns that keep up make the same ops/s, so no ops/s verdict settles"))
    } else if args.shard.is_some() || args.start_at.is_some() {
        let option = if args.shard.is_some() { "--shard" } else { "--start-at" };
        Some((option, "the hosts of a split run must run the same rounds for `aerobench merge` to pair them"))
    } else {
        None
    };
    match (args.stop, fixed_by) {
        (Some(StopMode::Settled), Some((option, why))) => {
            anyhow::bail!("--stop settled cannot run with {option}: {why}; leave --stop out (fixed rounds, --rounds N)")
        }
        (Some(StopMode::Fixed), _) | (None, Some(_)) => {
            if args.budget.is_some() {
                let why = fixed_by.map_or("--stop fixed".to_string(), |(option, _)| format!("{option} (fixed rounds)"));
                anyhow::bail!(
                    "--budget is the time of --stop settled's rounds, and {why} runs a fixed number; give --rounds N instead"
                );
            }
            Ok(Stop::Fixed)
        }
        (Some(StopMode::Settled) | None, None) => Ok(Stop::Settled { budget: args.budget.unwrap_or(DEFAULT_BUDGET) }),
    }
}

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
    if let Some(space) = args.key_space {
        anyhow::ensure!(
            space <= args.count,
            "--key-space {space} is more than the {} records written (--count); raise --count or lower --key-space",
            args.count
        );
    }
    for (i, op) in args.ops.iter().enumerate() {
        anyhow::ensure!(!args.ops[..i].contains(op), "--ops names {} twice; name each operation once", op.name());
    }
    update_bins_free(args)?;
    node_loss_fits_the_phase(args)
}

/// `--ops update` appends to the bin `upd_list` and increments an entry of `upd_map`: a record
/// spec that names either would have that bin overwritten (and its reads measure another record).
fn update_bins_free(args: &BenchArgs) -> anyhow::Result<()> {
    use crate::workload::{UPDATE_LIST_BIN, UPDATE_MAP_BIN};
    let (Some(record), true) = (&args.record, args.ops.contains(&Operation::Update)) else { return Ok(()) };
    let taken: Vec<&str> = record
        .bins
        .iter()
        .map(|(name, _)| name.as_str())
        .filter(|name| [UPDATE_LIST_BIN, UPDATE_MAP_BIN].contains(name))
        .collect();
    anyhow::ensure!(
        taken.is_empty(),
        "--record names the bin{} {}, which --ops update writes itself (it appends to {UPDATE_LIST_BIN} and \
         increments an entry of {UPDATE_MAP_BIN}), so the record's value would be overwritten: rename {} in \
         --record, or leave update out of --ops",
        if taken.len() == 1 { "" } else { "s" },
        taken.join(" and "),
        if taken.len() == 1 { "it" } else { "them" }
    );
    Ok(())
}

/// `--fail-node` takes the node out `--fail-at` into every measured phase for `--fail-for`, on the
/// server's clock: an outage that outlasts the phase goes on into the next column's phase, whose
/// calls then never reach that node while it is compared with columns that met the whole
/// cluster. So the outage must end inside a phase of known length (`--duration`); a phase that
/// makes a number of calls has no length known before it runs, and is refused.
fn node_loss_fits_the_phase(args: &BenchArgs) -> anyhow::Result<()> {
    let Some(node) = args.fail_node else { return Ok(()) };
    let secs = |d: Duration| humantime::format_duration(d).to_string();
    let end = args.fail_at + args.fail_for;
    // Room after the return for the columns to recover, in whole seconds.
    let suggested = Duration::from_secs((end + args.fail_for.max(Duration::from_secs(1))).as_secs_f64().ceil() as u64);
    let Some(phase) = args.duration else {
        anyhow::bail!(
            "--fail-node {node} takes the node out {} into every measured phase for {}, so it needs phases of a \
             known length: add --duration longer than {} (--fail-at + --fail-for), e.g. --duration {}; a phase \
             that makes a number of calls may end before the node is back, and the next column's phase would run \
             without it",
            secs(args.fail_at),
            secs(args.fail_for),
            secs(end),
            secs(suggested)
        );
    };
    anyhow::ensure!(
        end < phase,
        "--fail-at {} + --fail-for {} = {} does not end inside a phase of --duration {}: node {node} would still \
         be out when the next column's phase starts (its calls would never reach that node, and it would be \
         compared with columns that met the whole cluster). Give phases a --duration longer than {}, e.g. \
         --duration {}, or shorten --fail-at/--fail-for",
        secs(args.fail_at),
        secs(args.fail_for),
        secs(end),
        secs(phase),
        secs(end),
        secs(suggested)
    );
    Ok(())
}

/// The columns `--clients` names, each with the interpreters it runs under (none for columns
/// that are not Python): its `:pyX.Y` suffixes, and `--python` (or the linked interpreter) for
/// each time it is named without one. Interpreters are found and checked here, so a missing one
/// is a usage error before anything runs.
pub struct KindInterpreters {
    pub kind: &'static ColumnKind,
    pub interpreters: Vec<Interpreter>,
    /// Its id names its interpreter even when only one runs (it was asked for by suffix).
    pub suffixed: bool,
}

fn column_interpreters(names: &[String], python: &[String]) -> anyhow::Result<Vec<KindInterpreters>> {
    let mut found: Vec<(String, Interpreter)> = Vec::new();
    let mut find = |asked: &str| -> anyhow::Result<Interpreter> {
        if let Some((_, i)) = found.iter().find(|(a, _)| a == asked) {
            return Ok(i.clone());
        }
        let i = interpreter::resolve(asked)?;
        found.push((asked.to_string(), i.clone()));
        Ok(i)
    };
    let mut defaults = Vec::new();
    for asked in interpreter::parse_list(python)? {
        defaults.push(find(&asked)?);
    }
    if defaults.is_empty() {
        defaults.push(Interpreter::linked());
    }
    let mut bases = Vec::new();
    let mut asked_for: Vec<(String, Option<Interpreter>)> = Vec::new();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let (base, asked) = interpreter::split_suffix(name)?;
        bases.push(base.to_string());
        asked_for.push((base.to_string(), asked.map(&mut find).transpose()?));
    }
    let mut out = Vec::new();
    for kind in drivers::parse_columns(&bases)? {
        let mine = asked_for
            .iter()
            .filter(|(b, _)| drivers::parse_columns(std::slice::from_ref(b)).is_ok_and(|k| k[0] == kind));
        let mut interpreters: Vec<Interpreter> = Vec::new();
        let mut suffixed = false;
        for (base, asked) in mine {
            if !matches!(kind.family, Family::Python { .. }) {
                anyhow::ensure!(
                    asked.is_none(),
                    "--clients {base}: only Python columns run under an interpreter; drop the :py suffix"
                );
                continue;
            }
            suffixed |= asked.is_some();
            for i in asked.as_ref().map_or(defaults.as_slice(), std::slice::from_ref) {
                if !interpreters.iter().any(|have| have.executable == i.executable) {
                    interpreters.push(i.clone());
                }
            }
        }
        out.push(KindInterpreters { kind, interpreters, suffixed });
    }
    Ok(out)
}

/// One column per kind, or per kind and build when a package has several builds, and per
/// interpreter when it runs under several (or was given one by suffix: `kind:py3.14t`).
fn planned_columns(kinds: &[KindInterpreters], sources: &BTreeMap<&'static str, Vec<Build>>) -> Vec<PlannedColumn> {
    let mut out = Vec::new();
    // Columns name their interpreter when the run has more than one.
    let mut tags: Vec<&str> = kinds.iter().flat_map(|k| k.interpreters.iter().map(|i| i.tag.as_str())).collect();
    tags.sort_unstable();
    tags.dedup();
    let several = tags.len() > 1;
    for k in kinds {
        let kind = k.kind;
        let all = match kind.family {
            Family::Python { package: Some(p), .. } => sources[p.pip_name].iter().map(Some).collect(),
            Family::Python { package: None, .. } => vec![None],
            _ => {
                out.push(PlannedColumn::from(&kind));
                continue;
            }
        };
        let all: Vec<Option<&Build>> = all;
        for build in &all {
            let (id, label) = match build {
                Some(build) if all.len() > 1 => {
                    (format!("{}@{}", kind.name, build.tag), format!("{} {}", kind.label, build.tag))
                }
                _ => (kind.name.to_string(), kind.label.to_string()),
            };
            for python in &k.interpreters {
                let (id, label) = if several || k.suffixed || k.interpreters.len() > 1 {
                    (format!("{id}:py{}", python.tag), format!("{label} on {}", python.tag))
                } else if !python.is_linked() {
                    (id.clone(), format!("{label} on {}", python.tag))
                } else {
                    (id.clone(), label.clone())
                };
                out.push(PlannedColumn {
                    id,
                    label,
                    kind,
                    source: build.map(|b| b.source.clone()),
                    python: Some(python.clone()),
                });
            }
        }
    }
    out
}

/// The columns of `plan` grouped by client kind, in plan order, for kinds that run in several
/// versions: each group lists the ids of one kind's columns.
#[allow(dead_code, reason = "for comparisons between versions of one client; tested here")]
pub fn version_groups(plan: &Plan) -> Vec<(&'static str, Vec<&str>)> {
    let mut groups: Vec<(&'static str, Vec<&str>)> = Vec::new();
    for pc in &plan.columns {
        match groups.iter_mut().find(|(kind, _)| *kind == pc.kind.name) {
            Some((_, ids)) => ids.push(pc.id.as_str()),
            None => groups.push((pc.kind.name, vec![pc.id.as_str()])),
        }
    }
    groups.retain(|(_, ids)| ids.len() > 1);
    groups
}

fn package_named(opt: &str, name: &str) -> anyhow::Result<Package> {
    packages::by_name(name.trim()).ok_or_else(|| {
        let names: Vec<&str> = packages::PACKAGES.iter().map(|p| p.pip_name).collect();
        anyhow::anyhow!("{opt}: unknown package {name:?}; known packages: {}", names.join(", "))
    })
}

/// Splits `--client-version` values into versions per package: `PKG=V1,V2` gives two versions
/// of one package; an item with `=` starts another package (`PKG1=V1,PKG2=V2`), and repeating
/// the option adds to what came before.
pub fn parse_client_versions(values: &[String]) -> anyhow::Result<Vec<(Package, Vec<String>)>> {
    const OPT: &str = "--client-version";
    let mut out: Vec<(Package, Vec<String>)> = Vec::new();
    for value in values {
        let mut current: Option<usize> = None;
        for item in value.split(',').map(str::trim) {
            let version = match item.split_once('=') {
                Some((name, version)) => {
                    let package = package_named(OPT, name)?;
                    current = Some(match out.iter().position(|(p, _)| *p == package) {
                        Some(i) => i,
                        None => {
                            out.push((package, Vec::new()));
                            out.len() - 1
                        }
                    });
                    version.trim()
                }
                None if current.is_some() => item,
                None => anyhow::bail!(
                    "{OPT} takes PACKAGE=VERSION[,VERSION…], e.g. {OPT} aerospike-py=0.14.4; got {value:?}"
                ),
            };
            let i = current.unwrap_or_default();
            let name = out[i].0.pip_name;
            anyhow::ensure!(!version.is_empty(), "{OPT} {name}: empty version in {value:?}; e.g. {OPT} {name}=0.14.4");
            anyhow::ensure!(
                version.chars().all(|c| c.is_ascii_alphanumeric() || ".-+!".contains(c)),
                "{OPT} {name}: {version:?} is not a version number"
            );
            if !out[i].1.iter().any(|v| v == version) {
                out[i].1.push(version.to_string());
            }
        }
    }
    Ok(out)
}

/// The builds of each Python package that run: the pinned default, unless `--client-version` or
/// `--client-path` name others; naming both runs every build named, each as its own column
/// ([`crate::run::builds`]).
fn python_sources(args: &BenchArgs) -> anyhow::Result<BTreeMap<&'static str, Vec<Build>>> {
    let versions = parse_client_versions(&args.client_version)?;
    let mut paths: Vec<(Package, Build)> = Vec::new();
    for v in &args.client_path {
        paths.push(builds::parse_client_path(v)?);
    }
    let mut sources = BTreeMap::new();
    for p in packages::PACKAGES {
        let asked: Vec<String> = versions.iter().filter(|(q, _)| q == p).flat_map(|(_, v)| v.clone()).collect();
        let local: Vec<Build> = paths.iter().filter(|(q, _)| q == p).map(|(_, b)| b.clone()).collect();
        let all = if asked.is_empty() && local.is_empty() {
            builds::combine(p, &[p.default_version.to_string()], Vec::new())?
        } else {
            builds::combine(p, &asked, local)?
        };
        sources.insert(p.pip_name, all);
    }
    Ok(sources)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    fn plan(args: &[&str]) -> anyhow::Result<Plan> {
        let cli = crate::run::cli::Cli::try_parse_from(std::iter::once("aerobench").chain(args.iter().copied()))?;
        Plan::from_args(&cli.bench)
    }

    fn ids_of(columns: &[PlannedColumn]) -> Vec<&str> {
        columns.iter().map(|c| c.id.as_str()).collect()
    }

    #[test]
    fn python_columns_run_under_the_linked_interpreter_unless_told() {
        let linked = Interpreter::linked();
        let p = plan(&["--clients", "rust-sync,aerospike-py-sync"]).unwrap();
        assert_eq!(ids_of(&p.columns), ["rust-sync", "aerospike-py-sync"]);
        assert_eq!(p.columns[0].python, None);
        assert_eq!(p.columns[1].python.as_ref(), Some(&linked));
        // Asking for it by suffix names it in the id; asking twice gives one column.
        let tag = linked.tag.clone();
        let suffixed = format!("aerospike-py-sync:py{tag}");
        let p = plan(&["--clients", &format!("{suffixed},aerospike-py-sync"), "--python", &format!("{tag},{tag}")])
            .unwrap();
        assert_eq!(ids_of(&p.columns), [suffixed.as_str()]);
        let err = plan(&["--clients", "wire:py3.13"]).unwrap_err().to_string();
        assert!(err.contains("only Python columns"), "{err}");
        let err = plan(&["--python", "newest"]).unwrap_err().to_string();
        assert!(err.contains("give a version (3.13, 3.14t)"), "{err}");
    }

    #[test]
    fn several_interpreters_make_one_column_each_named_by_tag() {
        let at = |tag: &str| Interpreter {
            executable: format!("/opt/py{tag}/bin/python{tag}").into(),
            tag: tag.into(),
            version: format!("{tag}.0"),
        };
        let kind = |name: &str| drivers::parse_columns(&[name.to_string()]).unwrap()[0];
        let kinds = vec![
            KindInterpreters { kind: kind("rust-sync"), interpreters: vec![], suffixed: false },
            KindInterpreters {
                kind: kind("aerospike-py-sync"),
                interpreters: vec![at("3.11"), at("3.14t")],
                suffixed: false,
            },
            KindInterpreters { kind: kind("py-noop"), interpreters: vec![at("3.11")], suffixed: false },
        ];
        let version = |v: &str| Build { tag: v.into(), source: Source::Version(v.into()), given_as: String::new() };
        let mut sources: BTreeMap<&'static str, Vec<Build>> =
            packages::PACKAGES.iter().map(|p| (p.pip_name, vec![version(p.default_version)])).collect();
        let columns = planned_columns(&kinds, &sources);
        assert_eq!(
            ids_of(&columns),
            ["rust-sync", "aerospike-py-sync:py3.11", "aerospike-py-sync:py3.14t", "py-noop:py3.11"]
        );
        assert_eq!(columns[2].label, "aerospike-py (Rust) on 3.14t");
        assert_eq!(columns[2].python.as_ref().map(|i| i.tag.as_str()), Some("3.14t"));
        // With several versions too: the build, then the interpreter.
        sources.insert("aerospike-py", vec![version("0.13.0"), version("0.14.4")]);
        let columns = planned_columns(&kinds[1..2], &sources);
        assert_eq!(
            ids_of(&columns),
            [
                "aerospike-py-sync@0.13.0:py3.11",
                "aerospike-py-sync@0.13.0:py3.14t",
                "aerospike-py-sync@0.14.4:py3.11",
                "aerospike-py-sync@0.14.4:py3.14t"
            ]
        );
        // One interpreter that is not the linked one: the id stays, the label names it.
        let alone =
            [KindInterpreters { kind: kind("aerospike-py-sync"), interpreters: vec![at("3.13")], suffixed: false }];
        let columns = planned_columns(&alone, &sources);
        assert_eq!(columns[0].id, "aerospike-py-sync@0.13.0");
        assert!(columns[0].label.ends_with(" on 3.13"), "{}", columns[0].label);
    }

    #[test]
    fn sources_default_to_pinned_versions_and_take_overrides() {
        let p = plan(&[]).unwrap();
        assert_eq!(p.sources["aerospike-py"], Source::Version("0.14.4".into()));
        assert_eq!(p.columns.len(), 8);
        assert!(p.columns.iter().all(|c| c.id == c.kind.name && c.label == c.kind.label));
        let p =
            plan(&["--client-version", "aerospike-py=0.13.0", "--client-path", "aerospike=/x/site-packages"]).unwrap();
        assert_eq!(p.sources["aerospike-py"], Source::Version("0.13.0".into()));
        assert_eq!(p.sources["aerospike"], Source::Folder("/x/site-packages".into()));
        assert_eq!(p.sources["aerospike-native"], Source::Version("1.0.0".into()));
    }

    #[test]
    fn bad_plans_are_refused_with_the_option_named() {
        for (args, says) in [
            (&["--client-version", "aerospike-py=1.0; rm -rf /"][..], "not a version number"),
            (&["--client-version", "aerospike-py"][..], "PACKAGE=VERSION"),
            (&["--client-version", "aerospike-py="][..], "empty version"),
            (&["--client-version", "0.12.0,aerospike-py=0.14.4"][..], "PACKAGE=VERSION"),
            (&["--client-version", "java=1.0"][..], "unknown package"),
            (&["--client-path", "java=/x"][..], "unknown package"),
            (&["--ops", "get,get"][..], "twice"),
            (&["--set", ""][..], "--set"),
            (&["--baseline", "java"][..], "not among the columns"),
            (&["--clients", "rust-sync", "--baseline", "official-c"][..], "not among the columns"),
            (&["--rounds", "0"][..], "rounds"),
            (&["--duration", "2h"][..], "duration"),
        ] {
            let err = plan(args).unwrap_err().to_string();
            assert!(err.contains(says), "{args:?}: {err}");
        }
    }

    #[test]
    fn a_record_spec_gives_the_bins_and_read_bins_pick_from_them() {
        let p = plan(&["--record", "profile", "--read-bins", "2", "--seed", "7"]).unwrap();
        let names: Vec<&str> = p.workload.bins.iter().map(|b| b.name()).collect();
        assert_eq!(names, ["id", "name", "score", "active", "attrs", "recent"]);
        assert_eq!(p.workload.read_bins, Some(vec!["id".to_string(), "name".to_string()]));
        assert_eq!((p.workload.seed, p.record.unwrap().name.as_deref()), (7, Some("profile")));
        let p = plan(&["--bins", "4", "--read-bins", "s3,i"]).unwrap();
        assert_eq!(p.workload.read_bins, Some(vec!["s3".to_string(), "i".to_string()]), "any record, spec or not");
        assert!(plan(&[]).unwrap().record.is_none());
        for (args, says) in [
            (&["--record", "blob", "--read-bins", "3"][..], "at most 1"),
            (&["--record", "a=I", "--read-bins", "b"][..], "no bin of"),
            (&["--record", "ops=I", "--ops", "put,operate"][..], "operate phase"),
        ] {
            let err = plan(args).unwrap_err().to_string();
            assert!(err.contains(says), "{args:?}: {err}");
        }
        assert!(plan(&["--record", "ops=I", "--ops", "put,get"]).is_ok(), "no operate phase, no clash");
        assert!(plan(&["--record", "I,"]).is_err());
        assert!(plan(&["--record", "blob", "--bins", "3"]).is_err(), "--record replaces --bins");
    }

    #[test]
    fn records_too_large_one_by_one_or_in_all_are_refused_before_any_is_made() {
        let err = plan(&["--bins", "64", "--bin-type", "string", "--value-size", "1048576"]).unwrap_err().to_string();
        assert!(err.contains("64.0 MiB") && err.contains("more than the 8.0 MiB"), "{err}");
        let err = plan(&["--record", "B1048576", "--count", "100000"]).unwrap_err().to_string();
        assert!(err.contains("more than the 16.0 GiB") && err.contains("lower --count"), "{err}");
        assert!(plan(&["--record", "B1048576", "--count", "1000"]).is_ok());
    }

    fn versions(args: &[&str]) -> Vec<(&'static str, Vec<String>)> {
        let values: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse_client_versions(&values).unwrap().into_iter().map(|(p, v)| (p.pip_name, v)).collect()
    }

    #[test]
    fn client_versions_take_comma_lists_per_package() {
        let v = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(versions(&["aerospike-py=0.12.0,0.14.4"]), vec![("aerospike-py", v(&["0.12.0", "0.14.4"]))]);
        assert_eq!(
            versions(&["aerospike-py=0.12.0", "aerospike=19.3.0"]),
            vec![("aerospike-py", v(&["0.12.0"])), ("aerospike", v(&["19.3.0"]))]
        );
        assert_eq!(
            versions(&["aerospike-py=0.12.0,aerospike=19.3.0,19.2.0"]),
            vec![("aerospike-py", v(&["0.12.0"])), ("aerospike", v(&["19.3.0", "19.2.0"]))]
        );
        // Repeating the option adds versions; a version named twice runs once.
        assert_eq!(
            versions(&["aerospike_py=0.9.0", "aerospike-py= 0.14.4 ,0.9.0"]),
            vec![("aerospike-py", v(&["0.9.0", "0.14.4"]))]
        );
    }

    #[test]
    fn several_versions_make_one_column_each() {
        let p = plan(&[
            "--client-version",
            "aerospike-py=0.12.0,0.14.4",
            "--clients",
            "rust-sync,aerospike-py-sync,aerospike-py-async,official-c",
        ])
        .unwrap();
        let ids: Vec<&str> = p.columns.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            vec![
                "rust-sync",
                "aerospike-py-sync@0.12.0",
                "aerospike-py-sync@0.14.4",
                "aerospike-py-async@0.12.0",
                "aerospike-py-async@0.14.4",
                "official-c"
            ]
        );
        assert_eq!(p.columns[1].label, "aerospike-py (Rust) 0.12.0");
        assert_eq!(p.columns[4].source, Some(Source::Version("0.14.4".into())));
        assert_eq!(p.columns[0].source, None);
        assert_eq!(p.columns[5].source, Some(Source::Version("19.3.0".into())));
        assert_eq!(
            version_groups(&p),
            vec![
                ("aerospike-py-sync", vec!["aerospike-py-sync@0.12.0", "aerospike-py-sync@0.14.4"]),
                ("aerospike-py-async", vec!["aerospike-py-async@0.12.0", "aerospike-py-async@0.14.4"]),
            ]
        );
    }

    #[test]
    fn a_local_build_runs_beside_the_release_it_is_compared_with() {
        let p = plan(&[
            "--clients",
            "aerospike-py-sync,aerospike-py-async,official-c",
            "--client-path",
            "aerospike-py=venv",
            "--client-version",
            "aerospike-py=0.14.4",
        ])
        .unwrap();
        let ids: Vec<&str> = p.columns.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "aerospike-py-sync@0.14.4",
                "aerospike-py-sync@local",
                "aerospike-py-async@0.14.4",
                "aerospike-py-async@local",
                "official-c"
            ]
        );
        assert_eq!(p.columns[1].label, "aerospike-py (Rust) local");
        assert_eq!(p.columns[1].source, Some(Source::ActiveVirtualEnv));
        assert_eq!(p.baseline.as_deref(), Some("aerospike-py-sync@0.14.4"), "the release, not official-c");
        // Two published versions and a named folder.
        let p = plan(&[
            "--clients",
            "aerospike-py-sync",
            "--client-path",
            "aerospike-py@fix=/x/.venv",
            "--client-version",
            "aerospike-py=0.12.0,0.14.4",
        ])
        .unwrap();
        let ids: Vec<&str> = p.columns.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["aerospike-py-sync@0.12.0", "aerospike-py-sync@0.14.4", "aerospike-py-sync@fix"]);
        // A folder alone replaces the pinned version, under the kind's own name.
        let p = plan(&["--clients", "aerospike-py-sync", "--client-path", "aerospike-py=venv"]).unwrap();
        assert_eq!(p.columns.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["aerospike-py-sync"]);
    }

    #[test]
    fn the_same_build_given_two_ways_is_refused() {
        let err = plan(&[
            "--client-version",
            "aerospike-py=0.14.4",
            "--client-path",
            "aerospike-py=/d/aerospike_py-0.14.4-cp311-cp311-linux_x86_64.whl",
        ])
        .unwrap_err();
        let clash = err.downcast_ref::<crate::run::builds::Clash>().expect("a clash");
        assert_eq!(clash.tag, "0.14.4");
        let err = plan(&["--client-path", "aerospike-py=venv", "--client-path", "aerospike-py=/x/.venv"]).unwrap_err();
        assert!(err.to_string().contains("aerospike-py@NAME=/x/.venv"), "{err}");
    }

    #[test]
    fn baseline_defaults_to_the_official_client_else_the_first_column() {
        assert_eq!(plan(&[]).unwrap().baseline.as_deref(), Some("official-c"));
        assert_eq!(plan(&["--clients", "rust-sync,rust-async"]).unwrap().baseline.as_deref(), Some("rust-sync"));
        let p = plan(&["--baseline", "rust-async"]).unwrap();
        assert_eq!(p.baseline.as_deref(), Some("rust-async"));
        assert_eq!(p.rounds, crate::run::stop_rule::DEFAULT_MAX_ROUNDS);
        let p = plan(&["--client-version", "aerospike-py=0.12.0,0.14.4"]).unwrap();
        assert_eq!(p.baseline.as_deref(), Some("aerospike-py-sync@0.12.0"), "a release comparison");
        let p = plan(&["--client-version", "aerospike-py=0.12.0,0.14.4", "--baseline", "official-c"]).unwrap();
        assert_eq!(p.baseline.as_deref(), Some("official-c"));
    }

    #[test]
    fn rounds_run_until_settled_unless_fixed_or_an_option_needs_fixed_rounds() {
        use crate::run::stop_rule::{DEFAULT_BUDGET, Stop};
        let p = plan(&[]).unwrap();
        assert_eq!((p.stop, p.rounds), (Stop::Settled { budget: DEFAULT_BUDGET }, 30));
        let p = plan(&["--budget", "1m", "--rounds", "12"]).unwrap();
        assert_eq!((p.stop, p.rounds), (Stop::Settled { budget: std::time::Duration::from_secs(60) }, 12));
        let p = plan(&["--stop", "fixed"]).unwrap();
        assert_eq!((p.stop, p.rounds), (Stop::Fixed, 10));
        assert_eq!(plan(&["--rate", "1000"]).unwrap().stop, Stop::Fixed);
        assert_eq!(plan(&["--shard", "0/2"]).unwrap().stop, Stop::Fixed);
        for (args, says) in [
            (&["--stop", "fixed", "--budget", "10s"][..], "give --rounds N"),
            (&["--rate", "1000", "--budget", "10s"][..], "--rate (fixed rounds)"),
            (&["--rate", "1000", "--stop", "settled"][..], "--stop settled cannot run with --rate"),
            (&["--shard", "0/2", "--stop", "settled"][..], "aerobench merge"),
        ] {
            let err = plan(args).unwrap_err().to_string();
            assert!(err.contains(says), "{args:?}: {err}");
        }
    }

    #[test]
    fn a_competing_thread_brings_the_official_client_under_asyncio_unless_clients_are_named() {
        let ids = |args: &[&str]| plan(args).unwrap().columns.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
        assert!(!ids(&[]).contains(&"official-c-executor".to_owned()));
        assert!(ids(&["--cpu-competitor"]).contains(&"official-c-executor".to_owned()));
        assert_eq!(ids(&["--cpu-competitor", "--clients", "official-c"]), ["official-c"]);
    }

    #[test]
    fn a_shared_start_needs_a_phase_duration_and_gives_fixed_slots() {
        let err = plan(&["--start-at", "2026-12-03T21:00:00Z"]).unwrap_err().to_string();
        assert!(err.contains("--duration"), "{err}");
        let p = plan(&["--start-at", "2026-12-03T21:00:00Z", "--duration", "2s"]).unwrap();
        assert_eq!(p.slot(), Some(Duration::from_millis(2200)));
        let p = plan(&["--start-at", "1796331600", "--duration", "500ms"]).unwrap();
        assert_eq!(p.slot(), Some(Duration::from_millis(700)));
        assert_eq!(plan(&["--duration", "2s"]).unwrap().slot(), None);
        let p = plan(&[]).unwrap();
        assert_eq!((p.min_phase_calls, p.min_phase_time), (100, Duration::from_millis(50)));
        assert_eq!(p.lengthen_cap(), Duration::from_millis(50));
        let p = plan(&["--min-phase-time", "200ms"]).unwrap();
        assert_eq!(p.lengthen_cap(), Duration::from_millis(200));
        let p = plan(&["--min-phase-calls", "0", "--min-phase-time", "0"]).unwrap();
        assert_eq!((p.min_phase_calls, p.min_phase_time), (0, Duration::ZERO));
    }

    #[test]
    fn patience_is_two_timeouts_at_least_a_second() {
        assert_eq!(plan(&["--timeout-ms", "100"]).unwrap().patience, Duration::from_secs(1));
        assert_eq!(plan(&["--timeout-ms", "5000"]).unwrap().patience, Duration::from_secs(10));
    }
}
