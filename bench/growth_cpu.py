"""The worker's CPU per event against the decoder's, in this process, on the growth bench's events.

``python -m bench.growth_cpu --features 13 100 500`` builds each point's events as
:mod:`bench.growth` produces them (10 streams over 4 partitions, half labelled, the same reference
profile), then times, on one core and without I/O:

* **decode**: the :class:`~driftline.stream.events.EventDecoder` of the predictions and feedback
  (ceiling B's per-message work after the consume);
* **worker**: the :class:`~driftline.stream.processor.Processor` on the same messages in batches
  of ``batch`` per partition (decode included), then the close of every window.

Their ratio (worker CPU / decode CPU per event) is what the features axis of the growth bench
turns on, and it is much less noisy on a shared machine than a throughput. ``--profile N`` prints
the top ``N`` functions of a ``cProfile`` of the worker at the largest size.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import time

import numpy as np

from .growth import START_MS, raw_settings, reference_profile, traffic


def messages(features: int, streams: int, per_stream: int, seed: int = 5) -> tuple[dict[int, list], dict[int, list]]:
    """Prediction and feedback messages per partition, ``(partition, offset, value, 0)``, in the order
    :func:`bench.growth.produce` sends them (the watermark tick included)."""
    out: dict[str, dict[int, list]] = {"predictions": {p: [] for p in range(4)}, "feedback": {p: [] for p in range(4)}}
    for topic, p, value in traffic(features, streams, per_stream, seed):
        out[topic][p].append((p, len(out[topic][p]), value, 0))
    return out["predictions"], out["feedback"]


def _processor(features: int, streams: int, window_events: int):
    from driftline.settings import parse_settings
    from driftline.stream.processor import Processor
    from driftline.stream.wiring import build_references

    profile = reference_profile(features, window_events)
    raw = raw_settings("127.0.0.1:1", "clickhouse://default:@127.0.0.1:1/x", "cpu", features, streams, window_events,
                       profile)
    settings = parse_settings(raw)
    return Processor(settings, dict(build_references(settings)))


def run_worker(processor, predictions: dict, feedback: dict, batch: int) -> list:
    """Every partition's messages through ``processor`` in batches; the reports of the closed windows."""
    from driftline.stream.partition import BatchOutput

    reports = []
    for p in predictions:
        state = processor.new_partition(p)
        pred, fb = predictions[p], feedback[p]
        for pred_batch, fb_batch in _batches(pred, fb, batch):
            out = BatchOutput()
            processor.process(state, pred_batch, fb_batch, START_MS, out)
            processor.close_windows(state, START_MS, out)
            reports.extend(out.reports)
        out = BatchOutput()
        processor.close_windows(state, START_MS + 10**9, out)
        reports.extend(out.reports)
    return reports


def run_decoder(processor, predictions: dict, feedback: dict, batch: int) -> None:
    for p in predictions:
        for pred_batch, fb_batch in _batches(predictions[p], feedback[p], batch):
            processor.prediction_decoder.decode(pred_batch, START_MS)
            processor.feedback_decoder.decode(fb_batch, START_MS)


def _batches(predictions: list, feedback: list, batch: int):
    """``batch`` predictions at a time, each with its share of the feedback."""
    count = max(1, -(-len(predictions) // batch))
    share = -(-len(feedback) // count)
    for b in range(count):
        yield predictions[b * batch:(b + 1) * batch], feedback[b * share:(b + 1) * share]


def point(features: int, *, streams: int = 10, per_stream: int = 4000, window_events: int = 2000,
          batch: int = 2500, repeat: int = 3, profile: int = 0) -> dict:
    predictions, feedback = messages(features, streams, per_stream)
    events = sum(len(v) for v in predictions.values())
    decode, worker = [], []
    for _ in range(repeat):  # interleaved, the median of each: the machine may be shared
        processor = _processor(features, streams, window_events)
        started = time.process_time()
        run_decoder(processor, predictions, feedback, batch)
        decode.append(time.process_time() - started)
        processor = _processor(features, streams, window_events)
        started = time.process_time()
        reports = run_worker(processor, predictions, feedback, batch)
        worker.append(time.process_time() - started)
    result = {"features": features, "events": events, "windows": len(reports),
              "decode_us_per_event": 1e6 * float(np.median(decode)) / events,
              "worker_us_per_event": 1e6 * float(np.median(worker)) / events}
    result["worker_over_decode"] = result["worker_us_per_event"] / result["decode_us_per_event"]
    if profile:
        processor = _processor(features, streams, window_events)
        prof = cProfile.Profile()
        prof.enable()
        run_worker(processor, predictions, feedback, batch)
        prof.disable()
        text = io.StringIO()
        pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(profile)
        result["profile"] = text.getvalue()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, nargs="+", default=[13, 100, 500])
    parser.add_argument("--per-stream", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0, help="print the top N functions at the largest size")
    args = parser.parse_args()
    for f in args.features:
        r = point(f, per_stream=args.per_stream, repeat=args.repeat,
                  profile=args.profile if f == max(args.features) else 0)
        text = r.pop("profile", None)
        print(json.dumps(r), flush=True)
        if text:
            print(text)


if __name__ == "__main__":
    main()
