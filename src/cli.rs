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

  Run the built-in server on its own:
    aerobench serve --port 3000";

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
    Serve(ServeArgs),
    /// Run one embedded-Python column (used internally: one process per Python client).
    #[command(hide = true)]
    Worker,
    /// Print shell completions for aerobench.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
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
    /// Records written by put and read by get; batch_get and scan read the same records.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: u64,
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
    /// Operations to run, in order.
    #[arg(long, value_delimiter = ',', default_value = "put,get,batch_get,scan")]
    pub ops: Vec<crate::workload::Operation>,
    /// Columns to run (client and concurrency model). One of: wire, rust-sync, rust-async,
    /// aerospike-py-sync, official-c, aerospike-py-async, aerospike-native-sync,
    /// aerospike-native-async.
    #[arg(long, value_delimiter = ',', default_value = crate::drivers::DEFAULT_CLIENTS)]
    pub clients: Vec<String>,
    /// Use another published version of a Python client, e.g. aerospike-py=0.13.0 (installed
    /// on first use into aerobench's cache). Repeat or separate with commas.
    #[arg(long, value_delimiter = ',', value_name = "PACKAGE=VERSION")]
    pub client_version: Vec<String>,
    /// Load a Python client from a folder (site-packages or a virtualenv, e.g. after
    /// `maturin develop`), a wheel, or `venv` for the active VIRTUAL_ENV, e.g.
    /// aerospike-py=./.venv. Repeat for several packages.
    #[arg(long, value_name = "PACKAGE=PATH")]
    pub client_path: Vec<String>,
    /// Event loop for the Python async columns.
    #[arg(long, value_enum, default_value = "asyncio")]
    pub event_loop: EventLoop,
    /// Keys per batch_get call.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=5000))]
    pub batch_size: u32,
    /// Bins per record: an int, a string and a double, then more strings.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub bins: u32,
    /// Bytes in each string bin.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(0..=1_048_576))]
    pub value_size: u32,
    /// Whole-set scans in the measured scan phase.
    #[arg(long, default_value_t = 5)]
    pub scans: u64,
    /// Operations run before each measured phase and not counted (0 to skip).
    #[arg(long, default_value_t = 100)]
    pub warmup: u64,
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
    /// Microseconds each call of the no-op columns takes (tests that check measured values).
    #[arg(long, hide = true, default_value_t = 0)]
    pub stub_delay_us: u64,
}
