//! What `--profile` asked for: where its files go and how long its phases run, as the plan keeps
//! it for the pass after the rounds ([`crate::run::profile_pass`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

/// What `--profile` asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Where the folded stacks and flame graphs go.
    pub dir: PathBuf,
    /// How long each sampled phase (and the unprofiled one before it) runs.
    pub phase: Duration,
}

impl Settings {
    /// `--profile-dir`, or `aerobench-profiles/<time>` beside the report file (or in the current
    /// folder).
    pub fn new(dir: Option<PathBuf>, report: Option<&Path>, phase: Duration) -> Settings {
        let dir = dir.unwrap_or_else(|| {
            let beside = report.and_then(Path::parent).filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string().replace(':', "-");
            beside.join("aerobench-profiles").join(stamp)
        });
        Settings { dir, phase }
    }
}
