"""Seeded traffic with segments: a loan model whose approval rate per region is known, and a regressor.

``loans`` (binary) approves ``APPROVAL`` of each region's applicants; from ``bias_at`` on, the
region ``south`` is approved at ``BIASED`` (below four fifths of the others). Scores are bin
midpoints ((k + 0.5) / 100) so a 100-bin ROC AUC equals scikit-learn's exactly. ``price``
(regression) errs twice as much in ``south``. ``customers`` distinct customer ids go in the
segment key ``customer`` (cardinality); ``hot`` of them are frequent. Every prediction gets its
label 500 ms later. ``rows`` keeps what an oracle needs, per model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

REGIONS = ("north", "south", "east", "west")
MIX = (0.35, 0.25, 0.25, 0.15)
APPROVAL = 0.5
BIASED = 0.3
CHANNELS = ("web", "app", "branch")
STEP_MS = 10  # default: 100 events per second of event time per model
LABEL_DELAY_MS = 500


@dataclass
class SegmentTraffic:
    predictions: list[tuple[str, bytes]] = field(default_factory=list)
    feedback: list[tuple[str, bytes]] = field(default_factory=list)
    rows: dict[str, dict[str, list]] = field(default_factory=dict)  # model -> column -> values


def segment_traffic(n: int, start_ms: int, *, seed: int = 11, bias_at: int | None = None, customers: int = 0,
                    hot: int = 0, models: tuple[str, ...] = ("loans", "price"), step_ms: int = STEP_MS,
                    names: dict[str, str] | None = None, shift_at: int | None = None) -> SegmentTraffic:
    """``names`` renames models in the events (``{"loans": "fair"}``); ``rows`` keeps the generator's names.
    From ``shift_at`` on, ``south``'s income is 20,000 higher (drift in one segment only)."""
    rng = np.random.default_rng(seed)
    out = SegmentTraffic()
    for model in models:
        out.rows[model] = {c: [] for c in ("ts", "region", "channel", "customer", "y_pred", "y_true", "score")}
    for i in range(n):
        ts = start_ms + i * step_ms
        region = str(rng.choice(REGIONS, p=MIX))
        channel = str(rng.choice(CHANNELS))
        customer = None
        if customers:
            customer = f"h{rng.integers(hot)}" if hot and rng.random() < 0.5 else f"c{rng.integers(customers)}"
        segment = {"region": region, **({"customer": customer} if customer else {})}
        income = float(np.round(rng.normal(50_000, 12_000), 2))
        if shift_at is not None and i >= shift_at and region == "south":
            income += 20_000
        if "loans" in models:
            rate = BIASED if bias_at is not None and i >= bias_at and region == "south" else APPROVAL
            approved = int(rng.random() < rate)
            k = int(rng.integers(50, 100)) if approved else int(rng.integers(0, 50))
            score = (k + 0.5) / 100
            label = approved if rng.random() < 0.85 else 1 - approved
            _add(out, "loans", f"l-{i}", ts, income, channel, segment, approved, score, label, customer, names)
        if "price" in models:
            truth = float(np.round(rng.normal(300, 50), 2))
            noise = rng.normal(0, 20 if region == "south" else 10)
            _add(out, "price", f"p-{i}", ts, income, channel, segment, round(truth + noise, 2), None, truth, customer,
                 names)
    return out


def _add(out, model, event_id, ts, income, channel, segment, prediction, score, label, customer, names) -> None:
    rows = out.rows[model]
    model = (names or {}).get(model, model)
    event = {"event_id": event_id, "model": model, "version": "v1", "ts": ts,
             "features": {"income": income, "channel": channel}, "prediction": prediction, "segment": segment}
    if score is not None:
        event["score"] = score
    out.predictions.append((model, json.dumps(event).encode()))
    out.feedback.append((model, json.dumps({"event_id": event_id, "model": model, "ts": ts + LABEL_DELAY_MS,
                                            "label": label}).encode()))
    for name, value in (("ts", ts), ("region", segment["region"]), ("channel", channel), ("customer", customer),
                        ("y_pred", prediction), ("y_true", label), ("score", score)):
        rows[name].append(value)


def config(*, fairness_min_group: int = 30, customer_values: int | None = None) -> dict:
    """The two models with segments by region and channel (and customer, when ``customer_values``)."""
    keys: list = ["region", {"name": "channel", "source": "feature"}]
    if customer_values:
        keys.append({"name": "customer", "max_values": customer_values})
    segments = {"keys": keys, "combinations": [["region", "channel"]]}
    common = {"features": {"income": "numeric", "channel": "categorical"}, "reference": {"warmup_events": 500},
              "window": {"size": "10s", "idle_close": "3s"}, "segments": segments,
              "fairness": {"keys": ["region"], "min_group_size": fairness_min_group}}
    return {"models": [{"name": "loans", "task": "binary_classification", **common},
                       {"name": "price", "task": "regression", **common}]}


def reference_profiles(traffic, rows: int = 2000) -> dict:
    """Each model's reference: income and channel of its events among the first ``rows`` predictions."""
    from driftline.detectors import ReferenceProfile

    out = {}
    for model in ("loans", "price"):
        features = [json.loads(v)["features"] for _, v in traffic.predictions[:rows] if json.loads(v)["model"] == model]
        columns = {"income": np.array([r["income"] for r in features]),
                   "channel": np.array([r["channel"] for r in features], dtype=object)}
        out[model] = ReferenceProfile.from_columns({"income": "numeric", "channel": "categorical"}, columns)
    return out
