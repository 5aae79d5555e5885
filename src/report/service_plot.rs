//! `--plot FILE.svg` of a service run: the saturation curves. On the left each column's
//! requests/s against the step (virtual users or offered rate), its saturation point ringed; on
//! the right its p99 against the step on a log scale, with the `--slo-p99` line when given. The
//! app floor's lines are grey and dashed, the clients' solid and told apart by colour and marker.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::model::results::RunReport;
use crate::model::service::ServiceRun;

use super::plot::{LineLook, Marker, PANEL_HEIGHT, WIDTH, draw_line, legend, look, plot_error};

/// The app floor's look: grey and dashed.
const FLOOR_LOOK: LineLook = LineLook { color: RGBColor(120, 120, 120), dash: Some((8, 5)), marker: Marker::Square };

/// One column's curve: its look, label and (step, value) points.
type Curve = (LineLook, String, Vec<(f64, f64)>);

/// The columns with at least one cell, in table order, each with its look and label.
fn columns(report: &RunReport, service: &ServiceRun) -> Vec<(String, LineLook, String)> {
    let mut client = 0;
    super::service::ordered(service)
        .into_iter()
        .filter(|c| service.cells.iter().any(|x| x.column == c.id))
        .map(|c| {
            let label = super::by_operation::label(report, &c.id);
            if c.floor {
                (c.id.clone(), FLOOR_LOOK, format!("{label} (floor)"))
            } else {
                client += 1;
                (c.id.clone(), LineLook { dash: None, ..look(client - 1) }, label)
            }
        })
        .collect()
}

/// Every column's curve of `value` over the steps it has a cell at.
fn curves(
    report: &RunReport,
    service: &ServiceRun,
    value: impl Fn(&crate::model::service::ServiceCell) -> f64,
) -> Vec<Curve> {
    columns(report, service)
        .into_iter()
        .map(|(id, look, label)| {
            let points = service.steps.iter().filter_map(|&s| service.cell(&id, s).map(|c| (s, value(c)))).collect();
            (look, label, points)
        })
        .collect()
}

/// The x range: from the origin (or just below the first step) to just past the last.
fn step_range(service: &ServiceRun) -> std::ops::Range<f64> {
    let last = service.steps.iter().copied().fold(1.0f64, f64::max);
    0.0..last * 1.05
}

fn panel_requests(
    area: &DrawingArea<SVGBackend, Shift>,
    report: &RunReport,
    service: &ServiceRun,
) -> anyhow::Result<()> {
    let curves = curves(report, service, |c| c.requests_per_sec);
    let top = curves.iter().flat_map(|(_, _, p)| p.iter().map(|x| x.1)).fold(1.0f64, f64::max) * 1.2;
    let mut chart = ChartBuilder::on(area)
        .caption("requests/s by step", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(step_range(service), 0.0..top)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc(service.step_unit.as_str())
        .y_desc("requests/s")
        .y_label_formatter(&|y| crate::analysis::numbers::thousands(y.round().max(0.0) as u64))
        .draw()
        .map_err(plot_error)?;
    for (look, _, points) in curves {
        let marks = points.clone();
        draw_line(&mut chart, points, marks, look)?;
    }
    // Each column's saturation point, ringed in its colour.
    for (id, look, _) in columns(report, service) {
        let Some(step) = service.saturation.iter().find(|s| s.column == id).and_then(|s| s.step) else { continue };
        if let Some(cell) = service.cell(&id, step) {
            let ring = Circle::new((step, cell.requests_per_sec), 9, ShapeStyle::from(&look.color).stroke_width(2));
            chart.draw_series(std::iter::once(ring)).map_err(plot_error)?;
        }
    }
    Ok(())
}

fn panel_p99(area: &DrawingArea<SVGBackend, Shift>, report: &RunReport, service: &ServiceRun) -> anyhow::Result<()> {
    let curves = curves(report, service, |c| c.latency_us.p99.max(0.001));
    let values = curves.iter().flat_map(|(_, _, p)| p.iter().map(|x| x.1)).chain(service.slo_p99_us);
    let (lo, hi) = values.fold((f64::MAX, 0.0f64), |(lo, hi), y| (lo.min(y), hi.max(y)));
    let (lo, hi) = if hi > 0.0 { (lo * 0.8, hi * 1.25) } else { (1.0, 10.0) };
    let mut chart = ChartBuilder::on(area)
        .caption("p99 latency by step", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(step_range(service), (lo..hi).log_scale())
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc(service.step_unit.as_str())
        .y_desc("p99 (log scale)")
        .y_labels(6)
        .y_label_formatter(&|y| crate::analysis::numbers::latency(*y))
        .draw()
        .map_err(plot_error)?;
    if let Some(slo) = service.slo_p99_us {
        let range = step_range(service);
        let style = ShapeStyle::from(&RED).stroke_width(1);
        chart
            .draw_series(DashedLineSeries::new(vec![(range.start, slo), (range.end, slo)], 4, 4, style))
            .map_err(plot_error)?;
    }
    for (look, _, points) in curves {
        let marks = points.clone();
        draw_line(&mut chart, points, marks, look)?;
    }
    Ok(())
}

/// The SVG picture of a service run: a legend, then requests/s and p99 side by side.
pub fn svg(report: &RunReport, service: &ServiceRun) -> anyhow::Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, PANEL_HEIGHT + 70)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let title = format!(
            "aerobench service {} — {}, {} — {}",
            service.scenario, service.load, report.started_at, report.server.address
        );
        let body = root.titled(&title, ("sans-serif", 20)).map_err(plot_error)?;
        let (top, body) = body.split_vertically(30);
        let entries: Vec<(String, LineLook)> =
            columns(report, service).into_iter().map(|(_, look, label)| (label, look)).collect();
        legend(&top, &entries)?;
        let panels = body.split_evenly((1, 2));
        panel_requests(&panels[0], report, service)?;
        panel_p99(&panels[1], report, service)?;
        root.present().map_err(plot_error)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_service_report;

    /// The points of every curve's polyline (2 px wide) of `stroke` (`#RRGGBB`).
    fn polylines<'a>(doc: &'a roxmltree::Document, stroke: &str) -> Vec<&'a str> {
        doc.descendants()
            .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(stroke))
            .filter(|n| n.attribute("stroke-width") == Some("2"))
            .filter_map(|n| n.attribute("points"))
            .collect()
    }

    #[test]
    fn the_saturation_curves_of_every_column_the_floor_dashed() {
        let report = sample_service_report();
        let text = svg(&report, report.service.as_ref().expect("a service run")).expect("draws");
        let doc = roxmltree::Document::parse(&text).expect("the SVG is XML");
        let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).map(str::trim).collect();
        for label in ["app floor (floor)", "aerospike-py async", "official aerospike (C)"] {
            assert!(texts.contains(&label), "legend names {label}: {texts:?}");
        }
        assert!(!texts.contains(&"aerospike-sdk"), "a column with no cell has no curve");
        assert!(texts.contains(&"requests/s by step") && texts.contains(&"p99 latency by step"), "{texts:?}");
        // One solid line each for the two clients in the legend and in both panels.
        for colour in ["#000000", "#005AB5"] {
            assert_eq!(polylines(&doc, colour).len(), 3, "{colour}");
        }
        // The floor's dashes: many short pieces per panel instead of one line.
        assert!(polylines(&doc, "#787878").len() > 4, "{}", polylines(&doc, "#787878").len());
        // The SLO line and the saturation rings.
        let slo = doc.descendants().filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some("#FF0000"));
        assert!(slo.count() > 1);
        let rings = doc.descendants().filter(|n| n.has_tag_name("circle") && n.attribute("r") == Some("9")).count();
        assert_eq!(rings, 2, "aerospike-py async and the official client saturated");
    }
}
