//! Everything a reader must see besides the numbers: failed operations by reason, columns that
//! failed as a whole, notes attached to cells, and run-wide warnings. Exporters only lay this out.

use crate::model::results::RunReport;

/// Reason shown for failures a cell counted without saying why.
pub const UNSPECIFIED: &str = "(unspecified)";

/// Failed operations of one cell for one reason.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorCount {
    /// Column label.
    pub column: String,
    pub operation: String,
    pub reason: String,
    pub count: u64,
}

/// A column that failed as a whole.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedColumn {
    /// Column label.
    pub column: String,
    pub error: String,
    /// The Python stack of every thread when its worker died of a signal (faulthandler's words).
    pub stacks: Option<String>,
}

/// A note attached to one or more cells of an operation (the same note of several columns is
/// listed once).
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    /// Column labels, joined with commas.
    pub column: String,
    pub operation: String,
    pub text: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Issues {
    pub errors: Vec<ErrorCount>,
    pub failed_columns: Vec<FailedColumn>,
    pub notes: Vec<Note>,
    /// Run-wide warnings: what makes the figures less reliable.
    pub warnings: Vec<String>,
    /// True for a service run: errors and notes are by step (`50 vus`), not by operation.
    pub service: bool,
}

impl Issues {
    /// True when there is an "Errors" section to show.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty() || !self.failed_columns.is_empty()
    }

    /// The header of the errors' second column: what an error's `operation` names.
    pub fn scope(&self) -> &'static str {
        if self.service { "Step" } else { "Operation" }
    }
}

/// Collects the issues of `report`, cells in report order.
pub fn collect(report: &RunReport) -> Issues {
    let label = |id: &str| report.column(id).map_or_else(|| id.to_owned(), |c| c.label.clone());
    let mut issues = Issues::default();

    for cell in &report.cells {
        let mut explained = 0u64;
        for (reason, &count) in &cell.errors_by_reason {
            explained = explained.saturating_add(count);
            // What happened first (connection refused, timeout...), then the client's words.
            let what = crate::engine::failure::Failure::classify(reason).label();
            let reason = if reason.to_ascii_lowercase().starts_with(&what) {
                reason.clone()
            } else {
                format!("[{what}] {reason}")
            };
            issues.errors.push(ErrorCount {
                column: label(&cell.column),
                operation: cell.operation.clone(),
                reason,
                count,
            });
        }
        if cell.errors > explained {
            issues.errors.push(ErrorCount {
                column: label(&cell.column),
                operation: cell.operation.clone(),
                reason: UNSPECIFIED.to_owned(),
                count: cell.errors - explained,
            });
        }
        for note in &cell.notes {
            match issues.notes.iter_mut().find(|n| n.operation == cell.operation && n.text == *note) {
                Some(same) => {
                    same.column.push_str(", ");
                    same.column.push_str(&label(&cell.column));
                }
                None => issues.notes.push(Note {
                    column: label(&cell.column),
                    operation: cell.operation.clone(),
                    text: note.clone(),
                }),
            }
        }
    }

    for column in &report.columns {
        if let Some(error) = &column.error {
            issues.failed_columns.push(FailedColumn {
                column: column.label.clone(),
                error: error.clone(),
                stacks: column.crash.as_ref().map(|c| c.python_stacks.clone()).filter(|s| !s.is_empty()),
            });
        }
    }
    issues.warnings = report.warnings.clone();
    issues
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{C, sample_report};

    #[test]
    fn collects_errors_failed_columns_and_notes() {
        let issues = collect(&sample_report());
        assert!(issues.has_errors());
        let errors: Vec<(&str, &str, &str, u64)> = issues
            .errors
            .iter()
            .map(|e| (e.column.as_str(), e.operation.as_str(), e.reason.as_str(), e.count))
            .collect();
        assert_eq!(
            errors,
            [
                ("official aerospike (C)", "get", "[client error] rc 2", 1),
                ("official aerospike (C)", "get", "timeout", 2),
            ]
        );
        assert_eq!(
            issues.failed_columns,
            [FailedColumn {
                column: "Rust crate (50 in flight)".to_owned(),
                error: "worker exited: connection refused".to_owned(),
                stacks: None,
            }]
        );
        assert_eq!(issues.notes.len(), 1);
        assert_eq!(issues.notes[0].operation, "scan");
    }

    #[test]
    fn the_same_note_of_several_columns_is_listed_once() {
        let mut report = sample_report();
        for cell in report.cells.iter_mut().filter(|c| c.operation == "batch_get") {
            cell.notes.push("too few calls".to_owned());
        }
        let issues = collect(&report);
        let batch: Vec<&Note> = issues.notes.iter().filter(|n| n.operation == "batch_get").collect();
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].column, "wire floor, aerospike-py (Rust), official aerospike (C), aerospike-py async");
    }

    #[test]
    fn unexplained_errors_are_not_lost() {
        let mut report = sample_report();
        let cell = report.cells.iter_mut().find(|c| c.column == C && c.operation == "get");
        let cell = cell.expect("sample cell");
        cell.errors = 5;
        let issues = collect(&report);
        let last = issues.errors.last().expect("errors");
        assert_eq!((last.reason.as_str(), last.count), (UNSPECIFIED, 2));
    }

    #[test]
    fn clean_report_has_no_errors() {
        let mut report = sample_report();
        report.columns.iter_mut().for_each(|c| c.error = None);
        report.cells.iter_mut().for_each(|c| {
            c.errors = 0;
            c.errors_by_reason.clear();
        });
        assert!(!collect(&report).has_errors());
    }
}
