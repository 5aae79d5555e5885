//! Progress bars: one per measured phase on stderr, with calls/s and ETA. The only place that
//! knows indicatif styles. Hidden with `--quiet` or when stderr is not a terminal; the hot path
//! never touches the bar (a ticker thread reads the phase's counter).

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use std::sync::atomic::AtomicU64;

use crate::engine::PhaseObserver;
use crate::workload::Operation;

/// True when progress should be drawn: not quiet, and stderr is a terminal.
pub fn enabled(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

pub struct PhaseBar {
    bar: ProgressBar,
    ticker: Option<JoinHandle<()>>,
    done: Option<Arc<AtomicU64>>,
}

impl PhaseBar {
    pub fn start(show: bool, column: &str, op: &str, calls: u64, done: Arc<AtomicU64>) -> PhaseBar {
        if !show {
            return PhaseBar { bar: ProgressBar::hidden(), ticker: None, done: None };
        }
        let bar = ProgressBar::with_draw_target(Some(calls), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{prefix:>28} {msg:<10} [{bar:30}] {human_pos}/{human_len} {rate} ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .with_key("rate", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{}/s", HumanCount(state.per_sec() as u64));
                })
                .progress_chars("=> "),
        );
        bar.set_prefix(column.to_string());
        bar.set_message(op.to_string());
        let (b, d) = (bar.clone(), done.clone());
        let ticker = std::thread::spawn(move || {
            while !b.is_finished() {
                b.set_position(d.load(Ordering::Relaxed));
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        PhaseBar { bar, ticker: Some(ticker), done: Some(done) }
    }

    pub fn finish(mut self) {
        if let Some(d) = &self.done {
            self.bar.set_position(d.load(Ordering::Relaxed));
        }
        self.bar.finish_and_clear();
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
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

/// Progress bars on the terminal, one per measured phase.
pub struct TerminalProgress {
    show: bool,
    current: Option<PhaseBar>,
}

impl TerminalProgress {
    pub fn new(show: bool) -> TerminalProgress {
        TerminalProgress { show, current: None }
    }
}

impl PhaseObserver for TerminalProgress {
    fn phase_started(&mut self, column: &str, op: Operation, calls: u64, done: Arc<AtomicU64>) {
        self.phase_finished();
        self.current = Some(PhaseBar::start(self.show, column, op.name(), calls, done));
    }

    fn phase_finished(&mut self) {
        if let Some(bar) = self.current.take() {
            bar.finish();
        }
    }
}
