//! A finished (or interrupted) run of calls as its report: cells from the measured rounds, the
//! floor, the ratios with their intervals, the schedule, the cluster's history, and what makes
//! the figures less reliable. A service run's report starts from the same (`run::service`).

use crate::analysis::aggregate;
use crate::analysis::compare;
use crate::engine::stats;
use crate::engine::stop;
use crate::model::results::{MachineInfo, RunReport, SCHEMA_VERSION, ServerInfo, Workload as WorkloadInfo};
use crate::run::plan::Plan;
use crate::run::scheduler;

/// The report of a finished (or interrupted) run: cells from the measured rounds, the floor,
/// the ratios with their intervals, and what makes the figures less reliable.
pub fn assemble(
    plan: &Plan,
    started_at: String,
    server: ServerInfo,
    machine: MachineInfo,
    outcome: scheduler::Outcome,
    min_effect: f64,
    kept: Option<(Vec<crate::analysis::node_loss::Interval>, f64)>,
) -> RunReport {
    let mut schedule = schedule(plan, &outcome);
    let reported_ops = plan.reported_ops();
    let operations: Vec<String> = reported_ops.iter().map(|o| o.name().to_string()).collect();
    let columns = outcome.columns;
    let mut cells = aggregate::cells(&columns, &reported_ops, &outcome.measured, &plan.workload);
    if plan.materialise == crate::workload::Materialise::None {
        let python = |id: &str| columns.iter().any(|c| c.id == id && c.python_version.is_some());
        for cell in cells.iter_mut().filter(|c| c.operation == "batch_get" && python(&c.column)) {
            cell.notes
                .push("--materialise none: the records returned were not read; records counts keys asked".to_string());
        }
    }
    if plan.materialise == crate::workload::Materialise::Numpy {
        use crate::drivers::Family;
        let family = |id: &str| plan.columns.iter().find(|pc| pc.id == id).map(|pc| pc.kind.family);
        let how = |id: &str| columns.iter().find(|c| c.id == id).and_then(|c| c.policies.get("materialise")).cloned();
        for cell in cells.iter_mut().filter(|c| c.operation == "batch_get") {
            let note = match family(&cell.column) {
                Some(Family::Native) => {
                    "not applicable outside Python (no NumPy); the Rust crate's records were read as typed values"
                        .to_string()
                }
                Some(Family::Wire) => {
                    "not applicable outside Python (no NumPy); the wire floor does not decode records".to_string()
                }
                Some(Family::Python { .. }) => match how(&cell.column) {
                    Some(how) => how.trim_start_matches("numpy: ").to_string(),
                    None => continue,
                },
                _ => continue,
            };
            cell.notes.push(format!("--materialise numpy: {note}"));
        }
    }
    if plan.verify {
        let wire =
            |id: &str| plan.columns.iter().any(|pc| pc.id == id && pc.kind.family == crate::drivers::Family::Wire);
        // The floor decodes and checks the records of gets, batch reads and scans; what an
        // operate, an update or a read-modify-write reads back it does not decode.
        let unchecked = ["operate", "update", "read_modify_write"];
        for cell in cells.iter_mut().filter(|c| unchecked.contains(&c.operation.as_str()) && wire(&c.column)) {
            cell.notes.push(format!(
                "--verify: the wire floor does not decode what {} reads back; it was not checked",
                cell.operation
            ));
        }
    }
    // With --stop settled every interval is the confidence sequence the rounds stopped on.
    let method = plan.stop.method();
    let floor = compare::set_over_floor_by(method, &columns, &mut cells);
    let pairs = compare::pairs(&columns, plan.baseline.as_deref());
    let mut ratios = compare::ratios_by(method, &columns, &cells, &operations, &pairs, min_effect);

    let windows: Vec<crate::analysis::cluster_change::Window> =
        outcome.cluster.as_ref().map(|h| h.changes.iter().map(|c| c.window.clone()).collect()).unwrap_or_default();
    let mut cluster = outcome.cluster.map(cluster_history);
    let mut warnings = outcome.warnings;
    if let Some(history) = &mut cluster {
        // The interval lines say what a node that left cost, and whether the phase before the read
        // that saw it met it already.
        if let Some((intervals, resolution)) = &kept {
            let ids: Vec<String> = columns.iter().map(|c| c.id.clone()).collect();
            history.resolution_secs = Some(*resolution);
            crate::analysis::cluster_change::recovery(history, &windows, intervals, &ids, &mut schedule.phases);
        }
        crate::analysis::cluster_change::note_cells(&mut cells, &schedule.phases, history);
        compare::cluster::withhold(&mut ratios, &schedule.phases, &history.states);
        let label = |id: &str| columns.iter().find(|c| c.id == id).map_or_else(|| id.to_string(), |c| c.label.clone());
        warnings.extend(crate::analysis::cluster_change::warnings(history, label));
    }
    warnings.extend(run_warnings(&server, &machine, &columns, outcome.rounds_completed, plan.rounds));
    RunReport {
        schema_version: SCHEMA_VERSION,
        aerobench_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at,
        server,
        machine,
        workload: WorkloadInfo {
            count: plan.workload.count,
            concurrency: plan.concurrency,
            batch_size: plan.workload.batch_size,
            namespace: plan.workload.namespace.clone(),
            set: plan.workload.set.clone(),
            key_prefix: crate::workload::shard::given_prefix(&plan.workload.key_prefix, plan.shard).to_string(),
            operations,
            bins: plan.workload.describe_bins(),
            record: plan.record.as_ref().map(|r| crate::model::results::RecordShape {
                name: r.name.clone(),
                spec: r.text.clone(),
                bin_count: r.bins.len(),
            }),
            read_bins: plan.workload.read_bins.clone(),
            warmup_ops: plan.workload.warmup,
            scans: plan.workload.scans,
            rounds: plan.rounds,
            rounds_completed: outcome.rounds_completed,
            phase_duration_secs: plan.duration.map(|d| d.as_secs_f64()),
            min_phase_calls: plan.min_phase_calls,
            min_phase_secs: plan.min_phase_time.as_secs_f64(),
            lengthen_cap_secs: plan.lengthen_cap().as_secs_f64(),
            histogram_unit: stats::HISTOGRAM_UNIT.to_string(),
            policies: plan.policies.name().to_string(),
            materialise: plan.materialise.name().to_string(),
            shard: plan.shard,
            pacing: if plan.rate.is_some() { "open" } else { "closed" }.to_string(),
            rate_per_column: plan.rate,
            keys: plan.keys.distribution.name(),
            seed: plan.keys.seed,
            key_space: plan.key_space,
            mix: plan.mix.map(|m| m.name()),
            stopping: Some(stopping(plan, outcome.settling.as_ref(), &cells)),
        },
        baseline: plan.baseline.clone().filter(|b| columns.iter().any(|c| c.id == *b && c.error.is_none())),
        floor,
        ratios,
        warnings,
        // Set by the caller, which knows whether Ctrl-C ended the run.
        interrupted: false,
        finished_at: Some(crate::model::timestamp::now()),
        merged_from: Vec::new(),
        incomplete: outcome.incomplete,
        records_deleted: None,
        node_loss: None,
        node_spread: None,
        cluster,
        service: None,
        stages: outcome.stages,
        profiles: outcome.profiles,
        min_effect,
        schedule: Some(schedule),
        columns,
        cells,
    }
}

/// What the run read of the cluster, as the report holds it: the states, and each change with the
/// nodes that left or joined.
fn cluster_history(h: crate::run::cluster_state::History) -> crate::model::results::ClusterHistory {
    let changes = h
        .changes
        .iter()
        .map(|c| {
            let nodes = |i: u32| h.states.get(i as usize).map(|s| s.nodes.clone()).unwrap_or_default();
            let (from, to) = (nodes(c.from), nodes(c.to));
            crate::model::results::ClusterChange {
                from: c.from,
                to: c.to,
                last_seen_before: crate::model::timestamp::wall(c.last_seen_before),
                seen_at: crate::model::timestamp::wall(c.seen_at),
                during: c.during.clone(),
                failures_began_during: None,
                left: from.iter().filter(|n| !to.contains(n)).cloned().collect(),
                joined: to.iter().filter(|n| !from.contains(n)).cloned().collect(),
                migrate_partitions_remaining: c.migrate_partitions_remaining,
                at_secs: None,
                columns: Vec::new(),
            }
        })
        .collect();
    crate::model::results::ClusterHistory {
        states: h.states,
        changes,
        reads: h.reads,
        failed_reads: h.failed_reads,
        resolution_secs: None,
    }
}

/// How the run chose its rounds, and with `--stop settled` what came of it.
fn stopping(
    plan: &Plan,
    settling: Option<&crate::run::settle::Settling>,
    cells: &[crate::model::results::Cell],
) -> crate::model::results::Stopping {
    use crate::analysis::compare::sequence;
    let settled = settling.filter(|_| matches!(plan.stop, crate::run::stop_rule::Stop::Settled { .. }));
    crate::model::results::Stopping {
        mode: if settled.is_some() { "settled" } else { "fixed" }.to_string(),
        interval: plan.stop.method().name().to_string(),
        method: settled.map(|_| {
            format!(
                "normal-mixture t confidence sequence (Lai 1976; Bayes factor of Rouder et al. 2009, right-Haar \
                 prior on sigma), g = {}, on the rounds' log ratios",
                sequence::PRIOR_G
            )
        }),
        prior_g: settled.map(|_| sequence::PRIOR_G),
        first_look: settled.map(|_| sequence::MIN_ROUNDS),
        budget_secs: settled.map(|s| s.budget.as_secs_f64()),
        spent_secs: settled.map(|s| s.spent.as_secs_f64()),
        ended: settled.map(|s| s.ended.name().to_string()),
        cells: settled.map(|s| cell_stops(s, plan, cells)).unwrap_or_default(),
    }
}

/// Each measured cell's rounds before its verdicts settled, or that it was still open when the
/// rounds ended (at the budget or the cap; not when they were cut short).
fn cell_stops(
    settling: &crate::run::settle::Settling,
    plan: &Plan,
    cells: &[crate::model::results::Cell],
) -> Vec<crate::model::results::CellStop> {
    // A scheduled operation's phases give the reported cells of a mix (gets give puts too).
    let scheduled = |cell_op: &str| -> Vec<crate::workload::Operation> {
        plan.ops
            .iter()
            .copied()
            .filter(|op| {
                op.name() == cell_op
                    || (cell_op == "put" && *op == crate::workload::Operation::Get && plan.updates().is_some())
            })
            .collect()
    };
    let cut_short = settling.ended == crate::run::settle::Ended::Early;
    cells
        .iter()
        .filter(|c| c.not_supported.is_none())
        .map(|cell| {
            let ops = scheduled(&cell.operation);
            let settled: Vec<_> =
                settling.settled.iter().filter(|(id, op, ..)| *id == cell.column && ops.contains(op)).collect();
            let settled_after = settled.iter().map(|(_, _, rounds, _)| *rounds).max();
            let settled_by = settled.iter().map(|(.., by)| by.as_secs_f64()).reduce(f64::max);
            let open = settling.open.iter().any(|(id, op)| *id == cell.column && ops.contains(op));
            crate::model::results::CellStop {
                column: cell.column.clone(),
                operation: cell.operation.clone(),
                settled_after_rounds: settled_after.filter(|_| !open),
                settled_after_secs: settled_by.filter(|_| !open),
                open_at_budget: open && !cut_short,
            }
        })
        .collect()
}

/// The order the columns ran in, its balance, and when each phase ran.
fn schedule(plan: &Plan, outcome: &scheduler::Outcome) -> crate::model::results::Schedule {
    let n = plan.columns.len();
    let mut orders = Vec::new();
    // A settled run lists the rounds that ran, not those its cap allowed.
    let ran = match outcome.settling {
        Some(_) => (outcome.rounds_completed as usize).max(1).min(outcome.orders.len()),
        None => outcome.orders.len(),
    };
    let outcome_orders = &outcome.orders[..ran];
    for (r, round) in outcome_orders.iter().enumerate() {
        for (op, order) in plan.ops.iter().zip(round) {
            orders.push(crate::model::results::RoundOrder {
                round: r as u32 + 1,
                operation: op.name().to_string(),
                columns: order.iter().map(|&i| plan.columns[i].id.clone()).collect(),
            });
        }
    }
    let balance = plan
        .ops
        .iter()
        .enumerate()
        .map(|(k, op)| {
            let per_op: Vec<Vec<usize>> = outcome_orders.iter().map(|round| round[k].clone()).collect();
            let tally = crate::run::order::Tally::of(n, &per_op);
            let ((position_min, position_max), (predecessor_min, predecessor_max)) =
                (tally.position_range(), tally.predecessor_range());
            crate::model::results::OrderBalance {
                operation: op.name().to_string(),
                position_min,
                position_max,
                predecessor_min,
                predecessor_max,
            }
        })
        .collect();
    crate::model::results::Schedule {
        design: "williams".to_string(),
        cycle_rounds: crate::run::order::cycle_rounds(n) as u32,
        seed: plan.keys.seed,
        remainder: "rounds after the last whole cycle take rows of one more cycle, each the row that raises \
                    the lowest position and predecessor counts (ties in the seeded order)"
            .to_string(),
        start_at: plan.start_at.map(crate::model::timestamp::wall),
        slot_secs: plan.slot().map(|s| s.as_secs_f64()),
        orders,
        balance,
        phases: outcome.phases.clone(),
    }
}

/// What a reader must know before trusting the figures of this run.
fn run_warnings(
    server: &ServerInfo,
    machine: &MachineInfo,
    columns: &[crate::model::results::Column],
    rounds_completed: u32,
    rounds: u32,
) -> Vec<String> {
    let mut out = Vec::new();
    if server.builtin {
        out.push(
            "the built-in in-memory server answers far faster than a real Aerospike server: these figures \
             compare the clients' own costs and say nothing about a real cluster"
                .to_string(),
        );
    }
    // Busy threads during a phase: aerobench's recorder and the client; with the built-in server,
    // its reactor too, on the same machine.
    let busy = 2 + usize::from(server.builtin);
    if machine.cpus < busy + 1 {
        out.push(format!(
            "{} CPU{} for about {busy} busy threads (client, aerobench{}): cores are shared, so latencies \
             include waiting for a core; compare columns within this run only",
            machine.cpus,
            if machine.cpus == 1 { "" } else { "s" },
            if server.builtin { ", the built-in server" } else { "" }
        ));
    }
    if rounds_completed < 2 && columns.iter().any(|c| c.error.is_none()) && !stop::interrupted() {
        out.push(format!(
            "{} of {rounds} round{} completed: ratios have no interval, so no verdict; run with --rounds 5 or more",
            rounds_completed,
            if rounds == 1 { "" } else { "s" }
        ));
    }
    out
}
