//! When a phase must stop early: the user pressed Ctrl-C, or the server stopped answering
//! (no successful operation for a while). Checked between operations; calls still inside a
//! client when the watchdog trips are abandoned by whoever runs them (see `closed_loop`). While
//! no call succeeds, [`check_server`] tells a server that is gone (nothing accepts a connection
//! at its address) from one that is only slow, so stuck calls cannot hide a dead server.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Set once on Ctrl-C; every phase after that ends at its next operation.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// The server's address, for [`check_server`]; set once per process (the run, or a worker).
static SERVER: std::sync::Mutex<Option<(String, u16)>> = std::sync::Mutex::new(None);

/// Tells [`check_server`] where the server is.
pub fn watch_server(host: &str, port: u16) {
    *SERVER.lock().unwrap_or_else(|e| e.into_inner()) = Some((host.to_string(), port));
}

/// How long no call may succeed before the phase's monitor checks that the server still accepts
/// connections.
pub const CHECK_AFTER: Duration = Duration::from_millis(500);

/// `Err(label)` when nothing accepts a TCP connection at the server's address (within
/// `timeout`): the server is gone, whatever calls still inside a client will say. `Ok` when it
/// accepts one, or when no address was given.
pub fn check_server(timeout: Duration) -> Result<(), String> {
    use std::net::ToSocketAddrs as _;
    let Some((host, port)) = SERVER.lock().unwrap_or_else(|e| e.into_inner()).clone() else { return Ok(()) };
    let Ok(addrs) = (host.as_str(), port).to_socket_addrs() else { return Ok(()) };
    let mut last = None;
    for addr in addrs {
        match std::net::TcpStream::connect_timeout(&addr, timeout) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => last = Some("connection refused"),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) => {
                last = Some("connect timed out")
            }
            Err(_) => last = Some("unreachable"),
        }
    }
    last.map_or(Ok(()), |l| Err(l.to_string()))
}

/// Why a phase ended before all its calls ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    Interrupted,
    ServerUnresponsive(Duration),
    /// Calls failed in a way that says the server is not there (this label, e.g. `connection
    /// refused`), with no success for [`GONE_PATIENCE`].
    ServerGone(String),
}

/// How long calls may fail because the server is gone (refused, no nodes, connection lost)
/// before a phase stops: waiting the whole patience window would not bring it back.
pub const GONE_PATIENCE: Duration = Duration::from_secs(1);

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::Interrupted => write!(f, "interrupted by the user"),
            StopReason::ServerUnresponsive(d) => {
                write!(f, "stopped early: no operation succeeded for {:.0} s", d.as_secs_f64())
            }
            StopReason::ServerGone(what) => write!(f, "stopped early: the server is unreachable ({what})"),
        }
    }
}

/// Per-phase watchdog shared by the phase's workers: stops the phase when nothing has
/// succeeded for `patience` while errors keep coming.
pub struct Watchdog {
    start: Instant,
    patience: Duration,
    /// How long the column had already gone without a success when the phase began.
    failing_before: u64,
    /// Nanoseconds since `start` of the last success, plus `failing_before` (0: none yet, so
    /// the window began `failing_before` before the phase did).
    last_ok: AtomicU64,
    tripped: AtomicBool,
    /// What the failures said when they showed the server gone.
    gone: std::sync::Mutex<Option<String>>,
}

impl Watchdog {
    pub fn new(patience: Duration) -> Watchdog {
        Self::continuing(patience, Duration::ZERO)
    }

    /// A watchdog for a phase of a column that had already gone `failing_before` without a
    /// success: the patience window spans the column's phases, so short failing phases cannot
    /// keep a dead server's column going round after round.
    pub fn continuing(patience: Duration, failing_before: Duration) -> Watchdog {
        Watchdog {
            start: Instant::now(),
            patience,
            failing_before: failing_before.as_nanos() as u64,
            last_ok: AtomicU64::new(0),
            tripped: AtomicBool::new(false),
            gone: std::sync::Mutex::new(None),
        }
    }

    /// Nanoseconds on the watchdog's timeline at `at`.
    fn at(&self, at: Instant) -> u64 {
        (at.saturating_duration_since(self.start).as_nanos() as u64).saturating_add(self.failing_before)
    }

    /// A call succeeded at `at` (the caller's own clock reading, so the hot path reads it once).
    pub fn ok(&self, at: Instant) {
        self.last_ok.fetch_max(self.at(at), Ordering::Relaxed);
    }

    /// A call failed at `at`.
    pub fn error(&self, at: Instant) {
        let now = self.at(at);
        let since = now.saturating_sub(self.last_ok.load(Ordering::Relaxed));
        if Duration::from_nanos(since) >= self.patience {
            self.tripped.store(true, Ordering::Relaxed);
        }
    }

    /// A call failed at `at` for `reason`: a server that is gone (refused, no nodes) stops the
    /// phase after [`GONE_PATIENCE`] without a success, other failures after the patience.
    pub fn failed(&self, at: Instant, reason: &str) {
        let failure = super::failure::Failure::classify(reason);
        if !failure.server_gone() {
            return self.error(at);
        }
        let since = self.at(at).saturating_sub(self.last_ok.load(Ordering::Relaxed));
        if Duration::from_nanos(since) >= GONE_PATIENCE.min(self.patience) {
            let mut gone = self.gone.lock().unwrap_or_else(|e| e.into_inner());
            gone.get_or_insert_with(|| failure.label());
            self.tripped.store(true, Ordering::Relaxed);
        }
    }

    /// The server is gone (`what`: e.g. `connection refused`, from [`check_server`]): stop now.
    pub fn gone(&self, what: &str) {
        let mut gone = self.gone.lock().unwrap_or_else(|e| e.into_inner());
        gone.get_or_insert_with(|| what.to_string());
        self.tripped.store(true, Ordering::Relaxed);
    }

    /// How long the phase has gone without a success, at `at` (counting the column's earlier
    /// failing phases).
    pub fn without_success(&self, at: Instant) -> Duration {
        Duration::from_nanos(self.at(at).saturating_sub(self.last_ok.load(Ordering::Relaxed)))
    }

    /// True once the watchdog stopped the phase (not for Ctrl-C): calls still inside a client
    /// are abandoned.
    pub fn tripped(&self) -> bool {
        self.tripped.load(Ordering::Relaxed)
    }

    /// True when workers should take no further operation.
    pub fn should_stop(&self) -> bool {
        interrupted() || self.tripped.load(Ordering::Relaxed)
    }

    pub fn reason(&self) -> Option<StopReason> {
        if self.tripped.load(Ordering::Relaxed) {
            let gone = self.gone.lock().unwrap_or_else(|e| e.into_inner()).clone();
            Some(gone.map_or(StopReason::ServerUnresponsive(self.patience), StopReason::ServerGone))
        } else if interrupted() {
            Some(StopReason::Interrupted)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trips_only_after_patience_without_success() {
        // Instants on the watchdog's own timeline, not the machine's clock: no sleep, no race.
        let w = Watchdog::new(Duration::from_millis(30));
        let ms = |n| w.start + Duration::from_millis(n);
        w.error(ms(0));
        assert!(!w.should_stop());
        w.ok(ms(40));
        w.error(ms(40));
        assert!(!w.should_stop(), "a recent success keeps it going");
        w.error(ms(69));
        assert!(!w.should_stop(), "29 ms without a success");
        w.error(ms(80));
        assert!(w.should_stop());
        assert!(matches!(w.reason(), Some(StopReason::ServerUnresponsive(_))));
    }

    #[test]
    fn a_server_that_is_gone_stops_the_phase_within_a_second() {
        let w = Watchdog::new(Duration::from_secs(30));
        w.failed(w.start, "network: connection refused");
        assert!(!w.should_stop());
        w.failed(w.start + GONE_PATIENCE, "network: connection refused");
        assert!(w.should_stop(), "a second of refused connections, not the 30 s patience");
        assert_eq!(w.reason(), Some(StopReason::ServerGone("connection refused".into())));
        assert_eq!(w.reason().unwrap().to_string(), "stopped early: the server is unreachable (connection refused)");
        let slow = Watchdog::new(Duration::from_secs(30));
        slow.failed(slow.start + Duration::from_secs(2), "Timeout (code -11): late");
        assert!(!slow.should_stop(), "timeouts wait for the whole patience");
    }

    #[test]
    fn a_closed_port_is_a_server_gone_and_a_listening_one_is_not() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        watch_server("127.0.0.1", port);
        assert_eq!(check_server(Duration::from_millis(500)), Ok(()));
        drop(listener);
        assert_eq!(check_server(Duration::from_millis(500)), Err("connection refused".to_string()));
        let w = Watchdog::new(Duration::from_secs(30));
        assert!(!w.tripped());
        w.gone("connection refused");
        assert!(w.tripped() && w.should_stop());
        assert_eq!(w.reason(), Some(StopReason::ServerGone("connection refused".into())));
    }

    #[test]
    fn failing_before_the_phase_counts_toward_patience() {
        let w = Watchdog::continuing(Duration::from_millis(30), Duration::from_millis(25));
        w.error(w.start);
        assert!(!w.should_stop(), "25 ms of 30 so far");
        w.error(w.start + Duration::from_millis(10));
        assert!(w.should_stop(), "35 ms without a success across two phases");
        let fresh = Watchdog::continuing(Duration::from_millis(30), Duration::from_millis(25));
        fresh.ok(fresh.start);
        fresh.error(fresh.start + Duration::from_millis(10));
        assert!(!fresh.should_stop(), "a success in this phase starts the window again");
    }
}
