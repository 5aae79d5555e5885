//! Progress bars: one per measured phase on stderr, with calls/s and ETA. The only place that
//! knows indicatif styles. Hidden with `--quiet` or when stderr is not a terminal; the hot path
//! never touches the bar (a ticker thread reads the phase's counter).

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::closed_loop::PhaseState;

/// True when progress should be drawn: not quiet, and stderr is a terminal.
pub fn enabled(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

pub struct PhaseBar {
    bar: ProgressBar,
    ticker: Option<JoinHandle<()>>,
    state: Option<Arc<PhaseState>>,
}

impl PhaseBar {
    pub fn start(show: bool, column: &str, op: &str, calls: u64, state: Arc<PhaseState>) -> PhaseBar {
        if !show {
            return PhaseBar { bar: ProgressBar::hidden(), ticker: None, state: None };
        }
        let bar = ProgressBar::with_draw_target(Some(calls), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{prefix:>28} {msg:<10} [{bar:30}] {pos}/{len} {per_sec} ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(column.to_string());
        bar.set_message(op.to_string());
        let (b, s) = (bar.clone(), state.clone());
        let ticker = std::thread::spawn(move || {
            while !b.is_finished() {
                b.set_position(s.done.load(Ordering::Relaxed));
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        PhaseBar { bar, ticker: Some(ticker), state: Some(state) }
    }

    pub fn finish(mut self) {
        if let Some(s) = &self.state {
            self.bar.set_position(s.done.load(Ordering::Relaxed));
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
