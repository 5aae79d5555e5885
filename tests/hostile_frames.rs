//! Hostile and malformed traffic against `aerobench serve`, over raw TCP: every bad frame may cost
//! at most the connection it arrived on, malformed messages are answered with PARAMETER_ERROR on
//! an intact connection, nothing the peer declares is allocated before it is checked, and the
//! server keeps serving — idle connections, other connections and, at the end, a real client.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::request::*;
use common::{Server, proc_status_bytes, run_with_timeout};

// ---------------------------------------------------------------------------
// Wire constants and tiny frame builders.
// ---------------------------------------------------------------------------

const RC_OK: u8 = 0;
const RC_NOT_FOUND: u8 = 2;
const RC_PARAMETER: u8 = 4;

const BUILD: &str = "8.1.0.0";
const DEFAULT_MAX_FRAME: usize = 128 << 20;
const IO_TIMEOUT: Duration = Duration::from_secs(5);

fn digest(n: u8) -> [u8; 20] {
    let mut d = [0x5Au8; 20];
    d[0] = n;
    d[19] = n.wrapping_mul(31);
    d
}

fn put_body(d: &[u8; 20]) -> Vec<u8> {
    msg(
        [0, I2_WRITE, 0],
        &[fld(F_NAMESPACE, b"test"), fld(F_SET, b"hf"), fld(F_DIGEST, d)],
        &[op(OP_WRITE, 1, b"a", &7i64.to_be_bytes()), op(OP_WRITE, 3, b"s", b"hostile")],
    )
}

fn get_body(d: &[u8; 20]) -> Vec<u8> {
    msg([I1_READ | I1_GET_ALL, 0, 0], &[fld(F_NAMESPACE, b"test"), fld(F_SET, b"hf"), fld(F_DIGEST, d)], &[])
}

fn batch_body(count: u32, digests: &[[u8; 20]]) -> Vec<u8> {
    msg([I1_BATCH, 0, 0], &[fld(F_BATCH, &batch_field(b"hf", count, digests))], &[])
}

/// A partition scan of set `hf`, with the PID array bytes given as is.
fn scan_body(pid_bytes: &[u8]) -> Vec<u8> {
    msg(
        [I1_READ, 0, I3_PARTITION_DONE],
        &[
            fld(F_NAMESPACE, b"test"),
            fld(F_SET, b"hf"),
            fld(F_SOCKET_TIMEOUT, &1000u32.to_be_bytes()),
            fld(F_TASK_ID, &77u64.to_be_bytes()),
            fld(F_PID_ARRAY, pid_bytes),
        ],
        &[],
    )
}

fn all_pids() -> Vec<u8> {
    (0u16..4096).flat_map(u16::to_le_bytes).collect()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// A type-4 frame: u64 declared uncompressed size, then the zlib stream.
fn compressed_frame(declared: u64, z: &[u8]) -> Vec<u8> {
    let mut body = declared.to_be_bytes().to_vec();
    body.extend_from_slice(z);
    frame(T_COMPRESSED, &body)
}

/// LSB-first bit writer for a hand-made deflate stream.
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    fn put(&mut self, value: u64, len: u32) {
        self.acc |= value << self.n;
        self.n += len;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }
    /// Huffman codes go out most significant bit first.
    fn code(&mut self, code: u32, len: u32) {
        let rev = code.reverse_bits() >> (32 - len);
        self.put(u64::from(rev), len);
    }
}

/// A zlib stream that inflates to `n` zero bytes (`n` ≥ 1): one fixed-Huffman block holding a
/// literal 0 followed by (length 258, distance 1) copies — 13 bits per 258 bytes, so 1 GiB takes
/// about 6.8 MB. Built by hand because compressing 1 GiB in a debug test would take too long.
fn zlib_zeros(n: u64) -> Vec<u8> {
    let mut b = Bits { out: vec![0x78, 0x01], acc: 0, n: 0 };
    b.put(1, 1); // BFINAL
    b.put(1, 2); // BTYPE = 01, fixed Huffman
    let lit0 = |b: &mut Bits| b.code(0x30, 8); // literal 0
    lit0(&mut b);
    let mut left = n - 1;
    while left >= 258 {
        b.code(0xC5, 8); // length code 285 = 258, no extra bits
        b.code(0, 5); // distance code 0 = 1
        left -= 258;
    }
    for _ in 0..left {
        lit0(&mut b);
    }
    b.code(0, 7); // end of block (256)
    if b.n > 0 {
        b.put(0, 8 - b.n);
    }
    let adler = ((n % 65521) << 16) | 1; // a = 1, b = n (mod 65521) for all-zero data
    b.out.extend_from_slice(&(adler as u32).to_be_bytes());
    b.out
}

// ---------------------------------------------------------------------------
// Reading replies.
// ---------------------------------------------------------------------------

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s
}

/// Reads one frame; returns (type, body) after checking the version.
fn read_frame(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 8];
    s.read_exact(&mut h).unwrap_or_else(|e| panic!("reading a reply header: {e}"));
    assert_eq!(h[0], 2, "reply proto version (header {h:?})");
    let len = u64::from_be_bytes([0, 0, h[2], h[3], h[4], h[5], h[6], h[7]]) as usize;
    assert!(len < 64 << 20, "reply of {len} bytes");
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap_or_else(|e| panic!("reading a {len}-byte reply body: {e}"));
    (h[1], body)
}

/// One message of a reply body.
#[derive(Debug, Clone)]
struct Reply {
    info3: u8,
    rc: u8,
    generation: u32,
    index: u32,
    n_fields: u16,
    n_ops: u16,
}

/// Splits a type-3 body into its messages, checking every size on the way.
fn parse_msgs(body: &[u8]) -> Result<Vec<Reply>, String> {
    let mut out = vec![];
    let mut p = 0usize;
    let take = |p: &mut usize, n: usize| -> Result<usize, String> {
        if body.len() - *p < n {
            return Err(format!("reply truncated at {} (+{n}) of {}", *p, body.len()));
        }
        *p += n;
        Ok(*p - n)
    };
    let u32_at = |i: usize| u32::from_be_bytes(body[i..i + 4].try_into().unwrap());
    let u16_at = |i: usize| u16::from_be_bytes(body[i..i + 2].try_into().unwrap());
    while p < body.len() {
        let h = take(&mut p, 22)?;
        if body[h] != 22 {
            return Err(format!("reply header_sz {}", body[h]));
        }
        let r = Reply {
            info3: body[h + 3],
            rc: body[h + 5],
            generation: u32_at(h + 6),
            index: u32_at(h + 14),
            n_fields: u16_at(h + 18),
            n_ops: u16_at(h + 20),
        };
        for _ in 0..r.n_fields {
            let f = take(&mut p, 4)?;
            let size = u32_at(f) as usize;
            if size == 0 {
                return Err("reply field of size 0".into());
            }
            take(&mut p, size)?;
        }
        for _ in 0..r.n_ops {
            let o = take(&mut p, 4)?;
            let size = u32_at(o) as usize;
            let ob = take(&mut p, size)?;
            if size < 4 || body[ob + 3] as usize > size - 4 {
                return Err(format!("bad reply op (size {size})"));
            }
        }
        out.push(r);
    }
    Ok(out)
}

/// Reads a single-message type-3 reply.
fn read_single(s: &mut TcpStream) -> Reply {
    let (kind, body) = read_frame(s);
    assert_eq!(kind, T_MSG, "reply type");
    let msgs = parse_msgs(&body).unwrap();
    assert_eq!(msgs.len(), 1, "one message in the reply: {msgs:?}");
    msgs[0].clone()
}

/// Reads type-3 frames until a message carries LAST; returns every message.
fn read_stream(s: &mut TcpStream) -> Vec<Reply> {
    let mut all = vec![];
    loop {
        let (kind, body) = read_frame(s);
        assert_eq!(kind, T_MSG, "stream frame type");
        let msgs = parse_msgs(&body).unwrap();
        let last = msgs.iter().any(|m| m.info3 & I3_LAST != 0);
        all.extend(msgs);
        if last {
            return all;
        }
    }
}

/// The reply to a malformed message: one type-3 frame, result code 4 at frame byte 13.
fn expect_param_error(s: &mut TcpStream, what: &str) {
    let (kind, body) = read_frame(s);
    assert_eq!(kind, T_MSG, "{what}: reply type");
    assert!(body.len() >= 22, "{what}: reply body of {} bytes", body.len());
    // body[5] is byte 13 of the frame.
    assert_eq!(body[5], RC_PARAMETER, "{what}: result code (reply body {:?})", &body[..22]);
    let msgs = parse_msgs(&body).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(msgs.iter().any(|m| m.info3 & I3_LAST != 0), "{what}: error reply not marked LAST: {msgs:?}");
}

/// Sends `node\nbuild\n` and checks the answer: type 1, exactly those two lines.
fn check_info(s: &mut TcpStream, what: &str) {
    s.write_all(&frame(T_INFO, b"node\nbuild\n")).unwrap_or_else(|e| panic!("{what}: info write: {e}"));
    let (kind, body) = read_frame(s);
    assert_eq!(kind, T_INFO, "{what}: info reply type");
    let text = String::from_utf8(body).expect("info reply is UTF-8");
    let lines: Vec<&str> = text.strip_suffix('\n').unwrap_or(&text).split('\n').collect();
    assert_eq!(lines.len(), 2, "{what}: info reply {text:?}");
    let node = lines[0].strip_prefix("node\t").unwrap_or_else(|| panic!("{what}: info reply {text:?}"));
    assert!(!node.is_empty() && node.len() <= 19, "{what}: node name {node:?}");
    assert_eq!(lines[1], format!("build\t{BUILD}"), "{what}: info reply {text:?}");
}

/// Waits for the server to close `s`, which must happen within `within` and with no reply sent.
fn expect_closed(s: &mut TcpStream, within: Duration, what: &str) {
    let start = Instant::now();
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => panic!("{what}: server sent {n} bytes instead of closing: {:?}", &buf[..n.min(64)]),
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted) => break,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("{what}: connection still open after {:?}", start.elapsed())
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => panic!("{what}: unexpected read error {e}"),
        }
    }
    assert!(start.elapsed() <= within, "{what}: closed only after {:?}", start.elapsed());
}

/// Writes, ignoring errors: the server may legitimately close before it has read everything.
fn write_lossy(s: &mut TcpStream, data: &[u8]) {
    let _ = s.write_all(data);
}

// ---------------------------------------------------------------------------
// The rig: a server, a bystander connection opened before any abuse, and health checks.
// ---------------------------------------------------------------------------

struct Rig {
    server: Server,
    bystander: TcpStream,
    max_frame: usize,
}

impl Rig {
    fn start() -> Rig {
        Rig::start_with(&[], DEFAULT_MAX_FRAME)
    }

    fn start_with(extra: &[&str], max_frame: usize) -> Rig {
        // --quiet: every rejected frame would otherwise be logged to the test's stderr.
        let args: Vec<&str> = extra.iter().copied().chain(["--quiet"]).collect();
        let server = Server::start_with(&args);
        let mut bystander = connect(server.port);
        check_info(&mut bystander, "bystander before abuse");
        Rig { server, bystander, max_frame }
    }

    fn conn(&self) -> TcpStream {
        connect(self.server.port)
    }

    fn rss(&self) -> u64 {
        proc_status_bytes(self.server.pid(), "VmRSS")
    }

    fn peak_rss(&self) -> u64 {
        proc_status_bytes(self.server.pid(), "VmHWM")
    }

    /// After each abuse: the server is alive, the bystander still works, a new connection works.
    fn healthy(&mut self, what: &str) {
        assert!(self.server.is_alive(), "{what}: server process died");
        check_info(&mut self.bystander, &format!("{what}: bystander connection"));
        let mut fresh = self.conn();
        check_info(&mut fresh, &format!("{what}: new connection"));
    }
}

// ---------------------------------------------------------------------------
// The cases. Each one leaves the rig healthy or panics.
// ---------------------------------------------------------------------------

/// Valid raw requests, so that the error cases below fail for the reason they claim.
fn case_valid_requests(rig: &mut Rig) {
    let mut s = rig.conn();
    let (d1, d2) = (digest(1), digest(2));
    for d in [&d1, &d2] {
        s.write_all(&frame(T_MSG, &put_body(d))).unwrap();
        assert_eq!(read_single(&mut s).rc, RC_OK, "raw put");
    }
    s.write_all(&frame(T_MSG, &get_body(&d1))).unwrap();
    let r = read_single(&mut s);
    assert_eq!((r.rc, r.n_ops), (RC_OK, 2), "raw get");
    s.write_all(&frame(T_MSG, &get_body(&digest(200)))).unwrap();
    assert_eq!(read_single(&mut s).rc, RC_NOT_FOUND, "raw get of a missing key");
    // Compressed get, with the size declared honestly.
    let inner = frame(T_MSG, &get_body(&d2));
    s.write_all(&compressed_frame(inner.len() as u64, &zlib(&inner))).unwrap();
    let r = read_single(&mut s);
    assert_eq!((r.rc, r.n_ops), (RC_OK, 2), "compressed get");
    // Batch of three, the middle key missing.
    s.write_all(&frame(T_MSG, &batch_body(3, &[d1, digest(201), d2]))).unwrap();
    let rows = read_stream(&mut s);
    let got: Vec<(u32, u8)> = rows.iter().map(|r| (r.index, r.rc)).collect();
    assert_eq!(got, vec![(0, RC_OK), (1, RC_NOT_FOUND), (2, RC_OK), (0, RC_OK)], "batch rows");
    // Scan of every partition: two records, 4096 partition-done markers, LAST with rc 0.
    s.write_all(&frame(T_MSG, &scan_body(&all_pids()))).unwrap();
    let rows = read_stream(&mut s);
    let records = rows.iter().filter(|r| r.info3 == 0).count();
    let done = rows.iter().filter(|r| r.info3 & I3_PARTITION_DONE != 0).count();
    let last = rows.last().unwrap();
    assert!(
        records >= 2 && done == 4096 && last.info3 & I3_LAST != 0 && last.rc == RC_OK,
        "scan: {records} records, {done} done, last {last:?}"
    );
    assert!(rows.iter().filter(|r| r.info3 == 0).all(|r| r.n_fields >= 2 && r.generation >= 1));
    check_info(&mut s, "after valid requests");
    rig.healthy("valid requests");
}

fn case_bad_proto_version(rig: &mut Rig) {
    for version in [0u8, 1, 3, 0x78, 0xFF] {
        let mut s = rig.conn();
        let body = b"node\nbuild\n";
        let mut f = header(version, T_INFO, body.len() as u64).to_vec();
        f.extend_from_slice(body);
        write_lossy(&mut s, &f);
        expect_closed(&mut s, Duration::from_secs(2), &format!("proto version {version}"));
        rig.healthy(&format!("proto version {version}"));
    }
}

fn case_unknown_message_type(rig: &mut Rig) {
    for kind in [0u8, 5, 6, 7, 0x80, 0xFF] {
        let mut s = rig.conn();
        let mut f = header(2, kind, 4).to_vec();
        f.extend_from_slice(b"abcd");
        write_lossy(&mut s, &f);
        expect_closed(&mut s, Duration::from_secs(2), &format!("message type {kind}"));
        rig.healthy(&format!("message type {kind}"));
    }
}

fn case_absurd_length(rig: &mut Rig) {
    let (rss0, peak0) = (rig.rss(), rig.peak_rss());
    for (kind, len) in [(T_MSG, 1u64 << 47), (T_INFO, 1 << 47), (T_COMPRESSED, 1 << 47), (T_MSG, (1 << 48) - 1)] {
        let what = format!("type {kind} frame declaring {len} bytes");
        let mut s = rig.conn();
        let mut f = header(2, kind, len).to_vec();
        f.extend_from_slice(&[22u8; 64]); // the start of a body that will never end
        write_lossy(&mut s, &f);
        expect_closed(&mut s, Duration::from_secs(1), &what);
        rig.healthy(&what);
    }
    let (rss1, peak1) = (rig.rss(), rig.peak_rss());
    eprintln!(
        "absurd lengths: server RSS {} -> {} KiB, peak {} -> {} KiB",
        rss0 >> 10,
        rss1 >> 10,
        peak0 >> 10,
        peak1 >> 10
    );
    assert!(peak1 < peak0 + (16 << 20), "peak RSS grew from {peak0} to {peak1} bytes");
    assert!(rss1 < 256 << 20, "server RSS {rss1} bytes after absurd lengths");
}

fn case_over_max_frame(rig: &mut Rig) {
    let limit = rig.max_frame;
    // A frame of exactly the limit is accepted (only checked when it is cheap to send).
    if limit <= 1 << 20 {
        let mut s = rig.conn();
        let mut body = b"node\nbuild\n".to_vec();
        body.resize(limit - 1, b'x');
        body.push(b'\n');
        s.write_all(&frame(T_INFO, &body)).unwrap();
        let (kind, reply) = read_frame(&mut s);
        assert_eq!(kind, T_INFO);
        let text = String::from_utf8(reply).unwrap();
        assert!(text.starts_with("node\t") && text.contains(&format!("\nbuild\t{BUILD}\n")), "{text:.200}");
        check_info(&mut s, "after a frame of exactly --max-frame");
    }
    for kind in [T_INFO, T_MSG, T_COMPRESSED] {
        let what = format!("type {kind} frame of --max-frame + 1 = {} bytes", limit + 1);
        let mut s = rig.conn();
        write_lossy(&mut s, &header(2, kind, limit as u64 + 1));
        write_lossy(&mut s, &vec![b'\n'; 1024.min(limit)]);
        expect_closed(&mut s, Duration::from_secs(2), &what);
        rig.healthy(&what);
    }
}

fn case_truncated_body(rig: &mut Rig) {
    let full = frame(T_MSG, &put_body(&digest(3)));
    for cut in [8, 9, 20, full.len() - 1] {
        let what = format!("body cut at {cut} of {} bytes, then close", full.len());
        let mut s = rig.conn();
        s.write_all(&full[..cut]).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        expect_closed(&mut s, Duration::from_secs(2), &what);
        rig.healthy(&what);
    }
    // Truncated and then dropped outright (RST rather than FIN on some paths).
    let mut s = rig.conn();
    s.write_all(&full[..full.len() / 2]).unwrap();
    drop(s);
    rig.healthy("body truncated, socket dropped");
}

fn case_truncated_header(rig: &mut Rig) {
    for cut in 1..8 {
        let what = format!("header cut at {cut} bytes, then close");
        let mut s = rig.conn();
        s.write_all(&header(2, T_INFO, 11)[..cut]).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        expect_closed(&mut s, Duration::from_secs(2), &what);
        rig.healthy(&what);
    }
}

/// xorshift64*: a deterministic source of junk.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn case_garbage(rig: &mut Rig) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut junk: Vec<(String, Vec<u8>)> = vec![
        ("an HTTP request".into(), b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec()),
        ("a TLS ClientHello prefix".into(), vec![0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]),
        ("zeros".into(), vec![0u8; 4096]),
        ("0xFF bytes".into(), vec![0xFFu8; 4096]),
    ];
    for i in 0..8 {
        let mut b = {
            let n = 64 + rng.below(8192);
            rng.bytes(n)
        };
        if b[0] == 2 {
            b[0] = 0xA5; // keep it junk at the first byte
        }
        junk.push((format!("random bytes #{i}"), b));
    }
    for (what, bytes) in junk {
        let mut s = rig.conn();
        write_lossy(&mut s, &bytes);
        expect_closed(&mut s, Duration::from_secs(2), &what);
        rig.healthy(&what);
    }
    // Junk with a valid-looking header in front: version 2, type 3, random body. Every such frame
    // is complete, so each one must be answered (never dropped), and the connection survives.
    let mut s = rig.conn();
    for i in 0..50 {
        let mut body = {
            let n = rng.below(300);
            rng.bytes(n)
        };
        if let Some(b) = body.first_mut() {
            if i % 2 == 0 {
                *b = 22; // a plausible header_sz, so that parsing goes further
            }
        }
        s.write_all(&frame(T_MSG, &body)).unwrap();
        let (kind, reply) = read_frame(&mut s);
        assert_eq!(kind, T_MSG);
        assert!(
            reply.len() >= 22 && reply[5] != RC_OK,
            "random body #{i} answered with {:?}",
            &reply[..reply.len().min(22)]
        );
    }
    check_info(&mut s, "after random AS_MSG bodies");
    rig.healthy("random AS_MSG bodies");
}

fn case_header_sz(rig: &mut Rig) {
    let mut s = rig.conn();
    for sz in [0u8, 1, 21, 23, 30, 255] {
        s.write_all(&frame(
            T_MSG,
            &msg_sz(sz, [I1_READ | I1_GET_ALL, 0, 0], &[fld(F_NAMESPACE, b"test"), fld(F_DIGEST, &digest(1))], &[]),
        ))
        .unwrap();
        expect_param_error(&mut s, &format!("header_sz {sz}"));
        check_info(&mut s, &format!("same connection after header_sz {sz}"));
    }
    // A body shorter than a message header.
    for len in [0usize, 1, 21] {
        s.write_all(&frame(T_MSG, &get_body(&digest(1))[..len])).unwrap();
        expect_param_error(&mut s, &format!("{len}-byte AS_MSG body"));
        check_info(&mut s, &format!("same connection after a {len}-byte body"));
    }
    rig.healthy("header_sz");
}

fn case_bad_field_sizes(rig: &mut Rig) {
    let mut s = rig.conn();
    let good = get_body(&digest(1));
    // Field sizes live at body offsets 22 (namespace), 22+9 (set), 22+9+7 (digest).
    let cases: Vec<(String, Vec<u8>)> = vec![
        ("field size 0 (first field)".into(), patch_u32(&good, 22, 0)),
        ("field size 0 (last field)".into(), patch_u32(&good, 38, 0)),
        ("field size one past the body".into(), patch_u32(&good, 38, 22)),
        ("field size far beyond the body".into(), patch_u32(&good, 22, 1 << 30)),
        ("field size u32::MAX".into(), patch_u32(&good, 22, u32::MAX)),
        ("n_fields beyond the body".into(), patch_u16(&good, 18, 4)),
        ("n_fields u16::MAX".into(), patch_u16(&good, 18, u16::MAX)),
        ("field header cut short".into(), good[..good.len() - 22].to_vec()),
        ("trailing bytes after the last field".into(), [&good[..], &[0, 0, 0]].concat()),
    ];
    for (what, body) in cases {
        s.write_all(&frame(T_MSG, &body)).unwrap();
        expect_param_error(&mut s, &what);
        check_info(&mut s, &format!("same connection after {what}"));
    }
    rig.healthy("bad field sizes");
}

fn patch_u32(b: &[u8], at: usize, v: u32) -> Vec<u8> {
    let mut b = b.to_vec();
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
    b
}

fn patch_u16(b: &[u8], at: usize, v: u16) -> Vec<u8> {
    let mut b = b.to_vec();
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
    b
}

fn case_bad_ops(rig: &mut Rig) {
    let mut s = rig.conn();
    let good = put_body(&digest(4));
    // Ops start after header (22) and fields (9 + 7 + 25 = 41): first op at 63, 4 + 1 + 8 = 13 bytes.
    let first_op = 63;
    assert_eq!(&good[first_op..first_op + 4], &13u32.to_be_bytes());
    let name_len_at = first_op + 7;
    let cases: Vec<(String, Vec<u8>)> = vec![
        ("op name length overruns the op".into(), {
            let mut b = good.clone();
            b[name_len_at] = 10; // op holds 1 + 8 bytes after its header
            b
        }),
        ("op name length 255".into(), {
            let mut b = good.clone();
            b[name_len_at] = 255;
            b
        }),
        ("op name length overruns the last op".into(), {
            let mut b = good.clone();
            let second = first_op + 4 + 13;
            b[second + 7] = 9; // "s" + "hostile" = 8 bytes
            b
        }),
        ("op size 0".into(), patch_u32(&good, first_op, 0)),
        ("op size 3".into(), patch_u32(&good, first_op, 3)),
        ("op size beyond the body".into(), patch_u32(&good, first_op, 1000)),
        ("op size u32::MAX".into(), patch_u32(&good, first_op, u32::MAX)),
        ("n_ops beyond the body".into(), patch_u16(&good, 20, 3)),
    ];
    for (what, body) in cases {
        s.write_all(&frame(T_MSG, &body)).unwrap();
        expect_param_error(&mut s, &what);
        check_info(&mut s, &format!("same connection after {what}"));
    }
    // None of those writes may have stored anything.
    s.write_all(&frame(T_MSG, &get_body(&digest(4)))).unwrap();
    assert_eq!(read_single(&mut s).rc, RC_NOT_FOUND, "a rejected put stored a record");
    rig.healthy("bad ops");
}

fn case_bad_compressed(rig: &mut Rig) {
    let mut s = rig.conn();
    let inner = frame(T_MSG, &get_body(&digest(1)));
    let z = zlib(&inner);
    let n = inner.len() as u64;
    let mut corrupt = z.clone();
    for b in &mut corrupt[2..z.len() - 4] {
        *b ^= 0x55;
    }
    let mut bad_checksum = z.clone();
    let end = bad_checksum.len() - 1;
    bad_checksum[end] ^= 1;
    let info_inner = frame(T_INFO, b"node\n");
    let nested = compressed_frame(n, &z);
    let mut lying_inner = inner.clone();
    lying_inner[7] += 1; // inner proto length no longer matches
    let cases: Vec<(String, Vec<u8>)> = vec![
        ("corrupt zlib stream".into(), compressed_frame(n, &corrupt)),
        ("not zlib at all".into(), compressed_frame(n, b"this is not a zlib stream")),
        ("zlib stream cut short".into(), compressed_frame(n, &z[..z.len() / 2])),
        ("zlib checksum wrong".into(), compressed_frame(n, &bad_checksum)),
        ("declared size one too large".into(), compressed_frame(n + 1, &z)),
        ("declared size one too small".into(), compressed_frame(n - 1, &z)),
        ("declared size 0".into(), compressed_frame(0, &z)),
        ("declared size u64::MAX".into(), compressed_frame(u64::MAX, &z)),
        ("declared size 2^40".into(), compressed_frame(1 << 40, &z)),
        ("body shorter than the size prefix".into(), frame(T_COMPRESSED, &[0, 0, 0])),
        ("empty body".into(), frame(T_COMPRESSED, &[])),
        ("inner frame is an info request".into(), compressed_frame(info_inner.len() as u64, &zlib(&info_inner))),
        ("inner frame is itself compressed".into(), compressed_frame(nested.len() as u64, &zlib(&nested))),
        ("inner proto length lies".into(), compressed_frame(n, &zlib(&lying_inner))),
    ];
    for (what, f) in cases {
        s.write_all(&f).unwrap();
        expect_param_error(&mut s, &format!("compressed: {what}"));
        check_info(&mut s, &format!("same connection after compressed: {what}"));
    }
    rig.healthy("bad compressed frames");
}

fn case_batch_count_lies(rig: &mut Rig) {
    let mut s = rig.conn();
    let rows = [digest(1), digest(2), digest(3)];
    let cases: Vec<(String, Vec<u8>)> = vec![
        ("batch count u32::MAX, 3 rows".into(), batch_body(u32::MAX, &rows)),
        ("batch count 1,000,000, 3 rows".into(), batch_body(1_000_000, &rows)),
        ("batch count 4, 3 rows".into(), batch_body(4, &rows)),
        ("batch field of 2 bytes".into(), msg([I1_BATCH, 0, 0], &[fld(F_BATCH, &[0, 0])], &[])),
        ("batch starting with a REPEAT row".into(), {
            let mut field = 2u32.to_be_bytes().to_vec();
            field.push(0x0D);
            for (i, d) in rows[..2].iter().enumerate() {
                field.extend_from_slice(&(i as u32).to_be_bytes());
                field.extend_from_slice(d);
                field.push(0x01);
            }
            msg([I1_BATCH, 0, 0], &[fld(F_BATCH, &field)], &[])
        }),
    ];
    let t = Instant::now();
    for (what, body) in cases {
        s.write_all(&frame(T_MSG, &body)).unwrap();
        expect_param_error(&mut s, &what);
        check_info(&mut s, &format!("same connection after {what}"));
    }
    // A server that believed the counts would build rows for billions of keys: minutes, not the
    // milliseconds these take (the bound leaves a loaded machine room).
    assert!(t.elapsed() < Duration::from_secs(15), "lying batches took {:?}", t.elapsed());
    rig.healthy("lying batches");
}

fn case_scan_odd_pids(rig: &mut Rig) {
    let mut s = rig.conn();
    for pids in [vec![1u8], vec![0, 0, 1], all_pids()[..8191].to_vec()] {
        let what = format!("scan with a {}-byte PID array", pids.len());
        s.write_all(&frame(T_MSG, &scan_body(&pids))).unwrap();
        let rows = read_stream(&mut s);
        assert_eq!(rows.len(), 1, "{what}: {rows:?}");
        assert_eq!((rows[0].info3 & I3_LAST, rows[0].rc), (I3_LAST, RC_PARAMETER), "{what}: {rows:?}");
        check_info(&mut s, &format!("same connection after {what}"));
    }
    rig.healthy("scan with odd PID arrays");
}

fn case_zlib_bomb(rig: &mut Rig) {
    const GIB: u64 = 1 << 30;
    let bomb = zlib_zeros(GIB);
    let (rss0, peak0) = (rig.rss(), rig.peak_rss());
    let mut s = rig.conn();
    let t = Instant::now();
    // Declares the size of a small message; inflates to 1 GiB.
    s.write_all(&compressed_frame(1024, &bomb)).unwrap();
    expect_param_error(&mut s, "zlib bomb declaring 1 KiB");
    let elapsed = t.elapsed();
    check_info(&mut s, "same connection after a zlib bomb");
    let (rss1, peak1) = (rig.rss(), rig.peak_rss());
    eprintln!(
        "zlib bomb ({} KiB on the wire, 1 GiB inflated): refused in {elapsed:?}; server RSS {} -> {} KiB, peak {} -> {} KiB",
        bomb.len() >> 10,
        rss0 >> 10,
        rss1 >> 10,
        peak0 >> 10,
        peak1 >> 10
    );
    // The compressed frame itself (~7 MB) is read into memory; the 1 GiB must not be.
    assert!(peak1 < peak0 + (100 << 20), "peak RSS grew from {peak0} to {peak1} bytes");
    assert!(rss1 < rss0 + (100 << 20), "RSS grew from {rss0} to {rss1} bytes");

    // Declares a larger size, and the stream inflates past it: refused once it overshoots.
    let declared = 8u64 << 20;
    s.write_all(&compressed_frame(declared, &zlib_zeros(declared + 4096))).unwrap();
    expect_param_error(&mut s, "zlib stream inflating past its declared 8 MiB");
    check_info(&mut s, "same connection after an over-long zlib stream");
    let (rss2, peak2) = (rig.rss(), rig.peak_rss());
    eprintln!("over-long zlib stream declaring 8 MiB: server RSS {} KiB, peak {} KiB", rss2 >> 10, peak2 >> 10);
    assert!(peak2 < peak1 + declared + (100 << 20), "peak RSS grew from {peak1} to {peak2} bytes");
    rig.healthy("zlib bombs");
}

/// Random mutations of valid requests, each on its own connection: every complete frame gets a
/// well-formed reply, then the connection closes cleanly when the peer does.
fn case_mutated_requests(rig: &mut Rig) {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let (d1, d2) = (digest(1), digest(2));
    let templates: Vec<Vec<u8>> = vec![
        put_body(&digest(9)),
        get_body(&d1),
        batch_body(2, &[d1, d2]),
        scan_body(&[1, 0, 2, 0]),
        msg(
            [I1_READ, 0, I3_PARTITION_DONE],
            &[fld(F_NAMESPACE, b"test"), fld(F_PID_ARRAY, &[1, 0]), fld(12, &d1), fld(13, &3u64.to_be_bytes())],
            &[],
        ),
    ];
    for i in 0..300 {
        let mut body = templates[i % templates.len()].clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(body.len().max(1));
            match rng.below(6) {
                0 | 1 => {
                    if at < body.len() {
                        body[at] = rng.next() as u8;
                    }
                }
                2 => {
                    let v: [u8; 4] = [[0, 0, 0, 0], [0xFF; 4], [0x7F, 0xFF, 0xFF, 0xFF], [0, 0, 0, 1]][rng.below(4)];
                    for (k, b) in v.iter().enumerate() {
                        if let Some(x) = body.get_mut(at + k) {
                            *x = *b;
                        }
                    }
                }
                3 => body.truncate(at),
                4 => {
                    let extra = {
                        let n = rng.below(40);
                        rng.bytes(n)
                    };
                    body.extend_from_slice(&extra);
                }
                _ => {
                    if at < body.len() {
                        body[at] ^= 1 << rng.below(8);
                    }
                }
            }
        }
        let mut s = rig.conn();
        s.write_all(&frame(T_MSG, &body)).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut reply = vec![];
        if let Err(e) = s.read_to_end(&mut reply) {
            panic!("mutation #{i}: reading the reply: {e} (body {body:?})");
        }
        assert!(reply.len() >= 30, "mutation #{i}: no reply to a complete frame (body {body:?}, reply {reply:?})");
        let mut p = &reply[..];
        while !p.is_empty() {
            assert!(p.len() >= 8 && p[0] == 2 && p[1] == T_MSG, "mutation #{i}: bad reply framing {p:?}");
            let len = u64::from_be_bytes([0, 0, p[2], p[3], p[4], p[5], p[6], p[7]]) as usize;
            assert!(p.len() >= 8 + len, "mutation #{i}: reply frame cut short");
            parse_msgs(&p[8..8 + len]).unwrap_or_else(|e| panic!("mutation #{i}: {e}"));
            p = &p[8 + len..];
        }
        if i % 50 == 0 {
            rig.healthy(&format!("mutation #{i}"));
        }
    }
    rig.healthy("mutated requests");
}

fn case_many_idle_connections(rig: &mut Rig) {
    const IDLE: usize = 2000;
    let nofile = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|x| x.starts_with("Max open files"))
                .and_then(|x| x.split_whitespace().nth(3).and_then(|v| v.parse::<usize>().ok()))
        })
        .unwrap_or(usize::MAX);
    assert!(nofile > IDLE + 200, "this test needs `ulimit -n` above {} (it is {nofile})", IDLE + 200);

    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(Mutex::new((0u64, Duration::ZERO)));
    let worker = {
        let (stop, stats, port) = (stop.clone(), stats.clone(), rig.server.port);
        std::thread::spawn(move || {
            let mut s = connect(port);
            let d = digest(77);
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                s.write_all(&frame(T_MSG, &put_body(&d))).unwrap();
                assert_eq!(read_single(&mut s).rc, RC_OK, "worker put");
                s.write_all(&frame(T_MSG, &get_body(&d))).unwrap();
                assert_eq!(read_single(&mut s).rc, RC_OK, "worker get");
                check_info(&mut s, "worker");
                let dt = t.elapsed();
                {
                    let mut st = stats.lock().unwrap();
                    st.0 += 1;
                    st.1 = st.1.max(dt);
                }
                // A steady client, not a busy loop that would starve the connects on 2 cores.
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let t = Instant::now();
    // Opened in waves of 100, each confirmed by a reply on its last connection (accepts are FIFO),
    // so that no wave overflows the listen backlog (128; see `connection_burst_is_not_dropped`).
    let mut idle: Vec<TcpStream> = Vec::with_capacity(IDLE);
    while idle.len() < IDLE {
        for _ in 0..100.min(IDLE - idle.len()) {
            idle.push(connect(rig.server.port));
        }
        let n = idle.len();
        check_info(idle.last_mut().unwrap(), &format!("idle connection #{}", n - 1));
    }
    let opened = t.elapsed();
    // Every one of them was accepted and is served (each check waits for its answer).
    let rounds_before = stats.lock().unwrap().0;
    for (i, s) in idle.iter_mut().enumerate() {
        check_info(s, &format!("idle connection #{i}"));
    }
    let all_answered = t.elapsed();
    let rss = rig.rss();
    drop(idle);
    // The worker keeps making rounds while and after the 2,000 connections are served.
    let progressed = common::wait_until(Duration::from_secs(30), || stats.lock().unwrap().0 > rounds_before + 2);
    stop.store(true, Ordering::Relaxed);
    worker.join().expect("worker connection failed while 2,000 others were open");
    let (rounds, worst) = *stats.lock().unwrap();
    eprintln!(
        "{IDLE} idle connections: opened in {opened:?}, all answered after {all_answered:?}, server RSS {} KiB; \
         worker: {rounds} rounds, worst {worst:?}",
        rss >> 10
    );
    assert!(rounds > 0 && progressed, "the worker connection made no progress ({rounds} rounds)");
    // Rounds take milliseconds; one stuck behind the 2,000 connections would take far longer.
    assert!(worst < Duration::from_secs(10), "worker round took {worst:?}");
    rig.healthy("2,000 idle connections");
}

fn case_idle_not_closed(rig: &mut Rig, hold: Duration) {
    let mut s = rig.conn();
    check_info(&mut s, "before idling");
    std::thread::sleep(hold);
    check_info(&mut s, &format!("after idling {hold:?}"));
    s.write_all(&frame(T_MSG, &get_body(&digest(1)))).unwrap();
    read_single(&mut s);
    rig.healthy("idle connection");
}

/// The `aerospike` crate puts and gets a record.
fn real_client_works(port: u16) {
    use aerospike::{Bin, Bins, Client, ClientPolicy, Key, ReadPolicy, Value, WritePolicy};
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let client =
            Client::new(&ClientPolicy::default(), &format!("127.0.0.1:{port}")).await.expect("real client connects");
        let key = Key::new("test", "after-abuse", Value::from("k1")).unwrap();
        let bins =
            [Bin::new("i", Value::Int(42)), Bin::new("s", Value::from("still here")), Bin::new("f", Value::from(2.5))];
        client.put(&WritePolicy::default(), &key, &bins).await.expect("real client put");
        let rec = client.get(&ReadPolicy::default(), &key, Bins::All).await.expect("real client get");
        for b in &bins {
            assert_eq!(rec.bins.get(&b.name), Some(&b.value), "bin {}", b.name);
        }
        assert_eq!(rec.generation, 1);
        client.close().await.unwrap();
    });
}

// ---------------------------------------------------------------------------
// Tests: each case against its own server, then everything against one server, then a real client.
// ---------------------------------------------------------------------------

/// One abuse case, run against a rig.
type Case = fn(&mut Rig);

fn run_case(case: Case) {
    let mut rig = Rig::start();
    case(&mut rig);
    rig.healthy("end of test");
}

#[test]
fn valid_raw_requests_are_served() {
    run_case(case_valid_requests);
}

#[test]
fn bad_proto_version_closes_only_that_connection() {
    run_case(case_bad_proto_version);
}

#[test]
fn unknown_message_type_closes_only_that_connection() {
    run_case(case_unknown_message_type);
}

#[test]
fn absurd_length_closes_promptly_without_allocating() {
    run_case(case_absurd_length);
}

#[test]
fn frame_over_max_frame_closes_only_that_connection() {
    let mut rig = Rig::start_with(&["--max-frame", "4096"], 4096);
    case_over_max_frame(&mut rig);
}

#[test]
fn truncated_body_then_close() {
    run_case(case_truncated_body);
}

#[test]
fn truncated_header_then_close() {
    run_case(case_truncated_header);
}

#[test]
fn garbage_bytes() {
    run_case(case_garbage);
}

#[test]
fn header_sz_not_22_is_a_parameter_error() {
    run_case(case_header_sz);
}

#[test]
fn bad_field_sizes_are_parameter_errors() {
    run_case(case_bad_field_sizes);
}

#[test]
fn bad_ops_are_parameter_errors() {
    run_case(case_bad_ops);
}

#[test]
fn bad_compressed_frames_are_parameter_errors() {
    run_case(case_bad_compressed);
}

#[test]
fn batch_count_beyond_rows_is_a_parameter_error() {
    run_case(case_batch_count_lies);
}

#[test]
fn scan_with_odd_pid_array_is_a_parameter_error() {
    run_case(case_scan_odd_pids);
}

#[test]
fn zlib_bomb_is_refused_without_inflating() {
    run_case(case_zlib_bomb);
}

#[test]
fn mutated_requests_always_get_well_formed_replies() {
    run_case(case_mutated_requests);
}

#[test]
fn two_thousand_idle_connections() {
    run_case(case_many_idle_connections);
}

#[test]
fn idle_connection_is_never_closed_by_the_server() {
    run_case(|rig| case_idle_not_closed(rig, Duration::from_secs(3)));
}

#[test]
fn real_client_works_after_all_the_abuse() {
    let mut rig = Rig::start();
    let t = Instant::now();
    let cases: [(&str, Case); 16] = [
        ("valid requests", case_valid_requests),
        ("bad proto version", case_bad_proto_version),
        ("unknown message type", case_unknown_message_type),
        ("absurd length", case_absurd_length),
        ("over max frame", case_over_max_frame),
        ("truncated body", case_truncated_body),
        ("truncated header", case_truncated_header),
        ("garbage", case_garbage),
        ("header_sz", case_header_sz),
        ("bad field sizes", case_bad_field_sizes),
        ("bad ops", case_bad_ops),
        ("bad compressed", case_bad_compressed),
        ("lying batch", case_batch_count_lies),
        ("odd PID array", case_scan_odd_pids),
        ("zlib bomb", case_zlib_bomb),
        ("2,000 idle connections", case_many_idle_connections),
    ];
    for (name, case) in cases {
        case(&mut rig);
        eprintln!("after {name}: {:?}", t.elapsed());
    }
    case_idle_not_closed(&mut rig, Duration::from_millis(500));
    real_client_works(rig.server.port);
    rig.healthy("after the real client");
}

/// A burst of connections, as a client pool opening at start-up makes, must not lose SYNs: each
/// one dropped from a full accept queue costs its client a 1 s retransmit.
#[test]
fn connection_burst_is_not_dropped() {
    let rig = Rig::start();
    let mut conns = Vec::with_capacity(1000);
    let mut slow = vec![];
    for i in 0..1000 {
        let t = Instant::now();
        conns.push(connect(rig.server.port));
        if t.elapsed() > Duration::from_millis(500) {
            slow.push((i, t.elapsed()));
        }
    }
    assert!(slow.is_empty(), "connects that waited for a SYN retransmit: {slow:?}");
}

#[test]
fn sigterm_exits_cleanly() {
    let mut server = Server::start();
    // An open client connection must not hold the shutdown up.
    let mut s = connect(server.port);
    // Serving: the answer shows the server past start-up (a signal right after the listening
    // line is handled too: `sigterm_right_after_the_listening_line_exits_cleanly`).
    check_info(&mut s, "before SIGTERM");
    let status = Command::new("kill").arg("-TERM").arg(server.pid().to_string()).status().expect("run kill");
    assert!(status.success(), "kill -TERM failed: {status}");
    let exit = server.wait_exit(Duration::from_secs(5)).expect("server still running 5 s after SIGTERM");
    assert!(exit.success(), "server exited with {exit} on SIGTERM");
}

/// The listening line is the readiness signal scripts wait for, so SIGTERM right after it must
/// already be handled.
#[test]
fn sigterm_right_after_the_listening_line_exits_cleanly() {
    for i in 0..40 {
        let mut server = Server::start();
        let status = Command::new("kill").arg("-TERM").arg(server.pid().to_string()).status().expect("run kill");
        assert!(status.success(), "kill -TERM failed: {status}");
        let exit = server.wait_exit(Duration::from_secs(5)).expect("server still running 5 s after SIGTERM");
        assert!(exit.success(), "run {i}: server exited with {exit} on SIGTERM sent right after it was listening");
    }
}

#[test]
fn bad_cli_input_exits_non_zero_with_a_clear_message() {
    let cases: [(&[&str], &[&str]); 5] = [
        (&["--build", "8.0.0"], &["--build", "8.0.0"]),
        (&["--namespace", ""], &["namespace"]),
        (&["--namespace", "a:b"], &["namespace", "a:b"]),
        (&["--max-frame", "10"], &["--max-frame"]),
        (&["--port", "not-a-port"], &["--port"]),
    ];
    for (args, expect) in cases {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
        cmd.args(["serve", "--port", "0"]).args(args);
        let out = run_with_timeout(cmd, Duration::from_secs(10));
        assert!(!out.timed_out, "serve {args:?} kept running:\n{}", out.describe());
        assert!(!out.success(), "serve {args:?} succeeded:\n{}", out.describe());
        assert!(!out.stdout.contains("listening on"), "serve {args:?} started listening:\n{}", out.describe());
        for word in expect {
            assert!(out.stderr.contains(word), "serve {args:?}: stderr does not mention {word:?}:\n{}", out.describe());
        }
    }
}

#[test]
fn hand_made_zlib_bomb_is_a_valid_stream() {
    use flate2::read::ZlibDecoder;
    for n in [1u64, 2, 257, 258, 259, 1000, 100_000] {
        let mut out = vec![];
        ZlibDecoder::new(&zlib_zeros(n)[..]).read_to_end(&mut out).unwrap_or_else(|e| panic!("n = {n}: {e}"));
        assert_eq!(out.len() as u64, n);
        assert!(out.iter().all(|&b| b == 0));
    }
}
