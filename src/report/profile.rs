//! The `--profile` sections of the text reports: a "where" table per operation (a row per
//! Python column: the share of samples by owner, and ops/s while sampled against the phase
//! before), then the lines that go with it — where the files are, the frames that took most,
//! what grew or shrank between two builds, and why a column has no profile.

use crate::model::profile::Profile;
use crate::model::results::RunReport;

use super::by_operation::{OpTable, label};
use super::entry::{Entry, Kind, MISSING};
use super::numbers::per_sec;

fn pct(share: f64) -> String {
    format!("{:.0}%", 100.0 * share)
}

/// The `--profile` tables, one per operation profiled, in the report's operation order.
pub fn tables(report: &RunReport) -> Vec<OpTable> {
    let Some(profiles) = &report.profiles else { return Vec::new() };
    let mut ops: Vec<&str> = report.workload.operations.iter().map(String::as_str).collect();
    for p in &profiles.profiles {
        if !ops.contains(&p.operation.as_str()) {
            ops.push(&p.operation);
        }
    }
    ops.into_iter()
        .filter_map(|op| {
            let rows: Vec<Vec<Entry>> =
                profiles.profiles.iter().filter(|p| p.operation == op).map(|p| row(report, p)).collect();
            (!rows.is_empty()).then(|| OpTable {
                operation: op.to_owned(),
                title: format!(
                    "{op} — where the time goes: share of py-spy samples ({}/s, {:.0} s after the rounds)",
                    profiles.rate_hz, profiles.phase_secs
                ),
                header: [
                    "Client",
                    "samples",
                    "client extension",
                    "client Python",
                    "aerobench shim",
                    "interpreter (GC, GIL)",
                    "idle",
                    "other",
                    "ops/s sampled (unsampled)",
                ]
                .map(str::to_owned)
                .to_vec(),
                rows,
            })
        })
        .collect()
}

fn row(report: &RunReport, p: &Profile) -> Vec<Entry> {
    let mut row = vec![Entry::new(label(report, &p.column), Kind::Operation)];
    if p.samples == 0 {
        row.extend((0..8).map(|_| Entry::new(MISSING, Kind::Missing)));
        return row;
    }
    let s = &p.shares;
    row.push(Entry::new(p.samples.to_string(), Kind::Value));
    for share in [s.client_extension, s.client_python, s.shim, s.interpreter, s.idle, s.other] {
        row.push(Entry::new(pct(share), Kind::Value));
    }
    row.push(match &p.overhead {
        Some(o) => Entry::new(
            format!(
                "{} ({}, {:+.0}%)",
                per_sec(o.profiled_ops_per_sec),
                per_sec(o.unprofiled_ops_per_sec),
                -100.0 * o.slowdown
            ),
            Kind::Value,
        ),
        None => Entry::new(MISSING, Kind::Missing),
    });
    row
}

/// A frame as a sentence shows it.
fn frame(name: &str) -> String {
    format!("`{name}`")
}

/// The section's lines (title first), or none without `--profile`.
pub fn lines(report: &RunReport) -> Vec<String> {
    let Some(profiles) = &report.profiles else { return Vec::new() };
    let mut out = vec![format!("Profiles — {}", profiles.sampler)];
    out.push(format!(
        "folded stacks and flame graphs (SVG) in {}, one per column and operation; the sampled phases ran after the \
         rounds and count in no table or verdict, each right after an unsampled one of the same column and \
         operation: ops/s of the two give the cost of sampling",
        profiles.dir
    ));
    for p in &profiles.profiles {
        let who = format!("{} / {}", label(report, &p.column), p.operation);
        if let Some(note) = &p.note {
            out.push(format!("{who}: {note}"));
        }
        if p.frames.is_empty() {
            continue;
        }
        let mut top: Vec<_> = p.frames.iter().filter(|f| f.self_share > 0.0).collect();
        top.truncate(3);
        let named: Vec<String> = top.iter().map(|f| format!("{} {}", frame(&f.frame), pct(f.self_share))).collect();
        let file = p.flamegraph.as_deref().map(|f| format!(" ({f})")).unwrap_or_default();
        out.push(format!("{who}: most samples in {}{file}", named.join(", ")));
    }
    for d in &profiles.differentials {
        let who = format!("{} against {} / {}", label(report, &d.after), label(report, &d.before), d.operation);
        let shift = |s: &crate::model::profile::FrameShift| {
            format!("{:+.0}% of samples in {}", 100.0 * s.change, frame(&s.frame))
        };
        let grew = if d.grew.is_empty() {
            "nothing by 1% or more".to_owned()
        } else {
            d.grew.iter().map(shift).collect::<Vec<_>>().join(", ")
        };
        let shrank = if d.shrank.is_empty() {
            "nothing by 1% or more".to_owned()
        } else {
            d.shrank.iter().map(shift).collect::<Vec<_>>().join(", ")
        };
        let file = d.flamegraph.as_deref().map(|f| format!(" ({f})")).unwrap_or_default();
        out.push(format!("{who}: grew {grew}; shrank {shrank}{file}"));
    }
    out.extend(profiles.notes.iter().cloned());
    out
}
