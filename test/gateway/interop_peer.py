"""Python side of the gateway interop test (Debian python3-redis + python3-msgpack).

Subscribes to user:{id}:raw with redis-py, checks that the message the TypeScript relay sent
(through the gateway) decodes to exactly the expected values and types, prints the verdict as
one JSON line, then publishes a prediction with msgpack.packb for the relay to check.
"""
import json
import sys

import msgpack
import redis

url, user = sys.argv[1], sys.argv[2]
r = redis.Redis.from_url(url)
p = r.pubsub()
p.subscribe(f"user:{user}:raw")
confirm = p.get_message(timeout=5)
assert confirm and confirm["type"] == "subscribe", confirm
print("READY", flush=True)

got = None
while got is None:
    m = p.get_message(timeout=20)
    if m is None:
        print(json.dumps({"ok": False, "problems": ["no message within 20 s"]}), flush=True)
        sys.exit(1)
    if m["type"] == "message":
        got = msgpack.unpackb(m["data"])

nested = {"a": {"b": [1, 2.5, "x", None, True]}}
expected = {
    "type": "raw",
    "timestamp": msgpack.Timestamp(seconds=1700000000, nanoseconds=123000000),
    "seq": 7,
    "channels": {
        "Ch0": 0.1 + 0.2,
        "Ch1": -273.15,
        "Ch2": 1e-300,
        "Ch3": 42,
        "Ch4": -(2**40),
        "Ch5": [1.5, 2, -3.25],
    },
    "meta": {"site": "Flower Room \u2713", "nested": nested},
    "ts_float": 1700000000.25,
}

problems = []


def check(path, a, b):
    if type(a) is not type(b):
        problems.append(f"{path}: type {type(a).__name__} != {type(b).__name__} ({a!r} vs {b!r})")
    elif isinstance(b, dict):
        if set(a) != set(b):
            problems.append(f"{path}: keys {sorted(a)} != {sorted(b)}")
        for k in b:
            if k in a:
                check(f"{path}/{k}", a[k], b[k])
    elif isinstance(b, list):
        if len(a) != len(b):
            problems.append(f"{path}: length {len(a)} != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            check(f"{path}/{i}", x, y)
    elif a != b:
        problems.append(f"{path}: {a!r} != {b!r}")


check("", got, expected)
print(json.dumps({"ok": not problems, "problems": problems}), flush=True)

prediction = {
    "type": "prediction",
    "prediction_type": "workload",
    "data": {
        "workload": 0.1 + 0.2,
        "valence": -1.5e-7,
        "count": 2**40,
        "neg": -7,
        "zero": 0,
        "nested": nested,
        "text": "Flower Room \u2713",
    },
    "confidence": 0.92,
    "source": "python-redis",
    "timestamp": msgpack.Timestamp(seconds=1700000000, nanoseconds=456000000),
    "ts_float": 1700000000.25,
}
r.publish(f"user:{user}:predictions", msgpack.packb(prediction))
p.close()
r.close()
