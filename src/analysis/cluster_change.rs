//! A server that changed under the run: from the cluster states the run read between phases
//! (handed over by the run, see `run::cluster_state`), which cells ran under which state, the
//! notes beside those cells, the warnings, and per column what a node that left cost (failures
//! and recovery, as for a node taken out with `--fail-node`). Which verdicts are withheld is
//! decided in `compare::cluster`.

use std::collections::BTreeSet;

use crate::analysis::node_loss::{self, Interval};
use crate::model::results::{Cell, ClusterHistory, ClusterState, PhaseCluster, PhaseRef, PhaseWindow};

/// Where a change lies on the run's interval clock (seconds): from the read before the last read
/// of the old state, through that last read, to the first read of the new state; and the phase
/// that ran between the first two (a cluster notices a killed node only after its heartbeat
/// timeout, so that phase may have met the loss before the cluster said so).
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub from: f64,
    pub last_seen: f64,
    pub to: f64,
    pub previous_phase: Option<PhaseRef>,
}

/// A state in words: `3 nodes`, `2 nodes, migrating`.
pub fn state_words(state: &ClusterState) -> String {
    let n = state.cluster_size.map_or(state.nodes.len(), |s| s as usize);
    let nodes = if n == 1 { "1 node".to_string() } else { format!("{n} nodes") };
    if state.migrating { format!("{nodes}, migrating") } else { nodes }
}

/// The states a phase met, in words: `3 nodes`, or `3 nodes → 2 nodes` when it changed.
pub fn span_words(span: PhaseCluster, states: &[ClusterState]) -> String {
    let words = |i: u32| states.get(i as usize).map_or_else(|| format!("state {i}"), state_words);
    if span.steady() { words(span.before) } else { format!("{} → {}", words(span.before), words(span.after)) }
}

/// A change in words: which nodes left or joined and what the cluster was before and after.
pub fn change_words(history: &ClusterHistory, index: usize) -> String {
    let Some(c) = history.changes.get(index) else { return String::new() };
    let mut what = Vec::new();
    if !c.left.is_empty() {
        what.push(format!("{} left", c.left.join(", ")));
    }
    if !c.joined.is_empty() {
        what.push(format!("{} joined", c.joined.join(", ")));
    }
    let states = &history.states;
    let (from, to) = (states.get(c.from as usize), states.get(c.to as usize));
    let (Some(from), Some(to)) = (from, to) else { return what.join(", ") };
    if what.is_empty() {
        what.push(if to.migrating { "migrations began" } else { "migrations ended" }.to_string());
    }
    format!("{} ({} → {})", what.join(", "), state_words(from), state_words(to))
}

/// Adds a note to every cell whose rounds did not all run under the run's first state: which
/// rounds ran under which state, and which met a change while they ran.
pub fn note_cells(cells: &mut [Cell], phases: &[PhaseWindow], history: &ClusterHistory) {
    if history.states.len() < 2 {
        return;
    }
    for cell in cells.iter_mut() {
        let spans: Vec<(u32, PhaseCluster)> = phases
            .iter()
            .filter(|p| p.column == cell.column && p.operation == cell.operation)
            .filter_map(|p| p.cluster.map(|s| (p.round, s)))
            .collect();
        if spans.iter().all(|(_, s)| s.steady() && s.before == 0) {
            continue;
        }
        let parts: Vec<String> = spans
            .iter()
            .map(|(round, s)| {
                let how = if s.steady() { "on" } else { "while the cluster changed:" };
                format!("round {round} {how} {}", span_words(*s, &history.states))
            })
            .collect();
        cell.notes.push(format!("the cluster changed during the run: {}", parts.join("; ")));
    }
}

/// What a reader must know about the changes: one warning per change, and one saying that
/// verdicts between cells under different states are withheld.
pub fn warnings(history: &ClusterHistory, label: impl Fn(&str) -> String) -> Vec<String> {
    let mut out = Vec::new();
    for (i, c) in history.changes.iter().enumerate() {
        let when = match &c.during {
            Some(p) if p.round == 0 => format!("during the {} warm-up of {}", p.operation, label(&p.column)),
            Some(p) => format!("during {} round {} of {}", p.operation, p.round, label(&p.column)),
            None => "between phases".to_string(),
        };
        out.push(format!(
            "the cluster changed during the run: {} between {} and {} ({when})",
            change_words(history, i),
            c.last_seen_before,
            c.seen_at
        ));
    }
    if !history.changes.is_empty() {
        out.push(
            "cells measured under different cluster states, or while it changed, are not compared: their verdicts \
             are withheld (the cells' notes say which rounds ran under which state)"
                .to_string(),
        );
    }
    if history.failed_reads > 0 {
        out.push(format!(
            "{} of {} reads of the cluster's state between phases found no node answering: a change then may \
             have gone unseen",
            history.failed_reads, history.reads
        ));
    }
    out
}

/// Fills in, for every change where nodes left, when failures began (from the interval lines:
/// the first failed call in its window, else the window's start) and
/// each of `columns` through the loss, until a later read showed those nodes again. `windows`
/// are the changes' windows on the interval clock: from the read before the last read of the old
/// state (a cluster notices a killed node only after its heartbeat timeout: the phase before the
/// one the change was seen after may have met it) to the first read of the new one.
///
/// When the first failure came before the last read of the old state, the phase that ran before
/// that read met the loss too: its `cluster.after` becomes the new state (so its cells are
/// compared with nothing under another state), and the change's `failures_began_during` names it.
pub fn recovery(
    history: &mut ClusterHistory,
    windows: &[Window],
    intervals: &[Interval],
    columns: &[String],
    phases: &mut [PhaseWindow],
) {
    let count = history.changes.len().min(windows.len());
    for i in 0..count {
        if history.changes[i].left.is_empty() {
            continue;
        }
        let Window { from, last_seen, to, previous_phase } = &windows[i];
        let (from, to) = (*from, *to);
        let first = node_loss::first_failure(intervals, from, to);
        if let (Some(t), Some(p)) = (first, previous_phase)
            && t < *last_seen
        {
            let change = &history.changes[i];
            let (old, new) = (change.from, change.to);
            for w in
                phases.iter_mut().filter(|w| w.column == p.column && w.operation == p.operation && w.round == p.round)
            {
                if let Some(span) = w.cluster.as_mut().filter(|s| s.before == old) {
                    span.after = new;
                }
            }
            history.changes[i].failures_began_during = Some(p.clone());
        }
        let at = first.unwrap_or(from);
        let gone: BTreeSet<&String> = history.changes[i].left.iter().collect();
        // Back when a later state lists every node that left.
        let back = (i + 1..count)
            .find(|&j| {
                let nodes = &history.states[history.changes[j].to as usize].nodes;
                gone.iter().all(|n| nodes.contains(n))
            })
            .map(|j| windows[j].to);
        let recovered = node_loss::disappearance(at, back, intervals, columns);
        history.changes[i].at_secs = Some(at);
        history.changes[i].columns = recovered;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::results::{ClusterChange, PhaseRef};

    fn state(nodes: &[&str], migrating: bool) -> ClusterState {
        ClusterState {
            nodes: nodes.iter().map(|n| n.to_string()).collect(),
            cluster_size: Some(nodes.len() as u32),
            migrating,
        }
    }

    pub(crate) fn history() -> ClusterHistory {
        ClusterHistory {
            states: vec![state(&["A1", "A2", "A3"], false), state(&["A1", "A2"], true), state(&["A1", "A2"], false)],
            changes: vec![
                ClusterChange {
                    from: 0,
                    to: 1,
                    last_seen_before: "t1".into(),
                    seen_at: "t2".into(),
                    during: Some(PhaseRef { column: "a".into(), operation: "get".into(), round: 1 }),
                    failures_began_during: None,
                    left: vec!["A3".into()],
                    joined: Vec::new(),
                    migrate_partitions_remaining: Some(900),
                    at_secs: None,
                    columns: Vec::new(),
                },
                ClusterChange {
                    from: 1,
                    to: 2,
                    last_seen_before: "t3".into(),
                    seen_at: "t4".into(),
                    during: None,
                    failures_began_during: None,
                    left: Vec::new(),
                    joined: Vec::new(),
                    migrate_partitions_remaining: Some(0),
                    at_secs: None,
                    columns: Vec::new(),
                },
            ],
            reads: 9,
            failed_reads: 0,
            resolution_secs: Some(0.1),
        }
    }

    #[test]
    fn changes_and_states_are_put_in_words() {
        let h = history();
        assert_eq!(change_words(&h, 0), "A3 left (3 nodes → 2 nodes, migrating)");
        assert_eq!(change_words(&h, 1), "migrations ended (2 nodes, migrating → 2 nodes)");
        let w = warnings(&h, |id| format!("<{id}>"));
        assert!(w[0].contains("A3 left") && w[0].contains("during get round 1 of <a>"), "{w:?}");
        assert!(w[0].contains("between t1 and t2"), "{w:?}");
        assert!(w.iter().any(|l| l.contains("withheld")), "{w:?}");
    }

    #[test]
    fn cells_that_left_the_first_state_are_noted() {
        let h = history();
        let mut cells = vec![
            crate::test_support::cell("a", "get", 10.0, 1000.0),
            crate::test_support::cell("b", "get", 10.0, 1000.0),
        ];
        let phase = |column: &str, round, before, after| PhaseWindow {
            round,
            operation: "get".into(),
            column: column.into(),
            started_at: String::new(),
            finished_at: String::new(),
            cluster: Some(PhaseCluster { before, after }),
        };
        let phases = [phase("b", 1, 0, 0), phase("a", 1, 0, 1), phase("a", 2, 2, 2), phase("b", 2, 2, 2)];
        let before: Vec<usize> = cells.iter().map(|c| c.notes.len()).collect();
        note_cells(&mut cells, &phases, &h);
        let a = cells[0].notes.last().unwrap();
        assert!(a.contains("round 1 while the cluster changed: 3 nodes → 2 nodes, migrating"), "{a}");
        assert!(a.contains("round 2 on 2 nodes"), "{a}");
        assert_eq!(cells[1].notes.len(), before[1] + 1, "b's round 2 ran on 2 nodes");
    }

    #[test]
    fn a_node_that_left_gets_failures_and_recovery_per_column() {
        let mut h = history();
        let lines = vec![
            Interval { column: "a".into(), start_secs: 1.0, end_secs: 1.1, errors: 0 },
            Interval { column: "a".into(), start_secs: 1.5, end_secs: 1.6, errors: 4 },
            Interval { column: "b".into(), start_secs: 3.0, end_secs: 3.1, errors: 1 },
        ];
        let window = |from, last_seen, to| Window {
            from,
            last_seen,
            to,
            previous_phase: Some(PhaseRef { column: "a".into(), operation: "get".into(), round: 1 }),
        };
        let steady = |column: &str| PhaseWindow {
            round: 1,
            operation: "get".into(),
            column: column.into(),
            started_at: String::new(),
            finished_at: String::new(),
            cluster: Some(PhaseCluster { before: 0, after: 0 }),
        };
        let mut phases = vec![steady("a"), steady("b")];
        recovery(
            &mut h,
            &[window(0.5, 1.0, 2.0), window(2.5, 2.5, 2.6)],
            &lines,
            &["a".into(), "b".into()],
            &mut phases,
        );
        assert_eq!(h.changes[0].at_secs, Some(1.5), "failures began at 1.5, after the read at 1.0");
        assert!(h.changes[0].failures_began_during.is_none());
        assert_eq!(phases[0].cluster, Some(PhaseCluster { before: 0, after: 0 }), "a's phase ended before the loss");
        // Failures before the last read of the old state: the phase before met the loss too.
        let mut h = history();
        recovery(&mut h, &[window(0.5, 1.6, 2.0)], &lines, &["a".into(), "b".into()], &mut phases);
        assert_eq!(h.changes[0].failures_began_during.as_ref().map(|p| p.column.as_str()), Some("a"));
        assert_eq!(phases[0].cluster, Some(PhaseCluster { before: 0, after: 1 }), "a's phase met the change");
        assert_eq!(phases[1].cluster, Some(PhaseCluster { before: 0, after: 0 }), "b's did not");
        let cols = &h.changes[0].columns;
        assert_eq!((cols[0].failures, cols[1].failures), (4, 1));
        assert!(h.changes[1].columns.is_empty(), "no node left in the second change");
    }
}
