//! Open-loop pacing (`--rate`): call `n` of a phase is due at `start + n / rate`, whether or not
//! the calls before it have finished, as a stream of users would send it. Each call's latency is
//! measured twice: from when it was due (corrected for coordinated omission: a stalled server
//! delays every call that should have started meanwhile, and they all count the wait) and from
//! when it actually started (service time). How far calls started after they were due is kept
//! too, so the report can say when a column fell behind its schedule rather than hide it.
//!
//! The loops in [`super::closed_loop`] take [`Ticket`]s and wait for them to fall due; this file
//! owns the schedule and what it measured.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::stats::Recorder;

/// A call that started more than this after it was due is counted as late. Timers wake a
/// sleeping thread within well under this; an event loop's timers within about a millisecond.
pub const LATE: Duration = Duration::from_millis(2);

/// Longest a worker sleeps before it looks again whether the phase was stopped.
const WAKE_UP_EVERY: Duration = Duration::from_millis(50);

/// When each call of a phase is due: `start + n / rate`, where `start` is when the first call
/// was asked for (so setting the phase up takes nothing from the schedule).
#[derive(Debug)]
pub struct Schedule {
    start: OnceLock<Instant>,
    /// Calls per second.
    rate: f64,
}

impl Schedule {
    /// A schedule that starts with its first call.
    pub fn new(rate: f64) -> Schedule {
        Schedule { start: OnceLock::new(), rate }
    }

    /// A schedule that started at `start`.
    pub fn starting_at(start: Instant, rate: f64) -> Schedule {
        Schedule { start: OnceLock::from(start), rate }
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// When call `n` (from 0) is due.
    pub fn due(&self, n: u64) -> Instant {
        *self.start.get_or_init(Instant::now) + Duration::from_secs_f64(n as f64 / self.rate)
    }
}

/// A call handed out to a worker: which index it uses, and when it is due (open loop only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    pub index: u64,
    pub due: Option<Instant>,
}

/// Waits until `due` with `sleep`, in slices so that `stopped()` is seen within
/// [`WAKE_UP_EVERY`]; returns false when the phase stopped meanwhile.
pub fn wait_until(due: Instant, mut sleep: impl FnMut(Duration), stopped: impl Fn() -> bool) -> bool {
    loop {
        if stopped() {
            return false;
        }
        let left = due.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        sleep(left.min(WAKE_UP_EVERY));
    }
}

/// The open loop of one phase while it runs: its schedule, the corrected latencies and how late
/// calls started.
pub struct OpenLoop {
    pub schedule: Schedule,
    /// Corrected latencies: `shards` per kind of call (reads, then a mix's updates).
    shards: Vec<Mutex<Recorder>>,
    kind_shards: usize,
    /// Per kind of call: calls that started late, and the longest lag.
    late: [AtomicU64; 2],
    max_lag_ns: [AtomicU64; 2],
    /// When the last call started, in ns after the schedule's start.
    last_start_ns: AtomicU64,
}

impl OpenLoop {
    pub fn new(schedule: Schedule, shards: usize) -> OpenLoop {
        OpenLoop::with_kinds(schedule, shards, 1)
    }

    /// An open loop recording `kinds` kinds of call apart (a mix's reads and updates).
    pub fn with_kinds(schedule: Schedule, shards: usize, kinds: usize) -> OpenLoop {
        let shards = shards.max(1);
        OpenLoop {
            schedule,
            shards: (0..shards * kinds.max(1)).map(|_| Mutex::new(Recorder::new())).collect(),
            kind_shards: shards,
            late: Default::default(),
            max_lag_ns: Default::default(),
            last_start_ns: AtomicU64::new(0),
        }
    }

    /// Records a call that was due at `due`, started at `started` and ended at `finished`:
    /// its corrected latency (from `due`), and how late it started.
    pub fn record(&self, worker: usize, due: Instant, started: Instant, finished: Instant, error: Option<&str>) {
        self.record_kind(0, worker, due, started, finished, error);
    }

    /// Like [`OpenLoop::record`], for a call of kind `kind` (0 reads, 1 a mix's updates).
    pub fn record_kind(
        &self,
        kind: usize,
        worker: usize,
        due: Instant,
        started: Instant,
        finished: Instant,
        error: Option<&str>,
    ) {
        let lag = started.saturating_duration_since(due);
        let k = kind.min(1);
        if lag > LATE {
            self.late[k].fetch_add(1, Ordering::Relaxed);
        }
        self.max_lag_ns[k].fetch_max(nanos(lag), Ordering::Relaxed);
        if let Some(start) = self.schedule.start.get() {
            self.last_start_ns.fetch_max(nanos(started.saturating_duration_since(*start)), Ordering::Relaxed);
        }
        let corrected = finished.saturating_duration_since(due);
        let shard = (kind * self.kind_shards + worker % self.kind_shards) % self.shards.len();
        let mut rec = self.shards[shard].lock().unwrap_or_else(|e| e.into_inner());
        match error {
            None => rec.record_ok(corrected),
            Some(reason) => rec.record_error(corrected, reason),
        }
    }

    /// What the phase measured.
    pub fn measured(&self) -> OpenLoopMeasured {
        self.measured_kind(0)
    }

    /// What the phase measured of calls of kind `kind`.
    pub fn measured_kind(&self, kind: usize) -> OpenLoopMeasured {
        let k = kind.min(1);
        let last_start = Duration::from_nanos(self.last_start_ns.load(Ordering::Relaxed));
        let mut corrected = Recorder::new();
        for s in self.shards.iter().skip(kind * self.kind_shards).take(self.kind_shards) {
            corrected.merge(&s.lock().unwrap_or_else(|e| e.into_inner()));
        }
        OpenLoopMeasured {
            rate: self.schedule.rate(),
            corrected,
            late: self.late[k].load(Ordering::Relaxed),
            max_lag_ns: self.max_lag_ns[k].load(Ordering::Relaxed),
            span_secs: last_start.as_secs_f64() + 1.0 / self.schedule.rate(),
        }
    }
}

fn nanos(d: Duration) -> u64 {
    d.as_nanos().min(u128::from(u64::MAX)) as u64
}

/// What the open loop measured in one phase (crosses the worker pipe with [`super::Measured`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenLoopMeasured {
    /// Calls per second asked for.
    pub rate: f64,
    /// Latencies from when each call was due.
    pub corrected: Recorder,
    /// Calls that started more than [`LATE`] after they were due.
    pub late: u64,
    /// Longest a call started after it was due, in ns.
    pub max_lag_ns: u64,
    /// From the schedule's start to the last call's start, plus one interval: `n` calls kept to
    /// the schedule when this is `n / rate`.
    #[serde(default)]
    pub span_secs: f64,
}

impl OpenLoopMeasured {
    /// Merges another phase's figures (rounds of one cell) into these.
    pub fn merge(&mut self, other: &OpenLoopMeasured) {
        self.corrected.merge(&other.corrected);
        self.late += other.late;
        self.max_lag_ns = self.max_lag_ns.max(other.max_lag_ns);
        self.span_secs += other.span_secs;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::Histogram;

    /// The open loop of one call in flight on a virtual clock: call `n` due at `n × interval`,
    /// started when it is due or when the call before it ended, whichever is later.
    fn simulate(service: impl Fn(u64) -> Duration, calls: u64, rate: f64) -> (Recorder, Recorder, OpenLoopMeasured) {
        let start = Instant::now();
        let open = OpenLoop::new(Schedule::starting_at(start, rate), 1);
        let mut service_times = Recorder::new();
        let mut free_at = start;
        for n in 0..calls {
            let due = open.schedule.due(n);
            let started = due.max(free_at);
            let finished = started + service(n);
            open.record(0, due, started, finished, None);
            service_times.record_ok(finished - started);
            free_at = finished;
        }
        let m = open.measured();
        (service_times, m.corrected.clone(), m)
    }

    fn ms(h: &Histogram<u64>, q: f64) -> f64 {
        h.value_at_quantile(q) as f64 / 1e6
    }

    /// The `n` largest values recorded, in ms, largest first.
    fn slowest(h: &Histogram<u64>, n: usize) -> Vec<f64> {
        let mut all: Vec<f64> = h
            .iter_recorded()
            .flat_map(|v| {
                std::iter::repeat_n(
                    h.highest_equivalent(v.value_iterated_to()) as f64 / 1e6,
                    v.count_at_value() as usize,
                )
            })
            .collect();
        all.sort_by(|a, b| b.total_cmp(a));
        all.truncate(n);
        all
    }

    #[test]
    fn calls_fall_due_at_the_rate() {
        let start = Instant::now();
        let s = Schedule::starting_at(start, 1000.0);
        assert_eq!(s.due(0), start);
        assert_eq!(s.due(1) - start, Duration::from_millis(1));
        assert_eq!(s.due(2500) - start, Duration::from_millis(2500));
        let slow = Schedule::starting_at(start, 0.5);
        assert_eq!(slow.due(3) - start, Duration::from_secs(6));
        let lazy = Schedule::new(10.0);
        std::thread::sleep(Duration::from_millis(5));
        let first = lazy.due(0);
        assert!(first - start >= Duration::from_millis(5), "starts with its first call");
        assert_eq!(lazy.due(5) - first, Duration::from_millis(500));
    }

    #[test]
    fn a_100ms_stall_at_1k_per_sec_gives_the_histogram_wrk2_would() {
        // 2,000 calls of 10 µs at 1,000/s, one call in flight; call 500 stalls for 100 ms.
        let stall = |n: u64| if n == 500 { Duration::from_millis(100) } else { Duration::from_micros(10) };
        let (service, corrected, m) = simulate(stall, 2000, 1000.0);
        // What HdrHistogram's correction (wrk2's, recordValueWithExpectedInterval) makes of the
        // service times: the stalled call, plus the calls it held back, 99 ms, 98 ms ... 1 ms.
        let mut expected = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        for n in 0..2000u64 {
            expected.record_correct(stall(n).as_nanos() as u64, 1_000_000).unwrap();
        }
        let corrected = corrected.histogram();
        assert_eq!(corrected.len(), 2000);
        assert_eq!(expected.len(), 2000 + 99, "the correction adds the 99 calls the stall held back");
        // Service time hides the stall: one slow call in 2,000.
        assert!(ms(service.histogram(), 0.99) < 0.02, "service p99 {}", ms(service.histogram(), 0.99));
        // Corrected: the stalled call and the 99 behind it are slow, one for each millisecond
        // of the stall, as the correction makes them; the rest are as fast as before.
        let (ours, theirs) = (slowest(corrected, 100), slowest(&expected, 100));
        for (rank, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            assert!((a - b).abs() <= 1.1, "{rank}th slowest: ours {a} ms, wrk2 {b} ms");
        }
        let over = |h: &Histogram<u64>, ms: u64| h.count_between(ms * 1_000_000 + 1, 60_000_000_000);
        assert!(
            over(corrected, 5).abs_diff(over(&expected, 5)) <= 2,
            "{} vs {}",
            over(corrected, 5),
            over(&expected, 5)
        );
        assert!(slowest(corrected, 200)[199] < 0.011, "then back to service time");
        assert!(ms(corrected, 0.99) > 75.0 && ms(corrected, 1.0) >= 99.9, "{}", ms(corrected, 0.99));
        // The 99 held-back calls started late, the last only just.
        assert_eq!(m.late, 98);
        assert!((Duration::from_nanos(m.max_lag_ns).as_secs_f64() - 0.099).abs() < 1e-4);
    }

    #[test]
    fn a_loop_that_keeps_up_measures_service_time_twice() {
        let (service, corrected, m) = simulate(|_| Duration::from_micros(300), 1000, 1000.0);
        assert_eq!(service.histogram().max(), corrected.histogram().max());
        assert_eq!(m.late, 0);
        assert_eq!(m.max_lag_ns, 0);
    }

    #[test]
    fn a_rate_one_call_in_flight_cannot_reach_falls_further_behind() {
        // 2 ms calls at 1,000/s: each call starts 1 ms later than the one before it was due.
        let (_, corrected, m) = simulate(|_| Duration::from_millis(2), 100, 1000.0);
        assert_eq!(m.late, 97, "every call after the second starts over 2 ms late");
        assert!((Duration::from_nanos(m.max_lag_ns).as_secs_f64() - 0.099).abs() < 1e-4);
        assert!(ms(corrected.histogram(), 1.0) > 100.0);
    }

    #[test]
    fn waiting_stops_with_the_phase() {
        let due = Instant::now() + Duration::from_secs(30);
        let mut slept = Duration::ZERO;
        let calls = std::cell::Cell::new(0);
        let reached = wait_until(
            due,
            |d| slept += d,
            || {
                calls.set(calls.get() + 1);
                calls.get() > 3
            },
        );
        assert!(!reached);
        assert_eq!(slept, WAKE_UP_EVERY * 3, "slept in slices, looking in between");
        assert!(wait_until(Instant::now(), |_| panic!("no sleep when due"), || false));
    }
}
