"""A Python client that does nothing: measures the embedded path's own cost per call."""

from aerobench_shim import batch_range


class Sync:
    def __init__(self, spec):
        self.w = spec["workload"]

    def describe(self):
        return {"version": "-", "path": "aerobench shim", "policies": {}}

    def args_put(self, i):
        return (i,)

    args_get = args_put

    def args_batch_get(self, j):
        return (len(batch_range(self.w, j)),)

    def args_scan(self, _):
        return ()

    def put(self, i):
        return 1

    get = put

    def batch_get(self, n):
        return n

    def scan(self):
        return self.w["count"]

    def close(self):
        pass


class Async(Sync):
    async def put(self, i):
        return 1

    get = put

    async def batch_get(self, n):
        return n

    async def scan(self):
        return self.w["count"]

    async def close(self):
        pass


def open_sync(spec):
    return Sync(spec)


async def open_async(spec):
    return Async(spec)
