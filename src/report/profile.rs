//! The `--profile` sections of the text reports: a "where" table per operation (a row per
//! Python column: the share of samples by owner, and ops/s while sampled against the phase
//! before), then the lines that go with it — where the files are, the frames that took most,
//! what grew or shrank between two builds, and why a column has no profile.

use crate::model::profile::Profile;
use crate::model::results::RunReport;

use super::by_operation::{OpTable, label};
use super::entry::{Entry, Kind, MISSING};
use crate::analysis::numbers::per_sec;

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
    let rate_header =
        if report.service.is_some() { "req/s sampled (last measured)" } else { "ops/s sampled (unsampled)" };
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
                    rate_header,
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
    out.push(if report.service.is_some() {
        format!(
            "folded stacks and flame graphs (SVG) in {}, one per app column (the app floors are not profiled); each \
             app's sampled slice ran after the last step's rounds at that step's load, every worker of the app \
             sampled and their samples merged, and counts in no cell or verdict: its requests/s against the \
             column's last measured slice give the cost of sampling",
            profiles.dir
        )
    } else {
        format!(
            "folded stacks and flame graphs (SVG) in {}, one per column and operation; the sampled phases ran after \
             the rounds and count in no table or verdict, each right after an unsampled one of the same column and \
             operation: ops/s of the two give the cost of sampling",
            profiles.dir
        )
    });
    for p in &profiles.profiles {
        let mut who = format!("{} / {}", label(report, &p.column), p.operation);
        if let Some(workers) = p.workers {
            let s = if workers == 1 { "" } else { "s" };
            who.push_str(&format!(" ({workers} app worker{s} merged)"));
        }
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

#[cfg(test)]
mod tests {
    use crate::model::profile::{Differential, FrameShare, FrameShift, Overhead, Profile, Profiles, WhereShares};
    use crate::report::{Format, Layout, Style, render};
    use crate::test_support::sample_report;

    fn profiled() -> crate::model::results::RunReport {
        let mut report = sample_report();
        let profile = |column: &str, python: f64| Profile {
            column: column.to_owned(),
            operation: "get".to_owned(),
            samples: 600,
            dropped_samples: 2,
            shares: WhereShares {
                client_extension: 0.5,
                client_python: python,
                shim: 0.1,
                interpreter: 0.1,
                idle: 0.2 - python,
                other: 0.1,
            },
            frames: vec![FrameShare {
                frame: "as_dict (aerospike_py/_client.py)".to_owned(),
                self_share: python,
                total_share: python,
            }],
            folded: Some(format!("{column}/get.folded")),
            flamegraph: Some(format!("{column}/get.svg")),
            overhead: Some(Overhead { unprofiled_ops_per_sec: 4000.0, profiled_ops_per_sec: 3000.0, slowdown: 0.25 }),
            workers: None,
            note: None,
        };
        let mut unattached = profile("official-c", 0.0);
        unattached.samples = 0;
        unattached.note = Some("py-spy exit status: 1: Failed to find python version from target process".to_owned());
        report.profiles = Some(Profiles {
            sampler: "py-spy 0.4.3, native frames, idle threads included".to_owned(),
            rate_hz: 200,
            phase_secs: 3.0,
            dir: "aerobench-profiles/x".to_owned(),
            profiles: vec![profile("aerospike-py-sync", 0.05), profile("aerospike-py-async", 0.15), unattached],
            differentials: vec![Differential {
                before: "aerospike-py-sync".to_owned(),
                after: "aerospike-py-async".to_owned(),
                operation: "get".to_owned(),
                flamegraph: Some("diff/a--b-get.svg".to_owned()),
                grew: vec![FrameShift {
                    frame: "as_dict (aerospike_py/_client.py)".to_owned(),
                    before: 0.05,
                    after: 0.43,
                    change: 0.38,
                }],
                shrank: Vec::new(),
            }],
            notes: vec!["--profile: py-spy could not attach to the worker of official aerospike (C)".to_owned()],
        });
        report
    }

    #[test]
    fn where_table_and_lines_in_the_table_and_markdown() {
        let report = profiled();
        let style = Style { color: false, width: 100, layout: Layout::Clients, verbose: false };
        let text = render(&report, Format::Table, &style);
        assert!(
            text.contains("get — where the time goes: share of py-spy samples (200/s, 3 s after the rounds)"),
            "{text}"
        );
        assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
        let row = text.lines().find(|l| l.contains("600") && l.contains("15%")).unwrap_or_else(|| panic!("{text}"));
        assert!(row.contains("50%") && row.contains("3,000/s"), "{row}");
        // The lines below wrap: read them as one text.
        let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            words.contains("grew +38% of samples in `as_dict (aerospike_py/_client.py)`; shrank nothing"),
            "{text}"
        );
        assert!(words.contains("official aerospike (C) / get: py-spy exit status: 1: Failed to find python"), "{text}");
        assert!(words.contains("in aerobench-profiles/x, one per column"), "{text}");
        let md = render(&report, Format::Markdown, &style);
        assert!(md.contains("### Profiles — py-spy 0.4.3"), "{md}");
        assert!(md.contains("| 600 | 50% | 5% | 10% | 10% | 15% | 10% | 3,000/s (4,000/s, -25%) |"), "{md}");
        // Without --profile, nothing.
        let plain = render(&sample_report(), Format::Table, &style);
        assert!(!plain.contains("where the time goes") && !plain.contains("Profiles"));
    }
}
