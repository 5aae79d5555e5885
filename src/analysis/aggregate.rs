//! From measured phases to report cells: every round of a (column, operation) merged into one
//! cell (histograms added, counts and wall times summed, throughput over the summed wall time),
//! with each round's own figures kept, and the notes a reader needs beside the numbers: calls
//! that ended early, records missing, too few calls for a p99, rounds that disagree. In an open
//! loop each round keeps its latency from when calls were due too, for the verdicts to compare.

use crate::analysis::compare::MIN_CALLS_FOR_P99;
use crate::analysis::numbers;
use crate::engine::Measured;
use crate::engine::bystanders::{self, CompetitorRun, LoopGaps};
use crate::engine::open_loop::OpenLoopMeasured;
use crate::engine::stats::{self, Recorder};
use crate::model::results::{Cell, Column, CpuCost, OpenLoopFigures, RoundFigures, RoundLatency};
use crate::workload::{Operation, Workload};

/// Rounds whose throughput spreads wider than this (max / min) are flagged.
pub const DISAGREEING_ROUNDS: f64 = 2.0;

/// An open-loop column kept up when it made at least this share of the rate asked for.
pub const KEPT_UP_RATE: f64 = 0.95;
/// A column that kept up is still said to have fallen behind at times when this share of its
/// calls or more started late.
pub const LATE_SHARE: f64 = 0.01;

/// One cell per (column, operation) that measured anything, in column then operation order.
pub fn cells(columns: &[Column], ops: &[Operation], measured: &[(String, Measured)], workload: &Workload) -> Vec<Cell> {
    // A mixed phase's updates become phases of their own operation (put).
    let updates: Vec<(String, Measured)> =
        measured.iter().filter_map(|(id, m)| m.updates.as_ref().map(|u| (id.clone(), (**u).clone()))).collect();
    let measured: Vec<(String, Measured)> = measured.iter().cloned().chain(updates).collect();
    let measured = measured.as_slice();
    let mut out = Vec::new();
    for column in columns {
        for &op in ops {
            let phases: Vec<&Measured> =
                measured.iter().filter(|(id, m)| *id == column.id && m.op == op).map(|(_, m)| m).collect();
            if !phases.is_empty() {
                let mut c = cell(&column.id, op, &phases, workload);
                open_loop(&mut c, &phases, column.in_flight);
                out.push(c);
            }
        }
    }
    out
}

fn figures(m: &Measured) -> RoundFigures {
    let s = stats::summarize(m.recorder.histogram());
    RoundFigures {
        round: m.round,
        count: m.recorder.count(),
        errors: m.recorder.errors(),
        avg_us: s.avg,
        p50_us: s.p50,
        p99_us: s.p99,
        ops_per_sec: if m.wall_secs > 0.0 { m.recorder.successes() as f64 / m.wall_secs } else { 0.0 },
        wall_secs: m.wall_secs,
        cpu_secs: m.cpu_secs,
        corrected: m.open_loop.as_ref().map(|o| {
            let c = stats::summarize(o.corrected.histogram());
            RoundLatency { avg_us: c.avg, p50_us: c.p50, p99_us: c.p99 }
        }),
    }
}

/// CPU cost over every round, when every round was measured.
fn cpu_cost(phases: &[&Measured], successes: u64, wall: f64) -> Option<CpuCost> {
    let cpu: f64 = phases.iter().map(|m| m.cpu_secs).sum::<Option<f64>>()?;
    let peak = phases.iter().filter_map(|m| m.peak_rss_bytes).max();
    let gc = phases.iter().map(|m| m.gc_secs).sum::<Option<f64>>();
    Some(CpuCost::from_totals(cpu, successes, wall, peak, gc))
}

/// The cell of `column` × `op` from its measured rounds.
pub fn cell(column: &str, op: Operation, phases: &[&Measured], workload: &Workload) -> Cell {
    // A client without the operation made no calls worth counting: the cell says why, nothing else.
    if let Some(why) = phases.iter().find_map(|m| m.unsupported.clone()) {
        let mut cell = stats::to_cell(column, op.name(), &Recorder::new(), std::time::Duration::ZERO, false);
        cell.notes = vec![why.clone()];
        cell.not_supported = Some(why);
        return cell;
    }
    let mut all = Recorder::new();
    let mut wall = 0.0;
    for m in phases {
        all.merge(&m.recorder);
        wall += m.wall_secs;
    }
    let mut cell =
        stats::to_cell(column, op.name(), &all, std::time::Duration::from_secs_f64(wall), op.moves_many_records());
    cell.failures = crate::engine::failure::tally(all.errors_by_reason());
    cell.rounds = phases.iter().map(|m| figures(m)).collect();
    cell.cpu = cpu_cost(phases, all.successes(), wall);
    cell.notes = notes(op, phases, &all, &cell.rounds, workload);
    bystanders(&mut cell, phases);
    cell
}

/// The cell's event-loop gaps and competitor speed over its rounds, and a note for each so the
/// tables show them.
fn bystanders(cell: &mut Cell, phases: &[&Measured]) {
    let mut gaps: Option<LoopGaps> = None;
    for g in phases.iter().filter_map(|m| m.loop_gaps.as_ref()) {
        gaps.get_or_insert_with(LoopGaps::default).merge(g);
    }
    cell.loop_starvation_us = gaps.and_then(|g| g.summary());
    if let Some(s) = cell.loop_starvation_us {
        cell.notes.push(format!(
            "event loop kept a yielding task waiting p50 {}, p99 {}, max {} ({} gaps)",
            numbers::latency(s.p50),
            numbers::latency(s.p99),
            numbers::latency(s.max),
            numbers::thousands(s.samples)
        ));
    }
    let runs: Vec<CompetitorRun> = phases.iter().filter_map(|m| m.competitor).collect();
    cell.competitor = bystanders::competitor_figures(&runs);
    if let Some(c) = cell.competitor {
        cell.notes.push(format!(
            "competing Python work ran at {:.0}% of its solo speed ({} vs {} iterations/s)",
            c.fraction * 100.0,
            numbers::thousands(c.loaded_per_sec.round() as u64),
            numbers::thousands(c.solo_per_sec.round() as u64)
        ));
    }
}

/// The cell's open-loop figures over its rounds (`--rate`), and a note when the column could not
/// keep to the rate: how far behind it fell and, when its calls in flight cannot reach the rate
/// at the service time measured (Little's law), that too.
fn open_loop(cell: &mut Cell, phases: &[&Measured], in_flight: u32) {
    let mut merged: Option<OpenLoopMeasured> = None;
    for o in phases.iter().filter_map(|m| m.open_loop.as_ref()) {
        match &mut merged {
            Some(m) => m.merge(o),
            None => merged = Some(o.clone()),
        }
    }
    let Some(o) = merged else { return };
    // Calls over the time from each phase's first call due to its last call's start: a column
    // that kept to the schedule made the rate, whatever its last calls' latency.
    let span = if o.span_secs > 0.0 { o.span_secs } else { cell.wall_secs };
    let achieved = if span > 0.0 { cell.count as f64 / span } else { 0.0 };
    let late_share = o.late as f64 / cell.count.max(1) as f64;
    let kept_up = cell.count > 0 && achieved >= KEPT_UP_RATE * o.rate;
    let max_lag_us = o.max_lag_ns as f64 / 1e3;
    let late = format!(
        "{} of {} calls ({:.0}%) started over 2 ms after they were due, the latest {} late",
        numbers::thousands(o.late),
        numbers::thousands(cell.count),
        late_share * 100.0,
        numbers::latency(max_lag_us)
    );
    if kept_up && late_share >= LATE_SHARE {
        cell.notes.push(format!("fell behind its schedule at times: {late}"));
    }
    if !kept_up && cell.count > 0 {
        let mut note = format!(
            "could not keep up with {}/s: made {}/s; {late}",
            numbers::thousands(o.rate.round() as u64),
            numbers::thousands(achieved.round() as u64),
        );
        let service_secs = cell.latency_us.avg / 1e6;
        if service_secs > 0.0 {
            let capacity = f64::from(in_flight.max(1)) / service_secs;
            if capacity < o.rate {
                note.push_str(&format!(
                    "; {} in flight at {} per call make at most about {}/s",
                    in_flight.max(1),
                    numbers::latency(cell.latency_us.avg),
                    numbers::thousands(capacity.round() as u64)
                ));
            }
        }
        cell.notes.push(note);
    }
    let queued_share = o.queued as f64 / cell.count.max(1) as f64;
    let pacing = stats::start_lag(o.pacing_lag.histogram());
    if queued_share >= LATE_SHARE {
        cell.notes.push(format!(
            "{} of {} calls ({:.1}%) fell due while {} still running: they started late because of the \
             column's own calls, not the wait; counted from when each call could start, calls started \
             p99 {} late (JSON pacing_lag_us)",
            numbers::thousands(o.queued),
            numbers::thousands(cell.count),
            queued_share * 100.0,
            if in_flight <= 1 {
                "the call before it was".to_owned()
            } else {
                format!("all {in_flight} calls in flight were")
            },
            numbers::latency(pacing.p99),
        ));
    }
    cell.open_loop = Some(OpenLoopFigures {
        target_ops_per_sec: o.rate,
        achieved_ops_per_sec: achieved,
        corrected_latency_us: stats::summarize(o.corrected.histogram()),
        corrected_histogram: stats::encode_histogram(o.corrected.histogram()),
        late_calls: o.late,
        max_start_lag_us: max_lag_us,
        kept_up,
        start_lag_us: stats::start_lag(o.start_lag.histogram()),
        start_lag_histogram: stats::encode_histogram(o.start_lag.histogram()),
        pacing_lag_us: pacing,
        pacing_lag_histogram: stats::encode_histogram(o.pacing_lag.histogram()),
        queued_calls: o.queued,
    });
}

fn notes(
    op: Operation,
    phases: &[&Measured],
    all: &Recorder,
    rounds: &[RoundFigures],
    workload: &Workload,
) -> Vec<String> {
    let mut notes = Vec::new();
    for m in phases {
        if let Some(why) = &m.stopped {
            notes.push(format!("round {}: {why} after {} calls", m.round, m.recorder.count()));
        }
    }
    let ok = all.successes();
    match op {
        Operation::BatchGet if ok > 0 => {
            let asked: u64 = phases
                .iter()
                .map(|m| {
                    // Calls cover the records in order; every full pass asks for all of them.
                    let calls = m.recorder.successes();
                    let per_pass = workload.calls(op).max(1);
                    (calls / per_pass) * workload.count
                        + (0..calls % per_pass).map(|j| workload.batch_range(j).count() as u64).sum::<u64>()
                })
                .sum();
            if all.records() < asked {
                notes.push(format!("batch_get found {} of {} records asked for", all.records(), asked));
            }
        }
        Operation::Scan if ok > 0 => {
            let per_scan = all.records() as f64 / ok as f64;
            if per_scan != workload.count as f64 {
                notes.push(format!(
                    "each scan should return the {} records written; scans returned {per_scan:.0} on average{}",
                    workload.count,
                    if per_scan > workload.count as f64 { " (the set holds other records too)" } else { "" }
                ));
            }
        }
        _ => {}
    }
    if ok > 0 && ok < MIN_CALLS_FOR_P99 {
        notes.push(format!(
            "{ok} calls in all rounds: too few for a p99 (needs {MIN_CALLS_FOR_P99}), so none is shown; raise \
             --count or --rounds, or run each phase for a --duration"
        ));
    }
    if all.beyond_range() > 0 {
        notes.push(format!("{} calls took over 60 s (counted as 60 s)", all.beyond_range()));
    }
    let rates: Vec<f64> = rounds.iter().map(|r| r.ops_per_sec).filter(|r| *r > 0.0).collect();
    if rates.len() >= 2 {
        let (lo, hi) = rates.iter().fold((f64::MAX, 0.0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
        if hi / lo > DISAGREEING_ROUNDS {
            notes.push(format!(
                "rounds disagree widely: ops/s varies over {DISAGREEING_ROUNDS}x between rounds (short phases \
                 or a busy machine; the rounds are in the JSON)"
            ));
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn workload() -> Workload {
        Workload {
            namespace: "test".into(),
            set: "s".into(),
            key_prefix: "t-".into(),
            count: 100,
            batch_size: 10,
            bins: Workload::bins_for(3, 8),
            scans: 2,
            warmup: 0,
            seed: 0,
            read_bins: None,
        }
    }

    fn measured(op: Operation, round: u32, calls: u64, latency_us: u64, wall_secs: f64, records: u64) -> Measured {
        let mut recorder = Recorder::new();
        for _ in 0..calls {
            recorder.record_ok(Duration::from_micros(latency_us));
        }
        recorder.add_records(records);
        Measured { cpu_secs: Some(wall_secs / 2.0), ..Measured::plain(op, round, recorder, wall_secs) }
    }

    #[test]
    fn rounds_merge_into_one_cell_and_keep_their_figures() {
        let w = workload();
        let phases =
            [measured(Operation::Get, 1, 100, 10, 0.001, 100), measured(Operation::Get, 2, 100, 30, 0.0035, 100)];
        let refs: Vec<&Measured> = phases.iter().collect();
        let c = cell("x", Operation::Get, &refs, &w);
        assert_eq!(c.count, 200);
        assert_eq!(c.rounds.len(), 2);
        assert!((c.latency_us.avg - 20.0).abs() < 0.05, "{}", c.latency_us.avg);
        assert!((c.wall_secs - 0.0045).abs() < 1e-9);
        assert!((c.ops_per_sec - 200.0 / 0.0045).abs() < 1.0, "ops/s over the summed wall time: {}", c.ops_per_sec);
        assert!((c.rounds[0].ops_per_sec - 100_000.0).abs() < 1.0);
        assert!((c.rounds[1].avg_us - 30.0).abs() < 0.05);
        assert!(c.notes.iter().any(|n| n.starts_with("rounds disagree")), "{:?}", c.notes);
        // Half a core busy: CPU is half the wall time, per call and in all.
        let cpu = c.cpu.unwrap();
        assert!((cpu.cpu_secs - 0.00225).abs() < 1e-12 && (cpu.utilisation - 0.5).abs() < 1e-9, "{cpu:?}");
        assert!((cpu.cpu_us_per_op - 0.00225e6 / 200.0).abs() < 1e-6);
        assert!((cpu.ops_per_cpu_sec - 200.0 / 0.00225).abs() < 1e-6);
        assert_eq!(c.rounds[1].cpu_secs, Some(0.00175));
    }

    #[test]
    fn too_few_calls_for_a_p99_and_short_batches_are_noted() {
        let w = workload();
        let phases = [measured(Operation::BatchGet, 1, 10, 100, 0.01, 90)];
        let refs: Vec<&Measured> = phases.iter().collect();
        let c = cell("x", Operation::BatchGet, &refs, &w);
        assert!(c.notes.iter().any(|n| n.contains("found 90 of 100")), "{:?}", c.notes);
        assert!(c.notes.iter().any(|n| n.contains("too few for a p99")), "{:?}", c.notes);
        let calm = [measured(Operation::Get, 1, 100, 10, 0.001, 0), measured(Operation::Get, 2, 100, 11, 0.0011, 0)];
        let refs: Vec<&Measured> = calm.iter().collect();
        assert!(cell("x", Operation::Get, &refs, &w).notes.is_empty());
    }

    #[test]
    fn calls_held_back_by_the_column_s_own_calls_are_told_apart_from_the_wait() {
        use crate::engine::open_loop::{OpenLoop, Schedule, Timed};
        use std::time::Instant;
        let w = workload();
        // 1,000 calls at 1,000/s, one in flight: every 50th takes 3 ms and holds back the 2 or 3
        // due behind it; every call whose worker was free started 40 µs late.
        let start = Instant::now();
        let open = OpenLoop::new(Schedule::starting_at(start, 1000.0), 1);
        let mut free_at = start;
        let mut m = measured(Operation::Get, 1, 0, 0, 1.0, 0);
        for n in 0..1000u64 {
            let due = open.schedule.due(n);
            let started = if free_at > due { free_at } else { due + Duration::from_micros(40) };
            let finished = started + Duration::from_micros(if n % 50 == 0 { 3000 } else { 100 });
            open.record_kind(0, 0, Timed { due, ready: Some(free_at), started, finished }, None);
            m.recorder.record_ok(finished - started);
            free_at = finished;
        }
        let measured_open = open.measured();
        let queued = measured_open.queued;
        assert!((40..=60).contains(&queued), "{queued}");
        m.open_loop = Some(measured_open);
        let column = crate::test_support::column("x", "x", "wire", "0", "sync", 1);
        let c = cells(&[column], &[Operation::Get], &[("x".into(), m)], &w).remove(0);
        let o = c.open_loop.as_ref().unwrap();
        assert_eq!(o.queued_calls, queued);
        assert!(o.start_lag_us.max > 2000.0, "{:?}", o.start_lag_us);
        assert!((o.pacing_lag_us.p99 - 40.0).abs() < 1.0, "{:?}", o.pacing_lag_us);
        assert!(!o.pacing_lag_histogram.is_empty());
        let note = c.notes.iter().find(|n| n.contains("fell due while the call before it was still running"));
        assert!(note.is_some_and(|n| n.contains("p99 40")), "{:?}", c.notes);
    }
}
