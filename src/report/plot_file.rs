//! `--plot FILE.svg`: the run's plot written to a file — the calls' latency spectra and
//! throughput (`plot.rs`), or a service run's saturation curves (`service_plot.rs`).

use anyhow::Context as _;

use crate::model::results::RunReport;

/// The SVG of `report`'s plot.
pub fn svg(report: &RunReport) -> anyhow::Result<String> {
    match &report.service {
        Some(service) => super::service_plot::svg(report, service),
        None => super::plot::svg(report),
    }
}

/// Writes `report`'s plot to `path`.
pub fn write(report: &RunReport, path: &std::path::Path) -> anyhow::Result<()> {
    let text = svg(report)?;
    std::fs::write(path, text).with_context(|| format!("cannot write the plot to {}", path.display()))
}
