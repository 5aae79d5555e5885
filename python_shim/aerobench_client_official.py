"""The official `aerospike` package (C client extension), policies set in the config. It has no
asyncio API: an asyncio service calls it through `loop.run_in_executor`, and so does the async
column here (a thread pool as large as the calls in flight; the client releases the GIL while it
waits on the network)."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import aerospike

from aerobench_shim import (
    OPERATE_BIN,
    UPDATE_LIST_BIN,
    UPDATE_MAP_BIN,
    UPDATE_MAP_KEY,
    Adapter,
    RecordNotFound,
    unsupported,
    written,
)


def helpers():
    """aerospike_helpers' operations and batch records, imported when first used (a build
    without them still runs every other operation)."""
    try:
        from aerospike_helpers.batch.records import BatchRecords, Write
        from aerospike_helpers.operations import operations
    except ImportError as e:
        unsupported(aerospike, f"no aerospike_helpers ({e})")
    return operations, BatchRecords, Write


def rows(res):
    """A batch_read's records in key order ((key, meta, bins), None for a key not found)."""
    return [r.record for r in res.batch_records]


def preload_batch_records():
    """Imports the module the client's batch_read imports on its first call, at start-up: when
    several threads make their first batch_read at once, that import races inside the client's C
    code and the process can die of SIGSEGV (a few runs in a hundred; docs/client-crashes.md)."""
    try:
        import aerospike_helpers.batch.records  # noqa: F401
    except ImportError:
        pass  # a build without aerospike_helpers: batch_read has nothing to import either


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
                "operate": dict(base),
                "remove": dict(base),
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
        preload_batch_records()

    def key(self, i):
        return (self.ns, self.set, self.prefix + str(i))

    def describe(self):
        return self.describe_as(aerospike)

    def put(self, key, bins):
        self.c.put(key, bins, meta=self.meta)
        return 1

    def get(self, key, i):
        if self.read_bins:
            return self.checked(self.c.select(key, self.read_bins), i)
        return self.checked(self.c.get(key), i)

    def batch_get(self, keys, first):
        res = self.c.batch_read(keys, self.read_bins) if self.read_bins else self.c.batch_read(keys)
        if self.numpy is not None:
            # No NumPy API in this client: the application fills the array from the records.
            return self.arrayed([r.record[2] if r.record else None for r in res.batch_records], first)
        if not self.materialise:
            return self.unread(res, keys, first, rows)
        return self.checked_rows(rows(res), first)

    def scan(self):
        q = self.c.query(self.ns, self.set)
        if self.read_bins:
            q.select(*self.read_bins)
        return self.checked_scan(q.results())

    def args_batch_write(self, j):
        (records,) = Adapter.args_batch_write(self, j)
        operations, BatchRecords, Write = helpers()
        meta = self.meta or {}
        return (BatchRecords([Write(k, [operations.write(n, v) for n, v in b.items()], meta=meta) for k, b in records]),)

    def args_operate(self, i):
        operations = helpers()[0]
        return (self.key(i), [operations.increment(OPERATE_BIN, 1), operations.read(OPERATE_BIN)])

    def update_ops(self, i):
        try:
            from aerospike_helpers.operations import list_operations as lists, map_operations as maps
        except ImportError as e:
            unsupported(aerospike, f"no aerospike_helpers list/map operations ({e})")
        return [
            lists.list_append(UPDATE_LIST_BIN, i),
            maps.map_increment(UPDATE_MAP_BIN, UPDATE_MAP_KEY, 1),
            maps.map_get_by_key(UPDATE_MAP_BIN, UPDATE_MAP_KEY, aerospike.MAP_RETURN_VALUE),
        ]

    def update(self, key, ops):
        return self.updated(self.c.operate(key, ops)[2])

    def exists(self, key):
        if self.c.exists(key)[1] is None:
            raise RecordNotFound("exists answered no record")
        return 1

    def touch(self, key):
        self.c.touch(key, val=self.ttl or 0)
        return 1

    def operate(self, key, ops):
        return self.operated(self.c.operate(key, ops)[2])

    def delete(self, key):
        self.c.remove(key)
        return 1

    def batch_write(self, records):
        res = self.c.batch_write(records)
        return written(res.batch_records, lambda r: r.result == 0)

    def read_modify_write(self, key, bins, i):
        # Named on Sync: the executor column runs this very method on its threads.
        Sync.get(self, key, i)
        return Sync.put(self, key, bins)

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

    async def close(self):
        self.pool.shutdown(wait=True)
        Sync.close(self)


def _in_executor(name):
    """The executor column's `name`: Sync's method of that name, run on the pool's threads."""
    method = getattr(Sync, name)

    async def call(self, *args):
        return await self.loop.run_in_executor(self.pool, method, self, *args)

    call.__name__ = name
    return call


for _name in ("put", "get", "batch_get", "scan", "exists", "touch", "operate", "delete", "batch_write",
              "read_modify_write", "update"):
    setattr(Executor, _name, _in_executor(_name))


def open_sync(spec):
    return Sync(spec)


async def open_async(spec):
    return await Executor.__new__(Executor).connect(spec)
