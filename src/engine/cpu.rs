//! What a phase cost the process that ran it, as the operating system counts it: CPU time (user
//! and system, every thread of the process) and peak resident memory, from `getrusage`. A Python
//! column runs alone in its worker process, so its figures are the client's (and the embedded
//! interpreter's) alone; an in-process column shares aerobench's process with the progress
//! display and idle pipe readers, which cost next to nothing. Unavailable (None) off Unix.

use std::time::Duration;

/// CPU time used so far and peak resident memory of this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub cpu: Duration,
    pub peak_rss_bytes: u64,
}

/// This process's usage now, if the platform tells.
#[cfg(unix)]
pub fn process_usage() -> Option<Usage> {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole rusage into the pointer it is given and reads nothing.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: getrusage succeeded, so the struct is initialised (and it was zeroed before).
    let ru = unsafe { ru.assume_init() };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec.max(0) as u64, (t.tv_usec.max(0) as u32) * 1_000);
    // Linux counts ru_maxrss in KiB, macOS in bytes.
    let unit: u64 = if cfg!(target_os = "macos") { 1 } else { 1024 };
    Some(Usage { cpu: tv(ru.ru_utime) + tv(ru.ru_stime), peak_rss_bytes: (ru.ru_maxrss.max(0) as u64) * unit })
}

#[cfg(not(unix))]
pub fn process_usage() -> Option<Usage> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn busy_work_shows_as_cpu_time() {
        // Spinning must show as CPU time. On a shared machine the thread may wait for a core, so
        // the test spins until 100 ms of CPU are counted rather than for 100 ms of wall time; the
        // wall-clock bound only stops a getrusage that never counts.
        let before = process_usage().expect("getrusage on unix");
        let started = Instant::now();
        let mut x = 0u64;
        let mut busy = Duration::ZERO;
        while busy < Duration::from_millis(100) && started.elapsed() < Duration::from_secs(30) {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
            busy = process_usage().unwrap().cpu - before.cpu;
        }
        // (That a sleeping client costs next to nothing is checked end to end, where a worker
        // process runs nothing else: tests/stub_columns.rs.)
        assert!(busy >= Duration::from_millis(100), "spinning for {:?} counted only {busy:?}", started.elapsed());
        assert!(before.peak_rss_bytes > 1 << 20, "{}", before.peak_rss_bytes);
    }
}
