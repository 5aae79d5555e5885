//! Requests built to make `aerobench serve` hold memory: an info request that asks for the
//! partition map a million times, a small batch that reads one large record thousands of times,
//! connections that declare large frames and then send slowly, half a frame, or nothing, and a
//! 16 MiB map written out of key order.
//! Each must cost the server little (measured as the process's peak RSS and address space, and
//! as the bytes the server reports buffered), and the server must keep serving.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::request::*;
use common::{Server, proc_status_bytes};

const MIB: u64 = 1 << 20;

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

fn read_frame(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 8];
    s.read_exact(&mut h).unwrap_or_else(|e| panic!("reading a reply header: {e}"));
    let len = u64::from_be_bytes([0, 0, h[2], h[3], h[4], h[5], h[6], h[7]]) as usize;
    assert!(len < 64 << 20, "reply of {len} bytes");
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap_or_else(|e| panic!("reading a {len}-byte reply body: {e}"));
    (h[1], body)
}

fn info(s: &mut TcpStream, request: &str) -> String {
    s.write_all(&frame(T_INFO, request.as_bytes())).unwrap();
    let (kind, body) = read_frame(s);
    assert_eq!(kind, T_INFO);
    String::from_utf8(body).unwrap()
}

/// The server's own count of request bytes buffered: (now, peak).
fn buffered(port: u16) -> (u64, u64) {
    let text = info(&mut connect(port), "aerobench-memory\n");
    let value = text.trim_end().strip_prefix("aerobench-memory\t").unwrap_or_else(|| panic!("{text:?}"));
    let get =
        |k: &str| value.split(';').find_map(|kv| kv.strip_prefix(k)?.strip_prefix('=')?.parse::<u64>().ok()).unwrap();
    (get("buffered"), get("peak"))
}

fn healthy(server: &mut Server) {
    assert!(server.is_alive(), "server process died");
    let text = info(&mut connect(server.port), "build\n");
    assert_eq!(text, "build\t8.1.0.0\n");
}

fn peak_rss(server: &Server) -> u64 {
    proc_status_bytes(server.pid(), "VmHWM")
}

/// Waits up to `within` for the server to close `s` without a reply.
fn expect_closed(s: &mut TcpStream, within: Duration, what: &str) {
    let start = Instant::now();
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 256];
    match s.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("{what}: server sent {n} bytes instead of closing"),
        Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted) => {}
        Err(e) => panic!("{what}: not closed after {:?}: {e}", start.elapsed()),
    }
}

#[test]
fn info_reply_of_repeated_replicas_is_bounded() {
    let mut server = Server::start_with(&["--quiet"]);
    let before = peak_rss(&server);
    let request = "replicas\n".repeat((8 * MIB / 9) as usize);
    let mut s = connect(server.port);
    let text = info(&mut s, &request);
    let after = peak_rss(&server);
    eprintln!(
        "8 MiB info request of `replicas`: reply {} KiB, server peak RSS {} -> {} MiB",
        text.len() >> 10,
        before >> 20,
        after >> 20
    );
    assert!(text.len() < 5 << 20, "reply of {} bytes", text.len());
    assert!(text.starts_with("replicas\ttest:0,1,"), "{:.100}", text);
    let last = text.lines().last().unwrap();
    assert!(last.starts_with("error\tERROR::info reply passed"), "{last}");
    // The request itself (8 MiB) and one bounded reply; the old server peaked above 1 GiB.
    assert!(after < before + 64 * MIB, "peak RSS grew from {before} to {after} bytes");
    healthy(&mut server);
}

#[test]
fn batch_repeating_one_large_record_streams_its_reply() {
    let mut server = Server::start_with(&["--quiet"]);
    let mut s = connect(server.port);
    let digest = [0x42u8; 20];
    let keyfields = || vec![fld(F_NAMESPACE, b"test"), fld(F_SET, b"mem"), fld(F_DIGEST, &digest)];
    let big = vec![9u8; MIB as usize];
    let mut write = (4 + 1 + big.len() as u32).to_be_bytes().to_vec();
    write.extend_from_slice(&[2, 4, 0, 1, b'b']);
    write.extend_from_slice(&big);
    s.write_all(&frame(T_MSG, &msg([0, I2_WRITE, 0], &keyfields(), &[write]))).unwrap();
    let (_, reply) = read_frame(&mut s);
    assert_eq!(reply[5], 0, "put of a 1 MiB record");

    // 2,000 rows (50 KB): the whole answer would be 2 GiB.
    const ROWS: u32 = 2000;
    let rows = batch_field(b"mem", ROWS, &vec![digest; ROWS as usize]);
    let request = frame(T_MSG, &msg([I1_BATCH, 0, 0], &[fld(F_BATCH, &rows)], &[]));
    assert!(request.len() < 60_000, "{} bytes", request.len());
    let before = peak_rss(&server);
    s.write_all(&request).unwrap();
    // The first frames arrive while the rest is still to be built; read 16 rows' worth.
    let mut got = 0u64;
    let mut frames = 0;
    while got < 16 * MIB {
        let (kind, body) = read_frame(&mut s);
        assert_eq!(kind, T_MSG);
        got += body.len() as u64;
        frames += 1;
    }
    // The server would run ahead here if it could (it cannot: the socket is full); watch its
    // peak for a while, failing as soon as it grows past the bound.
    let mut after = peak_rss(&server);
    let watched = Instant::now();
    while watched.elapsed() < Duration::from_millis(500) && after < before + 128 * MIB {
        std::thread::sleep(Duration::from_millis(20));
        after = peak_rss(&server);
    }
    eprintln!(
        "batch of {ROWS} reads of a 1 MiB record: first {frames} frames ({} MiB) read, server peak RSS {} -> {} MiB",
        got >> 20,
        before >> 20,
        after >> 20
    );
    // The old server built the whole 2 GiB reply before writing a byte.
    assert!(after < before + 128 * MIB, "peak RSS grew from {before} to {after} bytes");
    drop(s);
    healthy(&mut server);
    // A complete small batch still ends with LAST.
    let mut s = connect(server.port);
    let mut rows = 2u32.to_be_bytes().to_vec();
    rows.push(0x0D);
    rows.extend_from_slice(&0u32.to_be_bytes());
    rows.extend_from_slice(&digest);
    rows.push(0x0A);
    rows.extend_from_slice(&[I1_READ | I1_GET_ALL, 0, 0]);
    rows.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 0]);
    rows.extend_from_slice(&fld(F_NAMESPACE, b"test"));
    rows.extend_from_slice(&fld(F_SET, b"mem"));
    rows.extend_from_slice(&1u32.to_be_bytes());
    rows.extend_from_slice(&digest);
    rows.push(0x01);
    s.write_all(&frame(T_MSG, &msg([I1_BATCH, 0, 0], &[fld(F_BATCH, &rows)], &[]))).unwrap();
    let mut total = 0;
    let mut rows = 0;
    'frames: loop {
        let (_, body) = read_frame(&mut s);
        total += body.len();
        let mut at = 0;
        while at < body.len() {
            let h = &body[at..at + 22];
            if h[3] & I3_LAST != 0 {
                break 'frames;
            }
            rows += 1;
            let (n_fields, n_ops) = (u16::from_be_bytes([h[18], h[19]]), u16::from_be_bytes([h[20], h[21]]));
            at += 22;
            for _ in 0..n_fields + n_ops {
                at += 4 + u32::from_be_bytes(body[at..at + 4].try_into().unwrap()) as usize;
            }
        }
    }
    assert_eq!(rows, 2);
    assert!(total > 2 * MIB as usize, "two rows of 1 MiB, got {total} bytes");
}

#[test]
fn slow_frames_pin_only_what_they_sent_and_stalled_ones_are_dropped() {
    let mut server = Server::start_with(&["--quiet", "--frame-timeout", "2"]);
    let vm = |s: &Server| proc_status_bytes(s.pid(), "VmSize");
    let (vm0, rss0) = (vm(&server), peak_rss(&server));
    // 300 connections each declare a 128 MiB frame (the limit) and send 1 KiB of it.
    let mut slow: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut s = connect(server.port);
            s.write_all(&header(2, T_INFO, 128 * MIB)).unwrap();
            s.write_all(&[b'x'; 1024]).unwrap();
            s
        })
        .collect();
    healthy(&mut server);
    let (vm1, rss1) = (vm(&server), peak_rss(&server));
    let (now, _) = buffered(server.port);
    eprintln!(
        "300 connections declaring 128 MiB, sending 1 KiB: address space {} -> {} MiB, peak RSS {} -> {} MiB, \
         buffered {now} bytes",
        vm0 >> 20,
        vm1 >> 20,
        rss0 >> 20,
        rss1 >> 20
    );
    // Reserving each declared length up front would take 37.5 GiB of address space.
    assert!(vm1 < vm0 + 1024 * MIB, "address space grew from {vm0} to {vm1} bytes");
    assert!(rss1 < rss0 + 64 * MIB, "peak RSS grew from {rss0} to {rss1} bytes");
    assert_eq!(now, 0, "1 KiB per connection is within the free share");
    // Half a frame, then silence: closed once --frame-timeout passes.
    for (i, s) in slow.iter_mut().enumerate().take(5) {
        expect_closed(s, Duration::from_secs(10), &format!("stalled connection #{i}"));
    }
    // Many clients sending half a frame and vanishing.
    for _ in 0..500 {
        let mut s = connect(server.port);
        s.write_all(&header(2, T_MSG, 4096)).unwrap();
        s.write_all(&[0u8; 2048]).unwrap();
    }
    healthy(&mut server);
}

#[test]
fn request_bytes_are_capped_in_total() {
    let mut server =
        Server::start_with(&["--quiet", "--max-frame", "4194304", "--max-buffered", "4194304", "--frame-timeout", "0"]);
    // Connection A is 3 MiB into a 4 MiB info frame.
    let body = {
        let mut b = b"build\n".to_vec();
        b.resize(4 * MIB as usize - 1, b'x');
        b.push(b'\n');
        b
    };
    let mut a = connect(server.port);
    a.write_all(&header(2, T_INFO, body.len() as u64)).unwrap();
    a.write_all(&body[..3 * MIB as usize]).unwrap();
    // Wait until the server holds it (reads are asynchronous).
    let start = Instant::now();
    while buffered(server.port).0 < 2 * MIB {
        assert!(start.elapsed() < Duration::from_secs(10), "server never buffered A's bytes");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Connection B's 4 MiB frame cannot fit beside it: B is closed, A is not disturbed.
    let mut b = connect(server.port);
    let _ = b.write_all(&header(2, T_INFO, body.len() as u64));
    let _ = b.write_all(&body);
    expect_closed(&mut b, Duration::from_secs(10), "frame over the total budget");
    healthy(&mut server);
    a.write_all(&body[3 * MIB as usize..]).unwrap();
    let (kind, reply) = read_frame(&mut a);
    assert_eq!(kind, T_INFO);
    assert!(reply.starts_with(b"build\t8.1.0.0\n"));
    drop(a);
    let start = Instant::now();
    let (mut now, peak) = buffered(server.port);
    while now != 0 {
        assert!(start.elapsed() < Duration::from_secs(10), "{now} bytes still charged after the requests ended");
        std::thread::sleep(Duration::from_millis(20));
        now = buffered(server.port).0;
    }
    eprintln!("budget of 4 MiB: peak charged {peak} bytes");
    assert!(peak <= 4 * MIB, "charged {peak} bytes");
}

#[test]
fn a_16_mib_map_write_costs_a_small_multiple_of_its_size() {
    let mut server = Server::start_with(&["--quiet"]);
    let mut s = connect(server.port);
    // Sorting millions of entries takes a while in a debug build on a busy machine.
    s.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
    // 16 MiB of entries of a 5-byte integer key and a 1-byte value, written in descending key
    // order, so the server has to sort all of them into key order.
    let entries: u32 = (16 * MIB / 6) as u32;
    let mut map = vec![0xdf];
    map.extend_from_slice(&entries.to_be_bytes());
    for k in (0..entries).rev() {
        map.push(0xce);
        map.extend_from_slice(&k.to_be_bytes());
        map.push((k % 100) as u8);
    }
    let digest = [0x16u8; 20];
    let keyfields = vec![fld(F_NAMESPACE, b"test"), fld(F_SET, b"mem"), fld(F_DIGEST, &digest)];
    let request = frame(T_MSG, &msg([0, I2_WRITE, 0], &keyfields, &[op(OP_WRITE, 19, b"m", &map)]));
    let size = request.len() as u64;
    let before = peak_rss(&server);
    s.write_all(&request).unwrap();
    let (_, reply) = read_frame(&mut s);
    let after = peak_rss(&server);
    eprintln!(
        "write of a map of {entries} entries ({} MiB): server peak RSS {} -> {} MiB (+{:.1}x the request)",
        size >> 20,
        before >> 20,
        after >> 20,
        (after - before) as f64 / size as f64
    );
    assert_eq!(reply[5], 0, "the write succeeds");
    // Reading the request, checking and sorting the map and storing it: a few copies of it.
    // The old server held two vectors per entry: 331 MiB more for this 16 MiB request (20x).
    assert!(after < before + 8 * size, "peak RSS grew from {before} to {after} bytes for a {size}-byte request");
    // The map is stored in key order: its first key is 0.
    let get = frame(T_MSG, &msg([I1_READ | I1_GET_ALL, 0, 0], &keyfields, &[]));
    s.write_all(&get).unwrap();
    let (_, reply) = read_frame(&mut s);
    assert_eq!(reply[5], 0);
    let value_at = reply.len() - map.len();
    assert_eq!(
        &reply[value_at..value_at + 7],
        &[0xdf, 0, 0x2a, 0xaa, 0xaa, 0xce, 0],
        "{:02x?}",
        &reply[value_at..value_at + 8]
    );
    healthy(&mut server);
}
