//! The parent's side of an embedded-Python column, and the line protocol both sides speak
//! ([`WorkerCommand`], [`WorkerEvent`]): starts `aerobench worker` with the column's spec, keeps
//! it for the whole run, sends it one phase at a time and turns its events into progress and
//! measurements. A worker that crashes or stops responding becomes an error with
//! the reason (signal or exit code, the crashing thread's Python frames, last lines of stderr)
//! and, after a fatal signal, the crash report it wrote ([`crate::drivers::worker_crash`]); what
//! it measured before is kept.

use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::drivers::python::WorkerSpec;
use serde::{Deserialize, Serialize};

use crate::drivers::worker_crash::{self, CrashFile};
use crate::engine::lane::Lane;
use crate::engine::{Measured, Phase, PhaseObserver};
use crate::model::results::{Column, WorkerCrash};

/// One line of a worker's stdin after the spec.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerCommand {
    /// Run this phase and report what it measured.
    Run(Phase),
    /// From now on, send a [`WorkerEvent::Snapshot`] this often while a phase runs.
    ReportEvery(std::time::Duration),
    /// Switch the client's own stage timers on or off and answer with
    /// [`WorkerEvent::StageTimers`] (`--stages`).
    StageTimers(bool),
    /// Close the client and exit.
    Close,
}

/// One line of a worker's stdout.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum WorkerEvent {
    /// The client connected; this is its column.
    Connected { column: Box<Column> },
    /// Calls finished so far in the current phase.
    Progress { done: u64 },
    /// Everything the current phase recorded so far (after [`WorkerCommand::ReportEvery`]).
    Snapshot { recorder: Box<crate::engine::stats::Recorder> },
    /// The phase is over: what it measured (sent at once, so a later crash cannot lose it).
    Measured { measured: Box<Measured> },
    /// The watchdog stopped the phase (the server is gone or stopped answering) and calls are
    /// still stuck inside the client: what the phase measured, those calls counted abandoned.
    /// The worker cannot go on; the parent kills it.
    Abandoned { measured: Box<Measured> },
    /// The client's metrics text after [`WorkerCommand::StageTimers`] (`None`: it has no stage
    /// timers), or why it could not be read.
    StageTimers { text: Option<String>, error: Option<String> },
    /// The worker is done; `error` says why it could not go on, if it could not.
    Finished { error: Option<String> },
}

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

/// True when every client runs `op` with a total timeout (`--timeout-ms`): a whole-set scan has
/// none, only a socket timeout between the records it streams.
fn call_has_total_timeout(op: crate::workload::Operation) -> bool {
    !matches!(op, crate::workload::Operation::Scan)
}

/// A worker process holding one connected Python column.
pub struct WorkerLane {
    child: Child,
    stdin: Option<ChildStdin>,
    events: mpsc::Receiver<String>,
    tail: Arc<Mutex<VecDeque<String>>>,
    column: Column,
    /// A worker that shows no progress for this long is killed.
    stall: Duration,
    /// When the run was interrupted: the worker was told to stop, and is killed if it has not
    /// reported by then (its client may be stuck inside a call).
    interrupt_deadline: Option<Instant>,
    /// Where the worker writes its stacks if it dies of a fatal signal.
    crash_file: CrashFile,
    /// What it wrote there, once it died.
    crash: Option<WorkerCrash>,
}

/// How long an interrupted worker has to report what it measured before it is killed.
const INTERRUPT_GRACE: Duration = Duration::from_secs(3);

impl WorkerLane {
    /// Starts the worker `exe` (aerobench itself, or the worker built for the column's
    /// interpreter) and waits until its client connected. On failure, returns `fallback` with the
    /// error set (and whatever the worker said about itself).
    pub fn start(
        spec: &WorkerSpec,
        exe: &std::path::Path,
        fallback: Column,
        stall: Duration,
    ) -> Result<WorkerLane, Box<Column>> {
        let fail = |mut column: Column, error: String| {
            column.error = Some(error);
            Box::new(column)
        };
        let mut cmd = Command::new(exe);
        cmd.arg("worker").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        if spec.event_loop != "uvloop" {
            // aerospike-native installs uvloop process-wide on import unless told not to.
            cmd.env("AEROSPIKE_NO_UVLOOP", "1");
        }
        let crash_file = CrashFile::new();
        cmd.env(worker_crash::CRASH_FILE_ENV, crash_file.path());
        let mut child = cmd
            .spawn()
            .map_err(|e| fail(fallback.clone(), format!("cannot start a worker process ({}): {e}", exe.display())))?;
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
        let stdin = child.stdin.take();
        crate::engine::signals::register_child(child.id());
        let mut lane = WorkerLane {
            child,
            stdin,
            events: rx,
            tail,
            column: fallback,
            stall,
            interrupt_deadline: None,
            crash_file,
            crash: None,
        };
        let spec_json = serde_json::to_string(spec).unwrap_or_default();
        if let Err(why) = lane.send_line(&spec_json) {
            return Err(lane.broken(why));
        }
        // Starting Python and connecting a client may take a while on a busy machine.
        let deadline = Instant::now() + stall.max(Duration::from_secs(60));
        loop {
            match lane.next_event(deadline) {
                Ok(WorkerEvent::Connected { column }) => {
                    lane.column = *column;
                    return Ok(lane);
                }
                Ok(WorkerEvent::Finished { error }) => {
                    let why = error.unwrap_or_else(|| "worker ended before connecting".into());
                    let column = fail(lane.column.clone(), why);
                    lane.stop();
                    return Err(column);
                }
                Ok(_) => {}
                Err(why) => return Err(lane.broken(why)),
            }
        }
    }

    fn send_line(&mut self, line: &str) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("worker input closed")?;
        writeln!(stdin, "{line}").and_then(|()| stdin.flush()).map_err(|e| format!("cannot talk to the worker: {e}"))
    }

    /// The next event, or why none will come: the worker ended, or said nothing until `deadline`.
    fn next_event(&mut self, deadline: Instant) -> Result<WorkerEvent, String> {
        loop {
            if let Some(why) = self.check_interrupt() {
                return Err(why);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left.min(Duration::from_millis(250))) {
                Ok(line) => {
                    if let Ok(event) = serde_json::from_str::<WorkerEvent>(&line) {
                        return Ok(event);
                    } // else a stray print from a client library
                }
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() >= deadline => {
                    let _ = self.child.kill();
                    return Err(format!(
                        "worker stopped responding for {:.0} s and was killed",
                        self.stall.as_secs_f64()
                    ));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait();
                    return Err(match status {
                        Ok(s) => {
                            let ended = describe_exit(s);
                            if !s.success() {
                                self.crash = self.crash_file.read(&ended);
                            }
                            format!("worker {ended}")
                        }
                        Err(e) => format!("worker could not be waited for: {e}"),
                    });
                }
            }
        }
    }

    /// After Ctrl-C or SIGTERM: tells the worker to stop at its next call (a terminal's Ctrl-C
    /// reaches it anyway, SIGTERM to aerobench does not), and kills it when it has not reported
    /// within [`INTERRUPT_GRACE`]. Returns why the phase ends without a report, if it does.
    fn check_interrupt(&mut self) -> Option<String> {
        if !crate::engine::stop::interrupted() {
            return None;
        }
        let now = Instant::now();
        match self.interrupt_deadline {
            None => {
                self.interrupt_deadline = Some(now + INTERRUPT_GRACE);
                if !crate::engine::signals::send(self.child.id(), crate::engine::signals::Kill::Interrupt) {
                    let _ = self.child.kill();
                }
                None
            }
            Some(deadline) if now >= deadline => {
                let _ = self.child.kill();
                Some(format!(
                    "interrupted; the worker was still inside a call after {:.0} s and was killed",
                    INTERRUPT_GRACE.as_secs_f64()
                ))
            }
            Some(_) => None,
        }
    }

    /// The column, failed for `why` with the worker's last words on stderr.
    fn broken(&mut self, why: String) -> Box<Column> {
        self.stop();
        let mut column = self.column.clone();
        column.error = Some(self.with_stderr(why));
        column.crash = self.crash.clone().map(Box::new);
        Box::new(column)
    }

    /// `why`, with the crashing thread's innermost Python frames if the worker died of a signal,
    /// and its last lines on stderr.
    fn with_stderr(&self, why: String) -> String {
        let why = match self.crash.as_ref().and_then(worker_crash::summary) {
            Some(frames) => format!("{why}, {frames}"),
            None => why,
        };
        let stderr: Vec<String> = self.tail.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect();
        if stderr.is_empty() { why } else { format!("{why}; stderr: {}", stderr.join(" | ")) }
    }

    fn stop(&mut self) {
        self.stdin = None;
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                crate::engine::signals::forget_child(self.child.id());
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        crate::engine::signals::forget_child(self.child.id());
    }
}

impl Lane for WorkerLane {
    fn column(&self) -> &Column {
        &self.column
    }

    fn pid(&self) -> Option<u32> {
        Some(self.child.id())
    }

    fn crash(&self) -> Option<WorkerCrash> {
        self.crash.clone()
    }

    fn report_every(&mut self, every: std::time::Duration) {
        if let Ok(command) = serde_json::to_string(&WorkerCommand::ReportEvery(every)) {
            // A worker that cannot take it fails its next phase, which says why.
            let _ = self.send_line(&command);
        }
    }

    fn stage_timers(&mut self, on: bool) -> Result<Option<String>, String> {
        let command = serde_json::to_string(&WorkerCommand::StageTimers(on)).map_err(|e| e.to_string())?;
        self.send_line(&command).map_err(|why| self.with_stderr(why))?;
        let deadline = Instant::now() + self.stall;
        loop {
            match self.next_event(deadline) {
                Ok(WorkerEvent::StageTimers { text, error: None }) => return Ok(text),
                Ok(WorkerEvent::StageTimers { error: Some(e), .. }) => return Err(e),
                Ok(WorkerEvent::Finished { error }) => {
                    let why = error.unwrap_or_else(|| "worker ended while reading its stage timers".into());
                    let why = self.with_stderr(why);
                    self.stop();
                    return Err(why);
                }
                Ok(_) => {}
                Err(why) => {
                    let why = self.with_stderr(why);
                    self.stop();
                    return Err(why);
                }
            }
        }
    }

    fn run(&mut self, phase: &Phase, observer: &mut dyn PhaseObserver) -> Result<Measured, String> {
        let command = serde_json::to_string(&WorkerCommand::Run(phase.clone())).map_err(|e| e.to_string())?;
        self.send_line(&command).map_err(|why| self.with_stderr(why))?;
        let done = Arc::new(AtomicU64::new(0));
        observer.phase_started(&self.column.label, phase, done.clone());
        // A phase with a deadline may take that long without being stuck.
        let mut deadline = Instant::now() + self.stall + phase.duration.unwrap_or_default();
        let bounded = call_has_total_timeout(phase.op);
        let result = loop {
            match self.next_event(deadline) {
                Ok(WorkerEvent::Progress { done: n }) => {
                    // A call with a total timeout ends within it: no call finishing for the stall
                    // limit (several timeouts) means the worker is stuck. A call without one (a
                    // scan of a big set) may legitimately run longer: while the worker keeps
                    // reporting, it is alive and the client's own socket timeout bounds the call.
                    if done.swap(n, Ordering::Relaxed) != n || !bounded {
                        deadline = Instant::now() + self.stall + phase.duration.unwrap_or_default();
                    }
                }
                Ok(WorkerEvent::Snapshot { recorder }) => observer.snapshot(&recorder),
                Ok(WorkerEvent::Measured { measured }) => {
                    observer.snapshot(&measured.recorder);
                    break Ok(*measured);
                }
                Ok(WorkerEvent::Abandoned { measured }) => {
                    // Its client is stuck inside calls on a server that is gone: the worker
                    // would only end at their timeouts. What it measured is kept.
                    observer.snapshot(&measured.recorder);
                    let _ = self.child.kill();
                    self.stdin = None;
                    break Ok(*measured);
                }
                Ok(WorkerEvent::Finished { error }) => {
                    break Err(error.unwrap_or_else(|| "worker ended in the middle of a phase".into()));
                }
                Ok(WorkerEvent::Connected { .. } | WorkerEvent::StageTimers { .. }) => {}
                Err(why) => break Err(why),
            }
        };
        observer.phase_finished();
        result.map_err(|why| {
            let why = self.with_stderr(why);
            self.stop();
            why
        })
    }
}

impl Drop for WorkerLane {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            let close = serde_json::to_string(&WorkerCommand::Close).unwrap_or_default();
            let _ = self.send_line(&close);
        }
        self.stop();
    }
}
