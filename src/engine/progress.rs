//! Progress on stderr: one bar for the whole run (phases done, the phase running now and its
//! calls), and spinners for set-up work. The only place that knows indicatif styles. Hidden with
//! `--quiet` or when stderr is not a terminal; the hot path never touches the bar (a ticker
//! thread reads the phase's counter).

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressStyle};

use std::sync::atomic::{AtomicBool, AtomicU64};

use crate::engine::{Phase, PhaseObserver};

/// True when progress should be drawn: not quiet, and stderr is a terminal.
pub fn enabled(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// A spinner for set-up work (starting a server, installing a package).
pub fn spinner(show: bool, message: String) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let s = ProgressBar::new_spinner();
    s.set_draw_target(ProgressDrawTarget::stderr());
    s.set_message(message);
    s.enable_steady_tick(Duration::from_millis(100));
    s
}

/// A thread that runs `tick` now and then every `period` until dropped; dropping it wakes the
/// thread at once, so whoever waits for it never waits for a period.
pub struct Ticker {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Ticker {
    pub fn every(period: Duration, mut tick: impl FnMut() + Send + 'static) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                tick();
                std::thread::park_timeout(period);
            }
        });
        Ticker { stop, handle: Some(handle) }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            handle.thread().unpark();
            let _ = handle.join();
        }
    }
}

/// One progress bar for the whole run on the terminal: position = phases done, and the phase
/// that runs now (round, operation, column, calls done) as its message.
pub struct RunProgress {
    bar: ProgressBar,
    round: String,
    ticker: Option<Ticker>,
    /// The rounds end when the verdicts settle: the length is the most that may still run.
    at_most: bool,
}

impl RunProgress {
    pub fn new(show: bool, phases: u64) -> RunProgress {
        RunProgress::with_length(show, phases, false)
    }

    /// A run whose rounds end when its verdicts settle (`--stop settled`): `phases` is the most
    /// it may run, lowered with [`RunProgress::at_most`] as cells settle.
    pub fn until_settled(show: bool, phases: u64) -> RunProgress {
        RunProgress::with_length(show, phases, true)
    }

    fn with_length(show: bool, phases: u64, at_most: bool) -> RunProgress {
        let template = if at_most {
            "{bar:24} {pos} of at most {len} phases  {msg}"
        } else {
            "{bar:24} {pos}/{len} phases  {msg}"
        };
        let bar = if show {
            let bar = ProgressBar::with_draw_target(Some(phases), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        RunProgress { bar, round: String::new(), ticker: None, at_most }
    }

    /// Says which round runs (0 is the warm-up).
    pub fn set_round(&mut self, round: u32, rounds: u32) {
        self.round = match round {
            0 => "warm-up".into(),
            _ if self.at_most => format!("round {round} (at most {rounds})"),
            _ => format!("round {round}/{rounds}"),
        };
    }

    /// At most `phases` more phases will run (cells settled, or the budget is near).
    pub fn at_most(&self, phases: u64) {
        self.bar.set_length(self.bar.position() + phases);
    }

    pub fn finish(mut self) {
        self.ticker = None;
        self.bar.finish_and_clear();
    }
}

impl PhaseObserver for RunProgress {
    fn phase_started(&mut self, column: &str, phase: &Phase, done: Arc<AtomicU64>) {
        self.ticker = None;
        if self.bar.is_hidden() {
            return;
        }
        let prefix = format!("{} · {} · {column}", self.round, phase.op.name());
        let total = if phase.duration.is_some() { None } else { Some(phase.calls) };
        let bar = self.bar.clone();
        self.ticker = Some(Ticker::every(Duration::from_millis(100), move || {
            let n = done.load(Ordering::Relaxed);
            bar.set_message(match total {
                Some(t) => format!("{prefix}: {}/{}", HumanCount(n), HumanCount(t)),
                None => format!("{prefix}: {}", HumanCount(n)),
            });
        }));
    }

    fn phase_finished(&mut self) {
        self.ticker = None;
        self.bar.inc(1);
    }
}
