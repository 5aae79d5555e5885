"""A plain Python timing loop around one client: the reference aerobench's figures are checked
against. Same server, same keys, bins and policies as aerobench's shim, timed with
time.perf_counter_ns() around each call. Prints one JSON object: avg latency (µs) per operation.

Usage: plain_timing_loop.py CLIENT HOST PORT COUNT   (CLIENT: official | aerospike-py | aerospike-native)
"""

import json
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
    put = lambda i: c.put((NS, SET, PREFIX + str(i)), bins(i))
    get = lambda i: c.get((NS, SET, PREFIX + str(i)))
elif client_name == "aerospike-py":
    import aerospike_py

    policy = {"total_timeout": TIMEOUT, "socket_timeout": TIMEOUT, "max_retries": 0}
    c = aerospike_py.client({"hosts": [(host, port)], "timeout": TIMEOUT, "max_conns_per_node": 256}).connect()
    put = lambda i: c.put((NS, SET, PREFIX + str(i)), bins(i), policy=policy)
    get = lambda i: c.get((NS, SET, PREFIX + str(i)), policy=policy)
elif client_name == "aerospike-native":
    import aerospike_native as an

    cp = an.ClientPolicy()
    cp.max_conns_per_node = 256
    wp, rp = an.WritePolicy(), an.ReadPolicy()
    for p in (wp, rp):
        p.total_timeout, p.socket_timeout, p.max_retries = TIMEOUT, TIMEOUT, 0
    c = an.new_client_blocking(cp, f"{host}:{port}")
    put = lambda i: c.put_blocking(an.Key(NS, SET, PREFIX + str(i)), bins(i), policy=wp)
    get = lambda i: c.get_blocking(an.Key(NS, SET, PREFIX + str(i)), policy=rp)
else:
    sys.exit(f"unknown client {client_name}")

result = {}
for name, call in (("put", put), ("get", get)):
    for i in range(min(100, count)):  # warm-up, as aerobench does
        call(i)
    total = 0
    clock = time.perf_counter_ns
    for i in range(count):
        t = clock()
        call(i)
        total += clock() - t
    result[name] = total / count / 1000.0
print(json.dumps(result))
