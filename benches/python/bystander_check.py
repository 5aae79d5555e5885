"""An independent measurement of what a client costs the process around it, written without
aerobench's shim, for the scenario aerobench's issue on client cost names: batch reads of BATCH
keys of 8 float bins with IN_FLIGHT calls in flight, under asyncio (aerospike-py's AsyncClient
with asyncio.gather-style workers, or the official client through loop.run_in_executor), with a
pure-Python thread competing for the interpreter. PASSES passes over the records without the
competing thread, then PASSES with it. Prints one JSON object:

  cpu_us_per_op        process CPU (resource.getrusage, user + system) per batch call, in the
                       passes without the competing thread
  cpu_us_per_op_loaded the same in the passes with it, less the competing thread's own CPU
                       (time.thread_time in that thread)
  ops_per_cpu_sec      batch calls per CPU-second, from the passes without it
  gap_p99_us           p99 of the gaps a task that yields every 2 ms waits to resume, pooled
                       over the passes with the competing thread running
  competitor           the competing thread's speed in those passes over its speed alone

Usage: bystander_check.py CLIENT HOST PORT COUNT BATCH IN_FLIGHT [PASSES]
       (CLIENT: aerospike-py | official)
"""

import asyncio
import json
import math
import resource
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

client_name, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
count, batch, in_flight = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
passes = int(sys.argv[7]) if len(sys.argv) > 7 else 1
NS, SET, PREFIX, TIMEOUT = "test", "aerobench", "aerobench-", 5000
policy = {"total_timeout": TIMEOUT, "socket_timeout": TIMEOUT, "max_retries": 0}


def keys_of(j):
    start = j * batch
    return [(NS, SET, PREFIX + str(k)) for k in range(start, min(start + batch, count))]


calls = (count + batch - 1) // batch


class Competitor:
    def __init__(self):
        self.stop, self.done, self.cpu = False, 0, 0.0

    def spin(self):
        cpu_at_start = time.thread_time()
        while not self.stop:
            n = 0
            for _ in range(10_000):
                n += 1
            self.done += n
        self.cpu = time.thread_time() - cpu_at_start

    def run(self, seconds=None):
        t = threading.Thread(target=self.spin, daemon=True)
        self.stop, self.done = False, 0
        started = time.perf_counter()
        t.start()
        if seconds:
            time.sleep(seconds)
            self.stop = True
            t.join()
            return self.done / (time.perf_counter() - started)
        return t, started


async def main():
    loop = asyncio.get_running_loop()
    if client_name == "aerospike-py":
        import aerospike_py

        c = aerospike_py.AsyncClient({"hosts": [(host, port)], "timeout": TIMEOUT, "max_conns_per_node": 256})
        await c.connect()

        async def call(keys):
            res = await c.batch_read(keys, policy=policy)
            return [r.record for r in res.batch_records]
    else:
        import aerospike

        base = dict(policy)
        c = aerospike.client({"hosts": [(host, port)], "max_conns_per_node": 256,
                              "policies": {"batch": base}}).connect()
        pool = ThreadPoolExecutor(max_workers=in_flight)

        async def call(keys):
            def read():
                return [r.record for r in c.batch_read(keys).batch_records]
            return await loop.run_in_executor(pool, read)

    solo = max(Competitor().run(0.1) for _ in range(3))
    for j in range(min(calls, 2 * in_flight)):  # warm-up
        await call(keys_of(j))

    async def phase(compete):
        """One pass over the batches: (CPU seconds less the competitor's, loop gaps, competitor
        speed under load)."""
        gaps, running = [], [True]

        async def sampler():
            while running[0]:
                asked = time.perf_counter()
                await asyncio.sleep(0)
                gaps.append(time.perf_counter() - asked)
                await asyncio.sleep(0.002)

        nxt = iter(range(calls))

        async def worker():
            for j in nxt:
                await call(keys_of(j))

        competitor = Competitor()
        sampling = asyncio.ensure_future(sampler())
        # The CPU window holds the competing thread's whole life, so that its own CPU, taken
        # out below, is all inside it.
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu_before = usage.ru_utime + usage.ru_stime
        if compete:
            thread, started = competitor.run()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        loaded = None
        if compete:
            competitor.stop = True
            thread.join()
            loaded = competitor.done / (time.perf_counter() - started)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = usage.ru_utime + usage.ru_stime - cpu_before - competitor.cpu
        running[0] = False
        await sampling
        gaps.sort()
        return cpu, gaps, loaded

    # CPU per call alone, then CPU per call, the loop's gaps and the competing thread's speed with
    # it running.
    alone = [await phase(False) for _ in range(passes)]
    loaded_passes = [await phase(True) for _ in range(passes)]
    cpu = sum(p[0] for p in alone)
    cpu_loaded = sum(p[0] for p in loaded_passes)
    gaps = sorted(g for p in loaded_passes for g in p[1])
    loaded = sum(p[2] for p in loaded_passes) / passes
    print(json.dumps({
        "cpu_us_per_op": cpu / (calls * passes) * 1e6,
        "cpu_us_per_op_loaded": cpu_loaded / (calls * passes) * 1e6,
        "ops_per_cpu_sec": calls * passes / cpu,
        # Nearest rank, as HDR histograms answer it: with few samples, p99 is the largest.
        "gap_p99_us": gaps[max(0, math.ceil(0.99 * len(gaps)) - 1)] * 1e6 if gaps else None,
        "gap_samples": len(gaps),
        "competitor": loaded / solo,
    }))


asyncio.run(main())
