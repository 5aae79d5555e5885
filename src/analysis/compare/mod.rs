//! Comparisons between cells: which columns are compared (each with the baseline, plus the seed
//! benchmark's own pairs), on which metrics a comparison means something (latency only between
//! cells with the same calls in flight; throughput between any; no ratio for cells with failed
//! calls; in an open loop, latency from when each call was due beside service time), the ratio
//! with its interval from the rounds, and each column's latency above the `wire` floor as a
//! paired per-round difference with its interval.

pub mod cluster;
pub mod interval;
pub mod sequence;
pub mod wording;

use crate::model::results::{Cell, Column, Ratio, RatioMetric, Verdict};

/// The seed benchmark's ratio columns: (column, baseline). `--layout seed` shows them.
pub const SEED_PAIRS: [(&str, &str); 3] =
    [("aerospike-py-sync", "official-c"), ("aerospike-py-async", "official-c"), ("rust-async", "rust-sync")];

/// The column kind of the floor.
pub const FLOOR: &str = "wire";

/// Every metric a ratio is computed on (the corrected latencies only between two cells of an
/// open loop).
pub const METRICS: [RatioMetric; 7] = [
    RatioMetric::OpsPerSec,
    RatioMetric::OpsPerCpuSec,
    RatioMetric::AvgLatency,
    RatioMetric::P50Latency,
    RatioMetric::P99Latency,
    RatioMetric::CorrectedP50Latency,
    RatioMetric::CorrectedP99Latency,
];

/// Successful calls a cell needs before its p99 means something.
pub const MIN_CALLS_FOR_P99: u64 = 100;

/// (column, baseline) pairs to compare: every other column with the baseline; each later
/// version of a column (`kind@version` ids) with its first version; then the seed's pairs where
/// both columns ran.
pub fn pairs(columns: &[Column], baseline: Option<&str>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut add = |column: &str, base: &str| {
        if column != base && !out.iter().any(|(c, b)| c == column && b == base) {
            out.push((column.to_string(), base.to_string()));
        }
    };
    if let Some(base) = baseline.filter(|b| columns.iter().any(|c| c.id == *b)) {
        for c in columns {
            add(&c.id, base);
        }
    }
    for c in columns {
        if let (kind, Some(_)) = crate::model::column_id::split_build(&c.id)
            && let Some(first) = columns
                .iter()
                .find(|f| matches!(crate::model::column_id::split_build(&f.id), (k, Some(_)) if k == kind))
        {
            add(&c.id, &first.id);
        }
    }
    for (column, base) in SEED_PAIRS {
        if columns.iter().any(|c| c.id == column) && columns.iter().any(|c| c.id == base) {
            add(column, base);
        }
    }
    out
}

/// True for the metrics measured from when each call was due (open loop only).
pub fn is_corrected(metric: RatioMetric) -> bool {
    matches!(metric, RatioMetric::CorrectedP50Latency | RatioMetric::CorrectedP99Latency)
}

/// Every ratio of every pair on every operation and metric, with verdicts under `min_effect`
/// (a fraction, see [`wording::verdict`]). Corrected latency is compared only where both cells
/// ran an open loop.
pub fn ratios(
    columns: &[Column],
    cells: &[Cell],
    operations: &[String],
    pairs: &[(String, String)],
    min_effect: f64,
) -> Vec<Ratio> {
    ratios_by(interval::Method::StudentT, columns, cells, operations, pairs, min_effect)
}

/// [`ratios`] with the intervals of `method`.
pub fn ratios_by(
    method: interval::Method,
    columns: &[Column],
    cells: &[Cell],
    operations: &[String],
    pairs: &[(String, String)],
    min_effect: f64,
) -> Vec<Ratio> {
    // An operation a column's client does not have is no measurement: nothing to compare.
    let cell = |column: &str, op: &str| {
        cells.iter().find(|c| c.column == column && c.operation == op && c.not_supported.is_none())
    };
    let in_flight = |id: &str| columns.iter().find(|c| c.id == id).map_or(0, |c| c.in_flight);
    let mut out = Vec::new();
    for op in operations {
        for (column, base) in pairs {
            let (Some(a), Some(b)) = (cell(column, op), cell(base, op)) else { continue };
            let open = a.open_loop.is_some() && b.open_loop.is_some();
            for metric in METRICS.into_iter().filter(|&m| open || !is_corrected(m)) {
                out.push(ratio_by(method, a, b, in_flight(column), in_flight(base), metric, min_effect));
            }
        }
    }
    out
}

/// The figure of one round a metric compares (NaN where the round has none).
fn figure(r: &crate::model::results::RoundFigures, metric: RatioMetric) -> f64 {
    match metric {
        RatioMetric::OpsPerSec => r.ops_per_sec,
        // NaN when not measured or too short to register: no ratio rather than a wrong one.
        RatioMetric::OpsPerCpuSec => match r.cpu_secs {
            Some(cpu) if cpu > 0.0 => (r.count - r.errors) as f64 / cpu,
            _ => f64::NAN,
        },
        RatioMetric::AvgLatency => r.avg_us,
        RatioMetric::P50Latency => r.p50_us,
        RatioMetric::P99Latency => r.p99_us,
        RatioMetric::CorrectedP50Latency => r.corrected.map_or(f64::NAN, |c| c.p50_us),
        RatioMetric::CorrectedP99Latency => r.corrected.map_or(f64::NAN, |c| c.p99_us),
    }
}

/// `column` against `baseline` on `metric`, with its verdict under `min_effect`.
#[cfg(test)]
pub fn ratio(
    column: &Cell,
    baseline: &Cell,
    column_in_flight: u32,
    baseline_in_flight: u32,
    metric: RatioMetric,
    min_effect: f64,
) -> Ratio {
    ratio_by(interval::Method::StudentT, column, baseline, column_in_flight, baseline_in_flight, metric, min_effect)
}

/// [`ratio`] with the interval of `method`. Only rounds both cells ran are paired (with
/// `--stop settled` a column can stop before its baseline does).
pub fn ratio_by(
    method: interval::Method,
    column: &Cell,
    baseline: &Cell,
    column_in_flight: u32,
    baseline_in_flight: u32,
    metric: RatioMetric,
    min_effect: f64,
) -> Ratio {
    let mut r = Ratio {
        operation: column.operation.clone(),
        column: column.column.clone(),
        baseline: baseline.column.clone(),
        metric,
        speedup: None,
        low: None,
        high: None,
        confidence: interval::CONFIDENCE,
        per_round: Vec::new(),
        verdict: Verdict::NotComparable,
        reason: None,
        text: String::new(),
    };
    let refuse = |mut r: Ratio, reason: String| {
        r.text = wording::not_comparable(&reason);
        r.reason = Some(reason);
        r
    };
    if column.errors > 0 || baseline.errors > 0 {
        return refuse(r, "failed calls".into());
    }
    if metric.is_latency() && column_in_flight != baseline_in_flight {
        return refuse(r, format!("{column_in_flight} vs {baseline_in_flight} in flight: compare ops/s"));
    }
    // Two columns that both kept to the rate asked for (`--rate`) made the same ops/s by
    // construction: a ratio of them would only measure the schedule's jitter.
    let kept_up = |c: &Cell| c.open_loop.as_ref().is_some_and(|o| o.kept_up);
    if metric == RatioMetric::OpsPerSec && kept_up(column) && kept_up(baseline) {
        return refuse(r, "both kept to the rate: compare latency".into());
    }
    if metric == RatioMetric::OpsPerCpuSec && (column.cpu.is_none() || baseline.cpu.is_none()) {
        return refuse(r, "CPU time not measured".into());
    }
    let p99 = matches!(metric, RatioMetric::P99Latency | RatioMetric::CorrectedP99Latency);
    if p99 && column.count.min(baseline.count) < MIN_CALLS_FOR_P99 {
        return refuse(r, format!("under {MIN_CALLS_FOR_P99} calls: no p99"));
    }
    if is_corrected(metric) && (column.open_loop.is_none() || baseline.open_loop.is_none()) {
        return refuse(r, "closed loop: no latency from when calls were due".into());
    }
    // A round's p99 of fewer calls is its maximum, not a percentile.
    let short_round = |c: &Cell| c.rounds.iter().any(|x| x.count.saturating_sub(x.errors) < MIN_CALLS_FOR_P99);
    if metric == RatioMetric::P99Latency && (short_round(column) || short_round(baseline)) {
        return refuse(r, format!("a round of under {MIN_CALLS_FOR_P99} calls: no per-round p99"));
    }
    for a in &column.rounds {
        if let Some(b) = baseline.rounds.iter().find(|b| b.round == a.round) {
            let (x, y) = (figure(a, metric), figure(b, metric));
            if x.is_nan() || y.is_nan() {
                continue;
            }
            let higher_is_better = matches!(metric, RatioMetric::OpsPerSec | RatioMetric::OpsPerCpuSec);
            r.per_round.push(if higher_is_better { x / y } else { y / x });
        }
    }
    let Some(estimate) = interval::estimate_by(method, &r.per_round) else {
        return refuse(r, "no round with figures on both sides".into());
    };
    r.speedup = Some(estimate.ratio);
    // No bounds while a confidence sequence excludes nothing yet (0 to ∞).
    let finite = estimate.bounds.filter(|b| b.1.is_finite() && b.0 > 0.0);
    r.low = finite.map(|b| b.0);
    r.high = finite.map(|b| b.1);
    (r.verdict, r.text) = wording::verdict(estimate.ratio, estimate.bounds, min_effect);
    r
}

/// Sets `over_floor_us` and its interval on every cell of a column with as many calls in flight
/// as the floor: a paired comparison, each round's average latency minus the floor's in the same
/// round, and the mean of those differences with its 95% t-interval.
pub fn set_over_floor(columns: &[Column], cells: &mut [Cell]) -> Option<String> {
    set_over_floor_by(interval::Method::StudentT, columns, cells)
}

/// [`set_over_floor`] with the interval of `method`.
pub fn set_over_floor_by(method: interval::Method, columns: &[Column], cells: &mut [Cell]) -> Option<String> {
    let floor = columns.iter().find(|c| c.id == FLOOR && c.error.is_none())?;
    let floor_cells: Vec<Cell> = cells.iter().filter(|c| c.column == floor.id && c.errors == 0).cloned().collect();
    for cell in cells.iter_mut().filter(|c| c.column != floor.id && c.errors == 0) {
        let same_in_flight = columns.iter().any(|c| c.id == cell.column && c.in_flight == floor.in_flight);
        let Some(f) = floor_cells.iter().find(|f| f.operation == cell.operation) else { continue };
        if !same_in_flight {
            continue;
        }
        let diffs: Vec<f64> = cell
            .rounds
            .iter()
            .filter_map(|a| f.rounds.iter().find(|b| b.round == a.round).map(|b| a.avg_us - b.avg_us))
            .collect();
        if let Some((mean, half)) = method.mean_and_half_width(&diffs) {
            cell.over_floor_us = Some(mean);
            cell.over_floor_interval_us = half.filter(|h| h.is_finite()).map(|h| [mean - h, mean + h]);
        }
    }
    Some(floor.id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::results::RoundFigures;

    fn cell(column: &str, rounds: &[(f64, f64)]) -> Cell {
        Cell {
            column: column.into(),
            operation: "get".into(),
            count: 1000 * rounds.len() as u64,
            errors: 0,
            errors_by_reason: Default::default(),
            failures: Default::default(),
            latency_us: Default::default(),
            ops_per_sec: 0.0,
            records_per_sec: None,
            records: None,
            wall_secs: 1.0,
            histogram: String::new(),
            latency_beyond_range: 0,
            over_floor_us: None,
            over_floor_interval_us: None,
            cpu: None,
            rounds: rounds
                .iter()
                .enumerate()
                .map(|(i, &(avg, ops))| RoundFigures {
                    round: i as u32 + 1,
                    count: 1000,
                    avg_us: avg,
                    p50_us: avg,
                    p99_us: avg * 2.0,
                    ops_per_sec: ops,
                    ..Default::default()
                })
                .collect(),
            notes: Vec::new(),
            loop_starvation_us: None,
            competitor: None,
            open_loop: None,
            not_supported: None,
        }
    }

    #[test]
    fn faster_slower_and_unclear() {
        let base = cell("c", &[(100.0, 10_000.0), (110.0, 9_000.0), (90.0, 11_000.0)]);
        let fast = cell("a", &[(50.0, 20_000.0), (56.0, 18_000.0), (44.0, 22_000.0)]);
        let r = ratio(&fast, &base, 1, 1, RatioMetric::AvgLatency, 0.03);
        assert_eq!(r.verdict, Verdict::Faster, "{r:?}");
        assert!(r.text.starts_with("2.0x faster ("), "{}", r.text);
        assert_eq!(r.per_round.len(), 3);
        let r = ratio(&base, &fast, 1, 1, RatioMetric::OpsPerSec, 0.03);
        assert_eq!(r.verdict, Verdict::Slower);
        assert!(r.text.starts_with("2.0x slower ("), "{}", r.text);
        let noisy = cell("b", &[(80.0, 12_000.0), (130.0, 7_000.0), (95.0, 10_500.0)]);
        let r = ratio(&noisy, &base, 1, 1, RatioMetric::AvgLatency, 0.03);
        assert_eq!(r.verdict, Verdict::NoClearDifference, "{r:?}");
        assert!(r.text.starts_with("no clear difference ("), "{}", r.text);
    }

    #[test]
    fn no_ops_per_sec_verdict_between_columns_that_both_kept_to_the_rate() {
        let paced = |id: &str, ops: f64, kept_up: bool| {
            let mut c = cell(id, &[(100.0, ops), (100.0, ops * 1.001)]);
            c.open_loop = Some(crate::model::results::OpenLoopFigures {
                target_ops_per_sec: 5_000.0,
                achieved_ops_per_sec: ops,
                kept_up,
                ..Default::default()
            });
            c
        };
        let (a, base) = (paced("a", 4_990.0, true), paced("c", 5_000.0, true));
        let r = ratio(&a, &base, 1, 1, RatioMetric::OpsPerSec, 0.03);
        assert_eq!(r.verdict, Verdict::NotComparable, "{r:?}");
        assert!(r.text.contains("kept to the rate"), "{}", r.text);
        assert_ne!(ratio(&a, &base, 1, 1, RatioMetric::AvgLatency, 0.03).verdict, Verdict::NotComparable);
        // One that fell behind: its ops/s say so.
        let behind = paced("b", 2_500.0, false);
        assert_eq!(ratio(&behind, &base, 1, 1, RatioMetric::OpsPerSec, 0.03).verdict, Verdict::Slower);
    }

    #[test]
    fn open_loop_verdicts_compare_latency_from_when_calls_were_due() {
        // Equal service time; column "a" stalls now and then, so its calls wait behind the
        // stall: its corrected p99 is ten times the baseline's.
        let open = |id: &str, corrected_p99: f64| {
            let mut c = cell(id, &[(100.0, 1_000.0), (101.0, 1_000.0), (99.0, 1_000.0), (100.0, 1_000.0)]);
            for (i, r) in c.rounds.iter_mut().enumerate() {
                let wobble = 1.0 + 0.01 * i as f64;
                r.corrected = Some(crate::model::results::RoundLatency {
                    avg_us: 150.0 * wobble,
                    p50_us: 120.0 * wobble,
                    p99_us: corrected_p99 * wobble,
                });
            }
            c.open_loop = Some(crate::model::results::OpenLoopFigures { kept_up: true, ..Default::default() });
            c
        };
        let (stalls, base) = (open("a", 3_000.0), open("c", 300.0));
        let service = ratio(&stalls, &base, 1, 1, RatioMetric::P99Latency, 0.03);
        assert_ne!(service.verdict, Verdict::Slower, "{service:?}");
        let corrected = ratio(&stalls, &base, 1, 1, RatioMetric::CorrectedP99Latency, 0.03);
        assert_eq!(corrected.verdict, Verdict::Slower, "{corrected:?}");
        assert!(corrected.text.starts_with("10.0x slower ("), "{}", corrected.text);
        let median = ratio(&stalls, &base, 1, 1, RatioMetric::CorrectedP50Latency, 0.03);
        assert_eq!(median.verdict, Verdict::WithinMinEffect, "{median:?}");
        // Only open-loop cells get corrected ratios.
        let columns: Vec<Column> = ["a", "c"].into_iter().map(plain_column).collect();
        let pairs = [("a".to_string(), "c".to_string())];
        let all = ratios(&columns, &[stalls, base], &["get".into()], &pairs, 0.03);
        assert!(all.iter().any(|r| r.metric == RatioMetric::CorrectedP99Latency));
        let closed =
            ratios(&columns, &[cell("a", &[(1.0, 1.0)]), cell("c", &[(1.0, 1.0)])], &["get".into()], &pairs, 0.03);
        assert!(!closed.iter().any(|r| is_corrected(r.metric)), "{closed:?}");
    }

    #[test]
    fn no_p99_ratio_unless_every_round_has_a_hundred_calls() {
        let base = cell("c", &[(100.0, 10_000.0), (110.0, 9_000.0), (90.0, 11_000.0)]);
        let mut short = cell("a", &[(50.0, 20_000.0), (56.0, 18_000.0), (44.0, 22_000.0)]);
        assert_ne!(
            ratio(&short, &base, 1, 1, RatioMetric::P99Latency, crate::model::results::DEFAULT_MIN_EFFECT).verdict,
            Verdict::NotComparable
        );
        short.rounds[1].count = MIN_CALLS_FOR_P99 - 1;
        let r = ratio(&short, &base, 1, 1, RatioMetric::P99Latency, crate::model::results::DEFAULT_MIN_EFFECT);
        assert_eq!(r.verdict, Verdict::NotComparable, "{r:?}");
        assert!(r.reason.unwrap().contains("per-round p99"));
        assert_ne!(
            ratio(&short, &base, 1, 1, RatioMetric::P50Latency, crate::model::results::DEFAULT_MIN_EFFECT).verdict,
            Verdict::NotComparable
        );
    }

    #[test]
    fn like_for_like_only() {
        let base = cell("c", &[(100.0, 10_000.0), (100.0, 10_000.0)]);
        let concurrent = cell("a", &[(1_000.0, 50_000.0), (1_000.0, 50_000.0)]);
        let latency = ratio(&concurrent, &base, 50, 1, RatioMetric::AvgLatency, 0.03);
        assert_eq!(latency.verdict, Verdict::NotComparable);
        assert!(latency.text.contains("50 vs 1 in flight"), "{}", latency.text);
        let throughput = ratio(&concurrent, &base, 50, 1, RatioMetric::OpsPerSec, 0.03);
        assert_eq!(throughput.verdict, Verdict::Faster);
        assert!((throughput.speedup.unwrap() - 5.0).abs() < 1e-9);

        let mut failing = cell("a", &[(50.0, 20_000.0), (50.0, 20_000.0)]);
        failing.errors = 3;
        assert_eq!(ratio(&failing, &base, 1, 1, RatioMetric::OpsPerSec, 0.03).reason.as_deref(), Some("failed calls"));

        let mut few = cell("a", &[(50.0, 20_000.0), (50.0, 20_000.0)]);
        few.count = 40;
        assert_eq!(ratio(&few, &base, 1, 1, RatioMetric::P99Latency, 0.03).verdict, Verdict::NotComparable);
        assert_eq!(ratio(&few, &base, 1, 1, RatioMetric::P50Latency, 0.03).verdict, Verdict::Faster);
    }

    /// A column with nothing but its id (and label).
    fn plain_column(id: &str) -> Column {
        Column {
            id: id.into(),
            label: id.into(),
            client: String::new(),
            client_version: String::new(),
            mode: String::new(),
            in_flight: 1,
            source: String::new(),
            python_version: None,
            python: None,
            policies: Default::default(),
            error: None,
            build: None,
            crash: None,
        }
    }

    #[test]
    fn pairs_with_the_baseline_then_the_seed_pairs() {
        let col = plain_column;
        let columns: Vec<Column> =
            ["wire", "rust-sync", "rust-async", "aerospike-py-sync", "official-c"].into_iter().map(col).collect();
        let p = pairs(&columns, Some("official-c"));
        let ids: Vec<(&str, &str)> = p.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_eq!(
            ids,
            [
                ("wire", "official-c"),
                ("rust-sync", "official-c"),
                ("rust-async", "official-c"),
                ("aerospike-py-sync", "official-c"),
                ("rust-async", "rust-sync"),
            ]
        );
        let versions: Vec<Column> =
            ["official-c", "py-sync@0.12.0", "py-sync@0.14.4", "py-async@0.12.0", "py-async@0.14.4"]
                .into_iter()
                .map(col)
                .collect();
        let p = pairs(&versions, Some("py-sync@0.12.0"));
        assert!(p.contains(&("py-sync@0.14.4".into(), "py-sync@0.12.0".into())));
        assert!(
            p.contains(&("py-async@0.14.4".into(), "py-async@0.12.0".into())),
            "each kind against its first version"
        );
        assert!(!p.iter().any(|(a, b)| a == b));
    }

    #[test]
    fn overhead_above_the_floor_is_the_mean_of_round_differences() {
        let mut floor_col = Column { label: "wire floor".into(), mode: "sync".into(), ..plain_column(FLOOR) };
        let mut other = floor_col.clone();
        other.id = "a".into();
        let mut concurrent = floor_col.clone();
        concurrent.id = "b".into();
        concurrent.in_flight = 50;
        let mut cells = vec![
            cell(FLOOR, &[(40.0, 0.0), (60.0, 0.0)]),
            cell("a", &[(55.0, 0.0), (70.0, 0.0)]),
            cell("b", &[(500.0, 0.0)]),
        ];
        let columns = vec![floor_col.clone(), other, concurrent];
        assert_eq!(set_over_floor(&columns, &mut cells).as_deref(), Some(FLOOR));
        assert_eq!(cells[1].over_floor_us, Some(12.5));
        // Differences 15 and 10: mean 12.5, half-width t(1) × sd 3.54 / √2 = 12.706 × 2.5.
        let [lo, hi] = cells[1].over_floor_interval_us.unwrap();
        assert!((hi - 12.5 - 12.706_204_736 * 2.5).abs() < 1e-6 && (12.5 - lo - (hi - 12.5)).abs() < 1e-9, "{lo} {hi}");
        assert_eq!(cells[2].over_floor_us, None, "different calls in flight");
        assert_eq!(cells[0].over_floor_us, None);
        floor_col.error = Some("down".into());
        assert_eq!(set_over_floor(&[floor_col], &mut cells), None);
    }
}
