//! Drivers: one per client family, each implementing the engine's small [`Driver`] trait. A
//! driver knows how to connect its client and make one call of each operation; the engine
//! decides everything else. Also the list of columns a user can ask for with `--clients`.

pub mod asgi_app;
pub mod embedded;
pub mod native;
pub mod noop;
pub mod probe;
pub mod python;
pub mod python_values;
pub mod python_worker;
pub mod security;
pub mod start;
pub mod wire;
pub mod wire_cluster;
pub mod wire_encode;
pub mod wire_login;
pub mod wire_verify;
pub mod worker;
pub mod worker_crash;

use crate::drivers::embedded::packages::{self, Package};
pub use crate::engine::Driver;

/// How a column's client is driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// The `aerospike` crate, in-process.
    Native,
    /// No client at all: aerobench's own cost.
    Noop,
    /// Pre-encoded requests on a raw socket: the floor any client can reach.
    Wire,
    /// A Python client through the embedded interpreter, in a worker process. `package` is
    /// `None` for the shim's no-op client.
    Python { package: Option<Package>, module: &'static str },
}

/// A column a user can ask for with `--clients`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnKind {
    pub name: &'static str,
    /// Header in the report.
    pub label: &'static str,
    pub help: &'static str,
    pub family: Family,
    /// `--concurrency` calls in flight (otherwise one).
    pub asynchronous: bool,
    /// Hidden kinds measure aerobench itself and are not listed in help.
    pub hidden: bool,
}

/// One column of the report, before it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedColumn {
    /// The kind's name, or `kind@version` when several versions of its package run.
    pub id: String,
    /// Header in the report (the version appended when several run).
    pub label: String,
    pub kind: &'static ColumnKind,
    /// Where its Python package comes from; `None` for columns without a Python package.
    pub source: Option<embedded::packages::Source>,
    /// The interpreter a Python column runs under; `None` for the others.
    pub python: Option<embedded::interpreter::Interpreter>,
}

impl From<&&'static ColumnKind> for PlannedColumn {
    /// The column of `kind` alone: its own name and label, no package source.
    fn from(kind: &&'static ColumnKind) -> PlannedColumn {
        PlannedColumn { id: kind.name.into(), label: kind.label.into(), kind, source: None, python: None }
    }
}

const fn py(package: Package, module: &'static str) -> Family {
    Family::Python { package: Some(package), module }
}

pub const COLUMN_KINDS: &[ColumnKind] = &[
    ColumnKind {
        name: "wire",
        label: "wire floor",
        help: "pre-encoded requests on a raw socket, 1 in flight: the floor any client can reach",
        family: Family::Wire,
        asynchronous: false,
        hidden: false,
    },
    ColumnKind {
        name: "rust-sync",
        label: "Rust crate",
        help: "aerospike crate (Rust, tokio), 1 call in flight",
        family: Family::Native,
        asynchronous: false,
        hidden: false,
    },
    ColumnKind {
        name: "rust-async",
        label: "Rust crate async",
        help: "aerospike crate (Rust, tokio), --concurrency calls in flight",
        family: Family::Native,
        asynchronous: true,
        hidden: false,
    },
    ColumnKind {
        name: "aerospike-py-sync",
        label: "aerospike-py (Rust)",
        help: "aerospike-py sync Client, 1 call in flight",
        family: py(packages::AEROSPIKE_PY, "aerobench_client_aerospike_py"),
        asynchronous: false,
        hidden: false,
    },
    ColumnKind {
        name: "official-c",
        label: "official aerospike (C)",
        help: "official aerospike package (C extension), sync, 1 call in flight",
        family: py(packages::OFFICIAL, "aerobench_client_official"),
        asynchronous: false,
        hidden: false,
    },
    ColumnKind {
        name: "official-c-executor",
        label: "official aerospike (C) executor",
        help: "official aerospike package through loop.run_in_executor (a pool of --concurrency threads), --concurrency in flight",
        family: py(packages::OFFICIAL, "aerobench_client_official"),
        asynchronous: true,
        hidden: false,
    },
    ColumnKind {
        name: "aerospike-py-async",
        label: "aerospike-py async (Rust)",
        help: "aerospike-py AsyncClient, --concurrency coroutines in flight",
        family: py(packages::AEROSPIKE_PY, "aerobench_client_aerospike_py"),
        asynchronous: true,
        hidden: false,
    },
    ColumnKind {
        name: "aerospike-native-sync",
        label: "aerospike-native (Rust)",
        help: "aerospike-native *_blocking calls, 1 call in flight",
        family: py(packages::NATIVE, "aerobench_client_native"),
        asynchronous: false,
        hidden: false,
    },
    ColumnKind {
        name: "aerospike-native-async",
        label: "aerospike-native async (Rust)",
        help: "aerospike-native awaitables, --concurrency coroutines in flight",
        family: py(packages::NATIVE, "aerobench_client_native"),
        asynchronous: true,
        hidden: false,
    },
    ColumnKind {
        name: "aerospike-sdk-sync",
        label: "aerospike-sdk (on native)",
        help: "aerospike-sdk sync session (aerospike_sdk.sync), 1 call in flight; not in the default set",
        family: py(packages::SDK, "aerobench_client_sdk"),
        asynchronous: false,
        hidden: false,
    },
    ColumnKind {
        name: "aerospike-sdk-async",
        label: "aerospike-sdk async (on native)",
        help: "aerospike-sdk async session (aerospike_sdk), --concurrency coroutines in flight; not in the default set",
        family: py(packages::SDK, "aerobench_client_sdk"),
        asynchronous: true,
        hidden: false,
    },
    ColumnKind {
        name: "noop",
        label: "no-op",
        help: "no client: aerobench's own cost per call, 1 in flight",
        family: Family::Noop,
        asynchronous: false,
        hidden: true,
    },
    ColumnKind {
        name: "noop-async",
        label: "no-op async",
        help: "no client: aerobench's own cost per call, --concurrency in flight",
        family: Family::Noop,
        asynchronous: true,
        hidden: true,
    },
    ColumnKind {
        name: "py-noop",
        label: "Python no-op",
        help: "no client, through the embedded Python path, 1 in flight",
        family: Family::Python { package: None, module: "aerobench_client_noop" },
        asynchronous: false,
        hidden: true,
    },
    ColumnKind {
        name: "py-noop-async",
        label: "Python no-op async",
        help: "no client, through the embedded Python path, --concurrency coroutines",
        family: Family::Python { package: None, module: "aerobench_client_noop" },
        asynchronous: true,
        hidden: true,
    },
];

/// Longest reason a failed call reports, in characters.
pub const REASON_LIMIT: usize = 120;

/// What a failed call reports, in the error table and JSON `errors_by_reason`:
/// `Class (code N): first line of the message`, whitespace collapsed and cut at [`REASON_LIMIT`]
/// characters, so calls that fail alike group together even when messages name keys or
/// addresses. The Python shim's `reason()` writes the same form.
pub fn call_reason(class: &str, code: Option<i64>, message: &str) -> String {
    let head = match code {
        Some(c) => format!("{class} (code {c})"),
        None => class.to_string(),
    };
    let line = message.lines().find(|l| !l.trim().is_empty()).unwrap_or_default();
    let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
    let text = if line.is_empty() { head } else { format!("{head}: {line}") };
    if text.chars().count() <= REASON_LIMIT {
        return text;
    }
    let mut cut: String = text.chars().take(REASON_LIMIT - 1).collect();
    cut.push('…');
    cut
}

/// The column kind named `name`.
pub fn kind(name: &str) -> Option<&'static ColumnKind> {
    COLUMN_KINDS.iter().find(|k| k.name == name)
}

/// The columns run when `--clients` is not given.
pub const DEFAULT_CLIENTS: &str = "wire,rust-sync,rust-async,aerospike-py-sync,official-c,aerospike-py-async,aerospike-native-sync,aerospike-native-async";

/// The columns that run when `--clients` is not given. With a competing thread (the asyncio
/// service scenario), the official client through `run_in_executor` joins them, beside the
/// sequential official column: that is what an async service compares `AsyncClient` with.
pub fn default_clients(cpu_competitor: bool) -> Vec<String> {
    let mut names: Vec<String> = DEFAULT_CLIENTS.split(',').map(String::from).collect();
    if cpu_competitor {
        let after = names.iter().position(|n| n == "official-c").map_or(names.len(), |i| i + 1);
        names.insert(after, "official-c-executor".into());
    }
    names
}

/// Checks `--clients` names and explains the valid ones.
pub fn parse_columns(names: &[String]) -> anyhow::Result<Vec<&'static ColumnKind>> {
    let mut out: Vec<&'static ColumnKind> = Vec::new();
    for name in names {
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        let kind = kind(name).ok_or_else(|| {
            let valid: Vec<String> =
                COLUMN_KINDS.iter().filter(|k| !k.hidden).map(|k| format!("  {:<24} {}", k.name, k.help)).collect();
            anyhow::anyhow!("unknown client {name:?} in --clients; valid columns are:\n{}", valid.join("\n"))
        })?;
        if !out.contains(&kind) {
            out.push(kind);
        }
    }
    anyhow::ensure!(!out.is_empty(), "--clients names no column; try --clients {DEFAULT_CLIENTS}");
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
        assert!(err.contains("unknown client \"java\"") && err.contains("official-c"), "{err}");
        assert!(!err.contains("noop"), "hidden kinds stay hidden");
        assert!(parse_columns(&[]).is_err());
        let defaults: Vec<String> = DEFAULT_CLIENTS.split(',').map(String::from).collect();
        assert_eq!(parse_columns(&defaults).unwrap()[0].name, "wire", "the tables start with the floor");
        assert_eq!(parse_columns(&defaults).unwrap().len(), 8);
        assert_eq!(default_clients(false), defaults);
        let competing = default_clients(true);
        assert_eq!(competing.len(), 9);
        let at = |n: &str| competing.iter().position(|c| c == n).unwrap();
        assert_eq!(at("official-c-executor"), at("official-c") + 1, "beside the sequential official column");
    }

    #[test]
    fn the_sdk_columns_are_asked_for_by_name_and_stay_out_of_the_defaults() {
        let kinds = parse_columns(&["aerospike-sdk-sync".into(), "aerospike-sdk-async".into()]).unwrap();
        assert!(kinds.iter().all(|k| k.family == py(packages::SDK, "aerobench_client_sdk")));
        assert_eq!(kinds.iter().map(|k| k.asynchronous).collect::<Vec<_>>(), [false, true]);
        for competing in [false, true] {
            assert!(!default_clients(competing).iter().any(|c| c.starts_with("aerospike-sdk")));
        }
    }

    #[test]
    fn call_reasons_keep_the_first_line_collapsed_and_bounded() {
        assert_eq!(
            call_reason("Timeout", Some(-9), "deadline  passed\nsub-errors: 3"),
            "Timeout (code -9): deadline passed"
        );
        assert_eq!(call_reason("KeyError", None, ""), "KeyError");
        assert_eq!(call_reason("X", None, "\n\n  second\tline "), "X: second line");
        let long = call_reason("Server", Some(4), &"key 12345 ".repeat(40));
        assert_eq!(long.chars().count(), REASON_LIMIT);
        assert!(long.starts_with("Server (code 4): key 12345 key") && long.ends_with('…'), "{long}");
    }

    #[test]
    fn call_reasons_cut_multi_byte_messages_between_characters() {
        // Every cut position falls inside some multi-byte character for one of these offsets.
        for pad in 0..4 {
            let message = format!("{}{}", "x".repeat(pad), "é€😀ü".repeat(60));
            let cut = call_reason("ClientError", Some(-1), &message);
            assert_eq!(cut.chars().count(), REASON_LIMIT, "{cut}");
            assert!(cut.ends_with('…'));
        }
    }
}
