//! Wakes an embedded event loop when its calls fall due (open loop, `--rate`). An event loop's
//! own timers fire about a millisecond late, so a coroutine waiting for its call registers the
//! due time here instead, and a Rust thread waits for it with the engine's precise wait (sleep,
//! then spin the last stretch) and writes the waiter's number to a socket the loop watches
//! (`loop.add_reader`): the loop wakes from its `select` at once, with no Python timer and
//! without the thread ever taking the GIL. When the phase stops, every waiter is woken at once
//! (it then finds the phase over). Waking the loop and resuming the coroutine takes tens of
//! microseconds, so the number is written that long before the due time (learnt from the
//! coroutines' reports of when they resumed: `arrived`) and the coroutine yields to its loop
//! until the due time. Unix sockets: Linux and macOS; elsewhere there is no waker and the shim
//! falls back on the loop's timers.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use crate::engine::closed_loop::PhaseState;
use crate::engine::open_loop::{Pacer, WAKE_UP_EVERY, precise_timers};

/// Waiters by due time, and whether the waker was closed.
#[derive(Default)]
struct Queue {
    due: BinaryHeap<Reverse<(Instant, u32)>>,
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    changed: Condvar,
    /// How long before its due time a waiter is written to: how long waking the loop takes.
    handoff: Pacer,
    /// When each waiter woken and not yet resumed was written to.
    sent: Mutex<HashMap<u32, Instant>>,
}

/// One phase's waker: the thread that waits, and the socket end the event loop reads.
pub struct LoopWaker {
    shared: Arc<Shared>,
    #[cfg(unix)]
    reader: std::os::unix::net::UnixStream,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LoopWaker {
    /// A waker for the phase `state` runs, or `None` where the platform has no Unix sockets.
    pub fn start(state: Arc<PhaseState>) -> std::io::Result<Option<LoopWaker>> {
        #[cfg(unix)]
        {
            let (reader, writer) = std::os::unix::net::UnixStream::pair()?;
            reader.set_nonblocking(true)?;
            let rate = state.open.as_ref().map_or(0.0, |o| o.schedule.rate());
            let shared = Arc::new(Shared {
                queue: Mutex::default(),
                changed: Condvar::new(),
                handoff: Pacer::for_rate(rate),
                sent: Mutex::default(),
            });
            let for_thread = shared.clone();
            let thread = std::thread::Builder::new()
                .name("aerobench-loop-waker".into())
                .spawn(move || wake_when_due(&for_thread, &state, writer, Pacer::for_rate(rate)))?;
            Ok(Some(LoopWaker { shared, reader, thread: Some(thread) }))
        }
        #[cfg(not(unix))]
        {
            let _ = state;
            Ok(None)
        }
    }

    /// The descriptor the event loop watches: each wake-up is a waiter's number, 4 bytes in the
    /// machine's byte order. It stays open (and owned here) until the waker is dropped.
    #[cfg(unix)]
    pub fn fd(&self) -> i64 {
        use std::os::fd::AsRawFd as _;
        i64::from(self.reader.as_raw_fd())
    }

    /// Waiter `waiter` resumed after its wake-up: how long that took sets how early the next
    /// wake-ups are written.
    pub fn arrived(&self, waiter: u32) {
        let now = Instant::now();
        if let Some(sent) = self.shared.sent.lock().unwrap_or_else(|e| e.into_inner()).remove(&waiter) {
            self.shared.handoff.woke(sent, now);
        }
    }

    /// Wakes waiter `waiter` shortly before `due` (see [`LoopWaker::arrived`]).
    pub fn wake_at(&self, waiter: u32, due: Instant) {
        let mut queue = self.shared.queue.lock().unwrap_or_else(|e| e.into_inner());
        // The thread waits for the earliest waiter: only a new earliest one changes its wait.
        let earliest = queue.due.peek().is_none_or(|Reverse((first, _))| due < *first);
        queue.due.push(Reverse((due, waiter)));
        drop(queue);
        if earliest {
            self.shared.changed.notify_one();
        }
    }
}

impl Drop for LoopWaker {
    fn drop(&mut self) {
        self.shared.queue.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        self.shared.changed.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The waker's thread: waits for the earliest waiter's due time and writes its number; on the
/// phase's stop writes every waiter's number at once; ends when the waker is closed or the
/// loop's end of the socket is gone. `pacer` times the thread's own waits (sleep, then spin).
fn wake_when_due(shared: &Shared, state: &PhaseState, mut writer: impl std::io::Write, pacer: Pacer) {
    precise_timers();
    let mut queue = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if queue.closed {
            return;
        }
        let stopped = state.watchdog.should_stop();
        let next = queue.due.peek().map(|Reverse((due, _))| *due);
        let due = match next {
            None => {
                queue = shared.changed.wait_timeout(queue, WAKE_UP_EVERY).unwrap_or_else(|e| e.into_inner()).0;
                continue;
            }
            Some(due) => due.checked_sub(shared.handoff.spin()).unwrap_or(due),
        };
        let left = due.saturating_duration_since(Instant::now());
        if !stopped && left > pacer.spin() {
            // Sleep on the condition variable (a new, earlier waiter wakes it), then look again.
            let nap = (left - pacer.spin()).min(WAKE_UP_EVERY);
            let target = Instant::now() + nap;
            queue = shared.changed.wait_timeout(queue, nap).unwrap_or_else(|e| e.into_inner()).0;
            pacer.woke(target, Instant::now());
            continue;
        }
        // Due within the spun stretch (or the phase stopped): wake every waiter due by then.
        let until = if stopped { None } else { Some(due + shared.handoff.spin()) };
        let mut woken = Vec::new();
        while let Some(Reverse((d, waiter))) = queue.due.peek().copied() {
            if until.is_some_and(|u| d > u) {
                break;
            }
            queue.due.pop();
            woken.push(waiter);
        }
        drop(queue);
        if !stopped {
            while Instant::now() < due {
                std::hint::spin_loop();
            }
        }
        let now = Instant::now();
        shared.sent.lock().unwrap_or_else(|e| e.into_inner()).extend(woken.iter().map(|w| (*w, now)));
        let bytes: Vec<u8> = woken.iter().flat_map(|w| w.to_ne_bytes()).collect();
        if writer.write_all(&bytes).is_err() {
            return;
        }
        queue = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::engine::Phase;
    use crate::workload::Operation;
    use std::io::Read as _;
    use std::time::Duration;

    fn state() -> Arc<PhaseState> {
        let mut phase = Phase::counted(Operation::Get, 100, 4, Duration::from_secs(10));
        phase.rate = Some(1000.0);
        PhaseState::new(&phase)
    }

    fn read_waiters(reader: &mut std::os::unix::net::UnixStream, n: usize) -> Vec<u32> {
        reader.set_nonblocking(false).unwrap();
        reader.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = vec![0u8; 4 * n];
        reader.read_exact(&mut buf).unwrap();
        buf.chunks(4).map(|c| u32::from_ne_bytes(c.try_into().unwrap())).collect()
    }

    #[test]
    fn waiters_are_woken_in_due_order_never_early() {
        let waker = LoopWaker::start(state()).unwrap().unwrap();
        let mut reader = waker.reader.try_clone().unwrap();
        let now = Instant::now();
        waker.wake_at(7, now + Duration::from_millis(20));
        waker.wake_at(3, now + Duration::from_millis(5));
        waker.wake_at(5, now + Duration::from_millis(10));
        // Written a hand-over ahead of the due time (at first 200 µs), never more.
        let ahead = waker.shared.handoff.spin();
        assert_eq!(read_waiters(&mut reader, 1), [3]);
        assert!(Instant::now() + ahead >= now + Duration::from_millis(5), "not before it is due");
        // A late read (a busy machine) makes the hand-over longer: the later writes are never
        // earlier than the longer of the two.
        waker.arrived(3);
        let ahead = ahead.max(waker.shared.handoff.spin());
        assert_eq!(read_waiters(&mut reader, 2), [5, 7]);
        assert!(Instant::now() + ahead >= now + Duration::from_millis(20));
        // A loop that resumed its coroutines 300 µs after their writes gets the next ones written
        // 1.25 times that early plus 10 µs (the rule itself is pinned with the engine's Pacer),
        // within 40% of the interval between calls (400 µs at 1,000/s).
        for waiter in 10..26 {
            waker.shared.sent.lock().unwrap().insert(waiter, Instant::now() - Duration::from_micros(300));
            waker.arrived(waiter);
        }
        let ahead = waker.shared.handoff.spin();
        assert!(ahead >= Duration::from_micros(385) && ahead <= Duration::from_micros(400), "{ahead:?}");
        assert!(!waker.shared.sent.lock().unwrap().contains_key(&10), "each write is learnt from once");
    }

    #[test]
    fn a_stopped_phase_wakes_every_waiter_at_once_and_dropping_ends_the_thread() {
        let state = state();
        let waker = LoopWaker::start(state.clone()).unwrap().unwrap();
        let mut reader = waker.reader.try_clone().unwrap();
        let far = Instant::now() + Duration::from_secs(60);
        waker.wake_at(1, far);
        waker.wake_at(2, far);
        state.watchdog.gone("connection refused");
        let started = Instant::now();
        let mut woken = read_waiters(&mut reader, 2);
        woken.sort();
        assert_eq!(woken, [1, 2]);
        assert!(started.elapsed() < Duration::from_secs(5), "the waiters do not wait out their due time");
        drop(waker); // joins the thread: a waker that never ends would hang here
    }
}
