//! GitHub-flavoured markdown, for pasting into pull requests and issues: the header as a short
//! bullet list, the tables (one per operation, or the seed's four; numbers right-aligned), then
//! errors, notes and warnings.

use crate::model::results::RunReport;

use super::by_operation::{self, OpTable};
use super::header::{self, Line};
use super::metrics::{self, Grid};
use super::{Exporter, Layout};
use crate::analysis::numbers::thousands;

pub struct MarkdownExporter {
    pub layout: Layout,
    pub verbose: bool,
}

impl Exporter for MarkdownExporter {
    fn render(&self, report: &RunReport) -> String {
        let mut sections = vec![header_section(report, self.verbose)];
        // A service run has its own tables, whatever the layout.
        let service = report.service.as_ref().map(|s| super::service::tables(report, s));
        match (service, self.layout) {
            (Some(tables), _) => sections.extend(tables.iter().map(op_section)),
            (None, Layout::Clients) => {
                for t in by_operation::tables(report) {
                    sections.push(op_section(&t));
                    if let Some(cost) = by_operation::cost_table(report, &t.operation) {
                        sections.push(op_section(&cost));
                    }
                }
            }
            (None, Layout::Seed) => sections.extend(metrics::grids(report).iter().map(metric_section)),
        }
        sections.extend(super::stages::tables(report).iter().map(op_section));
        sections.extend(super::profile::tables(report).iter().map(op_section));
        if let Some((title, rest)) = super::profile::lines(report).split_first() {
            let mut out = format!("### {}\n", inline(title));
            for line in rest {
                out.push_str(&format!("\n- {}", inline(line)));
            }
            sections.push(out);
        }
        let issues = super::service_issues::collect(report);
        if issues.has_errors() {
            let mut out = String::from("### Errors");
            if !issues.errors.is_empty() {
                let rows: Vec<Vec<String>> = issues
                    .errors
                    .iter()
                    .map(|e| vec![e.column.clone(), e.operation.clone(), e.reason.clone(), thousands(e.count)])
                    .collect();
                out.push_str("\n\n");
                out.push_str(&table(&["Column", issues.scope(), "Reason", "Count"], &rows, 3));
            }
            if !issues.failed_columns.is_empty() {
                out.push('\n');
                for failed in &issues.failed_columns {
                    out.push_str(&format!(
                        "\n- **{}**: {}: {}",
                        inline(&failed.column),
                        super::entry::ERROR,
                        inline(&failed.error)
                    ));
                    if let Some(stacks) = &failed.stacks {
                        out.push_str("\n\n  ```text\n");
                        for line in stacks.lines() {
                            let line = line.replace("```", "'''");
                            out.push_str(&if line.is_empty() { "\n".to_string() } else { format!("  {line}\n") });
                        }
                        out.push_str("  ```\n");
                    }
                }
            }
            sections.push(out);
        }
        for lines in [super::cluster_change::lines(report), super::stages::lines(report)] {
            if let Some((title, rest)) = lines.split_first() {
                let mut out = format!("### {}\n", inline(title));
                for line in rest {
                    out.push_str(&format!("\n- {}", inline(line.trim_start())));
                }
                sections.push(out);
            }
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
        if !issues.warnings.is_empty() {
            let mut out = String::from("### Before you trust these figures\n");
            for w in &issues.warnings {
                out.push_str(&format!("\n- {}", inline(w)));
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

fn header_section(report: &RunReport, verbose: bool) -> String {
    let mut lines = vec![format!("## {}", inline(&header::title(report))), String::new()];
    lines.extend(header::run_lines(report).iter().map(|l| bullet(l, "")));
    let columns = header::column_lines(report);
    if verbose && !columns.is_empty() {
        lines.push("- **Columns**:".to_owned());
        lines.extend(columns.iter().map(|l| bullet(l, "  ")));
    }
    lines.join("\n")
}

fn op_section(t: &OpTable) -> String {
    let rows: Vec<Vec<String>> = t.rows.iter().map(|row| row.iter().map(|e| e.text.clone()).collect()).collect();
    let header: Vec<&str> = t.header.iter().map(String::as_str).collect();
    format!("### {}\n\n{}", inline(&t.title), table(&header, &rows, by_operation::FIRST_NUMBER))
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
    use crate::test_support::{has_ansi, sample_report};

    fn render(layout: Layout) -> String {
        MarkdownExporter { layout, verbose: false }.render(&sample_report())
    }

    #[test]
    fn header_is_a_bullet_list() {
        let out = render(Layout::Clients);
        assert!(
            out.starts_with("## aerobench — 1,000 records, 3 rounds, 50 in flight for async columns\n\n- **Server**: ")
        );
        assert!(out.contains(BUILTIN_MARKER));
        assert!(out.contains("\n- **Machine**: linux/x86_64, 2 CPUs"));
        let verbose = MarkdownExporter { layout: Layout::Clients, verbose: true }.render(&sample_report());
        assert!(verbose.contains("\n  - **aerospike-py (Rust)**: aerospike-py 0.5.0, sync"));
    }

    #[test]
    fn one_table_per_operation_with_right_aligned_numbers() {
        let out = render(Layout::Clients);
        assert!(
            out.contains(
                "### put — 1,000 calls × 3 rounds per client\n\n\
             | Client | In flight | avg | p50 | p99 | over floor | ops/s | ops/s vs official aerospike (C) |\n\
             | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
            ),
            "{out}"
        );
        assert!(out.contains("| official aerospike (C) | 1 | 587.0 µs |"), "{out}");
    }

    #[test]
    fn seed_layout_keeps_the_seed_tables() {
        let out = render(Layout::Seed);
        for title in [
            "### Avg Latency (ms) — lower is better",
            "### Throughput (ops/sec) — higher is better",
            "### p50 Latency (ms) — lower is better",
            "### p99 Latency (ms) — lower is better",
        ] {
            assert!(out.contains(title), "{title}");
        }
        assert!(out.contains("| aerospike-py vs C | aerospike-py async vs C (ops/s) |"), "{out}");
        assert!(out.contains("| 22,222/s (222,220 rec/s) |"));
    }

    #[test]
    fn errors_notes_and_warnings() {
        let out = render(Layout::Clients);
        assert!(out.contains("### Errors\n\n| Column | Operation | Reason | Count |\n| --- | --- | --- | ---: |"));
        assert!(out.contains("| official aerospike (C) | get | timeout | 2 |"));
        assert!(out.contains("- **Rust crate (50 in flight)**: error: worker exited: connection refused"));
        assert!(out.contains("- **aerospike-py async** / `scan`: scan returned 9,990 of 10,000 records"));
        assert!(out.contains("### Before you trust these figures"));
        assert!(!has_ansi(&out));
    }

    #[test]
    fn pipes_are_escaped() {
        let mut report = sample_report();
        report.columns[1].label = "a|b".to_owned();
        let out = MarkdownExporter { layout: Layout::Clients, verbose: false }.render(&report);
        assert!(out.contains("| a\\|b | 1 |"), "{out}");
    }
}

#[cfg(test)]
mod service_tests {
    use super::*;
    use crate::test_support::sample_service_report;

    #[test]
    fn a_service_run_as_github_tables() {
        let out = MarkdownExporter { layout: Layout::Clients, verbose: false }.render(&sample_service_report());
        assert!(
            out.starts_with("## aerobench service — batch-count, 3 rounds per step at 10 vus, 50 vus\n\n"),
            "{out}"
        );
        assert!(out.contains("- **Service**: batch-count — a batch of 100 keys → JSON count"), "{out}");
        assert!(
            out.contains(
                "| Column | req/s (95% CI) | p50 | p95 | p99 | max | errors | p99 vs baseline |\n\
                 | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n\
                 | app floor | 4,100/s (3,977–4,223) | 2.40 ms |"
            ),
            "{out}"
        );
        assert!(
            out.contains("| aerospike-py async | 62% | 410.0 µs | 2,439 (2,317–2,561) | +170.0 µs, +1.90 ms |"),
            "{out}"
        );
        assert!(
            out.contains(
                "| aerospike-py async | 10 vus | 2,300/s | 2,439 | 8.60 ms | requests/s rose 6% from 10 to 50 vus |"
            ),
            "{out}"
        );
        assert!(out.contains("| Column | Step | Reason | Count |"), "{out}");
        assert!(out.contains("| official aerospike (C) | 50 vus | HTTP 500 | 5 |"), "{out}");
        assert!(out.contains("- **aerospike-sdk**: error: the app did not start within 30 s"), "{out}");
        assert!(out.contains("  ImportError: no sdk\n"), "{out}");
        assert!(!out.contains("### put — "), "{out}");
    }
}
