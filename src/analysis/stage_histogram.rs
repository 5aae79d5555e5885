//! A client's own stage timers as it exports them: the `db_client_internal_stage_seconds`
//! histogram of aerospike-py's Prometheus text, parsed into one cumulative histogram per stage and
//! operation, the difference of two readings (the timers count from the process's start), and a
//! quantile interpolated within a bucket, as Prometheus' `histogram_quantile` does.

use std::collections::BTreeMap;

/// The metric the stage timers export.
pub const STAGE_METRIC: &str = "db_client_internal_stage_seconds";

/// Why a client's metrics text could not be read as stage histograms.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StageTextError {
    #[error("line {line} of the client's metrics is not a Prometheus sample: {text:?}")]
    Malformed { line: usize, text: String },
    #[error("stage {stage:?} of {operation}: bucket bounds differ between two samples or readings")]
    Bounds { stage: String, operation: String },
    #[error(
        "stage {stage:?} of {operation}: the client's counts went down between two readings (its metrics were reset)"
    )]
    Reset { stage: String, operation: String },
}

/// One stage of one operation: cumulative bucket counts (Prometheus `le` buckets, the last one
/// `+Inf`), the sum of the times and their count.
#[derive(Debug, Clone, PartialEq)]
pub struct StageHistogram {
    pub stage: String,
    /// The client's own name of the operation (`db_operation_name`, e.g. `batch_read`).
    pub operation: String,
    /// Upper bounds of the buckets, in seconds, ascending; the last is infinite.
    pub bounds: Vec<f64>,
    /// Calls at or below each bound (cumulative, as exported).
    pub cumulative: Vec<u64>,
    pub sum_secs: f64,
    pub count: u64,
}

impl StageHistogram {
    /// The `q`-quantile (0..=1) in seconds, linearly interpolated within its bucket (from the
    /// bucket below's bound, or 0, to its own); in the `+Inf` bucket, the highest finite bound.
    /// `None` without a call.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * self.count as f64;
        let mut below = 0u64;
        for (i, (&bound, &cumulative)) in self.bounds.iter().zip(&self.cumulative).enumerate() {
            if (cumulative as f64) >= rank && cumulative > below {
                let lower = if i == 0 { 0.0 } else { self.bounds[i - 1] };
                if bound.is_infinite() {
                    return Some(lower);
                }
                let within = (rank - below as f64) / (cumulative - below) as f64;
                return Some(lower + (bound - lower) * within.clamp(0.0, 1.0));
            }
            below = cumulative;
        }
        self.bounds.iter().rev().find(|b| b.is_finite()).copied()
    }

    /// The mean time in seconds; `None` without a call.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum_secs / self.count as f64)
    }
}

/// Every stage histogram in `text` (Prometheus text format), by operation and stage. Samples of
/// one stage and operation that differ in other labels are added together; lines of other
/// metrics are skipped.
pub fn parse(text: &str) -> Result<Vec<StageHistogram>, StageTextError> {
    #[derive(Default)]
    struct Partial {
        buckets: BTreeMap<u64, (f64, u64)>,
        sum: f64,
        count: u64,
    }
    let mut found: BTreeMap<(String, String), Partial> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix(STAGE_METRIC) else { continue };
        let malformed = || StageTextError::Malformed { line: n + 1, text: line.to_string() };
        let (kind, rest) = match rest.find('{') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => continue,
        };
        let (labels, value) = split_labels(rest).ok_or_else(malformed)?;
        let value: f64 = value.split_whitespace().next().and_then(|v| v.parse().ok()).ok_or_else(malformed)?;
        let stage = labels.get("stage").cloned().unwrap_or_default();
        let operation = labels.get("db_operation_name").cloned().unwrap_or_default();
        let partial = found.entry((operation, stage)).or_default();
        match kind {
            "_sum" => partial.sum += value,
            "_count" => partial.count += value as u64,
            "_bucket" => {
                let le = labels.get("le").ok_or_else(malformed)?;
                let bound: f64 = match le.as_str() {
                    "+Inf" | "Inf" => f64::INFINITY,
                    le => le.parse().map_err(|_| malformed())?,
                };
                let slot = partial.buckets.entry(bound.to_bits()).or_insert((bound, 0));
                slot.1 += value as u64;
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for ((operation, stage), p) in found {
        let mut buckets: Vec<(f64, u64)> = p.buckets.into_values().collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        if buckets.last().is_none_or(|b| b.0.is_finite()) {
            buckets.push((f64::INFINITY, p.count));
        }
        out.push(StageHistogram {
            stage,
            operation,
            bounds: buckets.iter().map(|b| b.0).collect(),
            cumulative: buckets.iter().map(|b| b.1).collect(),
            sum_secs: p.sum,
            count: p.count,
        });
    }
    Ok(out)
}

/// What was recorded between two readings: `after` less `before`, stage by stage; stages with no
/// call in between are left out.
pub fn since(after: &[StageHistogram], before: &[StageHistogram]) -> Result<Vec<StageHistogram>, StageTextError> {
    let mut out = Vec::new();
    for a in after {
        let b = before.iter().find(|b| b.stage == a.stage && b.operation == a.operation);
        let diff = match b {
            None => a.clone(),
            Some(b) => {
                let (stage, operation) = (a.stage.clone(), a.operation.clone());
                if b.bounds != a.bounds {
                    return Err(StageTextError::Bounds { stage, operation });
                }
                if b.count > a.count || b.cumulative.iter().zip(&a.cumulative).any(|(b, a)| b > a) {
                    return Err(StageTextError::Reset { stage, operation });
                }
                StageHistogram {
                    stage,
                    operation,
                    bounds: a.bounds.clone(),
                    cumulative: a.cumulative.iter().zip(&b.cumulative).map(|(a, b)| a - b).collect(),
                    sum_secs: (a.sum_secs - b.sum_secs).max(0.0),
                    count: a.count - b.count,
                }
            }
        };
        if diff.count > 0 {
            out.push(diff);
        }
    }
    Ok(out)
}

/// `{name="value",...} rest`: the labels (values unescaped) and what follows the braces.
fn split_labels(text: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    let mut chars = text.char_indices().peekable();
    if chars.next()?.1 != '{' {
        return None;
    }
    loop {
        while chars.peek().is_some_and(|(_, c)| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let (start, c) = *chars.peek()?;
        if c == '}' {
            return Some((labels, &text[start + 1..]));
        }
        let mut name = String::new();
        for (_, c) in chars.by_ref() {
            if c == '=' {
                break;
            }
            name.push(c);
        }
        if chars.next()?.1 != '"' {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()?.1 {
                '"' => break,
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                c => value.push(c),
            }
        }
        labels.insert(name.trim().to_string(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// aerospike-py's bucket bounds.
    const BOUNDS: [&str; 16] = [
        "0.000001", "0.000005", "0.00001", "0.00005", "0.0001", "0.0005", "0.001", "0.002", "0.005", "0.01", "0.02",
        "0.05", "0.1", "0.5", "1.0", "+Inf",
    ];

    /// One stage's lines, as aerospike-py 0.14.4 writes them, with `counts[i]` calls in bucket `i`
    /// (not cumulative).
    fn lines(stage: &str, counts: &[u64; 16], sum: f64) -> String {
        let total: u64 = counts.iter().sum();
        let mut out = format!(
            "{STAGE_METRIC}_sum{{stage=\"{stage}\",db_operation_name=\"batch_read\"}} {sum}\n\
             {STAGE_METRIC}_count{{stage=\"{stage}\",db_operation_name=\"batch_read\"}} {total}\n"
        );
        let mut cumulative = 0;
        for (le, n) in BOUNDS.iter().zip(counts) {
            cumulative += n;
            out.push_str(&format!(
                "{STAGE_METRIC}_bucket{{le=\"{le}\",stage=\"{stage}\",db_operation_name=\"batch_read\"}} {cumulative}\n"
            ));
        }
        out
    }

    fn text() -> String {
        let mut io = [0; 16];
        io[6] = 10; // 10 calls in (0.5 ms, 1 ms]
        let mut parse = [0; 16];
        parse[3] = 4; // 4 calls in (10 µs, 50 µs]
        format!(
            "# HELP {STAGE_METRIC} Internal stage durations.\n# TYPE {STAGE_METRIC} histogram\n\
             db_client_operation_duration_seconds_count{{db_operation_name=\"get\"}} 3\n{}{}",
            lines("io", &io, 0.008),
            lines("key_parse", &parse, 0.0001)
        )
    }

    #[test]
    fn reads_each_stage_of_aerospike_py_text() {
        let h = parse(&text()).unwrap();
        assert_eq!(h.iter().map(|h| h.stage.as_str()).collect::<Vec<_>>(), ["io", "key_parse"]);
        let io = &h[0];
        assert_eq!((io.operation.as_str(), io.count, io.sum_secs), ("batch_read", 10, 0.008));
        assert_eq!(io.bounds.len(), 16);
        assert!(io.bounds[15].is_infinite());
        assert_eq!(io.bounds[6], 0.001);
        assert_eq!(io.cumulative[5], 0);
        assert_eq!(io.cumulative[6], 10);
        assert_eq!(io.cumulative[15], 10);
        assert_eq!(io.mean(), Some(0.0008));
    }

    #[test]
    fn other_labels_are_added_and_escapes_read() {
        let t = format!(
            "{STAGE_METRIC}_count{{stage=\"a\\\"b\",db_operation_name=\"get\",node=\"1\"}} 2\n\
             {STAGE_METRIC}_count{{stage=\"a\\\"b\",db_operation_name=\"get\",node=\"2\"}} 3\n\
             {STAGE_METRIC}_sum{{stage=\"a\\\"b\",db_operation_name=\"get\",node=\"2\"}} 1.5\n"
        );
        let h = parse(&t).unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!((h[0].stage.as_str(), h[0].count, h[0].sum_secs), ("a\"b", 5, 1.5));
        // No bucket lines: one +Inf bucket holding every call.
        assert_eq!(h[0].cumulative, [5]);
    }

    #[test]
    fn a_broken_sample_is_an_error_naming_its_line() {
        let t = format!("# x\n{STAGE_METRIC}_count{{stage=\"io\" 3\n");
        let e = parse(&t).unwrap_err();
        assert!(matches!(e, StageTextError::Malformed { line: 2, .. }), "{e}");
        let t = format!("{STAGE_METRIC}_count{{stage=\"io\"}} many\n");
        assert!(parse(&t).is_err());
    }

    #[test]
    fn quantiles_interpolate_within_their_bucket() {
        let h = parse(&text()).unwrap();
        let io = &h[0];
        // Every call in (0.5 ms, 1 ms]: the median halfway, p99 at 99%.
        assert!((io.quantile(0.5).unwrap() - 0.00075).abs() < 1e-12);
        assert!((io.quantile(0.99).unwrap() - (0.0005 + 0.0005 * 0.99)).abs() < 1e-12);
        // Two buckets: 1 call in (0, 1 µs], 3 in (1 µs, 5 µs]; the median is rank 2, a third of
        // the way into the second bucket.
        let mut counts = [0; 16];
        counts[0] = 1;
        counts[1] = 3;
        let h = parse(&lines("x", &counts, 0.0)).unwrap();
        let p50 = h[0].quantile(0.5).unwrap();
        assert!((p50 - (0.000001 + 0.000004 / 3.0)).abs() < 1e-15, "{p50}");
        assert_eq!(h[0].quantile(0.25), Some(0.000001));
        // Beyond the last finite bound: that bound.
        let mut counts = [0; 16];
        counts[15] = 2;
        assert_eq!(parse(&lines("x", &counts, 9.0)).unwrap()[0].quantile(0.5), Some(1.0));
        let empty = StageHistogram {
            stage: "x".into(),
            operation: "y".into(),
            bounds: vec![f64::INFINITY],
            cumulative: vec![0],
            sum_secs: 0.0,
            count: 0,
        };
        assert_eq!((empty.quantile(0.5), empty.mean()), (None, None));
    }

    #[test]
    fn two_readings_subtract_bucket_by_bucket() {
        let mut before = [0; 16];
        before[6] = 10;
        let mut after = before;
        after[6] += 5;
        after[7] = 5;
        let b = parse(&lines("io", &before, 0.008)).unwrap();
        let a = parse(&format!("{}{}", lines("io", &after, 0.023), lines("new", &before, 0.008))).unwrap();
        let d = since(&a, &b).unwrap();
        assert_eq!(d.len(), 2);
        let io = &d[0];
        assert_eq!(io.count, 10);
        assert!((io.sum_secs - 0.015).abs() < 1e-12);
        assert_eq!(io.cumulative[5], 0);
        assert_eq!(io.cumulative[6], 5);
        assert_eq!(io.cumulative[7], 10);
        // A stage first seen after the pass counts whole.
        assert_eq!((d[1].stage.as_str(), d[1].count), ("new", 10));
        // No call in between: left out.
        assert!(since(&b, &b).unwrap().is_empty());
        // Counts that went down: the metrics were reset.
        assert!(matches!(since(&b, &a), Err(StageTextError::Reset { .. })));
    }
}
