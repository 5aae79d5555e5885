//! The stage tables of `--stages`: a column's extra phase and what its client's stage timers
//! recorded during it become one table (each stage's count, p50, p99, mean and share of the
//! call), and two builds of one client are set side by side stage by stage.

use crate::analysis::stage_histogram::StageHistogram;
use crate::model::stages::{StageComparison, StageFigures, StagePair, StageRow, StageTable};

/// aerospike-py's stages in the order a call passes them (its async batch_read); stages not
/// listed follow, by name.
const CALL_ORDER: &[&str] = &[
    "key_parse",
    "future_into_py_setup",
    "tokio_schedule_delay",
    "limiter_wait",
    "io",
    "spawn_blocking_delay",
    "into_pyobject",
    "event_loop_resume_delay",
    "as_dict",
    "to_dict",
    "merge_as_dict",
    "merge_to_dict",
    "to_numpy",
];

/// Where `stage` sorts: its place in [`CALL_ORDER`], unknown stages after.
fn call_order(stage: &str) -> (usize, &str) {
    (CALL_ORDER.iter().position(|s| *s == stage).unwrap_or(CALL_ORDER.len()), stage)
}

/// What one extra phase measured, on aerobench's clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PassCalls {
    /// Calls that succeeded, and all calls' summed latency.
    pub calls: u64,
    pub call_secs_total: f64,
    pub ops_per_sec: f64,
}

/// The table of one column's extra phase of `operation`; `measured_ops_per_sec` is the column's
/// last measured round of it (timers off), if there is one.
pub fn table(
    column: &str,
    operation: &str,
    pass: PassCalls,
    measured_ops_per_sec: Option<f64>,
    stages: &[StageHistogram],
) -> StageTable {
    let share = |sum: f64| if pass.call_secs_total > 0.0 { sum / pass.call_secs_total } else { 0.0 };
    let mut stages: Vec<&StageHistogram> = stages.iter().collect();
    stages.sort_by(|a, b| call_order(&a.stage).cmp(&call_order(&b.stage)).then(a.operation.cmp(&b.operation)));
    let rows = stages
        .iter()
        .filter(|h| h.count > 0)
        .map(|h| StageRow {
            stage: h.stage.clone(),
            client_operation: h.operation.clone(),
            count: h.count,
            p50_secs: h.quantile(0.5).unwrap_or(0.0),
            p99_secs: h.quantile(0.99).unwrap_or(0.0),
            mean_secs: h.mean().unwrap_or(0.0),
            share: share(h.sum_secs),
        })
        .collect();
    let bucket_bounds_secs =
        stages.iter().map(|h| h.bounds.iter().copied().filter(|b| b.is_finite()).collect()).next().unwrap_or_default();
    StageTable {
        column: column.to_string(),
        operation: operation.to_string(),
        calls: pass.calls,
        call_secs_total: pass.call_secs_total,
        ops_per_sec: pass.ops_per_sec,
        measured_ops_per_sec,
        timers_speed_ratio: measured_ops_per_sec.filter(|m| *m > 0.0).map(|m| pass.ops_per_sec / m),
        bucket_bounds_secs,
        stages: rows,
    }
}

/// Every pair of builds of one client: the tables of columns of the same kind (`same_kind`), per
/// operation, the first such column in `tables` the base of each later one.
pub fn comparisons(tables: &[StageTable], same_kind: impl Fn(&str, &str) -> bool) -> Vec<StageComparison> {
    let mut out = Vec::new();
    for (i, base) in tables.iter().enumerate() {
        // A base is the first table of its kind and operation.
        if tables[..i].iter().any(|t| t.operation == base.operation && same_kind(&t.column, &base.column)) {
            continue;
        }
        for other in
            tables[i + 1..].iter().filter(|t| t.operation == base.operation && same_kind(&t.column, &base.column))
        {
            out.push(compare(base, other));
        }
    }
    out
}

/// `base` and `other` stage by stage, in the base's order, then the stages only `other` has.
fn compare(base: &StageTable, other: &StageTable) -> StageComparison {
    let figures = |r: &StageRow| StageFigures { p50_secs: r.p50_secs, p99_secs: r.p99_secs, share: r.share };
    let mut names: Vec<&str> = base.stages.iter().map(|r| r.stage.as_str()).collect();
    for r in &other.stages {
        if !names.contains(&r.stage.as_str()) {
            names.push(&r.stage);
        }
    }
    let stages = names
        .into_iter()
        .map(|name| {
            let a = base.stages.iter().find(|r| r.stage == name).map(figures);
            let b = other.stages.iter().find(|r| r.stage == name).map(figures);
            let p50_ratio = match (&a, &b) {
                (Some(a), Some(b)) if a.p50_secs > 0.0 => Some(b.p50_secs / a.p50_secs),
                _ => None,
            };
            StagePair { stage: name.to_string(), base: a, other: b, p50_ratio }
        })
        .collect();
    StageComparison {
        operation: base.operation.clone(),
        base: base.column.clone(),
        other: other.column.clone(),
        stages,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(stage: &str, cumulative: Vec<u64>, sum_secs: f64) -> StageHistogram {
        StageHistogram {
            stage: stage.into(),
            operation: "batch_read".into(),
            bounds: vec![0.0001, 0.001, f64::INFINITY],
            count: *cumulative.last().unwrap(),
            cumulative,
            sum_secs,
        }
    }

    #[test]
    fn a_table_gives_each_stage_its_share_of_the_calls() {
        let pass = PassCalls { calls: 10, call_secs_total: 0.02, ops_per_sec: 400.0 };
        let stages = [
            histogram("zz_new", vec![10, 10, 10], 0.0001),
            histogram("io", vec![0, 10, 10], 0.005),
            histogram("key_parse", vec![10, 10, 10], 0.0005),
        ];
        let t = table("aerospike-py-async", "batch_get", pass, Some(500.0), &stages);
        // In the order a call passes them, a stage aerobench does not know last.
        let names: Vec<&str> = t.stages.iter().map(|r| r.stage.as_str()).collect();
        assert_eq!(names, ["key_parse", "io", "zz_new"]);
        let io = &t.stages[1];
        assert_eq!((io.stage.as_str(), io.count), ("io", 10));
        assert!((io.share - 0.25).abs() < 1e-12);
        assert!((io.mean_secs - 0.0005).abs() < 1e-12);
        assert!((io.p50_secs - 0.00055).abs() < 1e-12, "{}", io.p50_secs);
        assert!((t.stages[0].share - 0.025).abs() < 1e-12);
        assert_eq!(t.bucket_bounds_secs, [0.0001, 0.001]);
        assert_eq!(t.timers_speed_ratio, Some(0.8));
        let t = table("c", "batch_get", pass, None, &stages);
        assert_eq!(t.timers_speed_ratio, None);
    }

    #[test]
    fn builds_of_one_client_are_compared_stage_by_stage() {
        let pass = PassCalls { calls: 10, call_secs_total: 0.02, ops_per_sec: 400.0 };
        let old = table("py@0.12.0", "batch_get", pass, None, &[histogram("io", vec![0, 10, 10], 0.005)]);
        let new = table(
            "py@0.14.4",
            "batch_get",
            pass,
            None,
            &[histogram("io", vec![10, 10, 10], 0.0005), histogram("as_dict", vec![10, 10, 10], 0.0001)],
        );
        let lone = table("other", "batch_get", pass, None, &[histogram("io", vec![0, 10, 10], 0.005)]);
        let kind = |id: &str| id.split('@').next().unwrap().to_string();
        let c = comparisons(&[old, lone, new], |a, b| kind(a) == kind(b));
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].base.as_str(), c[0].other.as_str()), ("py@0.12.0", "py@0.14.4"));
        let io = &c[0].stages[0];
        assert_eq!(io.stage, "io");
        assert!((io.p50_ratio.unwrap() - 0.00005 / 0.00055).abs() < 1e-12);
        let only_new = &c[0].stages[1];
        assert_eq!((only_new.stage.as_str(), only_new.base.is_none(), only_new.p50_ratio), ("as_dict", true, None));
    }
}
