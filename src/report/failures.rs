//! Why a run failed, in a few lines for stderr before the exit: the report holds the details, but
//! a user who sees only the terminal (or a CI log) learns the cause here without opening it. One
//! line per kind of failure: the run cut short, columns that could not run, calls that failed.

use crate::model::results::RunReport;

/// Columns named one by one before the rest are counted.
const COLUMNS_NAMED: usize = 3;
/// Longest reason quoted on one line, in characters.
const REASON_CHARS: usize = 240;

/// The lines to print on stderr (each starting `aerobench: `); empty when nothing failed.
pub fn lines(report: &RunReport) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(why) = &report.incomplete {
        let why = why.split_whitespace().collect::<Vec<_>>().join(" ");
        out.push(format!("aerobench: run incomplete: {why}"));
    }
    // Columns marked "not measured" repeat the run's own reason, given just above.
    let broken: Vec<_> = report
        .columns
        .iter()
        .filter_map(|c| Some((c, c.error.as_deref()?)))
        .filter(|(_, e)| !(report.incomplete.is_some() && e.starts_with("not measured")))
        .collect();
    for (column, error) in broken.iter().take(COLUMNS_NAMED) {
        out.push(format!("aerobench: column {} did not run: {}", column.id, first_line(error)));
    }
    if broken.len() > COLUMNS_NAMED {
        out.push(format!(
            "aerobench: and {} more columns did not run (their reasons are in the report)",
            broken.len() - COLUMNS_NAMED
        ));
    }
    // A cluster that changed under the run explains failures and withheld verdicts alike.
    if let Some(history) = &report.cluster {
        for (i, change) in history.changes.iter().enumerate() {
            let words = crate::analysis::cluster_change::change_words(history, i);
            out.push(format!("aerobench: the cluster changed during the run, by {}: {words}", change.seen_at));
        }
    }
    let failing: Vec<_> = report.cells.iter().filter(|c| c.errors > 0).collect();
    if let Some(worst) = failing.iter().max_by_key(|c| c.errors) {
        let total: u64 = failing.iter().map(|c| c.errors).sum();
        let labels = worst
            .failures
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(label, _)| format!(", most of them {label}"))
            .unwrap_or_default();
        out.push(format!(
            "aerobench: {total} call{} failed in {} cell{} (the most in {} {}{labels}); the report's errors say why",
            if total == 1 { "" } else { "s" },
            failing.len(),
            if failing.len() == 1 { "" } else { "s" },
            worst.column,
            worst.operation,
        ));
    }
    out
}

/// `text` on one line (a client's message may span several), shortened to [`REASON_CHARS`].
fn first_line(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(REASON_CHARS) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_report;

    #[test]
    fn a_sound_run_prints_nothing_and_a_failed_one_says_why() {
        let mut report = sample_report();
        for c in &mut report.columns {
            c.error = None;
        }
        for c in &mut report.cells {
            c.errors = 0;
        }
        report.incomplete = None;
        assert!(lines(&report).is_empty());

        report.incomplete = Some("writing the 1000 records … failed (connection lost: 3)".into());
        report.columns[0].error = Some("not measured: writing the 1000 records … failed".into());
        report.columns[1].error = Some("aerospike-py could not be imported\nsecond line".into());
        report.cells[0].errors = 4;
        report.cells[0].failures = [("connection lost".to_string(), 3), ("timeout".to_string(), 1)].into();
        let got = lines(&report);
        assert_eq!(got.len(), 3, "{got:#?}");
        assert!(got[0].starts_with("aerobench: run incomplete: writing the 1000 records"), "{got:#?}");
        assert_eq!(
            got[1],
            format!(
                "aerobench: column {} did not run: aerospike-py could not be imported second line",
                report.columns[1].id
            )
        );
        assert!(got[2].starts_with("aerobench: 4 calls failed in 1 cell"), "{got:#?}");
        assert!(got[2].contains("most of them connection lost"), "{got:#?}");
    }

    #[test]
    fn long_reasons_are_joined_into_one_line_and_cut() {
        assert_eq!(first_line("a\n  b "), "a b");
        assert_eq!(first_line(&"x".repeat(REASON_CHARS + 50)).chars().count(), REASON_CHARS + 1);
        assert_eq!(first_line(&"x".repeat(REASON_CHARS)).chars().count(), REASON_CHARS);
    }
}
