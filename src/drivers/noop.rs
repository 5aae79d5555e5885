//! A driver with no client behind it: every call returns at once. It measures aerobench's own
//! cost per call (scheduling, timing, recording), which must stay far below any real client's.
//! Given a delay (the hidden `--stub-delay-us`), each call takes that long instead, so tests
//! can check the figures the engine reports against a latency known in advance.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::engine::Phase;
use crate::engine::closed_loop::{PhaseState, run_async, run_blocking_counted};
use crate::model::results::Column;
use crate::workload::{Operation, Workload};

use super::{ColumnKind, Driver};

pub struct NoopDriver {
    column: Column,
    runtime: Option<tokio::runtime::Runtime>,
    /// Records each call pretends to move, for batch_get and scan; 1 when unknown.
    workload: Option<Workload>,
    calls: Arc<AtomicU64>,
    /// How long each call takes; zero returns at once.
    delay: Duration,
    /// Spend the delay on the CPU instead of sleeping.
    spin: bool,
}

impl NoopDriver {
    /// An async kind runs on the async loop (as a tokio client would), a sync one on the
    /// blocking loop.
    pub fn new(kind: &ColumnKind, in_flight: u32, workload: Option<Workload>) -> NoopDriver {
        let asynchronous = kind.asynchronous;
        let runtime = asynchronous.then(|| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("tokio runtime for the no-op driver")
        });
        NoopDriver {
            column: Column {
                id: kind.name.into(),
                label: kind.label.into(),
                client: "none".into(),
                client_version: env!("CARGO_PKG_VERSION").into(),
                mode: if asynchronous { "async" } else { "sync" }.into(),
                in_flight,
                source: "aerobench (harness cost only)".into(),
                python_version: None,
                python: None,
                policies: BTreeMap::new(),
                error: None,
                build: None,
                crash: None,
            },
            runtime,
            workload,
            calls: Arc::new(AtomicU64::new(0)),
            delay: Duration::ZERO,
            spin: false,
        }
    }

    /// Makes every call take `delay`: a sleep on the blocking loop; on the async loop, a future
    /// that completes after `delay`.
    /// Makes the blocking loop's calls keep the CPU busy for their delay instead of sleeping,
    /// so tests know how much CPU each call costs.
    pub fn spinning(mut self, spin: bool) -> NoopDriver {
        self.spin = spin;
        self
    }

    pub fn with_delay(mut self, delay: Duration) -> NoopDriver {
        self.delay = delay;
        self
    }

    #[cfg(test)]
    pub fn calls_seen(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

fn records(workload: Option<&Workload>, op: Operation, i: u64) -> u64 {
    match (workload, op) {
        (Some(w), Operation::BatchGet | Operation::BatchWrite) => {
            let r = w.batch_range(i);
            r.end.saturating_sub(r.start)
        }
        (Some(w), Operation::Scan) => w.count,
        _ => 1,
    }
}

impl Driver for NoopDriver {
    fn column(&self) -> &Column {
        &self.column
    }

    fn run_phase(&mut self, phase: &Phase, state: Arc<PhaseState>) -> anyhow::Result<()> {
        let op = phase.op;
        let workload = self.workload.clone().map(Arc::new);
        let calls = self.calls.clone();
        let delay = self.delay;
        let spin = self.spin;
        match &self.runtime {
            Some(rt) => rt.block_on(run_async(phase, state, Ok, move |i| {
                calls.fetch_add(1, Ordering::Relaxed);
                let n = records(workload.as_deref(), op, i);
                async move {
                    if !delay.is_zero() {
                        // tokio's timer ticks in whole milliseconds (a 2 ms sleep takes about
                        // 3), so the wait happens on a blocking thread, as precise as the
                        // blocking loop's; the call still yields to the loop while it waits.
                        let _ = tokio::task::spawn_blocking(move || std::thread::sleep(delay)).await;
                    }
                    Ok(n)
                }
            })),
            None => {
                let one_call = |i: u64| {
                    calls.fetch_add(1, Ordering::Relaxed);
                    if spin {
                        spin_for(delay);
                    } else if !delay.is_zero() {
                        std::thread::sleep(delay);
                    }
                    Ok(records(workload.as_deref(), op, i))
                };
                // One thread per call in flight (--threads), each one call at a time.
                std::thread::scope(|scope| {
                    for worker in 0..phase.in_flight.max(1) as usize {
                        let state = &*state;
                        scope.spawn(move || run_blocking_counted(state, worker, Ok, one_call, Ok));
                    }
                });
            }
        }
        Ok(())
    }
}

/// Keeps this thread busy for `delay`.
fn spin_for(delay: Duration) {
    let until = std::time::Instant::now() + delay;
    while std::time::Instant::now() < until {
        std::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Runs `calls` gets on the no-op `kind` with `in_flight` calls at a time, each taking 2 ms;
    /// returns (p50 in µs, calls per second of wall time).
    fn run(kind: &str, in_flight: u32, calls: u64) -> (u64, f64) {
        let kind = crate::drivers::kind(kind).unwrap();
        let mut d = NoopDriver::new(kind, in_flight, None).with_delay(Duration::from_millis(2));
        let phase = Phase::counted(Operation::Get, calls, in_flight, Duration::from_secs(5));
        let state = PhaseState::new(&phase);
        let started = Instant::now();
        d.run_phase(&phase, state.clone()).unwrap();
        let wall = started.elapsed().as_secs_f64();
        let rec = state.merged();
        assert_eq!((rec.count(), rec.errors()), (calls, 0));
        (rec.histogram().value_at_quantile(0.5) / 1_000, calls as f64 / wall)
    }

    #[test]
    fn a_delay_is_what_each_call_takes_on_both_loops() {
        // Never shorter than 2 ms, never faster than in-flight / 2 ms; how much slower is the
        // machine's, so the rate is held to the calls in flight over the latency measured in the
        // same run, not to the nominal 2 ms. A loaded machine's stalls between calls (not in the
        // p50) can halve the rate again, so the floor is a quarter of that: a wrong in-flight
        // count (one instead of eight) is still off by 2x beyond it.
        let (p50, per_sec) = run("noop", 1, 50);
        assert!((1_990..20_000).contains(&p50), "blocking p50 {p50} µs");
        assert!(per_sec <= 505.0 && per_sec >= 0.25 * 1e6 / p50 as f64, "blocking {per_sec:.0} calls/s, p50 {p50} µs");
        let (p50, per_sec) = run("noop-async", 8, 200);
        assert!((1_990..20_000).contains(&p50), "async p50 {p50} µs");
        assert!(per_sec <= 4_040.0 && per_sec >= 0.25 * 8e6 / p50 as f64, "async {per_sec:.0} calls/s, p50 {p50} µs");
    }
}
