"""Peak RSS of one worker process as the stream grows.

One child process (``bench.child``, ClickHouse server store, so the store's
memory is not in the worker's RSS) reads a pre-produced data set; it samples
``VmRSS``/``VmHWM`` and the label join's pending entries every 0.5 s. The
report gives the high-water mark when 1M, 3M, ... predictions had been read
(messages read / 1.5: both topics are read together, half the predictions
have a feedback message). The label join holds up to ``worker.join.max_pending``
(200k) pending entries per partition, and half of the predictions never get a
label, so the join grows until every partition has reached its cap (about 2-3M
predictions with this traffic) and stays flat after; memory is flat only after
that point, so the comparison that tests boundedness is HWM(3M) vs HWM(end).
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

from .child import ChildWorker
from .load import produce_plan
from .settings import bench_raw, topics
from .traffic import Plan


def measure(broker, clickhouse, events: int, marks: tuple[int, ...] = (1_000_000, 3_000_000)) -> dict:
    plan = Plan.for_events(events, seed=11)
    run_id = uuid.uuid4().hex[:6]
    names = topics(run_id)
    broker.create_topics(list(names.values()), partitions=4)
    started = time.perf_counter()
    produced = produce_plan(broker.bootstrap_servers, names["predictions"], names["feedback"], plan)
    produce_s = time.perf_counter() - started
    total = produced["predictions"] + produced["feedback"]
    url = f"clickhouse://default:@127.0.0.1:{clickhouse.tcp_port}/bench_rss_{run_id}"
    child = ChildWorker(bench_raw(broker.bootstrap_servers, url, run_id), Path(tempfile.mkdtemp(prefix="driftline-rss-")),
                        "rss")
    started = time.perf_counter()
    try:
        while child.last().get("messages", 0) < total:
            child.check()
            if time.perf_counter() - started > 3600:
                raise TimeoutError("RSS worker not done after an hour")
            time.sleep(1)
        time.sleep(2)  # the last flush and checkpoint
        samples = child.samples()
    finally:
        child.stop()
    ratio = total / plan.predictions
    points = []
    for mark in (*[m for m in marks if m < plan.predictions], plan.predictions):
        upto = [s for s in samples if s["messages"] / ratio <= mark * 1.0001] or samples[:1]
        s = upto[-1]
        points.append({"predictions": mark, "messages": s["messages"], "vm_hwm_mb": s["VmHWM"] / 1024,
                       "vm_rss_mb": s["VmRSS"] / 1024, "join_pending": s["join_pending"],
                       "join_bytes_per_entry": s.get("join_bytes", 0) / max(1, s["join_pending"])})
    return {"predictions": plan.predictions, "messages": total, "produce_s": produce_s,
            "consume_s": time.perf_counter() - started, "points": points,
            "curve": [{"messages": s["messages"], "rss_mb": round(s["VmRSS"] / 1024, 1),
                       "hwm_mb": round(s["VmHWM"] / 1024, 1), "join_pending": s["join_pending"]}
                      for s in samples[::10]]}
