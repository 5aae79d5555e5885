"""aerospike-sdk (the Python SDK layered on aerospike-native), used as its documentation shows:
a ClusterDefinition connected to a cluster, one session with a Behavior, and the session's verbs.
Sync is `aerospike_sdk.sync`, async is `aerospike_sdk` (awaitables).

Single-record put and get take the session's fast path (`session.put` / `session.get`), which the
SDK recommends for plain single-key work; every other operation goes through its chained
builders (`session.query(keys)`, `session.query(dataset)`, `session.exists(key)`, `touch`,
`delete`, `upsert(key).add(..).get(..)`, and the tabular `upsert(dataset).bins(..).rows(..)` for
a batch write), each ending in `execute()` and a read of the rows it returns. With `--ttl`, put
goes through `upsert(key).put(bins)` instead: the fast path takes no time to live."""

import os
from datetime import timedelta

import aerospike_sdk as sdk
from aerospike_sdk import Behavior, DataSet

from aerobench_shim import (
    OPERATE_BIN,
    Adapter,
    RecordNotFound,
    Unread,
    batch_range,
    bracketed,
    key_digest,
    module_source,
    unsupported,
    written,
)

try:  # 1.0: the SDK's own policy types
    from aerospike_sdk.policy import Settings, SystemSettings
except ImportError:  # earlier pre-releases: each client's defaults only
    Settings = SystemSettings = None


def behavior(adapter):
    """The session's Behavior: with explicit policies, aerobench's timeouts and no retries for
    every operation (a scan has no total timeout, as with every client); otherwise DEFAULT."""
    if not adapter.explicit:
        return Behavior.DEFAULT
    if Settings is None:
        unsupported(sdk, "no aerospike_sdk.policy.Settings to set the timeouts (run it with --policies defaults)")
    t = timedelta(milliseconds=adapter.timeout)
    return Behavior.DEFAULT.derive_with_changes(
        "aerobench",
        all=Settings(total_timeout=t, socket_timeout=t, max_retries=0),
        reads_query=Settings(total_timeout=timedelta(0), socket_timeout=t, max_retries=0),
    )


def core():
    """The client the SDK runs on, its version and folder: aerospike-native from 1.0 (its pinned
    dependency, installed beside it), aerospike-async before."""
    import sys

    for name in ("aerospike_native", "aerospike_async"):
        module = sys.modules.get(name)
        if module is not None:
            version, path = module_source(module)
            return f"{name.replace('_', '-')} {version} (module at {path})"
    return "unknown"


class _Common(Adapter):
    def _init(self, spec):
        self.setup(spec)
        self.host, self.port = spec["host"], spec["port"]
        self.dataset = DataSet.of(self.ns, self.set)
        self.behavior = behavior(self)
        # The tabular write's column names: every record has the same bins, in this order.
        self.bin_names = tuple(self.bins(0))

    def definition(self, cls):
        """The ClusterDefinition: seed, alternate addresses (always said, so the SDK's own
        AEROSPIKE_USE_SERVICES_ALTERNATE does not decide), login, TLS and the pool size."""
        d = cls(bracketed(self.host), self.port)
        try:
            d = d.using_services_alternate(self.alternate)
        except TypeError:  # pre-1.0: no argument, and off unless called
            d = d.using_services_alternate() if self.alternate else d
        if self.user is not None:
            d = d.with_native_credentials(self.user, self.password)
        if self.tls_name is not None:
            d = d.with_tls_config(
                tls_name=self.tls_name,
                ca_file=self.tls_ca,
                client_cert_file=self.tls_cert,
                client_key_file=self.tls_key,
            )
        if self.explicit:
            d = d.with_system_settings(SystemSettings(max_connections_per_node=self.max_conns))
        return d

    def key(self, i):
        return self.dataset.id(self.prefix + str(i))

    def with_ttl(self, builder):
        """A write builder with --ttl applied (the namespace default without it)."""
        return builder.expire_record_after_seconds(self.ttl) if self.ttl else builder

    def args_batch_write(self, j):
        # Rows as a caller of the tabular write has them: the record's id, then its values.
        return ([(self.prefix + str(k), *self.bins(k).values()) for k in batch_range(self.w, j)],)

    def open_session(self):
        self.session = self.cluster.create_session(self.behavior)
        # The tabular write (upsert(dataset).bins(...).rows(...)) came with 1.0; building one does
        # no IO. Earlier versions refuse a dataset there.
        try:
            self.tabular = hasattr(self.session.upsert(self.dataset), "bins")
        except (TypeError, ValueError):
            self.tabular = False

    def rows_writer(self, rows):
        """upsert(dataset).bins(...).rows(...): the rows leave as one batch of writes."""
        if not self.tabular:
            unsupported(sdk, "no tabular batch write (upsert(dataset).bins(...).rows(...))")
        builder = self.session.upsert(self.dataset).bins(*self.bin_names).rows(rows)
        return builder.default_expire_record_after_seconds(self.ttl) if self.ttl else builder

    def read(self, what):
        """The query builder of a batch (keys) or scan (the dataset): with --read-bins, only
        those bins."""
        builder = self.session.query(what)
        return builder.bins(*self.read_bins) if self.read_bins else builder

    def batch_records(self, rows, keys, first):
        """A batch's rows as records in key order: a row says which key it answers (`index`; in
        versions without it, its key's digest), and a key without a record has no row, so under
        --verify a missing row is a mismatch and row k is checked against record first + k."""
        records = [None] * len(keys)
        position = None
        for r in rows:
            k = getattr(r, "index", None)
            if k is None:
                if position is None:
                    position = {key_digest(key): n for n, key in enumerate(keys)}
                k = position.get(key_digest(r.key))
            if k is not None:
                records[k] = r.record
        return self.checked_rows(records, first)

    def scanned(self, rows):
        """A scan's records, each tied by its row's key's digest to the record it must equal
        under --verify."""
        return self.checked_scan([r.record for r in rows], [key_digest(r.key) for r in rows] if self.verify else None)

    def describe(self):
        d = self.describe_as(sdk)
        d["policies"]["behavior"] = self.behavior.name
        d["policies"]["layered_on"] = core()
        d["policies"]["put"] = "upsert(key).put(bins) builder (--ttl)" if self.ttl else "session.put fast path"
        # The SDK's own configuration file, read at connect: its settings override the ones above.
        config = os.environ.get("AEROSPIKE_SDK_CONFIG_URL")
        if config:
            d["policies"]["sdk_config_file"] = config
        return d


class Sync(_Common):
    def __init__(self, spec):
        from aerospike_sdk.sync import ClusterDefinition

        self._init(spec)
        self.cluster = self.definition(ClusterDefinition).connect()
        self.open_session()

    def put(self, key, bins):
        if self.ttl:
            self.with_ttl(self.session.upsert(key).put(bins)).execute().first_or_raise()
        else:
            self.session.put(key, bins)
        return 1

    def get(self, key, i):
        return self.checked(self.session.get(key, self.read_bins) if self.read_bins else self.session.get(key), i)

    def batch_get(self, keys, first):
        stream = self.read(keys).execute()
        if not self.materialise:
            # Unread: under --verify the rows are collected and checked after the timed call.
            return self.unread(stream, keys, first, lambda s: self.batch_records(s.collect(), keys, first))
        return self.batch_records(stream.collect(), keys, first)

    def scan(self):
        return self.scanned(self.read(self.dataset).execute().collect())

    def exists(self, key):
        row = self.session.exists(key).execute().first()
        if row is None or not row.as_bool():
            raise RecordNotFound("exists answered no record")
        return 1

    def touch(self, key):
        self.with_ttl(self.session.touch(key)).execute().first_or_raise()
        return 1

    def operate(self, key):
        builder = self.session.upsert(key).add(OPERATE_BIN, 1).get(OPERATE_BIN)
        return self.operated(self.with_ttl(builder).execute().first_or_raise().record.bins)

    def delete(self, key):
        # A key without a record comes back as a failed row: first_or_raise raises for it.
        self.session.delete(key).execute().first_or_raise()
        return 1

    def batch_write(self, rows):
        return written(self.rows_writer(rows).execute().collect(), lambda r: r.is_ok)

    def read_modify_write(self, key, bins, i):
        self.get(key, i)
        return self.put(key, bins)

    def close(self):
        self.cluster.close()


class Async(_Common):
    async def connect(self, spec):
        self._init(spec)
        self.cluster = await self.definition(sdk.ClusterDefinition).connect()
        self.open_session()
        return self

    async def put(self, key, bins):
        if self.ttl:
            stream = await self.with_ttl(self.session.upsert(key).put(bins)).execute()
            await stream.first_or_raise()
        else:
            await self.session.put(key, bins)
        return 1

    async def get(self, key, i):
        rec = await (self.session.get(key, self.read_bins) if self.read_bins else self.session.get(key))
        return self.checked(rec, i)

    async def batch_get(self, keys, first):
        stream = await self.read(keys).execute()
        if not self.materialise:
            if not self.verify:
                return len(keys)

            async def check():  # run by the engine's count, after the timed call
                return len(self.batch_records(await stream.collect(), keys, first))

            return Unread(check)
        return self.batch_records(await stream.collect(), keys, first)

    async def scan(self):
        stream = await self.read(self.dataset).execute()
        return self.scanned(await stream.collect())

    async def exists(self, key):
        row = await (await self.session.exists(key).execute()).first()
        if row is None or not row.as_bool():
            raise RecordNotFound("exists answered no record")
        return 1

    async def touch(self, key):
        await (await self.with_ttl(self.session.touch(key)).execute()).first_or_raise()
        return 1

    async def operate(self, key):
        builder = self.session.upsert(key).add(OPERATE_BIN, 1).get(OPERATE_BIN)
        row = await (await self.with_ttl(builder).execute()).first_or_raise()
        return self.operated(row.record.bins)

    async def delete(self, key):
        await (await self.session.delete(key).execute()).first_or_raise()
        return 1

    async def batch_write(self, rows):
        stream = await self.rows_writer(rows).execute()
        return written(await stream.collect(), lambda r: r.is_ok)

    async def read_modify_write(self, key, bins, i):
        await self.get(key, i)
        return await self.put(key, bins)

    async def close(self):
        await self.cluster.close()


def open_sync(spec):
    return Sync(spec)


async def open_async(spec):
    return await Async().connect(spec)
