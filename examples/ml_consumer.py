#!/usr/bin/env python3
"""An example ML consumer on Canopy's per-user channels, in Python (redis-py + msgpack).

Subscribes to user:{id}:raw, buffers each user's samples, and publishes a linear forecast
per channel on user:{id}:predictions as MessagePack
{type: "prediction", prediction_type: "forecast", data, confidence, source, timestamp}.
It computes exactly what examples/ml-consumer.ts computes (same window, step and formulas).

    python3 examples/ml_consumer.py --user alice [--user bob] [--window 100] [--step 20] [--horizon 10]

Needs redis-py and msgpack (Debian: apt install python3-redis python3-msgpack; else pip).
Redis from --redis-url or REDIS_URL (default redis://127.0.0.1:6379). Malformed raw messages
are counted and skipped; while Redis is unreachable it retries with backoff and resubscribes.
On SIGINT/SIGTERM it prints its counters as one JSON line on stdout and exits 0.
Replace Forecaster with your model.
"""
import argparse
import json
import logging
import math
import os
import random
import re
import signal
import sys
import time

import msgpack
import redis

USER_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_MESSAGE_BYTES = 1024 * 1024
MAX_CHANNELS_PER_MESSAGE = 4096
log = logging.getLogger("ml-consumer")


class Malformed(ValueError):
    """A raw message that is not the `user:{id}:raw` shape; it is counted and skipped."""


def _finite(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # an integer too large for a float (JSON allows them)
        return False


def decode_raw(payload):
    """Bytes of a raw message (MessagePack, or JSON when it starts with '{') -> (channels, timestamp)."""
    if len(payload) > MAX_MESSAGE_BYTES:
        raise Malformed(f"message of {len(payload)} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        if payload.lstrip()[:1] == b"{":
            msg = json.loads(payload.decode("utf-8"))
        else:
            msg = msgpack.unpackb(payload, raw=False, strict_map_key=True)
    except Exception as err:  # any decoder failure: undecodable input, never a crash
        raise Malformed(f"undecodable: {type(err).__name__}: {err}") from None
    if not isinstance(msg, dict) or msg.get("type") != "raw":
        raise Malformed("not a map with type 'raw'")
    ts = msg.get("timestamp")
    if not (_finite(ts) or isinstance(ts, (str, msgpack.Timestamp))):
        raise Malformed("timestamp missing or not a number, text or MessagePack timestamp")
    channels = msg.get("channels")
    if not isinstance(channels, dict) or len(channels) > MAX_CHANNELS_PER_MESSAGE:
        raise Malformed("channels missing or not a map of at most 4096 channels")
    for name, v in channels.items():
        if not isinstance(name, str) or not 1 <= len(name) <= 128:
            raise Malformed("channel names must be text of 1-128 characters")
        if isinstance(v, list):
            if len(v) > 65536 or not all(_finite(x) for x in v):
                raise Malformed(f"channel {name!r}: samples must be finite numbers")
        elif not _finite(v):
            raise Malformed(f"channel {name!r}: not a finite number or a list of them")
    return channels, ts


def fit_line(ys, horizon):
    """Least-squares line through ys at x = 0, 1, ... (same arithmetic as fitLine in forecast.ts)."""
    n = len(ys)
    xm = (n - 1) / 2
    ym = 0.0
    for y in ys:
        ym += y
    ym /= n
    sxy = sxx = syy = 0.0
    for i, y in enumerate(ys):
        dx = i - xm
        dy = y - ym
        sxy += dx * dy
        sxx += dx * dx
        syy += dy * dy
    slope = sxy / sxx if sxx > 0 else 0.0
    intercept = ym - slope * xm
    r2 = min(1.0, max(0.0, (sxy * sxy) / (sxx * syy))) if syy > 0 else 1.0
    forecast = intercept + slope * (n - 1 + horizon)
    return {"last": ys[-1], "mean": ym, "slope": slope, "forecast": forecast, "r2": r2}


class Forecaster:
    """Per user and channel, the last `window` samples.

    A forecast comes first after `window` samples, then every `step` new samples (default: window).
    """

    def __init__(self, window=100, step=None, horizon=10, max_channels=256):
        step = window if step is None else step
        limits = (("window", window, 2, 100_000), ("step", step, 1, 100_000), ("horizon", horizon, 0, 1_000_000))
        for name, v, lo, hi in limits:
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise ValueError(f"{name} must be a whole number from {lo} to {hi}, got {v!r}")
        self.window, self.step, self.horizon, self.max_channels = window, step, horizon, max_channels
        self.users = {}
        self.dropped_channels = 0

    def add(self, user, channels, timestamp):
        st = self.users.setdefault(user, {"channels": {}, "fresh": 0, "seen": 0})
        added = 0
        for name, v in channels.items():
            samples = v if isinstance(v, list) else [v]
            if not samples:
                continue
            buf = st["channels"].get(name)
            if buf is None:
                if len(st["channels"]) >= self.max_channels:
                    self.dropped_channels += len(samples)
                    continue
                buf = st["channels"][name] = []
            buf.extend(samples[-self.window :])
            del buf[: max(0, len(buf) - self.window)]
            added = max(added, len(samples))
        st["fresh"] += added
        st["seen"] = min(self.window, st["seen"] + added)
        if st["seen"] < self.window or st["fresh"] < self.step:
            return None
        st["fresh"] = 0
        fits = {name: fit_line(buf, self.horizon) for name, buf in st["channels"].items() if len(buf) >= 2}
        if not fits:
            return None
        return {
            "prediction_type": "forecast",
            "data": {"model": "linear", "window": self.window, "horizon": self.horizon, "channels": fits},
            "confidence": sum(f["r2"] for f in fits.values()) / len(fits),
            "timestamp": timestamp,
        }


class Consumer:
    def __init__(self, url, users, forecaster, source="canopy-example-ml-py"):
        self.url, self.users, self.model, self.source = url, users, forecaster, source
        self.stats = {"received": 0, "malformed": 0, "predictions": 0, "publishErrors": 0}
        self.stopping = False

    def handle(self, r, channel, payload):
        user = channel.split(":")[1]
        try:
            channels, ts = decode_raw(payload)
        except Malformed as err:
            self.stats["malformed"] += 1
            log.warning("malformed raw message on %s skipped: %s", channel, err)
            return
        self.stats["received"] += 1
        prediction = self.model.add(user, channels, ts)
        if prediction is None:
            return
        message = {"type": "prediction", **prediction, "source": self.source}
        try:
            r.publish(f"user:{user}:predictions", msgpack.packb(message, use_bin_type=True))
            self.stats["predictions"] += 1
        except redis.RedisError as err:
            self.stats["publishErrors"] += 1
            log.warning("prediction for %s not published: %s", user, err)

    def run(self):
        attempt = 0
        while not self.stopping:
            r = redis.Redis.from_url(self.url, socket_connect_timeout=5, health_check_interval=10)
            pubsub = r.pubsub()
            try:
                pubsub.subscribe(*(f"user:{u}:raw" for u in self.users))
                while not self.stopping:
                    m = pubsub.get_message(timeout=0.5)
                    if m is None:
                        continue
                    channel = m["channel"].decode("utf-8", "replace")
                    if m["type"] == "subscribe":  # the server confirmed one channel
                        attempt = 0
                        log.info("subscribed to %s", channel)
                    elif m["type"] == "message":
                        self.handle(r, channel, m["data"])
            except (redis.ConnectionError, redis.TimeoutError) as err:
                attempt += 1
                delay = min(5.0, 0.25 * 2 ** min(attempt, 5)) * random.uniform(0.5, 1.0)
                log.warning("Redis unreachable (%s); retrying in %.1f s", err, delay)
                time.sleep(delay)
            finally:
                try:
                    pubsub.close()
                    r.close()
                except redis.RedisError:
                    pass


def main(argv=None):
    p = argparse.ArgumentParser(description="Example ML consumer: raw samples in, linear forecasts out.")
    p.add_argument("--user", action="append", required=True, help="user id (repeat for several)")
    p.add_argument("--window", type=int, default=100, help="samples per channel (default 100)")
    p.add_argument("--step", type=int, default=None, help="new samples between predictions (default: window)")
    p.add_argument("--horizon", type=int, default=10, help="samples ahead (default 10)")
    p.add_argument("--source", default="canopy-example-ml-py")
    p.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"))
    a = p.parse_args(argv)
    for u in a.user:
        if not USER_ID.match(u):
            p.error(f"{u!r} is not a user id (1-64 characters from A-Z a-z 0-9 _ . -)")
    try:
        model = Forecaster(window=a.window, step=a.step, horizon=a.horizon)
    except ValueError as err:
        p.error(str(err))
    name = os.environ.get("LOG_LEVEL", "info").upper()  # the same names as the Canopy services
    level = {"SILENT": logging.CRITICAL + 1, "TRACE": logging.DEBUG, "FATAL": logging.CRITICAL}.get(name, name)
    if not isinstance(level, int):
        level = logging.getLevelName(level)
    logging.basicConfig(
        level=level if isinstance(level, int) else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    consumer = Consumer(a.redis_url, a.user, model, a.source)

    def stop(_sig, _frame):
        consumer.stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    consumer.run()
    print(json.dumps(consumer.stats), flush=True)


if __name__ == "__main__":
    sys.exit(main())
