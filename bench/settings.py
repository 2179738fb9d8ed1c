"""The worker configuration every benchmark run uses (YAML-equivalent, parsed by driftline.settings)."""

from __future__ import annotations

import uuid

from driftline.settings import Settings, parse_settings

from .traffic import FEATURES, MODELS, WINDOW_MS


def topics(run: str) -> dict[str, str]:
    return {"predictions": f"bench-p-{run}", "feedback": f"bench-f-{run}", "alerts": f"bench-a-{run}",
            "dead_letter": f"bench-d-{run}"}


def bench_raw(bootstrap: str, store_url: str, run: str, *, group: str | None = None,
              webhook_url: str | None = None, idle_close: str = "10s", warmup_events: int | None = None,
              segments: bool = False) -> dict:
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
