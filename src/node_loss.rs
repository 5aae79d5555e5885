//! A node lost on purpose (`--fail-node` with the built-in cluster): the run's interval lines are
//! kept in memory (beside any the user asked for with `--interval`/`--live`), and when the run
//! ends, each column's failures while the node was out and after it returned, and how long until
//! its calls stopped failing, are read from them.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::live::{IntervalLine, Live};
use crate::results::{ColumnRecovery, NodeLoss};

/// Interval length when the user asked for no live output: the resolution of recovery times.
pub const RESOLUTION: Duration = Duration::from_millis(100);

/// The loss being watched and the lines that show it.
pub struct Watch {
    node: u16,
    /// When the node leaves, from the live output's start (negative: before it).
    at_secs: f64,
    for_secs: f64,
    every: Duration,
    lines: Arc<Mutex<Vec<u8>>>,
}

/// Writes every line to the kept buffer and to the user's live output, if any.
struct Keep {
    lines: Arc<Mutex<Vec<u8>>>,
    user: Option<Box<dyn Write + Send>>,
}

impl Write for Keep {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
        if let Some(user) = &mut self.user {
            // A reader of the user's output that went away must not stop the watch.
            let _ = user.write_all(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if let Some(user) = &mut self.user {
            let _ = user.flush();
        }
        Ok(())
    }
}

impl Watch {
    /// Makes the live output of a run whose server (started at `server_started`) takes `node`
    /// out `at` after it started, for `length`: the user's (`every`, `out`) if asked for, else
    /// [`RESOLUTION`] intervals kept in memory only.
    pub fn start(
        node: u16,
        at: Duration,
        length: Duration,
        server_started: Instant,
        user: Option<(Duration, Box<dyn Write + Send>)>,
    ) -> (Watch, Live) {
        let (every, out) = match user {
            Some((every, out)) => (every, Some(out)),
            None => (RESOLUTION, None),
        };
        let lines = Arc::new(Mutex::new(Vec::new()));
        let created = Instant::now();
        let live = Live::new(every, Box::new(Keep { lines: lines.clone(), user: out }));
        let at_secs = at.as_secs_f64() - created.saturating_duration_since(server_started).as_secs_f64();
        (Watch { node, at_secs, for_secs: length.as_secs_f64(), every, lines }, live)
    }

    /// What each of `columns` (ids, in report order) went through.
    pub fn summary(&self, columns: &[String]) -> NodeLoss {
        let text = String::from_utf8_lossy(&self.lines.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
        let intervals: Vec<IntervalLine> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<IntervalLine>(l).ok())
            .filter(|l| l.kind == "interval")
            .collect();
        summarize(self.node, self.at_secs, self.for_secs, self.every.as_secs_f64(), &intervals, columns)
    }
}

/// Reads the loss of `node` from `at` for `length` seconds out of `intervals`.
pub fn summarize(
    node: u16,
    at: f64,
    length: f64,
    resolution: f64,
    intervals: &[IntervalLine],
    columns: &[String],
) -> NodeLoss {
    let back = at + length;
    let columns = columns
        .iter()
        .map(|id| {
            let mine = || intervals.iter().filter(move |l| &l.column == id);
            let during: Vec<&IntervalLine> = mine().filter(|l| l.end_secs > at && l.start_secs < back).collect();
            let after: Vec<&IntervalLine> = mine().filter(|l| l.start_secs >= back).collect();
            let last_failure = |ls: &[&IntervalLine], from: f64| {
                ls.iter()
                    .filter(|l| l.errors > 0)
                    .map(|l| l.end_secs - from)
                    .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.max(t))))
            };
            ColumnRecovery {
                column: id.clone(),
                ran_during_loss: !during.is_empty(),
                failures: during.iter().map(|l| l.errors).sum(),
                recovery_secs: last_failure(&during, at).map(|t| t.max(0.0)),
                ran_after_return: !after.is_empty(),
                failures_after_return: after.iter().map(|l| l.errors).sum(),
                recovery_after_return_secs: last_failure(&after, back).map(|t| t.max(0.0)),
            }
        })
        .collect();
    NodeLoss { node, at_secs: at, for_secs: length, resolution_secs: resolution, columns }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(column: &str, start: f64, errors: u64) -> IntervalLine {
        IntervalLine {
            kind: "interval".into(),
            column: column.into(),
            operation: "get".into(),
            round: 1,
            start_secs: start,
            end_secs: start + 0.1,
            ops: 100,
            errors,
            ops_per_sec: 1000.0,
            p50_us: 1.0,
            p99_us: 1.0,
            max_us: 1.0,
            histogram: String::new(),
        }
    }

    #[test]
    fn failures_and_recovery_are_read_from_the_intervals() {
        let mut lines = Vec::new();
        // "a" runs throughout: fails from 2.0 to 2.4 (node out at 2.0 for 1.0), and once just
        // after the node returns; "b" ran only before the loss.
        for i in 0..40 {
            let t = f64::from(i) / 10.0;
            let errors = match i {
                20..=23 => 5,
                31 => 2,
                _ => 0,
            };
            lines.push(line("a", t, errors));
        }
        lines.push(line("b", 0.5, 0));
        let cols = ["a".to_string(), "b".to_string(), "c".to_string()];
        let loss = summarize(2, 2.0, 1.0, 0.1, &lines, &cols);
        let a = &loss.columns[0];
        assert!(a.ran_during_loss && a.ran_after_return);
        assert_eq!(a.failures, 20);
        assert!((a.recovery_secs.unwrap() - 0.4).abs() < 1e-9, "{a:?}");
        assert_eq!(a.failures_after_return, 2);
        assert!((a.recovery_after_return_secs.unwrap() - 0.2).abs() < 1e-9, "{a:?}");
        let b = &loss.columns[1];
        assert!(!b.ran_during_loss && !b.ran_after_return);
        assert_eq!((b.failures, b.recovery_secs), (0, None));
        assert_eq!(loss.columns[2].column, "c");
    }

    #[test]
    fn kept_lines_reach_the_users_output_too() {
        let user = Arc::new(Mutex::new(Vec::new()));
        struct Shared(Arc<Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let started = Instant::now();
        let (watch, _live) = Watch::start(
            2,
            Duration::from_secs(5),
            Duration::from_secs(1),
            started,
            Some((Duration::from_secs(1), Box::new(Shared(user.clone())))),
        );
        assert!(watch.at_secs <= 5.0 && watch.at_secs > 4.0, "{}", watch.at_secs);
        let mut keep = Keep { lines: watch.lines.clone(), user: Some(Box::new(Shared(user.clone()))) };
        let text = serde_json::to_string(&line("a", 5.0, 3)).unwrap() + "\n";
        keep.write_all(text.as_bytes()).unwrap();
        assert_eq!(*user.lock().unwrap(), text.as_bytes());
        let loss = watch.summary(&["a".into()]);
        assert_eq!(loss.columns[0].failures, 3);
        assert_eq!(loss.resolution_secs, 1.0);
    }
}
