"""``python -m bench.two_stage``: the CPU cost of two-stage aggregation, without I/O, as ratios.

One binary model (3 features, 10 s windows, 80 % of predictions labelled) runs through the
worker's :class:`~driftline.stream.processor.Processor` three ways on the same events:

* **per_partition**: keyed by model, one partition, windows closed where they are (the default);
* **stage 1**: keyed at random over 4 partitions under ``worker.aggregation: two_stage``: each
  partition's events, and its partials encoded for the partials topic;
* **stage 2**: the owner decoding every partial and mark, merging and closing the windows.

It reports stage 2's CPU time as a share of stage 1's, stage 1's as a ratio to per_partition's,
the partials' bytes per window, and the join topic's messages and bytes per event. Process CPU seconds, best of ``--repeat``.

With ``--processes``, also the throughput of that one model keyed at random over 4 partitions on
the real broker and ClickHouse, ``driftline run --processes N`` for N = 1 and 2 under two-stage
aggregation, as ratios to ceiling B (consume + decode of both topics) of the same run
(:func:`bench.processes.run_processes`).
"""

from __future__ import annotations

import argparse
import json
import time
import zlib

import numpy as np
from driftline.detectors import DriftSuite, ReferenceProfile
from driftline.settings import parse_settings
from driftline.stream.processor import BatchOutput, Processor

START_MS = 1_700_000_000_000
STEP_MS = 1  # 1,000 events per second of event time: 10,000 per window
WINDOW_EVENTS = 10_000
BATCH = 5_000
PARTITIONS = 4
COUNTRIES = np.array(["DE", "FR", "US", "IN", "BR"])


def events(n: int, seed: int = 5) -> tuple[list[bytes], list[bytes], ReferenceProfile]:
    rng = np.random.default_rng(seed)
    predictions, feedback = [], []
    income, age = rng.normal(50_000, 10_000, n), rng.normal(40, 10, n)
    country = rng.choice(COUNTRIES, n)
    for i in range(n):
        score = float(1 / (1 + np.exp(-(income[i] - 50_000) / 10_000)))
        event = {"event_id": f"e-{i}", "model": "credit", "version": "v1", "ts": START_MS + i * STEP_MS,
                 "features": {"income": round(float(income[i]), 2), "age": round(float(age[i]), 1),
                              "country": str(country[i])}, "prediction": int(score > 0.5), "score": score}
        predictions.append(json.dumps(event).encode())
        if rng.random() < 0.8:
            feedback.append(json.dumps({"event_id": f"e-{i}", "model": "credit", "ts": START_MS + i * STEP_MS + 500,
                                        "label": int(score > 0.5) if rng.random() < 0.9 else int(score <= 0.5)}
                                       ).encode())
        else:
            feedback.append(None)
    reference = ReferenceProfile.from_columns({"income": "numeric", "age": "numeric", "country": "categorical"},
                                              {"income": income[:5000], "age": age[:5000],
                                               "country": country[:5000].astype(object)})
    # Its null fits for the windows' sizes, as `driftline baseline` saves them: else the first window
    # close fits them (2-3 CPU-s, on the stage-2 owner alone) inside the clocks below.
    DriftSuite(reference).calibrate([WINDOW_EVENTS])
    return predictions, feedback, reference


def processor(aggregation: str, reference: ReferenceProfile) -> Processor:
    raw = {"models": [{"name": "credit", "task": "binary_classification",
                       "features": {"income": "numeric", "age": "numeric", "country": "categorical"},
                       "reference": {"profile": "credit.json"}, "window": {"size": "10s", "idle_close": "3s"}}],
           "worker": {"aggregation": aggregation, "event_time": {"max_age": 0}}}
    p = Processor(parse_settings(raw), references={"credit": reference})
    if p.two_stage is not None:
        p.two_stage.partitions = PARTITIONS
    return p


def stage1(p: Processor, predictions, feedback, keying) -> tuple[BatchOutput, float, list[int]]:
    """The partials of every partition, the CPU seconds, and the join messages' sizes (two stages).
    The partitions take turns, a batch each, and the join messages of a round reach their join
    partitions before the next, as in a worker reading every partition."""
    out, join_sizes = BatchOutput(), []
    started = time.process_time()
    states = {part: p.new_partition(part) for part in range(max(keying) + 1)}
    mine = {part: [i for i, k in enumerate(keying) if k == part] for part in states}
    for lo in range(0, max(map(len, mine.values())), BATCH):
        for part, state in states.items():
            chunk = mine[part][lo:lo + BATCH]
            p.process(state, [(part, i, predictions[i], 0) for i in chunk],
                      [(part, i, feedback[i], 0) for i in chunk if feedback[i] is not None], START_MS, out)
            p.close_windows(state, START_MS, out)
        _deliver(p, states, out, join_sizes)
    for _ in range(2):  # the end of the traffic; then its last marks reach the join partitions
        for state in states.values():
            p.close_windows(state, START_MS + 3_600_000, out)
        _deliver(p, states, out, join_sizes)
    return out, time.process_time() - started, join_sizes


def _deliver(p: Processor, states: dict, out: BatchOutput, sizes: list[int]) -> None:
    """The join messages of ``out`` to their join partitions (stream/join_topic.py), as the broker would."""
    if p.join_exchange is None:
        return
    for key, value in p.join_exchange.messages(out):
        sizes.append(len(value))
        j = zlib.crc32(key) % PARTITIONS
        state = states.setdefault(j, p.new_partition(j))
        p.join_exchange.receive(state, [(j, state.offsets.get("join", 0), value, None)], "join", START_MS)
    out.join.clear()


def one_model_processes(n: int, counts: tuple[int, ...] = (1, 2)) -> dict:
    """One model keyed at random over 4 partitions, two-stage, N processes; ratios to ceiling B."""
    import tempfile
    import uuid
    from pathlib import Path

    from confluent_kafka import Producer
    from driftline.demo import EmbeddedBroker

    from tests.support.servers import ClickHouseServer

    from .load import consume_all, decoder
    from .processes import run_processes
    from .settings import bench_settings, topics

    predictions, feedback, reference = events(n)
    workdir = Path(tempfile.mkdtemp(prefix="driftline-two-stage-"))
    profile = workdir / "credit.json"
    reference.save(profile)
    with EmbeddedBroker() as broker, ClickHouseServer() as clickhouse:
        run_id = uuid.uuid4().hex[:6]
        names = {**topics(run_id), "partials": f"bench-pa-{run_id}", "join": f"bench-j-{run_id}"}
        broker.create_topics(list(names.values()), partitions=PARTITIONS)
        producer = Producer({"bootstrap.servers": broker.bootstrap_servers, "linger.ms": 20})
        rng = np.random.default_rng(3)
        n_feedback = 0
        for i, (prediction, label) in enumerate(zip(predictions, feedback, strict=True)):
            key = f"k{rng.integers(1 << 30)}".encode()
            for topic, value in ((names["predictions"], prediction), (names["feedback"], label)):
                if value is None:
                    continue
                n_feedback += topic == names["feedback"]
                while True:
                    try:
                        producer.produce(topic, value=value, key=key)
                        break
                    except BufferError:
                        producer.poll(0.05)
            if i % 1000 == 0:
                producer.poll(0)
        assert producer.flush(120) == 0
        base = bench_settings(broker.bootstrap_servers, "chdb://:memory:", run_id)
        ceiling_b = consume_all(base, len(predictions) + n_feedback, decoder(base))

        def configure(raw: dict) -> dict:
            model = {"name": "credit", "task": "binary_classification", "reference": {"profile": str(profile)},
                     "features": {"income": "numeric", "age": "numeric", "country": "categorical"},
                     "window": {"size": "10s", "idle_close": "5s"}}
            raw["kafka"]["topics"] = names
            raw["worker"] = {**raw["worker"], "aggregation": "two_stage"}
            raw["models"] = [model]
            return raw

        expected = {"predictions": len(predictions), "feedback": n_feedback}
        runs = [run_processes(broker, clickhouse, run_id, n, expected, configure=configure) for n in counts]
    b_rate = len(predictions) / ceiling_b.seconds
    for r in runs:
        r["predictions_per_s"] = len(predictions) / r["seconds"]
        r["share_b"] = r["predictions_per_s"] / b_rate
    return {"ceiling_b": b_rate, "runs": runs,
            "speedup": runs[-1]["predictions_per_s"] / runs[0]["predictions_per_s"]}


def _labels(reports) -> int:
    return int(sum(m.value for r in reports for m in r.metrics if m.name == "labels"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--processes", action="store_true", help="also 1 and 2 processes on the real broker")
    args = parser.parse_args(argv)
    predictions, feedback, reference = events(args.events)
    keying = np.random.default_rng(9).integers(0, PARTITIONS, args.events).tolist()
    best = {"per_partition": float("inf"), "stage1": float("inf"), "stage2": float("inf")}
    for _ in range(args.repeat):
        single, t, _ = stage1(processor("per_partition", reference), predictions, feedback, [0] * args.events)
        best["per_partition"] = min(best["per_partition"], t)
        p = processor("two_stage", reference)
        published, t, join_sizes = stage1(p, predictions, feedback, keying)
        best["stage1"] = min(best["stage1"], t)
        owner, closed = p.new_partition(0), BatchOutput()
        started = time.process_time()
        p.two_stage.receive(owner, [(0, i, v, None) for i, (_, v) in enumerate(published.partials)], "partials",
                            START_MS)
        p.close_windows(owner, START_MS + 3_600_000, closed)
        best["stage2"] = min(best["stage2"], time.process_time() - started)
    windows = len({r.window_start_ms for r in closed.reports if r.n_predictions})
    assert windows == len({r.window_start_ms for r in single.reports if r.n_predictions})
    assert _labels(closed.reports) == _labels(single.reports) > 0  # every label joined across partitions
    result = {
        "events": args.events, "windows": windows, "cpu_s": {k: round(v, 3) for k, v in best.items()},
        "stage2_share_of_stage1": round(best["stage2"] / best["stage1"], 4),
        "stage1_to_per_partition": round(best["stage1"] / best["per_partition"], 3),
        "partials_bytes_per_window": sum(len(v) for _, v in published.partials) // max(windows, 1),
        "partials_messages": len(published.partials),
        # the join topic (stream/join_wire.py): messages and bytes per event (predictions and labels)
        "join_messages": len(join_sizes),
        "join_bytes_per_event": round(sum(join_sizes) / (args.events + sum(f is not None for f in feedback)), 1),
    }
    if args.processes:
        result["one_model_processes"] = one_model_processes(args.events)
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
