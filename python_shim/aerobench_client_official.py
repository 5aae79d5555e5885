"""The official `aerospike` package (C client extension): sync only, policies set in the config."""

import aerospike

from aerobench_shim import Adapter, batch_range


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
        self.c = aerospike.client(self.config).connect()

    def key(self, i):
        return (self.ns, self.set, self.prefix + str(i))

    def describe(self):
        return self.describe_as(aerospike)

    def put(self, i):
        self.c.put(self.key(i), self.bins(i))
        return 1

    def get(self, i):
        self.c.get(self.key(i))
        return 1

    def batch_get(self, j):
        res = self.c.batch_read([self.key(k) for k in batch_range(self.w, j)])
        return sum(1 for r in res.batch_records if r.record is not None)

    def scan(self, _):
        return len(self.c.query(self.ns, self.set).results())

    def close(self):
        self.c.close()


def open_sync(spec):
    return Sync(spec)


async def open_async(spec):
    raise RuntimeError("the official aerospike client has no asyncio API")
