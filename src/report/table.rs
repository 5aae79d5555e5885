//! Terminal output: the header, the tables (one per operation by default, the seed's four with
//! `--layout seed`), then errors, notes and warnings, drawn with comfy-table in a UTF-8 style that
//! survives copy and paste. No line is wider than the style's width: tables shrink and wrap
//! their cells, text wraps under its label. Colour only when asked for.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Attribute, CellAlignment, Color, ContentArrangement, Table, TableComponent};

/// The clients layout's tables: no vertical lines (they cost a column of width each), a line
/// under the header, one space between columns.
const LIGHT: &str = "     ──            ";

use crate::model::results::RunReport;

use super::by_operation::{self, OpTable};
use super::entry::{self, Entry, Kind};
use super::header::{self, Line};
use super::issues::Issues;
use super::metrics::{self, Grid};
use super::service;
use super::{Exporter, Layout, Style, wrap};
use crate::analysis::numbers::thousands;

/// Renders the report as terminal tables.
pub struct TableExporter {
    pub style: Style,
}

impl Exporter for TableExporter {
    fn render(&self, report: &RunReport) -> String {
        let mut sections = vec![self.header(report)];
        // A service run has its own tables, whatever the layout.
        let service = report.service.as_ref().map(|s| service::tables(report, s));
        match (service, self.style.layout) {
            (Some(tables), _) => sections.extend(tables.iter().map(|t| self.op_table(t))),
            (None, Layout::Clients) => {
                for t in by_operation::tables(report) {
                    sections.push(self.op_table(&t));
                    if let Some(cost) = by_operation::cost_table(report, &t.operation) {
                        sections.push(self.op_table(&cost));
                    }
                }
            }
            (None, Layout::Seed) => sections.extend(metrics::grids(report).iter().map(|g| self.metric(g))),
        }
        sections.extend(super::stages::tables(report).iter().map(|t| self.op_table(t)));
        sections.extend(super::profile::tables(report).iter().map(|t| self.op_table(t)));
        let issues = super::service_issues::collect(report);
        if issues.has_errors() {
            sections.push(self.errors(&issues));
        }
        for section in [
            super::node_spread::lines(report),
            super::node_loss::lines(report),
            super::cluster_change::lines(report),
            super::stages::lines(report),
            super::profile::lines(report),
        ] {
            let Some((title, rest)) = section.split_first() else { continue };
            let mut out = self.bold(title);
            for line in rest {
                out.push('\n');
                out.push_str(&wrap::labelled("  ", "", 0, line, self.style.width));
            }
            sections.push(out);
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
        let table = self.light_table(&t.header, &t.rows);
        format!("{}\n{table}", self.bold(&t.title))
    }

    fn metric(&self, grid: &Grid) -> String {
        let table = self.light_table(&grid.header, &grid.rows);
        format!("{}\n{table}", self.bold(grid.metric.title()))
    }

    /// A table in the `LIGHT` style, fitted to the width (see [`fit`]).
    fn light_table(&self, header: &[String], rows: &[Vec<Entry>]) -> Table {
        let (header, rows) = fit(header, rows, self.style.width);
        let mut table = self.new_table();
        table.load_preset(LIGHT);
        if table_width(&widths(&header, &rows)) <= self.style.width {
            // Laid out by `fit`: comfy-table must not re-wrap it.
            table.set_content_arrangement(ContentArrangement::Disabled);
        }
        table.set_header(header.iter().map(|h| self.header_cell(h)));
        for row in &rows {
            table.add_row(row.iter().map(|e| self.entry_cell(e)));
        }
        for column in table.column_iter_mut() {
            column.set_padding((0, 0));
        }
        right_align_from(&mut table, 1);
        table
    }

    fn errors(&self, issues: &Issues) -> String {
        let mut out = self.bold("Errors");
        if !issues.errors.is_empty() {
            let mut table = self.new_table();
            table.set_header(["Column", issues.scope(), "Reason", "Count"].map(|h| self.header_cell(h)));
            for e in &issues.errors {
                table.add_row([e.column.clone(), e.operation.clone(), e.reason.clone(), thousands(e.count)]);
            }
            right_align_from(&mut table, 3);
            out.push('\n');
            out.push_str(&table.to_string());
        }
        for failed in &issues.failed_columns {
            let status =
                if self.style.color { format!("\u{1b}[31m{}\u{1b}[0m", entry::ERROR) } else { entry::ERROR.to_owned() };
            // Multi-line errors (a command to run, say) stay indented under their column.
            for (i, part) in failed.error.lines().enumerate() {
                out.push('\n');
                out.push_str(&if i == 0 {
                    wrap::labelled("  ", &format!("{}: {status}:", failed.column), 0, part, self.style.width)
                } else {
                    wrap::labelled("      ", "", 0, part, self.style.width)
                });
            }
            // A crashed worker's Python stacks, as faulthandler wrote them (not wrapped: paths).
            for line in failed.stacks.iter().flat_map(|s| s.lines()) {
                out.push('\n');
                if !line.is_empty() {
                    out.push_str("      ");
                    out.push_str(line);
                }
            }
        }
        out
    }

    fn notes(&self, issues: &Issues) -> String {
        let mut out = self.bold("Notes");
        for note in &issues.notes {
            out.push('\n');
            let text = format!("{} / {}: {}", note.column, note.operation, note.text);
            out.push_str(&wrap::labelled(" ", "", 0, &text, self.style.width));
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

/// Width of a table whose columns are `widths` wide, a space between two (the `LIGHT` style).
fn table_width(widths: &[usize]) -> usize {
    widths.iter().sum::<usize>() + widths.len().saturating_sub(1)
}

/// Widest line of each column.
fn widths(header: &[String], rows: &[Vec<Entry>]) -> Vec<usize> {
    let lines = |t: &str| t.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    (0..header.len())
        .map(|i| rows.iter().map(|r| lines(&r[i].text)).chain([lines(&header[i])]).max().unwrap_or(0))
        .collect()
}

/// Words of `text` on lines of at most `room` characters (a longer word gets a line of its own).
fn wrap_words(text: &str, room: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= room => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_owned()),
        }
    }
    lines.join("\n")
}

/// The widest word of `text`.
fn longest_word(text: &str) -> usize {
    text.split_whitespace().map(|w| w.chars().count()).max().unwrap_or(0)
}

/// Wraps every header but the first to the width of its column's widest value (or its own
/// longest word).
fn narrow_headers(header: &mut [String], rows: &[Vec<Entry>]) {
    let value_widths = widths(&vec![String::new(); header.len()], rows);
    for (i, h) in header.iter_mut().enumerate().skip(1) {
        *h = wrap_words(&h.replace('\n', " "), value_widths[i].max(longest_word(h)));
    }
}

/// Lays a table out to fit `width`, breaking cells only between words so numbers stay whole:
/// first headers wrap to the width of their column's widest value, then verdicts go on two
/// lines (`1.9x faster` / `(1.7–2.1)`), then the first column (client or operation names)
/// wraps. Whatever still does not fit is left to comfy-table's own wrapping.
fn fit(header: &[String], rows: &[Vec<Entry>], width: usize) -> (Vec<String>, Vec<Vec<Entry>>) {
    let mut header = header.to_vec();
    let mut rows = rows.to_vec();
    if table_width(&widths(&header, &rows)) <= width {
        return (header, rows);
    }
    narrow_headers(&mut header, &rows);
    if table_width(&widths(&header, &rows)) > width {
        for entry in rows.iter_mut().flat_map(|r| r.iter_mut().skip(1)) {
            if matches!(entry.kind, Kind::Faster | Kind::Slower | Kind::Same | Kind::Missing) {
                entry.text = entry.text.replacen(" (", "\n(", 1);
            }
        }
        narrow_headers(&mut header, &rows);
    }
    // Headers wrapped narrower than the room left: give them back what fits, fewest lines first.
    for i in (1..header.len()).rev() {
        let flat = header[i].replace('\n', " ");
        let spare = width.saturating_sub(table_width(&widths(&header, &rows)));
        let room = widths(&header, &rows)[i] + spare;
        header[i] = wrap_words(&flat, room);
        if table_width(&widths(&header, &rows)) > width {
            header[i] = wrap_words(&flat, room.saturating_sub(1).max(longest_word(&header[i])));
        }
    }
    let current = widths(&header, &rows);
    let over = table_width(&current).saturating_sub(width);
    if over > 0 {
        let room = current[0].saturating_sub(over).max(12);
        for row in rows.iter_mut() {
            row[0].text = wrap_words(&row[0].text, room);
        }
        header[0] = wrap_words(&header[0], room);
    }
    (header, rows)
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
    use crate::test_support::{has_ansi, sample_report, seven_column_report};

    fn style(width: usize, layout: Layout) -> Style {
        Style { color: false, width, layout, verbose: false }
    }

    fn plain() -> String {
        TableExporter { style: style(100, Layout::Clients) }.render(&sample_report())
    }

    #[test]
    fn a_crashed_worker_s_python_stacks_follow_its_error_indented() {
        let mut report = sample_report();
        let failed = report.columns.iter_mut().find(|c| c.error.is_some()).expect("a failed column");
        failed.crash = Some(Box::new(crate::model::results::WorkerCrash {
            ended: "killed by signal 11 (SIGSEGV)".into(),
            python_stacks: "Fatal Python error: Segmentation fault\n\nCurrent thread 0x1 (most recent call first):\n  \
                            File \"/x/a.py\", line 3 in f"
                .into(),
            native_backtrace: None,
        }));
        let out = TableExporter { style: style(100, Layout::Clients) }.render(&report);
        let lines: Vec<&str> = out.lines().collect();
        let at = lines.iter().position(|l| l.contains("worker exited: connection refused")).expect("the error");
        assert_eq!(
            lines[at + 1..at + 5],
            [
                "      Fatal Python error: Segmentation fault",
                "",
                "      Current thread 0x1 (most recent call first):",
                "        File \"/x/a.py\", line 3 in f"
            ]
        );
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
                    let over: Vec<&str> = out.lines().filter(|l| l.chars().count() > width).collect();
                    assert!(over.is_empty(), "{layout:?} verbose={verbose} at {width}: {over:#?}\n{out}");
                }
            }
        }
        // At 160 columns the default layout needs no wrapping: a header line, the rule, one line
        // per client.
        let wide = TableExporter { style: style(160, Layout::Clients) }.render(&report);
        let get = &wide[wide.find("get — ").unwrap()..];
        let lines = get.lines().skip(1).take_while(|l| !l.is_empty()).count();
        assert_eq!(lines, 2 + report.columns.len(), "{get}");
        // At 100, every client's figures still stand on the client's first line.
        let narrow = TableExporter { style: style(100, Layout::Clients) }.render(&report);
        let get = &narrow[narrow.find("get — ").unwrap()..];
        for c in &report.columns {
            let line = get.lines().find(|l| l.starts_with(c.label.split(' ').next().unwrap())).unwrap();
            assert!(line.contains(" µs") || line.contains(" ms"), "{line}\n{get}");
        }
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

#[cfg(test)]
mod service_tests {
    use super::*;
    use crate::test_support::sample_service_report;

    fn render(width: usize, layout: Layout) -> String {
        TableExporter { style: Style { color: false, width, layout, verbose: false } }.render(&sample_service_report())
    }

    #[test]
    fn a_service_run_shows_its_tables_in_place_of_the_calls() {
        for layout in [Layout::Clients, Layout::Seed] {
            let out = render(100, layout);
            let positions: Vec<usize> = [
                "aerobench service — batch-count, 3 rounds per step at 10 vus, 50 vus",
                "Service",
                "10 vus — requests and HTTP latency",
                "10 vus — what a request cost the app",
                "50 vus — requests and HTTP latency",
                "50 vus — what a request cost the app",
                "Saturation — ",
                "Errors",
                "Notes",
            ]
            .iter()
            .map(|t| out.find(t).unwrap_or_else(|| panic!("{t:?} missing from\n{out}")))
            .collect();
            assert!(positions.windows(2).all(|w| w[0] < w[1]), "{out}");
            assert!(!out.contains("put — "), "no calls tables:\n{out}");
            assert!(out.contains("2,450/s"), "{out}");
            assert!(out.contains("1.23x more"), "{out}");
        }
    }

    #[test]
    fn service_errors_are_by_step_with_the_app_s_stderr() {
        let out = render(100, Layout::Clients);
        let errors = &out[out.find("Errors").expect("errors section")..];
        assert!(errors.lines().nth(2).is_some_and(|l| l.contains("Step")), "{errors}");
        let row = errors.lines().find(|l| l.contains("HTTP 500")).expect("HTTP 500 row");
        assert!(row.contains("official aerospike (C)") && row.contains("50 vus") && row.contains(" 5 "), "{row}");
        assert!(out.contains("aerospike-sdk: error: the app did not start within 30 s"), "{out}");
        assert!(out.contains("      ImportError: no sdk"), "{out}");
        assert!(out.contains("official aerospike (C) / app: worker 4242 died"), "{out}");
    }

    #[test]
    fn service_tables_fit_80_and_100_columns() {
        for width in [80, 100] {
            let out = render(width, Layout::Clients);
            let over: Vec<&str> = out.lines().filter(|l| l.chars().count() > width).collect();
            assert!(over.is_empty(), "at {width}: {over:#?}\n{out}");
        }
    }
}
