"""Writes the seed corpus of the `connection` fuzz target: one file per kind of traffic the
built-in server meets, valid and hostile. Run from this folder: python3 make_corpus.py"""

import os
import struct
import zlib

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "connection")


def frame(kind, body, version=2):
    return bytes([version, kind]) + len(body).to_bytes(6, "big") + body


def field(kind, data):
    return struct.pack(">IB", len(data) + 1, kind) + data


def op(kind, particle, name, value):
    return struct.pack(">IBBBB", 4 + len(name) + len(value), kind, particle, 0, len(name)) + name + value


def msg(info1, info2, info3, fields, ops=()):
    head = bytes([22, info1, info2, info3, 0, 0]) + struct.pack(">IIIHH", 0, 0, 1000, len(fields), len(ops))
    return head + b"".join(fields) + b"".join(ops)


DIGEST = bytes(range(20))
KEY = [field(0, b"test"), field(1, b"s"), field(4, DIGEST)]
PUT = msg(0, 1, 0, KEY, [op(2, 1, b"i", (7).to_bytes(8, "big")), op(2, 3, b"s", b"text")])
GET = msg(3, 0, 0, KEY)


def batch(count, rows):
    data = struct.pack(">IB", count, 0x0D)
    for i in range(rows):
        data += struct.pack(">I", i) + bytes([i % 256]) * 20
        if i == 0:
            data += bytes([0x0A, 3, 0, 0]) + struct.pack(">IHH", 0, 2, 0) + field(0, b"test") + field(1, b"s")
        else:
            data += b"\x01"
    return msg(8, 0, 0, [field(41, data)])


def scan(pids):
    return msg(1, 0, 4, [field(0, b"test"), field(1, b"s"), field(7, (5).to_bytes(8, "big")), field(11, pids)])


def compressed(inner_body):
    inner = frame(3, inner_body)
    return frame(4, len(inner).to_bytes(8, "big") + zlib.compress(inner))


def admin(command, fields):
    body = bytes([0, 0, command, len(fields)]) + bytes(12)
    return frame(2, body + b"".join(struct.pack(">IB", len(d) + 1, i) + d for i, d in fields))


CREDENTIAL = b"$2a$10$7EqJtq98hPqEX7fNZaFWoOhW9LLhCA8BdoMOGL3P9xnGu2gVbzKWi"
SEEDS = {
    "info_tend": frame(1, b"node\npartition-generation\nbuild\nreplicas\npeers-clear-std\n"),
    "info_admin": frame(1, b"namespace/test\nsets/test\ntruncate:namespace=test;set=s\nstatistics\naerobench-memory\n"),
    "info_replicas_repeated": frame(1, b"replicas\n" * 2000),
    "put_get": frame(3, PUT) + frame(3, GET),
    "batch_repeat": frame(3, PUT) + frame(3, batch(40, 40)),
    "batch_count_lies": frame(3, batch(0xFFFFFFFF, 2)),
    "scan_all": frame(3, PUT) + frame(3, scan(b"".join(p.to_bytes(2, "little") for p in range(4096)))),
    "scan_odd_pids": frame(3, scan(b"\x01\x00\x02")),
    "compressed_put": compressed(PUT) + frame(3, GET),
    "zlib_bomb": frame(4, (1 << 19).to_bytes(8, "big") + zlib.compress(bytes(1 << 19), 9)),
    "login_then_get": admin(20, [(0, b"fuzz"), (3, CREDENTIAL)]) + frame(3, GET),
    "authenticate_forged": admin(0, [(0, b"fuzz"), (5, b"token")]) + frame(3, GET),
    "login_costly": admin(20, [(0, b"fuzz"), (3, CREDENTIAL.replace(b"$10$", b"$31$"))]),
    "truncated_body": frame(3, PUT)[:30],
    "truncated_header": b"\x02\x03\x00\x00",
    "bad_version": frame(3, GET, version=3),
    "bad_type": bytes([2, 9, 0, 0, 0, 0, 0, 1, 0]),
    "declares_too_much": bytes([2, 3, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]) + b"x" * 64,
    "header_sz_not_22": frame(3, bytes([30]) + GET[1:]),
    "field_size_lies": frame(3, GET[:22] + struct.pack(">IB", 0xFFFFFFF0, 0) + b"test"),
}

os.makedirs(OUT, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print(f"{len(SEEDS)} seeds in {OUT}")
