"""Seeded benchmark traffic: 5 models x 2 versions, 10 numeric + 3 categorical features.

Every prediction is one JSON message of about 260 bytes, keyed by model; half
of them get a feedback message. Event time advances ``STEP_MS`` per event of a
(model, version) stream, so a ``WINDOW_MS`` window holds ``WINDOW_EVENTS``
events of each stream. From ``drift_index`` on (a window boundary), one numeric
feature shifts by one standard deviation and one categorical changes its mix,
in every stream: a window is drifted exactly when it starts at or after the
onset. Features are ``f0``..``f9`` (numeric) and ``c0``..``c2`` (categorical);
``f0`` and ``c1`` drift.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

START_MS = 1_764_000_000_000
STEP_MS = 1  # event time per event of one (model, version) stream: 1,000 events/s
WINDOW_MS = 10_000
WINDOW_EVENTS = WINDOW_MS // STEP_MS
# Names picked so that librdkafka's default partitioner (CRC32 of the key) spreads them over 4 partitions.
MODELS = ("fraud", "churn", "credit", "upsell", "ltv")
VERSIONS = ("v1", "v2")
NUMERIC = tuple(f"f{i}" for i in range(10))
CATEGORICAL = ("c0", "c1", "c2")
FEATURES = {**dict.fromkeys(NUMERIC, "numeric"), **dict.fromkeys(CATEGORICAL, "categorical")}
DRIFTED = ("f0", "c1")
LABEL_SHARE = 0.5
_MEANS = np.array([120.0, 41.0, 80.0, 250.0, 6.0, 95.0, 12.0, 30.0, 40.0, 500.0])
_SCALES = np.array([40.0, 12.0, 30.0, 90.0, 2.0, 30.0, 4.0, 9.0, 15.0, 150.0])
_CATEGORIES = {"c0": ["DE", "FR", "US", "IN", "BR", "JP"], "c1": ["web", "app", "pos", "call"],
               "c2": ["free", "basic", "pro", "team"]}
_MIX = {"c0": [0.3, 0.2, 0.25, 0.1, 0.1, 0.05], "c1": [0.5, 0.3, 0.15, 0.05], "c2": [0.4, 0.3, 0.2, 0.1]}
_DRIFTED_MIX = [0.2, 0.3, 0.15, 0.35]  # c1 after the onset


@dataclass(frozen=True)
class Plan:
    """What one benchmark data set contains (predictions are ``n_streams * per_stream``)."""

    per_stream: int
    drift_index: int  # first drifted event index within each stream (a window boundary)
    seed: int = 7
    segment_values: int = 0  # > 0: each prediction has {"segment": {"region": ..., "plan": ...}}, this many values each

    @classmethod
    def for_events(cls, events: int, *, drift_at: float = 0.6, seed: int = 7, segment_values: int = 0) -> Plan:
        per_stream = max(WINDOW_EVENTS, events // (len(MODELS) * len(VERSIONS)))
        drift = int(per_stream * drift_at) // WINDOW_EVENTS * WINDOW_EVENTS
        return cls(per_stream, max(drift, WINDOW_EVENTS), seed, segment_values)

    @property
    def streams(self) -> list[tuple[str, str]]:
        return [(m, v) for m in MODELS for v in VERSIONS]

    @property
    def predictions(self) -> int:
        return self.per_stream * len(self.streams)

    @property
    def drift_ms(self) -> int:
        return START_MS + self.drift_index * STEP_MS

    def windows(self) -> dict[str, int]:
        """Data windows per stream: all, and those starting at/after the drift onset."""
        first = START_MS - START_MS % WINDOW_MS
        last = START_MS + (self.per_stream - 1) * STEP_MS
        total = (last - last % WINDOW_MS - first) // WINDOW_MS + 1
        drifted = (last - last % WINDOW_MS - self.drift_ms) // WINDOW_MS + 1
        return {"per_stream": total, "drifted_per_stream": drifted}


def feature_rows(rng: np.random.Generator, n: int, drifted: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``n`` rows: a (n, 10) numeric matrix and categorical columns; ``drifted`` is a bool mask."""
    numeric = rng.normal(_MEANS, _SCALES, size=(n, len(NUMERIC)))
    numeric[drifted, 0] += _SCALES[0]
    cats = {}
    for name in CATEGORICAL:
        values = np.array(_CATEGORIES[name], dtype=object)
        col = rng.choice(values, size=n, p=_MIX[name])
        if name == "c1" and drifted.any():
            col[drifted] = rng.choice(values, size=int(drifted.sum()), p=_DRIFTED_MIX)
        cats[name] = col
    return np.round(numeric, 1), cats


def stream_key(model: str, version: str) -> str:
    """The message key of a (model, version) stream when keying by stream (``messages(by_stream=True)``)."""
    return f"{model}/{version}"


def messages(plan: Plan, chunk: int = 20_000, *, by_stream: bool = False) -> Iterator[tuple[list, list]]:
    """Yield ``(predictions, feedback)`` lists of ``(key, value)`` in event-time order across streams;
    the key is the model, or with ``by_stream`` the (model, version) stream (:func:`stream_key`)."""
    rng = np.random.default_rng(plan.seed)
    streams = plan.streams
    for lo in range(0, plan.per_stream, chunk):
        hi = min(plan.per_stream, lo + chunk)
        idx = np.arange(lo, hi)
        preds: list = []
        feedback: list = []
        per = {}
        for s, (model, version) in enumerate(streams):
            num, cats = feature_rows(rng, hi - lo, idx >= plan.drift_index)
            logit = (num[:, 0] - _MEANS[0]) / _SCALES[0] + (num[:, 1] - _MEANS[1]) / _SCALES[1]
            score = np.round(1 / (1 + np.exp(-logit)), 3)
            flip = rng.random(hi - lo) < 0.1
            labelled = rng.random(hi - lo) < LABEL_SHARE
            latency = np.round(rng.gamma(2.0, 4.0, hi - lo), 1)
            # Drawn only for a plan with segments, so the data of the other sections stays the same.
            segments = rng.integers(0, plan.segment_values, size=(hi - lo, 2)).tolist() if plan.segment_values else None
            per[s] = (model, version, num.tolist(), [c.tolist() for c in cats.values()], score.tolist(),
                      flip.tolist(), labelled.tolist(), latency.tolist(), segments)
        for j, i in enumerate(range(lo, hi)):
            ts = START_MS + i * STEP_MS
            for s in range(len(streams)):
                model, version, num, cats, score, flip, labelled, latency, segments = per[s]
                key = stream_key(model, version) if by_stream else model
                x = num[j]
                pred = 1 if score[j] > 0.5 else 0
                eid = f"{model[:2]}{version[1]}{i}"
                value = _PREDICTION % (eid, model, version, ts, x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], x[8],
                                       x[9], cats[0][j], cats[1][j], cats[2][j], pred, score[j], latency[j])
                if plan.segment_values:
                    value = value[:-1] + _SEGMENT % tuple(segments[j])
                preds.append((key, value.encode()))
                if labelled[j]:
                    label = 1 - pred if flip[j] else pred
                    feedback.append((key, (_FEEDBACK % (eid, model, ts + 200, label)).encode()))
        yield preds, feedback


def tick_messages(plan: Plan, *, by_stream: bool = False) -> list[tuple[str, bytes]]:
    """One late-enough event per stream: its watermark closes every data window (as live traffic would)."""
    ts = START_MS + (plan.per_stream + WINDOW_EVENTS) * STEP_MS
    out = []
    for model, version in plan.streams:
        out.append((stream_key(model, version) if by_stream else model, (_PREDICTION % (f"tick-{model}-{version}", model, version, ts, *_MEANS.tolist(),
                                           "DE", "web", "free", 0, 0.5, 1.0)).encode()))
    return out


_PREDICTION = (
    '{"event_id":"%s","model":"%s","version":"%s","ts":%d,"features":{'
    '"f0":%r,"f1":%r,"f2":%r,"f3":%r,"f4":%r,"f5":%r,"f6":%r,"f7":%r,"f8":%r,"f9":%r,'
    '"c0":"%s","c1":"%s","c2":"%s"},'
    '"prediction":%d,"score":%r,"latency_ms":%r}'
)
_SEGMENT = ',"segment":{"region":"r%d","plan":"p%d"}}'
_FEEDBACK = '{"event_id":"%s","model":"%s","ts":%d,"label":%d}'
