"""The official `aerospike` package (C client extension): sync only, policies set in the config."""

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
        self.c = aerospike.client(self.config).connect()

    def key(self, i):
        return (self.ns, self.set, self.prefix + str(i))

    def describe(self):
        return self.describe_as(aerospike)

    def put(self, key, bins):
        self.c.put(key, bins)
        return 1

    def get(self, key):
        self.c.get(key)
        return 1

    def batch_get(self, keys):
        return [r.record for r in self.c.batch_read(keys).batch_records]

    def scan(self):
        return len(self.c.query(self.ns, self.set).results())

    def close(self):
        self.c.close()


def open_sync(spec):
    return Sync(spec)


async def open_async(spec):
    raise RuntimeError("the official aerospike client has no asyncio API")
