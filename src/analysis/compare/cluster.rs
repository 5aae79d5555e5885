//! Verdicts between cells that met different cluster states are withheld: a column measured on
//! three nodes is not faster than one measured on two because of its client. Two cells are
//! compared only when, in every round both ran, their phases ran under the same state
//! throughout (as read between phases); otherwise the ratio keeps its per-round figures but
//! loses its verdict, interval and speedup, and its reason says why.

use crate::model::results::{ClusterState, PhaseCluster, PhaseWindow, Ratio, Verdict};

/// The state spans of one cell's phases, by round.
fn spans<'a>(
    phases: &'a [PhaseWindow],
    column: &'a str,
    operation: &'a str,
) -> impl Iterator<Item = (u32, PhaseCluster)> + 'a {
    phases
        .iter()
        .filter(move |p| p.column == column && p.operation == operation)
        .filter_map(|p| p.cluster.map(|s| (p.round, s)))
}

/// Why `column` and `baseline` on `operation` cannot be compared because of the cluster, if they
/// cannot: a round where either ran while the cluster changed, or where they ran under
/// different states.
pub fn mismatch(
    phases: &[PhaseWindow],
    states: &[ClusterState],
    operation: &str,
    column: &str,
    baseline: &str,
) -> Option<String> {
    let words = |s: PhaseCluster| super::super::cluster_change::span_words(s, states);
    let theirs: Vec<(u32, PhaseCluster)> = spans(phases, baseline, operation).collect();
    for (round, a) in spans(phases, column, operation) {
        let Some(&(_, b)) = theirs.iter().find(|(r, _)| *r == round) else { continue };
        if !a.steady() || !b.steady() {
            return Some(format!("the cluster changed during round {round}: {} vs {}", words(a), words(b)));
        }
        if a.before != b.before {
            return Some(format!("round {round} ran on different clusters: {} vs {}", words(a), words(b)));
        }
    }
    None
}

/// Withholds the verdict of every ratio whose two cells met different cluster states.
pub fn withhold(ratios: &mut [Ratio], phases: &[PhaseWindow], states: &[ClusterState]) {
    if states.len() < 2 {
        return;
    }
    for r in ratios.iter_mut() {
        if let Some(reason) = mismatch(phases, states, &r.operation, &r.column, &r.baseline) {
            r.verdict = Verdict::NotComparable;
            r.speedup = None;
            r.low = None;
            r.high = None;
            r.text = super::wording::not_comparable(&reason);
            r.reason = Some(reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::results::RatioMetric;

    fn phase(column: &str, round: u32, before: u32, after: u32) -> PhaseWindow {
        PhaseWindow {
            round,
            operation: "get".into(),
            column: column.into(),
            started_at: String::new(),
            finished_at: String::new(),
            cluster: Some(PhaseCluster { before, after }),
        }
    }

    fn states() -> Vec<ClusterState> {
        let state = |n: usize| ClusterState {
            nodes: (0..n).map(|i| format!("A{i}")).collect(),
            cluster_size: Some(n as u32),
            migrating: false,
        };
        vec![state(3), state(2)]
    }

    fn ratio(column: &str, baseline: &str) -> Ratio {
        let a = crate::test_support::cell(column, "get", 10.0, 1000.0);
        let b = crate::test_support::cell(baseline, "get", 20.0, 500.0);
        super::super::ratio(&a, &b, 1, 1, RatioMetric::OpsPerSec, 0.03)
    }

    #[test]
    fn cells_under_different_states_lose_their_verdict() {
        // Round 1: a on 3 nodes, b while the node left, c and d on 2. Round 2: all on 2.
        let phases = [
            phase("a", 1, 0, 0),
            phase("b", 1, 0, 1),
            phase("c", 1, 1, 1),
            phase("d", 1, 1, 1),
            phase("a", 2, 1, 1),
            phase("b", 2, 1, 1),
            phase("c", 2, 1, 1),
            phase("d", 2, 1, 1),
        ];
        let mut ratios = vec![ratio("c", "a"), ratio("b", "a"), ratio("d", "c")];
        assert_eq!(ratios[0].verdict, Verdict::Faster, "the cells differ clearly: a verdict to withhold");
        withhold(&mut ratios, &phases, &states());
        assert_eq!(ratios[0].verdict, Verdict::NotComparable);
        assert_eq!(ratios[0].reason.as_deref(), Some("round 1 ran on different clusters: 2 nodes vs 3 nodes"));
        assert!(ratios[0].speedup.is_none() && ratios[0].low.is_none());
        assert!(ratios[1].reason.as_deref().unwrap().starts_with("the cluster changed during round 1"));
        assert_eq!(ratios[2].verdict, Verdict::Faster, "c and d ran under the same states throughout");
        // One state only: nothing is withheld.
        let mut ratios = vec![ratio("c", "a")];
        withhold(&mut ratios, &phases, &states()[..1]);
        assert_eq!(ratios[0].verdict, Verdict::Faster);
    }
}
