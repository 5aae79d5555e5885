"""aerospike-py (Rust core, PyO3): sync `Client` and `AsyncClient`, policies set per call."""

import aerospike_py

from aerobench_shim import batch_range, bins_builder, module_source


def _setup(spec):
    t = spec["timeout_ms"]
    policy = {"total_timeout": t, "socket_timeout": t, "max_retries": 0}
    scan_policy = {"total_timeout": 0, "socket_timeout": t, "max_retries": 0}
    config = {
        "hosts": [(spec["host"], spec["port"])],
        "timeout": min(t, 10000),
        "max_conns_per_node": max(256, spec["in_flight"] + 16),
    }
    return config, policy, scan_policy


class _Common:
    def _init(self, spec):
        self.w = spec["workload"]
        self.prefix = self.w["key_prefix"]
        self.bins = bins_builder(self.w)
        self.ns, self.set = self.w["namespace"], self.w["set"]
        self.config, self.policy, self.scan_policy = _setup(spec)

    def key(self, i):
        return (self.ns, self.set, self.prefix + str(i))

    def describe(self):
        version, path = module_source(aerospike_py)
        policies = {
            "total_timeout_ms": str(self.policy["total_timeout"]),
            "socket_timeout_ms": str(self.policy["socket_timeout"]),
            "max_retries": "0",
            "max_conns_per_node": str(self.config["max_conns_per_node"]),
            "scan_total_timeout_ms": "none",
            "batch_concurrency": "client default",
        }
        return {"version": version, "path": path, "policies": policies}


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
        res = self.c.batch_read([self.key(k) for k in batch_range(self.w, j)], policy=self.policy)
        return sum(1 for r in res.batch_records if r.record is not None)

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
        res = await self.c.batch_read([self.key(k) for k in batch_range(self.w, j)], policy=self.policy)
        return sum(1 for r in res.batch_records if r.record is not None)

    async def scan(self, _):
        return len(await self.c.query(self.ns, self.set).results(policy=self.scan_policy))

    async def close(self):
        await self.c.close()


def open_sync(spec):
    return Sync(spec)


async def open_async(spec):
    return await Async().connect(spec)
