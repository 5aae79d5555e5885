//! The schedule of a run, and nothing else: starts every column first (through
//! [`crate::drivers::start`], which knows where each kind runs; the lanes are kept for the whole
//! run), writes the records every column reads (untimed), then runs the warm-up
//! and the measured rounds. Within a round each operation runs for every column in turn, in the
//! round's order from a balanced design ([`crate::run::order`]), so neither drift on the machine nor
//! the server's state, nor what the column before left behind, can favour one column. Each
//! measured phase makes at least `--min-phase-calls` calls and runs at least `--min-phase-time`.
//! With `--start-at`, every phase starts in a fixed wall-clock slot, so the hosts of a sharded
//! run measure the same column and operation at the same time. A column that cannot start or
//! breaks becomes an error column; the others go on.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;

use crate::drivers::native::{NativeConfig, NativeDriver};
use crate::drivers::{self, Family};
use crate::engine::lane::Lane;
use crate::engine::progress;
use crate::engine::{self, Measured, Phase, stop};
use crate::model::results::Column;
use crate::run::plan::Plan;
use crate::workload::Operation;

pub use crate::drivers::start::Target;

/// Everything a run measured, in the order it was measured.
pub struct Outcome {
    /// Every column in plan order, with its error if it failed.
    pub columns: Vec<Column>,
    /// (column id, one measured phase) for every measured (not warm-up) phase.
    pub measured: Vec<(String, Measured)>,
    /// Measured rounds that ran to the end.
    pub rounds_completed: u32,
    /// What went wrong for the whole run (the records could not be written first).
    pub warnings: Vec<String>,
    /// Why the run stopped before its last phase (the server died or stalled), if it did.
    pub incomplete: Option<String>,
    /// The order of the columns (indices into the plan's) in each round and operation:
    /// `orders[round - 1][op_index]`.
    pub orders: Vec<Vec<Vec<usize>>>,
    /// When each measured phase ran, in the order they ran.
    pub phases: Vec<crate::model::results::PhaseWindow>,
    /// The cluster's states as read between phases, when they were read.
    pub cluster: Option<crate::run::cluster_state::History>,
    /// With `--stop settled`: which cells settled after how many rounds, which stayed open.
    pub settling: Option<crate::run::settle::Settling>,
    /// What the clients' own stage timers recorded after the rounds (`--stages`).
    pub stages: Option<crate::model::stages::StagesRun>,
    /// What `--profile`'s pass found, after the rounds.
    pub profiles: Option<crate::model::profile::Profiles>,
}

/// A column's place in the run: its lane while it is usable.
struct Place {
    column: Column,
    lane: Option<Box<dyn Lane>>,
    /// When its phases began failing without a single success, if they have (the phase's
    /// watchdog counts that time toward its patience).
    failing_since: Option<std::time::Instant>,
}

/// When a measured phase may run with `--start-at`: its slot, counted from the shared start.
struct Slot {
    start: SystemTime,
    /// The phase's deadline: its `--duration` after the slot's start.
    end: SystemTime,
}

/// The slot of the `index`-th measured phase of the plan (counting every planned column's
/// phases, those of columns that failed too, so every host counts alike), if the plan keeps a
/// shared schedule.
fn slot_of(plan: &Plan, index: u64) -> Option<Slot> {
    let (start_at, slot, duration) = (plan.start_at?, plan.slot()?, plan.duration?);
    let start = start_at + slot * u32::try_from(index).unwrap_or(u32::MAX);
    Some(Slot { start, end: start + duration })
}

/// Sleeps until `at` (wall clock), waking for Ctrl-C; false when interrupted.
fn sleep_until(at: SystemTime) -> bool {
    loop {
        if stop::interrupted() {
            return false;
        }
        match at.duration_since(SystemTime::now()) {
            Ok(left) if left > Duration::ZERO => std::thread::sleep(left.min(Duration::from_millis(100))),
            _ => return true,
        }
    }
}

/// Runs the whole plan against `target`; with `watch_cluster`, reads the cluster's state before
/// the first phase and after every phase (outside their timing).
pub fn run(
    plan: &Plan,
    target: &Target,
    show: bool,
    live: Option<&crate::report::live::Live>,
    watch_cluster: bool,
) -> anyhow::Result<Outcome> {
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
            .enable_all()
            .build()
            .context("cannot start the tokio runtime")?,
    );
    // Phases tell a server that is gone from a slow one by connecting to it (engine::stop).
    stop::watch_server(&target.host, target.port);
    let mut slots = start_columns(plan, target, &runtime, show);
    let mut warnings = Vec::new();
    if let Some(advice) = connectivity_advice(plan, target, &slots) {
        eprintln!("aerobench: {advice}");
        warnings.push(advice);
    }
    let mut incomplete = write_records_first(plan, target, &runtime, show, &mut slots, &mut warnings);

    let mut measured = Vec::new();
    let mut rounds_completed = 0;
    let first_round = if plan.workload.warmup > 0 { 0 } else { 1 };
    let phases_per_round = plan.ops.len() * slots.iter().filter(|s| s.lane.is_some()).count();
    let all_phases = phases_per_round as u64 * u64::from(plan.rounds + 1 - first_round);
    // With --stop settled the cells that settle stop being measured: rounds until nothing is open.
    let mut settle = match plan.stop {
        crate::run::stop_rule::Stop::Settled { budget } => Some(crate::run::settle::Tracker::new(budget)),
        crate::run::stop_rule::Stop::Fixed => None,
    };
    let mut observer = if settle.is_some() {
        progress::RunProgress::until_settled(show, all_phases)
    } else {
        progress::RunProgress::new(show, all_phases)
    };
    if let Some(live) = live {
        for lane in slots.iter_mut().filter_map(|s| s.lane.as_mut()) {
            lane.report_every(live.every());
        }
    }
    let orders = crate::run::order::orders(plan.columns.len(), plan.ops.len(), plan.rounds as usize, plan.keys.seed);
    let mut phases = Vec::new();
    let mut late_warned = false;
    // (slot, operation) pairs whose client said at its first call that it cannot make it: not
    // run again, their cell says "not supported".
    let mut lacking: Vec<(usize, Operation)> = Vec::new();
    // Times of changes count on the live output's clock, as its interval lines do.
    let clock = live.map_or_else(std::time::Instant::now, crate::report::live::Live::started);
    let mut cluster = (watch_cluster && incomplete.is_none() && !stop::interrupted())
        .then(|| crate::run::cluster_state::Tracker::new(target, clock));
    if let Some(tracker) = &mut cluster {
        tracker.read(None);
    }
    'rounds: for round in first_round..=plan.rounds {
        if let Some(settle) = &mut settle
            && !settle.may_start(round)
        {
            break;
        }
        let round_started = std::time::Instant::now();
        for (op_index, &op) in plan.ops.iter().enumerate() {
            // The warm-up runs in the first round's order.
            let order = &orders[round.max(1) as usize - 1][op_index];
            for (position, &index) in order.iter().enumerate() {
                if stop::interrupted() {
                    break 'rounds;
                }
                let Some(slot) = slots.get_mut(index) else { continue };
                let Some(lane) = slot.lane.as_mut() else { continue };
                if lacking.contains(&(index, op)) || settle.as_ref().is_some_and(|s| s.is_done(index, op)) {
                    continue;
                }
                // With a shared start, the phase waits for its slot and ends at the slot's
                // deadline; a host that arrives after the deadline skips it (merge then drops
                // that round, which this host did not complete).
                let number = ((u64::from(round.max(1)) - 1) * plan.ops.len() as u64 + op_index as u64)
                    * plan.columns.len() as u64
                    + position as u64;
                let window = if round > 0 { slot_of(plan, number) } else { None };
                if let Some(w) = &window {
                    if !sleep_until(w.start) {
                        break 'rounds;
                    }
                    let now = SystemTime::now();
                    // Late by a quarter of the phase (at least 50 ms): worth a word.
                    let slack = (w.end.duration_since(w.start).unwrap_or_default() / 4).max(Duration::from_millis(50));
                    if !late_warned && now.duration_since(w.start + slack).is_ok() {
                        late_warned = true;
                        warnings.push(format!(
                            "this host was {:.0} ms behind --start-at's schedule at {} round {round} of {}: its \
                             phases ran shorter or were skipped until it caught up (start later, or give \
                             --duration more room)",
                            now.duration_since(w.start).unwrap_or_default().as_secs_f64() * 1e3,
                            op.name(),
                            slot.column.label
                        ));
                    }
                    if now + Duration::from_millis(1) >= w.end {
                        continue;
                    }
                }
                let in_flight = lane.column().in_flight.max(1);
                let mut phase = if round == 0 {
                    Phase::warmup(&plan.workload, op, in_flight, plan.patience)
                } else {
                    Phase::measured(&plan.workload, op, round, plan.duration, in_flight, plan.patience)
                };
                // Measured phases run at the rate asked for; the warm-up stays a closed loop.
                phase.rate = plan.rate.filter(|_| round > 0);
                // Measured phases follow the key distribution (the warm-up goes through the records).
                if round > 0 {
                    plan.aim_keys(&mut phase, op);
                }
                // A record is deleted once: a delete phase stops when every record is gone, even
                // with --duration time left.
                if op == Operation::Delete {
                    phase.calls = phase.calls.min(phase.space);
                }
                // Short phases are no measurement: at least --min-phase-calls calls and
                // --min-phase-time, cycling over the records, within the lengthening cap (a
                // delete phase deletes each record once).
                if round > 0 && plan.duration.is_none() && op != Operation::Delete {
                    phase.lengthen = Some(crate::engine::Lengthen {
                        own_calls: phase.calls,
                        min_time: plan.min_phase_time,
                        cap: plan.lengthen_cap(),
                    });
                    // No more in flight than the operation's own calls, as without lengthening
                    // (5 scans: 5 at a time, not 50 scans of the same set at once).
                    phase.in_flight = phase.in_flight.min(u32::try_from(phase.calls).unwrap_or(u32::MAX).max(1));
                    phase.calls = phase.calls.max(plan.min_phase_calls);
                }
                if let Some(w) = &window {
                    let from = SystemTime::now().max(w.start);
                    phase.duration = Some(w.end.duration_since(from).unwrap_or(Duration::ZERO));
                }
                phase.failing_before = slot.failing_since.map_or(Duration::ZERO, |since| since.elapsed());
                if phase.calls == 0 {
                    continue;
                }
                observer.set_round(round, plan.rounds);
                let state_before = cluster.as_ref().and_then(|t| t.current());
                let started = std::time::Instant::now();
                let started_at = SystemTime::now();
                let ran = match live {
                    Some(live) => {
                        lane.run(&phase, &mut crate::report::live::Tee::new(&mut observer, live, &slot.column.id))
                    }
                    None => lane.run(&phase, &mut observer),
                };
                let finished_at = SystemTime::now();
                // The state after the phase, outside its timing: a change between the two reads
                // happened while it ran.
                let state_after = cluster.as_mut().and_then(|t| {
                    let phase = crate::model::results::PhaseRef {
                        column: slot.column.id.clone(),
                        operation: op.name().to_string(),
                        round,
                    };
                    t.read(Some(phase))
                });
                if round > 0 {
                    phases.push(crate::model::results::PhaseWindow {
                        round,
                        operation: op.name().to_string(),
                        column: slot.column.id.clone(),
                        started_at: crate::model::timestamp::wall(started_at),
                        finished_at: crate::model::timestamp::wall(finished_at),
                        cluster: crate::run::cluster_state::Tracker::span(state_before, state_after),
                    });
                }
                match ran {
                    Ok(m) => {
                        let broken = column_error(&m);
                        if m.recorder.successes() > 0 {
                            slot.failing_since = None;
                        } else if m.recorder.errors() > 0 {
                            slot.failing_since.get_or_insert(started);
                        }
                        let server_lost = m.server_unresponsive.then(|| m.stopped.clone()).flatten();
                        let what = if round == 0 {
                            format!("{} warm-up", op.name())
                        } else {
                            format!("{} round {round}", op.name())
                        };
                        if m.unsupported.is_some() {
                            // Told once, in the first phase that tried (the warm-up, if any).
                            lacking.push((index, op));
                            measured.push((slot.column.id.clone(), Measured { round: round.max(1), ..m.clone() }));
                        } else if round > 0 && m.recorder.count() > 0 {
                            measured.push((slot.column.id.clone(), m));
                        }
                        if let Some(why) = broken {
                            slot.column.error = Some(why);
                            slot.lane = None;
                        }
                        // One column's calls failing can be its client; a server that no longer
                        // answers a plain info request is gone for every column.
                        if let Some(stopped) = server_lost
                            && let Err(e) = target.answers()
                        {
                            incomplete = Some(format!(
                                "the server stopped answering during {what} of {} ({stopped}; {e}): the remaining \
                                 phases were skipped",
                                slot.column.label
                            ));
                            break 'rounds;
                        }
                    }
                    Err(why) => {
                        slot.column.error = Some(format!("{} round {round}: {why}", op.name()));
                        slot.column.crash = lane.crash().map(Box::new);
                        slot.lane = None;
                    }
                }
                // A delete phase leaves records missing that later phases and rounds read: they
                // are written again, untimed, as before the first round.
                if op == Operation::Delete
                    && reads_records(plan)
                    && plan.prewrite
                    && let Err(e) = preload(plan, target, &runtime, false)
                {
                    warnings.push(format!("writing the records again after a delete phase failed: {e:#}"));
                }
            }
        }
        if slots.iter().all(|s| s.lane.is_none()) {
            break;
        }
        if round > 0 && !stop::interrupted() {
            rounds_completed = round;
            if let Some(settle) = &mut settle {
                let running: Vec<(usize, Column)> = slots
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.lane.is_some())
                    .map(|(i, s)| (i, s.column.clone()))
                    .collect();
                let go_on = settle.after_round(plan, round, round_started.elapsed(), &running, &measured);
                let indices: Vec<usize> = running.iter().map(|(i, _)| *i).collect();
                let left = if go_on { u64::from(plan.rounds - round) } else { 0 };
                observer.at_most(settle.open_per_round(plan, &indices) * left);
                if !go_on {
                    break;
                }
            }
        }
    }
    let settling = settle.map(|settle| {
        let running: Vec<(usize, String)> =
            slots.iter().enumerate().filter(|(_, s)| s.lane.is_some()).map(|(i, s)| (i, s.column.id.clone())).collect();
        settle.finish(plan, rounds_completed, &running)
    });
    observer.finish();
    // --stages: one more phase per column and operation with the clients' own timers on.
    let stages = (plan.stages && incomplete.is_none() && !stop::interrupted()).then(|| {
        let lanes = slots.iter_mut().filter_map(|s| Some((&s.column, s.lane.as_mut()?)));
        crate::run::stage_pass::run(plan, lanes, &measured, show)
    });
    // --profile: each Python column's operations once more, unsampled then sampled by py-spy.
    let profiles = plan.profile.as_ref().filter(|_| incomplete.is_none() && !stop::interrupted()).map(|settings| {
        let lanes = slots.iter_mut().filter_map(|s| s.lane.as_mut()).collect();
        crate::run::profile_pass::run(plan, settings, lanes, show)
    });
    // Close every client (Python workers exit) before the report is written.
    let columns = slots.into_iter().map(|s| s.column).collect();
    if let Some(why) = &incomplete {
        warnings.push(why.clone());
    }
    let cluster = cluster.map(crate::run::cluster_state::Tracker::finish);
    Ok(Outcome {
        columns,
        measured,
        rounds_completed,
        warnings,
        incomplete,
        orders,
        phases,
        cluster,
        settling,
        stages,
        profiles,
    })
}
/// Step 1: starts every planned column (in plan order), each a lane, or an error column.
fn start_columns(plan: &Plan, target: &Target, runtime: &Arc<tokio::runtime::Runtime>, show: bool) -> Vec<Place> {
    let mut slots: Vec<Place> = Vec::new();
    let settings = plan.lane_settings();
    for pc in &plan.columns {
        if stop::interrupted() {
            break;
        }
        let spin = progress::spinner(show, format!("connecting {}", pc.label));
        let lane = crate::drivers::start::start(&settings, target, pc, plan.in_flight(pc.kind), runtime, show);
        spin.finish_and_clear();
        slots.push(match lane {
            Ok(lane) => Place { column: lane.column().clone(), lane: Some(lane), failing_since: None },
            Err(column) => Place { column: *column, lane: None, failing_since: None },
        });
    }
    slots
}

/// Step 2: clients that could not connect although the probe reached the server: what the
/// server advertises and how to reach it (nothing when a login was refused: the addresses are
/// not the cause then).
fn connectivity_advice(plan: &Plan, target: &Target, slots: &[Place]) -> Option<String> {
    let unreachable: Vec<String> = slots
        .iter()
        .filter(|s| s.lane.is_none())
        .filter(|s| {
            s.column.error.as_deref().is_some_and(|e| {
                let f = engine::failure::Failure::classify(e);
                // A refused login also "fails to connect": the addresses are not the cause.
                (f.server_gone() || f == engine::failure::Failure::Timeout) && !engine::failure::authentication(e)
            })
        })
        .map(|s| s.column.label.clone())
        .collect();
    // When some column's login was refused, the others' failures to connect are that too (some
    // clients say only "failed to connect"): the advertised addresses are not the cause.
    let login_refused = slots.iter().any(|s| s.column.error.as_deref().is_some_and(engine::failure::authentication));
    if unreachable.is_empty() || login_refused || stop::interrupted() {
        return None;
    }
    crate::run::connectivity::advice(
        &target.host,
        target.port,
        &unreachable,
        plan.services_alternate,
        target.credentials.as_ref(),
    )
}

/// Whether any column reads records (no-op columns read nothing: a run of only those writes
/// nothing either).
fn reads_records(plan: &Plan) -> bool {
    plan.columns.iter().any(|pc| match pc.kind.family {
        Family::Noop => false,
        Family::Python { package, .. } => package.is_some(),
        _ => true,
    })
}

/// Step 3: writes the records every column reads, untimed (unless `--no-prewrite`, said in
/// `warnings`). When that fails nothing can be measured: every column says so, and the run's
/// reason is returned (it becomes the report's `incomplete`).
fn write_records_first(
    plan: &Plan,
    target: &Target,
    runtime: &Arc<tokio::runtime::Runtime>,
    show: bool,
    slots: &mut [Place],
    warnings: &mut Vec<String>,
) -> Option<String> {
    let reads_records = reads_records(plan);
    if reads_records && !plan.prewrite {
        warnings.push(
            "--no-prewrite: the records were not written before measuring, so reads find only what an earlier \
             run left, and the first column's puts insert while the others overwrite"
                .to_string(),
        );
    }
    if !(reads_records && plan.prewrite) {
        return None;
    }
    let e = preload(plan, target, runtime, show).err()?;
    let why = format!("{e:#}");
    for slot in slots.iter_mut().filter(|s| s.lane.is_some()) {
        slot.column.error = Some(format!("not measured: {why}"));
        slot.lane = None;
    }
    Some(why)
}

/// Why a column cannot go on after a phase: its client broke, or the server stopped answering.
fn column_error(m: &Measured) -> Option<String> {
    let what = if m.round == 0 { format!("{} warm-up", m.op.name()) } else { m.op.name().to_string() };
    if let Some(e) = &m.driver_error {
        return Some(format!("{what} failed: {e}"));
    }
    if m.server_unresponsive {
        let why = m.stopped.as_deref().unwrap_or("stopped early");
        return Some(format!("{what} {why}; later phases skipped"));
    }
    None
}

/// Writes every record the reads expect, with the Rust crate, untimed, so every column meets
/// the same server state: a measured put overwrites, a read finds.
pub(crate) fn preload(
    plan: &Plan,
    target: &Target,
    runtime: &Arc<tokio::runtime::Runtime>,
    show: bool,
) -> anyhow::Result<()> {
    if stop::interrupted() {
        return Ok(());
    }
    let spin = progress::spinner(show, format!("writing the {} records every column reads", plan.workload.count));
    let kind = drivers::kind("rust-async").context("the rust-async column kind exists")?;
    let in_flight = 64;
    // Writing the records is not measured: always the explicit timeouts, whatever --policies says.
    let config = NativeConfig {
        host: target.host.clone(),
        port: target.port,
        timeout_ms: plan.timeout_ms,
        explicit_policies: true,
        ttl: plan.ttl,
        services_alternate: plan.services_alternate,
        verify: false,
        credentials: target.credentials.clone(),
        tls: target.tls.clone(),
    };
    let mut driver = NativeDriver::connect(runtime.clone(), &config, &plan.workload, kind, in_flight).map_err(|e| {
        let why = format!("{e:#}").split_whitespace().collect::<Vec<_>>().join(" ");
        let answers = target.answers().is_ok();
        anyhow::anyhow!(
            "cannot connect to write the records the benchmark reads: {why} ({})",
            crate::engine::failure::hint([why.as_str()], answers, plan.timeout_ms)
        )
    })?;
    let phase = Phase::counted(Operation::Put, plan.workload.count, in_flight, plan.patience);
    let m = engine::measure(&mut driver, &phase, &mut engine::Silent);
    spin.finish_and_clear();
    if let Some(e) = m.driver_error {
        anyhow::bail!("writing the records the benchmark reads failed: {e}");
    }
    if m.recorder.errors() > 0 && !stop::interrupted() {
        // Calls that say the server is gone are confirmed with a plain info request, as during
        // the rounds: the hint follows what happened, not a guess.
        let answers = target.answers().is_ok();
        let stopped = match (&m.stopped, m.server_unresponsive) {
            (Some(why), true) => format!(", {why}"),
            _ => String::new(),
        };
        anyhow::bail!(
            "writing the {} records the benchmark reads, before measuring, failed for {} of them after {} \
             succeeded{stopped} ({})",
            plan.workload.count,
            m.recorder.errors(),
            m.recorder.successes(),
            crate::engine::failure::explain(m.recorder.errors_by_reason(), answers, plan.timeout_ms)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_each_other_from_the_shared_start() {
        use clap::Parser as _;
        let cli = crate::run::cli::Cli::try_parse_from(["aerobench", "--start-at", "1796331600", "--duration", "1s"])
            .unwrap();
        let plan = Plan::from_args(&cli.bench).unwrap();
        let at = |s: SystemTime| s.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
        let first = slot_of(&plan, 0).unwrap();
        assert_eq!((at(first.start), at(first.end)), (1_796_331_600.0, 1_796_331_601.0));
        let third = slot_of(&plan, 2).unwrap();
        assert!((at(third.start) - 1_796_331_602.4).abs() < 1e-6, "{}", at(third.start));
        let cli = crate::run::cli::Cli::try_parse_from(["aerobench", "--duration", "1s"]).unwrap();
        assert!(slot_of(&Plan::from_args(&cli.bench).unwrap(), 0).is_none());
    }
}
