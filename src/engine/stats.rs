//! Latency statistics: recording one cell's operations into an HDR histogram (cheap enough for
//! the hot loop), merging per-worker recorders, summarizing a histogram into
//! [`LatencyStats`], carrying histograms in the JSON report as text, and building the finished
//! [`Cell`]. Histograms hold nanoseconds (3 significant digits: a value is off by at most 0.1%);
//! reports show microseconds.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};

use crate::model::results::{Cell, LatencyStats};

/// Smallest latency the histograms track, in nanoseconds; a zero latency counts as this.
pub const LOWEST_NS: u64 = 1;
/// Largest latency the histograms track (60 s), in nanoseconds. Slower operations are recorded
/// as this and counted in [`Recorder::beyond_range`], so the report can say so.
pub const HIGHEST_NS: u64 = 60_000_000_000;
/// Significant decimal digits kept by the histograms (relative error ≤ 0.1%).
pub const SIGNIFICANT_DIGITS: u8 = 3;
/// Unit of the values in every histogram aerobench writes.
pub const HISTOGRAM_UNIT: &str = "ns";

/// An empty histogram with aerobench's bounds: 1 ns .. 60 s, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(LOWEST_NS, HIGHEST_NS, SIGNIFICANT_DIGITS)
        .expect("constant histogram bounds are valid (1 <= low, high >= 2 * low, sigfig <= 5)")
}

/// Converts a duration to the nanoseconds recorded, and whether it lay beyond the histogram's
/// range (then it is recorded as [`HIGHEST_NS`]).
pub fn duration_to_ns(latency: Duration) -> (u64, bool) {
    let ns = latency.as_nanos();
    if ns > u128::from(HIGHEST_NS) { (HIGHEST_NS, true) } else { ((ns as u64).max(LOWEST_NS), false) }
}

/// Everything measured for one cell (or one worker's share of it): the latency of successful
/// operations, failures by reason, and how many records multi-record operations moved.
///
/// Recording a success never allocates; recording a failure allocates only the first time a
/// given reason is seen.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(into = "RecorderData", try_from = "RecorderData")]
pub struct Recorder {
    latency: Histogram<u64>,
    errors_by_reason: BTreeMap<String, u64>,
    errors: u64,
    records: u64,
    beyond_range: u64,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    pub fn new() -> Self {
        Recorder { latency: new_histogram(), errors_by_reason: BTreeMap::new(), errors: 0, records: 0, beyond_range: 0 }
    }

    /// Records a successful operation's latency (see [`duration_to_ns`]).
    pub fn record_ok(&mut self, latency: Duration) {
        let (ns, beyond) = duration_to_ns(latency);
        self.latency.saturating_record(ns);
        self.beyond_range += u64::from(beyond);
    }

    /// Counts a failed operation under `reason` (e.g. `timeout`, `rc 2`).
    ///
    /// The latency is taken so call sites look the same for both outcomes, but it is deliberately
    /// not recorded: a fast rejection or a slow timeout would distort the latency of the
    /// operations that actually did the work.
    pub fn record_error(&mut self, _latency: Duration, reason: &str) {
        self.errors += 1;
        match self.errors_by_reason.get_mut(reason) {
            Some(count) => *count += 1,
            None => {
                self.errors_by_reason.insert(reason.to_owned(), 1);
            }
        }
    }

    /// Adds `n` records moved (batch rows found, records scanned).
    pub fn add_records(&mut self, n: u64) {
        self.records = self.records.saturating_add(n);
    }

    /// Adds everything `other` recorded to `self` (e.g. one recorder per worker, merged at the end).
    pub fn merge(&mut self, other: &Recorder) {
        add_histogram(&mut self.latency, &other.latency);
        for (reason, count) in &other.errors_by_reason {
            match self.errors_by_reason.get_mut(reason) {
                Some(total) => *total += count,
                None => {
                    self.errors_by_reason.insert(reason.clone(), *count);
                }
            }
        }
        self.errors += other.errors;
        self.records = self.records.saturating_add(other.records);
        self.beyond_range += other.beyond_range;
    }

    /// Successful operations slower than the histogram's range (recorded as its top).
    pub fn beyond_range(&self) -> u64 {
        self.beyond_range
    }

    /// Latency histogram of successful operations, in nanoseconds.
    pub fn histogram(&self) -> &Histogram<u64> {
        &self.latency
    }

    /// Successful operations recorded.
    pub fn successes(&self) -> u64 {
        self.latency.len()
    }

    /// Failed operations recorded.
    pub fn errors(&self) -> u64 {
        self.errors
    }

    /// Operations recorded, successful or not.
    pub fn count(&self) -> u64 {
        self.successes() + self.errors
    }

    /// Failed operations by reason.
    pub fn errors_by_reason(&self) -> &BTreeMap<String, u64> {
        &self.errors_by_reason
    }

    /// Records moved in total (see [`Recorder::add_records`]).
    pub fn records(&self) -> u64 {
        self.records
    }
}

/// A [`Recorder`] as plain data (its histogram as text), to cross a process boundary.
#[derive(serde::Serialize, serde::Deserialize)]
struct RecorderData {
    histogram: String,
    errors_by_reason: BTreeMap<String, u64>,
    errors: u64,
    records: u64,
    beyond_range: u64,
}

impl From<Recorder> for RecorderData {
    fn from(r: Recorder) -> Self {
        RecorderData {
            histogram: encode_histogram(&r.latency),
            errors_by_reason: r.errors_by_reason,
            errors: r.errors,
            records: r.records,
            beyond_range: r.beyond_range,
        }
    }
}

impl TryFrom<RecorderData> for Recorder {
    type Error = anyhow::Error;

    fn try_from(d: RecorderData) -> anyhow::Result<Recorder> {
        Ok(Recorder {
            latency: histogram_from_text(&d.histogram)?,
            errors_by_reason: d.errors_by_reason,
            errors: d.errors,
            records: d.records,
            beyond_range: d.beyond_range,
        })
    }
}

/// Adds every value of `from` to `into`. Unreachable fallback while every histogram is built by
/// [`new_histogram`] (same bounds), but if one ever came with a wider range, its values are
/// clamped rather than lost.
pub fn add_histogram(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    if into.add(from).is_err() {
        for value in from.iter_recorded() {
            into.saturating_record_n(value.value_iterated_to().clamp(LOWEST_NS, HIGHEST_NS), value.count_at_value());
        }
    }
}

/// Decodes the text made by [`encode_histogram`] into a histogram with aerobench's bounds.
pub fn histogram_from_text(text: &str) -> anyhow::Result<Histogram<u64>> {
    let mut hist = new_histogram();
    hist.add(decode_histogram(text)?).context("histogram outside aerobench's bounds")?;
    Ok(hist)
}

/// Summarizes a latency histogram (ns) in microseconds; every statistic is zero for an empty
/// histogram.
pub fn summarize(hist: &Histogram<u64>) -> LatencyStats {
    if hist.is_empty() {
        return LatencyStats::default();
    }
    let us = |ns: u64| ns as f64 / 1_000.0;
    LatencyStats {
        min: us(hist.min()),
        avg: hist.mean() / 1_000.0,
        p50: us(hist.value_at_quantile(0.50)),
        p90: us(hist.value_at_quantile(0.90)),
        p99: us(hist.value_at_quantile(0.99)),
        p999: us(hist.value_at_quantile(0.999)),
        max: us(hist.max()),
        stdev: hist.stdev() / 1_000.0,
    }
}

/// The p50, p99 and maximum of a histogram of start lags (ns), in microseconds; zeros when empty.
pub fn start_lag(h: &Histogram<u64>) -> crate::model::results::StartLagStats {
    if h.is_empty() {
        return crate::model::results::StartLagStats::default();
    }
    let us = |ns: u64| ns as f64 / 1e3;
    crate::model::results::StartLagStats {
        p50: us(h.value_at_quantile(0.5)),
        p99: us(h.value_at_quantile(0.99)),
        max: us(h.max()),
    }
}

/// Encodes a histogram for [`Cell::histogram`]: HDR V2 deflate serialization, then base64
/// (standard alphabet, padded). Other HDR tools can decode it after base64-decoding.
pub fn try_encode_histogram(hist: &Histogram<u64>) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new().serialize(hist, &mut bytes).context("serializing latency histogram")?;
    Ok(STANDARD.encode(bytes))
}

/// Like [`try_encode_histogram`], for building reports: serialization only fails for counts
/// above `i64::MAX`, which no benchmark reaches; in that case the histogram is left out (empty
/// string) rather than aborting the report.
pub fn encode_histogram(hist: &Histogram<u64>) -> String {
    try_encode_histogram(hist).unwrap_or_default()
}

/// Decodes the text made by [`encode_histogram`] back into a histogram.
pub fn decode_histogram(text: &str) -> anyhow::Result<Histogram<u64>> {
    let bytes = STANDARD.decode(text.trim()).context("latency histogram is not valid base64")?;
    Deserializer::new().deserialize(&mut bytes.as_slice()).context("latency histogram is not a valid HDR V2 histogram")
}

/// Builds the report cell of `column` × `operation` from what `rec` recorded over `wall`.
///
/// `records_apply` is true for operations that move several records per call (`batch_get`,
/// `scan`); only then are `records` and `records_per_sec` filled in.
pub fn to_cell(column: &str, operation: &str, rec: &Recorder, wall: Duration, records_apply: bool) -> Cell {
    let wall_secs = wall.as_secs_f64();
    let per_sec = |n: u64| {
        if wall_secs > 0.0 { n as f64 / wall_secs } else { 0.0 }
    };
    Cell {
        column: column.to_owned(),
        operation: operation.to_owned(),
        count: rec.count(),
        errors: rec.errors(),
        errors_by_reason: rec.errors_by_reason().clone(),
        // Labelled by what happened where failures are understood: `aggregate`.
        failures: Default::default(),
        latency_us: summarize(rec.histogram()),
        ops_per_sec: per_sec(rec.successes()),
        records_per_sec: records_apply.then(|| per_sec(rec.records())),
        records: records_apply.then(|| rec.records()),
        wall_secs,
        histogram: encode_histogram(rec.histogram()),
        latency_beyond_range: rec.beyond_range(),
        over_floor_us: None,
        over_floor_interval_us: None,
        rounds: Vec::new(),
        cpu: None,
        notes: Vec::new(),
        loop_starvation_us: None,
        competitor: None,
        open_loop: None,
        not_supported: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn durations_are_nanoseconds_and_beyond_range_is_counted() {
        assert_eq!(duration_to_ns(Duration::ZERO), (1, false));
        assert_eq!(duration_to_ns(Duration::from_nanos(1_499)), (1_499, false));
        assert_eq!(duration_to_ns(us(250)), (250_000, false));
        assert_eq!(duration_to_ns(Duration::from_secs(60)), (HIGHEST_NS, false));
        assert_eq!(duration_to_ns(Duration::from_secs(3_600)), (HIGHEST_NS, true));
        assert_eq!(duration_to_ns(Duration::MAX), (HIGHEST_NS, true));
    }

    #[test]
    fn sub_microsecond_and_huge_latencies_are_kept() {
        let mut rec = Recorder::new();
        rec.record_ok(Duration::from_nanos(200));
        rec.record_ok(Duration::from_secs(600));
        assert_eq!(rec.successes(), 2);
        assert_eq!(rec.beyond_range(), 1, "a call beyond 60 s is counted, not silently clamped");
        let stats = summarize(rec.histogram());
        assert!((stats.min - 0.2).abs() < 0.001, "{}", stats.min);
        // 60 s is kept within the histogram's 0.1% precision.
        assert!((stats.max - 60e6).abs() <= 60e6 * 0.001);
    }

    #[test]
    fn ten_microseconds_keep_three_significant_digits() {
        let mut rec = Recorder::new();
        rec.record_ok(Duration::from_nanos(10_240));
        rec.record_ok(Duration::from_nanos(10_360));
        let s = summarize(rec.histogram());
        assert!((s.avg - 10.3).abs() < 0.02, "{}", s.avg);
        assert!((s.min - 10.24).abs() < 0.011 && (s.max - 10.36).abs() < 0.011, "{s:?}");
    }

    #[test]
    fn errors_are_counted_by_reason_not_timed() {
        let mut rec = Recorder::new();
        rec.record_ok(us(100));
        rec.record_error(us(5_000_000), "timeout");
        rec.record_error(us(10), "rc 2");
        rec.record_error(us(10), "timeout");
        assert_eq!(rec.successes(), 1);
        assert_eq!(rec.errors(), 3);
        assert_eq!(rec.count(), 4);
        assert_eq!(rec.errors_by_reason().get("timeout"), Some(&2));
        assert_eq!(rec.errors_by_reason().get("rc 2"), Some(&1));
        assert!((summarize(rec.histogram()).max - 100.0).abs() < 0.1);
    }

    #[test]
    fn merge_adds_everything() {
        let mut a = Recorder::new();
        a.record_ok(us(10));
        a.record_error(us(1), "timeout");
        a.add_records(5);
        let mut b = Recorder::new();
        b.record_ok(us(30));
        b.record_ok(us(50));
        b.record_error(us(1), "timeout");
        b.record_error(us(1), "rc 2");
        b.add_records(7);

        a.merge(&b);
        assert_eq!(a.successes(), 3);
        assert_eq!(a.errors(), 3);
        assert_eq!(a.records(), 12);
        assert_eq!(a.errors_by_reason().get("timeout"), Some(&2));
        assert_eq!(a.errors_by_reason().get("rc 2"), Some(&1));
        assert!((summarize(a.histogram()).avg - 30.0).abs() < 0.03);
    }

    #[test]
    fn summary_of_empty_histogram_is_all_zero() {
        assert_eq!(summarize(&new_histogram()), LatencyStats::default());
    }

    #[test]
    fn summary_percentiles() {
        let mut rec = Recorder::new();
        for v in 1..=1_000 {
            rec.record_ok(us(v));
        }
        let s = summarize(rec.histogram());
        // Within the histogram's 0.1% precision.
        let near = |x: f64, want: f64| (x - want).abs() <= want * 0.001;
        assert!(near(s.min, 1.0) && near(s.max, 1_000.0), "{s:?}");
        assert!(near(s.p50, 500.0) && near(s.p90, 900.0) && near(s.p99, 990.0) && near(s.p999, 999.0), "{s:?}");
        assert!((s.avg - 500.5).abs() < 0.5, "avg {}", s.avg);
        // Uniform 1..=1000: stdev = sqrt((1000^2 - 1) / 12) ≈ 288.7.
        assert!((s.stdev - 288.7).abs() < 1.0, "stdev {}", s.stdev);
    }

    #[test]
    fn histogram_round_trips_through_text() {
        let mut rec = Recorder::new();
        for v in [1, 7, 120, 3_000, 59_000_000] {
            rec.record_ok(us(v));
        }
        let text = encode_histogram(rec.histogram());
        assert!(!text.is_empty());
        assert!(STANDARD.decode(&text).is_ok(), "standard padded base64");
        let decoded = decode_histogram(&text).expect("decodes");
        assert_eq!(&decoded, rec.histogram());
        assert_eq!(summarize(&decoded), summarize(rec.histogram()));
    }

    #[test]
    fn empty_histogram_round_trips() {
        let text = encode_histogram(&new_histogram());
        let decoded = decode_histogram(&text).expect("decodes");
        assert!(decoded.is_empty());
    }

    #[test]
    fn merged_decoded_histograms_equal_recording_both_sets() {
        let first = [3_u64, 15, 15, 900, 42_000];
        let second = [1_u64, 15, 77, 250_000];
        let mut a = Recorder::new();
        first.iter().for_each(|&v| a.record_ok(us(v)));
        let mut b = Recorder::new();
        second.iter().for_each(|&v| b.record_ok(us(v)));
        let mut both = Recorder::new();
        first.iter().chain(&second).for_each(|&v| both.record_ok(us(v)));

        let mut merged = decode_histogram(&encode_histogram(a.histogram())).expect("decodes a");
        let decoded_b = decode_histogram(&encode_histogram(b.histogram())).expect("decodes b");
        merged.add(&decoded_b).expect("same bounds");
        assert_eq!(&merged, both.histogram());
        assert_eq!(summarize(&merged), summarize(both.histogram()));
    }

    #[test]
    fn garbage_does_not_decode() {
        assert!(decode_histogram("not base64!").is_err());
        assert!(decode_histogram(&STANDARD.encode(b"not a histogram")).is_err());
        assert!(decode_histogram("").is_err());
    }

    #[test]
    fn cell_from_recorder() {
        let mut rec = Recorder::new();
        for _ in 0..8 {
            rec.record_ok(us(200));
        }
        rec.record_error(us(1), "timeout");
        rec.record_error(us(1), "timeout");
        rec.add_records(80);

        let cell = to_cell("rust-c50", "batch_get", &rec, Duration::from_secs(2), true);
        assert_eq!(cell.column, "rust-c50");
        assert_eq!(cell.operation, "batch_get");
        assert_eq!(cell.count, 10);
        assert_eq!(cell.errors, 2);
        assert_eq!(cell.errors_by_reason.get("timeout"), Some(&2));
        assert_eq!(cell.ops_per_sec, 4.0, "failed calls are not throughput");
        assert_eq!(cell.records, Some(80));
        assert_eq!(cell.records_per_sec, Some(40.0));
        assert_eq!(cell.wall_secs, 2.0);
        assert!((cell.latency_us.p50 - 200.0).abs() < 0.2);
        assert!(cell.notes.is_empty());
        let hist = decode_histogram(&cell.histogram).expect("cell histogram decodes");
        assert_eq!(hist.len(), 8);

        let single = to_cell("rust-c50", "get", &rec, Duration::ZERO, false);
        assert_eq!(single.ops_per_sec, 0.0);
        assert_eq!(single.records, None);
        assert_eq!(single.records_per_sec, None);
    }
}
