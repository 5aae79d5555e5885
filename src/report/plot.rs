//! `--plot FILE.svg`: a picture of a run. One row per operation: on the left the latency
//! percentile spectrum (latency against percentile on a log scale of 1/(1−p), 0% to 99.99%, one
//! line per client, from the cell's full histogram), on the right the throughput of each round.
//! Lines differ by dash pattern and marker as well as by colour, so the picture reads in black
//! and white. SVG only; text is left to the viewer's fonts, so no font is needed to draw it.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use crate::engine::stats;
use crate::model::results::{Cell, RunReport};

/// Highest percentile drawn: 99.99% (4 "nines" on the x axis).
const NINES: f64 = 4.0;
/// One client's line in a panel: its column index (which picks its look), label and points.
type ClientLine = (usize, String, Vec<(f64, f64)>);
/// Points per nine on the spectrum.
const STEPS_PER_NINE: u32 = 25;
pub(super) const PANEL_HEIGHT: u32 = 360;
pub(super) const WIDTH: u32 = 1200;

/// How one client's lines look: colour, dash (`None` solid) and marker.
#[derive(Debug, Clone, Copy)]
pub(super) struct LineLook {
    pub(super) color: RGBColor,
    pub(super) dash: Option<(u32, u32)>,
    pub(super) marker: Marker,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Marker {
    Circle,
    Triangle,
    Square,
    Cross,
    Dot,
    Diamond,
}

const COLORS: [RGBColor; 6] = [
    RGBColor(0, 0, 0),
    RGBColor(0, 90, 181),
    RGBColor(220, 50, 32),
    RGBColor(0, 130, 60),
    RGBColor(120, 60, 160),
    RGBColor(150, 100, 0),
];
const DASHES: [Option<(u32, u32)>; 4] = [None, Some((10, 5)), Some((3, 3)), Some((16, 4))];
const MARKERS: [Marker; 6] =
    [Marker::Circle, Marker::Triangle, Marker::Square, Marker::Cross, Marker::Dot, Marker::Diamond];

/// The look of the `i`th client: every pair of clients differs in dash or marker.
pub(super) fn look(i: usize) -> LineLook {
    LineLook { color: COLORS[i % COLORS.len()], dash: DASHES[i % DASHES.len()], marker: MARKERS[i % MARKERS.len()] }
}

/// Draws marker `m` at each of `points` on `area` (chart or pixel coordinates).
fn draw_markers<DB, CT>(
    area: &DrawingArea<DB, CT>,
    m: Marker,
    points: &[CT::From],
    color: RGBColor,
) -> anyhow::Result<()>
where
    DB: DrawingBackend,
    CT: plotters::coord::CoordTranslate,
    CT::From: Clone,
{
    let stroke = ShapeStyle::from(&color).stroke_width(1);
    let fill = ShapeStyle::from(&color).filled();
    for p in points {
        let shape = EmptyElement::at(p.clone());
        match m {
            Marker::Circle => area.draw(&(shape + Circle::new((0, 0), 4, stroke))),
            Marker::Dot => area.draw(&(shape + Circle::new((0, 0), 3, fill))),
            Marker::Triangle => area.draw(&(shape + Polygon::new(vec![(0, -5), (-5, 4), (5, 4)], fill))),
            Marker::Square => area.draw(&(shape + Rectangle::new([(-4, -4), (4, 4)], stroke))),
            Marker::Diamond => area.draw(&(shape + Polygon::new(vec![(0, -5), (5, 0), (0, 5), (-5, 0)], fill))),
            Marker::Cross => area.draw(
                &(shape
                    + PathElement::new(vec![(-4, -4), (4, 4)], stroke)
                    + PathElement::new(vec![(-4, 4), (4, -4)], stroke)),
            ),
        }
        .map_err(plot_error)?;
    }
    Ok(())
}

/// Percentile label of an x position (`nines` of 1/(1−p)): 0 → `0%`, 2 → `99%`.
fn percentile_label(nines: f64) -> String {
    let p = 100.0 * (1.0 - 10f64.powf(-nines));
    let decimals = if nines <= 2.0 { 0 } else { (nines - 2.0).ceil() as usize };
    format!("{p:.decimals$}%")
}

/// The spectrum of one histogram: (nines, latency µs) points, 0 to 99.99%.
fn spectrum(cell: &Cell) -> Option<Vec<(f64, f64)>> {
    let hist = stats::decode_histogram(&cell.histogram).ok().filter(|h| !h.is_empty())?;
    let steps = (NINES * f64::from(STEPS_PER_NINE)) as u32;
    Some(
        (0..=steps)
            .map(|k| {
                let nines = f64::from(k) / f64::from(STEPS_PER_NINE);
                let q = 1.0 - 10f64.powf(-nines);
                (nines, (hist.value_at_quantile(q) as f64 / 1_000.0).max(0.001))
            })
            .collect(),
    )
}

/// A line in `look`: dashed or solid, with its markers at `marks`.
pub(super) fn draw_line<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    points: Vec<(f64, f64)>,
    marks: Vec<(f64, f64)>,
    look: LineLook,
) -> anyhow::Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let style = ShapeStyle::from(&look.color).stroke_width(2);
    match look.dash {
        None => chart.draw_series(LineSeries::new(points, style)),
        Some((dash, gap)) => chart.draw_series(DashedLineSeries::new(points, dash, gap, style)),
    }
    .map_err(plot_error)?;
    draw_markers(chart.plotting_area(), look.marker, &marks, look.color)?;
    Ok(())
}

pub(super) fn plot_error(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("drawing the plot: {e}")
}

/// The legend, one row across the top: each client's line, marker and label.
pub(super) fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(String, LineLook)],
) -> anyhow::Result<()> {
    let mut x = 20;
    let y = 14;
    for (label, look) in entries {
        let style = ShapeStyle::from(&look.color).stroke_width(2);
        let path = vec![(x, y), (x + 40, y)];
        match look.dash {
            None => area.draw(&PathElement::new(path, style)),
            Some((dash, gap)) => area.draw(&DashedPathElement::new(path, dash, gap, style)),
        }
        .map_err(plot_error)?;
        draw_markers(area, look.marker, &[(x + 20, y)], look.color)?;
        area.draw(&Text::new(label.clone(), (x + 48, y - 7), ("sans-serif", 14))).map_err(plot_error)?;
        x += 70 + 8 * label.chars().count() as i32;
    }
    Ok(())
}

fn panel_spectrum(area: &DrawingArea<SVGBackend, Shift>, report: &RunReport, operation: &str) -> anyhow::Result<()> {
    let lines: Vec<ClientLine> = report
        .columns
        .iter()
        .enumerate()
        .filter_map(|(i, c)| Some((i, c.label.clone(), spectrum(report.cell(&c.id, operation)?)?)))
        .collect();
    let (lo, hi) = lines
        .iter()
        .flat_map(|(_, _, pts)| pts.iter().map(|p| p.1))
        .fold((f64::MAX, 0.0f64), |(lo, hi), y| (lo.min(y), hi.max(y)));
    let (lo, hi) = if lines.is_empty() { (1.0, 10.0) } else { (lo * 0.8, hi * 1.25) };
    let mut chart = ChartBuilder::on(area)
        .caption(format!("{operation}: latency by percentile"), ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..NINES, (lo..hi).log_scale())
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_labels(NINES as usize + 1)
        .x_label_formatter(&|x| percentile_label(*x))
        .x_desc("percentile")
        .y_desc("latency (log scale)")
        .y_labels(6)
        .y_label_formatter(&|y| crate::analysis::numbers::latency(*y))
        .draw()
        .map_err(plot_error)?;
    for (i, _, points) in lines {
        let marks: Vec<(f64, f64)> = points.iter().copied().filter(|(x, _)| x.fract() == 0.0).collect();
        draw_line(&mut chart, points, marks, look(i))?;
    }
    Ok(())
}

fn panel_throughput(area: &DrawingArea<SVGBackend, Shift>, report: &RunReport, operation: &str) -> anyhow::Result<()> {
    let lines: Vec<ClientLine> = report
        .columns
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let cell = report.cell(&c.id, operation)?;
            let pts: Vec<(f64, f64)> = cell.rounds.iter().map(|r| (f64::from(r.round), r.ops_per_sec)).collect();
            (!pts.is_empty()).then(|| (i, c.label.clone(), pts))
        })
        .collect();
    let rounds = lines.iter().flat_map(|(_, _, p)| p.iter().map(|x| x.0)).fold(1.0f64, f64::max);
    let top = lines.iter().flat_map(|(_, _, p)| p.iter().map(|x| x.1)).fold(1.0f64, f64::max) * 1.2;
    let mut chart = ChartBuilder::on(area)
        .caption(format!("{operation}: throughput per round"), ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.5..rounds + 0.5, 0.0..top)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_labels((rounds as usize).min(20))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .x_desc("round")
        .y_desc("ops/s")
        .y_label_formatter(&|y| crate::analysis::numbers::thousands(y.round() as u64))
        .draw()
        .map_err(plot_error)?;
    for (i, _, points) in lines {
        let marks = points.clone();
        draw_line(&mut chart, points, marks, look(i))?;
    }
    Ok(())
}

/// The SVG picture of `report`.
pub fn svg(report: &RunReport) -> anyhow::Result<String> {
    let ops = &report.workload.operations;
    let rows = ops.len().max(1) as u32;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, PANEL_HEIGHT * rows + 70)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let title = format!("aerobench {} — {}", report.started_at, report.server.address);
        let body = root.titled(&title, ("sans-serif", 20)).map_err(plot_error)?;
        let (top, body) = body.split_vertically(30);
        let entries: Vec<(String, LineLook)> = report
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| report.cells.iter().any(|x| x.column == c.id))
            .map(|(i, c)| (c.label.clone(), look(i)))
            .collect();
        legend(&top, &entries)?;
        let panels = body.split_evenly((rows as usize, 2));
        for (k, op) in ops.iter().enumerate() {
            panel_spectrum(&panels[2 * k], report, op)?;
            panel_throughput(&panels[2 * k + 1], report, op)?;
        }
        root.present().map_err(plot_error)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_report;

    #[test]
    fn percentile_labels() {
        let labels: Vec<String> = (0..=4).map(|n| percentile_label(f64::from(n))).collect();
        assert_eq!(labels, ["0%", "90%", "99%", "99.9%", "99.99%"]);
    }

    #[test]
    fn every_pair_of_clients_differs_in_dash_or_marker() {
        for i in 0..12 {
            for j in 0..i {
                let (a, b) = (look(i), look(j));
                assert!(
                    a.dash != b.dash || std::mem::discriminant(&a.marker) != std::mem::discriminant(&b.marker),
                    "{i} {j}"
                );
            }
        }
    }

    #[test]
    fn the_svg_parses_and_has_a_line_per_client_and_operation() {
        let report = sample_report();
        let text = svg(&report).expect("draws");
        let doc = roxmltree::Document::parse(&text).expect("the SVG is XML");
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).map(str::trim).collect();
        for op in &report.workload.operations {
            assert!(texts.iter().any(|t| t.starts_with(&format!("{op}: latency"))), "{op}");
        }
        for c in &report.columns {
            if report.cells.iter().any(|x| x.column == c.id) {
                assert!(texts.contains(&c.label.as_str()), "legend names {}", c.label);
            }
        }
        assert!(texts.contains(&"99.99%"));
        let lines = doc.descendants().filter(|n| n.has_tag_name("polyline") || n.has_tag_name("path")).count();
        assert!(lines >= report.cells.len(), "{lines} lines");
    }
}
