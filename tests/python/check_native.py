#!/usr/bin/env python3
"""End-to-end checks of `aerospike-native` (PyPI 1.0.0, import name
`aerospike_native`, Rust core 3.0.0) against `aerobench serve`.

Covers the "aerospike-native 1.0.0" column of the test plan in §10 of
docs/aerospike-wire-protocol.md (tending, put/get of every particle type,
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

Output and exit status: see checklib.Runner (one `ok`, `skip` or `FAIL` line
per check).
"""

import asyncio
import os

import aerospike_native as an
from aerospike_native import exceptions as ex

import checklib
from checklib import FrameSpy, assert_eq, assert_same, digest, expect_raise

CLIENT_NAME = "aerospike-native==1.0.0"


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


def _client_call(method, pad_to=0):
    """An Api method f(c, *args, **kw) that calls c.<method>(*args, **kw)
    through self.call, first padding args with None up to pad_to (for the
    optional `bins` argument)."""

    def f(self, c, *args, **kw):
        args += (None,) * (pad_to - len(args))
        return self.call(c, method, *args, **kw)

    f.__name__ = method
    return f


class Api:
    """The client calls the suite makes. Each goes through
    call(obj, method, *args, **kw), which the two flavours implement."""

    def connect(self, policy, seeds):
        return self.call(an, "new_client", policy, seeds)

    close = _client_call("close")
    put = _client_call("put")
    get = _client_call("get", pad_to=2)  # (key, bins=None)
    exists = _client_call("exists")
    delete = _client_call("delete")
    batch_read = _client_call("batch_read", pad_to=2)  # (keys, bins=None)
    batch_exists = _client_call("batch_exists")
    batch_get_header = _client_call("batch_get_header")


class AsyncApi(Api):
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

    def call(self, obj, method, *args, **kw):
        return self._run(lambda: getattr(obj, method)(*args, **kw))

    def query(self, c, stmt, pf, **kw):
        """Returns (records, partition filter after the query)."""

        async def go():
            rs = await c.query(stmt, pf, **kw)
            recs = [rec async for rec in rs]
            return recs, await rs.partition_filter()

        return self._run(go)


class BlockingApi(Api):
    """`client.x_blocking(...)`."""

    name = "blocking"

    def call(self, obj, method, *args, **kw):
        return getattr(obj, method + "_blocking")(*args, **kw)

    def query(self, c, stmt, pf, **kw):
        rs = c.query_blocking(stmt, pf, **kw)
        recs = list(rs)
        return recs, rs.partition_filter_sync()


# --------------------------------------------------------------------------


def suite(r, api, args):
    ns = args.namespace
    seeds = f"{args.host}:{args.port}"
    sets = checklib.Sets(f"n{api.name[0]}")
    tag = sets.tag

    def K(set_name, k):
        return an.Key(ns, set_name, k)

    # ---------------------------------------------------------------- connect
    def connect():
        c = api.connect(an.ClientPolicy(), seeds)
        checklib.check_connected(c, "node_names", "connect")
        return c

    c = r.run("connect + is_connected", connect)
    if c is None:
        return

    def put(key, bins):
        api.put(c, key, bins)

    # ------------------------------------------------------ put / get all types
    geo_str = '{"type": "Point", "coordinates": [-122.5, 37.25]}'
    hll_bytes = [0, 8, 0] + list(range(1, 64))
    plain = checklib.plain_bins(bytes=b"raw\x00bytes\xff")
    all_types = dict(plain, geo=an.GeoJSON(geo_str), hll=an.HLL(hll_bytes))
    typed = {
        "geo": (an.GeoJSON, lambda geo: geo.value, geo_str),
        "hll": (an.HLL, lambda hll: list(hll.value), hll_bytes),
    }

    k_str = K(sets.main, f"str-key-{tag}")
    k_int = K(sets.main, 1234567890123)

    def put_get_all(key, user_key):
        def f():
            api.put(c, key, all_types)
            rec = api.get(c, key)
            checklib.check_all_types(rec.bins, plain, typed, f"get {user_key!r}", show_repr=True)
            assert_eq(rec.generation, 1, "generation after first put")
            # single-record replies carry no key (Record.key is None)
            assert_eq(key_digest_bytes(key), digest(sets.main, user_key), "client-side key digest (§7)")

        return f

    r.run("put+get all particle types incl. GeoJSON, HLL (string key)", put_get_all(k_str, f"str-key-{tag}"))
    r.run("put+get all particle types incl. GeoJSON, HLL (int key)", put_get_all(k_int, 1234567890123))

    def put_get_bytearray():
        key = K(sets.main, f"bytearray-{tag}")
        api.put(c, key, {"ba": bytearray(b"\x00\x01\xfe\xff")})
        # a blob always comes back as bytes
        assert_same(api.get(c, key).bins["ba"], b"\x00\x01\xfe\xff", "bytearray bin")

    r.run("put+get bytearray bin", put_get_bytearray)

    def get_named_bins():
        rec = api.get(c, k_str, ["int", "str", "nosuchbin"])
        assert_same(rec.bins, {"int": 42, "str": "héllo wörld"}, "get(key, [int,str,nosuchbin])")

    r.run("get with named bins", get_named_bins)

    def get_missing():
        key = K(sets.main, f"missing-{tag}")
        e = expect_raise(
            ex.RecordNotFound, lambda: api.get(c, key), "get of a missing key did not raise RecordNotFound"
        )
        assert_eq(int(e.result_code), 2, "RecordNotFound result_code")

    r.run("get missing key -> RecordNotFound (rc 2)", get_missing)

    # ----------------------------------------------------------------- exists
    r.run("exists on present record -> True", lambda: assert_eq(api.exists(c, k_str), True, "exists()"))
    r.run(
        "exists on missing record -> False",
        lambda: assert_eq(api.exists(c, K(sets.main, f"missing-{tag}")), False, "exists()"),
    )

    # ----------------------------------------------------------------- delete
    def delete_twice():
        key = K(sets.main, f"del-{tag}")
        api.put(c, key, {"a": 1})
        assert_eq(api.delete(c, key), True, "first delete()")
        assert_eq(api.exists(c, key), False, "exists() after delete()")
        assert_eq(api.delete(c, key), False, "second delete()")

    r.run("delete -> True, then delete again -> False", delete_twice)

    # ------------------------------------------------------------------ batch
    batch_user_keys = checklib.BATCH_USER_KEYS
    batch_keys = [K(sets.batch, k) for k in batch_user_keys]
    batch_bins = checklib.BATCH_BINS

    r.run("batch setup (3 puts)", lambda: checklib.put_records(put, K, checklib.batch_records(sets)))

    def batch_check(recs, want_bins, what):
        assert_eq(len(recs), len(batch_keys), f"{what}: number of batch records")
        for i, br in enumerate(recs):
            assert_eq(key_digest_bytes(br.key), digest(sets.batch, batch_user_keys[i]), f"{what}: row {i} key")
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
    r.run(
        "scan setup (6 records + 3 in another set)", lambda: checklib.put_records(put, K, checklib.scan_records(sets))
    )

    def check_scan_results(recs, want_bins, what):
        by_id = checklib.index_by_id(recs, lambda rec: rec.bins, what)
        for n, rec in by_id.items():
            assert_same(rec.bins, want_bins(n), f"{what}: bins of record {n}")
            assert_eq(key_digest_bytes(rec.key), digest(sets.scan, f"s{n}"), f"{what}: digest of record {n}")
            assert_eq(rec.key.namespace, ns, f"{what}: namespace of record {n}")
            assert_eq(rec.key.set_name, sets.scan, f"{what}: set of record {n}")
            assert_eq(rec.generation, 1, f"{what}: generation of record {n}")

    def query_select():
        stmt = an.Statement(ns, sets.scan, ["id", "i"])
        recs, _ = api.query(c, stmt, an.PartitionFilter.all())
        check_scan_results(recs, lambda n: {"id": n, "i": n * 10}, "query(Statement(ns,set,['id','i']))")

    def query_all_bins():
        recs, _ = api.query(c, an.Statement(ns, sets.scan), an.PartitionFilter.all())
        check_scan_results(recs, lambda n: {"id": n, "i": n * 10, "x": "not selected"}, "query all bins")

    r.run("query(Statement(ns,set,['id','i']), PartitionFilter.all()) -> exactly the set's records", query_select)
    r.run("query all bins", query_all_bins)

    # ------------------------------------------------------------- pagination
    def paginate():
        checklib.put_records(put, K, checklib.page_records(sets))
        qp = an.QueryPolicy()
        qp.max_records = 4
        stmt = an.Statement(ns, sets.page)
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
        big, blob = checklib.BIG_TEXT, checklib.BIG_BLOB
        key = K(sets.comp, "big")
        spy = FrameSpy((args.host, args.port))
        cc = api.connect(an.ClientPolicy(), f"127.0.0.1:{spy.port}")
        try:
            api.put(cc, key, {"big": big, "blob": blob, "n": 7}, policy=wp)
            spy.assert_compressed_request()
        finally:
            api.close(cc)
            spy.close()
        rec = api.get(c, key, policy=rp)
        assert_same(rec.bins, {"big": big, "blob": blob, "n": 7}, "compressed put/get")
        assert_eq(rec.generation, 1, "compressed put/get: generation")
        keys = [key] + [K(sets.comp, f"nothere-{i}") for i in range(11)]
        recs = api.batch_read(c, keys, batch_policy=bp)
        assert_same(recs[0].record.bins, {"big": big, "blob": blob, "n": 7}, "compressed batch: row 0")
        assert_eq([br.record for br in recs[1:]], [None] * 11, "compressed batch: missing rows")
        recs, _ = api.query(c, an.Statement(ns, sets.comp), an.PartitionFilter.all(), policy=qp)
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
            key = K(sets.auth, "k")
            api.put(ac, key, {"a": "b"})
            assert_same(api.get(ac, key).bins, {"a": "b"}, "get after login")
            spy.assert_login_sent()
        finally:
            api.close(ac)
            spy.close()

    r.run("ClientPolicy user/password against security-off server (LOGIN -> rc 52)", login)

    # -------------------------------------------------------------------- TTL
    def ttl():
        key = K(sets.main, f"ttl-{tag}")
        wp = an.WritePolicy()
        wp.expiration = an.Expiration.seconds(1000)
        api.put(c, key, {"a": 1}, policy=wp)
        t = api.get(c, key).ttl
        assert t is not None and 990 <= t <= 1000, f"ttl after put with expiration 1000 s: {t!r}"

    def ttl_never():
        key = K(sets.main, f"ttl-never-{tag}")
        wp = an.WritePolicy()
        wp.expiration = an.Expiration.NEVER_EXPIRE
        api.put(c, key, {"a": 1}, policy=wp)
        t = api.get(c, key).ttl
        assert_eq(t, None, "ttl of a never-expiring record (void time 0)")

    r.run("put with expiration 1000 s -> ttl ~1000", ttl)
    r.run("put with NEVER_EXPIRE -> ttl None", ttl_never)

    # ------------------------------------------------------------- generation
    def generation():
        key = K(sets.main, f"gen-{tag}")
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
    args, r = checklib.start(
        __doc__,
        CLIENT_NAME,
        lambda ap: ap.add_argument("--mode", choices=["both", "async", "blocking"], default="both"),
    )
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
