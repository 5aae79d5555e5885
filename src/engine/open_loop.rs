//! Open-loop pacing (`--rate`): call `n` of a phase is due at `start + n / rate`, whether or not
//! the calls before it have finished, as a stream of users would send it. Each call's latency is
//! measured twice: from when it was due (corrected for coordinated omission: a stalled server
//! delays every call that should have started meanwhile, and they all count the wait) and from
//! when it actually started (service time). How far calls started after they were due is kept
//! too, so the report can say when a column fell behind its schedule rather than hide it.
//!
//! The loops in [`super::closed_loop`] take [`Ticket`]s and wait for them to fall due with
//! [`wait_until`]: a sleeping thread wakes tens of microseconds late (timer slack, the
//! scheduler), so it sleeps until shortly before the call is due and spins the last stretch,
//! whose length [`Pacer`] learns from how late its sleeps woke. This file owns the schedule, the
//! wait and what they measured: every call's start lag (actual start minus due time) goes into
//! a histogram of its own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::engine::stats::Recorder;

/// A call that started more than this after it was due is counted as late. Timers wake a
/// sleeping thread within well under this; an event loop's timers within about a millisecond.
pub const LATE: Duration = Duration::from_millis(2);

/// Longest a worker sleeps before it looks again whether the phase was stopped.
pub const WAKE_UP_EVERY: Duration = Duration::from_millis(50);

/// The spun stretch before a call is due starts at this and follows how late sleeps wake,
/// within [`MIN_SPIN`] and the pacer's cap (see [`Pacer::for_rate`]).
const FIRST_SPIN: Duration = Duration::from_micros(200);
const MIN_SPIN: Duration = Duration::from_micros(20);
/// The spun stretch never exceeds this, whatever the rate: a thread that wakes later than this
/// was descheduled, and spinning longer would not help.
const MAX_SPIN: Duration = Duration::from_micros(500);
/// Nor this share of the interval between calls: at most 40% of a core goes to pacing, so the
/// waits never take the core the server and the client need (on two cores, a thread that spins
/// without end leaves both one core and stalls them for a scheduler slice now and then).
const SPIN_SHARE: f64 = 0.4;
/// How many recent wake-ups the spun stretch is learnt from.
const WINDOW: usize = 128;
/// The share of recent wake-ups the spun stretch covers: the rest (a descheduled thread) are
/// not chased.
const COVERED: f64 = 0.98;

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

/// A call handed out to a worker: which index it uses, when it is due (open loop only), and
/// when its worker was ready to make it (had its arguments and no call in flight): a call whose
/// worker was ready only after the due time was held back by the column's own calls, not by the
/// wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    pub index: u64,
    pub due: Option<Instant>,
    pub ready: Option<Instant>,
}

/// How long before a call is due a waiting thread stops sleeping and spins: learnt from how late
/// its recent sleeps woke (enough to cover 98% of the last 128, with some headroom), so a quiet
/// machine spins a few tens of microseconds per call and a busy one longer, never more than
/// [`MAX_SPIN`] nor 40% of the interval between calls. A wake-up that came later than that (the
/// thread was descheduled) does not widen it: chasing one would spin away a core for good.
#[derive(Debug)]
pub struct Pacer {
    spin_ns: AtomicU64,
    cap_ns: u64,
    recent: Mutex<Recent>,
}

/// The last [`WINDOW`] overshoots, in ns.
#[derive(Debug)]
struct Recent {
    ns: [u64; WINDOW],
    next: usize,
    filled: usize,
}

impl Pacer {
    /// A pacer for calls due `rate` times a second: the spun stretch stays under 40% of the
    /// interval between them (with no rate, 0, under [`MAX_SPIN`] only).
    pub fn for_rate(rate: f64) -> Pacer {
        let share = if rate > 0.0 { Duration::from_secs_f64(SPIN_SHARE / rate) } else { MAX_SPIN };
        let cap = share.clamp(MIN_SPIN, MAX_SPIN);
        Pacer {
            spin_ns: AtomicU64::new(nanos(FIRST_SPIN.min(cap))),
            cap_ns: nanos(cap),
            recent: Mutex::new(Recent { ns: [0; WINDOW], next: 0, filled: 0 }),
        }
    }

    /// The stretch before a due time that is spun rather than slept.
    pub fn spin(&self) -> Duration {
        Duration::from_nanos(self.spin_ns.load(Ordering::Relaxed))
    }

    /// The longest the spun stretch can grow.
    pub fn cap(&self) -> Duration {
        Duration::from_nanos(self.cap_ns)
    }

    /// A sleep asked to end at `target` ended at `woke`: once 16 wake-ups are known, the spun
    /// stretch is 1.25 times the 98th percentile of the recent ones plus 10 µs.
    pub fn woke(&self, target: Instant, woke: Instant) {
        let overshoot = nanos(woke.saturating_duration_since(target));
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let at = recent.next;
        recent.ns[at] = overshoot;
        recent.next = (at + 1) % WINDOW;
        recent.filled = (recent.filled + 1).min(WINDOW);
        if recent.filled < 16 {
            return;
        }
        let (mut seen, filled) = (recent.ns, recent.filled);
        drop(recent);
        let seen = &mut seen[..filled];
        let rank = ((filled - 1) as f64 * COVERED).round() as usize;
        let (_, covered, _) = seen.select_nth_unstable(rank);
        let wanted = covered.saturating_mul(5) / 4 + 10_000;
        self.spin_ns.store(wanted.clamp(nanos(MIN_SPIN).min(self.cap_ns), self.cap_ns), Ordering::Relaxed);
    }
}

/// Waits until `due`: sleeps with `sleep` until [`Pacer::spin`] before it, in slices so that
/// `stopped()` is seen within [`WAKE_UP_EVERY`], then spins. Returns false when the phase
/// stopped meanwhile.
pub fn wait_until(due: Instant, pacer: &Pacer, mut sleep: impl FnMut(Duration), stopped: impl Fn() -> bool) -> bool {
    precise_timers();
    loop {
        if stopped() {
            return false;
        }
        let now = Instant::now();
        let left = due.saturating_duration_since(now);
        if left.is_zero() {
            return true;
        }
        let spin = pacer.spin();
        if left <= spin {
            // The last stretch: short enough that the phase's end is seen right after it.
            while Instant::now() < due {
                std::hint::spin_loop();
            }
            return true;
        }
        let nap = (left - spin).min(WAKE_UP_EVERY);
        sleep(nap);
        pacer.woke(now + nap, Instant::now());
    }
}

/// Asks the kernel to wake this thread's sleeps on time rather than up to 50 µs late (Linux's
/// default timer slack), once per thread; elsewhere the [`Pacer`] spins longer instead.
pub fn precise_timers() {
    #[cfg(target_os = "linux")]
    {
        thread_local!(static SET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
        if !SET.get() {
            SET.set(true);
            // SAFETY: PR_SET_TIMERSLACK takes a plain integer and changes only this thread.
            unsafe {
                libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
            }
        }
    }
}

/// The open loop of one phase while it runs: its schedule, the corrected latencies and how late
/// calls started.
pub struct OpenLoop {
    pub schedule: Schedule,
    /// How the phase's workers wait for their calls.
    pub pacer: Pacer,
    /// How long a call handed from a pacing thread to an async task takes to reach it: calls
    /// are handed over that much before they are due, and the task waits out the rest.
    pub handoff: Pacer,
    /// Corrected latencies, start lags and pacing lags: `shards` per kind of call (reads, then a
    /// mix's updates).
    shards: Vec<Mutex<Lags>>,
    kind_shards: usize,
    /// Per kind of call: calls that started late, calls due while their worker was busy, and
    /// the longest lag.
    late: [AtomicU64; 2],
    queued: [AtomicU64; 2],
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
        let rate = schedule.rate();
        OpenLoop {
            schedule,
            pacer: Pacer::for_rate(rate),
            handoff: Pacer::for_rate(rate),
            shards: (0..shards * kinds.max(1)).map(|_| Mutex::new(Lags::default())).collect(),
            kind_shards: shards,
            late: Default::default(),
            queued: Default::default(),
            max_lag_ns: Default::default(),
            last_start_ns: AtomicU64::new(0),
        }
    }

    /// Records a call of kind `kind` (0 reads, 1 a mix's updates) that was due at `at.due`,
    /// whose worker was ready to make it at `at.ready` (unknown: `None`, counted ready in time),
    /// and that ran from `at.started` to `at.finished`: its corrected latency (from the due
    /// time), how late it started, and how much of that the wait is answerable for.
    pub fn record_kind(&self, kind: usize, worker: usize, at: Timed, error: Option<&str>) {
        let Timed { due, ready, started, finished } = at;
        let lag = started.saturating_duration_since(due);
        // The part of the lag the wait is answerable for: from when the call was due, or from
        // when its worker was ready if that was later (a call held back by the column's own
        // calls in flight starts late by construction).
        let ready = ready.unwrap_or(due);
        let pacing = started.saturating_duration_since(ready.max(due));
        let k = kind.min(1);
        if lag > LATE {
            self.late[k].fetch_add(1, Ordering::Relaxed);
        }
        if ready > due {
            self.queued[k].fetch_add(1, Ordering::Relaxed);
        }
        self.max_lag_ns[k].fetch_max(nanos(lag), Ordering::Relaxed);
        if let Some(start) = self.schedule.start.get() {
            self.last_start_ns.fetch_max(nanos(started.saturating_duration_since(*start)), Ordering::Relaxed);
        }
        let corrected = finished.saturating_duration_since(due);
        let shard = (kind * self.kind_shards + worker % self.kind_shards) % self.shards.len();
        let mut lags = self.shards[shard].lock().unwrap_or_else(|e| e.into_inner());
        lags.start.record_ok(lag);
        lags.pacing.record_ok(pacing);
        match error {
            None => lags.corrected.record_ok(corrected),
            Some(reason) => lags.corrected.record_error(corrected, reason),
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
        let mut all = Lags::default();
        for s in self.shards.iter().skip(kind * self.kind_shards).take(self.kind_shards) {
            let shard = s.lock().unwrap_or_else(|e| e.into_inner());
            all.corrected.merge(&shard.corrected);
            all.start.merge(&shard.start);
            all.pacing.merge(&shard.pacing);
        }
        OpenLoopMeasured {
            rate: self.schedule.rate(),
            corrected: all.corrected,
            start_lag: all.start,
            pacing_lag: all.pacing,
            queued: self.queued[k].load(Ordering::Relaxed),
            late: self.late[k].load(Ordering::Relaxed),
            max_lag_ns: self.max_lag_ns[k].load(Ordering::Relaxed),
            span_secs: last_start.as_secs_f64() + 1.0 / self.schedule.rate(),
        }
    }
}

/// When a call was due, when its worker was ready for it, and when it started and ended.
#[derive(Debug, Clone, Copy)]
pub struct Timed {
    pub due: Instant,
    pub ready: Option<Instant>,
    pub started: Instant,
    pub finished: Instant,
}

/// One shard's histograms: corrected latency, start lag, pacing lag.
#[derive(Default)]
struct Lags {
    corrected: Recorder,
    start: Recorder,
    pacing: Recorder,
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
    /// How long after it was due each call started (0 for a call that started on time), failed
    /// calls included: how precisely the column kept to its schedule.
    #[serde(default)]
    pub start_lag: Recorder,
    /// How long after it was due, or after its worker was ready when that came later, each call
    /// started: the start lag the waits themselves are answerable for.
    #[serde(default)]
    pub pacing_lag: Recorder,
    /// Calls due while their worker was still busy (every call in flight taken): they start
    /// late however precise the wait.
    #[serde(default)]
    pub queued: u64,
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
        self.start_lag.merge(&other.start_lag);
        self.pacing_lag.merge(&other.pacing_lag);
        self.queued += other.queued;
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
            open.record_kind(0, 0, Timed { due, ready: Some(free_at), started, finished }, None);
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
            &Pacer::for_rate(0.0),
            |d| slept += d,
            || {
                calls.set(calls.get() + 1);
                calls.get() > 3
            },
        );
        assert!(!reached);
        assert_eq!(slept, WAKE_UP_EVERY * 3, "slept in slices, looking in between");
        assert!(wait_until(Instant::now(), &Pacer::for_rate(0.0), |_| panic!("no sleep when due"), || false));
    }

    #[test]
    fn the_last_stretch_is_spun_and_never_ends_early() {
        let pacer = Pacer::for_rate(0.0);
        let due = Instant::now() + Duration::from_millis(3);
        let mut naps = Vec::new();
        assert!(wait_until(due, &pacer, |d| naps.push(d), || false));
        assert!(Instant::now() >= due, "never starts a call before it is due");
        // The sleeps here return at once: after them the wait spins, so no nap reaches into the
        // stretch before the due time.
        assert!(!naps.is_empty() && naps[0] <= Duration::from_millis(3) - FIRST_SPIN + Duration::from_micros(50));
    }

    #[test]
    fn the_spun_stretch_follows_how_late_sleeps_wake() {
        let pacer = Pacer::for_rate(0.0);
        let t = Instant::now();
        let wake = |p: &Pacer, us: u64, times: usize| (0..times).for_each(|_| p.woke(t, t + Duration::from_micros(us)));
        assert_eq!(pacer.spin(), FIRST_SPIN);
        wake(&pacer, 400, 15);
        assert_eq!(pacer.spin(), FIRST_SPIN, "not learnt from a handful of wake-ups");
        wake(&pacer, 400, 1);
        assert_eq!(pacer.spin(), MAX_SPIN, "400 µs late wake-ups: 1.25 × 400 + 10 µs, capped at 500 µs");
        wake(&pacer, 100, WINDOW);
        assert_eq!(pacer.spin(), Duration::from_micros(135), "1.25 × 100 + 10 µs");
        // One wake-up in a window 30 ms late (a descheduled thread) is not chased...
        pacer.woke(t, t + Duration::from_millis(30));
        assert_eq!(pacer.spin(), Duration::from_micros(135));
        // ...and on-time wake-ups narrow it, down to the floor.
        wake(&pacer, 5, WINDOW);
        assert_eq!(pacer.spin(), MIN_SPIN, "{:?}", pacer.spin());
    }

    #[test]
    fn the_spun_stretch_stays_under_two_fifths_of_the_interval() {
        let t = Instant::now();
        let at_2000 = Pacer::for_rate(2000.0);
        assert_eq!(at_2000.cap(), Duration::from_micros(200), "40% of 500 µs");
        assert!(at_2000.spin() <= at_2000.cap());
        (0..WINDOW).for_each(|_| at_2000.woke(t, t + Duration::from_micros(900)));
        assert_eq!(at_2000.spin(), Duration::from_micros(200), "a slow-waking machine still leaves 60% of a core");
        assert_eq!(Pacer::for_rate(100.0).cap(), MAX_SPIN, "never over 500 µs");
        assert_eq!(Pacer::for_rate(1e6).cap(), MIN_SPIN, "never under 20 µs");
        assert_eq!(Pacer::for_rate(0.0).cap(), MAX_SPIN);
    }

    #[test]
    fn a_call_held_back_by_the_one_before_it_is_queued_not_paced_late() {
        // The 100 ms stall again: the 100 calls due during it start late, held back by the
        // stalled call (queued); the wait itself started every call on time.
        let stall = |n: u64| if n == 500 { Duration::from_millis(100) } else { Duration::from_micros(10) };
        let (_, _, m) = simulate(stall, 2000, 1000.0);
        assert_eq!(m.queued, 100);
        assert!(m.start_lag.histogram().max() >= 99_000_000);
        assert!(m.pacing_lag.histogram().max() <= 1, "every start was as early as the worker was free");
        // A worker free in time whose wait overslept: all of its lag is the wait's.
        let start = Instant::now();
        let open = OpenLoop::new(Schedule::starting_at(start, 1000.0), 1);
        let due = open.schedule.due(3);
        let at = Timed {
            due,
            ready: Some(due - Duration::from_micros(300)),
            started: due + Duration::from_micros(80),
            finished: due + Duration::from_micros(100),
        };
        open.record_kind(0, 0, at, None);
        let m = open.measured();
        assert_eq!(m.queued, 0);
        let h = m.pacing_lag.histogram();
        assert_eq!(h.max(), h.highest_equivalent(80_000));
        assert_eq!(m.start_lag.histogram().max(), h.max());
    }

    #[test]
    fn every_call_s_start_lag_is_kept() {
        let start = Instant::now();
        let open = OpenLoop::with_kinds(Schedule::starting_at(start, 1000.0), 2, 2);
        for n in 0..100u64 {
            let due = open.schedule.due(n);
            let lag = Duration::from_micros(n);
            let at = Timed { due, ready: None, started: due + lag, finished: due + lag + lag };
            open.record_kind((n % 2) as usize, n as usize, at, None);
        }
        let (reads, updates) = (open.measured_kind(0), open.measured_kind(1));
        assert_eq!((reads.start_lag.successes(), updates.start_lag.successes()), (50, 50));
        assert_eq!(updates.start_lag.histogram().max(), updates.start_lag.histogram().highest_equivalent(99_000));
        let mut all = reads.clone();
        all.merge(&updates);
        assert_eq!(all.start_lag.successes(), 100, "rounds add up");
        let back: OpenLoopMeasured = serde_json::from_str(&serde_json::to_string(&all).unwrap()).unwrap();
        assert_eq!(back.start_lag.histogram(), all.start_lag.histogram(), "crosses the worker pipe");
    }
}
