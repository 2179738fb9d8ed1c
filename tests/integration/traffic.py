"""Seeded synthetic traffic for integration tests: two models, one shifted feature, bad messages."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import numpy as np

MERCHANTS = ["grocery", "travel", "online", "fuel"]
WEIGHTS = [0.4, 0.1, 0.3, 0.2]
MERCHANTS_AFTER = MERCHANTS + ["crypto"]
WEIGHTS_AFTER = [0.28, 0.07, 0.21, 0.14, 0.3]
# Event time starts a day before the test session, on a whole hour: recent enough for the worker's
# default event-time bounds (worker.event_time), and windows fall the same way in every run.
START_MS = (int(time.time()) // 3600 - 24) * 3_600_000
STEP_MS = 10  # 100 events per second of event time per model


@dataclass
class Traffic:
    predictions: list[tuple[str, bytes]] = field(default_factory=list)  # (key, value)
    feedback_early: list[tuple[str, bytes]] = field(default_factory=list)
    feedback_late: list[tuple[str, bytes]] = field(default_factory=list)
    malformed: list[bytes] = field(default_factory=list)
    n_predictions: int = 0
    n_feedback: int = 0
    shift_ms: int = 0


def make_traffic(n_per_model: int = 10_000, *, shift_at: float = 0.5, seed: int = 7,
                 label_share: float = 0.8, early_share: float = 0.1, n_malformed: int = 50) -> Traffic:
    rng = np.random.default_rng(seed)
    out = Traffic()
    shift_index = int(n_per_model * shift_at)
    out.shift_ms = START_MS + shift_index * STEP_MS
    countries = np.array(["DE", "FR", "US", "IN", "BR"])
    for i in range(n_per_model):
        ts = START_MS + i * STEP_MS
        income = rng.normal(50_000, 10_000) + (25_000 if i >= shift_index else 0)
        age = rng.normal(40, 10)
        country = str(rng.choice(countries, p=[0.3, 0.2, 0.3, 0.1, 0.1]))
        score = float(1 / (1 + np.exp(-(income - 50_000) / 10_000)))
        pred = int(score > 0.5)
        label = pred if rng.random() < 0.9 else 1 - pred
        _add(out, rng, label_share, early_share, "credit", f"c-{i}", ts,
             {"income": round(income, 2), "age": round(age, 1), "country": country}, pred, score, label)
        sqft = rng.normal(120, 30)
        rooms = float(rng.integers(1, 6))
        price = 2_000 * sqft + rng.normal(0, 5_000)
        _add(out, rng, label_share, early_share, "price", f"p-{i}", ts,
             {"sqft": round(sqft, 1), "rooms": rooms}, round(2_000 * sqft, 2), None, round(price, 2))
        # fraud: after the shift a new merchant category appears (categorical drift) and the
        # label's relation to the prediction inverts (concept drift on the error stream).
        shifted = i >= shift_index
        merchants, weights = (MERCHANTS_AFTER, WEIGHTS_AFTER) if shifted else (MERCHANTS, WEIGHTS)
        merchant = str(rng.choice(merchants, p=weights))
        amount = float(rng.lognormal(4.0, 1.0))
        flagged = int(amount > 100)
        truth = flagged if rng.random() < 0.95 else 1 - flagged
        _add(out, rng, label_share, early_share, "fraud", f"f-{i}", ts,
             {"amount": round(amount, 2), "merchant": merchant}, flagged, None, 1 - truth if shifted else truth)
    good = json.loads(out.predictions[0][1])
    bad_variants = [
        b"not json at all",
        b'{"event_id": 1}',
        json.dumps({**good, "model": "nope"}).encode(),
        json.dumps({k: v for k, v in good.items() if k != "ts"}).encode(),
        json.dumps({**good, "score": 7}).encode(),
        b'{"event_id": "x", "model": "credit", "version": "v1", "ts": 1, "features": {"income": NaN}, "prediction": 1}',
        json.dumps({**good, "ts": "yesterday"}).encode(),
        b"",
        json.dumps({**good, "features": [1, 2]}).encode(),
        b'{"truncated": ',
    ]
    out.malformed = [bad_variants[i % len(bad_variants)] for i in range(n_malformed)]
    return out


def _add(out, rng, label_share, early_share, model, event_id, ts, features, pred, score, label):
    event = {"event_id": event_id, "model": model, "version": "v1", "ts": ts, "features": features,
             "prediction": pred, "latency_ms": round(float(rng.gamma(2.0, 5.0)), 2)}
    if score is not None:
        event["score"] = round(score, 4)
    out.predictions.append((model, json.dumps(event).encode()))
    out.n_predictions += 1
    if rng.random() < label_share:
        fb = json.dumps({"event_id": event_id, "model": model, "ts": ts + 500, "label": label}).encode()
        (out.feedback_early if rng.random() < early_share else out.feedback_late).append((model, fb))
        out.n_feedback += 1
