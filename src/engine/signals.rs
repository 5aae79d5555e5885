//! Ctrl-C and SIGTERM during a run. The first signal stops the run at the next call of every
//! column (in this process and in the Python workers) so the partial report is still printed
//! and written; the run then exits 128 + the signal (130 for Ctrl-C, 143 for SIGTERM), as
//! shells and CI expect. A second signal exits at once, after killing every child process
//! aerobench started (Python workers, the built-in server), so none is left behind.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};

use crate::engine::stop;

/// SIGINT's number on every Unix (and what Ctrl-C means elsewhere).
pub const SIGINT: i32 = 2;
/// SIGTERM's number on every Unix.
pub const SIGTERM: i32 = 15;

/// The first signal received, 0 for none.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// Child processes to kill when the run must end at once.
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// The exit code for a run ended by a signal: 128 + its number; `None` when none came.
pub fn exit_code() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(128 + sig),
    }
}

/// The signal's name, for messages.
fn name(sig: i32) -> &'static str {
    if sig == SIGTERM { "SIGTERM" } else { "Ctrl-C" }
}

/// Remembers a child process, to kill if the run must end at once.
pub fn register_child(pid: u32) {
    CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
}

/// Forgets a child process that has ended.
pub fn forget_child(pid: u32) {
    CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).retain(|&p| p != pid);
}

/// Kills every registered child process (SIGKILL: they may be stuck inside a call).
fn kill_children() {
    let children = CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for pid in children {
        send(pid, Kill::Now);
    }
}

/// What to ask of a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kill {
    /// Stop at the next call and report (SIGINT).
    Interrupt,
    /// End now (SIGKILL).
    Now,
}

/// Sends `kill` to process `pid`. Returns false when it could not be sent (or, off Unix, when
/// there is no way to send it; callers then kill through `std::process::Child`).
pub fn send(pid: u32, kill: Kill) -> bool {
    #[cfg(unix)]
    {
        let sig = match kill {
            Kill::Interrupt => libc::SIGINT,
            Kill::Now => libc::SIGKILL,
        };
        let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
        // SAFETY: kill(2) on a process this program started; no memory is involved.
        unsafe { libc::kill(pid, sig) == 0 }
    }
    #[cfg(not(unix))]
    {
        let _ = (pid, kill);
        false
    }
}

/// What the first and later signals do.
fn on_signal(sig: i32) {
    if RECEIVED.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst).is_err() {
        eprintln!("\naerobench: {} again: exiting at once without a report", name(sig));
        kill_children();
        std::process::exit(128 + RECEIVED.load(Ordering::SeqCst));
    }
    eprintln!(
        "\naerobench: {} received — stopping and writing the report with what was measured (Ctrl-C again to quit at once)",
        name(sig)
    );
    stop::interrupt();
}

/// Starts listening for Ctrl-C and SIGTERM on a thread of its own. Returns once the handlers
/// are in place, so a signal that comes right after cannot kill the run without its report.
pub fn install() {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new().name("aerobench-signals".into()).spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            let _ = ready_tx.send(());
            return;
        };
        runtime.block_on(listen(ready_tx));
    });
    if spawned.is_ok() {
        let _ = ready_rx.recv_timeout(std::time::Duration::from_secs(5));
    }
}

#[cfg(unix)]
async fn listen(ready: std::sync::mpsc::Sender<()>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        let _ = ready.send(());
        return;
    };
    let _ = ready.send(());
    loop {
        tokio::select! {
            Some(()) = int.recv() => on_signal(SIGINT),
            Some(()) = term.recv() => on_signal(SIGTERM),
            else => return,
        }
    }
}

#[cfg(not(unix))]
async fn listen(ready: std::sync::mpsc::Sender<()>) {
    let _ = ready.send(());
    while tokio::signal::ctrl_c().await.is_ok() {
        on_signal(SIGINT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_are_remembered_and_forgotten() {
        register_child(4_000_001);
        register_child(4_000_002);
        forget_child(4_000_001);
        let left = CHILDREN.lock().unwrap().clone();
        assert!(left.contains(&4_000_002) && !left.contains(&4_000_001), "{left:?}");
        forget_child(4_000_002);
        assert_eq!(name(SIGTERM), "SIGTERM");
        assert_eq!(name(SIGINT), "Ctrl-C");
    }
}
