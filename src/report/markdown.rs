//! GitHub-flavoured markdown, for pasting into pull requests and issues: the header as a short
//! bullet list, the four comparison tables (numbers right-aligned), then errors and notes.

use crate::results::RunReport;

use super::Exporter;
use super::header::{self, Line};
use super::issues;
use super::metrics::{self, Grid};
use super::numbers::thousands;

pub struct MarkdownExporter;

impl Exporter for MarkdownExporter {
    fn render(&self, report: &RunReport) -> String {
        let mut sections = vec![header_section(report)];
        for grid in metrics::grids(report) {
            sections.push(metric_section(&grid));
        }
        let issues = issues::collect(report);
        if issues.has_errors() {
            let mut out = String::from("### Errors");
            if !issues.errors.is_empty() {
                let rows: Vec<Vec<String>> = issues
                    .errors
                    .iter()
                    .map(|e| vec![e.column.clone(), e.operation.clone(), e.reason.clone(), thousands(e.count)])
                    .collect();
                out.push_str("\n\n");
                out.push_str(&table(&["Column", "Operation", "Reason", "Count"], &rows, 3));
            }
            if !issues.failed_columns.is_empty() {
                out.push('\n');
                for failed in &issues.failed_columns {
                    out.push_str(&format!(
                        "\n- **{}**: {}: {}",
                        inline(&failed.column),
                        metrics::ERROR,
                        inline(&failed.error)
                    ));
                }
            }
            sections.push(out);
        }
        if !issues.notes.is_empty() {
            let mut out = String::from("### Notes\n");
            for note in &issues.notes {
                out.push_str(&format!(
                    "\n- **{}** / `{}`: {}",
                    inline(&note.column),
                    note.operation,
                    inline(&note.text)
                ));
            }
            sections.push(out);
        }
        let mut out = sections.join("\n\n");
        out.push('\n');
        out
    }
}

/// Makes text safe inside a table cell or a bullet: one line, pipes escaped.
fn inline(text: &str) -> String {
    text.replace(['\r', '\n'], " ").replace('|', "\\|")
}

fn bullet(line: &Line, indent: &str) -> String {
    format!("{indent}- **{}**: {}", inline(&line.label), inline(&line.text))
}

fn header_section(report: &RunReport) -> String {
    let mut lines = vec![format!("## {}", inline(&header::title(report))), String::new()];
    lines.extend(header::run_lines(report).iter().map(|l| bullet(l, "")));
    let columns = header::column_lines(report);
    if !columns.is_empty() {
        lines.push("- **Columns**:".to_owned());
        lines.extend(columns.iter().map(|l| bullet(l, "  ")));
    }
    lines.join("\n")
}

fn metric_section(grid: &Grid) -> String {
    let rows: Vec<Vec<String>> = grid.rows.iter().map(|row| row.iter().map(|e| e.text.clone()).collect()).collect();
    let header: Vec<&str> = grid.header.iter().map(String::as_str).collect();
    format!("### {}\n\n{}", grid.metric.title(), table(&header, &rows, 1))
}

/// A pipe table; columns from `first_right` on are right-aligned (`---:`).
fn table(header: &[&str], rows: &[Vec<String>], first_right: usize) -> String {
    let line = |cells: Vec<String>| format!("| {} |", cells.join(" | "));
    let mut out = vec![
        line(header.iter().map(|h| inline(h)).collect()),
        line((0..header.len()).map(|i| if i < first_right { "---" } else { "---:" }.to_owned()).collect()),
    ];
    out.extend(rows.iter().map(|row| line(row.iter().map(|c| inline(c)).collect())));
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::header::BUILTIN_MARKER;
    use crate::report::test_support::{has_ansi, sample_report};

    fn render() -> String {
        MarkdownExporter.render(&sample_report())
    }

    #[test]
    fn header_is_a_bullet_list() {
        let out = render();
        assert!(out.starts_with("## aerobench — 1,000 ops per operation, concurrency 50\n\n- **Server**: "));
        assert!(out.contains(BUILTIN_MARKER));
        assert!(out.contains("\n- **Machine**: linux/x86_64, 2 CPUs"));
        assert!(out.contains("\n  - **aerospike-py (Rust)**: aerospike-py 0.5.0, sync"));
    }

    #[test]
    fn four_tables_with_right_aligned_numbers() {
        let out = render();
        for title in [
            "### Avg Latency (ms) — lower is better",
            "### Throughput (ops/sec) — higher is better",
            "### p50 Latency (ms) — lower is better",
            "### p99 Latency (ms) — lower is better",
        ] {
            assert!(out.contains(title), "{title}");
        }
        assert!(out.contains(
            "| Operation | aerospike-py (Rust) | official aerospike (C) | aerospike-py async \
             | Rust crate (50 in flight) | Rust vs C | Async vs C | Crate vs C |\n\
             | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        ));
        assert!(out.contains("| put | 0.312 ms | 0.587 ms | 0.041 ms | error | 1.9x faster | 14.3x faster | - |"));
        assert!(out.contains("| put | 3,205/s | 1,703/s | 24,390/s | error | 1.9x faster |"));
        assert!(out.contains("| 22,222/s (222,220 rec/s) |"));
    }

    #[test]
    fn errors_and_notes() {
        let out = render();
        assert!(out.contains("### Errors\n\n| Column | Operation | Reason | Count |\n| --- | --- | --- | ---: |"));
        assert!(out.contains("| official aerospike (C) | get | timeout | 2 |"));
        assert!(out.contains("- **Rust crate (50 in flight)**: error: worker exited: connection refused"));
        assert!(out.contains("### Notes\n\n- **aerospike-py async** / `scan`: scan returned 9,990 of 10,000 records"));
        assert!(!has_ansi(&out));
    }

    #[test]
    fn pipes_are_escaped() {
        let mut report = sample_report();
        report.columns[0].label = "a|b".to_owned();
        let out = MarkdownExporter.render(&report);
        assert!(out.contains("| Operation | a\\|b |"));
    }
}
