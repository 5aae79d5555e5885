//! The hidden `aerobench worker` subcommand: runs one embedded-Python column in its own process,
//! so a crash, a leaked runtime thread or a process-wide side effect of one client (uvloop
//! installing itself, say) cannot touch another's numbers. It reads a [`WorkerSpec`] as JSON on
//! stdin and writes [`WorkerEvent`]s as JSON lines on stdout; the parent draws progress and
//! merges the cells.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::drivers::Driver as _;
use crate::drivers::python::PythonDriver;
use crate::engine::{self, PhaseObserver};
use crate::results::{Cell, Column};
use crate::workload::{Operation, Workload};

/// Everything a worker needs to run its column.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerSpec {
    /// Column kind (`--clients` name), used as the column id.
    pub kind: String,
    pub label: String,
    /// Distribution name, e.g. `aerospike-py`.
    pub client: String,
    /// Shim module adapting the client.
    pub module: String,
    pub asynchronous: bool,
    pub host: String,
    pub port: u16,
    pub workload: Workload,
    pub ops: Vec<Operation>,
    pub in_flight: u32,
    pub timeout_ms: u64,
    pub patience_ms: u64,
    /// Folders put first on `sys.path`.
    pub dirs: Vec<PathBuf>,
    /// Where the package came from, for the report.
    pub origin: String,
    /// The command that installs the package where the worker looks for it.
    pub install_hint: String,
    /// `asyncio` or `uvloop`.
    pub event_loop: String,
    /// Microseconds each call of the shim's no-op client takes.
    #[serde(default)]
    pub stub_delay_us: u64,
}

/// One line of a worker's stdout.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum WorkerEvent {
    /// The client connected; this is its column.
    Connected { column: Column },
    /// A measured phase started.
    Phase { op: Operation, calls: u64 },
    /// Calls finished so far in the current phase.
    Progress { done: u64 },
    /// The current phase ended.
    PhaseEnd,
    /// A cell is complete (sent as soon as it is, so a later crash cannot lose it).
    Cell { cell: Cell },
    /// The column is over; `error` says why it stopped early, if it did.
    Finished { error: Option<String> },
}

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

/// Reports phases to the parent, with a progress line every 200 ms.
struct EventObserver {
    events: Events,
    ticker: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl PhaseObserver for EventObserver {
    fn phase_started(&mut self, _column: &str, op: Operation, calls: u64, done: Arc<AtomicU64>) {
        self.phase_finished();
        self.events.send(&WorkerEvent::Phase { op, calls });
        let stop = Arc::new(AtomicBool::new(false));
        let (events, s) = (self.events.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                events.send(&WorkerEvent::Progress { done: done.load(Ordering::Relaxed) });
            }
        });
        self.ticker = Some((stop, handle));
    }

    fn phase_finished(&mut self) {
        if let Some((stop, handle)) = self.ticker.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = handle.join();
            self.events.send(&WorkerEvent::PhaseEnd);
        }
    }

    fn cell_finished(&mut self, cell: &Cell) {
        self.events.send(&WorkerEvent::Cell { cell: cell.clone() });
    }
}

/// The worker's main: read the spec, connect, run, report.
pub fn run() -> anyhow::Result<i32> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).context("reading the worker spec from stdin")?;
    let spec: WorkerSpec = serde_json::from_str(&input).context("the worker spec is not valid JSON")?;
    // Ctrl-C reaches the whole process group: stop at the next call and report what was measured;
    // the parent tells the user.
    let _ = ctrlc::set_handler(engine::stop::interrupt);
    let events = Events(Arc::new(Mutex::new(std::io::stdout())));
    let mut driver = match PythonDriver::connect(&spec) {
        Ok(d) => d,
        Err(e) => {
            events.send(&WorkerEvent::Finished { error: Some(format!("{e:#}")) });
            return Ok(0);
        }
    };
    events.send(&WorkerEvent::Connected { column: driver.column().clone() });
    let mut observer = EventObserver { events: events.clone(), ticker: None };
    let outcome = engine::run_column(
        &mut driver,
        &spec.workload,
        &spec.ops,
        Duration::from_millis(spec.patience_ms),
        &mut observer,
    );
    observer.phase_finished();
    drop(driver);
    events.send(&WorkerEvent::Finished { error: outcome.error });
    Ok(0)
}
