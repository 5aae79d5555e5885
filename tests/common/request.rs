//! Aerospike wire requests built byte by byte, for the tests that talk to the built-in server
//! directly: the proto header and frame, fields, ops, the AS_MSG header and a batch read's rows.

pub const T_INFO: u8 = 1;
pub const T_MSG: u8 = 3;
pub const T_COMPRESSED: u8 = 4;

pub const F_NAMESPACE: u8 = 0;
pub const F_SET: u8 = 1;
pub const F_DIGEST: u8 = 4;
pub const F_TASK_ID: u8 = 7;
pub const F_SOCKET_TIMEOUT: u8 = 9;
pub const F_PID_ARRAY: u8 = 11;
pub const F_BATCH: u8 = 41;

pub const I1_READ: u8 = 0x01;
pub const I1_GET_ALL: u8 = 0x02;
pub const I1_BATCH: u8 = 0x08;
pub const I2_WRITE: u8 = 0x01;
pub const I3_LAST: u8 = 0x01;
pub const I3_PARTITION_DONE: u8 = 0x04;

pub const OP_WRITE: u8 = 2;

/// 8-byte proto header: version, type, 48-bit big-endian length.
pub fn header(version: u8, kind: u8, len: u64) -> [u8; 8] {
    let l = len.to_be_bytes();
    [version, kind, l[2], l[3], l[4], l[5], l[6], l[7]]
}

pub fn frame(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut f = header(2, kind, body.len() as u64).to_vec();
    f.extend_from_slice(body);
    f
}

/// A field: u32 size (1 + data length), u8 type, data.
pub fn fld(kind: u8, data: &[u8]) -> Vec<u8> {
    let mut f = (data.len() as u32 + 1).to_be_bytes().to_vec();
    f.push(kind);
    f.extend_from_slice(data);
    f
}

/// An op: u32 size (4 + name + value), op type, particle type, flags, name length, name, value.
pub fn op(kind: u8, particle: u8, name: &[u8], value: &[u8]) -> Vec<u8> {
    let mut o = ((4 + name.len() + value.len()) as u32).to_be_bytes().to_vec();
    o.extend_from_slice(&[kind, particle, 0, name.len() as u8]);
    o.extend_from_slice(name);
    o.extend_from_slice(value);
    o
}

/// An AS_MSG body: the 22-byte header (with `header_sz` as given), then fields, then ops.
pub fn msg_sz(header_sz: u8, info: [u8; 3], fields: &[Vec<u8>], ops: &[Vec<u8>]) -> Vec<u8> {
    let mut b = vec![header_sz, info[0], info[1], info[2], 0, 0];
    b.extend_from_slice(&0u32.to_be_bytes()); // generation
    b.extend_from_slice(&0u32.to_be_bytes()); // record ttl
    b.extend_from_slice(&1000u32.to_be_bytes()); // transaction ttl
    b.extend_from_slice(&(fields.len() as u16).to_be_bytes());
    b.extend_from_slice(&(ops.len() as u16).to_be_bytes());
    for x in fields.iter().chain(ops) {
        b.extend_from_slice(x);
    }
    b
}

pub fn msg(info: [u8; 3], fields: &[Vec<u8>], ops: &[Vec<u8>]) -> Vec<u8> {
    msg_sz(22, info, fields, ops)
}

/// Field 41 data of a batch read in namespace `test` and `set`: count, batch flags 0x0D, one
/// full read row (INFO|TTL) for the first digest, then rows repeating it for the others.
pub fn batch_field(set: &[u8], count: u32, digests: &[[u8; 20]]) -> Vec<u8> {
    let mut b = count.to_be_bytes().to_vec();
    b.push(0x0D);
    for (i, d) in digests.iter().enumerate() {
        b.extend_from_slice(&(i as u32).to_be_bytes());
        b.extend_from_slice(d);
        if i == 0 {
            b.push(0x0A);
            b.extend_from_slice(&[I1_READ | I1_GET_ALL, 0, 0]);
            b.extend_from_slice(&0u32.to_be_bytes());
            b.extend_from_slice(&2u16.to_be_bytes());
            b.extend_from_slice(&0u16.to_be_bytes());
            b.extend_from_slice(&fld(F_NAMESPACE, b"test"));
            b.extend_from_slice(&fld(F_SET, set));
        } else {
            b.push(0x01);
        }
    }
    b
}
