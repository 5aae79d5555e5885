//! Terminal output: the header, the tables (one per operation by default, the seed's four with
//! `--layout seed`), then errors, notes and warnings, drawn with comfy-table in a UTF-8 style that
//! survives copy and paste. No line is wider than the style's width: tables shrink and wrap
//! their cells, text wraps under its label. Colour only when asked for.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Attribute, CellAlignment, Color, ContentArrangement, Table, TableComponent};

use crate::results::RunReport;

use super::by_operation::{self, OpTable};
use super::header::{self, Line};
use super::issues::{self, Issues};
use super::metrics::{self, Entry, Grid, Kind};
use super::numbers::thousands;
use super::{Exporter, Layout, Style, wrap};

/// Renders the report as terminal tables.
pub struct TableExporter {
    pub style: Style,
}

impl Exporter for TableExporter {
    fn render(&self, report: &RunReport) -> String {
        let mut sections = vec![self.header(report)];
        match self.style.layout {
            Layout::Clients => sections.extend(by_operation::tables(report).iter().map(|t| self.op_table(t))),
            Layout::Seed => sections.extend(metrics::grids(report).iter().map(|g| self.metric(g))),
        }
        let issues = issues::collect(report);
        if issues.has_errors() {
            sections.push(self.errors(&issues));
        }
        if !issues.notes.is_empty() {
            sections.push(self.notes(&issues));
        }
        if !issues.warnings.is_empty() {
            sections.push(self.warnings(&issues));
        }
        let mut out = sections.join("\n\n");
        out.push('\n');
        out
    }
}

impl TableExporter {
    /// Bold text when colour is on (the only styling outside comfy-table's cells).
    fn bold(&self, text: &str) -> String {
        if self.style.color { format!("\u{1b}[1m{text}\u{1b}[0m") } else { text.to_owned() }
    }

    fn new_table(&self) -> Table {
        let mut table = Table::new();
        // Solid inner lines instead of the preset's dotted ones: every font has `│`.
        table.load_preset(UTF8_FULL_CONDENSED).set_style(TableComponent::VerticalLines, '│');
        if self.style.color {
            table.enforce_styling();
        } else {
            table.force_no_tty();
        }
        table.set_content_arrangement(ContentArrangement::Dynamic);
        table.set_width(u16::try_from(self.style.width).unwrap_or(u16::MAX));
        table
    }

    fn header_cell(&self, text: &str) -> comfy_table::Cell {
        let cell = comfy_table::Cell::new(text);
        if self.style.color { cell.add_attribute(Attribute::Bold) } else { cell }
    }

    fn lines(&self, lines: &[Line], indent: &str) -> String {
        let width = lines.iter().map(|l| l.label.chars().count()).max().unwrap_or(0);
        lines
            .iter()
            .map(|l| wrap::labelled(indent, &l.label, width, &l.text, self.style.width))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn header(&self, report: &RunReport) -> String {
        let mut out = self.bold(&header::title(report));
        out.push('\n');
        out.push_str(&self.lines(&header::run_lines(report), "  "));
        let columns = header::column_lines(report);
        if self.style.verbose && !columns.is_empty() {
            out.push_str("\n  Columns\n");
            out.push_str(&self.lines(&columns, "    "));
        }
        out
    }

    fn entry_cell(&self, entry: &Entry) -> comfy_table::Cell {
        let cell = comfy_table::Cell::new(&entry.text);
        if !self.style.color {
            return cell;
        }
        match entry.kind {
            Kind::Faster => cell.fg(Color::Green),
            Kind::Slower | Kind::Error => cell.fg(Color::Red),
            Kind::Missing => cell.add_attribute(Attribute::Dim),
            Kind::Operation | Kind::Value | Kind::Same => cell,
        }
    }

    fn op_table(&self, t: &OpTable) -> String {
        let mut table = self.new_table();
        table.set_header(t.header.iter().map(|h| self.header_cell(h)));
        for row in &t.rows {
            table.add_row(row.iter().map(|e| self.entry_cell(e)));
        }
        right_align_from(&mut table, by_operation::FIRST_NUMBER);
        format!("{}\n{table}", self.bold(&t.title))
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
            let status = if self.style.color {
                format!("\u{1b}[31m{}\u{1b}[0m", metrics::ERROR)
            } else {
                metrics::ERROR.to_owned()
            };
            // Multi-line errors (a command to run, say) stay indented under their column.
            for (i, part) in failed.error.lines().enumerate() {
                out.push('\n');
                out.push_str(&if i == 0 {
                    wrap::labelled("  ", &format!("{}: {status}:", failed.column), 0, part, self.style.width)
                } else {
                    wrap::labelled("      ", "", 0, part, self.style.width)
                });
            }
        }
        out
    }

    fn notes(&self, issues: &Issues) -> String {
        let mut out = self.bold("Notes");
        for note in &issues.notes {
            out.push('\n');
            out.push_str(&wrap::labelled(
                "  ",
                &format!("{} / {}:", note.column, note.operation),
                0,
                &note.text,
                self.style.width,
            ));
        }
        out
    }

    fn warnings(&self, issues: &Issues) -> String {
        let mut out = self.bold("Before you trust these figures");
        for w in &issues.warnings {
            out.push('\n');
            out.push_str(&wrap::labelled("  ", "-", 0, w, self.style.width));
        }
        out
    }
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
    use crate::report::test_support::{has_ansi, sample_report, seven_column_report};

    fn style(width: usize, layout: Layout) -> Style {
        Style { color: false, width, layout, verbose: false }
    }

    fn plain() -> String {
        TableExporter { style: style(100, Layout::Clients) }.render(&sample_report())
    }

    fn widest(text: &str) -> usize {
        text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
    }

    #[test]
    fn sections_in_order() {
        let out = plain();
        let positions: Vec<usize> = [
            "aerobench — 1,000 records, 3 rounds",
            "put — 1,000 calls × 3 rounds per client",
            "get — ",
            "batch_get — ",
            "scan — ",
            "Errors",
            "Notes",
            "Before you trust these figures",
        ]
        .iter()
        .map(|t| out.find(t).unwrap_or_else(|| panic!("{t:?} missing from\n{out}")))
        .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{out}");
    }

    #[test]
    fn header_is_short_unless_verbose() {
        let out = plain();
        let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains(BUILTIN_MARKER), "{out}");
        assert!(out.contains("linux/x86_64, 2 CPUs"));
        assert!(!out.contains("policies retries=0"), "policies only with --verbose");
        let verbose =
            TableExporter { style: Style { verbose: true, ..style(100, Layout::Clients) } }.render(&sample_report());
        assert!(verbose.contains("policies retries=0 timeout_ms=1000"));
    }

    #[test]
    fn fits_80_100_and_160_columns_with_seven_clients() {
        let report = seven_column_report();
        for width in [80, 100, 160] {
            for layout in [Layout::Clients, Layout::Seed] {
                for verbose in [false, true] {
                    let out = TableExporter { style: Style { verbose, ..style(width, layout) } }.render(&report);
                    assert!(widest(&out) <= width, "{layout:?} verbose={verbose} at {width}: {}\n{out}", widest(&out));
                }
            }
        }
        // At 160 columns the default layout needs no wrapping: one line per client row.
        let wide = TableExporter { style: style(160, Layout::Clients) }.render(&report);
        let get = &wide[wide.find("get — ").unwrap()..];
        let rows = get.lines().take_while(|l| !l.is_empty()).filter(|l| l.starts_with('│')).count();
        assert_eq!(rows, 1 + report.columns.len(), "{get}");
    }

    #[test]
    fn seed_layout_has_the_four_tables() {
        let out = TableExporter { style: style(200, Layout::Seed) }.render(&sample_report());
        for t in
            ["Avg Latency (ms)", "Throughput (ops/sec)", "p50 Latency (ms)", "p99 Latency (ms)", "aerospike-py vs C"]
        {
            assert!(out.contains(t), "{t}");
        }
    }

    #[test]
    fn errors_and_notes_listed() {
        let out = plain();
        let errors = &out[out.find("Errors").expect("errors section")..];
        let timeout = errors.lines().find(|l| l.contains("timeout")).expect("timeout row");
        assert!(timeout.contains("official aerospike (C)") && timeout.contains("get"));
        assert!(out.contains("Rust crate (50 in flight): error: worker exited: connection refused"));
        assert!(out.contains("aerospike-py async / scan: scan returned 9,990 of 10,000 records"));
    }

    #[test]
    fn colour_only_when_asked() {
        assert!(!has_ansi(&plain()));
        let coloured =
            TableExporter { style: Style { color: true, ..style(100, Layout::Clients) } }.render(&sample_report());
        assert!(has_ansi(&coloured));
    }
}
