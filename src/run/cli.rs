//! Command-line interface: what the user asked for, parsed and checked, and nothing else.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::report::Format;
use crate::server::ServeArgs;

/// Examples under `-h`: the two commands most runs start from.
const EXAMPLES_SHORT: &str = "\
Examples (more with --help; the guide: README.md and docs/):
  aerobench --builtin-server --count 1000 --concurrency 50
  aerobench --host 10.0.0.5 --port 3000 --count 100000 --concurrency 64";

/// Examples under `--help`.
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

  An open loop: 2000 calls per second per column, latency from when each call was due:
    aerobench --builtin-server --clients wire,rust-async --ops get --duration 3s --rate 2000

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
    after_help = EXAMPLES_SHORT,
    after_long_help = EXAMPLES,
    args_conflicts_with_subcommands = true,
    disable_help_subcommand = true
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
    /// Serve a service run's app floor on its own, for another load generator (benchmarks).
    ///
    /// Takes the options of a run (--service SCENARIO, --app-workers, --count, --batch-size, …),
    /// starts the app floor with uvicorn as that run would (no database: the floor answers from
    /// records precomputed at startup), prints `listening on ADDR`, and stops the app when stdin
    /// closes, on Ctrl-C or on SIGTERM.
    #[command(hide = true)]
    ServeApp(Box<BenchArgs>),
    /// One closed-loop slice of aerobench's HTTP load generator against a URL (benchmarks).
    ///
    /// Prints one JSON line: requests, errors, requests/s (2xx answers over the elapsed time),
    /// p50/p99 in µs, and this process's CPU time over the slice.
    #[command(hide = true)]
    HttpLoad(HttpLoadArgs),
    /// Show or clean the cache of Python client packages.
    ///
    /// The cache holds what --client-version, the pinned defaults and wheels given to
    /// --client-path installed.
    Cache {
        #[command(subcommand)]
        action: CacheAction,
    },
    /// Combine the JSON reports of several load hosts into one.
    ///
    /// For runs made with --shard I/N and one --start-at: histograms added cell by cell, every
    /// percentile recomputed from the sum, counts and throughput summed; a round is merged only
    /// where every host completed it for every column, in step. Refuses runs of different
    /// workloads or orders, and phases the hosts did not run at the same time (unless
    /// --drop-unaligned).
    Merge(crate::run::merge::MergeArgs),
    /// Compare two JSON reports and gate CI on them (exit code 3).
    ///
    /// Cell by cell, changes with the rounds' 95% intervals: a change inside the noise is not
    /// called a regression. Exit code 3 when a cell of the new run has more failed calls, a round
    /// without a successful call or is missing, or when a --fail-if threshold (p99, throughput,
    /// open-loop corrected latency) is crossed. Two saved runs are two fixed samples looked at
    /// once, so their intervals are Welch's, not the confidence sequence of --stop settled (a
    /// settled run compares like any other: its cells' later rounds are not missing).
    Compare(crate::analysis::compare_runs::CompareArgs),
    /// Print shell completions for aerobench.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `aerobench man > aerobench.1`.
    ///
    /// Generated from the same option definitions as --help: the options under their headings,
    /// each with its long text, and the examples.
    Man,
}

/// The man page of aerobench, in roff: generated from the same definitions as `--help`.
pub fn man_page(out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use clap::CommandFactory as _;
    clap_mangen::Man::new(Cli::command()).render(out)
}

#[derive(Debug, Subcommand)]
pub enum CacheAction {
    /// List each cached install: what it is (package==version or wheel name and hash), its size,
    /// when a run last used it, and its folder; then the total.
    List,
    /// Remove cached installs (all of them, or those unused for --older-than) and temporary
    /// folders left by interrupted installs; print what was freed. Only folders carrying
    /// aerobench's marker file (.aerobench-cache) are looked into: other tools' folders in a
    /// shared cache directory are never touched, and an unmarked one holding aerobench installs
    /// (from an older aerobench) is named and left alone.
    Clean {
        /// Only installs no run has used for this long: a whole number of days, hours, minutes
        /// or seconds, e.g. 30d, 12h, 90m.
        #[arg(long, value_name = "AGE", value_parser = crate::drivers::embedded::cache::parse_age)]
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

/// `aerobench http-load URL`: one slice of aerobench's HTTP load generator.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpLoadArgs {
    /// The app to load, http://HOST:PORT/PATH?QUERY: every request asks for this path
    #[arg(value_name = "URL")]
    pub url: String,
    /// Keep-alive connections, each sending its next request as soon as the last answered
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub vus: u32,
    /// How long to send requests, e.g. 5s
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub duration: std::time::Duration,
    /// A request with no answer after this long fails as "timeout"
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
}

/// Every option of a benchmark run, grouped under the headings `-h` shows. The first line of each
/// doc comment is its `-h` line; the rest is shown by `--help` only.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    // ---- What to run ----
    /// Operations, in order (more in --help)
    ///
    /// Besides the default four (put, get, batch_get, scan): exists, touch, operate (increment a
    /// counter bin `ops` and read it back), delete (records are written again, untimed, after each
    /// delete phase), batch_write (--batch-size records per call) and update (in place through
    /// operate: append to a list bin `upd_list`, increment the entry `updates` of a map bin
    /// `upd_map`, read that entry back, in one call; docs/numpy-and-operate.md). A client without
    /// the operation gets a "not supported" cell (the notes say why): its first call tells, no
    /// more are made, and it does not fail the run.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "put,get,batch_get,scan",
        hide_possible_values = true,
        help_heading = "What to run"
    )]
    pub ops: Vec<crate::workload::Operation>,
    /// Columns to run (client and concurrency model)
    ///
    /// From: wire, rust-sync, rust-async, aerospike-py-sync, official-c, official-c-executor,
    /// aerospike-py-async, aerospike-native-sync, aerospike-native-async, aerospike-sdk-sync,
    /// aerospike-sdk-async. Default: all but official-c-executor and the aerospike-sdk columns;
    /// with --cpu-competitor, official-c-executor joins them (the official client under asyncio
    /// is what an async service compares with). A Python column runs under another interpreter
    /// with a suffix, e.g. aerospike-py-sync:py3.14t (see --python).
    #[arg(long, value_delimiter = ',', value_name = "COLUMN,…", help_heading = "What to run")]
    pub clients: Option<Vec<String>>,
    /// A read/update mix instead of --ops
    ///
    /// read-only (gets), write-only (puts), read-update:P (one phase in which P% of the calls are
    /// gets and the rest puts, drawn with --seed; reads and updates are reported as separate get
    /// and put cells) or read-modify-write (each call a get then a put of the same record, timed
    /// as one: a read_modify_write cell).
    #[arg(long, value_name = "MIX", value_parser = crate::workload::mix::WorkloadMix::parse, conflicts_with = "ops", help_heading = "What to run")]
    pub workload: Option<crate::workload::mix::WorkloadMix>,
    /// Column every other column is compared with
    ///
    /// A --clients name. Default: official-c when it runs, else the first column.
    #[arg(long, value_name = "COLUMN", help_heading = "What to run")]
    pub baseline: Option<String>,
    /// At most N rounds, until the verdicts settle (--stop fixed: exactly N)
    ///
    /// Measured rounds, interleaved. By default the rounds go on until every verdict settles
    /// (--stop, --budget), at most N of them (30 unless given); with --stop fixed exactly N (10
    /// unless given; 3 with --service, where every step runs every round).
    ///
    /// Every round runs each operation for every column, one column at a time, in an order from a
    /// Williams design (over each cycle of as many rounds as columns, twice as many when their
    /// number is odd, every column runs in every position and right after every other column
    /// equally often; see docs/measurement.md); ratios get 95% intervals from the rounds.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000), help_heading = "What to run")]
    pub rounds: Option<u32>,
    /// How many rounds: until the verdicts settle, or a fixed number
    ///
    /// settled (the default): after each round from the third, every ops/s verdict (each column
    /// against the baseline) gets an interval that stays valid however often it is looked at (a
    /// confidence sequence, docs/verdicts.md); a column and operation whose verdicts lie wholly
    /// beyond the minimum effect or wholly within it stops being measured, and the rounds end when
    /// none is left open, at --budget or at --rounds. fixed: exactly --rounds rounds (10), 95%
    /// Student-t intervals. --rate, --service, --shard and --start-at run fixed rounds:
    /// at a fixed rate the columns' ops/s are the rate, a service run's steps are read as a curve,
    /// and the hosts of a split run must run the same rounds.
    #[arg(long, value_enum, value_name = "MODE", help_heading = "What to run", hide_short_help = true)]
    pub stop: Option<crate::run::stop_rule::StopMode>,
    /// Time the measured rounds may take with --stop settled (default 20s)
    ///
    /// No round starts that the last round's length says would end past it (the first three
    /// always run); the cells still open then are reported with their interval as it stood.
    /// The default, 20s, is about what the everyday call's ten fixed rounds took on a 2-vCPU
    /// machine: a run never waits longer than it did, and stops sooner when the answer is clear.
    #[arg(long, value_name = "DURATION", value_parser = parse_budget, help_heading = "What to run", hide_short_help = true)]
    pub budget: Option<std::time::Duration>,
    /// Run each phase this long instead of --count calls
    ///
    /// Each measured phase (column × operation × round) runs this long, cycling over the --count
    /// records, e.g. 500ms, 2s, 1m.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", help_heading = "What to run")]
    pub duration: Option<std::time::Duration>,
    /// This host's share of a split run, e.g. 0/4
    ///
    /// Run shard INDEX of COUNT (0-based) of a benchmark split between load hosts: the same
    /// workload on keys of this shard's own (`{key-prefix}{INDEX}-{i}`, --count of them); combine
    /// the hosts' JSON reports with `aerobench merge` (docs/many-hosts.md).
    #[arg(long, value_name = "INDEX/COUNT", value_parser = crate::workload::shard::parse, help_heading = "What to run")]
    pub shard: Option<crate::model::results::Shard>,
    /// One schedule shared with the other hosts
    ///
    /// The first measured phase starts at TIME (RFC 3339, e.g. 2026-12-03T21:00:00Z, or seconds
    /// since 1970), and phase k at TIME plus k slots of --duration and a settling gap (a tenth of
    /// --duration, at least 200 ms), so every host runs the same column and operation in the same
    /// wall-clock window (the connections, the records and the warm-up come before TIME). Needs
    /// --duration; give every host the same --start-at, --duration, --seed and columns.
    #[arg(long, value_name = "TIME", value_parser = parse_start_at, requires = "duration", help_heading = "What to run")]
    pub start_at: Option<std::time::SystemTime>,

    // ---- Clients ----
    /// Other published versions of a Python client
    ///
    /// Installed on first use into aerobench's cache: aerospike-py=0.13.0 for one,
    /// aerospike-py=0.12.0,0.14.4 for one column per version (side by side). Repeat the option or
    /// separate packages with commas (aerospike-py=0.13.0,aerospike=19.3.0).
    ///
    /// With --client-path for the same package, both run side by side: the versions first (the
    /// first is what the others are compared with), then the local builds.
    #[arg(long, value_name = "PKG=V", help_heading = "Clients")]
    pub client_version: Vec<String>,
    /// A Python client from a folder, venv or wheel
    ///
    /// Load a Python client from a folder (site-packages or a virtualenv, e.g. after `maturin
    /// develop`; its .pth files are read, so editable installs work), a wheel, or `venv` for the
    /// active VIRTUAL_ENV, e.g. aerospike-py=./.venv. Repeat for several packages.
    ///
    /// Given with --client-version for the same package, or repeated for one package, every build
    /// runs as its own column: aerospike-py-sync@0.14.4 (a version, or a wheel's version),
    /// aerospike-py-sync@local (a folder), or the name given as PACKAGE@NAME=PATH. Two builds
    /// with the same name are refused (a wheel of 0.14.4 beside --client-version
    /// aerospike-py=0.14.4, two unnamed folders): name one, e.g. aerospike-py@fix=./.venv. A
    /// folder's column names its git commit (-dirty with uncommitted changes).
    #[arg(long, value_name = "PKG[@NAME]=PATH", help_heading = "Clients")]
    pub client_path: Vec<String>,
    /// Python interpreter(s) for the Python columns: 3.13, 3.14t, a path, or a list
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
    /// Python event loop: asyncio or uvloop
    ///
    /// The event loop the Python async columns run on: the standard library's asyncio, or uvloop
    /// (installed into aerobench's cache on first use).
    #[arg(
        long,
        value_enum,
        value_name = "LOOP",
        default_value = "asyncio",
        hide_possible_values = true,
        help_heading = "Clients"
    )]
    pub event_loop: EventLoop,
    /// explicit (the same for all) or defaults
    ///
    /// explicit: the same timeouts, no retries and large pools for every client; defaults: each
    /// client's own defaults, as most users run them.
    #[arg(
        value_name = "WHICH",
        long,
        value_enum,
        default_value = "explicit",
        hide_possible_values = true,
        help_heading = "Clients"
    )]
    pub policies: crate::workload::Policies,
    /// Per-operation timeout in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..), help_heading = "Clients")]
    pub timeout_ms: u64,

    // ---- Load shape ----
    /// Calls in flight for the async columns
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100_000), help_heading = "Load shape")]
    pub concurrency: u32,
    /// Threads (calls in flight) for the sync columns
    ///
    /// N OS threads, each making one call at a time, so sync and async clients can be compared at
    /// the same calls in flight.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024), help_heading = "Load shape")]
    pub threads: u32,
    /// Open loop: calls per second per column
    ///
    /// Each column makes this many calls per second, each call starting when it falls due whether
    /// or not earlier calls have ended (as independent users would). Latency is then shown from
    /// when each call was due (corrected for coordinated omission) beside the service time from
    /// when it started, with how late calls started against when they were due (start lag
    /// p50/p99/max; the JSON also has the part the waits are answerable for, apart from calls due
    /// while every call in flight was still running), and a column that cannot keep to the rate
    /// is flagged. Without it a call starts only when one ends (closed loop).
    ///
    /// With --service: requests per second per step, a list for a saturation curve (e.g.
    /// 500,1000,2000), over at most --concurrency connections per column.
    #[arg(long, value_name = "OPS[,…]", value_delimiter = ',', value_parser = parse_rate, help_heading = "Load shape")]
    pub rate: Vec<f64>,
    /// Which record each call uses (see --help)
    ///
    /// sequential (call n uses record n), uniform, zipfian[:THETA] (a few records take most calls;
    /// THETA 0.99 unless given) or hotspot:X/Y (X% of calls go to Y% of the records), for put and
    /// get calls. Drawn with --seed, so every client and every run with the same seed uses the
    /// same record for the same call.
    #[arg(long, value_name = "DIST", default_value = "sequential", value_parser = crate::workload::keys::KeyDistribution::parse, help_heading = "Load shape")]
    pub keys: crate::workload::keys::KeyDistribution,
    /// Calls draw from the first N records only
    ///
    /// Put, get, exists, touch, operate and read-modify-write calls draw their records from the
    /// first N of the --count records written (default: all of them).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), help_heading = "Load shape")]
    pub key_space: Option<u64>,
    /// Seed of --keys, --workload, --record values and the order
    ///
    /// Seed of the key distribution (--keys), of a read/update mix (--workload), of the values of
    /// a record spec (--record) and of the columns' order over the rounds (the same seed gives
    /// the same order on every host).
    #[arg(long, value_name = "N", default_value_t = 1, help_heading = "Load shape")]
    pub seed: u64,
    /// Unrecorded calls before the first round
    ///
    /// Calls of each operation each column makes before the first round, not recorded (0 to skip;
    /// batch_get and scan derive theirs from it).
    #[arg(long, value_name = "N", default_value_t = 100, help_heading = "Load shape")]
    pub warmup: u64,
    /// A pure-Python busy thread beside each Python client
    ///
    /// Run a pure-Python busy thread in each Python column's worker during measured phases, and
    /// report how fast it ran against its speed alone.
    #[arg(long, help_heading = "Load shape")]
    pub cpu_competitor: bool,

    // ---- Records ----
    /// Records to write, then read
    ///
    /// Records in the benchmark's key space, written (untimed) before anything is measured; a put
    /// or get phase makes one call per record, batch_get one per --batch-size records.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..), help_heading = "Records")]
    pub count: u64,
    /// Bins per record
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=64), help_heading = "Records")]
    pub bins: u32,
    /// mixed, int, float or string
    ///
    /// What the bins hold: mixed (an int, a string, a double, then strings), or every bin an int,
    /// a float (double) or a string of --value-size bytes.
    #[arg(
        long,
        value_enum,
        value_name = "TYPE",
        default_value = "mixed",
        hide_possible_values = true,
        help_heading = "Records"
    )]
    pub bin_type: crate::workload::BinType,
    /// Bytes in each string bin
    #[arg(long, value_name = "BYTES", default_value_t = 32, value_parser = clap::value_parser!(u32).range(0..=1_048_576), help_heading = "Records")]
    pub value_size: u32,
    /// small, medium or large, for --bins, --value-size
    ///
    /// Record shape by name instead of --bins and --value-size: small (3 bins, 10-byte strings),
    /// medium (10 bins, 100-byte strings) or large (50 bins, 1 KiB strings).
    #[arg(long, value_enum, hide_possible_values = true, conflicts_with_all = ["bins", "value_size"], help_heading = "Records")]
    pub preset: Option<crate::run::preset::Preset>,
    /// Record shape: a named shape or a spec of bins (lists, maps, blobs)
    ///
    /// Named shapes: feature-vector (64 float bins), profile (a few scalars, a 20-entry map, a
    /// 10-entry list), blob (one 4 KiB bytes bin), wide (100 small bins). A spec lists bins as
    /// [NAME=][N*]VALUE separated by commas, VALUE one of I (int), F (float), BOOL, S<n> (string
    /// of n bytes), B<n> (n bytes), [<n>*VALUE] (a list of n), [VALUE,…] (a list of these),
    /// {<n>*KEY:VALUE} (a map of n entries, KEY I or S<n>); e.g.
    /// id=I,name=S16,attrs={20*S8:I},recent=[10*I],blob=B4096. Values derive from the record
    /// index and --seed, so every column writes and checks (--verify) the same data. See
    /// docs/records.md.
    #[arg(
        long,
        value_name = "SPEC|NAME",
        help_heading = "Records",
        value_parser = crate::workload::records::parse_arg,
        conflicts_with_all = ["bins", "value_size", "bin_type", "preset"]
    )]
    pub record: Option<crate::workload::records::RecordSpec>,
    /// Bins get, batch_get and scan read: the first N, or names (a,b,c)
    ///
    /// Reads a subset of a wider record, as an application that uses 8 of 64 features does
    /// (e.g. --record feature-vector --read-bins 8). Default: every bin.
    #[arg(long, value_name = "N|NAME,…", help_heading = "Records", value_parser = crate::workload::records::ReadBins::parse)]
    pub read_bins: Option<crate::workload::records::ReadBins>,
    /// Keys per batch call
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=5000), help_heading = "Records")]
    pub batch_size: u32,
    /// Whole-set scans in each scan phase
    #[arg(long, value_name = "N", default_value_t = 5, help_heading = "Records")]
    pub scans: u64,
    /// Namespace to write to
    #[arg(long, default_value = "test", help_heading = "Records")]
    pub namespace: String,
    /// Set to write to
    ///
    /// aerobench only touches keys it wrote (prefixed with --key-prefix).
    #[arg(long, default_value = "aerobench", help_heading = "Records")]
    pub set: String,
    /// Prefix of every key aerobench writes
    #[arg(long, value_name = "PREFIX", default_value = "aerobench-", help_heading = "Records")]
    pub key_prefix: String,
    /// Time to live of the records, in seconds
    ///
    /// Default: the namespace's default TTL.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u32).range(1..), help_heading = "Records")]
    pub ttl: Option<u32>,
    /// Do not write the records before measuring
    ///
    /// Reads then expect them from an earlier run with the same --count, --set and --key-prefix
    /// (and the first column's puts insert while the others overwrite).
    #[arg(long, help_heading = "Records")]
    pub no_prewrite: bool,

    // ---- Measurement ----
    /// Smallest difference called faster or slower
    ///
    /// A ratio whose whole 95% interval lies within this either way reads "within 3%" instead; faster
    /// or slower needs the whole interval beyond it, else "no clear difference beyond 3%" (0 turns
    /// it off).
    #[arg(long, value_name = "PERCENT", default_value = "3%", value_parser = crate::analysis::compare::wording::parse_min_effect, help_heading = "Measurement")]
    pub min_effect: f64,
    /// Fewest calls a measured phase makes
    ///
    /// Every measured phase makes at least this many calls (cycling over the records) when its
    /// operation would make fewer (batch_get makes --count / --batch-size, scan --scans), so a
    /// round's ops/s is throughput rather than one burst and its p99 a percentile; 0 makes exactly
    /// the operation's own calls. Once a phase has made its operation's own calls it stops after
    /// --min-phase-time (at least 50 ms) even short of this (a few slow scans); its rounds then
    /// give no p99 ratio. A lengthened phase keeps at most as many calls in flight as its
    /// operation's own calls (5 scans: 5 at a time). Not applied to delete phases or with
    /// --duration.
    #[arg(long, default_value_t = 100, value_name = "N", help_heading = "Measurement")]
    pub min_phase_calls: u64,
    /// Shortest time a measured phase runs
    ///
    /// Every measured phase keeps making calls (cycling over the records) until it has run this
    /// long, so its CPU time is well above the clock's resolution, e.g. 50ms, 200ms; 0 for no
    /// minimum. Not applied to delete phases or with --duration.
    #[arg(long, default_value = "50ms", value_parser = parse_min_duration, value_name = "TIME", help_heading = "Measurement")]
    pub min_phase_time: std::time::Duration,
    /// Check every value read against the value written
    ///
    /// Compare every value read (get, batch_get, scan) with the value written for that record's
    /// key (a get's key, a batch row's key; a scanned record found by its digest); a record that
    /// differs, is missing, or cannot be tied to a record of the run fails its call as a value
    /// mismatch, counted per cell, in every column (the wire floor decodes what it reads for
    /// this) and --materialise mode. The comparison is part of each read's time, except under
    /// --materialise none, where a Python batch is read and checked after its timed call.
    #[arg(long, help_heading = "Measurement")]
    pub verify: bool,
    /// One more phase per operation with the clients' own stage timers on
    ///
    /// For every column whose client has internal stage timers (aerospike-py, e.g. 0.9.0, 0.12.0
    /// and 0.14.4: key_parse, future_into_py_setup, tokio_schedule_delay, io,
    /// spawn_blocking_delay, into_pyobject, event_loop_resume_delay, …; it times its
    /// AsyncClient's batch_read, so aerospike-py-async's batch_get), one extra phase per operation after the measured rounds,
    /// its timers switched on, gives a table of each stage: count, p50 and p99 (interpolated
    /// within the client's histogram buckets), mean, and share of the call. The timers cost time,
    /// so these phases count in no cell or verdict; their ops/s against the last measured round
    /// says how much. Two builds of one client are compared stage by stage. A column without
    /// timers, or whose phase recorded no stage, gets a note. Delete phases are not run again; not
    /// with --service. See docs/stages.md.
    #[arg(long, conflicts_with = "service", help_heading = "Measurement")]
    pub stages: bool,
    /// Python batch results: records, none or numpy
    ///
    /// What a Python batch call's timed region includes. records: every returned record read, as
    /// an application does (what the official client always does inside its call); none: stop at
    /// what the client returns (record counts are then keys asked); numpy: each batch_get result
    /// becomes a NumPy structured array of the int and float bins, by aerospike-py's own API
    /// (`batch_read(_dtype=)` or `to_numpy(dtype)`), the other clients' records filled into the
    /// array as an application would; scans stay records (docs/numpy-and-operate.md).
    #[arg(
        long,
        value_enum,
        value_name = "WHAT",
        default_value = "records",
        hide_possible_values = true,
        help_heading = "Records"
    )]
    pub materialise: crate::workload::Materialise,

    // ---- Service ----
    /// Serve each Python client in an ASGI app under HTTP load (see --help)
    ///
    /// SCENARIO: get-json (one get → the record as JSON), batch-count (a batch of --batch-size keys
    /// → JSON count), batch-walk (a batch → every record's bins walked → a sum), batch-numpy (a
    /// batch → a NumPy array, the client's own path where it has one → a matrix-vector product) or
    /// batch-gather (--gather batches of the same keys at once). Each Python column's app runs
    /// under uvicorn (from PyPI, installed into aerobench's cache per interpreter) in processes of
    /// its own, --app-workers workers on one socket; async clients are awaited in the handler, sync
    /// clients run through run_in_executor (40 threads, as FastAPI runs `def` endpoints). An app
    /// floor per interpreter serves the same endpoint and work without a database call.
    /// aerobench's own HTTP load generator drives the apps step by step (--vus, or --rate for an
    /// open loop), the columns interleaved over --rounds at every step, each slice --duration
    /// long (default 2s). Default columns: aerospike-py-async,official-c-executor
    /// (docs/service.md).
    #[arg(long, value_enum, value_name = "SCENARIO", hide_possible_values = true, help_heading = "What to run")]
    pub service: Option<crate::workload::scenario::Scenario>,
    /// Virtual users per step, e.g. 10,50,100,200
    ///
    /// A closed loop: at each step this many keep-alive connections per column, each sending its
    /// next request when the last answered (default 10,50). Where requests/s stops rising is the
    /// column's saturation point.
    #[arg(long, value_name = "N,…", value_delimiter = ',', requires = "service", conflicts_with = "rate", value_parser = clap::value_parser!(u32).range(1..=10_000), help_heading = "Load shape")]
    pub vus: Vec<u32>,
    /// Worker processes of each app
    ///
    /// uvicorn's own workers, sharing one listening socket; each creates its client at startup.
    #[arg(long, value_name = "N", default_value_t = 1, requires = "service", value_parser = clap::value_parser!(u32).range(1..=64), help_heading = "Service", hide_short_help = true)]
    pub app_workers: u32,
    /// CPU-bound work per request: matmul:N or python:DURATION
    ///
    /// After the database step, as production services run a model: matmul:N (an N×N float64
    /// NumPy matrix product; NumPy is installed for it) or python:DURATION (pure Python arithmetic
    /// for that long, e.g. python:500us).
    #[arg(long, value_name = "WORK", requires = "service", value_parser = crate::workload::scenario::AppWork::parse, help_heading = "Service", hide_short_help = true)]
    pub app_work: Option<crate::workload::scenario::AppWork>,
    /// Batches gathered at once per request (batch-gather)
    #[arg(long, value_name = "G", default_value_t = 4, requires = "service", value_parser = clap::value_parser!(u32).range(1..=256), help_heading = "Service", hide_short_help = true)]
    pub gather: u32,
    /// p99 above this marks a step past saturation, e.g. 50ms
    #[arg(long, value_name = "DURATION", requires = "service", value_parser = parse_duration, help_heading = "Service", hide_short_help = true)]
    pub slo_p99: Option<std::time::Duration>,
    /// How long an app may take to start
    #[arg(long, value_name = "DURATION", default_value = "60s", requires = "service", value_parser = parse_duration, hide_short_help = true, help_heading = "Service")]
    pub app_startup_timeout: std::time::Duration,

    // ---- Output ----
    /// table, json, markdown, csv or hlog
    ///
    /// table: terminal tables; json: the full report (see schema.json); markdown: the tables for
    /// pull requests; csv: one row per cell (column × operation); hlog: an HdrHistogram interval
    /// log of each cell's latency histogram, for HdrHistogram's own log tools.
    #[arg(long, value_enum, default_value = "table", hide_possible_values = true, help_heading = "Output")]
    pub format: Format,
    /// Write the report to this file instead of stdout
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub output: Option<PathBuf>,
    /// Tables: clients (a row each) or seed
    ///
    /// clients: one table per operation, a row per client; seed: the seed benchmark's tables
    /// (operations as rows, clients as columns, its ratio columns).
    #[arg(
        long,
        value_enum,
        default_value = "clients",
        hide_possible_values = true,
        hide_short_help = true,
        help_heading = "Output"
    )]
    pub layout: crate::report::Layout,
    /// Show each column's version, source and policies
    #[arg(long, short, help_heading = "Output")]
    pub verbose: bool,
    /// No progress bars
    #[arg(long, short, help_heading = "Output")]
    pub quiet: bool,
    /// Also draw the run as an SVG picture
    ///
    /// Per operation, latency by percentile (log scale to 99.99%, one line per client) and
    /// throughput per round; lines differ by dash and marker, so it reads in black and white.
    #[arg(long, value_name = "FILE.svg", help_heading = "Output")]
    pub plot: Option<PathBuf>,
    /// Live JSON lines every DURATION (--live FILE)
    ///
    /// Write live figures while the run goes, every DURATION (e.g. 1s): one JSON object per line
    /// per cell and interval (calls, errors, ops/s, p50/p99/max and the interval's histogram), then
    /// a line holding the whole report; see schema-live.json. To stdout (instead of the report,
    /// unless --output) or to --live FILE.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", help_heading = "Output")]
    pub interval: Option<std::time::Duration>,
    /// File the --interval lines go to
    ///
    /// Default 1s when --interval is not given; e.g. a file a dashboard agent tails.
    #[arg(long, value_name = "FILE", hide_short_help = true, help_heading = "Output")]
    pub live: Option<PathBuf>,
    /// Profile the Python columns with py-spy: flame graphs, where time goes
    ///
    /// After the measured rounds, each Python column runs every operation twice more, counted in
    /// no table or verdict: once as it is, then sampled by py-spy (installed from PyPI on first
    /// use; native frames on, 200 samples a second). The report adds a "where" table per
    /// operation (the share of samples in the client's extension, its Python code, aerobench's
    /// shim, the interpreter's GC or GIL wait, waiting on I/O, other), the frames that took most,
    /// and what the sampling cost (ops/s of the sampled phase against the one before it); each
    /// column's folded stacks and flame graph (SVG) go to --profile-dir. With two builds of one
    /// client (--client-version, --client-path, --python), a differential flame graph and the
    /// frames whose share grew or shrank most. --profile runs the --stages pass too (before the
    /// sampled phases), so a client's own stage timers sit beside its profile. With --service:
    /// after the last step, one more slice per app column at the last step's load, every worker
    /// of the app sampled and their samples merged (docs/service.md). docs/profiles.md.
    #[arg(long, help_heading = "Output")]
    pub profile: bool,
    /// Where --profile writes its files
    ///
    /// Default: aerobench-profiles/TIME beside the --output file, or in the current folder.
    #[arg(long, value_name = "DIR", requires = "profile", hide_short_help = true, help_heading = "Output")]
    pub profile_dir: Option<PathBuf>,
    /// How long each --profile phase runs
    ///
    /// Each of the two phases per column and operation, e.g. 3s (at 200 samples a second, 600
    /// samples per busy thread); with --service, the sampled slice of each app column.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "3s", requires = "profile", hide_short_help = true, help_heading = "Output")]
    pub profile_time: std::time::Duration,

    // ---- Server, security and safety ----
    /// Server address
    ///
    /// The seed the clients connect to. Before the first phase and after every phase (outside
    /// their timing) the run reads the cluster's nodes, size and migrations there (or at any node
    /// it listed): a node that leaves or joins mid-run is named in the report with its time and
    /// phase, and verdicts between cells measured under different states are withheld
    /// (docs/cluster.md).
    #[arg(long, env = "AEROSPIKE_HOST", default_value = "127.0.0.1", help_heading = "Server, security and safety")]
    pub host: String,
    /// Server port
    #[arg(long, env = "AEROSPIKE_PORT", default_value_t = 3000, help_heading = "Server, security and safety")]
    pub port: u16,
    #[command(flatten)]
    pub security: crate::drivers::security::SecurityArgs,
    /// Connect through the server's alternate addresses
    ///
    /// Connect every client through the addresses the server advertises as alternate
    /// (`service-clear-alt`, `access-address` for clients outside a container or NAT) instead of
    /// its standard ones.
    #[arg(long, help_heading = "Server, security and safety")]
    pub services_alternate: bool,
    /// Write into a set that holds records of others
    ///
    /// Write into --set even when it holds records aerobench did not write (it checks the set
    /// first and refuses without this; it still touches only its own keys).
    #[arg(long, help_heading = "Server, security and safety")]
    pub force: bool,
    /// Delete the records this run wrote when it ends
    ///
    /// Delete every record this run wrote (its own keys, nothing else) when the run ends, also
    /// after Ctrl-C.
    #[arg(long, help_heading = "Server, security and safety")]
    pub cleanup: bool,

    // ---- Built-in server ----
    /// Run against a built-in in-memory server
    ///
    /// Start the built-in in-memory server on a free port, run against it, stop it at the end.
    #[arg(long, help_heading = "Built-in server")]
    pub builtin_server: bool,
    /// Run it as a cluster of N nodes
    ///
    /// With --builtin-server: run it as a cluster of N nodes on one machine (each on its own port
    /// with its own partitions, sharing one store), so that every client routes by partition and
    /// splits batches per node as against a real cluster (docs/cluster.md).
    #[arg(long, value_name = "N", requires = "builtin_server", value_parser = clap::value_parser!(u16).range(1..=64), help_heading = "Built-in server")]
    pub nodes: Option<u16>,
    /// Take node N out in every phase (--fail-at, --fail-for)
    ///
    /// With --nodes: take built-in node N (1 = the seed) out of the cluster --fail-at into every
    /// measured phase, for --fail-for, and bring it back, so that every client meets the same loss
    /// mid-phase: its partitions move to the survivors and back, and the report gives each
    /// column's failures and recovery time. Needs phases of a --duration longer than --fail-at +
    /// --fail-for, so that the node is back before the next column's phase starts (refused
    /// otherwise); these losses are made on purpose, so the run does not read the cluster's
    /// state between phases. docs/cluster.md.
    #[arg(long, value_name = "N", requires = "nodes", help_heading = "Built-in server")]
    pub fail_node: Option<u16>,
    /// When --fail-node fails, into each phase
    ///
    /// When --fail-node fails, into each measured phase, e.g. 2s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "2s", requires = "fail_node", hide_short_help = true, help_heading = "Built-in server")]
    pub fail_at: std::time::Duration,
    /// How long --fail-node stays out
    ///
    /// How long --fail-node stays out, e.g. 5s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "2s", requires = "fail_node", hide_short_help = true, help_heading = "Built-in server")]
    pub fail_for: std::time::Duration,

    // ---- Hidden: for the tests ----
    /// Microseconds each call of the no-op columns takes (tests that check measured values).
    #[arg(long, hide = true, default_value_t = 0)]
    pub stub_delay_us: u64,
    /// With --stub-delay-us, no-op columns keep the CPU busy for the delay instead of sleeping.
    #[arg(long, hide = true)]
    pub stub_spin: bool,
    /// With --stub-delay-us, Python no-op calls spend about 60% of the delay in a Python function
    /// (`stub_python_work`), 30% in zlib's C code (`stub_native_work`) and sleep the rest: a
    /// workload of known shares for the profile tests.
    #[arg(long, hide = true)]
    pub stub_known_shares: bool,
    /// The async Python no-op column blocks its event loop for the stub delay (tests).
    #[arg(long, hide = true)]
    pub stub_blocking: bool,
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
/// Parses `--budget`: a duration (as [`parse_duration`]) of at least one second.
pub fn parse_budget(text: &str) -> Result<std::time::Duration, String> {
    let budget = parse_duration(text)?;
    if budget < std::time::Duration::from_secs(1) {
        return Err(format!("{text:?} is too short a budget for measured rounds; give at least 1s, e.g. 20s or 1m"));
    }
    Ok(budget)
}

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

    /// Shell variables the documented commands use, with a value of the kind the docs give them
    /// (`at=$(( $(date +%s) + 60 ))`; `for c in wire …`).
    const DOC_VARIABLES: [(&str, &str); 2] = [("at", "1796331600"), ("c", "wire")];

    /// Every `aerobench …` command in the fenced shell blocks of a markdown text, with its line
    /// number: continuation lines joined, each command of a `&&`, `||`, `;`, `&` or `|` list
    /// apart, environment assignments and redirections left out, `cargo run … --` read as
    /// `aerobench`.
    fn documented_commands(text: &str) -> Vec<(usize, Vec<String>)> {
        let mut out = Vec::new();
        let mut fence: Option<bool> = None; // Some(shell?) inside a fenced block
        let mut pending: Option<(usize, String)> = None;
        for (n, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            if let Some(info) = trimmed.strip_prefix("```") {
                fence = match fence {
                    Some(_) => None,
                    None => Some(matches!(info.trim(), "" | "sh" | "bash" | "shell" | "console")),
                };
                continue;
            }
            if fence != Some(true) {
                continue;
            }
            let (start, mut joined) = pending.take().unwrap_or((n + 1, String::new()));
            match line.trim_end().strip_suffix('\\') {
                Some(part) => {
                    joined.push_str(part);
                    joined.push(' ');
                    pending = Some((start, joined));
                    continue;
                }
                None => joined.push_str(line),
            }
            let words = shlex::split(&joined).unwrap_or_else(|| panic!("line {start}: unbalanced quotes: {joined}"));
            for segment in words.split(|w| ["&&", "||", ";", "&", "|", "do", "then"].contains(&w.as_str())) {
                let mut words = segment
                    .iter()
                    .take_while(|w| !w.starts_with('>') && !w.starts_with('<') && !w.starts_with("2>"))
                    .skip_while(|w| w.contains('=') && !w.starts_with('-'))
                    .map(|w| {
                        DOC_VARIABLES.iter().fold(w.clone(), |w, (name, value)| w.replace(&format!("${name}"), value))
                    })
                    .collect::<Vec<String>>();
                if words.first().is_some_and(|w| w == "cargo") && words.get(1).is_some_and(|w| w == "run") {
                    let Some(dash) = words.iter().position(|w| w == "--") else { continue };
                    words.splice(..=dash, ["aerobench".to_string()]);
                }
                if words.first().is_some_and(|w| w == "aerobench") {
                    out.push((start, words));
                }
            }
        }
        out
    }

    /// Every `aerobench …` inline code span of a markdown text that is a whole command: it names
    /// an option, and holds no synopsis notation (`[`, `]`, `|`, `…`, `<`, `>`) and no placeholder
    /// (a word in capitals such as `N` or `NAME`).
    fn inline_commands(text: &str) -> Vec<(usize, Vec<String>)> {
        // Paragraphs outside fenced blocks, joined into one line each (a span may wrap), with the
        // number of their first line.
        let mut paragraphs: Vec<(usize, String)> = Vec::new();
        let mut fenced = false;
        let mut current: Option<(usize, String)> = None;
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                paragraphs.extend(current.take());
                continue;
            }
            if fenced || line.trim().is_empty() {
                paragraphs.extend(current.take());
                continue;
            }
            let (_, joined) = current.get_or_insert((n + 1, String::new()));
            joined.push(' ');
            joined.push_str(line.trim());
        }
        paragraphs.extend(current);
        let mut out = Vec::new();
        for (n, paragraph) in paragraphs {
            for (i, span) in paragraph.split('`').enumerate() {
                let Some(rest) = span.strip_prefix("aerobench ") else { continue };
                let placeholder = |w: &str| {
                    w.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                        && w.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '.')
                };
                if i % 2 == 0
                    || !rest.contains('-')
                    || rest.contains(['[', ']', '|', '…', '<', '>'])
                    || rest.split_whitespace().any(placeholder)
                {
                    continue;
                }
                if let Some(words) = shlex::split(span) {
                    out.push((n, words));
                }
            }
        }
        out
    }

    /// The command `.ci/run` runs the tests with (the line after "# The README's test command.").
    fn ci_test_command() -> String {
        let ci = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/run")).unwrap();
        let mut lines = ci.lines().skip_while(|l| !l.contains("The README's test command"));
        lines.nth(1).expect("a command after the marker in .ci/run").trim().to_string()
    }

    #[test]
    fn every_command_in_the_readme_and_the_docs_parses() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = vec![root.join("README.md")];
        let mut pages: Vec<_> = std::fs::read_dir(root.join("docs"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "md"))
            .collect();
        pages.sort();
        files.extend(pages);
        let mut failures = Vec::new();
        let mut in_readme = 0;
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            for (line, words) in documented_commands(&text).into_iter().chain(inline_commands(&text)) {
                if file.ends_with("README.md") {
                    in_readme += 1;
                }
                let parsed = Cli::try_parse_from(&words).map(drop).or_else(|e| match e.kind() {
                    clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => Ok(()),
                    _ => Err(e),
                });
                if let Err(e) = parsed {
                    let first = e.to_string().lines().next().unwrap_or("").to_string();
                    failures.push(format!(
                        "{}:{line}: {}
    {first}",
                        file.display(),
                        words.join(" ")
                    ));
                }
            }
        }
        assert!(failures.is_empty(), "documented commands the CLI refuses:\n{}", failures.join("\n"));
        // The quick start and a recipe per common job, at least.
        assert!(in_readme >= 8, "only {in_readme} aerobench commands found in README.md");
        // The examples `--help` prints parse too.
        let examples: Vec<Vec<String>> = EXAMPLES
            .lines()
            .chain(EXAMPLES_SHORT.lines())
            .map(str::trim)
            .filter(|l| l.starts_with("aerobench "))
            .map(|l| shlex::split(l.trim_end_matches('\\')).unwrap())
            .map(|w| w.into_iter().take_while(|w| w != ">").collect())
            .collect();
        assert!(examples.len() >= 10);
        for words in examples {
            Cli::try_parse_from(&words).unwrap_or_else(|e| panic!("{}: {e}", words.join(" ")));
        }
    }

    #[test]
    fn whole_commands_are_read_from_inline_code_too() {
        let text = "Run `aerobench --builtin-server --ops get` or `aerobench serve --nodes N`, \
                    `aerobench cache clean [--dry-run]`, `aerobench merge`; not `--ops aerobench x`.";
        let got: Vec<String> = inline_commands(text).into_iter().map(|(_, w)| w.join(" ")).collect();
        assert_eq!(got, ["aerobench --builtin-server --ops get"]);
    }

    #[test]
    fn the_readme_quick_start_runs_what_ci_runs() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let ci = ci_test_command();
        assert_eq!(ci, "cargo test --locked");
        let quick_start = readme.split("## Quick start").nth(1).expect("a Quick start section");
        let quick_start = quick_start.split("\n## ").next().unwrap();
        assert!(quick_start.lines().any(|l| l.trim() == ci), "the README's quick start must show `{ci}`");
        let main = documented_commands(quick_start);
        assert!(
            main.iter().any(|(_, w)| w.iter().any(|w| w == "--builtin-server")),
            "the quick start runs the main job with --builtin-server: {main:?}"
        );
    }

    #[test]
    fn commands_are_read_from_shell_blocks_only() {
        let text = "```sh\nAEROSPIKE_HOST=h aerobench --count 5 > out.txt   # note\nat=1\naerobench serve --port 0 &\n\
                    aerobench --shard 0/2 \\\n  --start-at $at --duration 2s && aerobench merge a.json b.json\n\
                    cargo run --release -- --builtin-server\n```\n```json\naerobench --nope\n```\n";
        let got: Vec<(usize, String)> = documented_commands(text).into_iter().map(|(n, w)| (n, w.join(" "))).collect();
        assert_eq!(
            got,
            [
                (2, "aerobench --count 5".to_string()),
                (4, "aerobench serve --port 0".to_string()),
                (5, "aerobench --shard 0/2 --start-at 1796331600 --duration 2s".to_string()),
                (5, "aerobench merge a.json b.json".to_string()),
                (7, "aerobench --builtin-server".to_string()),
            ]
        );
    }

    #[test]
    fn short_help_fits_on_a_screen_or_two() {
        use clap::CommandFactory as _;
        // 100 columns: what clap wraps to when stdout is not a terminal (and at most on one).
        for width in [100] {
            let help = Cli::command().term_width(width).render_help().to_string();
            let lines = help.lines().count();
            assert!(lines < 100, "`aerobench -h` is {lines} lines at {width} columns:\n{help}");
            for heading in [
                "What to run:",
                "Clients:",
                "Load shape:",
                "Records:",
                "Measurement:",
                "Output:",
                "Server, security and safety:",
                "Built-in server:",
            ] {
                assert!(help.lines().any(|l| l == heading), "no heading {heading:?} in -h:\n{help}");
            }
        }
        let long = Cli::command().term_width(100).render_long_help().to_string();
        assert!(long.contains("Williams design") && long.contains("On a shared server"), "--help keeps the long text");
    }

    #[test]
    fn the_man_page_has_every_heading_and_option() {
        let mut page = Vec::new();
        man_page(&mut page).unwrap();
        let page = String::from_utf8(page).unwrap();
        assert!(page.starts_with(".ie"), "roff: {}", &page[..page.len().min(200)]);
        for text in [
            ".TH aerobench",
            ".SH \"WHAT TO RUN\"",
            ".SH \"BUILT-IN SERVER\"",
            "\\-\\-builtin\\-server",
            "\\-\\-fail\\-at",
            "Williams design",
            "On a shared server",
        ] {
            assert!(page.contains(text), "no {text:?} in the man page");
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
