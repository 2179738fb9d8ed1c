"""How cost grows with the work: features per event and (model, version) streams.

Two axes, three sizes each, every point its own data set, worker and ceiling B:

* **features per event** 13, 100, 500 (10 streams, about 3 numeric features to 1 categorical,
  windows of 2,000 events per stream);
* **streams** 10, 100, 1,000 (13 features, windows of 200 events per stream, so every size
  closes the same number of windows per event; a stream gets at least 4 windows).

Each point: produce the data set (keyed by stream, stream ``s`` on partition ``s % 4``), measure
ceiling B (consume + decode in this process), then run one worker in a child process
(``bench.child``, ClickHouse server store) until it has read every message. Throughput is
predictions per second from its first batch, as a share of ceiling B; and the worker's CPU seconds
(from its first batch) over ceiling B's (this process, consume included), which a shared machine
disturbs much less than the rates (``python -m bench.growth_cpu`` gives the same ratio without
I/O, in process, with a profile). The child's peak RSS
gives the memory per stream: the growth of the high-water mark from the smallest to the largest
stream count, divided by the added streams (references, sketches, detectors, alert state).

Every model of a point is configured with one reference profile (``reference: {profile: ...}``,
5,000 rows of the traffic's distributions) that carries the null fits of ``threshold: auto``
for the window sizes the run closes, made here before the clock starts: a fit is a one-time
cost per (reference, feature, test, window size), about 0.2-0.4 s each for a numeric feature
on this machine (``calibration_s_per_fit``), so a run of 4-100 windows per stream with a
warm-up reference per stream would time the calibration (an hour at 500 features, hours at
1,000 streams) instead of the per-event work. ``fits_made_in_run`` checks that none is made on
the ingest thread. The fits are made with 500 draws instead of 4,000 (8x faster to prepare;
the draws change the thresholds, not what a window costs), cached on disk between runs.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from confluent_kafka import Producer
from driftline.detectors import (
    Calibration,
    DriftSuite,
    ReferenceProfile,
    make_detector,
)

from .child import ChildWorker
from .load import PRODUCER_CONFIG, consume_all, decoder
from .scale import cpu_seconds
from .settings import topics

START_MS = 1_764_000_000_000
STEP_MS = 10  # event time per event of one stream: 100 events/s
CATEGORIES = ("a", "b", "c", "d", "e")
REFERENCE_ROWS = 5000
CALIBRATION_DRAWS = 500
PROFILES = Path(tempfile.gettempdir()) / "driftline-growth-profiles"


def feature_names(features: int) -> tuple[list[str], list[str]]:
    categorical = max(1, round(features * 3 / 13))
    return [f"x{i}" for i in range(features - categorical)], [f"c{i}" for i in range(categorical)]


def streams_of(count: int) -> list[tuple[str, str]]:
    return [(f"m{s // 2}", f"v{s % 2 + 1}") for s in range(count)]


def reference_profile(features: int, window_events: int) -> Path:
    """The profile every model of a point is configured with (see the module docstring)."""
    path = PROFILES / f"f{features}-w{window_events}-d{CALIBRATION_DRAWS}-{_fits_version()}.json"
    if path.exists():
        return path
    from driftline.stream.columns import monitored_kinds

    numeric, categorical = feature_names(features)
    kinds = monitored_kinds({**dict.fromkeys(numeric, "numeric"), **dict.fromkeys(categorical, "categorical")},
                            "binary_classification")
    rng = np.random.default_rng(17)
    columns = {n: np.round(rng.normal(50, 10, REFERENCE_ROWS), 2) for n in numeric}
    columns.update({c: rng.choice(np.array(CATEGORIES, dtype=object), REFERENCE_ROWS) for c in categorical})
    return save_fitted_profile(path, kinds, columns, rng, window_events)


def save_fitted_profile(path: Path, kinds: dict, columns: dict, rng: np.random.Generator, window_events: int) -> Path:
    """A binary classifier's profile of ``columns`` (``score`` and ``prediction`` drawn here) carrying
    the null fits (``CALIBRATION_DRAWS`` draws) of the watermark tick's one event (the ladder's
    smallest) and of a window of ``window_events`` (its merges and ladder neighbours: ``calibrate``),
    saved at ``path``."""
    rows = len(next(iter(columns.values())))
    score = rng.random(rows)
    columns = {**columns, "score": np.round(score, 3), "prediction": np.where(score > 0.5, "1", "0").astype(object)}
    profile = ReferenceProfile.from_columns(kinds, columns)
    profile = ReferenceProfile(profile.features, profile.n, profile.bins, profile.max_categories,
                               profile.reservoir_size, profile.seed, calibration=Calibration(draws=CALIBRATION_DRAWS))
    DriftSuite(profile).calibrate([1, window_events])
    path.parent.mkdir(parents=True, exist_ok=True)
    profile.save(path)
    return path


def _fits_version() -> str:
    """What the cached fits depend on: the default tests and the code that fits them (a profile cached
    before either changed would leave the run to make its fits on the ingest thread)."""
    import hashlib
    import inspect

    from driftline.detectors import calibration, null_statistics, ranks
    from driftline.detectors.settings import DriftSettings

    d = DriftSettings()
    text = repr((d.numeric, d.categorical)) + inspect.getsource(calibration) + inspect.getsource(null_statistics)
    text += inspect.getsource(ranks) + inspect.getsource(DriftSuite.calibrate)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def calibration_cost(repeat: int = 3) -> float:
    """Seconds of one default null fit (4,000 draws) of a numeric feature of this traffic: what a
    warm-up reference costs the ingest thread per (numeric feature, test, window size)."""
    rng = np.random.default_rng(3)
    times = []
    for _ in range(repeat):
        profile = ReferenceProfile.from_columns({"x": "numeric"}, {"x": np.round(rng.normal(50, 10, REFERENCE_ROWS), 2)})
        started = time.perf_counter()
        profile.calibration.ensure(profile.features["x"], "x", make_detector("wasserstein"), (2263,))
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def raw_settings(bootstrap: str, url: str, run: str, features: int, streams: int, window_events: int,
                 profile: Path | None = None) -> dict:
    numeric, categorical = feature_names(features)
    kinds = {**dict.fromkeys(numeric, "numeric"), **dict.fromkeys(categorical, "categorical")}
    models = sorted({m for m, _ in streams_of(streams)}, key=lambda m: int(m[1:]))
    window_s = window_events * STEP_MS / 1000
    return {
        "kafka": {"bootstrap_servers": bootstrap, "group_id": f"bench-growth-{uuid.uuid4().hex[:6]}",
                  "session_timeout": "6s", "topics": topics(run)},
        "clickhouse": {"url": url},
        "worker": {"event_time": {"max_age": 0}, "max_features": max(500, features)},
        "models": [{"name": m, "task": "binary_classification", "features": kinds,
                    "reference": {"profile": str(profile)} if profile else {"warmup_events": window_events},
                    "window": {"size": f"{int(window_s * 1000)}ms", "idle_close": "30s"}} for m in models],
    }


def traffic(features: int, streams: int, per_stream: int, seed: int = 5):
    """``(topic, partition, value)`` of every message, in sending order: ``per_stream`` predictions of
    every stream (``"predictions"``), half with a label (``"feedback"``), then one watermark tick per
    stream. Shared by :func:`produce` and :mod:`bench.growth_cpu`."""
    rng = np.random.default_rng(seed)
    numeric, categorical = feature_names(features)
    template = ('{"event_id":"%s","model":"%s","version":"%s","ts":%d,"features":{'
                + ",".join(f'"{n}":%.2f' for n in numeric) + ","
                + ",".join(f'"{c}":"%s"' for c in categorical) + '},"prediction":%d,"score":%.3f}')
    pairs = streams_of(streams)
    chunk = 500
    for lo in range(0, per_stream + 1, chunk):
        hi = min(per_stream + 1, lo + chunk)  # the last index is the tick that closes every window
        for s, (model, version) in enumerate(pairs):
            n = hi - lo
            values = np.round(rng.normal(50, 10, size=(n, len(numeric))), 2).tolist()
            cats = rng.choice(CATEGORIES, size=(n, len(categorical))).tolist()
            scores = rng.random(n).tolist()
            for j, i in enumerate(range(lo, hi)):
                ts = START_MS + (i if i < per_stream else per_stream + 1000) * STEP_MS
                eid = f"{model}{version}-{i}"
                value = (template % (eid, model, version, ts, *values[j], *cats[j], scores[j] > 0.5, scores[j])).encode()
                yield "predictions", s % 4, value
                if i < per_stream and i % 2 == 0:
                    label = int(scores[j] > 0.5) if i % 20 else 1 - int(scores[j] > 0.5)
                    yield "feedback", s % 4, b'{"event_id":"%s","model":"%s","ts":%d,"label":%d}' % (
                        eid.encode(), model.encode(), ts + 100, label)


def produce(bootstrap: str, run: str, features: int, streams: int, per_stream: int, seed: int = 5) -> dict:
    """``per_stream`` predictions of every stream, half with a label; then one watermark tick per stream."""
    names = topics(run)
    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_CONFIG})
    counts = {"predictions": 0, "feedback": 0, "bytes": 0}
    for k, (topic, partition, value) in enumerate(traffic(features, streams, per_stream, seed)):
        _send(producer, names[topic], value, partition)
        counts[topic] += 1
        if topic == "predictions":
            counts["bytes"] += len(value)
        if k % 1000 == 0:
            producer.poll(0)
    if producer.flush(120):
        raise RuntimeError("messages not delivered to the broker")
    return counts


def _send(producer: Producer, topic: str, value: bytes, partition: int) -> None:
    while True:
        try:
            producer.produce(topic, value=value, partition=partition)
            return
        except BufferError:
            producer.poll(0.05)


def point(broker, clickhouse, *, features: int, streams: int, per_stream: int, window_events: int,
          repeat: int = 3) -> dict:
    """One data set; ``repeat`` times ceiling B then a worker (fresh group and database each), the
    median share of B: the machine is shared, and one pair alone can land on a busy moment."""
    from driftline.settings import parse_settings

    run = uuid.uuid4().hex[:6]
    broker.create_topics(list(topics(run).values()), partitions=4)
    produced = produce(broker.bootstrap_servers, run, features, streams, per_stream)
    total = produced["predictions"] + produced["feedback"]
    profile = reference_profile(features, window_events)
    loaded_fits = len(ReferenceProfile.load(profile).calibration)
    runs = []
    for r in range(repeat):
        url = f"clickhouse://default:@127.0.0.1:{clickhouse.tcp_port}/bench_growth_{run}_{r}"
        raw = raw_settings(broker.bootstrap_servers, url, run, features, streams, window_events, profile)
        settings = parse_settings(raw)
        servers = {"broker": broker._proc.pid, "clickhouse": clickhouse._proc.pid}
        cpu, servers_before = time.process_time(), cpu_seconds(servers)
        ceiling_b = consume_all(settings, total, decoder(settings))
        ceiling_cpu = time.process_time() - cpu
        servers_b = _delta(cpu_seconds(servers), servers_before)
        servers_before = cpu_seconds(servers)
        samples = _worker_samples(raw, total)
        servers_worker = _delta(cpu_seconds(servers), servers_before)
        done = next(s for s in samples if s["messages"] >= total)
        seconds = done["t"] - done["first_batch"]
        worker_cpu = done["cpu_s"] - done["first_batch_cpu"]
        runs.append({"seconds": seconds, "predictions_per_s": produced["predictions"] / seconds,
                     "ceiling_b": produced["predictions"] / ceiling_b.seconds,
                     "share_b": ceiling_b.seconds / seconds, "vm_hwm_mb": max(s["VmHWM"] for s in samples) / 1024,
                     # CPU per message of the worker over ceiling B's (the sampling adds up to 0.5 s of
                     # the worker's idle tail): less noisy than the rates on a shared machine.
                     "cpu_ratio": worker_cpu / ceiling_cpu, "worker_cpu_us": 1e6 * worker_cpu / total,
                     "ceiling_cpu_us": 1e6 * ceiling_cpu / total,
                     # The servers on this machine: the broker serves B and the worker alike; ClickHouse
                     # stores the worker's rows (its CPU from B's start to the worker's end, merges included).
                     # Cores each kept busy while its clock ran: a ceiling B waiting on its fetches shows here.
                     "ceiling_cores": ceiling_cpu / ceiling_b.seconds, "worker_cores": worker_cpu / seconds,
                     "servers_cpu_us_b": {k: 1e6 * v / total for k, v in servers_b.items()},
                     "servers_cpu_us_worker": {k: 1e6 * v / total for k, v in servers_worker.items()},
                     "fits_made_in_run": samples[-1]["calibration_fits"] - len(raw["models"]) * loaded_fits})
    middle = sorted(runs, key=lambda x: x["share_b"])[len(runs) // 2]
    return {"features": features, "streams": streams, "predictions": produced["predictions"],
            "mean_bytes": produced["bytes"] / produced["predictions"], **middle,
            "shares_b": [x["share_b"] for x in runs], "fits_made_in_run": max(x["fits_made_in_run"] for x in runs),
            "cpu_ratios": [x["cpu_ratio"] for x in runs], "cpu_ratio": float(np.median([x["cpu_ratio"] for x in runs]))}


def _delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before[k] for k in after}


def _worker_samples(raw: dict, total: int) -> list[dict]:
    child = ChildWorker(raw, Path(tempfile.mkdtemp(prefix="driftline-growth-")), "growth")
    started = time.time()
    try:
        while True:
            child.check()
            if child.last().get("messages", 0) >= total:
                break
            if time.time() - started > 1800:
                raise TimeoutError("growth worker not done")
            time.sleep(0.2)
        return child.samples()
    finally:
        child.stop()


AXES = ("features", "streams")


def measure(broker, clickhouse, *, quick: bool = False, axes: tuple[str, ...] = AXES,
            scale: float | None = None) -> dict:
    """Both axes (or ``axes``); ``scale`` multiplies the events per stream (default 1, 0.25 quick)."""
    scale = scale if scale is not None else 0.25 if quick else 1.0
    out: dict = {"features": [], "streams": []}
    if "features" in axes:
        # At least ~10 s of work per point at its rate on this machine (the worker reports every 0.5 s).
        out["features"] = f = [point(broker, clickhouse, features=n_f, streams=10, per_stream=int(n * scale),
                                     window_events=2000) for n_f, n in ((13, 40_000), (100, 20_000), (500, 10_000))]
        out["drop_features_points"] = 100 * (f[0]["share_b"] - f[-1]["share_b"])
    if "streams" in axes:
        out["streams"] = s = [point(broker, clickhouse, features=13, streams=n_s,
                                    per_stream=max(int(20_000 * scale) * 10 // n_s, 800), window_events=200)
                              for n_s in (10, 100, 1000)]
        out["memory_per_stream_kb"] = 1024 * (s[-1]["vm_hwm_mb"] - s[0]["vm_hwm_mb"]) / (s[-1]["streams"] - s[0]["streams"])
        out["drop_streams_points"] = 100 * (s[0]["share_b"] - s[-1]["share_b"])
        out["calibration_s_per_fit"] = calibration_cost()
    return out


def markdown(d: dict) -> list[str]:
    lines = ["## How cost grows: features per event and streams", "",
             "Each point: its own data set; ceiling B then a worker process (ClickHouse server store), three "
             "times, the median share of B.", "",
             "| features | streams | predictions | bytes/event | predictions/s | ceiling B/s | share of B | worker CPU / "
             "B's CPU | peak RSS MB | null fits made in the run |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    points = [*d["features"], *d["streams"]]
    for p in points:
        ratio = f"{p['cpu_ratio']:.2f}x" if "cpu_ratio" in p else ""
        lines.append(f"| {p['features']} | {p['streams']:,} | {p['predictions']:,} | {p['mean_bytes']:,.0f} | "
                     f"{p['predictions_per_s']:,.0f} | {p['ceiling_b']:,.0f} | {p['share_b']:.0%} | {ratio} | "
                     f"{p['vm_hwm_mb']:,.0f} | {p.get('fits_made_in_run', '')} |")
    lines += ["", "Share of B per repeat (the median is above): " + "; ".join(
        f"{p['features']} features x {p['streams']:,} streams: " + ", ".join(f"{x:.0%}" for x in p.get("shares_b", ()))
        for p in points)]
    cores = [p for p in points if "ceiling_cores" in p]
    if cores:
        lines += ["", "Cores busy while each clock ran, and the share of B's CPU per message in the worker's (B's CPU "
                  "over the worker's): " + "; ".join(
                      f"{p['features']} features x {p['streams']:,} streams: B {p['ceiling_cores']:.2f}, worker "
                      f"{p['worker_cores']:.2f}, CPU share {1 / p['cpu_ratio']:.0%}" for p in cores),
                  "", "A ceiling B below one busy core waits on its fetches (its rate is then not the decoder's): its "
                  "share of B overstates the worker's relative speed at that point."]
    servers = [p for p in points if "servers_cpu_us_worker" in p]
    if servers:
        lines += ["", "The servers' CPU on this machine per message (µs), during ceiling B / during the worker: " + "; ".join(
            f"{p['features']} features x {p['streams']:,} streams: broker {p['servers_cpu_us_b']['broker']:.1f} / "
            f"{p['servers_cpu_us_worker']['broker']:.1f}, ClickHouse {p['servers_cpu_us_b']['clickhouse']:.1f} / "
            f"{p['servers_cpu_us_worker']['clickhouse']:.1f}, worker {p['worker_cpu_us']:.1f}" for p in servers)]
    lines += [""]
    if "drop_features_points" in d:
        lines.append(f"Share of B from 13 to 500 features: {-d['drop_features_points']:+.1f} points "
                     "(target: no fall beyond 15).")
    if "drop_streams_points" in d:
        lines += [f"Share of B from 10 to 1,000 streams: {-d['drop_streams_points']:+.1f} points (target: no fall "
                  "beyond 15).",
                  f"Memory per (model, version) stream: {d['memory_per_stream_kb']:,.0f} kB (peak RSS growth from 10 "
                  "to 1,000 streams over the added streams).",
                  f"One null fit of `threshold: auto` (4,000 draws, one numeric feature, one test and window size): "
                  f"{d.get('calibration_s_per_fit', float('nan')):.2f} s, once per reference (see bench/growth.py)."]
    return lines + [""]
