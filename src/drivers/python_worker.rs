//! The parent's side of an embedded-Python column: starts `aerobench worker` with the column's
//! spec, turns its events into progress bars and cells, and turns a worker that crashes or
//! stops responding into an error with the reason (signal or exit code, last lines of stderr),
//! keeping every cell it finished before.

use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::engine::{ColumnOutcome, PhaseObserver};
use crate::results::Column;
use crate::worker::{WorkerEvent, WorkerSpec};

const STDERR_TAIL_LINES: usize = 12;

fn describe_exit(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(sig) = status.signal() {
            let name = match sig {
                6 => " (SIGABRT)",
                9 => " (SIGKILL)",
                11 => " (SIGSEGV)",
                15 => " (SIGTERM)",
                _ => "",
            };
            return format!("killed by signal {sig}{name}");
        }
    }
    match status.code() {
        Some(code) => format!("exited with code {code}"),
        None => "ended".into(),
    }
}

/// Runs one column in a worker process. Returns the column (as the worker described it once
/// connected, if it got that far) and what it measured.
pub fn run_column(
    spec: &WorkerSpec,
    fallback: Column,
    observer: &mut dyn PhaseObserver,
    stall: Duration,
) -> (Column, ColumnOutcome) {
    let mut outcome = ColumnOutcome::default();
    let fail = |mut column: Column, outcome: ColumnOutcome, error: String| {
        column.error = Some(error);
        (column, outcome)
    };
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return fail(fallback, outcome, format!("cannot find the aerobench executable: {e}")),
    };
    let mut cmd = Command::new(exe);
    cmd.arg("worker").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    if spec.event_loop != "uvloop" {
        // aerospike-native installs uvloop process-wide on import unless told not to.
        cmd.env("AEROSPIKE_NO_UVLOOP", "1");
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return fail(fallback, outcome, format!("cannot start a worker process: {e}")),
    };
    let spec_json = serde_json::to_string(spec).unwrap_or_default();
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(spec_json.as_bytes());
    }
    let tail = Arc::new(Mutex::new(VecDeque::new()));
    if let Some(stderr) = child.stderr.take() {
        let tail = tail.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stderr);
            let mut buf = Vec::new();
            while reader.by_ref().read_until(b'\n', &mut buf).map(|n| n > 0).unwrap_or(false) {
                let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                buf.clear();
                let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
                if t.len() == STDERR_TAIL_LINES {
                    t.pop_front();
                }
                t.push_back(line);
            }
        });
    }
    let (tx, rx) = mpsc::channel();
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }

    let mut column = fallback;
    let mut finished = false;
    let mut stalled = false;
    let mut done = Arc::new(AtomicU64::new(0));
    let mut last_activity = Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_millis(250)) {
            Ok(line) => {
                let Ok(event) = serde_json::from_str::<WorkerEvent>(&line) else {
                    continue; // a stray print from a client library
                };
                match event {
                    WorkerEvent::Connected { column: c } => {
                        column = c;
                        last_activity = Instant::now();
                    }
                    WorkerEvent::Phase { op, calls } => {
                        done = Arc::new(AtomicU64::new(0));
                        observer.phase_started(&column.label, op, calls, done.clone());
                        last_activity = Instant::now();
                    }
                    WorkerEvent::Progress { done: n } => {
                        if done.swap(n, Ordering::Relaxed) != n {
                            last_activity = Instant::now();
                        }
                    }
                    WorkerEvent::PhaseEnd => {
                        observer.phase_finished();
                        last_activity = Instant::now();
                    }
                    WorkerEvent::Cell { cell } => {
                        outcome.cells.push(cell);
                        last_activity = Instant::now();
                    }
                    WorkerEvent::Finished { error } => {
                        outcome.error = error;
                        finished = true;
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if last_activity.elapsed() > stall {
                    stalled = true;
                    let _ = child.kill();
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    observer.phase_finished();
    let status = child.wait();
    if finished && !stalled {
        return (Column { error: outcome.error.clone(), ..column }, outcome);
    }
    let stderr: Vec<String> = tail.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect();
    let why = if stalled {
        format!("worker stopped responding for {:.0} s and was killed", stall.as_secs_f64())
    } else {
        match status {
            Ok(s) => format!("worker {}", describe_exit(s)),
            Err(e) => format!("worker could not be waited for: {e}"),
        }
    };
    let error = if stderr.is_empty() { why } else { format!("{why}; stderr: {}", stderr.join(" | ")) };
    fail(column, outcome, error)
}
