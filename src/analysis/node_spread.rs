//! How each column spread its requests over the built-in cluster's nodes (`--builtin-server
//! --nodes N`): handed the counters of what each node was asked (`aerobench-cluster-stats`, read
//! by `run/node_counters.rs`) at the start and end of every phase, it sums each measured phase's
//! difference into that column's, per operation.

use crate::model::results::{NodeCounts, NodeSpread, SpreadCell};

/// Counters per node, by name.
pub type Reading = Vec<(String, NodeCounts)>;

fn minus(a: &NodeCounts, b: &NodeCounts) -> NodeCounts {
    NodeCounts {
        records: a.records.saturating_sub(b.records),
        batches: a.batches.saturating_sub(b.batches),
        batch_keys: a.batch_keys.saturating_sub(b.batch_keys),
        scans: a.scans.saturating_sub(b.scans),
        proxied: a.proxied.saturating_sub(b.proxied),
    }
}

fn add(a: &mut NodeCounts, b: &NodeCounts) {
    a.records += b.records;
    a.batches += b.batches;
    a.batch_keys += b.batch_keys;
    a.scans += b.scans;
    a.proxied += b.proxied;
}

/// The phases' readings, summed per column and operation as they come.
#[derive(Default)]
pub struct Tally {
    nodes: Vec<String>,
    /// The phase running: column, operation, round, and the counters at its start.
    running: Option<(String, String, u32, Reading)>,
    /// The counters when the last phase ended: the next phase's start, so that a worker's
    /// first calls, made before its start is reported here, still count as its own.
    last: Option<Reading>,
    /// Per column and operation, in the order first seen: per node, summed over measured rounds.
    cells: Vec<(String, String, Vec<NodeCounts>)>,
}

impl Tally {
    /// The counters at the end of the last phase, which serve as the next phase's start; `None`
    /// when they must be read anew.
    pub fn take_last(&mut self) -> Option<Reading> {
        self.last.take()
    }

    /// A phase of `column` and `operation` (round 0 is a warm-up) started with the counters at
    /// `counts` (`None`: they could not be read, and the phase is not counted).
    pub fn started(&mut self, column: &str, operation: &str, round: u32, counts: Option<Reading>) {
        self.running = counts.map(|counts| (column.to_string(), operation.to_string(), round, counts));
    }

    /// The phase that was running ended, with the counters at `after` (`None`: they could not be
    /// read): a measured phase adds its difference to its cell.
    pub fn finished(&mut self, after: Option<Reading>) {
        let running = self.running.take();
        self.last.clone_from(&after);
        let (Some((column, operation, round, before)), Some(after)) = (running, after) else { return };
        if round == 0 {
            return; // a warm-up
        }
        if self.nodes.is_empty() {
            self.nodes = after.iter().map(|(n, _)| n.clone()).collect();
        }
        let delta: Vec<NodeCounts> = after
            .iter()
            .map(|(name, a)| before.iter().find(|(n, _)| n == name).map_or_else(|| a.clone(), |(_, b)| minus(a, b)))
            .collect();
        match self.cells.iter_mut().find(|(c, o, _)| *c == column && *o == operation) {
            Some((_, _, sums)) => sums.iter_mut().zip(&delta).for_each(|(s, d)| add(s, d)),
            None => self.cells.push((column, operation, delta)),
        }
    }

    /// The measured phases' requests per node, or `None` if the counters could never be read.
    pub fn summary(&self) -> Option<NodeSpread> {
        if self.nodes.is_empty() {
            return None;
        }
        let cells = self
            .cells
            .iter()
            .map(|(column, operation, nodes)| SpreadCell {
                column: column.clone(),
                operation: operation.clone(),
                nodes: nodes.clone(),
            })
            .collect();
        Some(NodeSpread { nodes: self.nodes.clone(), cells })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(records: u64, batch_keys: u64) -> NodeCounts {
        NodeCounts { records, batches: 0, batch_keys, scans: 0, proxied: 0 }
    }

    fn reading(a: u64, b: u64) -> Reading {
        vec![("A".to_string(), counts(a, 0)), ("B".to_string(), counts(b, 0))]
    }

    #[test]
    fn counters_subtract_without_going_below_zero() {
        let before = NodeCounts { records: 10, batches: 1, batch_keys: 5, scans: 0, proxied: 0 };
        let after = NodeCounts { records: 25, batches: 3, batch_keys: 9, scans: 1, proxied: 2 };
        let d = minus(&after, &before);
        assert_eq!((d.records, d.batches, d.batch_keys, d.scans, d.proxied), (15, 2, 4, 1, 2));
        let restarted = minus(&before, &after);
        assert_eq!((restarted.records, restarted.batch_keys), (0, 0));
    }

    #[test]
    fn measured_rounds_add_up_per_cell_and_warm_ups_do_not_count() {
        let mut tally = Tally::default();
        assert!(tally.take_last().is_none(), "the first phase reads its start");
        tally.started("wire", "get", 0, Some(reading(0, 0)));
        tally.finished(Some(reading(5, 5)));
        assert!(tally.summary().is_none(), "a warm-up alone leaves no spread");
        for round in 1..=2 {
            let start = tally.take_last();
            assert!(start.is_some(), "a phase starts where the last one ended");
            tally.started("wire", "get", round, start);
            let (a, b) = (5 + 10 * u64::from(round), 5 + 30 * u64::from(round));
            tally.finished(Some(reading(a, b)));
        }
        // A phase whose end could not be read counts nothing, and the next one reads its start.
        let start = tally.take_last();
        tally.started("wire", "put", 1, start);
        tally.finished(None);
        assert!(tally.take_last().is_none());
        let spread = tally.summary().unwrap();
        assert_eq!(spread.nodes, ["A", "B"]);
        assert_eq!(spread.cells.len(), 1);
        let sums: Vec<u64> = spread.cells[0].nodes.iter().map(|n| n.records).collect();
        assert_eq!(sums, [20, 60]);
    }
}
