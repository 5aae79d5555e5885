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
    /// The prefix the user gave (`--key-prefix`): every key aerobench writes under it, sharded or
    /// not, is its own (see [`own_prefixes`]).
    given_prefix: String,
    /// Shards of this run (0 unsharded): shard prefixes below this are always looked for.
    shards: u32,
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
        credentials: Option<&crate::drivers::security::Credentials>,
        tls: Option<&crate::drivers::security::Tls>,
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
        let hosts = crate::drivers::probe::crate_seed(&mut policy, host, port, credentials, tls)?;
        let client = runtime
            .block_on(Client::new(&policy, &hosts))
            .with_context(|| format!("the aerospike crate could not connect to {hosts} to check the set"))?;
        let given_prefix = workload.key_prefix.clone();
        Ok(Records { runtime, client, workload: workload.clone(), timeout_ms, given_prefix, shards: 0 })
    }

    /// Counts every key aerobench writes under `given` (the `--key-prefix` the user gave) as its
    /// own: unsharded runs' and every shard's, this run being one of `shards` (0: unsharded).
    pub fn owning_prefix(mut self, given: &str, shards: u32) -> Records {
        self.given_prefix = given.to_string();
        self.shards = shards;
        self
    }

    fn key(&self, i: u64) -> anyhow::Result<Key> {
        let w = &self.workload;
        Key::new(w.namespace.as_str(), w.set.as_str(), Value::String(w.key(i))).map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// Scans the set (digests only) and counts the records whose key is not one of aerobench's
    /// own: under the `--key-prefix` given, an index (unsharded runs) or a shard and an index
    /// (`--shard` runs), whichever run wrote them. An earlier run may have written more records (a
    /// larger `--count`), so the indices checked go up to the number of records not yet matched.
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
        // This run's own prefix first, then every prefix of the family, while records are left.
        let matched_any = |prefix: &str, found: &mut HashSet<[u8; 20]>| -> anyhow::Result<bool> {
            let mut any = false;
            for i in 0..w.count.max(found.len() as u64) {
                let key = Key::new(w.namespace.as_str(), w.set.as_str(), Value::String(format!("{prefix}{i}")))
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                any |= found.remove(&key.digest());
            }
            Ok(any)
        };
        matched_any(&w.key_prefix, &mut found)?;
        for prefix in own_prefixes(&self.given_prefix, self.shards) {
            if found.is_empty() {
                break;
            }
            match prefix {
                OwnPrefix::Always(p) => {
                    if p != w.key_prefix {
                        matched_any(&p, &mut found)?;
                    }
                }
                OwnPrefix::IfPreviousMatched(p) => {
                    if !matched_any(&p, &mut found)? {
                        break;
                    }
                }
            }
        }
        Ok(SetContents { total, foreign: found.len() as u64 + keyless })
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

/// A key prefix aerobench may have written under, in the order [`own_prefixes`] gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
enum OwnPrefix {
    /// Looked for whatever the prefixes before it matched.
    Always(String),
    /// A shard beyond this run's shards: looked for while the shard before it matched records
    /// (a sharded run's shards are numbered from 0 without gaps).
    IfPreviousMatched(String),
}

/// Every key prefix aerobench writes under the prefix the user gave: `given` for unsharded runs,
/// `{given}{i}-` for shard i of a sharded run (see [`crate::workload::shard::key_prefix`]). This run's
/// `shards` (0 unsharded) are always looked for, and at least shard 0; shards after them only
/// while the one before matched, so a set holding someone else's records costs a few passes over
/// the indices, not one per possible shard.
fn own_prefixes(given: &str, shards: u32) -> impl Iterator<Item = OwnPrefix> + '_ {
    /// Far more shards than any run splits into: the search stops here whatever it finds.
    const MOST_SHARDS: u32 = 100_000;
    let shard = move |index| {
        crate::workload::shard::key_prefix(given, Some(crate::model::results::Shard { index, count: index + 1 }))
    };
    std::iter::once(OwnPrefix::Always(given.to_string())).chain((0..MOST_SHARDS).map(move |i| {
        if i < shards.max(1) { OwnPrefix::Always(shard(i)) } else { OwnPrefix::IfPreviousMatched(shard(i)) }
    }))
}

/// True when the run writes records: some column reads or writes through a real client.
pub fn writes(plan: &crate::run::plan::Plan) -> bool {
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
        "set {:?} of namespace {:?} holds {} record{} aerobench did not write (keys not of the form {:?} + a \
         number, nor {:?} + a shard + \"-\" + a number)",
        w.set,
        w.namespace,
        found.foreign,
        if found.foreign == 1 { "" } else { "s" },
        records.given_prefix,
        records.given_prefix,
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

    #[test]
    fn every_prefix_aerobench_writes_under_is_its_own() {
        let prefixes: Vec<OwnPrefix> = own_prefixes("ab-", 3).take(6).collect();
        assert_eq!(
            prefixes,
            [
                OwnPrefix::Always("ab-".into()),
                OwnPrefix::Always("ab-0-".into()),
                OwnPrefix::Always("ab-1-".into()),
                OwnPrefix::Always("ab-2-".into()),
                OwnPrefix::IfPreviousMatched("ab-3-".into()),
                OwnPrefix::IfPreviousMatched("ab-4-".into()),
            ]
        );
        // An unsharded run still looks for shard 0's keys (a sharded run left them), and further
        // shards while they match.
        let unsharded: Vec<OwnPrefix> = own_prefixes("ab-", 0).take(3).collect();
        assert_eq!(
            unsharded,
            [
                OwnPrefix::Always("ab-".into()),
                OwnPrefix::Always("ab-0-".into()),
                OwnPrefix::IfPreviousMatched("ab-1-".into()),
            ]
        );
        // The shard prefixes are the ones a sharded run writes under.
        let s = crate::model::results::Shard { index: 1, count: 2 };
        assert!(unsharded.contains(&OwnPrefix::IfPreviousMatched(crate::workload::shard::key_prefix("ab-", Some(s)))));
    }
}
