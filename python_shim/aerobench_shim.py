"""aerobench's Python side, shared by every client adapter.

It builds the same keys and bins as the Rust side (see src/workload/mod.rs), runs the calls the Rust
engine hands out, and reports each one to the Rust recorder. It times nothing: the recorder's
now()/done()/fail() read the Rust clock.

Every adapter splits a call in three, the same way for every client:
  args_<op>(i)   untimed: the key(s) and bins, as a caller's own code would already have them;
  <op>(*args)    timed: the client call, and reading the records it returned (so a client
                 that returns lazy results pays for them); it hands the records back rather
                 than letting go of them, so they are freed after the call's end was read, as
                 the Rust columns' are;
  count(result)  untimed: how many records came back.
"""

import asyncio


_PAD = "".join(chr(ord("a") + k % 26) for k in range(1 << 20))


def string_value(i, size):
    """Exactly `size` ASCII bytes that differ between records (as string_value in Rust): the
    record number in hex and a dash, then letters a-z by position."""
    head = (format(i, "x") + "-")[:size]
    return head + _PAD[len(head):size]


def bins_builder(w, record_values=None):
    """A function i -> bins of record i, compiled once for the workload's layout so each call
    costs what a literal dict in the caller's code would. A record spec (--record: lists, maps,
    blobs) is built by the Rust generator, `record_values`."""
    if record_values is not None and any("Value" in spec for spec in w["bins"]):
        return record_values
    parts = []
    for spec in w["bins"]:
        if "Int" in spec:
            parts.append(f"{spec['Int']!r}: i")
        elif "Double" in spec:
            parts.append(f"{spec['Double']!r}: i * 0.5")
        else:
            name, size = spec["Str"]
            parts.append(f"{name!r}: string_value(i, {int(size)})")
    return eval("lambda i: {" + ", ".join(parts) + "}", {"string_value": string_value})


# The bin the operate phase increments and reads back (as OPERATE_BIN in Rust).
OPERATE_BIN = "ops"

# The update phase's list bin, map bin and map key (as UPDATE_* in Rust's workload.rs).
UPDATE_LIST_BIN, UPDATE_MAP_BIN, UPDATE_MAP_KEY = "upd_list", "upd_map", "updates"


class RecordNotFound(Exception):
    """exists or delete found no record although aerobench wrote it."""


def written(results, ok):
    """Records a batch_write wrote: raises naming the first failure unless `ok(r)` holds for each."""
    results = list(results)
    bad = [r for r in results if not ok(r)]
    if bad:
        raise RuntimeError(f"{len(bad)} of {len(results)} records not written")
    return len(results)


class Unsupported(Exception):
    """An operation this client (at this version) does not have."""


def unsupported(module, what):
    """Raises Unsupported naming the client and its version."""
    name = getattr(module, "__name__", str(module)).replace("_", "-")
    version = getattr(module, "__version__", None) or module_source(module)[0]
    raise Unsupported(f"not supported by {name} {version}: {what}")


MISMATCH = "value mismatch (--verify): a value read differs from the value written"


class Mismatch(Exception):
    """A value read differs from the value written (--verify)."""


def bracketed(host):
    """An IPv6 address in brackets, as clients that join host and port into one string need."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class Adapter:
    """What every client adapter shares: the workload, how keys and bins are made, and the
    policies aerobench sets explicitly on every client."""

    def setup(self, spec):
        self.w = spec["workload"]
        self.prefix = self.w["key_prefix"]
        self.bins = bins_builder(self.w, spec.get("record_values"))
        # --read-bins: the bins get, batch_get and scan ask for (None: every bin).
        self.read_bins = self.w.get("read_bins")
        self.record_check = spec.get("record_check")
        self.ns, self.set = self.w["namespace"], self.w["set"]
        self.timeout = spec["timeout_ms"]
        self.max_conns = max(256, spec["in_flight"] + 16)
        # "explicit": the same timeouts, retries and pools for every client; "defaults": each
        # client's own, as most users run them.
        self.explicit = spec.get("policies", "explicit") == "explicit"
        # "records": a batch call's records are read inside the timed call, as an application
        # reads them; "none": the call stops at what the client returns (lazy handles unread);
        # "numpy": batch_get results become a NumPy structured array (see NumpyBatches).
        mode = spec.get("materialise", "records")
        self.materialise = mode != "none"
        self.numpy = NumpyBatches(self.w) if mode == "numpy" else None
        # Login for a server that requires one (`--user`); absent otherwise.
        self.user, self.password = spec.get("user"), spec.get("password")
        # TLS (`--tls-name`, `--tls-ca`, optional client certificate); absent otherwise.
        self.tls_name, self.tls_ca = spec.get("tls_name"), spec.get("tls_ca")
        self.tls_cert, self.tls_key = spec.get("tls_cert"), spec.get("tls_key")
        # --ttl: the records' time to live in seconds (None: the namespace default);
        # --services-alternate: connect through the server's alternate addresses.
        self.ttl = spec.get("ttl")
        self.alternate = bool(spec.get("services_alternate", False))
        self.meta = {"ttl": self.ttl} if self.ttl else None
        # --verify: every record read is compared with what was written for it.
        self.verify = bool(spec.get("verify", False))

    def checked(self, rec, i):
        """The record a get of record i's key read: compared with record i as written when
        --verify is on; handed back as a one-record tuple, freed after the timed call."""
        if self.verify:
            self.check_record(rec, i)
        return (rec,)

    def checked_rows(self, recs, first):
        """A batch's records, one per key in key order (None: not found): under --verify, row k
        holds record first + k as written, and every key's record was found. Returned as given."""
        if self.verify:
            recs = list(recs)
            for k, rec in enumerate(recs):
                self.check_record(rec, first + k)
        return recs

    def checked_scan(self, recs, digests=None):
        """Scanned records: under --verify each is tied to the record written under its digest
        (`digests`: one per record where the client keeps them beside the records, else each
        record's own key's) and compared with it. Returned as given."""
        if self.verify:
            recs = list(recs)
            if digests is None:
                digests = [digest_of(rec) for rec in recs]
            for rec, digest in zip(recs, digests):
                self.check_record(rec, None, digest)
        return recs

    def unread(self, res, keys, first, rows):
        """--materialise none: what a batch call hands back unread. Under --verify, the engine's
        count after the timed call reads it (`rows(res)`: the records in key order) and checks
        every row, so a call that returned wrong records still fails, outside the timing."""
        if not self.verify:
            return len(keys)
        return Unread(lambda: len(self.checked_rows(rows(res), first)))

    def check_record(self, rec, i, digest=None):
        """Raises Mismatch unless `rec` (a (key, meta, bins) tuple or an object with .bins) holds
        the values written for record i (None: the record written under `digest`), and only the
        bins asked for; the Rust side compares (the same comparison as the Rust columns')."""
        bins = None if rec is None else (rec[2] if isinstance(rec, tuple) else rec.bins)
        if not bins or not self.record_check(bins, i, digest):
            raise Mismatch(MISMATCH)

    def args_put(self, i):
        return (self.key(i), self.bins(i))

    def args_get(self, i):
        # The index goes with the key, so --verify compares what the key read with record i.
        return (self.key(i), i)

    def args_key(self, i):
        return (self.key(i),)

    def args_batch_get(self, j):
        # The batch's first record index goes with the keys: --verify checks row k by record
        # first + k.
        return ([self.key(k) for k in batch_range(self.w, j)], batch_range(self.w, j).start)

    def numpy_how(self):
        """How this client makes a NumPy batch result (the header and JSON show it): by default,
        the records it returns filled into the array as an application would."""
        return "numpy: records filled into a structured array by the application"

    def arrayed(self, records, first):
        """A batch's records (bins dicts, None when not found) filled into a structured array row
        by row, as an application without a NumPy API in its client does."""
        return self.numpy.checked(*self.numpy.fill(records), first, self.bins if self.verify else None)

    def args_scan(self, _):
        return ()

    # More operations (--ops): exists, touch, operate, delete, batch_write, and
    # read_modify_write (--workload read-modify-write). An adapter names what its client has;
    # one without an operation raises `unsupported`: the phase stops at that first call and the
    # cell says "not supported" and why.
    args_exists = args_touch = args_operate = args_delete = args_key

    def args_read_modify_write(self, i):
        return (self.key(i), self.bins(i), i)

    def args_batch_write(self, j):
        return ([(self.key(k), self.bins(k)) for k in batch_range(self.w, j)],)

    def args_update(self, i):
        """update: the key and the client's list and map operations (`update_ops(i)`, which an
        adapter defines): append i to the list bin, increment the map entry, read it back."""
        return (self.key(i), self.update_ops(i))

    def update_ops(self, i):
        raise Unsupported("not supported by this client: no list and map operations")

    def updated(self, bins):
        """What an update read back: under --verify, the list's size after the append equals the
        map entry read back (the two bins only change together), and is positive. The bins are
        handed back as one record, freed after the timed call."""
        if self.verify:
            def last(v):
                return v[-1] if isinstance(v, list) and v else v

            size = last(bins.get(UPDATE_LIST_BIN)) if isinstance(bins, dict) else None
            counter = last(bins.get(UPDATE_MAP_BIN)) if isinstance(bins, dict) else None
            if not (isinstance(size, int) and size > 0 and size == counter):
                raise Mismatch(MISMATCH)
        return (bins,)

    def operated(self, bins):
        """The counter an operate call read back: checked to be a positive int under --verify;
        the bins handed back as one record, freed after the timed call."""
        value = bins.get(OPERATE_BIN) if isinstance(bins, dict) else None
        # Clients that ask for every op's result get [None, n]: the increment's, then the read's.
        if isinstance(value, list) and value:
            value = value[-1]
        if self.verify and not (isinstance(value, int) and value > 0):
            raise Mismatch(MISMATCH)
        return (bins,)

    def describe_as(self, module):
        version, path = module_source(module)
        extra = {}
        if self.numpy is not None:
            extra["materialise"] = self.numpy_how()
        if self.ttl:
            extra["ttl_secs"] = str(self.ttl)
        if self.alternate:
            extra["use_services_alternate"] = "true"
        if not self.explicit:
            return {"version": version, "path": path, "policies": dict({"policies": "client defaults"}, **extra)}
        policies = {
            "total_timeout_ms": str(self.timeout),
            "socket_timeout_ms": str(self.timeout),
            "max_retries": "0",
            "max_conns_per_node": str(self.max_conns),
            "scan_total_timeout_ms": "none",
            "batch_concurrency": "client default",
            **extra,
        }
        return {"version": version, "path": path, "policies": policies}


def numeric_fields(w):
    """The record's int and float bins as NumPy fields, in the record's order: int64 and
    float64, the types the server stores (so the values are exact)."""
    fields = []
    for spec in w["bins"]:
        if "Value" in spec:
            # A --record bin: only scalar ints and floats become fields.
            name, value = spec["Value"]
            numpy_type = {"Int": "<i8", "Float": "<f8"}.get(value) if isinstance(value, str) else None
            if numpy_type:
                fields.append((name, numpy_type))
            continue
        for kind, numpy_type in (("Int", "<i8"), ("Double", "<f8")):
            if kind in spec:
                name = spec[kind]
                fields.append((name[0] if isinstance(name, list) else name, numpy_type))
    read_bins = w.get("read_bins")
    if read_bins:
        # --read-bins: the array holds the bins asked for.
        fields = [f for f in fields if f[0] in read_bins]
    return fields


class Arrayed:
    """A NumPy batch result handed back by a timed call: the array, and the rows found."""

    __slots__ = ("array", "found")

    def __init__(self, array, found):
        self.array, self.found = array, found


class NumpyBatches:
    """--materialise numpy: the dtype of a batch result (the record's int and float bins), how
    an application fills one by hand, and the --verify check of its rows."""

    def __init__(self, w):
        import numpy

        self.np = numpy
        self.w = w
        self.dtype = numpy.dtype(numeric_fields(w))
        self.names = self.dtype.names

    def fill(self, records):
        """`records`: bins dicts (None where not found) in key order. Returns (array, found)."""
        array = self.np.zeros(len(records), dtype=self.dtype)
        names, found = self.names, 0
        for k, bins in enumerate(records):
            if bins is not None:
                array[k] = tuple([bins[n] for n in names])
                found += 1
        return array, found

    def checked(self, array, found, first, bins):
        """With `bins` (i -> the bins written for record i; --verify), every row holds the values
        written for its record (batch row k is record first + k) and every record was found.
        Handed back whole, freed after the call."""
        if bins is not None:
            n = len(array)
            if found != n or array.dtype != self.dtype:
                raise Mismatch(MISMATCH)
            names = self.names
            want = self.np.array([tuple([bins(first + k)[m] for m in names]) for k in range(n)], dtype=self.dtype)
            if not self.np.array_equal(array, want):
                raise Mismatch(MISMATCH)
        return Arrayed(array, found)


def batch_range(w, j):
    start = j * w["batch_size"]
    return range(start, min(start + w["batch_size"], w["count"]))


def count(result):
    """Records a call returned: an int as is, else the records in a list or tuple that are not
    None. Untimed: the records are freed after it. An unread batch (--materialise none under
    --verify) is checked here, and raises Mismatch when it is wrong: the call then fails."""
    if isinstance(result, int):
        return result
    if isinstance(result, Arrayed):
        return result.found
    if isinstance(result, Unread):
        return result.check()
    try:
        return sum(1 for r in result if r is not None)
    except TypeError:  # a call that hands back no records moved one
        return 1


class Unread:
    """A batch result a timed call left unread (--materialise none), with the --verify check the
    engine runs on it after the call's end was taken."""

    __slots__ = ("check",)

    def __init__(self, check):
        self.check = check


def key_digest(key):
    """A key's digest as bytes: a key tuple's fourth item, or a key object's `digest` (bytes, or
    hex text in aerospike-native); None when the client gives none."""
    if key is None:
        return None
    digest = key[3] if isinstance(key, tuple) and len(key) > 3 else getattr(key, "digest", None)
    if isinstance(digest, str):
        return bytes.fromhex(digest)
    return None if digest is None else bytes(digest)


def digest_of(rec):
    """The digest a scanned record came back with: from its key (a (key, meta, bins) tuple's
    first item, or an object's `key`)."""
    if rec is None:
        return None
    return key_digest(rec[0] if isinstance(rec, tuple) else getattr(rec, "key", None))


REASON_LIMIT = 120


def reason(exc):
    """What a failed call reports: `Class (code N): first line of the message`, whitespace
    collapsed and cut at REASON_LIMIT characters, so calls that fail alike group together. An
    operation the client does not have is its own words, `not supported by <client> <version>: …`:
    the Rust side stops the phase at the first one and shows the cell as not supported."""
    if isinstance(exc, Unsupported):
        text = " ".join(str(exc).split())
        return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1] + "…"
    code = getattr(exc, "code", None)
    if code is None and exc.args and isinstance(exc.args[0], int):
        code = exc.args[0]
    name = type(exc).__name__
    head = f"{name} (code {code})" if code is not None else name
    message = getattr(exc, "msg", None)
    if message is None and exc.args and isinstance(exc.args[0], int):
        message = " ".join(str(a) for a in exc.args[1:])
    elif message is None:
        message = str(exc) if exc.args else ""
    lines = [line for line in str(message).splitlines() if line.strip()]
    text = f"{head}: {' '.join(lines[0].split())}" if lines else head
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1] + "…"


# How often the loop-gap sampler takes a turn, in seconds.
SAMPLE_EVERY = 0.002


async def sample_loop_gaps(rec):
    """Every SAMPLE_EVERY, yields to the event loop (`sleep(0)`) and reports how long the loop took
    to come back: what any other task on the loop waits for its turn while the client's calls
    run. Between samples it sleeps on a timer rather than yielding again at once: a task that
    only yields keeps the loop from ever waiting in select, holding the GIL the client's own
    threads need (that halved aerospike-py-async's get throughput here; sampling every 2 ms
    left the 2 ms stub's latency and ops/s unchanged within noise)."""
    now, gap, sleep = rec.now, rec.gap, asyncio.sleep
    while True:
        asked = now()
        await sleep(0)
        gap(asked, now())
        await sleep(SAMPLE_EVERY)


class DueWaits:
    """Open loop (--rate): a coroutine waits for its call's due time on a future that a Rust thread
    resolves shortly before that time, by writing the coroutine's number to a descriptor the loop
    watches (the loop's own timers fire about a millisecond late); the coroutine yields to the
    loop for the rest. Where the recorder has no waker, the loop's timer serves."""

    def __init__(self, rec):
        self.rec = rec
        self.fd = None
        self.started = False
        self.waiting = {}
        self.rest = b""

    def start(self):
        """The waker starts with the first wait, so a closed loop starts none."""
        self.started = True
        self.fd = self.rec.waker_fd()
        if self.fd is not None:
            self.loop = asyncio.get_running_loop()
            self.loop.add_reader(self.fd, self.woken)

    def woken(self):
        import os

        try:
            data = self.rest + os.read(self.fd, 1 << 16)
        except (BlockingIOError, InterruptedError):
            return
        whole = len(data) - len(data) % 4
        self.rest = data[whole:]
        for k in memoryview(data[:whole]).cast("I"):
            fut = self.waiting.pop(k, None)
            if fut is not None and not fut.done():
                fut.set_result(None)

    async def until(self, k, due, wait):
        if not self.started:
            self.start()
        if self.fd is None:
            await asyncio.sleep(wait)
            return
        fut = self.loop.create_future()
        self.waiting[k] = fut
        self.rec.wake_at(k, due)
        await fut
        # Woken a little early (by as long as waking takes): yield to the loop until due.
        rec = self.rec
        rec.arrived(k)
        while rec.now() < due and not rec.stopping():
            await asyncio.sleep(0)

    def close(self):
        if self.fd is not None:
            self.loop.remove_reader(self.fd)
            self.rec.close_waker()


async def run_async(adapter, op, calls, in_flight, rec):
    """`in_flight` coroutines take calls from the recorder until it says stop, beside a task that
    samples the loop's gaps (cancelled as soon as the calls are done). In an open loop (--rate)
    a call comes with when it falls due: the coroutine waits until then (DueWaits), and hands the
    due time back with the call's result. In a read/update mix a call may name another operation
    (an update: "put"), reported back with its result. What a call returned is let go of after
    its end was read, as the engine does for every column."""
    calls_of = {None: (getattr(adapter, op), getattr(adapter, "args_" + op)), "put": (adapter.put, adapter.args_put)}
    waits = None

    async def worker(k):
        while True:
            ticket = rec.ticket(k)
            if ticket is None:
                return
            i, due, wait, kind = ticket
            call, prepare = calls_of[kind]
            try:
                args = prepare(i)
            except Exception as e:
                rec.fail(k, rec.now(), reason(e), due, kind)
                continue
            if wait > 0:
                await waits.until(k, due, wait)
                if rec.over():
                    return
            started = rec.now()
            try:
                result = await call(*args)
            except Exception as e:  # every failure is a result, recorded by reason
                rec.fail(k, started, reason(e), due, kind)
            else:
                finished = rec.now()
                try:
                    n = count(result)  # untimed; may check an unread batch (--verify)
                    if asyncio.iscoroutine(n):  # an async client's unread batch, read here
                        n = await n
                except Mismatch as e:
                    rec.fail(k, started, reason(e), due, kind)
                else:
                    rec.done(k, started, finished, n, due, kind)
                result = None

    waits = DueWaits(rec)
    sampler = asyncio.ensure_future(sample_loop_gaps(rec))
    try:
        await asyncio.gather(*(worker(k) for k in range(max(1, min(in_flight, calls)))))
    finally:
        sampler.cancel()
        try:
            await sampler
        except asyncio.CancelledError:
            pass
        waits.close()


def new_event_loop(kind):
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


class AsyncRunner:
    """Keeps one event loop for a column's whole life: connect, every phase, close."""

    def __init__(self, module, spec):
        self.loop = new_event_loop(spec["event_loop"])
        asyncio.set_event_loop(self.loop)
        self.adapter = self.loop.run_until_complete(module.open_async(spec))

    def run_phase(self, op, calls, in_flight, rec):
        self.loop.run_until_complete(run_async(self.adapter, op, calls, in_flight, rec))

    def describe(self):
        d = self.adapter.describe()
        loop_type = type(self.loop)
        d["policies"]["event_loop"] = f"{loop_type.__module__}.{loop_type.__name__}"
        return d

    def close(self):
        try:
            self.loop.run_until_complete(self.adapter.close())
        finally:
            self.loop.close()


def watch_gc():
    """Reports each garbage collection's start and stop to Rust, which times it."""
    import gc

    import aerobench_native

    gc.callbacks.append(lambda phase, _info: aerobench_native.gc_event(phase))


def open_column(module, spec):
    """The object the Rust driver calls: an adapter (sync) or an AsyncRunner (async)."""
    watch_gc()
    if spec["asynchronous"]:
        return AsyncRunner(module, spec)
    return module.open_sync(spec)


def stage_timers(handle, on):
    """Switches the client's own stage timers on or off (`--stages`) and returns its metrics text
    (Prometheus), read after switching on or before switching off; None when the adapter's client
    has none. The Rust side parses and subtracts the readings."""
    adapter = getattr(handle, "adapter", handle)
    switch = getattr(adapter, "stage_timers", None)
    return None if switch is None else switch(on)


def module_source(module):
    """Where a client package was loaded from, and its version."""
    import importlib.metadata
    import os

    path = os.path.dirname(getattr(module, "__file__", "") or "")
    version = getattr(module, "__version__", None)
    if not version:
        for dist in ("aerospike-py", "aerospike", "aerospike-native"):
            try:
                files = importlib.metadata.distribution(dist).files or []
            except importlib.metadata.PackageNotFoundError:
                continue
            if any(str(f).startswith(module.__name__.split(".")[0]) for f in files):
                version = importlib.metadata.version(dist)
                break
    return str(version or "unknown"), path
