//! The "Requests per node" section of the text report: with the built-in cluster
//! (`--builtin-server --nodes N`), how each column spread its calls over the nodes — the share
//! of single-record requests each node got, how many sub-batches a batch became, how many
//! requests a scan became, and any request sent to a node that does not hold its partition.

use crate::model::results::{NodeCounts, RunReport, SpreadCell};

fn shares(values: impl Iterator<Item = u64> + Clone) -> String {
    let total: u64 = values.clone().sum();
    values
        .map(|v| format!("{:.0}%", if total == 0 { 0.0 } else { 100.0 * v as f64 / total as f64 }))
        .collect::<Vec<_>>()
        .join(" · ")
}

fn sum(nodes: &[NodeCounts], f: impl Fn(&NodeCounts) -> u64) -> u64 {
    nodes.iter().map(f).sum()
}

/// One cell's line, `calls` being the cell's measured calls.
fn cell_line(label: &str, cell: &SpreadCell, calls: u64) -> String {
    let n = &cell.nodes;
    let mut parts = Vec::new();
    let records = sum(n, |c| c.records);
    if records > 0 {
        parts.push(format!("{} of {records} single-record requests", shares(n.iter().map(|c| c.records))));
    }
    let batches = sum(n, |c| c.batches);
    if batches > 0 {
        let per =
            if calls > 0 { format!(" ({:.1} per batch call)", batches as f64 / calls as f64) } else { String::new() };
        parts.push(format!("{batches} sub-batches{per}, keys {}", shares(n.iter().map(|c| c.batch_keys))));
    }
    let scans = sum(n, |c| c.scans);
    if scans > 0 {
        let per = if calls > 0 { format!(" ({:.1} per scan)", scans as f64 / calls as f64) } else { String::new() };
        parts.push(format!("{scans} scan requests{per}, {}", shares(n.iter().map(|c| c.scans))));
    }
    let proxied = sum(n, |c| c.proxied);
    if proxied > 0 {
        parts.push(format!("{proxied} keys sent to a node not holding their partition"));
    }
    if parts.is_empty() {
        parts.push("no request reached a node".into());
    }
    format!("{label} / {}: {}", cell.operation, parts.join("; "))
}

/// The section's lines (title first), or none without a built-in cluster.
pub fn lines(report: &RunReport) -> Vec<String> {
    let Some(spread) = &report.node_spread else { return Vec::new() };
    let mut out = vec![format!(
        "Requests per node — {} built-in nodes, as the server counted them in the measured rounds (shares in \
         node order, the seed first)",
        spread.nodes.len()
    )];
    for cell in &spread.cells {
        let label =
            report.columns.iter().find(|c| c.id == cell.column).map_or(cell.column.as_str(), |c| c.label.as_str());
        let calls = report
            .cells
            .iter()
            .find(|c| c.column == cell.column && c.operation == cell.operation)
            .map_or(0, |c| c.count);
        out.push(cell_line(label, cell, calls));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(records: u64, batches: u64, batch_keys: u64, scans: u64, proxied: u64) -> NodeCounts {
        NodeCounts { records, batches, batch_keys, scans, proxied }
    }

    #[test]
    fn shares_sub_batches_and_misrouted_keys_are_spelled_out() {
        let get = SpreadCell {
            column: "wire".into(),
            operation: "get".into(),
            nodes: vec![counts(34, 0, 0, 0, 0), counts(33, 0, 0, 0, 0), counts(33, 0, 0, 0, 0)],
        };
        assert_eq!(
            cell_line("wire floor", &get, 100),
            "wire floor / get: 34% · 33% · 33% of 100 single-record requests"
        );
        let batch = SpreadCell {
            column: "x".into(),
            operation: "batch_get".into(),
            nodes: vec![counts(0, 10, 350, 0, 5), counts(0, 10, 330, 0, 0), counts(0, 10, 320, 0, 0)],
        };
        assert_eq!(
            cell_line("X", &batch, 10),
            "X / batch_get: 30 sub-batches (3.0 per batch call), keys 35% · 33% · 32%; 5 keys sent to a node not \
             holding their partition"
        );
        let none = SpreadCell { column: "x".into(), operation: "scan".into(), nodes: vec![NodeCounts::default()] };
        assert_eq!(cell_line("X", &none, 0), "X / scan: no request reached a node");
    }
}
