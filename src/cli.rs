//! Command-line interface: what the user asked for, parsed and checked, and nothing else.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::report::Format;
use crate::server::ServeArgs;

const EXAMPLES: &str = "\
Examples:
  Try it on one machine, with the built-in in-memory server:
    aerobench --builtin-server --count 1000 --concurrency 50

  Against a real server (AEROSPIKE_HOST / AEROSPIKE_PORT work too):
    aerobench --host 10.0.0.5 --port 3000 --count 100000 --concurrency 64

  Only reads, as markdown for a pull request:
    aerobench --ops get,batch_get --format markdown --output bench.md

  JSON for a dashboard (progress goes to stderr, the document to stdout):
    aerobench --format json > run.json

  Two published aerospike-py versions side by side:
    aerobench --builtin-server --client-version aerospike-py=0.12.0,0.14.4 \\
      --clients aerospike-py-sync,aerospike-py-async

  Your own build of aerospike-py (after `maturin develop` in a virtualenv):
    aerobench --builtin-server --client-path aerospike-py=./.venv --clients aerospike-py-sync

  Two load hosts, one report (each host runs its shard, then merge the JSON):
    aerobench --shard 0/2 --format json --output shard-0.json
    aerobench merge shard-0.json shard-1.json --output merged.json

  Gate a pull request on p99 (exit code 3 when crossed beyond the noise):
    aerobench compare base.json new.json --fail-if 'p99>+10%' --format markdown

  Run the built-in server on its own:
    aerobench serve --port 3000

  On a shared server: records expire after an hour, are deleted at the end, and every value
  read is checked (exits 130 on Ctrl-C, 143 on SIGTERM, with the partial report):
    aerobench --host 10.0.0.5 --set aerobench --ttl 3600 --cleanup --verify

  What the package cache holds, and removing installs unused for a month:
    aerobench cache list
    aerobench cache clean --older-than 30d";

#[derive(Debug, Parser)]
#[command(
    name = "aerobench",
    version,
    about = "Measures how fast Aerospike clients are against your server, side by side",
    after_help = EXAMPLES,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub bench: BenchArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the built-in in-memory Aerospike-protocol server in the foreground.
    Serve(Box<ServeArgs>),
    /// Run one embedded-Python column (used internally: one process per Python client).
    #[command(hide = true)]
    Worker,
    /// Show or clean aerobench's cache of Python client packages (installed by --client-version,
    /// the pinned defaults and wheels given to --client-path).
    Cache {
        #[command(subcommand)]
        action: CacheAction,
    },
    /// Combine the JSON reports of several load hosts (e.g. each run with --shard I/N and one
    /// --start-at) into one: histograms added cell by cell, every percentile recomputed from the
    /// sum, counts and throughput summed; a round is merged only where every host completed it
    /// for every column, in step. Refuses runs of different workloads or orders, and phases the
    /// hosts did not run at the same time (unless --drop-unaligned).
    Merge(crate::merge::MergeArgs),
    /// Compare two JSON reports cell by cell (changes with the rounds' 95% intervals: a change
    /// inside the noise is not called a regression) and gate CI on them: exit code 3 when a cell
    /// of the new run has more failed calls, a round without a successful call or is missing, or
    /// when a --fail-if threshold (p99, throughput, open-loop corrected latency) is crossed.
    Compare(crate::compare_runs::CompareArgs),
    /// Print shell completions for aerobench.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum CacheAction {
    /// List each cached install: what it is (package==version or wheel name and hash), its size,
    /// when a run last used it, and its folder; then the total.
    List,
    /// Remove cached installs (all of them, or those unused for --older-than) and temporary
    /// folders left by interrupted installs; print what was freed.
    Clean {
        /// Only installs no run has used for this long: a whole number of days, hours, minutes
        /// or seconds, e.g. 30d, 12h, 90m.
        #[arg(long, value_name = "AGE", value_parser = crate::python::cache::parse_age)]
        older_than: Option<std::time::Duration>,
        /// Print what would be removed and remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Event loop the embedded Python async clients run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EventLoop {
    /// The standard library's asyncio loop.
    Asyncio,
    /// uvloop (installed into aerobench's cache on first use).
    Uvloop,
}

impl EventLoop {
    pub fn name(self) -> &'static str {
        match self {
            EventLoop::Asyncio => "asyncio",
            EventLoop::Uvloop => "uvloop",
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Records in the benchmark's key space, written (untimed) before anything is measured; a
    /// put or get phase makes one call per record, batch_get one per --batch-size records.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: u64,
    /// Do not write the records before measuring: reads then expect them from an earlier run with
    /// the same --count, --set and --key-prefix (and the first column's puts insert while the
    /// others overwrite).
    #[arg(long)]
    pub no_prewrite: bool,
    /// Measured rounds. Every round runs each operation for every column, one column at a time,
    /// in an order from a Williams design (over each cycle of as many rounds as columns, twice
    /// as many when their number is odd, every column runs in every position and right after
    /// every other column equally often; see the README); ratios get 95% intervals from the
    /// rounds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub rounds: u32,
    /// Run each measured phase (column × operation × round) for this long instead of --count
    /// calls, cycling over the --count records, e.g. 500ms, 2s, 1m.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub duration: Option<std::time::Duration>,
    /// Every measured phase makes at least this many calls (cycling over the records) when its
    /// operation would make fewer (batch_get makes --count / --batch-size, scan --scans), so a
    /// round's ops/s is throughput rather than one burst and its p99 a percentile; 0 makes
    /// exactly the operation's own calls. Once a phase has made its operation's own calls it
    /// stops after --min-phase-time (at least 50 ms) even short of this (a few slow
    /// scans); its rounds then give no p99 ratio. A lengthened phase keeps at most as many calls
    /// in flight as its operation's own calls (5 scans: 5 at a time). Not applied to delete
    /// phases or with --duration.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub min_phase_calls: u64,
    /// Every measured phase keeps making calls (cycling over the records) until it has run this
    /// long, so its CPU time is well above the clock's resolution, e.g. 50ms, 200ms; 0 for no
    /// minimum. Not applied to delete phases or with --duration.
    #[arg(long, default_value = "50ms", value_parser = parse_min_duration, value_name = "DURATION")]
    pub min_phase_time: std::time::Duration,
    /// Keep one schedule with the other hosts of a sharded run: the first measured phase starts
    /// at TIME (RFC 3339, e.g. 2026-12-03T21:00:00Z, or seconds since 1970), and phase k at TIME
    /// plus k slots of --duration and a settling gap (a tenth of --duration, at least 200 ms), so
    /// every host runs the same column and operation in the same wall-clock window (the
    /// connections, the records and the warm-up come before TIME). Needs --duration; give every
    /// host the same --start-at, --duration, --seed and columns.
    #[arg(long, value_name = "TIME", value_parser = parse_start_at, requires = "duration")]
    pub start_at: Option<std::time::SystemTime>,
    /// Column every other column is compared with (a --clients name). Default: official-c when
    /// it runs, else the first column.
    #[arg(long, value_name = "COLUMN")]
    pub baseline: Option<String>,
    /// Smallest difference a verdict calls faster or slower: a ratio whose whole 95% interval
    /// lies within this either way reads "within 3%" instead (0 turns it off).
    #[arg(long, value_name = "PERCENT", default_value = "3%", value_parser = crate::compare::wording::parse_min_effect)]
    pub min_effect: f64,
    /// Table layout: `clients` (one table per operation, a row per client) or `seed` (the seed
    /// benchmark's tables: operations as rows, clients as columns, its ratio columns).
    #[arg(long, value_enum, default_value = "clients")]
    pub layout: crate::report::Layout,
    /// Show each column's version, source and policies above the tables.
    #[arg(long, short)]
    pub verbose: bool,
    /// Calls in flight for the sync columns: N OS threads, each making one call at a time, so
    /// sync and async clients can be compared at the same calls in flight.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: u32,
    /// Open loop: each column makes this many calls per second, each call starting when it falls
    /// due whether or not earlier calls have ended (as independent users would). Latency is then
    /// shown from when each call was due (corrected for coordinated omission) beside the service
    /// time from when it started, with how late calls started against when they were due
    /// (start lag p50/p99/max), and a column that cannot keep to the rate is flagged. Without
    /// it a call starts only when one ends (closed loop).
    #[arg(long, value_name = "OPS", value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Which record each put and get call uses: sequential (call n uses record n), uniform,
    /// zipfian[:THETA] (a few records take most calls; THETA 0.99 unless given) or hotspot:X/Y
    /// (X% of calls go to Y% of the records). Drawn with --seed, so every client and every run
    /// with the same seed uses the same record for the same call.
    #[arg(long, value_name = "DISTRIBUTION", default_value = "sequential", value_parser = crate::keys::KeyDistribution::parse)]
    pub keys: crate::keys::KeyDistribution,
    /// A read/update mix instead of --ops: read-only (gets), write-only (puts), read-update:P
    /// (one phase in which P% of the calls are gets and the rest puts, drawn with --seed; reads
    /// and updates are reported as separate get and put cells) or read-modify-write (each call a
    /// get then a put of the same record, timed as one: a read_modify_write cell).
    #[arg(long, value_name = "MIX", value_parser = crate::mix::WorkloadMix::parse, conflicts_with = "ops")]
    pub workload: Option<crate::mix::WorkloadMix>,
    /// Seed of the key distribution (--keys), of a read/update mix (--workload) and of the
    /// columns' order over the rounds (the same seed gives the same order on every host).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Put, get, exists, touch, operate and read-modify-write calls draw their records from the
    /// first N of the --count records written (default: all of them).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub key_space: Option<u64>,
    /// Operations in flight at once for the concurrent columns.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub concurrency: u32,
    /// Server address.
    #[arg(long, env = "AEROSPIKE_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Server port.
    #[arg(long, env = "AEROSPIKE_PORT", default_value_t = 3000)]
    pub port: u16,
    /// Namespace to write to.
    #[arg(long, default_value = "test")]
    pub namespace: String,
    /// Set to write to; aerobench only touches keys it wrote (prefixed with --key-prefix).
    #[arg(long, default_value = "aerobench")]
    pub set: String,
    /// Prefix of every key aerobench writes.
    #[arg(long, default_value = "aerobench-")]
    pub key_prefix: String,
    /// Operations to run, in order. Besides the default four: exists, touch, operate (increment
    /// a counter bin `ops` and read it back), delete (records are written again, untimed, after
    /// each delete phase) and batch_write (--batch-size records per call). A client without the
    /// operation gets a cell whose calls failed with "not supported by <client> <version>".
    #[arg(long, value_delimiter = ',', default_value = "put,get,batch_get,scan")]
    pub ops: Vec<crate::workload::Operation>,
    /// Columns to run (client and concurrency model), from: wire, rust-sync, rust-async,
    /// aerospike-py-sync, official-c, official-c-executor, aerospike-py-async,
    /// aerospike-native-sync, aerospike-native-async. Default: all but official-c-executor; with
    /// --cpu-competitor, all (the official client under asyncio is what an async service
    /// compares with). A Python column runs under another interpreter with a suffix, e.g.
    /// aerospike-py-sync:py3.14t (see --python).
    #[arg(long, value_delimiter = ',')]
    pub clients: Option<Vec<String>>,
    /// Use other published versions of a Python client, installed on first use into aerobench's
    /// cache: aerospike-py=0.13.0 for one, aerospike-py=0.12.0,0.14.4 for one column per
    /// version (side by side). Repeat the option or separate packages with commas
    /// (aerospike-py=0.13.0,aerospike=19.3.0).
    #[arg(long, value_name = "PACKAGE=VERSION[,VERSION…]")]
    pub client_version: Vec<String>,
    /// Load a Python client from a folder (site-packages or a virtualenv, e.g. after
    /// `maturin develop`; its .pth files are read, so editable installs work), a wheel, or `venv`
    /// for the active VIRTUAL_ENV, e.g. aerospike-py=./.venv. Repeat for several packages.
    #[arg(long, value_name = "PACKAGE=PATH")]
    pub client_path: Vec<String>,
    /// Python interpreter(s) for the Python columns: 3.13, 3.14t, a path, or a list.
    ///
    /// A version is looked up among pyenv's versions, then as pythonX.Y (pythonX.Yt) on PATH. A
    /// list (--python 3.11,3.13) runs each Python column once per interpreter, side by side, with
    /// `:py3.11` / `:py3.13` appended to its id. One column alone takes a suffix instead:
    /// --clients aerospike-py-sync,aerospike-py-sync:py3.14t. Any CPython >= 3.11 with a shared
    /// libpython, free-threaded builds included. Packages are installed per interpreter; for an
    /// interpreter other than the one aerobench was built with, a worker is built with cargo on
    /// first use (minutes) and cached. Default: the one aerobench was built with.
    #[arg(long, value_name = "VERSION|PATH[,…]", help_heading = "Clients")]
    pub python: Vec<String>,
    /// Event loop for the Python async columns.
    #[arg(long, value_enum, default_value = "asyncio")]
    pub event_loop: EventLoop,
    /// Keys per batch_get call.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=5000))]
    pub batch_size: u32,
    /// Bins per record (what they hold: --bin-type).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub bins: u32,
    /// What the bins hold: mixed (an int, a string, a double, then strings), or every bin an
    /// int, a float or a string.
    #[arg(long, value_enum, default_value = "mixed")]
    pub bin_type: crate::workload::BinType,
    /// Bytes in each string bin.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(0..=1_048_576))]
    pub value_size: u32,
    /// Record shape by name instead of --bins and --value-size: small (3 bins, 10-byte strings),
    /// medium (10 bins, 100-byte strings) or large (50 bins, 1 KiB strings).
    #[arg(long, value_enum, conflicts_with_all = ["bins", "value_size"])]
    pub preset: Option<crate::preset::Preset>,
    /// Whole-set scans in the measured scan phase.
    #[arg(long, default_value_t = 5)]
    pub scans: u64,
    /// Calls of each operation each column makes before the first round, not recorded
    /// (0 to skip; batch_get and scan derive theirs from it).
    #[arg(long, default_value_t = 100)]
    pub warmup: u64,
    /// Policies the clients run with: explicit (the same timeouts, no retries and large pools for
    /// every client) or each client's own defaults.
    #[arg(long, value_enum, default_value = "explicit")]
    pub policies: crate::workload::Policies,
    /// What a Python batch call's timed region includes: records (every returned record read, as
    /// an application does; what the official client always does inside its call) or none (stop
    /// at what the client returns; record counts are then keys asked).
    #[arg(long, value_enum, default_value = "records")]
    pub materialise: crate::workload::Materialise,
    /// Per-operation timeout in milliseconds.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_ms: u64,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Write the report to this file instead of stdout.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
    /// Start the built-in in-memory server on a free port, run against it, stop it at the end.
    #[arg(long)]
    pub builtin_server: bool,
    /// With --builtin-server: run it as a cluster of N nodes on one machine (each on its own
    /// port with its own partitions, sharing one store), so that every client routes by
    /// partition and splits batches per node as against a real cluster (docs/cluster.md).
    #[arg(long, value_name = "N", requires = "builtin_server", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub nodes: Option<u16>,
    /// With --nodes: take built-in node N (1 = the seed) out of the cluster --fail-at into every
    /// measured phase, for --fail-for, and bring it back, so that every client meets the same
    /// loss mid-phase: its partitions move to the survivors and back, and the report gives each
    /// column's failures and recovery time (give phases a --duration longer than both).
    /// docs/cluster.md.
    #[arg(long, value_name = "N", requires = "nodes")]
    pub fail_node: Option<u16>,
    /// When --fail-node fails, into each measured phase, e.g. 2s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "2s", requires = "fail_node")]
    pub fail_at: std::time::Duration,
    /// How long --fail-node stays out, e.g. 5s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "2s", requires = "fail_node")]
    pub fail_for: std::time::Duration,
    /// Write into --set even when it holds records aerobench did not write (it checks the set
    /// first and refuses without this; it still touches only its own keys).
    #[arg(long)]
    pub force: bool,
    /// Delete every record this run wrote (its own keys, nothing else) when the run ends, also
    /// after Ctrl-C.
    #[arg(long)]
    pub cleanup: bool,
    /// Time to live of the records written, in seconds (default: the namespace's default TTL).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u32).range(1..))]
    pub ttl: Option<u32>,
    /// Connect every client through the addresses the server advertises as alternate
    /// (`service-clear-alt`, `access-address` for clients outside a container or NAT) instead of
    /// its standard ones.
    #[arg(long)]
    pub services_alternate: bool,
    /// Compare every value read (get, batch_get, scan) with the value written; a record that
    /// differs fails its call as a value mismatch, counted per cell (the comparison is part of
    /// each read's time; the wire floor does not decode values and is not checked).
    #[arg(long)]
    pub verify: bool,
    #[command(flatten)]
    pub security: crate::security::SecurityArgs,
    /// Microseconds each call of the no-op columns takes (tests that check measured values).
    #[arg(long, hide = true, default_value_t = 0)]
    pub stub_delay_us: u64,
    /// With --stub-delay-us, no-op columns keep the CPU busy for the delay instead of sleeping.
    #[arg(long, hide = true)]
    pub stub_spin: bool,
    /// Run a pure-Python busy thread in each Python column's worker during measured phases, and
    /// report how fast it ran against its speed alone.
    #[arg(long)]
    pub cpu_competitor: bool,
    /// The async Python no-op column blocks its event loop for the stub delay (tests).
    #[arg(long, hide = true)]
    pub stub_blocking: bool,
    /// Also draw the run as an SVG picture: per operation, latency by percentile (log scale to
    /// 99.99%, one line per client) and throughput per round; lines differ by dash and marker,
    /// so it reads in black and white.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Write live figures while the run goes, every DURATION (e.g. 1s): one JSON object per line
    /// per cell and interval (calls, errors, ops/s, p50/p99/max and the interval's histogram),
    /// then a line holding the whole report; see schema-live.json. To stdout (instead of the
    /// report, unless --output) or to --live FILE.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub interval: Option<std::time::Duration>,
    /// File the --interval lines go to (default 1s when --interval is not given), e.g. a file a
    /// dashboard agent tails.
    #[arg(long, value_name = "FILE")]
    pub live: Option<PathBuf>,
    /// Run shard INDEX of COUNT (0-based, e.g. 0/4) of a benchmark split between load hosts: the
    /// same workload on keys of this shard's own (`{key-prefix}{INDEX}-{i}`, --count of them);
    /// combine the hosts' JSON reports with `aerobench merge`.
    #[arg(long, value_name = "INDEX/COUNT", value_parser = crate::shard::parse)]
    pub shard: Option<crate::results::Shard>,
}

/// Parses a positive rate in calls per second, e.g. `5000` or `2.5`.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    match text.trim().replace('_', "").parse::<f64>() {
        Ok(r) if r.is_finite() && (0.001..=10_000_000.0).contains(&r) => Ok(r),
        _ => {
            Err(format!("{text:?} is not a rate; give calls per second per column, from 0.001 to 10000000, e.g. 5000"))
        }
    }
}

/// Parses `0` (no minimum) or a duration as [`parse_duration`] does.
pub fn parse_min_duration(text: &str) -> Result<std::time::Duration, String> {
    if text.trim().trim_end_matches(|c: char| c.is_ascii_alphabetic()).parse::<f64>() == Ok(0.0) {
        return Ok(std::time::Duration::ZERO);
    }
    parse_duration(text)
}

/// Parses a wall-clock time: RFC 3339 (`2026-12-03T21:00:00Z`) or seconds since 1970.
pub fn parse_start_at(text: &str) -> Result<std::time::SystemTime, String> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<f64>()
        && secs.is_finite()
        && secs > 0.0
    {
        return Ok(std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(secs));
    }
    humantime::parse_rfc3339_weak(t).map_err(|_| {
        format!(
            "{text:?} is not a time; give RFC 3339 in UTC, e.g. 2026-12-03T21:00:00Z, or seconds since 1970, \
             e.g. $(( $(date +%s) + 60 ))"
        )
    })
}

/// Parses `500ms`, `2s`, `1.5s`, `1m`: a positive number and a unit (ms, s, m).
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| format!("{text:?} is not a duration; use e.g. 500ms, 2s or 1m"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1_000.0,
        "s" | "" => value,
        "m" | "min" => value * 60.0,
        other => return Err(format!("unknown unit {other:?} in {text:?}; use ms, s or m")),
    };
    if !(0.001..=86_400.0).contains(&seconds) {
        return Err(format!("{text:?} is out of range; use 1ms to 24h"));
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        for bad in ["", "s", "-1s", "2h", "0ms", "1e9s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn minimum_phase_times_and_start_times() {
        assert_eq!(parse_min_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_min_duration("0ms"), Ok(Duration::ZERO));
        assert_eq!(parse_min_duration("50ms"), Ok(Duration::from_millis(50)));
        assert!(parse_min_duration("-1ms").is_err());
        let at = parse_start_at("2026-12-03T21:00:00Z").unwrap();
        assert_eq!(at.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(), 1_796_331_600);
        assert_eq!(parse_start_at("1796331600").unwrap(), at);
        assert_eq!(parse_start_at("1796331600.5").unwrap(), at + Duration::from_millis(500));
        for bad in ["", "tomorrow", "-5", "2026-13-03T21:00:00Z"] {
            assert!(parse_start_at(bad).unwrap_err().contains("RFC 3339"), "{bad}");
        }
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("5000"), Ok(5000.0));
        assert_eq!(parse_rate("20_000"), Ok(20_000.0));
        assert_eq!(parse_rate("0.5"), Ok(0.5));
        for bad in ["", "0", "-5", "fast", "inf", "NaN", "1e9"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }
}
