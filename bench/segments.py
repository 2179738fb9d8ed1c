"""The throughput cost of segment monitoring: the worker with and without ``segments:`` on the same data.

One data set whose predictions carry a segment object with two keys of 50 values each
(``region``, ``plan``); per repeat the worker (ClickHouse server store) runs once without
segments and once with both keys monitored and fairness on ``region``. The figure is the ratio
of their prediction rates within each repeat, then the median (ratios, not absolute times:
the machine is shared).
"""

from __future__ import annotations

import gc
import logging
import statistics
import uuid

from .e2e import run_worker
from .load import produce_plan
from .settings import bench_settings, topics
from .traffic import Plan

__all__ = ["measure"]

VALUES = 50


def measure(broker, clickhouse, events: int, repeat: int) -> dict:
    plan = Plan.for_events(events, segment_values=VALUES)
    run_id = uuid.uuid4().hex[:6]
    names = topics(run_id)
    broker.create_topics(list(names.values()), partitions=4)
    produced = produce_plan(broker.bootstrap_servers, names["predictions"], names["feedback"], plan)
    runs = []
    for i in range(repeat):
        row = {}
        for label, segments in (("without", False), ("with", True)):
            url = f"clickhouse://default:@127.0.0.1:{clickhouse.tcp_port}/bench_seg_{run_id}_{i}_{label}"
            settings = bench_settings(broker.bootstrap_servers, url, run_id, segments=segments)
            worker, _ = run_worker(settings, plan, produced["feedback"])
            gc.collect()
            row[label] = {"seconds": worker.seconds, "predictions_per_s": worker.events_per_second,
                          "stages": worker.stages}
        row["ratio"] = row["with"]["predictions_per_s"] / row["without"]["predictions_per_s"]
        logging.info("segments repeat %d: ratio %.3f", i + 1, row["ratio"])
        runs.append(row)
    return {"predictions": plan.predictions, "keys": 2, "values": VALUES, "runs": runs,
            "ratio": statistics.median(r["ratio"] for r in runs)}


def markdown(d: dict) -> list[str]:
    lines = ["## Segment monitoring: 2 keys x 50 values (and fairness on one)", "",
             f"{d['predictions']:,} predictions, median of {len(d['runs'])}: with segments the worker runs at "
             f"**{d['ratio']:.0%}** of its rate without", "",
             "| repeat | without, predictions/s | with, predictions/s | ratio |", "|---:|---:|---:|---:|"]
    for i, r in enumerate(d["runs"]):
        lines.append(f"| {i + 1} | {r['without']['predictions_per_s']:,.0f} | {r['with']['predictions_per_s']:,.0f} | "
                     f"{r['ratio']:.3f} |")
    return lines + [""]
