"""The worker configuration every benchmark run uses (YAML-equivalent, parsed by driftline.settings)."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
from driftline.settings import Settings, parse_settings

from .traffic import FEATURES, MODELS, WINDOW_EVENTS, WINDOW_MS, feature_rows

REFERENCE_ROWS = 10_000


def topics(run: str) -> dict[str, str]:
    return {"predictions": f"bench-p-{run}", "feedback": f"bench-f-{run}", "alerts": f"bench-a-{run}",
            "dead_letter": f"bench-d-{run}"}


def traffic_profile() -> Path:
    """A reference profile of the traffic's undrifted distributions (``REFERENCE_ROWS`` rows) that
    carries the null fits of ``threshold: auto`` for the windows a run closes (``WINDOW_EVENTS``
    per stream, and the watermark tick's one event), made once and cached on disk like
    :func:`bench.growth.reference_profile`'s. With it a run times the per-event work of the default
    tests; a warm-up reference would make its fits in the run (a one-time cost per reference,
    reported apart: ``bench.growth.calibration_cost``)."""
    from driftline.stream.columns import monitored_kinds

    from .growth import CALIBRATION_DRAWS, PROFILES, _fits_version, save_fitted_profile

    path = PROFILES / f"traffic-r{REFERENCE_ROWS}-w{WINDOW_EVENTS}-d{CALIBRATION_DRAWS}-{_fits_version()}.json"
    if path.exists():
        return path
    rng = np.random.default_rng(23)
    numeric, categorical = feature_rows(rng, REFERENCE_ROWS, np.zeros(REFERENCE_ROWS, dtype=bool))
    columns = {name: numeric[:, i] for i, name in enumerate(n for n, k in FEATURES.items() if k == "numeric")}
    return save_fitted_profile(path, monitored_kinds(FEATURES, "binary_classification"), {**columns, **categorical},
                               rng, WINDOW_EVENTS)


def bench_raw(bootstrap: str, store_url: str, run: str, *, group: str | None = None,
              webhook_url: str | None = None, idle_close: str = "10s", warmup_events: int | None = None,
              segments: bool = False, reference: Path | None = None) -> dict:
    """Defaults everywhere except: the topics, the store, 10 s windows, no oldest event age and
    (optionally) a webhook, a shorter reference warm-up, and segments: the keys ``region`` and
    ``plan`` of the events' segment object (50 values each) and fairness on ``region``.
    The raw mapping, as YAML would give it."""
    models = []
    for name in MODELS:
        model = {"name": name, "task": "binary_classification", "features": dict(FEATURES),
                 "window": {"size": f"{WINDOW_MS // 1000}s", "idle_close": idle_close}}
        if warmup_events:
            model["reference"] = {"warmup_events": warmup_events}
        if reference is not None:  # a profile with its null fits (traffic_profile)
            model["reference"] = {"profile": str(reference)}
        if segments:
            model["segments"] = {"keys": ["region", "plan"], "max_values": 50}
            model["fairness"] = {"keys": ["region"]}
        models.append(model)
    raw = {
        "kafka": {"bootstrap_servers": bootstrap, "group_id": group or f"bench-{run}-{uuid.uuid4().hex[:6]}",
                  "session_timeout": "6s", "topics": topics(run)},
        "clickhouse": {"url": store_url},
        # The traffic's event time is a fixed date (comparable runs), older than the default oldest age.
        "worker": {"event_time": {"max_age": 0}},
        "models": models,
    }
    if webhook_url:
        raw["alerts"] = {"channels": [{"type": "webhook", "name": "bench", "url": webhook_url}]}
    return raw


def bench_settings(bootstrap: str, store_url: str, run: str, **options) -> Settings:
    return parse_settings(bench_raw(bootstrap, store_url, run, **options))
