//! Load hosts merged (`aerobench merge`; the command itself is `run/merge.rs`): one report from
//! the reports of several load hosts that ran the same workload at the same time (typically
//! `--shard I/N` each). Cells are combined cell by cell: HDR histograms added and every
//! percentile recomputed from the sum (never an average of percentiles), counts, errors and
//! records summed, throughput summed (the hosts ran at once), wall time the longest host's. Runs
//! whose workloads, columns or round orders differ are refused, naming the field. The verdicts
//! come from the rounds, so a round is merged only where every host completed it for every column
//! (a column that died on one host would otherwise be one host's load against the others' two),
//! and only where every host ran each of its phases at the same time (`--start-at`): phases whose
//! windows overlap by less than half are refused, or dropped with `--drop-unaligned`; the report
//! says which rounds it left out and why.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context as _;

use crate::analysis::compare;
use crate::engine::stats;
use crate::model::results::{
    Cell, Column, CompetitorFigures, CpuCost, LoopGapStats, MergedRun, RoundFigures, RunReport, Schedule, Workload,
};
use crate::workload::shard;

/// Why runs cannot be merged.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MergeError {
    #[error("{field} differs: {first} has {a}, {other} has {b}; merge only runs of the same workload")]
    Differs { field: String, first: String, other: String, a: String, b: String },
    #[error("{0}")]
    Shards(String),
    #[error("{file}: cell {column}/{operation} has an unreadable histogram: {why}")]
    Histogram { file: String, column: String, operation: String, why: String },
    #[error(
        "{count} phase(s) did not run at the same time on every host, e.g. {example}: their sum would add one \
         host's load of one column to another's of another. Run every host with the same --start-at and \
         --duration (see `aerobench --help`), or pass --drop-unaligned to merge the other rounds"
    )]
    Unaligned { count: usize, example: String },
}

/// A JSON report from `path`, with a message saying what to do when it is not one.
pub fn read_report(path: &Path) -> anyhow::Result<RunReport> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!("{} is not an aerobench JSON report (write one with --format json --output FILE)", path.display())
    })
}

/// The workload as compared between runs: what every run must agree on.
pub fn comparable_workload(w: &Workload) -> serde_json::Map<String, serde_json::Value> {
    let mut w = w.clone();
    w.key_prefix = shard::given_prefix(&w.key_prefix, w.shard).to_string();
    let serde_json::Value::Object(mut map) = serde_json::to_value(&w).expect("workload serializes") else {
        unreachable!("a struct serializes to an object")
    };
    // How far a run got, and which share of the keys it had, may differ.
    for field in ["rounds_completed", "shard"] {
        map.remove(field);
    }
    map
}

fn check_same(runs: &[(String, RunReport)]) -> Result<(), MergeError> {
    let (first_name, first) = &runs[0];
    let base = comparable_workload(&first.workload);
    let differs = |field: String, other: &str, a: String, b: String| MergeError::Differs {
        field,
        first: first_name.clone(),
        other: other.to_string(),
        a,
        b,
    };
    for (name, run) in &runs[1..] {
        if run.schema_version != first.schema_version {
            return Err(differs(
                "schema_version".into(),
                name,
                first.schema_version.to_string(),
                run.schema_version.to_string(),
            ));
        }
        let w = comparable_workload(&run.workload);
        for (field, value) in &base {
            let other = w.get(field).cloned().unwrap_or(serde_json::Value::Null);
            if *value != other {
                return Err(differs(format!("workload.{field}"), name, value.to_string(), other.to_string()));
            }
        }
        let ids = |r: &RunReport| r.columns.iter().map(|c| c.id.clone()).collect::<Vec<_>>().join(",");
        if ids(first) != ids(run) {
            return Err(differs("columns".into(), name, ids(first), ids(run)));
        }
        for (a, b) in first.columns.iter().zip(&run.columns) {
            let fields: [(&str, String, String); 4] = [
                ("client", a.client.clone(), b.client.clone()),
                ("client_version", a.client_version.clone(), b.client_version.clone()),
                ("mode", a.mode.clone(), b.mode.clone()),
                ("in_flight", a.in_flight.to_string(), b.in_flight.to_string()),
            ];
            for (field, x, y) in fields {
                if x != y {
                    return Err(differs(format!("columns[{}].{field}", a.id), name, x, y));
                }
            }
        }
    }
    check_orders(runs)?;
    check_shards(runs)
}

/// Hosts that ran the columns in different orders, or on different schedules, did not measure
/// the same thing at the same time.
fn check_orders(runs: &[(String, RunReport)]) -> Result<(), MergeError> {
    let (first_name, first) = &runs[0];
    let Some(a) = &first.schedule else { return Ok(()) };
    for (name, run) in &runs[1..] {
        let Some(b) = &run.schedule else { continue };
        let differs = |field: &str, x: String, y: String| MergeError::Differs {
            field: format!("schedule.{field}"),
            first: first_name.clone(),
            other: name.clone(),
            a: x,
            b: y,
        };
        if a.start_at != b.start_at {
            return Err(differs("start_at", format!("{:?}", a.start_at), format!("{:?}", b.start_at)));
        }
        if a.slot_secs != b.slot_secs {
            return Err(differs("slot_secs", format!("{:?}", a.slot_secs), format!("{:?}", b.slot_secs)));
        }
        if let Some((x, y)) = a.orders.iter().zip(&b.orders).find(|(x, y)| x != y) {
            return Err(differs(
                &format!("orders (round {} {})", x.round, x.operation),
                x.columns.join(","),
                y.columns.join(","),
            ));
        }
    }
    Ok(())
}

/// Seconds since 1970 of an RFC 3339 time with its fraction.
fn instant(t: &str) -> Option<f64> {
    let at = humantime::parse_rfc3339(t).ok()?;
    Some(at.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs_f64())
}

/// The rounds merged, by operation.
type KeptRounds = BTreeMap<String, BTreeSet<u32>>;

/// Which rounds of each operation are merged: those every host completed for every column that
/// ran the operation, and whose phases every host ran at the same time. With `drop_unaligned`,
/// rounds with a phase out of step are left out; without, they are an error. Also says what was
/// left out, for the report's warnings.
fn aligned_rounds(runs: &[(String, RunReport)], drop_unaligned: bool) -> Result<(KeptRounds, Vec<String>), MergeError> {
    let first = &runs[0].1;
    let mut kept = BTreeMap::new();
    let mut warnings = Vec::new();
    let mut unaligned: Vec<String> = Vec::new();
    let mut unchecked = false;
    for op in &first.workload.operations {
        let columns: Vec<&str> = first
            .columns
            .iter()
            .map(|c| c.id.as_str())
            .filter(|id| runs.iter().any(|(_, r)| r.cell(id, op).is_some()))
            .collect();
        let all: BTreeSet<u32> = runs
            .iter()
            .flat_map(|(_, r)| columns.iter().filter_map(|id| r.cell(id, op)))
            .flat_map(|c| c.rounds.iter().map(|x| x.round))
            .collect();
        let mut keep = BTreeSet::new();
        let (mut incomplete, mut out_of_step): (Vec<String>, Vec<u32>) = (Vec::new(), Vec::new());
        for &round in &all {
            let missing = runs.iter().find_map(|(name, r)| {
                let id = columns.iter().find(|id| {
                    !r.cell(id, op).is_some_and(|c| c.rounds.iter().any(|x| x.round == round && x.count > 0))
                })?;
                Some(format!("{name} has no round {round} of {id}"))
            });
            if let Some(why) = missing {
                incomplete.push(why);
                continue;
            }
            let mut aligned = true;
            for id in &columns {
                let windows: Option<Vec<(f64, f64)>> = runs
                    .iter()
                    .map(|(_, r)| {
                        let w = r
                            .schedule
                            .as_ref()?
                            .phases
                            .iter()
                            .find(|p| p.round == round && p.operation == *op && p.column == *id)?;
                        Some((instant(&w.started_at)?, instant(&w.finished_at)?))
                    })
                    .collect();
                let Some(windows) = windows else {
                    unchecked = true;
                    continue;
                };
                let latest_start = windows.iter().map(|w| w.0).fold(f64::MIN, f64::max);
                let earliest_end = windows.iter().map(|w| w.1).fold(f64::MAX, f64::min);
                let shortest = windows.iter().map(|w| w.1 - w.0).fold(f64::MAX, f64::min);
                if earliest_end - latest_start < 0.5 * shortest {
                    aligned = false;
                    let spans: Vec<String> = runs
                        .iter()
                        .zip(&windows)
                        .map(|((name, _), (a, b))| format!("{name} {:.3}–{:.3}", a, b))
                        .collect();
                    unaligned.push(format!("{op} round {round} of {id} ({}, s since 1970)", spans.join(", ")));
                }
            }
            if aligned {
                keep.insert(round);
            } else {
                out_of_step.push(round);
            }
        }
        if !incomplete.is_empty() {
            warnings.push(format!(
                "{op}: round{} {} left out of every column's verdicts: not every host completed {} for every column \
                 ({})",
                if incomplete.len() == 1 { "" } else { "s" },
                list(all.iter().filter(|r| !keep.contains(r) && !out_of_step.contains(r)).copied()),
                if incomplete.len() == 1 { "it" } else { "them" },
                incomplete.join("; ")
            ));
        }
        if !out_of_step.is_empty() && drop_unaligned {
            warnings.push(format!(
                "{op}: round{} {} left out (--drop-unaligned): some host ran a phase of {} at another time than \
                 the others",
                if out_of_step.len() == 1 { "" } else { "s" },
                list(out_of_step.iter().copied()),
                if out_of_step.len() == 1 { "it" } else { "them" }
            ));
        }
        kept.insert(op.clone(), keep);
    }
    if !unaligned.is_empty() && !drop_unaligned {
        return Err(MergeError::Unaligned { count: unaligned.len(), example: unaligned[0].clone() });
    }
    if unchecked {
        warnings.push(
            "some reports carry no phase times (made without them): whether every host ran each phase at the same \
             time was not checked"
                .to_string(),
        );
    }
    Ok((kept, warnings))
}

/// `1, 2, 3, 5` as `1–3, 5`.
fn list(rounds: impl Iterator<Item = u32>) -> String {
    let mut spans: Vec<(u32, u32)> = Vec::new();
    for r in rounds {
        match spans.last_mut() {
            Some(last) if last.1 + 1 == r => last.1 = r,
            _ => spans.push((r, r)),
        }
    }
    spans.iter().map(|(a, b)| if a == b { a.to_string() } else { format!("{a}–{b}") }).collect::<Vec<_>>().join(", ")
}

/// Shards, when given, must be the same split and each merged once.
fn check_shards(runs: &[(String, RunReport)]) -> Result<(), MergeError> {
    let sharded = runs.iter().filter(|(_, r)| r.workload.shard.is_some()).count();
    if sharded == 0 {
        return Ok(());
    }
    if sharded != runs.len() {
        return Err(MergeError::Shards(
            "some runs have --shard and some do not; merge the shards of one split".to_string(),
        ));
    }
    let mut seen: BTreeMap<u32, &str> = BTreeMap::new();
    let count = runs[0].1.workload.shard.map_or(0, |s| s.count);
    for (name, run) in runs {
        let s = run.workload.shard.expect("checked above");
        if s.count != count {
            return Err(MergeError::Shards(format!(
                "{name} is shard {}/{} but {} is of {count} shards; merge the shards of one split",
                s.index, s.count, runs[0].0
            )));
        }
        if let Some(other) = seen.insert(s.index, name) {
            return Err(MergeError::Shards(format!(
                "{other} and {name} are both shard {}/{count}; give each shard's report once",
                s.index
            )));
        }
    }
    Ok(())
}

/// One report from `runs` (file name, report), or why they cannot be merged; phases out of step
/// between hosts are an error.
#[cfg(test)]
pub fn merge(runs: &[(String, RunReport)]) -> Result<RunReport, MergeError> {
    merge_with(runs, false)
}

/// One report from `runs` (file name, report), or why they cannot be merged; with
/// `drop_unaligned`, rounds with phases out of step between hosts are left out.
pub fn merge_with(runs: &[(String, RunReport)], drop_unaligned: bool) -> Result<RunReport, MergeError> {
    assert!(!runs.is_empty(), "merge needs runs");
    check_same(runs)?;
    let (kept, mut warnings) = aligned_rounds(runs, drop_unaligned)?;
    let first = &runs[0].1;
    let columns: Vec<Column> = first
        .columns
        .iter()
        .map(|c| {
            let mut c = c.clone();
            let errors: Vec<String> = runs
                .iter()
                .filter_map(|(name, r)| r.column(&c.id).and_then(|x| x.error.as_ref()).map(|e| format!("{name}: {e}")))
                .collect();
            c.error = (!errors.is_empty()).then(|| errors.join("; "));
            c
        })
        .collect();
    let mut cells = Vec::new();
    for column in &columns {
        for op in &first.workload.operations {
            let parts: Vec<(&str, &Cell)> =
                runs.iter().filter_map(|(name, r)| r.cell(&column.id, op).map(|c| (name.as_str(), c))).collect();
            if !parts.is_empty() {
                cells.push(merge_cells(&parts, runs.len(), &kept[op])?);
            }
        }
    }
    let floor = compare::set_over_floor(&columns, &mut cells);
    let pairs = compare::pairs(&columns, first.baseline.as_deref());
    let ratios = compare::ratios(&columns, &cells, &first.workload.operations, &pairs, first.min_effect);
    for (_, r) in runs {
        for w in &r.warnings {
            if !warnings.contains(w) {
                warnings.push(w.clone());
            }
        }
    }
    warnings.extend(window_warning(runs));
    let mut workload = first.workload.clone();
    workload.key_prefix = shard::given_prefix(&workload.key_prefix, workload.shard).to_string();
    workload.shard = None;
    workload.rounds_completed = runs.iter().map(|(_, r)| r.workload.rounds_completed).min().unwrap_or(0);
    Ok(RunReport {
        schema_version: first.schema_version,
        aerobench_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: runs.iter().map(|(_, r)| r.started_at.clone()).min().unwrap_or_default(),
        server: first.server.clone(),
        machine: first.machine.clone(),
        workload,
        columns,
        cells,
        baseline: first.baseline.clone(),
        floor,
        ratios,
        warnings,
        interrupted: runs.iter().any(|(_, r)| r.interrupted),
        finished_at: runs.iter().filter_map(|(_, r)| r.finished_at.clone()).max(),
        merged_from: runs
            .iter()
            .map(|(name, r)| MergedRun {
                file: name.clone(),
                started_at: r.started_at.clone(),
                finished_at: r.finished_at.clone(),
                hostname: r.machine.hostname.clone(),
                shard: r.workload.shard,
            })
            .collect(),
        incomplete: {
            let why: Vec<String> =
                runs.iter().filter_map(|(name, r)| Some(format!("{name}: {}", r.incomplete.as_ref()?))).collect();
            (!why.is_empty()).then(|| why.join("; "))
        },
        records_deleted: runs.iter().map(|(_, r)| r.records_deleted).sum::<Option<u64>>(),
        node_loss: None,
        node_spread: None,
        cluster: None,
        service: None,
        stages: None,
        profiles: None,
        min_effect: first.min_effect,
        schedule: merged_schedule(runs, &kept),
    })
}

/// The hosts' common schedule, with each merged phase's window from the first host's start to
/// the last host's end.
fn merged_schedule(runs: &[(String, RunReport)], kept: &KeptRounds) -> Option<Schedule> {
    let mut schedule = runs[0].1.schedule.clone()?;
    schedule.phases.retain(|p| kept.get(&p.operation).is_some_and(|k| k.contains(&p.round)));
    for p in &mut schedule.phases {
        let same = runs.iter().filter_map(|(_, r)| {
            r.schedule
                .as_ref()?
                .phases
                .iter()
                .find(|q| q.round == p.round && q.operation == p.operation && q.column == p.column)
        });
        for q in same {
            if instant(&q.started_at) < instant(&p.started_at) {
                p.started_at = q.started_at.clone();
            }
            if instant(&q.finished_at) > instant(&p.finished_at) {
                p.finished_at = q.finished_at.clone();
            }
        }
    }
    Some(schedule)
}

/// A warning when the runs did not all overlap in time: their summed throughput then is not the
/// load the server saw at once.
fn window_warning(runs: &[(String, RunReport)]) -> Option<String> {
    let windows: Vec<(i64, i64)> = runs
        .iter()
        .map(|(_, r)| {
            Some((
                crate::model::timestamp::epoch_secs(&r.started_at)?,
                crate::model::timestamp::epoch_secs(r.finished_at.as_deref()?)?,
            ))
        })
        .collect::<Option<_>>()?;
    let latest_start = windows.iter().map(|w| w.0).max()?;
    let earliest_end = windows.iter().map(|w| w.1).min()?;
    (latest_start > earliest_end).then(|| {
        format!(
            "the merged runs did not all run at the same time (the last started {}s after the first ended): \
             throughput is summed as if they had",
            latest_start - earliest_end
        )
    })
}

/// Several hosts' cells of one (column, operation) as one cell, with the rounds in `kept`.
fn merge_cells(parts: &[(&str, &Cell)], runs: usize, kept: &BTreeSet<u32>) -> Result<Cell, MergeError> {
    let first = parts[0].1;
    let mut hist = stats::new_histogram();
    for (name, cell) in parts {
        let h = stats::histogram_from_text(&cell.histogram).map_err(|e| MergeError::Histogram {
            file: name.to_string(),
            column: cell.column.clone(),
            operation: cell.operation.clone(),
            why: format!("{e:#}"),
        })?;
        stats::add_histogram(&mut hist, &h);
    }
    let sum = |f: &dyn Fn(&Cell) -> f64| parts.iter().map(|(_, c)| f(c)).sum::<f64>();
    let sum_opt = |f: &dyn Fn(&Cell) -> Option<f64>| parts.iter().map(|(_, c)| f(c)).sum::<Option<f64>>();
    let mut errors_by_reason = BTreeMap::new();
    for (_, c) in parts {
        for (reason, n) in &c.errors_by_reason {
            *errors_by_reason.entry(reason.clone()).or_insert(0) += n;
        }
    }
    let wall_secs = parts.iter().map(|(_, c)| c.wall_secs).fold(0.0, f64::max);
    let successes = hist.len();
    let mut notes: Vec<String> = Vec::new();
    for (name, c) in parts {
        for n in &c.notes {
            notes.push(format!("{name}: {n}"));
        }
    }
    if parts.len() < runs {
        notes.push(format!("only {} of the {runs} merged runs measured this cell", parts.len()));
    }
    if parts.len() > 1 {
        notes.push(
            "merged: percentiles come from the summed histograms; each round's p50/p99 is the highest run's (rounds \
             keep no histogram)"
                .to_string(),
        );
    }
    Ok(Cell {
        column: first.column.clone(),
        operation: first.operation.clone(),
        count: parts.iter().map(|(_, c)| c.count).sum(),
        errors: parts.iter().map(|(_, c)| c.errors).sum(),
        failures: crate::engine::failure::tally(&errors_by_reason),
        errors_by_reason,
        latency_us: stats::summarize(&hist),
        ops_per_sec: sum(&|c| c.ops_per_sec),
        records_per_sec: sum_opt(&|c| c.records_per_sec),
        records: parts.iter().map(|(_, c)| c.records).sum::<Option<u64>>(),
        wall_secs,
        histogram: stats::encode_histogram(&hist),
        latency_beyond_range: parts.iter().map(|(_, c)| c.latency_beyond_range).sum(),
        over_floor_us: None,
        over_floor_interval_us: None,
        rounds: merge_rounds(parts, kept),
        cpu: merge_cpu(parts, successes),
        notes,
        loop_starvation_us: merge_loop_gaps(parts),
        competitor: merge_competitor(parts),
        open_loop: merge_open_loop(parts),
        not_supported: parts.iter().find_map(|(_, c)| c.not_supported.clone()),
    })
}

/// The hosts' open-loop figures (`--rate`) as one: rates summed (each host paced its own calls),
/// corrected latencies from the summed histograms, late calls summed, the longest lag, and kept
/// up only when every host did. `None` unless every host ran an open loop.
fn merge_open_loop(parts: &[(&str, &Cell)]) -> Option<crate::model::results::OpenLoopFigures> {
    let all: Vec<&crate::model::results::OpenLoopFigures> =
        parts.iter().map(|(_, c)| c.open_loop.as_ref()).collect::<Option<_>>()?;
    let (mut hist, mut lags, mut pacing) = (stats::new_histogram(), stats::new_histogram(), stats::new_histogram());
    for o in &all {
        stats::add_histogram(&mut hist, &stats::histogram_from_text(&o.corrected_histogram).ok()?);
        for (text, into) in [(&o.start_lag_histogram, &mut lags), (&o.pacing_lag_histogram, &mut pacing)] {
            if !text.is_empty() {
                stats::add_histogram(into, &stats::histogram_from_text(text).ok()?);
            }
        }
    }
    Some(crate::model::results::OpenLoopFigures {
        target_ops_per_sec: all.iter().map(|o| o.target_ops_per_sec).sum(),
        achieved_ops_per_sec: all.iter().map(|o| o.achieved_ops_per_sec).sum(),
        corrected_latency_us: stats::summarize(&hist),
        corrected_histogram: stats::encode_histogram(&hist),
        late_calls: all.iter().map(|o| o.late_calls).sum(),
        max_start_lag_us: all.iter().map(|o| o.max_start_lag_us).fold(0.0, f64::max),
        kept_up: all.iter().all(|o| o.kept_up),
        start_lag_us: stats::start_lag(&lags),
        start_lag_histogram: stats::encode_histogram(&lags),
        pacing_lag_us: stats::start_lag(&pacing),
        pacing_lag_histogram: stats::encode_histogram(&pacing),
        queued_calls: all.iter().map(|o| o.queued_calls).sum(),
    })
}

/// Round `k` (of those in `kept`) of every host as one round: counts and throughput summed, wall
/// the longest, the mean weighted by calls, p50/p99 the highest host's.
fn merge_rounds(parts: &[(&str, &Cell)], kept: &BTreeSet<u32>) -> Vec<RoundFigures> {
    let mut numbers: Vec<u32> =
        parts.iter().flat_map(|(_, c)| c.rounds.iter().map(|r| r.round)).filter(|r| kept.contains(r)).collect();
    numbers.sort_unstable();
    numbers.dedup();
    numbers
        .into_iter()
        .map(|round| {
            let rs: Vec<&RoundFigures> =
                parts.iter().filter_map(|(_, c)| c.rounds.iter().find(|r| r.round == round)).collect();
            let ok = |r: &RoundFigures| r.count.saturating_sub(r.errors) as f64;
            let total_ok: f64 = rs.iter().map(|r| ok(r)).sum();
            RoundFigures {
                round,
                count: rs.iter().map(|r| r.count).sum(),
                errors: rs.iter().map(|r| r.errors).sum(),
                avg_us: if total_ok > 0.0 { rs.iter().map(|r| r.avg_us * ok(r)).sum::<f64>() / total_ok } else { 0.0 },
                p50_us: rs.iter().map(|r| r.p50_us).fold(0.0, f64::max),
                p99_us: rs.iter().map(|r| r.p99_us).fold(0.0, f64::max),
                ops_per_sec: rs.iter().map(|r| r.ops_per_sec).sum(),
                wall_secs: rs.iter().map(|r| r.wall_secs).fold(0.0, f64::max),
                cpu_secs: rs.iter().map(|r| r.cpu_secs).sum(),
                corrected: crate::model::results::RoundLatency::of_hosts(&rs),
            }
        })
        .collect()
}

fn merge_cpu(parts: &[(&str, &Cell)], successes: u64) -> Option<CpuCost> {
    let costs: Vec<&CpuCost> = parts.iter().map(|(_, c)| c.cpu.as_ref()).collect::<Option<_>>()?;
    let cpu: f64 = costs.iter().map(|c| c.cpu_secs).sum();
    // Utilisation per host, as in a single run: CPU over the hosts' summed wall time.
    let wall: f64 = parts.iter().map(|(_, c)| c.wall_secs).sum();
    let peak = costs.iter().filter_map(|c| c.peak_rss_bytes).max();
    let gc = costs.iter().map(|c| c.gc_secs).sum();
    Some(CpuCost::from_totals(cpu, successes, wall, peak, gc))
}

/// The worst host's loop gaps (gaps of different processes do not add).
fn merge_loop_gaps(parts: &[(&str, &Cell)]) -> Option<LoopGapStats> {
    let gaps: Vec<LoopGapStats> = parts.iter().filter_map(|(_, c)| c.loop_starvation_us).collect();
    (!gaps.is_empty()).then(|| LoopGapStats {
        p50: gaps.iter().map(|g| g.p50).fold(0.0, f64::max),
        p99: gaps.iter().map(|g| g.p99).fold(0.0, f64::max),
        max: gaps.iter().map(|g| g.max).fold(0.0, f64::max),
        samples: gaps.iter().map(|g| g.samples).sum(),
    })
}

/// The slowest host's competitor.
fn merge_competitor(parts: &[(&str, &Cell)]) -> Option<CompetitorFigures> {
    parts.iter().filter_map(|(_, c)| c.competitor).min_by(|a, b| a.fraction.total_cmp(&b.fraction))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::stats::Recorder;
    use crate::model::results::Shard;
    use crate::test_support::sample_report;
    use std::time::Duration;

    fn with_latencies(mut report: RunReport, shard: u32, latencies_us: &[u64]) -> RunReport {
        report.workload.shard = Some(Shard { index: shard, count: 2 });
        report.workload.key_prefix = shard::key_prefix("aerobench-", report.workload.shard);
        for cell in &mut report.cells {
            let mut rec = Recorder::new();
            latencies_us.iter().for_each(|&v| rec.record_ok(Duration::from_micros(v)));
            cell.histogram = stats::encode_histogram(rec.histogram());
            cell.count = rec.count() + cell.errors;
            cell.latency_us = stats::summarize(rec.histogram());
        }
        report
    }

    fn two_shards() -> Vec<(String, RunReport)> {
        let a: Vec<u64> = (1..=1000).collect();
        let b: Vec<u64> = (1..=1000).map(|v| v * 10).collect();
        vec![
            ("a.json".into(), with_latencies(sample_report(), 0, &a)),
            ("b.json".into(), with_latencies(sample_report(), 1, &b)),
        ]
    }

    #[test]
    fn histograms_add_and_percentiles_come_from_the_sum() {
        let runs = two_shards();
        let merged = merge(&runs).expect("same workload");
        let mut union = Recorder::new();
        for v in (1..=1000).chain((1..=1000).map(|v| v * 10)) {
            union.record_ok(Duration::from_micros(v));
        }
        let want = stats::summarize(union.histogram());
        for cell in &merged.cells {
            let (a, b) = (
                runs[0].1.cell(&cell.column, &cell.operation).unwrap(),
                runs[1].1.cell(&cell.column, &cell.operation).unwrap(),
            );
            assert_eq!(cell.count, a.count + b.count);
            assert_eq!(cell.errors, a.errors + b.errors);
            assert!((cell.ops_per_sec - (a.ops_per_sec + b.ops_per_sec)).abs() < 1e-6);
            assert_eq!(cell.latency_us, want, "{}/{}", cell.column, cell.operation);
            // Not the mean of the two p99s (990 and 9900 µs): the union's, about 9800 µs.
            assert!((cell.latency_us.p99 - 9_800.0).abs() < 10.0, "{}", cell.latency_us.p99);
            assert_eq!(&stats::decode_histogram(&cell.histogram).unwrap(), union.histogram());
            assert_eq!(cell.rounds.len(), a.rounds.len());
        }
        let c_get = merged.cell("official-c", "get").unwrap();
        assert_eq!(c_get.errors_by_reason.get("timeout"), Some(&4));
        assert_eq!(merged.workload.key_prefix, "aerobench-");
        assert_eq!(merged.workload.shard, None);
        assert_eq!(merged.merged_from.len(), 2);
        assert_eq!(merged.merged_from[1].shard, Some(Shard { index: 1, count: 2 }));
        assert!(!merged.ratios.is_empty(), "ratios are recomputed");
    }

    #[test]
    fn refuses_runs_of_different_workloads_naming_the_field() {
        let mut runs = two_shards();
        runs[1].1.workload.count = 2_000;
        let err = merge(&runs).unwrap_err();
        assert!(matches!(&err, MergeError::Differs { field, .. } if field == "workload.count"), "{err}");
        assert!(err.to_string().contains("a.json has 1000, b.json has 2000"), "{err}");

        let mut runs = two_shards();
        runs[1].1.workload.operations.pop();
        assert!(
            matches!(merge(&runs).unwrap_err(), MergeError::Differs { field, .. } if field == "workload.operations")
        );

        let mut runs = two_shards();
        runs[1].1.columns[1].client_version = "9.9.9".into();
        let err = merge(&runs).unwrap_err();
        assert!(err.to_string().starts_with("columns[") && err.to_string().contains("client_version"), "{err}");

        let mut runs = two_shards();
        runs[1].1.columns.pop();
        assert!(matches!(merge(&runs).unwrap_err(), MergeError::Differs { field, .. } if field == "columns"));
    }

    #[test]
    fn refuses_the_same_shard_twice_or_mixed_splits() {
        let mut runs = two_shards();
        runs[1].1.workload.shard = Some(Shard { index: 0, count: 2 });
        runs[1].1.workload.key_prefix = "aerobench-0-".into();
        assert!(merge(&runs).unwrap_err().to_string().contains("both shard 0/2"));
        let mut runs = two_shards();
        runs[1].1.workload.shard = Some(Shard { index: 1, count: 3 });
        runs[1].1.workload.key_prefix = "aerobench-1-".into();
        assert!(merge(&runs).unwrap_err().to_string().contains("of 2 shards"));
        let mut runs = two_shards();
        runs[1].1.workload.shard = None;
        runs[1].1.workload.key_prefix = "aerobench-".into();
        assert!(matches!(merge(&runs).unwrap_err(), MergeError::Shards(_)));
    }

    #[test]
    fn rounds_sum_counts_and_throughput() {
        let runs = two_shards();
        let merged = merge(&runs).unwrap();
        let cell = merged.cell("official-c", "put").unwrap();
        let a = runs[0].1.cell("official-c", "put").unwrap();
        for (m, r) in cell.rounds.iter().zip(&a.rounds) {
            assert_eq!(m.count, 2 * r.count);
            assert!((m.ops_per_sec - 2.0 * r.ops_per_sec).abs() < 1e-6);
            assert!((m.avg_us - r.avg_us).abs() < 1e-9, "same rounds on both sides: same mean");
        }
    }

    #[test]
    fn a_round_some_host_did_not_complete_for_every_column_is_left_out() {
        let no_errors = |mut runs: Vec<(String, RunReport)>| {
            for cell in runs.iter_mut().flat_map(|(_, r)| r.cells.iter_mut()) {
                (cell.errors, cell.errors_by_reason) = (0, BTreeMap::new());
                cell.rounds.iter_mut().for_each(|r| r.errors = 0);
            }
            runs
        };
        let mut runs = no_errors(two_shards());
        // The baseline's worker died on the second host after round 1: rounds 2 and 3 would
        // compare one host's baseline with two hosts' columns.
        for cell in runs[1].1.cells.iter_mut().filter(|c| c.column == "official-c" && c.operation == "get") {
            cell.rounds.retain(|r| r.round == 1);
        }
        let merged = merge(&runs).unwrap();
        for cell in merged.cells.iter().filter(|c| c.operation == "get") {
            assert_eq!(cell.rounds.iter().map(|r| r.round).collect::<Vec<_>>(), [1], "{}", cell.column);
        }
        assert_eq!(merged.cell("official-c", "put").unwrap().rounds.len(), 3, "other operations keep theirs");
        let alone = merge(&no_errors(two_shards())).unwrap();
        let ops = |r: &&crate::model::results::Ratio| {
            r.operation == "get" && r.metric == crate::model::results::RatioMetric::OpsPerSec && r.reason.is_none()
        };
        assert!(merged.ratios.iter().filter(ops).count() > 0);
        for r in merged.ratios.iter().filter(ops) {
            assert_eq!(r.per_round.len(), 1, "{r:?}");
            let whole = alone.ratio("get", &r.column, &r.baseline, r.metric).unwrap();
            assert!((r.per_round[0] - whole.per_round[0]).abs() < 1e-9, "{r:?} against {whole:?}");
        }
        let w = merged.warnings.iter().find(|w| w.starts_with("get: rounds 2–3 left out")).expect("said so");
        assert!(w.contains("b.json has no round 2 of official-c"), "{w}");
    }

    /// A schedule whose phase `k` of each (round, operation, column) ran from `at + 10·k` s for
    /// one second, shifted by `shift` seconds.
    fn with_windows(mut report: RunReport, shift: f64) -> RunReport {
        let mut phases = Vec::new();
        for (k, cell) in report.cells.iter().enumerate() {
            for r in &cell.rounds {
                let start = 1_796_331_600.0 + 10.0 * (k as f64 * 3.0 + f64::from(r.round)) + shift;
                let at = |t: f64| {
                    crate::model::timestamp::wall(
                        std::time::UNIX_EPOCH + Duration::from_micros((t * 1e6).round() as u64),
                    )
                };
                phases.push(crate::model::results::PhaseWindow {
                    round: r.round,
                    operation: cell.operation.clone(),
                    column: cell.column.clone(),
                    started_at: at(start),
                    finished_at: at(start + 1.0),
                    cluster: None,
                });
            }
        }
        report.schedule = Some(Schedule {
            design: "williams".into(),
            cycle_rounds: 4,
            seed: 1,
            remainder: String::new(),
            start_at: None,
            slot_secs: None,
            orders: vec![crate::model::results::RoundOrder {
                round: 1,
                operation: "get".into(),
                columns: report.columns.iter().map(|c| c.id.clone()).collect(),
            }],
            balance: Vec::new(),
            phases,
        });
        report
    }

    #[test]
    fn phases_that_did_not_run_at_the_same_time_are_refused_or_dropped() {
        let mut runs = two_shards();
        runs[0].1 = with_windows(runs[0].1.clone(), 0.0);
        runs[1].1 = with_windows(runs[1].1.clone(), 0.3);
        let merged = merge(&runs).expect("windows overlapping by 70% are in step");
        assert!(merged.cells.iter().all(|c| c.rounds.len() == 3));
        let p = &merged.schedule.as_ref().unwrap().phases[0];
        assert_eq!(
            (p.started_at.as_str(), p.finished_at.as_str()),
            ("2026-12-03T21:00:10.000000Z", "2026-12-03T21:00:11.300000Z")
        );

        // One phase on the second host 0.7 s late: overlapping by 30%.
        let late = runs[1].1.schedule.as_mut().unwrap().phases.iter_mut().find(|p| p.round == 2).unwrap();
        let (op, column) = (late.operation.clone(), late.column.clone());
        late.started_at = late.started_at.replace(":20.300000Z", ":21.000000Z");
        late.finished_at = late.finished_at.replace(":21.300000Z", ":22.000000Z");
        assert!(late.finished_at.ends_with(":22.000000Z"), "{late:?}");
        let err = merge(&runs).unwrap_err();
        assert!(matches!(&err, MergeError::Unaligned { count: 1, .. }), "{err}");
        assert!(
            err.to_string().contains(&format!("{op} round 2 of {column}")) && err.to_string().contains("--start-at")
        );
        let merged = merge_with(&runs, true).unwrap();
        for cell in &merged.cells {
            let rounds: Vec<u32> = cell.rounds.iter().map(|r| r.round).collect();
            assert_eq!(rounds, if cell.operation == op { vec![1, 3] } else { vec![1, 2, 3] }, "{}", cell.column);
        }
        assert!(merged.warnings.iter().any(|w| w.starts_with(&format!("{op}: round 2 left out (--drop-unaligned)"))));

        // Different orders: not the same schedule.
        let mut runs = two_shards();
        runs[0].1 = with_windows(runs[0].1.clone(), 0.0);
        runs[1].1 = with_windows(runs[1].1.clone(), 0.0);
        runs[1].1.schedule.as_mut().unwrap().orders[0].columns.reverse();
        let err = merge(&runs).unwrap_err();
        assert!(matches!(&err, MergeError::Differs { field, .. } if field.starts_with("schedule.orders")), "{err}");
    }

    #[test]
    fn rounds_are_listed_as_spans() {
        assert_eq!(list([1, 2, 3, 5, 7, 8].into_iter()), "1–3, 5, 7–8");
        assert_eq!(list(std::iter::empty()), "");
    }

    #[test]
    fn runs_that_did_not_overlap_in_time_are_warned_about() {
        let mut runs = two_shards();
        runs[0].1.started_at = "2026-01-02T03:00:00Z".into();
        runs[0].1.finished_at = Some("2026-01-02T03:01:00Z".into());
        runs[1].1.started_at = "2026-01-02T03:00:30Z".into();
        runs[1].1.finished_at = Some("2026-01-02T03:02:00Z".into());
        assert_eq!(window_warning(&runs), None);
        runs[1].1.started_at = "2026-01-02T03:05:00Z".into();
        assert!(window_warning(&runs).unwrap().contains("240s after"));
    }
}
