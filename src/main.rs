//! aerobench: compares Aerospike clients side by side, and carries its own in-memory
//! Aerospike-protocol server (`aerobench serve`).

mod aggregate;
mod bench;
mod builtin_server;
mod cli;
mod compare;
mod compare_runs;
mod connectivity;
mod drivers;
mod engine;
mod keys;
mod lane;
mod live;
mod machine;
mod merge;
mod mix;
mod node_loss;
mod node_spread;
mod order;
mod plan;
mod preset;
mod probe;
mod progress;
mod python;
mod records;
mod report;
mod results;
mod safety;
mod scheduler;
mod security;
mod server;
mod shard;
mod signals;
mod stats;
mod timestamp;
mod verify;
mod worker;
mod workload;

use std::io::Write as _;

use clap::{CommandFactory as _, Parser as _};

use cli::{CacheAction, Cli, Command};

fn main() {
    std::process::exit(match run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("Error: {err:#}");
            2
        }
    });
}

fn run() -> anyhow::Result<i32> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Serve(args)) => {
            builtin_server::exit_with_parent();
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(server::run(*args, |addr| {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "listening on {addr}");
                let _ = out.flush();
            }))?;
            Ok(0)
        }
        Some(Command::Worker) => worker::run(),
        Some(Command::Cache { action }) => {
            let mut out = std::io::stdout().lock();
            match action {
                CacheAction::List => python::cache::list(&mut out)?,
                CacheAction::Clean { older_than, dry_run } => python::cache::clean(&mut out, older_than, dry_run)?,
            }
            Ok(0)
        }
        Some(Command::Merge(args)) => merge::run(args),
        Some(Command::Compare(args)) => compare_runs::run(args),
        Some(Command::Completions { shell }) => {
            clap_complete::generate(shell, &mut Cli::command(), "aerobench", &mut std::io::stdout());
            Ok(0)
        }
        None => bench::run(cli.bench),
    }
}
