"""aerospike-py (Rust core, PyO3): sync `Client` and `AsyncClient`, policies set per call."""

import aerospike_py

from aerobench_shim import Adapter, bracketed


def records(res):
    """The records a batch_read returned, read out (None for a key not found). 0.12 and later
    return an object whose `batch_records` hold one entry per key; 0.7 and 0.9 a dict of the
    records found, keyed by user key."""
    batch = getattr(res, "batch_records", None)
    if batch is not None:
        return [r.record for r in batch]
    if isinstance(res, dict):
        return list(res.values())
    version = getattr(aerospike_py, "__version__", "?")
    raise NotImplementedError(f"not supported by aerospike-py {version}: batch_read returned {type(res).__name__}")


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

    def describe(self):
        return self.describe_as(aerospike_py)


class Sync(_Common):
    def __init__(self, spec):
        self._init(spec)
        self.c = aerospike_py.client(self.config).connect(self.user, self.password)

    def put(self, key, bins):
        self.c.put(key, bins, meta=self.meta, policy=self.policy)
        return 1

    def get(self, key):
        return self.checked(self.c.get(key, policy=self.policy))

    def batch_get(self, keys):
        res = self.c.batch_read(keys, policy=self.policy)
        return self.checked_all(records(res)) if self.materialise else len(keys)

    def scan(self):
        return len(self.checked_all(self.c.query(self.ns, self.set).results(policy=self.scan_policy)))

    def close(self):
        self.c.close()


class Async(_Common):
    async def connect(self, spec):
        self._init(spec)
        self.c = aerospike_py.AsyncClient(self.config)
        await self.c.connect(self.user, self.password)
        return self

    async def put(self, key, bins):
        await self.c.put(key, bins, meta=self.meta, policy=self.policy)
        return 1

    async def get(self, key):
        return self.checked(await self.c.get(key, policy=self.policy))

    async def batch_get(self, keys):
        res = await self.c.batch_read(keys, policy=self.policy)
        return self.checked_all(records(res)) if self.materialise else len(keys)

    async def scan(self):
        return len(self.checked_all(await self.c.query(self.ns, self.set).results(policy=self.scan_policy)))

    async def close(self):
        await self.c.close()


def open_sync(spec):
    return Sync(spec)


async def open_async(spec):
    return await Async().connect(spec)
