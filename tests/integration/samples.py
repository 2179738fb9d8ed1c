"""Sample rows for every driftline table, inserted through the real Store.

Two models (``credit`` with versions v1 and v2, ``price``), three days of
events ending two hours before ``now``: enough for every dashboard panel and
every documented query to return rows.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from driftline.sinks.store import Store

MODEL, VERSIONS = "credit", ("v1", "v2")
FEATURES = ("income", "age", "country")


def base_time(now: datetime) -> datetime:
    """Start of the sample data: three days before ``now``, on the hour (naive UTC)."""
    return (now - timedelta(days=3)).replace(minute=0, second=0, microsecond=0, tzinfo=None)


def insert_samples(store: Store, now: datetime) -> dict[str, int]:
    """Insert the samples; returns rows per table."""
    start = base_time(now)
    hours = 70
    rows = {
        "predictions": _predictions(start, hours),
        "feedback": _feedback(start, hours),
        "window_metrics": _window_metrics(start, hours),
        "drift_results": _drift_results(start, hours),
        "alerts": _alerts(start),
        "alert_deliveries": _deliveries(start),
        "dead_letters": _dead_letters(start),
        "experiment_verdicts": _experiment_verdicts(start, hours),
        "model_versions": _model_versions(start),
        "segment_metrics": _segment_metrics(start, hours),
        "fairness_results": _fairness_results(start, hours),
    }
    for table, columns in rows.items():
        store.insert(table, columns)
    return {table: len(next(iter(columns.values()))) for table, columns in rows.items()}


def _columns(records: list[dict]) -> dict[str, list]:
    return {key: [r[key] for r in records] for key in records[0]}


def _predictions(start: datetime, hours: int) -> dict[str, list]:
    records = []
    for h in range(hours):
        for i in range(6):
            model, version = (MODEL, VERSIONS[i % 2]) if i < 4 else ("price", "v1")
            ts = start + timedelta(hours=h, minutes=i * 7)
            records.append({
                "event_id": f"{model}-{h}-{i}", "model": model, "version": version, "ts": ts,
                "ts_ms": int(ts.timestamp() * 1000), "features": json.dumps({"income": 50_000 + h, "age": 30 + i}),
                "prediction": str(i % 2), "prediction_num": float(i % 2),
                "score": None if i == 5 else 0.1 * i, "latency_ms": None if i == 3 else 5.0 + 10 * i,
                "variant": "", "segment": "eu", "kafka_partition": i % 3, "kafka_offset": h * 10 + i,
            })
    return _columns(records)


def _feedback(start: datetime, hours: int) -> dict[str, list]:
    records = [{
        "event_id": f"{MODEL}-{h}-{i}", "model": MODEL, "ts": start + timedelta(hours=h, minutes=30),
        "ts_ms": 0, "label": str(i % 2), "label_num": float(i % 2), "kafka_partition": 0, "kafka_offset": h * 10 + i,
    } for h in range(hours) for i in range(3)]
    return _columns(records)


def _window_metrics(start: datetime, hours: int) -> dict[str, list]:
    records = []
    for h in range(hours):
        for version in VERSIONS:
            window_start = start + timedelta(hours=h)
            values = {"predictions": 120.0, "throughput_per_s": 2.0, "labels": 90.0, "label_coverage": 0.75,
                      "accuracy": 0.9 if version == "v1" else 0.7 + 0.001 * h, "f1": 0.85,
                      "latency_p50_ms": 12.0, "latency_p95_ms": 40.0, "latency_p99_ms": 80.0,
                      "missing_rate:income": 0.01 * (h % 5), "missing_rate:age": 0.0,
                      "type_errors:income": float(h % 2)}
            records += [{"model": MODEL, "version": version, "window_start": window_start,
                         "window_end": window_start + timedelta(minutes=1), "metric": name, "value": value,
                         "n": 120} for name, value in values.items()]
    return _columns(records)


def _drift_results(start: datetime, hours: int) -> dict[str, list]:
    records = []
    for h in range(hours):
        for version in VERSIONS:
            for feature, test in zip(FEATURES, ("ks", "psi", "chi2"), strict=True):
                drifted = int(version == "v2" and feature == "income" and h > 40)
                window_start = start + timedelta(hours=h)
                records.append({
                    "model": MODEL, "version": version, "window_start": window_start,
                    "window_end": window_start + timedelta(minutes=1), "feature": feature, "test": test,
                    "statistic": 0.3 if drifted else 0.02, "p_value": 0.001 if drifted else 0.5, "threshold": 0.1,
                    "drifted": drifted, "raw_drifted": drifted, "corrected": "holm",
                })
    return _columns(records)


def _alerts(start: datetime) -> dict[str, list]:
    records = []
    for n, (kind, severity, action, status, hour) in enumerate((
            ("data_drift", "warning", "notify", "firing", 41), ("data_drift", "warning", "notify", "resolved", 50),
            ("performance", "critical", "deactivate", "firing", 60), ("concept_drift", "critical", "retrain", "firing", 65))):
        window_start = start + timedelta(hours=hour)
        records.append({
            "alert_id": f"alert-{n}", "dedup_key": f"{MODEL}/v2/{kind}", "status": status, "kind": kind,
            "severity": severity, "action": action, "model": MODEL, "version": "v2",
            "feature": "income" if kind == "data_drift" else "", "features": json.dumps(["income"]),
            "window_start": window_start, "window_end": window_start + timedelta(minutes=1),
            "summary": f"{MODEL} v2 {kind} {status}", "payload": "{}", "ts": window_start + timedelta(minutes=2),
        })
    return _columns(records)


def _deliveries(start: datetime) -> dict[str, list]:
    records = [{"alert_id": f"alert-{n}", "dedup_key": f"{MODEL}/v2/data_drift", "channel": channel,
                "status": "delivered" if channel == "slack" else "failed", "attempts": 1 if channel == "slack" else 5,
                "last_status_code": 200 if channel == "slack" else 503, "error": "",
                "ts": start + timedelta(hours=41 + n)} for n in range(3) for channel in ("slack", "retrain")]
    return _columns(records)


def _dead_letters(start: datetime) -> dict[str, list]:
    records = [{"topic": "driftline.predictions", "kafka_partition": 0, "kafka_offset": n,
                "reason": "invalid_json" if n % 2 else "missing_field", "detail": "", "payload": "{",
                "payload_bytes": 1, "ts": start + timedelta(hours=7 * n)} for n in range(10)]
    return _columns(records)


def _experiment_verdicts(start: datetime, hours: int) -> dict[str, list]:
    """The canary v2 of ``credit`` against v1, evaluated hourly: rolled back at hour 30."""
    records = []
    for h in range(hours):
        width = 0.3 / (1 + h) ** 0.5
        window_start = start + timedelta(hours=h)
        records.append({
            "experiment": "credit-canary", "model": MODEL, "champion": "v1", "challenger": "v2",
            "window_start": window_start, "window_end": window_start + timedelta(hours=1),
            "verdict": "rollback" if h >= 30 else "continue", "previous": "rollback" if h > 30 else "continue",
            "reason": "accuracy: the challenger is worse" if h >= 30 else "", "metric": "accuracy", "paired": 0,
            "estimate": None if h < 2 else -0.2, "lower": None if h < 2 else -0.2 - width,
            "upper": None if h < 2 else -0.2 + width, "champion_value": 0.9, "challenger_value": 0.7,
            "n_champion": 400 * (h + 1), "n_challenger": 100 * (h + 1), "alpha": 0.025, "action": "rollback",
            "guardrails": "[]", "checks": "[]", "kafka_partition": 0, "computed_at": window_start,
        })
    return _columns(records)


def _model_versions(start: datetime) -> dict[str, list]:
    epoch = datetime(1970, 1, 1)
    records = [
        ("v1", "active", "first seen", "driftline", 0, 0, 69),
        ("v2", "canary", "first seen", "driftline", 0, 0, 31),
        ("v2", "rolled_back", "accuracy: the challenger is worse", "verdict:credit-canary", 31, 0, 69),
        ("v2", "deactivated", "router updated", "cli:ops", 40, None, None),
    ]
    return _columns([{
        "model": MODEL, "version": version, "state": state, "reason": reason, "changed_by": by,
        "changed_at": start + timedelta(hours=changed), "first_seen": epoch if first is None else start + timedelta(hours=first),
        "last_seen": epoch if last is None else start + timedelta(hours=last), "updated_at": start + timedelta(hours=69),
    } for version, state, reason, by, changed, first, last in records])


def _segment_metrics(start: datetime, hours: int) -> dict[str, list]:
    records = []
    for h in range(hours):
        window_start = start + timedelta(hours=h)
        for version in VERSIONS:
            for group, accuracy in (("north", 0.9), ("south", 0.7 if h > 40 else 0.88)):
                for metric, value, n in (("predictions", 60.0, 60), ("accuracy", accuracy, 45),
                                         ("selection_rate", 0.3 if group == "south" else 0.5, 60)):
                    records.append({"model": MODEL, "version": version, "window_start": window_start,
                                    "window_end": window_start + timedelta(minutes=1), "segment_key": "region",
                                    "segment_value": group, "metric": metric, "value": value, "n": n,
                                    "kafka_partition": 0})
    return _columns(records)


def _fairness_results(start: datetime, hours: int) -> dict[str, list]:
    records = []
    for h in range(hours):
        window_start = start + timedelta(hours=h)
        for version in VERSIONS:
            flagged = int(version == "v2" and h > 40)
            records.append({
                "model": MODEL, "version": version, "window_start": window_start,
                "window_end": window_start + timedelta(minutes=1), "sensitive_key": "region",
                "measure": "demographic_parity_ratio", "value": 0.6 if flagged else 0.95, "threshold": 0.8,
                "flagged": flagged, "worst_group": "south", "best_group": "north", "worst_value": 0.3,
                "best_value": 0.5, "worst_n": 60, "best_n": 60, "p_value": 0.001 if flagged else 0.8,
                "groups": json.dumps([{"group": "south", "value": 0.3, "n": 60, "low": 0.2, "high": 0.42}]),
                "kafka_partition": 0})
    return _columns(records)
