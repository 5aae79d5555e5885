//! A node lost on purpose in every measured phase (`--builtin-server --nodes N --fail-node`):
//! `--fail-at` into each column's phase, aerobench asks the built-in cluster to take the node out
//! for `--fail-for` (info `aerobench-fail-node`), so every client meets the same loss mid-phase.
//! The run's interval lines are kept in memory (beside any the user asked for with
//! `--interval`/`--live`), and when the run ends they are handed, with the losses made, to
//! `analysis/node_loss.rs`, which reads each column's failures and recovery from them.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::analysis::node_loss::{Interval, summarize};
use crate::model::results::{Loss, NodeLoss};
use crate::report::live::{IntervalLine, Live, PhaseHook};

/// Interval length when the user asked for no live output: the resolution of recovery times.
pub const RESOLUTION: Duration = Duration::from_millis(100);

/// The losses being made and the lines that show them.
pub struct Watch {
    node: u16,
    at: Duration,
    length: Duration,
    every: Duration,
    /// The built-in cluster's seed port, asked to take the node out.
    port: u16,
    /// The LOGIN frame sent first, for a cluster that requires one.
    login: Option<Arc<Vec<u8>>>,
    /// When the live output started: loss times are counted from it, as interval times are.
    started: Instant,
    lines: Arc<Mutex<Vec<u8>>>,
    /// Bumped at every phase event: a loss due in a phase that has ended is not made.
    epoch: Arc<AtomicU64>,
    losses: Arc<Mutex<Vec<Loss>>>,
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

/// Asks the built-in cluster at `port` to take `node` out for `length`, after the `login` frame
/// when the cluster requires one.
fn fail(port: u16, node: u16, length: Duration, login: Option<&[u8]>) -> Result<(), String> {
    let addrs = [std::net::SocketAddr::from(([127, 0, 0, 1], port))];
    let mut s = crate::drivers::wire_cluster::dial(&addrs, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    if let Some(frame) = login {
        crate::drivers::wire_login::login(&mut s, frame).map_err(|e| e.to_string())?;
    }
    let command = format!("aerobench-fail-node:node={node};for_ms={}", length.as_millis());
    let reply = crate::drivers::wire_cluster::info(&mut s, &[&command])?;
    match reply.first() {
        Some((_, v)) if v == "ok" => Ok(()),
        other => Err(format!("the server answered {other:?}")),
    }
}

impl Watch {
    /// Makes the live output of a run against the built-in cluster at `port` that takes `node`
    /// out `at` into every measured phase, for `length`: the user's (`every`, `out`) if asked
    /// for, else [`RESOLUTION`] intervals kept in memory only. The returned watch is also the
    /// live output's phase hook.
    pub fn start(
        node: u16,
        at: Duration,
        length: Duration,
        port: u16,
        login: Option<Vec<u8>>,
        user: Option<(Duration, Box<dyn Write + Send>)>,
    ) -> (Arc<Watch>, Live) {
        let (every, out) = match user {
            Some((every, out)) => (every, Some(out)),
            None => (RESOLUTION, None),
        };
        let lines = Arc::new(Mutex::new(Vec::new()));
        let started = Instant::now();
        let live = Live::new(every, Box::new(Keep { lines: lines.clone(), user: out }));
        let watch = Arc::new(Watch {
            node,
            at,
            length,
            every,
            port,
            login: login.map(Arc::new),
            started,
            lines,
            epoch: Arc::new(AtomicU64::new(0)),
            losses: Arc::new(Mutex::new(Vec::new())),
        });
        (watch.clone(), live.with_hook(watch))
    }

    /// What each of `columns` (ids, in report order) went through.
    pub fn summary(&self, columns: &[String]) -> NodeLoss {
        let text = String::from_utf8_lossy(&self.lines.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
        let intervals: Vec<Interval> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<IntervalLine>(l).ok())
            .filter(|l| l.kind == "interval")
            .map(|l| Interval { column: l.column, start_secs: l.start_secs, end_secs: l.end_secs, errors: l.errors })
            .collect();
        let losses = self.losses.lock().unwrap_or_else(|e| e.into_inner()).clone();
        summarize(
            self.node,
            self.at.as_secs_f64(),
            self.length.as_secs_f64(),
            self.every.as_secs_f64(),
            losses,
            &intervals,
            columns,
        )
    }
}

impl PhaseHook for Watch {
    fn started(&self, column: &str, operation: &str, round: u32) {
        let epoch = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        if round == 0 {
            return; // warm-ups meet no loss
        }
        let (port, node, at, length, started) = (self.port, self.node, self.at, self.length, self.started);
        let login = self.login.clone();
        let (current, losses) = (self.epoch.clone(), self.losses.clone());
        let (column, operation) = (column.to_string(), operation.to_string());
        std::thread::spawn(move || {
            std::thread::sleep(at);
            if current.load(Ordering::SeqCst) != epoch {
                return; // the phase ended first
            }
            let at_secs = started.elapsed().as_secs_f64();
            let loss = Loss {
                column,
                operation,
                round,
                at_secs,
                error: fail(port, node, length, login.as_deref().map(Vec::as_slice)).err(),
            };
            losses.lock().unwrap_or_else(|e| e.into_inner()).push(loss);
        });
    }

    fn finished(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }
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

    fn loss(column: &str, at_secs: f64) -> Loss {
        Loss { column: column.into(), operation: "get".into(), round: 1, at_secs, error: None }
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
        let (watch, _live) = Watch::start(
            2,
            Duration::from_secs(5),
            Duration::from_secs(1),
            1,
            None,
            Some((Duration::from_secs(1), Box::new(Shared(user.clone())))),
        );
        let mut keep = Keep { lines: watch.lines.clone(), user: Some(Box::new(Shared(user.clone()))) };
        let text = serde_json::to_string(&line("a", 5.0, 3)).unwrap() + "\n";
        keep.write_all(text.as_bytes()).unwrap();
        assert_eq!(*user.lock().unwrap(), text.as_bytes());
        watch.losses.lock().unwrap().push(loss("a", 5.0));
        let report = watch.summary(&["a".into()]);
        assert_eq!(report.columns[0].failures, 3);
        assert_eq!(report.resolution_secs, 1.0);
    }

    #[test]
    fn a_loss_due_after_its_phase_ended_is_not_made() {
        let (watch, _live) = Watch::start(2, Duration::from_millis(50), Duration::from_secs(1), 1, None, None);
        watch.started("a", "get", 1);
        watch.finished();
        std::thread::sleep(Duration::from_millis(200));
        assert!(watch.losses.lock().unwrap().is_empty());
        // A warm-up meets no loss either; a measured phase still running does (here the server
        // is not there, so the attempt is listed with its error).
        watch.started("a", "get", 0);
        std::thread::sleep(Duration::from_millis(200));
        assert!(watch.losses.lock().unwrap().is_empty());
        watch.started("a", "get", 1);
        std::thread::sleep(Duration::from_millis(300));
        let losses = watch.losses.lock().unwrap().clone();
        assert_eq!(losses.len(), 1);
        assert!(losses[0].error.is_some());
    }
}
