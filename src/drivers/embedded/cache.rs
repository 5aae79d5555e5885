//! aerobench's cache of Python client packages on disk (one cache per interpreter): what each
//! folder holds, its size and when a column last used it (`aerobench cache list`), and removing what is
//! no longer wanted (`aerobench cache clean`). Only folders that carry aerobench's marker file are
//! its own: the cache directory may be shared (`AEROBENCH_CACHE_DIR=~/.cache`) with other tools'
//! `py*` folders, which are never listed for removal; an unmarked folder holding aerobench
//! installs (made by an aerobench before the marker) is named and left alone.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Context as _;

use super::packages::{self, COMPLETE_MARKER, LAST_USED, OWN_MARKER};

/// Temporary install folders older than this belong to no running install.
const STALE_TEMP: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// A finished install a column can use.
    Complete,
    /// An install in progress, or one that was interrupted.
    Temporary,
}

/// One folder of the cache.
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: PathBuf,
    /// `aerospike-py==0.14.4`, `wheel <name>-<sha256 prefix>`, or what a temp folder was for.
    pub what: String,
    pub state: State,
    pub bytes: u64,
    /// When a column last used it (or when it was installed, if never since).
    pub last_used: SystemTime,
}

/// Every install and temporary folder under `root`, wheels included, sorted by path.
pub fn entries(root: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    for dir in children(root) {
        if dir.file_name().is_some_and(|n| n == "wheels") {
            out.extend(children(&dir).into_iter().map(|w| entry(&w, true)));
        } else {
            out.push(entry(&dir, false));
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn children(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

fn entry(path: &Path, wheel: bool) -> Entry {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let complete = path.join(COMPLETE_MARKER).is_file();
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let last_used = modified(&path.join(LAST_USED))
        .or_else(|| modified(&path.join(COMPLETE_MARKER)))
        .or_else(|| modified(path))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let what = match (complete, wheel) {
        (true, true) => format!("wheel {name}"),
        (true, false) => std::fs::read_to_string(path.join(COMPLETE_MARKER))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or(name),
        (false, _) => format!("unfinished install {name}"),
    };
    Entry {
        path: path.to_path_buf(),
        what,
        state: if complete { State::Complete } else { State::Temporary },
        bytes: size(path),
        last_used,
    }
}

/// Bytes in the files under `path` (symbolic links not followed).
fn size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return 0 };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path).into_iter().flatten().flatten().map(|e| size(&e.path())).sum()
}

/// The entries `clean` removes: complete installs unused for `older_than` (all of them when
/// `None`) and temporary folders no install has touched for an hour (or `older_than`, if shorter).
pub fn to_clean(entries: &[Entry], older_than: Option<Duration>, now: SystemTime) -> Vec<Entry> {
    let age = |e: &Entry| now.duration_since(e.last_used).unwrap_or_default();
    entries
        .iter()
        .filter(|e| match e.state {
            State::Complete => older_than.is_none_or(|d| age(e) >= d),
            State::Temporary => age(e) >= older_than.map_or(STALE_TEMP, |d| d.min(STALE_TEMP)),
        })
        .cloned()
        .collect()
}

/// Parses `--older-than`: a whole number followed by `d`, `h`, `m` or `s` (`30d`, `12h`, `90m`).
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let unit = text.chars().last().filter(|c| c.is_ascii_alphabetic());
    let (number, seconds) = match unit {
        Some('d') => (&text[..text.len() - 1], 86_400),
        Some('h') => (&text[..text.len() - 1], 3_600),
        Some('m') => (&text[..text.len() - 1], 60),
        Some('s') => (&text[..text.len() - 1], 1),
        _ => {
            return Err(format!(
                "{text:?} needs a unit: a number of days, hours, minutes or seconds, e.g. 30d, 12h, 90m"
            ));
        }
    };
    let n: u64 =
        number.trim().parse().map_err(|_| format!("{text:?} is not a whole number with a unit, e.g. 30d, 12h, 90m"))?;
    Ok(Duration::from_secs(n.saturating_mul(seconds)))
}

/// `1.2 MB`.
fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GB", n as f64 / f64::from(1u32 << 30)),
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / f64::from(1u32 << 20)),
        n if n >= 1 << 10 => format!("{:.1} kB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

/// `3 d ago`.
fn ago(then: SystemTime, now: SystemTime) -> String {
    let s = now.duration_since(then).unwrap_or_default().as_secs();
    match s {
        s if s >= 86_400 => format!("{} d ago", s / 86_400),
        s if s >= 3_600 => format!("{} h ago", s / 3_600),
        s if s >= 60 => format!("{} min ago", s / 60),
        _ => "just now".into(),
    }
}

/// The `py*` folders under `base` (`py3.11`, `py3.14t`, but also other tools' `pypoetry`...).
fn py_folders(base: &Path) -> Vec<PathBuf> {
    children(base)
        .into_iter()
        .filter(|d| d.file_name().is_some_and(|n| n.to_string_lossy().starts_with("py")))
        .collect()
}

/// The package caches of every interpreter used so far under `base`: the `py*` folders with
/// aerobench's marker.
fn interpreter_roots(base: &Path) -> Vec<PathBuf> {
    py_folders(base).into_iter().filter(|d| d.join(OWN_MARKER).is_file()).collect()
}

/// `py*` folders without aerobench's marker that hold aerobench installs (a folder with its
/// install marker, directly or under `wheels`): made by an aerobench before the marker. Other
/// tools' folders are not named.
fn unmarked_roots(base: &Path) -> Vec<PathBuf> {
    let installed = |d: &Path| d.join(COMPLETE_MARKER).is_file();
    py_folders(base)
        .into_iter()
        .filter(|d| !d.join(OWN_MARKER).is_file())
        .filter(|d| {
            children(d).iter().any(|c| installed(c)) || children(&d.join("wheels")).iter().any(|c| installed(c))
        })
        .collect()
}

/// Every entry of every interpreter's package cache.
fn all_entries(base: &Path) -> Vec<Entry> {
    interpreter_roots(base).iter().flat_map(|r| entries(r)).collect()
}

/// Says which unmarked folders holding aerobench installs were left alone, and how to remove them.
fn left_alone(out: &mut dyn std::io::Write, base: &Path) -> std::io::Result<()> {
    for dir in unmarked_roots(base) {
        writeln!(
            out,
            "left alone: {} holds aerobench installs but not aerobench's marker file {OWN_MARKER} (an older \
             aerobench made it, or another tool shares the folder); remove it by hand if it is no longer wanted \
             (rm -rf {}), or run a Python column on that interpreter once to mark it as aerobench's",
            dir.display(),
            dir.display()
        )?;
    }
    Ok(())
}

/// `aerobench cache list`.
pub fn list(out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    let root = packages::cache_base();
    let all = all_entries(&root);
    let now = SystemTime::now();
    writeln!(out, "aerobench cache: {}", root.display())?;
    for e in &all {
        let state = if e.state == State::Temporary { " (temporary)" } else { "" };
        writeln!(
            out,
            "  {}{state}\n    {}, last used {}, {}",
            e.what,
            bytes(e.bytes),
            ago(e.last_used, now),
            e.path.display()
        )?;
    }
    let total: u64 = all.iter().map(|e| e.bytes).sum();
    writeln!(out, "{} folder(s), {} in total", all.len(), bytes(total))?;
    left_alone(out, &root)?;
    Ok(())
}

/// `aerobench cache clean`.
pub fn clean(out: &mut dyn std::io::Write, older_than: Option<Duration>, dry_run: bool) -> anyhow::Result<()> {
    let root = packages::cache_base();
    let chosen = to_clean(&all_entries(&root), older_than, SystemTime::now());
    let verb = if dry_run { "would remove" } else { "removed" };
    for e in &chosen {
        if !dry_run {
            std::fs::remove_dir_all(&e.path).with_context(|| format!("cannot remove {}", e.path.display()))?;
        }
        writeln!(out, "{verb} {} ({}, {})", e.what, bytes(e.bytes), e.path.display())?;
    }
    let freed: u64 = chosen.iter().map(|e| e.bytes).sum();
    let verb = if dry_run { "would free" } else { "freed" };
    writeln!(out, "{verb} {} in {} folder(s) of {}", bytes(freed), chosen.len(), root.display())?;
    left_alone(out, &root)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(root: &Path, name: &str, marker: Option<&str>) -> PathBuf {
        let dir = root.join(name);
        std::fs::create_dir_all(dir.join("pkg")).unwrap();
        std::fs::write(dir.join("pkg").join("data"), vec![0u8; 1000]).unwrap();
        if let Some(m) = marker {
            std::fs::write(dir.join(COMPLETE_MARKER), m).unwrap();
        }
        dir
    }

    #[test]
    fn every_interpreters_cache_is_listed_and_workers_are_not() {
        let base = std::env::temp_dir().join(format!("aerobench-cache-interp-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        folder(&base.join("py3.11"), "aerospike-py-0.14.4", Some("aerospike-py==0.14.4"));
        folder(&base.join("py3.14t"), "aerospike-py-0.14.4", Some("aerospike-py==0.14.4"));
        folder(&base.join("workers"), "src-0123", None);
        packages::mark(&base.join("py3.11")).unwrap();
        packages::mark(&base.join("py3.14t")).unwrap();
        // Other tools' folders in a shared cache directory, and an older aerobench's unmarked one.
        folder(&base.join("pypoetry"), "virtualenvs", None);
        folder(&base.join("pyright"), "stubs", None);
        folder(&base.join("py3.9"), "aerospike-py-0.12.0", Some("aerospike-py==0.12.0"));
        let paths: Vec<PathBuf> = all_entries(&base).into_iter().map(|e| e.path).collect();
        assert_eq!(
            paths,
            [base.join("py3.11").join("aerospike-py-0.14.4"), base.join("py3.14t").join("aerospike-py-0.14.4")]
        );
        assert_eq!(unmarked_roots(&base), [base.join("py3.9")]);
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn ages_take_days_hours_minutes_seconds() {
        assert_eq!(parse_age("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_age("12h"), Ok(Duration::from_secs(12 * 3_600)));
        assert_eq!(parse_age("90m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_age("45s"), Ok(Duration::from_secs(45)));
        assert!(parse_age("30").unwrap_err().contains("needs a unit"));
        assert!(parse_age("d").unwrap_err().contains("whole number"));
        assert!(parse_age("1.5h").unwrap_err().contains("whole number"));
        assert!(parse_age("3w").unwrap_err().contains("needs a unit"));
    }

    #[test]
    fn lists_installs_wheels_and_temp_folders_and_cleans_by_age() {
        let root = std::env::temp_dir().join(format!("aerobench-cache-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let pypi = folder(&root, "aerospike-py-0.14.4", Some("aerospike-py==0.14.4"));
        let wheel = folder(&root.join("wheels"), "aerospike_py-0.15.0-cp311-abi3-0123456789abcdef", Some("/x.whl"));
        let temp = folder(&root, ".aerospike-py-0.12.0.tmp-42", None);
        std::fs::write(pypi.join(LAST_USED), "").unwrap();
        let all = entries(&root);
        let whats: Vec<&str> = all.iter().map(|e| e.what.as_str()).collect();
        assert_eq!(
            whats,
            vec![
                "unfinished install .aerospike-py-0.12.0.tmp-42",
                "aerospike-py==0.14.4",
                "wheel aerospike_py-0.15.0-cp311-abi3-0123456789abcdef"
            ]
        );
        assert!(all.iter().all(|e| e.bytes >= 1000), "{all:?}");
        assert_eq!(all[0].state, State::Temporary);

        let now = SystemTime::now();
        let paths = |v: Vec<Entry>| v.into_iter().map(|e| e.path).collect::<Vec<_>>();
        // Everything was used just now: nothing is 7 days old, the fresh temp folder may be an install.
        assert!(to_clean(&all, Some(Duration::from_secs(7 * 86_400)), now).is_empty());
        // Two days on, the installs unused for a day go, and the temp folder is stale.
        let later = now + Duration::from_secs(2 * 86_400);
        assert_eq!(
            paths(to_clean(&all, Some(Duration::from_secs(86_400)), later)),
            vec![temp.clone(), pypi.clone(), wheel.clone()]
        );
        // Without --older-than every finished install goes, the fresh temp folder stays.
        assert_eq!(paths(to_clean(&all, None, now)), vec![pypi.clone(), wheel.clone()]);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
