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

import numpy as np
from driftline.stream.config import parse_settings
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


def main() -> None:
    processor, state = typical_partition()
    encode, decode = [], []
    for _ in range(7):
        t0 = time.perf_counter()
        blob = state.snapshot()
        t1 = time.perf_counter()
        processor.restore_partition(blob)
        t2 = time.perf_counter()
        encode.append(t1 - t0)
        decode.append(t2 - t1)
    windows = sum(len(m.windows) for m in state.monitors.values())
    label_windows = sum(len(m.label_windows) for m in state.monitors.values())
    print(f"monitors={len(state.monitors)} open prediction windows={windows} open label windows={label_windows}")
    print(f"checkpoint bytes={len(blob)} encode={statistics.median(encode) * 1000:.1f} ms "
          f"decode={statistics.median(decode) * 1000:.1f} ms (median of 7)")


if __name__ == "__main__":
    main()
