"""``python -m bench.report [--windows 8760] [--features 50]``: how long ``driftline report`` takes on a year.

A model with ``--features`` numeric features and a year of hourly windows (8,760) is written into
a real ClickHouse 18.16 server through the store, as the worker writes it: per window its metrics
(volume, label coverage, accuracy, f1, latency quantiles, a missing and an out-of-range rate per
feature), a drift result per feature and for the prediction, fairness on one sensitive key, an
experiment evaluation, and a few hundred alerts with their deliveries. Then the dossier is built
and rendered ``--repeat`` times (the median is reported): the reads (``collect``), the sections,
and the HTML. Prints one JSON line; the numbers are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import datetime, timedelta

import numpy as np
from driftline.report import build_dossier, render_html
from driftline.report.collect import Period, collect
from driftline.settings import parse_settings
from driftline.sinks.migrations import migrate
from driftline.stream.wiring import build_store

from tests.support.servers import ClickHouseServer

__all__ = ["fill", "measure"]

START = datetime(2025, 1, 1)
BATCH = 200_000


def _insert(store, table: str, records: dict[str, list]) -> None:
    n = len(next(iter(records.values())))
    for lo in range(0, n, BATCH):
        store.insert(table, {k: v[lo:lo + BATCH] for k, v in records.items()})


def fill(store, windows: int, features: list[str], seed: int = 0) -> dict[str, int]:
    """Write the synthetic year; returns rows per table."""
    rng = np.random.default_rng(seed)
    starts = [START + timedelta(hours=h) for h in range(windows)]
    ends = [s + timedelta(hours=1) for s in starts]
    accuracy = np.clip(0.9 - 0.15 * (np.arange(windows) > 0.8 * windows) + rng.normal(0, 0.02, windows), 0, 1)
    metrics = {"predictions": np.full(windows, 3600.0), "throughput_per_s": np.full(windows, 1.0),
               "labels": np.full(windows, 2400.0), "label_coverage": np.full(windows, 2 / 3), "accuracy": accuracy,
               "f1": accuracy - 0.05, "latency_p50_ms": rng.gamma(5, 3, windows),
               "latency_p95_ms": rng.gamma(5, 8, windows), "latency_p99_ms": rng.gamma(5, 15, windows)}
    for f in features:
        metrics[f"missing_rate:{f}"] = rng.beta(1, 200, windows)
        metrics[f"out_of_range_rate:{f}"] = rng.beta(1, 100, windows)
    wm: dict[str, list] = {k: [] for k in ("model", "version", "window_start", "window_end", "metric", "value", "n")}
    for name, values in metrics.items():
        wm["model"] += ["credit"] * windows
        wm["version"] += ["v1"] * windows
        wm["window_start"] += starts
        wm["window_end"] += ends
        wm["metric"] += [name] * windows
        wm["value"] += values.tolist()
        wm["n"] += [3600] * windows
    _insert(store, "window_metrics", wm)
    dr: dict[str, list] = {k: [] for k in ("model", "version", "window_start", "window_end", "feature", "test",
                                           "statistic", "p_value", "threshold", "drifted", "raw_drifted", "corrected")}
    for i, f in enumerate([*features, "prediction"]):
        drift_from = windows * (1 - (i % 10) / 40)  # a few features drift in the last months, more strongly
        statistic = rng.gamma(2, 0.03, windows) + (np.arange(windows) > drift_from) * (0.1 + 0.02 * (i % 10))
        dr["model"] += ["credit"] * windows
        dr["version"] += ["v1"] * windows
        dr["window_start"] += starts
        dr["window_end"] += ends
        dr["feature"] += [f] * windows
        dr["test"] += ["psi"] * windows
        dr["statistic"] += statistic.tolist()
        dr["p_value"] += [None] * windows
        dr["threshold"] += [0.2] * windows
        dr["drifted"] += (statistic > 0.2).astype(int).tolist()
        dr["raw_drifted"] += (statistic > 0.2).astype(int).tolist()
        dr["corrected"] += ["bh"] * windows
    _insert(store, "drift_results", dr)
    fr = {"model": ["credit"] * windows, "version": ["v1"] * windows, "window_start": starts, "window_end": ends,
          "sensitive_key": ["region"] * windows, "measure": ["demographic_parity_difference"] * windows,
          "value": rng.beta(2, 30, windows).tolist(), "threshold": [0.1] * windows, "flagged": [0] * windows,
          "worst_group": ["south"] * windows, "best_group": ["north"] * windows, "worst_value": [0.3] * windows,
          "best_value": [0.35] * windows, "worst_n": [600] * windows, "best_n": [600] * windows,
          "p_value": [0.5] * windows, "groups": ["[]"] * windows, "kafka_partition": [0] * windows}
    fr["flagged"] = [int(v > 0.1) for v in fr["value"]]
    _insert(store, "fairness_results", fr)
    picks = [int(i) for i in np.nonzero(accuracy < 0.8)[0][:300]]
    alerts = {"alert_id": [f"a{i}" for i in picks], "dedup_key": ["credit/v1/performance"] * len(picks),
              "status": ["firing"] * len(picks), "kind": ["performance"] * len(picks),
              "severity": ["critical"] * len(picks), "action": ["retrain"] * len(picks),
              "model": ["credit"] * len(picks), "version": ["v1"] * len(picks), "feature": [""] * len(picks),
              "features": ["[]"] * len(picks), "window_start": [starts[i] for i in picks],
              "window_end": [ends[i] for i in picks], "summary": [f"accuracy {accuracy[i]:.3f} < 0.8" for i in picks],
              "payload": ["{}"] * len(picks), "ts": [ends[i] for i in picks]}
    _insert(store, "alerts", alerts)
    _insert(store, "alert_deliveries", {
        "alert_id": alerts["alert_id"], "dedup_key": alerts["dedup_key"], "channel": ["ml-ops"] * len(picks),
        "status": ["delivered"] * len(picks), "attempts": [1] * len(picks), "last_status_code": [200] * len(picks),
        "error": [""] * len(picks), "ts": alerts["ts"]})
    return {"window_metrics": len(wm["model"]), "drift_results": len(dr["model"]), "fairness_results": windows,
            "alerts": len(picks)}


def measure(windows: int = 8760, features: int = 50, repeat: int = 3) -> dict:
    names = [f"f{i:02d}" for i in range(features)]
    settings = parse_settings({"models": [{
        "name": "credit", "features": {n: "numeric" for n in names} | {"region": "categorical"},
        "window": {"size": "1h"}, "segments": {"keys": ["region"]}, "fairness": {"keys": ["region"]}}]})
    with tempfile.TemporaryDirectory() as tmp, ClickHouseServer(tmp) as server:
        store = build_store(f"clickhouse://default:@127.0.0.1:{server.tcp_port}/bench_report")
        migrate(store)
        store.use_database()
        began = time.perf_counter()
        rows = fill(store, windows, names)
        fill_s = time.perf_counter() - began
        runs = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            collect(store, settings, settings.models[0], None, Period(int(START.timestamp()), 2**31 - 1))
            t1 = time.perf_counter()
            dossier = build_dossier(store, settings, "credit")
            t2 = time.perf_counter()
            html = render_html(dossier)
            t3 = time.perf_counter()
            runs.append({"collect_s": t1 - t0, "build_s": t2 - t1, "render_s": t3 - t2, "total_s": t3 - t1})
        store.close()
    return {"windows": windows, "features": features, "rows": rows, "fill_s": round(fill_s, 1),
            "html_bytes": len(html), "json_bytes": len(dossier.to_json()),
            "median": {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]}, "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--windows", type=int, default=8760)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(measure(args.windows, args.features, args.repeat)))


if __name__ == "__main__":
    main()
