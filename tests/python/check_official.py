#!/usr/bin/env python3
"""End-to-end checks of the official `aerospike` client (PyPI 19.3.0, C client
7.6.1) against `aerobench serve`.

Covers the "Python `aerospike` 19.3.0" column of the test plan in §10 of
docs/aerospike-wire-protocol.md (tending, put/get of every particle type,
missing key, exists, delete, batch, scan/query, pagination, compression,
security-off login, TTL, generation).

Usage: check_official.py --host 127.0.0.1 --port PORT [--namespace test]
                         [--keep-going]

Output and exit status: see checklib.Runner (one `ok`, `skip` or `FAIL` line
per check).
"""

import warnings

import aerospike
from aerospike import exception as ex
from aerospike_helpers import HyperLogLog

import checklib
from checklib import FrameSpy, assert_eq, assert_same, expect_raise

# meta["ttl"] still works in 19.3.0 (it is what this test checks); silence the
# deprecation notice so the output stays one line per check.
warnings.filterwarnings("ignore", message=r'meta\["ttl"\] is deprecated')

CLIENT_NAME = "aerospike==19.3.0"


def main():
    args, r = checklib.start(__doc__, CLIENT_NAME)

    ns = args.namespace
    sets = checklib.Sets("o")
    tag = sets.tag

    def make_key(set_name, user_key):
        return (ns, set_name, user_key)

    hosts = [(args.host, args.port)]
    base_policies = {
        "read": {"total_timeout": 5000},
        "write": {"total_timeout": 5000},
        "batch": {"total_timeout": 5000},
        "query": {"total_timeout": 10000},
        "scan": {"total_timeout": 10000},
    }
    config = {"hosts": hosts, "policies": base_policies}

    # ---------------------------------------------------------------- connect
    def connect():
        c = aerospike.client(config).connect()
        checklib.check_connected(c, "get_node_names", "connect()")
        return c

    c = r.run("connect + is_connected", connect)
    if c is None:
        r.finish()

    # ------------------------------------------------------ put / get all types
    geo_point = {"type": "Point", "coordinates": [-122.5, 37.25]}
    hll_bytes = bytes([0, 8, 0]) + bytes(range(1, 64))
    all_types = dict(
        checklib.plain_bins(bytearray=bytearray(b"\x00\x01\xfe\xff"), bytes=b"raw\x00bytes"),
        geo=aerospike.GeoJSON(geo_point),
        hll=HyperLogLog(hll_bytes),
    )
    # What the C client hands back: blob particles (type 4) come back as
    # `bytes`, whether they were written from bytes or bytearray, inside and
    # outside of CDTs; GeoJSON as aerospike.GeoJSON; HLL as
    # aerospike_helpers.HyperLogLog.
    expect_plain = checklib.plain_bins(bytearray=b"\x00\x01\xfe\xff", bytes=b"raw\x00bytes")

    expect_typed = {
        "geo": (aerospike.GeoJSON, lambda geo: geo.unwrap(), geo_point),
        "hll": (HyperLogLog, bytes, hll_bytes),
    }

    k_str = (ns, sets.main, f"str-key-{tag}")
    k_int = (ns, sets.main, 1234567890123)

    def put_get_all(key):
        def f():
            c.put(key, all_types)
            rkey, meta, bins = c.get(key)
            checklib.check_all_types(bins, expect_plain, expect_typed, f"get {key[2]!r}")
            assert_eq(meta["gen"], 1, "generation after first put")
            assert_eq(rkey[0], ns, "returned key namespace")
            assert_eq(rkey[1], sets.main, "returned key set")
            assert_eq(rkey[3], aerospike.calc_digest(*key), "returned key digest")

        return f

    r.run("put+get all particle types (string key)", put_get_all(k_str))
    r.run("put+get all particle types (int key)", put_get_all(k_int))

    def get_named_bins():
        _, _, bins = c.select(k_str, ["int", "str", "nosuchbin"])
        assert_same(bins, {"int": 42, "str": "héllo wörld"}, "select(int,str,nosuchbin)")

    r.run("get with named bins (select)", get_named_bins)

    def get_missing():
        key = (ns, sets.main, f"missing-{tag}")
        e = expect_raise(ex.RecordNotFound, lambda: c.get(key), "get of a missing key did not raise RecordNotFound")
        assert_eq(e.code, 2, "RecordNotFound code")

    r.run("get missing key -> RecordNotFound (rc 2)", get_missing)

    # ----------------------------------------------------------------- exists
    def exists_present():
        rkey, meta = c.exists(k_str)
        assert meta is not None, "exists() on a present record returned meta None"
        assert_eq(meta["gen"], 1, "exists() meta gen")
        assert_eq(rkey[3], aerospike.calc_digest(*k_str), "exists() key digest")

    def exists_missing():
        _, meta = c.exists((ns, sets.main, f"missing-{tag}"))
        assert_eq(meta, None, "exists() meta on a missing record")

    r.run("exists on present record -> meta", exists_present)
    r.run("exists on missing record -> None", exists_missing)

    # ----------------------------------------------------------------- delete
    def delete_twice():
        key = (ns, sets.main, f"del-{tag}")
        c.put(key, {"a": 1})
        c.remove(key)
        _, meta = c.exists(key)
        assert_eq(meta, None, "exists() after remove()")
        expect_raise(ex.RecordNotFound, lambda: c.get(key), "get after remove() did not raise RecordNotFound")
        e = expect_raise(ex.RecordNotFound, lambda: c.remove(key), "second remove() did not raise RecordNotFound")
        assert_eq(e.code, 2, "second remove() error code")

    r.run("remove, then remove again -> RecordNotFound", delete_twice)

    # ------------------------------------------------------------------ batch
    batch_keys = [make_key(sets.batch, k) for k in checklib.BATCH_USER_KEYS]
    batch_bins = checklib.BATCH_BINS

    r.run("batch setup (3 puts)", lambda: checklib.put_records(c.put, make_key, checklib.batch_records(sets)))

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
    r.run(
        "scan setup (6 records + 3 in another set)",
        lambda: checklib.put_records(c.put, make_key, checklib.scan_records(sets)),
    )

    def check_scan_results(results, want_bins, what):
        def check_record(rec):
            key, _, _ = rec
            assert_eq(key[0], ns, f"{what}: record namespace")
            assert_eq(key[1], sets.scan, f"{what}: record set")

        by_id = checklib.index_by_id(results, lambda rec: rec[2], what, check_record)
        for n, (key, meta, bins) in by_id.items():
            assert_same(bins, want_bins(n), f"{what}: bins of record {n}")
            assert_eq(key[3], aerospike.calc_digest(ns, sets.scan, f"s{n}"), f"{what}: digest of record {n}")
            assert_eq(meta["gen"], 1, f"{what}: gen of record {n}")

    query_select, query_all_bins, query_foreach = checklib.query_checks(c, ns, sets.scan, check_scan_results)

    def scan_select():
        s = c.scan(ns, sets.scan)
        s.select("id", "i")
        check_scan_results(s.results(), lambda n: {"id": n, "i": n * 10}, "scan.select('id','i')")

    r.run("query(ns,set).select('id','i').results() -> exactly the set's records", query_select)
    r.run("query(ns,set).results() all bins", query_all_bins)
    r.run("scan(ns,set).select('id','i').results()", scan_select)
    r.run("query.foreach with select('id')", query_foreach)

    # ------------------------------------------------------------- pagination
    def paginate():
        checklib.put_records(c.put, make_key, checklib.page_records(sets))
        q = c.query(ns, sets.page)
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
            big, blob = checklib.BIG_TEXT, checklib.BIG_BLOB
            key = (ns, sets.comp, "big")
            cc.put(key, {"big": big, "blob": bytearray(blob), "n": 7})
            spy.assert_compressed_request()
            _, meta, bins = cc.get(key)
            assert_same(bins, {"big": big, "blob": blob, "n": 7}, "compressed put/get")
            assert_eq(meta["gen"], 1, "compressed put/get: gen")
            sent = spy.sent()
            assert any(i is not None and i & 0x80 for _, i in sent), (
                f"no request asked for a compressed response (info1 0x80; frames {sent})"
            )
            # batch with compression (request > 128 bytes thanks to 12 keys)
            keys = [(ns, sets.comp, "big")] + [(ns, sets.comp, f"nothere-{i}") for i in range(11)]
            recs = cc.batch_read(keys).batch_records
            assert_eq(recs[0].result, 0, "compressed batch: present row")
            assert_same(recs[0].record[2], {"big": big, "blob": blob, "n": 7}, "compressed batch: row 0")
            assert_eq([br.result for br in recs[1:]], [2] * 11, "compressed batch: missing rows")
            # query with compression
            res = cc.query(ns, sets.comp).results()
            assert_eq(len(res), 1, "compressed query: record count")
            assert_same(res[0][2], {"big": big, "blob": blob, "n": 7}, "compressed query: bins")
            n4 = sum(1 for t, _ in spy.sent() if t == 4)
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
            key = (ns, sets.auth, "k")
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
            assert_same(ac.get((ns, sets.auth, "k"))[2], {"a": "b"}, "get with config user/password")
            key = (ns, sets.auth, "k2")
            ac.put(key, {"c": 3})
            assert_same(ac.get(key)[2], {"c": 3}, "put/get with config user/password")
            spy.assert_login_sent()
        finally:
            ac.close()
            spy.close()

    r.run("connect('admin','admin') against security-off server", login_connect_args)
    r.run("config user/password: admin LOGIN on the wire -> rc 52 accepted", login_config)

    # -------------------------------------------------------------------- TTL
    def ttl():
        key = (ns, sets.main, f"ttl-{tag}")
        c.put(key, {"a": 1}, meta={"ttl": 1000})
        _, meta, _ = c.get(key)
        assert 990 <= meta["ttl"] <= 1000, f"ttl after put with ttl=1000: {meta['ttl']}"
        _, emeta = c.exists(key)
        assert 990 <= emeta["ttl"] <= 1000, f"exists() ttl after put with ttl=1000: {emeta['ttl']}"

    def ttl_never():
        key = (ns, sets.main, f"ttl-never-{tag}")
        c.put(key, {"a": 1}, meta={"ttl": aerospike.TTL_NEVER_EXPIRE})
        _, meta, _ = c.get(key)
        assert_eq(meta["ttl"], 4294967295, "ttl of a never-expiring record (void time 0)")

    r.run("put with ttl=1000 -> meta ttl ~1000", ttl)
    r.run("put with TTL_NEVER_EXPIRE -> meta ttl 4294967295", ttl_never)

    # ------------------------------------------------------------- generation
    def generation():
        key = (ns, sets.main, f"gen-{tag}")
        for n in range(1, 5):
            c.put(key, {"n": n})
            _, meta, bins = c.get(key)
            assert_eq(meta["gen"], n, f"generation after put #{n}")
            assert_same(bins, {"n": n}, f"bins after put #{n}")

    r.run("generation increments on each put (1..4)", generation)

    # ------------------------------------------------------------------ close
    r.run("close", checklib.close_check(c))
    r.finish()


if __name__ == "__main__":
    main()
