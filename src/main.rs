//! aerobench: compares Aerospike clients side by side, and carries its own in-memory
//! Aerospike-protocol server (`aerobench serve`).

mod analysis;
mod drivers;
mod engine;
mod model;
mod profile;
mod report;
mod run;
mod server;
mod service;
#[cfg(test)]
mod test_support;
mod workload;

use std::io::Write as _;

use clap::{CommandFactory as _, Parser as _};

use run::cli::{CacheAction, Cli, Command};

fn main() {
    std::process::exit(match run() {
        Ok(code) => code,
        // The reader of stdout went away (`aerobench man | head`): nothing more to say.
        Err(err) if broken_pipe(&err) => 0,
        Err(err) => {
            eprintln!("Error: {err:#}");
            2
        }
    });
}

/// True when writing stdout failed because its reader closed the pipe.
fn broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

fn run() -> anyhow::Result<i32> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Serve(args)) => {
            run::builtin_server::exit_with_parent();
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(server::run(*args, |addr| {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "listening on {addr}");
                let _ = out.flush();
            }))?;
            Ok(0)
        }
        Some(Command::Worker) => drivers::worker::run(),
        Some(Command::ServeApp(args)) => run::crosscheck::serve_app(*args),
        Some(Command::HttpLoad(args)) => run::crosscheck::http_load(args),
        Some(Command::Cache { action }) => {
            let mut out = std::io::stdout().lock();
            match action {
                CacheAction::List => drivers::embedded::cache::list(&mut out)?,
                CacheAction::Clean { older_than, dry_run } => {
                    drivers::embedded::cache::clean(&mut out, older_than, dry_run)?
                }
            }
            Ok(0)
        }
        Some(Command::Merge(args)) => run::merge::run(args),
        Some(Command::Compare(args)) => analysis::compare_runs::run(args),
        Some(Command::Completions { shell }) => {
            clap_complete::generate(shell, &mut Cli::command(), "aerobench", &mut std::io::stdout());
            Ok(0)
        }
        Some(Command::Man) => {
            run::cli::man_page(&mut std::io::stdout().lock())?;
            Ok(0)
        }
        None => run::bench::run(cli.bench),
    }
}
