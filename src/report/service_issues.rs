//! A service run's issues, in the words of the calls' (see `issues.rs`): failed requests of every
//! column and step by reason, the first lines of failed answers and the app workers that died as
//! notes, and the apps that could not start or stopped serving, with their stderr's last lines.

use crate::model::results::RunReport;
use crate::model::service::ServiceRun;

use super::by_operation::label;
use super::issues::{ErrorCount, FailedColumn, Issues, Note, UNSPECIFIED};

/// What the note of a dead app worker is attached to, in the place of a step.
pub const APP: &str = "app";

/// The issues of `report` (`issues::collect`'s), with a service run's own added: what the
/// human formats list after the tables.
pub fn collect(report: &RunReport) -> Issues {
    let mut issues = super::issues::collect(report);
    if let Some(service) = &report.service {
        add(report, service, &mut issues);
    }
    issues
}

/// Adds the issues of `service` to `issues`, columns in table order.
fn add(report: &RunReport, service: &ServiceRun, issues: &mut Issues) {
    issues.service = true;
    let columns = super::service::ordered(service);
    for column in &columns {
        let name = label(report, &column.id);
        for &step in &service.steps {
            let Some(cell) = service.cell(&column.id, step) else { continue };
            let at = service.step_label(step);
            let mut explained = 0u64;
            for (reason, &count) in &cell.errors_by_reason {
                explained = explained.saturating_add(count);
                issues.errors.push(ErrorCount {
                    column: name.clone(),
                    operation: at.clone(),
                    reason: reason.clone(),
                    count,
                });
            }
            if cell.errors > explained {
                issues.errors.push(ErrorCount {
                    column: name.clone(),
                    operation: at.clone(),
                    reason: UNSPECIFIED.to_owned(),
                    count: cell.errors - explained,
                });
            }
            for sample in &cell.error_samples {
                issues.notes.push(Note {
                    column: name.clone(),
                    operation: at.clone(),
                    text: format!("a failed answer said: {sample}"),
                });
            }
        }
        for lost in &column.lost_workers {
            issues.notes.push(Note { column: name.clone(), operation: APP.to_owned(), text: lost.clone() });
        }
        if column.error.is_none() && column.stderr.is_none() {
            continue;
        }
        // The run's own column may already carry the same failure: it is listed once, with the
        // app's stderr under it.
        match issues.failed_columns.iter_mut().find(|f| f.column == name) {
            Some(failed) => {
                if failed.stacks.is_none() {
                    failed.stacks.clone_from(&column.stderr);
                }
            }
            None => issues.failed_columns.push(FailedColumn {
                column: name,
                error: column.error.clone().unwrap_or_else(|| "the app wrote to stderr".to_owned()),
                stacks: column.stderr.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_service_report;

    #[test]
    fn errors_by_step_and_reason_samples_lost_workers_and_stderr() {
        let issues = collect(&sample_service_report());
        assert!(issues.has_errors() && issues.service);
        let errors: Vec<(&str, &str, &str, u64)> = issues
            .errors
            .iter()
            .map(|e| (e.column.as_str(), e.operation.as_str(), e.reason.as_str(), e.count))
            .collect();
        assert_eq!(
            errors,
            [
                ("official aerospike (C)", "50 vus", "HTTP 500", 5),
                ("official aerospike (C)", "50 vus", "app worker died", 2),
            ]
        );
        let notes: Vec<String> =
            issues.notes.iter().map(|n| format!("{} / {}: {}", n.column, n.operation, n.text)).collect();
        assert_eq!(
            notes,
            [
                "official aerospike (C) / 50 vus: a failed answer said: ValueError: batch result has no records",
                "official aerospike (C) / app: worker 4242 died",
            ]
        );
        assert_eq!(issues.failed_columns.len(), 1);
        let failed = &issues.failed_columns[0];
        assert_eq!(failed.column, "aerospike-sdk");
        assert_eq!(failed.error, "the app did not start within 30 s");
        assert!(failed.stacks.as_deref().is_some_and(|s| s.ends_with("ImportError: no sdk")));
    }

    #[test]
    fn a_failure_the_run_s_column_also_carries_is_listed_once_with_the_stderr() {
        let mut report = sample_service_report();
        let broken = report.columns.iter_mut().find(|c| c.label == "aerospike-sdk").expect("sample column");
        broken.error = Some("the app did not start within 30 s".to_owned());
        let issues = collect(&report);
        assert_eq!(issues.failed_columns.len(), 1);
        assert!(issues.failed_columns[0].stacks.is_some());
    }

    #[test]
    fn unexplained_errors_are_not_lost() {
        let mut report = sample_service_report();
        let service = report.service.as_mut().expect("a service run");
        service.cells.iter_mut().find(|c| c.errors > 0).expect("an errored cell").errors = 10;
        let issues = collect(&report);
        let last = issues.errors.last().expect("errors");
        assert_eq!((last.reason.as_str(), last.count), (UNSPECIFIED, 3));
    }
}
