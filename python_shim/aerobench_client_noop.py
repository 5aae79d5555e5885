"""A Python client that does nothing: measures the embedded path's own cost per call. With
spec["stub_delay_us"] set, each call sleeps that long instead (time.sleep, or asyncio.sleep
for the async client), so tests can check measured values against a known latency."""

import asyncio
import time


class Sync:
    def __init__(self, spec):
        self.w = spec["workload"]
        self.delay = spec.get("stub_delay_us", 0) / 1e6

    def describe(self):
        return {"version": "-", "path": "aerobench shim", "policies": {}}

    def _wait(self):
        if self.delay:
            time.sleep(self.delay)

    def put(self, i):
        self._wait()
        return 1

    get = put

    def batch_get(self, j):
        self._wait()
        start = j * self.w["batch_size"]
        return max(0, min(start + self.w["batch_size"], self.w["count"]) - start)

    def scan(self, _):
        self._wait()
        return self.w["count"]

    def close(self):
        pass


class Async(Sync):
    async def _await(self):
        if self.delay:
            await asyncio.sleep(self.delay)

    async def put(self, i):
        await self._await()
        return 1

    get = put

    async def batch_get(self, j):
        await self._await()
        start = j * self.w["batch_size"]
        return max(0, min(start + self.w["batch_size"], self.w["count"]) - start)

    async def scan(self, n):
        await self._await()
        return self.w["count"]

    async def close(self):
        pass


def open_sync(spec):
    return Sync(spec)


async def open_async(spec):
    return Async(spec)
