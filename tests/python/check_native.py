#!/usr/bin/env python3
"""End-to-end checks of `aerospike-native` (PyPI 1.0.0, import name
`aerospike_native`, Rust core 3.0.0) against `aerobench serve`.

Covers the "aerospike-native 1.0.0" column of the test plan in §10 of
aerospike-wire-protocol.md (shared docs) (tending, put/get of every particle type,
missing key, exists, delete, batch read/exists, query by partition,
pagination through the partition filter, compression, login, TTL,
generation).

The whole suite runs twice: once through the asyncio API (`new_client`,
`await client.put(...)`) on the default event loop -- uvloop, which
`import aerospike_native` installs unless AEROSPIKE_NO_UVLOOP=1 -- and once
through the `*_blocking` API (`new_client_blocking`). Select one with
--mode async|blocking.

Usage: check_native.py --host 127.0.0.1 --port PORT [--namespace test]
                       [--mode both|async|blocking] [--keep-going]

Prints `ok <check>` per passing check and `skip <check>: <reason>` where the
client has no API for something. The first failing check prints
`FAIL <check>: ...` plus a traceback and exits 1 (with --keep-going every
check runs and the exit status is 1 if any failed).
"""

import argparse
import asyncio
import hashlib
import os
import socket
import struct
import sys
import threading
import time
import traceback
import zlib

import aerospike_native as an
from aerospike_native import exceptions as ex

sys.stdout.reconfigure(line_buffering=True)

CLIENT_NAME = "aerospike-native==1.0.0"


class Skip(Exception):
    """Raised by a check to report `skip <name>: <reason>`."""


class Runner:
    def __init__(self, keep_going):
        self.keep_going = keep_going
        self.failed = []
        self.prefix = ""

    def run(self, name, fn):
        name = self.prefix + name
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
        print(f"skip {self.prefix}{name}: {reason}")

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


def key_digest_bytes(key):
    """Key.digest is a hex string property."""
    assert key is not None, "record carries no key"
    d = key.digest
    if isinstance(d, str):
        return bytes.fromhex(d)
    return bytes(d)


# --------------------------------------------------------------------------
# The two API flavours behind one synchronous facade.
# --------------------------------------------------------------------------


class AsyncApi:
    """`await client.x(...)`, each call driven on one persistent event loop."""

    name = "async"

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)

    def _run(self, make_awaitable):
        """Calls make_awaitable() *inside* the running loop (the client grabs
        the running loop when a method is called) and awaits the result."""

        async def go():
            return await make_awaitable()

        return self.loop.run_until_complete(go())

    def connect(self, policy, seeds):
        return self._run(lambda: an.new_client(policy, seeds))

    def close(self, c):
        return self._run(lambda: c.close())

    def put(self, c, key, bins, **kw):
        return self._run(lambda: c.put(key, bins, **kw))

    def get(self, c, key, bins=None, **kw):
        return self._run(lambda: c.get(key, bins, **kw))

    def exists(self, c, key, **kw):
        return self._run(lambda: c.exists(key, **kw))

    def delete(self, c, key, **kw):
        return self._run(lambda: c.delete(key, **kw))

    def batch_read(self, c, keys, bins=None, **kw):
        return self._run(lambda: c.batch_read(keys, bins, **kw))

    def batch_exists(self, c, keys, **kw):
        return self._run(lambda: c.batch_exists(keys, **kw))

    def batch_get_header(self, c, keys, **kw):
        return self._run(lambda: c.batch_get_header(keys, **kw))

    def query(self, c, stmt, pf, **kw):
        """Returns (records, partition filter after the query)."""

        async def go():
            rs = await c.query(stmt, pf, **kw)
            recs = [rec async for rec in rs]
            return recs, await rs.partition_filter()

        return self._run(go)


class BlockingApi:
    """`client.x_blocking(...)`."""

    name = "blocking"

    def connect(self, policy, seeds):
        return an.new_client_blocking(policy, seeds)

    def close(self, c):
        return c.close_blocking()

    def put(self, c, key, bins, **kw):
        return c.put_blocking(key, bins, **kw)

    def get(self, c, key, bins=None, **kw):
        return c.get_blocking(key, bins, **kw)

    def exists(self, c, key, **kw):
        return c.exists_blocking(key, **kw)

    def delete(self, c, key, **kw):
        return c.delete_blocking(key, **kw)

    def batch_read(self, c, keys, bins=None, **kw):
        return c.batch_read_blocking(keys, bins, **kw)

    def batch_exists(self, c, keys, **kw):
        return c.batch_exists_blocking(keys, **kw)

    def batch_get_header(self, c, keys, **kw):
        return c.batch_get_header_blocking(keys, **kw)

    def query(self, c, stmt, pf, **kw):
        rs = c.query_blocking(stmt, pf, **kw)
        recs = list(rs)
        return recs, rs.partition_filter_sync()


# --------------------------------------------------------------------------


def suite(r, api, args):
    ns = args.namespace
    seeds = f"{args.host}:{args.port}"
    tag = f"n{api.name[0]}{os.getpid()}x{int(time.time()) % 100000}"
    set_main = f"{tag}m"
    set_batch = f"{tag}b"
    set_scan = f"{tag}s"
    set_other = f"{tag}o"
    set_page = f"{tag}p"
    set_comp = f"{tag}c"
    set_auth = f"{tag}a"
    state = {}

    def K(set_name, k):
        return an.Key(ns, set_name, k)

    # ---------------------------------------------------------------- connect
    def connect():
        c = api.connect(an.ClientPolicy(), seeds)
        assert_eq(c.is_connected(), True, "is_connected() after connect")
        names = c.node_names()
        assert_eq(len(names), 1, f"node count (node_names()={names!r})")
        state["c"] = c

    r.run("connect + is_connected", connect)
    if "c" not in state:
        return
    c = state["c"]

    # ------------------------------------------------------ put / get all types
    geo_str = '{"type": "Point", "coordinates": [-122.5, 37.25]}'
    hll_bytes = [0, 8, 0] + list(range(1, 64))
    plain = {
        "int": 42,
        "neg": -9007199254740993,
        "str": "héllo wörld",
        "empty_str": "",
        "float": 3.25,
        "bytes": b"raw\x00bytes\xff",
        "true": True,
        "false": False,
        "list": [1, "two", 3.5, [4, [5]], {"k": "v"}, b"\x01", True],
        "dict": {"a": 1, "b": [2, 3], "c": {"d": "e"}, 7: 8.5},
    }
    all_types = dict(plain, geo=an.GeoJSON(geo_str), hll=an.HLL(hll_bytes))

    def check_all_types(bins, what):
        assert_eq(sorted(bins), sorted(all_types), f"{what}: bin names")
        for name, want in plain.items():
            assert_same(bins[name], want, f"{what}: bin {name}")
        geo = bins["geo"]
        assert isinstance(geo, an.GeoJSON), f"{what}: geo bin type {type(geo)!r} ({geo!r})"
        assert_eq(geo.value, geo_str, f"{what}: geo bin")
        hll = bins["hll"]
        assert isinstance(hll, an.HLL), f"{what}: hll bin type {type(hll)!r} ({hll!r})"
        assert_eq(list(hll.value), hll_bytes, f"{what}: hll bin")

    k_str = K(set_main, f"str-key-{tag}")
    k_int = K(set_main, 1234567890123)

    def put_get_all(key, user_key):
        def f():
            api.put(c, key, all_types)
            rec = api.get(c, key)
            check_all_types(rec.bins, f"get {user_key!r}")
            assert_eq(rec.generation, 1, "generation after first put")
            # single-record replies carry no key (Record.key is None)
            assert_eq(key_digest_bytes(key), digest(set_main, user_key), "client-side key digest (§7)")

        return f

    r.run("put+get all particle types incl. GeoJSON, HLL (string key)", put_get_all(k_str, f"str-key-{tag}"))
    r.run("put+get all particle types incl. GeoJSON, HLL (int key)", put_get_all(k_int, 1234567890123))

    def put_get_bytearray():
        key = K(set_main, f"bytearray-{tag}")
        api.put(c, key, {"ba": bytearray(b"\x00\x01\xfe\xff")})
        # a blob always comes back as bytes
        assert_same(api.get(c, key).bins["ba"], b"\x00\x01\xfe\xff", "bytearray bin")

    r.run("put+get bytearray bin", put_get_bytearray)

    def get_named_bins():
        rec = api.get(c, k_str, ["int", "str", "nosuchbin"])
        assert_same(rec.bins, {"int": 42, "str": "héllo wörld"}, "get(key, [int,str,nosuchbin])")

    r.run("get with named bins", get_named_bins)

    def get_missing():
        try:
            api.get(c, K(set_main, f"missing-{tag}"))
        except ex.RecordNotFound as e:
            assert_eq(int(e.result_code), 2, "RecordNotFound result_code")
        else:
            raise AssertionError("get of a missing key did not raise RecordNotFound")

    r.run("get missing key -> RecordNotFound (rc 2)", get_missing)

    # ----------------------------------------------------------------- exists
    r.run("exists on present record -> True", lambda: assert_eq(api.exists(c, k_str), True, "exists()"))
    r.run(
        "exists on missing record -> False",
        lambda: assert_eq(api.exists(c, K(set_main, f"missing-{tag}")), False, "exists()"),
    )

    # ----------------------------------------------------------------- delete
    def delete_twice():
        key = K(set_main, f"del-{tag}")
        api.put(c, key, {"a": 1})
        assert_eq(api.delete(c, key), True, "first delete()")
        assert_eq(api.exists(c, key), False, "exists() after delete()")
        assert_eq(api.delete(c, key), False, "second delete()")

    r.run("delete -> True, then delete again -> False", delete_twice)

    # ------------------------------------------------------------------ batch
    batch_user_keys = ["b0", "b1-missing", 2, "b3"]
    batch_keys = [K(set_batch, k) for k in batch_user_keys]
    batch_bins = {
        0: {"id": 0, "i": 100, "s": "zero"},
        2: {"id": 2, "i": 102, "s": "two"},
        3: {"id": 3, "i": 103, "s": "three"},
    }

    def batch_setup():
        for idx, bins in batch_bins.items():
            api.put(c, batch_keys[idx], bins)

    r.run("batch setup (3 puts)", batch_setup)

    def batch_check(recs, want_bins, what):
        assert_eq(len(recs), len(batch_keys), f"{what}: number of batch records")
        for i, br in enumerate(recs):
            assert_eq(key_digest_bytes(br.key), digest(set_batch, batch_user_keys[i]), f"{what}: row {i} key")
        assert_eq(recs[1].record, None, f"{what}: record of the missing row")
        assert_eq(int(recs[1].result_code), 2, f"{what}: result code of the missing row")
        for i, want in batch_bins.items():
            rec = recs[i].record
            assert rec is not None, f"{what}: row {i} has no record (result {recs[i].result_code!r})"
            assert_eq(int(recs[i].result_code), 0, f"{what}: row {i} result code")
            assert_same(rec.bins, want_bins(want), f"{what}: row {i} bins")
            assert_eq(rec.generation, 1, f"{what}: row {i} generation")

    r.run(
        "batch_read all bins (4 keys, 1 missing)",
        lambda: batch_check(api.batch_read(c, batch_keys), lambda b: b, "batch_read(keys)"),
    )
    r.run(
        "batch_read named bins ['i']",
        lambda: batch_check(api.batch_read(c, batch_keys, ["i"]), lambda b: {"i": b["i"]}, "batch_read(keys,['i'])"),
    )
    r.run(
        "batch_exists (4 keys, 1 missing)",
        lambda: assert_eq(api.batch_exists(c, batch_keys), [True, False, True, True], "batch_exists"),
    )

    def batch_header():
        recs = api.batch_get_header(c, batch_keys)
        assert_eq([rec is not None for rec in recs], [True, False, True, True], "batch_get_header presence")
        for i in batch_bins:
            assert_eq(recs[i].generation, 1, f"batch_get_header row {i} generation")
            assert not recs[i].bins, f"batch_get_header row {i} returned bins {recs[i].bins!r}"

    r.run("batch_get_header (header-only batch)", batch_header)

    # ------------------------------------------------------------ scan / query
    n_scan = 6

    def scan_setup():
        for n in range(n_scan):
            api.put(c, K(set_scan, f"s{n}"), {"id": n, "i": n * 10, "x": "not selected"})
        for n in range(3):
            api.put(c, K(set_other, f"s{n}"), {"id": 100 + n, "i": -1, "x": "other set"})

    r.run("scan setup (6 records + 3 in another set)", scan_setup)

    def check_scan_results(recs, want_bins, what):
        by_id = {}
        for rec in recs:
            ident = rec.bins.get("id")
            assert ident not in by_id, f"{what}: record id {ident} returned twice"
            by_id[ident] = rec
        assert_eq(sorted(by_id, key=repr), list(range(n_scan)), f"{what}: ids returned")
        for n, rec in by_id.items():
            assert_same(rec.bins, want_bins(n), f"{what}: bins of record {n}")
            assert_eq(key_digest_bytes(rec.key), digest(set_scan, f"s{n}"), f"{what}: digest of record {n}")
            assert_eq(rec.key.namespace, ns, f"{what}: namespace of record {n}")
            assert_eq(rec.key.set_name, set_scan, f"{what}: set of record {n}")
            assert_eq(rec.generation, 1, f"{what}: generation of record {n}")

    def query_select():
        stmt = an.Statement(ns, set_scan, ["id", "i"])
        recs, _ = api.query(c, stmt, an.PartitionFilter.all())
        check_scan_results(recs, lambda n: {"id": n, "i": n * 10}, "query(Statement(ns,set,['id','i']))")

    def query_all_bins():
        recs, _ = api.query(c, an.Statement(ns, set_scan), an.PartitionFilter.all())
        check_scan_results(recs, lambda n: {"id": n, "i": n * 10, "x": "not selected"}, "query all bins")

    r.run("query(Statement(ns,set,['id','i']), PartitionFilter.all()) -> exactly the set's records", query_select)
    r.run("query all bins", query_all_bins)

    # ------------------------------------------------------------- pagination
    def paginate():
        for n in range(9):
            api.put(c, K(set_page, f"p{n}"), {"id": n})
        qp = an.QueryPolicy()
        qp.max_records = 4
        stmt = an.Statement(ns, set_page)
        pf = an.PartitionFilter.all()
        pages, ids = [], []
        while True:
            recs, pf = api.query(c, stmt, pf, policy=qp)
            pages.append(len(recs))
            ids.extend(rec.bins["id"] for rec in recs)
            assert pf is not None, "Recordset returned no partition filter to resume from"
            if pf.done():
                break
            assert len(pages) <= 6, f"pagination did not finish: pages so far {pages}"
        assert_eq(pages, [4, 4, 1], "page sizes")
        assert_eq(sorted(ids), list(range(9)), "ids over all pages (no duplicates, none missing)")

    r.run("paginated query (max_records 4, resume from partition filter) over 9 records -> 4,4,1", paginate)

    # ------------------------------------------------------------ compression
    def compression():
        wp = an.WritePolicy()
        wp.use_compression = True
        rp = an.ReadPolicy()
        rp.use_compression = True
        bp = an.BatchPolicy()
        bp.use_compression = True
        qp = an.QueryPolicy()
        qp.use_compression = True
        big = ("compressible text " * 200)[:3000]
        blob = bytes(range(256)) * 8
        key = K(set_comp, "big")
        spy = FrameSpy((args.host, args.port))
        cc = api.connect(an.ClientPolicy(), f"127.0.0.1:{spy.port}")
        try:
            api.put(cc, key, {"big": big, "blob": blob, "n": 7}, policy=wp)
            with spy.lock:
                sent = list(spy.frames)
            assert (4, None) not in sent, "unparsable type-4 frame"
            assert any(t == 4 for t, _ in sent), f"the 3 KB put was not sent compressed (frames {sent})"
        finally:
            api.close(cc)
            spy.close()
        rec = api.get(c, key, policy=rp)
        assert_same(rec.bins, {"big": big, "blob": blob, "n": 7}, "compressed put/get")
        assert_eq(rec.generation, 1, "compressed put/get: generation")
        keys = [key] + [K(set_comp, f"nothere-{i}") for i in range(11)]
        recs = api.batch_read(c, keys, batch_policy=bp)
        assert_same(recs[0].record.bins, {"big": big, "blob": blob, "n": 7}, "compressed batch: row 0")
        assert_eq([br.record for br in recs[1:]], [None] * 11, "compressed batch: missing rows")
        recs, _ = api.query(c, an.Statement(ns, set_comp), an.PartitionFilter.all(), policy=qp)
        assert_eq(len(recs), 1, "compressed query: record count")
        assert_eq(recs[0].bins["big"], big, "compressed query: big bin")

    r.run("use_compression=True, 3 KB bin: type-4 request on the wire; put/get/batch/query", compression)

    # --------------------------------------------------------------- security
    def login():
        cp = an.ClientPolicy()
        cp.user = "admin"
        cp.password = "admin"
        spy = FrameSpy((args.host, args.port))
        ac = api.connect(cp, f"127.0.0.1:{spy.port}")
        try:
            assert_eq(ac.is_connected(), True, "is_connected() with user/password")
            key = K(set_auth, "k")
            api.put(ac, key, {"a": "b"})
            assert_same(api.get(ac, key).bins, {"a": "b"}, "get after login")
            with spy.lock:
                types = sorted({t for t, _ in spy.frames})
            assert 2 in types, f"no admin (type 2) LOGIN frame was sent; frame types seen: {types}"
        finally:
            api.close(ac)
            spy.close()

    r.run("ClientPolicy user/password against security-off server (LOGIN -> rc 52)", login)

    # -------------------------------------------------------------------- TTL
    def ttl():
        key = K(set_main, f"ttl-{tag}")
        wp = an.WritePolicy()
        wp.expiration = an.Expiration.seconds(1000)
        api.put(c, key, {"a": 1}, policy=wp)
        t = api.get(c, key).ttl
        assert t is not None and 990 <= t <= 1000, f"ttl after put with expiration 1000 s: {t!r}"

    def ttl_never():
        key = K(set_main, f"ttl-never-{tag}")
        wp = an.WritePolicy()
        wp.expiration = an.Expiration.NEVER_EXPIRE
        api.put(c, key, {"a": 1}, policy=wp)
        t = api.get(c, key).ttl
        assert_eq(t, None, "ttl of a never-expiring record (void time 0)")

    r.run("put with expiration 1000 s -> ttl ~1000", ttl)
    r.run("put with NEVER_EXPIRE -> ttl None", ttl_never)

    # ------------------------------------------------------------- generation
    def generation():
        key = K(set_main, f"gen-{tag}")
        for n in range(1, 5):
            api.put(c, key, {"n": n})
            rec = api.get(c, key)
            assert_eq(rec.generation, n, f"generation after put #{n}")
            assert_same(rec.bins, {"n": n}, f"bins after put #{n}")

    r.run("generation increments on each put (1..4)", generation)

    # ------------------------------------------------------------------ close
    def close():
        api.close(c)
        assert_eq(c.is_connected(), False, "is_connected() after close")

    r.run("close", close)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--namespace", default="test")
    ap.add_argument("--mode", choices=["both", "async", "blocking"], default="both")
    ap.add_argument("--keep-going", action="store_true", help="run all checks even after a failure")
    args = ap.parse_args()

    r = Runner(args.keep_going)
    if args.mode in ("both", "async"):
        api = AsyncApi()
        r.prefix = "[async] "

        def loop_kind():
            mod = type(api.loop).__module__
            if os.environ.get("AEROSPIKE_NO_UVLOOP"):
                assert not mod.startswith("uvloop"), f"AEROSPIKE_NO_UVLOOP set but loop is {mod}"
            else:
                assert mod.startswith("uvloop"), f"default import path should install uvloop, loop is {mod}"
            print(f"  (event loop: {type(api.loop).__module__}.{type(api.loop).__name__})")

        r.run("event loop is uvloop unless AEROSPIKE_NO_UVLOOP=1", loop_kind)
        suite(r, api, args)
    if args.mode in ("both", "blocking"):
        r.prefix = "[blocking] "
        suite(r, BlockingApi(), args)
    r.finish()


if __name__ == "__main__":
    main()
