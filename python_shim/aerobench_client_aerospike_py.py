"""aerospike-py (Rust core, PyO3): sync `Client` and `AsyncClient`, policies set per call."""

import aerospike_py

from aerobench_shim import Adapter, batch_range, bracketed


def found(res):
    """Records a batch_read found. 0.12 and later return an object whose `batch_records` hold one
    entry per key; 0.7 and 0.9 a dict of the records found, keyed by user key."""
    records = getattr(res, "batch_records", None)
    if records is not None:
        return sum(1 for r in records if r.record is not None)
    if isinstance(res, dict):
        return len(res)
    version = getattr(aerospike_py, "__version__", "?")
    raise NotImplementedError(f"not supported by aerospike-py {version}: batch_read returned {type(res).__name__}")


class _Common(Adapter):
    def _init(self, spec):
        self.setup(spec)
        t = self.timeout
        self.policy = {"total_timeout": t, "socket_timeout": t, "max_retries": 0}
        self.scan_policy = {"total_timeout": 0, "socket_timeout": t, "max_retries": 0}
        self.config = {"hosts": [(bracketed(spec["host"]), spec["port"])], "timeout": min(t, 10000), "max_conns_per_node": self.max_conns}

    def key(self, i):
        return (self.ns, self.set, self.prefix + str(i))

    def describe(self):
        return self.describe_as(aerospike_py)


class Sync(_Common):
    def __init__(self, spec):
        self._init(spec)
        self.c = aerospike_py.client(self.config).connect()

    def put(self, i):
        self.c.put(self.key(i), self.bins(i), policy=self.policy)
        return 1

    def get(self, i):
        self.c.get(self.key(i), policy=self.policy)
        return 1

    def batch_get(self, j):
        return found(self.c.batch_read([self.key(k) for k in batch_range(self.w, j)], policy=self.policy))

    def scan(self, _):
        return len(self.c.query(self.ns, self.set).results(policy=self.scan_policy))

    def close(self):
        self.c.close()


class Async(_Common):
    async def connect(self, spec):
        self._init(spec)
        self.c = aerospike_py.AsyncClient(self.config)
        await self.c.connect()
        return self

    async def put(self, i):
        await self.c.put(self.key(i), self.bins(i), policy=self.policy)
        return 1

    async def get(self, i):
        await self.c.get(self.key(i), policy=self.policy)
        return 1

    async def batch_get(self, j):
        return found(await self.c.batch_read([self.key(k) for k in batch_range(self.w, j)], policy=self.policy))

    async def scan(self, _):
        return len(await self.c.query(self.ns, self.set).results(policy=self.scan_policy))

    async def close(self):
        await self.c.close()


def open_sync(spec):
    return Sync(spec)


async def open_async(spec):
    return await Async().connect(spec)
