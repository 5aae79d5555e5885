//! Terminal output: the header, the four comparison tables and the errors and notes, drawn with
//! comfy-table in a UTF-8 style that survives copy and paste. Colour only when asked for.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Attribute, CellAlignment, Color, Table, TableComponent};

use crate::results::RunReport;

use super::Exporter;
use super::header::{self, Line};
use super::issues::{self, Issues};
use super::metrics::{self, Entry, Grid, Kind};
use super::numbers::thousands;

/// Renders the report as terminal tables; `color` adds ANSI styling (bold headers, green and
/// red ratios, red errors).
pub struct TableExporter {
    pub color: bool,
}

impl Exporter for TableExporter {
    fn render(&self, report: &RunReport) -> String {
        let mut sections = vec![self.header(report)];
        for grid in metrics::grids(report) {
            sections.push(self.metric(&grid));
        }
        let issues = issues::collect(report);
        if issues.has_errors() {
            sections.push(self.errors(&issues));
        }
        if !issues.notes.is_empty() {
            sections.push(self.notes(&issues));
        }
        let mut out = sections.join("\n\n");
        out.push('\n');
        out
    }
}

impl TableExporter {
    /// Bold text when colour is on (the only styling outside comfy-table's cells).
    fn bold(&self, text: &str) -> String {
        if self.color { format!("\u{1b}[1m{text}\u{1b}[0m") } else { text.to_owned() }
    }

    fn new_table(&self) -> Table {
        let mut table = Table::new();
        // Solid inner lines instead of the preset's dotted ones: every font has `│`.
        table.load_preset(UTF8_FULL_CONDENSED).set_style(TableComponent::VerticalLines, '│');
        if self.color {
            table.enforce_styling();
        } else {
            table.force_no_tty();
        }
        table
    }

    fn header_cell(&self, text: &str) -> comfy_table::Cell {
        let cell = comfy_table::Cell::new(text);
        if self.color { cell.add_attribute(Attribute::Bold) } else { cell }
    }

    fn header(&self, report: &RunReport) -> String {
        let run = header::run_lines(report);
        let columns = header::column_lines(report);
        let mut out = self.bold(&header::title(report));
        out.push('\n');
        out.push_str(&aligned(&run, "  "));
        if !columns.is_empty() {
            out.push_str("\n  Columns\n");
            out.push_str(&aligned(&columns, "    "));
        }
        out
    }

    fn entry_cell(&self, entry: &Entry) -> comfy_table::Cell {
        let cell = comfy_table::Cell::new(&entry.text);
        if !self.color {
            return cell;
        }
        match entry.kind {
            Kind::Faster => cell.fg(Color::Green),
            Kind::Slower | Kind::Error => cell.fg(Color::Red),
            Kind::Missing => cell.add_attribute(Attribute::Dim),
            Kind::Operation | Kind::Value | Kind::Same => cell,
        }
    }

    fn metric(&self, grid: &Grid) -> String {
        let mut table = self.new_table();
        table.set_header(grid.header.iter().map(|h| self.header_cell(h)));
        for row in &grid.rows {
            table.add_row(row.iter().map(|e| self.entry_cell(e)));
        }
        right_align_from(&mut table, 1);
        format!("{}\n{table}", self.bold(grid.metric.title()))
    }

    fn errors(&self, issues: &Issues) -> String {
        let mut out = self.bold("Errors");
        if !issues.errors.is_empty() {
            let mut table = self.new_table();
            table.set_header(["Column", "Operation", "Reason", "Count"].map(|h| self.header_cell(h)));
            for e in &issues.errors {
                table.add_row([e.column.clone(), e.operation.clone(), e.reason.clone(), thousands(e.count)]);
            }
            right_align_from(&mut table, 3);
            out.push('\n');
            out.push_str(&table.to_string());
        }
        for failed in &issues.failed_columns {
            let status =
                if self.color { format!("\u{1b}[31m{}\u{1b}[0m", metrics::ERROR) } else { metrics::ERROR.to_owned() };
            // Multi-line errors (a command to run, say) stay indented under their column.
            out.push_str(&format!("\n  {}: {status}: {}", failed.column, failed.error.replace('\n', "\n      ")));
        }
        out
    }

    fn notes(&self, issues: &Issues) -> String {
        let mut out = self.bold("Notes");
        for note in &issues.notes {
            out.push_str(&format!("\n  {} / {}: {}", note.column, note.operation, note.text));
        }
        out
    }
}

/// `label  text` lines with the texts lined up, each line starting with `indent`.
fn aligned(lines: &[Line], indent: &str) -> String {
    let width = lines.iter().map(|l| l.label.chars().count()).max().unwrap_or(0);
    lines.iter().map(|l| format!("{indent}{:<width$}  {}", l.label, l.text)).collect::<Vec<_>>().join("\n")
}

/// Right-aligns every column from `first` on (the numbers).
fn right_align_from(table: &mut Table, first: usize) {
    for column in table.column_iter_mut().skip(first) {
        column.set_cell_alignment(CellAlignment::Right);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::header::BUILTIN_MARKER;
    use crate::report::test_support::{has_ansi, sample_report};

    fn plain() -> String {
        TableExporter { color: false }.render(&sample_report())
    }

    /// The line of the table under `title` whose first cell is `operation`.
    fn row<'a>(out: &'a str, title: &str, operation: &str) -> &'a str {
        let start = out.find(title).expect("title present");
        out[start..]
            .lines()
            .find(|l| l.trim_start_matches('│').trim_start().starts_with(&format!("{operation} ")))
            .expect("row present")
    }

    #[test]
    fn titles_in_order() {
        let out = plain();
        let positions: Vec<usize> = [
            "aerobench — 1,000 ops per operation, concurrency 50",
            "Avg Latency (ms) — lower is better",
            "Throughput (ops/sec) — higher is better",
            "p50 Latency (ms) — lower is better",
            "p99 Latency (ms) — lower is better",
            "Errors",
            "Notes",
        ]
        .iter()
        .map(|t| out.find(t).unwrap_or_else(|| panic!("{t:?} missing from\n{out}")))
        .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{out}");
    }

    #[test]
    fn header_lines() {
        let out = plain();
        assert!(out.contains(BUILTIN_MARKER));
        assert!(out.contains("linux/x86_64, 2 CPUs"));
        assert!(out.contains("test.bench, bins [i: int, s: string(32)], batch size 10"));
        assert!(out.contains("aerospike-py 0.5.0, sync, 1 in flight"));
        assert!(out.contains("policies retries=0 timeout_ms=1000"));
    }

    #[test]
    fn cells_ratios_and_separators() {
        let out = plain();
        let put = row(&out, "Avg Latency", "put");
        assert!(put.contains("0.312 ms") && put.contains("0.587 ms"), "{put}");
        // Ratio columns come after the value columns, in comparison order.
        let rust_vs_c = put.find("1.9x faster").expect("Rust vs C");
        let async_vs_c = put.find("14.3x faster").expect("Async vs C");
        assert!(put.find("0.041 ms").expect("async value") < rust_vs_c);
        assert!(rust_vs_c < async_vs_c);

        let put = row(&out, "Throughput", "put");
        assert!(put.contains("3,205/s") && put.contains("24,390/s"), "{put}");
        let scan = row(&out, "Throughput", "scan");
        assert!(scan.contains("100,000/s (1,000,000 rec/s)"), "{scan}");
        assert!(row(&out, "p99 Latency", "get").contains("1.203 ms"));
    }

    #[test]
    fn failed_column_shows_error() {
        let out = plain();
        let put = row(&out, "Avg Latency", "put");
        let cells: Vec<&str> = put.split('│').map(str::trim).collect();
        // ["", put, rust, c, async, crate, rust vs c, async vs c, crate vs c, ""]
        assert_eq!(cells[5], "error", "{put}");
        assert_eq!(cells[8], "-", "{put}");
        assert!(out.contains("Rust crate (50 in flight): error: worker exited: connection refused"));
    }

    #[test]
    fn numbers_are_right_aligned() {
        let out = plain();
        let put = row(&out, "Avg Latency", "put");
        let cells: Vec<&str> = put.split('│').collect();
        assert!(cells[2].ends_with("0.312 ms "), "{:?}", cells[2]);
        assert!(cells[2].starts_with("  "), "{:?}", cells[2]);
    }

    #[test]
    fn errors_and_notes_listed() {
        let out = plain();
        let errors = &out[out.find("Errors").expect("errors section")..];
        let timeout = errors.lines().find(|l| l.contains("timeout")).expect("timeout row");
        assert!(timeout.contains("official aerospike (C)") && timeout.contains("get"));
        assert!(timeout.trim_end_matches('│').trim_end().ends_with('2'), "{timeout}");
        assert!(out.contains("aerospike-py async / scan: scan returned 9,990 of 10,000 records"));
    }

    #[test]
    fn no_errors_section_for_a_clean_run() {
        let mut report = sample_report();
        report.columns.iter_mut().for_each(|c| c.error = None);
        report.cells.iter_mut().for_each(|c| {
            c.errors = 0;
            c.errors_by_reason.clear();
            c.notes.clear();
        });
        let out = TableExporter { color: false }.render(&report);
        assert!(!out.contains("Errors"));
        assert!(!out.contains("Notes"));
    }

    #[test]
    fn colour_only_when_asked() {
        assert!(!has_ansi(&plain()));
        let coloured = TableExporter { color: true }.render(&sample_report());
        assert!(has_ansi(&coloured));
        assert!(coloured.contains("1.9x faster"));
    }
}
