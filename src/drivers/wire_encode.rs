//! Aerospike requests as bytes, for the `wire` column: a write, a read of all bins, a batch read
//! and a scan by partition, laid out as today's clients lay them out with default policies
//! (docs/aerospike-wire-protocol.md §3–§7), and the digest that names a record. Encoding
//! happens before the calls are timed; this module knows nothing of sockets or replies.

use crate::workload::BinValue;

/// Proto header: version 2, type 3 (AS_MSG), 48-bit body length.
const PROTO_VERSION: u8 = 2;
const PROTO_MESSAGE: u8 = 3;
const MSG_HEADER_LEN: u8 = 22;

const INFO1_READ: u8 = 0x01;
const INFO1_GET_ALL: u8 = 0x02;
const INFO1_BATCH: u8 = 0x08;
const INFO1_NOBINDATA: u8 = 0x20;
const INFO2_WRITE: u8 = 0x01;
const INFO2_DELETE: u8 = 0x02;
const INFO2_RESPOND_ALL_OPS: u8 = 0x80;
const INFO3_PARTITION_DONE: u8 = 0x04;

const FIELD_NAMESPACE: u8 = 0;
const FIELD_SET: u8 = 1;
const FIELD_DIGEST: u8 = 4;
const FIELD_TASK_ID: u8 = 7;
const FIELD_SOCKET_TIMEOUT: u8 = 9;
const FIELD_PID_ARRAY: u8 = 11;
const FIELD_BATCH_INDEX: u8 = 41;

const OP_READ: u8 = 1;
const OP_WRITE: u8 = 2;
const OP_CDT_READ: u8 = 3;
const OP_CDT_MODIFY: u8 = 4;
const OP_INCR: u8 = 5;
const OP_TOUCH: u8 = 11;

const PARTICLE_INTEGER: u8 = 1;
const PARTICLE_DOUBLE: u8 = 2;
/// Particle type of a string, in bins and in the digest of a string key.
pub const PARTICLE_STRING: u8 = 3;
const PARTICLE_BLOB: u8 = 4;
const PARTICLE_BOOL: u8 = 17;
const PARTICLE_MAP: u8 = 19;
const PARTICLE_LIST: u8 = 20;

/// Batch flags the clients send by default: allow inline, allow inline on SSD, respond for
/// every key (plus the always-set 0x08 of the current format).
const BATCH_FLAGS: u8 = 0x0D;
/// A batch row carrying info bytes and a TTL, then its own fields and ops.
const ROW_INFO_TTL: u8 = 0x0A;
/// A batch row that reuses everything but its digest and index from the previous full row.
const ROW_REPEAT: u8 = 0x01;

/// Partitions in every namespace.
pub const PARTITIONS: u16 = 4096;

/// A record's digest (§7), as every column and `--verify` compute it.
pub use crate::workload::digest::digest;

/// Encodes requests for one namespace and set, each as a whole frame (proto header included),
/// appended to a caller's buffer.
#[derive(Debug, Clone)]
pub struct Encoder {
    pub namespace: String,
    pub set: String,
    /// Goes into the transaction-ttl slot (the server-side timeout) of single-record and batch
    /// requests, and into the socket-timeout field of scans.
    pub timeout_ms: u32,
    /// Record TTL of puts in seconds (`--ttl`); 0: the namespace default.
    pub record_ttl: u32,
}

/// The 22-byte message header of a request.
struct Header {
    info1: u8,
    info2: u8,
    info3: u8,
    record_ttl: u32,
    transaction_ttl: u32,
    n_fields: u16,
    n_ops: u16,
}

/// Appends a placeholder proto header; returns where it starts, for [`finish`].
fn begin(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[PROTO_VERSION, PROTO_MESSAGE, 0, 0, 0, 0, 0, 0]);
    start
}

/// Writes the body length into the proto header that starts at `start`.
fn finish(out: &mut [u8], start: usize) {
    let len = (out.len() - start - 8) as u64;
    out[start + 2..start + 8].copy_from_slice(&len.to_be_bytes()[2..]);
}

fn header(out: &mut Vec<u8>, h: Header) {
    out.push(MSG_HEADER_LEN);
    // info1, info2, info3, info4, result code.
    out.extend_from_slice(&[h.info1, h.info2, h.info3, 0, 0]);
    // Generation 0 (no check), record TTL (0: the namespace default), then the timeout.
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&h.record_ttl.to_be_bytes());
    out.extend_from_slice(&h.transaction_ttl.to_be_bytes());
    out.extend_from_slice(&h.n_fields.to_be_bytes());
    out.extend_from_slice(&h.n_ops.to_be_bytes());
}

fn field(out: &mut Vec<u8>, kind: u8, data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32 + 1).to_be_bytes());
    out.push(kind);
    out.extend_from_slice(data);
}

/// An op with its raw particle bytes (op type, particle type, bin name, value).
fn raw_op(out: &mut Vec<u8>, op: u8, particle: u8, name: &str, value: &[u8]) {
    out.extend_from_slice(&((4 + name.len() + value.len()) as u32).to_be_bytes());
    out.extend_from_slice(&[op, particle, 0, name.len() as u8]);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(value);
}

/// A bin's particle type and bytes, as the clients write them: scalars in their own particle
/// types (a bool as one byte), lists and maps as MessagePack.
fn particle(value: &BinValue) -> (u8, std::borrow::Cow<'_, [u8]>) {
    match value {
        BinValue::Int(i) => (PARTICLE_INTEGER, i.to_be_bytes().to_vec().into()),
        BinValue::Double(d) => (PARTICLE_DOUBLE, d.to_bits().to_be_bytes().to_vec().into()),
        BinValue::Str(s) => (PARTICLE_STRING, s.as_bytes().into()),
        BinValue::Bool(b) => (PARTICLE_BOOL, vec![u8::from(*b)].into()),
        BinValue::Bytes(b) => (PARTICLE_BLOB, b.as_slice().into()),
        BinValue::List(_) | BinValue::Map(_) => {
            let mut packed = Vec::new();
            crate::workload::records::msgpack::encode(value, &mut packed);
            let kind = if matches!(value, BinValue::List(_)) { PARTICLE_LIST } else { PARTICLE_MAP };
            (kind, packed.into())
        }
    }
}

fn write_op(out: &mut Vec<u8>, name: &str, value: &BinValue) {
    let (particle, bytes) = particle(value);
    out.extend_from_slice(&((4 + name.len() + bytes.len()) as u32).to_be_bytes());
    // Op type, particle type, flags, name length.
    out.extend_from_slice(&[OP_WRITE, particle, 0, name.len() as u8]);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(&bytes);
}

impl Encoder {
    /// Namespace, set and digest fields: how every single-record request names its record.
    fn record_fields(&self, out: &mut Vec<u8>, key: &str) {
        field(out, FIELD_NAMESPACE, self.namespace.as_bytes());
        field(out, FIELD_SET, self.set.as_bytes());
        field(out, FIELD_DIGEST, &digest(&self.set, key));
    }

    /// A put: info2 WRITE, one WRITE op per bin, the key not sent (send_key is off by default).
    pub fn write(&self, out: &mut Vec<u8>, key: &str, bins: &[(&str, BinValue)]) {
        let start = begin(out);
        let h = Header {
            info1: 0,
            info2: INFO2_WRITE,
            info3: 0,
            record_ttl: self.record_ttl,
            transaction_ttl: self.timeout_ms,
            n_fields: 3,
            n_ops: bins.len() as u16,
        };
        header(out, h);
        self.record_fields(out, key);
        for (name, value) in bins {
            write_op(out, name, value);
        }
        finish(out, start);
    }

    /// A get of all bins (info1 READ | GET_ALL, no ops), or of the bins named (info1 READ, one
    /// READ op per name), as the clients ask for a subset.
    pub fn read(&self, out: &mut Vec<u8>, key: &str, bins: Option<&[String]>) {
        let start = begin(out);
        let names = bins.unwrap_or_default();
        let h = Header {
            info1: if bins.is_some() { INFO1_READ } else { INFO1_READ | INFO1_GET_ALL },
            info2: 0,
            info3: 0,
            record_ttl: 0,
            transaction_ttl: self.timeout_ms,
            n_fields: 3,
            n_ops: names.len() as u16,
        };
        header(out, h);
        self.record_fields(out, key);
        for name in names {
            raw_op(out, OP_READ, 0, name, &[]);
        }
        finish(out, start);
    }

    /// A single-record request with these info bits and ops (each written by `ops`).
    fn single(&self, out: &mut Vec<u8>, key: &str, info: [u8; 2], n_ops: u16, ops: impl FnOnce(&mut Vec<u8>)) {
        let start = begin(out);
        let writes = info[1] & INFO2_WRITE != 0;
        let h = Header {
            info1: info[0],
            info2: info[1],
            info3: 0,
            record_ttl: if writes { self.record_ttl } else { 0 },
            transaction_ttl: self.timeout_ms,
            n_fields: 3,
            n_ops,
        };
        header(out, h);
        self.record_fields(out, key);
        ops(out);
        finish(out, start);
    }

    /// An exists: info1 READ | NOBINDATA, no ops (the reply carries no bins).
    pub fn exists(&self, out: &mut Vec<u8>, key: &str) {
        self.single(out, key, [INFO1_READ | INFO1_NOBINDATA, 0], 0, |_| {});
    }

    /// A touch: info2 WRITE and one TOUCH op (the record's time to live reset).
    pub fn touch(&self, out: &mut Vec<u8>, key: &str) {
        self.single(out, key, [0, INFO2_WRITE], 1, |out| raw_op(out, OP_TOUCH, 0, "", &[]));
    }

    /// A delete: info2 WRITE | DELETE, no ops.
    pub fn delete(&self, out: &mut Vec<u8>, key: &str) {
        self.single(out, key, [0, INFO2_WRITE | INFO2_DELETE], 0, |_| {});
    }

    /// An operate: increment `bin` by one, then read it back (info1 READ, info2 WRITE).
    pub fn increment_and_read(&self, out: &mut Vec<u8>, key: &str, bin: &str) {
        self.single(out, key, [INFO1_READ, INFO2_WRITE], 2, |out| {
            raw_op(out, OP_INCR, PARTICLE_INTEGER, bin, &1i64.to_be_bytes());
            raw_op(out, OP_READ, 0, bin, &[]);
        });
    }

    /// An update in place, as the clients' operate sends it (info1 READ, info2 WRITE | RESPOND_ALL_OPS):
    /// append `value` to the list bin, increment the map entry by one, read the entry back.
    pub fn update(&self, out: &mut Vec<u8>, key: &str, value: i64) {
        use crate::workload::{UPDATE_LIST_BIN, UPDATE_MAP_BIN, UPDATE_MAP_KEY};
        let cdt = |code: i64, args: &dyn Fn(&mut Vec<u8>), n_args: u32| {
            let mut b = Vec::with_capacity(24);
            rmp::encode::write_array_len(&mut b, n_args + 1).expect("a Vec takes every write");
            rmp::encode::write_sint(&mut b, code).expect("a Vec takes every write");
            args(&mut b);
            b
        };
        let int = |b: &mut Vec<u8>, v: i64| {
            rmp::encode::write_sint(b, v).expect("a Vec takes every write");
        };
        // A string in a list or map carries its particle type in its first byte.
        let map_key = |b: &mut Vec<u8>| {
            rmp::encode::write_str_len(b, UPDATE_MAP_KEY.len() as u32 + 1).expect("a Vec takes every write");
            b.push(PARTICLE_STRING);
            b.extend_from_slice(UPDATE_MAP_KEY.as_bytes());
        };
        // List append [value, order, flags]; map increment [key, delta, order]; map get by key
        // [return type VALUE, key] (the op codes of the clients' list and map operations).
        let append = cdt(1, &|b| [value, 0, 0].iter().for_each(|v| int(b, *v)), 3);
        let increment = cdt(
            73,
            &|b| {
                map_key(b);
                int(b, 1);
                int(b, 0);
            },
            3,
        );
        let get = cdt(
            97,
            &|b| {
                int(b, 7);
                map_key(b);
            },
            2,
        );
        self.single(out, key, [INFO1_READ, INFO2_WRITE | INFO2_RESPOND_ALL_OPS], 3, |out| {
            raw_op(out, OP_CDT_MODIFY, PARTICLE_BLOB, UPDATE_LIST_BIN, &append);
            raw_op(out, OP_CDT_MODIFY, PARTICLE_BLOB, UPDATE_MAP_BIN, &increment);
            raw_op(out, OP_CDT_READ, PARTICLE_BLOB, UPDATE_MAP_BIN, &get);
        });
    }

    /// A batch read of all bins of `keys` (§5.1): one full row, then REPEAT rows; row indices
    /// are positions in `keys`.
    /// With `bins`, the full row asks for those bins by READ ops instead of GET_ALL.
    pub fn batch_read<'k>(
        &self,
        out: &mut Vec<u8>,
        keys: impl ExactSizeIterator<Item = &'k str>,
        bins: Option<&[String]>,
    ) {
        let names = bins.unwrap_or_default();
        let start = begin(out);
        let h = Header {
            info1: INFO1_BATCH,
            info2: 0,
            info3: 0,
            record_ttl: 0,
            transaction_ttl: self.timeout_ms,
            n_fields: 1,
            n_ops: 0,
        };
        header(out, h);
        let mut rows = Vec::with_capacity(5 + keys.len() * 25 + 40);
        rows.extend_from_slice(&(keys.len() as u32).to_be_bytes());
        rows.push(BATCH_FLAGS);
        for (index, key) in keys.enumerate() {
            rows.extend_from_slice(&(index as u32).to_be_bytes());
            rows.extend_from_slice(&digest(&self.set, key));
            if index > 0 {
                rows.push(ROW_REPEAT);
                continue;
            }
            rows.push(ROW_INFO_TTL);
            // info1, info2, info3; TTL 0; 2 fields, a READ op per bin asked for.
            let info1 = if bins.is_some() { INFO1_READ } else { INFO1_READ | INFO1_GET_ALL };
            rows.extend_from_slice(&[info1, 0, 0]);
            rows.extend_from_slice(&0u32.to_be_bytes());
            rows.extend_from_slice(&2u16.to_be_bytes());
            rows.extend_from_slice(&(names.len() as u16).to_be_bytes());
            field(&mut rows, FIELD_NAMESPACE, self.namespace.as_bytes());
            field(&mut rows, FIELD_SET, self.set.as_bytes());
            for name in names {
                raw_op(&mut rows, OP_READ, 0, name, &[]);
            }
        }
        field(out, FIELD_BATCH_INDEX, &rows);
        finish(out, start);
    }

    /// A foreground scan of the set, all bins, by partition: `pids` in the PID array, as the
    /// clients send each node the partitions it owns (§6.1), with no total deadline.
    /// Returns the offset in `out` of the 8-byte task id, which the caller may change per call.
    /// With `bins`, one READ op per bin names the bins returned.
    pub fn scan(&self, out: &mut Vec<u8>, task_id: u64, pids: &[u16], bins: Option<&[String]>) -> usize {
        let names = bins.unwrap_or_default();
        let start = begin(out);
        let h = Header {
            info1: INFO1_READ,
            info2: 0,
            info3: INFO3_PARTITION_DONE,
            record_ttl: 0,
            transaction_ttl: 0,
            n_fields: 5,
            n_ops: names.len() as u16,
        };
        header(out, h);
        field(out, FIELD_NAMESPACE, self.namespace.as_bytes());
        field(out, FIELD_SET, self.set.as_bytes());
        field(out, FIELD_SOCKET_TIMEOUT, &self.timeout_ms.to_be_bytes());
        field(out, FIELD_TASK_ID, &task_id.to_be_bytes());
        let task_at = out.len() - 8;
        let pids: Vec<u8> = pids.iter().flat_map(|p| p.to_le_bytes()).collect();
        field(out, FIELD_PID_ARRAY, &pids);
        for name in names {
            raw_op(out, OP_READ, 0, name, &[]);
        }
        finish(out, start);
        task_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::message::{Message, field as f, info1, info2, info3, op, particle};

    fn encoder() -> Encoder {
        Encoder { namespace: "test".into(), set: "s".into(), timeout_ms: 250, record_ttl: 0 }
    }

    /// The body of the single frame in `frame`, after checking its proto header.
    fn body(frame: &[u8]) -> &[u8] {
        assert_eq!(&frame[..2], &[2, 3], "version 2, type 3");
        let len = u64::from_be_bytes([0, 0, frame[2], frame[3], frame[4], frame[5], frame[6], frame[7]]);
        assert_eq!(len as usize, frame.len() - 8, "the proto header gives the body length");
        &frame[8..]
    }

    #[test]
    fn digest_matches_the_aerospike_crate() {
        for (set, key) in [("s", "aerobench-0"), ("aerobench", "aerobench-12345"), ("", "k"), ("set", "")] {
            let k = aerospike::Key::new("test", set, aerospike::Value::from(key)).unwrap();
            assert_eq!(digest(set, key), k.digest(), "{set:?} {key:?}");
        }
    }

    #[test]
    fn write_parses_back_as_the_clients_put() {
        let mut out = Vec::new();
        let bins = [("i", BinValue::Int(-7)), ("s", BinValue::Str("hello".into())), ("d", BinValue::Double(3.5))];
        encoder().write(&mut out, "k1", &bins);
        let m = Message::parse(body(&out)).unwrap();
        let h = m.header;
        assert_eq!((h.info1, h.info2, h.info3, h.info4), (0, info2::WRITE, 0, 0));
        assert_eq!((h.generation, h.record_ttl, h.transaction_ttl), (0, 0, 250));
        assert_eq!(m.fields.get(f::NAMESPACE), Some(&b"test"[..]));
        assert_eq!(m.fields.get(f::SET), Some(&b"s"[..]));
        assert_eq!(m.fields.get(f::DIGEST), Some(&digest("s", "k1")[..]));
        assert!(!m.fields.has(f::KEY), "the key is not sent, as with the clients' default send_key");
        let ops: Vec<_> = m.ops.iter().map(|o| (o.op, o.particle, o.name, o.value.to_vec())).collect();
        assert_eq!(
            ops,
            vec![
                (op::WRITE, particle::INTEGER, &b"i"[..], (-7i64).to_be_bytes().to_vec()),
                (op::WRITE, particle::STRING, &b"s"[..], b"hello".to_vec()),
                (op::WRITE, PARTICLE_DOUBLE, &b"d"[..], 3.5f64.to_be_bytes().to_vec()),
            ]
        );
    }

    #[test]
    fn every_value_type_goes_in_its_particle_type_and_subsets_ask_by_name() {
        let mut out = Vec::new();
        let list = BinValue::List(vec![BinValue::Int(1), BinValue::Str("a".into())]);
        let map = BinValue::Map(vec![(BinValue::Str("k".into()), BinValue::Double(0.5))]);
        let bins = [
            ("b", BinValue::Bool(true)),
            ("y", BinValue::Bytes(vec![0, 255])),
            ("l", list.clone()),
            ("m", map.clone()),
        ];
        encoder().write(&mut out, "k1", &bins);
        let m = Message::parse(body(&out)).unwrap();
        let ops: Vec<_> = m.ops.iter().map(|o| (o.particle, o.value.to_vec())).collect();
        assert_eq!(ops[0], (17, vec![1]));
        assert_eq!(ops[1], (particle::BLOB, vec![0, 255]));
        assert_eq!((ops[2].0, crate::workload::records::msgpack::decode(&ops[2].1).unwrap().value), (20, list));
        assert_eq!((ops[3].0, crate::workload::records::msgpack::decode(&ops[3].1).unwrap().value), (19, map));
        let names = vec!["a".to_string(), "c".to_string()];
        let mut out = Vec::new();
        encoder().read(&mut out, "k1", Some(&names));
        let m = Message::parse(body(&out)).unwrap();
        assert_eq!(m.header.info1, info1::READ, "no GET_ALL");
        assert_eq!(
            m.ops.iter().map(|o| (o.op, o.name)).collect::<Vec<_>>(),
            [(op::READ, &b"a"[..]), (op::READ, &b"c"[..])]
        );
        let mut out = Vec::new();
        encoder().scan(&mut out, 1, &[0], Some(&names));
        let m = Message::parse(body(&out)).unwrap();
        assert_eq!(m.ops.iter().map(|o| o.name).collect::<Vec<_>>(), [&b"a"[..], &b"c"[..]]);
    }

    #[test]
    fn read_asks_for_all_bins() {
        let mut out = Vec::new();
        encoder().read(&mut out, "k1", None);
        let m = Message::parse(body(&out)).unwrap();
        assert_eq!((m.header.info1, m.header.info2, m.header.info3), (info1::READ | info1::GET_ALL, 0, 0));
        assert_eq!(m.header.transaction_ttl, 250);
        assert_eq!(m.fields.get(f::DIGEST), Some(&digest("s", "k1")[..]));
        assert!(m.ops.is_empty());
    }

    #[test]
    fn exists_touch_delete_and_operate_parse_back() {
        let e = encoder();
        let mut out = Vec::new();
        e.exists(&mut out, "k1");
        let m = Message::parse(body(&out)).unwrap();
        assert_eq!((m.header.info1, m.header.info2), (info1::READ | info1::NOBINDATA, 0));
        assert!(m.ops.is_empty());
        let mut out = Vec::new();
        e.touch(&mut out, "k1");
        let m = Message::parse(body(&out)).unwrap();
        assert_eq!((m.header.info2, m.ops.len(), m.ops[0].op), (info2::WRITE, 1, crate::server::message::op::TOUCH));
        let mut out = Vec::new();
        e.delete(&mut out, "k1");
        let m = Message::parse(body(&out)).unwrap();
        assert_eq!(m.header.info2, info2::WRITE | info2::DELETE);
        let mut out = Vec::new();
        e.increment_and_read(&mut out, "k1", "ops");
        let m = Message::parse(body(&out)).unwrap();
        let ops: Vec<_> = m.ops.iter().map(|o| (o.op, o.name, o.value)).collect();
        use crate::server::message::op;
        assert_eq!(ops, [(op::INCR, &b"ops"[..], &1i64.to_be_bytes()[..]), (op::READ, &b"ops"[..], &[][..])]);
    }

    #[test]
    fn updates_run_on_the_built_in_server_as_list_and_map_ops() {
        use crate::server::message::{op, rc};
        use crate::server::record::{RecordRequest, execute};
        let store = crate::server::store::Store::new(&["test"]);
        for round in 1..=2i64 {
            let mut out = Vec::new();
            encoder().update(&mut out, "k1", 42);
            let m = Message::parse(body(&out)).unwrap();
            assert_eq!((m.header.info1, m.header.info2), (info1::READ, info2::WRITE | info2::RESPOND_ALL_OPS));
            let kinds: Vec<_> = m.ops.iter().map(|o| (o.op, o.name)).collect();
            assert_eq!(
                kinds,
                [(op::CDT_MODIFY, &b"upd_list"[..]), (op::CDT_MODIFY, b"upd_map"), (op::CDT_READ, b"upd_map")]
            );
            let mut reply = bytes::BytesMut::new();
            assert_eq!(execute(&store, &RecordRequest::from_message(&m).unwrap(), 0, &mut reply), rc::OK);
            let r = Message::parse(&reply).unwrap();
            // The list's size, the counter after the increment, the counter read back.
            let values: Vec<&[u8]> = r.ops.iter().map(|o| o.value).collect();
            assert_eq!(values, [round.to_be_bytes(); 3].map(|v| v.to_vec()).iter().map(|v| &v[..]).collect::<Vec<_>>());
        }
    }

    #[test]
    fn scan_names_every_partition() {
        let mut out = Vec::new();
        let all: Vec<u16> = (0..PARTITIONS).collect();
        let at = encoder().scan(&mut out, 0x0102_0304_0506_0708, &all, None);
        assert_eq!(&out[at..at + 8], &[1, 2, 3, 4, 5, 6, 7, 8]);
        let m = Message::parse(body(&out)).unwrap();
        assert_eq!((m.header.info1, m.header.info3), (info1::READ, info3::PARTITION_DONE));
        assert!(!m.fields.has(f::DIGEST), "a scan has no digest field");
        let pids = m.fields.get(f::PID_ARRAY).unwrap();
        assert_eq!(pids.len(), 2 * PARTITIONS as usize);
        assert_eq!(&pids[2 * 4095..], &4095u16.to_le_bytes());
        assert_eq!(m.fields.get(FIELD_SOCKET_TIMEOUT), Some(&250u32.to_be_bytes()[..]));
        let mut out = Vec::new();
        encoder().scan(&mut out, 1, &[7, 300], None);
        let m = Message::parse(body(&out)).unwrap();
        assert_eq!(m.fields.get(f::PID_ARRAY), Some(&[7, 0, 44, 1][..]), "only the partitions given");
    }
}
