"""Version-1 checkpoints (a pickle) are rebuilt from the event tables, never unpickled (real ClickHouse 18.16).

The worker reads the checkpoint row as ``IngestLoop._load_checkpoint`` does and restores it with the
loaders of driftline.sinks (pending join, partition history); the windows that follow are compared
with an uninterrupted run of the same partition.
"""

from __future__ import annotations

import base64
import json
import pickle
import uuid

import pytest
from driftline.settings import parse_settings
from driftline.sinks.history import read_partition_history
from driftline.sinks.join_state import load_pending_join
from driftline.sinks.migrations import migrate
from driftline.sinks.store import ClickHouseStore
from driftline.stream.processor import BatchOutput, Processor
from driftline.stream.replay import replay_horizon_ms
from driftline.stream.wiring import build_store

from tests.integration.traffic import START_MS, make_traffic

pytestmark = pytest.mark.integration

P, F = "driftline.predictions", "driftline.feedback"
MODEL = {"reference": {"warmup_events": 1000}, "window": {"size": "5s", "idle_close": "3s"}}
CONFIG = {"models": [
    {"name": "credit", "task": "binary_classification", **MODEL,
     "features": {"income": "numeric", "age": "numeric", "country": "categorical"},
     "multivariate": {"type": "pca_reconstruction", "chunk_size": 200}},
    {"name": "price", "task": "regression", "features": {"sqft": "numeric", "rooms": "numeric"}, **MODEL},
    {"name": "fraud", "task": "binary_classification", "features": {"amount": "numeric", "merchant": "categorical"},
     **MODEL},
]}
SPLIT = 45  # seconds: the 25 s horizon (5 s windows x (2 + 3)) leaves the 10-20 s stretch out of the replay


def _store(clickhouse, name: str) -> ClickHouseStore:
    store = build_store(clickhouse.url.rsplit("/", 1)[0] + f"/{name}_{uuid.uuid4().hex[:8]}")
    migrate(store)
    return store


def _batches():
    """One batch per second of processing time; labels arrive 1.5 s after their prediction."""
    t = make_traffic(6000)
    arrivals = [(json.loads(v)["ts"], 0, v) for _, v in t.predictions]
    arrivals += [(START_MS - 1, 1, v) for _, v in t.feedback_early]
    arrivals += [(json.loads(v)["ts"] + 1500, 1, v) for _, v in t.feedback_late]
    arrivals.sort(key=lambda a: (a[0] // 1000, a[1]))
    out, offsets = [], [0, 0]
    for at, topic, value in arrivals:
        now = (at // 1000 + 1) * 1000
        if not out or out[-1][0] != now:
            out.append((now, [], []))
        out[-1][1 + topic].append((0, offsets[topic], value, 0))
        offsets[topic] += 1
    return out


class Boom:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.path}",))


def _run(processor, batches, store=None, split=None, restore=None):
    state = processor.new_partition(0)
    out = BatchOutput()
    after = BatchOutput()
    for i, (now, predictions, feedback) in enumerate(batches):
        if i == split:
            state = restore(state)
        target = out if split is None or i < split else after
        processor.process(state, predictions, feedback, now, target)
        processor.close_windows(state, now, target)
        if store is not None and i < split:  # what the worker's writer stored before the checkpoint
            for rows in (target.predictions, target.feedback):
                if len(rows):
                    store.insert(rows.table, rows.columns())
            target.predictions, target.feedback = type(target.predictions)(), type(target.feedback)()
    processor.close_windows(state, batches[-1][0] + 3_600_000, after if split is not None else out)
    return out, after


def test_a_version_1_checkpoint_is_rebuilt_from_the_tables_and_continues_like_an_uninterrupted_run(
        clickhouse, tmp_path):
    batches = _batches()
    settings = parse_settings(CONFIG)
    assert replay_horizon_ms(settings) == 25_000
    straight, _ = _run(Processor(settings), batches)
    store = _store(clickhouse, "legacy")
    marker = tmp_path / "pwned"

    def checkpoint_then_restore(state):
        # The previous release's row: base64 pickle in `state`, offsets as JSON beside it. This
        # one is hostile: unpickling it would run `touch`.
        evil = base64.b64encode(pickle.dumps({"partition": 0, "monitors": Boom(marker)}, protocol=5)).decode()
        store.insert("checkpoints", {"group_id": ["g"], "kafka_partition": [0], "seq": [1],
                                     "offsets": [json.dumps(state.offsets)], "state": [evil]})
        (raw, offsets), = store.execute("SELECT state, offsets FROM checkpoints FINAL WHERE group_id = %(g)s "
                                        "AND kafka_partition = %(p)s", {"g": "g", "p": 0})
        blob = raw.encode() if raw.startswith("{") else base64.b64decode(raw)
        return processor.restore_partition(
            blob, lambda p, o, horizon, limit: load_pending_join(
                store, partition=p, predictions_offset=o[P], feedback_offset=o[F], horizon_ms=horizon, limit=limit),
            partition=0, offsets=json.loads(offsets),
            history_loader=lambda p, o, horizon, warmup: read_partition_history(
                store, partition=p, predictions_offset=o[P], feedback_offset=o[F], horizon_ms=horizon,
                warmup=warmup, page_rows=5000))

    processor = Processor(settings)
    before, after = _run(processor, batches, store, SPLIT, checkpoint_then_restore)
    assert not marker.exists()

    # Everything closed after the restart, compared with the same windows of the uninterrupted run.
    closed_before = {(r.model, r.window_start_ms, r.n_predictions > 0) for r in before.reports}
    expected = [r for r in straight.reports if (r.model, r.window_start_ms, r.n_predictions > 0) not in closed_before]
    key = lambda r: (r.model, r.window_start_ms, r.n_predictions > 0)  # noqa: E731
    expected.sort(key=key)
    got = sorted(after.reports, key=key)
    assert [key(r) for r in got] == [key(r) for r in expected]
    assert sum(r.n_predictions for r in got) > 3000 and any(d.drifted for r in got for d in r.drift)
    for a, b in zip(expected, got, strict=True):
        if a.n_predictions:  # the prediction side: reference, sketches, PCA, quality, drift verdicts
            assert repr(a) == repr(b)
        else:  # the label side: same labels and metrics (sums over other batches: last bits may differ)
            assert (a.n_labels, [m.name for m in a.metrics]) == (b.n_labels, [m.name for m in b.metrics])
            assert [m.value for m in a.metrics] == pytest.approx([m.value for m in b.metrics], rel=1e-9)
    fired_before = {x.alert_id for x in before.alerts}
    # Concept drift on the error stream depends on the error history the horizon cuts (see replay.py);
    # so do covariate shifts, the error-stream change points that come with input drift.
    alerts = lambda out: sorted(x.alert_id for x in out.alerts  # noqa: E731
                                if x.kind not in ("concept_drift", "covariate_shift"))
    assert alerts(after) == [i for i in alerts(straight) if i not in fired_before]
    assert alerts(after)


@pytest.mark.parametrize("page_rows", [3, 4, 1000])  # 3: every page is one whole message
def test_history_reads_the_warm_up_and_the_horizon_in_offset_order(clickhouse, page_rows):
    store = _store(clickhouse, "history")
    cols = ["event_id", "model", "version", "ts", "ts_ms", "features", "prediction", "prediction_num", "score",
            "latency_ms", "variant", "segment", "kafka_partition", "kafka_offset"]
    base = 1_764_000_000_000
    rows = []
    for i in range(60):  # offsets 0-29 one event each, then messages of 3 events (offsets 30-39)
        offset = i if i < 30 else 30 + (i - 30) // 3
        model = "a" if i % 2 else "b"
        rows.append((f"e{i:02d}", model, "v1", (base + i * 1000) // 1000, base + i * 1000, '{"x":1}', "1",
                     float("nan"), 0.5, None, "", "{}", 0, offset))
    rows.append(("other", "a", "v1", base // 1000, base, "{}", "1", float("nan"), None, None, "", "{}", 1, 0))
    store.insert("predictions", {c: [r[i] for r in rows] for i, c in enumerate(cols)})
    store.insert("feedback", {"event_id": ["e01", "e50"], "model": ["a", "a"], "ts": [base // 1000] * 2,
                              "ts_ms": [base + 1000, base + 50_000], "label": ["1", "0"],
                              "label_num": [float("nan")] * 2, "kafka_partition": [0, 0], "kafka_offset": [0, 1]})
    predictions, feedback = read_partition_history(
        store, partition=0, predictions_offset=38, feedback_offset=2, horizon_ms=20_000,
        warmup={"a": 3, "b": 2}, page_rows=page_rows)
    got = list(predictions)
    # The newest stored prediction below offset 38 is e53 (ts base + 53 s): the horizon starts at 33 s.
    horizon = [f"e{i:02d}" for i in range(33, 54)]
    assert [r[1] for r in got] == ["e00", "e01", "e02", "e03", "e05", *horizon]
    assert [r[0] for r in got] == sorted(r[0] for r in got)  # offset order, pages cut between messages
    assert got[0] == (0, "e00", "b", "v1", base, '{"x":1}', "1", pytest.approx(float("nan"), nan_ok=True), 0.5,
                      None, "", "{}")
    assert list(feedback) == [(1, "e50", "a", base + 50_000, "0", pytest.approx(float("nan"), nan_ok=True))]
    empty = read_partition_history(store, partition=5, predictions_offset=10, feedback_offset=10,
                                   horizon_ms=1, warmup={"a": 1})
    assert [list(part) for part in empty] == [[], []]
