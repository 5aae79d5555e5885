"""aerospike-py (Rust core, PyO3): sync `Client` and `AsyncClient`, policies set per call."""

import aerospike_py

from aerobench_shim import (
    OPERATE_BIN,
    UPDATE_LIST_BIN,
    UPDATE_MAP_BIN,
    UPDATE_MAP_KEY,
    Adapter,
    RecordNotFound,
    bracketed,
    unsupported,
    written,
)


def operate_ops():
    """operate: increment the counter bin, then read it back (looked up when first used, so a
    version without these constants still runs every other operation)."""
    if not hasattr(aerospike_py, "OPERATOR_INCR") or not hasattr(aerospike_py, "OPERATOR_READ"):
        unsupported(aerospike_py, "no OPERATOR_INCR/OPERATOR_READ")
    return [
        {"op": aerospike_py.OPERATOR_INCR, "bin": OPERATE_BIN, "val": 1},
        {"op": aerospike_py.OPERATOR_READ, "bin": OPERATE_BIN, "val": None},
    ]


def bins_of(rec):
    return rec[2] if isinstance(rec, tuple) else rec.bins


def batch_ok(r):
    return getattr(r, "result", 0) in (0, None)


def found(res):
    if getattr(res, "meta", None) is None:
        raise RecordNotFound("exists answered no record")
    return 1


def records(res, keys):
    """The records a batch_read of `keys` returned, read out in key order (None for a key not
    found). 0.12 and later return an object whose `batch_records` hold one entry per key; 0.7
    and 0.9 a dict of the records found, keyed by user key."""
    batch = getattr(res, "batch_records", None)
    if batch is not None:
        return [r.record for r in batch]
    if isinstance(res, dict):
        return [res.get(key[2]) for key in keys]
    version = getattr(aerospike_py, "__version__", "?")
    raise NotImplementedError(f"not supported by aerospike-py {version}: batch_read returned {type(res).__name__}")


def numpy_api(batch_read):
    """aerospike-py's own NumPy batch API at this version: batch_read(..., _dtype=) (up to 0.11),
    LazyBatchRecords.to_numpy(dtype) (0.12 and later), or None."""
    import inspect

    try:
        if "_dtype" in inspect.signature(batch_read).parameters:
            return "_dtype"
    except (TypeError, ValueError):
        pass
    lazy = getattr(aerospike_py, "LazyBatchRecords", None)
    return "to_numpy" if lazy is not None and hasattr(lazy, "to_numpy") else None


class _Common(Adapter):
    def _init(self, spec):
        self.setup(spec)
        if self.tls_name is not None:
            version = getattr(aerospike_py, "__version__", "?")
            raise NotImplementedError(f"aerospike-py {version} has no TLS settings: this column cannot run against a TLS server")
        t = self.timeout
        self.policy = {"total_timeout": t, "socket_timeout": t, "max_retries": 0}
        self.scan_policy = {"total_timeout": 0, "socket_timeout": t, "max_retries": 0}
        self.config = {"hosts": [(bracketed(spec["host"]), spec["port"])], "timeout": min(t, 10000), "max_conns_per_node": self.max_conns}
        if not self.explicit:
            self.policy = self.scan_policy = None
            self.config = {"hosts": self.config["hosts"]}
        if self.alternate:
            self.config["use_services_alternate"] = True

    def key(self, i):
        return (self.ns, self.set, self.prefix + str(i))

    def args_operate(self, i):
        return (self.key(i), operate_ops())

    def update_ops(self, i):
        try:
            from aerospike_py import list_operations as lists, map_operations as maps
        except ImportError as e:
            unsupported(aerospike_py, f"no list_operations/map_operations ({e})")
        return [
            lists.list_append(UPDATE_LIST_BIN, i),
            maps.map_increment(UPDATE_MAP_BIN, UPDATE_MAP_KEY, 1),
            maps.map_get_by_key(UPDATE_MAP_BIN, UPDATE_MAP_KEY, aerospike_py.MAP_RETURN_VALUE),
        ]

    def query(self):
        """A query of the whole set, naming the bins asked for (--read-bins)."""
        q = self.c.query(self.ns, self.set)
        if self.read_bins:
            q.select(*self.read_bins)
        return q

    def describe(self):
        return self.describe_as(aerospike_py)

    def stage_timers(self, on):
        """aerospike-py's internal stage timers (`--stages`): switched on or off, with its metrics
        text read after switching on or before switching off; None for a version without them."""
        switch = getattr(aerospike_py, "set_internal_stage_metrics_enabled", None)
        if switch is None or not hasattr(aerospike_py, "get_metrics"):
            return None
        if not on:
            text = aerospike_py.get_metrics()
            switch(False)
            return text
        # The stage histogram is one of the client's metrics: they must be on too (the default).
        if hasattr(aerospike_py, "set_metrics_enabled"):
            aerospike_py.set_metrics_enabled(True)
        switch(True)
        return aerospike_py.get_metrics()

    def numpy_how(self):
        return {
            "_dtype": "numpy: the client's own API, batch_read(keys, policy=…, _dtype=dtype)",
            "to_numpy": "numpy: the client's own API, batch_read(keys, policy=…).to_numpy(dtype)",
        }.get(self.np_api, "numpy: not supported by this aerospike-py (no batch_read _dtype, no to_numpy)")

    def numpy_call(self):
        """The keyword arguments of a NumPy batch_read, and whether to call to_numpy on its result."""
        if self.np_api is None:
            unsupported(aerospike_py, "--materialise numpy needs batch_read(_dtype=) or LazyBatchRecords.to_numpy")
        if self.np_api == "_dtype":
            return {"policy": self.policy, "_dtype": self.numpy.dtype}, False
        return {"policy": self.policy}, True

    def from_numpy(self, nb, first):
        """The client's NumpyBatchRecords: its array, and the rows found (result code 0)."""
        found = int((nb.result_codes == 0).sum())
        return self.numpy.checked(nb.batch_records, found, first, self.bins if self.verify else None)


class Sync(_Common):
    def __init__(self, spec):
        self._init(spec)
        self.c = aerospike_py.client(self.config).connect(self.user, self.password)
        # Looked up only for --materialise numpy: a client without batch_read runs the rest.
        self.np_api = numpy_api(getattr(self.c, "batch_read", None)) if self.numpy is not None else None

    def put(self, key, bins):
        self.c.put(key, bins, meta=self.meta, policy=self.policy)
        return 1

    def get(self, key, i):
        if self.read_bins:
            return self.checked(self.c.select(key, self.read_bins, policy=self.policy), i)
        return self.checked(self.c.get(key, policy=self.policy), i)

    def batch_get(self, keys, first):
        if self.numpy is not None:
            kwargs, lazy = self.numpy_call()
            res = self.c.batch_read(keys, self.read_bins, **kwargs) if self.read_bins else self.c.batch_read(keys, **kwargs)
            return self.from_numpy(res.to_numpy(self.numpy.dtype) if lazy else res, first)
        res = self.c.batch_read(keys, self.read_bins, policy=self.policy) if self.read_bins else self.c.batch_read(keys, policy=self.policy)
        if not self.materialise:
            return self.unread(res, keys, first, lambda r: records(r, keys))
        return self.checked_rows(records(res, keys), first)

    def scan(self):
        return self.checked_scan(self.query().results(policy=self.scan_policy))

    def exists(self, key):
        return found(self.c.exists(key, policy=self.policy))

    def touch(self, key):
        self.c.touch(key, val=self.ttl or 0, policy=self.policy)
        return 1

    def operate(self, key, ops):
        return self.operated(bins_of(self.c.operate(key, ops, policy=self.policy)))

    def update(self, key, ops):
        return self.updated(bins_of(self.c.operate(key, ops, policy=self.policy)))

    def delete(self, key):
        self.c.remove(key, policy=self.policy)
        return 1

    def batch_write(self, records):
        res = self.c.batch_write(records, policy=self.policy)
        return written(getattr(res, "batch_records", []) or [None] * len(records), batch_ok)

    def read_modify_write(self, key, bins, i):
        self.get(key, i)
        return self.put(key, bins)

    def close(self):
        self.c.close()


class Async(_Common):
    async def connect(self, spec):
        self._init(spec)
        self.c = aerospike_py.AsyncClient(self.config)
        await self.c.connect(self.user, self.password)
        # Looked up only for --materialise numpy: a client without batch_read runs the rest.
        self.np_api = numpy_api(getattr(self.c, "batch_read", None)) if self.numpy is not None else None
        return self

    async def put(self, key, bins):
        await self.c.put(key, bins, meta=self.meta, policy=self.policy)
        return 1

    async def get(self, key, i):
        if self.read_bins:
            return self.checked(await self.c.select(key, self.read_bins, policy=self.policy), i)
        return self.checked(await self.c.get(key, policy=self.policy), i)

    async def batch_get(self, keys, first):
        if self.numpy is not None:
            kwargs, lazy = self.numpy_call()
            res = await (self.c.batch_read(keys, self.read_bins, **kwargs) if self.read_bins else self.c.batch_read(keys, **kwargs))
            return self.from_numpy(res.to_numpy(self.numpy.dtype) if lazy else res, first)
        res = await (self.c.batch_read(keys, self.read_bins, policy=self.policy) if self.read_bins else self.c.batch_read(keys, policy=self.policy))
        if not self.materialise:
            return self.unread(res, keys, first, lambda r: records(r, keys))
        return self.checked_rows(records(res, keys), first)

    async def scan(self):
        return self.checked_scan(await self.query().results(policy=self.scan_policy))

    async def exists(self, key):
        return found(await self.c.exists(key, policy=self.policy))

    async def touch(self, key):
        await self.c.touch(key, val=self.ttl or 0, policy=self.policy)
        return 1

    async def operate(self, key, ops):
        return self.operated(bins_of(await self.c.operate(key, ops, policy=self.policy)))

    async def update(self, key, ops):
        return self.updated(bins_of(await self.c.operate(key, ops, policy=self.policy)))

    async def delete(self, key):
        await self.c.remove(key, policy=self.policy)
        return 1

    async def batch_write(self, records):
        res = await self.c.batch_write(records, policy=self.policy)
        return written(getattr(res, "batch_records", []) or [None] * len(records), batch_ok)

    async def read_modify_write(self, key, bins, i):
        await self.get(key, i)
        return await self.put(key, bins)

    async def close(self):
        await self.c.close()


def open_sync(spec):
    return Sync(spec)


async def open_async(spec):
    return await Async().connect(spec)
