"""The first window's close with ``threshold: auto``: how long the ingest thread stops, with the
null fits made while the window fills (stream/fit_prefetch.py) and without (made in the close).

One model of 13 features (10 numeric, 3 categorical), a warm-up reference of 2,000 events (its
calibration empty, as a new model's is), then one window of 20 s fed at its event-time pace (100
events/s, a batch every 0.5 s of wall time) and closed. Reported per mode: the longest single
call into the processor (the stall a consumer's poll loop sees), the close's own time, and the
fits the close made itself. Run with ``.venv/bin/python -m bench.first_close``.
"""

from __future__ import annotations

import json
import time

import numpy as np
from driftline.settings import parse_settings
from driftline.stream.processor import BatchOutput, Processor

NUMERIC = [f"n{i}" for i in range(10)]
CATEGORICAL = ["country", "channel", "device"]
WINDOW_S = 20
RATE = 100  # events per second of event time
WARMUP = 2000
START_MS = 1_764_000_000_000


def settings():
    features = {**{n: "numeric" for n in NUMERIC}, **{c: "categorical" for c in CATEGORICAL}}
    return parse_settings({"models": [{"name": "m", "features": features, "reference": {"warmup_events": WARMUP},
                                       "window": {"size": f"{WINDOW_S}s", "idle_close": "5s"}}]})


def events(seed: int = 0) -> list[tuple]:
    rng = np.random.default_rng(seed)
    total = WARMUP + WINDOW_S * RATE
    ts = np.concatenate([np.full(WARMUP, START_MS),  # the warm-up: window 0, not monitored
                         START_MS + WINDOW_S * 1000 + np.arange(WINDOW_S * RATE) * 1000 // RATE])
    out = []
    for i in range(total):
        features = {n: float(rng.lognormal() if k % 2 else rng.normal()) for k, n in enumerate(NUMERIC)}
        features.update({c: str(rng.choice(["a", "b", "c", "d"])) for c in CATEGORICAL})
        value = {"event_id": f"e{i}", "model": "m", "version": "v1", "ts": int(ts[i]), "prediction": 1,
                 "features": features}
        out.append((0, i, json.dumps(value).encode(), 0))
    return out


def run(prefetch: bool, messages: list[tuple]) -> dict:
    processor = Processor(settings())
    if not prefetch:
        processor.fit_prefetch = None
    state = processor.new_partition(0)
    out = BatchOutput()
    processor.process(state, messages[:WARMUP], [], START_MS, out)  # the warm-up, at once
    step = RATE // 2
    longest = 0.0
    began = time.perf_counter()
    for k, start in enumerate(range(WARMUP, len(messages), step)):
        time.sleep(max(0.0, began + k * 0.5 - time.perf_counter()))  # the window's own pace
        t = time.perf_counter()
        processor.process(state, messages[start:start + step], [], START_MS, out)
        longest = max(longest, time.perf_counter() - t)
    calibration = state.monitors[("m", "v1")].reference.calibration
    held = len(calibration)
    t = time.perf_counter()
    processor.close_windows(state, START_MS + 3 * WINDOW_S * 1000 + 60_000, out)
    close_s = time.perf_counter() - t
    assert any(r.window_start_ms == START_MS + WINDOW_S * 1000 for r in out.reports), "the window did not close"
    return {"prefetch": prefetch, "close_s": close_s, "longest_call_s": max(longest, close_s),
            "fits_in_close": len(calibration) - held, "fits": len(calibration)}


def main() -> None:
    messages = events()
    rows = [run(False, messages), run(True, messages)]
    print("| null fits | close of the first window (s) | longest call (s) | fits made in the close | fits |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {'made while the window fills' if r['prefetch'] else 'made in the close'} | {r['close_s']:.2f} "
              f"| {r['longest_call_s']:.2f} | {r['fits_in_close']} | {r['fits']} |")


if __name__ == "__main__":
    main()
