#!/usr/bin/env python3
"""End-to-end checks of `aerospike-py` (PyPI 0.14.4, import name `aerospike_py`,
Rust core 2.2.0) against `aerobench serve`.

Covers the "aerospike-py 0.14.4" column of the test plan in §10 of
aerospike-wire-protocol.md (shared docs) (tending + ping, put/get of every particle
type the client can write, missing key, exists, delete, batch, query by
partition, max_records / partition filters, security-off login, TTL,
generation).

Usage: check_aerospike_py.py --host 127.0.0.1 --port PORT [--namespace test]
                             [--keep-going]

Prints `ok <check>` per passing check and `skip <check>: <reason>` where the
client has no API for something. The first failing check prints
`FAIL <check>: ...` plus a traceback and exits 1 (with --keep-going every
check runs and the exit status is 1 if any failed).
"""

import argparse
import hashlib
import os
import socket
import struct
import sys
import threading
import time
import traceback
import zlib

import aerospike_py

sys.stdout.reconfigure(line_buffering=True)

CLIENT_NAME = "aerospike-py==0.14.4"


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
        except BaseException as e:  # noqa: BLE001
            print(f"FAIL {name}: {type(e).__name__}: {e}")
            traceback.print_exc(file=sys.stdout)
            self.failed.append(name)
            if not self.keep_going:
                self.finish()
        else:
            print(f"ok {name}")

    def skip(self, name, reason):
        print(f"skip {name}: {reason}")

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


def digest(set_name, user_key):
    """RIPEMD-160(set ‖ particle type ‖ key bytes), §7 of the wire doc."""
    if isinstance(user_key, int):
        kb = b"\x01" + struct.pack(">q", user_key)
    else:
        kb = b"\x03" + user_key.encode()
    return hashlib.new("ripemd160", set_name.encode() + kb).digest()


def partition_id(d):
    return (d[0] | d[1] << 8) & 0x0FFF


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--namespace", default="test")
    ap.add_argument("--keep-going", action="store_true", help="run all checks even after a failure")
    args = ap.parse_args()

    ns = args.namespace
    tag = f"y{os.getpid()}x{int(time.time()) % 100000}"
    set_main = f"{tag}m"
    set_batch = f"{tag}b"
    set_scan = f"{tag}s"
    set_other = f"{tag}o"
    set_page = f"{tag}p"
    set_auth = f"{tag}a"

    config = {"hosts": [(args.host, args.port)], "timeout": 10000}
    r = Runner(args.keep_going)
    state = {}

    # ---------------------------------------------------------------- connect
    def connect():
        c = aerospike_py.client(config).connect()
        assert_eq(c.is_connected(), True, "is_connected() after connect()")
        assert_eq(c.ping(), True, "ping()")
        names = c.get_node_names()
        assert_eq(len(names), 1, f"node count (get_node_names()={names!r})")
        state["c"] = c

    r.run("connect + is_connected + ping", connect)
    if "c" not in state:
        r.finish()
    c = state["c"]

    # ------------------------------------------------------ put / get all types
    all_types = {
        "int": 42,
        "neg": -9007199254740993,
        "str": "héllo wörld",
        "empty_str": "",
        "float": 3.25,
        "bytes": b"raw\x00bytes\xff",
        "bytearray": bytearray(b"\x00\x01\xfe\xff"),
        "true": True,
        "false": False,
        "list": [1, "two", 3.5, [4, [5]], {"k": "v"}, b"\x01", True],
        "dict": {"a": 1, "b": [2, 3], "c": {"d": "e"}, 7: 8.5},
    }

    k_str = (ns, set_main, f"str-key-{tag}")
    k_int = (ns, set_main, 1234567890123)

    def put_get_all(key):
        def f():
            c.put(key, all_types)
            rec = c.get(key)
            # blobs come back as bytes, whether written from bytes or bytearray
            want = dict(all_types, bytearray=bytes(all_types["bytearray"]))
            assert_same(rec.bins, want, f"get {key[2]!r}: bins")
            assert_eq(rec.meta.gen, 1, "generation after first put")
            assert_eq(rec.key.namespace, ns, "returned key namespace")
            assert_eq(rec.key.set_name, set_main, "returned key set")
            assert_eq(bytes(rec.key.digest), digest(set_main, key[2]), "returned key digest")

        return f

    r.run("put+get int/str/float/bytes/bytearray/bool/list/dict (string key)", put_get_all(k_str))
    r.run("put+get int/str/float/bytes/bytearray/bool/list/dict (int key)", put_get_all(k_int))
    r.skip("put GeoJSON", "aerospike-py has no GeoJSON value type for put() (GeoJSON is read-only)")

    def hll():
        # aerospike-py has no HLL value type for put(); the only way to make an
        # HLL bin is a server-side HLL op (op type 16), which the server may
        # legitimately answer with rc 16 UNSUPPORTED_FEATURE.
        from aerospike_py import hll_operations as hll_ops

        key = (ns, set_main, f"hll-{tag}")
        try:
            c.operate(key, [hll_ops.hll_init("h", 10), hll_ops.hll_add("h", ["a", "b", "c"])])
        except aerospike_py.ServerError as e:
            if "(16)" in str(e) or "UnsupportedFeature" in str(e):
                raise Skip("no HLL value type for put(); the server answers HLL ops with rc 16") from None
            raise
        rec = c.get(key)
        assert isinstance(rec.bins["h"], bytes) and rec.bins["h"], f"HLL bin read back as {rec.bins!r}"
        assert_eq(c.operate(key, [hll_ops.hll_get_count("h")]).bins["h"], 3, "hll_get_count")

    r.run("HLL bin via hll_operations", hll)

    def get_named_bins():
        rec = c.select(k_str, ["int", "str", "nosuchbin"])
        assert_same(rec.bins, {"int": 42, "str": "héllo wörld"}, "select(int,str,nosuchbin)")

    r.run("get with named bins (select)", get_named_bins)

    def get_missing():
        try:
            c.get((ns, set_main, f"missing-{tag}"))
        except aerospike_py.RecordNotFound:
            pass
        else:
            raise AssertionError("get of a missing key did not raise RecordNotFound")

    r.run("get missing key -> RecordNotFound", get_missing)

    # ----------------------------------------------------------------- exists
    def exists_present():
        res = c.exists(k_str)
        assert res.meta is not None, "exists() on a present record returned meta None"
        assert_eq(res.meta.gen, 1, "exists() meta gen")

    def exists_missing():
        res = c.exists((ns, set_main, f"missing-{tag}"))
        assert_eq(res.meta, None, "exists() meta on a missing record")

    r.run("exists on present record -> meta", exists_present)
    r.run("exists on missing record -> meta None", exists_missing)

    # ----------------------------------------------------------------- delete
    def delete_twice():
        key = (ns, set_main, f"del-{tag}")
        c.put(key, {"a": 1})
        c.remove(key)
        assert_eq(c.exists(key).meta, None, "exists() after remove()")
        try:
            c.remove(key)
        except aerospike_py.RecordNotFound:
            pass
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

    def batch_check(res, want_bins, what):
        recs = res.batch_records
        assert_eq(len(recs), len(batch_keys), f"{what}: number of batch records")
        assert_eq([br.result for br in recs], [0, 2, 0, 0], f"{what}: result codes")
        assert_eq(recs[1].record, None, f"{what}: record of the missing row")
        for i, br in enumerate(recs):
            assert_eq(br.key[2], batch_keys[i][2], f"{what}: row {i} user key")
            assert_eq(bytes(br.key[3]), digest(set_batch, batch_keys[i][2]), f"{what}: row {i} digest")
        for i in batch_bins:
            # batch rows carry a raw (key, meta, bins) tuple
            assert_eq(recs[i].record[1]["gen"], 1, f"{what}: row {i} gen")
            assert_same(recs[i].record[2], want_bins(batch_bins[i]), f"{what}: row {i} bins")
        want = [want_bins(batch_bins[i]) if i in batch_bins else None for i in range(len(batch_keys))]
        assert_same(res.to_list(), want, f"{what}: to_list()")
        assert_eq(res.found_count(), 3, f"{what}: found_count()")

    def batch_all_bins():
        batch_check(c.batch_read(batch_keys), lambda b: b, "batch_read(keys)")

    def batch_named_bins():
        batch_check(c.batch_read(batch_keys, bins=["i"]), lambda b: {"i": b["i"]}, "batch_read(keys, ['i'])")

    def batch_exists_only():
        batch_check(c.batch_read(batch_keys, bins=[]), lambda b: {}, "batch_read(keys, [])")

    r.run("batch_read all bins (4 keys, 1 missing)", batch_all_bins)
    r.run("batch_read named bins ['i']", batch_named_bins)
    r.run("batch_read exists-only bins=[]", batch_exists_only)

    # ------------------------------------------------------------ scan / query
    n_scan = 6

    def scan_setup():
        for n in range(n_scan):
            c.put((ns, set_scan, f"s{n}"), {"id": n, "i": n * 10, "x": "not selected"})
        for n in range(3):
            c.put((ns, set_other, f"s{n}"), {"id": 100 + n, "i": -1, "x": "other set"})

    r.run("scan setup (6 records + 3 in another set)", scan_setup)

    def check_scan_results(results, want_bins, what, set_name=set_scan, ids=range(n_scan), key_fmt="s{}"):
        by_id = {}
        for rec in results:
            assert_eq(rec.key.namespace, ns, f"{what}: record namespace")
            assert_eq(rec.key.set_name, set_name, f"{what}: record set")
            ident = rec.bins.get("id")
            assert ident not in by_id, f"{what}: record id {ident} returned twice"
            by_id[ident] = rec
        assert_eq(sorted(by_id, key=repr), sorted(ids), f"{what}: ids returned")
        for n, rec in by_id.items():
            assert_same(rec.bins, want_bins(n), f"{what}: bins of record {n}")
            assert_eq(bytes(rec.key.digest), digest(set_name, key_fmt.format(n)), f"{what}: digest of {n}")
            assert_eq(rec.meta.gen, 1, f"{what}: gen of record {n}")

    def query_select():
        q = c.query(ns, set_scan)
        q.select("id", "i")
        check_scan_results(q.results(), lambda n: {"id": n, "i": n * 10}, "query.select('id','i')")

    def query_all_bins():
        q = c.query(ns, set_scan)
        check_scan_results(
            q.results(), lambda n: {"id": n, "i": n * 10, "x": "not selected"}, "query().results()"
        )

    def query_foreach():
        got = []
        q = c.query(ns, set_scan)
        q.select("id")
        q.foreach(lambda rec: got.append(rec))
        check_scan_results(got, lambda n: {"id": n}, "query.foreach")

    r.run("query(ns,set).select('id','i').results() -> exactly the set's records", query_select)
    r.run("query(ns,set).results() all bins", query_all_bins)
    r.run("query.foreach with select('id')", query_foreach)

    # ------------------------------------------------- max_records / partitions
    def page_setup():
        for n in range(9):
            c.put((ns, set_page, f"p{n}"), {"id": n})

    r.run("pagination setup (9 records)", page_setup)

    def max_records():
        res = c.query(ns, set_page).results(policy={"max_records": 4})
        ids = [rec.bins["id"] for rec in res]
        assert_eq(len(ids), 4, f"records returned with max_records=4 (ids {ids})")
        assert_eq(len(set(ids)), 4, "distinct records with max_records=4")
        assert set(ids) <= set(range(9)), f"unexpected ids {ids}"

    def partition_filter():
        by_pid = {}
        for n in range(9):
            by_pid.setdefault(partition_id(digest(set_page, f"p{n}")), []).append(n)
        pid, want = sorted(by_pid.items())[0]
        pf = aerospike_py.partition_filter_by_id(pid)
        res = c.query(ns, set_page).results(policy={"partition_filter": pf})
        assert_eq(sorted(rec.bins["id"] for rec in res), want, f"records of partition {pid}")
        lo = min(by_pid)
        pf = aerospike_py.partition_filter_by_range(lo, 4096 - lo)
        res = c.query(ns, set_page).results(policy={"partition_filter": pf})
        assert_eq(sorted(rec.bins["id"] for rec in res), list(range(9)), f"records of partitions {lo}..4095")

    r.run("query with max_records=4 over 9 records -> 4 records", max_records)
    r.run("query with partition_filter_by_id / by_range", partition_filter)
    r.skip(
        "paginated query 4,4,1",
        "aerospike-py clones the PartitionFilter on every results() call (see PartitionFilter "
        "docstring), so no resume cursor survives between pages",
    )

    # ------------------------------------------------------------ compression
    r.skip("compression", "aerospike-py exposes no compress/use_compression policy")

    # --------------------------------------------------------------- security
    # With a user, aerospike-py logs in (admin LOGIN, type 2) on its seed probe
    # connection and must accept rc 52 SECURITY_NOT_ENABLED. The probe is the
    # only connection that goes through the spy: afterwards the client follows
    # `service-clear-std` (the server's own address).
    def login_with(make_client, what):
        spy = FrameSpy((args.host, args.port))
        ac = make_client(dict(config, hosts=[("127.0.0.1", spy.port)]))
        try:
            assert_eq(ac.is_connected(), True, f"is_connected() with {what}")
            key = (ns, set_auth, what)
            ac.put(key, {"a": "b"})
            assert_same(ac.get(key).bins, {"a": "b"}, f"put/get with {what}")
            with spy.lock:
                types = sorted({t for t, _ in spy.frames})
            assert 2 in types, f"no admin (type 2) LOGIN frame was sent; frame types seen: {types}"
        finally:
            ac.close()
            spy.close()

    def login():
        login_with(lambda cfg: aerospike_py.client(cfg).connect("admin", "admin"), "connect('admin','admin')")

    def login_config():
        login_with(
            lambda cfg: aerospike_py.client(dict(cfg, user="admin", password="admin")).connect(),
            "config user/password",
        )

    r.run("connect('admin','admin'): admin LOGIN on the wire -> rc 52 accepted", login)
    r.run("config user/password: admin LOGIN on the wire -> rc 52 accepted", login_config)

    # -------------------------------------------------------------------- TTL
    def ttl():
        key = (ns, set_main, f"ttl-{tag}")
        c.put(key, {"a": 1}, meta={"ttl": 1000})
        t = c.get(key).meta.ttl
        assert 990 <= t <= 1000, f"ttl after put with ttl=1000: {t}"
        t = c.exists(key).meta.ttl
        assert 990 <= t <= 1000, f"exists() ttl after put with ttl=1000: {t}"

    def ttl_never():
        key = (ns, set_main, f"ttl-never-{tag}")
        c.put(key, {"a": 1}, meta={"ttl": aerospike_py.TTL_NEVER_EXPIRE})
        assert_eq(c.get(key).meta.ttl, 0xFFFFFFFF, "ttl of a never-expiring record (void time 0)")

    r.run("put with ttl=1000 -> meta ttl ~1000", ttl)
    r.run("put with TTL_NEVER_EXPIRE -> meta ttl 0xFFFFFFFF", ttl_never)

    # ------------------------------------------------------------- generation
    def generation():
        key = (ns, set_main, f"gen-{tag}")
        for n in range(1, 5):
            c.put(key, {"n": n})
            rec = c.get(key)
            assert_eq(rec.meta.gen, n, f"generation after put #{n}")
            assert_same(rec.bins, {"n": n}, f"bins after put #{n}")

    r.run("generation increments on each put (1..4)", generation)

    # ------------------------------------------------------------------ close
    def close():
        c.close()
        assert_eq(c.is_connected(), False, "is_connected() after close()")

    r.run("close", close)
    r.finish()


if __name__ == "__main__":
    main()
