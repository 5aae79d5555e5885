"""A Python client that does nothing: measures the embedded path's own cost per call."""


class Sync:
    def __init__(self, spec):
        self.w = spec["workload"]

    def describe(self):
        return {"version": "-", "path": "aerobench shim", "policies": {}}

    def put(self, i):
        return 1

    get = put

    def batch_get(self, j):
        start = j * self.w["batch_size"]
        return max(0, min(start + self.w["batch_size"], self.w["count"]) - start)

    def scan(self, _):
        return self.w["count"]

    def close(self):
        pass


class Async(Sync):
    async def put(self, i):
        return 1

    get = put

    async def batch_get(self, j):
        return Sync.batch_get(self, j)

    async def scan(self, n):
        return self.w["count"]

    async def close(self):
        pass


def open_sync(spec):
    return Sync(spec)


async def open_async(spec):
    return Async(spec)
