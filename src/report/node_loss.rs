//! The "Node loss" section of the text report: when a built-in node was taken out
//! (`--fail-node`), each column's failed calls while it was out and after it returned, and how
//! long until its calls succeeded again.

use crate::model::results::{ColumnRecovery, RunReport};

fn secs(t: f64) -> String {
    format!("{t:.1} s")
}

fn calls(n: u64) -> String {
    if n == 1 { "1 failed call".into() } else { format!("{n} failed calls") }
}

/// `t` seconds after an event, or "within" the resolution when shorter than it.
fn after(t: f64, resolution: f64, event: &str) -> String {
    if t <= resolution {
        format!("within {} of {event}", secs(resolution))
    } else {
        format!("{} after {event}", secs(t))
    }
}

/// One column's line.
fn column_line(label: &str, c: &ColumnRecovery, resolution: f64) -> String {
    let during = match (c.ran_during_loss, c.recovery_secs) {
        (false, _) if c.losses == 0 => "no loss in its phases (shorter than --fail-at?)".to_string(),
        (false, _) => "was not running while the node was out".to_string(),
        (true, None) => "no failed call while the node was out".to_string(),
        (true, Some(t)) => {
            format!("{}; calls succeeded again {}", calls(c.failures), after(t, resolution, "the loss"))
        }
    };
    let returned = match (c.ran_after_return, c.recovery_after_return_secs) {
        (false, _) => String::new(),
        (true, None) => "; none after it returned".to_string(),
        (true, Some(t)) => format!(
            "; {} after it returned, the last {}",
            calls(c.failures_after_return),
            after(t, resolution, "its return")
        ),
    };
    format!("{label}: {during}{returned}")
}

/// The section's lines (title first), or none when no node was lost.
pub fn lines(report: &RunReport) -> Vec<String> {
    let Some(loss) = &report.node_loss else { return Vec::new() };
    let made = loss.losses.iter().filter(|l| l.error.is_none()).count();
    let mut out = vec![format!(
        "Node loss — node {} out {} into every measured phase for {}: {made} losses (times to within {})",
        loss.node,
        secs(loss.at_secs),
        secs(loss.for_secs),
        secs(loss.resolution_secs)
    )];
    if let Some(failed) = loss.losses.iter().find_map(|l| l.error.as_ref()) {
        out.push(format!("a loss could not be made: {failed}"));
    }
    for c in &loss.columns {
        let label = report.columns.iter().find(|col| col.id == c.column).map_or(c.column.as_str(), |col| &col.label);
        out.push(column_line(label, c, loss.resolution_secs));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_column_says_what_the_loss_cost_it() {
        let mut c = ColumnRecovery {
            column: "wire".into(),
            losses: 1,
            ran_during_loss: true,
            failures: 12,
            recovery_secs: Some(0.34),
            ran_after_return: true,
            failures_after_return: 0,
            recovery_after_return_secs: None,
        };
        assert_eq!(
            column_line("wire floor", &c, 0.1),
            "wire floor: 12 failed calls; calls succeeded again 0.3 s after the loss; none after it returned"
        );
        (c.failures, c.recovery_secs, c.failures_after_return, c.recovery_after_return_secs) =
            (1, Some(0.05), 3, Some(1.2));
        assert_eq!(
            column_line("y", &c, 0.1),
            "y: 1 failed call; calls succeeded again within 0.1 s of the loss; 3 failed calls after it returned, \
             the last 1.2 s after its return"
        );
        c.ran_during_loss = false;
        c.ran_after_return = false;
        assert_eq!(column_line("x", &c, 0.1), "x: was not running while the node was out");
        c.losses = 0;
        assert_eq!(column_line("x", &c, 0.1), "x: no loss in its phases (shorter than --fail-at?)");
        let mut report = crate::test_support::sample_report();
        assert!(lines(&report).is_empty());
        report.node_loss = Some(crate::model::results::NodeLoss {
            node: 2,
            at_secs: 4.0,
            for_secs: 3.0,
            resolution_secs: 0.1,
            losses: vec![],
            columns: vec![],
        });
        assert_eq!(
            lines(&report),
            ["Node loss — node 2 out 4.0 s into every measured phase for 3.0 s: 0 losses (times to within 0.1 s)"]
        );
    }
}
