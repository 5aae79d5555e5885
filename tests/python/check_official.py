#!/usr/bin/env python3
"""End-to-end checks of the official `aerospike` client (PyPI 19.3.0, C client
7.6.1) against `aerobench serve`.

Covers the "Python `aerospike` 19.3.0" column of the test plan in §10 of
aerospike-wire-protocol.md (shared docs) (tending, put/get of every particle type,
missing key, exists, delete, batch, scan/query, pagination, compression,
security-off login, TTL, generation).

Usage: check_official.py --host 127.0.0.1 --port PORT [--namespace test]
                         [--keep-going]

Prints `ok <check>` per passing check and `skip <check>: <reason>` where the
client has no API for something. The first failing check prints
`FAIL <check>: ...` plus a traceback and exits 1 (with --keep-going every
check runs and the exit status is 1 if any failed).
"""

import argparse
import os
import socket
import sys
import threading
import time
import traceback
import warnings
import zlib

import aerospike
from aerospike import exception as ex
from aerospike_helpers import HyperLogLog

sys.stdout.reconfigure(line_buffering=True)
# meta["ttl"] still works in 19.3.0 (it is what this test checks); silence the
# deprecation notice so the output stays one line per check.
warnings.filterwarnings("ignore", message=r'meta\["ttl"\] is deprecated')

CLIENT_NAME = "aerospike==19.3.0"


class Skip(Exception):
    """Raised by a check to report `skip <name>: <reason>`."""


class Runner:
    def __init__(self, keep_going):
        self.keep_going = keep_going
        self.failed = []

    def run(self, name, fn):
        try:
            fn()
        except Skip as s:
            print(f"skip {name}: {s}")
        except BaseException as e:  # noqa: BLE001 - report everything, incl. SystemExit from asserts
            print(f"FAIL {name}: {type(e).__name__}: {e}")
            traceback.print_exc(file=sys.stdout)
            self.failed.append(name)
            if not self.keep_going:
                self.finish()
        else:
            print(f"ok {name}")

    def finish(self):
        if self.failed:
            print(f"{CLIENT_NAME}: {len(self.failed)} check(s) failed: {', '.join(self.failed)}")
            sys.exit(1)
        print(f"{CLIENT_NAME}: all checks passed")
        sys.exit(0)


class FrameSpy:
    """TCP forwarder between the client and the server that records the type
    of every request frame the client sends (and the info1 byte of AS_MSG
    requests, decompressing type-4 frames), so a check can prove that a
    compressed request really went over the wire."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.frames = []  # (proto type, info1 of the AS_MSG or None)
        self.lock = threading.Lock()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                down, _ = self.sock.accept()
            except OSError:
                return
            up = socket.create_connection(self.upstream)
            for s in (down, up):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._pump, args=(down, up, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, down, False), daemon=True).start()

    def _pump(self, src, dst, requests):
        buf = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if requests:
                    buf += data
                    while len(buf) >= 8:
                        size = int.from_bytes(buf[2:8], "big")
                        if len(buf) < 8 + size:
                            break
                        self._record(buf[: 8 + size])
                        buf = buf[8 + size :]
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _record(self, frame):
        ptype, info1 = frame[1], None
        if ptype == 3 and len(frame) > 9:
            info1 = frame[9]
        elif ptype == 4:
            try:
                inner = zlib.decompress(frame[16:])
                if len(inner) == int.from_bytes(frame[8:16], "big") and inner[:2] == b"\x02\x03":
                    info1 = inner[9]
            except zlib.error:
                pass  # recorded as (4, None): "unparsable type-4 frame"
        with self.lock:
            self.frames.append((ptype, info1))

    def close(self):
        self.sock.close()


def strict(v):
    """Type-tagged form of a value, so that `==` also compares types
    (True vs 1, bytes vs bytearray, 1 vs 1.0) recursively."""
    if isinstance(v, dict):
        return ("dict", sorted(((strict(k), strict(x)) for k, x in v.items()), key=repr))
    if isinstance(v, (list, tuple)):
        return (type(v).__name__, [strict(x) for x in v])
    return (type(v).__name__, v)


def assert_same(got, want, what):
    assert strict(got) == strict(want), f"{what}: got {got!r}, want {want!r}"


def assert_eq(got, want, what):
    assert got == want, f"{what}: got {got!r}, want {want!r}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--namespace", default="test")
    ap.add_argument("--keep-going", action="store_true", help="run all checks even after a failure")
    args = ap.parse_args()

    ns = args.namespace
    tag = f"o{os.getpid()}x{int(time.time()) % 100000}"
    set_main = f"{tag}m"  # put/get/exists/delete/ttl/gen
    set_batch = f"{tag}b"
    set_scan = f"{tag}s"  # scanned set
    set_other = f"{tag}o"  # must never show up in scans of set_scan
    set_page = f"{tag}p"  # exactly 9 records, for pagination
    set_comp = f"{tag}c"
    set_auth = f"{tag}a"

    hosts = [(args.host, args.port)]
    base_policies = {
        "read": {"total_timeout": 5000},
        "write": {"total_timeout": 5000},
        "batch": {"total_timeout": 5000},
        "query": {"total_timeout": 10000},
        "scan": {"total_timeout": 10000},
    }
    config = {"hosts": hosts, "policies": base_policies}
    r = Runner(args.keep_going)
    state = {}

    # ---------------------------------------------------------------- connect
    def connect():
        c = aerospike.client(config).connect()
        assert_eq(c.is_connected(), True, "is_connected() after connect()")
        names = c.get_node_names()
        assert_eq(len(names), 1, f"node count (get_node_names()={names!r})")
        state["c"] = c

    r.run("connect + is_connected", connect)
    if "c" not in state:
        r.finish()
    c = state["c"]

    # ------------------------------------------------------ put / get all types
    geo_point = {"type": "Point", "coordinates": [-122.5, 37.25]}
    hll_bytes = bytes([0, 8, 0]) + bytes(range(1, 64))
    all_types = {
        "int": 42,
        "neg": -9007199254740993,
        "str": "héllo wörld",
        "empty_str": "",
        "float": 3.25,
        "bytearray": bytearray(b"\x00\x01\xfe\xff"),
        "bytes": b"raw\x00bytes",
        "true": True,
        "false": False,
        "list": [1, "two", 3.5, [4, [5]], {"k": "v"}, b"\x01", True],
        "dict": {"a": 1, "b": [2, 3], "c": {"d": "e"}, 7: 8.5},
        "geo": aerospike.GeoJSON(geo_point),
        "hll": HyperLogLog(hll_bytes),
    }
    # What the C client hands back: blob particles (type 4) come back as
    # `bytes`, whether they were written from bytes or bytearray, inside and
    # outside of CDTs; GeoJSON as aerospike.GeoJSON; HLL as
    # aerospike_helpers.HyperLogLog.
    expect_plain = {
        "int": 42,
        "neg": -9007199254740993,
        "str": "héllo wörld",
        "empty_str": "",
        "float": 3.25,
        "bytearray": b"\x00\x01\xfe\xff",
        "bytes": b"raw\x00bytes",
        "true": True,
        "false": False,
        "list": [1, "two", 3.5, [4, [5]], {"k": "v"}, b"\x01", True],
        "dict": {"a": 1, "b": [2, 3], "c": {"d": "e"}, 7: 8.5},
    }

    def check_all_types(bins, what):
        assert_eq(sorted(bins), sorted(all_types), f"{what}: bin names")
        for name, want in expect_plain.items():
            assert_same(bins[name], want, f"{what}: bin {name}")
        geo = bins["geo"]
        assert isinstance(geo, aerospike.GeoJSON), f"{what}: geo bin type {type(geo)!r}"
        assert_eq(geo.unwrap(), geo_point, f"{what}: geo bin")
        hll = bins["hll"]
        assert isinstance(hll, HyperLogLog), f"{what}: hll bin type {type(hll)!r}"
        assert_eq(bytes(hll), hll_bytes, f"{what}: hll bin")

    k_str = (ns, set_main, f"str-key-{tag}")
    k_int = (ns, set_main, 1234567890123)

    def put_get_all(key):
        def f():
            c.put(key, all_types)
            rkey, meta, bins = c.get(key)
            check_all_types(bins, f"get {key[2]!r}")
            assert_eq(meta["gen"], 1, "generation after first put")
            assert_eq(rkey[0], ns, "returned key namespace")
            assert_eq(rkey[1], set_main, "returned key set")
            assert_eq(rkey[3], aerospike.calc_digest(*key), "returned key digest")

        return f

    r.run("put+get all particle types (string key)", put_get_all(k_str))
    r.run("put+get all particle types (int key)", put_get_all(k_int))

    def get_named_bins():
        _, _, bins = c.select(k_str, ["int", "str", "nosuchbin"])
        assert_same(bins, {"int": 42, "str": "héllo wörld"}, "select(int,str,nosuchbin)")

    r.run("get with named bins (select)", get_named_bins)

    def get_missing():
        key = (ns, set_main, f"missing-{tag}")
        try:
            c.get(key)
        except ex.RecordNotFound as e:
            assert_eq(e.code, 2, "RecordNotFound code")
        else:
            raise AssertionError("get of a missing key did not raise RecordNotFound")

    r.run("get missing key -> RecordNotFound (rc 2)", get_missing)

    # ----------------------------------------------------------------- exists
    def exists_present():
        rkey, meta = c.exists(k_str)
        assert meta is not None, "exists() on a present record returned meta None"
        assert_eq(meta["gen"], 1, "exists() meta gen")
        assert_eq(rkey[3], aerospike.calc_digest(*k_str), "exists() key digest")

    def exists_missing():
        _, meta = c.exists((ns, set_main, f"missing-{tag}"))
        assert_eq(meta, None, "exists() meta on a missing record")

    r.run("exists on present record -> meta", exists_present)
    r.run("exists on missing record -> None", exists_missing)

    # ----------------------------------------------------------------- delete
    def delete_twice():
        key = (ns, set_main, f"del-{tag}")
        c.put(key, {"a": 1})
        c.remove(key)
        _, meta = c.exists(key)
        assert_eq(meta, None, "exists() after remove()")
        try:
            c.get(key)
        except ex.RecordNotFound:
            pass
        else:
            raise AssertionError("get after remove() did not raise RecordNotFound")
        try:
            c.remove(key)
        except ex.RecordNotFound as e:
            assert_eq(e.code, 2, "second remove() error code")
        else:
            raise AssertionError("second remove() did not raise RecordNotFound")

    r.run("remove, then remove again -> RecordNotFound", delete_twice)

    # ------------------------------------------------------------------ batch
    batch_keys = [
        (ns, set_batch, "b0"),
        (ns, set_batch, "b1-missing"),
        (ns, set_batch, 2),
        (ns, set_batch, "b3"),
    ]
    batch_bins = {
        0: {"id": 0, "i": 100, "s": "zero"},
        2: {"id": 2, "i": 102, "s": "two"},
        3: {"id": 3, "i": 103, "s": "three"},
    }

    def batch_setup():
        for idx, bins in batch_bins.items():
            c.put(batch_keys[idx], bins)

    r.run("batch setup (3 puts)", batch_setup)

    def batch_common(res, what):
        recs = res.batch_records
        assert_eq(len(recs), len(batch_keys), f"{what}: number of batch records")
        for i, br in enumerate(recs):
            assert_eq(br.key[2], batch_keys[i][2], f"{what}: row {i} key order")
        assert_eq(recs[1].result, 2, f"{what}: result of the missing row")
        assert_eq(recs[1].record, None, f"{what}: record of the missing row")
        return recs

    def batch_all_bins():
        recs = batch_common(c.batch_read(batch_keys), "batch_read(keys)")
        for i, want in batch_bins.items():
            assert_eq(recs[i].result, 0, f"row {i} result")
            _, meta, bins = recs[i].record
            assert_same(bins, want, f"row {i} bins")
            assert_eq(meta["gen"], 1, f"row {i} gen")

    def batch_named_bins():
        recs = batch_common(c.batch_read(batch_keys, ["i"]), "batch_read(keys, ['i'])")
        for i, want in batch_bins.items():
            assert_eq(recs[i].result, 0, f"row {i} result")
            assert_same(recs[i].record[2], {"i": want["i"]}, f"row {i} bins")

    def batch_exists_only():
        recs = batch_common(c.batch_read(batch_keys, []), "batch_read(keys, [])")
        for i in batch_bins:
            assert_eq(recs[i].result, 0, f"row {i} result")
            # header-only rows come back as (key, meta), without bins
            rec = recs[i].record
            assert_eq(len(rec), 2, f"row {i}: exists-only record {rec!r}")
            assert_eq(rec[1]["gen"], 1, f"row {i} gen")
            assert_eq(rec[0][3], aerospike.calc_digest(*batch_keys[i]), f"row {i} digest")

    r.run("batch_read all bins (4 keys, 1 missing)", batch_all_bins)
    r.run("batch_read named bins ['i']", batch_named_bins)
    r.run("batch_read exists-only []", batch_exists_only)

    # ------------------------------------------------------------ scan / query
    n_scan = 6

    def scan_setup():
        for n in range(n_scan):
            c.put((ns, set_scan, f"s{n}"), {"id": n, "i": n * 10, "x": "not selected"})
        for n in range(3):
            c.put((ns, set_other, f"s{n}"), {"id": 100 + n, "i": -1, "x": "other set"})

    r.run("scan setup (6 records + 3 in another set)", scan_setup)

    def check_scan_results(results, want_bins, what):
        by_id = {}
        for key, meta, bins in results:
            assert_eq(key[0], ns, f"{what}: record namespace")
            assert_eq(key[1], set_scan, f"{what}: record set")
            ident = bins.get("id")
            assert ident not in by_id, f"{what}: record id {ident} returned twice"
            by_id[ident] = (key, meta, bins)
        assert_eq(sorted(by_id, key=repr), list(range(n_scan)), f"{what}: ids returned")
        for n, (key, meta, bins) in by_id.items():
            assert_same(bins, want_bins(n), f"{what}: bins of record {n}")
            assert_eq(key[3], aerospike.calc_digest(ns, set_scan, f"s{n}"), f"{what}: digest of record {n}")
            assert_eq(meta["gen"], 1, f"{what}: gen of record {n}")

    def query_select():
        q = c.query(ns, set_scan)
        q.select("id", "i")
        check_scan_results(q.results(), lambda n: {"id": n, "i": n * 10}, "query.select('id','i')")

    def query_all_bins():
        q = c.query(ns, set_scan)
        check_scan_results(
            q.results(), lambda n: {"id": n, "i": n * 10, "x": "not selected"}, "query().results()"
        )

    def scan_select():
        s = c.scan(ns, set_scan)
        s.select("id", "i")
        check_scan_results(s.results(), lambda n: {"id": n, "i": n * 10}, "scan.select('id','i')")

    def query_foreach():
        got = []
        q = c.query(ns, set_scan)
        q.select("id")
        q.foreach(lambda rec: got.append(rec))
        check_scan_results(got, lambda n: {"id": n}, "query.foreach")

    r.run("query(ns,set).select('id','i').results() -> exactly the set's records", query_select)
    r.run("query(ns,set).results() all bins", query_all_bins)
    r.run("scan(ns,set).select('id','i').results()", scan_select)
    r.run("query.foreach with select('id')", query_foreach)

    # ------------------------------------------------------------- pagination
    def paginate():
        for n in range(9):
            c.put((ns, set_page, f"p{n}"), {"id": n})
        q = c.query(ns, set_page)
        q.paginate()
        q.max_records = 4
        pages, ids = [], []
        while not q.is_done():
            page = q.results()
            pages.append(len(page))
            ids.extend(bins["id"] for _, _, bins in page)
            assert len(pages) <= 6, f"pagination did not finish: pages so far {pages}"
        assert_eq(pages, [4, 4, 1], "page sizes")
        assert_eq(sorted(ids), list(range(9)), "ids over all pages (no duplicates, none missing)")

    r.run("paginated query, max_records 4 over 9 records -> 4,4,1", paginate)

    # ------------------------------------------------------------ compression
    def compression():
        spy = FrameSpy((args.host, args.port))
        comp_cfg = {
            "hosts": [("127.0.0.1", spy.port)],
            "policies": {
                "read": {"compress": True, "total_timeout": 5000},
                "write": {"compress": True, "total_timeout": 5000},
                "batch": {"compress": True, "total_timeout": 5000},
                "query": {"compress": True, "total_timeout": 10000},
            },
        }
        cc = aerospike.client(comp_cfg).connect()
        try:
            big = ("compressible text " * 200)[:3000]  # 3000 bytes, well above 1 KB
            blob = bytes(range(256)) * 8
            key = (ns, set_comp, "big")
            cc.put(key, {"big": big, "blob": bytearray(blob), "n": 7})
            with spy.lock:
                sent = list(spy.frames)
            assert (4, None) not in sent, "unparsable type-4 frame"
            assert any(t == 4 for t, _ in sent), f"the 3 KB put was not sent compressed (frames {sent})"
            _, meta, bins = cc.get(key)
            assert_same(bins, {"big": big, "blob": blob, "n": 7}, "compressed put/get")
            assert_eq(meta["gen"], 1, "compressed put/get: gen")
            with spy.lock:
                sent = list(spy.frames)
            assert any(i is not None and i & 0x80 for _, i in sent), (
                f"no request asked for a compressed response (info1 0x80; frames {sent})"
            )
            # batch with compression (request > 128 bytes thanks to 12 keys)
            keys = [(ns, set_comp, "big")] + [(ns, set_comp, f"nothere-{i}") for i in range(11)]
            recs = cc.batch_read(keys).batch_records
            assert_eq(recs[0].result, 0, "compressed batch: present row")
            assert_same(recs[0].record[2], {"big": big, "blob": blob, "n": 7}, "compressed batch: row 0")
            assert_eq([br.result for br in recs[1:]], [2] * 11, "compressed batch: missing rows")
            # query with compression
            res = cc.query(ns, set_comp).results()
            assert_eq(len(res), 1, "compressed query: record count")
            assert_same(res[0][2], {"big": big, "blob": blob, "n": 7}, "compressed query: bins")
            with spy.lock:
                n4 = sum(1 for t, _ in spy.frames if t == 4)
            print(f"  ({n4} compressed request frame(s) seen on the wire)")
        finally:
            cc.close()
            spy.close()

    r.run("compress=True policies, 3 KB bin: type-4 request on the wire; put/get/batch/query", compression)

    # --------------------------------------------------------------- security
    def login_connect_args():
        # In 19.3.0 the user/password arguments of connect() do not enable
        # authentication (no LOGIN frame goes out, observed); this checks that
        # the call still works against the server.
        ac = aerospike.client(config).connect("admin", "admin")
        try:
            assert_eq(ac.is_connected(), True, "is_connected() after connect('admin','admin')")
            key = (ns, set_auth, "k")
            ac.put(key, {"a": "b"})
            assert_same(ac.get(key)[2], {"a": "b"}, "get after connect('admin','admin')")
        finally:
            ac.close()

    def login_config():
        # config user/password: the C client logs in on every new connection
        # (admin LOGIN, type 2) and must accept rc 52 SECURITY_NOT_ENABLED.
        spy = FrameSpy((args.host, args.port))
        cfg = dict(config, hosts=[("127.0.0.1", spy.port)], user="admin", password="admin")
        ac = aerospike.client(cfg).connect()
        try:
            assert_eq(ac.is_connected(), True, "is_connected() with config user/password")
            assert_same(ac.get((ns, set_auth, "k"))[2], {"a": "b"}, "get with config user/password")
            key = (ns, set_auth, "k2")
            ac.put(key, {"c": 3})
            assert_same(ac.get(key)[2], {"c": 3}, "put/get with config user/password")
            with spy.lock:
                types = sorted({t for t, _ in spy.frames})
            assert 2 in types, f"no admin (type 2) LOGIN frame was sent; frame types seen: {types}"
        finally:
            ac.close()
            spy.close()

    r.run("connect('admin','admin') against security-off server", login_connect_args)
    r.run("config user/password: admin LOGIN on the wire -> rc 52 accepted", login_config)

    # -------------------------------------------------------------------- TTL
    def ttl():
        key = (ns, set_main, f"ttl-{tag}")
        c.put(key, {"a": 1}, meta={"ttl": 1000})
        _, meta, _ = c.get(key)
        assert 990 <= meta["ttl"] <= 1000, f"ttl after put with ttl=1000: {meta['ttl']}"
        _, emeta = c.exists(key)
        assert 990 <= emeta["ttl"] <= 1000, f"exists() ttl after put with ttl=1000: {emeta['ttl']}"

    def ttl_never():
        key = (ns, set_main, f"ttl-never-{tag}")
        c.put(key, {"a": 1}, meta={"ttl": aerospike.TTL_NEVER_EXPIRE})
        _, meta, _ = c.get(key)
        assert_eq(meta["ttl"], 4294967295, "ttl of a never-expiring record (void time 0)")

    r.run("put with ttl=1000 -> meta ttl ~1000", ttl)
    r.run("put with TTL_NEVER_EXPIRE -> meta ttl 4294967295", ttl_never)

    # ------------------------------------------------------------- generation
    def generation():
        key = (ns, set_main, f"gen-{tag}")
        for n in range(1, 5):
            c.put(key, {"n": n})
            _, meta, bins = c.get(key)
            assert_eq(meta["gen"], n, f"generation after put #{n}")
            assert_same(bins, {"n": n}, f"bins after put #{n}")

    r.run("generation increments on each put (1..4)", generation)

    # ------------------------------------------------------------------ close
    def close():
        c.close()
        assert_eq(c.is_connected(), False, "is_connected() after close()")

    r.run("close", close)
    r.finish()


if __name__ == "__main__":
    main()
