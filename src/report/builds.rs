//! The lines about several builds of one client, above the tables: what each local build is
//! (where it was imported from, its commit, whether the tree had uncommitted changes, when its
//! extension module was built), and each build's verdict against the first build of its column
//! kind (the release, when a local build runs beside one): "aerospike-py-sync local build
//! 3f2a9c1e4b-dirty: put 1.12x faster than 0.14.4 (1.05–1.19)".

use crate::model::column_id::split_build;
use crate::model::results::{Column, LocalBuild, RatioMetric, RunReport};

use super::line::Line;

/// One "Local build" line per local build, naming the columns that ran it.
pub fn local_build_lines(report: &RunReport) -> Vec<Line> {
    let mut builds: Vec<(Vec<&str>, String)> = Vec::new();
    for c in &report.columns {
        let Some(text) = c.build.as_deref().map(describe) else { continue };
        match builds.iter_mut().find(|(_, t)| *t == text) {
            Some((ids, _)) => ids.push(&c.id),
            None => builds.push((vec![&c.id], text)),
        }
    }
    builds
        .into_iter()
        .map(|(ids, text)| Line { label: "Local build".into(), text: format!("{}: {text}", ids.join(", ")) })
        .collect()
}

/// `imported from /src/aerospike-py/python/aerospike_py, git 3f2a9c1e4b with uncommitted
/// changes, extension _aerospike.cpython-311-x86_64-linux-gnu.so written 2026-12-03T23:10:02Z`.
pub fn describe(b: &LocalBuild) -> String {
    let mut parts = vec![format!("imported from {}", b.path)];
    parts.push(match (&b.commit, b.dirty) {
        (Some(c), Some(true)) => format!("git {} with uncommitted changes", short(c)),
        (Some(c), _) => format!("git {} (no uncommitted changes)", short(c)),
        (None, _) => "no git commit (not in a git checkout, or one that ignores it)".into(),
    });
    match (&b.extension, &b.extension_modified) {
        (Some(e), Some(t)) => {
            let file = std::path::Path::new(e).file_name().map_or(e.clone(), |f| f.to_string_lossy().into_owned());
            parts.push(match (b.built_before_head, &b.commit, &b.commit_time) {
                (Some(true), Some(c), Some(at)) => format!(
                    "extension {file} written {t}, built before HEAD {} was committed ({at}): rebuild it to \
                     measure that commit",
                    short(c)
                ),
                _ => format!("extension {file} written {t}"),
            });
        }
        (Some(e), None) => parts.push(format!("extension {e}")),
        _ => parts.push("no compiled extension module found beside it".into()),
    }
    parts.join(", ")
}

fn short(commit: &str) -> String {
    commit.chars().take(10).collect()
}

/// What a build column is called in a verdict: `local build 3f2a9c1e4b-dirty`, or its tag.
fn build_name(c: &Column, tag: &str) -> String {
    match c.build.as_ref() {
        Some(b) => match b.short_commit() {
            Some(commit) if tag == crate::model::column_id::LOCAL => format!("local build {commit}"),
            Some(commit) => format!("{tag} (local build {commit})"),
            None => format!("{tag} (local build)"),
        },
        None => tag.to_string(),
    }
}

/// A verdict's text with what it is measured against: "1.12x faster than 0.14.4 (1.05–1.19)".
fn against(text: &str, base: &str) -> String {
    for (from, to) in [
        ("x faster (", format!("x faster than {base} (")),
        ("x slower (", format!("x slower than {base} (")),
        ("no clear difference (", format!("no clear difference from {base} (")),
        ("no clear difference, ", format!("no clear difference from {base}, ")),
        ("no clear difference beyond ", format!("no clear difference from {base} beyond ")),
    ] {
        if text.contains(from) {
            return text.replacen(from, &to, 1);
        }
    }
    if let Some(rest) = text.strip_prefix("within ")
        && let Some((pct, interval)) = rest.split_once(' ')
    {
        return format!("within {pct} of {base} {interval}");
    }
    format!("{text} against {base}")
}

/// One "Builds" line per build column compared with the first build of its kind, on ops/s (in
/// an open loop, on p99 latency from when calls were due).
pub fn verdict_lines(report: &RunReport) -> Vec<Line> {
    let mut lines = Vec::new();
    for c in &report.columns {
        let (kind, Some(tag)) = split_build(&c.id) else { continue };
        let Some(base) = report.columns.iter().find(|f| matches!(split_build(&f.id), (k, Some(_)) if k == kind)) else {
            continue;
        };
        if base.id == c.id {
            continue;
        }
        let base_tag = split_build(&base.id).1.unwrap_or_default();
        // In an open loop both kept to the rate, or not: latency from when calls were due
        // tells them apart, as the tables do.
        let (metric, what) = if report.workload.rate_per_column.is_some() {
            (RatioMetric::CorrectedP99Latency, "p99 from when calls were due")
        } else {
            (RatioMetric::OpsPerSec, "ops/s")
        };
        let verdicts: Vec<String> = report
            .ratios
            .iter()
            .filter(|r| r.column == c.id && r.baseline == base.id && r.metric == metric)
            .map(|r| format!("{} {}", r.operation, against(&r.text, &build_name(base, base_tag))))
            .collect();
        if verdicts.is_empty() {
            continue;
        }
        lines.push(Line {
            label: "Builds".into(),
            text: format!("{kind} {}, {what}: {}", build_name(c, tag), verdicts.join("; ")),
        });
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::results::Verdict;

    fn local() -> LocalBuild {
        LocalBuild {
            path: "/src/aerospike-py/python/aerospike_py".into(),
            commit: Some("3f2a9c1e4b7d5a6b7c8d9e0f1a2b3c4d5e6f7a8b".into()),
            dirty: Some(true),
            extension: Some("/src/aerospike-py/python/aerospike_py/_aerospike.cpython-311-x86_64-linux-gnu.so".into()),
            extension_modified: Some("2026-12-03T23:10:02Z".into()),
            commit_time: Some("2026-12-03T22:00:00Z".into()),
            built_before_head: Some(false),
        }
    }

    #[test]
    fn a_local_build_says_where_which_commit_and_when() {
        assert_eq!(
            describe(&local()),
            "imported from /src/aerospike-py/python/aerospike_py, git 3f2a9c1e4b with uncommitted changes, \
             extension _aerospike.cpython-311-x86_64-linux-gnu.so written 2026-12-03T23:10:02Z"
        );
        let clean = LocalBuild { dirty: Some(false), extension: None, extension_modified: None, ..local() };
        assert!(describe(&clean).contains("git 3f2a9c1e4b (no uncommitted changes), no compiled extension"));
        let loose = LocalBuild { commit: None, dirty: None, ..local() };
        assert!(describe(&loose).contains("no git commit (not in a git checkout"));
        let stale =
            LocalBuild { built_before_head: Some(true), commit_time: Some("2026-12-04T08:00:00Z".into()), ..local() };
        assert!(
            describe(&stale).ends_with(
                "written 2026-12-03T23:10:02Z, built before HEAD 3f2a9c1e4b was committed (2026-12-04T08:00:00Z): \
                 rebuild it to measure that commit"
            ),
            "{}",
            describe(&stale)
        );
        assert_eq!(stale.short_commit().unwrap(), "built before HEAD 3f2a9c1e4b-dirty");
    }

    #[test]
    fn verdicts_name_the_release_they_are_measured_against() {
        assert_eq!(against("1.12x faster (1.05–1.19)", "0.14.4"), "1.12x faster than 0.14.4 (1.05–1.19)");
        assert_eq!(against("2.0x slower (1.6–2.5)", "0.14.4"), "2.0x slower than 0.14.4 (1.6–2.5)");
        assert_eq!(
            against("no clear difference, too few rounds (1.21)", "0.14.4"),
            "no clear difference from 0.14.4, too few rounds (1.21)"
        );
        assert_eq!(
            against("no clear difference beyond 3% (1.01–1.05)", "0.14.4"),
            "no clear difference from 0.14.4 beyond 3% (1.01–1.05)"
        );
        assert_eq!(against("no clear difference (0.93–1.08)", "0.14.4"), "no clear difference from 0.14.4 (0.93–1.08)");
        assert_eq!(against("within 3% (0.98–1.02)", "0.14.4"), "within 3% of 0.14.4 (0.98–1.02)");

        let mut report = crate::test_support::sample_report();
        let mut release = report.columns[0].clone();
        release.id = "aerospike-py-sync@0.14.4".into();
        let mut mine = release.clone();
        mine.id = "aerospike-py-sync@local".into();
        mine.build = Some(Box::new(local()));
        report.columns = vec![release, mine];
        report.ratios = vec![crate::model::results::Ratio {
            operation: "get".into(),
            column: "aerospike-py-sync@local".into(),
            baseline: "aerospike-py-sync@0.14.4".into(),
            metric: RatioMetric::OpsPerSec,
            speedup: Some(1.12),
            low: Some(1.05),
            high: Some(1.19),
            confidence: 0.95,
            per_round: vec![],
            verdict: Verdict::Faster,
            reason: None,
            text: "1.12x faster (1.05–1.19)".into(),
        }];
        let lines = verdict_lines(&report);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(
            lines[0].text,
            "aerospike-py-sync local build 3f2a9c1e4b-dirty, ops/s: get 1.12x faster than 0.14.4 (1.05–1.19)"
        );
        let built = local_build_lines(&report);
        assert_eq!(built.len(), 1);
        assert!(
            built[0].text.starts_with("aerospike-py-sync@local: imported from /src/aerospike-py/python/aerospike_py")
        );
    }
}
