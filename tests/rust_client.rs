//! The `aerospike` crate (3.x, async on tokio) against `aerobench serve`: the protocol test
//! plan — connect, every particle type, missing keys, exists, delete, batch, scan with bin
//! selection and pagination, compression, TTL and generation.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use aerospike::{
    BatchOperation, BatchPolicy, BatchReadPolicy, Bin, Bins, Client, ClientPolicy, Expiration, Key, PartitionFilter,
    QueryPolicy, ReadPolicy, Recordset, ResultCode, Statement, Value, WritePolicy,
};
use futures::StreamExt as _;

async fn connect(port: u16) -> Client {
    Client::new(&ClientPolicy::default(), &format!("127.0.0.1:{port}")).await.expect("connect")
}

fn key(set: &str, k: impl Into<Value>) -> Key {
    Key::new("test", set, k.into()).unwrap()
}

async fn drain(rs: Arc<Recordset>) -> Vec<aerospike::Record> {
    let mut stream = rs.into_stream();
    let mut out = vec![];
    while let Some(r) = stream.next().await {
        out.push(r.expect("record"));
    }
    out
}

fn all_types() -> Vec<Bin> {
    let mut map = HashMap::new();
    map.insert(Value::from("k"), Value::from(1));
    vec![
        Bin::new("i", Value::Int(-42)),
        Bin::new("s", Value::from("héllo")),
        Bin::new("f", Value::from(3.25)),
        Bin::new("b", Value::Blob(vec![0, 1, 2, 255])),
        Bin::new("t", Value::Bool(true)),
        Bin::new("l", Value::List(vec![Value::from(1), Value::from("two")])),
        Bin::new("m", Value::HashMap(map)),
        Bin::new("g", Value::GeoJson(r#"{"type":"Point","coordinates":[1.5,2.5]}"#.into())),
        Bin::new("h", Value::Hll(vec![0, 1, 2, 3, 4, 5])),
    ]
}

#[tokio::test]
async fn rust_client_full_plan() {
    let server = common::Server::start();
    let client = connect(server.port).await;
    assert!(client.is_connected());
    let wp = WritePolicy::default();
    let rp = ReadPolicy::default();

    // Put every particle type, get it back exactly.
    let k = key("plan", "all-types");
    client.put(&wp, &k, &all_types()).await.unwrap();
    let rec = client.get(&rp, &k, Bins::All).await.unwrap();
    assert_eq!(rec.generation, 1);
    for bin in all_types() {
        assert_eq!(rec.bins.get(&bin.name), Some(&bin.value), "bin {}", bin.name);
    }
    // Named bins and header only.
    let rec = client.get(&rp, &k, ["s", "i"]).await.unwrap();
    assert_eq!(rec.bins.len(), 2);
    let rec = client.get(&rp, &k, Bins::None).await.unwrap();
    assert!(rec.bins.is_empty());
    assert_eq!(rec.generation, 1);
    // Generation bumps on every write.
    client.put(&wp, &k, &[Bin::new("i", Value::Int(1))]).await.unwrap();
    assert_eq!(client.get(&rp, &k, Bins::None).await.unwrap().generation, 2);

    // Missing key.
    let missing = key("plan", "nope");
    let err = client.get(&rp, &missing, Bins::All).await.unwrap_err();
    assert_eq!(err.server_result_code(), Some(ResultCode::KeyNotFoundError));
    assert!(!client.exists(&rp, &missing).await.unwrap());
    assert!(client.exists(&rp, &k).await.unwrap());

    // Delete twice.
    assert!(client.delete(&wp, &k).await.unwrap());
    assert!(!client.delete(&wp, &k).await.unwrap());
    assert!(!client.exists(&rp, &k).await.unwrap());

    // TTL.
    let ttl_policy = WritePolicy { expiration: Expiration::Seconds(1000), ..WritePolicy::default() };
    let tk = key("plan", 77);
    client.put(&ttl_policy, &tk, &[Bin::new("x", Value::Int(1))]).await.unwrap();
    let ttl = client.get(&rp, &tk, Bins::None).await.unwrap().time_to_live().expect("ttl");
    assert!((990..=1000).contains(&ttl.as_secs()), "ttl {ttl:?}");

    // Batch: three keys, one missing; all bins, named bins, header only.
    for i in 0..3 {
        client
            .put(&wp, &key("batch", i), &[Bin::new("a", Value::Int(i)), Bin::new("b", Value::from("x"))])
            .await
            .unwrap();
    }
    let brp = BatchReadPolicy::default();
    let keys = [key("batch", 0), key("batch", 1), key("batch", 99), key("batch", 2)];
    for (bins, expect_bins) in [(Bins::All, 2), (Bins::from(["a"]), 1), (Bins::None, 0)] {
        let mut ops: Vec<BatchOperation> =
            keys.iter().map(|k| BatchOperation::read(&brp, k.clone(), bins.clone())).collect();
        client.batch(&BatchPolicy::default(), &mut ops).await.unwrap();
        let found: Vec<Option<usize>> = ops.iter().map(|o| o.record().map(|r| r.bins.len())).collect();
        assert_eq!(found, vec![Some(expect_bins), Some(expect_bins), None, Some(expect_bins)]);
        assert_eq!(ops[2].result_code(), Some(ResultCode::KeyNotFoundError));
        if expect_bins > 0 {
            assert_eq!(ops[3].record().unwrap().bins.get("a"), Some(&Value::Int(2)));
        }
    }

    // Scan a set with bin selection; another set's records stay out.
    client.put(&wp, &key("other", 1), &[Bin::new("a", Value::Int(5))]).await.unwrap();
    let rs = client
        .query(&QueryPolicy::default(), PartitionFilter::all(), Statement::new("test", "batch", Bins::from(["b"])))
        .await
        .unwrap();
    let recs = drain(rs).await;
    assert_eq!(recs.len(), 3);
    assert!(recs.iter().all(|r| r.bins.len() == 1 && r.bins.get("b") == Some(&Value::from("x"))));

    // Pagination: 9 records, 4 per page → 4, 4, 1.
    for i in 0..9 {
        client.put(&wp, &key("pages", i), &[Bin::new("n", Value::Int(i))]).await.unwrap();
    }
    let qp = QueryPolicy { max_records: 4, ..QueryPolicy::default() };
    let mut filter = PartitionFilter::all();
    let mut pages = vec![];
    let mut seen = std::collections::HashSet::new();
    for _ in 0..10 {
        let rs = client.query(&qp, filter, Statement::new("test", "pages", Bins::All)).await.unwrap();
        let page = drain(rs.clone()).await;
        for r in &page {
            assert!(seen.insert(format!("{:?}", r.bins.get("n"))), "duplicate record");
        }
        filter = rs.partition_filter().expect("partition filter");
        if page.is_empty() && filter.done() {
            break;
        }
        pages.push(page.len());
        if filter.done() {
            break;
        }
    }
    assert_eq!(pages, vec![4, 4, 1]);

    // Compressed request: a 2 KB bin with compression on.
    let mut cwp = WritePolicy::default();
    cwp.base_policy.use_compression = true;
    let big = "z".repeat(2048);
    let ck = key("plan", "compressed");
    client.put(&cwp, &ck, &[Bin::new("big", Value::from(big.as_str()))]).await.unwrap();
    let mut crp = ReadPolicy::default();
    crp.base_policy.use_compression = true;
    assert_eq!(client.get(&crp, &ck, Bins::All).await.unwrap().bins.get("big"), Some(&Value::from(big.as_str())));

    client.close().await.unwrap();
}

#[tokio::test]
async fn rust_client_with_several_namespaces() {
    let server = common::Server::start_with(&["--namespace", "test", "--namespace", "bar"]);
    let client = connect(server.port).await;
    let k = Key::new("bar", "s", Value::from(1)).unwrap();
    client.put(&WritePolicy::default(), &k, &[Bin::new("a", Value::Int(1))]).await.unwrap();
    assert!(client.exists(&ReadPolicy::default(), &k).await.unwrap());
    let in_test = Key::new("test", "s", Value::from(1)).unwrap();
    assert!(!client.exists(&ReadPolicy::default(), &in_test).await.unwrap());
    client.close().await.unwrap();
}
