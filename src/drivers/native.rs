//! The native Rust client (the `aerospike` crate, async on tokio), run in-process. Policies that
//! differ between clients are set explicitly here and listed in the report.

use std::collections::BTreeMap;
use std::sync::Arc;

use aerospike::{
    BatchOperation, BatchPolicy, BatchReadPolicy, BatchWritePolicy, Bin, Bins, Client, ClientPolicy, Concurrency,
    Error, Key, PartitionFilter, QueryPolicy, ReadPolicy, Statement, Value, WritePolicy,
};
use anyhow::Context as _;
use futures::StreamExt as _;

use crate::engine::Phase;
use crate::engine::closed_loop::{CallError, PhaseState, Returned, run_async};
use crate::model::results::Column;
use crate::workload::{BinValue, Operation, Workload};

use crate::engine::Driver;

/// Everything a call needs, shared by the in-flight workers.
struct Shared {
    client: Client,
    workload: Workload,
    write: WritePolicy,
    read: ReadPolicy,
    batch: BatchPolicy,
    batch_read: BatchReadPolicy,
    batch_write: BatchWritePolicy,
    query: QueryPolicy,
    /// `--verify`: reads compare what they got with what was written.
    verify: Option<crate::workload::verify::Verifier>,
}

pub struct NativeDriver {
    column: Column,
    runtime: Arc<tokio::runtime::Runtime>,
    shared: Arc<Shared>,
}

/// Connection settings common to the native columns.
pub struct NativeConfig {
    pub host: String,
    pub port: u16,
    pub timeout_ms: u64,
    /// Equal explicit policies (timeouts, no retries, pools); false: the crate's defaults.
    pub explicit_policies: bool,
    /// Time to live of the records written, in seconds (`--ttl`).
    pub ttl: Option<u32>,
    /// Connect through the server's alternate addresses (`--services-alternate`).
    pub services_alternate: bool,
    /// Compare every value read with the value written (`--verify`).
    pub verify: bool,
    /// Log in as this user when set.
    pub credentials: Option<crate::drivers::security::Credentials>,
    /// Connect with TLS when set.
    pub tls: Option<crate::drivers::security::Tls>,
}

impl NativeDriver {
    pub fn connect(
        runtime: Arc<tokio::runtime::Runtime>,
        config: &NativeConfig,
        workload: &Workload,
        kind: &super::ColumnKind,
        in_flight: u32,
    ) -> anyhow::Result<NativeDriver> {
        let timeout = u32::try_from(config.timeout_ms).unwrap_or(u32::MAX);
        let cp = ClientPolicy {
            timeout: timeout.min(10_000),
            max_conns_per_node: (in_flight as usize + 16).max(256),
            ..ClientPolicy::default()
        };
        let base = aerospike::BasePolicy {
            total_timeout: timeout,
            socket_timeout: timeout,
            max_retries: 0,
            ..aerospike::BasePolicy::default()
        };
        let write = WritePolicy { base_policy: base.clone(), ..WritePolicy::default() };
        let read = ReadPolicy { base_policy: base.clone() };
        let batch =
            BatchPolicy { base_policy: base.clone(), concurrency: Concurrency::Sequential, ..BatchPolicy::default() };
        // A scan of the whole set has no total deadline.
        let query =
            QueryPolicy { base_policy: aerospike::BasePolicy { total_timeout: 0, ..base }, ..QueryPolicy::default() };
        let (mut cp, mut write, read, batch, query) =
            if config.explicit_policies { (cp, write, read, batch, query) } else { Default::default() };
        cp.use_services_alternate = config.services_alternate;
        if let Some(ttl) = config.ttl {
            write.expiration = aerospike::Expiration::Seconds(ttl);
        }
        let hosts = crate::drivers::probe::crate_seed(
            &mut cp,
            &config.host,
            config.port,
            config.credentials.as_ref(),
            config.tls.as_ref(),
        )?;
        let client = runtime
            .block_on(Client::new(&cp, &hosts))
            .with_context(|| format!("the aerospike crate could not connect to {hosts}"))?;
        let mut policies = BTreeMap::new();
        policies.insert("total_timeout_ms".into(), timeout.to_string());
        policies.insert("socket_timeout_ms".into(), timeout.to_string());
        policies.insert("max_retries".into(), "0".into());
        policies.insert("max_conns_per_node".into(), cp.max_conns_per_node.to_string());
        policies.insert("batch_concurrency".into(), "sequential".into());
        policies.insert("scan_total_timeout_ms".into(), "none".into());
        if !config.explicit_policies {
            policies = BTreeMap::from([("policies".to_string(), "client defaults".to_string())]);
        }
        if let Some(ttl) = config.ttl {
            policies.insert("ttl_secs".into(), ttl.to_string());
        }
        if config.services_alternate {
            policies.insert("use_services_alternate".into(), "true".into());
        }
        let asynchronous = kind.asynchronous;
        let column = Column {
            id: kind.name.into(),
            label: kind.label.into(),
            client: "aerospike (crate)".into(),
            client_version: env!("AEROSPIKE_CRATE_VERSION").into(),
            mode: if asynchronous { "async" } else { "sync" }.into(),
            in_flight,
            source: "linked into aerobench (tokio)".into(),
            python_version: None,
            python: None,
            policies,
            error: None,
            build: None,
            crash: None,
        };
        let batch_write = BatchWritePolicy { expiration: write.expiration, ..BatchWritePolicy::default() };
        let shared = Shared {
            client,
            workload: workload.clone(),
            write,
            read,
            batch,
            batch_read: BatchReadPolicy::default(),
            batch_write,
            query,
            verify: config.verify.then(|| crate::workload::verify::Verifier::new(workload.clone())),
        };
        Ok(NativeDriver { column, runtime, shared: Arc::new(shared) })
    }
}

impl Drop for NativeDriver {
    fn drop(&mut self) {
        let _ = self.runtime.block_on(self.shared.client.close());
    }
}

/// What a failed call reports: the error's kind, result code and the first line of its message.
fn reason(e: &Error) -> String {
    // A server error is named by its result code (KeyNotFoundError), others by their kind.
    let kind = match e.server_result_code() {
        Some(rc) => format!("{rc:?}"),
        None => format!("{:?}", e.kind()),
    };
    let class = kind.split(|c: char| !c.is_alphanumeric()).next().unwrap_or("Error");
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default();
    // Display starts with "Error <code>[, details]: ": the code is already in the reason.
    let message = first.strip_prefix("Error ").and_then(|m| m.split_once(": ")).map_or(first, |(_, m)| m);
    // "Cannot get appropriate node for namespace: test partition: 1093" names a partition per
    // key: one reason, not thousands, for a client that has no node left.
    let message = if class == "InvalidNode" { "no node for the key's partition" } else { message };
    super::call_reason(class, Some(i64::from(e.result_code())), message)
}

/// The crate's value for what aerobench writes: blobs as `Blob`, maps as the crate's
/// insertion-ordered map (written as the server's unordered map, entries in the order given).
fn value(v: BinValue) -> Value {
    match v {
        BinValue::Int(i) => Value::Int(i),
        BinValue::Str(s) => Value::String(s),
        BinValue::Double(d) => Value::from(d),
        BinValue::Bool(b) => Value::Bool(b),
        BinValue::Bytes(b) => Value::Blob(b),
        BinValue::List(items) => Value::List(items.into_iter().map(value).collect()),
        BinValue::Map(entries) => Value::OrderedMap(entries.into_iter().map(|(k, v)| (value(k), value(v))).collect()),
    }
}

/// What a value read holds, in aerobench's terms (`None`: a type aerobench never writes).
fn read_value(v: &Value) -> Option<BinValue> {
    let pairs = |it: &mut dyn Iterator<Item = (&Value, &Value)>| -> Option<BinValue> {
        it.map(|(k, v)| Some((read_value(k)?, read_value(v)?))).collect::<Option<Vec<_>>>().map(BinValue::Map)
    };
    Some(match v {
        Value::Int(i) => BinValue::Int(*i),
        Value::String(s) => BinValue::Str(s.clone()),
        Value::Float(f) => BinValue::Double(f64::from(f)),
        Value::Bool(b) => BinValue::Bool(*b),
        Value::Blob(b) => BinValue::Bytes(b.clone()),
        Value::List(items) => BinValue::List(items.iter().map(read_value).collect::<Option<_>>()?),
        Value::OrderedMap(m) => pairs(&mut m.iter())?,
        Value::SortedMap(m) => pairs(&mut m.iter())?,
        Value::HashMap(m) => pairs(&mut m.iter())?,
        Value::KeyValueList(m) => pairs(&mut m.iter().map(|(k, v)| (k, v)))?,
        _ => return None,
    })
}

/// The bins a read asks for (`--read-bins`, else all).
fn read_bins(w: &Workload) -> Bins {
    match &w.read_bins {
        Some(names) => Bins::Some(names.clone()),
        None => Bins::All,
    }
}

fn key(s: &Shared, i: u64) -> Result<Key, CallError> {
    Key::new(s.workload.namespace.as_str(), s.workload.set.as_str(), Value::String(s.workload.key(i)))
        .map_err(|e| CallError::new(reason(&e)))
}

/// A call's arguments, built before the timed region (as a caller's own code would have them).
/// Made and moved once per call, so the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
enum Prepared {
    Put(Key, Vec<Bin>),
    Get(Key, u64),
    Batch(Vec<BatchOperation>, u64),
    Scan(Statement),
    Exists(Key),
    Touch(Key),
    Operate(Key),
    Delete(Key),
    BatchWrite(Vec<BatchOperation>),
    ReadModifyWrite(Key, Vec<Bin>, u64),
    Update(Key, Vec<aerospike::operations::Operation>),
}

fn bins(s: &Shared, i: u64) -> Vec<Bin> {
    s.workload.values(i).into_iter().map(|(n, v)| Bin::new(n, value(v))).collect()
}

fn prepare(s: &Shared, op: Operation, i: u64) -> Result<Prepared, CallError> {
    let (op, i) = crate::workload::mix::split(op, i);
    Ok(match op {
        Operation::Put => Prepared::Put(key(s, i)?, bins(s, i)),
        Operation::Get => Prepared::Get(key(s, i)?, i),
        Operation::BatchGet => Prepared::Batch(
            s.workload
                .batch_range(i)
                .map(|k| Ok(BatchOperation::read(&s.batch_read, key(s, k)?, read_bins(&s.workload))))
                .collect::<Result<_, CallError>>()?,
            i,
        ),
        Operation::Scan => Prepared::Scan(Statement::new(
            s.workload.namespace.as_str(),
            s.workload.set.as_str(),
            read_bins(&s.workload),
        )),
        Operation::Exists => Prepared::Exists(key(s, i)?),
        Operation::Touch => Prepared::Touch(key(s, i)?),
        Operation::Operate => Prepared::Operate(key(s, i)?),
        Operation::Delete => Prepared::Delete(key(s, i)?),
        Operation::BatchWrite => Prepared::BatchWrite(
            s.workload
                .batch_range(i)
                .map(|k| {
                    let ops: Vec<_> = bins(s, k).iter().map(aerospike::operations::put).collect();
                    Ok(BatchOperation::write(&s.batch_write, key(s, k)?, ops))
                })
                .collect::<Result<_, CallError>>()?,
        ),
        Operation::ReadModifyWrite => Prepared::ReadModifyWrite(key(s, i)?, bins(s, i), i),
        Operation::Update => Prepared::Update(key(s, i)?, update_ops(i)),
    })
}

/// The update phase's operations: append the record index to the list bin, increment the map
/// entry by one, read the entry back.
fn update_ops(i: u64) -> Vec<aerospike::operations::Operation> {
    use crate::workload::{UPDATE_LIST_BIN, UPDATE_MAP_BIN, UPDATE_MAP_KEY};
    use aerospike::operations::{lists, maps};
    vec![
        lists::append(&lists::ListPolicy::default(), UPDATE_LIST_BIN, Value::Int(i as i64)),
        maps::increment_value(&maps::MapPolicy::default(), UPDATE_MAP_BIN, Value::from(UPDATE_MAP_KEY), Value::Int(1)),
        maps::get_by_key(UPDATE_MAP_BIN, Value::from(UPDATE_MAP_KEY), maps::MapReturnType::VALUE),
    ]
}

/// `--verify` of an update: the list's size after the append equals the counter read back (both
/// bins only ever change together, one call at a time), and is positive.
fn verify_update(record: &aerospike::Record) -> Result<(), CallError> {
    use crate::workload::{UPDATE_LIST_BIN, UPDATE_MAP_BIN};
    let last = |name: &str| match record.bins.get(name) {
        Some(Value::MultiResult(results) | Value::List(results)) => results.last().cloned(),
        other => other.cloned(),
    };
    match (last(UPDATE_LIST_BIN), last(UPDATE_MAP_BIN)) {
        (Some(Value::Int(size)), Some(Value::Int(counter))) if size > 0 && size == counter => Ok(()),
        _ => Err(CallError::new(crate::workload::verify::MISMATCH)),
    }
}

/// `--verify`: the record's bins against record `index` as written (`None`: a scanned record,
/// found by its digest).
fn verify(
    verifier: &crate::workload::verify::Verifier,
    index: Option<u64>,
    record: &aerospike::Record,
) -> Result<(), CallError> {
    let bin = |name: &str| read_value(record.bins.get(name)?);
    let n = record.bins.len();
    match index {
        Some(i) => verifier.record(i, n, bin),
        None => {
            let digest = record.key.as_ref().map(|k| k.digest());
            verifier.scanned(digest.as_ref().map(|d| &d[..]), n, bin).map(drop)
        }
    }
    .map_err(CallError::new)
}

/// What a call returned, held until the engine has read the call's end: the records are freed
/// outside the timed region, as the Python columns' are.
struct Held {
    records: u64,
    _returned: Returns,
}

// Held only to be dropped after the timed region: never read.
#[allow(clippy::large_enum_variant, dead_code)]
enum Returns {
    Nothing,
    Record(aerospike::Record),
    Batch(Vec<BatchOperation>),
    Records(Vec<aerospike::Record>),
}

impl Held {
    fn nothing(records: u64) -> Held {
        Held { records, _returned: Returns::Nothing }
    }
}

impl Returned for Held {
    fn records(&self) -> u64 {
        self.records
    }
}

/// The timed part: the client call, and reading what it returned (every client reads the
/// records it got, so lazy results are charged the same everywhere). The records are handed
/// back, not dropped here.
async fn call(s: Arc<Shared>, prepared: Prepared) -> Result<Held, CallError> {
    let err = |e: Error| CallError::new(reason(&e));
    match prepared {
        Prepared::Put(key, bins) => {
            s.client.put(&s.write, &key, &bins).await.map_err(err)?;
            Ok(Held::nothing(1))
        }
        Prepared::Get(key, i) => {
            let record = s.client.get(&s.read, &key, read_bins(&s.workload)).await.map_err(err)?;
            if let Some(v) = &s.verify {
                verify(v, Some(i), &record)?;
            }
            Ok(Held { records: 1, _returned: Returns::Record(record) })
        }
        Prepared::Batch(mut ops, j) => {
            s.client.batch(&s.batch, &mut ops).await.map_err(err)?;
            if let Some(v) = &s.verify {
                for (k, op) in s.workload.batch_range(j).zip(&ops) {
                    match op.record() {
                        Some(record) => verify(v, Some(k), record)?,
                        None => return Err(CallError::new(crate::workload::verify::MISMATCH)),
                    }
                }
            }
            let records = ops.iter().filter(|o| o.record().is_some()).count() as u64;
            Ok(Held { records, _returned: Returns::Batch(ops) })
        }
        Prepared::Scan(stmt) => {
            let rs = s.client.query(&s.query, PartitionFilter::all(), stmt).await.map_err(err)?;
            let mut stream = rs.into_stream();
            // Kept, as a Python client's list of results is, and freed after the timed region.
            let mut records = Vec::new();
            let mut mismatch = None;
            while let Some(r) = stream.next().await {
                let record = r.map_err(err)?;
                if let Some(v) = &s.verify
                    && mismatch.is_none()
                {
                    mismatch = verify(v, None, &record).err();
                }
                records.push(record);
            }
            if let Some(e) = mismatch {
                return Err(e);
            }
            Ok(Held { records: records.len() as u64, _returned: Returns::Records(records) })
        }
        Prepared::Exists(key) => {
            if s.client.exists(&s.read, &key).await.map_err(err)? {
                Ok(Held::nothing(1))
            } else {
                Err(CallError::new(super::call_reason("KeyNotFoundError", Some(2), "exists answered false")))
            }
        }
        Prepared::Touch(key) => {
            s.client.touch(&s.write, &key).await.map_err(err)?;
            Ok(Held::nothing(1))
        }
        Prepared::Operate(key) => {
            let counter = Bin::new(crate::workload::OPERATE_BIN, Value::Int(1));
            let ops =
                [aerospike::operations::add(&counter), aerospike::operations::get_bin(crate::workload::OPERATE_BIN)];
            let record = s.client.operate(&s.write, &key, &ops).await.map_err(err)?;
            // Asked for every op's result, the crate reads a multi-result [nil, n]: the increment's, then the read's.
            let counter = match record.bins.get(crate::workload::OPERATE_BIN) {
                Some(Value::MultiResult(results) | Value::List(results)) => results.last(),
                other => other,
            };
            if s.verify.is_some() && !matches!(counter, Some(Value::Int(n)) if *n > 0) {
                return Err(CallError::new(crate::workload::verify::MISMATCH));
            }
            Ok(Held { records: 1, _returned: Returns::Record(record) })
        }
        Prepared::Update(key, ops) => {
            let record = s.client.operate(&s.write, &key, &ops).await.map_err(err)?;
            if s.verify.is_some() {
                verify_update(&record)?;
            }
            Ok(Held { records: 1, _returned: Returns::Record(record) })
        }
        Prepared::Delete(key) => {
            if s.client.delete(&s.write, &key).await.map_err(err)? {
                Ok(Held::nothing(1))
            } else {
                Err(CallError::new(super::call_reason("KeyNotFoundError", Some(2), "delete found no record")))
            }
        }
        Prepared::BatchWrite(mut ops) => {
            s.client.batch(&s.batch, &mut ops).await.map_err(err)?;
            let written = ops.iter().filter(|o| o.result_code() == Some(aerospike::ResultCode::Ok)).count();
            if written < ops.len() {
                let first = ops.iter().find_map(|o| o.result_code().filter(|rc| *rc != aerospike::ResultCode::Ok));
                let what = format!("{} of {} records not written ({first:?})", ops.len() - written, ops.len());
                return Err(CallError::new(super::call_reason("BatchWrite", None, &what)));
            }
            Ok(Held { records: written as u64, _returned: Returns::Batch(ops) })
        }
        Prepared::ReadModifyWrite(key, bins, i) => {
            let record = s.client.get(&s.read, &key, read_bins(&s.workload)).await.map_err(err)?;
            if let Some(v) = &s.verify {
                verify(v, Some(i), &record)?;
            }
            s.client.put(&s.write, &key, &bins).await.map_err(err)?;
            Ok(Held { records: 1, _returned: Returns::Record(record) })
        }
    }
}

impl Driver for NativeDriver {
    fn column(&self) -> &Column {
        &self.column
    }

    fn run_phase(&mut self, phase: &Phase, state: Arc<PhaseState>) -> anyhow::Result<()> {
        let (shared, for_prepare) = (self.shared.clone(), self.shared.clone());
        let op = phase.op;
        self.runtime.block_on(run_async(
            phase,
            state,
            move |i| prepare(&for_prepare, op, i),
            move |p| call(shared.clone(), p),
        ));
        Ok(())
    }
}
