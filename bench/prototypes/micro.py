"""Micro-benchmarks of proposed hot-path fixes: ``python -m bench.prototypes.micro``.

Each compares the current code path with a prototype on the same seeded data.
"""

from __future__ import annotations

import base64
import gc
import pickle
import time

import msgspec
from driftline.stream.events import EventDecoder, PredictionEvent
from driftline.stream.join import LabelJoin

from ..traffic import MODELS, Plan, messages


def _best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def batch_decode(n: int = 10_000) -> dict:
    """Current: one msgspec call per message. Prototype: one call per batch on a joined JSON array."""
    plan = Plan.for_events(max(n, 100_000))
    values = [v for _, v in next(messages(plan, chunk=n // 10))[0]][:n]
    records = [(0, i, v, 0) for i, v in enumerate(values)]
    decoder = EventDecoder(PredictionEvent, topic="p", known_models=set(MODELS))
    array = msgspec.json.Decoder(list[PredictionEvent])

    def prototype():
        events = array.decode(b"[" + b",".join(values) + b"]")
        ok = [e for e in events if e.model in decoder.known and len(e.features) <= decoder.max_features]
        return [e.ts for e in ok]

    current = _best(lambda: decoder.decode(records))
    proto = _best(prototype)
    return {"messages": n, "current_us_per_msg": current / n * 1e6, "prototype_us_per_msg": proto / n * 1e6}


def checkpoint_join(pending: int = 125_000) -> dict:
    """Current: pickle the LabelJoin's OrderedDict of tuples + base64. Prototype: columns via msgspec."""
    join = LabelJoin(max_delay_ms=3_600_000, max_pending=200_000)
    for i in range(pending):
        join.add_prediction(f"fr1{i}", "fraud", "v1", 1, 0.5, 1_764_000_000_000 + i)
    encoder = msgspec.msgpack.Encoder()

    def current():
        return base64.b64encode(pickle.dumps(join, protocol=pickle.HIGHEST_PROTOCOL))

    def prototype():
        items = join._predictions
        cols = [list(items)] + [list(c) for c in zip(*items.values(), strict=True)]
        return encoder.encode(cols)

    return {"pending": pending, "current_ms": _best(current) * 1e3, "current_mb": len(current()) / 1e6,
            "prototype_ms": _best(prototype) * 1e3, "prototype_mb": len(prototype()) / 1e6}


def main() -> None:
    gc.collect()
    print("batch decode:", batch_decode())
    print("checkpoint join:", checkpoint_join())


if __name__ == "__main__":
    main()
