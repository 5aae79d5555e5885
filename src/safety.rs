//! The data a run touches: aerobench writes only its own keys (`--key-prefix` and an index below
//! `--count`) in its own set. Before writing, it scans the set for records it did not write
//! (their digests are not among its keys' digests) and refuses to write beside them without
//! `--force`; with `--cleanup` it deletes exactly its own keys when the run ends, after Ctrl-C
//! too. Talks to the server through the Rust crate on a runtime of its own.

use std::collections::HashSet;

use aerospike::{Bins, Client, ClientPolicy, Key, PartitionFilter, QueryPolicy, Statement, Value, WritePolicy};
use anyhow::Context as _;
use futures::StreamExt as _;

use crate::workload::Workload;

/// Result code of a namespace the server does not have.
const NAMESPACE_NOT_FOUND: i64 = 20;

/// Deletes in flight at once during `--cleanup`.
const CLEANUP_IN_FLIGHT: usize = 64;

/// A connection for the checks before and the cleanup after a run.
pub struct Records {
    runtime: tokio::runtime::Runtime,
    client: Client,
    workload: Workload,
    timeout_ms: u32,
    /// Key prefixes of records aerobench counts as its own: this run's, and with `--shard` every
    /// shard's (the other load hosts write beside it).
    own_prefixes: Vec<String>,
}

/// What a scan of the set found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetContents {
    /// Records in the set.
    pub total: u64,
    /// Records whose key is not one of this run's keys.
    pub foreign: u64,
}

impl Records {
    pub fn connect(
        host: &str,
        port: u16,
        workload: &Workload,
        timeout_ms: u64,
        alternate: bool,
        credentials: Option<&crate::security::Credentials>,
        tls: Option<&crate::security::Tls>,
    ) -> anyhow::Result<Records> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start a runtime to check the set")?;
        let timeout_ms = u32::try_from(timeout_ms).unwrap_or(u32::MAX);
        let mut policy = ClientPolicy {
            timeout: timeout_ms.min(10_000),
            use_services_alternate: alternate,
            ..ClientPolicy::default()
        };
        let hosts = crate::probe::crate_seed(&mut policy, host, port, credentials, tls)?;
        let client = runtime
            .block_on(Client::new(&policy, &hosts))
            .with_context(|| format!("the aerospike crate could not connect to {hosts} to check the set"))?;
        let own_prefixes = vec![workload.key_prefix.clone()];
        Ok(Records { runtime, client, workload: workload.clone(), timeout_ms, own_prefixes })
    }

    /// Counts records under these key prefixes as aerobench's own too.
    pub fn also_own(mut self, prefixes: impl IntoIterator<Item = String>) -> Records {
        for p in prefixes {
            if !self.own_prefixes.contains(&p) {
                self.own_prefixes.push(p);
            }
        }
        self
    }

    fn key(&self, i: u64) -> anyhow::Result<Key> {
        let w = &self.workload;
        Key::new(w.namespace.as_str(), w.set.as_str(), Value::String(w.key(i))).map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// Scans the set (digests only) and counts the records whose key is not one of aerobench's
    /// own: `--key-prefix` and an index. An earlier run may have written more records (a larger
    /// `--count`), so the indices checked go up to the number of records in the set.
    pub fn contents(&self) -> anyhow::Result<SetContents> {
        let w = &self.workload;
        let statement = Statement::new(w.namespace.as_str(), w.set.as_str(), Bins::None);
        let base = aerospike::BasePolicy {
            total_timeout: 0,
            socket_timeout: self.timeout_ms,
            max_retries: 0,
            ..aerospike::BasePolicy::default()
        };
        let policy = QueryPolicy { base_policy: base, ..QueryPolicy::default() };
        let mut found: HashSet<[u8; 20]> = HashSet::new();
        let mut keyless = 0u64;
        // A namespace the server does not have holds no records: the run itself reports that.
        let no_namespace = |e: &aerospike::Error| i64::from(e.result_code()) == NAMESPACE_NOT_FOUND;
        self.runtime.block_on(async {
            let set = match self.client.query(&policy, PartitionFilter::all(), statement).await {
                Ok(set) => set,
                Err(e) if no_namespace(&e) => return anyhow::Ok(()),
                Err(e) => {
                    return Err(anyhow::Error::new(e)
                        .context(format!("cannot scan set {:?} of namespace {:?}", w.set, w.namespace)));
                }
            };
            let mut stream = set.into_stream();
            while let Some(record) = stream.next().await {
                let record = match record {
                    Ok(record) => record,
                    Err(e) if no_namespace(&e) => return Ok(()),
                    Err(e) => return Err(anyhow::Error::new(e).context(format!("scanning set {:?} failed", w.set))),
                };
                match record.key {
                    Some(k) => {
                        found.insert(k.digest());
                    }
                    None => keyless += 1,
                }
            }
            anyhow::Ok(())
        })?;
        let total = found.len() as u64 + keyless;
        let mut foreign = found.len() as u64;
        for prefix in &self.own_prefixes {
            for i in 0..w.count.max(total) {
                let key = Key::new(w.namespace.as_str(), w.set.as_str(), Value::String(format!("{prefix}{i}")))
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                if found.remove(&key.digest()) {
                    foreign -= 1;
                }
            }
        }
        Ok(SetContents { total, foreign: foreign + keyless })
    }

    /// Deletes every key this run may have written; returns how many records existed.
    pub fn delete_own(&self) -> anyhow::Result<u64> {
        let keys: Vec<Key> = (0..self.workload.count).map(|i| self.key(i)).collect::<anyhow::Result<_>>()?;
        let mut policy = WritePolicy::default();
        policy.base_policy.total_timeout = self.timeout_ms;
        policy.base_policy.socket_timeout = self.timeout_ms;
        let client = &self.client;
        let policy = &policy;
        self.runtime.block_on(async {
            let results: Vec<Result<bool, aerospike::Error>> = futures::stream::iter(keys.iter())
                .map(|key| client.delete(policy, key))
                .buffer_unordered(CLEANUP_IN_FLIGHT)
                .collect()
                .await;
            let mut deleted = 0;
            let mut failed = 0;
            let mut first_error = None;
            for r in results {
                match r {
                    Ok(true) => deleted += 1,
                    Ok(false) => {}
                    Err(e) => {
                        failed += 1;
                        first_error.get_or_insert(e.to_string());
                    }
                }
            }
            if let Some(e) = first_error {
                anyhow::bail!("{failed} of {} deletes failed (first: {e})", keys.len());
            }
            Ok(deleted)
        })
    }
}

impl Drop for Records {
    fn drop(&mut self) {
        let _ = self.runtime.block_on(self.client.close());
    }
}

/// True when the run writes records: some column reads or writes through a real client.
pub fn writes(plan: &crate::plan::Plan) -> bool {
    use crate::drivers::Family;
    let real = plan.columns.iter().any(|pc| match pc.kind.family {
        Family::Noop => false,
        Family::Python { package, .. } => package.is_some(),
        _ => true,
    });
    real && (plan.prewrite || plan.ops.contains(&crate::workload::Operation::Put))
}

/// Checks the set before a run writes to it: an error (to print, exit 2) when it holds records
/// this run did not write and `force` is off; with `force`, the warning for the report.
pub fn check_before_writing(records: &Records, force: bool) -> anyhow::Result<Option<String>> {
    let found = records.contents()?;
    if found.foreign == 0 {
        return Ok(None);
    }
    let w = &records.workload;
    let what = format!(
        "set {:?} of namespace {:?} holds {} record{} aerobench did not write (keys not of the form {:?} + a number)",
        w.set,
        w.namespace,
        found.foreign,
        if found.foreign == 1 { "" } else { "s" },
        w.key_prefix,
    );
    if force {
        return Ok(Some(format!(
            "{what}: written beside them because of --force (aerobench touched only its own keys)"
        )));
    }
    anyhow::bail!(
        "{what}.\n\nRun against a set of its own with --set NAME, or pass --force to write beside them (aerobench \
         writes, reads and --cleanup deletes only its own keys)."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_keys_have_the_digests_the_scan_compares() {
        let w = Workload {
            namespace: "test".into(),
            set: "s".into(),
            key_prefix: "ab-".into(),
            count: 3,
            batch_size: 1,
            bins: Workload::bins_for(1, 1),
            scans: 1,
            warmup: 0,
            seed: 0,
            read_bins: None,
        };
        let a = Key::new("test", "s", Value::String(w.key(2))).unwrap();
        let b = Key::new("test", "s", Value::String("ab-2".into())).unwrap();
        assert_eq!(a.digest(), b.digest());
        let other = Key::new("test", "s", Value::String("someone-2".into())).unwrap();
        assert_ne!(a.digest(), other.digest());
    }
}
