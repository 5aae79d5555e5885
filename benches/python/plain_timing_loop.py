"""A plain Python timing loop around one client: the reference aerobench's figures are checked
against. Same server, same keys, bins and policies as aerobench's shim, timed with
time.perf_counter_ns() around each call (its key and bins built before, as aerobench does), and the process's CPU time (resource.getrusage, user +
system) around the whole loop. Prints one JSON object: avg latency (µs) per operation, and CPU
µs per call as "<op>_cpu".

Usage: plain_timing_loop.py CLIENT HOST PORT COUNT   (CLIENT: official | aerospike-py | aerospike-native)
"""

import json
import resource
import sys
import time

client_name, host, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
NS, SET, PREFIX, TIMEOUT = "test", "aerobench", "aerobench-", 5000


PAD = "".join(chr(ord("a") + k % 26) for k in range(32))


def string_value(i, size=32):
    head = (format(i, "x") + "-")[:size]
    return head + PAD[len(head):size]


def bins(i):
    return {"i": i, "s": string_value(i), "d": i * 0.5}


if client_name == "official":
    import aerospike

    base = {"total_timeout": TIMEOUT, "socket_timeout": TIMEOUT, "max_retries": 0}
    c = aerospike.client({"hosts": [(host, port)], "max_conns_per_node": 256,
                          "policies": {"read": dict(base), "write": dict(base)}}).connect()
    key = lambda i: (NS, SET, PREFIX + str(i))
    put = lambda k, b: c.put(k, b)
    get = lambda k, b: c.get(k)
elif client_name == "aerospike-py":
    import aerospike_py

    policy = {"total_timeout": TIMEOUT, "socket_timeout": TIMEOUT, "max_retries": 0}
    c = aerospike_py.client({"hosts": [(host, port)], "timeout": TIMEOUT, "max_conns_per_node": 256}).connect()
    key = lambda i: (NS, SET, PREFIX + str(i))
    put = lambda k, b: c.put(k, b, policy=policy)
    get = lambda k, b: c.get(k, policy=policy)
elif client_name == "aerospike-native":
    import aerospike_native as an

    cp = an.ClientPolicy()
    cp.max_conns_per_node = 256
    wp, rp = an.WritePolicy(), an.ReadPolicy()
    for p in (wp, rp):
        p.total_timeout, p.socket_timeout, p.max_retries = TIMEOUT, TIMEOUT, 0
    c = an.new_client_blocking(cp, f"{host}:{port}")
    key = lambda i: an.Key(NS, SET, PREFIX + str(i))
    put = lambda k, b: c.put_blocking(k, b, policy=wp)
    get = lambda k, b: c.get_blocking(k, policy=rp)
else:
    sys.exit(f"unknown client {client_name}")

result = {}
for name, call in (("put", put), ("get", get)):
    for i in range(min(100, count)):  # warm-up, as aerobench does
        call(key(i), bins(i))
    total = 0
    clock = time.perf_counter_ns
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    for i in range(count):
        # The key and bins are built before the clock starts, as aerobench builds them.
        k, b = key(i), bins(i)
        t = clock()
        call(k, b)
        total += clock() - t
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result[name] = total / count / 1000.0
    result[name + "_cpu"] = (usage.ru_utime + usage.ru_stime - cpu_before) / count * 1e6
print(json.dumps(result))
