//! AS_MSG layout (proto type 3): the 22-byte message header, fields and ops — parsing them off a
//! request body without copying, and writing them into replies. Also the info bits, field
//! types, op types and result codes the server uses.

use bytes::{BufMut, BytesMut};
use thiserror::Error;

pub const MSG_HEADER_LEN: usize = 22;

pub mod info1 {
    pub const READ: u8 = 0x01;
    pub const GET_ALL: u8 = 0x02;
    pub const BATCH: u8 = 0x08;
    pub const NOBINDATA: u8 = 0x20;
}
pub mod info2 {
    pub const WRITE: u8 = 0x01;
    pub const DELETE: u8 = 0x02;
    pub const GENERATION: u8 = 0x04;
    pub const GENERATION_GT: u8 = 0x08;
    pub const CREATE_ONLY: u8 = 0x20;
    pub const RESPOND_ALL_OPS: u8 = 0x80;
}
pub mod info3 {
    pub const LAST: u8 = 0x01;
    pub const PARTITION_DONE: u8 = 0x04;
    pub const UPDATE_ONLY: u8 = 0x08;
    pub const CREATE_OR_REPLACE: u8 = 0x10;
    pub const REPLACE_ONLY: u8 = 0x20;
}
pub mod field {
    pub const NAMESPACE: u8 = 0;
    pub const SET: u8 = 1;
    pub const KEY: u8 = 2;
    pub const DIGEST: u8 = 4;
    pub const PID_ARRAY: u8 = 11;
    pub const DIGEST_ARRAY: u8 = 12;
    pub const MAX_RECORDS: u8 = 13;
    pub const INDEX_RANGE: u8 = 22;
    pub const UDF_PACKAGE: u8 = 30;
    pub const BATCH_INDEX: u8 = 41;
    pub const FILTER_EXP: u8 = 43;
}
pub mod op {
    pub const READ: u8 = 1;
    pub const WRITE: u8 = 2;
    pub const CDT_READ: u8 = 3;
    pub const CDT_MODIFY: u8 = 4;
    pub const INCR: u8 = 5;
    pub const APPEND: u8 = 9;
    pub const PREPEND: u8 = 10;
    pub const TOUCH: u8 = 11;
    pub const DELETE: u8 = 14;
}
pub mod particle {
    pub const NULL: u8 = 0;
    pub const INTEGER: u8 = 1;
    pub const STRING: u8 = 3;
    pub const BLOB: u8 = 4;
}
pub mod rc {
    pub const OK: u8 = 0;
    /// A write a real server refuses without a more specific code, such as a malformed list
    /// or map value (Aerospike's AS_ERR_UNKNOWN; the clients call it SERVER_ERROR).
    pub const SERVER_ERROR: u8 = 1;
    pub const KEY_NOT_FOUND: u8 = 2;
    pub const GENERATION_ERROR: u8 = 3;
    pub const PARAMETER_ERROR: u8 = 4;
    pub const KEY_EXISTS: u8 = 5;
    pub const BIN_TYPE_ERROR: u8 = 12;
    pub const UNSUPPORTED_FEATURE: u8 = 16;
    pub const NAMESPACE_NOT_FOUND: u8 = 20;
    pub const BIN_NAME_TOO_LONG: u8 = 21;
    pub const SECURITY_NOT_ENABLED: u8 = 52;
    pub const INDEX_NOTFOUND: u8 = 201;
}

/// Longest bin name the server accepts, as a real server does.
pub const MAX_BIN_NAME: usize = 15;

/// A request that does not parse; answered with PARAMETER_ERROR on an intact connection.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum MsgError {
    #[error("message truncated while reading {0}")]
    Truncated(&'static str),
    #[error("header_sz is {0}, expected 22")]
    BadHeaderSize(u8),
    #[error("field of size 0")]
    EmptyField,
    #[error("op of size {0} is smaller than its 4-byte header")]
    BadOpSize(u32),
    #[error("op name length {0} overruns the op")]
    BadOpName(u8),
    #[error("{0} bytes left over after the last op")]
    TrailingBytes(usize),
}

/// A bounds-checked reader over a request body.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], MsgError> {
        if self.remaining() < n {
            return Err(MsgError::Truncated(what));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub fn u8(&mut self, what: &'static str) -> Result<u8, MsgError> {
        Ok(self.take(1, what)?[0])
    }
    pub fn u16(&mut self, what: &'static str) -> Result<u16, MsgError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    pub fn u32(&mut self, what: &'static str) -> Result<u32, MsgError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// The 22-byte message header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MsgHeader {
    pub info1: u8,
    pub info2: u8,
    pub info3: u8,
    pub info4: u8,
    pub result_code: u8,
    pub generation: u32,
    pub record_ttl: u32,
    pub transaction_ttl: u32,
    pub n_fields: u16,
    pub n_ops: u16,
}

impl MsgHeader {
    pub fn parse(r: &mut Reader<'_>) -> Result<MsgHeader, MsgError> {
        let size = r.u8("header_sz")?;
        if size as usize != MSG_HEADER_LEN {
            return Err(MsgError::BadHeaderSize(size));
        }
        Ok(MsgHeader {
            info1: r.u8("info1")?,
            info2: r.u8("info2")?,
            info3: r.u8("info3")?,
            info4: r.u8("info4")?,
            result_code: r.u8("result code")?,
            generation: r.u32("generation")?,
            record_ttl: r.u32("record ttl")?,
            transaction_ttl: r.u32("transaction ttl")?,
            n_fields: r.u16("n_fields")?,
            n_ops: r.u16("n_ops")?,
        })
    }
}

/// Fields of one message, indexed by type (types of 64 and above are skipped).
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    by_type: [Option<&'a [u8]>; 64],
}

impl<'a> Fields<'a> {
    pub fn parse(r: &mut Reader<'a>, n: u16) -> Result<Fields<'a>, MsgError> {
        let mut by_type = [None; 64];
        for _ in 0..n {
            let size = r.u32("field size")? as usize;
            if size == 0 {
                return Err(MsgError::EmptyField);
            }
            let kind = r.u8("field type")?;
            let data = r.take(size - 1, "field data")?;
            if let Some(slot) = by_type.get_mut(kind as usize) {
                *slot = Some(data);
            }
        }
        Ok(Fields { by_type })
    }
    pub fn get(&self, kind: u8) -> Option<&'a [u8]> {
        self.by_type.get(kind as usize).copied().flatten()
    }
    pub fn has(&self, kind: u8) -> bool {
        self.get(kind).is_some()
    }
}

/// One op: a bin operation on the way in, a bin on the way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Op<'a> {
    pub op: u8,
    pub particle: u8,
    pub name: &'a [u8],
    pub value: &'a [u8],
}

impl<'a> Op<'a> {
    pub fn parse(r: &mut Reader<'a>) -> Result<Op<'a>, MsgError> {
        let size = r.u32("op size")?;
        if size < 4 {
            return Err(MsgError::BadOpSize(size));
        }
        let body = r.take(size as usize, "op")?;
        let (op, particle, name_len) = (body[0], body[1], body[3]);
        let rest = &body[4..];
        if name_len as usize > rest.len() {
            return Err(MsgError::BadOpName(name_len));
        }
        let (name, value) = rest.split_at(name_len as usize);
        Ok(Op { op, particle, name, value })
    }

    pub fn parse_all(r: &mut Reader<'a>, n: u16) -> Result<Vec<Op<'a>>, MsgError> {
        (0..n).map(|_| Op::parse(r)).collect()
    }
}

/// A whole AS_MSG request body.
pub struct Message<'a> {
    pub header: MsgHeader,
    pub fields: Fields<'a>,
    pub ops: Vec<Op<'a>>,
}

impl<'a> Message<'a> {
    pub fn parse(body: &'a [u8]) -> Result<Message<'a>, MsgError> {
        let mut r = Reader::new(body);
        let header = MsgHeader::parse(&mut r)?;
        let fields = Fields::parse(&mut r, header.n_fields)?;
        let ops = Op::parse_all(&mut r, header.n_ops)?;
        if r.remaining() != 0 {
            return Err(MsgError::TrailingBytes(r.remaining()));
        }
        Ok(Message { header, fields, ops })
    }
}

/// What a reply header carries; everything else is zero.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplyHeader {
    pub info1: u8,
    pub info3: u8,
    pub result_code: u8,
    pub generation: u32,
    pub void_time: u32,
    /// Row index in batch replies; 0 elsewhere.
    pub index: u32,
    pub n_fields: u16,
    pub n_ops: u16,
}

pub fn put_reply_header(out: &mut BytesMut, h: &ReplyHeader) {
    out.put_u8(MSG_HEADER_LEN as u8);
    out.put_u8(h.info1);
    out.put_u8(0);
    out.put_u8(h.info3);
    out.put_u8(0);
    out.put_u8(h.result_code);
    out.put_u32(h.generation);
    out.put_u32(h.void_time);
    out.put_u32(h.index);
    out.put_u16(h.n_fields);
    out.put_u16(h.n_ops);
}

pub fn put_field(out: &mut BytesMut, kind: u8, data: &[u8]) {
    out.put_u32(data.len() as u32 + 1);
    out.put_u8(kind);
    out.put_slice(data);
}

pub fn put_op(out: &mut BytesMut, op: u8, particle: u8, name: &[u8], value: &[u8]) {
    out.put_u32((4 + name.len() + value.len()) as u32);
    out.put_u8(op);
    out.put_u8(particle);
    out.put_u8(0);
    out.put_u8(name.len() as u8);
    out.put_slice(name);
    out.put_slice(value);
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// Builds a request body: header, fields, ops.
    pub fn request(h: MsgHeader, fields: &[(u8, &[u8])], ops: &[Op<'_>]) -> Vec<u8> {
        let mut out = BytesMut::new();
        out.put_u8(22);
        out.put_slice(&[h.info1, h.info2, h.info3, h.info4, 0]);
        out.put_u32(h.generation);
        out.put_u32(h.record_ttl);
        out.put_u32(h.transaction_ttl);
        out.put_u16(fields.len() as u16);
        out.put_u16(ops.len() as u16);
        for (k, d) in fields {
            put_field(&mut out, *k, d);
        }
        for o in ops {
            put_op(&mut out, o.op, o.particle, o.name, o.value);
        }
        out.to_vec()
    }

    /// Splits a reply stream into its frame count and every message in it, in order.
    pub fn replies(mut wire: &[u8]) -> (usize, Vec<Message<'_>>) {
        let mut frames = 0;
        let mut messages = vec![];
        while !wire.is_empty() {
            let len = u64::from_be_bytes([0, 0, wire[2], wire[3], wire[4], wire[5], wire[6], wire[7]]) as usize;
            let mut r = Reader::new(&wire[8..8 + len]);
            while r.remaining() > 0 {
                let header = MsgHeader::parse(&mut r).unwrap();
                let fields = Fields::parse(&mut r, header.n_fields).unwrap();
                let ops = Op::parse_all(&mut r, header.n_ops).unwrap();
                messages.push(Message { header, fields, ops });
            }
            wire = &wire[8 + len..];
            frames += 1;
        }
        (frames, messages)
    }

    #[test]
    fn parses_fields_and_ops() {
        let body = request(
            MsgHeader { info2: info2::WRITE, record_ttl: 7, ..Default::default() },
            &[(field::NAMESPACE, b"test"), (field::DIGEST, &[1u8; 20])],
            &[Op { op: op::WRITE, particle: particle::STRING, name: b"s", value: b"hello" }],
        );
        let m = Message::parse(&body).unwrap();
        assert_eq!(m.header.info2, info2::WRITE);
        assert_eq!(m.header.record_ttl, 7);
        assert_eq!(m.fields.get(field::NAMESPACE), Some(&b"test"[..]));
        assert_eq!(m.fields.get(field::DIGEST), Some(&[1u8; 20][..]));
        assert!(!m.fields.has(field::SET));
        assert_eq!(m.ops.len(), 1);
        assert_eq!(m.ops[0].name, b"s");
        assert_eq!(m.ops[0].value, b"hello");
    }

    #[test]
    fn rejects_malformed() {
        let good = request(MsgHeader::default(), &[(field::NAMESPACE, b"test")], &[]);
        for cut in 0..good.len() {
            assert!(Message::parse(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad = good.clone();
        bad[0] = 21;
        assert_eq!(Message::parse(&bad).err(), Some(MsgError::BadHeaderSize(21)));
        let mut zero = good.clone();
        zero[22..26].copy_from_slice(&0u32.to_be_bytes());
        assert_eq!(Message::parse(&zero).err(), Some(MsgError::EmptyField));
        let mut huge = good.clone();
        huge[22..26].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(Message::parse(&huge).is_err());
        let mut extra = good;
        extra.push(0);
        assert_eq!(Message::parse(&extra).err(), Some(MsgError::TrailingBytes(1)));
        // An op whose name overruns it.
        let mut op_bad = request(MsgHeader::default(), &[], &[Op { op: 1, particle: 0, name: b"ab", value: b"" }]);
        op_bad[22 + 7] = 9;
        assert_eq!(Message::parse(&op_bad).err(), Some(MsgError::BadOpName(9)));
    }
}
