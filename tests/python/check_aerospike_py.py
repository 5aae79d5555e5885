#!/usr/bin/env python3
"""End-to-end checks of `aerospike-py` (PyPI 0.14.4, import name `aerospike_py`,
Rust core 2.2.0) against `aerobench serve`.

Covers the "aerospike-py 0.14.4" column of the test plan in §10 of
docs/aerospike-wire-protocol.md (tending + ping, put/get of every particle
type the client can write, missing key, exists, delete, batch, query by
partition, max_records / partition filters, security-off login, TTL,
generation).

Usage: check_aerospike_py.py --host 127.0.0.1 --port PORT [--namespace test]
                             [--keep-going]

Output and exit status: see checklib.Runner (one `ok`, `skip` or `FAIL` line
per check).
"""

import aerospike_py

import checklib
from checklib import FrameSpy, Skip, assert_eq, assert_same, digest, expect_raise

CLIENT_NAME = "aerospike-py==0.14.4"


def partition_id(d):
    return (d[0] | d[1] << 8) & 0x0FFF


def main():
    args, r = checklib.start(__doc__, CLIENT_NAME)

    ns = args.namespace
    sets = checklib.Sets("y")
    tag = sets.tag

    def make_key(set_name, user_key):
        return (ns, set_name, user_key)

    config = {"hosts": [(args.host, args.port)], "timeout": 10000}

    # ---------------------------------------------------------------- connect
    def connect():
        c = aerospike_py.client(config).connect()
        checklib.check_connected(c, "get_node_names", "connect()", ping=c.ping)
        return c

    c = r.run("connect + is_connected + ping", connect)
    if c is None:
        r.finish()

    # ------------------------------------------------------ put / get all types
    all_types = checklib.plain_bins(bytes=b"raw\x00bytes\xff", bytearray=bytearray(b"\x00\x01\xfe\xff"))

    k_str = (ns, sets.main, f"str-key-{tag}")
    k_int = (ns, sets.main, 1234567890123)

    def put_get_all(key):
        def f():
            c.put(key, all_types)
            rec = c.get(key)
            # blobs come back as bytes, whether written from bytes or bytearray
            want = dict(all_types, bytearray=bytes(all_types["bytearray"]))
            assert_same(rec.bins, want, f"get {key[2]!r}: bins")
            assert_eq(rec.meta.gen, 1, "generation after first put")
            assert_eq(rec.key.namespace, ns, "returned key namespace")
            assert_eq(rec.key.set_name, sets.main, "returned key set")
            assert_eq(bytes(rec.key.digest), digest(sets.main, key[2]), "returned key digest")

        return f

    r.run("put+get int/str/float/bytes/bytearray/bool/list/dict (string key)", put_get_all(k_str))
    r.run("put+get int/str/float/bytes/bytearray/bool/list/dict (int key)", put_get_all(k_int))
    r.skip("put GeoJSON", "aerospike-py has no GeoJSON value type for put() (GeoJSON is read-only)")

    def hll():
        # aerospike-py has no HLL value type for put(); the only way to make an
        # HLL bin is a server-side HLL op (op type 16), which the server may
        # legitimately answer with rc 16 UNSUPPORTED_FEATURE.
        from aerospike_py import hll_operations as hll_ops

        key = (ns, sets.main, f"hll-{tag}")
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
        key = (ns, sets.main, f"missing-{tag}")
        expect_raise(
            aerospike_py.RecordNotFound, lambda: c.get(key), "get of a missing key did not raise RecordNotFound"
        )

    r.run("get missing key -> RecordNotFound", get_missing)

    # ----------------------------------------------------------------- exists
    def exists_present():
        res = c.exists(k_str)
        assert res.meta is not None, "exists() on a present record returned meta None"
        assert_eq(res.meta.gen, 1, "exists() meta gen")

    def exists_missing():
        res = c.exists((ns, sets.main, f"missing-{tag}"))
        assert_eq(res.meta, None, "exists() meta on a missing record")

    r.run("exists on present record -> meta", exists_present)
    r.run("exists on missing record -> meta None", exists_missing)

    # ----------------------------------------------------------------- delete
    def delete_twice():
        key = (ns, sets.main, f"del-{tag}")
        c.put(key, {"a": 1})
        c.remove(key)
        assert_eq(c.exists(key).meta, None, "exists() after remove()")
        expect_raise(
            aerospike_py.RecordNotFound, lambda: c.remove(key), "second remove() did not raise RecordNotFound"
        )

    r.run("remove, then remove again -> RecordNotFound", delete_twice)

    # ------------------------------------------------------------------ batch
    batch_keys = [make_key(sets.batch, k) for k in checklib.BATCH_USER_KEYS]
    batch_bins = checklib.BATCH_BINS

    r.run("batch setup (3 puts)", lambda: checklib.put_records(c.put, make_key, checklib.batch_records(sets)))

    def batch_check(res, want_bins, what):
        recs = res.batch_records
        assert_eq(len(recs), len(batch_keys), f"{what}: number of batch records")
        assert_eq([br.result for br in recs], [0, 2, 0, 0], f"{what}: result codes")
        assert_eq(recs[1].record, None, f"{what}: record of the missing row")
        for i, br in enumerate(recs):
            assert_eq(br.key[2], batch_keys[i][2], f"{what}: row {i} user key")
            assert_eq(bytes(br.key[3]), digest(sets.batch, batch_keys[i][2]), f"{what}: row {i} digest")
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
    r.run(
        "scan setup (6 records + 3 in another set)",
        lambda: checklib.put_records(c.put, make_key, checklib.scan_records(sets)),
    )

    def check_scan_results(results, want_bins, what):
        def check_record(rec):
            assert_eq(rec.key.namespace, ns, f"{what}: record namespace")
            assert_eq(rec.key.set_name, sets.scan, f"{what}: record set")

        by_id = checklib.index_by_id(results, lambda rec: rec.bins, what, check_record)
        for n, rec in by_id.items():
            assert_same(rec.bins, want_bins(n), f"{what}: bins of record {n}")
            assert_eq(bytes(rec.key.digest), digest(sets.scan, f"s{n}"), f"{what}: digest of {n}")
            assert_eq(rec.meta.gen, 1, f"{what}: gen of record {n}")

    query_select, query_all_bins, query_foreach = checklib.query_checks(c, ns, sets.scan, check_scan_results)

    r.run("query(ns,set).select('id','i').results() -> exactly the set's records", query_select)
    r.run("query(ns,set).results() all bins", query_all_bins)
    r.run("query.foreach with select('id')", query_foreach)

    # ------------------------------------------------- max_records / partitions
    r.run("pagination setup (9 records)", lambda: checklib.put_records(c.put, make_key, checklib.page_records(sets)))

    def max_records():
        res = c.query(ns, sets.page).results(policy={"max_records": 4})
        ids = [rec.bins["id"] for rec in res]
        assert_eq(len(ids), 4, f"records returned with max_records=4 (ids {ids})")
        assert_eq(len(set(ids)), 4, "distinct records with max_records=4")
        assert set(ids) <= set(range(9)), f"unexpected ids {ids}"

    def partition_filter():
        by_pid = {}
        for n in range(9):
            by_pid.setdefault(partition_id(digest(sets.page, f"p{n}")), []).append(n)
        pid, want = sorted(by_pid.items())[0]
        pf = aerospike_py.partition_filter_by_id(pid)
        res = c.query(ns, sets.page).results(policy={"partition_filter": pf})
        assert_eq(sorted(rec.bins["id"] for rec in res), want, f"records of partition {pid}")
        lo = min(by_pid)
        pf = aerospike_py.partition_filter_by_range(lo, 4096 - lo)
        res = c.query(ns, sets.page).results(policy={"partition_filter": pf})
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
            key = (ns, sets.auth, what)
            ac.put(key, {"a": "b"})
            assert_same(ac.get(key).bins, {"a": "b"}, f"put/get with {what}")
            spy.assert_login_sent()
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
        key = (ns, sets.main, f"ttl-{tag}")
        c.put(key, {"a": 1}, meta={"ttl": 1000})
        t = c.get(key).meta.ttl
        assert 990 <= t <= 1000, f"ttl after put with ttl=1000: {t}"
        t = c.exists(key).meta.ttl
        assert 990 <= t <= 1000, f"exists() ttl after put with ttl=1000: {t}"

    def ttl_never():
        key = (ns, sets.main, f"ttl-never-{tag}")
        c.put(key, {"a": 1}, meta={"ttl": aerospike_py.TTL_NEVER_EXPIRE})
        assert_eq(c.get(key).meta.ttl, 0xFFFFFFFF, "ttl of a never-expiring record (void time 0)")

    r.run("put with ttl=1000 -> meta ttl ~1000", ttl)
    r.run("put with TTL_NEVER_EXPIRE -> meta ttl 0xFFFFFFFF", ttl_never)

    # ------------------------------------------------------------- generation
    def generation():
        key = (ns, sets.main, f"gen-{tag}")
        for n in range(1, 5):
            c.put(key, {"n": n})
            rec = c.get(key)
            assert_eq(rec.meta.gen, n, f"generation after put #{n}")
            assert_same(rec.bins, {"n": n}, f"bins after put #{n}")

    r.run("generation increments on each put (1..4)", generation)

    # ------------------------------------------------------------------ close
    r.run("close", checklib.close_check(c))
    r.finish()


if __name__ == "__main__":
    main()
