//! The hidden `aerobench worker` subcommand: keeps one embedded-Python column connected in its
//! own process, so a crash, a leaked runtime thread or a process-wide side effect of one client
//! (uvloop installing itself, say) cannot touch another's numbers. It reads a [`WorkerSpec`] as
//! the first JSON line on stdin, then one [`WorkerCommand`] per line, and answers with
//! [`WorkerEvent`]s as JSON lines on stdout. It knows no schedule: it runs the phase it is told
//! to run and reports what it measured.

use std::io::{BufRead as _, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;

use crate::drivers::python::{PythonDriver, WorkerSpec};
use crate::drivers::python_worker::{WorkerCommand, WorkerEvent};
use crate::engine::progress::Ticker;
use crate::engine::{self, Driver as _, Phase, PhaseObserver};

/// Writes events, one JSON line each, from the main thread and the progress ticker.
#[derive(Clone)]
struct Events(Arc<Mutex<std::io::Stdout>>);

impl Events {
    fn send(&self, event: &WorkerEvent) {
        if let Ok(line) = serde_json::to_string(event) {
            let out = self.0.lock().unwrap_or_else(|e| e.into_inner());
            let mut out = out.lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }
}

/// Reports progress to the parent every 200 ms while a phase runs.
struct EventObserver {
    events: Events,
    ticker: Option<Ticker>,
    /// With `ReportEvery`: how often to send what the phase recorded so far, and the ticker that does.
    report_every: Option<Duration>,
    snapshots: Option<Ticker>,
    /// The phase running, for abandoning it when its calls are stuck after the watchdog tripped.
    phase: Option<Phase>,
    abandoner: Option<Ticker>,
}

/// How long a phase the watchdog stopped may wait for calls still inside the client before the
/// worker reports what it measured without them and is killed.
const ABANDON_GRACE: Duration = Duration::from_millis(300);

impl PhaseObserver for EventObserver {
    fn phase_started(&mut self, _column: &str, phase: &Phase, done: Arc<AtomicU64>) {
        self.phase = Some(phase.clone());
        let events = self.events.clone();
        self.ticker = Some(Ticker::every(Duration::from_millis(200), move || {
            events.send(&WorkerEvent::Progress { done: done.load(Ordering::Relaxed) });
        }));
    }

    fn phase_finished(&mut self) {
        self.ticker = None;
        self.snapshots = None;
        self.abandoner = None;
    }

    fn phase_state(&mut self, state: &Arc<engine::closed_loop::PhaseState>) {
        if let Some(phase) = self.phase.clone() {
            let (events, state, started) = (self.events.clone(), state.clone(), std::time::Instant::now());
            let mut tripped: Option<std::time::Instant> = None;
            let mut sent = false;
            self.abandoner = Some(Ticker::every(Duration::from_millis(50), move || {
                if sent || !state.watchdog.tripped() {
                    return;
                }
                let since = *tripped.get_or_insert_with(std::time::Instant::now);
                if since.elapsed() >= ABANDON_GRACE {
                    let measured = engine::abandoned(&phase, &state, started.elapsed());
                    events.send(&WorkerEvent::Abandoned { measured: Box::new(measured) });
                    sent = true;
                }
            }));
        }
        let Some(every) = self.report_every else { return };
        let (events, state) = (self.events.clone(), state.clone());
        self.snapshots = Some(Ticker::every(every, move || {
            events.send(&WorkerEvent::Snapshot { recorder: Box::new(state.merged()) });
        }));
    }
}

/// The worker's main: read the spec, connect, run each phase asked for, report.
pub fn run() -> anyhow::Result<i32> {
    let mut stdin = std::io::stdin().lock();
    let mut line = String::new();
    stdin.read_line(&mut line).context("reading the worker spec from stdin")?;
    let spec: WorkerSpec = serde_json::from_str(&line).context("the worker spec is not valid JSON")?;
    // Ctrl-C reaches the whole process group: stop at the next call and report what was measured;
    // the parent tells the user.
    let _ = ctrlc::set_handler(engine::stop::interrupt);
    // A crash (a client's C code, say) leaves the stacks of every thread for the parent to report.
    crate::drivers::embedded::initialize();
    if let Err(e) = crate::drivers::worker_crash::arm() {
        eprintln!("aerobench worker: no crash report: {e:#}");
    }
    let events = Events(Arc::new(Mutex::new(std::io::stdout())));
    let mut driver = match PythonDriver::connect(&spec) {
        Ok(d) => d,
        Err(e) => {
            events.send(&WorkerEvent::Finished { error: Some(format!("{e:#}")) });
            return Ok(0);
        }
    };
    events.send(&WorkerEvent::Connected { column: Box::new(driver.column().clone()) });
    engine::stop::watch_server(&spec.host, spec.port);
    let mut observer = EventObserver {
        events: events.clone(),
        ticker: None,
        report_every: None,
        snapshots: None,
        phase: None,
        abandoner: None,
    };
    loop {
        line.clear();
        if stdin.read_line(&mut line).unwrap_or(0) == 0 {
            break; // the parent is gone
        }
        match serde_json::from_str::<WorkerCommand>(&line) {
            Ok(WorkerCommand::Run(phase)) => {
                let measured = engine::measure(&mut driver, &phase, &mut observer);
                events.send(&WorkerEvent::Measured { measured: Box::new(measured) });
            }
            Ok(WorkerCommand::ReportEvery(every)) => observer.report_every = Some(every),
            Ok(WorkerCommand::StageTimers(on)) => {
                let event = match driver.stage_timers(on) {
                    Ok(text) => WorkerEvent::StageTimers { text, error: None },
                    Err(e) => WorkerEvent::StageTimers { text: None, error: Some(format!("{e:#}")) },
                };
                events.send(&event);
            }
            Ok(WorkerCommand::Close) => break,
            Err(e) => {
                events.send(&WorkerEvent::Finished { error: Some(format!("bad command from aerobench: {e}")) });
                return Ok(2);
            }
        }
    }
    drop(driver);
    events.send(&WorkerEvent::Finished { error: None });
    Ok(0)
}
