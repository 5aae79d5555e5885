//! Batch-index commands (field 41): parsing the rows — full rows and REPEAT rows that reuse the
//! previous full row — running each through the single-record executor, and streaming the row
//! replies (row index echoed, one row per key) followed by the LAST marker: each reply frame is
//! sent as soon as it is full, so a batch costs one frame of memory however large its answer.

use std::io;

use bytes::BytesMut;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::framing::{HEADER_LEN, MsgType, patch_header};
use super::message::{Fields, Message, MsgError, Op, Reader, ReplyHeader, field, info3, put_reply_header};
use super::record::{RecordRequest, digest_of, execute};
use super::store::Store;

const ROW_REPEAT: u8 = 0x01;
const ROW_INFO: u8 = 0x02;
const ROW_GEN: u8 = 0x04;
const ROW_TTL: u8 = 0x08;
const ROW_INFO4: u8 = 0x10;

/// Replies are cut into frames of about this size, at row boundaries, and each is sent at once.
const FRAME_TARGET: usize = 256 * 1024;

/// Everything a REPEAT row reuses from the last full row.
struct RowTemplate<'a> {
    namespace: &'a [u8],
    set: &'a [u8],
    info1: u8,
    info2: u8,
    info3: u8,
    generation: u32,
    ttl: u32,
    ops: Vec<Op<'a>>,
    has_filter: bool,
}

/// One parsed row: its index, digest, optional key and which template it uses.
struct Row<'a> {
    index: u32,
    digest: &'a [u8],
    key: Option<&'a [u8]>,
    template: usize,
}

/// Parses the batch field into rows and the full-row templates they refer to.
fn parse_rows<'a>(data: &'a [u8], batch_filter: bool) -> Result<(Vec<Row<'a>>, Vec<RowTemplate<'a>>), MsgError> {
    let mut r = Reader::new(data);
    let count = r.u32("batch row count")?;
    let _flags = r.u8("batch flags")?;
    // Each row takes at least 25 bytes: never reserve more than the body could hold.
    let mut rows = Vec::with_capacity((count as usize).min(data.len() / 25));
    let mut templates: Vec<RowTemplate<'a>> = Vec::new();
    for _ in 0..count {
        let index = r.u32("row index")?;
        let digest = r.take(20, "row digest")?;
        let row_flags = r.u8("row flags")?;
        if row_flags & ROW_REPEAT != 0 {
            if templates.is_empty() {
                return Err(MsgError::Truncated("a full row before the first REPEAT row"));
            }
            rows.push(Row { index, digest, key: None, template: templates.len() - 1 });
            continue;
        }
        let (info1, info2, info3) = if row_flags & ROW_INFO != 0 {
            let i = (r.u8("row info1")?, r.u8("row info2")?, r.u8("row info3")?);
            if row_flags & ROW_INFO4 != 0 {
                r.u8("row info4")?;
            }
            i
        } else {
            (r.u8("row info1")?, 0, 0)
        };
        let generation = if row_flags & ROW_GEN != 0 { r.u16("row generation")? as u32 } else { 0 };
        let ttl = if row_flags & ROW_TTL != 0 { r.u32("row ttl")? } else { 0 };
        let n_fields = r.u16("row n_fields")?;
        let n_ops = r.u16("row n_ops")?;
        let fields = Fields::parse(&mut r, n_fields)?;
        let ops = Op::parse_all(&mut r, n_ops)?;
        templates.push(RowTemplate {
            namespace: fields.get(field::NAMESPACE).unwrap_or(&[]),
            set: fields.get(field::SET).unwrap_or(&[]),
            info1,
            info2,
            info3,
            generation,
            ttl,
            ops,
            has_filter: batch_filter || fields.has(field::FILTER_EXP),
        });
        rows.push(Row { index, digest, key: fields.get(field::KEY), template: templates.len() - 1 });
    }
    Ok((rows, templates))
}

/// A batch request whose rows parsed: ready to run.
pub struct Batch<'a> {
    rows: Vec<Row<'a>>,
    templates: Vec<RowTemplate<'a>>,
}

impl Batch<'_> {
    /// Each row's partition and whether the row writes, for the per-node counters.
    pub fn row_partitions(&self) -> impl Iterator<Item = (usize, bool)> + '_ {
        self.rows.iter().map(|row| {
            let t = &self.templates[row.template];
            let pid = digest_of(Some(row.digest), t.set, row.key).map_or(0, |d| super::store::partition_id(&d));
            (pid, t.info2 & super::message::info2::WRITE != 0)
        })
    }
}

/// Parses a batch message's rows; `Err` means the batch field did not parse (nothing was run).
pub fn parse_batch<'a>(msg: &Message<'a>) -> Result<Batch<'a>, MsgError> {
    let data = msg.fields.get(field::BATCH_INDEX).unwrap_or(&[]);
    let (rows, templates) = parse_rows(data, msg.fields.has(field::FILTER_EXP))?;
    Ok(Batch { rows, templates })
}

/// Runs a parsed batch and streams its reply to `w` — type-3 frames of about [`FRAME_TARGET`]
/// bytes, the last one ending with the LAST marker — using `out` as the send buffer.
pub async fn stream_batch<W: AsyncWrite + Unpin>(
    store: &Store,
    batch: &Batch<'_>,
    out: &mut BytesMut,
    w: &mut W,
) -> io::Result<()> {
    out.clear();
    out.extend_from_slice(&[0; HEADER_LEN]);
    for row in &batch.rows {
        let t = &batch.templates[row.template];
        let req = digest_of(Some(row.digest), t.set, row.key).map(|digest| RecordRequest {
            namespace: t.namespace,
            set: t.set,
            digest,
            key: row.key,
            info1: t.info1,
            info2: t.info2,
            info3: t.info3,
            generation: t.generation,
            ttl: t.ttl,
            ops: &t.ops,
            has_filter: t.has_filter,
        });
        match req {
            Ok(req) => {
                execute(store, &req, row.index, out);
            }
            Err(code) => {
                put_reply_header(out, &ReplyHeader { result_code: code, index: row.index, ..Default::default() })
            }
        }
        if out.len() >= FRAME_TARGET {
            patch_header(out, 0, MsgType::Message);
            w.write_all(out).await?;
            out.clear();
            out.extend_from_slice(&[0; HEADER_LEN]);
        }
    }
    put_reply_header(out, &ReplyHeader { info3: info3::LAST, ..Default::default() });
    patch_header(out, 0, MsgType::Message);
    w.write_all(out).await
}

/// Runs a batch request to completion and appends the reply bytes, as sent, to `out`.
#[cfg(test)]
pub(crate) fn execute_batch(store: &Store, msg: &Message<'_>, out: &mut BytesMut) -> Result<(), MsgError> {
    let batch = parse_batch(msg)?;
    let mut wire = Vec::new();
    futures::executor::block_on(stream_batch(store, &batch, &mut BytesMut::new(), &mut wire))
        .map_err(|_| MsgError::Truncated("the reply could not be written"))?;
    out.extend_from_slice(&wire);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::message::{
        MsgHeader, info1, info2, op, rc,
        tests::{replies, request},
    };
    use bytes::BufMut;

    fn full_row(out: &mut BytesMut, index: u32, digest: [u8; 20], info1_bits: u8, info2_bits: u8, ops: &[Op<'_>]) {
        out.put_u32(index);
        out.put_slice(&digest);
        out.put_u8(ROW_INFO | ROW_TTL);
        out.put_slice(&[info1_bits, info2_bits, 0]);
        out.put_u32(0);
        out.put_u16(2);
        out.put_u16(ops.len() as u16);
        crate::server::message::put_field(out, field::NAMESPACE, b"test");
        crate::server::message::put_field(out, field::SET, b"s");
        for o in ops {
            crate::server::message::put_op(out, o.op, o.particle, o.name, o.value);
        }
    }

    fn repeat_row(out: &mut BytesMut, index: u32, digest: [u8; 20]) {
        out.put_u32(index);
        out.put_slice(&digest);
        out.put_u8(ROW_REPEAT);
    }

    /// Splits a reply buffer into (frame count, rows as (index, rc, n_ops, info3)).
    fn rows_of(wire: &[u8]) -> (usize, Vec<(u32, u8, u16, u8)>) {
        let (frames, messages) = replies(wire);
        let rows =
            messages.iter().map(|m| (m.header.transaction_ttl, m.header.result_code, m.header.n_ops, m.header.info3));
        (frames, rows.collect())
    }

    #[test]
    fn batch_write_then_read_with_repeat_rows() {
        let store = Store::new(&["test"]);
        let w = Op { op: op::WRITE, particle: 3, name: b"b", value: b"v" };
        let mut field41 = BytesMut::new();
        field41.put_u32(2);
        field41.put_u8(0x0D);
        full_row(&mut field41, 0, [1; 20], 0, info2::WRITE, &[w]);
        repeat_row(&mut field41, 1, [2; 20]);
        let body =
            request(MsgHeader { info1: info1::BATCH, ..Default::default() }, &[(field::BATCH_INDEX, &field41)], &[]);
        let mut out = BytesMut::new();
        execute_batch(&store, &Message::parse(&body).unwrap(), &mut out).unwrap();
        assert_eq!(rows_of(&out).1, vec![(0, 0, 0, 0), (1, 0, 0, 0), (0, 0, 0, info3::LAST)]);

        let mut field41 = BytesMut::new();
        field41.put_u32(3);
        field41.put_u8(0x0D);
        full_row(&mut field41, 7, [2; 20], info1::READ | info1::GET_ALL, 0, &[]);
        repeat_row(&mut field41, 8, [9; 20]);
        repeat_row(&mut field41, 9, [1; 20]);
        let body =
            request(MsgHeader { info1: info1::BATCH, ..Default::default() }, &[(field::BATCH_INDEX, &field41)], &[]);
        let mut out = BytesMut::new();
        execute_batch(&store, &Message::parse(&body).unwrap(), &mut out).unwrap();
        let (frames, rows) = rows_of(&out);
        assert_eq!(frames, 1);
        assert_eq!(rows, vec![(7, 0, 1, 0), (8, rc::KEY_NOT_FOUND, 0, 0), (9, 0, 1, 0), (0, 0, 0, info3::LAST)]);
    }

    #[test]
    fn malformed_batches_are_errors_not_panics() {
        let store = Store::new(&["test"]);
        let mut field41 = BytesMut::new();
        field41.put_u32(u32::MAX);
        field41.put_u8(0x0D);
        repeat_row(&mut field41, 1, [2; 20]);
        let body =
            request(MsgHeader { info1: info1::BATCH, ..Default::default() }, &[(field::BATCH_INDEX, &field41)], &[]);
        let mut out = BytesMut::new();
        assert!(execute_batch(&store, &Message::parse(&body).unwrap(), &mut out).is_err());
        let body =
            request(MsgHeader { info1: info1::BATCH, ..Default::default() }, &[(field::BATCH_INDEX, &[0, 0])], &[]);
        assert!(execute_batch(&store, &Message::parse(&body).unwrap(), &mut out).is_err());
    }

    #[test]
    fn large_replies_split_into_frames() {
        let store = Store::new(&["test"]);
        let big = vec![7u8; 100_000];
        let mut field41 = BytesMut::new();
        field41.put_u32(8);
        field41.put_u8(0x0D);
        full_row(
            &mut field41,
            0,
            [0; 20],
            0,
            info2::WRITE,
            &[Op { op: op::WRITE, particle: 4, name: b"b", value: &big }],
        );
        for i in 1..8u8 {
            repeat_row(&mut field41, i as u32, [i; 20]);
        }
        let body =
            request(MsgHeader { info1: info1::BATCH, ..Default::default() }, &[(field::BATCH_INDEX, &field41)], &[]);
        let mut out = BytesMut::new();
        execute_batch(&store, &Message::parse(&body).unwrap(), &mut out).unwrap();
        let mut field41 = BytesMut::new();
        field41.put_u32(8);
        field41.put_u8(0x0D);
        full_row(&mut field41, 0, [0; 20], info1::READ | info1::GET_ALL, 0, &[]);
        for i in 1..8u8 {
            repeat_row(&mut field41, i as u32, [i; 20]);
        }
        let body =
            request(MsgHeader { info1: info1::BATCH, ..Default::default() }, &[(field::BATCH_INDEX, &field41)], &[]);
        let mut out = BytesMut::new();
        execute_batch(&store, &Message::parse(&body).unwrap(), &mut out).unwrap();
        let (frames, rows) = rows_of(&out);
        assert!(frames >= 2, "{frames} frames");
        assert_eq!(rows.len(), 9);
        assert!(rows[..8].iter().all(|r| r.1 == 0 && r.2 == 1));
    }
}
