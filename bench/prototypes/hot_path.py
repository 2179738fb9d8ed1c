"""Prototypes for the top remaining hotspots: ``python -m bench.prototypes.hot_path``.

Each compares the current code path with a prototype on the same seeded
10,000-message batch (one model version, as the Processor sees it), and checks
the prototype produces the same output.

1. ``features`` column: the Processor decodes the message, then re-encodes
   ``features`` to JSON for the predictions table (``_prediction_rows``).
   Prototype: decode with ``features: msgspec.Raw`` (msgspec hands back the
   exact bytes of the object, no parse), keep those bytes as the column, and
   decode the features dicts for the numpy columns in one call per batch.
2. ``label_key`` per event for the prediction column: a dict of the few label
   values seen (1, 1.0 and True hash alike and map to the same key).
"""

from __future__ import annotations

import gc
import time

import msgspec
from driftline.stream.columns import label_key
from driftline.stream.events import EventDecoder, FeatureValue, PredictionEvent

from ..traffic import MODELS, Plan, messages

_json = msgspec.json.Encoder()


class PredictionEventRawFeatures(msgspec.Struct, frozen=True, gc=False):
    """Prototype twin of ``PredictionEvent`` (same fields and constraints; features kept raw)."""

    event_id: str
    model: str
    version: str
    ts: int
    features: msgspec.Raw
    prediction: float | str
    score: float | None = None
    latency_ms: float | None = None
    variant: str | None = None
    segment: dict[str, str] | None = None


def _best(fn, repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def batch(n: int = 10_000) -> list[bytes]:
    plan = Plan.for_events(100_000)
    values = [v for key, v in next(messages(plan, chunk=n))[0] if key == "fraud"]
    return [v for v in values if b'"version":"v1"' in v][:n]


def features_column(values: list[bytes]) -> dict:
    records = [(0, i, v, 0) for i, v in enumerate(values)]
    decoder = EventDecoder(PredictionEvent, topic="p", known_models=set(MODELS))
    raw_decoder = msgspec.json.Decoder(PredictionEventRawFeatures)
    features_decoder = msgspec.json.Decoder(list[dict[str, FeatureValue]])

    def current():
        events = decoder.decode(records).events
        column = [_json.encode(e.features).decode() for e in events]
        dicts = [e.features for e in events]
        return column, dicts

    def prototype():
        events = [raw_decoder.decode(v) for v in values]
        raws = [bytes(e.features) for e in events]
        column = [r.decode() for r in raws]
        dicts = features_decoder.decode(b"[" + b",".join(raws) + b"]")
        return column, dicts

    def decode_only():
        return decoder.decode(records).events

    cur_col, cur_dicts = current()
    proto_col, proto_dicts = prototype()
    assert proto_dicts == cur_dicts
    assert [msgspec.json.decode(c) for c in proto_col] == [msgspec.json.decode(c) for c in cur_col]
    n = len(values)
    return {"messages": n, "decode_only_us": _best(decode_only) / n * 1e6,
            "current_decode_plus_reencode_us": _best(current) / n * 1e6,
            "prototype_raw_features_us": _best(prototype) / n * 1e6}


def prediction_labels(values: list[bytes]) -> dict:
    decoder = EventDecoder(PredictionEvent, topic="p", known_models=set(MODELS))
    predictions = [e.prediction for e in decoder.decode([(0, i, v, 0) for i, v in enumerate(values)]).events]
    cache: dict = {}

    def cached(p):
        key = cache.get(p)
        if key is None and type(p) is not str:
            key = cache[p] = label_key(p)
            if len(cache) > 1024:  # a regression-like stream: stop caching
                cache.clear()
        return key if key is not None else p

    def current():
        return [label_key(p) for p in predictions]

    def prototype():
        return [cached(p) for p in predictions]

    assert current() == prototype()
    n = len(predictions)
    return {"events": n, "current_us": _best(current) / n * 1e6, "prototype_us": _best(prototype) / n * 1e6}


def main() -> None:
    values = batch()
    print("features column:", features_column(values))
    print("prediction labels:", prediction_labels(values))


if __name__ == "__main__":
    main()
