//! Drivers: one per client family, all behind one small trait. A driver knows how to connect
//! its client and make one call of each operation; the engine decides everything else. Also
//! the list of columns a user can ask for with `--clients`.

pub mod native;
pub mod noop;

use std::sync::Arc;

use crate::engine::Phase;
use crate::engine::closed_loop::PhaseState;
use crate::results::Column;

/// A connected client, as one report column.
pub trait Driver {
    /// The column this driver fills: label, client version, concurrency model, policies.
    fn column(&self) -> &Column;

    /// Makes `phase.calls` calls of `phase.op`, `phase.in_flight` at a time, recording each into
    /// `state` — through the engine's closed loops wherever the client allows. `Err` means the
    /// client itself broke (not that calls failed: those are recorded as errors).
    fn run_phase(&mut self, phase: &Phase, state: Arc<PhaseState>) -> anyhow::Result<()>;
}

/// A column a user can ask for with `--clients`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnKind {
    pub name: &'static str,
    pub help: &'static str,
    /// Hidden kinds measure aerobench itself and are not listed in help.
    pub hidden: bool,
}

pub const COLUMN_KINDS: &[ColumnKind] = &[
    ColumnKind { name: "rust-sync", help: "aerospike crate (Rust, async on tokio), 1 call in flight", hidden: false },
    ColumnKind { name: "rust-async", help: "aerospike crate (Rust, async on tokio), --concurrency calls in flight", hidden: false },
    ColumnKind { name: "noop", help: "no client: measures aerobench's own cost per call, 1 in flight", hidden: true },
    ColumnKind { name: "noop-async", help: "no client: aerobench's own cost per call, --concurrency in flight", hidden: true },
];

/// Checks `--clients` names and explains the valid ones.
pub fn parse_columns(names: &[String]) -> anyhow::Result<Vec<&'static ColumnKind>> {
    let mut out: Vec<&'static ColumnKind> = Vec::new();
    for name in names {
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        let kind = COLUMN_KINDS.iter().find(|k| k.name == name).ok_or_else(|| {
            let valid: Vec<String> =
                COLUMN_KINDS.iter().filter(|k| !k.hidden).map(|k| format!("  {:<12} {}", k.name, k.help)).collect();
            anyhow::anyhow!("unknown client {name:?} in --clients; valid columns are:\n{}", valid.join("\n"))
        })?;
        if !out.contains(&kind) {
            out.push(kind);
        }
    }
    anyhow::ensure!(!out.is_empty(), "--clients names no column; try --clients rust-sync,rust-async");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_column_names() {
        let kinds = parse_columns(&["rust-sync".into(), "rust-async".into(), "rust-sync".into()]).unwrap();
        assert_eq!(kinds.iter().map(|k| k.name).collect::<Vec<_>>(), vec!["rust-sync", "rust-async"]);
        let err = parse_columns(&["java".into()]).unwrap_err().to_string();
        assert!(err.contains("unknown client \"java\"") && err.contains("rust-async"), "{err}");
        assert!(!err.contains("noop"), "hidden kinds stay hidden");
        assert!(parse_columns(&[]).is_err());
    }
}
