//! The `aerobench merge` command: reads the JSON reports of several load hosts, has them merged
//! (`analysis/merge.rs`) and writes the merged report in the format asked for.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::analysis::merge;
use crate::report;

/// `aerobench merge` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct MergeArgs {
    /// JSON reports to combine (`--format json` output of each load host), at least two.
    #[arg(required = true, num_args = 2.., value_name = "REPORT.json")]
    pub files: Vec<PathBuf>,
    /// Write the merged report to this file instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Format of the merged report (JSON by default, so it can be merged or compared again).
    #[arg(long, value_enum, default_value = "json")]
    pub format: report::Format,
    /// Leave out the rounds in which some host ran a phase at another time than the others (its
    /// window overlaps theirs by less than half) instead of refusing the merge; the merged report
    /// says which. Hosts run in step with one shared --start-at and --duration.
    #[arg(long)]
    pub drop_unaligned: bool,
}

/// Reads, merges and writes; returns the exit code.
pub fn run(args: MergeArgs) -> anyhow::Result<i32> {
    let mut runs = Vec::new();
    for path in &args.files {
        runs.push((path.display().to_string(), merge::read_report(path)?));
    }
    let merged = merge::merge_with(&runs, args.drop_unaligned)?;
    let style = report::Style {
        color: false,
        width: report::output_width(args.output.is_none()),
        layout: report::Layout::Clients,
        verbose: false,
    };
    let text = report::render(&merged, args.format, &style);
    match &args.output {
        Some(path) => std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            use std::io::Write as _;
            std::io::stdout().lock().write_all(text.as_bytes()).context("cannot write to stdout")?;
        }
    }
    Ok(0)
}
