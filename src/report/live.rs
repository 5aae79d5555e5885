//! Live output (`--interval 1s`, to stdout or `--live FILE`): while the run goes, one JSON object
//! per line (NDJSON) per cell and interval — calls, errors, throughput, p50/p99/max of that
//! interval and its HDR histogram — then a last line holding the whole report. Documented by
//! `schema-live.json`. Intervals are differences of what a phase recorded so far: read from the
//! phase state for lanes in this process, sent by the worker for Python lanes.

use std::io::Write;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::engine::closed_loop::PhaseState;
use crate::engine::progress::Ticker;
use crate::engine::stats::{self, Recorder};
use crate::engine::{Phase, PhaseObserver};
use crate::model::results::RunReport;

/// One interval of one cell: a line of the live output.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct IntervalLine {
    /// Always `interval`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `Column::id` of the cell.
    pub column: String,
    pub operation: String,
    /// Measured round, from 1.
    pub round: u32,
    /// Seconds since the run started, at the interval's start and end.
    pub start_secs: f64,
    pub end_secs: f64,
    /// Calls that finished in the interval, successfully or not.
    pub ops: u64,
    pub errors: u64,
    /// Successful calls per second over the interval.
    pub ops_per_sec: f64,
    /// Latency of the interval's successful calls in microseconds (zero when none).
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    /// The interval's latencies (ns), HDR V2 deflate, base64, like a cell's `histogram`.
    pub histogram: String,
}

/// The last line: the whole report.
#[derive(Serialize)]
struct ReportLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    report: &'a RunReport,
}

/// The phase running now and what it had recorded at the end of the last interval.
struct Current {
    column: String,
    operation: String,
    round: u32,
    before: Recorder,
    since: Instant,
}

struct Shared {
    out: Box<dyn Write + Send>,
    started: Instant,
    current: Option<Current>,
}

impl Shared {
    /// Writes the interval from the last one to `so_far` (nothing when no call finished).
    fn interval(&mut self, so_far: &Recorder) {
        let started = self.started;
        let Some(cur) = self.current.as_mut() else { return };
        let ops = so_far.count().saturating_sub(cur.before.count());
        if ops == 0 {
            return;
        }
        let mut hist = so_far.histogram().clone();
        // Counts only grow within a phase, so the difference is the interval's calls.
        if hist.subtract(cur.before.histogram()).is_err() {
            return;
        }
        let now = Instant::now();
        let secs = now.saturating_duration_since(cur.since).as_secs_f64();
        let summary = stats::summarize(&hist);
        let line = IntervalLine {
            kind: "interval".to_string(),
            column: cur.column.clone(),
            operation: cur.operation.clone(),
            round: cur.round,
            start_secs: cur.since.saturating_duration_since(started).as_secs_f64(),
            end_secs: now.saturating_duration_since(started).as_secs_f64(),
            ops,
            errors: so_far.errors().saturating_sub(cur.before.errors()),
            ops_per_sec: if secs > 0.0 { hist.len() as f64 / secs } else { 0.0 },
            p50_us: summary.p50,
            p99_us: summary.p99,
            max_us: summary.max,
            histogram: stats::encode_histogram(&hist),
        };
        cur.before = so_far.clone();
        cur.since = now;
        if let Ok(text) = serde_json::to_string(&line) {
            // A reader that went away must not stop the benchmark.
            let _ = writeln!(self.out, "{text}").and_then(|()| self.out.flush());
        }
    }
}

/// Told when each phase starts and ends, as the live lines are (the built-in cluster's
/// per-node counters are read then).
pub trait PhaseHook: Send + Sync {
    fn started(&self, column: &str, operation: &str, round: u32);
    fn finished(&self);
}

/// Where live lines go, and how often.
#[derive(Clone)]
pub struct Live {
    every: Duration,
    shared: Arc<Mutex<Shared>>,
    hooks: Vec<Arc<dyn PhaseHook>>,
}

impl Live {
    pub fn new(every: Duration, out: Box<dyn Write + Send>) -> Live {
        Live {
            every,
            shared: Arc::new(Mutex::new(Shared { out, started: Instant::now(), current: None })),
            hooks: Vec::new(),
        }
    }

    /// Calls `hook` at every phase's start and end (after the hooks given before it).
    pub fn with_hook(mut self, hook: Arc<dyn PhaseHook>) -> Live {
        self.hooks.push(hook);
        self
    }

    pub fn every(&self) -> Duration {
        self.every
    }

    /// When the live output started: interval times are counted from it.
    pub fn started(&self) -> Instant {
        self.lock().started
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The last line: the whole report.
    pub fn finish(&self, report: &RunReport) {
        let mut shared = self.lock();
        if let Ok(text) = serde_json::to_string(&ReportLine { kind: "report", report }) {
            let _ = writeln!(shared.out, "{text}").and_then(|()| shared.out.flush());
        }
    }
}

/// Passes every phase event to the run's observer (progress), and makes the live lines of the
/// column `column`'s measured phases.
pub struct Tee<'a> {
    pub inner: &'a mut dyn PhaseObserver,
    pub live: &'a Live,
    pub column: &'a str,
    /// In-process phases: their state (read at the end) and the ticker reading it meanwhile.
    state: Option<Arc<PhaseState>>,
    ticker: Option<Ticker>,
    /// Worker phases: the last snapshot not yet written.
    latest: Option<Recorder>,
}

impl<'a> Tee<'a> {
    pub fn new(inner: &'a mut dyn PhaseObserver, live: &'a Live, column: &'a str) -> Tee<'a> {
        Tee { inner, live, column, state: None, ticker: None, latest: None }
    }
}

impl PhaseObserver for Tee<'_> {
    fn phase_started(&mut self, column: &str, phase: &Phase, done: Arc<AtomicU64>) {
        for hook in &self.live.hooks {
            hook.started(self.column, phase.op.name(), phase.round);
        }
        self.inner.phase_started(column, phase, done);
        let mut shared = self.live.lock();
        shared.current = (phase.round > 0).then(|| Current {
            column: self.column.to_string(),
            operation: phase.op.name().to_string(),
            round: phase.round,
            before: Recorder::new(),
            since: Instant::now(),
        });
    }

    fn phase_state(&mut self, state: &Arc<PhaseState>) {
        self.inner.phase_state(state);
        self.state = Some(state.clone());
        let (live, state) = (self.live.clone(), state.clone());
        let mut first = true;
        self.ticker = Some(Ticker::every(self.live.every, move || {
            // The ticker's first tick comes at once: nothing to say yet.
            if !std::mem::take(&mut first) {
                live.lock().interval(&state.merged());
            }
        }));
    }

    fn snapshot(&mut self, so_far: &Recorder) {
        self.inner.snapshot(so_far);
        let mut shared = self.live.lock();
        let due = shared.current.as_ref().is_some_and(|c| c.since.elapsed() >= self.live.every.mul_f64(0.9));
        if due {
            shared.interval(so_far);
            self.latest = None;
        } else {
            self.latest = Some(so_far.clone());
        }
    }

    fn phase_finished(&mut self) {
        self.ticker = None;
        let last = self.state.take().map(|s| s.merged()).or_else(|| self.latest.take());
        {
            let mut shared = self.live.lock();
            if let Some(so_far) = last {
                shared.interval(&so_far);
            }
            shared.current = None;
        }
        for hook in &self.live.hooks {
            hook.finished();
        }
        self.inner.phase_finished();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Silent;
    use crate::workload::Operation;

    /// A writer the test reads back.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines(buf: &Buffer) -> Vec<IntervalLine> {
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    #[test]
    fn worker_snapshots_become_intervals_that_add_up() {
        let buf = Buffer::default();
        let live = Live::new(Duration::from_millis(1), Box::new(buf.clone()));
        let mut silent = Silent;
        let mut tee = Tee::new(&mut silent, &live, "col");
        let phase = Phase::counted(Operation::Get, 10, 1, Duration::from_secs(1));
        tee.phase_started("Col", &phase, Arc::new(AtomicU64::new(0)));
        let mut so_far = Recorder::new();
        let mut all = Vec::new();
        for batch in [[10u64, 20, 30], [1000, 2000, 3000]] {
            std::thread::sleep(Duration::from_millis(2));
            batch.iter().for_each(|&v| so_far.record_ok(Duration::from_micros(v)));
            all.extend(batch);
            tee.snapshot(&so_far);
        }
        so_far.record_error(Duration::ZERO, "timeout");
        tee.snapshot(&so_far);
        tee.phase_finished();
        let got = lines(&buf);
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got.iter().map(|l| l.ops).sum::<u64>(), 7);
        assert_eq!(got[2].errors, 1);
        assert!((got[1].p50_us - 2000.0).abs() < 3.0 && (got[1].max_us - 3000.0).abs() < 4.0, "{:?}", got[1]);
        assert!(got[0].max_us < 31.0, "the first interval holds only its own calls");
        assert!(got.windows(2).all(|w| w[0].end_secs <= w[1].start_secs + 1e-9));
        let mut union = stats::new_histogram();
        for l in &got {
            union.add(stats::decode_histogram(&l.histogram).unwrap()).unwrap();
        }
        assert_eq!(&union, so_far.histogram());
    }

    #[test]
    fn the_warm_up_writes_nothing() {
        let buf = Buffer::default();
        let live = Live::new(Duration::from_millis(1), Box::new(buf.clone()));
        let mut silent = Silent;
        let mut tee = Tee::new(&mut silent, &live, "col");
        let mut phase = Phase::counted(Operation::Get, 10, 1, Duration::from_secs(1));
        phase.round = 0;
        tee.phase_started("Col", &phase, Arc::new(AtomicU64::new(0)));
        let mut so_far = Recorder::new();
        so_far.record_ok(Duration::from_micros(5));
        tee.snapshot(&so_far);
        tee.phase_finished();
        assert!(lines(&buf).is_empty());
    }
}
