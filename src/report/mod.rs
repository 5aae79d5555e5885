//! Report formats. Each format is one file behind the small [`Exporter`] trait; the pieces the
//! human-readable formats share (header wording, the per-operation tables, the seed layout's
//! metric tables, errors, notes and warnings, number formatting) each live in their own file
//! too. Adding a format is adding a file and a [`Format`] variant.

mod builds;
mod by_operation;
mod cluster_change;
mod csv;
mod entry;
pub mod failures;
mod header;
mod hlog;
mod issues;
mod json;
mod line;
pub mod live;
mod markdown;
mod metrics;
mod node_loss;
mod node_spread;
pub mod plot;
pub mod plot_file;
mod profile;
mod service;
mod service_issues;
mod service_plot;
mod stages;
mod table;
mod wrap;

use std::io::IsTerminal as _;

use crate::model::results::RunReport;

pub use csv::CsvExporter;
pub use hlog::HlogExporter;
pub use json::JsonExporter;
pub use markdown::MarkdownExporter;
pub use table::TableExporter;

/// Output format chosen on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Terminal tables.
    Table,
    /// The full report as JSON (see `schema.json`).
    Json,
    /// GitHub-flavoured markdown tables, for pull requests.
    Markdown,
    /// One CSV row per cell (column × operation): counts, ops/s, latency percentiles in µs; a
    /// service run: one row per column and step with every figure of the cell.
    Csv,
    /// HdrHistogram interval log: each cell's latency histogram (ns) tagged `column/operation`,
    /// for HdrHistogram's own log tools.
    Hlog,
}

/// How the human-readable formats lay the figures out.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One table per operation, a row per client (avg, p50, p99, over floor, ops/s, ratio).
    Clients,
    /// The seed benchmark's tables: one per metric, operations as rows, clients as columns.
    Seed,
}

/// Everything about the reader's screen an exporter needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// ANSI colours (terminal tables only).
    pub color: bool,
    /// No line of the terminal tables is wider than this.
    pub width: usize,
    pub layout: Layout,
    /// Show every column's version, source and policies.
    pub verbose: bool,
}

/// Width used when nothing says how wide the reader's screen is.
pub const DEFAULT_WIDTH: usize = 100;

/// The width to fit: the terminal's when stdout is one, else `COLUMNS`, else 100.
pub fn output_width(to_stdout: bool) -> usize {
    if to_stdout
        && std::io::stdout().is_terminal()
        && let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size()
    {
        return usize::from(w).max(40);
    }
    width_from(std::env::var("COLUMNS").ok().as_deref())
}

/// `COLUMNS` as a width, else [`DEFAULT_WIDTH`].
fn width_from(columns: Option<&str>) -> usize {
    columns.and_then(|c| c.trim().parse::<usize>().ok()).filter(|&w| w >= 40).unwrap_or(DEFAULT_WIDTH)
}

/// Turns a finished run into the text of one format.
pub trait Exporter {
    fn render(&self, report: &RunReport) -> String;
}

/// The exporter for `format`.
pub fn exporter(format: Format, style: &Style) -> Box<dyn Exporter> {
    match format {
        Format::Table => Box::new(TableExporter { style: *style }),
        Format::Json => Box::new(JsonExporter),
        Format::Markdown => Box::new(MarkdownExporter { layout: style.layout, verbose: style.verbose }),
        Format::Csv => Box::new(CsvExporter),
        Format::Hlog => Box::new(HlogExporter),
    }
}

/// Renders `report` in `format`, ending with a newline.
pub fn render(report: &RunReport, format: Format, style: &Style) -> String {
    exporter(format, style).render(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{has_ansi, sample_report};

    fn style(color: bool) -> Style {
        Style { color, width: 100, layout: Layout::Clients, verbose: false }
    }

    #[test]
    fn dispatches_to_each_format() {
        let report = sample_report();
        assert!(render(&report, Format::Table, &style(false)).contains("get — "));
        assert!(render(&report, Format::Markdown, &style(false)).contains("### get — "));
        assert!(render(&report, Format::Json, &style(false)).starts_with("{\n"));
        // Colour only affects terminal tables.
        assert!(!has_ansi(&render(&report, Format::Markdown, &style(true))));
        assert!(!has_ansi(&render(&report, Format::Json, &style(true))));
        assert!(has_ansi(&render(&report, Format::Table, &style(true))));
    }

    #[test]
    fn formats_have_cli_names() {
        use clap::ValueEnum;
        let names: Vec<String> = Format::value_variants()
            .iter()
            .filter_map(|f| f.to_possible_value().map(|v| v.get_name().to_owned()))
            .collect();
        assert_eq!(names, ["table", "json", "markdown", "csv", "hlog"]);
    }

    #[test]
    fn width_comes_from_columns_else_100() {
        assert_eq!(width_from(Some("120")), 120);
        assert_eq!(width_from(Some(" 80 ")), 80);
        assert_eq!(width_from(Some("abc")), 100);
        assert_eq!(width_from(Some("10")), 100);
        assert_eq!(width_from(None), 100);
    }
}
