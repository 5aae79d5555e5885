"""Shared pieces of the end-to-end client checks in this folder
(check_official.py, check_aerospike_py.py, check_native.py): the check runner
and its `ok` / `skip` / `FAIL` lines, type-aware assertions, a TCP relay that
records the request frames a client sends, the command line, per-run set names
and the test data all three scripts write.

The scripts are run as `python3 tests/python/check_x.py`, so this folder is on
sys.path and they import this module as `checklib`.
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


class Skip(Exception):
    """Raised by a check to report `skip <name>: <reason>`."""


class Runner:
    """Runs checks one by one and prints `ok <check>` per passing check,
    `skip <check>: <reason>` where the client has no API for something, and
    `FAIL <check>: ...` plus a traceback for a failing one. The first failure
    ends the process with exit status 1; with --keep-going (keep_going) every
    check runs and finish() exits 1 if any failed, else 0. `prefix` is put in
    front of every check name."""

    def __init__(self, client_name, keep_going):
        self.client_name = client_name
        self.keep_going = keep_going
        self.failed = []
        self.prefix = ""
        # AEROBENCH_CHECKS_STRICT=1: a skipped check fails (the ignored tests in
        # tests/python_clients.rs run the checks a client cannot pass yet this way).
        self.strict = os.environ.get("AEROBENCH_CHECKS_STRICT") == "1"

    def run(self, name, fn):
        """Runs the check fn() and returns what it returns (None if it was
        skipped or failed)."""
        name = self.prefix + name
        try:
            result = fn()
        except Skip as s:
            self.skip(name[len(self.prefix):], str(s))
        except BaseException as e:  # noqa: BLE001 - report everything, incl. SystemExit from asserts
            print(f"FAIL {name}: {type(e).__name__}: {e}")
            traceback.print_exc(file=sys.stdout)
            self.failed.append(name)
            if not self.keep_going:
                self.finish()
        else:
            print(f"ok {name}")
            return result
        return None

    def skip(self, name, reason):
        if self.strict:
            print(f"FAIL {self.prefix}{name}: skipped ({reason}), and AEROBENCH_CHECKS_STRICT=1")
            self.failed.append(self.prefix + name)
            if not self.keep_going:
                self.finish()
            return
        print(f"skip {self.prefix}{name}: {reason}")

    def finish(self):
        if self.failed:
            print(f"{self.client_name}: {len(self.failed)} check(s) failed: {', '.join(self.failed)}")
            code = 1
        else:
            print(f"{self.client_name}: all checks passed")
            code = 0
        # Leave without interpreter teardown: aerospike-native 1.0.0 was seen to abort
        # (SIGABRT) while shutting its runtime down after every check had passed, which says
        # nothing about the protocol under test.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def start(doc, client_name, add_options=None):
    """Line-buffers stdout, parses the command line and returns (args, a
    Runner for client_name). The command line is --host, --port, --namespace,
    then whatever add_options(parser) adds, then --keep-going; its description
    is the first line of doc."""
    sys.stdout.reconfigure(line_buffering=True)
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--namespace", default="test")
    if add_options is not None:
        add_options(ap)
    ap.add_argument("--keep-going", action="store_true", help="run all checks even after a failure")
    args = ap.parse_args()
    return args, Runner(client_name, args.keep_going)


class Sets:
    """Set names private to one run: `tag` is the given prefix, the process id
    and the time, and every set is the tag plus one letter."""

    def __init__(self, prefix):
        self.tag = f"{prefix}{os.getpid()}x{int(time.time()) % 100000}"
        self.main = f"{self.tag}m"  # put/get/exists/delete/ttl/gen
        self.batch = f"{self.tag}b"
        self.scan = f"{self.tag}s"  # scanned set
        self.other = f"{self.tag}o"  # must never show up in scans of self.scan
        self.page = f"{self.tag}p"  # exactly 9 records, for pagination
        self.comp = f"{self.tag}c"
        self.auth = f"{self.tag}a"


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

    def sent(self):
        """A copy of the (proto type, info1) pairs recorded so far."""
        with self.lock:
            return list(self.frames)

    def assert_compressed_request(self):
        """At least one request went out as a well-formed compressed (type 4)
        frame, and none as an unparsable one."""
        sent = self.sent()
        assert (4, None) not in sent, "unparsable type-4 frame"
        assert any(t == 4 for t, _ in sent), f"the 3 KB put was not sent compressed (frames {sent})"

    def assert_login_sent(self):
        """An admin (type 2) frame -- the LOGIN -- went out."""
        types = sorted({t for t, _ in self.sent()})
        assert 2 in types, f"no admin (type 2) LOGIN frame was sent; frame types seen: {types}"

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


def check_connected(c, node_names, after, ping=None):
    """A freshly connected client: c.is_connected() is True (`after` names
    the connect call), ping() is True if given, and the node_names method of
    c lists exactly one node."""
    assert_eq(c.is_connected(), True, f"is_connected() after {after}")
    if ping is not None:
        assert_eq(ping(), True, "ping()")
    names = getattr(c, node_names)()
    assert_eq(len(names), 1, f"node count ({node_names}()={names!r})")


def expect_raise(exc_type, fn, message):
    """Calls fn() and returns the exc_type exception it raises; if it returns
    instead, fails with AssertionError(message)."""
    try:
        fn()
    except exc_type as e:
        return e
    raise AssertionError(message)


def digest(set_name, user_key):
    """RIPEMD-160(set ‖ particle type ‖ key bytes), §7 of docs/aerospike-wire-protocol.md."""
    if isinstance(user_key, int):
        kb = b"\x01" + struct.pack(">q", user_key)
    else:
        kb = b"\x03" + user_key.encode()
    return hashlib.new("ripemd160", set_name.encode() + kb).digest()


# --------------------------------------------------------------------------
# Test data every script writes, and how it is written and checked.
# --------------------------------------------------------------------------


def plain_bins(**blobs):
    """The bins whose values every client writes and reads back as plain
    Python values, with the client's blob bins (name=value, in the order
    given) between "float" and "true"."""
    return {
        "int": 42,
        "neg": -9007199254740993,
        "str": "héllo wörld",
        "empty_str": "",
        "float": 3.25,
        **blobs,
        "true": True,
        "false": False,
        "list": [1, "two", 3.5, [4, [5]], {"k": "v"}, b"\x01", True],
        "dict": {"a": 1, "b": [2, 3], "c": {"d": "e"}, 7: 8.5},
    }


def put_records(put, make_key, records):
    """Writes records, (set, user key, bins) each, in order with
    put(make_key(set, user key), bins)."""
    for set_name, user_key, bins in records:
        put(make_key(set_name, user_key), bins)


def check_all_types(bins, plain, typed, what, show_repr=False):
    """The bins read back after writing every particle type: exactly the
    names of plain and typed; each bin of plain the same as there (value and
    type, assert_same); each bin of typed, name -> (class, value_of, want), an
    instance of class with value_of(bin) == want. show_repr adds the bin's
    repr to the message of a wrong type."""
    assert_eq(sorted(bins), sorted([*plain, *typed]), f"{what}: bin names")
    for name, want in plain.items():
        assert_same(bins[name], want, f"{what}: bin {name}")
    for name, (cls, value_of, want) in typed.items():
        v = bins[name]
        shown = f" ({v!r})" if show_repr else ""
        assert isinstance(v, cls), f"{what}: {name} bin type {type(v)!r}{shown}"
        assert_eq(value_of(v), want, f"{what}: {name} bin")


# Batch reads: rows 0, 2 and 3 are written, row 1 never is.
BATCH_USER_KEYS = ["b0", "b1-missing", 2, "b3"]
BATCH_BINS = {
    0: {"id": 0, "i": 100, "s": "zero"},
    2: {"id": 2, "i": 102, "s": "two"},
    3: {"id": 3, "i": 103, "s": "three"},
}


def batch_records(sets):
    """(set, user key, bins) of the rows of BATCH_BINS, in sets.batch."""
    return [(sets.batch, BATCH_USER_KEYS[idx], bins) for idx, bins in BATCH_BINS.items()]


def page_records(sets):
    """(set, user key, bins) of the 9 records the pagination checks write."""
    return [(sets.page, f"p{n}", {"id": n}) for n in range(9)]


N_SCAN = 6


def scan_records(sets):
    """(set, user key, bins) of the records the scan/query checks write:
    N_SCAN in sets.scan, then 3 in sets.other that a scan of sets.scan must
    never return."""
    recs = [(sets.scan, f"s{n}", {"id": n, "i": n * 10, "x": "not selected"}) for n in range(N_SCAN)]
    recs += [(sets.other, f"s{n}", {"id": 100 + n, "i": -1, "x": "other set"}) for n in range(3)]
    return recs


def index_by_id(records, bins_of, what, check_record=None):
    """Maps the "id" bin of each record (bins_of(record) gives its bins) to
    the record, after check_record(record) if given; fails if an id comes
    twice or the ids are not exactly 0..N_SCAN-1."""
    by_id = {}
    for rec in records:
        if check_record is not None:
            check_record(rec)
        ident = bins_of(rec).get("id")
        assert ident not in by_id, f"{what}: record id {ident} returned twice"
        by_id[ident] = rec
    assert_eq(sorted(by_id, key=repr), list(range(N_SCAN)), f"{what}: ids returned")
    return by_id


# Compression: a 3000-byte, well compressible string bin (well above 1 KB)
# and a 2 KB blob.
BIG_TEXT = ("compressible text " * 200)[:3000]
BIG_BLOB = bytes(range(256)) * 8


# --------------------------------------------------------------------------
# Checks of the clients with the official client's API: check_official.py
# and check_aerospike_py.py (aerospike-py mirrors that API).
# --------------------------------------------------------------------------


def query_checks(c, ns, set_name, check_results):
    """(query_select, query_all_bins, query_foreach): checks that query the
    scan_records() of set_name through `c.query(ns, set)` and hand the
    records, the bins each record must have (a function of its id) and a
    description to check_results."""

    def query_select():
        q = c.query(ns, set_name)
        q.select("id", "i")
        check_results(q.results(), lambda n: {"id": n, "i": n * 10}, "query.select('id','i')")

    def query_all_bins():
        q = c.query(ns, set_name)
        check_results(q.results(), lambda n: {"id": n, "i": n * 10, "x": "not selected"}, "query().results()")

    def query_foreach():
        got = []
        q = c.query(ns, set_name)
        q.select("id")
        q.foreach(lambda rec: got.append(rec))
        check_results(got, lambda n: {"id": n}, "query.foreach")

    return query_select, query_all_bins, query_foreach


def close_check(c):
    """A check that closes c, after which c.is_connected() must be False."""

    def close():
        c.close()
        assert_eq(c.is_connected(), False, "is_connected() after close()")

    return close
