//! The benchmark run, end to end: make the plan, find the server (or start the built-in one),
//! let the scheduler run the columns, and hand the results to the report. Results gathered
//! before a failure or Ctrl-C are always reported.

use std::io::{IsTerminal as _, Write as _};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::drivers::probe;
use crate::engine::progress;
use crate::engine::stop;
use crate::report;
use crate::run::builtin_server::BuiltinServer;
use crate::run::cli::BenchArgs;
use crate::run::machine;
use crate::run::plan::Plan;
use crate::run::safety;
use crate::run::scheduler::{self, Target};

/// Exit code when the run finished but some operation failed.
pub const EXIT_OPS_FAILED: i32 = 1;
/// Exit code for bad usage or a server that cannot be reached.
pub const EXIT_USAGE: i32 = 2;
/// Exit code of a run stopped by Ctrl-C (SIGTERM: 143, see [`crate::engine::signals`]).
pub const EXIT_INTERRUPTED: i32 = 130;

pub fn run(mut args: BenchArgs) -> anyhow::Result<i32> {
    let started_at = crate::model::timestamp::now();
    if args.service.is_some() && args.clients.is_none() {
        args.clients = Some(crate::run::service_plan::DEFAULT_CLIENTS.iter().map(|c| c.to_string()).collect());
    }
    let plan = Plan::from_args(&args)?;
    let service = args.service.map(|_| crate::run::service_plan::ServicePlan::from_args(&args, &plan)).transpose()?;
    anyhow::ensure!(
        plan.materialise != crate::workload::Materialise::Numpy || plan.workload.has_numeric_bins(),
        "--materialise numpy makes an array of the records' int and float bins, and the bins read have none: \
         add some (e.g. --bin-type float, --bin-type mixed or --record feature-vector) or name them in --read-bins"
    );
    outputs_writable(&args)?;
    let show = progress::enabled(args.quiet);
    crate::engine::signals::install();

    let credentials = crate::drivers::security::resolve(&args.security)?;
    let tls = crate::drivers::security::resolve_tls(&args.security)?;
    anyhow::ensure!(
        !(args.builtin_server && tls.is_some()),
        "--tls-name/--tls-ca are for a server of yours; the built-in server of --builtin-server speaks plain \
         TCP (run `aerobench serve --tls-cert CHAIN.pem --tls-key KEY.pem` and point --port at it instead)"
    );
    if let Some(n) = args.fail_node {
        let nodes = args.nodes.unwrap_or(1);
        anyhow::ensure!(
            nodes >= 2 && (1..=nodes).contains(&n),
            "--fail-node {n} must name one of the built-in nodes 1..={nodes}, in a cluster of at least 2 (--nodes)"
        );
    }
    let builtin = if args.builtin_server {
        let spin = progress::spinner(show, "starting the built-in server".into());
        let server = BuiltinServer::start(&args.namespace, credentials.as_ref(), args.nodes.unwrap_or(1))?;
        spin.finish_and_clear();
        Some(server)
    } else {
        None
    };
    let target = match &builtin {
        Some(s) => Target { host: "127.0.0.1".to_string(), port: s.port, credentials: credentials.clone(), tls: None },
        // `[::1]` and `::1` both name an IPv6 host; keep it bare and bracket it where needed.
        None => Target {
            host: args.host.trim_start_matches('[').trim_end_matches(']').to_string(),
            port: args.port,
            credentials: credentials.clone(),
            tls: tls.clone(),
        },
    };
    let server = match probe::probe(
        &target.host,
        target.port,
        Duration::from_secs(3),
        target.tls.as_ref(),
        target.credentials.as_ref(),
    ) {
        Ok(info) => info,
        Err(e) => {
            eprintln!(
                "Error: {e}\n\nStart a server there, point aerobench at yours with --host/--port (or \
                 AEROSPIKE_HOST/AEROSPIKE_PORT), or run against aerobench's in-memory server with \
                 --builtin-server."
            );
            return Ok(EXIT_USAGE);
        }
    };

    // The set is checked before anything is written to it, and cleaned after the run (also
    // after Ctrl-C). The built-in server starts empty and ends with the run: nothing to do.
    let mut safety_warning = None;
    let records = if builtin.is_none() && safety::writes(&plan) && (!args.force || args.cleanup) {
        let spin = progress::spinner(
            show,
            format!("checking set {:?} for records aerobench did not write", plan.workload.set),
        );
        let checked = safety::Records::connect(
            &target.host,
            target.port,
            &plan.workload,
            plan.timeout_ms,
            plan.services_alternate,
            target.credentials.as_ref(),
            target.tls.as_ref(),
        )
        // Every run under the same --key-prefix, sharded or not, writes aerobench's own keys.
        .map(|records| records.owning_prefix(&args.key_prefix, plan.shard.map_or(0, |s| s.count)))
        .and_then(|records| Ok((safety::check_before_writing(&records, args.force)?, records)));
        spin.finish_and_clear();
        match checked {
            Ok((warning, records)) => {
                safety_warning = warning;
                Some(records)
            }
            Err(e) if e.to_string().contains("--force") => {
                eprintln!("Error: {e:#}");
                return Ok(EXIT_USAGE);
            }
            // The check could not be made (a refused login, a lost connection): say what to do
            // about that cause; --force would only move the same failure to the pre-write.
            Err(e) => {
                let why = format!("{e:#}").split_whitespace().collect::<Vec<_>>().join(" ");
                let answers = target.answers().is_ok();
                let failure = crate::engine::failure::Failure::classify(&why);
                let skip = if crate::engine::failure::authentication(&why)
                    || failure.server_gone()
                    || failure == crate::engine::failure::Failure::Timeout
                {
                    ""
                } else {
                    " (--force skips this check)"
                };
                let hint = crate::engine::failure::hint([why.as_str()], answers, plan.timeout_ms);
                eprintln!("Error: {why}\n\n{hint}{skip}.");
                return Ok(EXIT_USAGE);
            }
        }
    } else {
        None
    };

    if let Some(svc) = &service {
        let machine = machine::describe();
        let mut report =
            crate::run::service::run(&plan, svc, &target, started_at, server, machine, args.min_effect, show)?;
        report.records_deleted = cleanup(&args, records.as_ref(), builtin.is_some(), &mut report.warnings);
        report.warnings.extend(safety_warning);
        let interrupted = stop::interrupted();
        if interrupted {
            eprintln!("aerobench: run interrupted; the report covers what was measured");
        }
        report.interrupted = interrupted;
        write_outputs(&args, &report, None, false)?;
        drop(builtin);
        for line in report::failures::lines(&report) {
            eprintln!("{line}");
        }
        if interrupted {
            return Ok(crate::engine::signals::exit_code().unwrap_or(EXIT_INTERRUPTED));
        }
        let failed = report.incomplete.is_some() || crate::run::service::failed(&report);
        return Ok(if failed { EXIT_OPS_FAILED } else { 0 });
    }
    let user_live = live_output(&args)?;
    // Live lines on stdout end with the report: nothing more goes there.
    let live_on_stdout = user_live.is_some() && args.live.is_none();
    // The built-in cluster's own info commands need the run's login when it requires one.
    let login = target.credentials.as_ref().map(crate::drivers::wire_login::login_frame).transpose()?;
    // Against a cluster the interval lines are kept, so a node that leaves mid-run gets each
    // column's failures and recovery, as a node taken out with --fail-node does.
    let mut kept = None;
    let (watch, live) = match (args.fail_node, &builtin) {
        (Some(node), Some(server)) => {
            let (watch, live) = crate::run::fail_node::Watch::start(
                node,
                args.fail_at,
                args.fail_for,
                server.port,
                login.clone(),
                user_live,
            );
            (Some(watch), Some(live))
        }
        _ if server.nodes.len() > 1 => {
            let (every, user) = match user_live {
                Some((every, out)) => (every, Some(out)),
                None => (crate::run::fail_node::RESOLUTION, None),
            };
            let (intervals, out) = crate::run::cluster_state::KeptIntervals::new(user);
            kept = Some((intervals, every));
            (None, Some(crate::report::live::Live::new(every, out)))
        }
        _ => (None, user_live.map(|(every, out)| crate::report::live::Live::new(every, out))),
    };
    // A built-in cluster counts what each node is asked: read per phase, through the live hooks.
    let spread = match &builtin {
        Some(server) if args.nodes.is_some_and(|n| n > 1) => {
            Some(Arc::new(crate::run::node_counters::Spread::new(server.port, login)))
        }
        _ => None,
    };
    let live = match (&spread, live) {
        (Some(spread), live) => {
            let live = live
                .unwrap_or_else(|| crate::report::live::Live::new(Duration::from_secs(1), Box::new(std::io::sink())));
            Some(live.with_hook(spread.clone()))
        }
        (None, live) => live,
    };
    // Losses made on purpose (--fail-node) have their own section; any other change of the
    // cluster is read between phases.
    let mut outcome = scheduler::run(&plan, &target, show, live.as_ref(), watch.is_none())?;
    outcome.warnings.extend(safety_warning);
    let records_deleted = cleanup(&args, records.as_ref(), builtin.is_some(), &mut outcome.warnings);
    let interrupted = stop::interrupted();
    if interrupted {
        eprintln!("aerobench: run interrupted; the report covers what was measured");
    }
    let kept = kept.map(|(intervals, every)| (intervals.intervals(), every.as_secs_f64()));
    let mut report =
        crate::run::assemble::assemble(&plan, started_at, server, machine::describe(), outcome, args.min_effect, kept);
    report.interrupted = interrupted;
    report.records_deleted = records_deleted;
    if let Some(watch) = &watch {
        let ids: Vec<String> = report.columns.iter().map(|c| c.id.clone()).collect();
        report.node_loss = Some(watch.summary(&ids));
    }
    report.node_spread = spread.and_then(|s| s.summary());
    write_outputs(&args, &report, live.as_ref(), live_on_stdout)?;
    drop(builtin);
    for line in report::failures::lines(&report) {
        eprintln!("{line}");
    }
    let failed = report.incomplete.is_some()
        || report.columns.iter().any(|c| c.error.is_some())
        || report.cells.iter().any(|c| c.errors > 0)
        || report.interrupted;
    if interrupted {
        return Ok(crate::engine::signals::exit_code().unwrap_or(EXIT_INTERRUPTED));
    }
    Ok(if failed { EXIT_OPS_FAILED } else { 0 })
}

/// `--cleanup`: deletes the records this run wrote (none to delete on the built-in server); a
/// failure is a warning of the report.
fn cleanup(
    args: &BenchArgs,
    records: Option<&safety::Records>,
    builtin: bool,
    warnings: &mut Vec<String>,
) -> Option<u64> {
    if !args.cleanup {
        return None;
    }
    match records {
        Some(records) => match records.delete_own() {
            Ok(n) => {
                eprintln!("aerobench: --cleanup deleted the {n} records this run wrote");
                Some(n)
            }
            Err(e) => {
                warnings.push(format!("--cleanup failed: {e:#}; the records are still in the set"));
                None
            }
        },
        None if builtin => Some(0),
        None => None,
    }
}

/// Fails before measuring anything, not after, when the report or the plot could not be
/// written.
fn outputs_writable(args: &BenchArgs) -> anyhow::Result<()> {
    for (path, what) in [(&args.output, "report"), (&args.plot, "plot")] {
        if let Some(path) = path {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .with_context(|| format!("cannot write the {what} to {}", path.display()))?;
        }
    }
    Ok(())
}

/// The report in the asked format, to `--output` or stdout (unless live lines took stdout), the
/// live output's last line, and the plot.
fn write_outputs(
    args: &BenchArgs,
    report: &crate::model::results::RunReport,
    live: Option<&crate::report::live::Live>,
    live_on_stdout: bool,
) -> anyhow::Result<()> {
    let color = args.output.is_none()
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let style = report::Style {
        color,
        width: report::output_width(args.output.is_none()),
        layout: args.layout,
        verbose: args.verbose,
    };
    let text = report::render(report, args.format, &style);
    if let Some(live) = live {
        live.finish(report);
    }
    match &args.output {
        None if live_on_stdout => {}
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("cannot write the report to {}", path.display()))?;
            eprintln!("aerobench: report written to {}", path.display());
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).context("cannot write the report to stdout")?;
            out.flush()?;
        }
    }
    if let Some(path) = &args.plot {
        match report::plot_file::write(report, path) {
            Ok(()) => eprintln!("aerobench: plot written to {}", path.display()),
            Err(e) => eprintln!("aerobench: no plot: {e:#}"),
        }
    }
    Ok(())
}

/// How often and where `--interval` / `--live` lines go, if asked for.
fn live_output(args: &BenchArgs) -> anyhow::Result<Option<(Duration, Box<dyn std::io::Write + Send>)>> {
    let every = match (args.interval, &args.live) {
        (None, None) => return Ok(None),
        (Some(every), _) => every,
        (None, Some(_)) => Duration::from_secs(1),
    };
    let out: Box<dyn std::io::Write + Send> = match &args.live {
        Some(path) => Box::new(
            std::fs::File::create(path).with_context(|| format!("cannot write live output to {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout()),
    };
    Ok(Some((every, out)))
}
