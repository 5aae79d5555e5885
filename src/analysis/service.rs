//! A service run's slices into conclusions: one cell per column and step (requests/s with its
//! interval over rounds, latency percentiles, the client's share of the handler, CPU per request
//! and requests per CPU-core, over the app floor), each column's saturation point, and verdicts
//! between columns at each step on requests per core and p99.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::analysis::compare::{interval, wording};
use crate::engine::stats;
use crate::model::service::{Saturation, ServiceCell, ServiceMetric, ServiceRound, ServiceVerdict, Timings};
use crate::service::measured::SliceRecord;

/// Requests/s must rise by more than this from one step to the next for the column not to be
/// saturated: below it, the extra load only queues.
pub const SATURATION_GAIN: f64 = 0.10;

/// The reason a request failed because an app worker died under it.
pub const WORKER_DIED: &str = "app worker died";

/// One cell per (column, step) that has at least one slice, in the order of `columns` then
/// `steps`; `floors` maps a column to the floor it is measured over.
pub fn cells(
    columns: &[String],
    steps: &[f64],
    slices: &[SliceRecord],
    floors: &BTreeMap<String, String>,
) -> Vec<ServiceCell> {
    let mut out = Vec::new();
    for column in columns {
        for (k, &step) in steps.iter().enumerate() {
            let mine: Vec<&SliceRecord> = slices.iter().filter(|s| s.column == *column && s.step == k).collect();
            if let Some(cell) = cell(column, step, &mine) {
                out.push(cell);
            }
        }
    }
    let by_key: BTreeMap<(String, u64), (Option<f64>, f64)> =
        out.iter().map(|c| ((c.column.clone(), c.step.to_bits()), (c.cpu_us_per_request, c.latency_us.p50))).collect();
    for cell in &mut out {
        let Some(floor) = floors.get(&cell.column) else { continue };
        let Some((floor_cpu, floor_p50)) = by_key.get(&(floor.clone(), cell.step.to_bits())) else { continue };
        if cell.requests > 0 {
            cell.over_floor_p50_us = Some(cell.latency_us.p50 - floor_p50);
            cell.over_floor_cpu_us = cell.cpu_us_per_request.zip(*floor_cpu).map(|(mine, floor)| mine - floor);
        }
    }
    out
}

fn timings(h: &Histogram<u64>) -> Option<Timings> {
    if h.is_empty() {
        return None;
    }
    let us = |ns: u64| ns as f64 / 1e3;
    Some(Timings {
        avg: h.mean() / 1e3,
        p50: us(h.value_at_quantile(0.50)),
        p95: us(h.value_at_quantile(0.95)),
        p99: us(h.value_at_quantile(0.99)),
        max: us(h.max()),
    })
}

fn cell(column: &str, step: f64, slices: &[&SliceRecord]) -> Option<ServiceCell> {
    if slices.is_empty() {
        return None;
    }
    let mut latency = stats::new_histogram();
    let mut handler = stats::new_histogram();
    let mut client = stats::new_histogram();
    let mut lag = stats::new_histogram();
    let mut errors_by_reason: BTreeMap<String, u64> = BTreeMap::new();
    let mut samples: Vec<String> = Vec::new();
    let mut per_round = Vec::new();
    let (mut requests, mut secs, mut late) = (0u64, 0.0f64, 0u64);
    let mut cpu_total: Option<f64> = Some(0.0);
    let mut peak: Option<u64> = None;
    for s in slices {
        let m = &s.measure;
        stats::add_histogram(&mut latency, &m.latency);
        stats::add_histogram(&mut handler, &m.handler);
        stats::add_histogram(&mut client, &m.client);
        stats::add_histogram(&mut lag, &m.loop_lag);
        for (reason, n) in &m.errors {
            *errors_by_reason.entry(reason.clone()).or_default() += n;
        }
        if !s.lost_workers.is_empty() {
            *errors_by_reason.entry(WORKER_DIED.to_string()).or_default() += s.lost_workers.len() as u64;
        }
        for sample in &m.error_samples {
            if samples.len() < 3 && !samples.contains(sample) {
                samples.push(sample.clone());
            }
        }
        requests += m.ok;
        late += m.late;
        let elapsed = m.elapsed.as_secs_f64();
        secs += elapsed;
        let cpu = s.cpu.map(|c| c.as_secs_f64());
        cpu_total = cpu_total.zip(cpu).map(|(a, b)| a + b);
        peak = match (peak, s.peak_rss_bytes) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let errors = m.errors.values().sum::<u64>() + s.lost_workers.len() as u64;
        per_round.push(ServiceRound {
            round: s.round,
            requests: m.ok,
            errors,
            secs: elapsed,
            requests_per_sec: if elapsed > 0.0 { m.ok as f64 / elapsed } else { 0.0 },
            p99_us: if m.latency.is_empty() { 0.0 } else { m.latency.value_at_quantile(0.99) as f64 / 1e3 },
            cpu_secs: cpu,
            requests_per_core: cpu.filter(|c| *c > 0.0 && m.ok > 0).map(|c| m.ok as f64 / c),
        });
    }
    let rps: Vec<f64> = per_round.iter().map(|r| r.requests_per_sec).collect();
    let (rps_mean, rps_half) = interval::mean_and_half_width(&rps).unwrap_or((0.0, None));
    let per_core: Vec<f64> = per_round.iter().filter_map(|r| r.requests_per_core).collect();
    let core = if per_core.len() == per_round.len() { interval::mean_and_half_width(&per_core) } else { None };
    let handler_t = timings(&handler);
    let client_t = timings(&client);
    let errors = errors_by_reason.values().sum();
    Some(ServiceCell {
        column: column.to_string(),
        step,
        rounds: per_round.len() as u32,
        requests,
        errors,
        errors_by_reason,
        error_samples: samples,
        requests_per_sec: rps_mean,
        requests_per_sec_low: rps_half.map(|h| (rps_mean - h).max(0.0)),
        requests_per_sec_high: rps_half.map(|h| rps_mean + h),
        latency_us: timings(&latency).unwrap_or_default(),
        client_share: handler_t.zip(client_t).filter(|(h, _)| h.avg > 0.0).map(|(h, c)| (c.avg / h.avg).min(1.0)),
        handler_us: handler_t,
        client_us: client_t,
        loop_lag_us: timings(&lag),
        cpu_us_per_request: cpu_total.filter(|_| requests > 0).map(|c| c * 1e6 / requests as f64),
        requests_per_core: core.map(|(m, _)| m),
        requests_per_core_low: core.and_then(|(m, h)| h.map(|h| (m - h).max(0.0))),
        requests_per_core_high: core.and_then(|(m, h)| h.map(|h| m + h)),
        cores_busy: cpu_total.filter(|_| secs > 0.0).map(|c| c / secs),
        peak_rss_bytes: peak,
        over_floor_cpu_us: None,
        over_floor_p50_us: None,
        late: Some(late).filter(|&n| n > 0),
        per_round,
        histogram: stats::encode_histogram(&latency),
    })
}

/// Each column's saturation point over its cells in step order: the first step after which
/// requests/s rose by less than [`SATURATION_GAIN`], or, with an SLO, the last step whose p99
/// kept within it, whichever comes first.
pub fn saturation(
    columns: &[String],
    steps: &[f64],
    cells: &[ServiceCell],
    unit: &str,
    slo_us: Option<f64>,
) -> Vec<Saturation> {
    let label = |s: f64| {
        let n = if s.fract() == 0.0 { format!("{s:.0}") } else { format!("{s}") };
        format!("{n} {unit}")
    };
    let mut out = Vec::new();
    for column in columns {
        let mine: Vec<&ServiceCell> = steps
            .iter()
            .filter_map(|&s| cells.iter().find(|c| c.column == *column && c.step == s && c.requests > 0))
            .collect();
        let Some(last) = mine.last() else { continue };
        let at = |c: &ServiceCell, reason: String, reached: bool| Saturation {
            column: column.clone(),
            step: reached.then_some(c.step),
            requests_per_sec: c.requests_per_sec,
            requests_per_core: c.requests_per_core,
            p99_us: c.latency_us.p99,
            reason,
        };
        let mut found = None;
        for (k, c) in mine.iter().enumerate() {
            if let Some(slo) = slo_us
                && c.latency_us.p99 > slo
            {
                let why = format!("p99 {:.0} µs above the SLO of {:.0} µs at {}", c.latency_us.p99, slo, label(c.step));
                found = Some(match k {
                    0 => at(c, format!("{why}, the first step"), true),
                    _ => at(mine[k - 1], why, true),
                });
                break;
            }
            if let Some(next) = mine.get(k + 1) {
                let gain =
                    if c.requests_per_sec > 0.0 { next.requests_per_sec / c.requests_per_sec - 1.0 } else { 1.0 };
                let over_slo = slo_us.is_some_and(|slo| next.latency_us.p99 > slo);
                if gain < SATURATION_GAIN && !over_slo {
                    let why = format!(
                        "requests/s {} {:.0}% from {} to {}",
                        if gain >= 0.0 { "rose only" } else { "fell" },
                        gain.abs() * 100.0,
                        label(c.step),
                        label(next.step)
                    );
                    found = Some(at(c, why, true));
                    break;
                }
            }
        }
        out.push(found.unwrap_or_else(|| {
            let why = match mine.len() {
                1 => format!("one step only ({})", label(last.step)),
                _ => format!("requests/s still rose by {:.0}% or more at every step", SATURATION_GAIN * 100.0),
            };
            at(last, why, false)
        }));
    }
    out
}

/// Every column other than the baseline and the floors against the baseline at each step, on
/// requests per core, p99 and requests/s, from the rounds both ran (paired by round).
pub fn verdicts(
    columns: &[String],
    floors: &[String],
    baseline: Option<&str>,
    steps: &[f64],
    cells: &[ServiceCell],
    min_effect: f64,
) -> Vec<ServiceVerdict> {
    let Some(baseline) = baseline else { return Vec::new() };
    let mut out = Vec::new();
    for &step in steps {
        let Some(base) = cells.iter().find(|c| c.column == baseline && c.step == step) else { continue };
        for column in columns.iter().filter(|c| c.as_str() != baseline && !floors.contains(c)) {
            let Some(cell) = cells.iter().find(|c| c.column == *column && c.step == step) else { continue };
            for metric in [ServiceMetric::RequestsPerCore, ServiceMetric::P99Latency, ServiceMetric::RequestsPerSec] {
                let value = |r: &ServiceRound| match metric {
                    ServiceMetric::RequestsPerCore => r.requests_per_core,
                    ServiceMetric::P99Latency => Some(r.p99_us).filter(|p| *p > 0.0),
                    ServiceMetric::RequestsPerSec => Some(r.requests_per_sec).filter(|v| *v > 0.0),
                };
                let per_round: Vec<f64> = cell
                    .per_round
                    .iter()
                    .filter_map(|r| {
                        let b = base.per_round.iter().find(|b| b.round == r.round)?;
                        let (mine, theirs) = (value(r)?, value(b)?);
                        Some(if metric == ServiceMetric::P99Latency { theirs / mine } else { mine / theirs })
                    })
                    .collect();
                let Some(estimate) = interval::estimate(&per_round) else { continue };
                let (verdict, text) = wording::verdict(estimate.ratio, estimate.bounds, min_effect);
                let text = match metric {
                    ServiceMetric::P99Latency => text,
                    _ => text.replace("x faster", "x more").replace("x slower", "x fewer"),
                };
                out.push(ServiceVerdict {
                    step,
                    column: column.clone(),
                    baseline: baseline.to_string(),
                    metric,
                    speedup: Some(estimate.ratio),
                    low: estimate.bounds.map(|b| b.0),
                    high: estimate.bounds.map(|b| b.1),
                    per_round,
                    verdict,
                    text,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::model::results::Verdict;
    use crate::service::http_load::SliceMeasure;

    fn slice(column: &str, step: usize, round: u32, ok: u64, latency_us: u64, cpu_ms: u64) -> SliceRecord {
        let mut latency = stats::new_histogram();
        let mut handler = stats::new_histogram();
        let mut client = stats::new_histogram();
        for _ in 0..ok {
            latency.record(latency_us * 1000).unwrap();
            handler.record(latency_us * 500).unwrap();
            client.record(latency_us * 250).unwrap();
        }
        SliceRecord {
            column: column.into(),
            step,
            round,
            measure: SliceMeasure {
                ok,
                errors: BTreeMap::new(),
                elapsed: Duration::from_secs(1),
                latency,
                handler,
                client,
                loop_lag: stats::new_histogram(),
                error_samples: Vec::new(),
                late: 0,
            },
            cpu: Some(Duration::from_millis(cpu_ms)),
            peak_rss_bytes: Some(100 << 20),
            lost_workers: Vec::new(),
        }
    }

    #[test]
    fn a_cell_sums_its_rounds_and_measures_per_core_and_over_floor() {
        let slices = vec![
            slice("floor", 0, 1, 1000, 100, 200),
            slice("floor", 0, 2, 1000, 100, 200),
            slice("a", 0, 1, 500, 400, 500),
            slice("a", 0, 2, 600, 400, 500),
        ];
        let floors = BTreeMap::from([("a".to_string(), "floor".to_string())]);
        let cells = cells(&["floor".into(), "a".into()], &[10.0], &slices, &floors);
        let a = cells.iter().find(|c| c.column == "a").unwrap();
        assert_eq!((a.requests, a.rounds, a.errors), (1100, 2, 0));
        assert!((a.requests_per_sec - 550.0).abs() < 1e-9, "{}", a.requests_per_sec);
        assert!(a.requests_per_sec_low.unwrap() < 550.0 && a.requests_per_sec_high.unwrap() > 550.0);
        // 1 s of CPU for 1100 requests: ~909 µs each; 500 and 600 per 0.5 CPU-s: 1000 and 1200 per core.
        assert!((a.cpu_us_per_request.unwrap() - 1e6 / 1100.0).abs() < 1e-6);
        assert!((a.requests_per_core.unwrap() - 1100.0).abs() < 1e-9);
        assert!((a.cores_busy.unwrap() - 0.5).abs() < 1e-9);
        // Over the floor (0.4 CPU-s for 2000 requests: 200 µs each): 909 − 200 µs of CPU per
        // request, p50 400 − 100 µs.
        assert!((a.over_floor_cpu_us.unwrap() - (1e6 / 1100.0 - 200.0)).abs() < 1e-6);
        assert!((a.over_floor_p50_us.unwrap() - 300.0).abs() < 1.0, "{:?}", a.over_floor_p50_us);
        assert!((a.client_share.unwrap() - 0.5).abs() < 0.01, "{:?}", a.client_share);
        assert!(cells.iter().find(|c| c.column == "floor").unwrap().over_floor_cpu_us.is_none());
    }

    #[test]
    fn lost_workers_are_errors_by_reason() {
        let mut s = slice("a", 0, 1, 10, 100, 10);
        s.lost_workers = vec!["worker 12 died".into()];
        s.measure.errors.insert("connection reset".into(), 3);
        let cells = cells(&["a".into()], &[5.0], &[s], &BTreeMap::new());
        assert_eq!(cells[0].errors, 4);
        assert_eq!(cells[0].errors_by_reason[WORKER_DIED], 1);
        assert_eq!(cells[0].per_round[0].errors, 4);
    }

    fn cell_at(column: &str, step: f64, rps: f64, p99: f64) -> ServiceCell {
        let s = slice(column, 0, 1, 10, 100, 10);
        let mut c = cells(&[column.into()], &[step], &[s], &BTreeMap::new()).remove(0);
        c.requests_per_sec = rps;
        c.latency_us.p99 = p99;
        c
    }

    #[test]
    fn saturation_is_where_requests_per_second_stop_rising_or_p99_leaves_the_slo() {
        let steps = [10.0, 50.0, 100.0];
        let cells = vec![
            cell_at("a", 10.0, 1000.0, 5_000.0),
            cell_at("a", 50.0, 3000.0, 20_000.0),
            cell_at("a", 100.0, 3100.0, 40_000.0),
            cell_at("b", 10.0, 1000.0, 5_000.0),
            cell_at("b", 50.0, 2000.0, 6_000.0),
            cell_at("b", 100.0, 4000.0, 7_000.0),
        ];
        let cols = ["a".to_string(), "b".to_string()];
        let sat = saturation(&cols, &steps, &cells, "vus", None);
        assert_eq!(sat[0].step, Some(50.0), "{sat:?}");
        assert!(sat[0].reason.contains("rose only 3% from 50 vus to 100 vus"), "{}", sat[0].reason);
        assert_eq!(sat[1].step, None, "{sat:?}");
        assert_eq!(sat[1].requests_per_sec, 4000.0);
        // An SLO of 10 ms: a saturates at 10 vus (p99 20 ms at 50).
        let sat = saturation(&cols, &steps, &cells, "vus", Some(10_000.0));
        assert_eq!(sat[0].step, Some(10.0), "{sat:?}");
        assert!(sat[0].reason.contains("above the SLO"), "{}", sat[0].reason);
        assert_eq!(sat[1].step, None);
    }

    #[test]
    fn verdicts_pair_rounds_and_say_more_per_core() {
        let mk = |column: &str, cpus: &[u64]| {
            let slices: Vec<SliceRecord> =
                cpus.iter().enumerate().map(|(r, &cpu)| slice(column, 0, r as u32 + 1, 1000, 100, cpu)).collect();
            cells(&[column.into()], &[10.0], &slices, &BTreeMap::new()).remove(0)
        };
        // a uses half the CPU of base per request, round by round: 2x more per core.
        let cells =
            vec![mk("base", &[400, 410, 390, 405]), mk("a", &[200, 205, 195, 202]), mk("floor", &[10, 10, 10, 10])];
        let v = verdicts(
            &["base".into(), "a".into(), "floor".into()],
            &["floor".into()],
            Some("base"),
            &[10.0],
            &cells,
            0.03,
        );
        let per_core = v.iter().find(|v| v.metric == ServiceMetric::RequestsPerCore).unwrap();
        assert_eq!(per_core.column, "a");
        assert_eq!(per_core.verdict, Verdict::Faster);
        assert!(per_core.text.contains("x more"), "{}", per_core.text);
        assert!((per_core.speedup.unwrap() - 2.0).abs() < 0.05);
        assert!(v.iter().all(|v| v.column != "floor"));
    }
}
