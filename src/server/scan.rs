//! Scans and queries by partition: which partitions (PID array, resume digests, or all), the set
//! filter, bin selection and max-records pagination; records stream out in digest order per
//! partition, each finished partition gets a PARTITION_DONE marker, and a LAST marker ends it.

use std::io;
use std::ops::Bound;

use bytes::BytesMut;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::framing::{HEADER_LEN, MsgType, patch_header};
use super::message::{Message, ReplyHeader, field, info1, info2, info3, op, put_field, put_op, put_reply_header, rc};
use super::store::{Digest, N_PARTITIONS, Record, Store, now_void_secs, partition_id};

/// Result code of a partition this node does not hold.
const PARTITION_UNAVAILABLE: u8 = 11;

/// Buffered replies are sent once they pass this size.
const FLUSH_AT: usize = 64 * 1024;

/// Where to start in one partition: from the beginning, or strictly after a digest.
type Cursor = (usize, Option<Digest>);

/// Validates a scan request; `Err` carries the result code for the LAST marker.
fn check(store: &Store, msg: &Message<'_>) -> Result<(), u8> {
    let f = &msg.fields;
    if msg.header.info2 & info2::WRITE != 0 || f.has(field::UDF_PACKAGE) {
        return Err(rc::UNSUPPORTED_FEATURE);
    }
    if f.has(field::INDEX_RANGE) {
        return Err(rc::INDEX_NOTFOUND);
    }
    if f.has(field::FILTER_EXP) {
        return Err(rc::UNSUPPORTED_FEATURE);
    }
    let ns = f.get(field::NAMESPACE).ok_or(rc::PARAMETER_ERROR)?;
    store.namespace(ns).ok_or(rc::NAMESPACE_NOT_FOUND)?;
    let pids = f.get(field::PID_ARRAY).map_or(0, <[u8]>::len);
    let digests = f.get(field::DIGEST_ARRAY).map_or(0, <[u8]>::len);
    let max = f.get(field::MAX_RECORDS).map_or(8, <[u8]>::len);
    if pids % 2 != 0 || digests % 20 != 0 || max != 8 {
        return Err(rc::PARAMETER_ERROR);
    }
    Ok(())
}

/// The partitions a request asks for, in ascending partition order.
fn cursors(msg: &Message<'_>) -> Vec<Cursor> {
    let f = &msg.fields;
    let pids = f.get(field::PID_ARRAY);
    let digests = f.get(field::DIGEST_ARRAY);
    if pids.is_none() && digests.is_none() {
        return (0..N_PARTITIONS).map(|p| (p, None)).collect();
    }
    let mut out: Vec<Cursor> = Vec::new();
    for c in pids.unwrap_or(&[]).chunks_exact(2) {
        let pid = u16::from_le_bytes([c[0], c[1]]) as usize;
        if pid < N_PARTITIONS {
            out.push((pid, None));
        }
    }
    for c in digests.unwrap_or(&[]).chunks_exact(20) {
        let mut d = [0u8; 20];
        d.copy_from_slice(c);
        out.push((partition_id(&d), Some(d)));
    }
    out.sort();
    out.dedup_by_key(|c| c.0);
    out
}

/// Which bins a scan returns.
enum Bins<'a> {
    None,
    All,
    Named(std::collections::HashSet<&'a [u8]>),
}

fn put_record(out: &mut BytesMut, ns: &[u8], digest: &Digest, r: &Record, bins: &Bins<'_>) {
    let selected: Vec<_> = match bins {
        Bins::None => vec![],
        Bins::All => r.bins.iter().collect(),
        Bins::Named(names) => r.bins.iter().filter(|b| names.contains(&b.name[..])).collect(),
    };
    let n_fields = 2 + u16::from(!r.set.is_empty()) + u16::from(r.key.is_some());
    put_reply_header(
        out,
        &ReplyHeader {
            info1: if matches!(bins, Bins::None) { info1::NOBINDATA } else { 0 },
            generation: r.generation,
            void_time: r.void_time,
            n_fields,
            n_ops: selected.len() as u16,
            ..Default::default()
        },
    );
    put_field(out, field::NAMESPACE, ns);
    put_field(out, field::DIGEST, digest);
    if !r.set.is_empty() {
        put_field(out, field::SET, &r.set);
    }
    if let Some(k) = &r.key {
        put_field(out, field::KEY, k);
    }
    for b in selected {
        put_op(out, op::READ, b.particle, &b.name, &super::corrupt::read_value(&b.value));
    }
}

async fn flush<W: AsyncWrite + Unpin>(out: &mut BytesMut, frame_start: usize, w: &mut W) -> io::Result<()> {
    patch_header(out, frame_start, MsgType::Message);
    w.write_all(out).await?;
    out.clear();
    Ok(())
}

/// Runs a scan and streams its reply to `w`, using `out` as the send buffer.
#[cfg(test)]
pub async fn stream_scan<W: AsyncWrite + Unpin>(
    store: &Store,
    msg: &Message<'_>,
    out: &mut BytesMut,
    w: &mut W,
) -> io::Result<()> {
    stream_scan_of(store, msg, &|_| true, out, w).await.map(drop)
}

/// Runs a scan on a node that holds the partitions `mine` says it does: the others are
/// answered with a PARTITION_DONE marker carrying rc 11 (partition unavailable), as a real
/// node answers a client whose partition map is out of date, and counted in the result.
pub async fn stream_scan_of<W: AsyncWrite + Unpin>(
    store: &Store,
    msg: &Message<'_>,
    mine: &(dyn Fn(usize) -> bool + Sync),
    out: &mut BytesMut,
    w: &mut W,
) -> io::Result<u64> {
    out.clear();
    out.extend_from_slice(&[0; HEADER_LEN]);
    if let Err(code) = check(store, msg) {
        put_reply_header(out, &ReplyHeader { info3: info3::LAST, result_code: code, ..Default::default() });
        return flush(out, 0, w).await.map(|()| 0);
    }
    let ns_name = msg.fields.get(field::NAMESPACE).unwrap_or(&[]);
    let Some(ns) = store.namespace(ns_name) else { return Ok(0) };
    let set = msg.fields.get(field::SET).filter(|s| !s.is_empty());
    let max = msg
        .fields
        .get(field::MAX_RECORDS)
        .and_then(|m| m.try_into().ok())
        .map(u64::from_be_bytes)
        .filter(|&m| m > 0)
        .unwrap_or(u64::MAX);
    let names: std::collections::HashSet<&[u8]> =
        msg.ops.iter().filter(|o| o.op == op::READ && !o.name.is_empty()).map(|o| o.name).collect();
    let bins = if msg.header.info1 & info1::NOBINDATA != 0 {
        Bins::None
    } else if names.is_empty() {
        Bins::All
    } else {
        Bins::Named(names)
    };
    let now = now_void_secs();
    let mut sent = 0u64;
    let mut refused = 0u64;
    for (pid, after) in cursors(msg) {
        if sent >= max {
            break;
        }
        if !mine(pid) {
            refused += 1;
            let unavailable = ReplyHeader {
                info3: info3::PARTITION_DONE,
                result_code: PARTITION_UNAVAILABLE,
                generation: pid as u32,
                ..Default::default()
            };
            put_reply_header(out, &unavailable);
            continue;
        }
        let done = {
            let part = ns.read(pid);
            let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
            let mut matching = part
                .range((lower, Bound::Unbounded))
                .filter(|(_, r)| r.is_live(now) && set.is_none_or(|s| r.set == s))
                .peekable();
            while sent < max {
                let Some((d, r)) = matching.next() else { break };
                put_record(out, ns_name, d, r, &bins);
                sent += 1;
            }
            matching.peek().is_none()
        };
        if done {
            put_reply_header(
                out,
                &ReplyHeader { info3: info3::PARTITION_DONE, generation: pid as u32, ..Default::default() },
            );
        }
        if out.len() >= FLUSH_AT {
            flush(out, 0, w).await?;
            out.extend_from_slice(&[0; HEADER_LEN]);
        }
    }
    put_reply_header(out, &ReplyHeader { info3: info3::LAST, ..Default::default() });
    flush(out, 0, w).await.map(|()| refused)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::message::{
        MsgHeader, Op,
        tests::{replies, request},
    };
    use crate::server::store::{Bin, compute_digest};
    use bytes::Bytes;

    struct Row {
        info3: u8,
        rc: u8,
        generation: u32,
        digest: Option<Vec<u8>>,
        bins: usize,
    }

    fn fill(store: &Store, set: &[u8], n: u32) {
        let ns = store.namespace(b"test").unwrap();
        for i in 0..n {
            let key = [&[1u8][..], &(i as i64).to_be_bytes()].concat();
            let d = compute_digest(set, &key);
            let bins = vec![
                Bin { name: Bytes::from_static(b"a"), particle: 1, value: Bytes::copy_from_slice(&[0; 8]) },
                Bin { name: Bytes::from_static(b"b"), particle: 3, value: Bytes::from_static(b"x") },
            ];
            ns.write(partition_id(&d))
                .insert(d, Record { set: Bytes::copy_from_slice(set), key: None, bins, generation: 1, void_time: 0 });
        }
    }

    async fn scan(store: &Store, fields: &[(u8, &[u8])], ops: &[Op<'_>], info1_bits: u8) -> Vec<Row> {
        let body =
            request(MsgHeader { info1: info1_bits, info3: info3::PARTITION_DONE, ..Default::default() }, fields, ops);
        let msg = Message::parse(&body).unwrap();
        let mut wire = Vec::new();
        stream_scan(store, &msg, &mut BytesMut::new(), &mut wire).await.unwrap();
        replies(&wire)
            .1
            .iter()
            .map(|m| Row {
                info3: m.header.info3,
                rc: m.header.result_code,
                generation: m.header.generation,
                digest: m.fields.get(field::DIGEST).map(<[u8]>::to_vec),
                bins: m.ops.len(),
            })
            .collect()
    }

    fn records(rows: &[Row]) -> Vec<&Row> {
        rows.iter().filter(|r| r.info3 == 0).collect()
    }

    #[tokio::test]
    async fn partitions_of_other_nodes_are_refused_as_unavailable() {
        let store = Store::new(&["test"]);
        fill(&store, b"s1", 200);
        let body = request(
            MsgHeader { info1: info1::READ, info3: info3::PARTITION_DONE, ..Default::default() },
            &[(field::NAMESPACE, b"test")],
            &[],
        );
        let msg = Message::parse(&body).unwrap();
        let mut wire = Vec::new();
        let refused = stream_scan_of(&store, &msg, &|p| p % 3 == 0, &mut BytesMut::new(), &mut wire).await.unwrap();
        assert_eq!(refused, (N_PARTITIONS - N_PARTITIONS.div_ceil(3)) as u64);
        let (_, messages) = replies(&wire);
        let mut records = 0;
        for m in &messages {
            let h = &m.header;
            if h.info3 == info3::PARTITION_DONE {
                let mine = h.generation % 3 == 0;
                assert_eq!(h.result_code, if mine { 0 } else { PARTITION_UNAVAILABLE }, "partition {}", h.generation);
            } else if h.info3 == 0 {
                let d: Digest = m.fields.get(field::DIGEST).unwrap().try_into().unwrap();
                assert_eq!(partition_id(&d) % 3, 0, "only this node's records");
                records += 1;
            }
        }
        assert!(records > 40 && records < 200, "{records}");
    }

    #[tokio::test]
    async fn whole_set_with_markers_and_bin_selection() {
        let store = Store::new(&["test"]);
        fill(&store, b"s1", 50);
        fill(&store, b"s2", 20);
        let rows = scan(&store, &[(field::NAMESPACE, b"test"), (field::SET, b"s1")], &[], info1::READ).await;
        assert_eq!(records(&rows).len(), 50);
        assert!(records(&rows).iter().all(|r| r.bins == 2 && r.digest.is_some()));
        assert_eq!(rows.iter().filter(|r| r.info3 == info3::PARTITION_DONE).count(), N_PARTITIONS);
        let last = rows.last().unwrap();
        assert_eq!((last.info3, last.rc), (info3::LAST, 0));
        let sel = [Op { op: op::READ, particle: 0, name: b"b", value: b"" }];
        let rows = scan(&store, &[(field::NAMESPACE, b"test")], &sel, info1::READ).await;
        assert_eq!(records(&rows).len(), 70);
        assert!(records(&rows).iter().all(|r| r.bins == 1));
        let rows = scan(&store, &[(field::NAMESPACE, b"test")], &[], info1::READ | info1::NOBINDATA).await;
        assert!(records(&rows).iter().all(|r| r.bins == 0));
    }

    #[tokio::test]
    async fn pagination_resumes_after_digests() {
        let store = Store::new(&["test"]);
        fill(&store, b"p", 9);
        let all_pids: Vec<u8> = (0..N_PARTITIONS as u16).flat_map(|p| p.to_le_bytes()).collect();
        let max = 4u64.to_be_bytes();
        let mut pages = vec![];
        let mut pids = all_pids.clone();
        let mut digests: Vec<u8> = vec![];
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10 {
            let mut fields: Vec<(u8, &[u8])> =
                vec![(field::NAMESPACE, b"test"), (field::SET, b"p"), (field::MAX_RECORDS, &max)];
            if !pids.is_empty() {
                fields.push((field::PID_ARRAY, &pids));
            }
            if !digests.is_empty() {
                fields.push((field::DIGEST_ARRAY, &digests));
            }
            let rows = scan(&store, &fields, &[], info1::READ).await;
            let recs = records(&rows);
            if recs.is_empty() && pids.is_empty() && digests.is_empty() {
                break;
            }
            pages.push(recs.len());
            // Client side: partitions not marked done are asked for again, after the last digest.
            let done: std::collections::HashSet<u32> =
                rows.iter().filter(|r| r.info3 == info3::PARTITION_DONE).map(|r| r.generation).collect();
            let mut last: std::collections::BTreeMap<usize, Vec<u8>> = Default::default();
            for r in &recs {
                let d = r.digest.clone().unwrap();
                assert!(seen.insert(d.clone()), "record sent twice");
                last.insert(partition_id(&d.clone().try_into().unwrap()), d);
            }
            let asked: Vec<usize> = pids
                .chunks(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]) as usize)
                .chain(digests.chunks(20).map(|d| partition_id(&d.try_into().unwrap())))
                .collect();
            let open: Vec<usize> = asked.into_iter().filter(|p| !done.contains(&(*p as u32))).collect();
            pids = open.iter().filter(|p| !last.contains_key(p)).flat_map(|p| (*p as u16).to_le_bytes()).collect();
            digests = open.iter().filter_map(|p| last.get(p)).flatten().copied().collect();
            if open.is_empty() {
                break;
            }
        }
        assert_eq!(pages, vec![4, 4, 1]);
        assert_eq!(seen.len(), 9);
    }

    #[tokio::test]
    async fn unsupported_scans_end_with_an_error_code() {
        let store = Store::new(&["test"]);
        let rows = scan(&store, &[(field::NAMESPACE, b"test"), (field::INDEX_RANGE, b"x")], &[], info1::READ).await;
        assert_eq!((rows.len(), rows[0].rc, rows[0].info3), (1, rc::INDEX_NOTFOUND, info3::LAST));
        let rows = scan(&store, &[(field::NAMESPACE, b"nope")], &[], info1::READ).await;
        assert_eq!(rows[0].rc, rc::NAMESPACE_NOT_FOUND);
        let rows = scan(&store, &[(field::NAMESPACE, b"test"), (field::PID_ARRAY, b"x")], &[], info1::READ).await;
        assert_eq!(rows[0].rc, rc::PARAMETER_ERROR);
    }
}
