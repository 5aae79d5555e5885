"""aerospike-native (the Rust core 3.x behind a Python API): `*_blocking` calls, and awaitables."""

import aerospike_native as an

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

_OK = getattr(getattr(an, "ResultCode", None), "OK", None)


def batch_ok(r):
    rc = r.result_code
    return rc is None or rc == _OK or rc == 0


def rows(res):
    """A batch read's records in key order (None for a key not found)."""
    return [r.record for r in res]


def operations():
    """operate: increment the counter bin, then read it back."""
    return [an.Operation.add(OPERATE_BIN, 1), an.Operation.get_bin(OPERATE_BIN)]


class _Common(Adapter):
    def _init(self, spec):
        self.setup(spec)
        t = self.timeout
        self.cp = an.ClientPolicy()
        self.wp, self.rp, self.bp, self.qp = an.WritePolicy(), an.ReadPolicy(), an.BatchPolicy(), an.QueryPolicy()
        if self.explicit:
            self.cp.max_conns_per_node = self.max_conns
            for p in (self.wp, self.rp, self.bp, self.qp):
                p.total_timeout = t
                p.socket_timeout = t
                p.max_retries = 0
            self.qp.total_timeout = 0
        if self.alternate:
            self.cp.use_services_alternate = True
        if self.ttl:
            self.wp.expiration = an.Expiration.seconds(self.ttl)
        self.seeds = f"{bracketed(spec['host'])}:{spec['port']}"
        if self.user is not None:
            self.cp.set_auth_mode(an.AuthMode.INTERNAL, self.user, self.password)
        if self.tls_name is not None:
            if self.tls_cert is not None:
                self.cp.tls_config = an.TlsConfig.with_client_auth(self.tls_ca, self.tls_cert, self.tls_key)
            else:
                self.cp.tls_config = an.TlsConfig(self.tls_ca)
            self.seeds = f"{bracketed(spec['host'])}:{self.tls_name}:{spec['port']}"

    def key(self, i):
        return an.Key(self.ns, self.set, self.prefix + str(i))

    def args_operate(self, i):
        return (self.key(i), operations())

    def args_batch_write(self, j):
        (records,) = Adapter.args_batch_write(self, j)
        return ([k for k, _ in records], [b for _, b in records])

    def update_ops(self, i):
        if not hasattr(an, "ListOperation") or not hasattr(an, "MapOperation"):
            unsupported(an, "no ListOperation/MapOperation")
        return [
            an.ListOperation.append(UPDATE_LIST_BIN, i, an.ListPolicy()),
            an.MapOperation.increment_value(UPDATE_MAP_BIN, UPDATE_MAP_KEY, 1, an.MapPolicy()),
            an.MapOperation.get_by_key(UPDATE_MAP_BIN, UPDATE_MAP_KEY, an.MapReturnType.VALUE),
        ]

    def statement(self):
        return an.Statement(self.ns, self.set, self.read_bins)

    def describe(self):
        return self.describe_as(an)


class Sync(_Common):
    def __init__(self, spec):
        self._init(spec)
        self.c = an.new_client_blocking(self.cp, self.seeds)

    def put(self, key, bins):
        self.c.put_blocking(key, bins, policy=self.wp)
        return 1

    def get(self, key, i):
        return self.checked(self.c.get_blocking(key, self.read_bins, policy=self.rp), i)

    def batch_get(self, keys, first):
        res = self.c.batch_read_blocking(keys, self.read_bins, batch_policy=self.bp)
        if self.numpy is not None:
            # No NumPy API in this client: the application fills the array from the records.
            return self.arrayed([r.record.bins if r.record else None for r in res], first)
        if not self.materialise:
            return self.unread(res, keys, first, rows)
        return self.checked_rows(rows(res), first)

    def scan(self):
        rs = self.c.query_blocking(self.statement(), an.PartitionFilter.all(), policy=self.qp)
        # The records, kept as a list (as the other clients return them), freed after the call.
        return self.checked_scan(list(rs))

    def exists(self, key):
        if not self.c.exists_blocking(key, policy=self.rp):
            raise RecordNotFound("exists answered no record")
        return 1

    def touch(self, key):
        self.c.touch_blocking(key, policy=self.wp)
        return 1

    def operate(self, key, ops):
        return self.operated(self.c.operate_blocking(key, ops, policy=self.wp).bins)

    def update(self, key, ops):
        return self.updated(self.c.operate_blocking(key, ops, policy=self.wp).bins)

    def delete(self, key):
        if not self.c.delete_blocking(key, policy=self.wp):
            raise RecordNotFound("delete found no record")
        return 1

    def batch_write(self, keys, bins_list):
        return written(self.c.batch_write_blocking(keys, bins_list, batch_policy=self.bp), batch_ok)

    def read_modify_write(self, key, bins, i):
        self.get(key, i)
        return self.put(key, bins)

    def close(self):
        self.c.close_blocking()


class Async(_Common):
    async def connect(self, spec):
        self._init(spec)
        self.c = await an.new_client(self.cp, self.seeds)
        return self

    async def put(self, key, bins):
        await self.c.put(key, bins, policy=self.wp)
        return 1

    async def get(self, key, i):
        return self.checked(await self.c.get(key, self.read_bins, policy=self.rp), i)

    async def batch_get(self, keys, first):
        res = await self.c.batch_read(keys, self.read_bins, batch_policy=self.bp)
        if self.numpy is not None:
            return self.arrayed([r.record.bins if r.record else None for r in res], first)
        if not self.materialise:
            return self.unread(res, keys, first, rows)
        return self.checked_rows(rows(res), first)

    async def scan(self):
        rs = await self.c.query(self.statement(), an.PartitionFilter.all(), policy=self.qp)
        records = [r async for r in rs]
        return self.checked_scan(records)

    async def exists(self, key):
        if not hasattr(self.c, "exists"):
            unsupported(an, "the async client has no exists (only exists_blocking)")
        if not await self.c.exists(key, policy=self.rp):
            raise RecordNotFound("exists answered no record")
        return 1

    async def touch(self, key):
        await self.c.touch(key, policy=self.wp)
        return 1

    async def operate(self, key, ops):
        return self.operated((await self.c.operate(key, ops, policy=self.wp)).bins)

    async def update(self, key, ops):
        return self.updated((await self.c.operate(key, ops, policy=self.wp)).bins)

    async def delete(self, key):
        if not await self.c.delete(key, policy=self.wp):
            raise RecordNotFound("delete found no record")
        return 1

    async def batch_write(self, keys, bins_list):
        return written(await self.c.batch_write(keys, bins_list, batch_policy=self.bp), batch_ok)

    async def read_modify_write(self, key, bins, i):
        await self.get(key, i)
        return await self.put(key, bins)

    async def close(self):
        await self.c.close()


def open_sync(spec):
    return Sync(spec)


async def open_async(spec):
    return await Async().connect(spec)
