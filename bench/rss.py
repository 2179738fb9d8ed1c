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

By default the whole data set is produced before the worker starts: a backlog, read as fast as
the worker goes. The consumer then runs ahead on the feedback topic (its messages are smaller),
so the join's feedback map fills up to its cap too (the backlog limit of docs/performance.md)
and reaches it later, at 4-5M predictions in a 10M plan. With ``ahead`` the data set is produced
in chunks while the worker consumes, never more than ``ahead`` messages ahead of it: live
traffic, where the feedback map stays small, and the broker never holds a large backlog.
The report also gives the join's bytes per entry at its largest pending count: its columns keep
their capacity when entries leave, so bytes / pending rises as the join drains.
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


def measure(broker, clickhouse, events: int, marks: tuple[int, ...] = (1_000_000, 3_000_000),
            ahead: int | None = None) -> dict:
    plan = Plan.for_events(events, seed=11)
    run_id = uuid.uuid4().hex[:6]
    names = topics(run_id)
    broker.create_topics(list(names.values()), partitions=4)
    url = f"clickhouse://default:@127.0.0.1:{clickhouse.tcp_port}/bench_rss_{run_id}"
    workdir = Path(tempfile.mkdtemp(prefix="driftline-rss-"))
    raw = bench_raw(broker.bootstrap_servers, url, run_id)
    started = time.perf_counter()
    if ahead is None:
        produced = produce_plan(broker.bootstrap_servers, names["predictions"], names["feedback"], plan)
        produce_s = time.perf_counter() - started
        child = ChildWorker(raw, workdir, "rss")
        child_started = time.perf_counter()
    else:
        child = ChildWorker(raw, workdir, "rss")
        child_started = time.perf_counter()

        def pace(sent: int) -> None:
            while sent - child.last().get("messages", 0) > ahead:
                child.check()
                time.sleep(0.5)

        try:
            produced = produce_plan(broker.bootstrap_servers, names["predictions"], names["feedback"], plan, pace=pace)
        except BaseException:
            child.stop()
            raise
        produce_s = time.perf_counter() - started
    total = produced["predictions"] + produced["feedback"]
    try:
        while child.last().get("messages", 0) < total:
            child.check()
            if time.perf_counter() - child_started > 3600:
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
    peak = max(samples, key=lambda s: s["join_pending"])
    return {"predictions": plan.predictions, "messages": total, "produce_s": produce_s, "ahead": ahead,
            "join_peak": {"pending": peak["join_pending"], "bytes": peak.get("join_bytes", 0),
                          "bytes_per_entry": peak.get("join_bytes", 0) / max(1, peak["join_pending"]),
                          "predictions": int(peak["messages"] / ratio)},
            "consume_s": time.perf_counter() - child_started, "points": points,
            "curve": [{"messages": s["messages"], "rss_mb": round(s["VmRSS"] / 1024, 1),
                       "hwm_mb": round(s["VmHWM"] / 1024, 1), "join_pending": s["join_pending"]}
                      for s in samples[::10]]}
