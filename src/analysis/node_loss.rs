//! What a lost node cost each column, read from the run's interval lines (the column, times and
//! failures of each): for a node taken out on purpose in every measured phase (`--fail-node`,
//! whose losses `run/fail_node.rs` makes), each column's failures while the node was out and
//! after it returned, and how long until its calls stopped failing ([`summarize`]); for a node
//! that disappeared on its own (seen by the run's reads of the cluster), the same figures per
//! column ([`disappearance`]).

use crate::model::results::{ColumnRecovery, Loss, NodeLoss};

/// One interval of one column's calls: when (seconds on the run's interval clock), and how many
/// failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Interval {
    pub column: String,
    pub start_secs: f64,
    pub end_secs: f64,
    pub errors: u64,
}

/// Reads the losses (each `length` seconds) out of `intervals`: a column's failures from its
/// loss to the node's return count as during the loss; from the return to the next loss, as
/// after it.
pub fn summarize(
    node: u16,
    at: f64,
    length: f64,
    resolution: f64,
    losses: Vec<Loss>,
    intervals: &[Interval],
    columns: &[String],
) -> NodeLoss {
    let made: Vec<&Loss> = losses.iter().filter(|l| l.error.is_none()).collect();
    let columns = columns
        .iter()
        .map(|id| {
            let mut c = ColumnRecovery::none(id);
            let worst = |have: Option<f64>, t: f64| Some(have.map_or(t, |h: f64| h.max(t)).max(0.0));
            for loss in made.iter().filter(|l| &l.column == id) {
                c.losses += 1;
                let (from, back) = (loss.at_secs, loss.at_secs + length);
                let next = made.iter().map(|l| l.at_secs).filter(|&t| t > from).fold(f64::INFINITY, f64::min);
                for l in intervals.iter().filter(|l| &l.column == id) {
                    if l.end_secs > from && l.start_secs < back {
                        c.ran_during_loss = true;
                        c.failures += l.errors;
                        if l.errors > 0 {
                            c.recovery_secs = worst(c.recovery_secs, l.end_secs - from);
                        }
                    } else if l.start_secs >= back && l.start_secs < next {
                        c.ran_after_return = true;
                        c.failures_after_return += l.errors;
                        if l.errors > 0 {
                            c.recovery_after_return_secs = worst(c.recovery_after_return_secs, l.end_secs - back);
                        }
                    }
                }
            }
            c
        })
        .collect();
    NodeLoss { node, at_secs: at, for_secs: length, resolution_secs: resolution, losses, columns }
}

/// When failures began between `from` and `to`: the start of the first interval with a failed
/// call that overlaps them (no earlier than `from`), if any.
pub fn first_failure(intervals: &[Interval], from: f64, to: f64) -> Option<f64> {
    intervals
        .iter()
        .filter(|l| l.errors > 0 && l.end_secs > from && l.start_secs < to)
        .map(|l| l.start_secs.max(from))
        .fold(None, |first: Option<f64>, t| Some(first.map_or(t, |f| f.min(t))))
}

/// Per column, what a node that left on its own at `at` (and was seen again at `back`, if it
/// was) cost, as [`summarize`] reads an injected loss: a column meets the loss at `at`, or at its
/// first interval after it when it was not running then; its failures from then until `back`
/// count as during the loss, and those after `back` as after the return; recovery runs from
/// when the column met the loss (or from the return) to the end of its last interval with a
/// failed call.
pub fn disappearance(at: f64, back: Option<f64>, intervals: &[Interval], columns: &[String]) -> Vec<ColumnRecovery> {
    let back = back.unwrap_or(f64::INFINITY);
    columns
        .iter()
        .map(|id| {
            let mut c = ColumnRecovery::none(id);
            let own: Vec<&Interval> = intervals.iter().filter(|l| &l.column == id && l.end_secs > at).collect();
            let Some(first) = own.iter().map(|l| l.start_secs).reduce(f64::min) else { return c };
            let met = at.max(first);
            c.losses = u32::from(first < back);
            let worst = |have: Option<f64>, t: f64| Some(have.map_or(t, |h: f64| h.max(t)).max(0.0));
            for l in own {
                if l.start_secs < back {
                    c.ran_during_loss = true;
                    c.failures += l.errors;
                    if l.errors > 0 {
                        c.recovery_secs = worst(c.recovery_secs, l.end_secs - met);
                    }
                } else {
                    c.ran_after_return = true;
                    c.failures_after_return += l.errors;
                    if l.errors > 0 {
                        c.recovery_after_return_secs = worst(c.recovery_after_return_secs, l.end_secs - back);
                    }
                }
            }
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(column: &str, start: f64, errors: u64) -> Interval {
        Interval { column: column.into(), start_secs: start, end_secs: start + 0.1, errors }
    }

    #[test]
    fn a_node_that_left_on_its_own_costs_each_column_from_when_it_met_the_loss() {
        // "a" runs 0–4 s; the node goes at 2.0 and fails a's calls 2.0–2.4. "b" runs 4–8 s on the
        // smaller cluster and fails at 4.0–4.2. The node is seen again at 6.0; b fails once more
        // at 6.5. "c" ran only before the loss.
        let mut lines: Vec<Interval> = (0..80)
            .map(|i| {
                let t = f64::from(i) / 10.0;
                let errors = match i {
                    20..=23 => 5,
                    40..=41 => 3,
                    65 => 1,
                    _ => 0,
                };
                interval(if i < 40 { "a" } else { "b" }, t, errors)
            })
            .collect();
        lines.push(interval("c", 0.5, 0));
        assert_eq!(first_failure(&lines, 1.0, 3.0), Some(2.0));
        assert_eq!(first_failure(&lines, 2.5, 3.9), None);
        let cols = ["a".to_string(), "b".to_string(), "c".to_string()];
        let r = disappearance(2.0, Some(6.0), &lines, &cols);
        assert_eq!((r[0].losses, r[0].failures, r[0].failures_after_return), (1, 20, 0));
        assert!((r[0].recovery_secs.unwrap() - 0.4).abs() < 1e-9, "{:?}", r[0]);
        assert!(r[0].ran_during_loss && !r[0].ran_after_return);
        // b met the loss at its first interval (4.0), not at 2.0.
        assert_eq!((r[1].losses, r[1].failures, r[1].failures_after_return), (1, 6, 1));
        assert!((r[1].recovery_secs.unwrap() - 0.2).abs() < 1e-9, "{:?}", r[1]);
        assert!((r[1].recovery_after_return_secs.unwrap() - 0.6).abs() < 1e-9, "{:?}", r[1]);
        assert_eq!((r[2].losses, r[2].ran_during_loss), (0, false), "c never met the loss");
        // Never seen again: everything after the loss is during it.
        let r = disappearance(2.0, None, &lines, &cols);
        assert_eq!((r[1].failures, r[1].ran_after_return), (7, false));
    }

    fn loss(column: &str, at_secs: f64) -> Loss {
        Loss { column: column.into(), operation: "get".into(), round: 1, at_secs, error: None }
    }

    #[test]
    fn failures_and_recovery_are_read_from_the_intervals() {
        let mut lines = Vec::new();
        // "a" runs from 0 to 4 s and loses the node at 2.0 for 1.0 s: it fails from 2.0 to 2.4,
        // and once just after the node returns. "b" runs from 4 to 8 s and loses it at 5.0: it
        // fails from 5.0 to 5.1 only. "c" never ran.
        for i in 0..80 {
            let t = f64::from(i) / 10.0;
            let errors = match i {
                20..=23 => 5,
                31 => 2,
                50 => 1,
                _ => 0,
            };
            lines.push(interval(if i < 40 { "a" } else { "b" }, t, errors));
        }
        let cols = ["a".to_string(), "b".to_string(), "c".to_string()];
        let mut failed = loss("c", 7.0);
        failed.error = Some("refused".into());
        let report = summarize(2, 2.0, 1.0, 0.1, vec![loss("a", 2.0), loss("b", 5.0), failed], &lines, &cols);
        let a = &report.columns[0];
        assert!(a.ran_during_loss && a.ran_after_return);
        assert_eq!((a.losses, a.failures, a.failures_after_return), (1, 20, 2));
        assert!((a.recovery_secs.unwrap() - 0.4).abs() < 1e-9, "{a:?}");
        assert!((a.recovery_after_return_secs.unwrap() - 0.2).abs() < 1e-9, "{a:?}");
        let b = &report.columns[1];
        assert_eq!((b.losses, b.failures, b.failures_after_return), (1, 1, 0));
        assert!((b.recovery_secs.unwrap() - 0.1).abs() < 1e-9, "{b:?}");
        let c = &report.columns[2];
        assert_eq!((c.losses, c.ran_during_loss, c.recovery_secs), (0, false, None), "a loss not made is not one");
        assert_eq!(report.losses.len(), 3, "every attempt is listed, with its error");
    }
}
