//! The plan: what the user asked for, checked and resolved — which columns, the workload, where
//! each Python client comes from, and the limits that stop a phase — before anything connects.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::cli::{BenchArgs, EventLoop};
use crate::drivers::{self, ColumnKind};
use crate::python::packages::{self, Package, Source};
use crate::workload::{Operation, Workload};

#[derive(Debug)]
pub struct Plan {
    pub columns: Vec<&'static ColumnKind>,
    pub workload: Workload,
    pub ops: Vec<Operation>,
    /// Calls in flight for the async columns.
    pub concurrency: u32,
    pub timeout_ms: u64,
    /// A phase gives up when nothing succeeds for this long.
    pub patience: Duration,
    /// Where each Python package comes from, by PyPI name.
    pub sources: BTreeMap<&'static str, Source>,
    pub event_loop: EventLoop,
    /// Microseconds each call of a no-op column takes (hidden `--stub-delay-us`).
    pub stub_delay_us: u64,
}

impl Plan {
    pub fn from_args(args: &BenchArgs) -> anyhow::Result<Plan> {
        validate(args)?;
        Ok(Plan {
            columns: drivers::parse_columns(&args.clients)?,
            workload: Workload {
                namespace: args.namespace.clone(),
                set: args.set.clone(),
                key_prefix: args.key_prefix.clone(),
                count: args.count,
                batch_size: args.batch_size,
                bins: Workload::bins_for(args.bins, args.value_size),
                scans: args.scans,
                warmup: args.warmup,
            },
            ops: args.ops.clone(),
            concurrency: args.concurrency,
            timeout_ms: args.timeout_ms,
            // Two timeouts in a row without a success (at least 1 s).
            patience: Duration::from_millis(args.timeout_ms.saturating_mul(2)).max(Duration::from_secs(1)),
            sources: python_sources(args)?,
            event_loop: args.event_loop,
            stub_delay_us: args.stub_delay_us,
        })
    }

    /// Calls in flight for a column of `kind`.
    pub fn in_flight(&self, kind: &ColumnKind) -> u32 {
        if kind.asynchronous { self.concurrency } else { 1 }
    }
}

fn validate(args: &BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(!args.ops.is_empty(), "--ops names no operation; use e.g. --ops put,get,batch_get,scan");
    anyhow::ensure!(!args.namespace.is_empty(), "--namespace must not be empty");
    anyhow::ensure!(
        args.set.len() <= 63 && !args.set.is_empty(),
        "--set must be 1 to 63 characters (got {:?})",
        args.set
    );
    anyhow::ensure!(
        !args.key_prefix.is_empty(),
        "--key-prefix must not be empty: aerobench only touches keys it prefixed"
    );
    anyhow::ensure!(args.scans >= 1, "--scans must be at least 1");
    for (i, op) in args.ops.iter().enumerate() {
        anyhow::ensure!(!args.ops[..i].contains(op), "--ops names {} twice; name each operation once", op.name());
    }
    if !args.ops.contains(&Operation::Put) {
        eprintln!(
            "aerobench: note: --ops has no put, so reads expect records written by an earlier run \
             with the same --count, --set and --key-prefix"
        );
    }
    Ok(())
}

/// Where each Python package comes from: `--client-path` over `--client-version` over the
/// pinned default.
fn python_sources(args: &BenchArgs) -> anyhow::Result<BTreeMap<&'static str, Source>> {
    let split = |opt: &str, value: &str| -> anyhow::Result<(Package, String)> {
        let (name, rest) = value
            .split_once('=')
            .filter(|(_, r)| !r.is_empty())
            .ok_or_else(|| anyhow::anyhow!("{opt} takes PACKAGE=VALUE, e.g. {opt} aerospike-py=…; got {value:?}"))?;
        let package = packages::by_name(name.trim()).ok_or_else(|| {
            let names: Vec<&str> = packages::PACKAGES.iter().map(|p| p.pip_name).collect();
            anyhow::anyhow!("{opt}: unknown package {name:?}; known packages: {}", names.join(", "))
        })?;
        Ok((package, rest.trim().to_string()))
    };
    let mut sources: BTreeMap<&'static str, Source> =
        packages::PACKAGES.iter().map(|p| (p.pip_name, Source::Version(p.default_version.to_string()))).collect();
    for v in &args.client_version {
        let (p, version) = split("--client-version", v)?;
        anyhow::ensure!(
            version.chars().all(|c| c.is_ascii_alphanumeric() || ".-+!".contains(c)),
            "--client-version {}: {version:?} is not a version number",
            p.pip_name
        );
        sources.insert(p.pip_name, Source::Version(version));
    }
    for v in &args.client_path {
        let (p, path) = split("--client-path", v)?;
        sources.insert(p.pip_name, packages::parse_path_source(&path));
    }
    Ok(sources)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    fn plan(args: &[&str]) -> anyhow::Result<Plan> {
        let cli = crate::cli::Cli::try_parse_from(std::iter::once("aerobench").chain(args.iter().copied()))?;
        Plan::from_args(&cli.bench)
    }

    #[test]
    fn sources_default_to_pinned_versions_and_take_overrides() {
        let p = plan(&[]).unwrap();
        assert_eq!(p.sources["aerospike-py"], Source::Version("0.14.4".into()));
        assert_eq!(p.columns.len(), 8);
        let p =
            plan(&["--client-version", "aerospike-py=0.13.0", "--client-path", "aerospike=/x/site-packages"]).unwrap();
        assert_eq!(p.sources["aerospike-py"], Source::Version("0.13.0".into()));
        assert_eq!(p.sources["aerospike"], Source::Folder("/x/site-packages".into()));
        assert_eq!(p.sources["aerospike-native"], Source::Version("1.0.0".into()));
    }

    #[test]
    fn bad_plans_are_refused_with_the_option_named() {
        for (args, says) in [
            (&["--client-version", "aerospike-py=1.0; rm -rf /"][..], "not a version number"),
            (&["--client-version", "aerospike-py"][..], "PACKAGE=VALUE"),
            (&["--client-path", "java=/x"][..], "unknown package"),
            (&["--ops", "get,get"][..], "twice"),
            (&["--set", ""][..], "--set"),
        ] {
            let err = plan(args).unwrap_err().to_string();
            assert!(err.contains(says), "{args:?}: {err}");
        }
    }

    #[test]
    fn patience_is_two_timeouts_at_least_a_second() {
        assert_eq!(plan(&["--timeout-ms", "100"]).unwrap().patience, Duration::from_secs(1));
        assert_eq!(plan(&["--timeout-ms", "5000"]).unwrap().patience, Duration::from_secs(10));
    }
}
