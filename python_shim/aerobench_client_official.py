"""The official `aerospike` package (C client extension), policies set in the config. It has no
asyncio API: an asyncio service calls it through `loop.run_in_executor`, and so does the async
column here (a thread pool as large as the calls in flight; the client releases the GIL while it
waits on the network)."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import aerospike

from aerobench_shim import Adapter


class Sync(Adapter):
    def __init__(self, spec):
        self.setup(spec)
        t = self.timeout
        base = {"total_timeout": t, "socket_timeout": t, "max_retries": 0}
        self.config = {
            "hosts": [(spec["host"], spec["port"])],
            "max_conns_per_node": self.max_conns,
            "policies": {
                "read": dict(base),
                "write": dict(base),
                "batch": dict(base),
                "query": dict(base, total_timeout=0),
                "scan": dict(base, total_timeout=0),
            },
        }
        if not self.explicit:
            self.config = {"hosts": self.config["hosts"]}
        if self.alternate:
            self.config["use_services_alternate"] = True
        if self.user is not None:
            self.config.update(user=self.user, password=self.password)
        if self.tls_name is not None:
            tls = {"enable": True, "cafile": self.tls_ca}
            if self.tls_cert is not None:
                tls.update(certfile=self.tls_cert, keyfile=self.tls_key)
            self.config["tls"] = tls
            self.config["hosts"] = [(spec["host"], spec["port"], self.tls_name)]
        self.c = aerospike.client(self.config).connect()

    def key(self, i):
        return (self.ns, self.set, self.prefix + str(i))

    def describe(self):
        return self.describe_as(aerospike)

    def put(self, key, bins):
        self.c.put(key, bins, meta=self.meta)
        return 1

    def get(self, key):
        return self.checked(self.c.get(key))

    def batch_get(self, keys):
        res = self.c.batch_read(keys)
        return self.checked_all([r.record for r in res.batch_records]) if self.materialise else len(keys)

    def scan(self):
        return len(self.checked_all(self.c.query(self.ns, self.set).results()))

    def close(self):
        self.c.close()


class Executor(Sync):
    """Every call through `loop.run_in_executor` on a pool of `in_flight` threads."""

    async def connect(self, spec):
        Sync.__init__(self, spec)
        self.workers = max(1, spec["in_flight"])
        self.pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="aerospike-call")
        self.loop = asyncio.get_running_loop()
        return self

    def describe(self):
        d = Sync.describe(self)
        d["policies"]["executor"] = f"loop.run_in_executor, ThreadPoolExecutor({self.workers})"
        return d

    async def put(self, key, bins):
        return await self.loop.run_in_executor(self.pool, Sync.put, self, key, bins)

    async def get(self, key):
        return await self.loop.run_in_executor(self.pool, Sync.get, self, key)

    async def batch_get(self, keys):
        return await self.loop.run_in_executor(self.pool, Sync.batch_get, self, keys)

    async def scan(self):
        return await self.loop.run_in_executor(self.pool, Sync.scan, self)

    async def close(self):
        self.pool.shutdown(wait=True)
        Sync.close(self)


def open_sync(spec):
    return Sync(spec)


async def open_async(spec):
    return await Executor.__new__(Executor).connect(spec)
