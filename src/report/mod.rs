//! Report formats. Each format is one file behind the small [`Exporter`] trait; the pieces the
//! human-readable formats share (header wording, the four metric tables, ratio wording, errors
//! and notes, number formatting) each live in their own file too. Adding a format is adding a
//! file and a [`Format`] variant.

mod header;
mod issues;
mod json;
mod markdown;
mod metrics;
mod numbers;
mod relative_speed;
mod table;
#[cfg(test)]
mod test_support;

use crate::results::RunReport;

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
}

/// Turns a finished run into the text of one format.
pub trait Exporter {
    fn render(&self, report: &RunReport) -> String;
}

/// The exporter for `format`; `color` only affects terminal tables.
pub fn exporter(format: Format, color: bool) -> Box<dyn Exporter> {
    match format {
        Format::Table => Box::new(TableExporter { color }),
        Format::Json => Box::new(JsonExporter),
        Format::Markdown => Box::new(MarkdownExporter),
    }
}

/// Renders `report` in `format`, ending with a newline.
pub fn render(report: &RunReport, format: Format, color: bool) -> String {
    exporter(format, color).render(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_support::{has_ansi, sample_report};

    #[test]
    fn dispatches_to_each_format() {
        let report = sample_report();
        assert!(render(&report, Format::Table, false).contains("Avg Latency (ms)"));
        assert!(render(&report, Format::Markdown, false).contains("### Avg Latency (ms)"));
        assert!(render(&report, Format::Json, false).starts_with("{\n"));
        // Colour only affects terminal tables.
        assert!(!has_ansi(&render(&report, Format::Markdown, true)));
        assert!(!has_ansi(&render(&report, Format::Json, true)));
        assert!(has_ansi(&render(&report, Format::Table, true)));
    }

    #[test]
    fn formats_have_cli_names() {
        use clap::ValueEnum;
        let names: Vec<String> = Format::value_variants()
            .iter()
            .filter_map(|f| f.to_possible_value().map(|v| v.get_name().to_owned()))
            .collect();
        assert_eq!(names, ["table", "json", "markdown"]);
    }
}
