//! The "Cluster changes" section (table and markdown) and the header's word on them: every change
//! the run saw between phases (nodes that left or joined, migrations), when, during which phase,
//! how many phases ran under each state, and per column what a node that left cost.

use crate::analysis::cluster_change::{change_words, span_words, state_words};
use crate::model::results::{ColumnRecovery, PhaseCluster, RunReport};

/// `HH:MM:SS` of an RFC 3339 time (the whole text when it has no time).
fn clock(rfc3339: &str) -> &str {
    rfc3339.split_once('T').map_or(rfc3339, |(_, t)| t.get(..8).unwrap_or(t))
}

/// Changes the header names one by one before the rest are counted.
const CHANGES_NAMED: usize = 3;

/// The header's words after the nodes the run started with when the cluster changed: `; during
/// the run A3 left (seen 22:41:07), migrations ended (seen 22:41:30): 2 nodes at the end`.
pub fn header_words(report: &RunReport) -> String {
    let Some(h) = &report.cluster else { return String::new() };
    let Some(last) = h.changes.last() else { return String::new() };
    let Some(state) = h.states.get(last.to as usize) else { return String::new() };
    let mut what: Vec<String> = (0..h.changes.len().min(CHANGES_NAMED))
        .map(|i| {
            let words = change_words(h, i);
            let short = words.split(" (").next().unwrap_or(&words).to_string();
            format!("{short} (seen {})", clock(&h.changes[i].seen_at))
        })
        .collect();
    if h.changes.len() > CHANGES_NAMED {
        what.push(format!("{} more changes", h.changes.len() - CHANGES_NAMED));
    }
    format!("; during the run {}: {} at the end", what.join(", "), state_words(state))
}

fn calls(n: u64) -> String {
    if n == 1 { "1 failed call".into() } else { format!("{n} failed calls") }
}

fn after(t: f64, resolution: f64, event: &str) -> String {
    if t <= resolution { format!("within {resolution:.1} s of {event}") } else { format!("{t:.1} s after {event}") }
}

/// One column's line through a node that left.
fn column_line(label: &str, c: &ColumnRecovery, resolution: f64) -> String {
    let during = match (c.losses, c.recovery_secs) {
        (0, _) => "did not run after the node left".to_string(),
        (_, None) => "no failed call after the node left".to_string(),
        (_, Some(t)) => {
            format!("{}; calls succeeded again {}", calls(c.failures), after(t, resolution, "it met the loss"))
        }
    };
    let returned = match (c.ran_after_return, c.recovery_after_return_secs) {
        (false, _) => String::new(),
        (true, None) => "; none after the node was back".to_string(),
        (true, Some(t)) => format!(
            "; {} after the node was back, the last {}",
            calls(c.failures_after_return),
            after(t, resolution, "its return")
        ),
    };
    format!("{label}: {during}{returned}")
}

/// The section's lines (title first), or none when the cluster did not change.
pub fn lines(report: &RunReport) -> Vec<String> {
    let Some(h) = &report.cluster else { return Vec::new() };
    if h.changes.is_empty() {
        return Vec::new();
    }
    let label = |id: &str| report.columns.iter().find(|c| c.id == id).map_or(id.to_string(), |c| c.label.clone());
    let mut out = vec![format!(
        "Cluster changes — read between phases ({} reads); verdicts between cells under different states are withheld",
        h.reads
    )];
    for (i, c) in h.changes.iter().enumerate() {
        let when = match &c.during {
            Some(p) if p.round == 0 => format!("during the {} warm-up of {}", p.operation, label(&p.column)),
            Some(p) => format!("during {} round {} of {}", p.operation, p.round, label(&p.column)),
            None => "between phases".to_string(),
        };
        let began = match &c.failures_began_during {
            Some(p) => format!(
                "; calls began failing earlier, during {} round {} of {}, before the cluster said so",
                p.operation,
                p.round,
                label(&p.column)
            ),
            None => String::new(),
        };
        let migrations = c
            .migrate_partitions_remaining
            .filter(|&n| n > 0)
            .map(|n| format!("; {n} partitions to migrate"))
            .unwrap_or_default();
        out.push(format!(
            "{}–{} {}, {when}{began}{migrations}",
            clock(&c.last_seen_before),
            clock(&c.seen_at),
            change_words(h, i)
        ));
        let resolution = h.resolution_secs.unwrap_or(0.0);
        for col in &c.columns {
            out.push(format!("   {}", column_line(&label(&col.column), col, resolution)));
        }
    }
    // How many measured phases ran under each state, in the order first met.
    let mut spans: Vec<(PhaseCluster, usize)> = Vec::new();
    for p in report.schedule.iter().flat_map(|s| &s.phases) {
        let Some(span) = p.cluster else { continue };
        match spans.iter_mut().find(|(s, _)| *s == span) {
            Some((_, n)) => *n += 1,
            None => spans.push((span, 1)),
        }
    }
    if !spans.is_empty() {
        let parts: Vec<String> = spans
            .iter()
            .map(|(s, n)| {
                let what = if s.steady() { "on" } else { "while it changed," };
                format!("{n} {what} {}", span_words(*s, &h.states))
            })
            .collect();
        out.push(format!("measured phases: {}", parts.join("; ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::results::{ClusterChange, ClusterHistory, ClusterState, PhaseRef, PhaseWindow};

    fn report() -> RunReport {
        let mut report = crate::test_support::sample_report();
        let state = |nodes: &[&str]| ClusterState {
            nodes: nodes.iter().map(|n| n.to_string()).collect(),
            cluster_size: Some(nodes.len() as u32),
            migrating: false,
        };
        let column = report.columns[0].id.clone();
        report.cluster = Some(ClusterHistory {
            states: vec![state(&["A1", "A2", "A3"]), state(&["A1", "A2"])],
            changes: vec![ClusterChange {
                from: 0,
                to: 1,
                last_seen_before: "2026-12-07T22:41:05.000001Z".into(),
                seen_at: "2026-12-07T22:41:07.000001Z".into(),
                during: Some(PhaseRef { column: column.clone(), operation: "get".into(), round: 1 }),
                failures_began_during: None,
                left: vec!["A3".into()],
                joined: Vec::new(),
                migrate_partitions_remaining: Some(1365),
                at_secs: Some(14.0),
                columns: vec![ColumnRecovery {
                    column: column.clone(),
                    losses: 1,
                    ran_during_loss: true,
                    failures: 1673,
                    recovery_secs: Some(2.5),
                    ran_after_return: false,
                    failures_after_return: 0,
                    recovery_after_return_secs: None,
                }],
            }],
            reads: 13,
            failed_reads: 0,
            resolution_secs: Some(0.1),
        });
        let phase = |round, before, after| PhaseWindow {
            round,
            operation: "get".into(),
            column: column.clone(),
            started_at: String::new(),
            finished_at: String::new(),
            cluster: Some(PhaseCluster { before, after }),
        };
        report.schedule = Some(crate::model::results::Schedule {
            design: "williams".into(),
            cycle_rounds: 2,
            seed: 1,
            remainder: String::new(),
            start_at: None,
            slot_secs: None,
            orders: Vec::new(),
            balance: Vec::new(),
            phases: vec![phase(1, 0, 1), phase(2, 1, 1), phase(3, 1, 1)],
        });
        report.server.builtin = false;
        report
    }

    #[test]
    fn the_section_names_each_change_and_the_phases_under_each_state() {
        let report = report();
        let lines = lines(&report);
        assert!(lines[0].starts_with("Cluster changes"), "{lines:?}");
        assert!(
            lines[1].starts_with("22:41:05–22:41:07 A3 left (3 nodes → 2 nodes), during get round 1 of"),
            "{lines:?}"
        );
        assert!(lines[1].ends_with("; 1365 partitions to migrate"), "{lines:?}");
        assert!(lines[2].contains("1673 failed calls; calls succeeded again 2.5 s after it met the loss"), "{lines:?}");
        assert_eq!(lines[3], "measured phases: 1 while it changed, 3 nodes → 2 nodes; 2 on 2 nodes");
        assert_eq!(header_words(&report), "; during the run A3 left (seen 22:41:07): 2 nodes at the end");
        // Table and markdown both show the section, and the header says it.
        let style =
            crate::report::Style { color: false, width: 200, layout: crate::report::Layout::Clients, verbose: false };
        let table = crate::report::render(&report, crate::report::Format::Table, &style);
        assert!(table.contains("Cluster changes — read between phases (13 reads)"), "{table}");
        assert!(table.contains("during the run A3 left (seen 22:41:07): 2 nodes at the end"), "{table}");
        let markdown = crate::report::render(&report, crate::report::Format::Markdown, &style);
        assert!(markdown.contains("### Cluster changes"), "{markdown}");
        assert!(markdown.contains("\n- measured phases: 1 while it changed"), "{markdown}");
        let mut steady = report.clone();
        steady.cluster.as_mut().unwrap().changes.clear();
        assert!(super::lines(&steady).is_empty() && header_words(&steady).is_empty());
    }
}
