"""Checkpoint size and encode/decode time of a typical partition.

A typical partition: 5 binary classifiers x 2 versions, 13 features (10 numeric,
3 categorical), the reference built in-stream from 5,000 warm-up events, 1 min windows,
80 % of the predictions labelled 30 s later, an open prediction window and an open label
window per model version. Run with ``.venv/bin/python -m bench.checkpoint``.
"""

from __future__ import annotations

import json
import statistics
import time

import msgspec
import numpy as np
from driftline.settings import parse_settings
from driftline.stream.processor import BatchOutput, Processor

NUMERIC = [f"n{i}" for i in range(10)]
CATEGORICAL = ["country", "channel", "device"]
MODELS = [f"model{i}" for i in range(5)]
VERSIONS = ["v1", "v2"]
RATE_PER_S = 50  # events per second of event time per model version
SECONDS = 330  # 5 windows closed, the 6th open
START_MS = 1_764_000_000_000


def settings():
    features = {**{n: "numeric" for n in NUMERIC}, **{c: "categorical" for c in CATEGORICAL}}
    return parse_settings({"models": [
        {"name": m, "task": "binary_classification", "features": features,
         "reference": {"warmup_events": 5000}, "window": {"size": "60s", "idle_close": "30s"}}
        for m in MODELS]})


def messages(seed: int = 0):
    """Prediction and feedback message values of the partition, in batches of one second."""
    rng = np.random.default_rng(seed)
    countries = np.array(["DE", "FR", "US", "IN", "BR", "ES", "IT"])
    channels = np.array(["web", "app", "store"])
    devices = np.array(["ios", "android", "desktop", "other"])
    pending: list[tuple[int, bytes]] = []
    for second in range(SECONDS):
        preds, labels = [], []
        for model in MODELS:
            for version in VERSIONS:
                for k in range(RATE_PER_S):
                    ts = START_MS + second * 1000 + k * (1000 // RATE_PER_S)
                    x = rng.normal(size=10)
                    features = {n: round(float(v), 4) for n, v in zip(NUMERIC, x, strict=True)}
                    features.update(country=str(rng.choice(countries)), channel=str(rng.choice(channels)),
                                    device=str(rng.choice(devices)))
                    score = float(1 / (1 + np.exp(-x[0])))
                    event_id = f"{model}-{version}-{second}-{k}"
                    preds.append(json.dumps({"event_id": event_id, "model": model, "version": version, "ts": ts,
                                             "features": features, "prediction": int(score > 0.5), "score": score,
                                             "latency_ms": round(float(rng.gamma(2.0, 5.0)), 2)}).encode())
                    if rng.random() < 0.8:
                        label = int(score > 0.5) if rng.random() < 0.9 else int(score <= 0.5)
                        pending.append((ts + 30_000, json.dumps({"event_id": event_id, "model": model,
                                                                 "ts": ts + 30_000, "label": label}).encode()))
        now = START_MS + (second + 1) * 1000
        labels = [v for t, v in pending if t < now]
        pending = [(t, v) for t, v in pending if t >= now]
        yield now, preds, labels


def typical_partition():
    processor = Processor(settings())
    state = processor.new_partition(0)
    offsets = [0, 0]
    for now, preds, labels in messages():
        p = [(0, offsets[0] + i, v, 0) for i, v in enumerate(preds)]
        f = [(0, offsets[1] + i, v, 0) for i, v in enumerate(labels)]
        offsets[0] += len(p)
        offsets[1] += len(f)
        out = BatchOutput()
        processor.process(state, p, f, now, out)
        processor.close_windows(state, now, out)
    return processor, state


def median_ms(f, n: int = 7) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        f()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    processor, state = typical_partition()
    blob = state.snapshot()
    windows = sum(len(m.windows) for m in state.monitors.values())
    label_windows = sum(len(m.label_windows) for m in state.monitors.values())
    print(f"monitors={len(state.monitors)} open prediction windows={windows} open label windows={label_windows}")
    print(f"checkpoint bytes={len(blob)} (stored as text) encode={median_ms(state.snapshot):.1f} ms "
          f"decode={median_ms(lambda: processor.restore_partition(blob)):.1f} ms (medians of 7)")
    # The same document as msgpack, for the choice of encoding: the packed arrays dominate either way.
    doc = msgspec.json.decode(blob)
    packed = msgspec.msgpack.encode(doc)
    print(f"document: json {len(blob)} bytes, encode {median_ms(lambda: msgspec.json.encode(doc)):.1f} ms, "
          f"parse {median_ms(lambda: msgspec.json.decode(blob)):.1f} ms; msgpack {len(packed)} bytes, "
          f"encode {median_ms(lambda: msgspec.msgpack.encode(doc)):.1f} ms, "
          f"parse {median_ms(lambda: msgspec.msgpack.decode(packed)):.1f} ms")


if __name__ == "__main__":
    main()
