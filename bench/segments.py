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
import time
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
            cpu = time.process_time()
            worker, _ = run_worker(settings, plan, produced["feedback"])
            cpu = time.process_time() - cpu
            gc.collect()
            row[label] = {"seconds": worker.seconds, "predictions_per_s": worker.events_per_second,
                          "cpu_s": cpu, "stages": worker.stages}
        row["ratio"] = row["with"]["predictions_per_s"] / row["without"]["predictions_per_s"]
        # CPU seconds of the worker's process (its ingest thread and librdkafka's): less sensitive than wall time
        # to other processes on a shared machine.
        row["cpu_ratio"] = row["without"]["cpu_s"] / row["with"]["cpu_s"]
        logging.info("segments repeat %d: ratio %.3f, by CPU %.3f", i + 1, row["ratio"], row["cpu_ratio"])
        runs.append(row)
    return {"predictions": plan.predictions, "keys": 2, "values": VALUES, "runs": runs,
            "ratio": statistics.median(r["ratio"] for r in runs),
            "cpu_ratio": statistics.median(r["cpu_ratio"] for r in runs)}


def markdown(d: dict) -> list[str]:
    lines = ["## Segment monitoring: 2 keys x 50 values (and fairness on one)", "",
             f"{d['predictions']:,} predictions, median of {len(d['runs'])}: with segments the worker runs at "
             f"**{d['ratio']:.0%}** of its rate without (wall time), **{d['cpu_ratio']:.0%}** by the CPU seconds "
             "of its process", "",
             "| repeat | without, predictions/s | with, predictions/s | ratio | CPU s without | CPU s with | CPU ratio |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for i, r in enumerate(d["runs"]):
        lines.append(f"| {i + 1} | {r['without']['predictions_per_s']:,.0f} | {r['with']['predictions_per_s']:,.0f} | "
                     f"{r['ratio']:.3f} | {r['without']['cpu_s']:.1f} | {r['with']['cpu_s']:.1f} | "
                     f"{r['cpu_ratio']:.3f} |")
    return lines + [""]
