"""A Python client that does nothing: measures the embedded path's own cost per call. With
spec["stub_delay_us"] set, each call sleeps that long instead (time.sleep, or asyncio.sleep
for the async client), so tests can check measured values against a known latency. With
spec["stub_blocking"] the async client blocks its event loop with time.sleep instead, as a client
holding the GIL inside its call would, and then yields once. With AEROBENCH_STUB_SEGFAULT=OP in
the environment, the sync client's OP calls die of SIGSEGV, as a client's C code can (a test of
the worker's crash report); with AEROBENCH_STUB_UNSUPPORTED=OP, both clients lack OP: its calls
raise Unsupported (a test of "not supported" cells). With AEROBENCH_STUB_STAGES="stage=seconds,..."
both clients have stage timers as aerospike-py's (`--stages`): switched on, every call records
each named stage with the time given, exported as aerospike-py exports them (a test of the stage
tables). With spec["stub_known_shares"] (and a delay), each call spends about 60% of the delay in stub_python_work (Python code), 30% in
stub_native_work (zlib's C code) and sleeps the rest: shares a profile must find."""

import asyncio
import os
import time
import zlib

from aerobench_shim import Unsupported, batch_range


# aerospike-py's bucket bounds of its stage histogram, in seconds.
STAGE_BOUNDS = (1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0)


class StubStages:
    """Stage timers with known times: each call, while on, records every stage once."""

    def __init__(self, spec):
        self.times = {name: float(t) for name, _, t in (p.partition("=") for p in spec.split(",") if p)}
        self.on = False
        self.counts = {name: 0 for name in self.times}

    def record(self):
        if self.on:
            for name in self.times:
                self.counts[name] += 1

    def switch(self, on):
        if on:
            self.on = True
            return self.text()
        text = self.text()
        self.on = False
        return text

    def text(self):
        m = "db_client_internal_stage_seconds"
        out = [f"# TYPE {m} histogram"]
        for name, t in self.times.items():
            n = self.counts[name]
            labels = f'stage="{name}",db_operation_name="stub"'
            out.append(f"{m}_sum{{{labels}}} {t * n!r}")
            out.append(f"{m}_count{{{labels}}} {n}")
            for le in STAGE_BOUNDS:
                out.append(f'{m}_bucket{{le="{le!r}",{labels}}} {n if t <= le else 0}')
            out.append(f'{m}_bucket{{le="+Inf",{labels}}} {n}')
        return "\n".join(out) + "\n"


class Sync:
    def __init__(self, spec):
        self.w = spec["workload"]
        self.delay = spec.get("stub_delay_us", 0) / 1e6
        self.spin = spec.get("stub_spin", False)
        self.known_shares = spec.get("stub_known_shares", False)
        crash_op = os.environ.get("AEROBENCH_STUB_SEGFAULT")
        if crash_op and not isinstance(self, Async):
            setattr(self, crash_op, segfault_on_purpose)
        lacking = os.environ.get("AEROBENCH_STUB_UNSUPPORTED")
        if lacking:
            setattr(self, lacking, lacks_async if isinstance(self, Async) else lacks)
        stages = os.environ.get("AEROBENCH_STUB_STAGES")
        self.stages = StubStages(stages) if stages else None
        if self.stages is None:
            self.stage_timers = None

    def describe(self):
        return {"version": "-", "path": "aerobench shim", "policies": {}}

    def args_put(self, i):
        return (i,)

    args_get = args_put

    def args_batch_get(self, j):
        return (len(batch_range(self.w, j)),)

    def args_scan(self, _):
        return ()

    args_exists = args_touch = args_operate = args_delete = args_read_modify_write = args_update = args_put
    args_batch_write = args_batch_get

    def stage_timers(self, on):
        return self.stages.switch(on)

    def _wait(self):
        if self.stages is not None:
            self.stages.record()
        if self.delay and self.known_shares:
            stub_python_work(0.6 * self.delay)
            stub_native_work(0.3 * self.delay)
            time.sleep(0.1 * self.delay)
        elif self.delay and self.spin:
            # Busy for the delay (a test stub with a known CPU cost, not a measurement).
            until = time.perf_counter() + self.delay
            while time.perf_counter() < until:
                pass
        elif self.delay:
            time.sleep(self.delay)

    def put(self, i):
        self._wait()
        return 1

    get = exists = touch = operate = delete = read_modify_write = update = put

    def batch_get(self, n):
        self._wait()
        return n

    batch_write = batch_get

    def scan(self):
        self._wait()
        return self.w["count"]

    def close(self):
        pass


class Async(Sync):
    def __init__(self, spec):
        super().__init__(spec)
        self.blocking = spec.get("stub_blocking", False)

    async def _await(self):
        if self.stages is not None:
            self.stages.record()
        if self.delay and self.known_shares:
            stub_python_work(0.6 * self.delay)
            stub_native_work(0.3 * self.delay)
            await asyncio.sleep(0.1 * self.delay)
        elif self.delay and self.blocking:
            time.sleep(self.delay)
            await asyncio.sleep(0)  # then yields once, as a call that awaits its reply does
        elif self.delay:
            await asyncio.sleep(self.delay)

    async def put(self, i):
        await self._await()
        return 1

    get = exists = touch = operate = delete = read_modify_write = update = put

    async def batch_get(self, n):
        await self._await()
        return n

    batch_write = batch_get

    async def scan(self):
        await self._await()
        return self.w["count"]

    async def close(self):
        pass


def stub_python_work(seconds):
    """Python code for `seconds` (a test stub with known shares, not a measurement)."""
    until = time.perf_counter() + seconds
    x = 1
    while time.perf_counter() < until:
        for _ in range(200):
            x = (x * 31 + 7) % 1000003
    return x


_BLOCK = bytes(range(256)) * 32


def stub_native_work(seconds):
    """zlib's C code for `seconds`: compressing 8 KiB at a time."""
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        zlib.compress(_BLOCK, 9)


def lacks(*_):
    raise Unsupported("not supported by the no-op client: AEROBENCH_STUB_UNSUPPORTED names this operation")


async def lacks_async(*_):
    lacks()


def segfault_on_purpose(*_):
    """Reads address 0 through ctypes: SIGSEGV inside the call."""
    import ctypes

    return ctypes.string_at(0)


def open_sync(spec):
    return Sync(spec)


async def open_async(spec):
    return Async(spec)
