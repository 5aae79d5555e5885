"""The ASGI app aerobench serves under HTTP load: one client per worker, used the way services
use it.

`python -m aerobench_app SPEC.json` is the launcher: it reads the spec, watches its parent (so no
app outlives aerobench), says which server software serves, and hands over to uvicorn's own
`uvicorn.run` (with N > 1 workers, uvicorn's supervisor runs N worker processes on one socket).
`app` is a plain ASGI callable. Lifespan startup in each worker opens one client through
aerobench's adapters (`aerobench_client_*`): async clients are awaited in the handler, sync
clients run on a thread pool of 40 (as Starlette runs `def` endpoints). The app floor (no
`module`) does the same work on records precomputed at startup, without a database call.

Routes: GET /health, and GET /<scenario>?i=N for the scenarios in SCENARIOS. Every 200 answer
carries `Server-Timing: app;dur=…, db;dur=…, loop;dur=…` (milliseconds): the handler's time, the
client call's (none on the floor), and the largest event-loop lag seen since the worker's
previous answer. These are the only figures the Python side takes.
"""

import asyncio
import base64
import concurrent.futures
import importlib
import json
import os
import sys
import threading
import time
import traceback
from urllib.parse import parse_qs

from aerobench_shim import NumpyBatches, batch_range, count, reason

# Where a worker finds the spec, and which process is the launcher (set by the launcher).
SPEC_ENV = "AEROBENCH_APP_SPEC"
LAUNCHER_ENV = "AEROBENCH_APP_LAUNCHER"

SCENARIOS = ("get-json", "batch-count", "batch-walk", "batch-numpy", "batch-gather")

# Threads of the pool sync clients run on: anyio's default limiter, which Starlette's `def`
# endpoints run under.
SYNC_THREADS = 40

# How often the loop-lag sampler wakes, in seconds.
LAG_TICK = 0.005

# The seed of the batch-numpy weight vector and of the matmul matrices.
WEIGHT_SEED = 27


def watch_parent(parent, group_leader):
    """Ends this process (and, for the launcher leading its own process group, the group) as soon
    as its parent `parent` is gone: the parent process id changes when the parent dies, even of
    SIGKILL (and differs from the start when the parent died before this process looked)."""

    def watch():
        while True:
            if os.getppid() != parent:
                if group_leader and hasattr(os, "killpg"):
                    try:
                        os.killpg(os.getpgrp(), 9)
                    except OSError:
                        pass
                os._exit(1)
            time.sleep(0.2)

    threading.Thread(target=watch, name="aerobench-parent-watch", daemon=True).start()


def json_safe(value):
    """A bin value as JSON: bytes as base64, lists and dicts item by item, other non-JSON values
    as str."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(k): json_safe(v) for k, v in value.items()}
    return str(value)


def untagged(value):
    """A value of the records file: `{"$bytes": base64}` back to bytes, lists and maps inside."""
    if isinstance(value, dict):
        if len(value) == 1 and "$bytes" in value:
            return base64.b64decode(value["$bytes"])
        return {k: untagged(v) for k, v in value.items()}
    if isinstance(value, list):
        return [untagged(v) for v in value]
    return value


def bins_of(row):
    """A record's bins, whatever shape a client hands it back in: a (key, meta, bins) tuple, an
    object with `.bins`, a dict of bins; None when not found (or a shape without bins)."""
    if row is None:
        return None
    if isinstance(row, dict):
        return row
    if isinstance(row, tuple) and len(row) == 3 and (row[2] is None or isinstance(row[2], dict)):
        return row[2]
    bins = getattr(row, "bins", None)
    return bins if isinstance(bins, dict) else None


def got_bins(result):
    """The bins a get read: adapters hand back one record as a one-record tuple."""
    if isinstance(result, tuple) and len(result) == 1:
        result = result[0]
    return bins_of(result) or {}


def walk_score(rows):
    """batch-walk: every record's bins walked, the sum of int and float values plus the length
    of str, bytes, list and dict values."""
    score = 0.0
    if not isinstance(rows, (list, tuple)):
        return score
    for row in rows:
        bins = bins_of(row)
        if not bins:
            continue
        for v in bins.values():
            if isinstance(v, bool):
                score += int(v)
            elif isinstance(v, (int, float)):
                score += v
            elif isinstance(v, (str, bytes, bytearray, list, dict)):
                score += len(v)
    return score


class Work:
    """The CPU-bound step after the database step (`spec["work"]`): an n×n float64 NumPy matmul
    on matrices made at startup, or pure Python arithmetic for a given time; nothing when None."""

    def __init__(self, work):
        self.kind = (work or {}).get("kind")
        if self.kind == "matmul":
            import numpy

            n = int(work["n"])
            rng = numpy.random.default_rng(WEIGHT_SEED)
            self.a, self.b = rng.random((n, n)), rng.random((n, n))
        elif self.kind == "python":
            self.seconds = float(work["us"]) / 1e6
        elif self.kind is not None:
            raise ValueError(f"unknown work kind {self.kind!r}: matmul or python")

    def run(self):
        if self.kind == "matmul":
            return float((self.a @ self.b)[0, 0])
        if self.kind == "python":
            until = time.perf_counter() + self.seconds
            x = 0
            while time.perf_counter() < until:
                for k in range(100):
                    x = (x * 31 + k) % 1000003
            return x
        return None


class Floor:
    """The app floor's "client": the records the database would have returned, precomputed at
    startup from the records file, handed out as a client's calls would be, without any call."""

    def __init__(self, records, w, numpy_mode):
        self.records = records
        self.w = w
        read = w.get("read_bins")
        if read:
            self.records = [None if r is None else {k: r[k] for k in read if k in r} for r in records]
        self.numpy = NumpyBatches(w) if numpy_mode else None

    def args_get(self, i):
        return (i,)

    def args_batch_get(self, j):
        return (batch_range(self.w, j),)

    def get(self, i):
        return (self.records[i],)

    def batch_get(self, keys):
        rows = [self.records[k] for k in keys]
        if self.numpy is not None:
            from aerobench_shim import Arrayed

            return Arrayed(*self.numpy.fill(rows))
        return rows


class Worker:
    """One worker process's state: its client (or the floor), the pool sync clients run on,
    the work step, the loop-lag sampler."""

    def __init__(self, spec):
        self.spec = spec
        self.adapter_spec = dict(spec.get("adapter") or {})
        self.w = self.adapter_spec["workload"]
        self.gather = max(1, int(spec.get("gather") or 1))
        self.module_name = spec.get("module")
        self.asynchronous = bool(spec.get("asynchronous", self.adapter_spec.get("asynchronous", False)))
        self.client = None
        self.numpy_client = None
        self.pool = None
        self.max_lag = 0.0
        self.sampler = None
        self.weights = None

    async def start(self):
        spec = self.spec
        records = None
        if spec.get("records"):
            with open(spec["records"], encoding="utf-8") as f:
                records = [None if r is None else {k: untagged(v) for k, v in r.items()} for r in json.load(f)]
            # A --record workload's bins come from the same file (the embedded worker's Rust
            # generator is not here).
            self.adapter_spec["record_values"] = lambda i: records[i]
        self.work = Work(spec.get("work"))
        if self.module_name is None:
            if records is None:
                raise ValueError("the app floor needs spec['records'], the records file")
            self.client = Floor(records, self.w, False)
            self.numpy_client = Floor(records, self.w, True) if self.wants_numpy() else None
        else:
            module = importlib.import_module(self.module_name)
            self.pool = concurrent.futures.ThreadPoolExecutor(SYNC_THREADS, thread_name_prefix="aerobench-app")
            self.client = await self.open(module, self.adapter_spec)
            if self.wants_numpy():
                self.numpy_client = await self.open(module, dict(self.adapter_spec, materialise="numpy"))
        if self.wants_numpy():
            import numpy

            fields = NumpyBatches(self.w).names or ()
            self.weights = numpy.random.default_rng(WEIGHT_SEED).random(len(fields))
        self.sampler = asyncio.ensure_future(self.sample_lag())

    def describe(self):
        """The client as the report names it: its version, where it was loaded from and its
        policies (as the embedded worker's columns say); empty for the floor."""
        describe = getattr(self.client, "describe", None) if self.module_name is not None else None
        try:
            return describe() if describe is not None else {}
        except Exception:  # a description is a courtesy: the app serves without it
            return {}

    def wants_numpy(self):
        """NumPy's batch client is opened when batch-numpy may be asked (no `scenario` given: any)."""
        return self.spec.get("scenario") in (None, "batch-numpy") and self.numpy_available()

    @staticmethod
    def numpy_available():
        try:
            import numpy  # noqa: F401
        except ImportError:
            return False
        return True

    async def open(self, module, adapter_spec):
        if self.asynchronous:
            return await module.open_async(adapter_spec)
        return await asyncio.get_running_loop().run_in_executor(self.pool, module.open_sync, adapter_spec)

    async def stop(self):
        if self.sampler is not None:
            self.sampler.cancel()
        for client in (self.client, self.numpy_client):
            close = getattr(client, "close", None)
            if close is None:
                continue
            try:
                done = close()
                if asyncio.iscoroutine(done):
                    await done
            except Exception:
                traceback.print_exc()
        if self.pool is not None:
            self.pool.shutdown(wait=False)

    async def sample_lag(self):
        clock, sleep = time.perf_counter, asyncio.sleep
        while True:
            asked = clock()
            await sleep(LAG_TICK)
            lag = clock() - asked - LAG_TICK
            if lag > self.max_lag:
                self.max_lag = lag

    async def call(self, client, name, args):
        """One client call: awaited for an async client, on the pool for a sync one, directly on
        the floor."""
        method = getattr(client, name)
        if self.module_name is None:
            return method(*args)
        if self.asynchronous:
            return await method(*args)
        return await asyncio.get_running_loop().run_in_executor(self.pool, method, *args)

    def limit(self, scenario):
        if scenario == "get-json":
            return self.w["count"]
        return -(-self.w["count"] // self.w["batch_size"])

    async def answer(self, scenario, i):
        """The scenario's database step (timed as db) and what the answer holds."""
        client = self.client
        if scenario == "get-json":
            args = client.args_get(i)
            started = time.perf_counter()
            result = await self.call(client, "get", args)
            db = time.perf_counter() - started
            return got_bins(result), db
        if scenario == "batch-numpy" and self.numpy_client is None:
            raise RuntimeError("batch-numpy needs NumPy in the app's interpreter")
        if scenario == "batch-numpy":
            client = self.numpy_client
        args = client.args_batch_get(i)
        started = time.perf_counter()
        if scenario == "batch-gather":
            results = await asyncio.gather(*(self.call(client, "batch_get", args) for _ in range(self.gather)))
            db = time.perf_counter() - started
            return {"found": sum(count(r) for r in results)}, db
        result = await self.call(client, "batch_get", args)
        db = time.perf_counter() - started
        found = count(result)
        if scenario == "batch-count":
            return {"found": found}, db
        if scenario == "batch-walk":
            return {"found": found, "score": walk_score(result)}, db
        return {"found": found, "score": self.numpy_score(result)}, db

    def numpy_score(self, result):
        array = getattr(result, "array", None)
        if array is None or not len(array) or not array.dtype.names:
            return 0.0
        from numpy.lib.recfunctions import structured_to_unstructured

        matrix = structured_to_unstructured(array, dtype="f8")
        return float((matrix @ self.weights[: matrix.shape[1]]).sum())


WORKER = None


def load_spec():
    with open(os.environ[SPEC_ENV], encoding="utf-8") as f:
        return json.load(f)


def write_marker(kind, text):
    """Writes `<kind>-<pid>` (ready, failed) into the run dir, whole or not at all."""
    path = os.path.join(os.path.dirname(os.environ[SPEC_ENV]), f"{kind}-{os.getpid()}")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


async def lifespan(receive, send):
    global WORKER
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                if str(os.getpid()) != os.environ.get(LAUNCHER_ENV):
                    watch_parent(int(os.environ[LAUNCHER_ENV]), False)
                WORKER = Worker(load_spec())
                await WORKER.start()
            except Exception as e:
                traceback.print_exc()
                write_marker("failed", reason(e))
                await send({"type": "lifespan.startup.failed", "message": reason(e)})
                return
            write_marker("ready", json.dumps(WORKER.describe()))
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if WORKER is not None:
                await WORKER.stop()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def respond(send, status, body, headers=()):
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json" if status == 200 else b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ]
            + list(headers),
        }
    )
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    started = time.perf_counter()
    path = scope["path"].strip("/")
    if scope["method"] != "GET":
        await respond(send, 405, b"GET only\n")
        return
    if path == "health":
        await respond(send, 200, b"{}")
        return
    worker = WORKER
    if path not in SCENARIOS:
        await respond(send, 404, f"no such scenario {path!r}: one of {', '.join(SCENARIOS)}\n".encode())
        return
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    try:
        i = int(query["i"][0])
        if not 0 <= i < worker.limit(path):
            raise ValueError
    except (KeyError, ValueError, IndexError):
        await respond(send, 400, f"{path} needs ?i=N, 0 <= N < {worker.limit(path)}\n".encode())
        return
    try:
        answer, db = await worker.answer(path, i)
        worker.work.run()
        body = json.dumps(json_safe(answer)).encode()
    except Exception as e:
        traceback.print_exc()
        await respond(send, 500, reason(e).encode())
        return
    handler = time.perf_counter() - started
    lag, worker.max_lag = worker.max_lag, 0.0
    timing = f"app;dur={handler * 1e3:.3f}"
    if worker.module_name is not None:
        timing += f", db;dur={db * 1e3:.3f}"
    timing += f", loop;dur={lag * 1e3:.3f}"
    await respond(send, 200, body, [(b"server-timing", timing.encode())])


def http_implementation(asked):
    """httptools where it imports, else h11 (what `auto` would pick, said out loud)."""
    if asked and asked != "auto":
        return asked
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "h11"
    return "httptools"


def nodelay_on_shared_socket(uvicorn):
    """With several workers uvicorn binds the shared socket itself, with protocol 0, and asyncio
    sets TCP_NODELAY only on connections of sockets whose protocol is TCP: every answer's body
    (written after its headers) then waits for the client's delayed ACK, about 40 ms on Linux.
    One worker (asyncio's own socket) has TCP_NODELAY; so that N workers differ from one only by
    being N, it is set on the shared socket, whose connections inherit it."""
    import socket

    bind = uvicorn.Config.bind_socket

    def bind_socket(self):
        sock = bind(self)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    uvicorn.Config.bind_socket = bind_socket


def main(argv):
    if len(argv) != 1:
        print("usage: python -m aerobench_app SPEC.json", file=sys.stderr)
        return 2
    path = os.path.abspath(argv[0])
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    os.environ[SPEC_ENV] = path
    os.environ[LAUNCHER_ENV] = str(os.getpid())
    watch_parent(int(spec.get("parent_pid") or os.getppid()), hasattr(os, "getpgrp") and os.getpgrp() == os.getpid())
    import site

    # The package folders are on PYTHONPATH; this also reads their .pth files.
    for folder in spec.get("package_dirs", []):
        site.addsitedir(folder)
    import uvicorn

    http = http_implementation(spec.get("http"))
    loop = spec.get("event_loop") or "asyncio"
    workers = int(spec.get("workers") or 1)
    server = {"uvicorn": uvicorn.__version__, "http": http, "loop": loop, "workers": workers, "launcher": os.getpid()}
    server_file = os.path.join(os.path.dirname(path), "server.json")
    with open(server_file + ".tmp", "w", encoding="utf-8") as f:
        json.dump(server, f)
    os.replace(server_file + ".tmp", server_file)
    if workers > 1:
        nodelay_on_shared_socket(uvicorn)
    uvicorn.run(
        "aerobench_app:app",
        host=spec.get("host", "127.0.0.1"),
        port=int(spec["port"]),
        workers=workers,
        loop=loop,
        http=http,
        lifespan="on",
        log_level="warning",
        access_log=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
